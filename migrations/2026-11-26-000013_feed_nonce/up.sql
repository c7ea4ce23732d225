-- The feed token becomes an HMAC of the mentor and this random nonce under
-- the server key (as manage links are), so the dashboard can show the URL
-- again on every visit instead of only on the answer to the POST that
-- made it (whose reload made a new one and retired the URL just copied).
-- Only its hash is stored, as before. A feed made before this migration
-- has no nonce: its URL keeps working, and the dashboard says it cannot be
-- shown again until a new one is made.
ALTER TABLE calendar_feeds ADD COLUMN nonce uuid;
