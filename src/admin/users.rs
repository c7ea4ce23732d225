//! `/admin/users`: find accounts, change their role, disable and enable
//! them. The service half takes a connection and runs each action in one
//! transaction with its audit entry; the handler half parses, calls and
//! redirects back to the list. Disabling also cancels the account's
//! upcoming bookings (as mentor and as learner) with the cancellation
//! emails, in the same transaction. Depends on `accounts`, `audit`,
//! `bookings`, `db`, `web`, `state`, `error`.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{DateTime, SecondsFormat, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use serde::Deserialize;
use uuid::Uuid;

use super::keyset::{Cursor, Key};

use crate::accounts::model::UserRow;
use crate::accounts::{Role, User, deletion, service, session};
use crate::audit;
use crate::bookings::model::{Booking, Status};
use crate::bookings::service::{self as booking_service, Actor, BookError, Ctx, Departure, Party};
use crate::db::schema::{bookings, users};
use crate::error::AppError;
use crate::state::AppState;
use crate::web::auth::{AdminRole, Auth, CsrfForm};
use crate::web::{PageCtx, render};

/// Rows per page of the list.
pub const PAGE_SIZE: i64 = 25;

// ================================================================ service

/// What the list is narrowed to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// A case-insensitive substring of the email or the name; empty: all.
    pub text: String,
    pub role: Option<Role>,
}

/// A user's place in the list's order.
pub fn key_of(user: &User) -> Key {
    Key::new(user.created_at, user.id)
}

/// One page of the list.
#[derive(Debug)]
pub struct Page {
    pub users: Vec<User>,
    /// Users matching the filter, on every page.
    pub total: i64,
    /// There are newer rows: the previous page is `Cursor::Before(key)`.
    pub newer: Option<Key>,
    /// There are older rows: the next page is `Cursor::After(key)`.
    pub older: Option<Key>,
}

/// `%text%` for `ILIKE … ESCAPE '\'`: the user's `%`, `_` and `\` match
/// themselves.
pub fn like_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

type Boxed = users::BoxedQuery<'static, Pg>;

fn filtered(filter: &Filter) -> Boxed {
    let mut query = users::table.into_boxed();
    if !filter.text.is_empty() {
        let pattern = like_pattern(&filter.text);
        query = query.filter(
            users::email
                .ilike(pattern.clone())
                .escape('\\')
                .or(users::display_name.ilike(pattern).escape('\\')),
        );
    }
    if let Some(role) = filter.role {
        query = query.filter(users::role.eq(role.as_str()));
    }
    query
}

fn newer_than(query: Boxed, key: Key) -> Boxed {
    query.filter(
        users::created_at
            .gt(key.at)
            .or(users::created_at.eq(key.at).and(users::id.gt(key.id))),
    )
}

fn older_than(query: Boxed, key: Key) -> Boxed {
    query.filter(
        users::created_at
            .lt(key.at)
            .or(users::created_at.eq(key.at).and(users::id.lt(key.id))),
    )
}

fn any(conn: &mut PgConnection, query: Boxed) -> QueryResult<bool> {
    query
        .select(users::id)
        .first::<Uuid>(conn)
        .optional()
        .map(|found| found.is_some())
}

/// Up to a page of rows in `query`, in `order`, and whether there are more.
fn take_page(
    conn: &mut PgConnection,
    query: Boxed,
    newest_first: bool,
) -> QueryResult<(Vec<User>, bool)> {
    let query = if newest_first {
        query.order((users::created_at.desc(), users::id.desc()))
    } else {
        query.order((users::created_at.asc(), users::id.asc()))
    };
    let mut rows: Vec<User> = query
        .limit(PAGE_SIZE + 1)
        .select(UserRow::as_select())
        .load(conn)?
        .into_iter()
        .map(User::from)
        .collect();
    let more = rows.len() as i64 > PAGE_SIZE;
    rows.truncate(PAGE_SIZE as usize);
    Ok((rows, more))
}

