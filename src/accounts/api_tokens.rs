//! Personal API tokens: made on the account page, shown to their owner
//! once, stored only as their SHA-256 hash, revoked (never deleted, so the
//! list keeps their history). The JSON API finds its caller with
//! `find_active_by_token`. Depends on `db` and `accounts::{model, tokens}`.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use super::model::{User, UserRow};
use super::tokens;
use crate::db::schema::{api_tokens, users};

/// Live (not revoked) tokens one account may hold.
pub const MAX_LIVE_PER_USER: i64 = 50;

/// How often `last_used_at` is written: a day's use needs minutes, not a
/// write on every API call.
const TOUCH_EVERY: Duration = Duration::minutes(1);

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = api_tokens)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct ApiToken {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    pub token_hash: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Makes a token; returns its row and the secret to show once (never
/// stored).
pub fn create(
    conn: &mut PgConnection,
    user_id: Uuid,
    name: &str,
    now: DateTime<Utc>,
) -> QueryResult<(ApiToken, String)> {
    let token = tokens::generate();
    let row = diesel::insert_into(api_tokens::table)
        .values((
            api_tokens::id.eq(Uuid::now_v7()),
            api_tokens::user_id.eq(user_id),
            api_tokens::name.eq(name),
            api_tokens::token_hash.eq(tokens::hash(&token)),
            api_tokens::created_at.eq(now),
        ))
        .returning(ApiToken::as_returning())
        .get_result(conn)?;
    Ok((row, token))
}

pub fn count_live(conn: &mut PgConnection, user_id: Uuid) -> QueryResult<i64> {
    api_tokens::table
        .filter(api_tokens::user_id.eq(user_id))
        .filter(api_tokens::revoked_at.is_null())
        .count()
        .get_result(conn)
}

/// A user's tokens, revoked ones included, newest first.
pub fn list_for_user(conn: &mut PgConnection, user_id: Uuid) -> QueryResult<Vec<ApiToken>> {
    api_tokens::table
        .filter(api_tokens::user_id.eq(user_id))
        .order((api_tokens::created_at.desc(), api_tokens::id.desc()))
        .select(ApiToken::as_select())
        .load(conn)
}

/// Revokes one of `user_id`'s tokens. `false` when the user has no token
/// with this id (someone else's counts as none). Revoking twice keeps the
/// first instant.
pub fn revoke(
    conn: &mut PgConnection,
    user_id: Uuid,
    id: Uuid,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    let revoked = diesel::update(
        api_tokens::table
            .filter(api_tokens::id.eq(id))
            .filter(api_tokens::user_id.eq(user_id))
            .filter(api_tokens::revoked_at.is_null()),
    )
    .set(api_tokens::revoked_at.eq(Some(now)))
    .execute(conn)?;
    if revoked > 0 {
        return Ok(true);
    }
    diesel::select(diesel::dsl::exists(
        api_tokens::table
            .filter(api_tokens::id.eq(id))
            .filter(api_tokens::user_id.eq(user_id)),
    ))
    .get_result(conn)
}

/// The live token `token` and its owner: not revoked, and the account not
/// disabled.
pub fn find_active_by_token(
    conn: &mut PgConnection,
    token: &str,
) -> QueryResult<Option<(ApiToken, User)>> {
    if token.is_empty() || token.len() > tokens::MAX_LEN {
        return Ok(None);
    }
    let found: Option<(ApiToken, UserRow)> = api_tokens::table
        .inner_join(users::table)
        .filter(api_tokens::token_hash.eq(tokens::hash(token)))
        .filter(api_tokens::revoked_at.is_null())
        .filter(users::disabled_at.is_null())
        .select((ApiToken::as_select(), UserRow::as_select()))
        .first(conn)
        .optional()?;
    Ok(found.map(|(t, u)| (t, User::from(u))))
}

/// Records a use of the token, at most once a minute.
pub fn touch(conn: &mut PgConnection, id: Uuid, now: DateTime<Utc>) -> QueryResult<()> {
    diesel::update(
        api_tokens::table.find(id).filter(
            api_tokens::last_used_at
                .is_null()
                .or(api_tokens::last_used_at.le(now - TOUCH_EVERY)),
        ),
    )
    .set(api_tokens::last_used_at.eq(Some(now)))
    .execute(conn)
    .map(|_| ())
}
