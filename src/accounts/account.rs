//! The account page (`/account`): name and time zone, email change (which
//! takes effect when the link sent to the new address is confirmed, see
//! `handlers::verify`), password change, signed-in sessions, personal
//! API tokens, and "Your data": download everything as JSON, delete the
//! account (the work is in `deletion`). One page, one form per action, each POSTing to its own path
//! and answering with a redirect back (a fixed notice) or the page again
//! with 422 and the errors next to that form's fields.
//! Thin: parse, check, one transaction per action, render.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Deserialize;
use uuid::Uuid;

use super::deletion::{self, DeleteError};
use super::email_tokens::{self, Purpose};
use super::handlers::{
    Empty, account_gone, check_email, check_name, check_new_password, check_zone, in_minutes,
    ip_of, see_other, set_password, verification_wait, with_retry_after,
};
use super::{User, api_tokens, service, session, throttle};
use crate::audit;
use crate::db::schema::{sessions, users};
use crate::email::render::{EmailChangeNotice, EmailChangeTaken, VerifyEmail};
use crate::email::{EmailContent, enqueue};
use crate::error::AppError;
use crate::state::AppState;
use crate::web::auth::{self, Auth, CsrfForm};
use crate::web::forms::{FieldErrors, ZoneOption, is_plain_line, zone_options};
use crate::web::{PageCtx, render};

/// The notices a redirect back may ask for, by code: fixed text only, so
/// nothing a link carries is ever shown.
fn notice_text(code: Option<&str>) -> Option<&'static str> {
    match code? {
        "profile-saved" => Some("Your name and time zone are saved."),
        "email-sent" => Some(
            "We sent a confirmation link to the new address. Your email address changes when you open it; until then, keep using the current one.",
        ),
        "password-changed" => {
            Some("Your password is changed. Every other session of your account was signed out.")
        }
        "session-revoked" => Some("That session is signed out."),
        "token-revoked" => Some("The token is revoked. It no longer works."),
        _ => None,
    }
}

/// One signed-in session as the list shows it.
struct SessionView {
    id: Uuid,
    device: String,
    created: String,
    last_seen: String,
    ip: String,
    current: bool,
}

struct TokenView {
    id: Uuid,
    name: String,
    created: String,
    last_used: Option<String>,
    revoked: Option<String>,
}

/// Which form the errors on the page belong to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    None,
    Profile,
    Email,
    Password,
    Token,
    Delete,
}

impl Form {
    fn as_str(self) -> &'static str {
        match self {
            Form::None => "",
            Form::Profile => "profile",
            Form::Email => "email",
            Form::Password => "password",
            Form::Token => "token",
            Form::Delete => "delete",
        }
    }
}

#[derive(Template)]
#[template(path = "accounts/account.html")]
struct AccountPage {
    page: PageCtx,
    notice: Option<&'static str>,
    email: String,
    verified: bool,
    zone_hint: &'static str,
    display_name: String,
    zones: Vec<ZoneOption>,
    new_email: String,
    token_name: String,
    errors: FieldErrors,
    failed: &'static str,
    sessions: Vec<SessionView>,
    tokens: Vec<TokenView>,
    new_token: Option<String>,
}

/// What the forms show: the account's values, or what was just typed
/// (never a password).
#[derive(Clone)]
struct Draft {
    display_name: String,
    time_zone: String,
    new_email: String,
    token_name: String,
}

impl Draft {
    fn of(user: &User) -> Self {
        Draft {
            display_name: user.display_name.clone(),
            time_zone: user.time_zone.name().to_owned(),
            new_email: String::new(),
            token_name: String::new(),
        }
    }
}

