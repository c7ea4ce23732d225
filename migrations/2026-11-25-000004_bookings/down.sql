DROP INDEX email_outbox_booking_idx;
ALTER TABLE email_outbox DROP COLUMN expires_at;
ALTER TABLE email_outbox DROP COLUMN booking_id;
DROP TABLE manage_tokens;
DROP INDEX bookings_learner_live_idx;
ALTER TABLE bookings DROP CONSTRAINT bookings_cancel_reason_check;
ALTER TABLE bookings DROP CONSTRAINT bookings_learner_idempotency_key;
ALTER TABLE bookings DROP COLUMN idempotency_key;
DROP TABLE booking_policy;
