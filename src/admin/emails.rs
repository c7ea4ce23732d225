//! `/admin/emails`: the outbox as admins see it — counts per state, a
//! list filtered by state, kind and recipient in keyset pages, one message
//! read as escaped text with its secret links masked, and a retry of a
//! dead message (audited as `email.retry`). The service half takes a
//! connection; the handler half parses, calls and renders. Depends on
//! `email::outbox`, `audit`, `db`, `web`, `state`, `error`, `timefmt`.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::keyset::{Cursor, Key};

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;
use diesel::pg::Pg;
use diesel::prelude::*;
use regex::Regex;
use serde::Deserialize;
use uuid::Uuid;

use super::users::like_pattern;
use crate::accounts::deletion::erased_email;
use crate::audit;
use crate::db::schema::email_outbox;
use crate::email::outbox::{self, OutboxRow, OutboxState};
use crate::error::AppError;
use crate::state::AppState;
use crate::web::auth::{AdminRole, Auth, CsrfForm};
use crate::web::forms::FieldErrors;
use crate::web::{PageCtx, render};

/// Rows per page of the list.
pub const PAGE_SIZE: i64 = 50;
/// Longest search text kept.
const TEXT_MAX: usize = 254;
/// What a secret in a link is shown as.
pub const MASK: &str = "…";

// ================================================================ masking

/// Where a link's path carries a secret (the token in it or in its query).
const SECRET_PATHS: [&str; 3] = ["/verify-email", "/reset-password", "/manage/"];

/// Absolute http(s) links, and bare paths to a secret page.
fn link_pattern() -> Option<&'static Regex> {
    static LINK: OnceLock<Option<Regex>> = OnceLock::new();
    LINK.get_or_init(|| {
        Regex::new(r#"https?://[^\s<>"']+|/(?:manage/|verify-email|reset-password)[^\s<>"']*"#).ok()
    })
    .as_ref()
}

/// One link with its secret masked: the token segment of `/manage/…`,
/// every query value and the fragment of a verification or reset link,
/// and the value of any `token=` query parameter. Other links come back
/// as they were.
fn mask_url(url: &str) -> String {
    let (before_fragment, fragment) = match url.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (url, None),
    };
    let (before_query, query) = match before_fragment.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (before_fragment, None),
    };
    let path_start = match before_query.find("://") {
        Some(i) => before_query[i + 3..]
            .find('/')
            .map_or(before_query.len(), |j| i + 3 + j),
        None => 0,
    };
    let (origin, path) = before_query.split_at(path_start);
    let secret_path = SECRET_PATHS.iter().any(|p| path.starts_with(p));
    let is_token = |pair: &str| {
        pair.split('=')
            .next()
            .is_some_and(|k| k.eq_ignore_ascii_case("token"))
    };
    let token_query = query.is_some_and(|q| q.split(['&', ';']).any(is_token));
    if !secret_path && !token_query {
        return url.to_owned();
    }
    let mut out = String::with_capacity(url.len());
    out.push_str(origin);
    if let Some(rest) = path.strip_prefix("/manage/") {
        out.push_str("/manage/");
        if !rest.is_empty() {
            out.push_str(MASK);
        }
    } else if secret_path {
        let prefix = SECRET_PATHS
            .iter()
            .find(|p| path.starts_with(*p))
            .copied()
            .unwrap_or_default();
        out.push_str(prefix);
        match &path[prefix.len()..] {
            "" | "/" => out.push_str(&path[prefix.len()..]),
            rest if rest.starts_with('/') => {
                out.push('/');
                out.push_str(MASK);
            }
            _ => out.push_str(MASK),
        }
    } else {
        out.push_str(path);
    }
    if let Some(q) = query {
        out.push('?');
        let mut first = true;
        for pair in q.split('&') {
            if !first {
                out.push('&');
            }
            first = false;
            let masked = secret_path || is_token(pair);
            match pair.split_once('=') {
                Some((k, _)) if masked => {
                    out.push_str(k);
                    out.push('=');
                    out.push_str(MASK);
                }
                None if masked && !pair.is_empty() => out.push_str(MASK),
                _ => out.push_str(pair),
            }
        }
    }
    if let Some(f) = fragment {
        out.push('#');
        if secret_path && !f.is_empty() {
            out.push_str(MASK);
        } else {
            out.push_str(f);
        }
    }
    out
}

