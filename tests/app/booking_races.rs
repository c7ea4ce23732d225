//! Double bookings under races, through HTTP: many signed-in learners POST
//! `/bookings` (or reschedule) at the same moment against the real app
//! (one HTTP worker, a pool of four connections). Exactly one wins each
//! contested time; the losers get 409 (taken) or 403 (a fairness cap),
//! never an error page, and the database never holds overlapping occupied
//! ranges.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use futures_util::future::join_all;
use officehours::accounts::Role;
use officehours::bookings::model::Booking;
use officehours::db::schema::{booking_policy, bookings, email_outbox};
use reqwest::StatusCode;
use uuid::Uuid;

use crate::booking_fixture::*;
use crate::harness::{SignedIn, TestApp, location, spawn_app};

/// What one request answered: status, the booking id a 303 points at, and
/// the body of anything else (kept for the failure message).
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    booked: Option<Uuid>,
    body: String,
}

async fn answer(res: reqwest::Response) -> Answer {
    let status = res.status();
    let booked = (status == StatusCode::SEE_OTHER).then(|| {
        location(&res)
            .strip_prefix("/bookings/")
            .and_then(|s| s.split('?').next())
            .and_then(|s| s.parse().ok())
            .expect("a 303 to the booking")
    });
    let body = if status == StatusCode::SEE_OTHER {
        String::new()
    } else {
        res.text().await.unwrap_or_default()
    };
    Answer {
        status,
        booked,
        body,
    }
}

/// Statuses and how often each came back.
fn tally(answers: &[Answer]) -> BTreeMap<u16, usize> {
    let mut t = BTreeMap::new();
    for a in answers {
        *t.entry(a.status.as_u16()).or_insert(0) += 1;
    }
    t
}

/// Fails with the unexpected answers' bodies when any status other than
/// `allowed` came back (a 500 from a pool timeout, say).
fn only(answers: &[Answer], allowed: &[StatusCode]) {
    let odd: Vec<&Answer> = answers
        .iter()
        .filter(|a| !allowed.contains(&a.status))
        .collect();
    assert!(
        odd.is_empty(),
        "unexpected answers {:?}; first: {} {}",
        tally(answers),
        odd[0].status,
        odd[0].body.chars().take(2000).collect::<String>()
    );
}

async fn learners(app: &TestApp, n: usize) -> Vec<SignedIn> {
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        v.push(app.sign_in(&app.create_user(Role::Learner)).await);
    }
    v
}

/// Live bookings of `mentor` whose session overlaps `[from, to)`.
fn live_overlapping(
    app: &TestApp,
    mentor: Uuid,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<Booking> {
    live_bookings_of_mentor(app, mentor)
        .into_iter()
        .filter(|b| b.start_at < to && b.end_at > from)
        .collect()
}

fn count_rows(app: &TestApp) -> (i64, i64) {
    let mut conn = app.conn();
    let b = bookings::table.count().get_result(&mut conn).unwrap();
    let o = email_outbox::table.count().get_result(&mut conn).unwrap();
    (b, o)
}

#[tokio::test]
async fn fifty_learners_racing_for_one_slot_make_exactly_one_booking() {
    let app = spawn_app().await;
    let f = fixture(&app);
    let start = at(2026, 6, 16, 12, 0);
    let people = learners(&app, 50).await;

    let answers = join_all(people.iter().map(|l| async {
        answer(post_booking(&app, l, f.mentor.id, "sql-basics", start).await).await
    }))
    .await;

    only(&answers, &[StatusCode::SEE_OTHER, StatusCode::CONFLICT]);
    let t = tally(&answers);
    assert_eq!(t.get(&303), Some(&1), "{t:?}");
    assert_eq!(t.get(&409), Some(&49), "{t:?}");
    for a in answers.iter().filter(|a| a.status == StatusCode::CONFLICT) {
        assert!(a.body.contains("no longer free"), "{}", a.body);
    }
    let (winner_idx, winner) = answers
        .iter()
        .enumerate()
        .find_map(|(i, a)| a.booked.map(|id| (i, id)))
        .unwrap();

    let live = live_bookings_of_mentor(&app, f.mentor.id);
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].id, winner);
    assert_eq!(live[0].start_at, start);
    assert_eq!(live[0].learner_id, people[winner_idx].user.id);
    assert!(!any_overlap(&live));
    // The losers' transactions left nothing behind: one booking, and only
    // its two confirmations in the outbox (reminders are made when due).
    assert_eq!(count_rows(&app), (1, 2));
}

