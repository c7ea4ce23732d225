-- Accounts: server-side sessions, single-use email tokens (verification,
-- password reset), personal API tokens, and the sign-in failure counters
-- that hold across several app instances. Every secret is stored only as
-- its SHA-256 hash.

CREATE TABLE sessions (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash   bytea NOT NULL,
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    ip           text,
    user_agent   text,
    CONSTRAINT sessions_token_hash_key UNIQUE (token_hash),
    CONSTRAINT sessions_expiry_check CHECK (expires_at > created_at),
    CONSTRAINT sessions_user_agent_check CHECK (length(user_agent) <= 300)
);
CREATE INDEX sessions_user_idx ON sessions (user_id, last_seen_at DESC);
CREATE INDEX sessions_expires_idx ON sessions (expires_at);

CREATE TABLE account_tokens (
    id         uuid PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    text NOT NULL,
    token_hash bytea NOT NULL,
    -- For an email change: the address being verified.
    email      text,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    CONSTRAINT account_tokens_token_hash_key UNIQUE (token_hash),
    CONSTRAINT account_tokens_purpose_check CHECK (purpose IN ('verify_email', 'reset_password'))
);
CREATE INDEX account_tokens_user_idx ON account_tokens (user_id, purpose, created_at DESC);

CREATE TABLE api_tokens (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         text NOT NULL,
    token_hash   bytea NOT NULL,
    created_at   timestamptz NOT NULL,
    last_used_at timestamptz,
    revoked_at   timestamptz,
    CONSTRAINT api_tokens_token_hash_key UNIQUE (token_hash),
    CONSTRAINT api_tokens_name_check CHECK (length(btrim(name)) BETWEEN 1 AND 100)
);
CREATE INDEX api_tokens_user_idx ON api_tokens (user_id, created_at DESC);

-- Failed sign-ins, keyed by the normalised email as typed (whether or not
-- an account has it) and the client address.
CREATE TABLE login_failures (
    id        uuid PRIMARY KEY,
    email_key text NOT NULL,
    ip        text NOT NULL,
    at        timestamptz NOT NULL
);
CREATE INDEX login_failures_email_ip_idx ON login_failures (email_key, ip, at DESC);
CREATE INDEX login_failures_email_idx ON login_failures (email_key, at DESC);
CREATE INDEX login_failures_ip_idx ON login_failures (ip, at DESC);

-- Addresses that signed in to an email successfully: they keep access when
-- that email is under a wide attack.
CREATE TABLE login_known_ips (
    email_key  text NOT NULL,
    ip         text NOT NULL,
    last_at    timestamptz NOT NULL,
    PRIMARY KEY (email_key, ip)
);

-- Resends of the verification email, for its rate limit.
ALTER TABLE users ADD COLUMN verification_sent_at timestamptz;
