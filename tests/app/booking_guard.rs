//! The database guard against double bookings: exclusion constraints on
//! the mentor's occupied ranges (buffers included) and on the learner's
//! sessions, for live (not cancelled) bookings.

use chrono::{DateTime, Duration, TimeZone, Utc};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error};
use officehours::accounts::Role;
use officehours::accounts::deletion;
use officehours::admin::users::{self as admin_users, Outcome};
use officehours::bookings::service::{self as book_service, BookError, BookRequest, Ctx};
use uuid::Uuid;

use crate::booking_fixture::{fixture, live_bookings_of_mentor};
use crate::harness::{TestApp, backend_pid, spawn_app};

fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 7, 1, h, m, 0).unwrap()
}

struct B {
    learner: Uuid,
    mentor: Uuid,
    start: DateTime<Utc>,
    minutes: i64,
    before: i32,
    after: i32,
}

fn insert(app: &TestApp, topic: Uuid, b: &B) -> Result<Uuid, Error> {
    let id = Uuid::now_v7();
    diesel::sql_query(
        "INSERT INTO bookings (id, learner_id, mentor_id, topic_id, start_at, end_at,
                               buffer_before_min, buffer_after_min, occupied, status, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8,
                 tstzrange($5 - make_interval(mins => $7), $6 + make_interval(mins => $8), '[)'),
                 'confirmed', $5, $5)",
    )
    .bind::<diesel::sql_types::Uuid, _>(id)
    .bind::<diesel::sql_types::Uuid, _>(b.learner)
    .bind::<diesel::sql_types::Uuid, _>(b.mentor)
    .bind::<diesel::sql_types::Uuid, _>(topic)
    .bind::<diesel::sql_types::Timestamptz, _>(b.start)
    .bind::<diesel::sql_types::Timestamptz, _>(b.start + Duration::minutes(b.minutes))
    .bind::<diesel::sql_types::Integer, _>(b.before)
    .bind::<diesel::sql_types::Integer, _>(b.after)
    .execute(&mut app.conn())
    .map(|_| id)
}

fn refused_by(result: Result<Uuid, Error>, constraint: &str) {
    match result {
        Err(Error::DatabaseError(kind, info)) => {
            assert!(
                matches!(
                    kind,
                    DatabaseErrorKind::Unknown
                        | DatabaseErrorKind::CheckViolation
                        | DatabaseErrorKind::ExclusionViolation
                ),
                "{kind:?}"
            );
            assert_eq!(
                info.constraint_name(),
                Some(constraint),
                "{}",
                info.message()
            );
        }
        other => panic!("expected {constraint} to refuse, got {other:?}"),
    }
}

fn topic(app: &TestApp) -> Uuid {
    crate::web::add_topic(app, "sql", "SQL", true);
    officehours::topics::find_by_slug(&mut app.conn(), "sql")
        .unwrap()
        .unwrap()
        .id
}

#[tokio::test]
async fn two_live_bookings_of_one_mentor_never_overlap_buffers_included() {
    let app = spawn_app().await;
    let t = topic(&app);
    let mentor = app.create_user(Role::Mentor).id;
    let (l1, l2, l3) = (
        app.create_user(Role::Learner).id,
        app.create_user(Role::Learner).id,
        app.create_user(Role::Learner).id,
    );
    let first = B {
        learner: l1,
        mentor,
        start: at(10, 0),
        minutes: 60,
        before: 0,
        after: 15,
    };
    insert(&app, t, &first).unwrap();
    // Overlapping sessions.
    refused_by(
        insert(
            &app,
            t,
            &B {
                learner: l2,
                mentor,
                start: at(10, 30),
                minutes: 30,
                before: 0,
                after: 0,
            },
        ),
        "bookings_mentor_no_overlap",
    );
    // Sessions that touch, but the first one's 15-minute buffer after
    // overlaps: refused through the buffer only.
    refused_by(
        insert(
            &app,
            t,
            &B {
                learner: l2,
                mentor,
                start: at(11, 0),
                minutes: 30,
                before: 0,
                after: 0,
            },
        ),
        "bookings_mentor_no_overlap",
    );
    // Sessions apart, but the new one's buffer before reaches back.
    refused_by(
        insert(
            &app,
            t,
            &B {
                learner: l2,
                mentor,
                start: at(11, 20),
                minutes: 30,
                before: 10,
                after: 0,
            },
        ),
        "bookings_mentor_no_overlap",
    );
    // Back to back with the buffer respected: accepted ([) ranges touch).
    insert(
        &app,
        t,
        &B {
            learner: l2,
            mentor,
            start: at(11, 15),
            minutes: 30,
            before: 0,
            after: 0,
        },
    )
    .unwrap();
    insert(
        &app,
        t,
        &B {
            learner: l3,
            mentor,
            start: at(9, 0),
            minutes: 60,
            before: 0,
            after: 0,
        },
    )
    .unwrap();
    // Another mentor at the same time: no conflict.
    let other_mentor = app.create_user(Role::Mentor).id;
    insert(
        &app,
        t,
        &B {
            learner: app.create_user(Role::Learner).id,
            mentor: other_mentor,
            start: at(10, 0),
            minutes: 60,
            before: 0,
            after: 0,
        },
    )
    .unwrap();
}

