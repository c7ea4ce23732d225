//! Sign-up, email verification, sign-in, sign-out and password reset pages.
//! Thin: parse, call the account services, render.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use lettre::message::Mailbox;
use serde::Deserialize;

use super::email_tokens::{self, Purpose};
use super::service::{self, AccountError, NewAccount};
use super::session::{self, Origin};
use super::signin::{self, SignIn};
use super::throttle::{self, MailPurpose};
use super::{Role, User, password};
use crate::audit;
use crate::db::schema::users;
use crate::email::render::{
    PasswordChanged, PasswordReset, RegisterAttempt, ResetUnavailable, VerifyEmail,
};
use crate::email::{EmailContent, enqueue};
use crate::error::AppError;
use crate::state::AppState;
use crate::web::auth::{
    self, Auth, CsrfForm, Viewer, client_ip, next_is_slot, safe_next, with_next,
};
use crate::web::forms::{FieldErrors, ZoneOption, zone_options};
use crate::web::{PageCtx, render};

/// Renders `template` with `status` (e.g. 422 for a form with errors).
fn render_status(template: &impl Template, status: StatusCode) -> Result<HttpResponse, AppError> {
    let mut res = render(template)?;
    *res.status_mut() = status;
    Ok(res)
}

pub(super) fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location.to_owned()))
        .finish()
}

#[derive(Template)]
#[template(path = "accounts/message.html")]
struct MessagePage {
    page: PageCtx,
    heading: &'static str,
    paragraphs: Vec<String>,
    link: Option<(String, &'static str)>,
    /// A "Send the link again" form carrying this `next`.
    resend: Option<String>,
}

fn message(
    page: PageCtx,
    heading: &'static str,
    paragraphs: &[&str],
    link: Option<(&str, &'static str)>,
) -> Result<HttpResponse, AppError> {
    render(&MessagePage {
        page,
        heading,
        paragraphs: paragraphs.iter().map(|p| (*p).to_owned()).collect(),
        link: link.map(|(href, words)| (href.to_owned(), words)),
        resend: None,
    })
}

pub(super) fn ip_of(req: &HttpRequest, state: &AppState) -> String {
    client_ip(req, &state.settings.trusted_proxies)
        .map(|ip| ip.to_string())
        .unwrap_or_else(|| "unknown".to_owned())
}

// ---------------------------------------------------------------- sign-in

#[derive(Template)]
#[template(path = "accounts/login.html")]
struct LoginPage {
    page: PageCtx,
    email: String,
    next: String,
    /// `/register`, carrying `next`.
    register_href: String,
    /// `next` is a slot's confirm page: the page says they come back to it.
    slot: bool,
    errors: FieldErrors,
    error: Option<String>,
    notice: Option<&'static str>,
}

#[derive(Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
    notice: Option<String>,
}

fn notice_text(code: Option<&str>) -> Option<&'static str> {
    match code? {
        "password-reset" => Some("Your password was changed. Sign in with the new one."),
        "signed-out" => Some("You are signed out."),
        _ => None,
    }
}

