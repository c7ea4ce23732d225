//! Everything that changes bookings, at once: threads book, cancel (as
//! learner, mentor and admin), reschedule, reassign, mark outcomes of
//! yesterday's sessions, edit schedules, change time zones, disable and
//! re-enable accounts, delete one and make reminders, all on a handful of people and times, so
//! every pair of these paths meets on the same rows. Each may refuse (the
//! time is taken, a cap, the booking moved on), but none may fail with a
//! database error ("deadlock detected" above all: every lock on people,
//! bookings and slot versions must be taken in one order), and the database
//! never holds overlapping live sessions. The interleavings differ from
//! run to run; a failure is a real ordering bug, and its message names the
//! operation and the seed of the operations.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::Mutex;

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use diesel::prelude::*;
use officehours::accounts::Role;
use officehours::accounts::deletion;
use officehours::admin::users as admin_users;
use officehours::bookings::mentor::{self, Outcome};
use officehours::bookings::reminders;
use officehours::bookings::service::{self, Actor, BookRequest, Ctx, Party};
use officehours::schedule::editor;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

use crate::booking_fixture::{add_topic, mentor, offer};
use crate::harness::{TestApp, spawn_app};

const THREADS: u64 = 6;
const OPS_PER_THREAD: usize = 60;

struct People {
    admin: Uuid,
    mentors: Vec<Uuid>,
    learners: Vec<Uuid>,
    /// Deleted by thread 0 half-way through.
    leaving: Uuid,
}

/// The times everybody asks for: 10:00–12:30 in Berlin on the next two
/// days (the clock is at 2026-06-15T09:00Z).
fn starts() -> Vec<DateTime<Utc>> {
    let mut out = Vec::new();
    for day in [16, 17] {
        for half_hours in 0..6 {
            out.push(
                Utc.with_ymd_and_hms(2026, 6, day, 8, 0, 0).unwrap()
                    + Duration::minutes(30 * half_hours),
            );
        }
    }
    out
}

/// A live booking, any of them: one yet to start (`upcoming`) or one
/// that has started.
fn some_booking(
    conn: &mut PgConnection,
    rng: &mut StdRng,
    now: DateTime<Utc>,
    upcoming: bool,
) -> Option<(Uuid, Uuid, Uuid)> {
    use officehours::db::schema::bookings;
    let live = bookings::table
        .filter(bookings::status.eq("confirmed"))
        .select((bookings::id, bookings::learner_id, bookings::mentor_id));
    let live: Vec<(Uuid, Uuid, Uuid)> = if upcoming {
        live.filter(bookings::start_at.gt(now)).load(conn)
    } else {
        live.filter(bookings::start_at.le(now)).load(conn)
    }
    .unwrap();
    (!live.is_empty()).then(|| live[rng.gen_range(0..live.len())])
}

/// Yesterday's sessions, one an hour, with goals (which deleting an
/// account erases), for the mentors to mark.
fn past_sessions(app: &TestApp, people: &People, topic: Uuid) {
    let learners = people.learners.iter().cycle();
    for (hour, (mentor, learner)) in people
        .mentors
        .iter()
        .cycle()
        .zip(learners)
        .take(8)
        .enumerate()
    {
        let start = Utc.with_ymd_and_hms(2026, 6, 14, 6, 0, 0).unwrap()
            + Duration::hours(i64::try_from(hour).unwrap());
        diesel::sql_query(
            "INSERT INTO bookings (id, learner_id, mentor_id, topic_id, start_at, end_at,
                                   buffer_before_min, buffer_after_min, occupied, status, goals,
                                   created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $5 + interval '30 minutes', 0, 0,
                     tstzrange($5, $5 + interval '30 minutes', '[)'), 'confirmed',
                     'Joins and indexes.', $5 - interval '2 days', $5 - interval '2 days')",
        )
        .bind::<diesel::sql_types::Uuid, _>(Uuid::now_v7())
        .bind::<diesel::sql_types::Uuid, _>(*learner)
        .bind::<diesel::sql_types::Uuid, _>(*mentor)
        .bind::<diesel::sql_types::Uuid, _>(topic)
        .bind::<diesel::sql_types::Timestamptz, _>(start)
        .execute(&mut app.conn())
        .unwrap();
    }
}

fn signed_in((user_id, party): (Uuid, Party)) -> Actor {
    Actor {
        user_id,
        party,
        via_manage_link: false,
    }
}

/// Fails on a database error; business refusals are expected. Counts
/// what was done and what refused, by operation.
fn check<T, E: Debug>(tally: &Tally, what: &'static str, seed: u64, result: Result<T, E>) {
    let done = match result {
        Ok(_) => true,
        Err(e) => {
            let text = format!("{e:?}");
            assert!(
                !text.contains("DatabaseError") && !text.contains("Db("),
                "{what} (seed {seed}): {text}"
            );
            false
        }
    };
    let mut t = tally.lock().unwrap();
    let entry = t.entry(what).or_default();
    if done {
        entry.0 += 1;
    } else {
        entry.1 += 1;
    }
}

