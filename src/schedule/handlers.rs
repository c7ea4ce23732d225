//! Mentor schedule pages: `/mentor/settings` (profile, topics and
//! booking settings) and `/mentor/availability` (zone, weekly windows, date
//! overrides, time off, and a preview of the free slots). Every form POSTs
//! to its own path and answers with a redirect back (a fixed notice code)
//! or the page again with 422 and the errors next to that form's fields,
//! the input kept. Thin: parse, call `editor`, render. Every handler takes
//! `Auth<MentorRole>` before the body, so other roles are refused first.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use serde::Deserialize;
use uuid::Uuid;

use super::editor::{
    self, Bound, EditError, SettingsError, SettingsInput, WindowDeleted, weekday_name, window_label,
};
use super::queries;
use crate::accounts::handlers::{Empty, check_zone};
use crate::error::AppError;
use crate::state::AppState;
use crate::web::auth::{Auth, CsrfForm, MentorRole};
use crate::web::forms::{FieldErrors, ZoneOption, zone_options};
use crate::web::{PageCtx, render};

const AVAILABILITY: &str = "/mentor/availability";

fn see_other(location: String) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// A page as a response that no cache keeps.
fn respond(page: &impl Template, status: StatusCode) -> Result<HttpResponse, AppError> {
    let mut res = render(page)?;
    *res.status_mut() = status;
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

impl From<EditError> for AppError {
    fn from(err: EditError) -> Self {
        match err {
            EditError::NotFound => AppError::NotFound,
            other => AppError::internal(other),
        }
    }
}

/// An id from the path; one that is not a UUID names nothing.
fn path_id(raw: &str) -> Result<Uuid, AppError> {
    raw.parse().map_err(|_| AppError::NotFound)
}

#[derive(Deserialize)]
pub struct NoticeQuery {
    notice: Option<String>,
}

// ---------------------------------------------------------------- settings

struct TopicChoice {
    id: Uuid,
    title: String,
    minutes: i32,
    checked: bool,
}

#[derive(Template)]
#[template(path = "schedule/settings.html")]
struct SettingsPage {
    page: PageCtx,
    notice: Option<&'static str>,
    input: SettingsInput,
    topics: Vec<TopicChoice>,
    errors: FieldErrors,
}

fn settings_notice(code: Option<&str>) -> Option<&'static str> {
    match code? {
        "saved" => Some("Your profile and booking settings are saved."),
        _ => None,
    }
}

async fn settings_page(
    state: &AppState,
    auth: &Auth<MentorRole>,
    input: Option<SettingsInput>,
    errors: FieldErrors,
    notice: Option<&'static str>,
) -> Result<SettingsPage, AppError> {
    let id = auth.user.id;
    let now = state.clock.now();
    let (active, offered, profile) = state
        .db(move |conn| -> Result<_, diesel::result::Error> {
            let (active, offered) = editor::topic_choices(conn, id)?;
            Ok((active, offered, queries::profile_or_default(conn, id, now)?))
        })
        .await?;
    let input = input.unwrap_or_else(|| SettingsInput::of(&profile, &offered));
    let topics = active
        .into_iter()
        .map(|t| TopicChoice {
            checked: input.topics.contains(&t.id.to_string()),
            id: t.id,
            title: t.title,
            minutes: t.duration_minutes,
        })
        .collect();
    Ok(SettingsPage {
        page: auth.page(),
        notice,
        input,
        topics,
        errors,
    })
}

pub async fn settings(
    state: web::Data<AppState>,
    auth: Auth<MentorRole>,
    query: web::Query<NoticeQuery>,
) -> Result<HttpResponse, AppError> {
    let page = settings_page(
        &state,
        &auth,
        None,
        FieldErrors::default(),
        settings_notice(query.notice.as_deref()),
    )
    .await?;
    respond(&page, StatusCode::OK)
}