/// `text` with the secret of every link that carries one replaced by `…`
/// (verification, password reset and manage links, and any link with a
/// `token=` query). Punctuation after a link is left as it was.
pub fn mask_secrets(text: &str) -> String {
    let Some(re) = link_pattern() else {
        // No pattern, no way to find the links: show none of the text's
        // links rather than risk showing a token.
        return String::from(MASK);
    };
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for m in re.find_iter(text) {
        out.push_str(&text[last..m.start()]);
        let url = m
            .as_str()
            .trim_end_matches(['.', ',', ';', ':', ')', '!', '?']);
        out.push_str(&mask_url(url));
        out.push_str(&m.as_str()[url.len()..]);
        last = m.end();
    }
    out.push_str(&text[last..]);
    out
}

// ================================================================ service

/// What the list is narrowed to; every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub state: Option<OutboxState>,
    /// An exact kind, e.g. `verify_email`.
    pub kind: Option<String>,
    /// A case-insensitive substring of the recipient (name and address).
    pub recipient: String,
}

/// A row's place in the list's order.
pub fn key_of(row: &ListRow) -> Key {
    Key::new(row.created_at, row.id)
}

/// A message as the list shows it (no bodies loaded).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = email_outbox)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct ListRow {
    pub id: Uuid,
    pub kind: String,
    pub recipient: String,
    pub subject: String,
    pub state: String,
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// One page of the list.
#[derive(Debug)]
pub struct Page {
    pub rows: Vec<ListRow>,
    /// There are newer rows: the previous page is `Cursor::Before(key)`.
    pub newer: Option<Key>,
    /// There are older rows: the next page is `Cursor::After(key)`.
    pub older: Option<Key>,
}

type Boxed = email_outbox::BoxedQuery<'static, Pg>;

fn filtered(filter: &Filter) -> Boxed {
    let mut query = email_outbox::table.into_boxed();
    if let Some(state) = filter.state {
        query = query.filter(email_outbox::state.eq(state.as_str()));
    }
    if let Some(kind) = &filter.kind {
        query = query.filter(email_outbox::kind.eq(kind.clone()));
    }
    if !filter.recipient.is_empty() {
        query = query.filter(
            email_outbox::recipient
                .ilike(like_pattern(&filter.recipient))
                .escape('\\'),
        );
    }
    query
}

fn newer_than(query: Boxed, key: Key) -> Boxed {
    query.filter(
        email_outbox::created_at
            .gt(key.at)
            .or(email_outbox::created_at
                .eq(key.at)
                .and(email_outbox::id.gt(key.id))),
    )
}

fn older_than(query: Boxed, key: Key) -> Boxed {
    query.filter(
        email_outbox::created_at
            .lt(key.at)
            .or(email_outbox::created_at
                .eq(key.at)
                .and(email_outbox::id.lt(key.id))),
    )
}

fn any(conn: &mut PgConnection, query: Boxed) -> QueryResult<bool> {
    query
        .select(email_outbox::id)
        .first::<Uuid>(conn)
        .optional()
        .map(|found| found.is_some())
}

/// Up to a page of rows of `query`, and whether there are more.
fn take_page(
    conn: &mut PgConnection,
    query: Boxed,
    newest_first: bool,
) -> QueryResult<(Vec<ListRow>, bool)> {
    let query = if newest_first {
        query.order((email_outbox::created_at.desc(), email_outbox::id.desc()))
    } else {
        query.order((email_outbox::created_at.asc(), email_outbox::id.asc()))
    };
    let mut rows: Vec<ListRow> = query
        .limit(PAGE_SIZE + 1)
        .select(ListRow::as_select())
        .load(conn)?;
    let more = rows.len() as i64 > PAGE_SIZE;
    rows.truncate(PAGE_SIZE as usize);
    Ok((rows, more))
}

/// A page of messages matching `filter`, newest first.
pub fn list(conn: &mut PgConnection, filter: &Filter, cursor: Option<Cursor>) -> QueryResult<Page> {
    let (rows, newer, older) = match cursor {
        None => {
            let (rows, more) = take_page(conn, filtered(filter), true)?;
            let older = if more { rows.last().map(key_of) } else { None };
            (rows, None, older)
        }
        Some(Cursor::After(key)) => {
            let (rows, more) = take_page(conn, older_than(filtered(filter), key), true)?;
            // Past the end (rows changed since the link was made): the
            // previous page still leads back.
            let anchor = rows.first().map_or(key, key_of);
            let newer = any(conn, newer_than(filtered(filter), anchor))?.then_some(anchor);
            let older = if more { rows.last().map(key_of) } else { None };
            (rows, newer, older)
        }
        Some(Cursor::Before(key)) => {
            let (mut rows, more) = take_page(conn, newer_than(filtered(filter), key), false)?;
            rows.reverse();
            let newer = if more { rows.first().map(key_of) } else { None };
            let anchor = rows.last().map_or(key, key_of);
            let older = any(conn, older_than(filtered(filter), anchor))?.then_some(anchor);
            (rows, newer, older)
        }
    };
    Ok(Page { rows, newer, older })
}