pub async fn login_form(
    viewer: Viewer,
    query: web::Query<LoginQuery>,
) -> Result<HttpResponse, AppError> {
    let next = safe_next(query.next.as_deref());
    if viewer.user().is_some() {
        return Ok(see_other(&next));
    }
    render(&LoginPage {
        page: viewer.page(),
        email: String::new(),
        register_href: with_next("/register", &next),
        slot: next_is_slot(&next),
        next,
        errors: FieldErrors::default(),
        error: None,
        notice: notice_text(query.notice.as_deref()),
    })
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: CsrfForm<LoginForm>,
) -> Result<HttpResponse, AppError> {
    let CsrfForm { viewer, form } = form;
    let next = safe_next(Some(&form.next));
    let mut errors = FieldErrors::default();
    if form.email.trim().is_empty() {
        errors.add("email", "Enter your email address.");
    } else if form.email.len() > 254 {
        errors.add("email", "An email address has at most 254 characters.");
    }
    if form.password.is_empty() {
        errors.add("password", "Enter your password.");
    } else if form.password.chars().count() > password::MAX_LEN {
        errors.add("password", "A password has at most 128 characters.");
    }
    let page = |errors, error: Option<String>| LoginPage {
        page: viewer.page().returning_to(&next),
        email: form.email.trim().to_owned(),
        next: next.clone(),
        register_href: with_next("/register", &next),
        slot: next_is_slot(&next),
        errors,
        error,
        notice: None,
    };
    if !errors.is_empty() {
        return render_status(&page(errors, None), StatusCode::UNPROCESSABLE_ENTITY);
    }
    let ip = ip_of(&req, &state);
    match signin::check(&state, &form.email, &form.password, &ip).await? {
        SignIn::Ok(user) => {
            let now = state.clock.now();
            let absolute =
                Duration::from_std(state.settings.session_absolute).unwrap_or(Duration::days(30));
            let origin = Origin {
                ip: Some(ip),
                user_agent: req
                    .headers()
                    .get(header::USER_AGENT)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned),
            };
            let user_id = user.id;
            let (_, token) = state
                .db(move |conn| session::create(conn, user_id, now, absolute, &origin))
                .await?;
            let mut cookie = auth::cookie(auth::SESSION_COOKIE, token, state.settings.is_https());
            cookie.set_max_age(actix_web::cookie::time::Duration::seconds(
                absolute.num_seconds(),
            ));
            Ok(HttpResponse::SeeOther()
                .insert_header((header::LOCATION, next))
                .cookie(cookie)
                .finish())
        }
        SignIn::Invalid => render_status(
            &page(
                FieldErrors::default(),
                Some(
                    "That email and password do not match an account. Check both and try again."
                        .into(),
                ),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        SignIn::Blocked { until } => {
            let wait = (until - state.clock.now()).num_seconds().max(1);
            let res = render_status(
                &page(
                    FieldErrors::default(),
                    Some(format!(
                        "Too many failed sign-ins. For your account's safety, try again in {}.",
                        in_minutes(wait)
                    )),
                ),
                StatusCode::TOO_MANY_REQUESTS,
            )?;
            Ok(with_retry_after(res, wait))
        }
    }
}

#[derive(Deserialize)]
pub struct Empty {}

pub async fn logout(
    state: web::Data<AppState>,
    auth: Auth,
    _form: CsrfForm<Empty>,
) -> Result<HttpResponse, AppError> {
    let id = auth.session.id;
    state.db(move |conn| session::delete(conn, id)).await?;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/login?notice=signed-out"))
        .cookie(auth::removal(
            auth::SESSION_COOKIE,
            state.settings.is_https(),
        ))
        .finish())
}

// ---------------------------------------------------------------- sign-up

#[derive(Template)]
#[template(path = "accounts/register.html")]
struct RegisterPage {
    page: PageCtx,
    /// Where the visitor was going (`/login?next=`), carried through the
    /// confirmation email to the sign-in after it.
    next: String,
    /// `/login`, carrying `next`.
    login_href: String,
    /// `next` is a slot's confirm page: the page says they come back to it.
    slot: bool,
    email: String,
    display_name: String,
    zones: Vec<ZoneOption>,
    errors: FieldErrors,
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

pub async fn register_form(
    viewer: Viewer,
    query: web::Query<NextQuery>,
) -> Result<HttpResponse, AppError> {
    let next = safe_next(query.next.as_deref());
    // Signed in already: as /login does, on to where they were going.
    if viewer.user().is_some() {
        return Ok(see_other(&next));
    }
    render(&RegisterPage {
        page: viewer.page(),
        login_href: with_next("/login", &next),
        slot: next_is_slot(&next),
        next,
        email: String::new(),
        display_name: String::new(),
        zones: zone_options("UTC"),
        errors: FieldErrors::default(),
    })
}

#[derive(Deserialize)]
pub struct RegisterForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    time_zone: String,
    #[serde(default)]
    next: String,
}

/// Validates the shared account fields; `None` fields were not submitted.
pub fn check_email(errors: &mut FieldErrors, raw: &str) -> Option<String> {
    match service::normalize_email(raw) {
        Ok(e) => Some(e),
        Err(_) if raw.trim().is_empty() => {
            errors.add("email", "Enter your email address.");
            None
        }
        Err(_) if raw.trim().len() > 254 => {
            errors.add("email", "An email address has at most 254 characters.");
            None
        }
        Err(_) => {
            errors.add("email", "Enter an email address like name@example.org.");
            None
        }
    }
}

pub fn check_name(errors: &mut FieldErrors, raw: &str) -> Option<String> {
    let name = raw.trim();
    match service::name_problem(name) {
        Some(problem) => {
            errors.add("display_name", problem);
            None
        }
        None => Some(name.to_owned()),
    }
}