#[tokio::test]
async fn a_learner_s_live_sessions_never_overlap_and_back_to_back_is_fine() {
    let app = spawn_app().await;
    let t = topic(&app);
    let learner = app.create_user(Role::Learner).id;
    let (m1, m2, m3) = (
        app.create_user(Role::Mentor).id,
        app.create_user(Role::Mentor).id,
        app.create_user(Role::Mentor).id,
    );
    insert(
        &app,
        t,
        &B {
            learner,
            mentor: m1,
            start: at(10, 0),
            minutes: 60,
            before: 15,
            after: 15,
        },
    )
    .unwrap();
    refused_by(
        insert(
            &app,
            t,
            &B {
                learner,
                mentor: m2,
                start: at(10, 59),
                minutes: 30,
                before: 0,
                after: 0,
            },
        ),
        "bookings_learner_no_overlap",
    );
    // The learner's sessions count without the mentors' buffers.
    insert(
        &app,
        t,
        &B {
            learner,
            mentor: m2,
            start: at(11, 0),
            minutes: 30,
            before: 30,
            after: 0,
        },
    )
    .unwrap();
    insert(
        &app,
        t,
        &B {
            learner,
            mentor: m3,
            start: at(9, 30),
            minutes: 30,
            before: 0,
            after: 0,
        },
    )
    .unwrap();
}

#[tokio::test]
async fn cancelled_bookings_free_their_time_and_nobody_books_themselves() {
    let app = spawn_app().await;
    let t = topic(&app);
    let mentor = app.create_user(Role::Mentor).id;
    let learner = app.create_user(Role::Learner).id;
    let id = insert(
        &app,
        t,
        &B {
            learner,
            mentor,
            start: at(10, 0),
            minutes: 60,
            before: 0,
            after: 0,
        },
    )
    .unwrap();
    diesel::sql_query(
        "UPDATE bookings SET status = 'cancelled', cancelled_as = 'admin', cancelled_at = start_at WHERE id = $1",
    )
    .bind::<diesel::sql_types::Uuid, _>(id)
    .execute(&mut app.conn())
    .unwrap();
    insert(
        &app,
        t,
        &B {
            learner: app.create_user(Role::Learner).id,
            mentor,
            start: at(10, 0),
            minutes: 60,
            before: 0,
            after: 0,
        },
    )
    .unwrap();
    refused_by(
        insert(
            &app,
            t,
            &B {
                learner: mentor,
                mentor,
                start: at(15, 0),
                minutes: 30,
                before: 0,
                after: 0,
            },
        ),
        "bookings_not_self_check",
    );
    // The stored occupied range must match the buffers.
    let res = diesel::sql_query(
        "INSERT INTO bookings (id, learner_id, mentor_id, topic_id, start_at, end_at, buffer_before_min,
                               buffer_after_min, occupied, created_at, updated_at)
         VALUES (gen_random_uuid(), $1, $2, $3, '2026-07-02T10:00Z', '2026-07-02T11:00Z', 15, 0,
                 tstzrange('2026-07-02T10:00Z', '2026-07-02T11:00Z', '[)'), now(), now())",
    )
    .bind::<diesel::sql_types::Uuid, _>(learner)
    .bind::<diesel::sql_types::Uuid, _>(mentor)
    .bind::<diesel::sql_types::Uuid, _>(t)
    .execute(&mut app.conn())
    .map(|_| Uuid::nil());
    refused_by(res, "bookings_occupied_check");
}