/// A page of users matching `filter`, newest first. Run it in a read-only
/// repeatable-read transaction so the count and the rows agree.
pub fn list(conn: &mut PgConnection, filter: &Filter, cursor: Option<Cursor>) -> QueryResult<Page> {
    let total = filtered(filter).count().get_result(conn)?;
    let (users, newer, older) = match cursor {
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
    Ok(Page {
        users,
        total,
        newer,
        older,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error("no such user")]
    NotFound,
    #[error("admins cannot change their own role or disable their own account")]
    OwnAccount,
    #[error("the last active admin cannot be demoted or disabled")]
    LastAdmin,
    /// Made a learner while sessions they mentor are still to come: they
    /// would stay booked with nobody to run them.
    #[error("the user still mentors upcoming sessions")]
    StillMentoring,
    /// Demoted or disabled by someone else since the request was let in.
    #[error("the acting user is no longer an active admin")]
    NotAdmin,
    #[error("cannot cancel a booking of the account: {0}")]
    Cancel(#[from] BookError),
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

/// What an action did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Changed,
    /// The account already was that way; nothing written.
    AlreadySo,
}

/// Locks the active admins' rows and the target's (in id order, so
/// concurrent actions and bookings queue instead of deadlocking), checks
/// the actor is still one of the admins and reads the target. Two admins
/// demoting each other at once are thereby serialised: the second finds it
/// is no longer an admin.
fn begin(
    conn: &mut PgConnection,
    actor: Uuid,
    target: Uuid,
) -> Result<(Vec<Uuid>, User), ChangeError> {
    if actor == target {
        return Err(ChangeError::OwnAccount);
    }
    let (admins, user) = service::lock_admins_and(conn, target)?;
    if !admins.contains(&actor) {
        return Err(ChangeError::NotAdmin);
    }
    // A deleted account is gone for good: no role, no enabling.
    let user = user
        .filter(|u| !deletion::is_erased(u))
        .ok_or(ChangeError::NotFound)?;
    Ok((admins, user))
}

/// Refuses to take away the last active admin, whoever asks.
fn keep_an_admin(admins: &[Uuid], target: &User) -> Result<(), ChangeError> {
    if admins.contains(&target.id) && admins.len() <= 1 {
        return Err(ChangeError::LastAdmin);
    }
    Ok(())
}

/// Gives `target` a role, audited as `user.role_changed` with the old and
/// the new role. One transaction (a savepoint inside the caller's).
pub fn change_role(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    actor: Uuid,
    target: Uuid,
    role: Role,
) -> Result<Outcome, ChangeError> {
    conn.transaction(|conn| {
        let (admins, user) = begin(conn, actor, target)?;
        if user.role == role {
            return Ok(Outcome::AlreadySo);
        }
        keep_an_admin(&admins, &user)?;
        // Their row is locked, and a booking shares that lock: none can be
        // made with them as mentor until this commits.
        if user.role.is_mentor() && !role.is_mentor() && mentors_upcoming(conn, target, now)? {
            return Err(ChangeError::StillMentoring);
        }
        diesel::update(users::table.find(target))
            .set((users::role.eq(role.as_str()), users::updated_at.eq(now)))
            .execute(conn)?;
        audit::record(
            conn,
            now,
            Some(actor),
            "user.role_changed",
            Some(("user", target)),
            serde_json::json!({ "old_role": user.role.as_str(), "new_role": role.as_str() }),
        )?;
        Ok(Outcome::Changed)
    })
}

/// Whether `mentor` has a confirmed session as mentor not yet over (one
/// under way still needs its outcome marked).
fn mentors_upcoming(
    conn: &mut PgConnection,
    mentor: Uuid,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        bookings::table
            .filter(bookings::mentor_id.eq(mentor))
            .filter(bookings::status.eq(Status::Confirmed.as_str()))
            .filter(bookings::end_at.gt(now)),
    ))
    .get_result(conn)
}

/// The reason the other person reads when a disabled mentor's session is
/// cancelled.
pub const MENTOR_GONE: &str = "Your mentor is no longer available.";
/// The reason when a disabled learner's session is cancelled.
pub const LEARNER_GONE: &str = "The learner is no longer available.";
/// The reason the disabled person reads in their own copy.
pub const ACCOUNT_DISABLED: &str = "Your account was disabled by an administrator.";

/// `user`'s upcoming sessions (confirmed, not yet started), as mentor and
/// as learner, soonest first.
pub fn upcoming_involving(
    conn: &mut PgConnection,
    user: Uuid,
    now: DateTime<Utc>,
) -> QueryResult<Vec<Booking>> {
    bookings::table
        .filter(
            bookings::mentor_id
                .eq(user)
                .or(bookings::learner_id.eq(user)),
        )
        .filter(bookings::status.eq(Status::Confirmed.as_str()))
        .filter(bookings::start_at.gt(now))
        .order((bookings::start_at, bookings::id))
        .select(Booking::as_select())
        .load(conn)
}

/// Disables `target`, ends all their sessions at once and cancels their
/// upcoming sessions as mentor and as learner (each with the cancellation
/// to both people, by `actor` as admin), audited as `user.disabled` with
/// the counts. Past sessions stay as they are. One transaction.
pub fn disable(
    conn: &mut PgConnection,
    ctx: Ctx<'_>,
    actor: Uuid,
    target: Uuid,
) -> Result<Outcome, ChangeError> {
    let now = ctx.now;
    conn.transaction(|conn| {
        let (admins, user) = begin(conn, actor, target)?;
        if user.disabled_at.is_some() {
            return Ok(Outcome::AlreadySo);
        }
        keep_an_admin(&admins, &user)?;
        let by = Actor {
            user_id: actor,
            party: Party::Admin,
            via_manage_link: false,
        };
        let upcoming = upcoming_involving(conn, target, now)?;
        for booking in &upcoming {
            let reason = if booking.mentor_id == target {
                MENTOR_GONE
            } else {
                LEARNER_GONE
            };
            booking_service::cancel_departing(
                conn,
                ctx,
                booking.id,
                by,
                reason,
                Departure::Disabled((target, ACCOUNT_DISABLED)),
            )?;
        }
        // Before the account's UPDATE, which bumps the target's version.
        booking_service::lock_slot_versions(conn, &upcoming, target)?;
        diesel::update(users::table.find(target))
            .set((users::disabled_at.eq(Some(now)), users::updated_at.eq(now)))
            .execute(conn)?;
        let ended = session::delete_all_for_user(conn, target, None)?;
        audit::record(
            conn,
            now,
            Some(actor),
            "user.disabled",
            Some(("user", target)),
            serde_json::json!({
                "sessions_ended": ended,
                "bookings_cancelled": upcoming.len(),
            }),
        )?;
        Ok(Outcome::Changed)
    })
}

/// Lets a disabled account sign in again, audited as `user.enabled`.
pub fn enable(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    actor: Uuid,
    target: Uuid,
) -> Result<Outcome, ChangeError> {
    conn.transaction(|conn| {
        let (_, user) = begin(conn, actor, target)?;
        if user.disabled_at.is_none() {
            return Ok(Outcome::AlreadySo);
        }
        diesel::update(users::table.find(target))
            .set((
                users::disabled_at.eq(None::<DateTime<Utc>>),
                users::updated_at.eq(now),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            now,
            Some(actor),
            "user.enabled",
            Some(("user", target)),
            serde_json::json!({}),
        )?;
        Ok(Outcome::Changed)
    })
}

// ================================================================ web

/// The list's query string as sent: anything may be in it.
#[derive(Debug, Default, Deserialize)]
struct RawQuery {
    q: Option<String>,
    role: Option<String>,
    after: Option<String>,
    before: Option<String>,
    notice: Option<String>,
    user: Option<String>,
}

/// The list's state, validated: an unknown role or a malformed cursor is
/// dropped, control characters leave the search text. Every link and
/// redirect is built from this, never from the raw query.
#[derive(Debug, Clone, Default)]
struct ListState {
    filter: Filter,
    cursor: Option<Cursor>,
}

/// A message after an action, named by a fixed code in the redirect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Notice {
    RoleChanged,
    RoleUnchanged,
    Disabled,
    AlreadyDisabled,
    Enabled,
    AlreadyEnabled,
    OwnAccount,
    LastAdmin,
    StillMentoring,
}

impl Notice {
    const ALL: [Notice; 9] = [
        Notice::RoleChanged,
        Notice::RoleUnchanged,
        Notice::Disabled,
        Notice::AlreadyDisabled,
        Notice::Enabled,
        Notice::AlreadyEnabled,
        Notice::OwnAccount,
        Notice::LastAdmin,
        Notice::StillMentoring,
    ];

    fn code(self) -> &'static str {
        match self {
            Notice::RoleChanged => "role-changed",
            Notice::RoleUnchanged => "role-unchanged",
            Notice::Disabled => "disabled",
            Notice::AlreadyDisabled => "already-disabled",
            Notice::Enabled => "enabled",
            Notice::AlreadyEnabled => "already-enabled",
            Notice::OwnAccount => "own-account",
            Notice::LastAdmin => "last-admin",
            Notice::StillMentoring => "still-mentoring",
        }
    }

    fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|n| n.code() == code)
    }

    fn is_error(self) -> bool {
        matches!(
            self,
            Notice::OwnAccount | Notice::LastAdmin | Notice::StillMentoring
        )
    }

    /// The message about `user` (as they are now).
    fn text(self, user: &User) -> String {
        let name = &user.display_name;
        let role = match user.role {
            Role::Learner => "a learner",
            Role::Mentor => "a mentor",
            Role::Admin => "an admin",
        };
        match self {
            Notice::RoleChanged => format!("{name} is now {role}."),
            Notice::RoleUnchanged => format!("{name} already is {role}; nothing changed."),
            Notice::Disabled => {
                format!(
                    "The account of {name} is disabled and all its sessions have ended. Its upcoming bookings are cancelled, with a notice to each person."
                )
            }
            Notice::AlreadyDisabled => format!("The account of {name} was already disabled."),
            Notice::Enabled => format!("The account of {name} is enabled again."),
            Notice::AlreadyEnabled => format!("The account of {name} was not disabled."),
            Notice::OwnAccount => {
                "You cannot change your own role or disable your own account. Ask another admin."
                    .to_owned()
            }
            Notice::LastAdmin => {
                format!("{name} is the last active admin. Make someone else an admin first.")
            }
            Notice::StillMentoring => format!(
                "{name} still has upcoming sessions as mentor, and nothing changed. Reassign or cancel them first."
            ),
        }
    }
}

