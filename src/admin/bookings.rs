//! `/admin/bookings` and `/admin/bookings.csv`: every booking, filtered by
//! date range, mentor, learner, topic and status, sorted by start, in keyset
//! pages (or streamed as CSV in keyset chunks); an admin can cancel one
//! with a reason, or reassign an upcoming one to another mentor who offers
//! the topic and is free then (`bookings::service::reassign`). The service half takes a connection; the handler half
//! parses the query, calls and renders. Cancelling goes through
//! `bookings::service::cancel`, which writes the emails and the audit
//! entry. Depends on `bookings`, `slots` (local dates), `db`, `web`,
//! `state`, `error`.

use std::collections::HashMap;
use std::fmt::Write as _;

use super::keyset::{Cursor, Key};

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, SecondsFormat, Utc};
use chrono_tz::Tz;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{BigInt, Bool, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use serde::Deserialize;
use uuid::Uuid;

use super::users::like_pattern;
use crate::accounts::User;
use crate::accounts::model::UserRow;
use crate::bookings::model::{Booking, Status};
use crate::bookings::notify::Parties;
use crate::bookings::service::{self, Actor, BookError, Ctx, Party};
use crate::db::schema::{mentor_topics, topics, users};
use crate::error::AppError;
use crate::schedule::availability::{self, MentorRef};
use crate::slots::Interval;
use crate::state::AppState;
use crate::web::auth::{AdminRole, Auth, CsrfForm};
use crate::web::forms::FieldErrors;
use crate::web::{PageCtx, render};

/// Rows per page of the list.
pub const PAGE_SIZE: i64 = 50;
/// Rows per query of the CSV export.
pub const CSV_CHUNK: i64 = 1000;
/// Longest search text kept.
const TEXT_MAX: usize = 254;

// ================================================================ service

/// The order of the list and of the export: by start, then by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    Asc,
    /// Latest start first (the default).
    #[default]
    Desc,
}

impl Sort {
    pub fn as_str(self) -> &'static str {
        match self {
            Sort::Asc => "asc",
            Sort::Desc => "desc",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "asc" => Some(Sort::Asc),
            "desc" => Some(Sort::Desc),
            _ => None,
        }
    }
}

/// What the list is narrowed to; every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Sessions starting at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Sessions starting before this instant.
    pub to: Option<DateTime<Utc>>,
    pub mentor_id: Option<Uuid>,
    /// A case-insensitive substring of the mentor's email or name.
    pub mentor_text: String,
    /// A case-insensitive substring of the learner's email or name.
    pub learner_text: String,
    /// A topic slug.
    pub topic: Option<String>,
    pub status: Option<Status>,
}

/// A row's place in the list's order.
pub fn key_of(row: &Row) -> Key {
    Key::new(row.start_at, row.id)
}

/// One booking with the names it is shown with (users and topic joined).
#[derive(Debug, Clone, QueryableByName)]
pub struct Row {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = Timestamptz)]
    pub start_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    pub end_at: DateTime<Utc>,
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = Text)]
    pub goals: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub cancel_reason: Option<String>,
    #[diesel(sql_type = Bool)]
    pub late_cancel: bool,
    /// Who cancelled: "learner", "mentor" or "admin" (by whose account:
    /// an admin cancelling their own session counts as its learner or
    /// mentor).
    #[diesel(sql_type = Nullable<Text>)]
    pub cancelled_by: Option<String>,
    #[diesel(sql_type = Text)]
    pub topic_slug: String,
    #[diesel(sql_type = Text)]
    pub topic_title: String,
    #[diesel(sql_type = SqlUuid)]
    pub mentor_id: Uuid,
    #[diesel(sql_type = Text)]
    pub mentor_name: String,
    #[diesel(sql_type = Text)]
    pub mentor_email: String,
    #[diesel(sql_type = SqlUuid)]
    pub learner_id: Uuid,
    #[diesel(sql_type = Text)]
    pub learner_name: String,
    #[diesel(sql_type = Text)]
    pub learner_email: String,
}

impl Row {
    pub fn status(&self) -> Status {
        Status::parse(&self.status).unwrap_or(Status::Confirmed)
    }
}

/// One page of the list.
#[derive(Debug)]
pub struct Page {
    pub rows: Vec<Row>,
    /// Bookings matching the filter, on every page.
    pub total: i64,
    /// There are rows before this page: the previous page is
    /// `Cursor::Before(key)`.
    pub prev: Option<Key>,
    /// There are rows after it: the next page is `Cursor::After(key)`.
    pub next: Option<Key>,
}

enum Bind {
    Text(String),
    Uuid(Uuid),
    At(DateTime<Utc>),
}

/// SQL text with numbered parameters, built piece by piece.
#[derive(Default)]
struct Sql {
    text: String,
    binds: Vec<Bind>,
}

impl Sql {
    /// Adds a parameter; returns its placeholder.
    fn bind(&mut self, value: Bind) -> String {
        self.binds.push(value);
        format!("${}", self.binds.len())
    }

    fn query(self) -> BoxedSqlQuery<'static, Pg, SqlQuery> {
        let mut query = diesel::sql_query(self.text).into_boxed::<Pg>();
        for bind in self.binds {
            query = match bind {
                Bind::Text(v) => query.bind::<Text, _>(v),
                Bind::Uuid(v) => query.bind::<SqlUuid, _>(v),
                Bind::At(v) => query.bind::<Timestamptz, _>(v),
            };
        }
        query
    }
}

