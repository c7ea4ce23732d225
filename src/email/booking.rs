//! The emails of a booking's life: confirmed, rescheduled, cancelled,
//! reassigned and the reminders. One content struct for all five, filled
//! by the booking service per recipient (times already formatted in the
//! recipient's zone); the `.ics` attachment is added by the caller.
//! Depends on the rendering in `render` only.

use askama::Template;

use super::render::{EmailContent, Rendered, email_templates};

/// What one recipient (mentor or learner) is told about one booking.
#[derive(Debug, Clone)]
pub struct BookingNotice {
    pub recipient_name: String,
    /// The recipient is the mentor (else the learner).
    pub for_mentor: bool,
    /// The learner's name for a mentor, the mentor's for a learner.
    pub other_name: String,
    pub topic_title: String,
    /// `timefmt::when` in the recipient's zone (names the zone).
    pub when: String,
    /// `timefmt::short` of the start in the recipient's zone, for the subject.
    pub subject_when: String,
    /// Rescheduled: the old time, as `when` in the same zone.
    pub previous_when: Option<String>,
    pub goals: String,
    pub meeting_url: Option<String>,
    /// Absolute `/bookings/{id}`.
    pub booking_url: String,
    /// Absolute `/manage/{token}`: a secret link acting as the recipient.
    pub manage_url: String,
    /// Who cancelled or moved it, as the recipient reads it: "you", "your
    /// mentor", "the learner", "an administrator".
    pub changed_by: Option<String>,
    pub cancel_reason: Option<String>,
    /// Reminders: "24 hours" / "1 hour".
    pub reminder_lead: Option<String>,
    /// A cancelled learner's way to book again: the mentor's week for the
    /// topic while they offer it, else the topic's page, else the home
    /// page.
    pub rebook_url: Option<String>,
    /// A cancellation because an admin disabled the recipient's account:
    /// no invitation to book again, no link that needs signing in.
    pub account_disabled: bool,
}

/// Kind `booking_confirmed`, sent with the `METHOD:REQUEST` invitation.
#[derive(Debug, Clone)]
pub struct BookingConfirmed(pub BookingNotice);

/// Kind `booking_rescheduled`, sent with the updated invitation.
#[derive(Debug, Clone)]
pub struct BookingRescheduled(pub BookingNotice);

/// Kind `booking_cancelled`, sent with the `METHOD:CANCEL` update. Its body
/// leaves out the manage link (nothing is left to manage), but it stays a
/// secret kind so every booking email is handled alike in the outbox.
#[derive(Debug, Clone)]
pub struct BookingCancelled(pub BookingNotice);

/// Kind `booking_reminder`, 24 hours and 1 hour before the session.
#[derive(Debug, Clone)]
pub struct BookingReminder(pub BookingNotice);

/// Kind `booking_reassigned`: an administrator gave the booking to another
/// mentor. To the learner ("now with …") and the new mentor ("assigned to
/// you"), with the updated invitation (same UID, higher SEQUENCE); the
/// previous mentor gets a `BookingCancelled`.
#[derive(Debug, Clone)]
pub struct BookingReassigned(pub BookingNotice);

email_templates!(
    BookingConfirmed,
    "booking_confirmed",
    secret = true,
    BookingConfirmedSubject = "email/booking_confirmed/subject.txt",
    BookingConfirmedText = "email/booking_confirmed/body.txt",
    BookingConfirmedHtml = "email/booking_confirmed/body.html"
);

email_templates!(
    BookingRescheduled,
    "booking_rescheduled",
    secret = true,
    BookingRescheduledSubject = "email/booking_rescheduled/subject.txt",
    BookingRescheduledText = "email/booking_rescheduled/body.txt",
    BookingRescheduledHtml = "email/booking_rescheduled/body.html"
);

email_templates!(
    BookingCancelled,
    "booking_cancelled",
    secret = true,
    BookingCancelledSubject = "email/booking_cancelled/subject.txt",
    BookingCancelledText = "email/booking_cancelled/body.txt",
    BookingCancelledHtml = "email/booking_cancelled/body.html"
);

email_templates!(
    BookingReminder,
    "booking_reminder",
    secret = true,
    BookingReminderSubject = "email/booking_reminder/subject.txt",
    BookingReminderText = "email/booking_reminder/body.txt",
    BookingReminderHtml = "email/booking_reminder/body.html"
);

