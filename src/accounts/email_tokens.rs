//! Single-use links sent by email: email verification (valid 24 h) and
//! password reset (valid 30 min). Only the token's hash is stored; a new
//! link of one purpose voids the older ones.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use super::tokens;
use crate::db::schema::account_tokens;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    VerifyEmail,
    ResetPassword,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::VerifyEmail => "verify_email",
            Purpose::ResetPassword => "reset_password",
        }
    }

    pub fn lifetime(self) -> Duration {
        match self {
            Purpose::VerifyEmail => Duration::hours(24),
            Purpose::ResetPassword => Duration::minutes(30),
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = account_tokens)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct AccountToken {
    pub id: Uuid,
    pub user_id: Uuid,
    pub purpose: String,
    pub token_hash: Vec<u8>,
    pub email: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
}

/// How many reset links of one account work at once, at most.
pub const RESET_LINKS_KEPT: i64 = 5;

/// Issues a link token; returns the secret for the email (never stored).
pub fn issue(
    conn: &mut PgConnection,
    user_id: Uuid,
    purpose: Purpose,
    email: Option<&str>,
    now: DateTime<Utc>,
) -> QueryResult<String> {
    // Older links of the same purpose stop working — but for a reset the
    // newest few stay: anyone may ask for one for any address, and must not
    // void the link its owner is using (one reset voids them all, as does
    // a password or address change).
    let keep = match purpose {
        Purpose::ResetPassword => RESET_LINKS_KEPT - 1,
        _ => 0,
    };
    let newest: Vec<Uuid> = if keep > 0 {
        account_tokens::table
            .filter(account_tokens::user_id.eq(user_id))
            .filter(account_tokens::purpose.eq(purpose.as_str()))
            .filter(account_tokens::used_at.is_null())
            .order((account_tokens::created_at.desc(), account_tokens::id.desc()))
            .limit(keep)
            .select(account_tokens::id)
            .load(conn)?
    } else {
        Vec::new()
    };
    void_but(conn, user_id, purpose, &newest, now)?;
    let token = tokens::generate();
    diesel::insert_into(account_tokens::table)
        .values((
            account_tokens::id.eq(Uuid::now_v7()),
            account_tokens::user_id.eq(user_id),
            account_tokens::purpose.eq(purpose.as_str()),
            account_tokens::token_hash.eq(tokens::hash(&token)),
            account_tokens::email.eq(email),
            account_tokens::created_at.eq(now),
            account_tokens::expires_at.eq(now + purpose.lifetime()),
        ))
        .execute(conn)?;
    Ok(token)
}

fn live(
    purpose: Purpose,
    token: &str,
    now: DateTime<Utc>,
) -> account_tokens::BoxedQuery<'static, diesel::pg::Pg> {
    account_tokens::table
        .filter(account_tokens::token_hash.eq(tokens::hash(token)))
        .filter(account_tokens::purpose.eq(purpose.as_str()))
        .filter(account_tokens::used_at.is_null())
        .filter(account_tokens::expires_at.gt(now))
        .into_boxed()
}

/// Every unused link of `purpose` the user holds stops working.
pub fn void(
    conn: &mut PgConnection,
    user_id: Uuid,
    purpose: Purpose,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    void_but(conn, user_id, purpose, &[], now)
}

/// [`void`], but for the links `kept`.
fn void_but(
    conn: &mut PgConnection,
    user_id: Uuid,
    purpose: Purpose,
    kept: &[Uuid],
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(
        account_tokens::table
            .filter(account_tokens::user_id.eq(user_id))
            .filter(account_tokens::purpose.eq(purpose.as_str()))
            .filter(account_tokens::used_at.is_null())
            .filter(account_tokens::id.ne_all(kept)),
    )
    .set(account_tokens::used_at.eq(Some(now)))
    .execute(conn)
}

/// Whether the link still works, without using it (for the page a link
/// opens: only its POST acts).
pub fn peek(
    conn: &mut PgConnection,
    purpose: Purpose,
    token: &str,
    now: DateTime<Utc>,
) -> QueryResult<Option<AccountToken>> {
    if token.is_empty() || token.len() > tokens::MAX_LEN {
        return Ok(None);
    }
    live(purpose, token, now)
        .select(AccountToken::as_select())
        .first(conn)
        .optional()
}

/// The link's row whether or not it still works (used, replaced or
/// expired; rows stay until the sweep), to tell whose it was.
pub fn spent(
    conn: &mut PgConnection,
    purpose: Purpose,
    token: &str,
) -> QueryResult<Option<AccountToken>> {
    if token.is_empty() || token.len() > tokens::MAX_LEN {
        return Ok(None);
    }
    account_tokens::table
        .filter(account_tokens::token_hash.eq(tokens::hash(token)))
        .filter(account_tokens::purpose.eq(purpose.as_str()))
        .select(AccountToken::as_select())
        .first(conn)
        .optional()
}

/// Uses the link once. One atomic UPDATE … RETURNING, so two clicks
/// cannot both succeed.
pub fn consume(
    conn: &mut PgConnection,
    purpose: Purpose,
    token: &str,
    now: DateTime<Utc>,
) -> QueryResult<Option<AccountToken>> {
    if token.is_empty() || token.len() > tokens::MAX_LEN {
        return Ok(None);
    }
    diesel::update(
        account_tokens::table
            .filter(account_tokens::token_hash.eq(tokens::hash(token)))
            .filter(account_tokens::purpose.eq(purpose.as_str()))
            .filter(account_tokens::used_at.is_null())
            .filter(account_tokens::expires_at.gt(now)),
    )
    .set(account_tokens::used_at.eq(Some(now)))
    .returning(AccountToken::as_returning())
    .get_result(conn)
    .optional()
}
