//! The emails of a booking as they arrive on a real SMTP server: the
//! `.ics` invitations parsed with a real iCalendar parser (one UID, rising
//! SEQUENCE, REQUEST / CANCEL), each recipient's own time zone, reminders
//! at the right moment of the app clock and never twice, and the bodies
//! with secret links cleared from the outbox once sent.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use icalendar::parser::{read_calendar, unfold};
use mail_parser::MimeHeaders;
use officehours::accounts::Role;
use officehours::db::schema::email_outbox;
use officehours::email::outbox::OutboxRow;
use reqwest::StatusCode;
use uuid::Uuid;

use crate::booking_fixture::*;
use crate::harness::{SignedIn, TestApp, location, new_client, spawn_app_with_mail};
use crate::mail::Received;

const GOALS: &str = "I want to understand joins and indexes.";
const MEETING: &str = "https://meet.example.org/room-1";

// ---------------------------------------------------------------------
// Reading what arrived
// ---------------------------------------------------------------------

/// One content line, owned.
#[derive(Debug, Clone)]
struct Prop {
    name: String,
    val: String,
    params: Vec<(String, Option<String>)>,
}

impl Prop {
    fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| v.as_deref())
    }
}

/// A parsed VCALENDAR with exactly one VEVENT.
#[derive(Debug)]
pub(crate) struct Ics {
    cal: Vec<Prop>,
    event: Vec<Prop>,
}

impl Ics {
    pub(crate) fn cal(&self, name: &str) -> Option<&str> {
        self.cal
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.val.as_str())
    }

    fn all(&self, name: &str) -> Vec<&Prop> {
        self.event.iter().filter(|p| p.name == name).collect()
    }

    /// The one value of `name` in the event.
    pub(crate) fn ev(&self, name: &str) -> &str {
        let all = self.all(name);
        assert_eq!(all.len(), 1, "exactly one {name}: {:?}", self.event);
        all[0].val.as_str()
    }
}

/// Parses `text` with the `icalendar` crate: the raw parser (every
/// property) and the typed model (must accept it as well).
fn parse_ics(text: &str) -> Ics {
    assert!(text.ends_with("\r\n"), "content lines end with CRLF");
    let unfolded = unfold(text);
    let cal = read_calendar(&unfolded).unwrap_or_else(|e| panic!("not iCalendar ({e}):\n{text}"));
    let own = |p: &icalendar::parser::Property<'_>| Prop {
        name: p.name.as_str().to_owned(),
        val: p.val.as_str().to_owned(),
        params: p
            .params
            .iter()
            .map(|x| {
                (
                    x.key.as_str().to_owned(),
                    x.val.as_ref().map(|v| v.as_str().to_owned()),
                )
            })
            .collect(),
    };
    let events: Vec<_> = cal
        .components
        .iter()
        .filter(|c| c.name == "VEVENT")
        .collect();
    assert_eq!(events.len(), 1, "one VEVENT:\n{text}");
    let ics = Ics {
        cal: cal.properties.iter().map(own).collect(),
        event: events[0].properties.iter().map(own).collect(),
    };
    let typed: icalendar::Calendar = text.parse().expect("the typed model accepts it");
    assert_eq!(typed.components.len(), 1);
    ics
}

/// What one delivered booking email holds.
pub(crate) struct Mail {
    pub(crate) to: String,
    pub(crate) subject: String,
    pub(crate) text: String,
    pub(crate) html: String,
    /// The `text/calendar` part: its `method=` parameter and the calendar.
    pub(crate) method_param: Option<String>,
    pub(crate) ics: Option<Ics>,
}

