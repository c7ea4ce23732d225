//! `/admin/topics` and `/admin/policy`: create, edit, deactivate and
//! reactivate topics; show, validate and save the fairness policy — through
//! HTTP against the running app, checking the database, the audit log and
//! the public pages behind them.

use diesel::prelude::*;
use officehours::accounts::Role;
use officehours::bookings::model::{Policy, load_policy};
use officehours::db::schema::{audit_log, booking_policy, topics};
use officehours::topics::Topic;
use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

use crate::booking_fixture::{at, book, booking, fixture, post_booking};
use crate::harness::{SignedIn, TestApp, location, spawn_app};

async fn act(
    app: &TestApp,
    who: &SignedIn,
    path: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let mut all = vec![("csrf_token", who.csrf.as_str())];
    all.extend_from_slice(fields);
    app.post_form(&who.client, path, &all).await
}

async fn get(app: &TestApp, who: &SignedIn, path: &str) -> (StatusCode, String) {
    let res = who.client.get(app.url(path)).send().await.unwrap();
    (res.status(), res.text().await.unwrap())
}

fn all_topics(app: &TestApp) -> Vec<Topic> {
    topics::table
        .order(topics::slug)
        .select(Topic::as_select())
        .load(&mut app.conn())
        .unwrap()
}

fn topic_by_slug(app: &TestApp, slug: &str) -> Topic {
    topics::table
        .filter(topics::slug.eq(slug))
        .select(Topic::as_select())
        .first(&mut app.conn())
        .unwrap()
}

/// `(action, actor, subject, details)` of the audit entries of action
/// `prefix` or under it (`topic` is every `topic.…`).
fn audit_of(
    app: &TestApp,
    prefix: &str,
) -> Vec<(String, Option<Uuid>, Option<Uuid>, serde_json::Value)> {
    audit_log::table
        .filter(
            audit_log::action
                .eq(prefix)
                .or(audit_log::action.like(format!("{prefix}.%"))),
        )
        .order((audit_log::at, audit_log::id))
        .select((
            audit_log::action,
            audit_log::actor_user_id,
            audit_log::subject_id,
            audit_log::details,
        ))
        .load(&mut app.conn())
        .unwrap()
}

fn unescape(s: &str) -> String {
    s.replace("&#38;", "&")
        .replace("&amp;", "&")
        .replace("&#39;", "'")
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
}

const CREATE: [(&str, &str); 4] = [
    ("slug", "rust-ownership"),
    ("title", "Rust ownership"),
    ("description", "Borrowing, lifetimes & moves."),
    ("duration_minutes", "45"),
];

