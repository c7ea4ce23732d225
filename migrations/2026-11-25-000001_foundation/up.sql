-- Foundation tables: accounts, topics, the transactional email outbox, the
-- audit log and server-side secrets. Instants are timestamptz (UTC); every
-- row's created/updated instants are written by the application from its
-- clock so tests can move time.

CREATE TABLE users (
    id                uuid PRIMARY KEY,
    email             text NOT NULL,
    display_name      text NOT NULL,
    role              text NOT NULL DEFAULT 'learner',
    time_zone         text NOT NULL DEFAULT 'UTC',
    password_hash     text,
    email_verified_at timestamptz,
    disabled_at       timestamptz,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    CONSTRAINT users_role_check CHECK (role IN ('learner', 'mentor', 'admin')),
    CONSTRAINT users_email_check CHECK (length(email) BETWEEN 3 AND 254 AND email = btrim(email) AND position('@' IN email) > 1),
    CONSTRAINT users_display_name_check CHECK (length(btrim(display_name)) BETWEEN 1 AND 100),
    CONSTRAINT users_time_zone_check CHECK (length(time_zone) BETWEEN 1 AND 64)
);
-- One account per address, whatever its case.
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));
CREATE INDEX users_role_idx ON users (role);

CREATE TABLE topics (
    id               uuid PRIMARY KEY,
    slug             text NOT NULL,
    title            text NOT NULL,
    description      text NOT NULL,
    duration_minutes integer NOT NULL,
    active           boolean NOT NULL DEFAULT true,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    CONSTRAINT topics_slug_key UNIQUE (slug),
    CONSTRAINT topics_slug_check CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(slug) <= 80),
    CONSTRAINT topics_title_check CHECK (length(btrim(title)) BETWEEN 1 AND 120),
    CONSTRAINT topics_description_check CHECK (length(description) <= 4000),
    CONSTRAINT topics_duration_check CHECK (duration_minutes BETWEEN 15 AND 120)
);

-- The transactional outbox: a row is written in the same transaction as the
-- change that causes the email, and a worker delivers it later.
CREATE TABLE email_outbox (
    id                uuid PRIMARY KEY,
    kind              text NOT NULL,
    recipient         text NOT NULL,
    recipient_user_id uuid REFERENCES users (id) ON DELETE SET NULL,
    subject           text NOT NULL,
    body_text         text,
    body_html         text,
    attachments       jsonb NOT NULL DEFAULT '[]',
    message_id        text NOT NULL,
    carries_secret    boolean NOT NULL DEFAULT false,
    state             text NOT NULL DEFAULT 'pending',
    attempts          integer NOT NULL DEFAULT 0,
    not_before        timestamptz NOT NULL,
    next_attempt_at   timestamptz NOT NULL,
    lease_token       uuid,
    lease_until       timestamptz,
    last_error        text,
    dedupe_key        text,
    created_at        timestamptz NOT NULL,
    sent_at           timestamptz,
    CONSTRAINT email_outbox_message_id_key UNIQUE (message_id),
    CONSTRAINT email_outbox_dedupe_key_key UNIQUE (dedupe_key),
    CONSTRAINT email_outbox_state_check CHECK (state IN ('pending', 'sending', 'sent', 'kept', 'dead')),
    CONSTRAINT email_outbox_lease_check CHECK ((state = 'sending') = (lease_until IS NOT NULL)),
    -- Header injection is refused in code before anything is written; this
    -- is the last line of defence.
    CONSTRAINT email_outbox_headers_check CHECK (
        recipient !~ '[\r\n\x01-\x08]' AND subject !~ '[\r\n]' AND kind ~ '^[a-z_]+$'
    )
);
-- What the worker polls: due rows, and rows whose lease ran out.
CREATE INDEX email_outbox_due_idx ON email_outbox (next_attempt_at) WHERE state = 'pending';
CREATE INDEX email_outbox_lease_idx ON email_outbox (lease_until) WHERE state = 'sending';
CREATE INDEX email_outbox_state_created_idx ON email_outbox (state, created_at);
CREATE INDEX email_outbox_recipient_user_idx ON email_outbox (recipient_user_id);

CREATE TABLE audit_log (
    id            uuid PRIMARY KEY,
    at            timestamptz NOT NULL,
    actor_user_id uuid REFERENCES users (id) ON DELETE SET NULL,
    action        text NOT NULL,
    subject_type  text,
    subject_id    uuid,
    details       jsonb NOT NULL DEFAULT '{}',
    CONSTRAINT audit_log_action_check CHECK (action ~ '^[a-z_.]+$')
);
CREATE INDEX audit_log_at_idx ON audit_log (at DESC, id DESC);
CREATE INDEX audit_log_actor_idx ON audit_log (actor_user_id, at DESC);
CREATE INDEX audit_log_action_idx ON audit_log (action, at DESC);

-- Secrets the server generates for itself on first start (e.g. the key
-- that signs pre-session cookies when OFFICEHOURS_SECRET_KEY is unset).
CREATE TABLE server_secrets (
    name       text PRIMARY KEY,
    value      bytea NOT NULL,
    created_at timestamptz NOT NULL
);
