//! Migrations that rewrite existing rows, run against rows written under
//! the schema before them.

use diesel::prelude::*;
use diesel::sql_types::{Text, Uuid as SqlUuid};
use diesel_migrations::MigrationHarness;
use officehours::accounts::Role;
use officehours::accounts::service::{self as accounts, NewAccount};
use officehours::db::MIGRATIONS;
use uuid::Uuid;

use crate::harness::TestDb;

const NO_PASSWORD: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

/// Applies the migrations before the one whose name contains `name`.
fn migrate_until(conn: &mut PgConnection, name: &str) {
    loop {
        let pending = conn.pending_migrations(MIGRATIONS).unwrap();
        let next = pending.first().expect("the migration is there");
        if next.name().to_string().contains(name) {
            return;
        }
        conn.run_migration(next.as_ref()).unwrap();
    }
}

#[test]
fn cancelled_as_is_filled_from_the_audit_log_else_by_id() {
    let db = TestDb::empty();
    let mut conn = db.conn();
    migrate_until(&mut conn, "cancelled_as");
    let now = crate::harness::default_now();
    let user = |conn: &mut PgConnection, email: &str, role: Role| {
        accounts::create(
            conn,
            now,
            &NewAccount {
                email,
                display_name: email,
                role,
                time_zone: chrono_tz::UTC,
                password_hash: NO_PASSWORD,
                verified: true,
            },
        )
        .unwrap()
        .id
    };
    // An admin who mentors the sessions, and a learner.
    let admin = user(&mut conn, "admin@m.test", Role::Admin);
    let learner = user(&mut conn, "lin@m.test", Role::Learner);
    let topic = Uuid::now_v7();
    diesel::sql_query(
        "INSERT INTO topics (id, slug, title, description, duration_minutes, active,
                             created_at, updated_at)
         VALUES ($1, 'sql', 'SQL', 'd', 30, true, now(), now())",
    )
    .bind::<SqlUuid, _>(topic)
    .execute(&mut conn)
    .unwrap();
    let booking = |conn: &mut PgConnection, hour: i32, status: &str, by: Option<Uuid>| {
        let id = Uuid::now_v7();
        diesel::sql_query(
            "INSERT INTO bookings (id, learner_id, mentor_id, topic_id, start_at, end_at,
                                   occupied, status, goals, cancelled_by, cancelled_at,
                                   created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $5 + interval '30 minutes',
                     tstzrange($5, $5 + interval '30 minutes', '[)'), $6, 'g', $7,
                     CASE WHEN $6 = 'cancelled' THEN now() END, now(), now())",
        )
        .bind::<SqlUuid, _>(id)
        .bind::<SqlUuid, _>(learner)
        .bind::<SqlUuid, _>(admin)
        .bind::<SqlUuid, _>(topic)
        .bind::<diesel::sql_types::Timestamptz, _>(
            chrono::DateTime::<chrono::Utc>::from_timestamp(
                1_900_000_000 + i64::from(hour) * 3600,
                0,
            )
            .unwrap(),
        )
        .bind::<Text, _>(status)
        .bind::<diesel::sql_types::Nullable<SqlUuid>, _>(by)
        .execute(conn)
        .unwrap();
        id
    };
    let audit = |conn: &mut PgConnection, booking: Uuid, by: Uuid, role: &str| {
        diesel::sql_query(
            "INSERT INTO audit_log (id, at, actor_user_id, action, subject_type, subject_id, details)
             VALUES ($1, now(), $2, 'booking.cancel', 'booking', $3, jsonb_build_object('as', $4::text))",
        )
        .bind::<SqlUuid, _>(Uuid::now_v7())
        .bind::<SqlUuid, _>(by)
        .bind::<SqlUuid, _>(booking)
        .bind::<Text, _>(role)
        .execute(conn)
        .unwrap();
    };
    // From the admin list: the audit entry says "admin" though the id is
    // the mentor's.
    let as_admin = booking(&mut conn, 0, "cancelled", Some(admin));
    audit(&mut conn, as_admin, admin, "admin");
    // From the booking page, as the mentor.
    let as_mentor = booking(&mut conn, 1, "cancelled", Some(admin));
    audit(&mut conn, as_mentor, admin, "mentor");
    // No audit entry: the rule by id.
    let by_learner = booking(&mut conn, 2, "cancelled", Some(learner));
    let live = booking(&mut conn, 3, "confirmed", None);

    conn.run_pending_migrations(MIGRATIONS).unwrap();
    let role = |conn: &mut PgConnection, id: Uuid| -> Option<String> {
        officehours::db::schema::bookings::table
            .find(id)
            .select(officehours::db::schema::bookings::cancelled_as)
            .first(conn)
            .unwrap()
    };
    assert_eq!(role(&mut conn, as_admin).as_deref(), Some("admin"));
    assert_eq!(role(&mut conn, as_mentor).as_deref(), Some("mentor"));
    assert_eq!(role(&mut conn, by_learner).as_deref(), Some("learner"));
    assert_eq!(role(&mut conn, live), None);
}