pub(crate) fn read_mail(m: &Received) -> Mail {
    assert_eq!(m.to.len(), 1, "one recipient per message");
    let msg = m.parsed();
    let mut calendars = msg.parts.iter().filter(|p| {
        p.content_type().is_some_and(|ct| {
            ct.ctype().eq_ignore_ascii_case("text")
                && ct
                    .subtype()
                    .is_some_and(|s| s.eq_ignore_ascii_case("calendar"))
        })
    });
    let part = calendars.next();
    assert!(calendars.next().is_none(), "at most one calendar part");
    let (method_param, ics) = match part {
        Some(p) => {
            let method = p
                .content_type()
                .and_then(|ct| ct.attribute("method"))
                .map(str::to_owned);
            let text = p
                .text_contents()
                .map(str::to_owned)
                .unwrap_or_else(|| String::from_utf8(p.contents().to_vec()).unwrap());
            // The same calendar comes as a download that no client takes
            // for a second invitation.
            let downloads: Vec<_> = msg
                .attachments()
                .filter(|a| a.attachment_name() == Some("invite.ics"))
                .collect();
            assert_eq!(downloads.len(), 1, "one invite.ics download");
            let ct = downloads[0].content_type().unwrap();
            assert_eq!(
                (ct.ctype(), ct.subtype()),
                ("application", Some("ics")),
                "the download is not a second text/calendar part"
            );
            assert_eq!(
                String::from_utf8_lossy(downloads[0].contents()).replace("\r\n", "\n"),
                text.replace("\r\n", "\n")
            );
            (method, Some(parse_ics(&text)))
        }
        None => {
            assert_eq!(msg.attachments().count(), 0, "no calendar, no attachment");
            (None, None)
        }
    };
    Mail {
        to: m.to[0].clone(),
        subject: msg.subject().unwrap_or_default().to_owned(),
        text: msg.body_text(0).unwrap_or_default().into_owned(),
        html: msg.body_html(0).unwrap_or_default().into_owned(),
        method_param,
        ics,
    }
}

/// The messages delivered since the first `seen`, parsed.
pub(crate) fn new_mail(app: &TestApp, seen: usize) -> Vec<Mail> {
    app.mail().messages()[seen..]
        .iter()
        .map(read_mail)
        .collect()
}

pub(crate) fn to<'a>(mails: &'a [Mail], email: &str) -> &'a Mail {
    let mine: Vec<&Mail> = mails.iter().filter(|m| m.to == email).collect();
    assert_eq!(mine.len(), 1, "one message to {email}");
    mine[0]
}

/// The `/manage/…` URL in `text`.
pub(crate) fn manage_link(text: &str) -> String {
    let at = text.find("/manage/").expect("a manage link");
    let begin = text[..at].rfind("http").unwrap();
    let end = text[at..]
        .find(|c: char| c.is_whitespace() || c == '"' || c == '<')
        .map_or(text.len(), |e| at + e);
    text[begin..end].to_owned()
}

fn utc(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

/// Checks one booking calendar against what the booking says.
fn check_event(
    ics: &Ics,
    id: Uuid,
    sequence: i32,
    start: DateTime<Utc>,
    minutes: i64,
    people: &[&SignedIn],
    mentor_email: &str,
) {
    assert_eq!(ics.cal("VERSION"), Some("2.0"));
    assert_eq!(ics.ev("UID"), format!("{id}@officehours.test"));
    assert_eq!(ics.ev("SEQUENCE"), sequence.to_string());
    assert_eq!(ics.ev("DTSTART"), utc(start));
    assert_eq!(ics.ev("DTEND"), utc(start + Duration::minutes(minutes)));
    let organizer = ics.all("ORGANIZER");
    assert_eq!(organizer.len(), 1);
    assert_eq!(organizer[0].val, "mailto:hours@officehours.test");
    assert_eq!(organizer[0].param("CN"), Some("Office Hours"));
    let attendees: BTreeSet<&str> = ics.all("ATTENDEE").iter().map(|p| p.val.as_str()).collect();
    let mut expected: BTreeSet<String> = people
        .iter()
        .map(|p| format!("mailto:{}", p.user.email))
        .collect();
    expected.insert(format!("mailto:{mentor_email}"));
    assert_eq!(
        attendees,
        expected.iter().map(String::as_str).collect::<BTreeSet<_>>()
    );
    assert_eq!(ics.all("ATTENDEE").len(), 2, "mentor and learner");
    let description = ics.ev("DESCRIPTION");
    assert!(description.contains(GOALS), "{description}");
    assert!(description.contains(MEETING), "{description}");
    assert_eq!(ics.ev("LOCATION"), MEETING);
}

fn outbox_of(app: &TestApp, booking: Uuid) -> Vec<OutboxRow> {
    email_outbox::table
        .filter(email_outbox::booking_id.eq(booking))
        .order((email_outbox::created_at, email_outbox::id))
        .select(OutboxRow::as_select())
        .load(&mut app.conn())
        .unwrap()
}

async fn cancel(app: &TestApp, who: &SignedIn, id: Uuid) {
    let res = app
        .post_form(
            &who.client,
            &format!("/bookings/{id}/cancel"),
            &[("csrf_token", &who.csrf), ("reason", "Something came up")],
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "{}",
        res.text().await.unwrap()
    );
    // To the booking, not to the sign-in page of an idle session.
    assert!(
        location(&res).starts_with(&format!("/bookings/{id}")),
        "{}",
        location(&res)
    );
}

async fn reschedule(app: &TestApp, who: &SignedIn, id: Uuid, start: DateTime<Utc>) {
    let res = app
        .post_form(
            &who.client,
            &format!("/bookings/{id}/reschedule"),
            &[("csrf_token", &who.csrf), ("start", &rfc(start))],
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "{}",
        res.text().await.unwrap()
    );
    assert!(
        location(&res).starts_with(&format!("/bookings/{id}")),
        "{}",
        location(&res)
    );
}

/// Runs worker rounds until one finds nothing; returns how many were sent.
async fn drain(app: &TestApp) -> usize {
    let w = app.worker();
    let mut sent = 0;
    loop {
        let round = w.run_once().await.unwrap();
        assert_eq!(round.retried + round.dead, 0, "{round:?}");
        if round.handled() == 0 {
            return sent;
        }
        sent += round.sent;
    }
}

/// Two workers run one round each at the same time; returns the total
/// sent.
async fn two_workers(app: &TestApp) -> usize {
    let (a, b) = (app.worker(), app.worker());
    let (ra, rb) = tokio::join!(a.run_once(), b.run_once());
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ra.retried + ra.dead + rb.retried + rb.dead, 0);
    ra.sent + rb.sent
}