/// A short name for a user agent ("Firefox on Linux"); an unknown one is
/// cut to 60 characters.
fn short_agent(ua: Option<&str>) -> String {
    let Some(ua) = ua.map(str::trim).filter(|ua| !ua.is_empty()) else {
        return "Unknown device".to_owned();
    };
    // Order matters: Edge and Opera also say Chrome, Chrome also says Safari.
    let browser = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Chromium/", "Chromium"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
    ]
    .into_iter()
    .find(|(marker, _)| ua.contains(marker))
    .map(|(_, name)| name);
    let os = [
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ]
    .into_iter()
    .find(|(marker, _)| ua.contains(marker))
    .map(|(_, name)| name);
    match (browser, os) {
        (Some(b), Some(o)) => format!("{b} on {o}"),
        (Some(b), None) => b.to_owned(),
        (None, Some(o)) => format!("A browser on {o}"),
        (None, None) if ua.chars().count() > 60 => {
            format!("{}…", ua.chars().take(60).collect::<String>())
        }
        (None, None) => ua.to_owned(),
    }
}

/// Builds the page for `auth`'s user: the sessions and tokens come from the
/// database, the form values from `draft`.
async fn account_page(
    state: &AppState,
    auth: &Auth,
    draft: Draft,
    errors: FieldErrors,
    failed: Form,
    notice: Option<&'static str>,
    new_token: Option<String>,
) -> Result<AccountPage, AppError> {
    let now = state.clock.now();
    let user_id = auth.user.id;
    let (sessions, tokens) = state
        .db(move |conn| -> Result<_, diesel::result::Error> {
            Ok((
                session::list_for_user(conn, user_id, now)?,
                api_tokens::list_for_user(conn, user_id)?,
            ))
        })
        .await?;
    let zone = auth.user.time_zone;
    // Sessions past their idle timeout no longer work; they go at their
    // next use.
    let idle = chrono::Duration::from_std(state.settings.session_idle)
        .unwrap_or(chrono::Duration::hours(12));
    let sessions = sessions
        .into_iter()
        .filter(|s| now - s.last_seen_at < idle)
        .map(|s| SessionView {
            id: s.id,
            device: short_agent(s.user_agent.as_deref()),
            created: crate::timefmt::recent(s.created_at, zone, now),
            last_seen: crate::timefmt::recent(s.last_seen_at, zone, now),
            ip: s.ip.unwrap_or_else(|| "unknown".to_owned()),
            current: s.id == auth.session.id,
        })
        .collect();
    let tokens = tokens
        .into_iter()
        .map(|t| TokenView {
            id: t.id,
            name: t.name,
            created: crate::timefmt::recent(t.created_at, zone, now),
            last_used: t
                .last_used_at
                .map(|at| crate::timefmt::recent(at, zone, now)),
            revoked: t.revoked_at.map(|at| crate::timefmt::recent(at, zone, now)),
        })
        .collect();
    Ok(AccountPage {
        page: auth.page(),
        notice,
        email: auth.user.email.clone(),
        verified: auth.user.email_verified_at.is_some(),
        zone_hint: if auth.user.role.is_mentor() {
            "As a mentor, your weekly availability is set in this zone too."
        } else {
            ""
        },
        display_name: draft.display_name,
        zones: zone_options(&draft.time_zone),
        new_email: draft.new_email,
        token_name: draft.token_name,
        errors,
        failed: failed.as_str(),
        sessions,
        tokens,
        new_token,
    })
}