/// The settings form as pairs: the topic checkboxes share one name.
fn settings_input(pairs: Vec<(String, String)>) -> SettingsInput {
    let mut input = SettingsInput::default();
    for (key, value) in pairs {
        match key.as_str() {
            "headline" => input.headline = value,
            "bio" => input.bio = value,
            "meeting_url" => input.meeting_url = value,
            "accepting_bookings" => input.accepting_bookings = !value.is_empty(),
            "buffer_before_min" => input.buffer_before_min = value,
            "buffer_after_min" => input.buffer_after_min = value,
            "min_notice_hours" => input.min_notice_hours = value,
            "horizon_days" => input.horizon_days = value,
            "step_min" => input.step_min = value,
            "max_per_day" => input.max_per_day = value,
            "max_per_week" => input.max_per_week = value,
            "topics" => input.topics.push(value),
            _ => {}
        }
    }
    input
}

pub async fn save_settings(
    state: web::Data<AppState>,
    auth: Auth<MentorRole>,
    form: CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let input = settings_input(form.form);
    let id = auth.user.id;
    let now = state.clock.now();
    let saving = input.clone();
    let result = state
        .db(move |conn| -> Result<_, AppError> {
            match editor::save_settings(conn, id, &saving, now) {
                Ok(()) => Ok(None),
                Err(SettingsError::Invalid(problems)) => Ok(Some(problems)),
                Err(SettingsError::Gone) => Err(AppError::NotFound),
                Err(SettingsError::Db(e)) => Err(e.into()),
            }
        })
        .await?;
    let Some(problems) = result else {
        return Ok(see_other("/mentor/settings?notice=saved".to_owned()));
    };
    let mut errors = FieldErrors::default();
    for (field, problem) in problems {
        errors.add(field, problem.to_string());
    }
    let page = settings_page(&state, &auth, Some(input), errors, None).await?;
    respond(&page, StatusCode::UNPROCESSABLE_ENTITY)
}

// ---------------------------------------------------------------- availability

/// The one notice of the availability page that is a refusal.
const OVERRIDE_KEPT: &str = "The date keeps its own hours: without them, its weekly hours would overlap hours of the day before that run past midnight. Change those first.";

fn availability_notice(code: Option<&str>) -> Option<&'static str> {
    match code? {
        "override-kept" => Some(OVERRIDE_KEPT),
        "zone-saved" => Some(
            "Your time zone is saved. Your weekly hours keep their wall-clock times in the new zone.",
        ),
        "window-added" => Some("The weekly window is added."),
        "window-deleted" => Some("The weekly window is removed."),
        "override-added" => Some("The hours for that date are added."),
        "override-unblocked" => Some(
            "That date was marked unavailable all day; it now has these hours instead. Removing them makes it follow your weekly hours again, not a day off.",
        ),
        "date-blocked" => Some("That date is now unavailable all day."),
        "override-deleted" => Some("The date follows your weekly hours again."),
        "override-window-deleted" => Some("The window is removed from that date."),
        "time-off-added" => Some("The time off is added."),
        "time-off-deleted" => Some("The time off is removed."),
        _ => None,
    }
}

/// Which form the errors on the page belong to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    None,
    Zone,
    Weekly,
    OverrideWindow,
    Blocked,
    TimeOff,
}

impl Form {
    fn as_str(self) -> &'static str {
        match self {
            Form::None => "",
            Form::Zone => "zone",
            Form::Weekly => "weekly",
            Form::OverrideWindow => "override",
            Form::Blocked => "blocked",
            Form::TimeOff => "time-off",
        }
    }
}

/// What the add forms show: blank, or what was just typed.
#[derive(Default, Clone)]
struct Draft {
    time_zone: Option<String>,
    weekly_weekday: String,
    weekly_start: String,
    weekly_end: String,
    override_date: String,
    override_start: String,
    override_end: String,
    blocked_date: String,
    off_from: String,
    off_to: String,
    off_note: String,
}

struct WindowView {
    id: Uuid,
    label: String,
}

struct WeekdayView {
    iso: i16,
    name: &'static str,
    selected: bool,
    windows: Vec<WindowView>,
}

struct OverrideView {
    id: Uuid,
    label: String,
    windows: Vec<WindowView>,
}

struct TimeOffView {
    id: Uuid,
    from: String,
    to: String,
    note: String,
}

struct DayView {
    id: String,
    label: String,
    slots: Vec<String>,
}

