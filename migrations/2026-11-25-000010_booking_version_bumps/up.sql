-- A booking's commit bumps the slot versions of its mentor and learner
-- (000005, deferred to the commit by 000008). Two fixes:
--
-- 1. The rows were taken mentor first, then learner. Two commits with the
--    same two people in opposite roles (mentors book each other too) took
--    them in opposite orders and could deadlock, failing one with
--    "deadlock detected". Now each booking's people are taken in id order,
--    like every other lock on people in this schema. (A transaction that
--    changes several bookings still goes booking by booking here; the
--    paths that do so lock all the rows in id order before their commit,
--    bookings::service::lock_slot_versions.)
-- 2. Every UPDATE of a booking bumped them, including the reminder
--    worker's bookkeeping (up to 50 bookings a round, so up to 100 version
--    rows held in no particular order by one commit, and every cached
--    mentor page of them thrown away for nothing). Only a change to what
--    slots and caps are computed from bumps now.
CREATE OR REPLACE FUNCTION slot_version_by_booking() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    who uuid;
BEGIN
    -- NEW is NULL in a DELETE trigger, OLD in an INSERT one.
    FOR who IN
        SELECT DISTINCT p
          FROM unnest(ARRAY[OLD.mentor_id, OLD.learner_id, NEW.mentor_id, NEW.learner_id]) AS p
         WHERE p IS NOT NULL
         ORDER BY p
    LOOP
        PERFORM bump_slot_version(who);
    END LOOP;
    RETURN NULL;
END $$;

DROP TRIGGER bookings_slot_version ON bookings;
CREATE CONSTRAINT TRIGGER bookings_slot_version
    AFTER INSERT OR DELETE ON bookings
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION slot_version_by_booking();
-- The condition is evaluated at the UPDATE, the bump at the commit. The
-- buffers are in `occupied` (bookings_occupied_check).
CREATE CONSTRAINT TRIGGER bookings_slot_version_update
    AFTER UPDATE ON bookings
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status
          OR OLD.start_at IS DISTINCT FROM NEW.start_at
          OR OLD.end_at IS DISTINCT FROM NEW.end_at
          OR OLD.occupied IS DISTINCT FROM NEW.occupied
          OR OLD.mentor_id IS DISTINCT FROM NEW.mentor_id
          OR OLD.learner_id IS DISTINCT FROM NEW.learner_id
          OR OLD.topic_id IS DISTINCT FROM NEW.topic_id)
    EXECUTE FUNCTION slot_version_by_booking();
