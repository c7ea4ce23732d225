//! `/admin/topics`: list every topic with its upcoming bookings, create,
//! edit (title, description, duration), deactivate and reactivate. The
//! service half takes a connection and runs each change in one transaction
//! with its audit entry; the handler half parses, calls, and redirects back
//! or shows the form again with the errors next to its fields. Bookings of
//! a topic are never touched: a deactivated topic only stops being offered
//! (the public pages read active topics only). Depends on `topics`, `audit`,
//! `db`, `web`, `state`, `error`.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use serde::Deserialize;
use uuid::Uuid;

use crate::audit;
use crate::bookings::model::Status;
use crate::db::schema::{bookings, topics};
use crate::error::AppError;
use crate::state::AppState;
use crate::topics::{NewTopic, Topic};
use crate::web::auth::{AdminRole, Auth, CsrfForm};
use crate::web::forms::{FieldErrors, check_characters, is_plain_line, one_char_line_breaks};
use crate::web::{PageCtx, render};

// ================================================================ service

pub const SLUG_LEN: (usize, usize) = (2, 60);
pub const TITLE_LEN: (usize, usize) = (2, 80);
pub const DESCRIPTION_MAX: usize = 1000;
pub const DURATION_MIN: (i32, i32) = (15, 120);

/// The unique constraint on `topics.slug`.
const SLUG_KEY: &str = "topics_slug_key";
/// Titles are unique whatever their case (migration 000011).
const TITLE_KEY: &str = "topics_title_key";

/// A topic and how many confirmed bookings of it have not started yet.
#[derive(Debug, Clone)]
pub struct Listed {
    pub topic: Topic,
    pub upcoming: i64,
}

/// Every topic, active ones first, then by title, each with its count of
/// upcoming bookings — one grouped query.
pub fn list(conn: &mut PgConnection, now: DateTime<Utc>) -> QueryResult<Vec<Listed>> {
    let rows: Vec<(Topic, i64)> = topics::table
        .left_join(
            bookings::table.on(bookings::topic_id
                .eq(topics::id)
                .and(bookings::status.eq(Status::Confirmed.as_str()))
                .and(bookings::start_at.gt(now))),
        )
        .group_by(topics::id)
        .order((topics::active.desc(), topics::title.asc(), topics::id.asc()))
        .select((
            Topic::as_select(),
            diesel::dsl::count(bookings::id.nullable()),
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(topic, upcoming)| Listed { topic, upcoming })
        .collect())
}

/// One topic with its upcoming count, or `None`.
pub fn find(conn: &mut PgConnection, id: Uuid, now: DateTime<Utc>) -> QueryResult<Option<Listed>> {
    let Some(topic) = topics::table
        .find(id)
        .select(Topic::as_select())
        .first(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let upcoming = bookings::table
        .filter(bookings::topic_id.eq(id))
        .filter(bookings::status.eq(Status::Confirmed.as_str()))
        .filter(bookings::start_at.gt(now))
        .count()
        .get_result(conn)?;
    Ok(Some(Listed { topic, upcoming }))
}

/// The create form as sent.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CreateInput {
    #[serde(default)]
    pub slug: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub duration_minutes: String,
}

/// The edit form as sent (the slug names the topic in links: it stays).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct EditInput {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub duration_minutes: String,
}

impl EditInput {
    pub fn of(topic: &Topic) -> Self {
        EditInput {
            title: topic.title.clone(),
            description: topic.description.clone(),
            duration_minutes: topic.duration_minutes.to_string(),
        }
    }
}

