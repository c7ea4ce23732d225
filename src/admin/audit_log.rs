//! `/admin/audit`: who did what and when. The audit log filtered by actor
//! (an email or name substring, or a user id) and action (exact, or a
//! prefix ending in `.` such as `booking.`), newest first in keyset pages
//! on `(at, id)`; actors and user subjects come joined in the same query.
//! Depends on `db`, `web`, `state`, `error`, `timefmt`.

use std::collections::HashMap;
use std::fmt::Write as _;

use super::keyset::{Cursor, Key};

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{DateTime, SecondsFormat, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use uuid::Uuid;

use super::users::like_pattern;
use crate::error::AppError;
use crate::state::AppState;
use crate::web::auth::{AdminRole, Auth};
use crate::web::forms::FieldErrors;
use crate::web::{PageCtx, render};

/// Rows per page of the list.
pub const PAGE_SIZE: i64 = 50;
/// Longest search text kept.
const TEXT_MAX: usize = 254;
/// Longest details text shown in a row.
const DETAILS_MAX: usize = 2000;

// ================================================================ service

/// Who the list is narrowed to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ActorFilter {
    #[default]
    Anyone,
    /// One user, by id.
    Id(Uuid),
    /// A case-insensitive substring of the actor's email or name.
    Text(String),
}

/// Which actions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionFilter {
    Exact(String),
    /// Actions starting with this text, e.g. `booking.`.
    Prefix(String),
}

impl ActionFilter {
    /// `booking.` (or `booking.*`) is a prefix; `booking.cancel` is
    /// exact. A word without a dot names a group, as its prefix: every
    /// action has a dot, so `booking` means `booking.`. Only lower-case
    /// letters, digits, `_` and `.` make an action.
    pub fn parse(raw: &str) -> Option<Self> {
        let raw = raw.trim();
        let (text, prefix) = match raw.strip_suffix('*') {
            Some(t) => (t.to_owned(), true),
            None if !raw.is_empty() && !raw.contains('.') => (format!("{raw}."), true),
            None => (raw.to_owned(), raw.ends_with('.')),
        };
        let text = text.as_str();
        let valid = !text.is_empty()
            && text
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.');
        if !valid {
            return None;
        }
        Some(if prefix {
            ActionFilter::Prefix(text.to_owned())
        } else {
            ActionFilter::Exact(text.to_owned())
        })
    }

    pub fn as_input(&self) -> String {
        match self {
            ActionFilter::Exact(a) => a.clone(),
            ActionFilter::Prefix(p) if p.ends_with('.') => p.clone(),
            ActionFilter::Prefix(p) => format!("{p}*"),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub actor: ActorFilter,
    pub action: Option<ActionFilter>,
}

/// A row's place in the list's order.
pub fn key_of(row: &Row) -> Key {
    Key::new(row.at, row.id)
}

/// One entry with its actor and (for user subjects) the subject's email.
#[derive(Debug, Clone, QueryableByName)]
pub struct Row {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = Timestamptz)]
    pub at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    pub actor_user_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<Text>)]
    pub actor_name: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub actor_email: Option<String>,
    #[diesel(sql_type = Text)]
    pub action: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub subject_type: Option<String>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    pub subject_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<Text>)]
    pub subject_email: Option<String>,
    #[diesel(sql_type = Jsonb)]
    pub details: serde_json::Value,
}

