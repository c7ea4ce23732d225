//! The mentor's workspace: the dashboard at `/mentor` (sessions in the
//! mentor's zone, counts, a bounded number of queries), marking sessions
//! completed or no-show (who, when, audited), and the secret calendar
//! feed (valid iCalendar, the emails' UIDs, regeneration).

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use icalendar::parser::{read_calendar, unfold};
use officehours::accounts::{Role, User};
use officehours::db::schema::{audit_log, bookings, users};
use reqwest::StatusCode;
use uuid::Uuid;

use crate::booking_fixture::*;
use crate::harness::{SignedIn, TestApp, location, new_client, spawn_app};

fn rename(app: &TestApp, user: &User, name: &str) -> User {
    diesel::update(users::table.find(user.id))
        .set(users::display_name.eq(name))
        .execute(&mut app.conn())
        .unwrap();
    let mut u = user.clone();
    u.display_name = name.to_owned();
    u
}

async fn html(app: &TestApp, who: &SignedIn, path: &str) -> (StatusCode, String) {
    let res = who.client.get(app.url(path)).send().await.unwrap();
    let status = res.status();
    (status, res.text().await.unwrap())
}

async fn mark(app: &TestApp, who: &SignedIn, id: Uuid, outcome: &str) -> reqwest::Response {
    app.post_form(
        &who.client,
        &format!("/mentor/sessions/{id}/outcome"),
        &[("csrf_token", &who.csrf), ("outcome", outcome)],
    )
    .await
}

/// Status, marked at, marked by.
fn outcome_of(app: &TestApp, id: Uuid) -> (String, Option<DateTime<Utc>>, Option<Uuid>) {
    bookings::table
        .find(id)
        .select((
            bookings::status,
            bookings::outcome_marked_at,
            bookings::outcome_marked_by,
        ))
        .first(&mut app.conn())
        .unwrap()
}

fn audit_of(app: &TestApp, action: &str) -> Vec<(Option<Uuid>, Option<Uuid>, serde_json::Value)> {
    audit_log::table
        .filter(audit_log::action.eq(action))
        .order(audit_log::at)
        .select((
            audit_log::actor_user_id,
            audit_log::subject_id,
            audit_log::details,
        ))
        .load(&mut app.conn())
        .unwrap()
}

// ---------------------------------------------------------------- dashboard