/// Half want the 60-minute topic at 12:00, half the 30-minute one at
/// 12:30: the two overlap, so one request wins the hour.
#[tokio::test]
async fn partly_overlapping_slots_of_two_topics_make_one_booking_in_the_hour() {
    let app = spawn_app().await;
    let f = fixture(&app);
    let (t1200, t1230) = (at(2026, 6, 16, 12, 0), at(2026, 6, 16, 12, 30));
    let people = learners(&app, 50).await;

    // Interleaved, so the two kinds of request really arrive together.
    let answers = join_all(people.iter().enumerate().map(|(i, l)| {
        let app = &app;
        let f = &f;
        async move {
            let res = if i % 2 == 0 {
                post_booking(app, l, f.mentor.id, "deep-dive", t1200).await
            } else {
                post_booking(app, l, f.mentor.id, "sql-basics", t1230).await
            };
            answer(res).await
        }
    }))
    .await;

    only(&answers, &[StatusCode::SEE_OTHER, StatusCode::CONFLICT]);
    let t = tally(&answers);
    assert_eq!(t.get(&303), Some(&1), "{t:?}");
    assert_eq!(t.get(&409), Some(&49), "{t:?}");

    let hour = live_overlapping(&app, f.mentor.id, t1200, t1200 + Duration::hours(1));
    assert_eq!(hour.len(), 1, "{hour:?}");
    let winner = answers.iter().find_map(|a| a.booked).unwrap();
    assert_eq!(hour[0].id, winner);
    let b = &hour[0];
    assert!(
        (b.start_at == t1200 && b.end_at == t1200 + Duration::minutes(60))
            || (b.start_at == t1230 && b.end_at == t1230 + Duration::minutes(30)),
        "{b:?}"
    );
    assert!(!any_overlap(&live_bookings_of_mentor(&app, f.mentor.id)));
}

/// With a third group at 12:00 for 30 minutes, the hour ends either with the
/// 60-minute session alone or with the two 30-minute ones side by side; in
/// no order of arrival with anything that overlaps.
#[tokio::test]
async fn three_groups_racing_for_one_hour_fill_it_without_overlap() {
    let app = spawn_app().await;
    let f = fixture(&app);
    let (t1200, t1230) = (at(2026, 6, 16, 12, 0), at(2026, 6, 16, 12, 30));
    let people = learners(&app, 75).await;

    let answers = join_all(people.iter().enumerate().map(|(i, l)| {
        let app = &app;
        let f = &f;
        async move {
            let res = match i % 3 {
                0 => post_booking(app, l, f.mentor.id, "deep-dive", t1200).await,
                1 => post_booking(app, l, f.mentor.id, "sql-basics", t1230).await,
                _ => post_booking(app, l, f.mentor.id, "sql-basics", t1200).await,
            };
            (i % 3, answer(res).await)
        }
    }))
    .await;
    let (groups, answers): (Vec<usize>, Vec<Answer>) = answers.into_iter().unzip();

    only(&answers, &[StatusCode::SEE_OTHER, StatusCode::CONFLICT]);
    let won: Vec<usize> = groups
        .iter()
        .zip(&answers)
        .filter(|(_, a)| a.status == StatusCode::SEE_OTHER)
        .map(|(g, _)| *g)
        .collect();
    let mut won_sorted = won.clone();
    won_sorted.sort();
    assert!(
        won_sorted == [0] || won_sorted == [1, 2],
        "winning groups {won:?} ({:?})",
        tally(&answers)
    );

    let live = live_bookings_of_mentor(&app, f.mentor.id);
    assert!(!any_overlap(&live), "{live:?}");
    let hour = live_overlapping(&app, f.mentor.id, t1200, t1200 + Duration::hours(1));
    assert_eq!(hour.len(), won.len(), "{hour:?}");
    if won_sorted == [0] {
        assert_eq!(hour[0].start_at, t1200);
        assert_eq!(hour[0].end_at, t1200 + Duration::minutes(60));
    } else {
        assert_eq!(
            hour.iter()
                .map(|b| (b.start_at, b.end_at))
                .collect::<Vec<_>>(),
            [
                (t1200, t1200 + Duration::minutes(30)),
                (t1230, t1230 + Duration::minutes(30))
            ]
        );
    }
}