impl ListState {
    /// Never fails: a query string that cannot be read is an empty one.
    fn parse(query_string: &str) -> (Self, RawQuery) {
        let raw: RawQuery = serde_urlencoded::from_str(query_string).unwrap_or_default();
        let text: String = raw
            .q
            .as_deref()
            .unwrap_or("")
            .chars()
            .filter(|c| !c.is_control())
            .collect::<String>()
            .trim()
            .to_owned();
        let role = raw.role.as_deref().and_then(|r| r.parse().ok());
        let cursor = Cursor::from_query(raw.after.as_deref(), raw.before.as_deref());
        (
            ListState {
                filter: Filter { text, role },
                cursor,
            },
            raw,
        )
    }

    fn pairs(&self, cursor: Option<Cursor>) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        if !self.filter.text.is_empty() {
            pairs.push(("q", self.filter.text.clone()));
        }
        if let Some(role) = self.filter.role {
            pairs.push(("role", role.as_str().to_owned()));
        }
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

    /// The list with this filter at `cursor`.
    fn href(&self, cursor: Option<Cursor>) -> String {
        format!("/admin/users{}", Self::query(&self.pairs(cursor)))
    }

    /// Back to the same page after an action, with its message.
    fn after_action(&self, notice: Notice, user: Uuid) -> String {
        let mut pairs = self.pairs(self.cursor);
        pairs.push(("notice", notice.code().to_owned()));
        pairs.push(("user", user.to_string()));
        format!("/admin/users{}", Self::query(&pairs))
    }
}