#[derive(Debug)]
pub struct Page {
    pub rows: Vec<Row>,
    pub newer: Option<Key>,
    pub older: Option<Key>,
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

const SELECT_ROWS: &str = "SELECT a.id, a.at, a.actor_user_id, u.display_name AS actor_name, \
     u.email AS actor_email, a.action, a.subject_type, a.subject_id, \
     s.email AS subject_email, a.details \
     FROM audit_log a \
     LEFT JOIN users u ON u.id = a.actor_user_id \
     LEFT JOIN users s ON a.subject_type = 'user' AND s.id = a.subject_id";

/// `LIKE` pattern for a prefix: the text's `%`, `_` and `\` match themselves.
fn prefix_pattern(text: &str) -> String {
    let mut pattern = like_pattern(text);
    // like_pattern gives `%text%`; a prefix needs no leading `%`.
    pattern.remove(0);
    pattern
}

/// Up to `limit` rows matching `filter`, strictly older (`older`) or newer
/// than `from`, nearest first.
fn seek(
    conn: &mut PgConnection,
    filter: &Filter,
    from: Option<(Key, bool)>,
    limit: i64,
) -> QueryResult<Vec<Row>> {
    let older = from.is_none_or(|(_, older)| older);
    let mut sql = Sql::default();
    sql.text.push_str(SELECT_ROWS);
    let mut conds: Vec<String> = Vec::new();
    match &filter.actor {
        ActorFilter::Anyone => {}
        ActorFilter::Id(id) => {
            conds.push(format!("a.actor_user_id = {}", sql.bind(Bind::Uuid(*id))))
        }
        ActorFilter::Text(t) => {
            let p = sql.bind(Bind::Text(like_pattern(t)));
            conds.push(format!(
                "(u.email ILIKE {p} ESCAPE '\\' OR u.display_name ILIKE {p} ESCAPE '\\')"
            ));
        }
    }
    match &filter.action {
        None => {}
        Some(ActionFilter::Exact(a)) => {
            conds.push(format!("a.action = {}", sql.bind(Bind::Text(a.clone()))))
        }
        Some(ActionFilter::Prefix(p)) => conds.push(format!(
            "a.action LIKE {} ESCAPE '\\'",
            sql.bind(Bind::Text(prefix_pattern(p)))
        )),
    }
    if let Some((key, _)) = from {
        let op = if older { "<" } else { ">" };
        let at = sql.bind(Bind::At(key.at));
        let id = sql.bind(Bind::Uuid(key.id));
        conds.push(format!("(a.at, a.id) {op} ({at}, {id})"));
    }
    if !conds.is_empty() {
        sql.text.push_str(" WHERE ");
        sql.text.push_str(&conds.join(" AND "));
    }
    let dir = if older { "DESC" } else { "ASC" };
    let _ = write!(
        sql.text,
        " ORDER BY a.at {dir}, a.id {dir} LIMIT {}",
        limit.max(0)
    );
    sql.query().load(conn)
}

/// A page of entries matching `filter`, newest first: one page query and
/// at most one probe for the other direction.
pub fn list(conn: &mut PgConnection, filter: &Filter, cursor: Option<Cursor>) -> QueryResult<Page> {
    let take = |rows: &mut Vec<Row>| {
        let more = rows.len() as i64 > PAGE_SIZE;
        rows.truncate(PAGE_SIZE as usize);
        more
    };
    let (rows, newer, older) = match cursor {
        None => {
            let mut rows = seek(conn, filter, None, PAGE_SIZE + 1)?;
            let more = take(&mut rows);
            let older = if more { rows.last().map(key_of) } else { None };
            (rows, None, older)
        }
        Some(Cursor::After(key)) => {
            let mut rows = seek(conn, filter, Some((key, true)), PAGE_SIZE + 1)?;
            let more = take(&mut rows);
            let anchor = rows.first().map_or(key, key_of);
            let newer =
                (!seek(conn, filter, Some((anchor, false)), 1)?.is_empty()).then_some(anchor);
            let older = if more { rows.last().map(key_of) } else { None };
            (rows, newer, older)
        }
        Some(Cursor::Before(key)) => {
            let mut rows = seek(conn, filter, Some((key, false)), PAGE_SIZE + 1)?;
            let more = take(&mut rows);
            rows.reverse();
            let newer = if more { rows.first().map(key_of) } else { None };
            let anchor = rows.last().map_or(key, key_of);
            let older =
                (!seek(conn, filter, Some((anchor, true)), 1)?.is_empty()).then_some(anchor);
            (rows, newer, older)
        }
    };
    Ok(Page { rows, newer, older })
}

/// Details as one line of compact JSON, bounded.
pub fn compact_details(details: &serde_json::Value) -> String {
    let text = serde_json::to_string(details).unwrap_or_default();
    if text.chars().count() > DETAILS_MAX {
        let mut cut: String = text.chars().take(DETAILS_MAX).collect();
        cut.push('…');
        cut
    } else {
        text
    }
}

// ================================================================ web

fn clean_text(raw: &str) -> String {
    raw.chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim()
        .chars()
        .take(TEXT_MAX)
        .collect()
}

#[derive(Debug, Clone, Default)]
struct Inputs {
    actor: String,
    action: String,
}

#[derive(Debug, Clone, Default)]
struct ListState {
    filter: Filter,
    cursor: Option<Cursor>,
    inputs: Inputs,
    errors: FieldErrors,
}

impl ListState {
    fn parse(query: &str) -> Self {
        let mut raw: HashMap<String, String> = HashMap::new();
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            raw.entry(k.into_owned()).or_insert_with(|| v.into_owned());
        }
        let get = |k: &str| clean_text(raw.get(k).map(String::as_str).unwrap_or(""));
        let mut st = ListState {
            inputs: Inputs {
                actor: get("actor"),
                action: get("action"),
            },
            ..ListState::default()
        };
        let actor = st.inputs.actor.clone();
        if !actor.is_empty() {
            st.filter.actor = match Uuid::parse_str(&actor) {
                Ok(id) => ActorFilter::Id(id),
                Err(_) => ActorFilter::Text(actor),
            };
        }
        if !st.inputs.action.is_empty() {
            match ActionFilter::parse(&st.inputs.action) {
                Some(a) => st.filter.action = Some(a),
                None => st.errors.add(
                    "action",
                    "An action is lower-case words joined by dots, e.g. booking.cancel, or a group such as booking.",
                ),
            }
        }
        st.cursor = Cursor::from_query(
            raw.get("after").map(|v| v.as_str()),
            raw.get("before").map(|v| v.as_str()),
        );
        st
    }

