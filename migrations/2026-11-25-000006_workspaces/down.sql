ALTER TABLE bookings DROP COLUMN outcome_marked_by;
ALTER TABLE bookings DROP COLUMN outcome_marked_at;
DROP TABLE calendar_feeds;