const SELECT_ROWS: &str = "SELECT b.id, b.start_at, b.end_at, b.status, b.goals, \
     b.cancel_reason, b.late_cancel, \
     b.cancelled_as AS cancelled_by, \
     t.slug AS topic_slug, t.title AS topic_title, \
     m.id AS mentor_id, m.display_name AS mentor_name, m.email AS mentor_email, \
     l.id AS learner_id, l.display_name AS learner_name, l.email AS learner_email \
     FROM bookings b \
     JOIN users m ON m.id = b.mentor_id \
     JOIN users l ON l.id = b.learner_id \
     JOIN topics t ON t.id = b.topic_id";

/// The filter's conditions (each references `b`, `m`, `l` or `t`).
fn conditions(filter: &Filter, sql: &mut Sql) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(from) = filter.from {
        out.push(format!("b.start_at >= {}", sql.bind(Bind::At(from))));
    }
    if let Some(to) = filter.to {
        out.push(format!("b.start_at < {}", sql.bind(Bind::At(to))));
    }
    if let Some(id) = filter.mentor_id {
        out.push(format!("b.mentor_id = {}", sql.bind(Bind::Uuid(id))));
    }
    if !filter.mentor_text.is_empty() {
        let p = sql.bind(Bind::Text(like_pattern(&filter.mentor_text)));
        out.push(format!(
            "(m.email ILIKE {p} ESCAPE '\\' OR m.display_name ILIKE {p} ESCAPE '\\')"
        ));
    }
    if !filter.learner_text.is_empty() {
        let p = sql.bind(Bind::Text(like_pattern(&filter.learner_text)));
        out.push(format!(
            "(l.email ILIKE {p} ESCAPE '\\' OR l.display_name ILIKE {p} ESCAPE '\\')"
        ));
    }
    if let Some(slug) = &filter.topic {
        out.push(format!("t.slug = {}", sql.bind(Bind::Text(slug.clone()))));
    }
    if let Some(status) = filter.status {
        out.push(format!(
            "b.status = {}",
            sql.bind(Bind::Text(status.as_str().to_owned()))
        ));
    }
    out
}

fn push_where(sql: &mut Sql, conditions: &[String]) {
    if !conditions.is_empty() {
        sql.text.push_str(" WHERE ");
        sql.text.push_str(&conditions.join(" AND "));
    }
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// How many bookings match `filter`: one aggregate query, joining only the
/// tables the filter needs.
pub fn count(conn: &mut PgConnection, filter: &Filter) -> QueryResult<i64> {
    let mut sql = Sql::default();
    sql.text.push_str("SELECT count(*) AS n FROM bookings b");
    if !filter.mentor_text.is_empty() {
        sql.text.push_str(" JOIN users m ON m.id = b.mentor_id");
    }
    if !filter.learner_text.is_empty() {
        sql.text.push_str(" JOIN users l ON l.id = b.learner_id");
    }
    if filter.topic.is_some() {
        sql.text.push_str(" JOIN topics t ON t.id = b.topic_id");
    }
    let conds = conditions(filter, &mut sql);
    push_where(&mut sql, &conds);
    let count: Count = sql.query().get_result(conn)?;
    Ok(count.n)
}

/// Which way to read from a key: along the list's order, or against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Way {
    Along,
    Against,
}

/// Up to `limit` rows matching `filter` strictly past `from` (the first
/// ones when `None`), nearest first. The keyset condition is a row
/// comparison, so PostgreSQL starts the index scan right at the key.
fn seek(
    conn: &mut PgConnection,
    filter: &Filter,
    sort: Sort,
    from: Option<(Key, Way)>,
    limit: i64,
) -> QueryResult<Vec<Row>> {
    let way = from.map_or(Way::Along, |(_, w)| w);
    let ascending = (sort == Sort::Asc) == (way == Way::Along);
    let mut sql = Sql::default();
    sql.text.push_str(SELECT_ROWS);
    let mut conds = conditions(filter, &mut sql);
    if let Some((key, _)) = from {
        let op = if ascending { ">" } else { "<" };
        let at = sql.bind(Bind::At(key.at));
        let id = sql.bind(Bind::Uuid(key.id));
        conds.push(format!("(b.start_at, b.id) {op} ({at}, {id})"));
    }
    push_where(&mut sql, &conds);
    let dir = if ascending { "ASC" } else { "DESC" };
    let _ = write!(
        sql.text,
        " ORDER BY b.start_at {dir}, b.id {dir} LIMIT {}",
        limit.max(0)
    );
    sql.query().load(conn)
}

/// Up to `limit` rows right after `after` (from the first when `None`), in
/// the order of `sort`: the export reads the whole set in these chunks.
pub fn chunk(
    conn: &mut PgConnection,
    filter: &Filter,
    sort: Sort,
    after: Option<Key>,
    limit: i64,
) -> QueryResult<Vec<Row>> {
    seek(conn, filter, sort, after.map(|k| (k, Way::Along)), limit)
}

fn any(
    conn: &mut PgConnection,
    filter: &Filter,
    sort: Sort,
    key: Key,
    way: Way,
) -> QueryResult<bool> {
    Ok(!seek(conn, filter, sort, Some((key, way)), 1)?.is_empty())
}

