-- The admin bookings review (/admin/bookings) filters by status and pages
-- by (start_at, id). Without this index the total for a status filter was
-- a sequential scan of every booking; with it, the count is an index-only
-- scan and each page of a rare status (no-shows) starts right at its key.
CREATE INDEX bookings_status_start_idx ON bookings (status, start_at, id);
