//! The booking flow through HTTP: confirm page, POST /bookings, the
//! booking page, cancel, reschedule, manage links, My sessions, and the
//! refusals (taken, crafted starts, self-booking, unverified, caps).

use chrono::Duration;
use diesel::prelude::*;
use officehours::accounts::Role;
use officehours::db::schema::{bookings, email_outbox, users};
use reqwest::StatusCode;
use uuid::Uuid;

use crate::booking_fixture::*;
use crate::harness::{SignedIn, TestApp, location, spawn_app};

/// `POST /bookings/{id}/reschedule` as `who`, to `start`.
async fn move_as(
    app: &TestApp,
    who: &SignedIn,
    id: Uuid,
    start: chrono::DateTime<chrono::Utc>,
) -> reqwest::Response {
    app.post_form(
        &who.client,
        &format!("/bookings/{id}/reschedule"),
        &[("csrf_token", who.csrf.as_str()), ("start", &rfc(start))],
    )
    .await
}

/// `POST /bookings/{id}/cancel` as `who`, with `reason`.
async fn cancel_as(app: &TestApp, who: &SignedIn, id: Uuid, reason: &str) -> reqwest::Response {
    app.post_form(
        &who.client,
        &format!("/bookings/{id}/cancel"),
        &[("csrf_token", &who.csrf), ("reason", reason)],
    )
    .await
}

