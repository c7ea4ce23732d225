-- Every change to what slots are computed from bumps a version through
-- bump_slot_version (000005), called from PL/pgSQL triggers. As a SQL
-- function it was not inlined there, and PostgreSQL parsed and planned its
-- INSERT again on every call: 0.04-0.07 ms per call against 0.008 ms for
-- the INSERT itself (auto_explain during `cargo bench --bench
-- booking_load`), twice per booking. In PL/pgSQL the plan is kept for the
-- session.
CREATE OR REPLACE FUNCTION bump_slot_version(who uuid) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO slot_versions (mentor_id, version) VALUES (who, 1)
    ON CONFLICT (mentor_id) DO UPDATE SET version = slot_versions.version + 1;
END $$;
