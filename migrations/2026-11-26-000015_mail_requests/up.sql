-- Emails a visitor can make us send without signing in (a password reset
-- link, a sign-up's confirmation or "someone tried to register"): one row
-- per accepted request, whether or not an account has the address, so the
-- limits on them behave the same for every address and reveal nothing.
-- `email_key` is lower(address), as the account lookup computes it;
-- `purpose` is what was asked ('reset' or 'register', each limited on its
-- own, so a reset that says no account uses the address does not hold up
-- the sign-up it suggests); `sent` says whether the request queued an
-- email (over the address's limit it does not).
CREATE TABLE mail_requests (
    id uuid PRIMARY KEY,
    email_key text NOT NULL,
    purpose text NOT NULL CHECK (purpose IN ('reset', 'register')),
    ip text NOT NULL,
    at timestamptz NOT NULL,
    sent boolean NOT NULL
);
CREATE INDEX mail_requests_email_idx ON mail_requests (email_key, purpose, at DESC) WHERE sent;
CREATE INDEX mail_requests_ip_idx ON mail_requests (ip, at DESC);
