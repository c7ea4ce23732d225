//! Manage links: `/manage/{token}` lets the recipient of a booking email
//! cancel or reschedule that one booking without signing in, acting as
//! themselves, until the session starts. One 256-bit token per email and
//! recipient, stored only as its SHA-256 hash.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use super::model::Booking;
use super::service::{self, Party};
use crate::accounts::tokens;
use crate::db::schema::manage_tokens;

/// Makes a token for `user` on `booking`; returns the secret for the link.
pub fn issue(
    conn: &mut PgConnection,
    booking: Uuid,
    user: Uuid,
    now: DateTime<Utc>,
) -> QueryResult<String> {
    let token = tokens::generate();
    diesel::insert_into(manage_tokens::table)
        .values((
            manage_tokens::id.eq(Uuid::now_v7()),
            manage_tokens::booking_id.eq(booking),
            manage_tokens::user_id.eq(user),
            manage_tokens::token_hash.eq(tokens::hash(&token)),
            manage_tokens::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(token)
}

/// What a manage link opens.
#[derive(Debug, Clone)]
pub struct Grant {
    pub booking: Booking,
    pub user_id: Uuid,
    pub party: Party,
    /// Before the session starts the link may act; afterwards it only
    /// shows that it has expired.
    pub active: bool,
}

/// Finds the booking and recipient of a token; `None` for an unknown or
/// malformed token (answered as 404, like any other unknown page).
pub fn lookup(
    conn: &mut PgConnection,
    token: &str,
    now: DateTime<Utc>,
) -> QueryResult<Option<Grant>> {
    if token.is_empty() || token.len() > tokens::MAX_LEN {
        return Ok(None);
    }
    let found: Option<(Uuid, Uuid)> = manage_tokens::table
        .filter(manage_tokens::token_hash.eq(tokens::hash(token)))
        .select((manage_tokens::booking_id, manage_tokens::user_id))
        .first(conn)
        .optional()?;
    let Some((booking_id, user_id)) = found else {
        return Ok(None);
    };
    let Some(booking) = service::find(conn, booking_id)? else {
        return Ok(None);
    };
    let party = if booking.learner_id == user_id {
        Party::Learner
    } else if booking.mentor_id == user_id {
        Party::Mentor
    } else {
        // Sent to someone no longer on the booking (reassigned): no power.
        return Ok(None);
    };
    let active = booking.start_at > now;
    Ok(Some(Grant {
        booking,
        user_id,
        party,
        active,
    }))
}
