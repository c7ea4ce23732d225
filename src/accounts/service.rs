//! Account operations on a connection, so callers compose them into one
//! transaction with the audit log and the outbox.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use uuid::Uuid;

use super::model::{NewUserRow, Role, User, UserRow};
use crate::audit;
use crate::db::lower;
use crate::db::schema::users;

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("an account with this email address already exists")]
    EmailTaken,
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Db(#[from] DieselError),
}

/// What it takes to create an account.
#[derive(Debug, Clone)]
pub struct NewAccount<'a> {
    pub email: &'a str,
    pub display_name: &'a str,
    pub role: Role,
    pub time_zone: chrono_tz::Tz,
    /// An argon2id PHC string (see `password::hash`).
    pub password_hash: &'a str,
    pub verified: bool,
}

/// A plausible email address: one `@`, something on each side, no spaces
/// or control characters, at most 254 characters. Deliverability is proven
/// by the verification email, not here.
pub fn normalize_email(raw: &str) -> Result<String, AccountError> {
    let email = raw.trim();
    let invalid = || AccountError::Invalid("Enter an email address like name@example.org.".into());
    if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid());
    }
    let (local, domain) = email.rsplit_once('@').ok_or_else(invalid)?;
    if local.is_empty()
        || domain.is_empty()
        || local.contains('@')
        || !domain.contains('.') && domain != "localhost"
        || domain.starts_with('.')
        || domain.ends_with('.')
    {
        return Err(invalid());
    }
    // What we cannot send to is no address for us either (a comma or
    // brackets in the local part, say): refused here, not at sending.
    if email.parse::<lettre::Address>().is_err() {
        return Err(invalid());
    }
    Ok(email.to_owned())
}

/// What is wrong with a (trimmed) display name, if anything: the one rule
/// for the forms and the command line.
pub fn name_problem(name: &str) -> Option<&'static str> {
    if crate::web::forms::is_blank(name) {
        Some("Enter your name.")
    } else if name.chars().count() > 100 {
        Some("Use at most 100 characters.")
    } else if !crate::web::forms::is_plain_line(name) {
        Some("Use letters, digits, spaces and punctuation only.")
    } else {
        None
    }
}

pub fn normalize_display_name(raw: &str) -> Result<String, AccountError> {
    let name = raw.trim();
    match name_problem(name) {
        Some(problem) => Err(AccountError::Invalid(problem.into())),
        None => Ok(name.to_owned()),
    }
}

/// Inserts a user. The unique index on `lower(email)` decides duplicates,
/// so two concurrent sign-ups with one address cannot both succeed.
pub fn create(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    new: &NewAccount<'_>,
) -> Result<User, AccountError> {
    let email = normalize_email(new.email)?;
    let display_name = normalize_display_name(new.display_name)?;
    let row = NewUserRow {
        id: Uuid::now_v7(),
        email: &email,
        display_name: &display_name,
        role: new.role.as_str(),
        time_zone: new.time_zone.name(),
        password_hash: Some(new.password_hash),
        email_verified_at: new.verified.then_some(now),
        created_at: now,
        updated_at: now,
    };
    diesel::insert_into(users::table)
        .values(&row)
        .returning(UserRow::as_returning())
        .get_result(conn)
        .map(User::from)
        .map_err(|e| match e {
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, ref info)
                if info.constraint_name() == Some("users_email_lower_key") =>
            {
                AccountError::EmailTaken
            }
            other => AccountError::Db(other),
        })
}

/// Creates an account on behalf of an operator (the command line, the demo
/// seed) and records it in the audit log, in the caller's transaction.
pub fn create_by_operator(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    new: &NewAccount<'_>,
    via: &str,
) -> Result<User, AccountError> {
    let user = create(conn, now, new)?;
    audit::record(
        conn,
        now,
        None,
        "user.created",
        Some(("user", user.id)),
        serde_json::json!({ "role": new.role.as_str(), "via": via }),
    )?;
    Ok(user)
}

