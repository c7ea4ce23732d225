//! The emails a booking causes, written to the outbox in the caller's
//! transaction: confirmation, reschedule and cancellation to learner and
//! mentor, a reassignment to the learner and both mentors (each in the
//! recipient's zone, with an `.ics` of one stable UID and a rising
//! SEQUENCE), and the reminders `reminders` makes when they are due, tied
//! to the booking so a cancel or reschedule withdraws one still waiting. Every message carries the recipient's own manage link.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use super::manage;
use super::model::Booking;
use super::service::{BookError, Ctx, Party};
use crate::accounts::User;
use crate::db::schema::email_outbox;
use crate::email::booking::{
    BookingCancelled, BookingConfirmed, BookingNotice, BookingReassigned, BookingReminder,
    BookingRescheduled,
};
use crate::email::ics;
use crate::email::outbox::{self, Attachment, NewEmail};
use crate::email::render::EmailContent;
use crate::schedule::public::load::TopicInfo;
use crate::timefmt;
use crate::topics;

/// The people and topic of a booking.
#[derive(Debug, Clone)]
pub struct Parties {
    pub learner: User,
    pub mentor: User,
    pub topic: TopicInfo,
    pub meeting_url: Option<String>,
}

/// The stable calendar UID of a booking.
pub fn uid(ctx: Ctx<'_>, booking: Uuid) -> String {
    ics::uid_for(booking, ctx.settings.smtp_from.email.domain())
}

/// The calendar event of a booking, with `manage_url` (the recipient's
/// own link, if any) in its description.
pub fn event(ctx: Ctx<'_>, p: &Parties, b: &Booking, manage_url: Option<&str>) -> ics::Event {
    let mut description = format!(
        "{} with {} (mentor) and {} (learner).",
        p.topic.title, p.mentor.display_name, p.learner.display_name
    );
    // None once erased with the learner's account.
    if !b.goals.is_empty() {
        description.push_str(&format!("\n\nGoals:\n{}", b.goals));
    }
    if let Some(url) = &p.meeting_url {
        description.push_str(&format!("\n\nMeeting link: {url}"));
    }
    if let Some(url) = manage_url {
        description.push_str(&format!("\n\nCancel or reschedule: {url}"));
    }
    let from = &ctx.settings.smtp_from;
    ics::Event {
        uid: uid(ctx, b.id),
        sequence: b.sequence,
        start: b.start_at,
        end: b.end_at,
        stamp: ctx.now,
        summary: format!(
            "{}: {} & {}",
            p.topic.title, p.mentor.display_name, p.learner.display_name
        ),
        description,
        location: p.meeting_url.clone(),
        url: Some(ctx.settings.absolute_url(&format!("/bookings/{}", b.id))),
        cancelled: b.status == "cancelled",
        organizer: ics::Person {
            name: from
                .name
                .clone()
                .unwrap_or_else(|| "Office Hours".to_owned()),
            email: from.email.to_string(),
        },
        attendees: vec![
            ics::Person {
                name: p.mentor.display_name.clone(),
                email: p.mentor.email.clone(),
            },
            ics::Person {
                name: p.learner.display_name.clone(),
                email: p.learner.email.clone(),
            },
        ],
    }
}

fn attachment(method: ics::Method, event: ics::Event) -> Attachment {
    Attachment {
        filename: "invite.ics".to_owned(),
        content_type: format!("text/calendar; charset=utf-8; method={}", method.as_str()),
        content: ics::calendar(Some(method), None, &[event]),
    }
}

/// The recipients: (user, is the mentor).
fn recipients(p: &Parties) -> [(&User, bool); 2] {
    [(&p.learner, false), (&p.mentor, true)]
}

/// The manage links of `to` on `b` (made sure to be on file, in one
/// statement), in the order of `to`.
fn manage_urls(
    conn: &mut PgConnection,
    ctx: Ctx<'_>,
    b: &Booking,
    to: &[&User],
) -> QueryResult<Vec<String>> {
    let ids: Vec<Uuid> = to.iter().map(|u| u.id).collect();
    let tokens = manage::issue_many(conn, ctx.key, b.id, &ids, ctx.now)?;
    // Tokens are URL-safe base64: they go into the path as they are.
    Ok(tokens
        .iter()
        .map(|t| ctx.settings.absolute_url(&format!("/manage/{t}")))
        .collect())
}

/// The notice for one recipient, with their manage link.
fn notice(
    ctx: Ctx<'_>,
    p: &Parties,
    b: &Booking,
    to: &User,
    for_mentor: bool,
    manage_url: &str,
) -> BookingNotice {
    let other = if for_mentor { &p.learner } else { &p.mentor };
    BookingNotice {
        recipient_name: to.display_name.clone(),
        for_mentor,
        other_name: other.display_name.clone(),
        topic_title: p.topic.title.clone(),
        when: timefmt::when(b.start_at, b.end_at, to.time_zone),
        subject_when: timefmt::short(b.start_at, to.time_zone),
        previous_when: None,
        goals: b.goals.clone(),
        meeting_url: p.meeting_url.clone(),
        booking_url: ctx.settings.absolute_url(&format!("/bookings/{}", b.id)),
        manage_url: manage_url.to_owned(),
        changed_by: None,
        cancel_reason: None,
        reminder_lead: None,
        rebook_url: None,
        account_disabled: false,
    }
}

