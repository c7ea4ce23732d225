//! The mentor's workspace pages: `GET /mentor` (the dashboard: sessions,
//! counts, setup, calendar feed), `POST /mentor/sessions/{id}/outcome`,
//! `POST /mentor/feed` (a new feed URL; the dashboard shows the current
//! one) and the feed itself,
//! `GET /mentor/feed/{token}.ics` (no sign-in: the token is the secret).
//! Thin: parse, call `mentor`, render. The mentor pages take
//! `Auth<MentorRole>` first, so other roles are refused before anything.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

use super::mentor::{self, Dashboard, MentorSession, Outcome, OutcomeError, PeriodCounts};
use super::model::Status;
use super::service::{Ctx, Party};
use crate::accounts::User;
use crate::config::Settings;
use crate::error::AppError;
use crate::state::AppState;
use crate::timefmt;
use crate::web::auth::{Auth, CsrfForm, MentorRole};
use crate::web::{PageCtx, render};

impl From<OutcomeError> for AppError {
    fn from(err: OutcomeError) -> Self {
        match err {
            OutcomeError::NotFound => AppError::NotFound,
            other => AppError::internal(other),
        }
    }
}

fn respond(page: &impl Template, status: StatusCode) -> Result<HttpResponse, AppError> {
    let mut res = render(page)?;
    *res.status_mut() = status;
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location.to_owned()))
        .finish()
}

/// One session as the dashboard lists it.
struct SessionView {
    id: Uuid,
    href: String,
    when: String,
    learner_name: String,
    topic_title: String,
    goals: String,
    /// None to show: erased with the learner's account.
    goals_erased: bool,
    status: &'static str,
    status_class: &'static str,
    /// Still to start: the cancel form.
    can_cancel: bool,
    /// Started at most 7 days ago, not cancelled: the outcome buttons.
    can_mark: bool,
    /// Who cancelled and why, or when the outcome was marked.
    note: Option<String>,
    /// Why marking this one was refused just now.
    error: Option<String>,
}

struct Tally {
    label: &'static str,
    /// Which week or month, on a line of its own (the table fits a phone).
    period: String,
    counts: PeriodCounts,
}

#[derive(Template)]
#[template(path = "bookings/mentor_dashboard.html")]
struct DashboardPage {
    page: PageCtx,
    notice: Option<&'static str>,
    /// A refusal, named at the top of the page (and next to the session).
    error: Option<String>,
    zone_name: String,
    meeting_url: Option<String>,
    today: Vec<SessionView>,
    upcoming: Vec<SessionView>,
    past: Vec<SessionView>,
    tallies: Vec<Tally>,
    accepting: bool,
    topics: usize,
    windows: usize,
    /// When the current feed URL was made.
    feed_created: Option<String>,
    /// Its URL, unless it cannot be derived again (see `mentor::Feed`).
    feed_url: Option<String>,
    /// Just made (`?notice=feed-made` / `feed-replaced`): said in the
    /// feed's section.
    feed_notice: Option<&'static str>,
}

fn notice_text(code: Option<&str>) -> Option<&'static str> {
    match code? {
        "completed" => Some("Saved: the session is marked completed."),
        "no_show" => Some("Saved: the session is marked as a no-show."),
        _ => None,
    }
}

fn refusal_text(err: &OutcomeError) -> &'static str {
    match err {
        OutcomeError::NotStarted => {
            "This session has not started yet: its outcome can be marked once it starts."
        }
        OutcomeError::TooLate => {
            "This session started more than 7 days ago: its outcome can no longer be changed."
        }
        OutcomeError::Cancelled => "This session was cancelled, so it has no outcome to mark.",
        OutcomeError::NotFound | OutcomeError::Db(_) => "This session cannot be marked.",
    }
}

