//! The mentor pages: `/mentor`, `/mentor/settings` (profile, topics and
//! booking settings) and `/mentor/availability` (zone, weekly windows, date
//! overrides, time off, and the preview of free slots), all through HTTP.

use chrono::{TimeZone, Utc};
use diesel::prelude::*;
use officehours::accounts::Role;
use officehours::db::schema::{
    audit_log, date_overrides, mentor_profiles, mentor_topics, override_windows, time_off, topics,
    users, weekly_rules,
};
use officehours::schedule::Profile;
use reqwest::StatusCode;
use uuid::Uuid;

use crate::harness::{SignedIn, TestApp, new_client, spawn_app};

const AV: &str = "/mentor/availability";

fn location(res: &reqwest::Response) -> String {
    res.headers()
        .get("location")
        .expect("a Location header")
        .to_str()
        .unwrap()
        .to_owned()
}

async fn mentor(app: &TestApp) -> SignedIn {
    app.sign_in(&app.create_user(Role::Mentor)).await
}

async fn page(app: &TestApp, who: &SignedIn, path: &str) -> String {
    let res = who.client.get(app.url(path)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "GET {path}");
    res.text().await.unwrap()
}

/// POSTs `fields` (the CSRF token added) as `who`.
async fn post(
    app: &TestApp,
    who: &SignedIn,
    path: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let mut all = vec![("csrf_token", who.csrf.as_str())];
    all.extend_from_slice(fields);
    app.post_form(&who.client, path, &all).await
}

/// POSTs and expects the redirect back with `notice`.
async fn post_ok(app: &TestApp, who: &SignedIn, path: &str, fields: &[(&str, &str)], notice: &str) {
    let res = post(app, who, path, fields).await;
    let status = res.status();
    let body_or_location = if status == StatusCode::SEE_OTHER {
        location(&res)
    } else {
        res.text().await.unwrap()
    };
    assert_eq!(status, StatusCode::SEE_OTHER, "{path}: {body_or_location}");
    assert!(
        body_or_location.ends_with(&format!("notice={notice}")),
        "{body_or_location}"
    );
}

/// POSTs and expects 422 with an error next to `field`; returns the page.
async fn post_refused(
    app: &TestApp,
    who: &SignedIn,
    path: &str,
    fields: &[(&str, &str)],
    field: &str,
) -> String {
    let res = post(app, who, path, fields).await;
    assert_eq!(
        res.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "{path} {fields:?}"
    );
    let body = res.text().await.unwrap();
    assert!(
        body.contains(&format!("id=\"{field}-error\"")),
        "no error next to {field} for {fields:?}"
    );
    // A group of checkboxes has its error in the fieldset instead.
    assert!(
        field == "topics"
            || (body.contains(&format!("id=\"{field}\""))
                && body.contains("aria-invalid=\"true\"")),
        "{field} is not marked invalid"
    );
    body
}

/// The text of the error next to `field`.
/// The weekly-window form: ISO weekday, start, end.
fn weekly_form<'a>(day: &'a str, start: &'a str, end: &'a str) -> [(&'static str, &'a str); 3] {
    [
        ("weekly_weekday", day),
        ("weekly_start", start),
        ("weekly_end", end),
    ]
}

/// The date-override window form: date, start, end.
fn override_form<'a>(date: &'a str, start: &'a str, end: &'a str) -> [(&'static str, &'a str); 3] {
    [
        ("override_date", date),
        ("override_start", start),
        ("override_end", end),
    ]
}

fn error_of(body: &str, field: &str) -> String {
    let marker = format!("id=\"{field}-error\">");
    let start = body.find(&marker).expect("an error") + marker.len();
    let end = body[start..].find('<').unwrap() + start;
    body[start..end].to_owned()
}

/// The preview's slots of local `date` (YYYY-MM-DD), as shown.
fn day_slots(body: &str, date: &str) -> Vec<String> {
    let heading = format!("<h3 id=\"day-{date}\">");
    let start = body
        .find(&heading)
        .unwrap_or_else(|| panic!("no preview day {date}"));
    let rest = &body[start..];
    let end = rest
        .find("class=\"schedule-preview-day\"")
        .or_else(|| rest.find("</section>"))
        .unwrap();
    let day = &rest[..end];
    day.split("<li>")
        .skip(1)
        .map(|s| s[..s.find("</li>").unwrap()].to_owned())
        .collect()
}

/// The override of local date `y-m-d`, if the mentor has one.
fn override_on(app: &TestApp, y: i32, m: u32, d: u32) -> Option<Uuid> {
    date_overrides::table
        .filter(date_overrides::on_date.eq(chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap()))
        .select(date_overrides::id)
        .first(&mut app.conn())
        .optional()
        .unwrap()
}

fn audits(app: &TestApp, action: &str) -> i64 {
    audit_log::table
        .filter(audit_log::action.eq(action))
        .count()
        .get_result(&mut app.conn())
        .unwrap()
}

fn topic_id(app: &TestApp, slug: &str) -> Uuid {
    topics::table
        .filter(topics::slug.eq(slug))
        .select(topics::id)
        .first(&mut app.conn())
        .unwrap()
}

// ---------------------------------------------------------------- roles

#[tokio::test]
async fn mentor_pages_are_for_mentors_and_admins_only() {
    let app = spawn_app().await;
    let id = Uuid::new_v4().to_string();
    let gets = ["/mentor", "/mentor/settings", AV];
    let posts = [
        "/mentor/settings".to_owned(),
        format!("{AV}/zone"),
        format!("{AV}/weekly"),
        format!("{AV}/weekly/{id}/delete"),
        format!("{AV}/overrides/window"),
        format!("{AV}/overrides/blocked"),
        format!("{AV}/overrides/{id}/delete"),
        format!("{AV}/override-windows/{id}/delete"),
        format!("{AV}/time-off"),
        format!("{AV}/time-off/{id}/delete"),
    ];
    // Anonymous: to sign in, and back afterwards.
    let anon = new_client();
    let csrf = app.csrf_for(&anon, "/login").await;
    for path in gets {
        let res = anon.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{path}");
        assert!(location(&res).starts_with("/login?next="), "{path}");
    }
    for path in &posts {
        let res = app
            .post_form(
                &anon,
                path,
                &[
                    ("csrf_token", &csrf),
                    ("time_zone", "UTC"),
                    ("weekly_weekday", "1"),
                ],
            )
            .await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{path}");
    }
    // A learner: refused.
    let learner = app.sign_in(&app.create_user(Role::Learner)).await;
    for path in gets {
        let res = learner.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path}");
    }
    for path in &posts {
        let res = post(
            &app,
            &learner,
            path,
            &[
                ("time_zone", "UTC"),
                ("weekly_weekday", "1"),
                ("weekly_start", "09:00"),
                ("weekly_end", "10:00"),
            ],
        )
        .await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path}");
    }
    let zone: String = users::table
        .find(learner.user.id)
        .select(users::time_zone)
        .first(&mut app.conn())
        .unwrap();
    assert_eq!(zone, "Europe/Berlin");
    assert_eq!(
        weekly_rules::table
            .count()
            .get_result::<i64>(&mut app.conn())
            .unwrap(),
        0
    );
    // Mentors and admins get the pages.
    for role in [Role::Mentor, Role::Admin] {
        let who = app.sign_in(&app.create_user(role)).await;
        for path in gets {
            let body = page(&app, &who, path).await;
            assert!(body.contains("<main"), "{path}");
        }
    }
}