#[derive(Template)]
#[template(path = "schedule/availability.html")]
struct AvailabilityPage {
    page: PageCtx,
    notice: Option<&'static str>,
    /// The notice says something was refused.
    notice_warning: bool,
    zone: String,
    zones: Vec<ZoneOption>,
    errors: FieldErrors,
    failed: &'static str,
    draft: Draft,
    weekdays: Vec<WeekdayView>,
    overrides: Vec<OverrideView>,
    time_off: Vec<TimeOffView>,
    today: String,
    duration_min: i32,
    topic: Option<String>,
    accepting: bool,
    offers_topics: bool,
    days: Vec<DayView>,
    slot_count: usize,
}

async fn availability_page(
    state: &AppState,
    auth: &Auth<MentorRole>,
    draft: Draft,
    errors: FieldErrors,
    failed: Form,
    notice: Option<&'static str>,
) -> Result<AvailabilityPage, AppError> {
    let id = auth.user.id;
    let zone = auth.user.time_zone;
    let now = state.clock.now();
    let (listing, preview) = state
        .db(move |conn| -> Result<_, diesel::result::Error> {
            Ok((
                editor::listing(conn, id, zone, now)?,
                editor::preview(conn, id, zone, now)?,
            ))
        })
        .await?;
    let weekdays = (1..=7)
        .filter_map(|iso: i16| {
            let day = super::availability::weekday_of(iso)?;
            Some(WeekdayView {
                iso,
                name: weekday_name(day),
                selected: draft.weekly_weekday == iso.to_string(),
                windows: listing
                    .weekly
                    .iter()
                    .filter(|r| r.weekday == iso)
                    .map(|r| WindowView {
                        id: r.id,
                        label: window_label(r.start_time, r.end_time),
                    })
                    .collect(),
            })
        })
        .collect();
    let overrides = listing
        .overrides
        .iter()
        .map(|o| OverrideView {
            id: o.id,
            label: o.on_date.format("%a %-d %b %Y").to_string(),
            windows: o
                .windows
                .iter()
                .map(|(id, s, e)| WindowView {
                    id: *id,
                    label: window_label(*s, *e),
                })
                .collect(),
        })
        .collect();
    let time_off = listing
        .time_off
        .iter()
        .map(|t| TimeOffView {
            id: t.id,
            from: crate::timefmt::recent(t.starts_at, zone, now),
            to: crate::timefmt::recent(t.ends_at, zone, now),
            note: t.note.clone(),
        })
        .collect();
    let slot_count = preview.days.iter().map(|(_, s)| s.len()).sum();
    let days = preview
        .days
        .iter()
        .map(|(date, slots)| DayView {
            id: format!("day-{date}"),
            label: date.format("%a %-d %b").to_string(),
            slots: slots
                .iter()
                .map(|s| crate::timefmt::clock(s.start, zone))
                .collect(),
        })
        .collect();
    let zone_name = zone.name().to_owned();
    Ok(AvailabilityPage {
        page: auth.page(),
        notice,
        notice_warning: notice == Some(OVERRIDE_KEPT),
        zones: zone_options(draft.time_zone.as_deref().unwrap_or(&zone_name)),
        zone: zone_name,
        errors,
        failed: failed.as_str(),
        draft,
        weekdays,
        overrides,
        time_off,
        today: now.with_timezone(&zone).date_naive().to_string(),
        duration_min: preview.duration_min,
        topic: preview.topic,
        accepting: preview.profile.accepting_bookings,
        offers_topics: preview.offers_topics,
        days,
        slot_count,
    })
}

pub async fn availability(
    state: web::Data<AppState>,
    auth: Auth<MentorRole>,
    query: web::Query<NoticeQuery>,
) -> Result<HttpResponse, AppError> {
    let page = availability_page(
        &state,
        &auth,
        Draft::default(),
        FieldErrors::default(),
        Form::None,
        availability_notice(query.notice.as_deref()),
    )
    .await?;
    respond(&page, StatusCode::OK)
}