/// A page of bookings matching `filter` in the order of `sort`: one count,
/// one page query, and at most one probe for the other direction. Run it
/// in a read-only repeatable-read transaction so the count and the rows
/// agree.
pub fn list(
    conn: &mut PgConnection,
    filter: &Filter,
    sort: Sort,
    cursor: Option<Cursor>,
) -> QueryResult<Page> {
    let total = count(conn, filter)?;
    let take = |rows: &mut Vec<Row>| {
        let more = rows.len() as i64 > PAGE_SIZE;
        rows.truncate(PAGE_SIZE as usize);
        more
    };
    let (rows, prev, next) = match cursor {
        None => {
            let mut rows = seek(conn, filter, sort, None, PAGE_SIZE + 1)?;
            let more = take(&mut rows);
            let next = if more { rows.last().map(key_of) } else { None };
            (rows, None, next)
        }
        Some(Cursor::After(key)) => {
            let mut rows = seek(conn, filter, sort, Some((key, Way::Along)), PAGE_SIZE + 1)?;
            let more = take(&mut rows);
            // Past the end (rows changed since the link was made): the
            // previous page still leads back.
            let anchor = rows.first().map_or(key, key_of);
            let prev = any(conn, filter, sort, anchor, Way::Against)?.then_some(anchor);
            let next = if more { rows.last().map(key_of) } else { None };
            (rows, prev, next)
        }
        Some(Cursor::Before(key)) => {
            let mut rows = seek(conn, filter, sort, Some((key, Way::Against)), PAGE_SIZE + 1)?;
            let more = take(&mut rows);
            rows.reverse();
            let prev = if more { rows.first().map(key_of) } else { None };
            let anchor = rows.last().map_or(key, key_of);
            let next = any(conn, filter, sort, anchor, Way::Along)?.then_some(anchor);
            (rows, prev, next)
        }
    };
    Ok(Page {
        rows,
        total,
        prev,
        next,
    })
}

/// Everyone a booking's mentor can be, by name: mentor accounts, admins
/// who mentor (a profile, or a session as mentor), and anyone who mentored
/// a session before changing role; plus `also` (picked by an old link).
pub fn mentor_options(
    conn: &mut PgConnection,
    also: Option<Uuid>,
) -> QueryResult<Vec<(Uuid, String, String)>> {
    use crate::db::schema::{bookings, mentor_profiles};
    let has_profile =
        diesel::dsl::exists(mentor_profiles::table.filter(mentor_profiles::user_id.eq(users::id)));
    let has_mentored =
        diesel::dsl::exists(bookings::table.filter(bookings::mentor_id.eq(users::id)));
    let mut query = users::table
        .filter(
            users::role
                .eq("mentor")
                .or(users::role.eq("admin").and(has_profile))
                .or(has_mentored),
        )
        .into_boxed();
    if let Some(id) = also {
        query = query.or_filter(users::id.eq(id));
    }
    query
        .order((users::display_name.asc(), users::id.asc()))
        .select((users::id, users::display_name, users::email))
        .load(conn)
}

/// Every topic, inactive ones too (their bookings are kept), by title.
pub fn topic_options(conn: &mut PgConnection) -> QueryResult<Vec<(String, String)>> {
    topics::table
        .order((topics::title.asc(), topics::id.asc()))
        .select((topics::slug, topics::title))
        .load(conn)
}

#[derive(Debug, thiserror::Error)]
pub enum CancelError {
    #[error("a reason is required")]
    ReasonRequired,
    #[error("the reason is too long")]
    ReasonTooLong,
    #[error("invalid reason: {0}")]
    InvalidReason(&'static str),
    #[error(transparent)]
    Book(#[from] BookError),
}

/// Cancels a booking as an admin. The booking service requires the
/// reason (the learner and the mentor read it in the email) and writes
/// the emails and the audit entry in its transaction.
pub fn cancel(
    conn: &mut PgConnection,
    ctx: Ctx<'_>,
    admin: Uuid,
    booking_id: Uuid,
    reason: &str,
) -> Result<service::Cancelled, CancelError> {
    let actor = Actor {
        user_id: admin,
        party: Party::Admin,
        via_manage_link: false,
    };
    service::cancel(conn, ctx, booking_id, actor, Some(reason)).map_err(|e| match e {
        BookError::ReasonRequired => CancelError::ReasonRequired,
        BookError::ReasonTooLong => CancelError::ReasonTooLong,
        BookError::InvalidReason(problem) => CancelError::InvalidReason(problem),
        other => CancelError::Book(other),
    })
}

// ================================================================ CSV

/// The export's columns, in order.
pub const CSV_HEADER: [&str; 13] = [
    "id",
    "start_utc",
    "end_utc",
    "status",
    "topic",
    "mentor_name",
    "mentor_email",
    "learner_name",
    "learner_email",
    "goals",
    "cancel_reason",
    "late_cancel",
    "cancelled_by",
];

/// One CSV field (RFC 4180): a cell a spreadsheet would read as a formula
/// (it begins with `=`, `+`, `-`, `@`, a tab or a CR) gets a leading `'`;
/// a field holding `,`, `"`, CR or LF is quoted with its quotes doubled.
pub fn csv_field(out: &mut String, value: &str) {
    let neutralise = value.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let quote = value.contains([',', '"', '\r', '\n']);
    if quote {
        out.push('"');
    }
    if neutralise {
        out.push('\'');
    }
    if quote {
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(value);
    }
}

fn csv_record<'a>(out: &mut String, fields: impl IntoIterator<Item = &'a str>) {
    for (i, field) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        csv_field(out, field);
    }
    out.push_str("\r\n");
}