/// Problems by field name, in form order.
pub type Problems = Vec<(&'static str, String)>;

#[derive(Debug, thiserror::Error)]
pub enum TopicError {
    #[error("no such topic")]
    NotFound,
    #[error("invalid input")]
    Invalid(Problems),
    #[error(transparent)]
    Db(#[from] DieselError),
}

/// Title, description and duration, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fields {
    pub title: String,
    pub description: String,
    pub duration_minutes: i32,
}

/// Whether `slug` is 2–60 lowercase letters, digits and single hyphens
/// between them (what `topics_slug_check` accepts).
pub fn slug_ok(slug: &str) -> bool {
    let len = slug.len();
    len >= SLUG_LEN.0
        && len <= SLUG_LEN.1
        && slug.split('-').all(|part| {
            !part.is_empty() && part.bytes().all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9'))
        })
}

fn check_slug(raw: &str, problems: &mut Problems) -> String {
    let slug = raw.trim().to_owned();
    if slug.is_empty() {
        problems.push(("slug", "Enter a slug, e.g. sql-basics.".into()));
    } else if !slug_ok(&slug) {
        problems.push((
            "slug",
            format!(
                "Use {} to {} lowercase letters, digits and hyphens, e.g. sql-basics (no hyphen at the start or end, none twice in a row).",
                SLUG_LEN.0, SLUG_LEN.1
            ),
        ));
    }
    slug
}

fn check_fields(title: &str, description: &str, duration: &str, problems: &mut Problems) -> Fields {
    let title = title.trim().to_owned();
    let title_len = title.chars().count();
    if title.is_empty() {
        problems.push(("title", "Enter a title.".into()));
    } else if !is_plain_line(&title) {
        problems.push(("title", "Use one line of plain text.".into()));
    } else if title_len < TITLE_LEN.0 || title_len > TITLE_LEN.1 {
        problems.push((
            "title",
            format!(
                "Use {} to {} characters (this has {title_len}).",
                TITLE_LEN.0, TITLE_LEN.1
            ),
        ));
    }
    let description = one_char_line_breaks(description.trim());
    let description_len = description.chars().count();
    if let Err(problem) = check_characters(&description) {
        problems.push(("description", problem.into()));
    } else if description_len > DESCRIPTION_MAX {
        problems.push((
            "description",
            format!("Use at most {DESCRIPTION_MAX} characters (this has {description_len})."),
        ));
    }
    let duration_minutes = match duration.trim().parse::<i32>() {
        Ok(m) if (DURATION_MIN.0..=DURATION_MIN.1).contains(&m) => m,
        _ => {
            problems.push((
                "duration_minutes",
                format!(
                    "Enter a whole number of minutes from {} to {}.",
                    DURATION_MIN.0, DURATION_MIN.1
                ),
            ));
            0
        }
    };
    Fields {
        title,
        description,
        duration_minutes,
    }
}

/// Checks the create form: the slug and the fields, or every problem.
pub fn check_create(input: &CreateInput) -> Result<(String, Fields), Problems> {
    let mut problems = Problems::new();
    let slug = check_slug(&input.slug, &mut problems);
    let fields = check_fields(
        &input.title,
        &input.description,
        &input.duration_minutes,
        &mut problems,
    );
    if problems.is_empty() {
        Ok((slug, fields))
    } else {
        Err(problems)
    }
}

/// Checks the edit form.
pub fn check_edit(input: &EditInput) -> Result<Fields, Problems> {
    let mut problems = Problems::new();
    let fields = check_fields(
        &input.title,
        &input.description,
        &input.duration_minutes,
        &mut problems,
    );
    if problems.is_empty() {
        Ok(fields)
    } else {
        Err(problems)
    }
}

fn slug_taken() -> TopicError {
    TopicError::Invalid(vec![(
        "slug",
        "Another topic already has this slug. Choose another one.".into(),
    )])
}

/// A unique constraint's refusal as the field problem it stands for.
fn taken(err: DieselError) -> TopicError {
    match &err {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
            match info.constraint_name() {
                Some(SLUG_KEY) => slug_taken(),
                Some(TITLE_KEY) => TopicError::Invalid(vec![(
                    "title",
                    "Another topic (active or not) already has this title. Learners could not tell them apart: choose another one.".into(),
                )]),
                _ => err.into(),
            }
        }
        _ => err.into(),
    }
}

/// Creates an active topic, audited as `topic.create`. A slug or title in
/// use is a field problem, found by the unique constraints (so two admins
/// creating the same one at once get one topic and one problem).
pub fn create(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    actor: Uuid,
    input: &CreateInput,
) -> Result<Topic, TopicError> {
    let (slug, fields) = check_create(input).map_err(TopicError::Invalid)?;
    conn.transaction(|conn| {
        let inserted = diesel::insert_into(topics::table)
            .values(NewTopic {
                id: Uuid::now_v7(),
                slug: &slug,
                title: &fields.title,
                description: &fields.description,
                duration_minutes: fields.duration_minutes,
                active: true,
                created_at: now,
                updated_at: now,
            })
            .returning(Topic::as_returning())
            .get_result(conn);
        let topic = inserted.map_err(taken)?;
        audit::record(
            conn,
            now,
            Some(actor),
            "topic.create",
            Some(("topic", topic.id)),
            serde_json::json!({
                "slug": topic.slug,
                "title": topic.title,
                "duration_minutes": topic.duration_minutes,
            }),
        )?;
        Ok(topic)
    })
}