    fn pairs(&self, cursor: Option<Cursor>) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        match &self.filter.actor {
            ActorFilter::Anyone => {}
            ActorFilter::Id(id) => pairs.push(("actor", id.to_string())),
            ActorFilter::Text(t) => pairs.push(("actor", t.clone())),
        }
        if let Some(a) = &self.filter.action {
            pairs.push(("action", a.as_input()));
        }
        pairs.extend(cursor.map(Cursor::pair));
        pairs
    }

    fn href(&self, cursor: Option<Cursor>) -> String {
        match serde_urlencoded::to_string(self.pairs(cursor)) {
            Ok(qs) if !qs.is_empty() => format!("/admin/audit?{qs}"),
            _ => "/admin/audit".to_owned(),
        }
    }
}

struct RowView {
    id: Uuid,
    at_text: String,
    at_iso: String,
    /// `None`: the command line or the system itself.
    actor: Option<(String, String)>,
    /// An actor id whose account no longer exists.
    actor_gone: Option<Uuid>,
    action: String,
    subject_type: Option<String>,
    subject_id: Option<Uuid>,
    subject_href: Option<String>,
    details: String,
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    page: PageCtx,
    zone: &'static str,
    inputs: Inputs,
    errors: FieldErrors,
    filtered: bool,
    rows: Vec<RowView>,
    prev_href: Option<String>,
    next_href: Option<String>,
    first_href: Option<String>,
}

fn subject_href(row: &Row) -> Option<String> {
    let id = row.subject_id?;
    match row.subject_type.as_deref()? {
        "booking" => Some(format!("/bookings/{id}")),
        "user" => {
            let email = row.subject_email.as_deref()?;
            let qs = serde_urlencoded::to_string([("q", email)]).ok()?;
            Some(format!("/admin/users?{qs}"))
        }
        "email" => Some(format!("/admin/emails/{id}")),
        _ => None,
    }
}