#[tokio::test]
async fn the_mentor_home_links_to_availability_and_settings() {
    let app = spawn_app().await;
    let m = mentor(&app).await;
    let body = page(&app, &m, "/mentor").await;
    assert!(body.contains("<title>Mentor · Office Hours</title>"));
    assert!(body.contains("href=\"/mentor/availability\""));
    assert!(body.contains("href=\"/mentor/settings\""));
    assert!(body.contains("Not accepting bookings"));
    // The nav links here for mentors.
    assert!(body.contains("<a href=\"/mentor\">Mentor</a>"));
}

// ---------------------------------------------------------------- settings

fn valid_settings() -> Vec<(&'static str, &'static str)> {
    vec![
        ("headline", "Backend engineer, 10 years of Postgres"),
        ("bio", "I help with SQL.\r\nAnd with debugging."),
        ("meeting_url", "https://meet.example.org/ada"),
        ("accepting_bookings", "on"),
        ("buffer_before_min", "5"),
        ("buffer_after_min", "10"),
        ("min_notice_hours", "24"),
        ("horizon_days", "60"),
        ("step_min", "30"),
        ("max_per_day", ""),
        ("max_per_week", ""),
    ]
}

fn with(
    mut fields: Vec<(&'static str, &'static str)>,
    field: &'static str,
    value: &'static str,
) -> Vec<(&'static str, &'static str)> {
    fields.retain(|(k, _)| *k != field);
    fields.push((field, value));
    fields
}

/// The `<input …>` tag of `field`.
fn input_tag<'a>(body: &'a str, field: &str) -> &'a str {
    let start = body
        .find(&format!("<input id=\"{field}\""))
        .unwrap_or_else(|| panic!("no input {field}"));
    let end = body[start..].find('>').unwrap() + start;
    &body[start..=end]
}

#[tokio::test]
async fn buffer_fields_accept_in_the_browser_what_the_server_accepts() {
    let app = spawn_app().await;
    let m = mentor(&app).await;
    let fields = with(
        with(valid_settings(), "buffer_before_min", "7"),
        "buffer_after_min",
        "13",
    );
    post_ok(&app, &m, "/mentor/settings", &fields, "saved").await;
    let body = page(&app, &m, "/mentor/settings").await;
    for (field, value) in [("buffer_before_min", "7"), ("buffer_after_min", "13")] {
        let tag = input_tag(&body, field);
        assert!(tag.contains(&format!("value=\"{value}\"")), "{tag}");
        // Any whole number 0–120 is valid, so the browser must not mark
        // 7 as off a 5-minute step.
        assert!(
            !tag.contains("step=") || tag.contains("step=\"1\""),
            "{tag}"
        );
        assert!(tag.contains("min=\"0\" max=\"120\""), "{tag}");
    }
    // The start-time step really is a multiple of 5 on the server too.
    assert!(input_tag(&body, "step_min").contains("step=\"5\""));
}

#[tokio::test]
async fn settings_are_validated_field_by_field_with_input_kept() {
    let app = spawn_app().await;
    let m = mentor(&app).await;
    let long_headline: &'static str = "h".repeat(121).leak();
    let long_bio: &'static str = "b".repeat(4001).leak();
    let long_url: &'static str = format!("https://meet.example.org/{}", "x".repeat(480)).leak();
    for (field, value) in [
        ("headline", long_headline),
        ("headline", "two\u{7}bells"),
        ("headline", "Mentor \u{202e}olleh"),
        ("bio", "A bio that \u{2066}hides\u{2069} its order"),
        ("bio", long_bio),
        ("meeting_url", "http://meet.example.org/ada"),
        ("meeting_url", "ftp://meet.example.org/ada"),
        ("meeting_url", "meet.example.org/ada"),
        ("meeting_url", "https://meet.example.org/a room"),
        ("meeting_url", "javascript:alert(1)"),
        ("meeting_url", long_url),
        ("buffer_before_min", "121"),
        ("buffer_before_min", "-5"),
        ("buffer_after_min", "ten"),
        ("buffer_after_min", ""),
        ("min_notice_hours", "337"),
        ("horizon_days", "0"),
        ("horizon_days", "181"),
        ("step_min", "4"),
        ("step_min", "7"),
        ("step_min", "65"),
        ("max_per_day", "0"),
        ("max_per_week", "-1"),
        ("max_per_week", "2.5"),
    ] {
        let body = post_refused(
            &app,
            &m,
            "/mentor/settings",
            &with(valid_settings(), field, value),
            field,
        )
        .await;
        // The rest of the input is kept.
        assert!(body.contains("value=\"https://meet.example.org/ada\"") || field == "meeting_url");
        assert!(body.contains("Nothing was saved"), "{field}={value}");
    }
    let body = post_refused(
        &app,
        &m,
        "/mentor/settings",
        &with(valid_settings(), "step_min", "7"),
        "step_min",
    )
    .await;
    assert!(body.contains("value=\"7\""), "the bad value is kept");
    assert!(error_of(&body, "step_min").contains("multiple of 5"));
    let body = post_refused(
        &app,
        &m,
        "/mentor/settings",
        &with(
            valid_settings(),
            "meeting_url",
            "http://meet.example.org/ada",
        ),
        "meeting_url",
    )
    .await;
    assert!(error_of(&body, "meeting_url").contains("https://"));
    let body = post_refused(
        &app,
        &m,
        "/mentor/settings",
        &with(valid_settings(), "buffer_before_min", "121"),
        "buffer_before_min",
    )
    .await;
    assert_eq!(
        error_of(&body, "buffer_before_min"),
        "Enter a whole number from 0 to 120."
    );
    // Nothing was saved.
    let saved: i64 = mentor_profiles::table
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(saved, 0);
    assert_eq!(audits(&app, "mentor.settings_changed"), 0);

    // The edges of each range are accepted; blank caps mean none.
    for (field, value) in [
        ("buffer_before_min", "120"),
        ("buffer_after_min", "0"),
        ("min_notice_hours", "336"),
        ("min_notice_hours", "0"),
        ("horizon_days", "1"),
        ("horizon_days", "180"),
        ("step_min", "5"),
        ("step_min", "60"),
        ("max_per_day", "1"),
        ("max_per_week", ""),
        ("meeting_url", ""),
    ] {
        post_ok(
            &app,
            &m,
            "/mentor/settings",
            &with(valid_settings(), field, value),
            "saved",
        )
        .await;
    }
}