/// What an action did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Changed,
    /// The topic already was that way; nothing written.
    AlreadySo,
}

fn lock(conn: &mut PgConnection, id: Uuid) -> Result<Topic, TopicError> {
    topics::table
        .find(id)
        .select(Topic::as_select())
        .for_no_key_update()
        .first(conn)
        .optional()?
        .ok_or(TopicError::NotFound)
}

/// Changes title, description and duration, audited as `topic.update`
/// with the old and new values of the fields that changed. A new duration
/// applies to bookings made from now on: booked sessions keep their times.
pub fn update(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    actor: Uuid,
    id: Uuid,
    input: &EditInput,
) -> Result<Outcome, TopicError> {
    let fields = check_edit(input).map_err(TopicError::Invalid)?;
    conn.transaction(|conn| {
        let topic = lock(conn, id)?;
        let mut old = serde_json::Map::new();
        let mut new = serde_json::Map::new();
        if topic.title != fields.title {
            old.insert("title".into(), topic.title.clone().into());
            new.insert("title".into(), fields.title.clone().into());
        }
        if topic.description != fields.description {
            old.insert("description".into(), topic.description.clone().into());
            new.insert("description".into(), fields.description.clone().into());
        }
        if topic.duration_minutes != fields.duration_minutes {
            old.insert("duration_minutes".into(), topic.duration_minutes.into());
            new.insert("duration_minutes".into(), fields.duration_minutes.into());
        }
        if new.is_empty() {
            return Ok(Outcome::AlreadySo);
        }
        diesel::update(topics::table.find(id))
            .set((
                topics::title.eq(&fields.title),
                topics::description.eq(&fields.description),
                topics::duration_minutes.eq(fields.duration_minutes),
                topics::updated_at.eq(now),
            ))
            .execute(conn)
            .map_err(taken)?;
        audit::record(
            conn,
            now,
            Some(actor),
            "topic.update",
            Some(("topic", id)),
            serde_json::json!({ "slug": topic.slug, "old": old, "new": new }),
        )?;
        Ok(Outcome::Changed)
    })
}

/// Deactivates (`active = false`) or reactivates a topic, audited as
/// `topic.deactivate` / `topic.activate`. Its bookings stay as they are.
pub fn set_active(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    actor: Uuid,
    id: Uuid,
    active: bool,
) -> Result<Outcome, TopicError> {
    conn.transaction(|conn| {
        let topic = lock(conn, id)?;
        if topic.active == active {
            return Ok(Outcome::AlreadySo);
        }
        diesel::update(topics::table.find(id))
            .set((topics::active.eq(active), topics::updated_at.eq(now)))
            .execute(conn)?;
        let action = if active {
            "topic.activate"
        } else {
            "topic.deactivate"
        };
        audit::record(
            conn,
            now,
            Some(actor),
            action,
            Some(("topic", id)),
            serde_json::json!({ "slug": topic.slug }),
        )?;
        Ok(Outcome::Changed)
    })
}

// ================================================================ web

/// A message after an action, named by a fixed code in the redirect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Notice {
    Created,
    Updated,
    Unchanged,
    Deactivated,
    AlreadyInactive,
    Activated,
    AlreadyActive,
}

impl Notice {
    const ALL: [Notice; 7] = [
        Notice::Created,
        Notice::Updated,
        Notice::Unchanged,
        Notice::Deactivated,
        Notice::AlreadyInactive,
        Notice::Activated,
        Notice::AlreadyActive,
    ];

