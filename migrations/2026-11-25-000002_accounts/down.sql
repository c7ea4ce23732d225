ALTER TABLE users DROP COLUMN verification_sent_at;
DROP TABLE login_known_ips;
DROP TABLE login_failures;
DROP TABLE api_tokens;
DROP TABLE account_tokens;
DROP TABLE sessions;