#[tokio::test]
async fn a_learner_books_a_free_slot_and_sees_it() {
    let app = spawn_app().await;
    let f = fixture(&app);
    let learner = app.create_user(Role::Learner);
    let learner = set_zone(&app, &learner, "America/New_York");
    let me = app.sign_in(&learner).await;
    let start = at(2026, 6, 16, 12, 0); // 14:00 Berlin, 08:00 New York

    // The slot link from the mentor page opens the confirm form.
    let page = me
        .client
        .get(app.url(&format!(
            "/book?mentor={}&topic=sql-basics&start={}",
            f.mentor.id,
            rfc(start)
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Tuesday 16 June 2026, 08:00–08:30 EDT (America/New_York)"),
        "{html}"
    );
    assert!(html.contains("14:00–14:30 CEST (Europe/Berlin)"), "{html}");
    assert!(html.contains("name=\"goals\""));

    let id = book(&app, &me, f.mentor.id, "sql-basics", start).await;
    let b = booking(&app, id);
    assert_eq!(b.start_at, start);
    assert_eq!(b.end_at, start + Duration::minutes(30));
    assert_eq!(b.status, "confirmed");
    assert_eq!(b.learner_id, learner.id);

    let html = me
        .client
        .get(app.url(&format!("/bookings/{id}?notice=booked")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("https://meet.example.org/room-1"),
        "meeting link once booked"
    );
    assert!(html.contains(&format!("/bookings/{id}.ics")));
    assert!(html.contains("I want to understand joins and indexes."));

    // Two confirmations (learner, mentor), tied to the booking; the
    // reminders are made when due.
    let kinds: Vec<String> = email_outbox::table
        .filter(email_outbox::booking_id.eq(id))
        .order(email_outbox::kind)
        .select(email_outbox::kind)
        .load(&mut app.conn())
        .unwrap();
    assert_eq!(kinds, ["booking_confirmed", "booking_confirmed"]);

    // My sessions lists it in the learner's zone.
    let html = me
        .client
        .get(app.url("/me/sessions"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(&format!("/bookings/{id}")));
    assert!(html.contains("08:00–08:30 EDT"));

    // The .ics download.
    let res = me
        .client
        .get(app.url(&format!("/bookings/{id}.ics")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/calendar")
    );
    let ics = res.text().await.unwrap();
    assert!(ics.contains(&format!("UID:{id}@officehours.test")), "{ics}");
}

#[tokio::test]
async fn only_the_learner_the_mentor_and_admins_see_a_booking() {
    let app = spawn_app().await;
    let f = fixture(&app);
    let learner = app.sign_in(&app.create_user(Role::Learner)).await;
    let id = book(
        &app,
        &learner,
        f.mentor.id,
        "sql-basics",
        at(2026, 6, 16, 12, 0),
    )
    .await;
    let mentor = app.sign_in(&f.mentor).await;
    let admin = app.sign_in(&app.create_user(Role::Admin)).await;
    let stranger = app.sign_in(&app.create_user(Role::Learner)).await;
    let other_mentor = app.sign_in(&app.create_user(Role::Mentor)).await;
    for (who, expected) in [
        (&learner, StatusCode::OK),
        (&mentor, StatusCode::OK),
        (&admin, StatusCode::OK),
        (&stranger, StatusCode::NOT_FOUND),
        (&other_mentor, StatusCode::NOT_FOUND),
    ] {
        for path in [
            format!("/bookings/{id}"),
            format!("/bookings/{id}.ics"),
            format!("/bookings/{id}/reschedule"),
        ] {
            let res = who.client.get(app.url(&path)).send().await.unwrap();
            assert_eq!(res.status(), expected, "{path}");
        }
    }
    // Each of the three reads who hears of a cancel, and a way back to
    // their own list; the tab names the other person.
    for (who, hint, back, title) in [
        (
            &learner,
            "Your mentor sees this",
            "/me/sessions",
            "Topic sql-basics with Test mentor",
        ),
        (
            &mentor,
            " sees it in the email",
            "/mentor",
            "Topic sql-basics with Test learner",
        ),
        (
            &admin,
            "Required. The learner and the mentor see it",
            "/admin/bookings",
            "Topic sql-basics: Test learner with Test mentor",
        ),
    ] {
        let (_, html) = app.get_as(who, &format!("/bookings/{id}")).await;
        assert!(html.contains(hint), "{hint}: {html}");
        assert!(
            html.contains(&format!("<title>{title} · Office Hours</title>")),
            "{title}: {html}"
        );
        assert!(
            html.contains(&format!("<a href=\"{back}\">")),
            "{back}: {html}"
        );
    }
    // An admin in London reads both people's times when theirs differ
    // (the learner in Kolkata, the mentor in Berlin), and downloads the
    // .ics as a file, not as "add to your calendar".
    set_zone(&app, &admin.user, "Europe/London");
    set_zone(&app, &learner.user, "Asia/Kolkata");
    let (_, html) = app.get_as(&admin, &format!("/bookings/{id}")).await;
    assert!(
        html.contains(
            "<dt>When</dt><dd>Tuesday 16 June 2026, 13:00–13:30 BST (Europe/London)\
             <br><span class=\"meta\">Test learner&#39;s time: Tuesday 16 June 2026, 17:30–18:00 IST (Asia/Kolkata)</span>\
             <br><span class=\"meta\">Test mentor&#39;s time: Tuesday 16 June 2026, 14:00–14:30 CEST (Europe/Berlin)</span></dd>"
        ),
        "{html}"
    );
    // Both in one zone: one line for both.
    set_zone(&app, &learner.user, "Europe/Berlin");
    let (_, html) = app.get_as(&admin, &format!("/bookings/{id}")).await;
    assert!(
        html.contains(
            "<br><span class=\"meta\">Test learner&#39;s and Test mentor&#39;s time: Tuesday 16 June 2026, 14:00–14:30 CEST (Europe/Berlin)</span></dd>"
        ),
        "{html}"
    );
    assert!(html.contains("Download the calendar file (.ics)"));
    assert!(!html.contains("Add to calendar"));
    // A stranger's cancel is a 404 and changes nothing.
    let res = cancel_as(&app, &stranger, id, "x").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = move_as(&app, &stranger, id, at(2026, 6, 16, 14, 0)).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let b = booking(&app, id);
    assert_eq!(b.status, "confirmed");
    assert_eq!(b.start_at, at(2026, 6, 16, 12, 0));
    assert_eq!(b.sequence, 0);
    // Not signed in: to the sign-in page.
    let res = app.get(&format!("/bookings/{id}")).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
}

/// An active topic `slug` offered by another mentor only.
fn offer_topic_elsewhere(app: &TestApp, slug: &str) {
    let topic = crate::booking_fixture::add_topic(app, slug, 30);
    let other = crate::booking_fixture::mentor(app, |_| {});
    crate::booking_fixture::offer(app, &other, topic);
}

#[tokio::test]
async fn crafted_starts_are_refused_like_taken_slots_and_store_nothing() {
    let app = spawn_app().await;
    let f = fixture_with(&app, |p| p.min_notice_hours = 2);
    let learner = app.sign_in(&app.create_user(Role::Learner)).await;
    for start in [
        at(2026, 6, 16, 12, 10), // off the 30-minute step
        at(2026, 6, 16, 3, 0),   // 05:00 Berlin: outside the hours
        at(2026, 6, 14, 12, 0),  // in the past
        at(2026, 6, 15, 10, 0),  // inside the 2 h notice
        at(2026, 9, 1, 12, 0),   // beyond the 60-day horizon
    ] {
        let res = post_booking(&app, &learner, f.mentor.id, "sql-basics", start).await;
        assert_eq!(res.status(), StatusCode::CONFLICT, "{start}");
        let html = res.text().await.unwrap();
        // A past time is called that, not "taken".
        if start < app.clock.now() {
            assert!(html.contains("<h1>That time has passed</h1>"), "{html}");
            assert!(html.contains("already begun or passed"), "{html}");
            assert!(!html.contains("no longer free"), "{html}");
        } else if start > app.clock.now() + Duration::days(60) {
            assert!(
                html.contains("<h1>That time is not open for booking yet</h1>"),
                "{html}"
            );
        } else {
            assert!(html.contains("<h1>That time is taken</h1>"), "{html}");
            assert!(html.contains("no longer free"), "{html}");
        }
        assert!(
            html.contains("I want to understand joins and indexes."),
            "text kept"
        );
    }
    // A time in the past gets the soonest free times from now instead,
    // and the page names the time asked for.
    let past = format!(
        "/book?mentor={}&topic=sql-basics&start=2020-01-06T10:00:00Z",
        f.mentor.id
    );
    let (status, html) = app.get_as(&learner, &past).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(html.contains("<title>That time has passed"), "{html}");
    assert!(html.contains("You asked for"), "{html}");
    assert!(html.contains("Monday 6 January 2020"), "{html}");
    assert!(!html.contains("has no other free times"), "{html}");
    assert!(html.contains("value=\"2026-06-15T11:00:00Z\""), "{html}");

    // A topic the mentor does not offer: nothing to confirm; a form sent
    // for it anyway keeps its text and says so.
    offer_topic_elsewhere(&app, "not-offered");
    let link = format!(
        "/book?mentor={}&topic=not-offered&start=2026-06-16T12:00:00Z",
        f.mentor.id
    );
    assert_eq!(app.get_as(&learner, &link).await.0, StatusCode::NOT_FOUND);
    let res = post_booking(
        &app,
        &learner,
        f.mentor.id,
        "not-offered",
        at(2026, 6, 16, 12, 0),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("does not take bookings for this topic now"),
        "{html}"
    );
    assert!(html.contains("I want to understand joins and indexes."));

    // An unknown topic slug or mentor id names nothing.
    let res = post_booking(
        &app,
        &learner,
        f.mentor.id,
        "no-such-topic",
        at(2026, 6, 16, 12, 0),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = post_booking(
        &app,
        &learner,
        Uuid::new_v4(),
        "sql-basics",
        at(2026, 6, 16, 12, 0),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let n: i64 = bookings::table.count().get_result(&mut app.conn()).unwrap();
    assert_eq!(n, 0);
    let n: i64 = email_outbox::table
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(n, 0);
}

#[tokio::test]
async fn nobody_books_themselves_and_unverified_learners_are_refused() {
    let app = spawn_app().await;
    let f = fixture(&app);
    let start = at(2026, 6, 16, 12, 0);
    let mentor = app.sign_in(&f.mentor).await;
    let res = post_booking(&app, &mentor, f.mentor.id, "sql-basics", start).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    let unverified = app.create_user(Role::Learner);
    diesel::update(users::table.find(unverified.id))
        .set(users::email_verified_at.eq(None::<chrono::DateTime<chrono::Utc>>))
        .execute(&mut app.conn())
        .unwrap();
    let u = app.sign_in(&unverified).await;
    let res = post_booking(&app, &u, f.mentor.id, "sql-basics", start).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Confirm your email address first")
    );
    let picked = format!(
        "/book?mentor={}&topic=sql-basics&start={}&tz=Asia%2FKolkata",
        f.mentor.id,
        rfc(start)
    );
    let (status, html) = app.get_as(&u, &picked).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let n: i64 = bookings::table.count().get_result(&mut app.conn()).unwrap();
    assert_eq!(n, 0);
    // A new link asked for there leads back to the time picked.
    let carried = html
        .split("name=\"next\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("the resend form carries the time")
        .replace("&#38;", "&");
    assert_eq!(carried, picked);
    // Its one button: the banner above does not repeat it (elsewhere the
    // banner keeps its own).
    assert_eq!(html.matches("Send the link again").count(), 1, "{html}");
    let (_, sessions) = app.get_as(&u, "/me/sessions").await;
    assert_eq!(sessions.matches("Send the link again").count(), 1);
    let res = app
        .post_form(
            &u.client,
            "/verify-email/resend",
            &[("csrf_token", &u.csrf), ("next", &carried)],
        )
        .await;
    let page = res.text().await.unwrap();
    assert!(page.contains("Back to the time you picked"), "{page}");
    let link: String = email_outbox::table
        .filter(email_outbox::kind.eq("verify_email"))
        .select(email_outbox::body_text.assume_not_null())
        .first(&mut app.conn())
        .unwrap();
    let encoded: String = url::form_urlencoded::byte_serialize(picked.as_bytes()).collect();
    assert!(link.contains(&format!("&next={encoded}")), "{link}");
}

/// A mentor's own sessions as a learner are occupied time of their
/// schedule, so they may not fall into the buffer of a session the mentor
/// hosts: not when booked, not when moved there. (The other way round, the
/// slot engine already keeps the buffer clear of them.)
#[tokio::test]
async fn a_mentor_booking_as_a_learner_keeps_clear_of_their_own_buffers() {
    let app = spawn_app().await;
    let f = fixture(&app);
    let host = mentor(&app, |p| p.buffer_after_min = 30);
    offer(&app, &host, f.topic);
    let learner = app.sign_in(&app.create_user(Role::Learner)).await;
    // 10:00-10:30 in Berlin: the host's time is occupied until 11:00.
    book(&app, &learner, host.id, "sql-basics", at(2026, 6, 16, 8, 0)).await;

    let host_in = app.sign_in(&host).await;
    let res = post_booking(
        &app,
        &host_in,
        f.mentor.id,
        "sql-basics",
        at(2026, 6, 16, 8, 30),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("You already have another session at that time.")
    );
    let own: i64 = bookings::table
        .filter(bookings::learner_id.eq(host.id))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(own, 0, "nothing stored");

    // Right after the buffer is fine; moving it back into the buffer is not.
    let id = book(
        &app,
        &host_in,
        f.mentor.id,
        "sql-basics",
        at(2026, 6, 16, 9, 0),
    )
    .await;
    let res = move_as(&app, &host_in, id, at(2026, 6, 16, 8, 30)).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("The learner has another session at that time.")
    );
    assert_eq!(booking(&app, id).start_at, at(2026, 6, 16, 9, 0));
    // Nor does the reschedule page offer that time.
    let (_, page) = app
        .get_as(&host_in, &format!("/bookings/{id}/reschedule"))
        .await;
    let choice = |t| format!("value=\"{}\"", rfc(t));
    assert!(
        !page.contains(&choice(at(2026, 6, 16, 8, 30))),
        "in the buffer"
    );
    assert!(
        page.contains(&choice(at(2026, 6, 16, 9, 30))),
        "free for both"
    );
}

/// Refused because they are busy then, a learner is offered other times
/// of the mentor, none of which they are busy at either: not the refused
/// time itself, nor one overlapping their other session.
#[tokio::test]
async fn a_busy_learner_is_offered_only_times_they_are_free() {
    let app = spawn_app().await;
    let f = fixture(&app);
    let other = mentor(&app, |_| {});
    offer(&app, &other, f.topic);
    let learner = app.sign_in(&app.create_user(Role::Learner)).await;
    // 14:00-14:30 in Berlin with the other mentor.
    book(
        &app,
        &learner,
        other.id,
        "sql-basics",
        at(2026, 6, 16, 12, 0),
    )
    .await;

    // The hour-long topic at 13:30 would overlap it.
    let res = post_booking(
        &app,
        &learner,
        f.mentor.id,
        "deep-dive",
        at(2026, 6, 16, 11, 30),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let page = res.text().await.unwrap();
    assert!(page.contains("You already have another session at that time."));
    let offered: Vec<&str> = page
        .split("name=\"start\" value=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect();
    assert_eq!(offered.len(), 3, "{offered:?}");
    for busy in [at(2026, 6, 16, 11, 30), at(2026, 6, 16, 12, 0)] {
        assert!(!offered.contains(&rfc(busy).as_str()), "{offered:?}");
    }
    assert!(
        offered.contains(&rfc(at(2026, 6, 16, 12, 30)).as_str()),
        "{offered:?}"
    );

    // The confirm page says so at once, rather than after the form.
    let link = format!(
        "/book?mentor={}&topic=deep-dive&start={}",
        f.mentor.id,
        rfc(at(2026, 6, 16, 11, 30))
    );
    let (status, html) = app.get_as(&learner, &link).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(html.contains("You already have another session at that time."));
}

#[tokio::test]
async fn the_confirm_page_also_shows_the_time_in_the_zone_it_was_picked_in() {
    let app = spawn_app().await;
    let f = fixture(&app);
    let learner = app.create_user(Role::Learner);
    let learner = set_zone(&app, &learner, "America/New_York");
    let me = app.sign_in(&learner).await;
    let start = at(2026, 6, 16, 12, 0); // 14:00 Berlin, 08:00 New York, 17:30 Kolkata

    // The mentor page browsed in another zone links its slots with it.
    let (status, html) = app
        .get_as(
            &me,
            &format!(
                "/mentors/{}?topic=sql-basics&week=2026-06-15&tz=Asia/Kolkata",
                f.mentor.id
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let href = format!(
        "/book?mentor={}&#38;topic=sql-basics&#38;start={}&#38;tz=Asia%2FKolkata",
        f.mentor.id,
        rfc(start)
    );
    assert!(html.contains(&href), "{html}");
    // Its topic links keep the zone too.
    assert!(
        html.contains("href=\"/topics/sql-basics?tz=Asia%2FKolkata\""),
        "{html}"
    );

    let picked = "In Asia/Kolkata, where you picked it: Tuesday 16 June 2026, 17:30–18:00 IST";
    let (status, html) = app.get_as(&me, &href.replace("&#38;", "&")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(picked), "{html}");
    assert!(
        html.contains("08:00–08:30 EDT (America/New_York)"),
        "{html}"
    );
    assert!(
        html.contains("name=\"tz\" value=\"Asia/Kolkata\""),
        "{html}"
    );
    // The mentor's name leads back to the week and zone it was picked in.
    assert!(
        html.contains(&format!(
            "href=\"/mentors/{}?topic=sql-basics&#38;week=2026-06-16&#38;tz=Asia%2FKolkata\"",
            f.mentor.id
        )),
        "{html}"
    );

    // A refused submit keeps the line (the form carries the zone).
    let mut fields = book_fields(f.mentor.id, "sql-basics", start, Uuid::new_v4(), &me.csrf);
    fields[4].1 = "short".into();
    fields.push(("tz".into(), "Asia/Kolkata".into()));
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let res = app.post_form(&me.client, "/bookings", &pairs).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains(picked));

    // The learner's own zone, the mentor's or an unknown one add nothing.
    for tz in ["America/New_York", "Europe/Berlin", "Mars/Olympus_Mons"] {
        let (status, html) = app
            .get_as(
                &me,
                &format!(
                    "/book?mentor={}&topic=sql-basics&start={}&tz={tz}",
                    f.mentor.id,
                    rfc(start)
                ),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert!(!html.contains("where you picked it"), "{tz}: {html}");
    }
}

#[tokio::test]
async fn the_confirm_page_explains_what_it_cannot_offer() {
    let app = spawn_app().await;
    let f = fixture(&app);
    let me = app.sign_in(&app.create_user(Role::Learner)).await;
    let confirm = |start: chrono::DateTime<chrono::Utc>, tz: &str| {
        format!(
            "/book?mentor={}&topic=sql-basics&start={}&tz={tz}",
            f.mentor.id,
            rfc(start)
        )
    };

    // Back to the confirm page of a time just booked: the booking, not
    // "taken" with other times to book.
    let start = at(2026, 6, 16, 12, 0);
    let id = book(&app, &me, f.mentor.id, "sql-basics", start).await;
    let res = me
        .client
        .get(app.url(&confirm(start, "UTC")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), format!("/bookings/{id}?notice=existing"));

    // Past the mentor's 60-day horizon (from 15 June): said so, with the
    // last free times before it rather than "no other free times" (asked
    // by another learner: this one is at the topic's limit now).
    let fresh = app.sign_in(&app.create_user(Role::Learner)).await;
    let (status, html) = app
        .get_as(&fresh, &confirm(at(2027, 6, 2, 10, 0), "Asia/Kolkata"))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        html.contains("<h1>That time is not open for booking yet</h1>"),
        "{html}"
    );
    assert!(html.contains("further ahead than this mentor takes bookings"));
    assert!(!html.contains("has no other free times"), "{html}");
    let choices: Vec<&str> = html
        .split("name=\"start\" value=\"")
        .skip(1)
        .map(|r| &r[..20])
        .collect();
    assert_eq!(choices.len(), 3, "{html}");
    for c in &choices {
        assert!(
            c.starts_with("2026-08-1"),
            "near the horizon's end: {choices:?}"
        );
    }
    // The choices are labelled in the zone the time was picked in.
    assert_eq!(
        html.matches(" IST (Asia/Kolkata)</label>").count(),
        3,
        "{html}"
    );
    // The horizon's end is exclusive, as for the slot engine: a start
    // exactly 60 days ahead is not open yet either.
    let (status, html) = app
        .get_as(&fresh, &confirm(at(2026, 8, 14, 9, 0), "UTC"))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        html.contains("<h1>That time is not open for booking yet</h1>"),
        "{html}"
    );

    // Another topic at the time of a booking is not that booking.
    let (status, html) = app
        .get_as(
            &me,
            &format!(
                "/book?mentor={}&topic=deep-dive&start={}",
                f.mentor.id,
                rfc(start)
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(html.contains("You already have another session at that time."));

    // A time passed is called that, though the learner had a session
    // then with someone else; their own past session is shown.
    let other = mentor(&app, |_| {});
    let past = at(2026, 6, 14, 10, 0);
    let theirs = insert_booking(&app, other.id, fresh.user.id, f.topic, past, "completed");
    let (status, html) = app.get_as(&fresh, &confirm(past, "UTC")).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(html.contains("<h1>That time has passed</h1>"), "{html}");
    let mine = insert_booking(
        &app,
        f.mentor.id,
        fresh.user.id,
        f.topic,
        past - Duration::hours(2),
        "completed",
    );
    let res = fresh
        .client
        .get(app.url(&confirm(past - Duration::hours(2), "UTC")))
        .send()
        .await
        .unwrap();
    assert_eq!(location(&res), format!("/bookings/{mine}?notice=existing"));
    assert_ne!(mine, theirs);

    // Past the horizon with nothing free in its last weeks (away from day
    // 40 on): the soonest free times instead, not "no other free times".
    use officehours::db::schema::time_off;
    diesel::insert_into(time_off::table)
        .values((
            time_off::id.eq(Uuid::now_v7()),
            time_off::mentor_id.eq(f.mentor.id),
            time_off::starts_at.eq(at(2026, 7, 25, 0, 0)),
            time_off::ends_at.eq(at(2026, 9, 30, 0, 0)),
            time_off::note.eq(""),
        ))
        .execute(&mut app.conn())
        .unwrap();
    let (status, html) = app
        .get_as(&fresh, &confirm(at(2027, 6, 2, 10, 0), "UTC"))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(!html.contains("has no other free times"), "{html}");
    let soonest: Vec<&str> = html
        .split("name=\"start\" value=\"")
        .skip(1)
        .map(|r| &r[..10])
        .collect();
    assert_eq!(soonest, ["2026-06-15"; 3], "{html}");
    // The mentor's name leads to a week with times, not one past the horizon.
    assert!(
        html.contains(&format!(
            "/mentors/{}?topic=sql-basics&#38;week=2026-06-15",
            f.mentor.id
        )),
        "{html}"
    );
}

#[tokio::test]
async fn a_form_action_opened_with_get_leads_back_to_its_page() {
    let app = spawn_app().await;
    let f = fixture(&app);
    let me = app.sign_in(&app.create_user(Role::Learner)).await;
    let id = book(&app, &me, f.mentor.id, "sql-basics", at(2026, 6, 16, 12, 0)).await;
    let before = booking(&app, id);
    for (path, to) in [
        ("/bookings".to_owned(), "/me/sessions".to_owned()),
        (format!("/bookings/{id}/cancel"), format!("/bookings/{id}")),
        (
            "/manage/Abc-_09/cancel".to_owned(),
            "/manage/Abc-_09".to_owned(),
        ),
        (
            format!("/admin/bookings/{id}/cancel?status=confirmed&sort=asc"),
            "/admin/bookings?status=confirmed&sort=asc".to_owned(),
        ),
        (
            format!("/mentor/sessions/{id}/outcome"),
            format!("/mentor#session-{id}"),
        ),
    ] {
        let res = me.client.get(app.url(&path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(location(&res), to, "{path}");
    }
    // Nothing was done by any of them.
    let after = booking(&app, id);
    assert_eq!(
        (after.status, after.sequence),
        (before.status, before.sequence)
    );
    for path in ["/bookings/nope/cancel", "/manage/a%0Ab/cancel"] {
        let res = me.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
    }
}

#[tokio::test]
async fn a_move_sent_after_the_start_says_the_session_has_begun() {
    let app = spawn_app().await;
    let f = fixture(&app);
    let me = app.sign_in(&app.create_user(Role::Learner)).await;
    let start = at(2026, 6, 16, 12, 0);
    let id = book(&app, &me, f.mentor.id, "sql-basics", start).await;
    // The move page was loaded before; the form is sent after the start
    // (signed in again: a day's idleness ended the first session).
    app.clock.set(start + Duration::minutes(5));
    let me = app.sign_in(&me.user).await;
    let res = move_as(&app, &me, id, at(2026, 6, 18, 12, 0)).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(location(&res).ends_with("?notice=not-moved"));
    let (_, page) = app.get_as(&me, &location(&res)).await;
    assert!(page.contains("This session has begun, so it can no longer be moved."));
    assert_eq!(booking(&app, id).start_at, start);
}

#[tokio::test]
async fn goals_are_validated_with_the_input_kept() {
    let app = spawn_app().await;
    let f = fixture(&app);
    let learner = app.sign_in(&app.create_user(Role::Learner)).await;
    let mut fields = book_fields(
        f.mentor.id,
        "sql-basics",
        at(2026, 6, 16, 12, 0),
        Uuid::new_v4(),
        &learner.csrf,
    );
    fields[4].1 = "  too <b>  ".into();
    let res = send_booking_form(&app, &learner, &fields).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("too &#60;b&#62;") || html.contains("too &lt;b&gt;"),
        "{html}"
    );
    assert!(html.contains("id=\"goals-error\""));
    fields[4].1 = "x".repeat(2001);
    let res = send_booking_form(&app, &learner, &fields).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let n: i64 = bookings::table.count().get_result(&mut app.conn()).unwrap();
    assert_eq!(n, 0);
}

#[tokio::test]
async fn a_double_submitted_form_makes_one_booking_and_shows_it() {
    let app = spawn_app().await;
    let f = fixture(&app);
    let learner = app.sign_in(&app.create_user(Role::Learner)).await;
    let key = Uuid::new_v4();
    let fields = book_fields(
        f.mentor.id,
        "sql-basics",
        at(2026, 6, 16, 12, 0),
        key,
        &learner.csrf,
    );
    let send = || send_booking_form(&app, &learner, &fields);
    let (a, b) = tokio::join!(send(), send());
    assert_eq!(a.status(), StatusCode::SEE_OTHER);
    assert_eq!(b.status(), StatusCode::SEE_OTHER);
    let path = |r: &reqwest::Response| location(r).split('?').next().unwrap().to_owned();
    assert_eq!(path(&a), path(&b));
    let n: i64 = bookings::table.count().get_result(&mut app.conn()).unwrap();
    assert_eq!(n, 1);

    // Cancelled, then the same form sent again (Back, then submit): it
    // books nothing and says what happened, not "already made"; and the
    // first redirect's "Booked." is no longer shown over "Cancelled".
    let id: Uuid = path(&a).trim_start_matches("/bookings/").parse().unwrap();
    assert_eq!(
        cancel_as(&app, &learner, id, "").await.status(),
        StatusCode::SEE_OTHER
    );
    let again = send().await;
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
    let (_, html) = app.get_as(&learner, &location(&again)).await;
    assert!(
        html.contains("it has been cancelled since: nothing was booked again"),
        "{html}"
    );
    assert!(!html.contains("already made"));
    assert!(html.contains(&format!(
        "href=\"/mentors/{}?topic=sql-basics\">Book another time with",
        f.mentor.id
    )));
    let (_, booked) = app
        .get_as(&learner, &format!("/bookings/{id}?notice=booked"))
        .await;
    assert!(booked.contains("Cancelled"));
    assert!(!booked.contains("Booked."), "a stale notice");
    // With the mentor disabled, their page is a 404: no link to it, and
    // booking again points to the topic's other mentors.
    diesel::update(users::table.find(f.mentor.id))
        .set(users::disabled_at.eq(Some(app.clock.now())))
        .execute(&mut app.conn())
        .unwrap();
    let (_, html) = app.get_as(&learner, &format!("/bookings/{id}")).await;
    assert!(
        !html.contains(&format!("href=\"/mentors/{}", f.mentor.id)),
        "{html}"
    );
    assert!(
        html.contains(
            "<a href=\"/topics/sql-basics\">Book Topic sql-basics with another mentor</a>"
        ),
        "{html}"
    );
    let n: i64 = bookings::table.count().get_result(&mut app.conn()).unwrap();
    assert_eq!(n, 1);
}

#[tokio::test]
async fn cancel_frees_the_slot_and_the_same_slot_can_be_booked_again() {
    let app = spawn_app().await;
    let f = fixture(&app);
    let learner = app.sign_in(&app.create_user(Role::Learner)).await;
    let start = at(2026, 6, 15, 18, 0); // 20:00 Berlin is past the hours: use 17:30 UTC
    let start = start - Duration::minutes(30);
    let id = book(&app, &learner, f.mentor.id, "sql-basics", start).await;
    // Taken for another learner…
    let other = app.sign_in(&app.create_user(Role::Learner)).await;
    let res = post_booking(&app, &other, f.mentor.id, "sql-basics", start).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let html = res.text().await.unwrap();
    assert_eq!(
        html.matches("name=\"start\" value=").count(),
        3,
        "three nearest free slots"
    );
    // The nearest ones: the three half hours before (the hours end at
    // 20:00 Berlin), not the next morning; and the page names the mentor
    // and topic it offers them for.
    for minutes in [30, 60, 90] {
        let alternative = rfc(start - Duration::minutes(minutes));
        assert!(
            html.contains(&format!("name=\"start\" value=\"{alternative}\"")),
            "{alternative} offered"
        );
    }
    assert!(html.contains(&f.mentor.display_name));
    assert!(html.contains("sql-basics"));
    // The confirm page says the same before any POST, and offers a free
    // start as it is.
    let form = |at: chrono::DateTime<chrono::Utc>| {
        other
            .client
            .get(app.url(&format!(
                "/book?mentor={}&topic=sql-basics&start={}",
                f.mentor.id,
                rfc(at)
            )))
            .send()
    };
    let res = form(start).await.unwrap();
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let html = res.text().await.unwrap();
    assert_eq!(html.matches("name=\"start\" value=").count(), 3);
    let free = start - Duration::minutes(30);
    let res = form(free).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(!html.contains("no longer free"));
    // Less than a day ahead: no 24-hour reminder is promised.
    assert!(
        html.contains("A reminder comes 1 hour before the start"),
        "{html}"
    );
    // …until the learner cancels (inside the 12 h window: late), as their
    // page says before they do; the mentor's page does not.
    let path = format!("/bookings/{id}");
    let late = "It starts in less than 12 hours, so cancelling now counts as a late cancellation.";
    assert!(app.get_as(&learner, &path).await.1.contains(late));
    let mentor = app.sign_in(&f.mentor).await;
    assert!(!app.get_as(&mentor, &path).await.1.contains(late));
    let res = cancel_as(&app, &learner, id, "").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let b = booking(&app, id);
    assert_eq!(b.status, "cancelled");
    assert!(b.late_cancel);
    assert_eq!(b.sequence, 1);
    assert_eq!(b.cancelled_by, Some(learner.user.id));
    // A second cancel (the mentor's stale page) changes nothing and says
    // so: no second pair of emails, the first reason kept.
    let res = cancel_as(&app, &mentor, id, "Me too.").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(location(&res).ends_with("?notice=already-cancelled"));
    let (_, page) = app.get_as(&mentor, &location(&res)).await;
    assert!(
        page.contains("It was cancelled already, so nothing changed and nobody was emailed again.")
    );
    assert!(
        !page.contains("Book another time with"),
        "the mentor does not rebook"
    );
    assert_eq!(booking(&app, id).cancel_reason, None);
    assert_eq!(booking(&app, id).sequence, 1);
    // Also with no reason given (the stale tab's form had none yet): it
    // was cancelled already, not "say why".
    let res = cancel_as(&app, &mentor, id, "  ").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(location(&res).ends_with("?notice=already-cancelled"));
    // A move from a page loaded before the cancel (another tab) says why
    // nothing moved.
    let res = move_as(&app, &mentor, id, at(2026, 6, 17, 12, 0)).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(location(&res).ends_with("?notice=not-moved"));
    let (_, page) = app.get_as(&mentor, &location(&res)).await;
    assert!(page.contains("This session was cancelled, so it was not moved."));
    assert_eq!(booking(&app, id).sequence, 1);
    // The admin list says who cancelled, and that it was late.
    let admin = app.sign_in(&app.create_user(Role::Admin)).await;
    let (_, list) = app.get_as(&admin, "/admin/bookings?status=cancelled").await;
    assert!(
        list.contains("<span class=\"meta\">by the learner, late</span>"),
        "{list}"
    );
    // Pending reminders are withdrawn; cancellations are queued.
    let kinds: Vec<String> = email_outbox::table
        .filter(email_outbox::booking_id.eq(id))
        .select(email_outbox::kind)
        .load(&mut app.conn())
        .unwrap();
    assert!(!kinds.iter().any(|k| k == "booking_reminder"), "{kinds:?}");
    assert_eq!(
        kinds.iter().filter(|k| *k == "booking_cancelled").count(),
        2
    );
    let id2 = book(&app, &other, f.mentor.id, "sql-basics", start).await;
    assert_ne!(id, id2);
}

#[tokio::test]
async fn a_mentor_must_give_a_reason_to_cancel() {
    let app = spawn_app().await;
    let f = fixture(&app);
    let learner = app.sign_in(&app.create_user(Role::Learner)).await;
    let id = book(
        &app,
        &learner,
        f.mentor.id,
        "sql-basics",
        at(2026, 6, 20, 12, 0),
    )
    .await;
    // Five days ahead: nothing late about a cancel.
    let (_, page) = app.get_as(&learner, &format!("/bookings/{id}")).await;
    assert!(page.contains("Cancel this session"));
    assert!(!page.contains("late cancellation"));
    let mentor = app.sign_in(&f.mentor).await;
    let res = cancel_as(&app, &mentor, id, "  ").await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(html.contains("id=\"reason-error\""));
    // As on the mentor's dashboard, the field says it is required.
    let hint = format!(
        "Required. {} sees it in the email.",
        learner.user.display_name
    );
    assert!(html.contains(&hint), "{html}");
    assert_eq!(booking(&app, id).status, "confirmed");
    // 501 characters are too many; 500 as a browser counts them (a line
    // break is one, sent as CRLF) are not, and are kept with LF.
    let res = cancel_as(&app, &mentor, id, &"x".repeat(501)).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let reason = format!("I am ill.\r\n{}", "x".repeat(490));
    let res = cancel_as(&app, &mentor, id, &reason).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let b = booking(&app, id);
    assert_eq!(b.status, "cancelled");
    assert!(!b.late_cancel, "only a learner's cancel can be late");
    assert_eq!(b.cancel_reason, Some(reason.replace("\r\n", "\n")));
}

#[tokio::test]
async fn reschedule_keeps_the_id_and_moves_the_reminders() {
    let app = spawn_app().await;
    let f = fixture(&app);
    let learner = app.sign_in(&app.create_user(Role::Learner)).await;
    let id = book(
        &app,
        &learner,
        f.mentor.id,
        "sql-basics",
        at(2026, 6, 20, 12, 0),
    )
    .await;
    let page = learner
        .client
        .get(app.url(&format!("/bookings/{id}/reschedule")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let new_start = at(2026, 6, 20, 12, 30);
    assert!(
        page.contains(&rfc(new_start)),
        "overlapping-own-time slot offered"
    );
    assert!(
        page.contains(&rfc(at(2026, 6, 20, 11, 30))),
        "the time before offered"
    );
    assert!(
        !page.contains(&format!("value=\"{}\"", rfc(at(2026, 6, 20, 12, 0)))),
        "the current time is not a choice"
    );
    let res = move_as(&app, &learner, id, new_start).await;
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "{}",
        res.text().await.unwrap()
    );
    let b = booking(&app, id);
    assert_eq!(b.start_at, new_start);
    assert_eq!(b.sequence, 1);
    // The reminders come for the new time: none at the old 24 h mark…
    app.clock.set(at(2026, 6, 19, 12, 0));
    app.worker().run_once().await.unwrap();
    let reminders = |app: &crate::harness::TestApp| -> Vec<chrono::DateTime<chrono::Utc>> {
        email_outbox::table
            .filter(email_outbox::booking_id.eq(id))
            .filter(email_outbox::kind.eq("booking_reminder"))
            .select(email_outbox::created_at)
            .load(&mut app.conn())
            .unwrap()
    };
    assert!(reminders(&app).is_empty());
    // …two (learner, mentor) at the new one.
    app.clock.set(new_start - Duration::hours(24));
    app.worker().run_once().await.unwrap();
    assert_eq!(reminders(&app).len(), 2);
}

#[tokio::test]
async fn manage_links_act_without_signing_in_until_the_start() {
    let app = spawn_app().await;
    let f = fixture(&app);
    let learner = app.sign_in(&app.create_user(Role::Learner)).await;
    let id = book(
        &app,
        &learner,
        f.mentor.id,
        "sql-basics",
        at(2026, 6, 20, 12, 0),
    )
    .await;
    // The learner's confirmation carries their manage link.
    let body: String = email_outbox::table
        .filter(email_outbox::booking_id.eq(id))
        .filter(email_outbox::kind.eq("booking_confirmed"))
        .filter(email_outbox::recipient_user_id.eq(learner.user.id))
        .select(email_outbox::body_text)
        .first::<Option<String>>(&mut app.conn())
        .unwrap()
        .unwrap();
    let start = body.find("/manage/").expect("a manage link");
    let token: String = body[start + "/manage/".len()..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    assert!(token.len() >= 22, "≥128 bits");
    let anon = crate::harness::new_client();
    let res = anon
        .get(app.url(&format!("/manage/{token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(html.contains("Cancel this session"));
    // A forged token: 404, nothing changes.
    // Another last character (a fixed one would equal the real one in one
    // run of 64).
    let last = if token.ends_with('A') { 'B' } else { 'A' };
    let forged = format!("{}{last}", &token[..token.len() - 1]);
    let res = anon
        .get(app.url(&format!("/manage/{forged}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    // It says what may have happened, not just "page not found".
    let dead = res.text().await.unwrap();
    assert!(dead.contains("This link does not work"), "{dead}");
    assert!(dead.contains("href=\"/login\""), "{dead}");
    let csrf = crate::harness::csrf_in(&html);
    let res = app
        .post_form(
            &anon,
            &format!("/manage/{forged}/cancel"),
            &[("csrf_token", &csrf), ("reason", "")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(booking(&app, id).status, "confirmed");
    // "Moving" it to the time it has is not reported as a move.
    let outbox_rows = || -> i64 {
        email_outbox::table
            .filter(email_outbox::booking_id.eq(id))
            .count()
            .get_result(&mut app.conn())
            .unwrap()
    };
    let before = outbox_rows();
    let res = app
        .post_form(
            &anon,
            &format!("/manage/{token}/reschedule"),
            &[
                ("csrf_token", &csrf),
                ("start", &rfc(at(2026, 6, 20, 12, 0))),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert!(res.text().await.unwrap().contains("nothing changed"));
    assert_eq!(booking(&app, id).sequence, 0);
    assert_eq!(outbox_rows(), before);
    // Expired once the session starts.
    app.clock.set(at(2026, 6, 20, 12, 0));
    let res = app
        .post_form(
            &anon,
            &format!("/manage/{token}/cancel"),
            &[("csrf_token", &csrf), ("reason", "")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::GONE);
    assert_eq!(booking(&app, id).status, "confirmed");
    // The link's page warns the learner of a late cancel too, from the
    // moment less than 12 hours are left (12 hours exactly: not yet).
    let late = "so cancelling now counts as a late cancellation";
    let manage_page = || {
        let url = app.url(&format!("/manage/{token}"));
        let anon = anon.clone();
        async move { anon.get(url).send().await.unwrap().text().await.unwrap() }
    };
    app.clock.set(at(2026, 6, 20, 0, 0));
    assert!(!manage_page().await.contains(late));
    app.clock.set(at(2026, 6, 20, 0, 1));
    assert!(manage_page().await.contains(late));
    // Before the start, the holder cancels as the learner.
    app.clock.set(at(2026, 6, 19, 12, 0));
    let res = app
        .post_form(
            &anon,
            &format!("/manage/{token}/cancel"),
            &[("csrf_token", &csrf), ("reason", "clash")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let b = booking(&app, id);
    assert_eq!(b.status, "cancelled");
    assert_eq!(b.cancelled_by, Some(learner.user.id));
}

#[tokio::test]
async fn the_fairness_caps_refuse_with_the_limit_named() {
    let app = spawn_app().await;
    let f = fixture(&app);
    let other_topic_mentor = mentor(&app, |_| {});
    let t3 = add_topic(&app, "third", 30);
    offer(&app, &other_topic_mentor, t3);
    let learner = app.sign_in(&app.create_user(Role::Learner)).await;
    book(
        &app,
        &learner,
        f.mentor.id,
        "sql-basics",
        at(2026, 6, 16, 12, 0),
    )
    .await;
    // One upcoming per topic.
    let res = post_booking(
        &app,
        &learner,
        f.mentor.id,
        "sql-basics",
        at(2026, 6, 17, 12, 0),
    )
    .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let html = res.text().await.unwrap();
    assert!(html.contains("upcoming session of this topic"), "{html}");
    assert!(
        html.contains("I want to understand joins and indexes."),
        "text kept"
    );
    // The confirm page says so before any goals are written; another
    // topic is still open.
    let link = |topic: &str| {
        format!(
            "/book?mentor={}&topic={topic}&start=2026-06-17T12:00:00Z",
            f.mentor.id
        )
    };
    let (status, html) = app.get_as(&learner, &link("sql-basics")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(html.contains("upcoming session of this topic"), "{html}");
    assert!(!html.contains("name=\"goals\""), "{html}");
    assert_eq!(
        app.get_as(&learner, &link("deep-dive")).await.0,
        StatusCode::OK
    );
    book(
        &app,
        &learner,
        f.mentor.id,
        "deep-dive",
        at(2026, 6, 17, 12, 0),
    )
    .await;
    // Two upcoming in all.
    let res = post_booking(
        &app,
        &learner,
        other_topic_mentor.id,
        "third",
        at(2026, 6, 18, 12, 0),
    )
    .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let html = res.text().await.unwrap();
    assert!(html.contains("2 upcoming sessions"), "{html}");
    assert!(
        html.contains("next session starts, on Tuesday 16 June 2026, 14:00"),
        "names when it frees: {html}"
    );
    assert!(!html.contains("))"), "{html}");
    // A taken time's page offers no other times the limit would refuse
    // too: it names the limit instead.
    let someone = app.sign_in(&app.create_user(Role::Learner)).await;
    let taken = at(2026, 6, 19, 12, 0);
    book(&app, &someone, other_topic_mentor.id, "third", taken).await;
    let (status, html) = app
        .get_as(
            &learner,
            &format!(
                "/book?mentor={}&topic=third&start={}",
                other_topic_mentor.id,
                rfc(taken)
            ),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(html.contains("2 upcoming sessions"), "{html}");
    assert!(!html.contains("name=\"start\""), "{html}");
}

#[tokio::test]
async fn a_taken_time_offers_only_the_times_a_month_cap_leaves_open() {
    use officehours::db::schema::booking_policy;
    let app = spawn_app().await;
    let f = fixture(&app);
    diesel::update(booking_policy::table)
        .set((
            booking_policy::max_upcoming.eq(10),
            booking_policy::max_upcoming_per_topic.eq(10),
            booking_policy::max_per_month.eq(2),
        ))
        .execute(&mut app.conn())
        .unwrap();
    // Months count in the learner's zone: 30 June 10:00 UTC is already
    // 1 July 00:00 in Kiritimati (UTC+14).
    let learner = app.create_user(Role::Learner);
    let learner = set_zone(&app, &learner, "Pacific/Kiritimati");
    let me = app.sign_in(&learner).await;
    book(&app, &me, f.mentor.id, "sql-basics", at(2026, 6, 16, 12, 0)).await;
    book(&app, &me, f.mentor.id, "sql-basics", at(2026, 6, 17, 12, 0)).await;
    let someone = app.sign_in(&app.create_user(Role::Learner)).await;
    let taken = at(2026, 6, 30, 10, 0);
    book(&app, &someone, f.mentor.id, "sql-basics", taken).await;

    // The nearest times are 09:00 and 09:30 UTC (still June for this
    // learner: full) and 10:30 (July): the three nearest July ones are
    // offered, none of June's.
    let path = format!(
        "/book?mentor={}&topic=sql-basics&start={}",
        f.mentor.id,
        rfc(taken)
    );
    let offered = |html: &str| -> Vec<String> {
        html.split("name=\"start\" value=\"")
            .skip(1)
            .map(|r| r[..20].to_owned())
            .collect()
    };
    let july = [
        "2026-06-30T10:30:00Z",
        "2026-06-30T11:00:00Z",
        "2026-06-30T11:30:00Z",
    ];
    let (status, html) = app.get_as(&me, &path).await;
    assert_eq!(status, StatusCode::CONFLICT, "{html}");
    assert_eq!(offered(&html), july, "{html}");
    // Kiritimati has no letter abbreviation: the offset names it.
    assert!(
        html.contains("Wednesday 1 July 2026, 00:30–01:00 UTC+14 (Pacific/Kiritimati)"),
        "{html}"
    );
    // The page says nearer ones were left out, and why.
    assert!(html.contains("you can book</legend>"), "{html}");
    assert!(html.contains("your booking limits refuse them"), "{html}");
    // A submit that lost the time (a page opened before it was taken)
    // offers the same: the taken page of a POST counts the limits too.
    let res = post_booking(&app, &me, f.mentor.id, "sql-basics", taken).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let html = res.text().await.unwrap();
    assert_eq!(offered(&html), july, "{html}");
    assert!(html.contains("your booking limits refuse them"), "{html}");
    // Someone under every limit reads no such line.
    let free = app.sign_in(&app.create_user(Role::Learner)).await;
    let (_, html) = app.get_as(&free, &path).await;
    assert!(html.contains("name=\"start\""), "{html}");
    assert!(!html.contains("limits refuse"), "{html}");
    // With July full too, the page names the limit.
    book(&app, &me, f.mentor.id, "sql-basics", at(2026, 7, 2, 12, 0)).await;
    book(&app, &me, f.mentor.id, "sql-basics", at(2026, 7, 3, 12, 0)).await;
    let (status, html) = app.get_as(&me, &path).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{html}");
    assert!(!html.contains("name=\"start\""), "{html}");
    assert!(html.contains("2 sessions in June 2026"), "{html}");
    assert!(html.contains("beyond your booking limits"), "{html}");
    // A month's cap leaves other weeks open: the mentor's week is linked
    // (the day of the time asked for, in the learner's zone).
    let week = format!(
        "href=\"/mentors/{}?topic=sql-basics&#38;week=2026-07-01\"",
        f.mentor.id
    );
    assert!(html.contains(&week), "{html}");
    // So does the POST's answer, keeping what the learner wrote.
    let res = post_booking(&app, &me, f.mentor.id, "sql-basics", taken).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let html = res.text().await.unwrap();
    assert!(!html.contains("name=\"start\""), "{html}");
    assert!(html.contains("2 sessions"), "{html}");
    assert!(html.contains("joins and indexes"), "{html}");
    let mine = bookings::table
        .filter(bookings::learner_id.eq(learner.id))
        .count()
        .get_result::<i64>(&mut app.conn())
        .unwrap();
    assert_eq!(mine, 4, "nothing booked by the refused submits");
}

#[tokio::test]
async fn a_reminder_that_could_not_go_out_in_time_never_goes() {
    use officehours::bookings::reminders;
    use officehours::bookings::service::Ctx;
    let app = spawn_app().await;
    let f = fixture(&app);
    let learner = app.sign_in(&app.create_user(Role::Learner)).await;
    let start = at(2026, 6, 20, 12, 0);
    let id = book(&app, &learner, f.mentor.id, "sql-basics", start).await;
    let reminder_states = |app: &crate::harness::TestApp| -> Vec<(String, String, Option<String>)> {
        email_outbox::table
            .filter(email_outbox::booking_id.eq(id))
            .filter(email_outbox::kind.eq("booking_reminder"))
            .order(email_outbox::created_at)
            .select((
                email_outbox::subject,
                email_outbox::state,
                email_outbox::last_error,
            ))
            .load(&mut app.conn())
            .unwrap()
    };
    // The 24 h reminders are made at their moment (here by a worker that
    // then stops before sending them)…
    let ctx = Ctx {
        now: start - Duration::hours(24),
        settings: &app.state.settings,
        key: app.state.secret_key.expose(),
    };
    assert_eq!(reminders::enqueue_due(&mut app.conn(), ctx).unwrap(), 1);
    assert_eq!(
        reminders::enqueue_due(&mut app.conn(), ctx).unwrap(),
        0,
        "made once"
    );
    // …and the next worker round comes only 30 minutes before the start:
    // those expire; the 1 h ones are made and go out.
    app.clock.set(start - Duration::minutes(30));
    app.worker().run_once().await.unwrap();
    let states = reminder_states(&app);
    assert_eq!(states.len(), 4, "{states:?}");
    for (subject, state, error) in &states[..2] {
        assert!(subject.contains("24 hours"), "{subject}");
        assert_eq!(state, "dead");
        assert_eq!(error.as_deref(), Some("expired before it could be sent"));
    }
    for (subject, state, _) in &states[2..] {
        assert!(subject.contains("1 hour"), "{subject}");
        assert_eq!(state, "kept");
    }
    // After the start nothing more is made.
    app.clock.set(start + Duration::minutes(1));
    app.worker().run_once().await.unwrap();
    assert_eq!(reminder_states(&app).len(), 4);
}

#[tokio::test]
async fn a_disabled_account_s_manage_link_does_nothing() {
    let app = spawn_app().await;
    let f = fixture(&app);
    let learner = app.sign_in(&app.create_user(Role::Learner)).await;
    let id = book(
        &app,
        &learner,
        f.mentor.id,
        "sql-basics",
        at(2026, 6, 20, 12, 0),
    )
    .await;
    let token = officehours::bookings::manage::token_for(
        app.state.secret_key.expose(),
        id,
        learner.user.id,
    );
    let anon = crate::harness::new_client();
    let res = anon
        .get(app.url(&format!("/manage/{token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let csrf = crate::harness::csrf_in(&res.text().await.unwrap());
    diesel::update(users::table.find(learner.user.id))
        .set(users::disabled_at.eq(Some(app.clock.now())))
        .execute(&mut app.conn())
        .unwrap();
    let res = anon
        .get(app.url(&format!("/manage/{token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = app
        .post_form(
            &anon,
            &format!("/manage/{token}/cancel"),
            &[("csrf_token", &csrf), ("reason", "")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(booking(&app, id).status, "confirmed");
}

#[tokio::test]
async fn an_admin_must_give_a_reason_wherever_they_cancel() {
    let app = spawn_app().await;
    let f = fixture(&app);
    let learner = app.sign_in(&app.create_user(Role::Learner)).await;
    let id = book(
        &app,
        &learner,
        f.mentor.id,
        "sql-basics",
        at(2026, 6, 20, 12, 0),
    )
    .await;
    let admin = app.sign_in(&app.create_user(Role::Admin)).await;
    // From the booking page, as from the admin list: no reason, no cancel.
    let res = cancel_as(&app, &admin, id, " ").await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("id=\"reason-error\""));
    assert_eq!(booking(&app, id).status, "confirmed");
    let long = "x".repeat(501);
    let res = cancel_as(&app, &admin, id, &long).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(booking(&app, id).status, "confirmed");
    let res = cancel_as(&app, &admin, id, "Mentor is ill.").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let b = booking(&app, id);
    assert_eq!(b.status, "cancelled");
    assert_eq!(b.cancel_reason.as_deref(), Some("Mentor is ill."));
    // The admin was not one of the two emailed: the notice names them.
    let (_, page) = app.get_as(&admin, &location(&res)).await;
    assert!(
        page.contains("the learner and the mentor got an email"),
        "{page}"
    );
    assert!(!page.contains("both of you"), "{page}");
}

#[tokio::test]
async fn the_move_page_keeps_its_weeks_stops_at_the_horizon_and_finds_the_next_free_time() {
    use officehours::db::schema::time_off;
    let app = spawn_app().await;
    let f = fixture(&app);
    let learner = app.sign_in(&app.create_user(Role::Learner)).await;
    let id = book(
        &app,
        &learner,
        f.mentor.id,
        "sql-basics",
        at(2026, 6, 20, 12, 0),
    )
    .await;
    // The mentor is away until 10 July: the first two weeks are empty.
    diesel::insert_into(time_off::table)
        .values((
            time_off::id.eq(Uuid::now_v7()),
            time_off::mentor_id.eq(f.mentor.id),
            time_off::starts_at.eq(at(2026, 6, 15, 0, 0)),
            time_off::ends_at.eq(at(2026, 7, 10, 0, 0)),
            time_off::note.eq(""),
        ))
        .execute(&mut app.conn())
        .unwrap();
    let page = |query: &str| {
        let path = format!("/bookings/{id}/reschedule{query}");
        let (app, learner) = (&app, &learner);
        async move { app.get_as(learner, &path).await }
    };
    let html = page("").await.1;
    assert!(html.contains("No free times on these days."), "{html}");
    // The next free time, 08:00 Berlin on 10 July, one click away.
    assert!(
        html.contains(&format!(
            "The next one is Friday 10 July 2026, 08:00–08:30 CEST (Europe/Berlin): <a href=\"/bookings/{id}/reschedule?from=2026-07-10\">show it</a>."
        )),
        "{html}"
    );
    let html = page("?from=2026-07-10").await.1;
    assert!(html.contains("name=\"start\" value=\"2026-07-10T06:00:00Z\""));
    // The page names the days it shows, and the learner's mentor.
    assert!(
        html.contains("Friday 10 July 2026 – Thursday 23 July 2026"),
        "{html}"
    );
    assert!(html.contains(&format!("with {}, now", f.mentor.display_name)));
    // The mentor moving it reads the learner's name there.
    let mentor = app.sign_in(&f.mentor).await;
    let (_, theirs) = app
        .get_as(&mentor, &format!("/bookings/{id}/reschedule"))
        .await;
    assert!(
        theirs.contains(&format!("with {}, now", learner.user.display_name)),
        "{theirs}"
    );
    assert!(html.contains("<input type=\"hidden\" name=\"from\" value=\"2026-07-10\">"));
    assert!(
        html.contains("rel=\"next\""),
        "more weeks before the horizon"
    );

    // A refused choice comes back on the same two weeks, not on today's.
    let res = app
        .post_form(
            &learner.client,
            &format!("/bookings/{id}/reschedule"),
            &[
                ("csrf_token", learner.csrf.as_str()),
                ("start", "2026-07-10T06:10:00Z"),
                ("from", "2026-07-10"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("name=\"start\" value=\"2026-07-10T06:00:00Z\""),
        "{html}"
    );
    assert!(!html.contains("No free times on these days."));
    assert_eq!(booking(&app, id).start_at, at(2026, 6, 20, 12, 0));

    // The mentor takes bookings 60 days ahead (to 14 August): the two
    // weeks from 1 August reach past it, so no later page; a day past it
    // (or one no calendar has) shows its last two weeks.
    let html = page("?from=2026-08-01").await.1;
    assert!(!html.contains("rel=\"next\""), "{html}");
    assert!(html.contains("name=\"start\" value=\"2026-08-14T06:00:00Z\""));
    // "Later" from 27 July leads to 10 August: the days up to the last
    // one, not two weeks that mostly repeat the page before, and "Earlier"
    // goes back to 27 July.
    let html = page("?from=2026-07-27").await.1;
    assert!(
        html.contains(&format!(
            "href=\"/bookings/{id}/reschedule?from=2026-08-10\" rel=\"next\""
        )),
        "{html}"
    );
    let html = page("?from=2026-08-10").await.1;
    assert!(
        html.contains("<input type=\"hidden\" name=\"from\" value=\"2026-08-10\">"),
        "{html}"
    );
    assert!(html.contains("Monday 10 August 2026 – Friday 14 August 2026"));
    assert!(!html.contains("name=\"start\" value=\"2026-08-07T06:00:00Z\""));
    assert!(html.contains("name=\"start\" value=\"2026-08-14T06:00:00Z\""));
    assert!(!html.contains("rel=\"next\""));
    assert!(
        html.contains(&format!(
            "href=\"/bookings/{id}/reschedule?from=2026-07-27\" rel=\"prev\""
        )),
        "{html}"
    );
    let html = page("?from=2026-08-14").await.1;
    assert!(html.contains("<h2 class=\"reschedule-range\">Friday 14 August 2026</h2>"));
    // Far past it: the two weeks that end with its last day.
    let html = page("?from=2030-01-01").await.1;
    assert!(
        html.contains("<input type=\"hidden\" name=\"from\" value=\"2026-08-01\">"),
        "{html}"
    );
    assert!(html.contains("Saturday 1 August 2026 – Friday 14 August 2026"));
    assert!(html.contains("name=\"start\" value=\"2026-08-14T06:00:00Z\""));
    assert!(!html.contains("rel=\"next\""));
    for far in ["%2B262142-12-31", "262142-12-31", "9999-12-31"] {
        assert_eq!(
            page(&format!("?from={far}")).await.0,
            StatusCode::OK,
            "{far}"
        );
    }

    // Away again from 20 July on: nothing after 1 August, but the page
    // does not claim there is nothing at all, and links to the first.
    let away = |from, to| {
        diesel::insert_into(time_off::table)
            .values((
                time_off::id.eq(Uuid::now_v7()),
                time_off::mentor_id.eq(f.mentor.id),
                time_off::starts_at.eq(from),
                time_off::ends_at.eq(to),
                time_off::note.eq(""),
            ))
            .execute(&mut app.conn())
            .unwrap();
    };
    away(at(2026, 7, 20, 0, 0), at(2026, 9, 1, 0, 0));
    let html = page("?from=2026-08-01").await.1;
    assert!(
        html.contains(&format!(
            "No free times on these days. None after them either, in the 60 days ahead {} takes bookings for. \
             The first free time from today is Friday 10 July 2026, 08:00–08:30 CEST (Europe/Berlin): \
             <a href=\"/bookings/{id}/reschedule?from=2026-07-10\">show it</a>.",
            f.mentor.display_name
        )),
        "{html}"
    );
    // Away for all of it: now that is what it says.
    away(at(2026, 7, 9, 0, 0), at(2026, 7, 21, 0, 0));
    let html = page("").await.1;
    assert!(
        html.contains(&format!(
            "{} has no other free time for this topic in the 60 days ahead they take bookings for.",
            f.mentor.display_name
        )),
        "{html}"
    );
    assert!(!html.contains("show it"));
}

/// A learner's cancellation email leads to the mentor's week only while
/// the mentor takes bookings for the topic; else to the topic's page, and
/// to the home page once the topic is gone.
#[tokio::test]
async fn a_cancellation_leads_where_the_learner_can_book_again() {
    use officehours::db::schema::{mentor_profiles, topics};
    let app = spawn_app().await;
    let f = fixture(&app);
    let mentor = app.sign_in(&f.mentor).await;
    let mut ids = Vec::new();
    for day in [16, 17, 18] {
        let learner = app.sign_in(&app.create_user(Role::Learner)).await;
        let start = at(2026, 6, day, 12, 0);
        let id = book(&app, &learner, f.mentor.id, "sql-basics", start).await;
        ids.push((id, learner.user.id));
    }
    let link_after_cancel = |(id, learner): (Uuid, Uuid)| {
        let (app, mentor) = (&app, &mentor);
        async move {
            let res = cancel_as(app, mentor, id, "Something came up.").await;
            assert_eq!(res.status(), StatusCode::SEE_OTHER);
            let text: Option<String> = email_outbox::table
                .filter(email_outbox::booking_id.eq(id))
                .filter(email_outbox::recipient_user_id.eq(learner))
                .filter(email_outbox::kind.eq("booking_cancelled"))
                .select(email_outbox::body_text)
                .first(&mut app.conn())
                .unwrap();
            let text = text.unwrap();
            let at = text
                .find("You are welcome to book another time: ")
                .unwrap_or_else(|| panic!("{text}"));
            text[at..]
                .split_whitespace()
                .nth(7)
                .unwrap()
                .trim_start_matches(&app.address)
                .to_owned()
        }
    };
    assert_eq!(
        link_after_cancel(ids[0]).await,
        format!("/mentors/{}?topic=sql-basics", f.mentor.id)
    );
    // The mentor stops taking bookings: the topic's other mentors.
    diesel::update(mentor_profiles::table.find(f.mentor.id))
        .set(mentor_profiles::accepting_bookings.eq(false))
        .execute(&mut app.conn())
        .unwrap();
    assert_eq!(link_after_cancel(ids[1]).await, "/topics/sql-basics");
    // The topic is retired: its page is gone, so the home page.
    diesel::update(topics::table.find(f.topic))
        .set(topics::active.eq(false))
        .execute(&mut app.conn())
        .unwrap();
    assert_eq!(link_after_cancel(ids[2]).await, "/");
}

/// The move page names the offset once when every time shown keeps it, so
/// the times fit side by side, and each time its own across a clock change.
#[tokio::test]
async fn the_move_page_names_the_offset_once_unless_the_clocks_change() {
    let app = spawn_app().await;
    app.clock.set(at(2026, 10, 15, 0, 0));
    let f = fixture(&app);
    let user = set_zone(&app, &app.create_user(Role::Learner), "Europe/Berlin");
    let learner = app.sign_in(&user).await;
    let id = book(
        &app,
        &learner,
        f.mentor.id,
        "sql-basics",
        at(2026, 10, 20, 12, 0),
    )
    .await;
    let page = |from: &str| {
        let path = format!("/bookings/{id}/reschedule?from={from}");
        let (app, learner) = (&app, &learner);
        async move { app.get_as(learner, &path).await.1 }
    };
    let html = page("2026-10-26").await;
    assert!(html.contains("All times Europe/Berlin (CET)."), "{html}");
    assert!(
        html.contains("<label for=\"start-2026-10-26T07:00:00Z\">08:00–08:30</label>"),
        "{html}"
    );
    // Berlin goes back to CET on 25 October.
    let html = page("2026-10-15").await;
    assert!(html.contains("All times Europe/Berlin."), "{html}");
    for label in [
        "<label for=\"start-2026-10-24T06:00:00Z\">08:00–08:30 CEST</label>",
        "<label for=\"start-2026-10-26T07:00:00Z\">08:00–08:30 CET</label>",
    ] {
        assert!(html.contains(label), "{label}: {html}");
    }
}

/// A learner who loses a time while at a limit reads both, with the way to
/// the mentor's week; the taken page's form keeps the first form's key, so
/// sending that first form again (Back and reload after choosing another
/// time) shows the booking it made instead of a second refusal.
#[tokio::test]
async fn a_lost_time_at_a_limit_says_both_and_a_resubmit_shows_the_booking_made() {
    let app = spawn_app().await;
    let f = fixture(&app);
    let me = app.sign_in(&app.create_user(Role::Learner)).await;
    let someone = app.sign_in(&app.create_user(Role::Learner)).await;
    let taken = at(2026, 6, 16, 12, 0);
    book(&app, &someone, f.mentor.id, "sql-basics", taken).await;
    let post = |start, key: Uuid| {
        let fields = book_fields(f.mentor.id, "sql-basics", start, key, &me.csrf);
        let (app, me) = (&app, &me);
        async move { send_booking_form(app, me, &fields).await }
    };
    let key = Uuid::new_v4();
    let res = post(taken, key).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let html = res.text().await.unwrap();
    assert!(
        html.contains(&format!("name=\"key\" value=\"{key}\"")),
        "the same key: {html}"
    );
    let other = html
        .split("name=\"start\" value=\"")
        .nth(1)
        .map(|r| r[..20].parse::<chrono::DateTime<chrono::Utc>>().unwrap())
        .expect("another time");
    let res = post(other, key).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let made = location(&res);
    assert!(made.ends_with("?notice=booked"), "{made}");
    let id = made
        .trim_start_matches("/bookings/")
        .split('?')
        .next()
        .unwrap();
    // The first form sent again: the booking it made.
    let res = post(taken, key).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), format!("/bookings/{id}?notice=instead"));
    let (_, page) = app.get_as(&me, &location(&res)).await;
    assert!(page.contains("so you booked this one instead"), "{page}");

    // Now at the default per-topic limit (1 upcoming): another time taken
    // under them leaves no other to offer. The page says the time was
    // taken, names the limit, keeps the text and leads to the mentor's week.
    let second = at(2026, 6, 20, 12, 0);
    let third = app.sign_in(&app.create_user(Role::Learner)).await;
    book(&app, &third, f.mentor.id, "sql-basics", second).await;
    let week = format!(
        "/mentors/{}?topic=sql-basics&#38;week=2026-06-20",
        f.mentor.id
    );
    let res = post(second, Uuid::new_v4()).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let html = res.text().await.unwrap();
    for text in [
        "<h1>That time can’t be booked</h1>",
        "that time is no longer free",
        "You asked for Saturday 20 June 2026",
        "No other time can be booked now, because of your booking limits",
        "1 upcoming session of this topic",
        "joins and indexes",
    ] {
        assert!(html.contains(text), "{text}: {html}");
    }
    // Every week is the same for this limit: no link to the mentor's.
    assert!(!html.contains(&week), "{html}");
    assert!(!html.contains("name=\"start\""), "{html}");
    // The confirm page of that time says the same.
    let path = format!(
        "/book?mentor={}&topic=sql-basics&start={}",
        f.mentor.id,
        rfc(second)
    );
    let (status, html) = app.get_as(&me, &path).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{html}");
    assert!(
        html.contains("<h1>That time can’t be booked</h1>"),
        "{html}"
    );
    assert!(html.contains("that time is no longer free"), "{html}");
    assert!(html.contains("1 upcoming session of this topic"), "{html}");
    let mine = bookings::table
        .filter(bookings::learner_id.eq(me.user.id))
        .count()
        .get_result::<i64>(&mut app.conn())
        .unwrap();
    assert_eq!(mine, 1);
}

/// A learner whom a limit refuses every time reads it on the mentor's and
/// the topic's pages, with when it frees up, before picking a time; a
/// topic it leaves open, and a visitor not signed in, read nothing of it.
#[tokio::test]
async fn the_public_pages_name_a_limit_that_refuses_every_time_before_one_is_picked() {
    let app = spawn_app().await;
    let f = fixture(&app);
    let me = app.sign_in(&app.create_user(Role::Learner)).await;
    let week = |slug: &str| format!("/mentors/{}?topic={slug}", f.mentor.id);
    let pages = [week("sql-basics"), "/topics/sql-basics".to_owned()];
    for path in &pages {
        let (status, html) = app.get_as(&me, path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(!html.contains("public-limit"), "{path}: {html}");
    }
    // The default allows one upcoming session per topic.
    book(&app, &me, f.mentor.id, "sql-basics", at(2026, 6, 16, 12, 0)).await;
    for path in &pages {
        let (status, html) = app.get_as(&me, path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        // Times are shown, none offered.
        assert!(html.contains(">limit</span>"), "{path}: {html}");
        assert!(!html.contains("href=\"/book?"), "{path}: {html}");
        for text in [
            "class=\"notice notice-warning public-limit\" role=\"status\"",
            "You already have 1 upcoming session of this topic, the most per topic at once.",
            "You can book this topic again once that session starts, on Tuesday 16 June 2026",
            "<a href=\"/me/sessions\">See your sessions</a>",
        ] {
            assert!(html.contains(text), "{path}: {text}: {html}");
        }
    }
    let (_, html) = app.get_as(&me, &week("sql-basics")).await;
    assert!(!html.contains("Pick a time to book it."), "{html}");
    let (_, html) = app.get_as(&me, &week("deep-dive")).await;
    assert!(!html.contains("public-limit"), "{html}");
    assert!(html.contains("Pick a time to book it."), "{html}");
    assert!(!html.contains(">limit</span>"), "{html}");
    assert!(html.contains("href=\"/book?"), "{html}");
    for path in &pages {
        let html = app.get(path).await.text().await.unwrap();
        assert!(!html.contains("public-limit"), "{path}: {html}");
    }
}

/// The notice's other limits: the upcoming cap on every topic's pages and
/// a no-show pause name themselves, and their times are marked; a full
/// month marks its own times (the topic page leaves them out) and leaves
/// the next month's open.
#[tokio::test]
async fn the_public_pages_name_each_limit_and_mark_the_times_it_refuses() {
    use officehours::db::schema::booking_policy;
    let app = spawn_app().await;
    let f = fixture(&app);
    async fn limit_notice(
        app: &TestApp,
        who: &SignedIn,
        mentor: Uuid,
        slug: &str,
    ) -> Option<String> {
        let path = format!("/mentors/{mentor}?topic={slug}");
        let (status, html) = app.get_as(who, &path).await;
        assert_eq!(status, StatusCode::OK, "{html}");
        html.split("public-limit\" role=\"status\">")
            .nth(1)
            .map(|rest| rest[..rest.find("</div>").unwrap()].to_owned())
    }
    let notice = |who, slug| limit_notice(&app, who, f.mentor.id, slug);
    let past = |who: &SignedIn, sessions: &[(u32, u32, &str)]| {
        for (month, day, status) in sessions {
            let start = at(2026, *month, *day, 12, 0);
            insert_booking(&app, f.mentor.id, who.user.id, f.topic, start, status);
        }
    };
    // Two upcoming sessions of two topics: the most at once.
    let busy = app.sign_in(&app.create_user(Role::Learner)).await;
    for (slug, day) in [("sql-basics", 16), ("deep-dive", 17)] {
        book(&app, &busy, f.mentor.id, slug, at(2026, 6, day, 12, 0)).await;
    }
    for slug in ["sql-basics", "deep-dive"] {
        let text = notice(&busy, slug).await.expect("the upcoming cap");
        assert!(
            text.contains("You already have 2 upcoming sessions booked"),
            "{text}"
        );
    }
    // Two no-shows in the window, six weeks back, with a pause of 90
    // days: booking is paused (no-shows are read further back than the
    // other sessions, on the pages and in the booking check alike).
    diesel::update(booking_policy::table)
        .set(booking_policy::noshow_pause_days.eq(90))
        .execute(&mut app.conn())
        .unwrap();
    let missed = app.sign_in(&app.create_user(Role::Learner)).await;
    past(&missed, &[(5, 1, "no_show"), (5, 6, "no_show")]);
    let text = notice(&missed, "sql-basics").await.expect("the pause");
    assert!(
        text.contains("Booking is paused because 2 recent sessions were missed"),
        "{text}"
    );
    let paused = post_booking(
        &app,
        &missed,
        f.mentor.id,
        "sql-basics",
        at(2026, 6, 20, 12, 0),
    )
    .await;
    assert_eq!(paused.status(), StatusCode::FORBIDDEN);
    let html = paused.text().await.unwrap();
    assert!(html.contains("Booking is paused"), "{html}");
    // Four sessions this month (two of them done; May's count for May):
    // June is full, July is not, so no notice; a June time is refused, a
    // July one is not.
    diesel::update(booking_policy::table)
        .set((
            booking_policy::max_upcoming.eq(10),
            booking_policy::max_upcoming_per_topic.eq(10),
        ))
        .execute(&mut app.conn())
        .unwrap();
    let full = app.sign_in(&app.create_user(Role::Learner)).await;
    past(
        &full,
        &[
            (5, 28, "completed"),
            (6, 2, "completed"),
            (6, 5, "completed"),
        ],
    );
    for day in [16, 17] {
        book(
            &app,
            &full,
            f.mentor.id,
            "sql-basics",
            at(2026, 6, day, 14, 0),
        )
        .await;
    }
    // June's times are marked, July's stay links, and the notice names
    // the month.
    let text = notice(&full, "sql-basics").await.expect("the month");
    assert!(
        text.contains("You have 4 sessions in June 2026, the most per calendar month."),
        "{text}"
    );
    let week = |day: &str| format!("/mentors/{}?topic=sql-basics&week={day}", f.mentor.id);
    let (_, june) = app.get_as(&full, &week("2026-06-22")).await;
    assert!(!june.contains("href=\"/book?"), "{june}");
    assert!(june.contains(">limit</span>"), "{june}");
    assert!(june.contains("Times marked “limit” are beyond your booking limits"));
    let (_, july) = app.get_as(&full, &week("2026-06-29")).await;
    assert!(
        july.contains("start=2026-07-01T06:00:00Z"),
        "July is open: {july}"
    );
    assert!(!july.contains("start=2026-06-30T06:00:00Z"), "{july}");
    assert!(!june.contains("Months count in your own time zone"));
    // Shown in another zone, the page says whose months count.
    let (_, tokyo) = app
        .get_as(&full, &format!("{}&tz=Asia/Tokyo", week("2026-06-22")))
        .await;
    assert!(
        tokyo.contains(&format!(
            "Months count in your own time zone, {}.",
            full.user.time_zone.name()
        )),
        "{tokyo}"
    );
    // The topic page leaves June's times out.
    let (_, topic) = app.get_as(&full, "/topics/sql-basics").await;
    assert!(topic.contains("start=2026-07-01T06:00:00Z"), "{topic}");
    assert!(!topic.contains("start=2026-06-"), "{topic}");
    assert!(topic.contains("4 sessions in June 2026"), "{topic}");
    let refused = post_booking(
        &app,
        &full,
        f.mentor.id,
        "sql-basics",
        at(2026, 6, 20, 12, 0),
    )
    .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let html = refused.text().await.unwrap();
    assert!(html.contains("4 sessions in June 2026"), "{html}");
    let july = post_booking(
        &app,
        &full,
        f.mentor.id,
        "sql-basics",
        at(2026, 7, 2, 12, 0),
    )
    .await;
    assert_eq!(july.status(), StatusCode::SEE_OTHER);
}

/// A refused booking is cheap, and its cost does not grow with the
/// learner's sessions or when their limits refuse every other time: many
/// learners refused at once for one time is the common burst
/// (`benches/booking_load.rs`, phase 3).
#[tokio::test]
async fn a_refusal_runs_four_statements_however_many_sessions_the_learner_has() {
    let app = spawn_app().await;
    let f = fixture(&app);
    let other = add_topic(&app, "rust-intro", 30);
    offer(&app, &f.mentor, other);
    let someone = app.sign_in(&app.create_user(Role::Learner)).await;
    let taken = at(2026, 6, 16, 12, 0);
    book(&app, &someone, f.mentor.id, "sql-basics", taken).await;
    let me = app.create_user(Role::Learner);
    let me_in = app.sign_in(&me).await;
    async fn statements(
        app: &TestApp,
        who: &SignedIn,
        mentor: Uuid,
        at: chrono::DateTime<chrono::Utc>,
        status: StatusCode,
    ) -> (u64, u64) {
        let q = &app.state.queries;
        let (statements, checkouts) = (q.get(), q.checkouts());
        let res = post_booking(app, who, mentor, "sql-basics", at).await;
        assert_eq!(res.status(), status);
        res.text().await.unwrap();
        (q.get() - statements, q.checkouts() - checkouts)
    }
    let refused = |status| statements(&app, &me_in, f.mentor.id, taken, status);
    // The first fills the mentor page's cache.
    refused(StatusCode::CONFLICT).await;
    // The session, the taken check, the learner's standing (limits, busy
    // times and the form's key) and the cache's version lookup, on two
    // connections (the session's and the handler's; the pool's check of
    // each is not counted as a statement).
    assert_eq!(refused(StatusCode::CONFLICT).await, (4, 2));
    // A year of past sessions, and an upcoming one of another topic next
    // to the time asked for (it rules out nearby times).
    for day in 0..12 {
        insert_booking(
            &app,
            f.mentor.id,
            me.id,
            f.topic,
            at(2026, 6, 1 + day, 8, 0),
            if day < 2 { "completed" } else { "cancelled" },
        );
    }
    insert_booking(
        &app,
        f.mentor.id,
        me.id,
        other,
        at(2026, 6, 16, 12, 30),
        "confirmed",
    );
    refused(StatusCode::CONFLICT).await;
    assert_eq!(refused(StatusCode::CONFLICT).await, (4, 2));
    // At the per-topic limit every other time is refused: the limit page,
    // still four statements (no wider search for times to offer).
    insert_booking(
        &app,
        f.mentor.id,
        me.id,
        f.topic,
        at(2026, 6, 25, 8, 0),
        "confirmed",
    );
    refused(StatusCode::FORBIDDEN).await;
    assert_eq!(refused(StatusCode::FORBIDDEN).await, (4, 2));
}