/// The page again, 422, with the errors of `failed`'s form.
async fn invalid(
    state: &AppState,
    auth: &Auth<MentorRole>,
    draft: Draft,
    errors: FieldErrors,
    failed: Form,
) -> Result<HttpResponse, AppError> {
    let page = availability_page(state, auth, draft, errors, failed, None).await?;
    respond(&page, StatusCode::UNPROCESSABLE_ENTITY)
}

fn back(notice: &str) -> HttpResponse {
    see_other(format!("{AVAILABILITY}?notice={notice}"))
}

/// The field of `form` an editor error belongs next to; `None` for errors
/// that are not about the input.
fn field_of(form: Form, err: &EditError) -> Option<&'static str> {
    use EditError as E;
    let (start, end, date) = match form {
        Form::Weekly => ("weekly_start", "weekly_end", "weekly_weekday"),
        Form::OverrideWindow => ("override_start", "override_end", "override_date"),
        Form::Blocked => ("blocked_date", "blocked_date", "blocked_date"),
        Form::TimeOff => ("off_from", "off_to", "off_from"),
        Form::Zone | Form::None => ("time_zone", "time_zone", "time_zone"),
    };
    Some(match err {
        E::NoSuchWeekday => "weekly_weekday",
        E::OffGrid(Bound::Start) => start,
        E::OffGrid(Bound::End) => end,
        E::Overlaps { .. } => start,
        E::DateInPast | E::DateTooFar => date,
        E::EndNotAfterStart | E::AlreadyOver | E::TooLong => end,
        E::NoteTooLong | E::NoteControlChars => "off_note",
        E::NotFound | E::Db(_) => return None,
    })
}

/// Runs an editor change; a refused one comes back as the page with the
/// error next to its field.
async fn apply<T: Send + 'static>(
    state: &AppState,
    auth: &Auth<MentorRole>,
    draft: Draft,
    form: Form,
    change: impl FnOnce(&mut diesel::PgConnection) -> Result<T, EditError> + Send + 'static,
) -> Result<Result<T, HttpResponse>, AppError> {
    let result = state
        .db(move |conn| -> Result<_, AppError> {
            match change(conn) {
                Ok(v) => Ok(Ok(v)),
                Err(err) => match field_of(form, &err) {
                    Some(field) => Ok(Err((field, err.to_string()))),
                    None => Err(err.into()),
                },
            }
        })
        .await?;
    match result {
        Ok(v) => Ok(Ok(v)),
        Err((field, message)) => {
            let mut errors = FieldErrors::default();
            errors.add(field, message);
            Ok(Err(invalid(state, auth, draft, errors, form).await?))
        }
    }
}

fn parse_time(errors: &mut FieldErrors, field: &'static str, raw: &str) -> Option<NaiveTime> {
    let raw = raw.trim();
    if raw.is_empty() {
        errors.add(field, "Enter a time, e.g. 09:30.");
        return None;
    }
    let parsed = NaiveTime::parse_from_str(raw, "%H:%M")
        .or_else(|_| NaiveTime::parse_from_str(raw, "%H:%M:%S"));
    match parsed {
        Ok(t) => Some(t),
        Err(_) => {
            errors.add(field, "Enter a time as hours and minutes, e.g. 09:30.");
            None
        }
    }
}

fn parse_date(errors: &mut FieldErrors, field: &'static str, raw: &str) -> Option<NaiveDate> {
    let raw = raw.trim();
    if raw.is_empty() {
        errors.add(field, "Enter a date.");
        return None;
    }
    match NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        Ok(d) => Some(d),
        Err(_) => {
            errors.add(field, "Enter a date as year-month-day, e.g. 2026-07-01.");
            None
        }
    }
}

fn parse_local(errors: &mut FieldErrors, field: &'static str, raw: &str) -> Option<NaiveDateTime> {
    let raw = raw.trim();
    if raw.is_empty() {
        errors.add(field, "Enter a date and time.");
        return None;
    }
    let parsed = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(raw, f).ok());
    if parsed.is_none() {
        errors.add(
            field,
            "Enter a date and time as year-month-day and hours:minutes, e.g. 2026-07-01 09:30.",
        );
    }
    parsed
}

#[derive(Deserialize)]
pub struct ZoneForm {
    #[serde(default)]
    time_zone: String,
}

