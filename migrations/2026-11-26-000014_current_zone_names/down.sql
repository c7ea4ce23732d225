-- Nothing to undo: the old names meant the same zones.
SELECT 1;
