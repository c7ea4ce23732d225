DROP TABLE server_secrets;
DROP TABLE audit_log;
DROP TABLE email_outbox;
DROP TABLE topics;
DROP TABLE users;
