DROP INDEX email_outbox_due_idx;
CREATE INDEX email_outbox_due_idx ON email_outbox (next_attempt_at) WHERE state = 'pending';
ALTER TABLE bookings DROP CONSTRAINT bookings_length_check;
DROP TRIGGER bookings_slot_version ON bookings;
CREATE TRIGGER bookings_slot_version AFTER INSERT OR UPDATE OR DELETE ON bookings
    FOR EACH ROW EXECUTE FUNCTION slot_version_by_booking();