/// Writes the messages about `booking` (each with its invitation, if any)
/// to the outbox in one statement.
fn send(
    conn: &mut PgConnection,
    ctx: Ctx<'_>,
    booking: Uuid,
    letters: Vec<(NewEmail, Option<Attachment>)>,
) -> Result<(), BookError> {
    let emails: Vec<NewEmail> = letters
        .into_iter()
        .map(|(mut email, invite)| {
            email.booking_id = Some(booking);
            email.attachments.extend(invite);
            email
        })
        .collect();
    outbox::enqueue_many(conn, ctx.now, &ctx.settings.smtp_from, &emails)?;
    Ok(())
}

/// Learner and mentor with their manage links.
fn addressed<'p>(
    conn: &mut PgConnection,
    ctx: Ctx<'_>,
    p: &'p Parties,
    b: &Booking,
) -> QueryResult<Vec<(&'p User, bool, String)>> {
    let people = recipients(p);
    let urls = manage_urls(conn, ctx, b, &people.map(|(u, _)| u))?;
    Ok(people
        .into_iter()
        .zip(urls)
        .map(|((to, for_mentor), url)| (to, for_mentor, url))
        .collect())
}

/// Confirmation with an invitation to both, and the reminders.
pub fn confirmed(
    conn: &mut PgConnection,
    ctx: Ctx<'_>,
    p: &Parties,
    b: &Booking,
) -> Result<(), BookError> {
    let mut letters = Vec::with_capacity(2);
    for (to, for_mentor, manage_url) in addressed(conn, ctx, p, b)? {
        let n = notice(ctx, p, b, to, for_mentor, &manage_url);
        let email = BookingConfirmed(n).to_email(to.mailbox()?, Some(to.id))?;
        let invite = attachment(ics::Method::Request, event(ctx, p, b, Some(&manage_url)));
        letters.push((email, Some(invite)));
    }
    send(conn, ctx, b.id, letters)
}

/// The new time (same UID, higher SEQUENCE) to both, and moved reminders.
pub fn rescheduled(
    conn: &mut PgConnection,
    ctx: Ctx<'_>,
    p: &Parties,
    b: &Booking,
    before: &Booking,
    by: Party,
) -> Result<(), BookError> {
    let mut letters = Vec::with_capacity(2);
    for (to, for_mentor, manage_url) in addressed(conn, ctx, p, b)? {
        let mut n = notice(ctx, p, b, to, for_mentor, &manage_url);
        n.previous_when = Some(timefmt::when(before.start_at, before.end_at, to.time_zone));
        n.changed_by = Some(changed_by(by, for_mentor).to_owned());
        let email = BookingRescheduled(n).to_email(to.mailbox()?, Some(to.id))?;
        let invite = attachment(ics::Method::Request, event(ctx, p, b, Some(&manage_url)));
        letters.push((email, Some(invite)));
    }
    send(conn, ctx, b.id, letters)
}

/// Who cancelled or moved a session, as the recipient reads it.
fn changed_by(by: Party, recipient_is_mentor: bool) -> &'static str {
    match (by, recipient_is_mentor) {
        (Party::Learner, false) | (Party::Mentor, true) => "you",
        (Party::Learner, true) => "the learner",
        (Party::Mentor, false) => "your mentor",
        (Party::Admin, _) => "an administrator",
    }
}

/// Where a learner whose session was cancelled can book again: the
/// mentor's week for the topic while the mentor (not leaving) offers it
/// and takes bookings, else the topic's page while it is active, else the
/// home page.
fn rebook_path(conn: &mut PgConnection, p: &Parties, mentor_leaving: bool) -> QueryResult<String> {
    let (active, offered) = topics::bookable_with(conn, p.topic.id, p.mentor.id)?;
    Ok(if offered && !mentor_leaving {
        format!("/mentors/{}?topic={}", p.mentor.id, p.topic.slug)
    } else if active {
        format!("/topics/{}", p.topic.slug)
    } else {
        "/".to_owned()
    })
}

