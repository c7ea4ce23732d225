//! Manage links: `/manage/{token}` lets the recipient of a booking email
//! cancel or reschedule that one booking without signing in, acting as
//! themselves, until the session starts. One 256-bit token per booking and
//! recipient: an HMAC of both ids under the server key, so every email to
//! that recipient carries the same link without the token being kept
//! anywhere but as its SHA-256 hash.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::upsert::excluded;
use uuid::Uuid;

use super::model::Booking;
use super::service::{self, Party};
use crate::accounts::tokens;
use crate::db::schema::manage_tokens;

/// The token of `user` on `booking` under `key` (43 URL-safe characters).
pub fn token_for(key: &[u8], booking: Uuid, user: Uuid) -> String {
    let mut ids = [0_u8; 32];
    ids[..16].copy_from_slice(booking.as_bytes());
    ids[16..].copy_from_slice(user.as_bytes());
    URL_SAFE_NO_PAD.encode(crate::web::auth::mac(key, "manage-link", &ids))
}

/// Makes sure the token of `user` on `booking` is on file (its hash; a
/// changed server key replaces it); returns the secret for the link.
pub fn issue(
    conn: &mut PgConnection,
    key: &[u8],
    booking: Uuid,
    user: Uuid,
    now: DateTime<Utc>,
) -> QueryResult<String> {
    let mut tokens = issue_many(conn, key, booking, &[user], now)?;
    Ok(tokens.remove(0))
}

/// [`issue`] for several recipients of one booking in one statement;
/// the secrets in the order of `users` (which must not repeat).
pub fn issue_many(
    conn: &mut PgConnection,
    key: &[u8],
    booking: Uuid,
    users: &[Uuid],
    now: DateTime<Utc>,
) -> QueryResult<Vec<String>> {
    let secrets: Vec<String> = users
        .iter()
        .map(|user| token_for(key, booking, *user))
        .collect();
    let rows: Vec<_> = users
        .iter()
        .zip(&secrets)
        .map(|(user, token)| {
            (
                manage_tokens::id.eq(Uuid::now_v7()),
                manage_tokens::booking_id.eq(booking),
                manage_tokens::user_id.eq(*user),
                manage_tokens::token_hash.eq(tokens::hash(token)),
                manage_tokens::created_at.eq(now),
            )
        })
        .collect();
    if !rows.is_empty() {
        diesel::insert_into(manage_tokens::table)
            .values(&rows)
            .on_conflict((manage_tokens::booking_id, manage_tokens::user_id))
            .do_update()
            .set(manage_tokens::token_hash.eq(excluded(manage_tokens::token_hash)))
            .execute(conn)?;
    }
    Ok(secrets)
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