pub fn check_zone(errors: &mut FieldErrors, raw: &str) -> Option<chrono_tz::Tz> {
    let zone = crate::web::forms::parse_zone(raw);
    if zone.is_none() {
        errors.add("time_zone", "Choose a time zone from the list.");
    }
    zone
}

pub fn check_new_password(errors: &mut FieldErrors, field: &'static str, raw: &str) {
    if let Err(problem) = password::check(raw) {
        errors.add(field, problem.to_string());
    }
}

/// Signs up. A new address gets its confirmation link; one with an
/// account tells its owner instead; the visitor sees the same page. Both
/// emails are limited per address (`throttle::mail_request`), and an IP
/// that asked for too many is refused before any hashing.
pub async fn register(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: CsrfForm<RegisterForm>,
) -> Result<HttpResponse, AppError> {
    let CsrfForm { viewer, form } = form;
    let next = safe_next(Some(&form.next));
    let page = |errors| RegisterPage {
        page: viewer.page().returning_to(&next),
        login_href: with_next("/login", &next),
        slot: next_is_slot(&next),
        next: next.clone(),
        email: form.email.trim().to_owned(),
        display_name: form.display_name.trim().to_owned(),
        zones: zone_options(form.time_zone.trim()),
        errors,
    };
    let mut errors = FieldErrors::default();
    let email = check_email(&mut errors, &form.email);
    let name = check_name(&mut errors, &form.display_name);
    check_new_password(&mut errors, "password", &form.password);
    let zone = check_zone(&mut errors, &form.time_zone);
    let (Some(email), Some(name), Some(zone), true) = (email, name, zone, errors.is_empty()) else {
        return render_status(&page(errors), StatusCode::UNPROCESSABLE_ENTITY);
    };
    let now = state.clock.now();
    let ip = ip_of(&req, &state);
    let i = ip.clone();
    let blocked = state
        .db(move |conn| throttle::mail_ip_blocked_until(conn, &i, now))
        .await?;
    if let Some(until) = blocked {
        return too_many_requests(page, Held::Network(until), now);
    }
    let sent = with_next("/register/sent", &next);
    // Hash whether or not the address is taken, so both take as long.
    let hash = state.hasher.hash(form.password.clone()).await?;
    let now = state.clock.now();
    let settings = state.settings.clone();
    state
        .db(move |conn| -> Result<(), AppError> {
            let key = throttle::email_key(conn, &email)?;
            let created = conn.transaction(|conn| -> Result<User, AccountError> {
                // Held back (see `throttle::mail_request`), the account is
                // made all the same; its owner can ask for the link again.
                let held = throttle::mail_request(conn, &key, MailPurpose::Register, &ip, now)?;
                let user = service::create(
                    conn,
                    now,
                    &NewAccount {
                        email: &email,
                        display_name: &name,
                        role: Role::Learner,
                        time_zone: zone,
                        password_hash: &hash,
                        verified: false,
                    },
                )?;
                if held.is_none() {
                    send_verification(conn, &settings, &user, now, &next)
                        .map_err(|e| AccountError::Invalid(e.to_string()))?;
                }
                audit::record(
                    conn,
                    now,
                    Some(user.id),
                    "user.registered",
                    Some(("user", user.id)),
                    serde_json::json!({}),
                )?;
                Ok(user)
            });
            match created {
                Ok(_) => Ok(()),
                Err(AccountError::EmailTaken) => {
                    // The owner learns of it; the visitor sees the same page.
                    conn.transaction(|conn| -> Result<(), AppError> {
                        let held =
                            throttle::mail_request(conn, &key, MailPurpose::Register, &ip, now)?;
                        if held.is_some() {
                            return Ok(());
                        }
                        if let Some(owner) = service::find_by_email(conn, &email)? {
                            let to = owner.mailbox().map_err(AppError::internal)?;
                            let mail = RegisterAttempt {
                                display_name: owner.display_name.clone(),
                                // Not the visitor's `next`: the owner never
                                // chose it.
                                login_url: settings.absolute_url("/login"),
                                forgot_url: settings.absolute_url("/forgot-password"),
                            }
                            .to_email(to, Some(owner.id))?;
                            enqueue(conn, now, &settings.smtp_from, &mail)
                                .map_err(AppError::internal)?;
                        }
                        Ok(())
                    })
                }
                Err(AccountError::Db(e)) => Err(e.into()),
                Err(other) => Err(AppError::internal(other)),
            }
        })
        .await?;
    Ok(see_other(&sent))
}