/// The cancellation (`METHOD:CANCEL`, same UID, higher SEQUENCE) to both,
/// with the booking's reason, or `own_reason`'s to the person it names.
/// The learner gets a link to book again ([`rebook_path`]).
pub fn cancelled(
    conn: &mut PgConnection,
    ctx: Ctx<'_>,
    p: &Parties,
    b: &Booking,
    by: Party,
    own_reason: Option<(Uuid, &str)>,
    mentor_leaving: bool,
) -> Result<(), BookError> {
    let mut letters = Vec::with_capacity(2);
    for (to, for_mentor, manage_url) in addressed(conn, ctx, p, b)? {
        let mut n = notice(ctx, p, b, to, for_mentor, &manage_url);
        n.changed_by = Some(changed_by(by, for_mentor).to_owned());
        n.cancel_reason = match own_reason {
            Some((who, reason)) if who == to.id => {
                n.account_disabled = true;
                Some(reason.to_owned())
            }
            _ => b.cancel_reason.clone(),
        };
        if !for_mentor && !n.account_disabled {
            n.rebook_url = Some(
                ctx.settings
                    .absolute_url(&rebook_path(conn, p, mentor_leaving)?),
            );
        }
        let email = BookingCancelled(n).to_email(to.mailbox()?, Some(to.id))?;
        let invite = attachment(ics::Method::Cancel, event(ctx, p, b, None));
        letters.push((email, Some(invite)));
    }
    send(conn, ctx, b.id, letters)
}

/// A reassignment (`p` names the new mentor, `b` is the updated row): the
/// learner and the new mentor get the invitation (same UID, higher
/// SEQUENCE, the new mentor as attendee) with their manage links; the
/// previous mentor gets a cancellation (`METHOD:CANCEL`, same UID and
/// SEQUENCE) naming only them, so only their calendar entry goes.
pub fn reassigned(
    conn: &mut PgConnection,
    ctx: Ctx<'_>,
    p: &Parties,
    b: &Booking,
    previous: &Parties,
) -> Result<(), BookError> {
    let old = &previous.mentor;
    let [(learner, _), (mentor, _)] = recipients(p);
    let urls = manage_urls(conn, ctx, b, &[learner, mentor, old])?;
    let mut letters = Vec::with_capacity(3);
    for ((to, for_mentor), manage_url) in recipients(p).into_iter().zip(&urls) {
        let n = notice(ctx, p, b, to, for_mentor, manage_url);
        let email = BookingReassigned(n).to_email(to.mailbox()?, Some(to.id))?;
        let invite = attachment(ics::Method::Request, event(ctx, p, b, Some(manage_url)));
        letters.push((email, Some(invite)));
    }
    let mut n = notice(ctx, previous, b, old, true, &urls[2]);
    n.changed_by = Some(changed_by(Party::Admin, true).to_owned());
    n.cancel_reason = Some(format!(
        "The session was reassigned to {}.",
        p.mentor.display_name
    ));
    let email = BookingCancelled(n).to_email(old.mailbox()?, Some(old.id))?;
    let mut cancel = event(ctx, previous, b, None);
    cancel.cancelled = true;
    cancel.attendees.retain(|a| a.email == old.email);
    letters.push((email, Some(attachment(ics::Method::Cancel, cancel))));
    send(conn, ctx, b.id, letters)
}

/// One reminder to both people, due now, not sent after `expires`.
pub fn remind(
    conn: &mut PgConnection,
    ctx: Ctx<'_>,
    p: &Parties,
    b: &Booking,
    (key, lead): (&str, &str),
    expires: DateTime<Utc>,
) -> Result<(), BookError> {
    let mut letters = Vec::with_capacity(2);
    for (to, for_mentor, manage_url) in addressed(conn, ctx, p, b)? {
        let mut n = notice(ctx, p, b, to, for_mentor, &manage_url);
        n.reminder_lead = Some(lead.to_owned());
        let mut email = BookingReminder(n).to_email(to.mailbox()?, Some(to.id))?;
        email.expires_at = Some(expires);
        // One per booking, lead, start and recipient, whoever makes it.
        email.dedupe_key = Some(format!(
            "reminder:{}:{key}:{}:{}",
            b.id,
            b.start_at.timestamp(),
            to.id
        ));
        letters.push((email, None));
    }
    send(conn, ctx, b.id, letters)
}

/// Withdraws the booking's reminders that have not gone out: waiting ones
/// and those a worker holds (`sending`), which it looks for again just
/// before sending each (`Worker::handle_claimed`). A worker that is
/// handing one to the SMTP server at this very moment may still send it
/// (its mark then finds no row); one that died holding it can no longer
/// send it when its lease runs out, days after the cancellation.
pub fn withdraw_reminders(conn: &mut PgConnection, booking: Uuid) -> QueryResult<usize> {
    diesel::delete(
        email_outbox::table
            .filter(email_outbox::booking_id.eq(booking))
            .filter(email_outbox::kind.eq("booking_reminder"))
            .filter(email_outbox::state.eq_any(["pending", "sending"])),
    )
    .execute(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_recipient_reads_who_changed_the_session() {
        // (who acted, recipient is the mentor) → words.
        for (by, to_mentor, words) in [
            (Party::Learner, false, "you"),
            (Party::Learner, true, "the learner"),
            (Party::Mentor, false, "your mentor"),
            (Party::Mentor, true, "you"),
            (Party::Admin, false, "an administrator"),
            (Party::Admin, true, "an administrator"),
        ] {
            assert_eq!(
                changed_by(by, to_mentor),
                words,
                "{by:?} → mentor: {to_mentor}"
            );
        }
    }
}