fn utc(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// One booking as a CSV record (CRLF-terminated).
pub fn csv_row(out: &mut String, row: &Row) {
    let id = row.id.to_string();
    let (start, end) = (utc(row.start_at), utc(row.end_at));
    csv_record(
        out,
        [
            id.as_str(),
            &start,
            &end,
            &row.status,
            &row.topic_slug,
            &row.mentor_name,
            &row.mentor_email,
            &row.learner_name,
            &row.learner_email,
            &row.goals,
            row.cancel_reason.as_deref().unwrap_or(""),
            if row.late_cancel { "true" } else { "false" },
            row.cancelled_by.as_deref().unwrap_or(""),
        ],
    );
}

// ================================================================ web

/// The list's state, validated. Every link and redirect is built from
/// `filter`, `sort` and `cursor`, never from the raw query; `inputs` and
/// `errors` give the form back as typed, with a message at each field
/// that was left out of the filter.
#[derive(Debug, Clone, Default)]
struct ListState {
    filter: Filter,
    sort: Sort,
    cursor: Option<Cursor>,
    /// The valid dates as typed (`YYYY-MM-DD`), for links.
    from_date: Option<NaiveDate>,
    to_date: Option<NaiveDate>,
    inputs: Inputs,
    errors: FieldErrors,
    notice: Option<String>,
}

/// The filter form's fields as typed.
#[derive(Debug, Clone, Default)]
struct Inputs {
    from: String,
    to: String,
    mentor: String,
    mentor_q: String,
    learner: String,
    topic: String,
    status: String,
}

/// Text as a search term: no control characters, trimmed, bounded.
fn clean_text(raw: &str) -> String {
    raw.chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim()
        .chars()
        .take(TEXT_MAX)
        .collect()
}

/// A `YYYY-MM-DD` date within years PostgreSQL and chrono both handle.
fn parse_date(raw: &str) -> Option<NaiveDate> {
    let date = NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok()?;
    (1970..=9998).contains(&date.year()).then_some(date)
}

/// The first instant of a local date in `zone` (midnight, or the first
/// instant after a gap).
fn day_start(date: NaiveDate, zone: Tz) -> DateTime<Utc> {
    crate::slots::resolve_local(zone, date, NaiveTime::MIN)
}

impl ListState {
    /// Reads the query string; dates are local dates in `zone`. Repeated
    /// keys: the first wins. Nothing here fails: bad values are dropped
    /// with a message at their field.
    fn parse(query: &str, zone: Tz) -> Self {
        let mut raw: HashMap<String, String> = HashMap::new();
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            raw.entry(k.into_owned()).or_insert_with(|| v.into_owned());
        }
        let get = |k: &str| raw.get(k).map(|v| v.trim()).unwrap_or("");
        let inputs = Inputs {
            from: clean_text(get("from")),
            to: clean_text(get("to")),
            mentor: clean_text(get("mentor")),
            mentor_q: clean_text(get("mentor_q")),
            learner: clean_text(get("learner")),
            topic: clean_text(get("topic")),
            status: clean_text(get("status")),
        };
        let mut st = ListState {
            inputs: inputs.clone(),
            ..ListState::default()
        };
        if !inputs.from.is_empty() {
            match parse_date(&inputs.from) {
                Some(d) => st.from_date = Some(d),
                None => st
                    .errors
                    .add("from", "Enter the first day as a date, e.g. 2026-06-01."),
            }
        }
        if !inputs.to.is_empty() {
            match parse_date(&inputs.to) {
                Some(d) if st.from_date.is_some_and(|f| d < f) => st
                    .errors
                    .add("to", "The last day cannot be before the first day."),
                Some(d) => st.to_date = Some(d),
                None => st
                    .errors
                    .add("to", "Enter the last day as a date, e.g. 2026-06-30."),
            }
        }
        st.filter.from = st.from_date.map(|d| day_start(d, zone));
        st.filter.to = st
            .to_date
            .and_then(|d| d.succ_opt())
            .map(|d| day_start(d, zone));
        if !inputs.mentor.is_empty() {
            match Uuid::parse_str(&inputs.mentor) {
                Ok(id) => st.filter.mentor_id = Some(id),
                Err(_) => st.errors.add("mentor", "Choose a mentor from the list."),
            }
        }
        st.filter.mentor_text = inputs.mentor_q.clone();
        st.filter.learner_text = inputs.learner.clone();
        if !inputs.topic.is_empty() {
            // Checked against the stored topics when the page is loaded.
            st.filter.topic = Some(inputs.topic.clone());
        }
        if !inputs.status.is_empty() {
            match Status::parse(&inputs.status) {
                Some(s) => st.filter.status = Some(s),
                None => st.errors.add("status", "Choose a status from the list."),
            }
        }
        st.sort = Sort::parse(get("sort")).unwrap_or_default();
        st.cursor = Cursor::from_query(
            raw.get("after").map(|v| v.as_str()),
            raw.get("before").map(|v| v.as_str()),
        );
        st.notice = raw.get("notice").cloned();
        st
    }

    /// Drops a topic filter that names no stored topic.
    fn check_topic(&mut self, topics: &[(String, String)]) {
        if let Some(slug) = &self.filter.topic
            && !topics.iter().any(|(s, _)| s == slug)
        {
            self.filter.topic = None;
            self.errors.add("topic", "Choose a topic from the list.");
        }
    }

    fn filter_pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        if let Some(d) = self.from_date {
            pairs.push(("from", d.format("%Y-%m-%d").to_string()));
        }
        if let Some(d) = self.to_date {
            pairs.push(("to", d.format("%Y-%m-%d").to_string()));
        }
        if let Some(id) = self.filter.mentor_id {
            pairs.push(("mentor", id.to_string()));
        }
        if !self.filter.mentor_text.is_empty() {
            pairs.push(("mentor_q", self.filter.mentor_text.clone()));
        }
        if !self.filter.learner_text.is_empty() {
            pairs.push(("learner", self.filter.learner_text.clone()));
        }
        if let Some(t) = &self.filter.topic {
            pairs.push(("topic", t.clone()));
        }
        if let Some(s) = self.filter.status {
            pairs.push(("status", s.as_str().to_owned()));
        }
        if self.sort != Sort::default() {
            pairs.push(("sort", self.sort.as_str().to_owned()));
        }
        pairs
    }

    fn pairs(&self, cursor: Option<Cursor>) -> Vec<(&'static str, String)> {
        let mut pairs = self.filter_pairs();
        pairs.extend(cursor.map(Cursor::pair));
        pairs
    }

    /// `?a=b&…`, or nothing when there is nothing to carry.
    fn query(pairs: &[(&'static str, String)]) -> String {
        match serde_urlencoded::to_string(pairs) {
            Ok(qs) if !qs.is_empty() => format!("?{qs}"),
            _ => String::new(),
        }
    }

    fn href(&self, cursor: Option<Cursor>) -> String {
        format!("/admin/bookings{}", Self::query(&self.pairs(cursor)))
    }
}

struct Opt {
    value: String,
    label: String,
    selected: bool,
}

struct RowView {
    id: Uuid,
    start_text: String,
    start_iso: String,
    mentor_name: String,
    mentor_email: String,
    learner_name: String,
    learner_email: String,
    topic_title: String,
    status_code: &'static str,
    status_label: &'static str,
    cancel_reason: Option<String>,
    /// "Cancelled by the mentor", with "late" for a learner's late cancel.
    cancelled_by: Option<String>,
    can_cancel: bool,
    /// The reason as typed and the message, after a refused cancel.
    reason: String,
    reason_error: Option<String>,
}

struct Message {
    text: String,
    error: bool,
}

#[derive(Template)]
#[template(path = "admin/bookings.html")]
struct BookingsPage {
    page: PageCtx,
    zone: &'static str,
    inputs: Inputs,
    errors: FieldErrors,
    mentors: Vec<Opt>,
    topics: Vec<Opt>,
    statuses: Vec<Opt>,
    sort_asc: bool,
    filtered: bool,
    summary: String,
    rows: Vec<RowView>,
    /// The current page's query (`?…` or empty), carried by every form.
    list_query: String,
    csv_href: String,
    prev_href: Option<String>,
    next_href: Option<String>,
    first_href: Option<String>,
    message: Option<Message>,
}

/// A refused cancel, shown at its row.
struct Refused {
    booking: Uuid,
    reason: String,
    message: String,
}

fn no_store(mut res: HttpResponse) -> HttpResponse {
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    res
}

/// Loads and renders the list for `st` (with `refused` at its row).
async fn list_response(
    state: &AppState,
    auth: &Auth<AdminRole>,
    mut st: ListState,
    refused: Option<Refused>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let zone = auth.user.time_zone;
    let now = state.clock.now();
    let picked_mentor = st.filter.mentor_id;
    let (st, page, mentors, topic_list) = state
        .db(move |conn| {
            conn.build_transaction()
                .read_only()
                .repeatable_read()
                .run(|conn| {
                    let topics = topic_options(conn)?;
                    st.check_topic(&topics);
                    let mentors = mentor_options(conn, picked_mentor)?;
                    let page = list(conn, &st.filter, st.sort, st.cursor)?;
                    Ok::<_, diesel::result::Error>((st, page, mentors, topics))
                })
        })
        .await?;

    let filtered = st.filter != Filter::default();
    let mut summary = match (page.total, filtered) {
        (1, true) => "1 booking matches.".to_owned(),
        (n, true) => format!("{n} bookings match."),
        (1, false) => "1 booking.".to_owned(),
        (n, false) => format!("{n} bookings."),
    };
    if !st.errors.is_empty() {
        // The list (and its CSV) is filtered by the valid fields only.
        summary.push_str(" The fields marked above are left out of the filter.");
    }
    let rows = page
        .rows
        .iter()
        .map(|r| {
            let status = r.status();
            let refused_here = refused.as_ref().filter(|f| f.booking == r.id);
            RowView {
                id: r.id,
                start_text: crate::timefmt::short(r.start_at, zone),
                start_iso: utc(r.start_at),
                mentor_name: r.mentor_name.clone(),
                mentor_email: r.mentor_email.clone(),
                learner_name: r.learner_name.clone(),
                learner_email: r.learner_email.clone(),
                topic_title: r.topic_title.clone(),
                status_code: status.as_str(),
                status_label: status.label(),
                cancel_reason: r.cancel_reason.clone(),
                cancelled_by: r.cancelled_by.as_deref().map(|by| {
                    let who = match by {
                        "learner" => "the learner",
                        "mentor" => "the mentor",
                        _ => "an admin",
                    };
                    let late = if r.late_cancel { ", late" } else { "" };
                    format!("by {who}{late}")
                }),
                can_cancel: status == Status::Confirmed && r.start_at > now,
                reason: refused_here.map(|f| f.reason.clone()).unwrap_or_default(),
                reason_error: refused_here.map(|f| f.message.clone()),
            }
        })
        .collect();
    let message = match (&refused, st.notice.as_deref()) {
        (Some(f), _) => Some(Message {
            text: format!("The booking was not cancelled: {}", f.message),
            error: true,
        }),
        (None, Some("cancelled")) => Some(Message {
            text: "The booking is cancelled; the learner and the mentor are emailed.".to_owned(),
            error: false,
        }),
        (None, Some("already-cancelled")) => Some(Message {
            text:
                "The booking was cancelled already; nothing changed and nobody was emailed again."
                    .to_owned(),
            error: false,
        }),
        _ => None,
    };
    let mentor_opts = mentors
        .into_iter()
        .map(|(id, name, email)| Opt {
            selected: Some(id) == st.filter.mentor_id,
            value: id.to_string(),
            label: format!("{name} ({email})"),
        })
        .collect();
    let topic_opts = topic_list
        .into_iter()
        .map(|(slug, title)| Opt {
            selected: st.filter.topic.as_deref() == Some(slug.as_str()),
            value: slug,
            label: title,
        })
        .collect();
    let statuses = [
        Status::Confirmed,
        Status::Cancelled,
        Status::Completed,
        Status::NoShow,
    ]
    .into_iter()
    .map(|s| Opt {
        value: s.as_str().to_owned(),
        label: s.label().to_owned(),
        selected: st.filter.status == Some(s),
    })
    .collect();
    let template = BookingsPage {
        page: auth.page(),
        zone: zone.name(),
        inputs: st.inputs.clone(),
        errors: st.errors.clone(),
        mentors: mentor_opts,
        topics: topic_opts,
        statuses,
        sort_asc: st.sort == Sort::Asc,
        filtered,
        summary,
        rows,
        list_query: ListState::query(&st.pairs(st.cursor)),
        csv_href: format!(
            "/admin/bookings.csv{}",
            ListState::query(&st.filter_pairs())
        ),
        prev_href: page.prev.map(|k| st.href(Some(Cursor::Before(k)))),
        next_href: page.next.map(|k| st.href(Some(Cursor::After(k)))),
        first_href: (st.cursor.is_some() && page.rows.is_empty()).then(|| st.href(None)),
        message,
    };
    let mut res = render(&template)?;
    *res.status_mut() = status;
    Ok(no_store(res))
}

/// `GET /admin/bookings?from=&to=&mentor=&mentor_q=&learner=&topic=&status=&sort=&after=|before=`
pub async fn list_page(
    state: web::Data<AppState>,
    auth: Auth<AdminRole>,
    req: HttpRequest,
) -> Result<HttpResponse, AppError> {
    let st = ListState::parse(req.query_string(), auth.user.time_zone);
    list_response(&state, &auth, st, None, StatusCode::OK).await
}

/// `GET /admin/bookings.csv?…`: the list's filtered set, every page, in
/// its order, streamed in keyset chunks.
pub async fn export_csv(
    state: web::Data<AppState>,
    auth: Auth<AdminRole>,
    req: HttpRequest,
) -> Result<HttpResponse, AppError> {
    let mut st = ListState::parse(req.query_string(), auth.user.time_zone);
    let topics = state.db(topic_options).await?;
    st.check_topic(&topics);
    let (filter, sort) = (st.filter, st.sort);
    let state = state.into_inner();
    // (state, filter, where the next chunk starts, whether it is the first)
    let start = Some((state, filter, None::<Key>, true));
    let body = futures_util::stream::unfold(start, move |next| async move {
        let (state, filter, after, first) = next?;
        let f = filter.clone();
        let result = state
            .db(move |conn| chunk(conn, &f, sort, after, CSV_CHUNK))
            .await;
        match result {
            Ok(rows) => {
                let mut out = String::new();
                if first {
                    csv_record(&mut out, CSV_HEADER);
                }
                for row in &rows {
                    csv_row(&mut out, row);
                }
                let more = rows.len() as i64 == CSV_CHUNK;
                let next = rows
                    .last()
                    .filter(|_| more)
                    .map(|r| (state, filter, Some(key_of(r)), false));
                Some((Ok::<_, AppError>(Bytes::from(out)), next))
            }
            Err(e) => {
                // The status line has gone out; the client sees a cut-off
                // download, the log the cause.
                tracing::error!(error = %e, "bookings export failed");
                Some((Err(e), None))
            }
        }
    });
    Ok(HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/csv; charset=utf-8"),
        ))
        .insert_header((
            header::CONTENT_DISPOSITION,
            HeaderValue::from_static("attachment; filename=\"bookings.csv\""),
        ))
        .insert_header((
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-store"),
        ))
        .streaming(body))
}