/// With 30 minutes of buffer after each session, a 12:00 session occupies
/// 12:00–13:00 and a 12:30 one 12:30–13:30: the two overlap, so only one
/// of the two times can be won.
#[tokio::test]
async fn a_slot_inside_another_s_buffer_cannot_be_won_at_the_same_time() {
    let app = spawn_app().await;
    let f = fixture_with(&app, |p| p.buffer_after_min = 30);
    let (t1200, t1230) = (at(2026, 6, 16, 12, 0), at(2026, 6, 16, 12, 30));
    let people = learners(&app, 40).await;

    let answers = join_all(people.iter().enumerate().map(|(i, l)| {
        let app = &app;
        let f = &f;
        let start = if i % 2 == 0 { t1200 } else { t1230 };
        async move { answer(post_booking(app, l, f.mentor.id, "sql-basics", start).await).await }
    }))
    .await;

    only(&answers, &[StatusCode::SEE_OTHER, StatusCode::CONFLICT]);
    let t = tally(&answers);
    assert_eq!(t.get(&303), Some(&1), "{t:?}");
    assert_eq!(t.get(&409), Some(&39), "{t:?}");

    let live = live_bookings_of_mentor(&app, f.mentor.id);
    assert_eq!(live.len(), 1, "{live:?}");
    assert_eq!(
        live[0].buffer_after_min, 30,
        "the buffer is copied onto the row"
    );
    assert!(live[0].start_at == t1200 || live[0].start_at == t1230);
    assert!(!any_overlap(&live));
}

/// One learner fires 20 requests for 20 different free times at once: the
/// learner's row lock counts them one after another, so the cap of two
/// upcoming sessions holds.
#[tokio::test]
async fn one_learner_firing_twenty_bookings_gets_exactly_the_cap() {
    let app = spawn_app().await;
    let f = fixture(&app);
    diesel::update(booking_policy::table)
        .set((
            booking_policy::max_upcoming.eq(2),
            booking_policy::max_upcoming_per_topic.eq(100),
        ))
        .execute(&mut app.conn())
        .unwrap();
    let me = app.sign_in(&app.create_user(Role::Learner)).await;

    // Twenty starts that overlap neither each other nor anything else:
    // four a day, two hours apart, 07:00–13:00Z (09:00–15:00 in Berlin).
    let requests: Vec<(&str, DateTime<Utc>)> = (0..20_u32)
        .map(|i| {
            let topic = if i % 2 == 0 {
                "deep-dive"
            } else {
                "sql-basics"
            };
            (topic, at(2026, 6, 16 + i / 4, 7 + 2 * (i % 4), 0))
        })
        .collect();
    let answers = join_all(requests.iter().map(|(topic, start)| {
        let app = &app;
        let me = &me;
        let f = &f;
        async move { answer(post_booking(app, me, f.mentor.id, topic, *start).await).await }
    }))
    .await;

    only(&answers, &[StatusCode::SEE_OTHER, StatusCode::FORBIDDEN]);
    let t = tally(&answers);
    assert_eq!(t.get(&303), Some(&2), "{t:?}");
    assert_eq!(t.get(&403), Some(&18), "{t:?}");
    for a in answers.iter().filter(|a| a.status == StatusCode::FORBIDDEN) {
        assert!(a.body.contains("2 upcoming sessions"), "{}", a.body);
    }
    let mine: Vec<Booking> = bookings::table
        .filter(bookings::learner_id.eq(me.user.id))
        .select(Booking::as_select())
        .load(&mut app.conn())
        .unwrap();
    assert_eq!(mine.len(), 2);
    assert!(mine.iter().all(|b| b.status == "confirmed"));
    let mut won: Vec<Uuid> = answers.iter().filter_map(|a| a.booked).collect();
    let mut stored: Vec<Uuid> = mine.iter().map(|b| b.id).collect();
    won.sort();
    stored.sort();
    assert_eq!(won, stored);
}