fn view(s: &MentorSession, me: &User, now: DateTime<Utc>) -> SessionView {
    let b = &s.booking;
    let zone = me.time_zone;
    let status = b.status();
    let (label, class) = if status == Status::Confirmed && b.start_at <= now {
        ("Not marked yet", "confirmed")
    } else {
        (status.label(), status.as_str())
    };
    let note = match status {
        Status::Cancelled => {
            let by = match (
                b.cancelled_by,
                b.cancelled_as.as_deref().and_then(Party::parse),
            ) {
                (Some(id), _) if id == me.id => "you".to_owned(),
                (_, Some(Party::Learner)) => s.learner.display_name.clone(),
                _ => "an administrator".to_owned(),
            };
            let mut n = format!("Cancelled by {by}");
            if let Some(r) = &b.cancel_reason {
                n.push_str(&format!(": “{r}”"));
            }
            Some(n)
        }
        Status::Completed | Status::NoShow => s
            .outcome_marked_at
            .map(|at| format!("Marked on {}", timefmt::short(at, zone))),
        Status::Confirmed => None,
    };
    SessionView {
        id: b.id,
        href: format!("/bookings/{}", b.id),
        when: timefmt::when(b.start_at, b.end_at, zone),
        learner_name: s.learner.display_name.clone(),
        topic_title: s.topic.title.clone(),
        goals: b.goals.clone(),
        goals_erased: crate::accounts::deletion::goals_erased(&b.goals, &s.learner),
        status: label,
        status_class: class,
        can_cancel: b.is_upcoming(now),
        can_mark: mentor::outcome_open(b, now).is_ok(),
        note,
        error: None,
    }
}