#[derive(Debug, thiserror::Error)]
pub enum RetryError {
    #[error("no such message")]
    NotFound,
    /// Only dead messages are retried; the others are on their way or done.
    #[error("the message is {0}, not dead")]
    NotDead(String),
    /// The message was no longer worth sending (e.g. a reminder after the
    /// session began): a retry would die again at once.
    #[error("the message expired")]
    Expired,
    /// Nothing is left to send: the message was erased with its
    /// recipient's account, or with that of the other person of its
    /// session.
    #[error("the message was erased")]
    Erased,
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

/// Whether the message was erased with an account (only its envelope is
/// left; `outbox::erase_for`).
fn is_erased(row: &OutboxRow) -> bool {
    row.subject == outbox::SUBJECT_ERASED
}

/// Whether it was its recipient's own account that went.
fn recipient_erased(row: &OutboxRow) -> bool {
    row.recipient_user_id
        .is_some_and(|user| row.recipient == erased_email(user))
}

/// Puts a dead message back in the queue, due now, audited as
/// `email.retry`. The row is locked, so two admins retrying at once make
/// one retry. It gets a fresh window of retries (`not_before` = now):
/// otherwise the first failure would kill it again as overdue.
pub fn retry(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    actor: Uuid,
    id: Uuid,
) -> Result<(), RetryError> {
    conn.transaction(|conn| {
        let row = email_outbox::table
            .find(id)
            .select(OutboxRow::as_select())
            .for_update()
            .first(conn)
            .optional()?
            .ok_or(RetryError::NotFound)?;
        if row.state != OutboxState::Dead.as_str() {
            return Err(RetryError::NotDead(row.state));
        }
        if row.expires_at.is_some_and(|at| at <= now) {
            return Err(RetryError::Expired);
        }
        if is_erased(&row) {
            return Err(RetryError::Erased);
        }
        let (kind, attempts, not_before) = (row.kind, row.attempts, row.not_before);
        diesel::update(email_outbox::table.find(id))
            .set((
                email_outbox::state.eq(OutboxState::Pending.as_str()),
                email_outbox::next_attempt_at.eq(now),
                email_outbox::not_before.eq(now),
                email_outbox::lease_token.eq(None::<Uuid>),
                email_outbox::lease_until.eq(None::<DateTime<Utc>>),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            now,
            Some(actor),
            "email.retry",
            Some(("email", id)),
            serde_json::json!({
                "kind": kind,
                "attempts": attempts,
                "old_not_before": not_before.to_rfc3339_opts(SecondsFormat::Secs, true),
            }),
        )?;
        Ok(())
    })
}

// ================================================================ web

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

/// The filter form's fields as typed.
#[derive(Debug, Clone, Default)]
struct Inputs {
    kind: String,
    to: String,
}

/// The list's state, validated: bad values are dropped with a message at
/// their field. Every link is built from `filter` and `cursor`, never
/// from the raw query.
#[derive(Debug, Clone, Default)]
struct ListState {
    filter: Filter,
    cursor: Option<Cursor>,
    inputs: Inputs,
    errors: FieldErrors,
}

impl ListState {
    /// Reads the query string; repeated keys: the first wins.
    fn parse(query: &str) -> Self {
        let mut raw: HashMap<String, String> = HashMap::new();
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            raw.entry(k.into_owned()).or_insert_with(|| v.into_owned());
        }
        let get = |k: &str| clean_text(raw.get(k).map(String::as_str).unwrap_or(""));
        let mut st = ListState {
            inputs: Inputs {
                kind: get("kind"),
                to: get("to"),
            },
            ..ListState::default()
        };
        let state = get("state");
        if !state.is_empty() {
            match OutboxState::parse(&state) {
                Some(s) => st.filter.state = Some(s),
                None => st.errors.add("state", "Choose a state from the list."),
            }
        }
        let kind = st.inputs.kind.to_ascii_lowercase();
        if !kind.is_empty() {
            if kind.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                st.filter.kind = Some(kind);
            } else {
                st.errors.add(
                    "kind",
                    "A kind is a word of letters and underscores, e.g. verify_email.",
                );
            }
        }
        st.filter.recipient = st.inputs.to.clone();
        st.cursor = Cursor::from_query(
            raw.get("after").map(|v| v.as_str()),
            raw.get("before").map(|v| v.as_str()),
        );
        st
    }