/// `GET /admin/audit?actor=&action=&after=|before=`
pub async fn list_page(
    state: web::Data<AppState>,
    auth: Auth<AdminRole>,
    req: HttpRequest,
) -> Result<HttpResponse, AppError> {
    let st = ListState::parse(req.query_string());
    let filter = st.filter.clone();
    let cursor = st.cursor;
    let page = state
        .db(move |conn| {
            conn.build_transaction()
                .read_only()
                .repeatable_read()
                .run(|conn| list(conn, &filter, cursor))
        })
        .await?;
    let zone = auth.user.time_zone;
    let rows = page
        .rows
        .iter()
        .map(|r| RowView {
            id: r.id,
            at_text: crate::timefmt::short(r.at, zone),
            at_iso: r.at.to_rfc3339_opts(SecondsFormat::Secs, true),
            actor: r.actor_name.clone().zip(r.actor_email.clone()),
            actor_gone: r.actor_user_id.filter(|_| r.actor_email.is_none()),
            action: r.action.clone(),
            subject_type: r.subject_type.clone(),
            subject_id: r.subject_id,
            subject_href: subject_href(r),
            details: compact_details(&r.details),
        })
        .collect();
    let template = AuditPage {
        page: auth.page(),
        zone: zone.name(),
        inputs: st.inputs.clone(),
        errors: st.errors.clone(),
        filtered: st.filter != Filter::default(),
        rows,
        prev_href: page.newer.map(|k| st.href(Some(Cursor::Before(k)))),
        next_href: page.older.map(|k| st.href(Some(Cursor::After(k)))),
        first_href: (st.cursor.is_some() && page.rows.is_empty()).then(|| st.href(None)),
    };
    let mut res = render(&template)?;
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_are_exact_or_prefixes() {
        assert_eq!(
            ActionFilter::parse("booking.cancel"),
            Some(ActionFilter::Exact("booking.cancel".into()))
        );
        // A word alone is its group.
        assert_eq!(
            ActionFilter::parse("booking"),
            Some(ActionFilter::Prefix("booking.".into()))
        );
        assert_eq!(
            ActionFilter::parse("booking."),
            Some(ActionFilter::Prefix("booking.".into()))
        );
        assert_eq!(
            ActionFilter::parse("book*"),
            Some(ActionFilter::Prefix("book".into()))
        );
        for junk in ["", "*", "Booking", "a b", "x%", "drop;"] {
            assert_eq!(ActionFilter::parse(junk), None, "{junk}");
        }
        assert_eq!(prefix_pattern("user_x."), "user\\_x.%");
    }

    #[test]
    fn list_state_reads_actor_and_action() {
        let st = ListState::parse("actor=%20ADA%00&action=Bad!&after=junk");
        assert_eq!(st.filter.actor, ActorFilter::Text("ADA".into()));
        assert!(st.errors.get("action").is_some());
        assert_eq!(st.cursor, None);
        assert_eq!(st.href(None), "/admin/audit?actor=ADA");
        let id = Uuid::now_v7();
        let st = ListState::parse(&format!("actor={id}&action=user."));
        assert_eq!(st.filter.actor, ActorFilter::Id(id));
        assert_eq!(
            st.href(None),
            format!("/admin/audit?actor={id}&action=user.")
        );
    }

    #[test]
    fn details_are_compact_and_bounded() {
        let v = serde_json::json!({ "a": 1, "b": "<x>" });
        assert_eq!(compact_details(&v), r#"{"a":1,"b":"<x>"}"#);
        let long = serde_json::json!({ "s": "x".repeat(5000) });
        assert_eq!(compact_details(&long).chars().count(), DETAILS_MAX + 1);
    }
}