#[derive(QueryableByName)]
struct Version {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    version: i64,
}

/// `who`'s slot version (0: never bumped).
fn version(conn: &mut PgConnection, who: Uuid) -> i64 {
    diesel::sql_query(
        "SELECT coalesce((SELECT version FROM slot_versions WHERE mentor_id = $1), 0) AS version",
    )
    .bind::<diesel::sql_types::Uuid, _>(who)
    .get_result::<Version>(conn)
    .unwrap()
    .version
}

/// A connection whose open transaction holds the row lock `sql` takes
/// (with `id` for `$1`), until it commits.
fn hold(app: &TestApp, sql: &str, id: Uuid) -> crate::harness::TestConn {
    let mut conn = app.conn();
    conn.batch_execute("BEGIN").unwrap();
    diesel::sql_query(sql)
        .bind::<diesel::sql_types::Uuid, _>(id)
        .execute(&mut conn)
        .unwrap();
    conn
}

/// Cancels booking `id` in a transaction left open on `conn`: its row is
/// locked, its version bumps wait for the COMMIT.
fn begin_cancel(conn: &mut PgConnection, id: Uuid) {
    conn.batch_execute("BEGIN").unwrap();
    let n = diesel::sql_query(
        "UPDATE bookings SET status = 'cancelled', cancelled_as = 'admin', cancelled_at = now() WHERE id = $1",
    )
    .bind::<diesel::sql_types::Uuid, _>(id)
    .execute(conn)
    .unwrap();
    assert_eq!(n, 1);
}