    fn code(self) -> &'static str {
        match self {
            Notice::Created => "created",
            Notice::Updated => "updated",
            Notice::Unchanged => "unchanged",
            Notice::Deactivated => "deactivated",
            Notice::AlreadyInactive => "already-inactive",
            Notice::Activated => "activated",
            Notice::AlreadyActive => "already-active",
        }
    }

    fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|n| n.code() == code)
    }

    fn text(self, title: &str) -> String {
        match self {
            Notice::Created => format!("“{title}” is created and offered to mentors."),
            Notice::Updated => format!("“{title}” is saved."),
            Notice::Unchanged => format!("“{title}” had these values already; nothing changed."),
            Notice::Deactivated => format!(
                "“{title}” is deactivated: learners no longer see it. Its bookings are kept."
            ),
            Notice::AlreadyInactive => format!("“{title}” was already inactive."),
            Notice::Activated => format!("“{title}” is active again."),
            Notice::AlreadyActive => format!("“{title}” was already active."),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct NoticeQuery {
    notice: Option<String>,
    topic: Option<String>,
}

fn see_other(location: String) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// A page as a response that no cache keeps.
fn respond(page: &impl Template, status: StatusCode) -> Result<HttpResponse, AppError> {
    let mut res = render(page)?;
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    Ok(res)
}

fn errors_of(problems: Problems) -> FieldErrors {
    let mut errors = FieldErrors::default();
    for (field, message) in problems {
        errors.add(field, message);
    }
    errors
}

/// A topic id from the path; anything else names no page.
fn path_id(raw: &str) -> Result<Uuid, AppError> {
    Uuid::parse_str(raw).map_err(|_| AppError::NotFound)
}

impl From<TopicError> for AppError {
    fn from(err: TopicError) -> Self {
        match err {
            TopicError::NotFound => AppError::NotFound,
            TopicError::Db(e) => e.into(),
            other @ TopicError::Invalid(_) => AppError::internal(other),
        }
    }
}

struct Row {
    id: Uuid,
    slug: String,
    title: String,
    minutes: i32,
    active: bool,
    upcoming: i64,
}

struct Message {
    text: String,
}

#[derive(Template)]
#[template(path = "admin/topics.html")]
struct TopicsPage {
    page: PageCtx,
    rows: Vec<Row>,
    message: Option<Message>,
    input: CreateInput,
    errors: FieldErrors,
}

async fn topics_page(
    state: &AppState,
    auth: &Auth<AdminRole>,
    query: &NoticeQuery,
    input: CreateInput,
    errors: FieldErrors,
) -> Result<TopicsPage, AppError> {
    let now = state.clock.now();
    let listed = state.db(move |conn| list(conn, now)).await?;
    let notice = query.notice.as_deref().and_then(Notice::parse);
    let noticed = query.topic.as_deref().and_then(|t| Uuid::parse_str(t).ok());
    let message = notice.zip(noticed).and_then(|(n, id)| {
        listed.iter().find(|l| l.topic.id == id).map(|l| Message {
            text: n.text(&l.topic.title),
        })
    });
    let rows = listed
        .into_iter()
        .map(|l| Row {
            id: l.topic.id,
            slug: l.topic.slug,
            title: l.topic.title,
            minutes: l.topic.duration_minutes,
            active: l.topic.active,
            upcoming: l.upcoming,
        })
        .collect();
    Ok(TopicsPage {
        page: auth.page(),
        rows,
        message,
        input,
        errors,
    })
}

/// `GET /admin/topics`
pub async fn list_page(
    state: web::Data<AppState>,
    auth: Auth<AdminRole>,
    query: web::Query<NoticeQuery>,
) -> Result<HttpResponse, AppError> {
    let page = topics_page(
        &state,
        &auth,
        &query,
        CreateInput::default(),
        FieldErrors::default(),
    )
    .await?;
    respond(&page, StatusCode::OK)
}

fn after(notice: Notice, id: Uuid) -> HttpResponse {
    see_other(format!("/admin/topics?notice={}&topic={id}", notice.code()))
}

/// `POST /admin/topics`
pub async fn create_action(
    state: web::Data<AppState>,
    auth: Auth<AdminRole>,
    form: CsrfForm<CreateInput>,
) -> Result<HttpResponse, AppError> {
    let input = form.form;
    let (actor, now) = (auth.user.id, state.clock.now());
    let sent = input.clone();
    let result = state
        .db(move |conn| Ok::<_, AppError>(create(conn, now, actor, &sent)))
        .await?;
    match result {
        Ok(topic) => Ok(after(Notice::Created, topic.id)),
        Err(TopicError::Invalid(problems)) => {
            let page = topics_page(
                &state,
                &auth,
                &NoticeQuery::default(),
                input,
                errors_of(problems),
            )
            .await?;
            respond(&page, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "admin/topic_edit.html")]
struct EditPage {
    page: PageCtx,
    id: Uuid,
    slug: String,
    /// The title as stored (the form may hold an edited one).
    name: String,
    active: bool,
    upcoming: i64,
    input: EditInput,
    errors: FieldErrors,
}

async fn edit_page(
    state: &AppState,
    auth: &Auth<AdminRole>,
    id: Uuid,
    input: Option<EditInput>,
    errors: FieldErrors,
) -> Result<EditPage, AppError> {
    let now = state.clock.now();
    let listed = state
        .db(move |conn| find(conn, id, now))
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(EditPage {
        page: auth.page(),
        id,
        input: input.unwrap_or_else(|| EditInput::of(&listed.topic)),
        slug: listed.topic.slug,
        name: listed.topic.title,
        active: listed.topic.active,
        upcoming: listed.upcoming,
        errors,
    })
}

/// `GET /admin/topics/{id}`
pub async fn edit_form(
    state: web::Data<AppState>,
    auth: Auth<AdminRole>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = path_id(&id)?;
    let page = edit_page(&state, &auth, id, None, FieldErrors::default()).await?;
    respond(&page, StatusCode::OK)
}

/// `POST /admin/topics/{id}`
pub async fn update_action(
    state: web::Data<AppState>,
    auth: Auth<AdminRole>,
    id: web::Path<String>,
    form: CsrfForm<EditInput>,
) -> Result<HttpResponse, AppError> {
    let id = path_id(&id)?;
    let input = form.form;
    let (actor, now) = (auth.user.id, state.clock.now());
    let sent = input.clone();
    let result = state
        .db(move |conn| Ok::<_, AppError>(update(conn, now, actor, id, &sent)))
        .await?;
    match result {
        Ok(Outcome::Changed) => Ok(after(Notice::Updated, id)),
        Ok(Outcome::AlreadySo) => Ok(after(Notice::Unchanged, id)),
        Err(TopicError::Invalid(problems)) => {
            let page = edit_page(&state, &auth, id, Some(input), errors_of(problems)).await?;
            respond(&page, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct NoFields {}

async fn switch(
    state: &AppState,
    auth: &Auth<AdminRole>,
    raw: &str,
    active: bool,
) -> Result<HttpResponse, AppError> {
    let id = path_id(raw)?;
    let (actor, now) = (auth.user.id, state.clock.now());
    let outcome = state
        .db(move |conn| set_active(conn, now, actor, id, active))
        .await?;
    let notice = match (outcome, active) {
        (Outcome::Changed, true) => Notice::Activated,
        (Outcome::AlreadySo, true) => Notice::AlreadyActive,
        (Outcome::Changed, false) => Notice::Deactivated,
        (Outcome::AlreadySo, false) => Notice::AlreadyInactive,
    };
    Ok(after(notice, id))
}

/// `POST /admin/topics/{id}/deactivate`
pub async fn deactivate_action(
    state: web::Data<AppState>,
    auth: Auth<AdminRole>,
    id: web::Path<String>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    switch(&state, &auth, &id, false).await
}

/// `POST /admin/topics/{id}/activate`
pub async fn activate_action(
    state: web::Data<AppState>,
    auth: Auth<AdminRole>,
    id: web::Path<String>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    switch(&state, &auth, &id, true).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_follow_the_database_check() {
        for ok in ["ab", "sql-basics", "a1-b2-c3", "x9", &"a".repeat(60)] {
            assert!(slug_ok(ok), "{ok}");
        }
        for bad in [
            "",
            "a",
            "-ab",
            "ab-",
            "a--b",
            "SQL",
            "sql basics",
            "sql_basics",
            "ünï",
            &"a".repeat(61),
        ] {
            assert!(!slug_ok(bad), "{bad}");
        }
    }

    #[test]
    fn every_field_problem_is_reported_at_once() {
        let problems = check_create(&CreateInput {
            slug: "Bad Slug".into(),
            title: "x".into(),
            description: "d".repeat(1001),
            duration_minutes: "ten".into(),
        })
        .unwrap_err();
        let fields: Vec<_> = problems.iter().map(|(f, _)| *f).collect();
        assert_eq!(fields, ["slug", "title", "description", "duration_minutes"]);
        let (slug, fields) = check_create(&CreateInput {
            slug: " sql-basics ".into(),
            title: "  SQL basics ".into(),
            description: "Joins\r\nand indexes".into(),
            duration_minutes: "45".into(),
        })
        .unwrap();
        assert_eq!(slug, "sql-basics");
        assert_eq!(fields.title, "SQL basics");
        assert_eq!(fields.description, "Joins\nand indexes");
        assert_eq!(fields.duration_minutes, 45);
        for minutes in ["14", "121", "0", "-30", "30.5", ""] {
            let input = EditInput {
                title: "Fine".into(),
                description: String::new(),
                duration_minutes: minutes.into(),
            };
            assert!(check_edit(&input).is_err(), "{minutes}");
        }
    }
}