/// Per operation: done, refused.
type Tally = Mutex<BTreeMap<&'static str, (u32, u32)>>;

fn run(
    conn: &mut PgConnection,
    ctx: Ctx<'_>,
    people: &People,
    tally: &Tally,
    thread: u64,
    seed: u64,
) {
    let mut rng = StdRng::seed_from_u64(seed);
    let starts = starts();
    let everybody: Vec<Uuid> = people
        .mentors
        .iter()
        .chain(&people.learners)
        .copied()
        .collect();
    for op in 0..OPS_PER_THREAD {
        if thread == 0 && op == OPS_PER_THREAD / 2 {
            check(
                tally,
                "delete",
                seed,
                deletion::delete(conn, ctx, people.leaving),
            );
            continue;
        }
        match rng.gen_range(0..100) {
            0..40 => {
                let learner = everybody[rng.gen_range(0..everybody.len())];
                let mentor = people.mentors[rng.gen_range(0..people.mentors.len())];
                let req = BookRequest {
                    mentor_id: mentor,
                    topic_slug: if rng.gen_bool(0.7) {
                        "sql-basics"
                    } else {
                        "deep-dive"
                    }
                    .into(),
                    start: starts[rng.gen_range(0..starts.len())],
                    goals: "I want to understand joins and indexes.".into(),
                    idempotency_key: Uuid::new_v4(),
                };
                check(tally, "book", seed, service::book(conn, ctx, learner, &req));
            }
            40..55 => {
                if let Some((id, learner, mentor)) = some_booking(conn, &mut rng, ctx.now, true) {
                    let (actor, reason) = match rng.gen_range(0..3) {
                        0 => ((learner, Party::Learner), None),
                        1 => ((mentor, Party::Mentor), Some("Something came up.")),
                        _ => ((people.admin, Party::Admin), Some("Moved by the team.")),
                    };
                    check(
                        tally,
                        "cancel",
                        seed,
                        service::cancel(conn, ctx, id, signed_in(actor), reason),
                    );
                }
            }
            55..70 => {
                if let Some((id, learner, _)) = some_booking(conn, &mut rng, ctx.now, true) {
                    let to = starts[rng.gen_range(0..starts.len())];
                    let actor = signed_in((learner, Party::Learner));
                    check(
                        tally,
                        "reschedule",
                        seed,
                        service::reschedule(conn, ctx, id, actor, to),
                    );
                }
            }
            70..78 => {
                if let Some((id, _, _)) = some_booking(conn, &mut rng, ctx.now, true) {
                    let to = people.mentors[rng.gen_range(0..people.mentors.len())];
                    check(
                        tally,
                        "reassign",
                        seed,
                        service::reassign(conn, ctx, id, people.admin, to),
                    );
                }
            }
            78..81 => {
                let who = everybody[rng.gen_range(0..everybody.len())];
                let zone = if rng.gen_bool(0.5) {
                    chrono_tz::Asia::Tokyo
                } else {
                    chrono_tz::Europe::Berlin
                };
                check(
                    tally,
                    "change zone",
                    seed,
                    editor::set_zone(conn, who, zone, ctx.now),
                );
            }
            81..86 => {
                let mentor = people.mentors[rng.gen_range(0..people.mentors.len())];
                let (from, to) = (
                    NaiveTime::from_hms_opt(6, 0, 0).unwrap(),
                    NaiveTime::from_hms_opt(7, 0, 0).unwrap(),
                );
                match editor::add_weekly_window(conn, mentor, 2, from, to, ctx.now) {
                    Ok(row) => check(
                        tally,
                        "add and delete a window",
                        seed,
                        editor::delete_weekly_window(conn, mentor, row.id, ctx.now),
                    ),
                    other => check(tally, "add window", seed, other),
                }
            }
            86..89 => {
                if let Some((id, _, mentor)) = some_booking(conn, &mut rng, ctx.now, false) {
                    let outcome = if rng.gen_bool(0.7) {
                        Outcome::Completed
                    } else {
                        Outcome::NoShow
                    };
                    check(
                        tally,
                        "mark outcome",
                        seed,
                        mentor::mark_outcome(conn, ctx.now, mentor, id, outcome),
                    );
                }
            }
            89..94 => {
                // Not the account being deleted: an erased account stays
                // disabled.
                let staying = &people.learners[..people.learners.len() - 1];
                let who = staying[rng.gen_range(0..staying.len())];
                check(
                    tally,
                    "disable",
                    seed,
                    admin_users::disable(conn, ctx, people.admin, who),
                );
                check(
                    tally,
                    "enable",
                    seed,
                    admin_users::enable(conn, ctx.now, people.admin, who),
                );
            }
            _ => check(tally, "reminders", seed, reminders::enqueue_due(conn, ctx)),
        }
    }
}

