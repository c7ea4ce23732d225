ALTER TABLE bookings DROP COLUMN cancelled_as;
