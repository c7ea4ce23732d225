//! Manage links: `/manage/{token}` lets the recipient of a booking email
//! cancel or reschedule that one booking without signing in, acting as
//! themselves, until the session starts. One 256-bit token per booking and
//! recipient: an HMAC of both ids under the server key, so every email to
//! that recipient carries the same link without the token being kept
//! anywhere but as its SHA-256 hash.

use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment};
use diesel::sql_types::{Array, Bytea, Timestamptz, Uuid as SqlUuid};
use uuid::Uuid;

use super::model::Booking;
use super::service::{self, Party};
use crate::accounts::tokens;
use crate::db::schema::manage_tokens;

/// The token of `user` on `booking` under `key` (43 URL-safe characters).
pub fn token_for(key: &[u8], booking: Uuid, user: Uuid) -> String {
    tokens::derive(key, "manage-link", booking, user)
}

/// Makes sure the tokens of `users` on `booking` are on file (their
/// hashes; a changed server key replaces them), in one statement; returns
/// the secrets for the links in the order of `users` (which must not
/// repeat).
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
    let rows = NewTokens {
        id: users.iter().map(|_| Uuid::now_v7()).collect(),
        booking,
        user_id: users,
        token_hash: secrets.iter().map(|t| tokens::hash(t)).collect(),
        created_at: now,
    };
    if !users.is_empty() {
        rows.execute(conn)?;
    }
    Ok(secrets)
}

/// `issue_many`'s INSERT, the rows as one array per column: one text for
/// any number of recipients, prepared once per connection.
struct NewTokens<'a> {
    id: Vec<Uuid>,
    booking: Uuid,
    user_id: &'a [Uuid],
    token_hash: Vec<Vec<u8>>,
    created_at: DateTime<Utc>,
}

crate::prepared_statement!(NewTokens<'a>);

impl QueryFragment<Pg> for NewTokens<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(
            "INSERT INTO manage_tokens (id, booking_id, user_id, token_hash, created_at) \
             SELECT r.id, ",
        );
        out.push_bind_param::<SqlUuid, _>(&self.booking)?;
        out.push_sql(", r.user_id, r.token_hash, ");
        out.push_bind_param::<Timestamptz, _>(&self.created_at)?;
        out.push_sql(" FROM unnest(");
        out.push_bind_param::<Array<SqlUuid>, _>(&self.id)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<SqlUuid>, _>(self.user_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Bytea>, _>(&self.token_hash)?;
        out.push_sql(
            ") AS r(id, user_id, token_hash) \
             ON CONFLICT (booking_id, user_id) DO UPDATE SET token_hash = excluded.token_hash",
        );
        Ok(())
    }
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
