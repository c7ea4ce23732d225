//! `seed-demo`: demo topics, accounts and mentor schedules so every page
//! has something to show. Idempotent: running it again adds nothing that is
//! already there (a mentor's schedule is seeded only with their profile, so
//! one edited in the app is left alone). Bookings are seeded once, when
//! none of the demo learners has any: upcoming ones through the real
//! booking service (emails, reminders and all), and twelve weeks of past
//! sessions in every status.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::accounts::service::{self as accounts, NewAccount};
use crate::accounts::{Role, User, password};
use crate::bookings::model::Status;
use crate::bookings::service::{self as booking_service, BookRequest, Ctx};
use crate::config::Settings;
use crate::db::schema::bookings;
use crate::db::schema::{date_overrides, override_windows, time_off, topics, weekly_rules};
use crate::schedule::model::{OverrideRow, OverrideWindowRow, Profile, TimeOffRow, WeeklyRuleRow};
use crate::schedule::queries as schedule;
use crate::slots::Interval;
use crate::slots::resolve_local;
use crate::topics::NewTopic;

/// Shared by every demo account, printed by the command. Demo data only.
pub const DEMO_PASSWORD: &str = "mentoring-demo-2026";

pub struct DemoTopic {
    pub slug: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub duration_minutes: i32,
}

pub const TOPICS: [DemoTopic; 3] = [
    DemoTopic {
        slug: "javascript-fundamentals",
        title: "JavaScript fundamentals",
        description: "Scopes, closures, promises and async/await, the event loop, modules — or whatever in your JavaScript does not behave the way you expect.",
        duration_minutes: 45,
    },
    DemoTopic {
        slug: "database-fundamentals",
        title: "Database fundamentals",
        description: "Modelling tables, writing and reading SQL, indexes and query plans, transactions and constraints. Bring a schema or a slow query.",
        duration_minutes: 60,
    },
    DemoTopic {
        slug: "backend-debugging",
        title: "Backend debugging",
        description: "A failing request, a flaky test, a memory leak or a log you cannot read: debug it together, step by step, and learn how to do it alone next time.",
        duration_minutes: 30,
    },
];

pub struct DemoUser {
    pub email: &'static str,
    pub name: &'static str,
    pub role: Role,
    pub time_zone: &'static str,
}

pub const USERS: [DemoUser; 9] = [
    DemoUser {
        email: "admin@officehours.test",
        name: "Alex Admin",
        role: Role::Admin,
        time_zone: "Europe/London",
    },
    DemoUser {
        email: "maya.schneider@officehours.test",
        name: "Maya Schneider",
        role: Role::Mentor,
        time_zone: "Europe/Berlin",
    },
    DemoUser {
        email: "daniel.okafor@officehours.test",
        name: "Daniel Okafor",
        role: Role::Mentor,
        time_zone: "America/New_York",
    },
    DemoUser {
        email: "liam.walker@officehours.test",
        name: "Liam Walker",
        role: Role::Mentor,
        time_zone: "Australia/Sydney",
    },
    DemoUser {
        email: "priya.raman@officehours.test",
        name: "Priya Raman",
        role: Role::Learner,
        time_zone: "Asia/Kolkata",
    },
    DemoUser {
        email: "tom.baker@officehours.test",
        name: "Tom Baker",
        role: Role::Learner,
        time_zone: "Europe/London",
    },
    DemoUser {
        email: "sofia.costa@officehours.test",
        name: "Sofia Costa",
        role: Role::Learner,
        time_zone: "America/Sao_Paulo",
    },
    DemoUser {
        email: "kenji.sato@officehours.test",
        name: "Kenji Sato",
        role: Role::Learner,
        time_zone: "Asia/Tokyo",
    },
    DemoUser {
        email: "amara.nwosu@officehours.test",
        name: "Amara Nwosu",
        role: Role::Learner,
        time_zone: "Africa/Lagos",
    },
];

/// A demo mentor's profile and weekly schedule, in their account zone.
pub struct DemoSchedule {
    pub email: &'static str,
    pub headline: &'static str,
    pub bio: &'static str,
    pub meeting_url: &'static str,
    pub topics: &'static [&'static str],
    pub buffer_before_min: i32,
    pub buffer_after_min: i32,
    pub min_notice_hours: i32,
    pub horizon_days: i32,
    pub step_min: i32,
    pub max_per_day: Option<i32>,
    pub max_per_week: Option<i32>,
    /// ISO weekday (1 = Monday), local start and end ("HH:MM"); an end at
    /// or before the start ends on the next day.
    pub weekly: &'static [(i16, &'static str, &'static str)],
    /// One date override: days after the seeding date (local), and its
    /// windows (none: unavailable all day).
    pub override_in_days: i64,
    pub override_windows: &'static [(&'static str, &'static str)],
    /// One time off: from local midnight this many days after seeding, for
    /// this many days.
    pub time_off_in_days: i64,
    pub time_off_days: i64,
    pub time_off_note: &'static str,
}