/// Waits until backend `pid` waits for a lock.
fn until_waiting(conn: &mut PgConnection, pid: i32) {
    #[derive(QueryableByName)]
    struct Waiting {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        waiting: bool,
    }
    for _ in 0..500 {
        let w: Waiting = diesel::sql_query(
            "SELECT coalesce(wait_event_type = 'Lock', false) AS waiting
               FROM pg_stat_activity WHERE pid = $1",
        )
        .bind::<diesel::sql_types::Integer, _>(pid)
        .get_result(conn)
        .unwrap();
        if w.waiting {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("backend {pid} never waited for a lock");
}

/// A booking's commit bumps the slot versions of both its people (the
/// public pages' caches follow them) in id order: two mentors who booked
/// each other, cancelling at the same moment, queue for the rows instead
/// of deadlocking. The lower row is held meanwhile so that, were the rows
/// taken mentor first, the second commit would take the higher row and
/// wait for the lower one that the first gets next: "deadlock detected".
#[tokio::test]
async fn crossed_bookings_commit_their_version_bumps_without_deadlock() {
    let app = spawn_app().await;
    let t = topic(&app);
    let mut people = [
        app.create_user(Role::Mentor).id,
        app.create_user(Role::Mentor).id,
    ];
    people.sort();
    let [low, high] = people;
    let crossed = [
        insert(
            &app,
            t,
            &B {
                learner: high,
                mentor: low,
                start: at(9, 0),
                minutes: 30,
                before: 0,
                after: 0,
            },
        )
        .unwrap(),
        insert(
            &app,
            t,
            &B {
                learner: low,
                mentor: high,
                start: at(11, 0),
                minutes: 30,
                before: 0,
                after: 0,
            },
        )
        .unwrap(),
    ];
    let mut watch = app.conn();
    let before = (version(&mut watch, low), version(&mut watch, high));

    let mut holder = hold(
        &app,
        "SELECT version FROM slot_versions WHERE mentor_id = $1 FOR UPDATE",
        low,
    );
    let mut cancels = Vec::new();
    for id in crossed {
        let mut conn = app.conn();
        let pid = backend_pid(&mut conn);
        cancels.push(std::thread::spawn(move || {
            conn.transaction(|conn| {
                diesel::sql_query(
                    "UPDATE bookings SET status = 'cancelled', cancelled_as = 'admin', cancelled_at = now() WHERE id = $1",
                )
                .bind::<diesel::sql_types::Uuid, _>(id)
                .execute(conn)
            })
        }));
        // Its commit is waiting for a version row.
        until_waiting(&mut watch, pid);
    }
    holder.batch_execute("COMMIT").unwrap();
    for cancel in cancels {
        assert_eq!(cancel.join().unwrap().expect("no deadlock"), 1);
    }
    assert_eq!(
        (version(&mut watch, low), version(&mut watch, high)),
        (before.0 + 2, before.1 + 2),
        "each commit bumped both people once"
    );
}

/// Only a change to what slots and caps are computed from bumps the
/// versions: the reminder worker's bookkeeping or new goals keep every
/// cached page; a cancel or a move does not.
#[tokio::test]
async fn only_changes_to_slots_bump_the_versions() {
    let app = spawn_app().await;
    let t = topic(&app);
    let (mentor, learner) = (
        app.create_user(Role::Mentor).id,
        app.create_user(Role::Learner).id,
    );
    let id = insert(
        &app,
        t,
        &B {
            learner,
            mentor,
            start: at(9, 0),
            minutes: 30,
            before: 0,
            after: 0,
        },
    )
    .unwrap();
    let mut conn = app.conn();
    let versions = |conn: &mut PgConnection| (version(conn, mentor), version(conn, learner));
    let mut seen = versions(&mut conn);
    let mut change = |sql: &str| {
        diesel::sql_query(sql)
            .bind::<diesel::sql_types::Uuid, _>(id)
            .execute(&mut conn)
            .unwrap();
        let now = versions(&mut conn);
        let bumped = now != seen;
        if bumped {
            assert_eq!(now, (seen.0 + 1, seen.1 + 1), "{sql}");
        }
        seen = now;
        bumped
    };
    for bookkeeping in [
        "UPDATE bookings SET reminded_24h_for = start_at, reminded_1h_for = start_at WHERE id = $1",
        "UPDATE bookings SET goals = 'Window functions', updated_at = now() WHERE id = $1",
        "UPDATE bookings SET sequence = sequence + 1 WHERE id = $1",
    ] {
        assert!(!change(bookkeeping), "{bookkeeping}");
    }
    for slot_change in [
        "UPDATE bookings SET start_at = start_at + interval '1 hour', end_at = end_at + interval '1 hour',
                occupied = tstzrange(lower(occupied) + interval '1 hour', upper(occupied) + interval '1 hour', '[)')
          WHERE id = $1",
        // The buffers alone (they are in the occupied range).
        "UPDATE bookings SET buffer_after_min = 15,
                occupied = tstzrange(lower(occupied), upper(occupied) + interval '15 minutes', '[)')
          WHERE id = $1",
    ] {
        assert!(change(slot_change), "{slot_change}");
    }
    // Given to another mentor: the old one, the new one and the learner,
    // each once.
    let other = app.create_user(Role::Mentor).id;
    let mut conn = app.conn();
    let all = |conn: &mut PgConnection| {
        (
            version(conn, mentor),
            version(conn, learner),
            version(conn, other),
        )
    };
    let before = (seen.0, seen.1, version(&mut conn, other));
    diesel::sql_query("UPDATE bookings SET mentor_id = $2 WHERE id = $1")
        .bind::<diesel::sql_types::Uuid, _>(id)
        .bind::<diesel::sql_types::Uuid, _>(other)
        .execute(&mut conn)
        .unwrap();
    assert_eq!(all(&mut conn), (before.0 + 1, before.1 + 1, before.2 + 1));
    // Cancelled: the new mentor and the learner.
    diesel::sql_query(
        "UPDATE bookings SET status = 'cancelled', cancelled_as = 'admin', cancelled_at = now() WHERE id = $1",
    )
    .bind::<diesel::sql_types::Uuid, _>(id)
    .execute(&mut conn)
    .unwrap();
    assert_eq!(all(&mut conn), (before.0 + 1, before.1 + 2, before.2 + 2));
}

fn ctx(app: &TestApp) -> Ctx<'_> {
    Ctx {
        now: app.clock.now(),
        settings: &app.state.settings,
        key: app.state.secret_key.expose(),
    }
}

fn session(learner: Uuid, mentor: Uuid, start: DateTime<Utc>) -> B {
    B {
        learner,
        mentor,
        start,
        minutes: 30,
        before: 0,
        after: 0,
    }
}

/// An admin disables someone while the other person of one of their
/// sessions cancels it. The disable waits for the cancel's row lock; the
/// cancel's commit then bumps both people's versions. Had the disable
/// taken the target's version row before cancelling (its own UPDATE of the
/// account bumps it at once), each would wait for the other: "deadlock
/// detected", a 500 for one of them.
#[tokio::test]
async fn disabling_someone_while_their_partner_cancels_does_not_deadlock() {
    let app = spawn_app().await;
    let t = topic(&app);
    let admin = app.create_user(Role::Admin).id;
    let mut people = [
        app.create_user(Role::Mentor).id,
        app.create_user(Role::Learner).id,
    ];
    // The partner's row is the lower one, so the cancel's commit takes it
    // first and then wants the target's.
    people.sort();
    let [partner, target] = people;
    let id = insert(&app, t, &session(partner, target, at(9, 0))).unwrap();
    let mut watch = app.conn();
    let before = (version(&mut watch, partner), version(&mut watch, target));

    let mut cancel = app.conn();
    begin_cancel(&mut cancel, id);
    let mut conn = app.conn();
    let pid = backend_pid(&mut conn);
    let ctx = ctx(&app);
    let outcome = std::thread::scope(|s| {
        let disable = s.spawn(move || admin_users::disable(&mut conn, ctx, admin, target));
        // It waits for the booking's row.
        until_waiting(&mut watch, pid);
        cancel
            .batch_execute("COMMIT")
            .expect("the partner's cancel commits");
        disable.join().unwrap()
    });
    assert!(matches!(outcome, Ok(Outcome::Changed)), "{outcome:?}");
    assert!(is_disabled(&mut watch, target), "the target is disabled");
    assert_eq!(
        (version(&mut watch, partner), version(&mut watch, target)),
        (before.0 + 1, before.1 + 2),
        "the cancel bumped both, the disable the target's account"
    );
}

/// A transaction cancelling several bookings takes every version row it
/// will bump in id order before its commit. Bumped booking by booking at
/// the commit instead, it would hold the target's and one partner's rows
/// and then want the other partner's, while a commit between the two
/// partners held that one and wanted the first: "deadlock detected". A
/// third connection holds the higher partner's row meanwhile, so the
/// interleaving is the same on every run. `action` (on the target, in a
/// thread of its own, with an admin at hand) cancels the target's
/// sessions; the versions of the target and the two partners before and
/// after are returned.
async fn cancel_many_against_a_crossing_commit<F>(action: F) -> ([i64; 3], [i64; 3])
where
    F: FnOnce(&mut PgConnection, Ctx<'_>, Uuid, Uuid) -> Result<(), String> + Send,
{
    let app = spawn_app().await;
    let t = topic(&app);
    let admin = app.create_user(Role::Admin).id;
    let mut people = [
        app.create_user(Role::Mentor).id,
        app.create_user(Role::Mentor).id,
        app.create_user(Role::Mentor).id,
    ];
    people.sort();
    let [target, low, high] = people;
    // The session with `high` comes first, so it is cancelled first.
    insert(&app, t, &session(high, target, at(9, 0))).unwrap();
    insert(&app, t, &session(low, target, at(11, 0))).unwrap();
    let between = insert(&app, t, &session(high, low, at(13, 0))).unwrap();
    let mut watch = app.conn();
    let versions = |conn: &mut PgConnection| [target, low, high].map(|who| version(conn, who));
    let before = versions(&mut watch);

    let mut holder = hold(
        &app,
        "SELECT version FROM slot_versions WHERE mentor_id = $1 FOR UPDATE",
        high,
    );
    let mut conn = app.conn();
    let action_pid = backend_pid(&mut conn);
    let mut cancel = app.conn();
    let cancel_pid = backend_pid(&mut cancel);
    let ctx = ctx(&app);
    let (acted, cancelled) = std::thread::scope(|s| {
        let acting = s.spawn(move || action(&mut conn, ctx, admin, target));
        until_waiting(&mut watch, action_pid);
        let other = s.spawn(move || {
            begin_cancel(&mut cancel, between);
            cancel.batch_execute("COMMIT")
        });
        until_waiting(&mut watch, cancel_pid);
        holder.batch_execute("COMMIT").unwrap();
        (acting.join().unwrap(), other.join().unwrap())
    });
    acted.expect("the target's sessions are cancelled");
    cancelled.expect("the cancel between the partners commits");
    (before, versions(&mut watch))
}

#[tokio::test]
async fn disabling_someone_takes_the_version_rows_in_id_order() {
    let (before, after) =
        cancel_many_against_a_crossing_commit(
            |conn, ctx, admin, target| match admin_users::disable(conn, ctx, admin, target) {
                Ok(Outcome::Changed) => Ok(()),
                other => Err(format!("{other:?}")),
            },
        )
        .await;
    assert_eq!(
        after,
        [before[0] + 3, before[1] + 2, before[2] + 2],
        "the target: its account and two sessions; each partner: two sessions"
    );
}

#[tokio::test]
async fn deleting_an_account_takes_the_version_rows_in_id_order() {
    let (before, after) = cancel_many_against_a_crossing_commit(|conn, ctx, _, target| {
        match deletion::delete(conn, ctx, target) {
            Ok(d) if d.bookings_cancelled == 2 => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    assert!(after[0] > before[0] + 2, "{before:?} {after:?}");
    assert_eq!(
        after[1..],
        [before[1] + 2, before[2] + 2],
        "each partner: two sessions"
    );
}

fn is_disabled(conn: &mut PgConnection, who: Uuid) -> bool {
    use officehours::db::schema::users;
    users::table
        .find(who)
        .select(users::disabled_at.is_not_null())
        .first(conn)
        .unwrap()
}

/// Every lock on users rows is taken in id order. An admin books a session
/// with a mentor whom another admin disables at that moment. The disable
/// used to lock the admins' rows and then the mentor's, while the booking
/// locks the mentor's and then the learner's (here an admin's): with the
/// mentor's row first in id order, each held what the other wanted,
/// "deadlock detected". A third connection holds the booking admin's row
/// meanwhile, so the interleaving is the same on every run.
#[tokio::test]
async fn disabling_a_mentor_an_admin_is_booking_does_not_deadlock() {
    let app = spawn_app().await;
    let f = fixture(&app);
    let admin = app.create_user(Role::Admin).id;
    let booker = app.create_user(Role::Admin).id;
    assert!(f.mentor.id < booker, "the mentor's row comes first");
    let mut watch = app.conn();
    let mut holder = hold(
        &app,
        "SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE",
        booker,
    );
    let mut disabling = app.conn();
    let disable_pid = backend_pid(&mut disabling);
    let mut booking = app.conn();
    let book_pid = backend_pid(&mut booking);
    let ctx = ctx(&app);
    let mentor = f.mentor.id;
    let req = BookRequest {
        mentor_id: mentor,
        topic_slug: "sql-basics".into(),
        // 10:00 in Berlin the next day.
        start: Utc.with_ymd_and_hms(2026, 6, 16, 8, 0, 0).unwrap(),
        goals: "I want to understand joins and indexes.".into(),
        idempotency_key: Uuid::new_v4(),
    };
    let (disabled, booked) = std::thread::scope(|s| {
        let disable = s.spawn(move || admin_users::disable(&mut disabling, ctx, admin, mentor));
        until_waiting(&mut watch, disable_pid);
        let book = s.spawn(move || book_service::book(&mut booking, ctx, booker, &req));
        until_waiting(&mut watch, book_pid);
        holder.batch_execute("COMMIT").unwrap();
        (disable.join().unwrap(), book.join().unwrap())
    });
    assert!(matches!(disabled, Ok(Outcome::Changed)), "{disabled:?}");
    // The booking went second: a disabled mentor offers no slot.
    assert!(
        matches!(booked, Err(BookError::SlotUnavailable)),
        "{:?}",
        booked.map(|b| b.booking.id)
    );
    assert!(live_bookings_of_mentor(&app, mentor).is_empty());
}

/// A learner cancels their session while an admin disables them. The
/// cancel holds the booking's row and then names the learner in
/// `cancelled_by`, whose foreign key check share-locks the learner's row;
/// the disable holds that row and then wants the booking's. Had the
/// disable locked the row `FOR UPDATE` (which blocks those checks) rather
/// than `FOR NO KEY UPDATE`, each would wait for the other. A third
/// connection holds the booking's row first, so the cancel has it before
/// the disable asks.
#[tokio::test]
async fn a_learner_cancelling_while_being_disabled_does_not_deadlock() {
    let app = spawn_app().await;
    let t = topic(&app);
    let admin = app.create_user(Role::Admin).id;
    let mentor = app.create_user(Role::Mentor).id;
    let learner = app.create_user(Role::Learner).id;
    let id = insert(&app, t, &session(learner, mentor, at(9, 0))).unwrap();
    let mut watch = app.conn();
    let mut holder = hold(&app, "SELECT 1 FROM bookings WHERE id = $1 FOR UPDATE", id);
    let mut cancelling = app.conn();
    let cancel_pid = backend_pid(&mut cancelling);
    let mut disabling = app.conn();
    let disable_pid = backend_pid(&mut disabling);
    let ctx = ctx(&app);
    let by = book_service::Actor {
        user_id: learner,
        party: book_service::Party::Learner,
        via_manage_link: false,
    };
    let (cancelled, disabled) = std::thread::scope(|s| {
        let cancel = s.spawn(move || book_service::cancel(&mut cancelling, ctx, id, by, None));
        until_waiting(&mut watch, cancel_pid);
        let disable = s.spawn(move || admin_users::disable(&mut disabling, ctx, admin, learner));
        until_waiting(&mut watch, disable_pid);
        holder.batch_execute("COMMIT").unwrap();
        (cancel.join().unwrap(), disable.join().unwrap())
    });
    let cancelled = cancelled
        .expect("the learner's cancel goes through")
        .booking;
    assert_eq!(cancelled.cancelled_by, Some(learner));
    assert!(matches!(disabled, Ok(Outcome::Changed)), "{disabled:?}");
    assert!(is_disabled(&mut watch, learner));
}

/// A mentor marks the outcome of yesterday's session while its learner
/// deletes their account. The marking holds the booking's row and, at its
/// commit, wants both people's version rows; the deletion erases the
/// learner's goals from that row. Had the deletion locked its version rows
/// before that UPDATE, each would wait for the other.
#[tokio::test]
async fn deleting_an_account_while_an_outcome_is_marked_does_not_deadlock() {
    let app = spawn_app().await;
    let t = topic(&app);
    let mentor = app.create_user(Role::Mentor).id;
    let learner = app.create_user(Role::Learner).id;
    let yesterday = Utc.with_ymd_and_hms(2026, 6, 14, 9, 0, 0).unwrap();
    let past = insert(&app, t, &session(learner, mentor, yesterday)).unwrap();
    diesel::sql_query("UPDATE bookings SET goals = 'Joins and indexes.' WHERE id = $1")
        .bind::<diesel::sql_types::Uuid, _>(past)
        .execute(&mut app.conn())
        .unwrap();
    let mut watch = app.conn();
    let before = (version(&mut watch, learner), version(&mut watch, mentor));
    // The outcome is written, not yet committed.
    let mut marking = hold(
        &app,
        "UPDATE bookings SET status = 'completed' WHERE id = $1",
        past,
    );
    let mut deleting = app.conn();
    let delete_pid = backend_pid(&mut deleting);
    let ctx = ctx(&app);
    let deleted = std::thread::scope(|s| {
        let delete = s.spawn(move || deletion::delete(&mut deleting, ctx, learner));
        // It waits for the booking's row.
        until_waiting(&mut watch, delete_pid);
        marking
            .batch_execute("COMMIT")
            .expect("the outcome commits");
        delete.join().unwrap()
    });
    assert!(deleted.is_ok(), "{deleted:?}");
    assert!(is_disabled(&mut watch, learner));
    let after = (version(&mut watch, learner), version(&mut watch, mentor));
    assert!(
        after.0 > before.0 && after.1 == before.1 + 1,
        "{before:?} {after:?}"
    );
}