    fn pairs(&self, cursor: Option<Cursor>) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        if let Some(s) = self.filter.state {
            pairs.push(("state", s.as_str().to_owned()));
        }
        if let Some(k) = &self.filter.kind {
            pairs.push(("kind", k.clone()));
        }
        if !self.filter.recipient.is_empty() {
            pairs.push(("to", self.filter.recipient.clone()));
        }
        pairs.extend(cursor.map(Cursor::pair));
        pairs
    }

    fn href(&self, cursor: Option<Cursor>) -> String {
        match serde_urlencoded::to_string(self.pairs(cursor)) {
            Ok(qs) if !qs.is_empty() => format!("/admin/emails?{qs}"),
            _ => "/admin/emails".to_owned(),
        }
    }
}

fn utc(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A date and time in the viewer's zone, with the zone named.
struct Stamp {
    text: String,
    iso: String,
}

impl Stamp {
    fn new(at: DateTime<Utc>, zone: Tz) -> Self {
        Stamp {
            text: crate::timefmt::short(at, zone),
            iso: utc(at),
        }
    }
}

struct StateCount {
    code: &'static str,
    count: i64,
    href: String,
    current: bool,
}

struct StateOpt {
    value: &'static str,
    selected: bool,
}

/// A recipient as a person reads it: the name (when the address has one)
/// and the address, not the header's quoted form (`"Quinn \"Q\"" <q@…>`).
struct Recipient {
    name: Option<String>,
    address: String,
}

impl Recipient {
    fn of(header: &str) -> Self {
        match header.parse::<lettre::message::Mailbox>() {
            Ok(m) => Recipient {
                name: m.name.filter(|n| !n.is_empty()),
                address: m.email.to_string(),
            },
            Err(_) => Recipient {
                name: None,
                address: header.to_owned(),
            },
        }
    }
}

struct RowView {
    id: Uuid,
    created: Stamp,
    state: String,
    kind: String,
    recipient: Recipient,
    subject: String,
    attempts: i32,
}

#[derive(Template)]
#[template(path = "admin/emails.html")]
struct EmailsPage {
    page: PageCtx,
    zone: &'static str,
    counts: Vec<StateCount>,
    states: Vec<StateOpt>,
    inputs: Inputs,
    errors: FieldErrors,
    filtered: bool,
    rows: Vec<RowView>,
    prev_href: Option<String>,
    next_href: Option<String>,
    first_href: Option<String>,
}

fn no_store(mut res: HttpResponse) -> HttpResponse {
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    res
}

/// `GET /admin/emails?state=&kind=&to=&after=|before=`
pub async fn list_page(
    state: web::Data<AppState>,
    auth: Auth<AdminRole>,
    req: HttpRequest,
) -> Result<HttpResponse, AppError> {
    let st = ListState::parse(req.query_string());
    let filter = st.filter.clone();
    let cursor = st.cursor;
    let (counts, page) = state
        .db(move |conn| {
            conn.build_transaction()
                .read_only()
                .repeatable_read()
                .run(|conn| {
                    let counts = outbox::counts_by_state(conn)?;
                    let page = list(conn, &filter, cursor)?;
                    Ok::<_, diesel::result::Error>((counts, page))
                })
        })
        .await?;
    let zone = auth.user.time_zone;
    let counts = counts
        .into_iter()
        .map(|(s, n)| StateCount {
            code: s.as_str(),
            count: n,
            href: format!("/admin/emails?state={}", s.as_str()),
            current: st.filter.state == Some(s),
        })
        .collect();
    let states = OutboxState::ALL
        .into_iter()
        .map(|s| StateOpt {
            value: s.as_str(),
            selected: st.filter.state == Some(s),
        })
        .collect();
    let rows = page
        .rows
        .iter()
        .map(|r| RowView {
            id: r.id,
            created: Stamp::new(r.created_at, zone),
            state: r.state.clone(),
            kind: r.kind.clone(),
            recipient: Recipient::of(&r.recipient),
            subject: r.subject.clone(),
            attempts: r.attempts,
        })
        .collect();
    let template = EmailsPage {
        page: auth.page(),
        zone: zone.name(),
        counts,
        states,
        inputs: st.inputs.clone(),
        errors: st.errors.clone(),
        filtered: st.filter != Filter::default(),
        rows,
        prev_href: page.newer.map(|k| st.href(Some(Cursor::Before(k)))),
        next_href: page.older.map(|k| st.href(Some(Cursor::After(k)))),
        first_href: (st.cursor.is_some() && page.rows.is_empty()).then(|| st.href(None)),
    };
    Ok(no_store(render(&template)?))
}

struct AttachmentView {
    filename: String,
    content_type: String,
    size: usize,
}

struct Message {
    text: String,
    error: bool,
}

#[derive(Template)]
#[template(path = "admin/email.html")]
struct EmailPage {
    page: PageCtx,
    zone: &'static str,
    id: Uuid,
    subject: String,
    recipient: Recipient,
    kind: String,
    state: String,
    attempts: i32,
    last_error: Option<String>,
    created: Stamp,
    not_before: Stamp,
    next_attempt: Stamp,
    sent: Option<Stamp>,
    expires: Option<Stamp>,
    booking_id: Option<Uuid>,
    carries_secret: bool,
    /// The text body, secrets masked; `None` when it is gone.
    body: Option<String>,
    /// Why there is no body.
    no_body: &'static str,
    attachments: Vec<AttachmentView>,
    /// The attachments went with the body (sent with a secret, or erased):
    /// say so rather than "No attachments".
    attachments_cleared: bool,
    can_retry: bool,
    message: Option<Message>,
}

/// A message id from the path; anything else is a page that does not exist.
fn message_id(raw: &str) -> Result<Uuid, AppError> {
    Uuid::parse_str(raw).map_err(|_| AppError::NotFound)
}

fn email_page(auth: &Auth<AdminRole>, row: OutboxRow, message: Option<Message>) -> EmailPage {
    let zone = auth.user.time_zone;
    let body = row.body_text.as_deref().map(mask_secrets);
    let (no_body, cleared) = if recipient_erased(&row) {
        ("(erased: its recipient deleted their account)", true)
    } else if is_erased(&row) {
        (
            "(erased: the other person of the session deleted their account)",
            true,
        )
    } else if row.carries_secret {
        ("(cleared after sending: it carried a secret link)", true)
    } else {
        ("(no text body)", false)
    };
    let attachments: Vec<AttachmentView> = row
        .attachments()
        .into_iter()
        .map(|a| AttachmentView {
            size: a.content.len(),
            filename: a.filename,
            content_type: a.content_type,
        })
        .collect();
    EmailPage {
        page: auth.page(),
        zone: zone.name(),
        id: row.id,
        subject: row.subject.clone(),
        recipient: Recipient::of(&row.recipient),
        kind: row.kind.clone(),
        can_retry: row.state == OutboxState::Dead.as_str() && !is_erased(&row),
        state: row.state.clone(),
        attempts: row.attempts,
        last_error: row.last_error.as_deref().map(mask_secrets),
        created: Stamp::new(row.created_at, zone),
        not_before: Stamp::new(row.not_before, zone),
        next_attempt: Stamp::new(row.next_attempt_at, zone),
        sent: row.sent_at.map(|at| Stamp::new(at, zone)),
        expires: row.expires_at.map(|at| Stamp::new(at, zone)),
        booking_id: row.booking_id,
        carries_secret: row.carries_secret,
        attachments_cleared: cleared && body.is_none() && attachments.is_empty(),
        body,
        no_body,
        attachments,
        message,
    }
}

async fn load(state: &AppState, id: Uuid) -> Result<OutboxRow, AppError> {
    state
        .db(move |conn| outbox::find(conn, id))
        .await?
        .ok_or(AppError::NotFound)
}

/// `GET /admin/emails/{id}`
pub async fn show_page(
    state: web::Data<AppState>,
    auth: Auth<AdminRole>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = message_id(&id)?;
    let row = load(&state, id).await?;
    let retried = url::form_urlencoded::parse(req.query_string().as_bytes())
        .any(|(k, v)| k == "notice" && v == "retried");
    let message = retried.then(|| Message {
        text: "The message is queued again and will be sent on the next round.".to_owned(),
        error: false,
    });
    Ok(no_store(render(&email_page(&auth, row, message))?))
}

#[derive(Deserialize)]
pub struct NoFields {}

/// `POST /admin/emails/{id}/retry`: a dead message back to pending, then
/// back to its page; any other message is refused with 409 and a notice.
pub async fn retry_action(
    state: web::Data<AppState>,
    auth: Auth<AdminRole>,
    id: web::Path<String>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let id = message_id(&id)?;
    let (actor, now) = (auth.user.id, state.clock.now());
    let result = state
        .db(move |conn| Ok::<_, AppError>(retry(conn, now, actor, id)))
        .await?;
    let text = match result {
        Ok(()) => {
            return Ok(HttpResponse::SeeOther()
                .insert_header((
                    header::LOCATION,
                    format!("/admin/emails/{id}?notice=retried"),
                ))
                .finish());
        }
        Err(RetryError::NotFound) => return Err(AppError::NotFound),
        Err(RetryError::Db(e)) => return Err(e.into()),
        Err(RetryError::NotDead(s)) => {
            format!("Only a dead message can be retried; this one is {s}. Nothing changed.")
        }
        Err(RetryError::Expired) => {
            "This message expired (it was no longer worth sending), so it cannot be retried."
                .to_owned()
        }
        Err(RetryError::Erased) => {
            "This message was erased with an account; there is nothing to send.".to_owned()
        }
    };
    let row = load(&state, id).await?;
    let mut res = render(&email_page(&auth, row, Some(Message { text, error: true })))?;
    *res.status_mut() = StatusCode::CONFLICT;
    Ok(no_store(res))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_links_are_masked() {
        let cases = [
            (
                "http://127.0.0.1:8080/verify-email?token=abcDEF_123-x",
                "http://127.0.0.1:8080/verify-email?token=…",
            ),
            (
                "https://hours.example.org/reset-password?token=s3cr3t&x=1#frag",
                "https://hours.example.org/reset-password?token=…&x=…#…",
            ),
            (
                "https://hours.example.org/manage/Zm9vYmFy",
                "https://hours.example.org/manage/…",
            ),
            (
                "https://hours.example.org/manage/Zm9vYmFy/cancel?x=1",
                "https://hours.example.org/manage/…?x=…",
            ),
            (
                "https://hours.example.org/verify-email/abc",
                "https://hours.example.org/verify-email/…",
            ),
            (
                "https://other.example/x?a=1&token=zzz&b=2",
                "https://other.example/x?a=1&token=…&b=2",
            ),
            (
                "https://other.example/x?TOKEN=zzz",
                "https://other.example/x?TOKEN=…",
            ),
            ("/manage/abc123", "/manage/…"),
        ];
        for (input, want) in cases {
            assert_eq!(mask_secrets(input), want, "{input}");
        }
    }

    #[test]
    fn other_links_and_text_stay_as_they_were() {
        for text in [
            "",
            "Hello, no links here.",
            "See https://hours.example.org/bookings/0190a0e0-0000-7000-8000-000000000000 for details.",
            "https://meet.example.org/room-1?pwd=abc",
            "https://hours.example.org/managers/x",
            "https://hours.example.org/?tokens=1",
            "Ünïcödé — https://hours.example.org/topics/sql",
        ] {
            assert_eq!(mask_secrets(text), text);
        }
    }

    #[test]
    fn masking_keeps_the_text_around_links() {
        let text = "Confirm: <https://h.test/verify-email?token=AAA>.\n\
                    Cancel at https://h.test/manage/BBB. Or (https://h.test/reset-password?token=CCC), bye";
        let masked = mask_secrets(text);
        assert_eq!(
            masked,
            "Confirm: <https://h.test/verify-email?token=…>.\n\
             Cancel at https://h.test/manage/…. Or (https://h.test/reset-password?token=…), bye"
        );
        for secret in ["AAA", "BBB", "CCC"] {
            assert!(!masked.contains(secret));
        }
    }

    #[test]
    fn list_state_flags_bad_values() {
        let st = ListState::parse("state=lost&kind=Bad%20Kind&to=%20ada%00&after=junk");
        assert!(st.errors.get("state").is_some());
        assert!(st.errors.get("kind").is_some());
        assert_eq!(st.filter.state, None);
        assert_eq!(st.filter.kind, None);
        assert_eq!(st.filter.recipient, "ada");
        assert_eq!(st.cursor, None);
        assert_eq!(st.href(None), "/admin/emails?to=ada");
        let st = ListState::parse("state=dead&kind=verify_email");
        assert!(st.errors.is_empty());
        assert_eq!(st.href(None), "/admin/emails?state=dead&kind=verify_email");
    }
}
