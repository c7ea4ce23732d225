//! `GET|POST /admin/bookings/{id}/reassign`: an admin gives an upcoming
//! booking to another mentor who offers the topic and is free then. The
//! booking keeps its id and calendar UID (SEQUENCE + 1): the learner and
//! the new mentor get the invitation, the previous mentor a cancellation;
//! every refusal leaves everything as it was; a reassignment racing a
//! learner for the new mentor's time ends with exactly one winner.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use icalendar::parser::{read_calendar, unfold};
use officehours::accounts::{Role, User};
use officehours::bookings::manage;
use officehours::db::schema::{audit_log, bookings, email_outbox, users};
use officehours::email::outbox::OutboxRow;
use reqwest::StatusCode;
use uuid::Uuid;

use crate::booking_fixture::*;
use crate::harness::{SignedIn, TestApp, location, new_client, spawn_app};

/// The content lines of a calendar: (name, value), the calendar's own and
/// its one VEVENT's, parsed with the `icalendar` crate.
struct Cal {
    cal: Vec<(String, String)>,
    event: Vec<(String, String)>,
}

impl Cal {
    fn cal(&self, name: &str) -> &str {
        self.cal
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no {name}"))
    }

    fn ev(&self, name: &str) -> &str {
        let all = self.all(name);
        assert_eq!(all.len(), 1, "exactly one {name}: {:?}", self.event);
        all[0]
    }

    fn all(&self, name: &str) -> Vec<&str> {
        self.event
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn sequence(&self) -> i32 {
        self.ev("SEQUENCE").parse().unwrap()
    }
}

fn parse_cal(text: &str) -> Cal {
    let unfolded = unfold(text);
    let cal = read_calendar(&unfolded).unwrap_or_else(|e| panic!("not iCalendar ({e}):\n{text}"));
    let own = |p: &icalendar::parser::Property<'_>| {
        (p.name.as_str().to_owned(), p.val.as_str().to_owned())
    };
    let events: Vec<_> = cal
        .components
        .iter()
        .filter(|c| c.name == "VEVENT")
        .collect();
    assert_eq!(events.len(), 1, "one VEVENT:\n{text}");
    let _typed: icalendar::Calendar = text.parse().expect("the typed model accepts it");
    Cal {
        cal: cal.properties.iter().map(own).collect(),
        event: events[0].properties.iter().map(own).collect(),
    }
}

/// The outbox rows of a booking, oldest first.
fn outbox_of(app: &TestApp, booking: Uuid) -> Vec<OutboxRow> {
    email_outbox::table
        .filter(email_outbox::booking_id.eq(booking))
        .order((email_outbox::created_at, email_outbox::id))
        .select(OutboxRow::as_select())
        .load(&mut app.conn())
        .unwrap()
}

/// The one calendar attachment of a message: its `method=` and content.
fn invite(row: &OutboxRow) -> (String, Cal) {
    let atts = row.attachments();
    assert_eq!(atts.len(), 1, "{}: {:?}", row.kind, atts);
    let method = atts[0]
        .content_type
        .split("method=")
        .nth(1)
        .unwrap()
        .to_owned();
    (method, parse_cal(&atts[0].content))
}

fn reassign_audits(app: &TestApp, booking: Uuid) -> Vec<(Option<Uuid>, serde_json::Value)> {
    audit_log::table
        .filter(audit_log::action.eq("booking.reassign"))
        .filter(audit_log::subject_id.eq(booking))
        .select((audit_log::actor_user_id, audit_log::details))
        .load(&mut app.conn())
        .unwrap()
}

async fn post_reassign(
    app: &TestApp,
    who: &SignedIn,
    booking: Uuid,
    mentor: &str,
) -> reqwest::Response {
    app.post_form(
        &who.client,
        &format!("/admin/bookings/{booking}/reassign"),
        &[("csrf_token", &who.csrf), ("mentor", mentor)],
    )
    .await
}

async fn get_text(who: &SignedIn, app: &TestApp, path: &str) -> (StatusCode, String) {
    let res = who.client.get(app.url(path)).send().await.unwrap();
    let status = res.status();
    (status, res.text().await.unwrap())
}