pub async fn set_zone(
    state: web::Data<AppState>,
    auth: Auth<MentorRole>,
    form: CsrfForm<ZoneForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.form;
    let mut errors = FieldErrors::default();
    let Some(zone) = check_zone(&mut errors, &form.time_zone) else {
        let draft = Draft {
            time_zone: Some(form.time_zone.trim().to_owned()),
            ..Draft::default()
        };
        return invalid(&state, &auth, draft, errors, Form::Zone).await;
    };
    let (id, now) = (auth.user.id, state.clock.now());
    state
        .db(move |conn| editor::set_zone(conn, id, zone, now))
        .await?;
    Ok(back("zone-saved"))
}

#[derive(Deserialize)]
pub struct WeeklyForm {
    #[serde(default)]
    weekly_weekday: String,
    #[serde(default)]
    weekly_start: String,
    #[serde(default)]
    weekly_end: String,
}

pub async fn add_weekly(
    state: web::Data<AppState>,
    auth: Auth<MentorRole>,
    form: CsrfForm<WeeklyForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.form;
    let draft = Draft {
        weekly_weekday: form.weekly_weekday.trim().to_owned(),
        weekly_start: form.weekly_start.trim().to_owned(),
        weekly_end: form.weekly_end.trim().to_owned(),
        ..Draft::default()
    };
    let mut errors = FieldErrors::default();
    let weekday = match form.weekly_weekday.trim().parse::<i16>() {
        Ok(d) if (1..=7).contains(&d) => Some(d),
        _ => {
            errors.add("weekly_weekday", EditError::NoSuchWeekday.to_string());
            None
        }
    };
    let start = parse_time(&mut errors, "weekly_start", &form.weekly_start);
    let end = parse_time(&mut errors, "weekly_end", &form.weekly_end);
    let (Some(weekday), Some(start), Some(end)) = (weekday, start, end) else {
        return invalid(&state, &auth, draft, errors, Form::Weekly).await;
    };
    let (id, now) = (auth.user.id, state.clock.now());
    match apply(&state, &auth, draft, Form::Weekly, move |conn| {
        editor::add_weekly_window(conn, id, weekday, start, end, now)
    })
    .await?
    {
        Ok(_) => Ok(back("window-added")),
        Err(page) => Ok(page),
    }
}

pub async fn delete_weekly(
    state: web::Data<AppState>,
    auth: Auth<MentorRole>,
    path: web::Path<String>,
    _form: CsrfForm<Empty>,
) -> Result<HttpResponse, AppError> {
    let rule = path_id(&path)?;
    let (id, now) = (auth.user.id, state.clock.now());
    state
        .db(move |conn| editor::delete_weekly_window(conn, id, rule, now))
        .await?;
    Ok(back("window-deleted"))
}

#[derive(Deserialize)]
pub struct OverrideWindowForm {
    #[serde(default)]
    override_date: String,
    #[serde(default)]
    override_start: String,
    #[serde(default)]
    override_end: String,
}

pub async fn add_override_window(
    state: web::Data<AppState>,
    auth: Auth<MentorRole>,
    form: CsrfForm<OverrideWindowForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.form;
    let draft = Draft {
        override_date: form.override_date.trim().to_owned(),
        override_start: form.override_start.trim().to_owned(),
        override_end: form.override_end.trim().to_owned(),
        ..Draft::default()
    };
    let mut errors = FieldErrors::default();
    let date = parse_date(&mut errors, "override_date", &form.override_date);
    let start = parse_time(&mut errors, "override_start", &form.override_start);
    let end = parse_time(&mut errors, "override_end", &form.override_end);
    let (Some(date), Some(start), Some(end)) = (date, start, end) else {
        return invalid(&state, &auth, draft, errors, Form::OverrideWindow).await;
    };
    let (id, now) = (auth.user.id, state.clock.now());
    match apply(&state, &auth, draft, Form::OverrideWindow, move |conn| {
        editor::add_override_window(conn, id, date, start, end, now)
    })
    .await?
    {
        Ok(true) => Ok(back("override-unblocked")),
        Ok(false) => Ok(back("override-added")),
        Err(page) => Ok(page),
    }
}