/// Pairs of live bookings whose `a_range` and `b_range` overlap while
/// `a_person` of one is `b_person` of the other.
fn overlapping(
    app: &TestApp,
    (a_person, a_range): (&str, &str),
    (b_person, b_range): (&str, &str),
) -> i64 {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    diesel::sql_query(format!(
        "SELECT count(*) AS n FROM bookings a JOIN bookings b
             ON a.{a_person} = b.{b_person} AND a.id <> b.id AND {a_range} && {b_range}
          WHERE a.status <> 'cancelled' AND b.status <> 'cancelled'"
    ))
    .get_result::<N>(&mut app.conn())
    .unwrap()
    .n
}

#[tokio::test]
async fn every_change_at_once_neither_deadlocks_nor_double_books() {
    let app = spawn_app().await;
    let short = add_topic(&app, "sql-basics", 30);
    let long = add_topic(&app, "deep-dive", 60);
    let mentors: Vec<Uuid> = (0..3)
        .map(|i| {
            let m = mentor(&app, |p| p.buffer_after_min = if i == 0 { 15 } else { 0 });
            offer(&app, &m, short);
            offer(&app, &m, long);
            m.id
        })
        .collect();
    let learners: Vec<Uuid> = (0..4).map(|_| app.create_user(Role::Learner).id).collect();
    let people = People {
        admin: app.create_user(Role::Admin).id,
        // The last one: never disabled meanwhile.
        leaving: learners[3],
        mentors,
        learners,
    };
    past_sessions(&app, &people, short);
    let ctx = Ctx {
        now: app.clock.now(),
        settings: &app.state.settings,
        key: app.state.secret_key.expose(),
    };
    let base: u64 = rand::thread_rng().r#gen();
    let tally = Tally::default();
    std::thread::scope(|s| {
        for thread in 0..THREADS {
            let mut conn = app.conn();
            let (people, tally) = (&people, &tally);
            s.spawn(move || {
                run(
                    &mut conn,
                    ctx,
                    people,
                    tally,
                    thread,
                    base.wrapping_add(thread),
                )
            });
        }
    });

    use officehours::db::schema::{booking_policy, bookings};
    let now = app.clock.now();
    let upcoming = || bookings::table.filter(bookings::start_at.gt(now));
    let live: i64 = upcoming()
        .filter(bookings::status.eq("confirmed"))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    let all: i64 = upcoming().count().get_result(&mut app.conn()).unwrap();
    assert!(all > 0, "some bookings were made (seed {base})");
    assert_eq!(
        tally.lock().unwrap().get("delete"),
        Some(&(1, 0)),
        "the account was deleted (seed {base})"
    );
    println!(
        "bookings made: {all}, live at the end: {live} (seed {base}); done/refused: {:?}",
        tally.lock().unwrap()
    );
    // The caps held throughout: nothing moves a session to another learner
    // or topic, so the counts at the end are bounded like every booking.
    let (max_upcoming, max_per_topic): (i32, i32) = booking_policy::table
        .select((
            booking_policy::max_upcoming,
            booking_policy::max_upcoming_per_topic,
        ))
        .first(&mut app.conn())
        .unwrap();
    let per_learner: Vec<(Uuid, i64)> = upcoming()
        .filter(bookings::status.eq("confirmed"))
        .group_by(bookings::learner_id)
        .select((bookings::learner_id, diesel::dsl::count_star()))
        .load(&mut app.conn())
        .unwrap();
    assert!(
        per_learner
            .iter()
            .all(|(_, n)| *n <= i64::from(max_upcoming)),
        "{per_learner:?} over {max_upcoming} (seed {base})"
    );
    let per_topic: Vec<(Uuid, Uuid, i64)> = upcoming()
        .filter(bookings::status.eq("confirmed"))
        .group_by((bookings::learner_id, bookings::topic_id))
        .select((
            bookings::learner_id,
            bookings::topic_id,
            diesel::dsl::count_star(),
        ))
        .load(&mut app.conn())
        .unwrap();
    assert!(
        per_topic
            .iter()
            .all(|(_, _, n)| *n <= i64::from(max_per_topic)),
        "{per_topic:?} over {max_per_topic} (seed {base})"
    );
    let session = |t: &str| format!("tstzrange({t}.start_at, {t}.end_at)");
    for (what, a, b) in [
        (
            "a mentor's occupied times",
            ("mentor_id", "a.occupied".to_owned()),
            ("mentor_id", "b.occupied".to_owned()),
        ),
        (
            "a learner's sessions",
            ("learner_id", session("a")),
            ("learner_id", session("b")),
        ),
        (
            "a mentor's session as learner and their occupied times",
            ("learner_id", session("a")),
            ("mentor_id", "b.occupied".to_owned()),
        ),
    ] {
        assert_eq!(
            overlapping(&app, (a.0, &a.1), (b.0, &b.1)),
            0,
            "{what} overlap (seed {base})"
        );
    }
}
