//! Reminders 24 h and 1 h before a session, made by the outbox worker at
//! the start of each round when they are due — not queued at booking time,
//! so a cancelled booking never has one, a rescheduled one gets them for
//! its new time, and a booking made (or moved) after a reminder's moment
//! skips that reminder. Each booking row is claimed `FOR UPDATE SKIP
//! LOCKED` and marked with the start its reminder was made for, so two
//! workers never make the same reminder (the outbox's dedupe key is the
//! backstop). A reminder not sent before its moment has passed (the 24 h
//! one by the 1 h mark, the 1 h one by the start) expires in the outbox.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Timestamptz, Uuid as SqlUuid};
use uuid::Uuid;

use super::notify;
use super::service::{self, BookError, Ctx};
use crate::config::{Secret, Settings};
use crate::email::worker::RoundHook;

/// Bookings handled per lead and round.
const BATCH: i64 = 50;

struct Lead {
    key: &'static str,
    words: &'static str,
    before: Duration,
    /// Until when, before the start, this reminder is still worth sending.
    until_before: Duration,
    /// The column recording the start it was made for.
    column: &'static str,
}

const LEADS: [Lead; 2] = [
    Lead {
        key: "24h",
        words: "24 hours",
        before: Duration::hours(24),
        until_before: Duration::hours(1),
        column: "reminded_24h_for",
    },
    Lead {
        key: "1h",
        words: "1 hour",
        before: Duration::hours(1),
        until_before: Duration::zero(),
        column: "reminded_1h_for",
    },
];

/// The reminders a session starting at `start`, booked (or moved) at
/// `booked`, gets: the words of each lead ("24 hours", "1 hour") and the
/// moment it must be booked before to get it — `enqueue_due`'s rule that
/// the start was set strictly before the reminder's moment.
pub fn promised(start: DateTime<Utc>, booked: DateTime<Utc>) -> Vec<(&'static str, DateTime<Utc>)> {
    LEADS
        .iter()
        .map(|lead| (lead.words, start - lead.before))
        .filter(|(_, moment)| booked < *moment)
        .collect()
}

/// The words of every lead, earliest first ("24 hours", "1 hour").
pub fn lead_words() -> [&'static str; 2] {
    LEADS.map(|lead| lead.words)
}

#[derive(QueryableByName)]
struct Due {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
}

/// Makes the reminders due at `ctx.now`; returns how many bookings got one.
pub fn enqueue_due(conn: &mut PgConnection, ctx: Ctx<'_>) -> Result<usize, BookError> {
    let mut made = 0;
    for lead in &LEADS {
        made += conn.transaction(|conn| -> Result<usize, BookError> {
            // Due: the reminder's moment has come, its window has not
            // passed, the start was set before that moment, and no
            // reminder was made for this start yet.
            let due: Vec<Due> = diesel::sql_query(format!(
                "SELECT id FROM bookings
                  WHERE status = 'confirmed'
                    AND start_at > $1 + make_interval(secs => $2)
                    AND start_at <= $1 + make_interval(secs => $3)
                    AND coalesce(timed_at, created_at) < start_at - make_interval(secs => $3)
                    AND {col} IS DISTINCT FROM start_at
                  ORDER BY start_at
                  LIMIT $4
                  FOR UPDATE SKIP LOCKED",
                col = lead.column
            ))
            .bind::<Timestamptz, _>(ctx.now)
            .bind::<diesel::sql_types::Double, _>(lead.until_before.num_seconds() as f64)
            .bind::<diesel::sql_types::Double, _>(lead.before.num_seconds() as f64)
            .bind::<BigInt, _>(BATCH)
            .load(conn)?;
            for Due { id } in &due {
                let booking = service::find(conn, *id)?.ok_or(BookError::NotFound)?;
                let parties = service::parties(conn, &booking, ctx.now)?;
                notify::remind(
                    conn,
                    ctx,
                    &parties,
                    &booking,
                    (lead.key, lead.words),
                    booking.start_at - lead.until_before,
                )?;
                diesel::sql_query(format!(
                    "UPDATE bookings SET {col} = start_at WHERE id = $1",
                    col = lead.column
                ))
                .bind::<SqlUuid, _>(*id)
                .execute(conn)?;
            }
            Ok(due.len())
        })?;
    }
    Ok(made)
}

/// The worker's round hook that makes due reminders.
pub fn hook(settings: Arc<Settings>, key: Secret<Vec<u8>>) -> RoundHook {
    Arc::new(move |conn: &mut PgConnection, now: DateTime<Utc>| {
        let ctx = Ctx {
            now,
            settings: &settings,
            key: key.expose(),
        };
        enqueue_due(conn, ctx).map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)
    })
}