/// A date and time in the viewer's zone, with the zone named.
struct Stamp {
    text: String,
    iso: String,
}

impl Stamp {
    fn new(at: DateTime<Utc>, zone: chrono_tz::Tz) -> Self {
        Stamp {
            text: crate::timefmt::short(at, zone),
            iso: at.to_rfc3339_opts(SecondsFormat::Secs, true),
        }
    }
}

struct UserView {
    id: Uuid,
    name: String,
    email: String,
    role: Role,
    time_zone: &'static str,
    verified: bool,
    disabled: Option<Stamp>,
    /// Deleted by its owner: shown, never changed.
    erased: bool,
    created: Stamp,
    is_self: bool,
}

struct Message {
    text: String,
    error: bool,
    /// Where to go about it: (href, text).
    link: Option<(String, &'static str)>,
}

#[derive(Template)]
#[template(path = "admin/users.html")]
struct UsersPage {
    page: PageCtx,
    q: String,
    role_options: Vec<(&'static str, bool)>,
    /// `?role=` named no role: said next to the list, and left out.
    role_error: bool,
    roles: [Role; 3],
    filtered: bool,
    summary: String,
    zone: &'static str,
    rows: Vec<UserView>,
    /// The current page's query (`?…` or empty), carried by every form.
    list_query: String,
    prev_href: Option<String>,
    next_href: Option<String>,
    first_href: Option<String>,
    message: Option<Message>,
}

fn no_store(mut res: HttpResponse) -> HttpResponse {
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    res
}

/// `GET /admin/users?q=&role=&after=|before=`
pub async fn list_page(
    state: web::Data<AppState>,
    auth: Auth<AdminRole>,
    req: HttpRequest,
) -> Result<HttpResponse, AppError> {
    let (list_state, raw) = ListState::parse(req.query_string());
    let notice = raw.notice.as_deref().and_then(Notice::parse);
    let noticed_id = raw.user.as_deref().and_then(|u| Uuid::parse_str(u).ok());
    let filter = list_state.filter.clone();
    let cursor = list_state.cursor;
    let (page, noticed) = state
        .db(move |conn| {
            conn.build_transaction()
                .read_only()
                .repeatable_read()
                .run(|conn| {
                    let page = list(conn, &filter, cursor)?;
                    let noticed = match (notice, noticed_id) {
                        (Some(_), Some(id)) => service::find(conn, id)?,
                        _ => None,
                    };
                    Ok::<_, diesel::result::Error>((page, noticed))
                })
        })
        .await?;

    let zone = auth.user.time_zone;
    let message = notice.zip(noticed).map(|(n, user)| Message {
        text: n.text(&user),
        error: n.is_error(),
        link: (n == Notice::StillMentoring).then(|| {
            let today = state.clock.now().with_timezone(&zone).date_naive();
            (
                format!(
                    "/admin/bookings?mentor={}&status=confirmed&from={}",
                    user.id,
                    today.format("%Y-%m-%d")
                ),
                "See their upcoming sessions",
            )
        }),
    });
    let filtered = list_state.filter != Filter::default();
    let summary = match (page.total, filtered) {
        (1, true) => "1 user matches.".to_owned(),
        (n, true) => format!("{n} users match."),
        (1, false) => "1 user.".to_owned(),
        (n, false) => format!("{n} users."),
    };
    let rows = page
        .users
        .iter()
        .map(|u| UserView {
            id: u.id,
            name: u.display_name.clone(),
            email: u.email.clone(),
            role: u.role,
            time_zone: u.time_zone.name(),
            verified: u.email_verified_at.is_some(),
            disabled: u.disabled_at.map(|at| Stamp::new(at, zone)),
            erased: deletion::is_erased(u),
            created: Stamp::new(u.created_at, zone),
            is_self: u.id == auth.user.id,
        })
        .collect();
    let role_options = Role::ALL
        .iter()
        .map(|r| (r.as_str(), Some(*r) == list_state.filter.role))
        .collect();
    let template = UsersPage {
        page: auth.page(),
        q: list_state.filter.text.clone(),
        role_options,
        role_error: raw.role.as_deref().is_some_and(|r| !r.is_empty())
            && list_state.filter.role.is_none(),
        roles: Role::ALL,
        filtered,
        summary,
        zone: zone.name(),
        rows,
        list_query: ListState::query(&list_state.pairs(list_state.cursor)),
        prev_href: page.newer.map(|k| list_state.href(Some(Cursor::Before(k)))),
        next_href: page.older.map(|k| list_state.href(Some(Cursor::After(k)))),
        first_href: (list_state.cursor.is_some() && page.users.is_empty())
            .then(|| list_state.href(None)),
        message,
    };
    Ok(no_store(render(&template)?))
}

/// A user id from the path; anything else is a page that does not exist.
fn target_id(raw: &str) -> Result<Uuid, AppError> {
    Uuid::parse_str(raw).map_err(|_| AppError::NotFound)
}

/// The 303 back to the list, or the error the action ended with.
fn respond(
    req: &HttpRequest,
    target: Uuid,
    result: Result<Outcome, ChangeError>,
    changed: Notice,
    already: Notice,
) -> Result<HttpResponse, AppError> {
    let notice = match result {
        Ok(Outcome::Changed) => changed,
        Ok(Outcome::AlreadySo) => already,
        Err(ChangeError::OwnAccount) => Notice::OwnAccount,
        Err(ChangeError::LastAdmin) => Notice::LastAdmin,
        Err(ChangeError::StillMentoring) => Notice::StillMentoring,
        Err(ChangeError::NotFound) => return Err(AppError::NotFound),
        Err(ChangeError::NotAdmin) => return Err(AppError::Forbidden),
        Err(ChangeError::Cancel(e)) => return Err(e.into()),
        Err(ChangeError::Db(e)) => return Err(e.into()),
    };
    let (list_state, _) = ListState::parse(req.query_string());
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, list_state.after_action(notice, target)))
        .finish())
}

