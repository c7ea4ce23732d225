//! Shared set-up for the booking tests: a mentor in Berlin taking
//! bookings every day 08:00–20:00 local (no notice, 60 days ahead,
//! 30-minute steps), a 30-minute and a 60-minute topic they offer, and
//! learners. The app clock starts at 2026-06-15T09:00Z (11:00 in Berlin).

use chrono::{DateTime, NaiveTime, TimeZone, Utc};
use diesel::prelude::*;
use officehours::accounts::{Role, User};
use officehours::bookings::model::Booking;
use officehours::db::schema::{bookings, mentor_topics, topics, users, weekly_rules};
use officehours::schedule::Profile;
use officehours::schedule::queries::save_profile;
use uuid::Uuid;

use crate::harness::{SignedIn, TestApp, location};

pub fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

pub fn rfc(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

pub struct Fixture {
    pub mentor: User,
    /// 30 minutes, slug `sql-basics`.
    pub topic: Uuid,
}

pub fn add_topic(app: &TestApp, slug: &str, minutes: i32) -> Uuid {
    let now = app.clock.now();
    let id = Uuid::now_v7();
    diesel::insert_into(topics::table)
        .values((
            topics::id.eq(id),
            topics::slug.eq(slug),
            topics::title.eq(format!("Topic {slug}")),
            topics::description.eq("What it is about."),
            topics::duration_minutes.eq(minutes),
            topics::active.eq(true),
            topics::created_at.eq(now),
            topics::updated_at.eq(now),
        ))
        .execute(&mut app.conn())
        .unwrap();
    id
}

pub fn set_zone(app: &TestApp, user: &User, zone: &str) -> User {
    diesel::update(users::table.find(user.id))
        .set(users::time_zone.eq(zone))
        .execute(&mut app.conn())
        .unwrap();
    let mut u = user.clone();
    u.time_zone = zone.parse().unwrap();
    u
}

/// A mentor in Europe/Berlin who takes bookings every day 08:00–20:00.
pub fn mentor(app: &TestApp, edit: impl FnOnce(&mut Profile)) -> User {
    let user = app.create_user(Role::Mentor);
    let mut p = Profile {
        headline: "Backend mentor".into(),
        meeting_url: Some("https://meet.example.org/room-1".into()),
        accepting_bookings: true,
        min_notice_hours: 0,
        horizon_days: 60,
        step_min: 30,
        ..Profile::new_default(user.id, app.clock.now())
    };
    edit(&mut p);
    save_profile(&mut app.conn(), &p).unwrap();
    for weekday in 1..=7_i16 {
        diesel::insert_into(weekly_rules::table)
            .values((
                weekly_rules::id.eq(Uuid::now_v7()),
                weekly_rules::mentor_id.eq(user.id),
                weekly_rules::weekday.eq(weekday),
                weekly_rules::start_time.eq(NaiveTime::from_hms_opt(8, 0, 0).unwrap()),
                weekly_rules::end_time.eq(NaiveTime::from_hms_opt(20, 0, 0).unwrap()),
            ))
            .execute(&mut app.conn())
            .unwrap();
    }
    user
}

pub fn offer(app: &TestApp, mentor: &User, topic: Uuid) {
    diesel::insert_into(mentor_topics::table)
        .values((
            mentor_topics::mentor_id.eq(mentor.id),
            mentor_topics::topic_id.eq(topic),
        ))
        .execute(&mut app.conn())
        .unwrap();
}

pub fn fixture(app: &TestApp) -> Fixture {
    fixture_with(app, |_| {})
}

pub fn fixture_with(app: &TestApp, edit: impl FnOnce(&mut Profile)) -> Fixture {
    let mentor = mentor(app, edit);
    let topic = add_topic(app, "sql-basics", 30);
    // 60 minutes, slug `deep-dive`.
    let long_topic = add_topic(app, "deep-dive", 60);
    offer(app, &mentor, topic);
    offer(app, &mentor, long_topic);
    Fixture { mentor, topic }
}

/// The fields of the confirm form for `start`.
pub fn book_fields(
    mentor: Uuid,
    topic_slug: &str,
    start: DateTime<Utc>,
    key: Uuid,
    csrf: &str,
) -> Vec<(String, String)> {
    vec![
        ("csrf_token".into(), csrf.to_owned()),
        ("mentor".into(), mentor.to_string()),
        ("topic".into(), topic_slug.to_owned()),
        ("start".into(), rfc(start)),
        (
            "goals".into(),
            "I want to understand joins and indexes.".into(),
        ),
        ("key".into(), key.to_string()),
    ]
}

/// POSTs `/bookings` as `who`; returns the response.
pub async fn post_booking(
    app: &TestApp,
    who: &SignedIn,
    mentor: Uuid,
    topic_slug: &str,
    start: DateTime<Utc>,
) -> reqwest::Response {
    let fields = book_fields(mentor, topic_slug, start, Uuid::new_v4(), &who.csrf);
    send_booking_form(app, who, &fields).await
}

/// POSTs `fields` (a confirm form, e.g. [`book_fields`] changed) to
/// `/bookings` as `who`, from the app's own origin.
pub async fn send_booking_form(
    app: &TestApp,
    who: &SignedIn,
    fields: &[(String, String)],
) -> reqwest::Response {
    who.client
        .post(app.url("/bookings"))
        .header("origin", &app.address)
        .form(fields)
        .send()
        .await
        .unwrap()
}

/// Books and returns the new booking's id (panics unless 303 to it).
pub async fn book(
    app: &TestApp,
    who: &SignedIn,
    mentor: Uuid,
    topic_slug: &str,
    start: DateTime<Utc>,
) -> Uuid {
    let res = post_booking(app, who, mentor, topic_slug, start).await;
    assert_eq!(
        res.status(),
        reqwest::StatusCode::SEE_OTHER,
        "{}",
        res.text().await.unwrap()
    );
    let loc = location(&res);
    let id = loc
        .strip_prefix("/bookings/")
        .and_then(|s| s.split('?').next())
        .unwrap();
    id.parse().unwrap()
}

pub fn booking(app: &TestApp, id: Uuid) -> Booking {
    bookings::table
        .find(id)
        .select(Booking::as_select())
        .first(&mut app.conn())
        .unwrap()
}

pub fn live_bookings_of_mentor(app: &TestApp, mentor: Uuid) -> Vec<Booking> {
    bookings::table
        .filter(bookings::mentor_id.eq(mentor))
        .filter(bookings::status.ne("cancelled"))
        .order(bookings::start_at)
        .select(Booking::as_select())
        .load(&mut app.conn())
        .unwrap()
}

/// Whether any two of `rows` overlap in their occupied ranges (buffers
/// included).
pub fn any_overlap(rows: &[Booking]) -> bool {
    let occ = |b: &Booking| {
        (
            b.start_at - chrono::Duration::minutes(b.buffer_before_min.into()),
            b.end_at + chrono::Duration::minutes(b.buffer_after_min.into()),
        )
    };
    rows.iter().enumerate().any(|(i, a)| {
        rows[i + 1..].iter().any(|b| {
            let (a0, a1) = occ(a);
            let (b0, b1) = occ(b);
            a0 < b1 && b0 < a1
        })
    })
}

/// Makes the reminders due at the app clock's time, as a worker's round
/// does before it sends anything.
pub fn make_due_reminders(app: &TestApp) -> usize {
    let ctx = officehours::bookings::service::Ctx {
        now: app.clock.now(),
        settings: &app.state.settings,
        key: app.state.secret_key.expose(),
    };
    officehours::bookings::reminders::enqueue_due(&mut app.conn(), ctx).unwrap()
}

/// The goals the fixtures' bookings carry.
pub const GOALS: &str = "I want to understand joins and indexes.";

/// A booking written straight into the table (e.g. one long past, which
/// the app would not book).
pub fn insert_booking(
    app: &TestApp,
    mentor: Uuid,
    learner: Uuid,
    topic: Uuid,
    start: DateTime<Utc>,
    status: &str,
) -> Uuid {
    let id = Uuid::now_v7();
    let now = app.clock.now();
    diesel::sql_query(
        "INSERT INTO bookings (id, learner_id, mentor_id, topic_id, start_at, end_at, occupied,
                               status, goals, cancelled_at, cancelled_by, cancelled_as,
                               created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $5 + interval '30 minutes',
                 tstzrange($5, $5 + interval '30 minutes', '[)'), $6, $7,
                 CASE WHEN $6 = 'cancelled' THEN $8 END,
                 CASE WHEN $6 = 'cancelled' THEN $2 END,
                 CASE WHEN $6 = 'cancelled' THEN 'learner' END, $8, $8)",
    )
    .bind::<diesel::sql_types::Uuid, _>(id)
    .bind::<diesel::sql_types::Uuid, _>(learner)
    .bind::<diesel::sql_types::Uuid, _>(mentor)
    .bind::<diesel::sql_types::Uuid, _>(topic)
    .bind::<diesel::sql_types::Timestamptz, _>(start)
    .bind::<diesel::sql_types::Text, _>(status)
    .bind::<diesel::sql_types::Text, _>(GOALS)
    .bind::<diesel::sql_types::Timestamptz, _>(now)
    .execute(&mut app.conn())
    .unwrap();
    id
}
