//! Row structs and newtypes of the accounts domain.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::users;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Learner,
    Mentor,
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Learner, Role::Mentor, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Learner => "learner",
            Role::Mentor => "mentor",
            Role::Admin => "admin",
        }
    }

    /// Admins can do everything a mentor can.
    pub fn is_mentor(self) -> bool {
        matches!(self, Role::Mentor | Role::Admin)
    }

    pub fn is_admin(self) -> bool {
        self == Role::Admin
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown role {0:?} (expected learner, mentor or admin)")]
pub struct UnknownRole(String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "learner" => Ok(Role::Learner),
            "mentor" => Ok(Role::Mentor),
            "admin" => Ok(Role::Admin),
            other => Err(UnknownRole(other.to_owned())),
        }
    }
}

/// A row of `users` as stored.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = users)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct UserRow {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    pub role: String,
    pub time_zone: String,
    pub password_hash: Option<String>,
    pub email_verified_at: Option<DateTime<Utc>>,
    pub disabled_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A user with its columns parsed into domain types.
#[derive(Debug, Clone)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub time_zone: chrono_tz::Tz,
    pub email_verified_at: Option<DateTime<Utc>>,
    pub disabled_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl User {
    /// Whether this account can mentor now: a mentor or admin, not
    /// disabled (a deleted account stays disabled). Such a person has a
    /// public page, a calendar feed, and can be given sessions; whether
    /// they take bookings is their profile's say.
    pub fn can_mentor(&self) -> bool {
        self.role.is_mentor() && self.disabled_at.is_none()
    }

    /// The address emails to this user go to, with their name.
    pub fn mailbox(&self) -> Result<lettre::message::Mailbox, lettre::address::AddressError> {
        Ok(lettre::message::Mailbox::new(
            Some(self.display_name.clone()),
            self.email.parse()?,
        ))
    }
}

impl From<UserRow> for User {
    fn from(row: UserRow) -> Self {
        // The CHECK constraint keeps roles valid; an unknown zone (e.g. one
        // removed from a later tz database) falls back to UTC rather than
        // failing every page of that user.
        User {
            id: row.id,
            role: row.role.parse().unwrap_or(Role::Learner),
            time_zone: row.time_zone.parse().unwrap_or(chrono_tz::UTC),
            email: row.email,
            display_name: row.display_name,
            email_verified_at: row.email_verified_at,
            disabled_at: row.disabled_at,
            created_at: row.created_at,
        }
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUserRow<'a> {
    pub id: Uuid,
    pub email: &'a str,
    pub display_name: &'a str,
    pub role: &'a str,
    pub time_zone: &'a str,
    pub password_hash: Option<&'a str>,
    pub email_verified_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}