pub fn find_by_email(conn: &mut PgConnection, email: &str) -> QueryResult<Option<User>> {
    users::table
        .filter(lower(users::email).eq(lower(email.trim())))
        .select(UserRow::as_select())
        .first(conn)
        .optional()
        .map(|row| row.map(User::from))
}

/// A user and their password hash, for checking a sign-in.
pub fn find_with_hash(
    conn: &mut PgConnection,
    email: &str,
) -> QueryResult<Option<(User, Option<String>)>> {
    users::table
        .filter(lower(users::email).eq(lower(email.trim())))
        .select(UserRow::as_select())
        .first(conn)
        .optional()
        .map(|row| {
            row.map(|r| {
                let hash = r.password_hash.clone();
                (User::from(r), hash)
            })
        })
}

pub fn find(conn: &mut PgConnection, id: Uuid) -> QueryResult<Option<User>> {
    users::table
        .find(id)
        .select(UserRow::as_select())
        .first(conn)
        .optional()
        .map(|row| row.map(User::from))
}

/// Locks `user`'s row `FOR NO KEY UPDATE` if the account is active, for a
/// change the owner makes to it: false once it is disabled or deleted. A
/// request let in before an admin disabled the account, or before its
/// owner deleted it in another tab, waits for that transaction and then
/// finds the account gone (PostgreSQL re-checks the condition on the new
/// row) instead of writing to it.
pub fn lock_active(conn: &mut PgConnection, user: Uuid) -> QueryResult<bool> {
    users::table
        .find(user)
        .filter(users::disabled_at.is_null())
        .select(users::id)
        .for_no_key_update()
        .first::<Uuid>(conn)
        .optional()
        .map(|row| row.is_some())
}

/// Locks the active admins' rows and `user`'s `FOR NO KEY UPDATE`, in id
/// order like every other lock on users rows (so an admin booking or
/// rescheduling a session with `user` meanwhile queues instead of
/// deadlocking), and returns the admins' ids and `user`, if there is such
/// an account. For the changes that must leave an active admin: two of them
/// on admins at once are serialised. Not `FOR UPDATE`: nothing deletes a
/// users row or changes its id, and that mode would also block the foreign
/// key checks of bookings naming these people (a cancel's `cancelled_by`),
/// made while holding a booking row the caller may go on to lock.
pub fn lock_admins_and(
    conn: &mut PgConnection,
    user: Uuid,
) -> QueryResult<(Vec<Uuid>, Option<User>)> {
    let rows: Vec<UserRow> = users::table
        .filter(
            users::id.eq(user).or(users::role
                .eq(Role::Admin.as_str())
                .and(users::disabled_at.is_null())),
        )
        .order(users::id)
        .for_no_key_update()
        .select(UserRow::as_select())
        .load(conn)?;
    let mut admins = Vec::new();
    let mut found = None;
    for row in rows {
        let u = User::from(row);
        if u.role == Role::Admin && u.disabled_at.is_none() {
            admins.push(u.id);
        }
        if u.id == user {
            found = Some(u);
        }
    }
    Ok((admins, found))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_shapes() {
        assert_eq!(
            normalize_email("  Ada@Example.org ").unwrap(),
            "Ada@Example.org"
        );
        for bad in [
            "",
            "ada",
            "@example.org",
            "ada@",
            "a b@example.org",
            "ada@example",
            "a@b@c.org",
            "ada@.org",
            "a,b@example.org",
            "a(b)@example.org",
            "a\"b@example.org",
            "a<b@example.org",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
        assert!(normalize_email("dev@localhost").is_ok());
        assert!(normalize_email("ü@example.org").is_ok());
        assert!(normalize_email("o'neil+tag@example.org").is_ok());
    }

    #[test]
    fn names() {
        assert_eq!(normalize_display_name("  Ada  ").unwrap(), "Ada");
        assert!(normalize_display_name("   ").is_err());
        assert!(normalize_display_name(&"x".repeat(101)).is_err());
        assert!(normalize_display_name("a\nb").is_err());
    }
}