pub const SCHEDULES: [DemoSchedule; 3] = [
    DemoSchedule {
        email: "maya.schneider@officehours.test",
        headline: "Backend engineer in Berlin; PostgreSQL and Rust, 12 years in production",
        bio: "I run the data platform of a logistics company and have reviewed more slow queries than I can count. Bring a schema, an EXPLAIN plan or a failing request and we work through it together.\n\nEvenings after work and Saturday mornings, Berlin time.",
        meeting_url: "https://meet.example.org/maya",
        topics: &["database-fundamentals", "backend-debugging"],
        buffer_before_min: 5,
        buffer_after_min: 10,
        min_notice_hours: 12,
        horizon_days: 42,
        step_min: 15,
        max_per_day: Some(2),
        max_per_week: Some(6),
        weekly: &[
            (1, "18:00", "21:00"),
            (3, "18:00", "21:00"),
            (4, "19:00", "21:30"),
            (6, "09:30", "12:30"),
        ],
        override_in_days: 9,
        override_windows: &[("14:00", "17:00")],
        time_off_in_days: 20,
        time_off_days: 7,
        time_off_note: "Summer holiday",
    },
    DemoSchedule {
        email: "daniel.okafor@officehours.test",
        headline: "Full-stack developer in New York; JavaScript, Node and the bugs in between",
        bio: "Frontend lead by day, night owl by choice. I like untangling async code and teaching people how to read a stack trace.\n\nMy Friday window runs past midnight on purpose: it suits learners in Asia and Australia.",
        meeting_url: "https://meet.example.org/daniel",
        topics: &["javascript-fundamentals", "backend-debugging"],
        buffer_before_min: 0,
        buffer_after_min: 15,
        min_notice_hours: 24,
        horizon_days: 28,
        step_min: 30,
        max_per_day: None,
        max_per_week: Some(5),
        weekly: &[
            (2, "19:00", "22:00"),
            (4, "19:00", "22:00"),
            (5, "22:00", "01:00"),
            (7, "10:00", "12:00"),
        ],
        override_in_days: 6,
        override_windows: &[],
        time_off_in_days: 15,
        time_off_days: 3,
        time_off_note: "Conference",
    },
    DemoSchedule {
        email: "liam.walker@officehours.test",
        headline: "Software engineer in Sydney; JavaScript and databases, early mornings",
        bio: "I build booking systems (yes, really) and mentor at a local coding school. Before-work sessions most weekdays, and a long Saturday morning.",
        meeting_url: "https://meet.example.org/liam",
        topics: &["javascript-fundamentals", "database-fundamentals"],
        buffer_before_min: 10,
        buffer_after_min: 10,
        min_notice_hours: 8,
        horizon_days: 60,
        step_min: 15,
        max_per_day: Some(3),
        max_per_week: None,
        weekly: &[
            (1, "07:00", "08:30"),
            (2, "07:00", "08:30"),
            (3, "07:00", "08:30"),
            (3, "19:30", "21:30"),
            (4, "07:00", "08:30"),
            (6, "08:00", "11:30"),
        ],
        override_in_days: 12,
        override_windows: &[("13:00", "16:00"), ("18:00", "19:30")],
        time_off_in_days: 4,
        time_off_days: 2,
        time_off_note: "Moving house",
    },
];

