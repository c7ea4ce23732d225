//! Topics learners can book ("JavaScript fundamentals", …): slug, title,
//! description, duration. Depends on `db`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::topics;

#[derive(Debug, Clone, Queryable, Selectable, Identifiable, serde::Serialize)]
#[diesel(table_name = topics)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct Topic {
    pub id: Uuid,
    pub slug: String,
    pub title: String,
    pub description: String,
    pub duration_minutes: i32,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = topics)]
pub struct NewTopic<'a> {
    pub id: Uuid,
    pub slug: &'a str,
    pub title: &'a str,
    pub description: &'a str,
    pub duration_minutes: i32,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Active topics in title order, for the home page and the API.
pub fn list_active(conn: &mut PgConnection) -> QueryResult<Vec<Topic>> {
    topics::table
        .filter(topics::active.eq(true))
        .order((topics::title.asc(), topics::id.asc()))
        .select(Topic::as_select())
        .load(conn)
}

pub fn find_by_slug(conn: &mut PgConnection, slug: &str) -> QueryResult<Option<Topic>> {
    topics::table
        .filter(topics::slug.eq(slug))
        .select(Topic::as_select())
        .first(conn)
        .optional()
}
