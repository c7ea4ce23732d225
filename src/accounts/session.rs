//! Server-side sessions: the cookie holds a 256-bit random token, the table
//! only its hash. Idle and absolute timeouts come from the settings; a
//! disabled account's sessions are ended by deleting their rows.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use super::model::{User, UserRow};
use super::tokens;
use crate::db::schema::{sessions, users};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sessions)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct Session {
    pub id: Uuid,
    pub user_id: Uuid,
    pub token_hash: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// Where a sign-in came from, shown in the account's session list.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// Starts a session; returns the token for the cookie (never stored).
pub fn create(
    conn: &mut PgConnection,
    user_id: Uuid,
    now: DateTime<Utc>,
    absolute: Duration,
    origin: &Origin,
) -> QueryResult<(Session, String)> {
    let token = tokens::generate();
    let user_agent = origin
        .user_agent
        .as_ref()
        .map(|ua| ua.chars().take(300).collect::<String>());
    let session = diesel::insert_into(sessions::table)
        .values((
            sessions::id.eq(Uuid::now_v7()),
            sessions::user_id.eq(user_id),
            sessions::token_hash.eq(tokens::hash(&token)),
            sessions::created_at.eq(now),
            sessions::last_seen_at.eq(now),
            sessions::expires_at.eq(now + absolute),
            sessions::ip.eq(&origin.ip),
            sessions::user_agent.eq(user_agent),
        ))
        .returning(Session::as_returning())
        .get_result(conn)?;
    Ok((session, token))
}

/// How often `last_seen_at` is written: the idle timeout needs minutes, not
/// a write on every request.
const TOUCH_EVERY: Duration = Duration::minutes(1);

/// The live session of `token` and its user. A session past its idle or
/// absolute timeout, or of a disabled account, is deleted and not returned.
pub fn lookup(
    conn: &mut PgConnection,
    token: &str,
    now: DateTime<Utc>,
    idle: Duration,
) -> QueryResult<Option<(Session, User)>> {
    if token.is_empty() || token.len() > tokens::MAX_LEN {
        return Ok(None);
    }
    let found: Option<(Session, UserRow)> = sessions::table
        .inner_join(users::table)
        .filter(sessions::token_hash.eq(tokens::hash(token)))
        .select((Session::as_select(), UserRow::as_select()))
        .first(conn)
        .optional()?;
    let Some((session, user)) = found else {
        return Ok(None);
    };
    if now >= session.expires_at || now - session.last_seen_at >= idle || user.disabled_at.is_some()
    {
        diesel::delete(sessions::table.find(session.id)).execute(conn)?;
        return Ok(None);
    }
    if now - session.last_seen_at >= TOUCH_EVERY {
        diesel::update(sessions::table.find(session.id))
            .set(sessions::last_seen_at.eq(now))
            .execute(conn)?;
    }
    Ok(Some((session, User::from(user))))
}

pub fn delete(conn: &mut PgConnection, session_id: Uuid) -> QueryResult<usize> {
    diesel::delete(sessions::table.find(session_id)).execute(conn)
}

/// Ends a user's sessions, optionally keeping the one in use.
pub fn delete_all_for_user(
    conn: &mut PgConnection,
    user_id: Uuid,
    keep: Option<Uuid>,
) -> QueryResult<usize> {
    let mut query =
        diesel::delete(sessions::table.filter(sessions::user_id.eq(user_id))).into_boxed();
    if let Some(keep) = keep {
        query = query.filter(sessions::id.ne(keep));
    }
    query.execute(conn)
}

/// A user's live sessions, most recently used first.
pub fn list_for_user(
    conn: &mut PgConnection,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> QueryResult<Vec<Session>> {
    sessions::table
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::expires_at.gt(now))
        .order(sessions::last_seen_at.desc())
        .select(Session::as_select())
        .load(conn)
}
