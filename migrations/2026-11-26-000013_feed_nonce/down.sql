ALTER TABLE calendar_feeds DROP COLUMN nonce;