#[derive(Debug, Default)]
pub struct SeedReport {
    pub topics_created: usize,
    pub users_created: usize,
    pub schedules_created: usize,
    pub bookings_created: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
    #[error(transparent)]
    Account(#[from] accounts::AccountError),
    #[error(transparent)]
    Hash(#[from] password::HashError),
    #[error("demo data: {0}")]
    Data(String),
    #[error(transparent)]
    Booking(#[from] crate::bookings::service::BookError),
}

/// Seeds everything in one transaction.
pub fn run(
    conn: &mut PgConnection,
    settings: &Settings,
    key: &[u8],
    now: DateTime<Utc>,
) -> Result<SeedReport, SeedError> {
    conn.transaction(|conn| {
        let mut report = SeedReport::default();
        for t in &TOPICS {
            report.topics_created += diesel::insert_into(topics::table)
                .values(NewTopic {
                    id: Uuid::now_v7(),
                    slug: t.slug,
                    title: t.title,
                    description: t.description,
                    duration_minutes: t.duration_minutes,
                    active: true,
                    created_at: now,
                    updated_at: now,
                })
                // A topic with this slug, or this title under another
                // slug (titles are unique too), is left as it is.
                .on_conflict_do_nothing()
                .execute(conn)?;
        }
        for u in &USERS {
            if accounts::find_by_email(conn, u.email)?.is_some() {
                continue;
            }
            let zone: chrono_tz::Tz = u
                .time_zone
                .parse()
                .map_err(|_| SeedError::Data(format!("bad zone {}", u.time_zone)))?;
            let hash = password::hash(DEMO_PASSWORD)?;
            accounts::create_by_operator(
                conn,
                now,
                &NewAccount {
                    email: u.email,
                    display_name: u.name,
                    role: u.role,
                    time_zone: zone,
                    password_hash: &hash,
                    verified: true,
                },
                "seed-demo",
            )?;
            report.users_created += 1;
        }
        for demo in &SCHEDULES {
            if seed_schedule(conn, demo, now)? {
                report.schedules_created += 1;
            }
        }
        let (upcoming, past) = seed_bookings(conn, Ctx { now, settings, key })?;
        report.bookings_created = upcoming + past;
        Ok(report)
    })
}

fn time(hhmm: &str) -> Result<NaiveTime, SeedError> {
    NaiveTime::parse_from_str(hhmm, "%H:%M")
        .map_err(|_| SeedError::Data(format!("bad time {hhmm}")))
}

/// Seeds one mentor's profile, topics and schedule unless they already
/// have a profile. Returns whether it did.
fn seed_schedule(
    conn: &mut PgConnection,
    demo: &DemoSchedule,
    now: DateTime<Utc>,
) -> Result<bool, SeedError> {
    let mentor = accounts::find_by_email(conn, demo.email)?
        .ok_or_else(|| SeedError::Data(format!("no account {}", demo.email)))?;
    if schedule::profile(conn, mentor.id)?.is_some() {
        return Ok(false);
    }
    let zone = mentor.time_zone;
    schedule::save_profile(
        conn,
        &Profile {
            headline: demo.headline.to_owned(),
            bio: demo.bio.to_owned(),
            meeting_url: Some(demo.meeting_url.to_owned()),
            accepting_bookings: true,
            buffer_before_min: demo.buffer_before_min,
            buffer_after_min: demo.buffer_after_min,
            min_notice_hours: demo.min_notice_hours,
            horizon_days: demo.horizon_days,
            step_min: demo.step_min,
            max_per_day: demo.max_per_day,
            max_per_week: demo.max_per_week,
            ..Profile::new_default(mentor.id, now)
        },
    )?;
    let topic_ids: Vec<Uuid> = topics::table
        .filter(topics::slug.eq_any(demo.topics))
        .select(topics::id)
        .load(conn)?;
    schedule::set_offered_topics(conn, mentor.id, &topic_ids)?;

    let mut rules = Vec::with_capacity(demo.weekly.len());
    for &(weekday, start, end) in demo.weekly {
        rules.push(WeeklyRuleRow {
            id: Uuid::now_v7(),
            mentor_id: mentor.id,
            weekday,
            start_time: time(start)?,
            end_time: time(end)?,
        });
    }
    diesel::insert_into(weekly_rules::table)
        .values(&rules)
        .execute(conn)?;

    // Dates relative to the day of seeding, in the mentor's zone, so the
    // demo always shows them in the coming weeks.
    let today: NaiveDate = now.with_timezone(&zone).date_naive();
    let override_id = Uuid::now_v7();
    diesel::insert_into(date_overrides::table)
        .values(OverrideRow {
            id: override_id,
            mentor_id: mentor.id,
            on_date: today + Duration::days(demo.override_in_days),
        })
        .execute(conn)?;
    let mut windows = Vec::with_capacity(demo.override_windows.len());
    for &(start, end) in demo.override_windows {
        windows.push(OverrideWindowRow {
            id: Uuid::now_v7(),
            override_id,
            start_time: time(start)?,
            end_time: time(end)?,
        });
    }
    if !windows.is_empty() {
        diesel::insert_into(override_windows::table)
            .values(&windows)
            .execute(conn)?;
    }

    let off_from = today + Duration::days(demo.time_off_in_days);
    let off_to = off_from + Duration::days(demo.time_off_days);
    diesel::insert_into(time_off::table)
        .values(TimeOffRow {
            id: Uuid::now_v7(),
            mentor_id: mentor.id,
            starts_at: resolve_local(zone, off_from, NaiveTime::MIN),
            ends_at: resolve_local(zone, off_to, NaiveTime::MIN),
            note: demo.time_off_note.to_owned(),
        })
        .execute(conn)?;
    Ok(true)
}

/// Goals a demo learner might write.
const DEMO_GOALS: [&str; 5] = [
    "My API times out under load and I cannot tell whether it is the database or my code. I would like to learn how to find out.",
    "I understand callbacks but async/await still confuses me, especially error handling. I want to rewrite one of my functions with you.",
    "I am designing the tables for a small shop and I am unsure about the relations between orders, items and customers.",
    "A test passes locally and fails in CI about once in ten runs. I want a method to track this kind of bug down.",
    "I would like to understand what an index actually does and when adding one makes things slower.",
];

/// Demo learners, in `USERS` order.
fn demo_learners(conn: &mut PgConnection) -> Result<Vec<User>, SeedError> {
    let mut out = Vec::new();
    for u in USERS.iter().filter(|u| u.role == Role::Learner) {
        out.push(
            accounts::find_by_email(conn, u.email)?
                .ok_or_else(|| SeedError::Data(format!("no account {}", u.email)))?,
        );
    }
    Ok(out)
}

/// Seeds bookings once (when no demo learner has any): upcoming ones
/// through the booking service, and twelve weeks of past sessions.
/// Returns (upcoming, past) counts.
fn seed_bookings(conn: &mut PgConnection, ctx: Ctx<'_>) -> Result<(usize, usize), SeedError> {
    let now = ctx.now;
    let learners = demo_learners(conn)?;
    let ids: Vec<Uuid> = learners.iter().map(|u| u.id).collect();
    let existing: i64 = bookings::table
        .filter(bookings::learner_id.eq_any(&ids))
        .count()
        .get_result(conn)?;
    if existing > 0 {
        return Ok((0, 0));
    }
    let mut mentors = Vec::new();
    for demo in &SCHEDULES {
        let m = accounts::find_by_email(conn, demo.email)?
            .ok_or_else(|| SeedError::Data(format!("no account {}", demo.email)))?;
        let topic_ids: Vec<Uuid> = topics::table
            .filter(topics::slug.eq_any(demo.topics))
            .order(topics::slug)
            .select(topics::id)
            .load(conn)?;
        mentors.push((m, topic_ids));
    }
    let past = seed_past(conn, &learners, &mentors, now)?;
    let upcoming = seed_upcoming(conn, ctx, &learners, &mentors)?;
    Ok((upcoming, past))
}

/// Each learner books one session with one mentor (two learners a second
/// one with another), a few days apart, on free slots the engine offers.
fn seed_upcoming(
    conn: &mut PgConnection,
    ctx: Ctx<'_>,
    learners: &[User],
    mentors: &[(User, Vec<Uuid>)],
) -> Result<usize, SeedError> {
    let now = ctx.now;
    let mut made = 0;
    let plan: [(usize, usize, usize); 7] = [
        (0, 0, 0),
        (1, 1, 0),
        (2, 2, 1),
        (3, 0, 1),
        (4, 1, 1),
        (0, 2, 0),
        (1, 0, 0),
    ];
    for (n, &(li, mi, ti)) in plan.iter().enumerate() {
        let (mentor, topic_ids) = &mentors[mi];
        let Some(&topic_id) = topic_ids.get(ti) else {
            continue;
        };
        let Some(topic) = booking_service::topic(conn, topic_id)? else {
            continue;
        };
        let window = Interval::new(now + Duration::days(2), now + Duration::days(21));
        let duration = Duration::minutes(topic.duration_minutes.into());
        let starts = booking_service::free_starts(conn, mentor, duration, window, now, None)?;
        // Spread over the weeks: every learner a different free start.
        let Some(&start) = starts.get((n * 7) % starts.len().max(1)) else {
            continue;
        };
        let learner = &learners[li];
        let req = BookRequest {
            mentor_id: mentor.id,
            topic_slug: topic.slug.clone(),
            start,
            goals: DEMO_GOALS[li].to_owned(),
            idempotency_key: Uuid::new_v4(),
        };
        match booking_service::book(conn, ctx, learner.id, &req) {
            Ok(_) => made += 1,
            // A cap or a clash in the demo plan: skip that one.
            Err(
                booking_service::BookError::Limit(_)
                | booking_service::BookError::SlotUnavailable
                | booking_service::BookError::LearnerBusy,
            ) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(made)
}

/// Twelve weeks of history: per week and mentor one session at the start
/// of one of their weekly windows, mostly completed, some cancelled (one
/// late), a few no-shows (never two for one learner within 60 days).
fn seed_past(
    conn: &mut PgConnection,
    learners: &[User],
    mentors: &[(User, Vec<Uuid>)],
    now: DateTime<Utc>,
) -> Result<usize, SeedError> {
    let mut made = 0;
    for week in 1..=12_i64 {
        for (mi, (mentor, topic_ids)) in mentors.iter().enumerate() {
            let demo = &SCHEDULES[mi];
            let Some(&(weekday, start, _)) = demo.weekly.get((week as usize) % demo.weekly.len())
            else {
                continue;
            };
            let Some(&topic_id) = topic_ids.get((week as usize + mi) % topic_ids.len().max(1))
            else {
                continue;
            };
            let minutes: i32 = topics::table
                .find(topic_id)
                .select(topics::duration_minutes)
                .first(conn)?;
            let zone = mentor.time_zone;
            let today = now.with_timezone(&zone).date_naive();
            let monday = today
                - Duration::days(i64::from(today.weekday().num_days_from_monday()))
                - Duration::weeks(week);
            let date = monday + Duration::days(i64::from(weekday) - 1);
            let start_at = resolve_local(zone, date, time(start)?);
            let end_at = start_at + Duration::minutes(minutes.into());
            let learner = &learners[(week as usize * 2 + mi) % learners.len()];
            let status = match (week, mi) {
                // Three learners with one no-show each: nobody is paused.
                (3, 2) | (9, 1) | (11, 0) => Status::NoShow,
                _ if (week + mi as i64) % 5 == 4 => Status::Cancelled,
                _ => Status::Completed,
            };
            let cancelled = status == Status::Cancelled;
            let booked_at = start_at - Duration::days(5);
            let row = diesel::sql_query(
                "INSERT INTO bookings (id, learner_id, mentor_id, topic_id, start_at, end_at,
                     buffer_before_min, buffer_after_min, occupied, status, goals,
                     cancelled_by, cancelled_as, cancel_reason, cancelled_at, late_cancel,
                     sequence, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, 0, 0, tstzrange($5, $6, '[)'), $7, $8,
                     $9, CASE WHEN $9 IS NOT NULL THEN 'learner' END, $10, $11, $12, $13,
                     $14, $14)",
            )
            .bind::<diesel::sql_types::Uuid, _>(Uuid::now_v7())
            .bind::<diesel::sql_types::Uuid, _>(learner.id)
            .bind::<diesel::sql_types::Uuid, _>(mentor.id)
            .bind::<diesel::sql_types::Uuid, _>(topic_id)
            .bind::<diesel::sql_types::Timestamptz, _>(start_at)
            .bind::<diesel::sql_types::Timestamptz, _>(end_at)
            .bind::<diesel::sql_types::Text, _>(status.as_str())
            .bind::<diesel::sql_types::Text, _>(DEMO_GOALS[(week as usize + mi) % DEMO_GOALS.len()])
            .bind::<diesel::sql_types::Nullable<diesel::sql_types::Uuid>, _>(
                cancelled.then_some(learner.id),
            )
            .bind::<diesel::sql_types::Nullable<diesel::sql_types::Text>, _>(
                cancelled.then_some("Something came up at work, sorry."),
            )
            .bind::<diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>, _>(
                cancelled.then_some(start_at - Duration::hours(if week % 2 == 0 { 3 } else { 40 })),
            )
            .bind::<diesel::sql_types::Bool, _>(cancelled && week % 2 == 0)
            .bind::<diesel::sql_types::Integer, _>(i32::from(cancelled))
            .bind::<diesel::sql_types::Timestamptz, _>(booked_at);
            // A clash with another demo row (same learner at the same
            // time) is skipped inside its own savepoint.
            if conn.transaction(|conn| row.execute(conn)).is_ok() {
                made += 1;
            }
        }
    }
    Ok(made)
}
