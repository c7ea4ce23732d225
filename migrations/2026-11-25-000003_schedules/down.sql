DROP TABLE bookings;
DROP TABLE time_off;
DROP TABLE override_windows;
DROP TABLE date_overrides;
DROP TABLE weekly_rules;
DROP TABLE mentor_topics;
DROP TABLE mentor_profiles;