#[tokio::test]
async fn an_admin_creates_a_topic_and_learners_see_it() {
    let app = spawn_app().await;
    let admin = app.sign_in(&app.create_user(Role::Admin)).await;

    let (status, html) = get(&app, &admin, "/admin").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("href=\"/admin/topics\""));
    assert!(html.contains("href=\"/admin/policy\""));

    let (status, html) = get(&app, &admin, "/admin/topics").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<h1>Topics</h1>"));
    assert!(html.contains("action=\"/admin/topics\""));
    assert!(html.contains("<label for=\"slug\">"));
    assert!(!html.contains("style="));

    let res = act(&app, &admin, "/admin/topics", &CREATE).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let to = location(&res);
    assert!(to.starts_with("/admin/topics?notice=created"), "{to}");
    let t = topic_by_slug(&app, "rust-ownership");
    assert_eq!(t.title, "Rust ownership");
    assert_eq!(t.description, "Borrowing, lifetimes & moves.");
    assert_eq!(t.duration_minutes, 45);
    assert!(t.active);
    assert_eq!(
        audit_of(&app, "topic"),
        vec![(
            "topic.create".to_owned(),
            Some(admin.user.id),
            Some(t.id),
            json!({"slug": "rust-ownership", "title": "Rust ownership", "duration_minutes": 45}),
        )]
    );

    let (status, html) = get(&app, &admin, &to).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("“Rust ownership” is created"), "{html}");
    assert!(html.contains(&format!("data-topic-id=\"{}\"", t.id)));
    assert!(html.contains("45 min"));

    let home = app.get("/").await.text().await.unwrap();
    assert!(home.contains("Rust ownership"), "{home}");
    assert!(home.contains("/topics/rust-ownership"));
    assert_eq!(
        app.get("/topics/rust-ownership").await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn invalid_topics_are_refused_with_the_errors_next_to_the_fields() {
    let app = spawn_app().await;
    let admin = app.sign_in(&app.create_user(Role::Admin)).await;
    let long = "d".repeat(1001);
    let long_title = "t".repeat(81);
    // The form sent, and the fields that must be marked.
    type Case<'a> = (Vec<(&'a str, &'a str)>, Vec<&'a str>);
    let cases: Vec<Case> = vec![
        (
            vec![
                ("slug", "Bad Slug!"),
                ("title", "x"),
                ("description", &long),
                ("duration_minutes", "ten"),
            ],
            vec!["slug", "title", "description", "duration_minutes"],
        ),
        (
            vec![
                ("slug", "-edge-"),
                ("title", "Fine title"),
                ("description", ""),
                ("duration_minutes", "121"),
            ],
            vec!["slug", "duration_minutes"],
        ),
        (
            vec![
                ("slug", "a"),
                ("title", &long_title),
                ("description", ""),
                ("duration_minutes", "14"),
            ],
            vec!["slug", "title", "duration_minutes"],
        ),
        (
            vec![
                ("slug", "reordered"),
                ("title", "Rust \u{202e}pihsrenwo"),
                ("description", "Control \u{1b}[2J and \u{2067}order\u{2069}"),
                ("duration_minutes", "30"),
            ],
            vec!["title", "description"],
        ),
        (vec![], vec!["slug", "title", "duration_minutes"]),
    ];
    for (fields, bad) in &cases {
        let res = act(&app, &admin, "/admin/topics", fields).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{fields:?}");
        let html = res.text().await.unwrap();
        assert!(html.contains("The topic was not created"), "{html}");
        for field in ["slug", "title", "description", "duration_minutes"] {
            let marked = html.contains(&format!("id=\"{field}-error\""));
            assert_eq!(marked, bad.contains(&field), "{field} in {fields:?}");
            if marked {
                assert!(
                    html.contains(&format!("aria-describedby=\"{field}-error {field}-hint\"")),
                    "{field} error tied to its field"
                );
            }
        }
    }
    // The input is kept (escaped).
    let res = act(
        &app,
        &admin,
        "/admin/topics",
        &[
            ("slug", "ok-slug"),
            ("title", "<b>Kept</b>"),
            ("description", "Kept text"),
            ("duration_minutes", "7"),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(html.contains("value=\"ok-slug\""));
    assert!(html.contains("&#60;b&#62;Kept&#60;/b&#62;"));
    assert!(!html.contains("<b>Kept</b>"));
    assert!(html.contains(">Kept text</textarea>"));
    assert!(html.contains("value=\"7\""));
    assert!(all_topics(&app).is_empty());
    assert!(audit_of(&app, "topic").is_empty());
}

#[tokio::test]
async fn a_slug_in_use_is_a_field_error_and_nothing_is_written() {
    let app = spawn_app().await;
    let admin = app.sign_in(&app.create_user(Role::Admin)).await;
    let res = act(&app, &admin, "/admin/topics", &CREATE).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = act(
        &app,
        &admin,
        "/admin/topics",
        &[
            ("slug", " rust-ownership "),
            ("title", "Another title"),
            ("description", ""),
            ("duration_minutes", "30"),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(html.contains("id=\"slug-error\""), "{html}");
    assert!(html.contains("Another topic already has this slug"));
    assert!(html.contains("value=\"Another title\""), "input kept");
    let all = all_topics(&app);
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].title, "Rust ownership");
    assert_eq!(audit_of(&app, "topic").len(), 1, "only the first create");
}

#[tokio::test]
async fn a_title_in_use_whatever_its_case_is_a_field_error_on_create_and_edit() {
    let app = spawn_app().await;
    let admin = app.sign_in(&app.create_user(Role::Admin)).await;
    act(&app, &admin, "/admin/topics", &CREATE).await;
    let same_title = [
        ("slug", "rust-ownership-2"),
        ("title", "RUST Ownership"),
        ("description", ""),
        ("duration_minutes", "30"),
    ];
    let res = act(&app, &admin, "/admin/topics", &same_title).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(html.contains("id=\"title-error\""), "{html}");
    assert!(html.contains("already has this title"), "{html}");
    assert!(html.contains("value=\"rust-ownership-2\""), "input kept");
    assert_eq!(all_topics(&app).len(), 1);

    // Another topic renamed to it: refused, nothing changed.
    let other = [
        ("slug", "sql-basics"),
        ("title", "SQL basics"),
        ("description", ""),
        ("duration_minutes", "30"),
    ];
    assert_eq!(
        act(&app, &admin, "/admin/topics", &other).await.status(),
        StatusCode::SEE_OTHER
    );
    let sql = topic_by_slug(&app, "sql-basics");
    let res = act(
        &app,
        &admin,
        &format!("/admin/topics/{}", sql.id),
        &[
            ("title", "Rust ownership "),
            ("description", ""),
            ("duration_minutes", "30"),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("already has this title"));
    assert_eq!(topic_by_slug(&app, "sql-basics").title, "SQL basics");
    assert_eq!(audit_of(&app, "topic.update").len(), 0);
}

#[tokio::test]
async fn an_edit_is_saved_and_audited_with_old_and_new_values() {
    let app = spawn_app().await;
    let admin = app.sign_in(&app.create_user(Role::Admin)).await;
    act(&app, &admin, "/admin/topics", &CREATE).await;
    let t = topic_by_slug(&app, "rust-ownership");
    let path = format!("/admin/topics/{}", t.id);

    let (status, html) = get(&app, &admin, &path).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("value=\"Rust ownership\""));
    assert!(unescape(&html).contains("Borrowing, lifetimes & moves.</textarea>"));
    assert!(html.contains("value=\"45\""));
    assert!(html.contains("applies to new bookings only"));

    // Invalid: 422, input kept, nothing changed.
    let res = act(
        &app,
        &admin,
        &path,
        &[
            ("title", "Rust borrowing"),
            ("description", "New text"),
            ("duration_minutes", "200"),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(html.contains("id=\"duration_minutes-error\""));
    assert!(!html.contains("id=\"title-error\""));
    assert!(html.contains("value=\"Rust borrowing\""));
    assert!(html.contains("value=\"200\""));
    assert_eq!(
        topic_by_slug(&app, "rust-ownership").title,
        "Rust ownership"
    );

    // Unchanged: nothing written.
    let res = act(
        &app,
        &admin,
        &path,
        &[
            ("title", "Rust ownership"),
            ("description", "Borrowing, lifetimes & moves."),
            ("duration_minutes", "45"),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(location(&res).contains("notice=unchanged"));
    assert_eq!(audit_of(&app, "topic.update").len(), 0);

    app.clock.advance(chrono::Duration::minutes(5));
    let res = act(
        &app,
        &admin,
        &path,
        &[
            ("title", "Rust borrowing"),
            ("description", "Borrowing, lifetimes & moves."),
            ("duration_minutes", "60"),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(location(&res).contains("notice=updated"));
    let after = topic_by_slug(&app, "rust-ownership");
    assert_eq!(after.title, "Rust borrowing");
    assert_eq!(after.duration_minutes, 60);
    assert_eq!(after.updated_at, app.clock.now());
    assert_eq!(
        audit_of(&app, "topic.update"),
        vec![(
            "topic.update".to_owned(),
            Some(admin.user.id),
            Some(t.id),
            json!({
                "slug": "rust-ownership",
                "old": {"title": "Rust ownership", "duration_minutes": 45},
                "new": {"title": "Rust borrowing", "duration_minutes": 60},
            }),
        )]
    );

    // Unknown ids are pages that do not exist.
    for bad in [
        format!("/admin/topics/{}", Uuid::now_v7()),
        "/admin/topics/nope".into(),
    ] {
        let (status, _) = get(&app, &admin, &bad).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{bad}");
        let res = act(
            &app,
            &admin,
            &bad,
            &[
                ("title", "T t"),
                ("description", ""),
                ("duration_minutes", "30"),
            ],
        )
        .await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "POST {bad}");
    }
}

#[tokio::test]
async fn a_deactivated_topic_disappears_but_its_bookings_stay_and_it_comes_back() {
    let app = spawn_app().await;
    let admin = app.sign_in(&app.create_user(Role::Admin)).await;
    let f = fixture(&app);
    let learner = app.sign_in(&app.create_user(Role::Learner)).await;
    let start = at(2026, 6, 16, 12, 0);
    let id = book(&app, &learner, f.mentor.id, "sql-basics", start).await;

    let (_, html) = get(&app, &admin, "/admin/topics").await;
    let row = &html[html
        .find(&format!("data-topic-id=\"{}\"", f.topic))
        .unwrap()..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(row.contains("<td>1</td>"), "one upcoming booking: {row}");

    // A duration change leaves the booked session as it is.
    let res = act(
        &app,
        &admin,
        &format!("/admin/topics/{}", f.topic),
        &[
            ("title", "Topic sql-basics"),
            ("description", "What it is about."),
            ("duration_minutes", "60"),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        booking(&app, id).end_at,
        start + chrono::Duration::minutes(30)
    );

    let home = app.get("/").await.text().await.unwrap();
    assert!(home.contains("/topics/sql-basics"));
    // Seen once before, so the mentor page's cached rows must be renewed.
    let mentor_page = app
        .get(&format!("/mentors/{}", f.mentor.id))
        .await
        .text()
        .await
        .unwrap();
    assert!(mentor_page.contains("Topic sql-basics"), "{mentor_page}");
    let res = act(
        &app,
        &admin,
        &format!("/admin/topics/{}/deactivate", f.topic),
        &[],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let to = location(&res);
    assert!(to.contains("notice=deactivated"), "{to}");
    assert!(!topic_by_slug(&app, "sql-basics").active);
    let (_, html) = get(&app, &admin, &to).await;
    assert!(html.contains("is deactivated"), "{html}");
    assert!(html.contains("Inactive"));
    assert!(html.contains(&format!("/admin/topics/{}/activate", f.topic)));

    let home = app.get("/").await.text().await.unwrap();
    assert!(!home.contains("/topics/sql-basics"), "{home}");
    assert!(home.contains("/topics/deep-dive"));
    assert_eq!(
        app.get("/topics/sql-basics").await.status(),
        StatusCode::NOT_FOUND
    );
    let mentor_page = app
        .get(&format!("/mentors/{}", f.mentor.id))
        .await
        .text()
        .await
        .unwrap();
    assert!(!mentor_page.contains("Topic sql-basics"), "{mentor_page}");
    assert!(mentor_page.contains("Topic deep-dive"));

    // The booking is kept, still confirmed, and its learner still sees it.
    assert_eq!(booking(&app, id).status, "confirmed");
    let (status, html) = get(&app, &learner, &format!("/bookings/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Topic sql-basics"), "{html}");
    let (status, html) = get(&app, &learner, "/me/sessions").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(&format!("/bookings/{id}")));

    // Twice is a no-op.
    let res = act(
        &app,
        &admin,
        &format!("/admin/topics/{}/deactivate", f.topic),
        &[],
    )
    .await;
    assert!(location(&res).contains("notice=already-inactive"));

    let res = act(
        &app,
        &admin,
        &format!("/admin/topics/{}/activate", f.topic),
        &[],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(location(&res).contains("notice=activated"));
    assert!(topic_by_slug(&app, "sql-basics").active);
    let home = app.get("/").await.text().await.unwrap();
    assert!(home.contains("/topics/sql-basics"));
    assert_eq!(app.get("/topics/sql-basics").await.status(), StatusCode::OK);

    let actions: Vec<(String, Option<Uuid>)> = audit_of(&app, "topic")
        .into_iter()
        .map(|(a, _, s, _)| (a, s))
        .collect();
    assert_eq!(
        actions,
        vec![
            ("topic.update".to_owned(), Some(f.topic)),
            ("topic.deactivate".to_owned(), Some(f.topic)),
            ("topic.activate".to_owned(), Some(f.topic)),
        ]
    );
}

// ---------------------------------------------------------------- policy

const POLICY_FIELDS: [&str; 7] = [
    "max_upcoming",
    "max_upcoming_per_topic",
    "max_per_month",
    "late_cancel_hours",
    "noshow_strikes",
    "noshow_window_days",
    "noshow_pause_days",
];

/// The policy form with the defaults, `changes` applied.
fn policy_form<'a>(changes: &[(&'a str, &'a str)]) -> Vec<(&'a str, String)> {
    let d = Policy::default();
    let values = [
        d.max_upcoming,
        d.max_upcoming_per_topic,
        d.max_per_month,
        d.late_cancel_hours,
        d.noshow_strikes,
        d.noshow_window_days,
        d.noshow_pause_days,
    ];
    POLICY_FIELDS
        .iter()
        .zip(values)
        .map(|(name, v)| {
            let v = changes
                .iter()
                .find(|(k, _)| k == name)
                .map_or(v.to_string(), |(_, v)| (*v).to_owned());
            (*name, v)
        })
        .collect()
}

async fn post_policy(app: &TestApp, who: &SignedIn, changes: &[(&str, &str)]) -> reqwest::Response {
    let form = policy_form(changes);
    let fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    act(app, who, "/admin/policy", &fields).await
}

fn policy_row(app: &TestApp) -> (Policy, chrono::DateTime<chrono::Utc>) {
    booking_policy::table
        .select((Policy::as_select(), booking_policy::updated_at))
        .first(&mut app.conn())
        .unwrap()
}

fn same(a: &Policy, b: &Policy) -> bool {
    format!("{a:?}") == format!("{b:?}")
}

#[tokio::test]
async fn the_policy_page_shows_every_current_value_with_labels() {
    let app = spawn_app().await;
    let admin = app.sign_in(&app.create_user(Role::Admin)).await;
    let (status, html) = get(&app, &admin, "/admin/policy").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<h1>Fairness policy</h1>"));
    assert!(!html.contains("style="));
    let d = Policy::default();
    for (name, value) in POLICY_FIELDS.iter().zip([
        d.max_upcoming,
        d.max_upcoming_per_topic,
        d.max_per_month,
        d.late_cancel_hours,
        d.noshow_strikes,
        d.noshow_window_days,
        d.noshow_pause_days,
    ]) {
        assert!(html.contains(&format!("<label for=\"{name}\">")), "{name}");
        assert!(html.contains(&format!("id=\"{name}-hint\"")), "{name}");
        assert!(
            html.contains(&format!(
                "name=\"{name}\" type=\"number\" value=\"{value}\""
            )),
            "{name} = {value}"
        );
    }
}

#[tokio::test]
async fn invalid_policy_values_are_refused_and_nothing_changes() {
    let app = spawn_app().await;
    let admin = app.sign_in(&app.create_user(Role::Admin)).await;
    let (before, stamp) = policy_row(&app);
    let cases: [(&str, &str); 10] = [
        ("max_upcoming", "0"),
        ("max_upcoming", "101"),
        ("max_upcoming_per_topic", "two"),
        ("max_per_month", "1001"),
        ("late_cancel_hours", "-1"),
        ("late_cancel_hours", "337"),
        ("noshow_strikes", "1.5"),
        ("noshow_window_days", "0"),
        ("noshow_pause_days", "366"),
        ("noshow_pause_days", ""),
    ];
    for (field, value) in cases {
        // A valid change rides along: it must not be saved either.
        let rider = if field == "max_upcoming" {
            ("max_per_month", "9")
        } else {
            ("max_upcoming", "3")
        };
        let res = post_policy(&app, &admin, &[(field, value), rider]).await;
        assert_eq!(
            res.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}={value}"
        );
        let html = res.text().await.unwrap();
        assert!(html.contains("Nothing was saved"), "{html}");
        assert!(
            html.contains(&format!("aria-describedby=\"{field}-error {field}-hint\"")),
            "{field}={value}"
        );
        assert!(html.contains(&format!("id=\"{field}-error\"")));
        for other in POLICY_FIELDS.iter().filter(|f| **f != field) {
            assert!(!html.contains(&format!("id=\"{other}-error\"")), "{other}");
        }
        assert!(
            html.contains(&format!(
                "name=\"{field}\" type=\"number\" value=\"{value}\""
            )),
            "input kept: {field}={value}"
        );
    }
    let (after, stamp_after) = policy_row(&app);
    assert!(same(&before, &after), "{after:?}");
    assert_eq!(stamp, stamp_after);
    assert!(audit_of(&app, "policy").is_empty());
}

#[tokio::test]
async fn a_policy_change_is_saved_audited_and_applies_to_the_next_booking() {
    let app = spawn_app().await;
    let admin = app.sign_in(&app.create_user(Role::Admin)).await;
    let f = fixture(&app);

    // The same values: nothing written.
    let res = post_policy(&app, &admin, &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/admin/policy?notice=unchanged");
    assert!(audit_of(&app, "policy").is_empty());

    app.clock.advance(chrono::Duration::hours(1));
    let res = post_policy(
        &app,
        &admin,
        &[("max_upcoming", " 1 "), ("late_cancel_hours", "24")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let to = location(&res);
    assert_eq!(to, "/admin/policy?notice=saved");
    let (saved, stamp) = policy_row(&app);
    assert_eq!(saved.max_upcoming, 1);
    assert_eq!(saved.late_cancel_hours, 24);
    assert_eq!(saved.max_upcoming_per_topic, 1);
    assert_eq!(saved.max_per_month, 4);
    assert_eq!(stamp, app.clock.now(), "updated_at from the app clock");
    assert!(same(&load_policy(&mut app.conn()).unwrap(), &saved));
    assert_eq!(
        audit_of(&app, "policy"),
        vec![(
            "policy.update".to_owned(),
            Some(admin.user.id),
            None,
            json!({
                "old": {"max_upcoming": 2, "late_cancel_hours": 12},
                "new": {"max_upcoming": 1, "late_cancel_hours": 24},
            }),
        )]
    );
    let (_, html) = get(&app, &admin, &to).await;
    assert!(html.contains("The policy is saved"));
    assert!(html.contains("name=\"max_upcoming\" type=\"number\" value=\"1\""));

    // One upcoming session at most now: a second (other topic) is refused.
    let learner = app.sign_in(&app.create_user(Role::Learner)).await;
    book(
        &app,
        &learner,
        f.mentor.id,
        "sql-basics",
        at(2026, 6, 16, 12, 0),
    )
    .await;
    let res = post_booking(
        &app,
        &learner,
        f.mentor.id,
        "deep-dive",
        at(2026, 6, 17, 12, 0),
    )
    .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let html = res.text().await.unwrap();
    assert!(html.contains("1 upcoming session booked"), "{html}");
}

// ---------------------------------------------------------------- roles

#[tokio::test]
async fn mentors_and_learners_get_403_on_every_new_route_and_change_nothing() {
    let app = spawn_app().await;
    let f = fixture(&app);
    let topic_before = all_topics(&app);
    let (policy_before, stamp) = policy_row(&app);
    for role in [Role::Learner, Role::Mentor] {
        let who = app.sign_in(&app.create_user(role)).await;
        for path in [
            "/admin/topics".to_owned(),
            format!("/admin/topics/{}", f.topic),
            "/admin/policy".to_owned(),
        ] {
            let (status, _) = get(&app, &who, &path).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{role} GET {path}");
        }
        let mut policy = policy_form(&[("max_upcoming", "1")]);
        policy.push(("csrf_token", who.csrf.clone()));
        let posts: Vec<(String, Vec<(&str, &str)>)> = vec![
            ("/admin/topics".into(), CREATE.to_vec()),
            (
                format!("/admin/topics/{}", f.topic),
                vec![
                    ("title", "Hijacked"),
                    ("description", ""),
                    ("duration_minutes", "90"),
                ],
            ),
            (format!("/admin/topics/{}/deactivate", f.topic), vec![]),
            (format!("/admin/topics/{}/activate", f.topic), vec![]),
        ];
        for (path, fields) in &posts {
            let res = act(&app, &who, path, fields).await;
            assert_eq!(res.status(), StatusCode::FORBIDDEN, "{role} POST {path}");
        }
        let res = app
            .post_form(
                &who.client,
                "/admin/policy",
                &policy
                    .iter()
                    .map(|(k, v)| (*k, v.as_str()))
                    .collect::<Vec<_>>(),
            )
            .await;
        assert_eq!(
            res.status(),
            StatusCode::FORBIDDEN,
            "{role} POST /admin/policy"
        );
    }
    // Anonymous visitors are sent to sign in.
    for path in ["/admin/topics", "/admin/policy"] {
        let res = app.get(path).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{path}");
        assert!(location(&res).starts_with("/login?next="));
    }
    let after = all_topics(&app);
    assert_eq!(
        after.iter().map(|t| format!("{t:?}")).collect::<Vec<_>>(),
        topic_before
            .iter()
            .map(|t| format!("{t:?}"))
            .collect::<Vec<_>>()
    );
    let (policy_after, stamp_after) = policy_row(&app);
    assert!(same(&policy_before, &policy_after));
    assert_eq!(stamp, stamp_after);
    assert!(audit_of(&app, "topic").is_empty());
    assert!(audit_of(&app, "policy").is_empty());
}