#[derive(Deserialize)]
pub struct BlockedForm {
    #[serde(default)]
    blocked_date: String,
}

pub async fn block_date(
    state: web::Data<AppState>,
    auth: Auth<MentorRole>,
    form: CsrfForm<BlockedForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.form;
    let draft = Draft {
        blocked_date: form.blocked_date.trim().to_owned(),
        ..Draft::default()
    };
    let mut errors = FieldErrors::default();
    let Some(date) = parse_date(&mut errors, "blocked_date", &form.blocked_date) else {
        return invalid(&state, &auth, draft, errors, Form::Blocked).await;
    };
    let (id, now) = (auth.user.id, state.clock.now());
    match apply(&state, &auth, draft, Form::Blocked, move |conn| {
        editor::block_date(conn, id, date, now)
    })
    .await?
    {
        Ok(_) => Ok(back("date-blocked")),
        Err(page) => Ok(page),
    }
}

pub async fn delete_override(
    state: web::Data<AppState>,
    auth: Auth<MentorRole>,
    path: web::Path<String>,
    _form: CsrfForm<Empty>,
) -> Result<HttpResponse, AppError> {
    let target = path_id(&path)?;
    let (id, now) = (auth.user.id, state.clock.now());
    let result = state
        .db(move |conn| Ok::<_, AppError>(editor::delete_override(conn, id, target, now)))
        .await?;
    Ok(back(match result {
        Ok(()) => "override-deleted",
        Err(EditError::Overlaps { .. }) => "override-kept",
        Err(e) => return Err(e.into()),
    }))
}

pub async fn delete_override_window(
    state: web::Data<AppState>,
    auth: Auth<MentorRole>,
    path: web::Path<String>,
    _form: CsrfForm<Empty>,
) -> Result<HttpResponse, AppError> {
    let target = path_id(&path)?;
    let (id, now) = (auth.user.id, state.clock.now());
    let outcome = state
        .db(move |conn| Ok::<_, AppError>(editor::delete_override_window(conn, id, target, now)))
        .await?;
    Ok(back(match outcome {
        Ok(WindowDeleted::Window) => "override-window-deleted",
        Ok(WindowDeleted::Override) => "override-deleted",
        Err(EditError::Overlaps { .. }) => "override-kept",
        Err(e) => return Err(e.into()),
    }))
}

#[derive(Deserialize)]
pub struct TimeOffForm {
    #[serde(default)]
    off_from: String,
    #[serde(default)]
    off_to: String,
    #[serde(default)]
    off_note: String,
}

pub async fn add_time_off(
    state: web::Data<AppState>,
    auth: Auth<MentorRole>,
    form: CsrfForm<TimeOffForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.form;
    let draft = Draft {
        off_from: form.off_from.trim().to_owned(),
        off_to: form.off_to.trim().to_owned(),
        off_note: form.off_note.trim().to_owned(),
        ..Draft::default()
    };
    let mut errors = FieldErrors::default();
    let from = parse_local(&mut errors, "off_from", &form.off_from);
    let to = parse_local(&mut errors, "off_to", &form.off_to);
    let (Some(from), Some(to)) = (from, to) else {
        return invalid(&state, &auth, draft, errors, Form::TimeOff).await;
    };
    let (id, now) = (auth.user.id, state.clock.now());
    let note = form.off_note;
    match apply(&state, &auth, draft, Form::TimeOff, move |conn| {
        editor::add_time_off(conn, id, from, to, &note, now)
    })
    .await?
    {
        Ok(_) => Ok(back("time-off-added")),
        Err(page) => Ok(page),
    }
}

pub async fn delete_time_off(
    state: web::Data<AppState>,
    auth: Auth<MentorRole>,
    path: web::Path<String>,
    _form: CsrfForm<Empty>,
) -> Result<HttpResponse, AppError> {
    let target = path_id(&path)?;
    let (id, now) = (auth.user.id, state.clock.now());
    state
        .db(move |conn| editor::delete_time_off(conn, id, target, now))
        .await?;
    Ok(back("time-off-deleted"))
}
