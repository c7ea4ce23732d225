CREATE OR REPLACE FUNCTION bump_slot_version(who uuid) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO slot_versions (mentor_id, version) VALUES (who, 1)
    ON CONFLICT (mentor_id) DO UPDATE SET version = slot_versions.version + 1;
$$;