/// Options of one rendering of the dashboard.
#[derive(Default)]
struct Show {
    notice: Option<&'static str>,
    refused: Option<(Uuid, &'static str)>,
    feed_notice: Option<&'static str>,
}

fn dashboard_page(
    settings: &Settings,
    page: PageCtx,
    me: &User,
    d: Dashboard,
    now: DateTime<Utc>,
    o: Show,
) -> DashboardPage {
    let zone = me.time_zone;
    let today_date = now.with_timezone(&zone).date_naive();
    let (mut today, mut upcoming, mut past) = (Vec::new(), Vec::new(), Vec::new());
    for s in &d.sessions {
        let b = &s.booking;
        let mut v = view(s, me, now);
        if let Some((id, why)) = o.refused
            && id == b.id
        {
            v.error = Some(why.to_owned());
        }
        if b.status() == Status::Confirmed && b.end_at > now {
            if b.start_at.with_timezone(&zone).date_naive() == today_date {
                today.push(v);
            } else {
                upcoming.push(v);
            }
        } else {
            past.push(v);
        }
    }
    // Past: the most recent first.
    past.reverse();
    let tallies = vec![
        Tally {
            label: "This week",
            period: format!("from {}", d.week.first_day.format("%a %-d %b")),
            counts: d.counts.week,
        },
        Tally {
            label: "This month",
            period: d.month.first_day.format("%B %Y").to_string(),
            counts: d.counts.month,
        },
    ];
    DashboardPage {
        page,
        notice: o.notice,
        error: o.refused.map(|(_, why)| why.to_owned()),
        zone_name: zone.name().to_owned(),
        meeting_url: d.profile.meeting_url.clone(),
        today,
        upcoming,
        past,
        tallies,
        accepting: d.profile.accepting_bookings,
        topics: d.topics_offered,
        windows: d.weekly_windows,
        feed_created: d.feed.as_ref().map(|f| timefmt::short(f.created_at, zone)),
        // Tokens are URL-safe base64: they go into the path as they are.
        feed_url: d
            .feed
            .and_then(|f| f.token)
            .map(|t| settings.absolute_url(&format!("/mentor/feed/{t}.ics"))),
        feed_notice: o.feed_notice,
    }
}

async fn render_dashboard(
    state: &AppState,
    auth: &Auth<MentorRole>,
    status: StatusCode,
    o: Show,
) -> Result<HttpResponse, AppError> {
    let me = auth.user.clone();
    let now = state.clock.now();
    let key = state.secret_key.clone();
    let d = state
        .db(move |conn| mentor::dashboard(conn, key.expose(), &me, now))
        .await?;
    respond(
        &dashboard_page(&state.settings, auth.page(), &auth.user, d, now, o),
        status,
    )
}

#[derive(Deserialize)]
pub struct NoticeQuery {
    notice: Option<String>,
}

/// `GET /mentor`: the mentor's dashboard.
pub async fn dashboard(
    state: web::Data<AppState>,
    auth: Auth<MentorRole>,
    query: web::Query<NoticeQuery>,
) -> Result<HttpResponse, AppError> {
    let o = Show {
        notice: notice_text(query.notice.as_deref()),
        feed_notice: match query.notice.as_deref() {
            Some("feed-made") => {
                Some("Your feed URL is ready: add it to your calendar app as shown below.")
            }
            Some("feed-replaced") => Some(
                "Your new feed URL is below. The earlier one has stopped working: calendars subscribed to it get no more updates.",
            ),
            _ => None,
        },
        ..Show::default()
    };
    render_dashboard(&state, &auth, StatusCode::OK, o).await
}

#[derive(Deserialize)]
pub struct OutcomeForm {
    #[serde(default)]
    outcome: String,
}

/// `POST /mentor/sessions/{id}/outcome`: completed or no-show. Only the
/// booking's own mentor; anyone else gets 404.
pub async fn mark_outcome(
    state: web::Data<AppState>,
    auth: Auth<MentorRole>,
    path: web::Path<String>,
    form: CsrfForm<OutcomeForm>,
) -> Result<HttpResponse, AppError> {
    let id: Uuid = path.parse().map_err(|_| AppError::NotFound)?;
    let outcome = Outcome::parse(&form.form.outcome).ok_or(AppError::BadRequest)?;
    let me = auth.user.id;
    let now = state.clock.now();
    let result = state
        .db(move |conn| -> Result<_, AppError> {
            Ok(mentor::mark_outcome(conn, now, me, id, outcome))
        })
        .await?;
    match result {
        Ok(b) => Ok(see_other(&format!(
            "/mentor?notice={}#session-{}",
            b.status, b.id
        ))),
        Err(e @ (OutcomeError::NotStarted | OutcomeError::TooLate | OutcomeError::Cancelled)) => {
            let o = Show {
                refused: Some((id, refusal_text(&e))),
                ..Show::default()
            };
            render_dashboard(&state, &auth, StatusCode::CONFLICT, o).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct EmptyForm {}

/// `POST /mentor/feed`: a new feed URL (the old one stops working), then
/// back to the dashboard, which shows it: reloading that page changes
/// nothing.
pub async fn regenerate_feed(
    state: web::Data<AppState>,
    auth: Auth<MentorRole>,
    _form: CsrfForm<EmptyForm>,
) -> Result<HttpResponse, AppError> {
    let me = auth.user.id;
    let now = state.clock.now();
    let key = state.secret_key.clone();
    let replaced = state
        .db(move |conn| mentor::regenerate_feed(conn, key.expose(), now, me))
        .await?;
    let notice = if replaced {
        "feed-replaced"
    } else {
        "feed-made"
    };
    Ok(see_other(&format!("/mentor?notice={notice}#feed-heading")))
}

/// `GET /mentor/feed/{token}.ics`: the subscribable calendar.
pub async fn feed(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let raw = path.into_inner();
    let token = mentor::feed_token(&raw)
        .ok_or(AppError::NotFound)?
        .to_owned();
    let st = state.clone();
    let body = state
        .db(move |conn| -> Result<_, AppError> {
            let Some(owner) = mentor::feed_owner(conn, &token)? else {
                return Ok(None);
            };
            let ctx = Ctx {
                now: st.clock.now(),
                settings: &st.settings,
                key: st.secret_key.expose(),
            };
            Ok(Some(mentor::feed(conn, ctx, &owner)?))
        })
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/calendar; charset=utf-8"))
        // The URL is a secret: no shared cache keeps the answer.
        .insert_header((header::CACHE_CONTROL, "private, no-cache"))
        .insert_header(("X-Robots-Tag", "noindex"))
        .body(body))
}