email_templates!(
    BookingReassigned,
    "booking_reassigned",
    secret = true,
    BookingReassignedSubject = "email/booking_reassigned/subject.txt",
    BookingReassignedText = "email/booking_reassigned/body.txt",
    BookingReassignedHtml = "email/booking_reassigned/body.html"
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timefmt;
    use chrono::{TimeZone, Utc};

    const BOOKING: &str = "https://hours.example.org/bookings/0190f7c2";
    const MANAGE: &str = "https://hours.example.org/manage/s3cr3t-t0k3n";
    const MEET: &str = "https://meet.example.org/abc-def";

    fn notice(for_mentor: bool) -> BookingNotice {
        let zone = chrono_tz::Europe::Berlin;
        let start = Utc.with_ymd_and_hms(2026, 6, 16, 12, 0, 0).unwrap();
        let end = Utc.with_ymd_and_hms(2026, 6, 16, 13, 0, 0).unwrap();
        BookingNotice {
            recipient_name: "Lena <script>alert(1)</script>".into(),
            for_mentor,
            other_name: if for_mentor {
                "Lena".into()
            } else {
                "Maya Schneider".into()
            },
            topic_title: "Database fundamentals".into(),
            when: timefmt::when(start, end, zone),
            subject_when: timefmt::short(start, zone),
            previous_when: None,
            goals: "Understand joins\n<script>x</script> & indexes".into(),
            meeting_url: Some(MEET.into()),
            booking_url: BOOKING.into(),
            manage_url: MANAGE.into(),
            changed_by: None,
            cancel_reason: None,
            reminder_lead: None,
            rebook_url: None,
            account_disabled: false,
        }
    }

    /// Checks what every booking email must do.
    fn common(r: &Rendered, links: &[&str]) {
        let subject = r.subject.trim();
        assert!(!subject.contains('\n'), "{subject:?}");
        assert!(subject.contains("Database fundamentals"), "{subject}");
        assert!(
            subject.contains("CEST"),
            "subject names the zone: {subject}"
        );
        for part in [&r.text, &r.html] {
            assert!(part.contains("(Europe/Berlin)"), "names the zone: {part}");
            assert!(part.contains("CEST"));
            for link in links {
                assert!(part.contains(link), "{link} missing in {part}");
            }
        }
        assert!(
            r.text.contains("<script>alert(1)</script>"),
            "text is not escaped"
        );
        assert!(!r.html.contains("<script>"), "html is escaped: {}", r.html);
        assert!(r.html.contains("&#60;script&#62;") || r.html.contains("&lt;script&gt;"));
        assert!(r.html.contains("<html"));
    }

    #[test]
    fn every_kind_is_named_and_kept_secret_in_the_outbox() {
        let to: lettre::message::Mailbox = "Lena <lena@example.org>".parse().unwrap();
        let emails = [
            BookingConfirmed(notice(false)).to_email(to.clone(), None),
            BookingRescheduled(notice(false)).to_email(to.clone(), None),
            BookingCancelled(notice(false)).to_email(to.clone(), None),
            BookingReminder(notice(false)).to_email(to, None),
        ];
        let kinds = [
            "booking_confirmed",
            "booking_rescheduled",
            "booking_cancelled",
            "booking_reminder",
        ];
        for (email, kind) in emails.into_iter().zip(kinds) {
            let email = email.unwrap();
            assert_eq!(email.kind, kind);
            assert!(email.carries_secret, "{kind}");
            assert!(!email.subject.contains('\n'));
        }
    }

    #[test]
    fn confirmed_for_learner_and_mentor() {
        let r = BookingConfirmed(notice(false)).render().unwrap();
        common(&r, &[BOOKING, MANAGE, MEET]);
        assert_eq!(
            r.subject.trim(),
            "Booked: Database fundamentals with Maya Schneider, Tue 16 Jun 2026, 14:00 CEST"
        );
        assert!(
            r.text
                .contains("Tuesday 16 June 2026, 14:00–15:00 CEST (Europe/Berlin)")
        );
        assert!(
            r.text
                .contains("Understand joins\n<script>x</script> & indexes")
        );
        assert!(r.html.contains("Understand joins<br/>"));
        assert!(r.html.contains("&#38; indexes") || r.html.contains("&amp; indexes"));
        assert!(r.text.contains("works until the session starts"));
        assert!(r.text.contains("invitation is attached"));

        let m = BookingConfirmed(notice(true)).render().unwrap();
        common(&m, &[BOOKING, MANAGE, MEET]);
        assert!(m.subject.contains("with Lena"));
        assert!(m.text.contains("Lena booked a session with you"));
    }

    #[test]
    fn confirmed_without_meeting_link_says_where_it_will_be() {
        let mut n = notice(false);
        n.meeting_url = None;
        let r = BookingConfirmed(n).render().unwrap();
        common(&r, &[BOOKING, MANAGE]);
        assert!(
            r.text
                .contains("the meeting link will appear on the booking page")
        );
        assert!(
            r.html
                .contains("the meeting link will appear on <a href=\"https://hours")
        );
    }

    #[test]
    fn rescheduled_shows_old_and_new_time() {
        let zone = chrono_tz::Europe::Berlin;
        let old_start = Utc.with_ymd_and_hms(2026, 6, 15, 8, 0, 0).unwrap();
        let old_end = Utc.with_ymd_and_hms(2026, 6, 15, 9, 0, 0).unwrap();
        let mut n = notice(false);
        n.previous_when = Some(timefmt::when(old_start, old_end, zone));
        let r = BookingRescheduled(n).render().unwrap();
        common(&r, &[BOOKING, MANAGE, MEET]);
        assert!(r.subject.starts_with("Moved: "), "{}", r.subject);
        for part in [&r.text, &r.html] {
            assert!(part.contains("Monday 15 June 2026, 10:00–11:00 CEST (Europe/Berlin)"));
            assert!(part.contains("Tuesday 16 June 2026, 14:00–15:00 CEST (Europe/Berlin)"));
        }
    }

    #[test]
    fn cancelled_says_who_and_why_and_differs_from_confirmed() {
        const REBOOK: &str = "https://hours.example.org/mentors/0190f7c1?topic=sql&week=x";
        let mut n = notice(false);
        n.changed_by = Some("the mentor".into());
        n.cancel_reason = Some("Ill, sorry! <b>".into());
        n.rebook_url = Some(REBOOK.into());
        let r = BookingCancelled(n.clone()).render().unwrap();
        common(&r, &[BOOKING]);
        assert!(
            r.text
                .contains(&format!("You are welcome to book another time: {REBOOK}")),
            "{}",
            r.text
        );
        assert!(
            r.html.contains(
                "<a href=\"https://hours.example.org/mentors/0190f7c1?topic=sql&#38;week=x\">book another time</a>"
            ),
            "{}",
            r.html
        );
        assert!(r.subject.starts_with("Cancelled: "), "{}", r.subject);
        let confirmed = BookingConfirmed(n).render().unwrap();
        assert_ne!(r.subject.trim(), confirmed.subject.trim());
        for part in [&r.text, &r.html] {
            assert!(part.contains("cancelled by the mentor"), "{part}");
            assert!(part.contains("You are welcome to "));
            assert!(
                !part.contains("free again in your schedule"),
                "the mentor's line"
            );
            assert!(part.contains("attached update removes"));
            assert!(!part.contains(MANAGE), "nothing left to manage");
        }
        assert!(r.text.contains("Ill, sorry! <b>"));
        assert!(
            r.html.contains("Ill, sorry! &#60;b&#62;") || r.html.contains("Ill, sorry! &lt;b&gt;")
        );

        let mut quiet = notice(true);
        quiet.changed_by = Some("you".into());
        let q = BookingCancelled(quiet).render().unwrap();
        assert!(q.text.contains("cancelled by you"));
        assert!(!q.text.contains("Reason"));
        for part in [&q.text, &q.html] {
            assert!(part.contains("The time is free again in your schedule."));
        }

        // To a person whose account was just disabled: their reason, no
        // invitation to book, no link that needs signing in.
        for for_mentor in [false, true] {
            let mut closed = notice(for_mentor);
            closed.changed_by = Some("an administrator".into());
            closed.cancel_reason = Some("Your account was disabled.".into());
            closed.account_disabled = true;
            let c = BookingCancelled(closed).render().unwrap();
            for part in [&c.text, &c.html] {
                assert!(part.contains("Your account was disabled."), "{part}");
                assert!(part.contains("attached update removes"), "{part}");
                assert!(!part.contains("book another time"), "{part}");
                assert!(!part.contains("free again"), "{part}");
                assert!(!part.contains(BOOKING), "{part}");
            }
        }
    }

    #[test]
    fn reminder_says_when_it_starts() {
        let mut n = notice(false);
        n.reminder_lead = Some("1 hour".into());
        let r = BookingReminder(n).render().unwrap();
        common(&r, &[BOOKING, MANAGE, MEET]);
        assert!(r.subject.contains("in 1 hour"), "{}", r.subject);
        for part in [&r.text, &r.html] {
            assert!(part.contains("starts in 1 hour"));
            assert!(part.contains("Understand joins"));
        }
    }

    #[test]
    fn reassigned_tells_the_learner_and_the_new_mentor() {
        let r = BookingReassigned(notice(false)).render().unwrap();
        common(&r, &[BOOKING, MANAGE, MEET]);
        assert!(r.subject.starts_with("New mentor: "), "{}", r.subject);
        for part in [&r.text, &r.html] {
            assert!(
                part.contains("Your session now is with Maya Schneider"),
                "{part}"
            );
        }
        let m = BookingReassigned(notice(true)).render().unwrap();
        common(&m, &[BOOKING, MANAGE, MEET]);
        assert!(m.subject.starts_with("Assigned to you: "), "{}", m.subject);
        assert!(m.subject.contains("with Lena"));
        for part in [&m.text, &m.html] {
            assert!(part.contains("A session was assigned to you"), "{part}");
        }
        let email = BookingReassigned(notice(false))
            .to_email("Lena <lena@example.org>".parse().unwrap(), None)
            .unwrap();
        assert_eq!(email.kind, "booking_reassigned");
        assert!(email.carries_secret);
    }
}
