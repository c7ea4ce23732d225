-- The old keys cannot be recovered from a /64; nothing to undo.
SELECT 1;