#[tokio::test]
async fn the_dashboard_lists_todays_and_upcoming_sessions_in_the_mentors_zone() {
    let app = spawn_app().await;
    let f = fixture(&app);
    let mentor = set_zone(&app, &f.mentor, "America/New_York");
    let ada = rename(&app, &app.create_user(Role::Learner), "Ada Lovelace");
    let bob = rename(&app, &app.create_user(Role::Learner), "Bob Builder");
    let ada_in = app.sign_in(&ada).await;
    let bob_in = app.sign_in(&bob).await;
    // 09:00 EDT today, 10:00 EDT tomorrow (the rules run 08–20 in New York now).
    let today = book(
        &app,
        &ada_in,
        mentor.id,
        "sql-basics",
        at(2026, 6, 15, 13, 0),
    )
    .await;
    let later = book(
        &app,
        &bob_in,
        mentor.id,
        "sql-basics",
        at(2026, 6, 16, 14, 0),
    )
    .await;

    let me = app.sign_in(&mentor).await;
    let (status, body) = html(&app, &me, "/mentor").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("<title>Mentor · Office Hours</title>"));
    assert_eq!(body.matches("<main").count(), 1);
    assert!(
        body.contains("Monday 15 June 2026, 09:00–09:30 EDT (America/New_York)"),
        "{body}"
    );
    assert!(body.contains("Tuesday 16 June 2026, 10:00–10:30 EDT (America/New_York)"));
    assert!(body.contains("Ada Lovelace") && body.contains("Bob Builder"));
    assert!(body.contains(GOALS));
    assert!(body.contains("Topic sql-basics"));
    assert!(body.contains("https://meet.example.org/room-1"));
    // Today's comes under Today, tomorrow's under Upcoming.
    let today_at = body.find("id=\"today-heading\"").unwrap();
    let upcoming_at = body.find("id=\"upcoming-heading\"").unwrap();
    let past_at = body.find("id=\"past-heading\"").unwrap();
    let first = body.find(&format!("href=\"/bookings/{today}\"")).unwrap();
    let second = body.find(&format!("href=\"/bookings/{later}\"")).unwrap();
    assert!(
        today_at < first && first < upcoming_at,
        "today's session under Today"
    );
    assert!(
        upcoming_at < second && second < past_at,
        "tomorrow's under Upcoming"
    );
    // Each has a cancel form with a required reason, posting to the booking.
    for id in [today, later] {
        assert!(body.contains(&format!("action=\"/bookings/{id}/cancel\"")));
        assert!(body.contains(&format!("<label for=\"reason-{id}\">")));
    }
    assert!(body.contains("required aria-describedby=\"reason-hint-"));
    // Nothing to mark before the start.
    assert!(!body.contains("/outcome\""));
    // The setup facts link on.
    assert!(body.contains("href=\"/mentor/availability\""));
    assert!(body.contains("href=\"/mentor/settings\""));
    assert!(body.contains("Accepting bookings"));
    assert!(body.contains("2 topics offered"));
    // This week and month: two booked.
    assert!(body.contains("This week<br><span class=\"meta\">from Mon 15 Jun</span>"));
    assert!(body.contains("This month<br><span class=\"meta\">June 2026</span>"));
    assert!(
        body.contains("<th scope=\"row\">Booked</th><td>2</td><td>2</td>"),
        "{body}"
    );
    assert!(body.contains("<th scope=\"row\">Completed</th><td>0</td><td>0</td>"));

    // The cancel form works from here, and a reason is required.
    let res = app
        .post_form(
            &me.client,
            &format!("/bookings/{later}/cancel"),
            &[("csrf_token", &me.csrf), ("reason", "  ")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(booking(&app, later).status, "confirmed");
    let res = app
        .post_form(
            &me.client,
            &format!("/bookings/{later}/cancel"),
            &[("csrf_token", &me.csrf), ("reason", "I am ill, sorry.")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, body) = html(&app, &me, "/mentor").await;
    assert!(
        body.contains("Cancelled by you: “I am ill, sorry.”"),
        "{body}"
    );
    assert!(!body.contains(&format!("action=\"/bookings/{later}/cancel\"")));
}

#[tokio::test]
async fn the_counts_are_per_local_week_and_month() {
    let app = spawn_app().await;
    let f = fixture(&app);
    let l = app.create_user(Role::Learner).id;
    let m = f.mentor.id;
    // Berlin: the week of Monday 15 June, the month of June.
    insert_booking(&app, m, l, f.topic, at(2026, 6, 15, 6, 0), "completed");
    insert_booking(&app, m, l, f.topic, at(2026, 6, 15, 7, 0), "no_show");
    insert_booking(&app, m, l, f.topic, at(2026, 6, 17, 7, 0), "cancelled");
    insert_booking(&app, m, l, f.topic, at(2026, 6, 18, 7, 0), "confirmed");
    // Sunday 14 June 22:30 UTC is already Monday in Berlin: this week.
    insert_booking(&app, m, l, f.topic, at(2026, 6, 14, 22, 30), "completed");
    // Earlier in June (month only), May, and July: outside.
    insert_booking(&app, m, l, f.topic, at(2026, 6, 3, 7, 0), "no_show");
    insert_booking(&app, m, l, f.topic, at(2026, 5, 31, 21, 30), "completed");
    insert_booking(&app, m, l, f.topic, at(2026, 7, 1, 7, 0), "confirmed");
    let now = app.clock.now();
    let (week, month) = officehours::bookings::mentor::periods(now, chrono_tz::Europe::Berlin);
    let c = officehours::bookings::mentor::counts(&mut app.conn(), m, week, month).unwrap();
    assert_eq!(
        (
            c.week.completed,
            c.week.no_shows,
            c.week.booked,
            c.week.cancelled
        ),
        (2, 1, 1, 1)
    );
    assert_eq!(
        (
            c.month.completed,
            c.month.no_shows,
            c.month.booked,
            c.month.cancelled
        ),
        (2, 2, 1, 1)
    );
}

/// SQL statements the dashboard runs for `who`.
async fn dashboard_queries(app: &TestApp, who: &SignedIn) -> u64 {
    let before = app.state.queries.get();
    let (status, body) = html(app, who, "/mentor").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Past 30 days"));
    app.state.queries.get() - before
}

#[tokio::test]
async fn the_dashboard_runs_the_same_queries_for_one_session_or_twenty() {
    let app = spawn_app().await;
    let f = fixture(&app);
    let me = app.sign_in(&f.mentor).await;
    let first = app.create_user(Role::Learner).id;
    insert_booking(
        &app,
        f.mentor.id,
        first,
        f.topic,
        at(2026, 6, 16, 10, 0),
        "confirmed",
    );
    let one = dashboard_queries(&app, &me).await;
    // Nineteen more, each with its own learner, past and future, every status.
    let statuses = ["confirmed", "completed", "no_show", "cancelled"];
    for i in 0..19_i64 {
        let learner = app.create_user(Role::Learner).id;
        let start = at(2026, 6, 5, 7, 0) + Duration::days(i);
        let status = if start > app.clock.now() {
            "confirmed"
        } else {
            statuses[(i % 4) as usize]
        };
        insert_booking(&app, f.mentor.id, learner, f.topic, start, status);
    }
    let twenty = dashboard_queries(&app, &me).await;
    let (_, body) = html(&app, &me, "/mentor").await;
    assert_eq!(
        body.matches("class=\"session-item mentor-session\"")
            .count(),
        20
    );
    assert_eq!(one, twenty, "no query per session");
    assert!(twenty <= 12, "{twenty}");
}

// ---------------------------------------------------------------- outcome

#[tokio::test]
async fn marking_an_outcome_follows_the_rules() {
    let app = spawn_app().await;
    let f = fixture(&app);
    let learner = app.create_user(Role::Learner);
    let learner_in = app.sign_in(&learner).await;
    let start = at(2026, 6, 16, 12, 0);
    let id = book(&app, &learner_in, f.mentor.id, "sql-basics", start).await;
    let other_mentor = app.create_user(Role::Mentor);
    let admin = app.create_user(Role::Admin);

    // Before the start: refused, nothing changes.
    let me = app.sign_in(&f.mentor).await;
    let res = mark(&app, &me, id, "completed").await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let body = res.text().await.unwrap();
    assert!(body.contains("has not started yet"), "{body}");
    assert_eq!(outcome_of(&app, id), ("confirmed".into(), None, None));

    // Ten minutes in: completed.
    let t1 = start + Duration::minutes(10);
    app.clock.set(t1);
    let me = app.sign_in(&f.mentor).await;
    let (_, body) = html(&app, &me, "/mentor").await;
    assert!(body.contains(&format!("action=\"/mentor/sessions/{id}/outcome\"")));
    assert!(body.contains("Not marked yet"));
    let res = mark(&app, &me, id, "completed").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&res),
        format!("/mentor?notice=completed#session-{id}")
    );
    assert_eq!(
        outcome_of(&app, id),
        ("completed".into(), Some(t1), Some(f.mentor.id))
    );

    // Three days later: changed to a no-show.
    let t2 = start + Duration::days(3);
    app.clock.set(t2);
    let me = app.sign_in(&f.mentor).await;
    let res = mark(&app, &me, id, "no_show").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        outcome_of(&app, id),
        ("no_show".into(), Some(t2), Some(f.mentor.id))
    );
    let (_, body) = html(&app, &me, "/mentor?notice=no_show").await;
    assert!(body.contains("Saved: the session is marked as a no-show."));
    assert!(body.contains("booking-status-no_show\">No-show<"), "{body}");

    // Another mentor, or an admin who is not its mentor: 404; a learner
    // (its own learner too): 403. Nothing changes.
    let other = app.sign_in(&other_mentor).await;
    assert_eq!(
        mark(&app, &other, id, "completed").await.status(),
        StatusCode::NOT_FOUND
    );
    let admin_in = app.sign_in(&admin).await;
    assert_eq!(
        mark(&app, &admin_in, id, "completed").await.status(),
        StatusCode::NOT_FOUND
    );
    let learner_in = app.sign_in(&learner).await;
    assert_eq!(
        mark(&app, &learner_in, id, "completed").await.status(),
        StatusCode::FORBIDDEN
    );
    // Unknown ids, bad values and a missing CSRF token change nothing either.
    assert_eq!(
        mark(&app, &me, Uuid::now_v7(), "completed").await.status(),
        StatusCode::NOT_FOUND
    );
    let res = app
        .post_form(
            &me.client,
            "/mentor/sessions/not-a-uuid/outcome",
            &[("csrf_token", &me.csrf), ("outcome", "completed")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        mark(&app, &me, id, "cancelled").await.status(),
        StatusCode::BAD_REQUEST
    );
    let res = app
        .post_form(
            &me.client,
            &format!("/mentor/sessions/{id}/outcome"),
            &[("outcome", "completed")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        outcome_of(&app, id),
        ("no_show".into(), Some(t2), Some(f.mentor.id))
    );

    // More than 7 days after the start: refused, and no more buttons.
    app.clock
        .set(start + Duration::days(7) + Duration::minutes(1));
    let me = app.sign_in(&f.mentor).await;
    let res = mark(&app, &me, id, "completed").await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert!(res.text().await.unwrap().contains("more than 7 days ago"));
    assert_eq!(
        outcome_of(&app, id),
        ("no_show".into(), Some(t2), Some(f.mentor.id))
    );
    let (_, body) = html(&app, &me, "/mentor").await;
    assert!(!body.contains(&format!("action=\"/mentor/sessions/{id}/outcome\"")));

    // One audit entry per change, with the old and the new status.
    let entries = audit_of(&app, "booking.outcome");
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert_eq!(entries[0].0, Some(f.mentor.id));
    assert_eq!(entries[0].1, Some(id));
    assert_eq!(entries[0].2["from"], "confirmed");
    assert_eq!(entries[0].2["to"], "completed");
    assert_eq!(entries[1].2["from"], "completed");
    assert_eq!(entries[1].2["to"], "no_show");
}

#[tokio::test]
async fn a_cancelled_session_cannot_be_marked() {
    let app = spawn_app().await;
    let f = fixture(&app);
    let learner = app.sign_in(&app.create_user(Role::Learner)).await;
    let start = at(2026, 6, 16, 12, 0);
    let id = book(&app, &learner, f.mentor.id, "sql-basics", start).await;
    let res = app
        .post_form(
            &learner.client,
            &format!("/bookings/{id}/cancel"),
            &[("csrf_token", &learner.csrf), ("reason", "")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    app.clock.set(start + Duration::hours(1));
    let me = app.sign_in(&f.mentor).await;
    let res = mark(&app, &me, id, "no_show").await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert!(res.text().await.unwrap().contains("was cancelled"));
    assert_eq!(outcome_of(&app, id), ("cancelled".into(), None, None));
    assert!(audit_of(&app, "booking.outcome").is_empty());
}

// ---------------------------------------------------------------- feed

/// One VEVENT's properties, owned: (name, value).
type Event = Vec<(String, String)>;

/// Parses a feed with the `icalendar` crate (the raw parser and the typed
/// model); returns the calendar's properties and its events.
fn parse_feed(text: &str) -> (Vec<(String, String)>, Vec<Event>) {
    assert!(text.ends_with("\r\n"), "content lines end with CRLF");
    let unfolded = unfold(text);
    let cal = read_calendar(&unfolded).unwrap_or_else(|e| panic!("not iCalendar ({e}):\n{text}"));
    let own = |p: &icalendar::parser::Property<'_>| {
        (p.name.as_str().to_owned(), p.val.as_str().to_owned())
    };
    let events: Vec<Event> = cal
        .components
        .iter()
        .filter(|c| c.name == "VEVENT")
        .map(|c| c.properties.iter().map(own).collect())
        .collect();
    let typed: icalendar::Calendar = text.parse().expect("the typed model accepts it");
    assert_eq!(typed.components.len(), events.len());
    (cal.properties.iter().map(own).collect(), events)
}

fn prop<'a>(props: &'a [(String, String)], name: &str) -> Option<&'a str> {
    props
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn event_of(events: &[Event], id: Uuid) -> Option<&Event> {
    let uid = format!("{id}@officehours.test");
    events.iter().find(|e| prop(e, "UID") == Some(uid.as_str()))
}

/// The feed path the dashboard shows, if any.
fn shown_feed(app: &TestApp, body: &str) -> Option<String> {
    let prefix = format!("{}/mentor/feed/", app.address);
    let start = body.find(&prefix)? + app.address.len();
    let end = body[start..].find(".ics").unwrap() + start + 4;
    Some(body[start..end].to_owned())
}

/// POSTs `/mentor/feed`, follows it back to the dashboard; returns the
/// feed path shown there. `replacing`: the mentor had one already.
async fn new_feed(app: &TestApp, me: &SignedIn, replacing: bool) -> String {
    let res = app
        .post_form(&me.client, "/mentor/feed", &[("csrf_token", &me.csrf)])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let notice = if replacing {
        "feed-replaced"
    } else {
        "feed-made"
    };
    let back = location(&res);
    assert_eq!(back, format!("/mentor?notice={notice}#feed-heading"));
    let res = me
        .client
        .get(app.url(back.trim_end_matches("#feed-heading")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body = res.text().await.unwrap();
    let path = shown_feed(app, &body).expect("the new URL, absolute");
    assert_eq!(
        body.contains("The earlier one has stopped working"),
        replacing
    );
    assert_eq!(body.contains("Your feed URL is ready"), !replacing);
    // Replacing it takes a second step (opening the disclosure).
    assert!(body.contains("<summary>Replace the feed URL…</summary>"));
    // 256 bits, URL-safe base64.
    let token = path
        .trim_start_matches("/mentor/feed/")
        .trim_end_matches(".ics");
    assert_eq!(token.len(), 43, "{token}");
    path
}

#[tokio::test]
async fn the_feed_is_valid_icalendar_with_the_emails_uids() {
    let app = spawn_app().await;
    let f = fixture(&app);
    let ada = rename(&app, &app.create_user(Role::Learner), "Ada Lovelace");
    let ada_in = app.sign_in(&ada).await;
    let bob_in = app.sign_in(&app.create_user(Role::Learner)).await;
    let upcoming = book(
        &app,
        &ada_in,
        f.mentor.id,
        "sql-basics",
        at(2026, 6, 16, 12, 0),
    )
    .await;
    let cancelled = book(
        &app,
        &bob_in,
        f.mentor.id,
        "sql-basics",
        at(2026, 6, 17, 12, 0),
    )
    .await;
    let res = app
        .post_form(
            &bob_in.client,
            &format!("/bookings/{cancelled}/cancel"),
            &[("csrf_token", &bob_in.csrf), ("reason", "Sorry.")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let l = app.create_user(Role::Learner).id;
    let recent = insert_booking(
        &app,
        f.mentor.id,
        l,
        f.topic,
        at(2026, 6, 5, 7, 0),
        "completed",
    );
    let old = insert_booking(
        &app,
        f.mentor.id,
        l,
        f.topic,
        at(2026, 5, 10, 7, 0),
        "completed",
    );
    // Another mentor's session is not in it.
    let other = mentor(&app, |_| {});
    let foreign = insert_booking(
        &app,
        other.id,
        l,
        f.topic,
        at(2026, 6, 18, 7, 0),
        "confirmed",
    );
    // A session the mentor attends as a learner is (their time is taken),
    // with its own mentor's meeting link; not one of 36 days ago.
    let host = mentor(&app, |p| {
        p.meeting_url = Some("https://meet.example.org/host-room".into());
    });
    let host = rename(&app, &host, "Grace Hopper");
    let attended = insert_booking(
        &app,
        host.id,
        f.mentor.id,
        f.topic,
        at(2026, 6, 15, 7, 0),
        "confirmed",
    );
    let attended_long_ago = insert_booking(
        &app,
        host.id,
        f.mentor.id,
        f.topic,
        at(2026, 5, 10, 9, 0),
        "completed",
    );

    let me = app.sign_in(&f.mentor).await;
    let (_, body) = html(&app, &me, "/mentor").await;
    assert!(body.contains("You have no feed URL yet."));
    let path = new_feed(&app, &me, false).await;

    // No sign-in needed: a fresh client.
    let anon = new_client();
    // Some calendar apps ask with HEAD before they subscribe.
    let head = anon.head(app.url(&path)).send().await.unwrap();
    let res = anon.get(app.url(&path)).send().await.unwrap();
    for r in [&head, &res] {
        assert_eq!(r.status(), StatusCode::OK);
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/calendar")
        );
    }
    let text = res.text().await.unwrap();
    let (cal, events) = parse_feed(&text);
    assert_eq!(prop(&cal, "VERSION"), Some("2.0"));
    assert!(
        text.contains("X-WR-CALNAME:Office Hours: Test mentor\r\n"),
        "{text}"
    );
    assert_eq!(events.len(), 4, "{text}");
    // In time order, whichever side of the session the mentor is on.
    let starts: Vec<&str> = events.iter().map(|e| prop(e, "DTSTART").unwrap()).collect();
    let mut sorted = starts.clone();
    sorted.sort_unstable();
    assert_eq!(starts, sorted);
    let a = event_of(&events, attended).expect("the session they attend");
    assert_eq!(prop(a, "STATUS"), Some("CONFIRMED"));
    assert_eq!(prop(a, "DTSTART"), Some("20260615T070000Z"));
    assert!(
        prop(a, "SUMMARY").unwrap().contains("Grace Hopper"),
        "{text}"
    );
    assert_eq!(
        prop(a, "LOCATION"),
        Some("https://meet.example.org/host-room")
    );
    assert!(event_of(&events, attended_long_ago).is_none());
    let e = event_of(&events, upcoming).expect("the upcoming session");
    assert_eq!(prop(e, "STATUS"), Some("CONFIRMED"));
    assert_eq!(prop(e, "SEQUENCE"), Some("0"));
    assert_eq!(prop(e, "DTSTART"), Some("20260616T120000Z"));
    assert!(prop(e, "SUMMARY").unwrap().contains("Ada Lovelace"));
    assert!(prop(e, "DESCRIPTION").unwrap().contains(GOALS));
    assert_eq!(prop(e, "LOCATION"), Some("https://meet.example.org/room-1"));
    let c = event_of(&events, cancelled).expect("the cancelled session");
    assert_eq!(prop(c, "STATUS"), Some("CANCELLED"));
    assert_eq!(
        prop(c, "SEQUENCE").unwrap(),
        booking(&app, cancelled).sequence.to_string()
    );
    assert!(booking(&app, cancelled).sequence > 0);
    assert!(event_of(&events, recent).is_some(), "10 days ago is in");
    assert!(event_of(&events, old).is_none(), "36 days ago is out");
    assert!(event_of(&events, foreign).is_none());

    // The dashboard shows the same URL on every visit (a reload makes no
    // new one), without the "new" notice.
    let (_, body) = html(&app, &me, "/mentor").await;
    assert_eq!(shown_feed(&app, &body).as_deref(), Some(path.as_str()));
    assert!(!body.contains("Your feed URL is ready"));
    assert!(body.contains("Keep it private"));
    assert_eq!(audit_of(&app, "calendar_feed.regenerate").len(), 1);
    // Nobody else's dashboard shows it.
    let other_mentor = app.sign_in(&mentor(&app, |_| {})).await;
    let (_, body) = html(&app, &other_mentor, "/mentor").await;
    assert_eq!(shown_feed(&app, &body), None);
    assert!(body.contains("You have no feed URL yet"));

    // A token that can no longer be made again (the server key changed:
    // here, its nonce), or one made before tokens were derived (no nonce),
    // still works; the dashboard says it cannot show it, and shows no
    // wrong one.
    for change in ["nonce = gen_random_uuid()", "nonce = NULL"] {
        diesel::sql_query(format!("UPDATE calendar_feeds SET {change}"))
            .execute(&mut app.conn())
            .unwrap();
        let (_, body) = html(&app, &me, "/mentor").await;
        assert_eq!(shown_feed(&app, &body), None, "{change}");
        assert!(body.contains("cannot be shown again here"), "{body}");
        assert_eq!(
            anon.get(app.url(&path)).send().await.unwrap().status(),
            StatusCode::OK
        );
    }

    // Unknown tokens, and the path without `.ics`: 404.
    let bogus = format!("/mentor/feed/{}.ics", "A".repeat(43));
    assert_eq!(
        anon.get(app.url(&bogus)).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    let bare = path.trim_end_matches(".ics");
    assert_eq!(
        anon.get(app.url(bare)).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    let long = format!("/mentor/feed/{}.ics", "A".repeat(500));
    assert_eq!(
        anon.get(app.url(&long)).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn regenerating_the_feed_retires_the_old_url() {
    let app = spawn_app().await;
    let f = fixture(&app);
    let me = app.sign_in(&f.mentor).await;
    let anon = new_client();
    let first = new_feed(&app, &me, false).await;
    assert_eq!(
        anon.get(app.url(&first)).send().await.unwrap().status(),
        StatusCode::OK
    );
    let second = new_feed(&app, &me, true).await;
    assert_ne!(first, second);
    assert_eq!(
        anon.get(app.url(&first)).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    let res = anon.get(app.url(&second)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let (_, events) = parse_feed(&res.text().await.unwrap());
    assert!(events.is_empty());
    // Audited, without the token.
    let entries = audit_of(&app, "calendar_feed.regenerate");
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].0, Some(f.mentor.id));
    assert_eq!(entries[0].2["replaced"], false);
    assert_eq!(entries[1].2["replaced"], true);
    let token = second
        .trim_start_matches("/mentor/feed/")
        .trim_end_matches(".ics");
    assert!(!entries[1].2.to_string().contains(token));
    // Without CSRF, nothing changes; a learner is refused.
    let res = app.post_form(&me.client, "/mentor/feed", &[]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let learner = app.sign_in(&app.create_user(Role::Learner)).await;
    let res = app
        .post_form(
            &learner.client,
            "/mentor/feed",
            &[("csrf_token", &learner.csrf)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        anon.get(app.url(&second)).send().await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(audit_of(&app, "calendar_feed.regenerate").len(), 2);

    // A disabled mentor's feed answers 404.
    diesel::update(users::table.find(f.mentor.id))
        .set(users::disabled_at.eq(Some(app.clock.now())))
        .execute(&mut app.conn())
        .unwrap();
    assert_eq!(
        anon.get(app.url(&second)).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
}