#[tokio::test]
async fn settings_and_topics_are_saved_in_one_go() {
    let app = spawn_app().await;
    crate::web::add_topic(&app, "sql", "SQL query tuning", true);
    crate::web::add_topic(&app, "rust", "Rust ownership", true);
    crate::web::add_topic(&app, "perl", "Perl CGI", false);
    let (sql, rust, perl) = (
        topic_id(&app, "sql"),
        topic_id(&app, "rust"),
        topic_id(&app, "perl"),
    );
    let m = mentor(&app).await;
    let body = page(&app, &m, "/mentor/settings").await;
    assert!(body.contains("<title>Profile and settings · Mentor · Office Hours</title>"));
    assert!(body.contains("SQL query tuning") && body.contains("Rust ownership"));
    assert!(
        !body.contains("Perl CGI"),
        "inactive topics are not offered"
    );
    for field in [
        "headline",
        "bio",
        "meeting_url",
        "buffer_before_min",
        "max_per_week",
    ] {
        assert!(
            body.contains(&format!("<label for=\"{field}\">")),
            "{field}"
        );
    }

    let (sql_s, rust_s) = (sql.to_string(), rust.to_string());
    let mut fields = valid_settings();
    fields = with(fields, "max_per_day", "3");
    fields = with(fields, "max_per_week", " 8 ");
    let mut all: Vec<(&str, &str)> = fields.clone();
    all.push(("topics", &sql_s));
    all.push(("topics", &rust_s));
    post_ok(&app, &m, "/mentor/settings", &all, "saved").await;

    let p = mentor_profiles::table
        .find(m.user.id)
        .select(Profile::as_select())
        .first(&mut app.conn())
        .unwrap();
    assert_eq!(p.headline, "Backend engineer, 10 years of Postgres");
    assert_eq!(p.bio, "I help with SQL.\nAnd with debugging.");
    assert_eq!(
        p.meeting_url.as_deref(),
        Some("https://meet.example.org/ada")
    );
    assert!(p.accepting_bookings);
    assert_eq!(
        (
            p.buffer_before_min,
            p.buffer_after_min,
            p.min_notice_hours,
            p.horizon_days,
            p.step_min,
            p.max_per_day,
            p.max_per_week
        ),
        (5, 10, 24, 60, 30, Some(3), Some(8))
    );
    let mut offered: Vec<Uuid> = mentor_topics::table
        .filter(mentor_topics::mentor_id.eq(m.user.id))
        .select(mentor_topics::topic_id)
        .load(&mut app.conn())
        .unwrap();
    offered.sort();
    let mut want = vec![sql, rust];
    want.sort();
    assert_eq!(offered, want);
    assert_eq!(audits(&app, "mentor.settings_changed"), 1);

    // The page shows what was saved.
    let body = page(&app, &m, "/mentor/settings?notice=saved").await;
    assert!(body.contains("Your profile and booking settings are saved."));
    assert!(body.contains(&format!("value=\"{sql}\" checked")));
    assert!(
        body.contains("id=\"accepting_bookings\" name=\"accepting_bookings\" value=\"on\" checked")
    );
    assert!(body.contains("id=\"max_per_week\" name=\"max_per_week\" type=\"number\" value=\"8\""));

    // An inactive (or unknown) topic is refused, and nothing changes.
    let perl_s = perl.to_string();
    let mut bad = fields.clone();
    bad.push(("topics", &perl_s));
    post_refused(&app, &m, "/mentor/settings", &bad, "topics").await;
    let mut bad = fields.clone();
    bad.push(("topics", "not-a-uuid"));
    post_refused(&app, &m, "/mentor/settings", &bad, "topics").await;
    assert_eq!(audits(&app, "mentor.settings_changed"), 1);

    // Unticking everything: no topics, not accepting, caps back to none.
    let mut none = valid_settings();
    none.retain(|(k, _)| *k != "accepting_bookings");
    post_ok(&app, &m, "/mentor/settings", &none, "saved").await;
    let (accepting, cap): (bool, Option<i32>) = mentor_profiles::table
        .find(m.user.id)
        .select((
            mentor_profiles::accepting_bookings,
            mentor_profiles::max_per_day,
        ))
        .first(&mut app.conn())
        .unwrap();
    assert!(!accepting);
    assert_eq!(cap, None);
    let offered: i64 = mentor_topics::table
        .filter(mentor_topics::mentor_id.eq(m.user.id))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(offered, 0);
}

// ---------------------------------------------------------------- weekly windows