/// Issues a verification link and queues its email, in the caller's
/// transaction. The link carries `next` (where the visitor was going when
/// they signed up) to the sign-in after confirming.
fn send_verification(
    conn: &mut PgConnection,
    settings: &crate::config::Settings,
    user: &User,
    now: chrono::DateTime<chrono::Utc>,
    next: &str,
) -> Result<(), AppError> {
    let token = email_tokens::issue(conn, user.id, Purpose::VerifyEmail, None, now)?;
    let link = with_next(&settings.token_link("/verify-email", &token), next);
    let mail = VerifyEmail {
        display_name: user.display_name.clone(),
        link,
        email_change: false,
    }
    .to_email(user.mailbox().map_err(AppError::internal)?, Some(user.id))?;
    enqueue(conn, now, &settings.smtp_from, &mail).map_err(AppError::internal)?;
    diesel::update(users::table.find(user.id))
        .set(users::verification_sent_at.eq(Some(now)))
        .execute(conn)?;
    Ok(())
}

pub async fn register_sent(
    viewer: Viewer,
    query: web::Query<NextQuery>,
) -> Result<HttpResponse, AppError> {
    let login = with_next("/login", &safe_next(query.next.as_deref()));
    message(
        viewer.page(),
        "Check your inbox",
        &[
            "We sent an email to the address you entered. Open the link in it to confirm your address; it works for 24 hours.",
            "No email after a few minutes? Look in your spam folder, or sign in and ask for a new link.",
        ],
        Some((&login, "Go to sign in")),
    )
}

// ---------------------------------------------------------------- verification

#[derive(Template)]
#[template(path = "accounts/verify.html")]
struct VerifyPage {
    page: PageCtx,
    token: String,
    email: String,
    /// Where the visitor was going when they signed up.
    next: String,
}

#[derive(Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
    next: Option<String>,
}

fn link_expired(page: PageCtx) -> Result<HttpResponse, AppError> {
    let mut res = message(
        page,
        "This link no longer works",
        &["Password reset links work once, for 30 minutes. Ask for a new one."],
        Some(("/forgot-password", "Reset your password")),
    )?;
    *res.status_mut() = StatusCode::GONE;
    Ok(res)
}

/// A confirmation link that no longer works (used, expired or replaced),
/// told as fits the browser and whose link it was (`spent`: its row, if
/// the token was ever issued):
/// - signed out: sign in (on to `next`) to ask for a new one;
/// - signed in, still to confirm: a new link from here (leading on to
///   `next` when the link was their own);
/// - signed in and confirmed, their own sign-up link (opened a second
///   time, say): nothing is left to do, on to `next`;
/// - anything else (someone else's link, an address change's): the link
///   is out of date, with the way to the account page.
fn verify_link_expired(
    viewer: &Viewer,
    next: &str,
    spent: Option<&email_tokens::AccountToken>,
) -> Result<HttpResponse, AppError> {
    const HEADING: &str = "This link no longer works";
    const ONCE: &str = "Confirmation links work once, for 24 hours.";
    let own = |u: &User| spent.is_some_and(|t| t.user_id == u.id);
    let mut res = match viewer.user() {
        None => message(
            viewer.page(),
            HEADING,
            &[ONCE, "Sign in to ask for a new one."],
            Some((&with_next("/login", next), "Go to sign in")),
        )?,
        Some(u) if u.email_verified_at.is_none() => render(&MessagePage {
            page: viewer.page(),
            heading: HEADING,
            paragraphs: vec![
                ONCE.to_owned(),
                "Ask for a new one here, and open the newest email.".to_owned(),
            ],
            link: None,
            resend: Some(if own(u) {
                next.to_owned()
            } else {
                "/".to_owned()
            }),
        })?,
        Some(u) if own(u) && spent.is_some_and(|t| t.email.is_none()) => {
            let link = if next == "/" {
                ("/account", "Go to your account")
            } else {
                (next, "Continue where you left off")
            };
            message(
                viewer.page(),
                "Your email address is confirmed already",
                &[
                    "This link was used or is out of date, but there is nothing left to do: you can book sessions.",
                ],
                Some(link),
            )?
        }
        Some(_) => message(
            viewer.page(),
            HEADING,
            &[
                ONCE,
                "If you were changing your email address, start the change again from your account page.",
            ],
            Some(("/account", "Go to your account")),
        )?,
    };
    *res.status_mut() = StatusCode::GONE;
    Ok(res)
}

