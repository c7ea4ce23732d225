-- The booking lifecycle: the fairness policy (one row, admin-set later),
-- idempotent booking requests, per-recipient manage links, and outbox rows
-- tied to the booking they are about (so reminders can be withdrawn).

CREATE TABLE booking_policy (
    id                     boolean PRIMARY KEY DEFAULT true,
    max_upcoming           integer NOT NULL DEFAULT 2,
    max_upcoming_per_topic integer NOT NULL DEFAULT 1,
    max_per_month          integer NOT NULL DEFAULT 4,
    late_cancel_hours      integer NOT NULL DEFAULT 12,
    noshow_strikes         integer NOT NULL DEFAULT 2,
    noshow_window_days     integer NOT NULL DEFAULT 60,
    noshow_pause_days      integer NOT NULL DEFAULT 30,
    updated_at             timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT booking_policy_single_row CHECK (id),
    CONSTRAINT booking_policy_caps_check CHECK (
        max_upcoming BETWEEN 1 AND 100 AND max_upcoming_per_topic BETWEEN 1 AND 100
        AND max_per_month BETWEEN 1 AND 1000),
    CONSTRAINT booking_policy_late_cancel_check CHECK (late_cancel_hours BETWEEN 0 AND 336),
    CONSTRAINT booking_policy_noshow_check CHECK (
        noshow_strikes BETWEEN 1 AND 100 AND noshow_window_days BETWEEN 1 AND 365
        AND noshow_pause_days BETWEEN 0 AND 365)
);
INSERT INTO booking_policy DEFAULT VALUES;

-- The hidden key of a booking form: a double submit finds the booking the
-- first one made instead of making a second.
ALTER TABLE bookings ADD COLUMN idempotency_key uuid;
ALTER TABLE bookings ADD CONSTRAINT bookings_learner_idempotency_key UNIQUE (learner_id, idempotency_key);
ALTER TABLE bookings ADD CONSTRAINT bookings_cancel_reason_check CHECK (length(cancel_reason) <= 500);

-- Reminders are made when due by the worker (bookings::reminders): when
-- the current start was set (a reminder whose moment had passed by then
-- is skipped), and the start each reminder was made for.
ALTER TABLE bookings ADD COLUMN timed_at timestamptz;
ALTER TABLE bookings ADD COLUMN reminded_24h_for timestamptz;
ALTER TABLE bookings ADD COLUMN reminded_1h_for timestamptz;
CREATE INDEX bookings_confirmed_start_idx ON bookings (start_at) WHERE status = 'confirmed';

-- Fairness counts read a learner's live bookings by start.
CREATE INDEX bookings_learner_live_idx ON bookings (learner_id, start_at) WHERE status <> 'cancelled';

-- A manage link acts as one recipient on one booking until it starts: one
-- token per booking and recipient (derived from the server key, so every
-- email to them carries the same link), stored only as its hash.
CREATE TABLE manage_tokens (
    id         uuid PRIMARY KEY,
    booking_id uuid NOT NULL REFERENCES bookings (id) ON DELETE CASCADE,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash bytea NOT NULL,
    created_at timestamptz NOT NULL,
    CONSTRAINT manage_tokens_token_hash_key UNIQUE (token_hash),
    CONSTRAINT manage_tokens_booking_user_key UNIQUE (booking_id, user_id)
);

ALTER TABLE email_outbox ADD COLUMN booking_id uuid REFERENCES bookings (id) ON DELETE SET NULL;
-- A message pointless after this instant (a reminder once the session has
-- started) is never sent late: the worker marks it dead instead.
ALTER TABLE email_outbox ADD COLUMN expires_at timestamptz;
CREATE INDEX email_outbox_expiring_idx ON email_outbox (expires_at)
    WHERE expires_at IS NOT NULL AND state IN ('pending', 'sending');
CREATE INDEX email_outbox_booking_idx ON email_outbox (booking_id) WHERE booking_id IS NOT NULL;