#[tokio::test]
async fn weekly_windows_are_added_listed_checked_and_deleted() {
    let app = spawn_app().await;
    let m = mentor(&app).await;
    let body = page(&app, &m, AV).await;
    assert!(body.contains("<title>Availability · Mentor · Office Hours</title>"));
    assert!(body.contains("step=\"300\""));
    assert!(body.contains("ends the next day"), "the hint says so");

    let weekly = format!("{AV}/weekly");
    post_ok(
        &app,
        &m,
        &weekly,
        &weekly_form("1", "09:00", "12:00"),
        "window-added",
    )
    .await;
    post_ok(
        &app,
        &m,
        &weekly,
        &weekly_form("1", "22:00", "02:00"),
        "window-added",
    )
    .await;
    // Touching is not overlapping.
    post_ok(
        &app,
        &m,
        &weekly,
        &weekly_form("1", "12:00", "13:30"),
        "window-added",
    )
    .await;
    post_ok(
        &app,
        &m,
        &weekly,
        &weekly_form("3", "14:05", "15:55:00"),
        "window-added",
    )
    .await;
    let body = page(&app, &m, &format!("{AV}?notice=window-added")).await;
    assert!(body.contains("The weekly window is added."));
    assert!(body.contains("22:00 – 02:00 (next day)"));
    assert!(body.contains("09:00 – 12:00"));
    assert!(body.contains("14:05 – 15:55"));

    // Overlaps on the same day, and through Monday night's spill-over.
    let body = post_refused(
        &app,
        &m,
        &weekly,
        &weekly_form("1", "11:00", "12:30"),
        "weekly_start",
    )
    .await;
    assert!(error_of(&body, "weekly_start").contains("overlaps Monday 09:00 – 12:00"));
    assert!(
        body.contains("value=\"11:00\"") && body.contains("value=\"12:30\""),
        "input kept"
    );
    assert!(body.contains("<option value=\"1\" selected>Monday</option>"));
    let body = post_refused(
        &app,
        &m,
        &weekly,
        &weekly_form("2", "01:00", "03:00"),
        "weekly_start",
    )
    .await;
    assert!(
        error_of(&body, "weekly_start").contains("Monday 22:00 – 02:00 (next day)"),
        "{}",
        error_of(&body, "weekly_start")
    );
    // A Sunday night window running into Monday's morning one.
    post_ok(
        &app,
        &m,
        &weekly,
        &weekly_form("1", "06:00", "08:00"),
        "window-added",
    )
    .await;
    post_refused(
        &app,
        &m,
        &weekly,
        &weekly_form("7", "23:00", "06:30"),
        "weekly_start",
    )
    .await;
    post_ok(
        &app,
        &m,
        &weekly,
        &weekly_form("2", "02:00", "03:00"),
        "window-added",
    )
    .await;

    // Off the 5-minute grid, malformed, no such day.
    let body = post_refused(
        &app,
        &m,
        &weekly,
        &weekly_form("4", "09:02", "10:00"),
        "weekly_start",
    )
    .await;
    assert!(error_of(&body, "weekly_start").contains("5 minutes"));
    post_refused(
        &app,
        &m,
        &weekly,
        &weekly_form("4", "09:00", "10:00:30"),
        "weekly_end",
    )
    .await;
    post_refused(
        &app,
        &m,
        &weekly,
        &weekly_form("4", "nine", "10:00"),
        "weekly_start",
    )
    .await;
    post_refused(
        &app,
        &m,
        &weekly,
        &weekly_form("4", "09:00", ""),
        "weekly_end",
    )
    .await;
    post_refused(
        &app,
        &m,
        &weekly,
        &weekly_form("8", "09:00", "10:00"),
        "weekly_weekday",
    )
    .await;

    let rules: Vec<(Uuid, i16, chrono::NaiveTime)> = weekly_rules::table
        .filter(weekly_rules::mentor_id.eq(m.user.id))
        .select((
            weekly_rules::id,
            weekly_rules::weekday,
            weekly_rules::start_time,
        ))
        .order((weekly_rules::weekday, weekly_rules::start_time))
        .load(&mut app.conn())
        .unwrap();
    assert_eq!(rules.len(), 6);
    assert_eq!(audits(&app, "schedule.weekly_window_added"), 6);

    // Delete Monday night: Tuesday 01:00 fits now.
    let night = rules
        .iter()
        .find(|(_, d, s)| *d == 1 && s.to_string() == "22:00:00")
        .unwrap()
        .0;
    assert!(body.contains(&format!("/mentor/availability/weekly/{night}/delete")));
    post_ok(
        &app,
        &m,
        &format!("{AV}/weekly/{night}/delete"),
        &[],
        "window-deleted",
    )
    .await;
    let body = page(&app, &m, AV).await;
    assert!(!body.contains("22:00 – 02:00"));
    post_ok(
        &app,
        &m,
        &weekly,
        &weekly_form("2", "01:00", "02:00"),
        "window-added",
    )
    .await;
    assert_eq!(audits(&app, "schedule.weekly_window_deleted"), 1);
    // Deleting it again: gone.
    let res = post(&app, &m, &format!("{AV}/weekly/{night}/delete"), &[]).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_window_ending_at_its_start_lasts_24_hours() {
    let app = spawn_app().await;
    // Monday 15 June 2026, 11:00 in Berlin; 15-minute steps, 30 minutes.
    let m = mentor(&app).await;
    let weekly = format!("{AV}/weekly");
    post_ok(
        &app,
        &m,
        &weekly,
        &weekly_form("3", "10:00", "10:00"),
        "window-added",
    )
    .await;
    let body = page(&app, &m, AV).await;
    assert!(body.contains("10:00 – 10:00 (next day)"), "{body}");
    // It runs to Thursday 10:00: 09:00–11:00 overlaps it, 10:00–12:00
    // touches it.
    let body = post_refused(
        &app,
        &m,
        &weekly,
        &weekly_form("4", "09:00", "11:00"),
        "weekly_start",
    )
    .await;
    assert!(
        error_of(&body, "weekly_start").contains("Wednesday 10:00 – 10:00 (next day)"),
        "{}",
        error_of(&body, "weekly_start")
    );
    post_ok(
        &app,
        &m,
        &weekly,
        &weekly_form("4", "10:00", "12:00"),
        "window-added",
    )
    .await;
    let saved: Vec<(i16, chrono::NaiveTime, chrono::NaiveTime)> = weekly_rules::table
        .filter(weekly_rules::mentor_id.eq(m.user.id))
        .select((
            weekly_rules::weekday,
            weekly_rules::start_time,
            weekly_rules::end_time,
        ))
        .order(weekly_rules::weekday)
        .load(&mut app.conn())
        .unwrap();
    let ten = chrono::NaiveTime::from_hms_opt(10, 0, 0).unwrap();
    assert_eq!(saved[0], (3, ten, ten));

    // Offered all day long: Wednesday from 10:00, Thursday until 10:00,
    // and on into Thursday's own window.
    let body = page(&app, &m, AV).await;
    let wednesday = day_slots(&body, "2026-06-17");
    assert_eq!(wednesday.len(), 56, "{wednesday:?}");
    assert_eq!(wednesday[0], "10:00 CEST");
    assert_eq!(wednesday[55], "23:45 CEST");
    let thursday = day_slots(&body, "2026-06-18");
    assert_eq!(thursday[0], "00:00 CEST");
    // 09:45–10:15 runs from one window into the other that touches it.
    for t in ["09:30 CEST", "09:45 CEST", "10:00 CEST"] {
        assert!(thursday.contains(&t.to_owned()), "{t}: {thursday:?}");
    }
    assert_eq!(thursday.last().map(String::as_str), Some("11:30 CEST"));
    assert_eq!(thursday.len(), 47, "{thursday:?}");

    // A date override's window alike: Saturday 20 June 10:00 to Sunday
    // 10:00 (Sunday has no hours of its own).
    post_ok(
        &app,
        &m,
        &format!("{AV}/overrides/window"),
        &override_form("2026-06-20", "10:00", "10:00"),
        "override-added",
    )
    .await;
    let body = page(&app, &m, AV).await;
    assert!(
        body.contains("Remove 10:00 – 10:00 (next day) on Sat 20 Jun 2026"),
        "{body}"
    );
    let saturday = day_slots(&body, "2026-06-20");
    assert_eq!(saturday.len(), 56, "{saturday:?}");
    assert_eq!(saturday[0], "10:00 CEST");
    let sunday = day_slots(&body, "2026-06-21");
    assert_eq!(sunday.len(), 39, "{sunday:?}");
    assert_eq!(sunday.last().map(String::as_str), Some("09:30 CEST"));
    // A weekly Sunday window inside that spill would interleave two step
    // grids on 21 June: refused, naming the override's window; one after
    // it is fine.
    let body = post_refused(
        &app,
        &m,
        &weekly,
        &weekly_form("7", "09:05", "11:00"),
        "weekly_start",
    )
    .await;
    assert!(
        error_of(&body, "weekly_start").contains("10:00 – 10:00 (next day) on Sat 20 Jun 2026"),
        "{}",
        error_of(&body, "weekly_start")
    );
    post_ok(
        &app,
        &m,
        &weekly,
        &weekly_form("7", "10:00", "11:00"),
        "window-added",
    )
    .await;
}

// ---------------------------------------------------------------- overrides

#[tokio::test]
async fn date_overrides_have_their_own_windows_or_block_the_day() {
    let app = spawn_app().await;
    let m = mentor(&app).await;
    let window = format!("{AV}/overrides/window");
    let blocked = format!("{AV}/overrides/blocked");
    post_ok(
        &app,
        &m,
        &window,
        &override_form("2026-06-20", "09:00", "10:00"),
        "override-added",
    )
    .await;
    post_ok(
        &app,
        &m,
        &window,
        &override_form("2026-06-20", "14:00", "15:30"),
        "override-added",
    )
    .await;
    post_ok(
        &app,
        &m,
        &window,
        &override_form("2026-06-22", "23:00", "01:00"),
        "override-added",
    )
    .await;
    post_ok(
        &app,
        &m,
        &blocked,
        &[("blocked_date", "2026-06-25")],
        "date-blocked",
    )
    .await;
    let body = page(&app, &m, AV).await;
    assert!(body.contains("Sat 20 Jun 2026"));
    assert!(body.contains("09:00 – 10:00") && body.contains("14:00 – 15:30"));
    assert!(body.contains("23:00 – 01:00 (next day)"));
    assert!(body.contains("Thu 25 Jun 2026"));
    assert!(body.contains("Unavailable all day"));
    let overrides: i64 = date_overrides::table
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(overrides, 3, "two windows on one date: one override");

    // Overlaps within the date, and with the next date's hours.
    let body = post_refused(
        &app,
        &m,
        &window,
        &override_form("2026-06-20", "09:30", "11:00"),
        "override_start",
    )
    .await;
    assert!(error_of(&body, "override_start").contains("09:00 – 10:00 on Sat 20 Jun 2026"));
    assert!(body.contains("value=\"2026-06-20\""), "input kept");
    // Wednesdays 00:00–01:00: a Tuesday window running into it overlaps…
    post_ok(
        &app,
        &m,
        &format!("{AV}/weekly"),
        &[
            ("weekly_weekday", "3"),
            ("weekly_start", "00:00"),
            ("weekly_end", "01:00"),
        ],
        "window-added",
    )
    .await;
    let body = post_refused(
        &app,
        &m,
        &window,
        &override_form("2026-06-30", "23:00", "00:30"),
        "override_start",
    )
    .await;
    assert!(
        error_of(&body, "override_start").contains("00:00 – 01:00 on Wed 1 Jul 2026"),
        "{body}"
    );
    // …unless that Wednesday has its own hours, which the window then
    // stops at. The previous date's window running past midnight stops at
    // the start of a date with its own hours too: no obstacle either.
    post_ok(
        &app,
        &m,
        &blocked,
        &[("blocked_date", "2026-07-01")],
        "date-blocked",
    )
    .await;
    post_ok(
        &app,
        &m,
        &window,
        &override_form("2026-06-30", "23:00", "00:30"),
        "override-added",
    )
    .await;
    // Wednesday's override cannot go now: its weekly 00:00–01:00 would
    // come back under Tuesday's window. Refused, and it stays.
    let july_1 = override_on(&app, 2026, 7, 1).unwrap();
    post_ok(
        &app,
        &m,
        &format!("{AV}/overrides/{july_1}/delete"),
        &[],
        "override-kept",
    )
    .await;
    let body = page(&app, &m, &format!("{AV}?notice=override-kept")).await;
    assert!(body.contains("notice-warning"), "{body}");
    assert!(body.contains("The date keeps its own hours"), "{body}");
    assert_eq!(override_on(&app, 2026, 7, 1), Some(july_1));
    post_ok(
        &app,
        &m,
        &window,
        &override_form("2026-06-23", "00:30", "02:00"),
        "override-added",
    )
    .await;
    // Hours given to a date marked unavailable all day replace that, and
    // the mentor is told so.
    post_ok(
        &app,
        &m,
        &window,
        &override_form("2026-07-01", "10:00", "11:00"),
        "override-unblocked",
    )
    .await;
    let body = page(&app, &m, &format!("{AV}?notice=override-unblocked")).await;
    assert!(
        body.contains("That date was marked unavailable all day"),
        "{body}"
    );
    assert_eq!(override_on(&app, 2026, 7, 1), Some(july_1));
    // Past dates, bad input, off grid.
    let body = post_refused(
        &app,
        &m,
        &window,
        &override_form("2026-06-14", "09:00", "10:00"),
        "override_date",
    )
    .await;
    assert!(error_of(&body, "override_date").contains("today or a later date"));
    post_refused(
        &app,
        &m,
        &window,
        &override_form("20.6.2026", "09:00", "10:00"),
        "override_date",
    )
    .await;
    post_refused(
        &app,
        &m,
        &window,
        &override_form("2026-06-21", "09:00", "10:01"),
        "override_end",
    )
    .await;
    post_refused(
        &app,
        &m,
        &blocked,
        &[("blocked_date", "2026-06-01")],
        "blocked_date",
    )
    .await;
    post_refused(&app, &m, &blocked, &[("blocked_date", "")], "blocked_date").await;

    // Blocking a date with windows replaces them.
    post_ok(
        &app,
        &m,
        &blocked,
        &[("blocked_date", "2026-06-20")],
        "date-blocked",
    )
    .await;
    let windows: i64 = override_windows::table
        .inner_join(date_overrides::table)
        .filter(date_overrides::on_date.eq(chrono::NaiveDate::from_ymd_opt(2026, 6, 20).unwrap()))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(windows, 0);
    // Adding a window to a blocked date opens it in that window only, and
    // says the day off is gone.
    post_ok(
        &app,
        &m,
        &window,
        &override_form("2026-06-25", "10:00", "11:00"),
        "override-unblocked",
    )
    .await;

    // Deleting one window of two keeps the date; the last one removes the
    // override; deleting the override removes it with its windows.
    post_ok(
        &app,
        &m,
        &window,
        &override_form("2026-06-25", "12:00", "13:00"),
        "override-added",
    )
    .await;
    let ids: Vec<Uuid> = override_windows::table
        .inner_join(date_overrides::table)
        .filter(date_overrides::on_date.eq(chrono::NaiveDate::from_ymd_opt(2026, 6, 25).unwrap()))
        .order(override_windows::start_time)
        .select(override_windows::id)
        .load(&mut app.conn())
        .unwrap();
    assert_eq!(ids.len(), 2);
    post_ok(
        &app,
        &m,
        &format!("{AV}/override-windows/{}/delete", ids[0]),
        &[],
        "override-window-deleted",
    )
    .await;
    post_ok(
        &app,
        &m,
        &format!("{AV}/override-windows/{}/delete", ids[1]),
        &[],
        "override-deleted",
    )
    .await;
    assert_eq!(override_on(&app, 2026, 6, 25), None);
    let id = override_on(&app, 2026, 6, 22).unwrap();
    post_ok(
        &app,
        &m,
        &format!("{AV}/overrides/{id}/delete"),
        &[],
        "override-deleted",
    )
    .await;
    let body = page(&app, &m, &format!("{AV}?notice=override-deleted")).await;
    assert!(body.contains("The date follows your weekly hours again."));
    assert!(!body.contains("Mon 22 Jun 2026"));
    assert!(audits(&app, "schedule.override_window_added") >= 5);
    assert_eq!(audits(&app, "schedule.date_blocked"), 3);
    assert_eq!(audits(&app, "schedule.override_deleted"), 1);

    // Past overrides are not listed.
    app.clock
        .set(Utc.with_ymd_and_hms(2026, 6, 21, 12, 0, 0).unwrap());
    let m = app.sign_in(&m.user).await;
    let body = page(&app, &m, AV).await;
    assert!(!body.contains("Sat 20 Jun 2026"));
}

// ---------------------------------------------------------------- time off

#[tokio::test]
async fn time_off_is_read_in_the_mentor_zone_with_the_gap_and_fold_rules() {
    let app = spawn_app().await;
    app.clock
        .set(Utc.with_ymd_and_hms(2026, 3, 20, 12, 0, 0).unwrap());
    let m = mentor(&app).await;
    let path = format!("{AV}/time-off");
    // 02:30 does not exist in Berlin on 29 March: it moves forward by the
    // gap, to 03:30 CEST = 01:30Z.
    post_ok(
        &app,
        &m,
        &path,
        &[
            ("off_from", "2026-03-29T02:30"),
            ("off_to", "2026-03-29T05:00"),
            ("off_note", "Clock change"),
        ],
        "time-off-added",
    )
    .await;
    // 02:30 occurs twice on 25 October: the earlier one, 00:30Z (CEST).
    post_ok(
        &app,
        &m,
        &path,
        &[
            ("off_from", "2026-10-25T02:30"),
            ("off_to", "2026-10-25 04:00"),
            ("off_note", ""),
        ],
        "time-off-added",
    )
    .await;
    let rows: Vec<(chrono::DateTime<Utc>, chrono::DateTime<Utc>, String)> = time_off::table
        .filter(time_off::mentor_id.eq(m.user.id))
        .order(time_off::starts_at)
        .select((time_off::starts_at, time_off::ends_at, time_off::note))
        .load(&mut app.conn())
        .unwrap();
    assert_eq!(
        rows,
        vec![
            (
                Utc.with_ymd_and_hms(2026, 3, 29, 1, 30, 0).unwrap(),
                Utc.with_ymd_and_hms(2026, 3, 29, 3, 0, 0).unwrap(),
                "Clock change".to_owned()
            ),
            (
                Utc.with_ymd_and_hms(2026, 10, 25, 0, 30, 0).unwrap(),
                Utc.with_ymd_and_hms(2026, 10, 25, 3, 0, 0).unwrap(),
                String::new()
            ),
        ]
    );
    let body = page(&app, &m, AV).await;
    assert!(
        body.contains("Sun 29 Mar, 03:30 CEST – Sun 29 Mar, 05:00 CEST"),
        "listed with zone"
    );
    assert!(body.contains("Sun 25 Oct, 02:30 CEST – Sun 25 Oct, 04:00 CET"));
    assert!(body.contains("Clock change"));
    assert_eq!(audits(&app, "schedule.time_off_added"), 2);

    // Refused: end before start, over already, bad input, long note.
    let body = post_refused(
        &app,
        &m,
        &path,
        &[
            ("off_from", "2026-04-02T10:00"),
            ("off_to", "2026-04-02T09:00"),
        ],
        "off_to",
    )
    .await;
    assert!(body.contains("value=\"2026-04-02T10:00\""), "input kept");
    post_refused(
        &app,
        &m,
        &path,
        &[
            ("off_from", "2026-03-01T10:00"),
            ("off_to", "2026-03-02T09:00"),
        ],
        "off_to",
    )
    .await;
    post_refused(
        &app,
        &m,
        &path,
        &[("off_from", "tomorrow"), ("off_to", "2026-04-02T09:00")],
        "off_from",
    )
    .await;
    let note: &'static str = "n".repeat(201).leak();
    for note in [note, "Away \u{202e}kcab"] {
        post_refused(
            &app,
            &m,
            &path,
            &[
                ("off_from", "2026-04-02T09:00"),
                ("off_to", "2026-04-02T10:00"),
                ("off_note", note),
            ],
            "off_note",
        )
        .await;
    }

    // Delete; and time off that is over is no longer listed.
    let (id, starts_at): (Uuid, chrono::DateTime<Utc>) = time_off::table
        .filter(time_off::mentor_id.eq(m.user.id))
        .order(time_off::starts_at.desc())
        .select((time_off::id, time_off::starts_at))
        .first(&mut app.conn())
        .unwrap();
    post_ok(
        &app,
        &m,
        &format!("{AV}/time-off/{id}/delete"),
        &[],
        "time-off-deleted",
    )
    .await;
    // The log says which time off went.
    let details: serde_json::Value = audit_log::table
        .filter(audit_log::action.eq("schedule.time_off_deleted"))
        .select(audit_log::details)
        .first(&mut app.conn())
        .unwrap();
    assert_eq!(details["starts_at"], starts_at.to_rfc3339());
    app.clock
        .set(Utc.with_ymd_and_hms(2026, 4, 1, 0, 0, 0).unwrap());
    let m = app.sign_in(&m.user).await;
    let body = page(&app, &m, AV).await;
    assert!(body.contains("No upcoming time off."));
}

#[tokio::test]
async fn time_off_removes_slots_from_the_preview() {
    let app = spawn_app().await;
    let m = mentor(&app).await;
    post_ok(
        &app,
        &m,
        &format!("{AV}/weekly"),
        &[
            ("weekly_weekday", "3"),
            ("weekly_start", "09:00"),
            ("weekly_end", "10:00"),
        ],
        "window-added",
    )
    .await;
    post_ok(
        &app,
        &m,
        &format!("{AV}/time-off"),
        &[
            ("off_from", "2026-06-17T09:15"),
            ("off_to", "2026-06-17T09:45"),
        ],
        "time-off-added",
    )
    .await;
    let body = page(&app, &m, AV).await;
    // 30-minute slots overlapping 09:15–09:45 are gone.
    assert_eq!(day_slots(&body, "2026-06-17"), Vec::<String>::new());
    assert_eq!(
        day_slots(&body, "2026-06-24"),
        ["09:00 CEST", "09:15 CEST", "09:30 CEST"]
    );
}

// ---------------------------------------------------------------- preview

#[tokio::test]
async fn the_preview_lists_local_slots_and_follows_overrides() {
    let app = spawn_app().await;
    // Monday 15 June 2026, 11:00 in Berlin.
    let m = mentor(&app).await;
    let body = page(&app, &m, AV).await;
    assert!(body.contains("for a 30-minute session"));
    assert!(body.contains("you offer no topics yet"));
    assert!(body.contains("You are not accepting bookings"));
    assert!(body.contains("0 free slots in total"));
    // Fourteen local dates from today.
    assert!(body.contains("<h3 id=\"day-2026-06-15\">Mon 15 Jun</h3>"));
    assert!(body.contains("<h3 id=\"day-2026-06-28\">Sun 28 Jun</h3>"));
    assert!(!body.contains("id=\"day-2026-06-29\""));

    let weekly = format!("{AV}/weekly");
    post_ok(
        &app,
        &m,
        &weekly,
        &[
            ("weekly_weekday", "3"),
            ("weekly_start", "09:00"),
            ("weekly_end", "10:00"),
        ],
        "window-added",
    )
    .await;
    post_ok(
        &app,
        &m,
        &weekly,
        &[
            ("weekly_weekday", "1"),
            ("weekly_start", "23:00"),
            ("weekly_end", "00:30"),
        ],
        "window-added",
    )
    .await;
    let body = page(&app, &m, AV).await;
    // Default settings: 15-minute steps, 12 hours' notice.
    assert_eq!(
        day_slots(&body, "2026-06-17"),
        ["09:00 CEST", "09:15 CEST", "09:30 CEST"]
    );
    assert_eq!(
        day_slots(&body, "2026-06-24"),
        ["09:00 CEST", "09:15 CEST", "09:30 CEST"]
    );
    // Monday's window runs past midnight; a slot belongs to the date it
    // starts on. Tonight 23:00 is exactly 12 hours from now (11:00).
    let monday = ["23:00 CEST", "23:15 CEST", "23:30 CEST", "23:45 CEST"];
    assert_eq!(day_slots(&body, "2026-06-15"), monday);
    assert_eq!(day_slots(&body, "2026-06-16"), ["00:00 CEST"]);
    assert_eq!(day_slots(&body, "2026-06-22"), monday);
    assert_eq!(day_slots(&body, "2026-06-23"), ["00:00 CEST"]);
    assert!(body.contains("16 free slots in total"));

    // An override on Wednesday 17th replaces the weekly window that day.
    post_ok(
        &app,
        &m,
        &format!("{AV}/overrides/window"),
        &[
            ("override_date", "2026-06-17"),
            ("override_start", "14:00"),
            ("override_end", "15:00"),
        ],
        "override-added",
    )
    .await;
    post_ok(
        &app,
        &m,
        &format!("{AV}/overrides/blocked"),
        &[("blocked_date", "2026-06-24")],
        "date-blocked",
    )
    .await;
    let body = page(&app, &m, AV).await;
    assert_eq!(
        day_slots(&body, "2026-06-17"),
        ["14:00 CEST", "14:15 CEST", "14:30 CEST"]
    );
    assert_eq!(day_slots(&body, "2026-06-24"), Vec::<String>::new());

    // The first offered topic's duration and the mentor's settings apply.
    crate::web::add_topic(&app, "b-topic", "Backend debugging", true);
    diesel::update(topics::table.filter(topics::slug.eq("b-topic")))
        .set(topics::duration_minutes.eq(45))
        .execute(&mut app.conn())
        .unwrap();
    crate::web::add_topic(&app, "z-topic", "Zig basics", true);
    let (b, z) = (
        topic_id(&app, "b-topic").to_string(),
        topic_id(&app, "z-topic").to_string(),
    );
    let mut fields: Vec<(&str, &str)> = with(
        with(valid_settings(), "step_min", "15"),
        "min_notice_hours",
        "0",
    );
    fields.push(("topics", &z));
    fields.push(("topics", &b));
    post_ok(&app, &m, "/mentor/settings", &fields, "saved").await;
    let body = page(&app, &m, AV).await;
    assert!(body.contains(
        "for a 45-minute session (the length of “Backend debugging”, the first topic you offer)"
    ));
    assert!(!body.contains("You are not accepting bookings"));
    assert!(!body.contains("You offer no topics yet"));
    // 45 minutes in 14:00–15:00 with 15-minute steps: 14:00, 14:15.
    assert_eq!(day_slots(&body, "2026-06-17"), ["14:00 CEST", "14:15 CEST"]);
    // 45 minutes in 23:00–00:30.
    assert_eq!(
        day_slots(&body, "2026-06-15"),
        ["23:00 CEST", "23:15 CEST", "23:30 CEST", "23:45 CEST"]
    );
    assert_eq!(day_slots(&body, "2026-06-16"), Vec::<String>::new());
}

#[tokio::test]
async fn the_preview_keeps_wall_clock_times_across_the_autumn_change() {
    let app = spawn_app().await;
    app.clock
        .set(Utc.with_ymd_and_hms(2026, 10, 20, 8, 0, 0).unwrap());
    let m = mentor(&app).await;
    for day in ["1", "2", "3", "4", "5", "6", "7"] {
        post_ok(
            &app,
            &m,
            &format!("{AV}/weekly"),
            &[
                ("weekly_weekday", day),
                ("weekly_start", "09:00"),
                ("weekly_end", "10:00"),
            ],
            "window-added",
        )
        .await;
    }
    let body = page(&app, &m, AV).await;
    let three = |z: &str| {
        vec![
            format!("09:00 {z}"),
            format!("09:15 {z}"),
            format!("09:30 {z}"),
        ]
    };
    // Today (Tue 20 Oct, 10:00 CEST) is within the notice.
    assert_eq!(day_slots(&body, "2026-10-20"), Vec::<String>::new());
    assert_eq!(day_slots(&body, "2026-10-21"), three("CEST"));
    assert_eq!(day_slots(&body, "2026-10-24"), three("CEST"));
    // Sunday 25 October: the clocks went back at 03:00; still 09:00 local.
    assert_eq!(day_slots(&body, "2026-10-25"), three("CET"));
    assert_eq!(day_slots(&body, "2026-10-26"), three("CET"));
    assert_eq!(day_slots(&body, "2026-11-02"), three("CET"));
    assert!(body.contains("Sun 25 Oct"));
}

#[tokio::test]
async fn changing_the_zone_here_changes_the_account_zone_and_the_preview() {
    let app = spawn_app().await;
    let m = mentor(&app).await;
    post_ok(
        &app,
        &m,
        &format!("{AV}/weekly"),
        &[
            ("weekly_weekday", "3"),
            ("weekly_start", "09:00"),
            ("weekly_end", "10:00"),
        ],
        "window-added",
    )
    .await;
    let body = page(&app, &m, AV).await;
    assert!(body.contains("<option value=\"Europe/Berlin\" selected>"));
    assert!(body.contains("Times in <strong>Europe/Berlin</strong>"));

    let body = post_refused(
        &app,
        &m,
        &format!("{AV}/zone"),
        &[("time_zone", "Mars/Olympus")],
        "time_zone",
    )
    .await;
    assert!(body.contains("Choose a time zone from the list."));
    post_ok(
        &app,
        &m,
        &format!("{AV}/zone"),
        &[("time_zone", "America/New_York")],
        "zone-saved",
    )
    .await;
    let zone: String = users::table
        .find(m.user.id)
        .select(users::time_zone)
        .first(&mut app.conn())
        .unwrap();
    assert_eq!(zone, "America/New_York");
    assert_eq!(audits(&app, "schedule.zone_changed"), 1);
    let body = page(&app, &m, &format!("{AV}?notice=zone-saved")).await;
    assert!(body.contains("Your time zone is saved."));
    assert!(body.contains("<option value=\"America/New_York\" selected>"));
    assert!(body.contains("Times in <strong>America/New_York</strong>"));
    // The weekly window keeps its wall-clock time, now in New York.
    assert_eq!(
        day_slots(&body, "2026-06-17"),
        ["09:00 EDT", "09:15 EDT", "09:30 EDT"]
    );
    // The account page shows the same zone.
    let account = page(&app, &m, "/account").await;
    assert!(account.contains("<option value=\"America/New_York\" selected>"));
}

// ---------------------------------------------------------------- ownership

#[tokio::test]
async fn another_mentors_rules_overrides_and_time_off_are_not_found() {
    let app = spawn_app().await;
    let a = mentor(&app).await;
    let b = mentor(&app).await;
    post_ok(
        &app,
        &a,
        &format!("{AV}/weekly"),
        &[
            ("weekly_weekday", "1"),
            ("weekly_start", "09:00"),
            ("weekly_end", "10:00"),
        ],
        "window-added",
    )
    .await;
    post_ok(
        &app,
        &a,
        &format!("{AV}/overrides/window"),
        &[
            ("override_date", "2026-06-20"),
            ("override_start", "09:00"),
            ("override_end", "10:00"),
        ],
        "override-added",
    )
    .await;
    post_ok(
        &app,
        &a,
        &format!("{AV}/time-off"),
        &[
            ("off_from", "2026-07-01T09:00"),
            ("off_to", "2026-07-02T09:00"),
        ],
        "time-off-added",
    )
    .await;
    let rule: Uuid = weekly_rules::table
        .select(weekly_rules::id)
        .first(&mut app.conn())
        .unwrap();
    let ov: Uuid = date_overrides::table
        .select(date_overrides::id)
        .first(&mut app.conn())
        .unwrap();
    let win: Uuid = override_windows::table
        .select(override_windows::id)
        .first(&mut app.conn())
        .unwrap();
    let off: Uuid = time_off::table
        .select(time_off::id)
        .first(&mut app.conn())
        .unwrap();
    let before = audit_log::table
        .count()
        .get_result::<i64>(&mut app.conn())
        .unwrap();
    for path in [
        format!("{AV}/weekly/{rule}/delete"),
        format!("{AV}/overrides/{ov}/delete"),
        format!("{AV}/override-windows/{win}/delete"),
        format!("{AV}/time-off/{off}/delete"),
        format!("{AV}/time-off/{}/delete", Uuid::new_v4()),
        format!("{AV}/weekly/not-a-uuid/delete"),
    ] {
        let res = post(&app, &b, &path, &[]).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let counts: (i64, i64, i64, i64) = (
        weekly_rules::table
            .count()
            .get_result(&mut app.conn())
            .unwrap(),
        date_overrides::table
            .count()
            .get_result(&mut app.conn())
            .unwrap(),
        override_windows::table
            .count()
            .get_result(&mut app.conn())
            .unwrap(),
        time_off::table.count().get_result(&mut app.conn()).unwrap(),
    );
    assert_eq!(counts, (1, 1, 1, 1));
    assert_eq!(
        audit_log::table
            .count()
            .get_result::<i64>(&mut app.conn())
            .unwrap(),
        before
    );
    // B's page lists nothing of A's.
    let body = page(&app, &b, AV).await;
    assert!(!body.contains(&rule.to_string()));
    assert!(!body.contains(&off.to_string()));
    // A can delete them.
    post_ok(
        &app,
        &a,
        &format!("{AV}/time-off/{off}/delete"),
        &[],
        "time-off-deleted",
    )
    .await;
    post_ok(
        &app,
        &a,
        &format!("{AV}/overrides/{ov}/delete"),
        &[],
        "override-deleted",
    )
    .await;
    post_ok(
        &app,
        &a,
        &format!("{AV}/weekly/{rule}/delete"),
        &[],
        "window-deleted",
    )
    .await;
}

#[tokio::test]
async fn forms_without_a_valid_csrf_token_change_nothing() {
    let app = spawn_app().await;
    let m = mentor(&app).await;
    let res = app
        .post_form(
            &m.client,
            &format!("{AV}/weekly"),
            &[
                ("csrf_token", "forged"),
                ("weekly_weekday", "1"),
                ("weekly_start", "09:00"),
                ("weekly_end", "10:00"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        weekly_rules::table
            .count()
            .get_result::<i64>(&mut app.conn())
            .unwrap(),
        0
    );
}
