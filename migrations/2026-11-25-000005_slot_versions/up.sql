-- A version per mentor of everything their free slots are computed from,
-- bumped by triggers (so no code path can forget it): profile and booking
-- settings, offered topics, weekly rules, overrides and their windows,
-- time off, the account (zone, role, disabled, name) and every live or
-- changed booking in which they are mentor or learner. Topic changes bump
-- the row of the nil uuid, which every page checks too. The public mentor
-- page caches its rows under these versions: one small read per request
-- tells whether the cached rows are still exact.

CREATE TABLE slot_versions (
    mentor_id uuid PRIMARY KEY,
    version   bigint NOT NULL
);

CREATE FUNCTION bump_slot_version(who uuid) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO slot_versions (mentor_id, version) VALUES (who, 1)
    ON CONFLICT (mentor_id) DO UPDATE SET version = slot_versions.version + 1;
$$;

-- For tables with a mentor_id column.
CREATE FUNCTION slot_version_by_mentor() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM bump_slot_version(OLD.mentor_id);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND (TG_OP = 'INSERT' OR NEW.mentor_id IS DISTINCT FROM OLD.mentor_id) THEN
        PERFORM bump_slot_version(NEW.mentor_id);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER weekly_rules_slot_version AFTER INSERT OR UPDATE OR DELETE ON weekly_rules
    FOR EACH ROW EXECUTE FUNCTION slot_version_by_mentor();
CREATE TRIGGER date_overrides_slot_version AFTER INSERT OR UPDATE OR DELETE ON date_overrides
    FOR EACH ROW EXECUTE FUNCTION slot_version_by_mentor();
CREATE TRIGGER time_off_slot_version AFTER INSERT OR UPDATE OR DELETE ON time_off
    FOR EACH ROW EXECUTE FUNCTION slot_version_by_mentor();
CREATE TRIGGER mentor_topics_slot_version AFTER INSERT OR UPDATE OR DELETE ON mentor_topics
    FOR EACH ROW EXECUTE FUNCTION slot_version_by_mentor();

CREATE FUNCTION slot_version_by_override() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM bump_slot_version(o.mentor_id) FROM date_overrides o WHERE o.id = OLD.override_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM bump_slot_version(o.mentor_id) FROM date_overrides o WHERE o.id = NEW.override_id;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER override_windows_slot_version AFTER INSERT OR UPDATE OR DELETE ON override_windows
    FOR EACH ROW EXECUTE FUNCTION slot_version_by_override();

CREATE FUNCTION slot_version_by_user_id() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM bump_slot_version(OLD.user_id);
    END IF;
    IF TG_OP = 'INSERT' THEN
        PERFORM bump_slot_version(NEW.user_id);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER mentor_profiles_slot_version AFTER INSERT OR UPDATE OR DELETE ON mentor_profiles
    FOR EACH ROW EXECUTE FUNCTION slot_version_by_user_id();

-- Only the columns a slot page reads.
CREATE FUNCTION slot_version_by_user() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM bump_slot_version(OLD.id);
    RETURN NULL;
END $$;

CREATE TRIGGER users_slot_version AFTER UPDATE OF time_zone, role, disabled_at, display_name ON users
    FOR EACH ROW EXECUTE FUNCTION slot_version_by_user();

CREATE FUNCTION slot_version_by_booking() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM bump_slot_version(OLD.mentor_id);
        PERFORM bump_slot_version(OLD.learner_id);
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND (NEW.mentor_id <> OLD.mentor_id OR NEW.learner_id <> OLD.learner_id)) THEN
        PERFORM bump_slot_version(NEW.mentor_id);
        PERFORM bump_slot_version(NEW.learner_id);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER bookings_slot_version AFTER INSERT OR UPDATE OR DELETE ON bookings
    FOR EACH ROW EXECUTE FUNCTION slot_version_by_booking();

CREATE FUNCTION slot_version_global() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM bump_slot_version('00000000-0000-0000-0000-000000000000');
    RETURN NULL;
END $$;

CREATE TRIGGER topics_slot_version AFTER INSERT OR UPDATE OR DELETE ON topics
    FOR EACH STATEMENT EXECUTE FUNCTION slot_version_global();