// ---------------------------------------------------------------------
// Invitations
// ---------------------------------------------------------------------

#[tokio::test]
async fn invitations_parse_and_keep_one_uid_through_reschedule_and_cancel() {
    let app = spawn_app_with_mail().await;
    let f = fixture(&app);
    let me = app.sign_in(&app.create_user(Role::Learner)).await;
    let mentor_email = f.mentor.email.clone();
    let start = at(2026, 6, 16, 12, 0);
    let id = book(&app, &me, f.mentor.id, "sql-basics", start).await;

    // Confirmations: only they are due now.
    assert_eq!(drain(&app).await, 2);
    let mails = new_mail(&app, 0);
    assert_eq!(mails.len(), 2);
    let mut manage_links = Vec::new();
    for email in [me.user.email.as_str(), mentor_email.as_str()] {
        let m = to(&mails, email);
        assert!(m.subject.starts_with("Booked: "), "{}", m.subject);
        assert_eq!(m.method_param.as_deref(), Some("REQUEST"));
        let ics = m.ics.as_ref().expect("an invitation");
        assert_eq!(ics.cal("METHOD"), Some("REQUEST"));
        check_event(ics, id, 0, start, 30, &[&me], &mentor_email);
        assert_eq!(ics.ev("STATUS"), "CONFIRMED");
        // The recipient's own manage link, the same as in the body.
        let link = manage_link(ics.ev("DESCRIPTION"));
        assert!(
            link.starts_with(&format!("{}/manage/", app.address)),
            "{link}"
        );
        assert!(m.text.contains(&link), "{}", m.text);
        assert!(m.html.contains(&link), "{}", m.html);
        manage_links.push(link);
    }
    assert_ne!(manage_links[0], manage_links[1], "one link per recipient");
    for link in &manage_links {
        let res = new_client().get(link).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{link}");
    }

    // The download parses too (PUBLISH, no secret link in it).
    let res = me
        .client
        .get(app.url(&format!("/bookings/{id}.ics")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let download = parse_ics(&res.text().await.unwrap());
    assert_eq!(download.cal("METHOD"), Some("PUBLISH"));
    check_event(&download, id, 0, start, 30, &[&me], &mentor_email);
    assert!(!download.ev("DESCRIPTION").contains("/manage/"));

    // Reschedule: same UID, SEQUENCE 1, the new time, still a REQUEST.
    let moved = at(2026, 6, 16, 14, 0);
    reschedule(&app, &me, id, moved).await;
    assert_eq!(drain(&app).await, 2);
    let mails = new_mail(&app, 2);
    assert_eq!(mails.len(), 2);
    for email in [me.user.email.as_str(), mentor_email.as_str()] {
        let m = to(&mails, email);
        assert!(m.subject.starts_with("Moved: "), "{}", m.subject);
        assert_eq!(m.method_param.as_deref(), Some("REQUEST"));
        let ics = m.ics.as_ref().expect("an updated invitation");
        assert_eq!(ics.cal("METHOD"), Some("REQUEST"));
        check_event(ics, id, 1, moved, 30, &[&me], &mentor_email);
        assert_eq!(ics.ev("STATUS"), "CONFIRMED");
        assert!(ics.ev("DESCRIPTION").contains("/manage/"));
    }
    // Each reads who moved it, as a cancel says who cancelled.
    for (email, by) in [
        (me.user.email.as_str(), "by you."),
        (mentor_email.as_str(), "by the learner."),
    ] {
        let m = to(&mails, email);
        let line = format!("was moved to a new time {by}");
        assert!(m.text.contains(&line), "{}", m.text);
        assert!(m.html.contains(&line), "{}", m.html);
    }

    // Cancel: METHOD:CANCEL, STATUS:CANCELLED, same UID, higher SEQUENCE.
    cancel(&app, &me, id).await;
    assert_eq!(drain(&app).await, 2);
    let mails = new_mail(&app, 4);
    assert_eq!(mails.len(), 2);
    for email in [me.user.email.as_str(), mentor_email.as_str()] {
        let m = to(&mails, email);
        assert!(m.subject.starts_with("Cancelled: "), "{}", m.subject);
        assert_eq!(m.method_param.as_deref(), Some("CANCEL"));
        let ics = m.ics.as_ref().expect("a cancellation");
        assert_eq!(ics.cal("METHOD"), Some("CANCEL"));
        assert_eq!(ics.ev("STATUS"), "CANCELLED");
        let seq: i32 = ics.ev("SEQUENCE").parse().unwrap();
        assert!(seq > 1, "{seq}");
        check_event(ics, id, seq, moved, 30, &[&me], &mentor_email);
        assert!(!ics.ev("DESCRIPTION").contains("/manage/"));
    }
    // The learner is shown the way back to the mentor's free times.
    let rebook = format!("{}/mentors/{}?topic=sql-basics", app.address, f.mentor.id);
    let m = to(&mails, &me.user.email);
    assert!(
        m.text
            .contains(&format!("You are welcome to book another time: {rebook}")),
        "{}",
        m.text
    );
    assert!(
        m.html.contains(&format!(
            "<a href=\"{}\">book another time</a>",
            rebook.replace('&', "&#38;")
        )),
        "{}",
        m.html
    );
    assert!(!to(&mails, &mentor_email).text.contains("/mentors/"));
    let res = me
        .client
        .get(app.url(&format!("/bookings/{id}.ics")))
        .send()
        .await
        .unwrap();
    let download = parse_ics(&res.text().await.unwrap());
    // The download of a cancelled session removes it, as the email does.
    assert_eq!(download.cal("METHOD"), Some("CANCEL"));
    assert_eq!(download.ev("STATUS"), "CANCELLED");
    assert_eq!(download.ev("SEQUENCE"), "2");
    // Nothing else went out: no reminder after the cancel.
    assert_eq!(drain(&app).await, 0);
    app.clock.set(at(2026, 6, 17, 0, 0));
    assert_eq!(drain(&app).await, 0);
    assert_eq!(app.mail().messages().len(), 6);
}

// ---------------------------------------------------------------------
// Time zones
// ---------------------------------------------------------------------

#[tokio::test]
async fn each_recipient_reads_the_time_in_their_own_zone() {
    let app = spawn_app_with_mail().await;
    let f = fixture(&app);
    assert_eq!(f.mentor.time_zone, chrono_tz::Europe::Berlin);
    let learner = app.create_user(Role::Learner);
    let learner = set_zone(&app, &learner, "America/New_York");
    let me = app.sign_in(&learner).await;
    let start = at(2026, 6, 16, 12, 0);
    let id = book(&app, &me, f.mentor.id, "sql-basics", start).await;

    let ny = "Tuesday 16 June 2026, 08:00–08:30 EDT (America/New_York)";
    let berlin = "Tuesday 16 June 2026, 14:00–14:30 CEST (Europe/Berlin)";
    let check = |what: &str, learner_text: &str, mentor_text: &str| {
        assert!(
            learner_text.contains(ny),
            "{what} to the learner: {learner_text}"
        );
        assert!(
            !learner_text.contains("Europe/Berlin"),
            "{what}: {learner_text}"
        );
        assert!(!learner_text.contains("CEST"), "{what}: {learner_text}");
        assert!(
            mentor_text.contains(berlin),
            "{what} to the mentor: {mentor_text}"
        );
        assert!(
            !mentor_text.contains("America/New_York"),
            "{what}: {mentor_text}"
        );
        assert!(!mentor_text.contains("EDT"), "{what}: {mentor_text}");
    };

    // The reminders are written in each zone too (made at their moment).
    app.clock.set(at(2026, 6, 16, 12, 0) - Duration::hours(24));
    crate::booking_fixture::make_due_reminders(&app);
    let rows = outbox_of(&app, id);
    for kind in ["booking_confirmed", "booking_reminder"] {
        let body = |user: Uuid| -> Vec<String> {
            rows.iter()
                .filter(|r| r.kind == kind && r.recipient_user_id == Some(user))
                .map(|r| r.body_text.clone().unwrap())
                .collect()
        };
        let (l, m) = (body(learner.id), body(f.mentor.id));
        assert!(!l.is_empty() && l.len() == m.len(), "{kind}");
        for (l, m) in l.iter().zip(&m) {
            check(kind, l, m);
        }
    }

    // The two confirmations go first, then the two reminders.
    assert_eq!(drain(&app).await, 4);
    let mails: Vec<Mail> = new_mail(&app, 0)
        .into_iter()
        .filter(|m| m.subject.starts_with("Booked:"))
        .collect();
    let (l, m) = (to(&mails, &learner.email), to(&mails, &f.mentor.email));
    check("confirmation text", &l.text, &m.text);
    check("confirmation html", &l.html, &m.html);
    assert!(
        l.subject.contains("Tue 16 Jun 2026, 08:00 EDT"),
        "{}",
        l.subject
    );
    assert!(
        m.subject.contains("Tue 16 Jun 2026, 14:00 CEST"),
        "{}",
        m.subject
    );

    cancel(&app, &me, id).await;
    assert_eq!(drain(&app).await, 2);
    let mails = new_mail(&app, 4);
    let (l, m) = (to(&mails, &learner.email), to(&mails, &f.mentor.email));
    check("cancellation text", &l.text, &m.text);
    check("cancellation html", &l.html, &m.html);
    assert!(l.subject.contains("EDT") && m.subject.contains("CEST"));
}

// ---------------------------------------------------------------------
// Reminders
// ---------------------------------------------------------------------

/// Subjects of the reminders among `mails`, with their recipients.
fn reminders(mails: &[Mail]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = mails
        .iter()
        .filter(|m| m.subject.starts_with("Reminder: "))
        .map(|m| (m.to.clone(), m.subject.clone()))
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn reminders_go_out_once_at_24_hours_and_1_hour_before() {
    let app = spawn_app_with_mail().await;
    let f = fixture(&app);
    let me = app.sign_in(&app.create_user(Role::Learner)).await;
    let start = at(2026, 6, 20, 12, 0);
    let id = book(&app, &me, f.mentor.id, "sql-basics", start).await;
    assert_eq!(drain(&app).await, 2, "the confirmations");
    let recipients: BTreeSet<String> = [me.user.email.clone(), f.mentor.email.clone()].into();

    for t in [
        at(2026, 6, 16, 12, 0),
        at(2026, 6, 19, 0, 0),
        at(2026, 6, 19, 11, 59) + Duration::seconds(59),
    ] {
        app.clock.set(t);
        assert_eq!(two_workers(&app).await, 0, "at {t}");
    }
    assert_eq!(app.mail().messages().len(), 2);

    // Due: two workers at once deliver each 24 h reminder once.
    app.clock.set(at(2026, 6, 19, 12, 0));
    assert_eq!(two_workers(&app).await, 2);
    assert_eq!(two_workers(&app).await, 0);
    let got = new_mail(&app, 2);
    assert_eq!(got.len(), 2);
    let r = reminders(&got);
    assert_eq!(r.len(), 2);
    assert_eq!(
        r.iter().map(|(to, _)| to.clone()).collect::<BTreeSet<_>>(),
        recipients
    );
    for (_, subject) in &r {
        assert!(subject.contains("in 24 hours"), "{subject}");
        assert!(subject.contains("Sat 20 Jun 2026, 14:00 CEST"), "{subject}");
    }

    for t in [
        at(2026, 6, 19, 18, 0),
        at(2026, 6, 20, 10, 59) + Duration::seconds(59),
    ] {
        app.clock.set(t);
        assert_eq!(two_workers(&app).await, 0, "at {t}");
    }
    assert_eq!(app.mail().messages().len(), 4);

    app.clock.set(at(2026, 6, 20, 11, 0));
    assert_eq!(two_workers(&app).await, 2);
    let got = new_mail(&app, 4);
    let r = reminders(&got);
    assert_eq!(r.len(), 2);
    assert_eq!(
        r.iter().map(|(to, _)| to.clone()).collect::<BTreeSet<_>>(),
        recipients
    );
    for (_, subject) in &r {
        assert!(subject.contains("in 1 hour"), "{subject}");
    }

    for t in [
        at(2026, 6, 20, 11, 30),
        at(2026, 6, 20, 13, 0),
        at(2026, 6, 25, 0, 0),
    ] {
        app.clock.set(t);
        assert_eq!(two_workers(&app).await, 0, "at {t}");
    }
    assert_eq!(app.mail().messages().len(), 6, "never a duplicate");
    let rows = outbox_of(&app, id);
    assert_eq!(rows.len(), 6);
    for row in &rows {
        assert_eq!(row.state, "sent", "{row:?}");
        assert_eq!(row.attempts, 1, "claimed once: {row:?}");
    }
}

#[tokio::test]
async fn a_cancelled_booking_never_sends_a_reminder() {
    let app = spawn_app_with_mail().await;
    let f = fixture(&app);
    let me = app.sign_in(&app.create_user(Role::Learner)).await;
    let id = book(&app, &me, f.mentor.id, "sql-basics", at(2026, 6, 20, 12, 0)).await;
    assert_eq!(drain(&app).await, 2);
    cancel(&app, &me, id).await;
    assert_eq!(drain(&app).await, 2, "the cancellations");

    for t in [
        at(2026, 6, 19, 12, 0),
        at(2026, 6, 20, 11, 0),
        at(2026, 6, 20, 12, 30),
        at(2026, 6, 30, 0, 0),
    ] {
        app.clock.set(t);
        assert_eq!(two_workers(&app).await, 0, "at {t}");
    }
    let all = new_mail(&app, 0);
    assert_eq!(all.len(), 4);
    assert!(reminders(&all).is_empty());
    let kinds: Vec<String> = outbox_of(&app, id).into_iter().map(|r| r.kind).collect();
    assert!(!kinds.iter().any(|k| k == "booking_reminder"), "{kinds:?}");
}

/// A worker claims the 24 h reminders and dies before sending them; the
/// learner cancels meanwhile. When the dead worker's lease runs out, the
/// next worker must not send the reminders of a cancelled session.
#[tokio::test]
async fn reminders_a_dead_worker_held_are_not_sent_after_a_cancel() {
    let app = spawn_app_with_mail().await;
    let f = fixture(&app);
    let me = app.sign_in(&app.create_user(Role::Learner)).await;
    let id = book(&app, &me, f.mentor.id, "sql-basics", at(2026, 6, 20, 12, 0)).await;
    assert_eq!(drain(&app).await, 2, "the confirmations");

    app.clock.set(at(2026, 6, 19, 12, 0));
    assert_eq!(
        crate::booking_fixture::make_due_reminders(&app),
        1,
        "one booking due"
    );
    let (_lost, held) =
        officehours::email::outbox::claim_due(&mut app.conn(), app.clock.now(), 10).unwrap();
    assert_eq!(held.len(), 2);
    assert!(held.iter().all(|r| r.kind == "booking_reminder"));

    // Four days on, the learner signs in again (sessions idle out).
    let me = app.sign_in(&me.user).await;
    cancel(&app, &me, id).await;
    app.clock
        .advance(officehours::email::outbox::LEASE + Duration::seconds(1));
    assert_eq!(drain(&app).await, 2, "the cancellations only");
    let all = new_mail(&app, 0);
    assert_eq!(all.len(), 4);
    assert!(reminders(&all).is_empty(), "{:?}", reminders(&all));
    let kinds: Vec<String> = outbox_of(&app, id).into_iter().map(|r| r.kind).collect();
    assert!(!kinds.iter().any(|k| k == "booking_reminder"), "{kinds:?}");
}

/// A worker has claimed a batch of reminders and is sending them one by
/// one; a learner cancels meanwhile. The worker must not send the
/// cancelled session's reminders still waiting in its batch, and sends
/// the others.
#[tokio::test]
async fn reminders_waiting_in_a_worker_s_batch_are_not_sent_after_a_cancel() {
    let app = spawn_app_with_mail().await;
    let f = fixture(&app);
    let me = app.sign_in(&app.create_user(Role::Learner)).await;
    let other = app.sign_in(&app.create_user(Role::Learner)).await;
    let id = book(&app, &me, f.mentor.id, "sql-basics", at(2026, 6, 20, 12, 0)).await;
    book(
        &app,
        &other,
        f.mentor.id,
        "sql-basics",
        at(2026, 6, 20, 13, 0),
    )
    .await;
    assert_eq!(drain(&app).await, 4, "the confirmations");

    app.clock.set(at(2026, 6, 19, 13, 0));
    assert_eq!(crate::booking_fixture::make_due_reminders(&app), 2);
    let (token, batch) =
        officehours::email::outbox::claim_due(&mut app.conn(), app.clock.now(), 10).unwrap();
    assert_eq!(batch.len(), 4);
    assert!(batch.iter().all(|r| r.kind == "booking_reminder"));

    let me = app.sign_in(&me.user).await;
    cancel(&app, &me, id).await;
    let round = app.worker().handle_claimed(token, batch).await.unwrap();
    assert_eq!((round.sent, round.withdrawn), (2, 2), "{round:?}");
    let sent = reminders(&new_mail(&app, 4));
    let mut to: Vec<String> = sent.iter().map(|(to, _)| to.clone()).collect();
    to.sort();
    let mut expected = vec![other.user.email.clone(), f.mentor.email.clone()];
    expected.sort();
    assert_eq!(to, expected, "only the other session's reminders: {sent:?}");
    // 13:00 UTC is 15:00 in Berlin; the cancelled one was at 14:00.
    assert!(sent.iter().all(|(_, s)| s.contains("15:00")), "{sent:?}");
    assert_eq!(drain(&app).await, 2, "then the cancellations");
    assert!(reminders(&new_mail(&app, 6)).is_empty());
}

#[tokio::test]
async fn a_reschedule_moves_the_reminders_to_the_new_time() {
    let app = spawn_app_with_mail().await;
    let f = fixture(&app);
    let me = app.sign_in(&app.create_user(Role::Learner)).await;
    let id = book(&app, &me, f.mentor.id, "sql-basics", at(2026, 6, 20, 12, 0)).await;
    assert_eq!(drain(&app).await, 2);
    let moved = at(2026, 6, 22, 12, 0);
    reschedule(&app, &me, id, moved).await;
    assert_eq!(drain(&app).await, 2, "the reschedule notices");

    // The old reminder times pass without a message.
    for t in [
        at(2026, 6, 19, 12, 0),
        at(2026, 6, 20, 11, 0),
        at(2026, 6, 20, 12, 0),
        at(2026, 6, 21, 11, 59),
    ] {
        app.clock.set(t);
        assert_eq!(two_workers(&app).await, 0, "at {t}");
    }
    assert_eq!(app.mail().messages().len(), 4);

    app.clock.set(at(2026, 6, 21, 12, 0));
    assert_eq!(two_workers(&app).await, 2);
    let r = reminders(&new_mail(&app, 4));
    assert_eq!(r.len(), 2);
    for (_, subject) in &r {
        assert!(subject.contains("in 24 hours"), "{subject}");
        assert!(subject.contains("Mon 22 Jun 2026, 14:00 CEST"), "{subject}");
    }
    app.clock.set(at(2026, 6, 22, 10, 59));
    assert_eq!(two_workers(&app).await, 0);
    app.clock.set(at(2026, 6, 22, 11, 0));
    assert_eq!(two_workers(&app).await, 2);
    let r = reminders(&new_mail(&app, 6));
    assert_eq!(r.len(), 2);
    for (_, subject) in &r {
        assert!(subject.contains("in 1 hour"), "{subject}");
    }
    app.clock.set(at(2026, 6, 23, 0, 0));
    assert_eq!(two_workers(&app).await, 0);
    assert_eq!(app.mail().messages().len(), 8);
}

#[tokio::test]
async fn a_booking_made_ten_hours_ahead_gets_only_the_1_hour_reminders() {
    let app = spawn_app_with_mail().await;
    let f = fixture(&app);
    app.clock.set(at(2026, 6, 16, 2, 0));
    let me = app.sign_in(&app.create_user(Role::Learner)).await;
    let start = at(2026, 6, 16, 12, 0);
    let id = book(&app, &me, f.mentor.id, "sql-basics", start).await;

    assert_eq!(drain(&app).await, 2, "the confirmations");
    // No 24 h reminder was ever made (its moment had passed at booking).
    let made: Vec<String> = outbox_of(&app, id)
        .into_iter()
        .filter(|r| r.kind == "booking_reminder")
        .map(|r| r.subject)
        .collect();
    assert!(made.is_empty(), "{made:?}");
    app.clock.set(at(2026, 6, 16, 10, 59));
    assert_eq!(two_workers(&app).await, 0);
    app.clock.set(at(2026, 6, 16, 11, 0));
    assert_eq!(two_workers(&app).await, 2);
    app.clock.set(at(2026, 6, 16, 13, 0));
    assert_eq!(two_workers(&app).await, 0);
    let all = new_mail(&app, 0);
    assert_eq!(all.len(), 4);
    let r = reminders(&all);
    assert_eq!(r.len(), 2);
    assert!(r.iter().all(|(_, s)| s.contains("in 1 hour")), "{r:?}");
}

// ---------------------------------------------------------------------
// Secret links
// ---------------------------------------------------------------------

#[tokio::test]
async fn sent_booking_emails_are_cleared_from_the_outbox() {
    let app = spawn_app_with_mail().await;
    let f = fixture(&app);
    let me = app.sign_in(&app.create_user(Role::Learner)).await;
    let id = book(&app, &me, f.mentor.id, "sql-basics", at(2026, 6, 20, 12, 0)).await;

    // The 24 h reminders are made at their moment; all four carry the link.
    app.clock.set(at(2026, 6, 19, 12, 0));
    crate::booking_fixture::make_due_reminders(&app);
    let rows = outbox_of(&app, id);
    assert_eq!(rows.len(), 4);
    for r in &rows {
        assert!(r.carries_secret, "{} carries a manage link", r.kind);
        assert!(
            r.body_text.as_deref().unwrap().contains("/manage/"),
            "{}",
            r.kind
        );
        assert!(
            r.body_html.as_deref().unwrap().contains("/manage/"),
            "{}",
            r.kind
        );
        if r.kind == "booking_confirmed" {
            assert!(!r.attachments().is_empty());
        }
    }

    assert_eq!(drain(&app).await, 4);
    let cleared = |r: &OutboxRow| {
        r.body_text.is_none() && r.body_html.is_none() && r.attachments == serde_json::json!([])
    };
    for r in outbox_of(&app, id) {
        match r.state.as_str() {
            "sent" => assert!(cleared(&r), "sent and still holding its body: {r:?}"),
            "pending" => {
                assert_eq!(r.kind, "booking_reminder");
                assert!(!cleared(&r), "a waiting reminder keeps its body");
            }
            other => panic!("unexpected state {other}"),
        }
    }
    // The link still works: only its hash is stored.
    let link = manage_link(&new_mail(&app, 0)[0].text);
    assert_eq!(
        new_client().get(&link).send().await.unwrap().status(),
        StatusCode::OK
    );

    app.clock.set(at(2026, 6, 20, 11, 0));
    assert_eq!(drain(&app).await, 2, "the 1 h reminders");
    let rows = outbox_of(&app, id);
    assert!(
        rows.iter().all(|r| r.state == "sent" && cleared(r)),
        "{rows:?}"
    );
}