/// A mentor with a cap of two sessions a day: sixteen learners POST
/// sixteen different free times of that day at once. The bookings of a
/// capped mentor are made one at a time, so exactly two get through and
/// the others hear that the time is no longer free; the next day is
/// untouched by the cap.
#[tokio::test]
async fn sixteen_learners_racing_a_mentor_s_day_cap_make_exactly_the_cap() {
    let app = spawn_app().await;
    let f = fixture_with(&app, |p| p.max_per_day = Some(2));
    let racers = learners(&app, 16).await;
    // 08:00-16:00 in Berlin (06:00-14:00Z), every 30 minutes: no two
    // overlap, so only the cap can refuse.
    let starts: Vec<DateTime<Utc>> = (0..16_u32)
        .map(|i| at(2026, 6, 16, 6 + i / 2, 30 * (i % 2)))
        .collect();
    let answers =
        join_all(
            racers.iter().zip(&starts).map(|(who, start)| {
                let app = &app;
                let f = &f;
                async move {
                    answer(post_booking(app, who, f.mentor.id, "sql-basics", *start).await).await
                }
            }),
        )
        .await;

    only(&answers, &[StatusCode::SEE_OTHER, StatusCode::CONFLICT]);
    let t = tally(&answers);
    assert_eq!(t.get(&303), Some(&2), "{t:?}");
    assert_eq!(t.get(&409), Some(&14), "{t:?}");
    let live = live_bookings_of_mentor(&app, f.mentor.id);
    assert_eq!(live.len(), 2, "the day cap holds in the database");
    assert!(!any_overlap(&live));
    // The cap is per day: the next day still takes bookings.
    let next = app.sign_in(&app.create_user(Role::Learner)).await;
    let res = post_booking(
        &app,
        &next,
        f.mentor.id,
        "sql-basics",
        at(2026, 6, 17, 8, 0),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
}

/// A holds 12:00 and moves to 14:00 while B books 14:00: at most one of
/// them gets 14:00, and a reschedule that lost leaves A's booking exactly
/// as it was.
#[tokio::test]
async fn a_reschedule_racing_a_booking_for_the_same_time_never_both_win() {
    const DELAYS_MS: [u64; 6] = [0, 0, 3, 8, 15, 25];
    let app = spawn_app().await;
    let f = fixture(&app);
    let rounds = 12;
    let (mut a_won, mut b_won) = (0, 0);
    for r in 0..rounds {
        let day = 16 + r;
        let (held, wanted) = (at(2026, 6, day, 12, 0), at(2026, 6, day, 14, 0));
        let a = app.sign_in(&app.create_user(Role::Learner)).await;
        let b = app.sign_in(&app.create_user(Role::Learner)).await;
        let id = book(&app, &a, f.mentor.id, "sql-basics", held).await;

        let reschedule = async {
            let path = format!("/bookings/{id}/reschedule");
            let fields = [("csrf_token", a.csrf.as_str()), ("start", &rfc(wanted))];
            answer(app.post_form(&a.client, &path, &fields).await).await
        };
        // Sent at once; in some rounds the booking leaves a few
        // milliseconds later, to sweep the window in which the two meet.
        let delay = std::time::Duration::from_millis(DELAYS_MS[r as usize % DELAYS_MS.len()]);
        let new_booking = async {
            tokio::time::sleep(delay).await;
            answer(post_booking(&app, &b, f.mentor.id, "sql-basics", wanted).await).await
        };
        // Alternate which request is polled first.
        let (ra, rb) = if r % 2 == 0 {
            tokio::join!(reschedule, new_booking)
        } else {
            let (rb, ra) = tokio::join!(new_booking, reschedule);
            (ra, rb)
        };

        only(
            std::slice::from_ref(&ra),
            &[StatusCode::SEE_OTHER, StatusCode::CONFLICT],
        );
        only(
            std::slice::from_ref(&rb),
            &[StatusCode::SEE_OTHER, StatusCode::CONFLICT],
        );
        let a_ok = ra.status == StatusCode::SEE_OTHER;
        let b_ok = rb.status == StatusCode::SEE_OTHER;
        assert!(!(a_ok && b_ok), "round {r}: both got {wanted}");
        assert!(a_ok || b_ok, "round {r}: the free time went to nobody");

        let mine = booking(&app, id);
        assert_eq!(mine.status, "confirmed", "round {r}");
        if a_ok {
            a_won += 1;
            assert_eq!(mine.start_at, wanted, "round {r}");
            assert_eq!(mine.sequence, 1, "round {r}");
            assert!(rb.body.contains("no longer free"), "round {r}: {}", rb.body);
        } else {
            b_won += 1;
            assert!(ra.body.contains("no longer free"), "round {r}: {}", ra.body);
            assert_eq!(
                mine.start_at, held,
                "round {r}: a lost reschedule moved nothing"
            );
            assert_eq!(mine.end_at, held + Duration::minutes(30), "round {r}");
            assert_eq!(mine.sequence, 0, "round {r}: sequence unchanged");
            let theirs = booking(&app, rb.booked.unwrap());
            assert_eq!(theirs.start_at, wanted);
            assert_eq!(theirs.learner_id, b.user.id);
            // A got no "moved" email.
            let moved: i64 = email_outbox::table
                .filter(email_outbox::booking_id.eq(id))
                .filter(email_outbox::kind.eq("booking_rescheduled"))
                .count()
                .get_result(&mut app.conn())
                .unwrap();
            assert_eq!(moved, 0, "round {r}");
        }
        let moved_mails: i64 = email_outbox::table
            .filter(email_outbox::booking_id.eq(id))
            .filter(email_outbox::kind.eq("booking_rescheduled"))
            .count()
            .get_result(&mut app.conn())
            .unwrap();
        assert_eq!(moved_mails, if a_ok { 2 } else { 0 }, "round {r}");
        let day_rows = live_overlapping(
            &app,
            f.mentor.id,
            at(2026, 6, day, 0, 0),
            at(2026, 6, day, 23, 0),
        );
        assert!(!any_overlap(&day_rows), "round {r}: {day_rows:?}");
        assert_eq!(day_rows.len(), if a_ok { 1 } else { 2 }, "round {r}");
    }
    assert_eq!(a_won + b_won, rounds);
    println!("reschedule won {a_won}, booking won {b_won} of {rounds} rounds");
    assert!(!any_overlap(&live_bookings_of_mentor(&app, f.mentor.id)));
}

/// A live booking written by another transaction in the same instant,
/// without the service's row locks: the service's checks cannot see it yet
/// (uncommitted), so the exclusion constraint decides at the INSERT. The
/// answer must still be "taken" (409), never an error page.
fn insert_uncommitted(
    conn: &mut diesel::PgConnection,
    learner: Uuid,
    mentor: Uuid,
    topic: Uuid,
    start: DateTime<Utc>,
    minutes: i64,
) {
    diesel::sql_query("BEGIN").execute(conn).unwrap();
    diesel::sql_query(
        "INSERT INTO bookings (id, learner_id, mentor_id, topic_id, start_at, end_at,
                               buffer_before_min, buffer_after_min, occupied, status, goals,
                               created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, 0, 0, tstzrange($5, $6, '[)'), 'confirmed',
                 'Written by another writer.', $5, $5)",
    )
    .bind::<diesel::sql_types::Uuid, _>(Uuid::now_v7())
    .bind::<diesel::sql_types::Uuid, _>(learner)
    .bind::<diesel::sql_types::Uuid, _>(mentor)
    .bind::<diesel::sql_types::Uuid, _>(topic)
    .bind::<diesel::sql_types::Timestamptz, _>(start)
    .bind::<diesel::sql_types::Timestamptz, _>(start + Duration::minutes(minutes))
    .execute(conn)
    .unwrap();
}