/// Whether the public page of `mentor` offers `start` for `sql-basics`.
async fn page_offers(app: &TestApp, mentor: Uuid, start: DateTime<Utc>) -> bool {
    let res = app
        .get(&format!(
            "/mentors/{mentor}?topic=sql-basics&week=2026-06-15"
        ))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    res.text()
        .await
        .unwrap()
        .contains(&format!("start={}", rfc(start)))
}

/// What must not move when a reassignment is refused.
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    mentor: Uuid,
    sequence: i32,
    status: String,
    start: DateTime<Utc>,
    outbox: usize,
    audits: usize,
}

fn snapshot(app: &TestApp, id: Uuid) -> Snapshot {
    let b = booking(app, id);
    Snapshot {
        mentor: b.mentor_id,
        sequence: b.sequence,
        status: b.status,
        start: b.start_at,
        outbox: outbox_of(app, id).len(),
        audits: reassign_audits(app, id).len(),
    }
}

struct World {
    f: Fixture,
    /// Offers `sql-basics`, free all day.
    other: User,
    learner: SignedIn,
    admin: SignedIn,
}

async fn world(app: &TestApp) -> World {
    let f = fixture(app);
    let other = mentor(app, |p| {
        p.meeting_url = Some("https://meet.example.org/room-2".into());
    });
    offer(app, &other, f.topic);
    let learner = app.sign_in(&app.create_user(Role::Learner)).await;
    let admin = app.sign_in(&app.create_user(Role::Admin)).await;
    World {
        f,
        other,
        learner,
        admin,
    }
}

