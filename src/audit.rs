//! The audit log: who did what, when, to which record. Written in the same
//! transaction as the change it records. Depends on `db`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::audit_log;

/// `None` goes in as NULL, not as DEFAULT: diesel prepares an INSERT only
/// when its text does not depend on which fields are set.
#[derive(Debug, Insertable)]
#[diesel(table_name = audit_log, treat_none_as_default_value = false)]
struct NewEntry<'a> {
    id: Uuid,
    at: DateTime<Utc>,
    actor_user_id: Option<Uuid>,
    action: &'a str,
    subject_type: Option<&'a str>,
    subject_id: Option<Uuid>,
    details: serde_json::Value,
}

/// What an entry is about, e.g. `("user", id)`.
pub type Subject<'a> = Option<(&'a str, Uuid)>;

/// Records an action. `actor` is `None` for the command line and the
/// system itself.
pub fn record(
    conn: &mut PgConnection,
    at: DateTime<Utc>,
    actor: Option<Uuid>,
    action: &str,
    subject: Subject<'_>,
    details: serde_json::Value,
) -> QueryResult<()> {
    diesel::insert_into(audit_log::table)
        .values(NewEntry {
            id: Uuid::now_v7(),
            at,
            actor_user_id: actor,
            action,
            subject_type: subject.map(|(t, _)| t),
            subject_id: subject.map(|(_, id)| id),
            details,
        })
        .execute(conn)
        .map(|_| ())
}