#[tokio::test]
async fn a_conflict_only_the_constraint_sees_is_answered_as_taken() {
    let app = spawn_app().await;
    let f = fixture(&app);
    let other_mentor = mentor(&app, |_| {});
    offer(&app, &other_mentor, f.topic);
    let me = app.sign_in(&app.create_user(Role::Learner)).await;
    let someone = app.create_user(Role::Learner);
    let mut writer = app.db.conn();

    // The mentor's time: another learner's session commits while our
    // INSERT waits on it.
    let start = at(2026, 6, 16, 12, 0);
    insert_uncommitted(&mut writer, someone.id, f.mentor.id, f.topic, start, 30);
    let (res, ()) = tokio::join!(
        async { answer(post_booking(&app, &me, f.mentor.id, "sql-basics", start).await).await },
        async {
            tokio::time::sleep(std::time::Duration::from_millis(700)).await;
            diesel::sql_query("COMMIT").execute(&mut writer).unwrap();
        }
    );
    assert_eq!(
        res.status,
        StatusCode::CONFLICT,
        "{}",
        res.body.chars().take(2000).collect::<String>()
    );
    assert!(res.body.contains("no longer free"), "{}", res.body);
    let live = live_bookings_of_mentor(&app, f.mentor.id);
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].learner_id, someone.id);

    // The learner's own time: a session of theirs with another mentor.
    let start = at(2026, 6, 17, 12, 0);
    insert_uncommitted(&mut writer, me.user.id, other_mentor.id, f.topic, start, 30);
    let (res, ()) = tokio::join!(
        async { answer(post_booking(&app, &me, f.mentor.id, "deep-dive", start).await).await },
        async {
            tokio::time::sleep(std::time::Duration::from_millis(700)).await;
            diesel::sql_query("COMMIT").execute(&mut writer).unwrap();
        }
    );
    assert_eq!(
        res.status,
        StatusCode::CONFLICT,
        "{}",
        res.body.chars().take(2000).collect::<String>()
    );
    assert!(
        res.body.contains("another session at that time"),
        "{}",
        res.body
    );
    assert_eq!(live_bookings_of_mentor(&app, f.mentor.id).len(), 1);
}
