-- Mentor and admin workspaces: a secret calendar feed per mentor, and who
-- marked a past session completed or no-show, and when (changeable for
-- seven days after the start, audited).

CREATE TABLE calendar_feeds (
    mentor_id  uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    token_hash bytea NOT NULL,
    created_at timestamptz NOT NULL,
    CONSTRAINT calendar_feeds_token_hash_key UNIQUE (token_hash)
);

ALTER TABLE bookings ADD COLUMN outcome_marked_at timestamptz;
ALTER TABLE bookings ADD COLUMN outcome_marked_by uuid REFERENCES users (id);
