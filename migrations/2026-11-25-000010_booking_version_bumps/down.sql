DROP TRIGGER bookings_slot_version_update ON bookings;
DROP TRIGGER bookings_slot_version ON bookings;
CREATE CONSTRAINT TRIGGER bookings_slot_version
    AFTER INSERT OR UPDATE OR DELETE ON bookings
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION slot_version_by_booking();

CREATE OR REPLACE FUNCTION slot_version_by_booking() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM bump_slot_version(OLD.mentor_id);
        PERFORM bump_slot_version(OLD.learner_id);
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND (NEW.mentor_id <> OLD.mentor_id OR NEW.learner_id <> OLD.learner_id)) THEN
        PERFORM bump_slot_version(NEW.mentor_id);
        PERFORM bump_slot_version(NEW.learner_id);
    END IF;
    RETURN NULL;
END $$;