#[derive(Deserialize)]
pub struct RoleForm {
    #[serde(default)]
    role: String,
}

#[derive(Deserialize)]
pub struct NoFields {}

/// `POST /admin/users/{id}/role` with `role=learner|mentor|admin`.
pub async fn change_role_action(
    state: web::Data<AppState>,
    auth: Auth<AdminRole>,
    req: HttpRequest,
    id: web::Path<String>,
    form: CsrfForm<RoleForm>,
) -> Result<HttpResponse, AppError> {
    let target = target_id(&id)?;
    let role: Role = form
        .form
        .role
        .trim()
        .parse()
        .map_err(|_| AppError::BadRequest)?;
    let (actor, now) = (auth.user.id, state.clock.now());
    let result = state
        .db(move |conn| Ok::<_, AppError>(change_role(conn, now, actor, target, role)))
        .await?;
    respond(
        &req,
        target,
        result,
        Notice::RoleChanged,
        Notice::RoleUnchanged,
    )
}

/// `POST /admin/users/{id}/disable`
pub async fn disable_action(
    state: web::Data<AppState>,
    auth: Auth<AdminRole>,
    req: HttpRequest,
    id: web::Path<String>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let target = target_id(&id)?;
    let (actor, now) = (auth.user.id, state.clock.now());
    let st = state.clone();
    let result = state
        .db(move |conn| {
            let ctx = Ctx {
                now,
                settings: &st.settings,
                key: st.secret_key.expose(),
            };
            Ok::<_, AppError>(disable(conn, ctx, actor, target))
        })
        .await?;
    respond(
        &req,
        target,
        result,
        Notice::Disabled,
        Notice::AlreadyDisabled,
    )
}

