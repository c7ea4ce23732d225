DROP INDEX bookings_status_start_idx;
