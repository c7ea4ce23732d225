//! The statistics on `/admin`: bookings per week (weeks of the admin's
//! zone, Monday start) and per topic over the last 12 weeks, the
//! cancellation, late-cancel and no-show rates, and mentor utilisation
//! over the next 4 weeks — against bookings inserted with SQL, the app
//! clock at 2026-06-15T09:00Z (Monday 11:00 in Berlin). Also: the SVG
//! charts and their tables, escaping, the same number of queries for one
//! mentor or ten, and the role check.

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use diesel::prelude::*;
use officehours::accounts::{Role, User};
use officehours::db::schema::{topics, users, weekly_rules};
use reqwest::StatusCode;
use uuid::Uuid;

use crate::harness::{SignedIn, TestApp, spawn_app};
use crate::web::add_topic;

fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

fn topic(app: &TestApp, slug: &str, title: &str, active: bool) -> Uuid {
    add_topic(app, slug, title, active);
    topics::table
        .filter(topics::slug.eq(slug))
        .select(topics::id)
        .first(&mut app.conn())
        .unwrap()
}

fn named(app: &TestApp, role: Role, name: &str) -> User {
    let user = app.create_user(role);
    diesel::update(users::table.find(user.id))
        .set(users::display_name.eq(name))
        .execute(&mut app.conn())
        .unwrap();
    user
}

/// A weekly rule of `mentor` (ISO weekday, local times).
fn rule(app: &TestApp, mentor: Uuid, weekday: i16, start: (u32, u32), end: (u32, u32)) {
    diesel::insert_into(weekly_rules::table)
        .values((
            weekly_rules::id.eq(Uuid::now_v7()),
            weekly_rules::mentor_id.eq(mentor),
            weekly_rules::weekday.eq(weekday),
            weekly_rules::start_time.eq(NaiveTime::from_hms_opt(start.0, start.1, 0).unwrap()),
            weekly_rules::end_time.eq(NaiveTime::from_hms_opt(end.0, end.1, 0).unwrap()),
        ))
        .execute(&mut app.conn())
        .unwrap();
}

struct B {
    mentor: Uuid,
    learner: Uuid,
    topic: Uuid,
    start: DateTime<Utc>,
    minutes: i64,
    status: &'static str,
    late: bool,
}

fn insert(app: &TestApp, b: &B) {
    diesel::sql_query(
        "INSERT INTO bookings (id, learner_id, mentor_id, topic_id, start_at, end_at,
                               buffer_before_min, buffer_after_min, occupied, status,
                               late_cancel, cancelled_by, cancelled_as, cancelled_at, created_at,
                               updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, 0, 0, tstzrange($5, $6, '[)'), $7, $8,
                 CASE WHEN $7 = 'cancelled' THEN $2 END,
                 CASE WHEN $7 = 'cancelled' THEN 'learner' END,
                 CASE WHEN $7 = 'cancelled' THEN $5 - interval '1 hour' END,
                 $5 - interval '3 days', $5 - interval '3 days')",
    )
    .bind::<diesel::sql_types::Uuid, _>(Uuid::now_v7())
    .bind::<diesel::sql_types::Uuid, _>(b.learner)
    .bind::<diesel::sql_types::Uuid, _>(b.mentor)
    .bind::<diesel::sql_types::Uuid, _>(b.topic)
    .bind::<diesel::sql_types::Timestamptz, _>(b.start)
    .bind::<diesel::sql_types::Timestamptz, _>(b.start + Duration::minutes(b.minutes))
    .bind::<diesel::sql_types::Text, _>(b.status)
    .bind::<diesel::sql_types::Bool, _>(b.late)
    .execute(&mut app.conn())
    .unwrap();
}