#[tokio::test]
async fn an_admin_reassigns_a_booking_to_a_free_mentor() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let start = at(2026, 6, 16, 12, 0);
    let id = book(&app, &w.learner, w.f.mentor.id, "sql-basics", start).await;
    let before = booking(&app, id);
    // Not candidates: a mentor without the topic, one busy then, one
    // disabled, one not accepting bookings.
    let no_topic = mentor(&app, |_| {});
    let busy = mentor(&app, |_| {});
    offer(&app, &busy, w.f.topic);
    let someone = app.sign_in(&app.create_user(Role::Learner)).await;
    book(&app, &someone, busy.id, "sql-basics", start).await;
    let disabled = mentor(&app, |_| {});
    offer(&app, &disabled, w.f.topic);
    diesel::update(users::table.find(disabled.id))
        .set(users::disabled_at.eq(Some(app.clock.now())))
        .execute(&mut app.conn())
        .unwrap();
    let closed = mentor(&app, |p| p.accepting_bookings = false);
    offer(&app, &closed, w.f.topic);

    assert!(page_offers(&app, w.other.id, start).await);
    assert!(!page_offers(&app, w.f.mentor.id, start).await);

    // The list links to the page; the page lists only the free mentor.
    let (status, list) = get_text(&w.admin, &app, "/admin/bookings").await;
    assert_eq!(status, StatusCode::OK);
    assert!(list.contains(&format!("href=\"/admin/bookings/{id}/reassign\"")));
    let (status, page) = get_text(&w.admin, &app, &format!("/admin/bookings/{id}/reassign")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains(&format!("value=\"{}\"", w.other.id)),
        "{page}"
    );
    for not in [&w.f.mentor, &no_topic, &busy, &disabled, &closed] {
        assert!(!page.contains(&format!("value=\"{}\"", not.id)), "{page}");
    }
    assert!(page.contains("<legend>New mentor</legend>"));
    assert!(!page.contains("style="));

    let res = post_reassign(&app, &w.admin, id, &w.other.id.to_string()).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), format!("/bookings/{id}?notice=reassigned"));

    let after = booking(&app, id);
    assert_eq!(after.id, id);
    assert_eq!(after.mentor_id, w.other.id);
    assert_eq!(after.learner_id, w.learner.user.id);
    assert_eq!(
        (after.start_at, after.end_at),
        (before.start_at, before.end_at)
    );
    assert_eq!(after.status, "confirmed");
    assert_eq!(after.sequence, before.sequence + 1);
    assert!(!page_offers(&app, w.other.id, start).await);
    assert!(page_offers(&app, w.f.mentor.id, start).await);
    let live = live_bookings_of_mentor(&app, w.other.id);
    assert_eq!(live.len(), 1);
    assert!(live_bookings_of_mentor(&app, w.f.mentor.id).is_empty());

    let (status, detail) =
        get_text(&w.admin, &app, &format!("/bookings/{id}?notice=reassigned")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(detail.contains("Reassigned."), "{detail}");

    let audits = reassign_audits(&app, id);
    assert_eq!(audits.len(), 1);
    assert_eq!(audits[0].0, Some(w.admin.user.id));
    assert_eq!(audits[0].1["from_mentor_id"], w.f.mentor.id.to_string());
    assert_eq!(audits[0].1["to_mentor_id"], w.other.id.to_string());

    // Emails: the confirmation's UID throughout, a higher SEQUENCE.
    let rows = outbox_of(&app, id);
    let confirmed: Vec<_> = rows
        .iter()
        .filter(|r| r.kind == "booking_confirmed")
        .collect();
    assert_eq!(confirmed.len(), 2);
    let (_, first) = invite(confirmed[0]);
    let uid = first.ev("UID").to_owned();
    let reassigned: Vec<_> = rows
        .iter()
        .filter(|r| r.kind == "booking_reassigned")
        .collect();
    let mut to: Vec<Uuid> = reassigned
        .iter()
        .map(|r| r.recipient_user_id.unwrap())
        .collect();
    to.sort();
    let mut expected = vec![w.learner.user.id, w.other.id];
    expected.sort();
    assert_eq!(to, expected);
    for r in &reassigned {
        let (method, cal) = invite(r);
        assert_eq!(method, "REQUEST");
        assert_eq!(cal.cal("METHOD"), "REQUEST");
        assert_eq!(cal.ev("UID"), uid);
        assert_eq!(cal.sequence(), after.sequence);
        assert!(cal.sequence() > first.sequence());
        assert_eq!(cal.ev("STATUS"), "CONFIRMED");
        let attendees = cal.all("ATTENDEE").join(" ").to_lowercase();
        assert!(
            attendees.contains(&w.other.email.to_lowercase()),
            "{attendees}"
        );
        assert!(attendees.contains(&w.learner.user.email.to_lowercase()));
        assert!(!attendees.contains(&w.f.mentor.email.to_lowercase()));
        let body = r.body_text.as_deref().unwrap();
        if r.recipient_user_id == Some(w.learner.user.id) {
            assert!(
                body.contains(&format!(
                    "Your session now is with {}",
                    w.other.display_name
                )),
                "{body}"
            );
        } else {
            assert!(body.contains("A session was assigned to you"), "{body}");
        }
    }
    let cancels: Vec<_> = rows
        .iter()
        .filter(|r| r.kind == "booking_cancelled")
        .collect();
    assert_eq!(cancels.len(), 1);
    assert_eq!(cancels[0].recipient_user_id, Some(w.f.mentor.id));
    let (method, cal) = invite(cancels[0]);
    assert_eq!(method, "CANCEL");
    assert_eq!(cal.cal("METHOD"), "CANCEL");
    assert_eq!(cal.ev("UID"), uid);
    assert_eq!(cal.sequence(), after.sequence);
    assert_eq!(cal.ev("STATUS"), "CANCELLED");
    assert_eq!(rows.len(), 2 + 3);

    // The previous mentor's manage link no longer acts; the new mentor's
    // and the learner's do.
    let key = app.state.secret_key.expose();
    let old = manage::token_for(key, id, w.f.mentor.id);
    let res = new_client()
        .get(app.url(&format!("/manage/{old}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    for user in [w.other.id, w.learner.user.id] {
        let token = manage::token_for(key, id, user);
        let res = new_client()
            .get(app.url(&format!("/manage/{token}")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn refused_reassignments_change_nothing() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let start = at(2026, 6, 16, 12, 0);
    let id = book(&app, &w.learner, w.f.mentor.id, "sql-basics", start).await;
    let unchanged = snapshot(&app, id);

    // Busy: someone booked the other mentor's 12:00.
    let someone = app.sign_in(&app.create_user(Role::Learner)).await;
    let theirs = book(&app, &someone, w.other.id, "sql-basics", start).await;
    let res = post_reassign(&app, &w.admin, id, &w.other.id.to_string()).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let body = res.text().await.unwrap();
    assert!(body.contains("no longer free"), "{body}");
    assert!(body.contains("role=\"alert\""));
    assert_eq!(snapshot(&app, id), unchanged);
    assert_eq!(booking(&app, theirs).sequence, 0);
    diesel::update(bookings::table.find(theirs))
        .set((
            bookings::status.eq("cancelled"),
            bookings::cancelled_as.eq(Some("admin")),
            bookings::cancelled_at.eq(Some(app.clock.now())),
        ))
        .execute(&mut app.conn())
        .unwrap();

    // Does not offer the topic.
    let no_topic = mentor(&app, |_| {});
    let res = post_reassign(&app, &w.admin, id, &no_topic.id.to_string()).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(snapshot(&app, id), unchanged);

    // The same mentor; the learner themselves; junk; nobody.
    for (who, status) in [
        (w.f.mentor.id.to_string(), StatusCode::UNPROCESSABLE_ENTITY),
        (
            w.learner.user.id.to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        ("not-a-mentor".to_owned(), StatusCode::UNPROCESSABLE_ENTITY),
        (String::new(), StatusCode::UNPROCESSABLE_ENTITY),
        (Uuid::new_v4().to_string(), StatusCode::CONFLICT),
    ] {
        let res = post_reassign(&app, &w.admin, id, &who).await;
        assert_eq!(res.status(), status, "{who}");
        assert_eq!(snapshot(&app, id), unchanged, "{who}");
    }

    // A learner account offering the topic (left over from a demotion).
    let demoted = mentor(&app, |_| {});
    offer(&app, &demoted, w.f.topic);
    diesel::update(users::table.find(demoted.id))
        .set(users::role.eq("learner"))
        .execute(&mut app.conn())
        .unwrap();
    let res = post_reassign(&app, &w.admin, id, &demoted.id.to_string()).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(snapshot(&app, id), unchanged);

    // Disabled.
    diesel::update(users::table.find(w.other.id))
        .set(users::disabled_at.eq(Some(app.clock.now())))
        .execute(&mut app.conn())
        .unwrap();
    let res = post_reassign(&app, &w.admin, id, &w.other.id.to_string()).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(snapshot(&app, id), unchanged);
    diesel::update(users::table.find(w.other.id))
        .set(users::disabled_at.eq(None::<DateTime<Utc>>))
        .execute(&mut app.conn())
        .unwrap();

    // The new mentor's own notice: 3 days ahead at least.
    let careful = mentor(&app, |p| p.min_notice_hours = 72);
    offer(&app, &careful, w.f.topic);
    let res = post_reassign(&app, &w.admin, id, &careful.id.to_string()).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(snapshot(&app, id), unchanged);

    // Started: the clock passes the start (a day on: a fresh sign-in).
    app.clock.set(start + Duration::minutes(5));
    let later = app.sign_in(&w.admin.user).await;
    let res = post_reassign(&app, &later, id, &w.other.id.to_string()).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let body = res.text().await.unwrap();
    assert!(body.contains("can no longer be reassigned"), "{body}");
    assert!(!body.contains("name=\"mentor\""));
    assert_eq!(snapshot(&app, id), unchanged);
    app.clock.set(crate::harness::default_now());

    // Cancelled.
    let res = app
        .post_form(
            &w.admin.client,
            &format!("/admin/bookings/{id}/cancel"),
            &[("csrf_token", &w.admin.csrf), ("reason", "Mentor is ill.")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let cancelled = snapshot(&app, id);
    let res = post_reassign(&app, &w.admin, id, &w.other.id.to_string()).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(snapshot(&app, id), cancelled);
    let (status, page) = get_text(&w.admin, &app, &format!("/admin/bookings/{id}/reassign")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("can no longer be reassigned"));
    assert!(!page.contains("name=\"mentor\""));

    // No such booking.
    for path in [
        format!("/admin/bookings/{}/reassign", Uuid::new_v4()),
        "/admin/bookings/nope/reassign".to_owned(),
    ] {
        let (status, _) = get_text(&w.admin, &app, &path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    assert!(reassign_audits(&app, id).is_empty());
}

#[tokio::test]
async fn a_reassignment_racing_a_learner_for_the_same_time_has_one_winner() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let rounds = 10;
    let (mut reassign_won, mut booking_won) = (0, 0);
    for r in 0..rounds {
        let start = at(2026, 6, 16 + r, 12, 0);
        let holder = app.sign_in(&app.create_user(Role::Learner)).await;
        let id = book(&app, &holder, w.f.mentor.id, "sql-basics", start).await;
        let before = snapshot(&app, id);
        let racer = app.sign_in(&app.create_user(Role::Learner)).await;

        let other = w.other.id.to_string();
        let (a, b) = tokio::join!(
            post_reassign(&app, &w.admin, id, &other),
            post_booking(&app, &racer, w.other.id, "sql-basics", start),
        );
        let (sa, sb) = (a.status(), b.status());
        let (ta, tb) = (a.text().await.unwrap(), b.text().await.unwrap());
        assert!(
            matches!(
                (sa, sb),
                (StatusCode::SEE_OTHER, StatusCode::CONFLICT)
                    | (StatusCode::CONFLICT, StatusCode::SEE_OTHER)
            ),
            "round {r}: reassign {sa} {ta:.2000}; booking {sb} {tb:.2000}"
        );
        let racer_rows: Vec<_> = live_bookings_of_mentor(&app, w.other.id)
            .into_iter()
            .filter(|b| b.learner_id == racer.user.id)
            .collect();
        if sa == StatusCode::SEE_OTHER {
            reassign_won += 1;
            assert!(racer_rows.is_empty(), "round {r}");
            let after = booking(&app, id);
            assert_eq!(after.mentor_id, w.other.id);
            assert_eq!(after.sequence, before.sequence + 1);
            assert!(tb.contains("no longer free"), "{tb:.2000}");
        } else {
            booking_won += 1;
            assert_eq!(racer_rows.len(), 1, "round {r}");
            assert_eq!(snapshot(&app, id), before, "round {r}");
            assert!(ta.contains("no longer free"), "{ta:.2000}");
        }
        let at_that_time: Vec<_> = live_bookings_of_mentor(&app, w.other.id)
            .into_iter()
            .filter(|b| b.start_at < start + Duration::minutes(30) && b.end_at > start)
            .collect();
        assert_eq!(at_that_time.len(), 1, "round {r}: {at_that_time:?}");
        assert!(!any_overlap(&live_bookings_of_mentor(&app, w.other.id)));
        assert!(!any_overlap(&live_bookings_of_mentor(&app, w.f.mentor.id)));
    }
    assert_eq!(reassign_won + booking_won, rounds);
    println!("reassignment won {reassign_won}, booking won {booking_won} of {rounds} rounds");
}

#[tokio::test]
async fn only_admins_may_reassign() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let start = at(2026, 6, 16, 12, 0);
    let id = book(&app, &w.learner, w.f.mentor.id, "sql-basics", start).await;
    let unchanged = snapshot(&app, id);
    let path = format!("/admin/bookings/{id}/reassign");
    // The booking's learner and mentor, the would-be mentor, a stranger.
    let stranger = app.create_user(Role::Learner);
    for user in [&w.learner.user, &w.f.mentor, &w.other, &stranger] {
        let who = app.sign_in(user).await;
        let res = who.client.get(app.url(&path)).send().await.unwrap();
        assert!(
            matches!(res.status(), StatusCode::FORBIDDEN | StatusCode::NOT_FOUND),
            "{}",
            res.status()
        );
        assert!(!res.text().await.unwrap().contains("name=\"mentor\""));
        let res = post_reassign(&app, &who, id, &w.other.id.to_string()).await;
        assert!(
            matches!(res.status(), StatusCode::FORBIDDEN | StatusCode::NOT_FOUND),
            "{}",
            res.status()
        );
        assert_eq!(snapshot(&app, id), unchanged);
    }
    // Signed out: to the sign-in page, or refused.
    let anon = new_client();
    let res = anon.get(app.url(&path)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(location(&res).starts_with("/login"));
    let res = app
        .post_form(&anon, &path, &[("mentor", &w.other.id.to_string())])
        .await;
    assert!(!res.status().is_success(), "{}", res.status());
    assert_eq!(snapshot(&app, id), unchanged);
    // Without the CSRF token, even an admin changes nothing.
    let res = app
        .post_form(
            &w.admin.client,
            &path,
            &[("mentor", &w.other.id.to_string())],
        )
        .await;
    assert!(!res.status().is_success() && !res.status().is_redirection());
    assert_eq!(snapshot(&app, id), unchanged);
}
