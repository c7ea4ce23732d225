-- Mentor schedules and bookings. Weekly rules and overrides are local
-- wall-clock times in the mentor's account zone (users.time_zone),
-- expanded per date by the slot engine; instants are timestamptz.

CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE mentor_profiles (
    user_id            uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    headline           text NOT NULL DEFAULT '',
    bio                text NOT NULL DEFAULT '',
    meeting_url        text,
    accepting_bookings boolean NOT NULL DEFAULT false,
    buffer_before_min  integer NOT NULL DEFAULT 0,
    buffer_after_min   integer NOT NULL DEFAULT 0,
    min_notice_hours   integer NOT NULL DEFAULT 12,
    horizon_days       integer NOT NULL DEFAULT 28,
    step_min           integer NOT NULL DEFAULT 15,
    max_per_day        integer,
    max_per_week       integer,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    CONSTRAINT mentor_profiles_headline_check CHECK (length(headline) <= 120),
    CONSTRAINT mentor_profiles_bio_check CHECK (length(bio) <= 4000),
    CONSTRAINT mentor_profiles_meeting_url_check CHECK (meeting_url IS NULL OR (meeting_url ~ '^https://' AND length(meeting_url) <= 500)),
    CONSTRAINT mentor_profiles_buffers_check CHECK (buffer_before_min BETWEEN 0 AND 120 AND buffer_after_min BETWEEN 0 AND 120),
    CONSTRAINT mentor_profiles_notice_check CHECK (min_notice_hours BETWEEN 0 AND 336),
    CONSTRAINT mentor_profiles_horizon_check CHECK (horizon_days BETWEEN 1 AND 180),
    CONSTRAINT mentor_profiles_step_check CHECK (step_min BETWEEN 5 AND 60 AND step_min % 5 = 0),
    CONSTRAINT mentor_profiles_caps_check CHECK ((max_per_day IS NULL OR max_per_day >= 1) AND (max_per_week IS NULL OR max_per_week >= 1))
);

CREATE TABLE mentor_topics (
    mentor_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    topic_id  uuid NOT NULL REFERENCES topics (id) ON DELETE CASCADE,
    PRIMARY KEY (mentor_id, topic_id)
);
CREATE INDEX mentor_topics_topic_idx ON mentor_topics (topic_id, mentor_id);

-- A weekly window: ISO weekday (1 = Monday) and local times on a 5-minute
-- grid; an end at or before the start ends on the next day.
CREATE TABLE weekly_rules (
    id         uuid PRIMARY KEY,
    mentor_id  uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    weekday    smallint NOT NULL,
    start_time time NOT NULL,
    end_time   time NOT NULL,
    CONSTRAINT weekly_rules_weekday_check CHECK (weekday BETWEEN 1 AND 7),
    CONSTRAINT weekly_rules_grid_check CHECK (
        extract(second FROM start_time) = 0 AND extract(minute FROM start_time)::int % 5 = 0
        AND extract(second FROM end_time) = 0 AND extract(minute FROM end_time)::int % 5 = 0)
);
CREATE INDEX weekly_rules_mentor_idx ON weekly_rules (mentor_id, weekday, start_time);

-- A local date with its own windows, or (no windows) unavailable all day.
CREATE TABLE date_overrides (
    id        uuid PRIMARY KEY,
    mentor_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    on_date   date NOT NULL,
    CONSTRAINT date_overrides_mentor_date_key UNIQUE (mentor_id, on_date)
);

CREATE TABLE override_windows (
    id          uuid PRIMARY KEY,
    override_id uuid NOT NULL REFERENCES date_overrides (id) ON DELETE CASCADE,
    start_time  time NOT NULL,
    end_time    time NOT NULL,
    CONSTRAINT override_windows_grid_check CHECK (
        extract(second FROM start_time) = 0 AND extract(minute FROM start_time)::int % 5 = 0
        AND extract(second FROM end_time) = 0 AND extract(minute FROM end_time)::int % 5 = 0)
);
CREATE INDEX override_windows_override_idx ON override_windows (override_id, start_time);

CREATE TABLE time_off (
    id        uuid PRIMARY KEY,
    mentor_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    starts_at timestamptz NOT NULL,
    ends_at   timestamptz NOT NULL,
    note      text NOT NULL DEFAULT '',
    CONSTRAINT time_off_range_check CHECK (ends_at > starts_at),
    CONSTRAINT time_off_note_check CHECK (length(note) <= 200)
);
CREATE INDEX time_off_mentor_idx ON time_off (mentor_id, ends_at);

-- Bookings. The buffers are copied onto the row when it is made, and the
-- occupied range [start - before, end + after) is stored so the database
-- itself refuses overlapping live bookings of one mentor (buffers
-- included), and overlapping sessions of one learner.
CREATE TABLE bookings (
    id                uuid PRIMARY KEY,
    learner_id        uuid NOT NULL REFERENCES users (id),
    mentor_id         uuid NOT NULL REFERENCES users (id),
    topic_id          uuid NOT NULL REFERENCES topics (id),
    start_at          timestamptz NOT NULL,
    end_at            timestamptz NOT NULL,
    buffer_before_min integer NOT NULL DEFAULT 0,
    buffer_after_min  integer NOT NULL DEFAULT 0,
    occupied          tstzrange NOT NULL,
    status            text NOT NULL DEFAULT 'confirmed',
    goals             text NOT NULL DEFAULT '',
    cancelled_by      uuid REFERENCES users (id),
    cancel_reason     text,
    cancelled_at      timestamptz,
    late_cancel       boolean NOT NULL DEFAULT false,
    sequence          integer NOT NULL DEFAULT 0,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    CONSTRAINT bookings_status_check CHECK (status IN ('confirmed', 'cancelled', 'completed', 'no_show')),
    CONSTRAINT bookings_range_check CHECK (end_at > start_at),
    CONSTRAINT bookings_buffers_check CHECK (buffer_before_min BETWEEN 0 AND 120 AND buffer_after_min BETWEEN 0 AND 120),
    CONSTRAINT bookings_occupied_check CHECK (
        occupied = tstzrange(start_at - make_interval(mins => buffer_before_min),
                             end_at + make_interval(mins => buffer_after_min), '[)')),
    CONSTRAINT bookings_not_self_check CHECK (learner_id <> mentor_id),
    CONSTRAINT bookings_cancel_check CHECK ((status = 'cancelled') = (cancelled_at IS NOT NULL)),
    CONSTRAINT bookings_goals_check CHECK (length(goals) <= 2000),
    CONSTRAINT bookings_mentor_no_overlap EXCLUDE USING gist (mentor_id WITH =, occupied WITH &&)
        WHERE (status <> 'cancelled'),
    CONSTRAINT bookings_learner_no_overlap EXCLUDE USING gist (learner_id WITH =, tstzrange(start_at, end_at, '[)') WITH &&)
        WHERE (status <> 'cancelled')
);
CREATE INDEX bookings_mentor_start_idx ON bookings (mentor_id, start_at);
CREATE INDEX bookings_learner_start_idx ON bookings (learner_id, start_at);
CREATE INDEX bookings_topic_start_idx ON bookings (topic_id, start_at);
CREATE INDEX bookings_start_idx ON bookings (start_at, id);