#[test]
fn accounts_saved_with_a_renamed_zone_get_its_current_name() {
    let db = TestDb::empty();
    let mut conn = db.conn();
    migrate_until(&mut conn, "current_zone_names");
    let now = crate::harness::default_now();
    let mut user = |email: &str, zone: chrono_tz::Tz| {
        accounts::create(
            &mut conn,
            now,
            &NewAccount {
                email,
                display_name: email,
                role: Role::Learner,
                time_zone: zone,
                password_hash: NO_PASSWORD,
                verified: true,
            },
        )
        .unwrap()
        .id
    };
    let india = user("asha@m.test", chrono_tz::Asia::Calcutta);
    let ukraine = user("olena@m.test", chrono_tz::Europe::Kiev);
    let berlin = user("jonas@m.test", chrono_tz::Europe::Berlin);
    // Merged into another place's zone, not renamed: left as chosen.
    let svalbard = user("ida@m.test", chrono_tz::Arctic::Longyearbyen);
    conn.run_pending_migrations(MIGRATIONS).unwrap();
    let zone_of = |conn: &mut PgConnection, id: Uuid| -> String {
        officehours::db::schema::users::table
            .find(id)
            .select(officehours::db::schema::users::time_zone)
            .first(conn)
            .unwrap()
    };
    assert_eq!(zone_of(&mut conn, india), "Asia/Kolkata");
    assert_eq!(zone_of(&mut conn, ukraine), "Europe/Kyiv");
    assert_eq!(zone_of(&mut conn, berlin), "Europe/Berlin");
    assert_eq!(zone_of(&mut conn, svalbard), "Arctic/Longyearbyen");
}

#[test]
fn networks_owners_signed_in_from_are_keyed_as_the_limits_now_count_them() {
    use officehours::accounts::throttle::ip_key;
    use officehours::db::schema::login_known_ips;
    let db = TestDb::empty();
    let mut conn = db.conn();
    migrate_until(&mut conn, "network_keys");
    let now = crate::harness::default_now();
    let saved = [
        "2001:db8:1:2::10",
        "2001:db8:1:2:aaaa::20",
        "2001:db8:0:0:1::1",
        "::ffff:203.0.113.7",
        "198.51.100.1",
        "unknown",
    ];
    for (i, ip) in saved.iter().enumerate() {
        diesel::insert_into(login_known_ips::table)
            .values((
                login_known_ips::email_key.eq("ada@example.org"),
                login_known_ips::ip.eq(*ip),
                login_known_ips::last_at.eq(now - chrono::Duration::minutes(i as i64)),
            ))
            .execute(&mut conn)
            .unwrap();
    }
    conn.run_pending_migrations(MIGRATIONS).unwrap();
    let mut keys: Vec<(String, chrono::DateTime<chrono::Utc>)> = login_known_ips::table
        .select((login_known_ips::ip, login_known_ips::last_at))
        .order(login_known_ips::ip)
        .load(&mut conn)
        .unwrap();
    keys.sort();
    let mut expected: Vec<String> = saved.iter().map(|ip| ip_key(ip)).collect();
    expected.sort();
    expected.dedup();
    assert_eq!(
        keys.iter().map(|(ip, _)| ip.clone()).collect::<Vec<_>>(),
        expected
    );
    // Two addresses of one /64 became one row, with the later sign-in.
    let net = keys
        .iter()
        .find(|(ip, _)| ip == "2001:db8:1:2::/64")
        .unwrap();
    assert_eq!(net.1, now);
}
