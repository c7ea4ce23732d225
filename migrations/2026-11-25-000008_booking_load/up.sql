-- A booking bumps the slot versions of its mentor and learner (000005).
-- As a plain AFTER trigger that UPDATE ran with the INSERT, so the mentor's
-- version row stayed locked for the rest of the transaction (the emails,
-- manage links, audit entry and commit): two learners booking different
-- slots of one mentor waited for each other there. Deferred to the commit,
-- the bump is just as atomic with the booking (page caches read the
-- versions before the rows, and both become visible together), and the
-- row is locked only while the transaction commits.
DROP TRIGGER bookings_slot_version ON bookings;
CREATE CONSTRAINT TRIGGER bookings_slot_version
    AFTER INSERT OR UPDATE OR DELETE ON bookings
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION slot_version_by_booking();

-- Sessions last at most two hours (topics_duration_check); a day is the
-- bound queries rely on: "ends after t" implies "starts after t - 1 day",
-- which the (mentor_id, start_at) and (learner_id, start_at) indexes can
-- use, instead of reading a mentor's whole history for every slot page
-- and booking.
ALTER TABLE bookings ADD CONSTRAINT bookings_length_check CHECK (end_at - start_at <= interval '1 day');

-- The worker claims due messages in (next_attempt_at, id) order, a batch
-- at a time: with id in the index that is an ordered walk of the index
-- that stops after the batch, not a read and sort of every due row (a
-- backlog of thousands made every round read them all).
DROP INDEX email_outbox_due_idx;
CREATE INDEX email_outbox_due_idx ON email_outbox (next_attempt_at, id) WHERE state = 'pending';