#[derive(Deserialize)]
pub struct CancelForm {
    #[serde(default)]
    reason: String,
}

/// `POST /admin/bookings/{id}/cancel?<the list's query>` with `reason`:
/// back to the same page of the list, or the list with the message at the
/// booking's reason field.
pub async fn cancel_action(
    state: web::Data<AppState>,
    auth: Auth<AdminRole>,
    req: HttpRequest,
    id: web::Path<String>,
    form: CsrfForm<CancelForm>,
) -> Result<HttpResponse, AppError> {
    let booking_id = Uuid::parse_str(&id).map_err(|_| AppError::NotFound)?;
    let reason = form.form.reason;
    let (admin, now) = (auth.user.id, state.clock.now());
    let st2 = state.clone();
    let r = reason.clone();
    let result = state
        .db(move |conn| {
            let ctx = Ctx {
                now,
                settings: &st2.settings,
                key: st2.secret_key.expose(),
            };
            Ok::<_, AppError>(cancel(conn, ctx, admin, booking_id, &r))
        })
        .await?;
    let mut st = ListState::parse(req.query_string(), auth.user.time_zone);
    let (message, status) = match result {
        Ok(c) => {
            let notice = if c.changed {
                "cancelled"
            } else {
                "already-cancelled"
            };
            let mut pairs = st.pairs(st.cursor);
            pairs.push(("notice", notice.to_owned()));
            return Ok(HttpResponse::SeeOther()
                .insert_header((
                    header::LOCATION,
                    format!("/admin/bookings{}", ListState::query(&pairs)),
                ))
                .finish());
        }
        Err(CancelError::ReasonRequired) => (
            "Give a reason; the learner and the mentor read it in the email.",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(CancelError::ReasonTooLong) => (
            "Keep the reason to 500 characters or fewer.",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(CancelError::InvalidReason(problem)) => (problem, StatusCode::UNPROCESSABLE_ENTITY),
        Err(CancelError::Book(BookError::NotChangeable)) => (
            "This session has started or finished, so it can no longer be cancelled.",
            StatusCode::CONFLICT,
        ),
        Err(CancelError::Book(BookError::NotFound)) => return Err(AppError::NotFound),
        Err(CancelError::Book(e)) => return Err(AppError::internal(e)),
    };
    st.notice = None;
    let refused = Refused {
        booking: booking_id,
        reason,
        message: message.to_owned(),
    };
    list_response(&state, &auth, st, Some(refused), status).await
}

// ================================================================ reassign

/// At most this many mentors are considered for a reassignment.
const CANDIDATES_MAX: i64 = 500;

/// A mentor a booking can be given to.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub id: Uuid,
    pub name: String,
    pub email: String,
}

/// The mentors who could take `booking` now, by name: mentor or admin
/// accounts, not disabled, offering its (active) topic, accepting
/// bookings, neither its mentor nor its learner, and offered exactly its
/// start by the engine with their own settings. One query for the
/// accounts and one `availability::load` for all of them together.
pub fn candidates(
    conn: &mut PgConnection,
    booking: &Booking,
    now: DateTime<Utc>,
) -> QueryResult<Vec<Candidate>> {
    let Some(topic) = service::topic(conn, booking.topic_id)? else {
        return Ok(Vec::new());
    };
    if !topic.active {
        return Ok(Vec::new());
    }
    let rows: Vec<UserRow> = users::table
        .inner_join(mentor_topics::table.on(mentor_topics::mentor_id.eq(users::id)))
        .filter(mentor_topics::topic_id.eq(topic.id))
        .filter(users::role.eq_any(["mentor", "admin"]))
        .filter(users::disabled_at.is_null())
        .filter(users::id.ne(booking.mentor_id))
        .filter(users::id.ne(booking.learner_id))
        .order((users::display_name.asc(), users::id.asc()))
        .limit(CANDIDATES_MAX)
        .select(UserRow::as_select())
        .load(conn)?;
    let mentors: Vec<User> = rows.into_iter().map(User::from).collect();
    if mentors.is_empty() {
        return Ok(Vec::new());
    }
    let refs: Vec<MentorRef> = mentors
        .iter()
        .map(|m| MentorRef {
            id: m.id,
            zone: m.time_zone,
        })
        .collect();
    let start = booking.start_at;
    let window = Interval::new(start, start + Duration::minutes(1));
    let loaded = availability::load(conn, &refs, window.start, window.end, now, None)?;
    let duration = Duration::minutes(topic.duration_minutes.into());
    Ok(mentors
        .into_iter()
        .filter(|m| {
            loaded
                .profiles
                .get(&m.id)
                .is_some_and(|p| p.accepting_bookings)
                && loaded
                    .slots(m.id, duration, now, window)
                    .iter()
                    .any(|s| s.start == start)
        })
        .map(|m| Candidate {
            id: m.id,
            name: m.display_name,
            email: m.email,
        })
        .collect())
}

/// A booking with its people and, when it is still upcoming, the mentors
/// it could be given to.
struct ReassignData {
    booking: Booking,
    parties: Parties,
    candidates: Vec<Candidate>,
}

fn reassign_data(
    conn: &mut PgConnection,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<ReassignData>, AppError> {
    let Some(booking) = service::find(conn, id)? else {
        return Ok(None);
    };
    let parties = service::parties(conn, &booking, now)?;
    let candidates = if booking.is_upcoming(now) {
        candidates(conn, &booking, now)?
    } else {
        Vec::new()
    };
    Ok(Some(ReassignData {
        booking,
        parties,
        candidates,
    }))
}

struct CandidateView {
    id: Uuid,
    name: String,
    email: String,
    checked: bool,
}

#[derive(Template)]
#[template(path = "admin/reassign.html")]
struct ReassignPage {
    page: PageCtx,
    booking_id: Uuid,
    when: String,
    start_iso: String,
    topic_title: String,
    learner_name: String,
    learner_email: String,
    mentor_name: String,
    mentor_email: String,
    status_label: &'static str,
    changeable: bool,
    candidates: Vec<CandidateView>,
    error: Option<String>,
}

/// Loads and renders the reassign page of `id` (404 for no such booking),
/// with `picked` checked and `error` at the top.
async fn reassign_response(
    state: &AppState,
    auth: &Auth<AdminRole>,
    id: Uuid,
    picked: Option<Uuid>,
    error: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let now = state.clock.now();
    let data = state
        .db(move |conn| {
            conn.build_transaction()
                .read_only()
                .repeatable_read()
                .run(|conn| reassign_data(conn, id, now))
        })
        .await?
        .ok_or(AppError::NotFound)?;
    let zone = auth.user.time_zone;
    let b = &data.booking;
    let template = ReassignPage {
        page: auth.page(),
        booking_id: b.id,
        when: crate::timefmt::when(b.start_at, b.end_at, zone),
        start_iso: utc(b.start_at),
        topic_title: data.parties.topic.title.clone(),
        learner_name: data.parties.learner.display_name.clone(),
        learner_email: data.parties.learner.email.clone(),
        mentor_name: data.parties.mentor.display_name.clone(),
        mentor_email: data.parties.mentor.email.clone(),
        status_label: b.status().label(),
        changeable: b.is_upcoming(now),
        candidates: data
            .candidates
            .into_iter()
            .map(|c| CandidateView {
                checked: Some(c.id) == picked,
                id: c.id,
                name: c.name,
                email: c.email,
            })
            .collect(),
        error,
    };
    let mut res = render(&template)?;
    *res.status_mut() = status;
    Ok(no_store(res))
}

/// `GET /admin/bookings/{id}/reassign`: the mentors who offer the topic
/// and are free at the booking's start, to pick one.
pub async fn reassign_form(
    state: web::Data<AppState>,
    auth: Auth<AdminRole>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let booking_id = Uuid::parse_str(&id).map_err(|_| AppError::NotFound)?;
    reassign_response(&state, &auth, booking_id, None, None, StatusCode::OK).await
}

#[derive(Deserialize)]
pub struct ReassignForm {
    #[serde(default)]
    mentor: String,
}

/// `POST /admin/bookings/{id}/reassign` with `mentor`: to the booking with
/// a notice, or the page again with why not (409 when the mentor or the
/// booking changed meanwhile).
pub async fn reassign_action(
    state: web::Data<AppState>,
    auth: Auth<AdminRole>,
    id: web::Path<String>,
    form: CsrfForm<ReassignForm>,
) -> Result<HttpResponse, AppError> {
    let booking_id = Uuid::parse_str(&id).map_err(|_| AppError::NotFound)?;
    let Ok(mentor) = Uuid::parse_str(form.form.mentor.trim()) else {
        return reassign_response(
            &state,
            &auth,
            booking_id,
            None,
            Some("Choose the new mentor from the list.".to_owned()),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let (admin, now) = (auth.user.id, state.clock.now());
    let st2 = state.clone();
    let result = state
        .db(move |conn| {
            let ctx = Ctx {
                now,
                settings: &st2.settings,
                key: st2.secret_key.expose(),
            };
            Ok::<_, AppError>(service::reassign(conn, ctx, booking_id, admin, mentor))
        })
        .await?;
    let (message, status) = match result {
        Ok(b) => {
            return Ok(HttpResponse::SeeOther()
                .insert_header((
                    header::LOCATION,
                    format!("/bookings/{}?notice=reassigned", b.id),
                ))
                .finish());
        }
        Err(BookError::SlotUnavailable) => (
            "That mentor is no longer free at this time (just booked, or their schedule changed). Choose another mentor.",
            StatusCode::CONFLICT,
        ),
        Err(BookError::MentorUnavailable) => (
            "That mentor does not take this booking: not a mentor, disabled, not accepting bookings, or not offering the topic.",
            StatusCode::CONFLICT,
        ),
        Err(BookError::NotChangeable) => (
            "This session has started, finished or been cancelled, so it can no longer be reassigned.",
            StatusCode::CONFLICT,
        ),
        Err(BookError::SameMentor) => (
            "The booking already is with that mentor. Choose another one.",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(BookError::SelfBooking) => (
            "The learner cannot mentor their own session. Choose another mentor.",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(BookError::NotFound) => return Err(AppError::NotFound),
        Err(e) => return Err(AppError::internal(e)),
    };
    reassign_response(
        &state,
        &auth,
        booking_id,
        Some(mentor),
        Some(message.to_owned()),
        status,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(v: &str) -> String {
        let mut s = String::new();
        csv_field(&mut s, v);
        s
    }

    #[test]
    fn csv_fields_are_quoted_and_neutralised() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field(""), "");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("two\nlines"), "\"two\nlines\"");
        assert_eq!(field("=1+1"), "'=1+1");
        assert_eq!(field("+1"), "'+1");
        assert_eq!(field("-1"), "'-1");
        assert_eq!(field("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(field("\tx"), "'\tx");
        assert_eq!(field("\rx"), "\"'\rx\"");
        assert_eq!(
            field("=HYPERLINK(\"x\",\"y\")"),
            "\"'=HYPERLINK(\"\"x\"\",\"\"y\"\")\""
        );
    }

    #[test]
    fn bad_values_become_field_errors_and_leave_the_links() {
        let zone = chrono_tz::Europe::Berlin;
        let st = ListState::parse(
            "from=2026-13-01&to=2026-06-30&mentor=nope&status=lost&sort=up&after=junk&learner=%20Ada%00",
            zone,
        );
        assert!(st.errors.get("from").is_some());
        assert!(st.errors.get("mentor").is_some());
        assert!(st.errors.get("status").is_some());
        assert_eq!(st.filter.from, None);
        assert_eq!(st.filter.learner_text, "Ada");
        assert_eq!(st.sort, Sort::Desc);
        assert_eq!(st.cursor, None);
        assert_eq!(st.href(None), "/admin/bookings?to=2026-06-30&learner=Ada");
        // 30 June in Berlin ends at 22:00 UTC.
        assert_eq!(
            st.filter.to,
            Some(
                DateTime::parse_from_rfc3339("2026-06-30T22:00:00Z")
                    .unwrap()
                    .to_utc()
            )
        );
        let st = ListState::parse("from=2026-07-02&to=2026-07-01", zone);
        assert!(st.errors.get("to").is_some());
        assert!(st.filter.to.is_none() && st.filter.from.is_some());
        let st = ListState::parse("from=%2B262000-01-01", zone);
        assert!(st.errors.get("from").is_some());
    }
}
