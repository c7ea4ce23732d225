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

/// The mentors who offer a topic and take bookings, as SQL: what follows
/// `FROM mentor_topics mt` (naming `mentor_profiles p` and `users u`), up
/// to a `WHERE` that more conditions may extend. The topic page lists
/// these mentors (`schedule::public::load`); the home page counts them.
pub(crate) const OFFERING_MENTORS: &str = "\
    JOIN mentor_profiles p ON p.user_id = mt.mentor_id AND p.accepting_bookings \
    JOIN users u ON u.id = mt.mentor_id \
    WHERE u.role IN ('mentor', 'admin') AND u.disabled_at IS NULL";

/// Active topics with how many mentors offer each and take bookings (the
/// mentors its page lists): those with mentors first, each part in title
/// order. For the home page.
pub fn list_for_home(conn: &mut PgConnection) -> QueryResult<Vec<(Topic, i64)>> {
    let mentors = diesel::dsl::sql::<diesel::sql_types::BigInt>(&format!(
        "(SELECT count(*) FROM mentor_topics mt {OFFERING_MENTORS} AND mt.topic_id = topics.id)"
    ));
    let mut rows: Vec<(Topic, i64)> = topics::table
        .filter(topics::active.eq(true))
        .order((topics::title.asc(), topics::id.asc()))
        .select((Topic::as_select(), mentors))
        .load(conn)?;
    // Stable: title order holds within each part.
    rows.sort_by_key(|(_, n)| *n == 0);
    Ok(rows)
}

/// Where someone can book `topic` again: whether it is active, and
/// whether `mentor` is one of the mentors its page lists (offers it and
/// takes bookings).
pub fn bookable_with(
    conn: &mut PgConnection,
    topic: Uuid,
    mentor: Uuid,
) -> QueryResult<(bool, bool)> {
    use diesel::sql_types::{Bool, Uuid as SqlUuid};
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Bool)]
        active: bool,
        #[diesel(sql_type = Bool)]
        offered: bool,
    }
    let row: Option<Row> = diesel::sql_query(format!(
        "SELECT t.active, t.active AND EXISTS (SELECT 1 FROM mentor_topics mt {OFFERING_MENTORS} \
           AND mt.topic_id = t.id AND mt.mentor_id = $2) AS offered \
         FROM topics t WHERE t.id = $1"
    ))
    .bind::<SqlUuid, _>(topic)
    .bind::<SqlUuid, _>(mentor)
    .get_result(conn)
    .optional()?;
    Ok(row.map_or((false, false), |r| (r.active, r.offered)))
}

pub fn find_by_slug(conn: &mut PgConnection, slug: &str) -> QueryResult<Option<Topic>> {
    topics::table
        .filter(topics::slug.eq(slug))
        .select(Topic::as_select())
        .first(conn)
        .optional()
}