/// Only shows the button: a mail scanner fetching the link changes nothing.
pub async fn verify_form(
    state: web::Data<AppState>,
    viewer: Viewer,
    query: web::Query<TokenQuery>,
) -> Result<HttpResponse, AppError> {
    let now = state.clock.now();
    let token = query.token.clone();
    let found = state
        .db(move |conn| -> Result<_, diesel::result::Error> {
            let Some(t) = email_tokens::peek(conn, Purpose::VerifyEmail, &token, now)? else {
                return Ok(None);
            };
            let user = service::find(conn, t.user_id)?;
            Ok(user.map(|u| t.email.clone().unwrap_or(u.email)))
        })
        .await?;
    match found {
        Some(email) => render(&VerifyPage {
            page: viewer.page(),
            token: query.token.clone(),
            email,
            next: safe_next(query.next.as_deref()),
        }),
        None => {
            let token = query.token.clone();
            let spent = state
                .db(move |conn| email_tokens::spent(conn, Purpose::VerifyEmail, &token))
                .await?;
            verify_link_expired(&viewer, &safe_next(query.next.as_deref()), spent.as_ref())
        }
    }
}

#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    next: String,
}

pub async fn verify(
    state: web::Data<AppState>,
    form: CsrfForm<TokenForm>,
) -> Result<HttpResponse, AppError> {
    let CsrfForm { viewer, form } = form;
    let now = state.clock.now();
    let next = safe_next(Some(&form.next));
    let token = form.token.clone();
    let outcome = state
        .db(move |conn| {
            // Whose address was confirmed (`None`: the link no longer works).
            let result = conn.transaction(|conn| -> Result<Option<uuid::Uuid>, AccountError> {
                let Some(t) = email_tokens::consume(conn, Purpose::VerifyEmail, &form.token, now)?
                else {
                    return Ok(None);
                };
                let action = match &t.email {
                    // An email change takes effect only now that the new
                    // address is proven; the unique index settles a race
                    // with another account taking it meanwhile.
                    Some(new_email) => {
                        // Not for an account disabled or deleted since the
                        // link went out: its address stays as it is.
                        let changed = diesel::update(
                            users::table
                                .find(t.user_id)
                                .filter(users::disabled_at.is_null()),
                        )
                        .set((
                            users::email.eq(new_email),
                            users::email_verified_at.eq(Some(now)),
                            users::updated_at.eq(now),
                        ))
                        .execute(conn)
                        .map_err(|e| match e {
                            diesel::result::Error::DatabaseError(
                                diesel::result::DatabaseErrorKind::UniqueViolation,
                                ref info,
                            ) if info.constraint_name() == Some("users_email_lower_key") => {
                                AccountError::EmailTaken
                            }
                            other => AccountError::Db(other),
                        })?;
                        if changed == 0 {
                            return Ok(None);
                        }
                        // A reset link sent to the old address no longer
                        // reaches the account's owner.
                        email_tokens::void(conn, t.user_id, Purpose::ResetPassword, now)?;
                        "user.email_changed"
                    }
                    None => {
                        diesel::update(users::table.find(t.user_id))
                            .set((
                                users::email_verified_at.eq(Some(now)),
                                users::updated_at.eq(now),
                            ))
                            .execute(conn)?;
                        "user.email_verified"
                    }
                };
                audit::record(
                    conn,
                    now,
                    Some(t.user_id),
                    action,
                    Some(("user", t.user_id)),
                    serde_json::json!({}),
                )?;
                Ok(Some(t.user_id))
            });
            match result {
                Ok(done) => Ok(Some(done)),
                Err(AccountError::EmailTaken) => Ok(None),
                Err(AccountError::Db(e)) => Err(AppError::from(e)),
                Err(other) => Err(AppError::internal(other)),
            }
        })
        .await?;
    let Some(done) = outcome else {
        let mut res = message(
            viewer.page(),
            "That address is already in use",
            &[
                "Another account uses this email address now, so the change was not made. Your account keeps its current address.",
            ],
            Some(("/account", "Go to your account")),
        )?;
        *res.status_mut() = StatusCode::CONFLICT;
        return Ok(res);
    };
    let Some(confirmed) = done else {
        let spent = state
            .db(move |conn| email_tokens::spent(conn, Purpose::VerifyEmail, &token))
            .await?;
        return verify_link_expired(&viewer, &next, spent.as_ref());
    };
    // On to where they were going when they signed up (a slot's confirm
    // page), through the sign-in when this browser is not signed in; a
    // browser signed in as someone else is not sent to their slot.
    let going_on = next != "/";
    let own = viewer.user().is_some_and(|u| u.id == confirmed);
    let link = match (viewer.user().is_some(), own, going_on) {
        (true, true, true) => (next.clone(), "Continue where you left off"),
        (true, _, _) => ("/".to_owned(), "Find a mentor"),
        (false, _, going_on) => (
            with_next("/login", &next),
            if going_on {
                "Sign in to continue"
            } else {
                "Sign in"
            },
        ),
    };
    // The page drawn for the account just confirmed has no "please
    // confirm" banner.
    let mut page = viewer.page();
    if let Some(nav) = page.user.as_mut().filter(|_| own) {
        nav.verified = true;
    }
    message(
        page,
        "Your email address is confirmed",
        &["Thank you. You can now book sessions."],
        Some((&link.0, link.1)),
    )
}