/// The page as a response that no cache keeps.
fn respond(page: &AccountPage, status: StatusCode) -> Result<HttpResponse, AppError> {
    let mut res = render(page)?;
    *res.status_mut() = status;
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

/// The page again with the errors of `failed`'s form.
async fn invalid(
    state: &AppState,
    auth: &Auth,
    draft: Draft,
    errors: FieldErrors,
    failed: Form,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let page = account_page(state, auth, draft, errors, failed, None, None).await?;
    respond(&page, status)
}

#[derive(Deserialize)]
pub struct NoticeQuery {
    notice: Option<String>,
}

pub async fn show(
    state: web::Data<AppState>,
    auth: Auth,
    query: web::Query<NoticeQuery>,
) -> Result<HttpResponse, AppError> {
    let page = account_page(
        &state,
        &auth,
        Draft::of(&auth.user),
        FieldErrors::default(),
        Form::None,
        notice_text(query.notice.as_deref()),
        None,
    )
    .await?;
    respond(&page, StatusCode::OK)
}

// ---------------------------------------------------------------- profile

#[derive(Deserialize)]
pub struct ProfileForm {
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    time_zone: String,
}

pub async fn update_profile(
    state: web::Data<AppState>,
    auth: Auth,
    form: CsrfForm<ProfileForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.form;
    let mut errors = FieldErrors::default();
    let name = check_name(&mut errors, &form.display_name);
    let zone = check_zone(&mut errors, &form.time_zone);
    let (Some(name), Some(zone)) = (name, zone) else {
        let draft = Draft {
            display_name: form.display_name.trim().to_owned(),
            time_zone: form.time_zone.trim().to_owned(),
            ..Draft::of(&auth.user)
        };
        return invalid(
            &state,
            &auth,
            draft,
            errors,
            Form::Profile,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let now = state.clock.now();
    let user = auth.user.clone();
    state
        .db(move |conn| {
            conn.transaction(|conn| -> Result<(), AppError> {
                if !service::lock_active(conn, user.id)? {
                    return Err(account_gone());
                }
                diesel::update(users::table.find(user.id))
                    .set((
                        users::display_name.eq(&name),
                        users::time_zone.eq(zone.name()),
                        users::updated_at.eq(now),
                    ))
                    .execute(conn)?;
                audit::record(
                    conn,
                    now,
                    Some(user.id),
                    "user.profile_updated",
                    Some(("user", user.id)),
                    serde_json::json!({
                        "name_changed": name != user.display_name,
                        "time_zone": zone.name(),
                    }),
                )?;
                Ok(())
            })
        })
        .await?;
    Ok(see_other("/account?notice=profile-saved"))
}

// ---------------------------------------------------------------- current password

enum CurrentPassword {
    Right,
    Wrong,
    /// Too many wrong passwords: the sign-in limits apply here too, so a
    /// stolen session cannot guess the password through this page.
    Blocked {
        wait_secs: i64,
    },
}

async fn check_current_password(
    state: &AppState,
    req: &HttpRequest,
    user: &User,
    password: String,
) -> Result<CurrentPassword, AppError> {
    let ip = ip_of(req, state);
    let now = state.clock.now();
    let user_id = user.id;
    let (email, i) = (user.email.clone(), ip.clone());
    let (key, blocked, phc) = state
        .db(move |conn| -> Result<_, diesel::result::Error> {
            let key = throttle::email_key(conn, &email)?;
            let blocked = throttle::blocked_until(conn, &key, &i, now)?;
            let phc: Option<String> = users::table
                .find(user_id)
                .select(users::password_hash)
                .first(conn)?;
            Ok((key, blocked, phc))
        })
        .await?;
    if let Some(until) = blocked {
        return Ok(CurrentPassword::Blocked {
            wait_secs: (until - now).num_seconds().max(1),
        });
    }
    let right = state.hasher.verify(password, phc).await?;
    let now = state.clock.now();
    state
        .db(move |conn| {
            if right {
                throttle::record_success(conn, &key, &ip, now)
            } else {
                throttle::record_failure(conn, &key, &ip, now)
            }
        })
        .await?;
    Ok(if right {
        CurrentPassword::Right
    } else {
        CurrentPassword::Wrong
    })
}

/// Checks the current password a form asks for (in `field` of `form`):
/// `None` when right; else the page again with the error next to that
/// field (422, or 429 with Retry-After when too many were wrong).
async fn reauthenticate(
    state: &AppState,
    req: &HttpRequest,
    auth: &Auth,
    password: String,
    draft: Draft,
    (form, field): (Form, &'static str),
) -> Result<Option<HttpResponse>, AppError> {
    let mut errors = FieldErrors::default();
    let (message, status, wait) =
        match check_current_password(state, req, &auth.user, password).await? {
            CurrentPassword::Right => return Ok(None),
            CurrentPassword::Wrong => (
                "That is not your current password.".to_owned(),
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
            ),
            CurrentPassword::Blocked { wait_secs } => (
                blocked_message(wait_secs),
                StatusCode::TOO_MANY_REQUESTS,
                Some(wait_secs),
            ),
        };
    errors.add(field, message);
    let res = invalid(state, auth, draft, errors, form, status).await?;
    Ok(Some(match wait {
        Some(secs) => with_retry_after(res, secs),
        None => res,
    }))
}

fn blocked_message(wait_secs: i64) -> String {
    format!(
        "Too many wrong passwords. For your account's safety, try again in {}.",
        in_minutes(wait_secs)
    )
}

// ---------------------------------------------------------------- email

#[derive(Deserialize)]
pub struct EmailForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    email_password: String,
}

pub async fn change_email(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: Auth,
    form: CsrfForm<EmailForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.form;
    let mut errors = FieldErrors::default();
    let email = check_email(&mut errors, &form.email);
    if let Some(email) = &email {
        if email.to_lowercase() == auth.user.email.to_lowercase() {
            errors.add("email", "That is already your email address.");
        } else if email.parse::<lettre::Address>().is_err() {
            errors.add("email", "Enter an email address like name@example.org.");
        }
    }
    if form.email_password.is_empty() {
        errors.add("email_password", "Enter your current password.");
    }
    let draft = Draft {
        new_email: form.email.trim().to_owned(),
        ..Draft::of(&auth.user)
    };
    let (Some(email), true) = (email, errors.is_empty()) else {
        return invalid(
            &state,
            &auth,
            draft,
            errors,
            Form::Email,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    if let Some(refused) = reauthenticate(
        &state,
        &req,
        &auth,
        form.email_password,
        draft.clone(),
        (Form::Email, "email_password"),
    )
    .await?
    {
        return Ok(refused);
    }
    let now = state.clock.now();
    let settings = state.settings.clone();
    let user = auth.user.clone();
    let new_email = email.clone();
    let wait = state
        .db(move |conn| {
            conn.transaction(|conn| -> Result<Option<i64>, AppError> {
                request_email_change(conn, &settings, &user, &new_email, now)
            })
        })
        .await?;
    if let Some(wait_secs) = wait {
        errors.add(
            "email",
            format!("We just sent a link. To keep inboxes calm, ask again in {wait_secs} seconds."),
        );
        let res = invalid(
            &state,
            &auth,
            draft,
            errors,
            Form::Email,
            StatusCode::TOO_MANY_REQUESTS,
        )
        .await?;
        return Ok(with_retry_after(res, wait_secs));
    }
    Ok(see_other("/account?notice=email-sent"))
}

/// Sends the confirmation link to `new_email` — or, when another account
/// has that address, a notice to its owner instead, so the asker learns
/// nothing about which addresses have accounts — and tells the current
/// address. Shares the verification emails' rate limit; returns the
/// seconds to wait when asked too soon.
fn request_email_change(
    conn: &mut PgConnection,
    settings: &crate::config::Settings,
    user: &User,
    new_email: &str,
    now: DateTime<Utc>,
) -> Result<Option<i64>, AppError> {
    if let Some(wait) = verification_wait(conn, user.id, now)? {
        return Ok(Some(wait));
    }
    match service::find_by_email(conn, new_email)? {
        None => {
            let token =
                email_tokens::issue(conn, user.id, Purpose::VerifyEmail, Some(new_email), now)?;
            let link = settings.token_link("/verify-email", &token);
            let to = lettre::message::Mailbox::new(
                Some(user.display_name.clone()),
                new_email.parse().map_err(AppError::internal)?,
            );
            let mail = VerifyEmail {
                display_name: user.display_name.clone(),
                link,
                email_change: true,
            }
            .to_email(to, Some(user.id))?;
            enqueue(conn, now, &settings.smtp_from, &mail).map_err(AppError::internal)?;
        }
        Some(owner) => {
            let mail = EmailChangeTaken {
                display_name: owner.display_name.clone(),
                login_url: settings.absolute_url("/login"),
                forgot_url: settings.absolute_url("/forgot-password"),
            }
            .to_email(owner.mailbox().map_err(AppError::internal)?, Some(owner.id))?;
            enqueue(conn, now, &settings.smtp_from, &mail).map_err(AppError::internal)?;
        }
    }
    let notice = EmailChangeNotice {
        display_name: user.display_name.clone(),
        new_email: new_email.to_owned(),
        when: crate::timefmt::instant(now, user.time_zone),
        forgot_url: settings.absolute_url("/forgot-password"),
    }
    .to_email(user.mailbox().map_err(AppError::internal)?, Some(user.id))?;
    enqueue(conn, now, &settings.smtp_from, &notice).map_err(AppError::internal)?;
    diesel::update(users::table.find(user.id))
        .set(users::verification_sent_at.eq(Some(now)))
        .execute(conn)?;
    audit::record(
        conn,
        now,
        Some(user.id),
        "user.email_change_requested",
        Some(("user", user.id)),
        serde_json::json!({}),
    )?;
    Ok(None)
}

// ---------------------------------------------------------------- password

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
}

pub async fn change_password(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: Auth,
    form: CsrfForm<PasswordForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.form;
    let mut errors = FieldErrors::default();
    if form.current_password.is_empty() {
        errors.add("current_password", "Enter your current password.");
    }
    check_new_password(&mut errors, "new_password", &form.new_password);
    if errors.is_empty() && form.new_password == form.current_password {
        errors.add(
            "new_password",
            "Choose a password different from your current one.",
        );
    }
    if !errors.is_empty() {
        return invalid(
            &state,
            &auth,
            Draft::of(&auth.user),
            errors,
            Form::Password,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    if let Some(refused) = reauthenticate(
        &state,
        &req,
        &auth,
        form.current_password,
        Draft::of(&auth.user),
        (Form::Password, "current_password"),
    )
    .await?
    {
        return Ok(refused);
    }
    let hash = state.hasher.hash(form.new_password).await?;
    let now = state.clock.now();
    let settings = state.settings.clone();
    let user = auth.user.clone();
    let keep = auth.session.id;
    state
        .db(move |conn| {
            conn.transaction(|conn| {
                set_password(
                    conn,
                    &settings,
                    &user,
                    &hash,
                    Some(keep),
                    now,
                    "user.password_changed",
                )
            })
        })
        .await?;
    Ok(see_other("/account?notice=password-changed"))
}

// ---------------------------------------------------------------- sessions

/// An id from the path; one that is not a UUID names nothing.
fn path_id(raw: &str) -> Result<Uuid, AppError> {
    raw.parse().map_err(|_| AppError::NotFound)
}

pub async fn revoke_session(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
    _form: CsrfForm<Empty>,
) -> Result<HttpResponse, AppError> {
    let id = path_id(&path)?;
    let now = state.clock.now();
    let user_id = auth.user.id;
    let found = state
        .db(move |conn| {
            conn.transaction(|conn| -> Result<bool, diesel::result::Error> {
                let deleted = diesel::delete(
                    sessions::table
                        .filter(sessions::id.eq(id))
                        .filter(sessions::user_id.eq(user_id)),
                )
                .execute(conn)?;
                if deleted == 0 {
                    return Ok(false);
                }
                audit::record(
                    conn,
                    now,
                    Some(user_id),
                    "session.revoked",
                    Some(("session", id)),
                    serde_json::json!({}),
                )?;
                Ok(true)
            })
        })
        .await?;
    if !found {
        return Err(AppError::NotFound);
    }
    if id == auth.session.id {
        // Ending the session in use is signing out.
        return Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, "/login?notice=signed-out"))
            .cookie(auth::removal(
                auth::SESSION_COOKIE,
                state.settings.is_https(),
            ))
            .finish());
    }
    Ok(see_other("/account?notice=session-revoked"))
}

// ---------------------------------------------------------------- API tokens

#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    token_name: String,
}

pub async fn create_token(
    state: web::Data<AppState>,
    auth: Auth,
    form: CsrfForm<TokenForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.form;
    let mut errors = FieldErrors::default();
    let name = form.token_name.trim().to_owned();
    if name.is_empty() {
        errors.add("token_name", "Give the token a name.");
    } else if name.chars().count() > 100 {
        errors.add("token_name", "Use at most 100 characters.");
    } else if !is_plain_line(&name) {
        errors.add(
            "token_name",
            "Use letters, digits, spaces and punctuation only.",
        );
    }
    let draft = Draft {
        token_name: name.clone(),
        ..Draft::of(&auth.user)
    };
    if !errors.is_empty() {
        return invalid(
            &state,
            &auth,
            draft,
            errors,
            Form::Token,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let now = state.clock.now();
    let user_id = auth.user.id;
    let created = state
        .db(move |conn| {
            conn.transaction(|conn| -> Result<Option<String>, AppError> {
                // Serialises one user's token requests, so the cap holds.
                if !service::lock_active(conn, user_id)? {
                    return Err(account_gone());
                }
                if api_tokens::count_live(conn, user_id)? >= api_tokens::MAX_LIVE_PER_USER {
                    return Ok(None);
                }
                let (row, token) = api_tokens::create(conn, user_id, &name, now)?;
                audit::record(
                    conn,
                    now,
                    Some(user_id),
                    "api_token.created",
                    Some(("api_token", row.id)),
                    serde_json::json!({}),
                )?;
                Ok(Some(token))
            })
        })
        .await?;
    let Some(token) = created else {
        errors.add(
            "token_name",
            format!(
                "You have {} tokens, the most an account can have. Revoke one you no longer use first.",
                api_tokens::MAX_LIVE_PER_USER
            ),
        );
        return invalid(
            &state,
            &auth,
            draft,
            errors,
            Form::Token,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    // Shown on this response only: a redirect would have to carry it.
    let page = account_page(
        &state,
        &auth,
        Draft::of(&auth.user),
        FieldErrors::default(),
        Form::None,
        None,
        Some(token),
    )
    .await?;
    respond(&page, StatusCode::OK)
}

pub async fn revoke_token(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
    _form: CsrfForm<Empty>,
) -> Result<HttpResponse, AppError> {
    let id = path_id(&path)?;
    let now = state.clock.now();
    let user_id = auth.user.id;
    let found = state
        .db(move |conn| {
            conn.transaction(|conn| -> Result<bool, diesel::result::Error> {
                if !api_tokens::revoke(conn, user_id, id, now)? {
                    return Ok(false);
                }
                audit::record(
                    conn,
                    now,
                    Some(user_id),
                    "api_token.revoked",
                    Some(("api_token", id)),
                    serde_json::json!({}),
                )?;
                Ok(true)
            })
        })
        .await?;
    if !found {
        return Err(AppError::NotFound);
    }
    Ok(see_other("/account?notice=token-revoked"))
}

// ---------------------------------------------------------------- your data

/// `POST /account/export`: everything held about the account, as a JSON
/// download (a POST, so no prefetch or crawler ever fetches it). Audited as
/// `account.export`.
pub async fn export_data(
    state: web::Data<AppState>,
    auth: Auth,
    _form: CsrfForm<Empty>,
) -> Result<HttpResponse, AppError> {
    let now = state.clock.now();
    let user = auth.user.clone();
    let export = state
        .db(move |conn| {
            conn.build_transaction().repeatable_read().run(
                |conn| -> Result<_, diesel::result::Error> {
                    let export = deletion::export(conn, &user, now)?;
                    audit::record(
                        conn,
                        now,
                        Some(user.id),
                        "account.export",
                        Some(("user", user.id)),
                        serde_json::json!({}),
                    )?;
                    Ok(export)
                },
            )
        })
        .await?;
    let body = serde_json::to_vec_pretty(&export).map_err(AppError::internal)?;
    let disposition = format!(
        "attachment; filename=\"officehours-data-{}.json\"",
        now.format("%Y-%m-%d")
    );
    Ok(HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        ))
        .insert_header((header::CONTENT_DISPOSITION, disposition))
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .body(body))
}

#[derive(Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    delete_password: String,
    #[serde(default)]
    confirm: String,
}

#[derive(Template)]
#[template(path = "accounts/message.html")]
struct DeletedPage {
    page: PageCtx,
    heading: &'static str,
    paragraphs: Vec<String>,
    link: Option<(&'static str, &'static str)>,
    /// Never: a deleted account confirms nothing.
    resend: Option<String>,
}

/// `POST /account/delete` with the current password and the confirmation
/// box: deletes the account (see `deletion::delete`), signs out and says
/// so. A wrong password or a missing tick: the page again, 422.
pub async fn delete_account(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: Auth,
    form: CsrfForm<DeleteForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.form;
    let mut errors = FieldErrors::default();
    if form.delete_password.is_empty() {
        errors.add("delete_password", "Enter your current password.");
    }
    if form.confirm != "yes" {
        errors.add(
            "confirm",
            "Tick the box to confirm that your account and its data go for good.",
        );
    }
    if !errors.is_empty() {
        return invalid(
            &state,
            &auth,
            Draft::of(&auth.user),
            errors,
            Form::Delete,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    if let Some(refused) = reauthenticate(
        &state,
        &req,
        &auth,
        form.delete_password,
        Draft::of(&auth.user),
        (Form::Delete, "delete_password"),
    )
    .await?
    {
        return Ok(refused);
    }
    let now = state.clock.now();
    let user_id = auth.user.id;
    let st = state.clone();
    let result = state
        .db(move |conn| {
            let ctx = crate::bookings::service::Ctx {
                now,
                settings: &st.settings,
                key: st.secret_key.expose(),
            };
            Ok::<_, AppError>(deletion::delete(conn, ctx, user_id))
        })
        .await?;
    let deleted = match result {
        Ok(deleted) => deleted,
        Err(DeleteError::LastAdmin) => {
            errors.add(
                "delete",
                "You are the last active admin, so your account cannot be deleted. Make someone else an admin first.",
            );
            return invalid(
                &state,
                &auth,
                Draft::of(&auth.user),
                errors,
                Form::Delete,
                StatusCode::CONFLICT,
            )
            .await;
        }
        Err(DeleteError::NotFound) => return Err(AppError::NotFound),
        Err(DeleteError::Cancel(e)) => return Err(e.into()),
        Err(DeleteError::Db(e)) => return Err(e.into()),
    };
    let mut paragraphs = vec![
        "Your account is deleted and you are signed out. Your personal data is erased.".to_owned(),
    ];
    paragraphs.push(match deleted.bookings_cancelled {
        0 => "You had no upcoming sessions.".to_owned(),
        1 => "Your upcoming session is cancelled; the other person was told.".to_owned(),
        n => format!("Your {n} upcoming sessions are cancelled; the other people were told."),
    });
    paragraphs
        .push("Past sessions stay in the programme's statistics without your name.".to_owned());
    let mut res = render(&DeletedPage {
        page: PageCtx::anonymous(),
        heading: "Your account is deleted",
        paragraphs,
        link: Some(("/", "Back to the home page")),
        resend: None,
    })?;
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res.add_cookie(&auth::removal(
        auth::SESSION_COOKIE,
        state.settings.is_https(),
    ))
    .map_err(AppError::internal)?;
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agents_are_shortened() {
        assert_eq!(
            short_agent(Some(
                "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
            )),
            "Firefox on Linux"
        );
        assert_eq!(
            short_agent(Some(
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36 Edg/124.0"
            )),
            "Edge on Windows"
        );
        assert_eq!(
            short_agent(Some(
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
            )),
            "Safari on iOS"
        );
        assert_eq!(short_agent(Some("curl/8.5.0")), "curl");
        assert_eq!(short_agent(None), "Unknown device");
        assert_eq!(short_agent(Some("  ")), "Unknown device");
        let long = "x".repeat(80);
        assert_eq!(short_agent(Some(&long)), format!("{}…", "x".repeat(60)));
    }
}