/// `POST /admin/users/{id}/enable`
pub async fn enable_action(
    state: web::Data<AppState>,
    auth: Auth<AdminRole>,
    req: HttpRequest,
    id: web::Path<String>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let target = target_id(&id)?;
    let (actor, now) = (auth.user.id, state.clock.now());
    let result = state
        .db(move |conn| Ok::<_, AppError>(enable(conn, now, actor, target)))
        .await?;
    respond(
        &req,
        target,
        result,
        Notice::Enabled,
        Notice::AlreadyEnabled,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_metacharacters_match_themselves() {
        assert_eq!(like_pattern("ada"), "%ada%");
        assert_eq!(like_pattern("100%"), "%100\\%%");
        assert_eq!(like_pattern("a_b\\c"), "%a\\_b\\\\c%");
    }

    #[test]
    fn list_state_keeps_only_what_is_valid() {
        let (state, _) = ListState::parse("q=%20Ada%00%0d%0a%20&role=boss&after=junk");
        assert_eq!(state.filter.text, "Ada");
        assert_eq!(state.filter.role, None);
        assert_eq!(state.cursor, None);
        assert_eq!(state.href(None), "/admin/users?q=Ada");
        let (state, _) = ListState::parse("q=a%26b%3D%3Cc%3E&role=mentor");
        assert_eq!(
            state.href(None),
            "/admin/users?q=a%26b%3D%3Cc%3E&role=mentor"
        );
        // Unreadable query strings (here a repeated key) are empty ones.
        let (state, _) = ListState::parse("role=mentor&role=admin");
        assert_eq!(state.href(None), "/admin/users");
    }
}