/// At most one new link per account in this long.
pub const RESEND_EVERY: Duration = Duration::minutes(2);

/// The account was disabled or deleted while the request ran: its
/// sessions are gone, so the request ends signed out.
pub(super) fn account_gone() -> AppError {
    AppError::SignInRequired {
        next: "/account".to_owned(),
    }
}

/// Locks the account's row while it is active and tells how many seconds
/// are left before another verification link (a new address's included)
/// may go out: `None` when one may go now. [`account_gone`] once the
/// account is disabled or deleted.
pub(super) fn verification_wait(
    conn: &mut PgConnection,
    user: uuid::Uuid,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Option<i64>, AppError> {
    if !service::lock_active(conn, user)? {
        return Err(account_gone());
    }
    let sent_at: Option<chrono::DateTime<chrono::Utc>> = users::table
        .find(user)
        .select(users::verification_sent_at)
        .first(conn)?;
    Ok(sent_at
        .filter(|at| now.signed_duration_since(*at) < RESEND_EVERY)
        .map(|at| (at + RESEND_EVERY - now).num_seconds().max(1)))
}

#[derive(Deserialize)]
pub struct ResendForm {
    /// Where the new link's confirmed page leads (the time picked).
    #[serde(default)]
    next: String,
}

pub async fn resend_verification(
    state: web::Data<AppState>,
    auth: Auth,
    form: CsrfForm<ResendForm>,
) -> Result<HttpResponse, AppError> {
    let next = safe_next(Some(&form.form.next));
    let going_on = next != "/";
    let link_next = next.clone();
    let now = state.clock.now();
    let settings = state.settings.clone();
    let user = auth.user.clone();
    let outcome = state
        .db(move |conn| {
            conn.transaction(|conn| -> Result<Option<i64>, AppError> {
                if let Some(wait) = verification_wait(conn, user.id, now)? {
                    return Ok(Some(wait));
                }
                send_verification(conn, &settings, &user, now, &next)?;
                Ok(None)
            })
        })
        .await?;
    if auth.user.email_verified_at.is_some() {
        return Ok(see_other("/"));
    }
    match outcome {
        None => message(
            auth.page(),
            "We sent a new link",
            &[
                "Look for the email from Office Hours and open the link in it. It works for 24 hours.",
            ],
            Some(if going_on {
                (link_next.as_str(), "Back to the time you picked")
            } else {
                ("/", "Back to the home page")
            }),
        ),
        Some(wait) => {
            let mut res = message(
                auth.page(),
                "We just sent you a link",
                &[&format!(
                    "To keep your inbox calm, ask again in {wait} seconds. The last link still works."
                )],
                Some(if going_on {
                    (link_next.as_str(), "Back to the time you picked")
                } else {
                    ("/", "Back to the home page")
                }),
            )?;
            *res.status_mut() = StatusCode::TOO_MANY_REQUESTS;
            Ok(with_retry_after(res, wait))
        }
    }
}

// ---------------------------------------------------------------- password reset

#[derive(Template)]
#[template(path = "accounts/forgot.html")]
struct ForgotPage {
    page: PageCtx,
    email: String,
    errors: FieldErrors,
}

pub async fn forgot_form(viewer: Viewer) -> Result<HttpResponse, AppError> {
    render(&ForgotPage {
        page: viewer.page(),
        email: String::new(),
        errors: FieldErrors::default(),
    })
}

#[derive(Deserialize)]
pub struct ForgotForm {
    #[serde(default)]
    email: String,
}

/// Asks for a reset link. Every address gets one email — the link, or
/// word that no account (or a disabled one) uses it — within the limits
/// of `throttle::mail_request`, so neither the answer nor the outbox (nor
/// `/metrics`) tells which addresses have accounts. The time taken differs
/// by the link's two writes (about half a millisecond), and each address
/// can be asked about only a few times an hour.
pub async fn forgot(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: CsrfForm<ForgotForm>,
) -> Result<HttpResponse, AppError> {
    let CsrfForm { viewer, form } = form;
    let mut errors = FieldErrors::default();
    let page = |errors| ForgotPage {
        page: viewer.page(),
        email: form.email.trim().to_owned(),
        errors,
    };
    let Some(email) = check_email(&mut errors, &form.email) else {
        return render_status(&page(errors), StatusCode::UNPROCESSABLE_ENTITY);
    };
    let now = state.clock.now();
    let ip = ip_of(&req, &state);
    let settings = state.settings.clone();
    let refused = state
        .db(move |conn| {
            conn.transaction(|conn| -> Result<Option<Held>, AppError> {
                if let Some(until) = throttle::mail_ip_blocked_until(conn, &ip, now)? {
                    return Ok(Some(Held::Network(until)));
                }
                let key = throttle::email_key(conn, &email)?;
                if let Some(until) =
                    throttle::mail_request(conn, &key, MailPurpose::Reset, &ip, now)?
                {
                    return Ok(Some(Held::Address(until)));
                }
                let user = service::find_by_email(conn, &email)?;
                let mail = match &user {
                    Some(user) if user.disabled_at.is_none() => {
                        let token =
                            email_tokens::issue(conn, user.id, Purpose::ResetPassword, None, now)?;
                        PasswordReset {
                            display_name: user.display_name.clone(),
                            link: settings.token_link("/reset-password", &token),
                        }
                        .to_email(user.mailbox().map_err(AppError::internal)?, Some(user.id))?
                    }
                    _ => {
                        let to = match &user {
                            Some(user) => user.mailbox(),
                            None => email.parse().map(|a| Mailbox::new(None, a)),
                        }
                        .map_err(AppError::internal)?;
                        ResetUnavailable {
                            display_name: user.as_ref().map(|u| u.display_name.clone()),
                            forgot_url: settings.absolute_url("/forgot-password"),
                            register_url: settings.absolute_url("/register"),
                        }
                        .to_email(to, user.as_ref().map(|u| u.id))?
                    }
                };
                enqueue(conn, now, &settings.smtp_from, &mail).map_err(AppError::internal)?;
                Ok(None)
            })
        })
        .await?;
    match refused {
        Some(held) => too_many_requests(page, held, now),
        None => Ok(see_other("/forgot-password/sent")),
    }
}

/// Why an email a visitor asked for was not sent, and until when.
enum Held {
    /// Their IP asked for too many (`throttle::MAIL_IP_LIMIT`).
    Network(DateTime<Utc>),
    /// The address had one a moment ago, or many this hour
    /// (`throttle::mail_request`): the same for every address, so saying
    /// it reveals nothing about accounts.
    Address(DateTime<Utc>),
}

/// The form again with the wait, next to the email field (429 with
/// Retry-After).
fn too_many_requests<P: Template>(
    page: impl Fn(FieldErrors) -> P,
    held: Held,
    now: DateTime<Utc>,
) -> Result<HttpResponse, AppError> {
    let (until, why) = match held {
        Held::Network(until) => (
            until,
            "Too many requests from your network in the last hour.",
        ),
        Held::Address(until) if until - now <= throttle::MAIL_GAP => (
            until,
            "We emailed this address a moment ago: use the newest email from Office Hours (look in the spam folder too).",
        ),
        Held::Address(until) => (
            until,
            "We have emailed this address as often as we do in an hour: use the newest email from Office Hours (look in the spam folder too).",
        ),
    };
    let wait = (until - now).num_seconds().max(1);
    let mut errors = FieldErrors::default();
    errors.add("email", format!("{why} Try again in {}.", in_minutes(wait)));
    let res = render_status(&page(errors), StatusCode::TOO_MANY_REQUESTS)?;
    Ok(with_retry_after(res, wait))
}

/// A wait in whole minutes, rounded up: "1 minute", "15 minutes".
pub(super) fn in_minutes(wait_secs: i64) -> String {
    let minutes = (wait_secs + 59) / 60;
    format!("{minutes} minute{}", if minutes == 1 { "" } else { "s" })
}

/// `res` telling the client to wait `wait_secs` (a 429 or 503).
pub(super) fn with_retry_after(mut res: HttpResponse, wait_secs: i64) -> HttpResponse {
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(wait_secs));
    res
}