async fn admin_page(app: &TestApp, who: &SignedIn) -> String {
    let res = who.client.get(app.url("/admin")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.text().await.unwrap()
}

/// The table row whose heading cell is `heading`, as the template writes it.
fn row(heading: &str, cells: &[&str]) -> String {
    let tds: String = cells.iter().map(|c| format!("<td>{c}</td>")).collect();
    format!("<tr><th scope=\"row\">{heading}</th>{tds}</tr>")
}

/// A utilisation row: its heading is a person's name.
fn person_row(name: &str, cells: &[&str]) -> String {
    row(name, cells).replacen(
        "<th scope=\"row\">",
        "<th scope=\"row\" class=\"admin-person\">",
        1,
    )
}

#[tokio::test]
async fn weekly_topic_rate_and_utilisation_figures_are_exact() {
    let app = spawn_app().await;
    // The harness makes users in Europe/Berlin.
    let admin = named(&app, Role::Admin, "Ada Admin");
    let sql = topic(&app, "sql-basics", "SQL basics", true);
    let rust = topic(&app, "rust", "Rust & <friends>", true);
    topic(&app, "retired", "Retired, never booked", false);
    let maya = named(&app, Role::Mentor, "Maya Mentor");
    let noel = named(&app, Role::Mentor, "Noel No-schedule");
    let learner = app.create_user(Role::Learner).id;
    // A mentor since made a learner keeps their profile and schedule.
    let former = named(&app, Role::Learner, "Fern Former");
    officehours::schedule::queries::save_profile(
        &mut app.conn(),
        &officehours::schedule::Profile::new_default(former.id, app.clock.now()),
    )
    .unwrap();
    rule(&app, former.id, 2, (10, 0), (12, 30));
    // Maya offers Tuesdays 10:00–12:30 Berlin: in the 4 weeks from Monday
    // 15 June 11:00 that is 16, 23, 30 June and 7 July — 10 hours.
    rule(&app, maya.id, 2, (10, 0), (12, 30));

    let b = |start, minutes, topic, status, late| B {
        mentor: maya.id,
        learner,
        topic,
        start,
        minutes,
        status,
        late,
    };
    for booking in [
        // Sunday 29 March 23:30 Berlin: the week before the 12 shown.
        b(at(2026, 3, 29, 21, 30), 30, sql, "completed", false),
        // Monday 30 March 00:30 Berlin: the first week shown.
        b(at(2026, 3, 29, 22, 30), 30, sql, "completed", false),
        b(at(2026, 4, 10, 10, 0), 30, sql, "no_show", false),
        b(at(2026, 5, 5, 10, 0), 60, rust, "completed", false),
        b(at(2026, 5, 6, 10, 0), 60, rust, "cancelled", true),
        b(at(2026, 5, 7, 10, 0), 30, sql, "cancelled", false),
        // Both on Sunday 14 June in UTC, but 23:30 Sunday and 00:30
        // Monday in Berlin: two different weeks.
        b(at(2026, 6, 14, 21, 30), 30, sql, "completed", false),
        b(at(2026, 6, 14, 22, 30), 60, rust, "completed", false),
        // Ahead: 2.5 hours booked of Maya's 10, one cancelled.
        b(at(2026, 6, 16, 10, 0), 60, sql, "confirmed", false),
        b(at(2026, 6, 17, 10, 0), 90, sql, "confirmed", false),
        b(at(2026, 6, 18, 10, 0), 60, sql, "cancelled", false),
    ] {
        insert(&app, &booking);
    }
    // Noel: a booking ahead but no schedule at all.
    insert(
        &app,
        &B {
            mentor: noel.id,
            learner,
            topic: sql,
            start: at(2026, 6, 22, 22, 30),
            minutes: 60,
            status: "confirmed",
            late: false,
        },
    );

    let who = app.sign_in(&admin).await;
    let html = admin_page(&app, &who).await;

    // Weeks in Berlin, Monday start, cancelled not counted.
    assert!(html.contains("Europe/Berlin"));
    assert!(html.contains("Mon 30 Mar 2026 – Sun 21 Jun 2026"), "{html}");
    for (week, n) in [
        ("Mon 30 Mar 2026", "1"),
        ("Mon 6 Apr 2026", "1"),
        ("Mon 13 Apr 2026", "0"),
        ("Mon 4 May 2026", "1"),
        ("Mon 8 Jun 2026", "1"),
        ("Mon 15 Jun 2026", "3"),
    ] {
        assert!(html.contains(&row(week, &[n])), "{week}: {n}\n{html}");
    }
    assert!(!html.contains("Mon 23 Mar 2026"));
    assert!(html.contains(&row("Total", &["7"])));

    // Per topic over the same weeks; the title escaped; an inactive topic
    // without sessions left out.
    assert!(html.contains(&row("SQL basics", &["5"])));
    assert!(html.contains(&row("Rust &#38; &#60;friends&#62;", &["2"])));
    assert!(!html.contains("<friends>"));
    assert!(!html.contains("Retired, never booked"));

    // 10 bookings in the weeks: 3 cancelled (1 late), 4 completed, 1 no-show.
    assert!(html.contains(&row(
        "Cancellation rate",
        &["30%", "3 cancelled of 10 bookings"]
    )));
    assert!(html.contains(&row(
        "Late cancels, of all cancellations",
        &["33.3%", "1 late of 3 cancellations"]
    )));
    assert!(html.contains(&row(
        "Late cancels, of all bookings",
        &["10%", "1 late of 10 bookings"]
    )));
    assert!(html.contains(&row(
        "No-show rate",
        &[
            "20%",
            "1 no-shows of 5 sessions marked completed or no-show"
        ]
    )));

    // Utilisation: booked ÷ offered by the schedule (booked time still
    // counts as offered); nothing offered shows a dash.
    assert!(
        html.contains(&person_row("Maya Mentor", &["2.5 h", "10 h", "25%"])),
        "{html}"
    );
    assert!(html.contains(&person_row("Noel No-schedule", &["1 h", "0 h", "—"])));
    // The admin has no mentor profile, the former mentor is a learner:
    // neither is a mentor row.
    assert!(!html.contains(&person_row("Ada Admin", &["0 h", "0 h", "—"])));
    assert!(!html.contains("Fern Former"), "{html}");

    // Charts: four SVGs named by a title and a description, drawn with
    // attributes and classes only, each followed by a table; the cards
    // are still there.
    assert_eq!(html.matches("<svg").count(), 4);
    assert_eq!(html.matches("role=\"img\"").count(), 4);
    for id in ["weeks", "topics", "rates", "mentors"] {
        let labelled = format!("aria-labelledby=\"chart-{id}-title chart-{id}-desc\"");
        assert!(html.contains(&labelled), "{id}");
        assert!(html.contains(&format!("<title id=\"chart-{id}-title\">")));
        assert!(html.contains(&format!("<desc id=\"chart-{id}-desc\">")));
        let svg = html.find(&labelled).unwrap();
        let table = html.find(&format!("id=\"stats-{id}-table\"")).unwrap();
        assert!(svg < table, "{id}: the table follows the chart");
        // Its box scrolls sideways on a phone: a keyboard can focus it,
        // a region named by the table's caption.
        assert!(
            html.contains(&format!(
                "role=\"region\" aria-labelledby=\"stats-{id}-caption\" tabindex=\"0\""
            )),
            "{id}"
        );
        assert!(html.contains(&format!("<caption id=\"stats-{id}-caption\">")));
    }
    assert!(html.contains("<th scope=\"col\">Sessions booked</th>"));
    assert!(!html.contains("style="));
    assert_eq!(html.matches("class=\"chart-bar\"").count(), 12 + 2 + 2);
    assert!(html.contains("href=\"/admin/users\""));
    assert!(html.contains("href=\"/admin/bookings\""));
    let stats_at = html.find("Programme statistics").unwrap();
    assert!(stats_at < html.find("href=\"/admin/users\"").unwrap());
}

#[tokio::test]
async fn an_empty_programme_shows_zeros_and_dashes() {
    let app = spawn_app().await;
    let admin = app.create_user(Role::Admin);
    let who = app.sign_in(&admin).await;
    let html = admin_page(&app, &who).await;
    assert!(html.contains(&row("Total", &["0"])));
    assert!(html.contains(&row(
        "Cancellation rate",
        &["—", "0 cancelled of 0 bookings"]
    )));
    assert!(html.contains("No topics yet."));
    assert!(html.contains("No mentors yet."));
    assert_eq!(html.matches("role=\"img\"").count(), 2);
    assert!(!html.contains("NaN") && !html.contains("=\"inf"));
}

async fn queries_of(app: &TestApp, who: &SignedIn) -> u64 {
    let before = app.state.queries.get();
    admin_page(app, who).await;
    app.state.queries.get() - before
}

#[tokio::test]
async fn the_page_runs_the_same_queries_for_one_mentor_or_ten() {
    let app = spawn_app().await;
    let sql = topic(&app, "sql-basics", "SQL basics", true);
    let admin = app.create_user(Role::Admin);
    let who = app.sign_in(&admin).await;
    let first = named(&app, Role::Mentor, "Mentor 0");
    rule(&app, first.id, 2, (9, 0), (17, 0));
    // A first visit, so that nothing done once per session is counted.
    admin_page(&app, &who).await;
    let small = queries_of(&app, &who).await;

    for i in 1..10 {
        let m = named(&app, Role::Mentor, &format!("Mentor {i}"));
        for weekday in 1..=5 {
            rule(&app, m.id, weekday, (9, 0), (17, 0));
        }
        let learner = app.create_user(Role::Learner).id;
        for day in 0..20 {
            for (start, status) in [
                (at(2026, 6, 16, 10, 0), "confirmed"),
                (at(2026, 4, 1, 10, 0), "completed"),
            ] {
                insert(
                    &app,
                    &B {
                        mentor: m.id,
                        learner,
                        topic: sql,
                        start: start + Duration::days(day),
                        minutes: 30,
                        status,
                        late: false,
                    },
                );
            }
        }
    }
    let large = queries_of(&app, &who).await;
    assert_eq!(small, large, "no query per mentor or per booking");
    // The session's checks, then seven statements: weeks, topics, mentors
    // with their booked hours, and their rules, overrides (two) and time off.
    assert!(large <= 10, "{large}");
}

#[tokio::test]
async fn only_admins_see_the_statistics() {
    let app = spawn_app().await;
    for role in [Role::Learner, Role::Mentor] {
        let user = app.create_user(role);
        let who = app.sign_in(&user).await;
        let res = who.client.get(app.url("/admin")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{role:?}");
        assert!(!res.text().await.unwrap().contains("Programme statistics"));
    }
    let res = app.get("/admin").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
}

/// With the default cache, a reload within 30 s reuses the figures; a
/// later one counts again.
#[tokio::test]
async fn statistics_are_reused_for_the_cache_time_then_counted_again() {
    let app = crate::harness::spawn_app_with(crate::harness::AppOptions {
        extra_env: vec![("OFFICEHOURS_STATS_CACHE", "30s".into())],
        ..Default::default()
    })
    .await;
    let admin = app
        .sign_in(&app.create_user(officehours::accounts::Role::Admin))
        .await;
    let queries = |app: &crate::harness::TestApp| app.state.queries.get();
    let get = || admin.client.get(app.url("/admin")).send();
    assert_eq!(get().await.unwrap().status(), reqwest::StatusCode::OK);
    let before = queries(&app);
    assert_eq!(get().await.unwrap().status(), reqwest::StatusCode::OK);
    let cached = queries(&app) - before;
    app.clock.advance(chrono::Duration::seconds(31));
    let before = queries(&app);
    assert_eq!(get().await.unwrap().status(), reqwest::StatusCode::OK);
    let counted = queries(&app) - before;
    assert!(cached < counted, "cached {cached}, counted {counted}");
}