pub async fn forgot_sent(viewer: Viewer) -> Result<HttpResponse, AppError> {
    message(
        viewer.page(),
        "Check your inbox",
        &[
            "We sent an email to that address: if an account uses it, a link to choose a new password (it works once, for 30 minutes); if none does, a note saying so.",
            "No email after a few minutes? Look in your spam folder, or check the address and try again.",
        ],
        Some(("/login", "Back to sign in")),
    )
}

#[derive(Template)]
#[template(path = "accounts/reset.html")]
struct ResetPage {
    page: PageCtx,
    token: String,
    errors: FieldErrors,
}

pub async fn reset_form(
    state: web::Data<AppState>,
    viewer: Viewer,
    query: web::Query<TokenQuery>,
) -> Result<HttpResponse, AppError> {
    let now = state.clock.now();
    let token = query.token.clone();
    let valid = state
        .db(move |conn| email_tokens::peek(conn, Purpose::ResetPassword, &token, now))
        .await?
        .is_some();
    if !valid {
        return link_expired(viewer.page());
    }
    render(&ResetPage {
        page: viewer.page(),
        token: query.token.clone(),
        errors: FieldErrors::default(),
    })
}

#[derive(Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    password: String,
}

pub async fn reset(
    state: web::Data<AppState>,
    form: CsrfForm<ResetForm>,
) -> Result<HttpResponse, AppError> {
    let CsrfForm { viewer, form } = form;
    let mut errors = FieldErrors::default();
    check_new_password(&mut errors, "password", &form.password);
    if !errors.is_empty() {
        return render_status(
            &ResetPage {
                page: viewer.page(),
                token: form.token,
                errors,
            },
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    let hash = state.hasher.hash(form.password).await?;
    let now = state.clock.now();
    let settings = state.settings.clone();
    let token = form.token;
    let done = state
        .db(move |conn| {
            conn.transaction(|conn| -> Result<bool, AppError> {
                let Some(t) = email_tokens::consume(conn, Purpose::ResetPassword, &token, now)?
                else {
                    return Ok(false);
                };
                // A disabled or deleted account keeps its password.
                let Some(user) =
                    service::find(conn, t.user_id)?.filter(|u| u.disabled_at.is_none())
                else {
                    return Ok(false);
                };
                set_password(
                    conn,
                    &settings,
                    &user,
                    &hash,
                    None,
                    now,
                    "user.password_reset",
                )?;
                Ok(true)
            })
        })
        .await?;
    if !done {
        return link_expired(viewer.page());
    }
    Ok(see_other("/login?notice=password-reset"))
}

/// Stores a new password hash, ends the account's sessions (but `keep`)
/// and its unused reset links, tells the owner by email and audits — in
/// the caller's transaction.
pub fn set_password(
    conn: &mut PgConnection,
    settings: &crate::config::Settings,
    user: &User,
    hash: &str,
    keep: Option<uuid::Uuid>,
    now: chrono::DateTime<chrono::Utc>,
    action: &str,
) -> Result<(), AppError> {
    // Only while the account is active: one disabled or deleted since
    // the request was let in is signed out.
    let changed = diesel::update(
        users::table
            .find(user.id)
            .filter(users::disabled_at.is_null()),
    )
    .set((
        users::password_hash.eq(Some(hash)),
        users::updated_at.eq(now),
    ))
    .execute(conn)?;
    if changed == 0 {
        return Err(account_gone());
    }
    session::delete_all_for_user(conn, user.id, keep)?;
    // A reset link asked for before the change would undo it.
    email_tokens::void(conn, user.id, Purpose::ResetPassword, now)?;
    let mail = PasswordChanged {
        display_name: user.display_name.clone(),
        when: crate::timefmt::instant(now, user.time_zone),
        forgot_url: settings.absolute_url("/forgot-password"),
        kept_current_session: keep.is_some(),
    }
    .to_email(user.mailbox().map_err(AppError::internal)?, Some(user.id))?;
    enqueue(conn, now, &settings.smtp_from, &mail).map_err(AppError::internal)?;
    audit::record(
        conn,
        now,
        Some(user.id),
        action,
        Some(("user", user.id)),
        serde_json::json!({}),
    )?;
    Ok(())
}
