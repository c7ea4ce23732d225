//! Booking pages: `/book` (confirm), `POST /bookings`, `/bookings/{id}`
//! (+ `.ics`, cancel, reschedule), `/manage/{token}` (the same actions
//! without signing in) and `/me/sessions`. Thin: parse, call `service`,
//! render. A taken slot answers 409 with the learner's text kept and the
//! nearest free slots; a fairness limit answers 403 naming it.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use uuid::Uuid;

use super::facts;
use super::manage::{self, Grant};
use super::model::{Booking, Policy, Status, load_policy};
use super::notify;
use super::policy::{Limit, limit_text};
use super::reminders;
use super::service::{self, Actor, BookError, BookRequest, Ctx, Party};
use crate::accounts::User;
use crate::accounts::deletion::{goals_erased, is_erased};
use crate::email::ics;
use crate::error::AppError;
use crate::schedule::public::load::TopicInfo;
use crate::schedule::public::{confirm_href, mentor_week_href, rfc3339_utc};
use crate::state::AppState;
use crate::timefmt;
use crate::web::auth::{Auth, CsrfForm, Viewer};
use crate::web::forms::zone_from_query;
use crate::web::{PageCtx, render};

/// Days of free slots the reschedule page lists at once.
const RESCHEDULE_DAYS: u64 = 14;

fn respond(page: &impl Template, status: StatusCode) -> Result<HttpResponse, AppError> {
    let mut res = render(page)?;
    *res.status_mut() = status;
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

fn see_other(location: String) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// `GET` on a booking form's action — the address a refused form is shown
/// at, reloaded or opened again later: back to the page the form is on
/// (nothing is done; that page checks who may see it).
pub async fn form_action_page(req: actix_web::HttpRequest) -> Result<HttpResponse, AppError> {
    let info = req.match_info();
    let id = || {
        info.get("id")
            .and_then(|raw| raw.parse::<Uuid>().ok())
            .ok_or(AppError::NotFound)
    };
    let to = match req.match_pattern().as_deref() {
        Some("/bookings") => "/me/sessions".to_owned(),
        Some("/bookings/{id}/cancel") => format!("/bookings/{}", id()?),
        Some("/manage/{token}/cancel") => {
            let token = info.get("token").unwrap_or_default();
            if token.is_empty()
                || !token
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err(AppError::NotFound);
            }
            format!("/manage/{token}")
        }
        // The list with the filters the form was sent from.
        Some("/admin/bookings/{id}/cancel") => {
            id()?;
            let query = req.query_string();
            if query.is_empty() || HeaderValue::from_str(query).is_err() {
                "/admin/bookings".to_owned()
            } else {
                format!("/admin/bookings?{query}")
            }
        }
        Some("/mentor/sessions/{id}/outcome") => format!("/mentor#session-{}", id()?),
        _ => return Err(AppError::NotFound),
    };
    Ok(see_other(to))
}

fn parse_start(raw: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(raw.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

impl From<BookError> for AppError {
    fn from(err: BookError) -> Self {
        match err {
            BookError::NotFound => AppError::NotFound,
            other => AppError::internal(other),
        }
    }
}

// ---------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------

#[derive(Template)]
#[template(path = "bookings/message.html")]
struct MessagePage {
    page: PageCtx,
    heading: String,
    paragraphs: Vec<String>,
    links: Vec<(String, String)>,
    /// Offer the "resend verification" button; its new link leads back to
    /// this page (`next`).
    resend: Option<String>,
    /// The learner's text, so a refusal never loses it.
    kept_goals: Option<String>,
}

fn message(
    page: PageCtx,
    status: StatusCode,
    heading: &str,
    paragraphs: Vec<String>,
    links: Vec<(String, String)>,
) -> Result<HttpResponse, AppError> {
    respond(
        &MessagePage {
            page,
            heading: heading.to_owned(),
            paragraphs,
            links,
            resend: None,
            kept_goals: None,
        },
        status,
    )
}

/// The refusal of a learner whose address is not confirmed yet; a new
/// link they ask for here leads back to `next`, the time they picked.
fn unverified(page: PageCtx, next: String) -> Result<HttpResponse, AppError> {
    respond(
        &MessagePage {
            page,
            heading: "Confirm your email address first".into(),
            paragraphs: vec![
                "Before you book a session, open the link we emailed you to confirm your address. That way your mentor can reach you.".into(),
            ],
            links: vec![],
            resend: Some(next),
            kept_goals: None,
        },
        StatusCode::FORBIDDEN,
    )
}

// ---------------------------------------------------------------------
// Confirm and create
// ---------------------------------------------------------------------

#[derive(Deserialize)]
pub struct BookQuery {
    mentor: Option<String>,
    topic: Option<String>,
    start: Option<String>,
    /// The zone the slot was picked in (the public pages' `?tz=`).
    tz: Option<String>,
}

struct Choice {
    value: String,
    label: String,
    checked: bool,
}

#[derive(Template)]
#[template(path = "bookings/confirm.html")]
struct ConfirmPage {
    page: PageCtx,
    /// The mentor's page at the asked time's week, for the topic (and the
    /// zone the time was picked in).
    mentor_href: String,
    mentor_id: Uuid,
    mentor_name: String,
    topic_slug: String,
    topic_title: String,
    duration: i32,
    /// The time in the learner's zone, then the mentor's when it differs.
    when: String,
    when_mentor: Option<String>,
    /// The time in the zone the slot was picked in, when that is neither
    /// the learner's nor the mentor's, with the zone's name.
    when_browsed: Option<(String, String)>,
    /// That zone, carried by the form so a refusal's page keeps the line.
    browsed_zone: Option<String>,
    /// Set when the requested time was taken: why, and the free choices.
    conflict: Option<String>,
    /// The page's heading then.
    conflict_heading: &'static str,
    choices: Vec<Choice>,
    /// Nearer free times were left out because the learner's limits
    /// refuse them.
    limited: bool,
    start: String,
    goals: String,
    goals_error: Option<String>,
    key: Uuid,
    /// Which reminders there will be ("What happens next").
    reminders: String,
}

/// How long a learner may take over the form before a reminder promised
/// by the confirm page would come too late: closer than this, the page
/// says by when to book.
const FORM_MINUTES: i64 = 15;

/// The confirm page's line on reminders for a session at `start` seen at
/// `now` (`None`: several times to choose from): only those it will get,
/// a close one with the time to book by.
fn reminders_line(start: Option<DateTime<Utc>>, now: DateTime<Utc>, zone: Tz) -> String {
    let Some(start) = start else {
        let [a, b] = reminders::lead_words();
        return format!(
            "Reminders come {a} and {b} before the start, when it is still that far away."
        );
    };
    let leads: Vec<String> = reminders::promised(start, now)
        .into_iter()
        .map(|(words, moment)| {
            if moment - now <= Duration::minutes(FORM_MINUTES) {
                let by = timefmt::clock(moment, zone);
                format!("{words} (if you book before {by})")
            } else {
                words.to_owned()
            }
        })
        .collect();
    match leads.as_slice() {
        [] => "It starts too soon for a reminder.".to_owned(),
        [one] => format!("A reminder comes {one} before the start."),
        [first @ .., last] => format!(
            "Reminders come {} and {last} before the start.",
            first.join(", ")
        ),
    }
}

/// What the confirm page shows about a mentor, topic and start.
struct Target {
    mentor_id: Uuid,
    mentor_name: String,
    mentor_zone: Tz,
    topic: TopicInfo,
    start: DateTime<Utc>,
}

impl Target {
    fn of(mentor: User, topic: crate::topics::Topic, start: DateTime<Utc>) -> Self {
        Target {
            mentor_id: mentor.id,
            mentor_name: mentor.display_name,
            mentor_zone: mentor.time_zone,
            topic: topic.into(),
            start,
        }
    }

    fn nearby(n: service::Nearby, start: DateTime<Utc>) -> (Self, Vec<DateTime<Utc>>) {
        let target = Target {
            mentor_id: n.mentor.id,
            mentor_zone: n.mentor.zone(),
            mentor_name: n.mentor.display_name,
            topic: n.topic,
            start,
        };
        (target, n.starts)
    }
}

fn load_target(
    conn: &mut diesel::PgConnection,
    mentor: Uuid,
    topic_slug: &str,
) -> Result<Option<(User, crate::topics::Topic)>, diesel::result::Error> {
    let Some(mentor) = crate::accounts::service::find(conn, mentor)? else {
        return Ok(None);
    };
    let Some(topic) = crate::topics::find_by_slug(conn, topic_slug)? else {
        return Ok(None);
    };
    Ok(Some((mentor, topic)))
}

fn when_pair(
    learner: &User,
    (mentor_name, mentor_zone): (&str, Tz),
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> (String, Option<String>) {
    let mine = timefmt::when(start, end, learner.time_zone);
    let theirs = (mentor_zone != learner.time_zone).then(|| {
        format!(
            "{mentor_name}'s time: {}",
            timefmt::when(start, end, mentor_zone)
        )
    });
    (mine, theirs)
}

/// The confirm form's own state: the goals as typed, their error, the
/// idempotency key its next submit carries, and the zone the slot was
/// picked in.
struct Draft {
    goals: String,
    goals_error: Option<String>,
    key: Uuid,
    browsed: Option<Tz>,
}

impl Draft {
    /// A form not sent yet, or sent again as a new request.
    fn fresh(goals: String, browsed: Option<Tz>) -> Self {
        Draft {
            goals,
            goals_error: None,
            key: Uuid::new_v4(),
            browsed,
        }
    }
}

/// Why the time asked for cannot be booked, the free times offered
/// instead, and whether nearer ones were left out for the learner's
/// limits.
struct Conflict {
    why: String,
    alternatives: Vec<DateTime<Utc>>,
    limited: bool,
}

fn confirm_page(
    page: PageCtx,
    learner: &User,
    t: &Target,
    draft: Draft,
    conflict: Option<Conflict>,
    now: DateTime<Utc>,
) -> ConfirmPage {
    let Draft {
        goals,
        goals_error,
        key,
        browsed,
    } = draft;
    let reminders = reminders_line(
        conflict.is_none().then_some(t.start),
        now,
        learner.time_zone,
    );
    let end = t.start + Duration::minutes(t.topic.duration_minutes.into());
    let (when, when_mentor) = when_pair(learner, (&t.mentor_name, t.mentor_zone), t.start, end);
    // A learner who picked the time on a page in another zone (travelling,
    // or checking a friend's evening) sees it as they picked it too.
    let when_browsed = browsed
        .filter(|z| *z != learner.time_zone && *z != t.mentor_zone)
        .map(|z| (z.name().to_owned(), timefmt::when(t.start, end, z)));
    // The mentor's page opens at the week of the time asked for, or of
    // the first time offered instead (a time past the horizon has no
    // week to show), never before this week.
    let page_at = match &conflict {
        Some(c) if !c.alternatives.is_empty() => c.alternatives[0],
        Some(c) if c.why == BEYOND => now,
        _ => t.start,
    }
    .max(now);
    let conflict_heading = match &conflict {
        Some(c) if c.why == PASSED => "That time has passed",
        Some(c) if c.why == BEYOND => "That time is not open for booking yet",
        _ => "That time is taken",
    };
    let limited = conflict.as_ref().is_some_and(|c| c.limited);
    let (conflict, choices) = match conflict {
        Some(Conflict {
            why, alternatives, ..
        }) => (
            Some(why),
            alternatives
                .iter()
                .enumerate()
                .map(|(i, s)| Choice {
                    value: rfc3339_utc(*s),
                    // In the zone the learner was picking in.
                    label: timefmt::when(
                        *s,
                        *s + Duration::minutes(t.topic.duration_minutes.into()),
                        browsed.unwrap_or(learner.time_zone),
                    ),
                    checked: i == 0,
                })
                .collect(),
        ),
        None => (None, Vec::new()),
    };
    ConfirmPage {
        page,
        mentor_href: mentor_week_href(
            t.mentor_id,
            &t.topic.slug,
            page_at,
            browsed.unwrap_or(learner.time_zone),
            browsed.is_some(),
        ),
        mentor_id: t.mentor_id,
        mentor_name: t.mentor_name.clone(),
        topic_slug: t.topic.slug.clone(),
        topic_title: t.topic.title.clone(),
        duration: t.topic.duration_minutes,
        when,
        when_mentor,
        when_browsed,
        browsed_zone: browsed.map(|z| z.name().to_owned()),
        conflict,
        conflict_heading,
        choices,
        limited,
        start: rfc3339_utc(t.start),
        goals,
        goals_error,
        key,
        reminders,
    }
}

const TAKEN: &str = "Sorry, that time is no longer free: someone else booked it, or the mentor changed their hours.";
const PASSED: &str = "That time has already begun or passed (an old link, perhaps).";
const BUSY: &str = "You already have another session at that time.";
const BEYOND: &str = "That time is further ahead than this mentor takes bookings.";

/// Why a start the engine does not offer cannot be booked, as far as the
/// page can tell: passed, or else taken (or no longer in the hours).
fn unavailable(start: DateTime<Utc>, now: DateTime<Utc>) -> &'static str {
    if start <= now { PASSED } else { TAKEN }
}

/// Why a start cannot be booked, for the confirm page and a refused POST
/// alike: past the mentor's horizon, the learner busy then (a time still
/// to come), else as [`unavailable`].
fn refusal_why(
    beyond: bool,
    learner_busy: bool,
    start: DateTime<Utc>,
    now: DateTime<Utc>,
) -> &'static str {
    if beyond {
        BEYOND
    } else if learner_busy && start > now {
        BUSY
    } else {
        unavailable(start, now)
    }
}

/// On a limit page reached from a time that could not be booked, with no
/// other time near it left open by the limits: why that time could not be
/// booked, and the way to the mentor's week.
struct Taken {
    why: String,
    /// The time asked for, in the zone it was picked in.
    asked: String,
    mentor_href: String,
    mentor_name: String,
}

impl Taken {
    /// For `t`, refused because `why`, browsed in `tz` (a `?tz=` or the
    /// form's field) if any, else in `learner`'s zone.
    fn of(t: &Target, why: &str, tz: Option<&str>, learner: &User, now: DateTime<Utc>) -> Self {
        let browsed = tz.and_then(zone_from_query);
        let end = t.start + Duration::minutes(t.topic.duration_minutes.into());
        Taken {
            why: why.to_owned(),
            asked: timefmt::when(t.start, end, browsed.unwrap_or(learner.time_zone)),
            mentor_href: mentor_week_href(
                t.mentor_id,
                &t.topic.slug,
                t.start.max(now),
                browsed.unwrap_or(learner.time_zone),
                browsed.is_some(),
            ),
            mentor_name: t.mentor_name.clone(),
        }
    }
}

/// The 403 page of a fairness limit, in the learner's zone, with what they
/// wrote (if anything) to copy; first, when `taken`, why the time asked
/// for could not be booked.
fn limit_page(
    page: PageCtx,
    limit: &Limit,
    learner: &User,
    kept_goals: Option<String>,
    taken: Option<Taken>,
) -> Result<HttpResponse, AppError> {
    let mut paragraphs = limit_text(limit, learner.time_zone);
    let mut links = vec![("/me/sessions".to_owned(), "See your sessions".to_owned())];
    // The time itself is the news; the limit explains why no other is
    // offered.
    let heading = if taken.is_some() {
        "That time can’t be booked"
    } else {
        "You have reached a booking limit"
    };
    if let Some(t) = taken {
        paragraphs.insert(
            0,
            format!(
                "{} You asked for {}. {}",
                t.why,
                t.asked,
                if matches!(limit, Limit::PerMonth { .. }) {
                    "The free times near it are beyond your booking limits:"
                } else {
                    "No other time can be booked now, because of your booking limits:"
                }
            ),
        );
        // Only a month's cap leaves other weeks open.
        if matches!(limit, Limit::PerMonth { .. }) {
            links.insert(
                0,
                (t.mentor_href, format!("See {}’s free times", t.mentor_name)),
            );
        }
    }
    respond(
        &MessagePage {
            page,
            heading: heading.into(),
            paragraphs,
            links,
            resend: None,
            kept_goals,
        },
        StatusCode::FORBIDDEN,
    )
}

/// A refused `POST /bookings`, as the handler answers it.
enum Refused {
    /// The form's key made a booking already (at another time: an
    /// alternative chosen on the taken page): that booking.
    Booked(Uuid),
    /// A page about the time asked for.
    Page(Box<RefusedPage>),
}

/// What the page of a refused `POST /bookings` says.
struct RefusedPage {
    target: Target,
    refusal: BookError,
    alternatives: Vec<DateTime<Utc>>,
    /// The mentor no longer takes bookings for the topic.
    gone: bool,
    beyond: bool,
    /// Refused for the slot (taken, passed, beyond the horizon, the
    /// learner busy) rather than for the request.
    slot: bool,
    /// The learner has another session then.
    busy: bool,
    /// Nearer free times were left out for the learner's limits.
    limited: bool,
}

/// `GET /book?mentor=&topic=&start=`: the confirm form.
pub async fn book_form(
    state: web::Data<AppState>,
    auth: Auth,
    query: web::Query<BookQuery>,
) -> Result<HttpResponse, AppError> {
    let (Some(mentor), Some(topic), Some(start)) = (
        query.mentor.as_deref().and_then(|m| m.parse::<Uuid>().ok()),
        query.topic.clone(),
        query.start.as_deref().and_then(parse_start),
    ) else {
        return Err(AppError::NotFound);
    };
    if auth.user.email_verified_at.is_none() {
        let picked = query.tz.as_deref().and_then(zone_from_query);
        return unverified(auth.page(), confirm_href(mentor, &topic, start, picked));
    }
    let now = state.clock.now();
    let learner = auth.user.clone();
    let viewer = learner.clone();
    let cache = std::sync::Arc::clone(&state.mentor_pages);
    let found = state
        .db(move |conn| -> Result<_, diesel::result::Error> {
            // The learner's standing against the fairness caps: other
            // times are offered only where it leaves them open (a mentor on
            // their own page hears they cannot book themselves instead).
            let standing = (mentor != viewer.id)
                .then(|| {
                    let span = service::search_span(start, now);
                    facts::Standing::read(conn, viewer.id, Uuid::nil(), span, now)
                })
                .transpose()?;
            let seeker = service::Seeker {
                id: viewer.id,
                zone: viewer.time_zone,
                standing: standing.as_ref(),
            };
            // The mentor page's cached rows name the mentor and topic and
            // give the free times nearest the start (the start itself first
            // when it is free).
            let (target, offered, why, alternatives, busy, refused) =
                match service::nearest_free(conn, &cache, mentor, &topic, start, now, &seeker)? {
                    Some(nearby) => {
                        let busy = nearby.learner_busy;
                        let beyond = nearby.beyond_horizon;
                        let refused = nearby.refused;
                        let (target, starts) = Target::nearby(nearby, start);
                        // Free for the mentor and for the learner.
                        let offered = starts.contains(&start);
                        let why = refusal_why(beyond, busy, start, now);
                        (
                            target,
                            offered,
                            why,
                            if offered { Vec::new() } else { starts },
                            busy,
                            refused,
                        )
                    }
                    // No such mentor taking bookings, or not for this topic:
                    // nothing to confirm.
                    None => return Ok(None),
                };
            // Their own booking at this time (Back after booking): shown.
            if !offered
                && busy
                && let Some(id) =
                    service::own_booking_at(conn, viewer.id, mentor, target.topic.id, start)?
            {
                return Ok(Some(Err(id)));
            }
            // A learner at a fairness limit hears so before writing goals;
            // so does one offered no other time only because of their
            // limits.
            let limit = standing.as_ref().and_then(|st| {
                let at = if offered {
                    Some(start)
                } else if alternatives.is_empty() {
                    refused
                } else {
                    None
                };
                at.and_then(|at| st.limit(target.topic.id, at, viewer.time_zone, now).err())
            });
            let limited = refused.is_some() && !alternatives.is_empty();
            Ok(Some(Ok((
                target,
                offered,
                why,
                alternatives,
                limit,
                limited,
            ))))
        })
        .await?;
    let (target, offered, why, alternatives, limit, limited) = match found {
        None => return Err(AppError::NotFound),
        Some(Err(own)) => return Ok(see_other(format!("/bookings/{own}?notice=existing"))),
        Some(Ok(page)) => page,
    };
    if let Some(limit) = limit {
        let taken = (!offered).then(|| Taken::of(&target, why, query.tz.as_deref(), &learner, now));
        return limit_page(auth.page(), &limit, &learner, None, taken);
    }
    if target.mentor_id == learner.id {
        return message(
            auth.page(),
            StatusCode::FORBIDDEN,
            "You cannot book yourself",
            vec!["These are your own free times. Learners see them on your public page.".into()],
            vec![("/mentor".into(), "Go to your mentor page".into())],
        );
    }
    let conflict = (!offered).then(|| Conflict {
        why: why.to_owned(),
        alternatives,
        limited,
    });
    let status = if offered {
        StatusCode::OK
    } else {
        StatusCode::CONFLICT
    };
    respond(
        &confirm_page(
            auth.page(),
            &learner,
            &target,
            Draft::fresh(String::new(), query.tz.as_deref().and_then(zone_from_query)),
            conflict,
            now,
        ),
        status,
    )
}

#[derive(Deserialize)]
pub struct BookForm {
    #[serde(default)]
    mentor: String,
    #[serde(default)]
    topic: String,
    #[serde(default)]
    start: String,
    #[serde(default)]
    goals: String,
    #[serde(default)]
    key: String,
    #[serde(default)]
    tz: String,
}

/// `POST /bookings`: books, then shows the booking.
pub async fn create(
    state: web::Data<AppState>,
    auth: Auth,
    form: CsrfForm<BookForm>,
) -> Result<HttpResponse, AppError> {
    let f = form.form;
    let (Ok(mentor), Ok(key)) = (f.mentor.parse::<Uuid>(), f.key.parse::<Uuid>()) else {
        return Err(AppError::BadRequest);
    };
    let Some(start) = parse_start(&f.start) else {
        return Err(AppError::BadRequest);
    };
    let learner = auth.user.clone();
    let now = state.clock.now();
    let topic_slug = f.topic.clone();
    let goals = f.goals.clone();
    let st = state.clone();
    let learner_id = learner.id;
    let zone = learner.time_zone;
    // One connection for the whole request: the booking and, when it is
    // refused, the target for the page and the nearest free times.
    let outcome = state
        .db(move |conn| -> Result<_, AppError> {
            let req = BookRequest {
                mentor_id: mentor,
                topic_slug,
                start,
                goals,
                idempotency_key: key,
            };
            let ctx = Ctx {
                now,
                settings: &st.settings,
                key: st.secret_key.expose(),
            };
            let refusal = match service::book(conn, ctx, learner_id, &req) {
                Ok(booked) => return Ok(Some(Ok(booked))),
                Err(e) => e,
            };
            // The page names the mentor and topic: from the mentor page's
            // cached rows with the nearest free times when the slot was
            // the trouble, else (or when the mentor takes no bookings) as
            // they are.
            let slot = matches!(refusal, BookError::SlotUnavailable | BookError::LearnerBusy);
            let busy = matches!(refusal, BookError::LearnerBusy);
            let nearby = if slot {
                let span = service::search_span(start, now);
                let standing = facts::Standing::read(conn, learner_id, key, span, now)?;
                // This form booked another time already (the taken page's
                // form keeps the key: Back to it and sent again): that
                // booking is the answer.
                if let Some(id) = standing.existing {
                    return Ok(Some(Err(Refused::Booked(id))));
                }
                let seeker = service::Seeker {
                    id: learner_id,
                    zone,
                    standing: Some(&standing),
                };
                let nearby = service::nearest_free(
                    conn,
                    &st.mentor_pages,
                    mentor,
                    &req.topic_slug,
                    start,
                    now,
                    &seeker,
                )?;
                // Only times the learner's limits leave open are offered;
                // none left for that reason: the limit is the answer.
                let limited = nearby
                    .as_ref()
                    .filter(|n| n.starts.is_empty())
                    .and_then(|n| n.refused.map(|at| (n.topic.id, at)))
                    .and_then(|(topic, at)| standing.limit(topic, at, zone, now).err());
                nearby.map(|n| (n, limited))
            } else {
                None
            };
            let mut limited = false;
            let (target, refusal, alternatives, gone, beyond) = match nearby {
                Some((nearby, limit)) => {
                    let beyond = nearby.beyond_horizon;
                    limited = nearby.refused.is_some();
                    let (target, alternatives) = Target::nearby(nearby, start);
                    match limit {
                        Some(limit) => {
                            (target, BookError::Limit(limit), alternatives, false, beyond)
                        }
                        None => (target, refusal, alternatives, false, beyond),
                    }
                }
                None => {
                    let Some((mentor_user, topic)) = load_target(conn, mentor, &req.topic_slug)?
                    else {
                        return Ok(None);
                    };
                    // For a slot refusal: the mentor no longer takes
                    // bookings for this topic (the page says so, and keeps
                    // the text).
                    (
                        Target::of(mentor_user, topic, start),
                        refusal,
                        Vec::new(),
                        slot,
                        false,
                    )
                }
            };
            Ok(Some(Err(Refused::Page(Box::new(RefusedPage {
                target,
                refusal,
                limited: limited && !alternatives.is_empty(),
                alternatives,
                gone,
                beyond,
                slot,
                busy,
            })))))
        })
        .await?;
    let page = match outcome {
        None => return Err(AppError::NotFound),
        Some(Err(Refused::Booked(id))) => {
            return Ok(see_other(format!("/bookings/{id}?notice=instead")));
        }
        Some(Err(Refused::Page(page))) => page,
        Some(Ok(booked)) => {
            let notice = if booked.existing {
                "existing"
            } else {
                "booked"
            };
            return Ok(see_other(format!(
                "/bookings/{}?notice={notice}",
                booked.booking.id
            )));
        }
    };
    let RefusedPage {
        target,
        refusal,
        alternatives,
        gone,
        beyond,
        slot,
        busy,
        limited,
    } = *page;
    match refusal {
        BookError::SlotUnavailable | BookError::LearnerBusy => {
            let why = if gone {
                format!(
                    "Sorry, {} does not take bookings for this topic now.",
                    target.mentor_name
                )
            } else {
                refusal_why(beyond, busy, start, now).to_owned()
            };
            respond(
                &confirm_page(
                    auth.page(),
                    &learner,
                    &target,
                    // The same key: this form made no booking, and one made
                    // by choosing an alternative is what this form made (a
                    // resubmit of it, by Back and reload, shows that one).
                    Draft {
                        key,
                        ..Draft::fresh(f.goals, zone_from_query(&f.tz))
                    },
                    Some(Conflict {
                        why,
                        alternatives,
                        limited,
                    }),
                    now,
                ),
                StatusCode::CONFLICT,
            )
        }
        BookError::Limit(limit) => {
            // Reached after the time was taken: the page says that first.
            let why = refusal_why(beyond, busy, start, now);
            let taken = slot.then(|| Taken::of(&target, why, Some(&f.tz), &learner, now));
            limit_page(auth.page(), &limit, &learner, Some(f.goals), taken)
        }
        BookError::Unverified => unverified(
            auth.page(),
            confirm_href(mentor, &target.topic.slug, start, zone_from_query(&f.tz)),
        ),
        BookError::SelfBooking => message(
            auth.page(),
            StatusCode::FORBIDDEN,
            "You cannot book yourself",
            vec!["Pick another mentor for this topic.".into()],
            vec![],
        ),
        BookError::InvalidGoals(e) => respond(
            &confirm_page(
                auth.page(),
                &learner,
                &target,
                Draft {
                    goals: f.goals,
                    goals_error: Some(e.to_owned()),
                    key,
                    browsed: zone_from_query(&f.tz),
                },
                None,
                now,
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        other => Err(other.into()),
    }
}

// ---------------------------------------------------------------------
// One booking: show, .ics, cancel, reschedule
// ---------------------------------------------------------------------

#[derive(Template)]
#[template(path = "bookings/show.html")]
struct ShowPage {
    page: PageCtx,
    notice: Option<&'static str>,
    error: Option<String>,
    /// Where the action forms post: `/bookings/{id}` or `/manage/{token}`.
    base: String,
    via_link: bool,
    party: &'static str,
    status: &'static str,
    status_class: &'static str,
    topic_title: String,
    mentor_name: String,
    /// None when the mentor cannot mentor now (disabled, deleted or made a
    /// learner): their page is a 404.
    mentor_href: Option<String>,
    learner_name: String,
    when: String,
    when_other: Vec<String>,
    goals: String,
    /// Why there are none to show: erased with the learner's account.
    goals_erased: bool,
    meeting_url: Option<String>,
    ics_href: Option<String>,
    cancelled_note: Option<String>,
    can_change: bool,
    /// For the learner inside the late-cancel window: that a cancel now
    /// is recorded as late (PRODUCT.md "Fairness policy").
    late_warning: Option<String>,
    /// For the learner of a cancelled session, where to book again: the
    /// mentor's times for the topic, or (the mentor gone) the topic's page.
    rebook: Option<(String, String)>,
    reason_required: bool,
    reason: String,
    reason_error: Option<String>,
}

/// The notice a redirect asked for, as far as it is still true: going Back
/// to "Booked." after a cancel shows none, and resubmitting the booking
/// form of a booking cancelled since says so instead of "already made".
fn notice_text(code: Option<&str>, status: Status, party: Party) -> Option<&'static str> {
    let cancelled = status == Status::Cancelled;
    // An admin is neither of the two who were emailed.
    let admin = party == Party::Admin;
    match code? {
        "existing" if cancelled => Some(
            "This form made this booking before, and it has been cancelled since: nothing was booked again.",
        ),
        // The first form of a taken time sent again (Back and reload) after
        // another time was booked from its taken page.
        "instead" if cancelled => Some(
            "That time was taken, and the time you booked instead has been cancelled since: nothing was booked again.",
        ),
        "instead" => Some(
            "That time was taken, so you booked this one instead; here it is. Nothing was booked again.",
        ),
        "booked" | "existing" | "rescheduled" | "reassigned" if cancelled => None,
        "booked" => Some("Booked. We emailed you the details and a calendar invitation."),
        "existing" => Some("This booking was already made; here it is."),
        "cancelled" if admin => {
            Some("Cancelled. The time is free again, and the learner and the mentor got an email.")
        }
        "cancelled" => Some("Cancelled. The time is free again and both of you got an email."),
        "already-cancelled" => {
            Some("It was cancelled already, so nothing changed and nobody was emailed again.")
        }
        "rescheduled" if admin => {
            Some("Moved. The learner and the mentor got an email with the new time.")
        }
        "rescheduled" => Some("Moved. Both of you got an email with the new time."),
        // A move sent from a page loaded before the session was cancelled
        // (another tab) or began.
        "not-moved" if cancelled => Some("This session was cancelled, so it was not moved."),
        "not-moved" => Some("This session has begun, so it can no longer be moved."),
        "reassigned" => Some(
            "Reassigned. The learner and the new mentor got an updated invitation; the previous mentor a cancellation.",
        ),
        _ => None,
    }
}

struct Detail {
    booking: Booking,
    parties: notify::Parties,
    /// The fairness policy while the session is upcoming (the learner's
    /// late-cancel warning), else none.
    policy: Option<Policy>,
    /// A cancelled session's topic is still offered (where to book again).
    topic_active: bool,
}

fn load_detail(
    conn: &mut diesel::PgConnection,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<Detail>, AppError> {
    let Some(booking) = service::find(conn, id)? else {
        return Ok(None);
    };
    let parties = service::parties(conn, &booking, now)?;
    let policy = if booking.is_upcoming(now) {
        Some(load_policy(conn)?)
    } else {
        None
    };
    let topic_active = booking.status() == Status::Cancelled
        && service::topic(conn, booking.topic_id)?.is_some_and(|t| t.active);
    Ok(Some(Detail {
        booking,
        parties,
        policy,
        topic_active,
    }))
}

struct ShowOptions {
    base: String,
    via_link: bool,
    notice: Option<&'static str>,
    error: Option<String>,
    reason: String,
    reason_error: Option<String>,
}

fn show_page(
    page: PageCtx,
    d: &Detail,
    viewer: &User,
    party: Party,
    now: DateTime<Utc>,
    o: ShowOptions,
) -> ShowPage {
    let b = &d.booking;
    let p = &d.parties;
    let zone = viewer.time_zone;
    // The other person's time (an admin: both people's), when their zone
    // is another. A deleted account keeps its row (and zone) for the
    // statistics only.
    let others = match party {
        Party::Learner => vec![&p.mentor],
        Party::Mentor => vec![&p.learner],
        Party::Admin => vec![&p.learner, &p.mentor],
    };
    // People in one zone share a line.
    let mut by_zone: Vec<(Tz, Vec<&str>)> = Vec::new();
    for o in others
        .into_iter()
        .filter(|o| o.time_zone != zone && !is_erased(o))
    {
        match by_zone.iter_mut().find(|(z, _)| *z == o.time_zone) {
            Some((_, names)) => names.push(&o.display_name),
            None => by_zone.push((o.time_zone, vec![&o.display_name])),
        }
    }
    let when_other = by_zone
        .into_iter()
        .map(|(z, names)| {
            format!(
                "{}'s time: {}",
                names.join("'s and "),
                timefmt::when(b.start_at, b.end_at, z)
            )
        })
        .collect();
    let status = b.status();
    let cancelled_note = (status == Status::Cancelled).then(|| {
        // In the role it was done in: an admin who is also the mentor and
        // cancelled from the admin list is "an administrator", as the
        // emails said.
        let by = match (
            b.cancelled_by,
            b.cancelled_as.as_deref().and_then(Party::parse),
        ) {
            (Some(id), _) if id == viewer.id => "you".to_owned(),
            (_, Some(Party::Learner)) => p.learner.display_name.clone(),
            (_, Some(Party::Mentor)) => p.mentor.display_name.clone(),
            _ => "an administrator".to_owned(),
        };
        let mut s = format!("Cancelled by {by}");
        if let Some(at) = b.cancelled_at {
            s.push_str(&format!(" on {}", timefmt::short(at, zone)));
        }
        if b.late_cancel {
            s.push_str(" (late cancellation)");
        }
        if let Some(r) = &b.cancel_reason {
            s.push_str(&format!(": “{r}”"));
        }
        s
    });
    ShowPage {
        page,
        notice: o.notice,
        error: o.error,
        ics_href: (!o.via_link).then(|| format!("/bookings/{}.ics", b.id)),
        base: o.base,
        via_link: o.via_link,
        party: party.as_str(),
        status: status.label(),
        status_class: status.as_str(),
        topic_title: p.topic.title.clone(),
        mentor_name: p.mentor.display_name.clone(),
        mentor_href: p
            .mentor
            .can_mentor()
            .then(|| format!("/mentors/{}", p.mentor.id)),
        learner_name: p.learner.display_name.clone(),
        when: timefmt::when(b.start_at, b.end_at, zone),
        when_other,
        goals: b.goals.clone(),
        goals_erased: goals_erased(&b.goals, &p.learner),
        meeting_url: (status == Status::Confirmed)
            .then(|| p.meeting_url.clone())
            .flatten(),
        cancelled_note,
        can_change: b.is_upcoming(now),
        late_warning: d
            .policy
            .as_ref()
            .and_then(|policy| late_warning(policy, b, party, now)),
        rebook: (party == Party::Learner && status == Status::Cancelled)
            .then(|| rebook_link(p, d.topic_active))
            .flatten(),
        reason_required: party != Party::Learner,
        reason: o.reason,
        reason_error: o.reason_error,
    }
}

/// What a learner reads above the cancel button once the session is
/// inside the late-cancel window: a cancel now is recorded as late.
fn late_warning(policy: &Policy, b: &Booking, party: Party, now: DateTime<Utc>) -> Option<String> {
    let late =
        b.is_upcoming(now) && policy.cancel_is_late(party == Party::Learner, b.start_at, now);
    late.then(|| {
        let within = match policy.late_cancel_hours {
            1 => "an hour".to_owned(),
            h => format!("{h} hours"),
        };
        format!("It starts in less than {within}, so cancelling now counts as a late cancellation.")
    })
}

/// Where the learner of a cancelled session books again: the mentor's
/// times for the topic while the mentor is there, else the topic's page
/// while it is offered (other mentors); (href, words).
fn rebook_link(p: &notify::Parties, topic_active: bool) -> Option<(String, String)> {
    // `/mentors/{id}` is a 404 for anyone who cannot mentor now.
    if p.mentor.can_mentor() {
        Some((
            format!("/mentors/{}?topic={}", p.mentor.id, p.topic.slug),
            format!("Book another time with {}", p.mentor.display_name),
        ))
    } else if topic_active {
        Some((
            format!("/topics/{}", p.topic.slug),
            format!("Book {} with another mentor", p.topic.title),
        ))
    } else {
        None
    }
}

#[derive(Deserialize)]
pub struct NoticeQuery {
    notice: Option<String>,
}

/// The booking a signed-in user may see: its learner, its mentor or an
/// admin. Anyone else gets 404, as for an id that does not exist.
async fn visible(state: &AppState, auth: &Auth, raw: &str) -> Result<(Detail, Party), AppError> {
    let id: Uuid = raw.parse().map_err(|_| AppError::NotFound)?;
    let now = state.clock.now();
    let detail = state
        .db(move |conn| load_detail(conn, id, now))
        .await?
        .ok_or(AppError::NotFound)?;
    let party = Party::of(&detail.booking, &auth.user).ok_or(AppError::NotFound)?;
    Ok((detail, party))
}

/// `GET /bookings/{id}` and `GET /bookings/{id}.ics`.
pub async fn show(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
    query: web::Query<NoticeQuery>,
) -> Result<HttpResponse, AppError> {
    let raw = path.into_inner();
    if let Some(id) = raw.strip_suffix(".ics") {
        return download_ics(&state, &auth, id).await;
    }
    let (detail, party) = visible(&state, &auth, &raw).await?;
    let now = state.clock.now();
    respond(
        &show_page(
            auth.page(),
            &detail,
            &auth.user,
            party,
            now,
            ShowOptions {
                base: format!("/bookings/{}", detail.booking.id),
                via_link: false,
                notice: notice_text(query.notice.as_deref(), detail.booking.status(), party),
                error: None,
                reason: String::new(),
                reason_error: None,
            },
        ),
        StatusCode::OK,
    )
}

async fn download_ics(state: &AppState, auth: &Auth, raw: &str) -> Result<HttpResponse, AppError> {
    let (d, _) = visible(state, auth, raw).await?;
    let ctx = Ctx {
        now: state.clock.now(),
        settings: &state.settings,
        key: state.secret_key.expose(),
    };
    let event = notify::event(ctx, &d.parties, &d.booking, None);
    // A cancelled session's file is a cancellation (iTIP CANCEL, as the
    // email's), so opening it removes the entry instead of adding it.
    let method = if event.cancelled {
        ics::Method::Cancel
    } else {
        ics::Method::Publish
    };
    let body = ics::calendar(Some(method), None, &[event]);
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/calendar; charset=utf-8"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"office-hours-{}.ics\"", d.booking.id),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body))
}

#[derive(Deserialize)]
pub struct CancelForm {
    #[serde(default)]
    reason: String,
}

/// Who acts on a booking page and where its forms post: a signed-in user
/// at `/bookings/{id}`, or a manage-link holder at `/manage/{token}`.
struct Acting {
    page: PageCtx,
    /// The user acted as (their zone shows the times).
    user: User,
    actor: Actor,
    booking_id: Uuid,
    base: String,
    via_link: bool,
}

/// Runs a cancel and answers: back to the page, or the page with the
/// error next to the reason field.
async fn do_cancel(state: &AppState, a: Acting, reason: String) -> Result<HttpResponse, AppError> {
    let Acting {
        page,
        user: viewer,
        actor,
        booking_id,
        base,
        via_link,
    } = a;
    let now = state.clock.now();
    let st = state.clone();
    let r = reason.clone();
    let result = state
        .db(move |conn| -> Result<_, AppError> {
            let ctx = Ctx {
                now,
                settings: &st.settings,
                key: st.secret_key.expose(),
            };
            Ok(service::cancel(conn, ctx, booking_id, actor, Some(&r)))
        })
        .await?;
    let (error, reason_error, status) = match result {
        Ok(c) if c.changed => return Ok(see_other(format!("{base}?notice=cancelled"))),
        Ok(_) => return Ok(see_other(format!("{base}?notice=already-cancelled"))),
        Err(BookError::ReasonRequired) => (
            None,
            Some("Say why you cancel; it goes into the emails about it.".to_owned()),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(BookError::ReasonTooLong) => (
            None,
            Some("Keep the reason to 500 characters or fewer.".to_owned()),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(BookError::InvalidReason(problem)) => (
            None,
            Some(problem.to_owned()),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(BookError::NotChangeable) => (
            Some(
                "This session has started or finished, so it can no longer be cancelled."
                    .to_owned(),
            ),
            None,
            StatusCode::CONFLICT,
        ),
        Err(e) => return Err(e.into()),
    };
    let detail = state
        .db(move |conn| load_detail(conn, booking_id, now))
        .await?
        .ok_or(AppError::NotFound)?;
    respond(
        &show_page(
            page,
            &detail,
            &viewer,
            actor.party,
            now,
            ShowOptions {
                base,
                via_link,
                notice: None,
                error,
                reason,
                reason_error,
            },
        ),
        status,
    )
}

/// `POST /bookings/{id}/cancel`.
pub async fn cancel(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
    form: CsrfForm<CancelForm>,
) -> Result<HttpResponse, AppError> {
    let (detail, party) = visible(&state, &auth, &path).await?;
    do_cancel(&state, acting(&auth, &detail, party), form.form.reason).await
}

#[derive(Template)]
#[template(path = "bookings/reschedule.html")]
struct ReschedulePage {
    page: PageCtx,
    base: String,
    topic_title: String,
    /// Who the session is with, for the one moving it: the mentor for the
    /// learner, the learner for the mentor, both for an admin.
    with_whom: String,
    /// The days shown, e.g. "Thursday 26 November – Wednesday 9 December".
    days_shown: String,
    current: String,
    zone_name: String,
    error: Option<String>,
    /// The first day shown (`YYYY-MM-DD`), sent back with the choice so a
    /// refused move shows the same two weeks again.
    from: String,
    days: Vec<SlotDay>,
    /// When these two weeks have no free time: a free one to jump to
    /// (the words before it, `?from=` its day, its time), and/or why there
    /// is none after them.
    next_free: Option<(&'static str, (String, String))>,
    none_ahead: Option<String>,
    prev_href: Option<String>,
    next_href: Option<String>,
}

struct SlotDay {
    label: String,
    slots: Vec<Choice>,
}

#[derive(Deserialize)]
pub struct RescheduleQuery {
    from: Option<String>,
}

/// The free starts of the booking's mentor and topic from `from` (a local
/// date in `zone`) for two weeks, grouped by local day; no later pages
/// past the mentor's horizon, and on two empty weeks a link to the next
/// free time.
async fn reschedule_page(
    state: &AppState,
    a: Acting,
    d: Detail,
    from: Option<NaiveDate>,
    error: Option<(String, StatusCode)>,
) -> Result<HttpResponse, AppError> {
    let Acting {
        page,
        user,
        base,
        actor,
        ..
    } = a;
    let zone = user.time_zone;
    let (error, status) = match error {
        Some((e, status)) => (Some(e), status),
        None => (None, StatusCode::OK),
    };
    let now = state.clock.now();
    let today = now.with_timezone(&zone).date_naive();
    let mentor = d.parties.mentor.clone();
    let minutes = Duration::minutes(d.parties.topic.duration_minutes.into());
    let booking = d.booking.clone();
    let weeks = state
        .db(move |conn| {
            service::move_weeks(
                conn,
                &booking,
                &mentor,
                minutes,
                from,
                RESCHEDULE_DAYS,
                zone,
                now,
            )
        })
        .await?;
    let from_date = weeks.from;
    let show = |at: DateTime<Utc>| {
        (
            format!(
                "{base}/reschedule?from={}",
                at.with_timezone(&zone).date_naive().format("%Y-%m-%d")
            ),
            timefmt::when(at, at + minutes, zone),
        )
    };
    let mentor_name = &d.parties.mentor.display_name;
    let horizon = weeks.horizon_days;
    let (next_free, none_ahead) = match (weeks.next, weeks.first) {
        _ if !weeks.starts.is_empty() => (None, None),
        (Some(next), _) => (Some(("The next one is", show(next))), None),
        (None, Some(first)) => (
            Some(("The first free time from today is", show(first))),
            Some(format!(
                "None after them either, in the {horizon} days ahead {mentor_name} takes bookings for."
            )),
        ),
        // Nothing from now to the horizon.
        (None, None) => (
            None,
            Some(format!(
                "{mentor_name} has no other free time for this topic in the {horizon} days ahead they take bookings for."
            )),
        ),
    };
    // One offset for every time shown (the common case): the zone line
    // names it once and the times go without it, short enough to sit
    // side by side. Across a clock change each time names its own.
    let abbreviations: std::collections::BTreeSet<String> = weeks
        .starts
        .iter()
        .flat_map(|s| [*s, *s + minutes])
        .map(|t| timefmt::abbreviation(&t.with_timezone(&zone)).to_string())
        .collect();
    let single = (abbreviations.len() == 1)
        .then(|| abbreviations.first().cloned())
        .flatten();
    let mut days: Vec<SlotDay> = Vec::new();
    let mut last: Option<NaiveDate> = None;
    for s in weeks.starts {
        let local = s.with_timezone(&zone);
        if last != Some(local.date_naive()) {
            last = Some(local.date_naive());
            days.push(SlotDay {
                label: local.format("%A %-d %B").to_string(),
                slots: Vec::new(),
            });
        }
        if let Some(day) = days.last_mut() {
            day.slots.push(Choice {
                value: rfc3339_utc(s),
                label: format!(
                    "{}–{}",
                    local.format("%H:%M"),
                    if single.is_some() {
                        (s + minutes)
                            .with_timezone(&zone)
                            .format("%H:%M")
                            .to_string()
                    } else {
                        timefmt::clock(s + minutes, zone)
                    }
                ),
                checked: false,
            });
        }
    }
    let prev = from_date - Duration::days(RESCHEDULE_DAYS as i64);
    respond(
        &ReschedulePage {
            page,
            topic_title: d.parties.topic.title.clone(),
            with_whom: match actor.party {
                Party::Learner => d.parties.mentor.display_name.clone(),
                Party::Mentor => d.parties.learner.display_name.clone(),
                Party::Admin => format!(
                    "{} and {}",
                    d.parties.learner.display_name, d.parties.mentor.display_name
                ),
            },
            days_shown: if weeks.until > from_date {
                format!(
                    "{} – {}",
                    from_date.format("%A %-d %B %Y"),
                    weeks.until.format("%A %-d %B %Y")
                )
            } else {
                from_date.format("%A %-d %B %Y").to_string()
            },
            current: timefmt::when(d.booking.start_at, d.booking.end_at, zone),
            zone_name: match &single {
                Some(abbr) => format!("{} ({abbr})", zone.name()),
                None => zone.name().to_owned(),
            },
            error,
            from: from_date.format("%Y-%m-%d").to_string(),
            days,
            next_free,
            none_ahead,
            prev_href: (from_date > today).then(|| {
                format!(
                    "{base}/reschedule?from={}",
                    prev.max(today).format("%Y-%m-%d")
                )
            }),
            next_href: weeks.more.then(|| {
                format!(
                    "{base}/reschedule?from={}",
                    (from_date + Duration::days(RESCHEDULE_DAYS as i64)).format("%Y-%m-%d")
                )
            }),
            base,
        },
        status,
    )
}

fn parse_date(raw: Option<&str>) -> Option<NaiveDate> {
    raw.and_then(|s| NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok())
}

/// `GET /bookings/{id}/reschedule`.
pub async fn reschedule_form(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
    query: web::Query<RescheduleQuery>,
) -> Result<HttpResponse, AppError> {
    let (detail, party) = visible(&state, &auth, &path).await?;
    if !detail.booking.is_upcoming(state.clock.now()) {
        return Ok(see_other(format!("/bookings/{}", detail.booking.id)));
    }
    let a = acting(&auth, &detail, party);
    reschedule_page(&state, a, detail, parse_date(query.from.as_deref()), None).await
}

#[derive(Deserialize)]
pub struct RescheduleForm {
    #[serde(default)]
    start: String,
    /// The first day of the two weeks the choice was made on.
    #[serde(default)]
    from: String,
}

async fn do_reschedule(
    state: &AppState,
    a: Acting,
    form: &RescheduleForm,
) -> Result<HttpResponse, AppError> {
    let raw_start = form.start.as_str();
    // A refused choice shows the same two weeks again.
    let from = parse_date(Some(&form.from));
    let now = state.clock.now();
    let booking_id = a.booking_id;
    let zone = a.user.time_zone;
    let Some(start) = parse_start(raw_start) else {
        let d = state
            .db(move |conn| load_detail(conn, booking_id, now))
            .await?
            .ok_or(AppError::NotFound)?;
        let error = (
            "Choose one of the free times.".to_owned(),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
        return reschedule_page(state, a, d, from, Some(error)).await;
    };
    let st = state.clone();
    let actor = a.actor;
    let result = state
        .db(move |conn| -> Result<_, AppError> {
            let ctx = Ctx {
                now,
                settings: &st.settings,
                key: st.secret_key.expose(),
            };
            Ok(service::reschedule(conn, ctx, booking_id, actor, start))
        })
        .await?;
    let error = match result {
        Ok(_) => return Ok(see_other(format!("{}?notice=rescheduled", a.base))),
        Err(BookError::SlotUnavailable) => unavailable(start, now).to_owned(),
        Err(BookError::LearnerBusy) => "The learner has another session at that time.".to_owned(),
        Err(BookError::NotChangeable) => {
            return Ok(see_other(format!("{}?notice=not-moved", a.base)));
        }
        Err(BookError::SameTime) => {
            "That is the session's time now: nothing changed. Choose another time to move it to."
                .to_owned()
        }
        Err(BookError::Limit(limit)) => limit_text(&limit, zone).join(" "),
        Err(e) => return Err(e.into()),
    };
    let d = state
        .db(move |conn| load_detail(conn, booking_id, now))
        .await?
        .ok_or(AppError::NotFound)?;
    reschedule_page(state, a, d, from, Some((error, StatusCode::CONFLICT))).await
}

/// `POST /bookings/{id}/reschedule`.
pub async fn reschedule(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
    form: CsrfForm<RescheduleForm>,
) -> Result<HttpResponse, AppError> {
    let (detail, party) = visible(&state, &auth, &path).await?;
    do_reschedule(&state, acting(&auth, &detail, party), &form.form).await
}

// ---------------------------------------------------------------------
// Manage links
// ---------------------------------------------------------------------

/// The grant of a manage token with its holder and booking; `None` for a
/// token that is unknown, replaced, or whose holder is disabled.
async fn grant(state: &AppState, token: String) -> Result<Option<(Grant, User, Detail)>, AppError> {
    let now = state.clock.now();
    state
        .db(move |conn| -> Result<_, AppError> {
            let Some(g) = manage::lookup(conn, &token, now)? else {
                return Ok(None);
            };
            // A disabled account acts nowhere, by link either.
            let Some(user) = crate::accounts::service::find(conn, g.user_id)?
                .filter(|u| u.disabled_at.is_none())
            else {
                return Ok(None);
            };
            let Some(d) = load_detail(conn, g.booking.id, now)? else {
                return Ok(None);
            };
            Ok(Some((g, user, d)))
        })
        .await
}

/// The 404 of a manage link that does not (or no longer) work.
fn dead_link(page: PageCtx) -> Result<HttpResponse, AppError> {
    message(
        page,
        StatusCode::NOT_FOUND,
        "This link does not work",
        vec![
            "It may be cut off or mistyped. Links also stop working when they are replaced: after a session is passed on to another mentor, the newest email about it has the link that works."
                .into(),
            "Sign in to see your sessions.".into(),
        ],
        vec![("/login".into(), "Sign in".into())],
    )
}

fn expired(page: PageCtx) -> Result<HttpResponse, AppError> {
    message(
        page,
        StatusCode::GONE,
        "This link has expired",
        vec!["Manage links work until the session starts. Sign in to see your sessions.".into()],
        vec![("/login".into(), "Sign in".into())],
    )
}

fn manage_base(token: &str) -> String {
    format!("/manage/{token}")
}

/// A signed-in user acting on a booking they may see.
fn acting(auth: &Auth, d: &Detail, party: Party) -> Acting {
    Acting {
        page: auth.page(),
        user: auth.user.clone(),
        actor: Actor {
            user_id: auth.user.id,
            party,
            via_manage_link: false,
        },
        booking_id: d.booking.id,
        base: format!("/bookings/{}", d.booking.id),
        via_link: false,
    }
}

/// A manage-link holder acting as the recipient the link was sent to.
fn by_link(page: PageCtx, g: &Grant, user: User, token: &str) -> Acting {
    Acting {
        page,
        user,
        actor: Actor {
            user_id: g.user_id,
            party: g.party,
            via_manage_link: true,
        },
        booking_id: g.booking.id,
        base: manage_base(token),
        via_link: true,
    }
}

/// `GET /manage/{token}`.
pub async fn manage_show(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<String>,
    query: web::Query<NoticeQuery>,
) -> Result<HttpResponse, AppError> {
    let token = path.into_inner();
    let Some((g, user, d)) = grant(&state, token.clone()).await? else {
        return dead_link(viewer.page());
    };
    if !g.active {
        return expired(viewer.page());
    }
    respond(
        &show_page(
            viewer.page(),
            &d,
            &user,
            g.party,
            state.clock.now(),
            ShowOptions {
                base: manage_base(&token),
                via_link: true,
                notice: notice_text(query.notice.as_deref(), d.booking.status(), g.party),
                error: None,
                reason: String::new(),
                reason_error: None,
            },
        ),
        StatusCode::OK,
    )
}

/// `POST /manage/{token}/cancel`.
pub async fn manage_cancel(
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: CsrfForm<CancelForm>,
) -> Result<HttpResponse, AppError> {
    let token = path.into_inner();
    let Some((g, user, _)) = grant(&state, token.clone()).await? else {
        return dead_link(form.viewer.page());
    };
    if !g.active {
        return expired(form.viewer.page());
    }
    let a = by_link(form.viewer.page(), &g, user, &token);
    do_cancel(&state, a, form.form.reason).await
}

/// `GET /manage/{token}/reschedule`.
pub async fn manage_reschedule_form(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<String>,
    query: web::Query<RescheduleQuery>,
) -> Result<HttpResponse, AppError> {
    let token = path.into_inner();
    let Some((g, user, d)) = grant(&state, token.clone()).await? else {
        return dead_link(viewer.page());
    };
    if !g.active {
        return expired(viewer.page());
    }
    if !d.booking.is_upcoming(state.clock.now()) {
        return Ok(see_other(manage_base(&token)));
    }
    let a = by_link(viewer.page(), &g, user, &token);
    reschedule_page(&state, a, d, parse_date(query.from.as_deref()), None).await
}

/// `POST /manage/{token}/reschedule`.
pub async fn manage_reschedule(
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: CsrfForm<RescheduleForm>,
) -> Result<HttpResponse, AppError> {
    let token = path.into_inner();
    let Some((g, user, _)) = grant(&state, token.clone()).await? else {
        return dead_link(form.viewer.page());
    };
    if !g.active {
        return expired(form.viewer.page());
    }
    let a = by_link(form.viewer.page(), &g, user, &token);
    do_reschedule(&state, a, &form.form).await
}

// ---------------------------------------------------------------------
// My sessions
// ---------------------------------------------------------------------

struct SessionItem {
    href: String,
    topic_title: String,
    mentor_name: String,
    when: String,
    status: &'static str,
    status_class: &'static str,
}

#[derive(Template)]
#[template(path = "bookings/sessions.html")]
struct SessionsPage {
    page: PageCtx,
    zone_name: String,
    upcoming: Vec<SessionItem>,
    past: Vec<SessionItem>,
}

/// `GET /me/sessions`.
pub async fn my_sessions(state: web::Data<AppState>, auth: Auth) -> Result<HttpResponse, AppError> {
    let id = auth.user.id;
    let now = state.clock.now();
    let rows = state
        .db(move |conn| service::sessions_of_learner(conn, id))
        .await?;
    let zone = auth.user.time_zone;
    let mut upcoming = Vec::new();
    let mut past = Vec::new();
    for r in rows {
        let b = &r.booking;
        let item = SessionItem {
            href: format!("/bookings/{}", b.id),
            topic_title: r.topic_title.clone(),
            mentor_name: r.mentor_name.clone(),
            when: timefmt::when(b.start_at, b.end_at, zone),
            status: b.status().label(),
            status_class: b.status().as_str(),
        };
        // Upcoming: still to happen (or happening now); everything else,
        // cancelled ones included, is history.
        if b.status() == Status::Confirmed && b.end_at > now {
            upcoming.push(item);
        } else {
            past.push(item);
        }
    }
    // Upcoming soonest first; past most recent first (the query's order).
    upcoming.reverse();
    respond(
        &SessionsPage {
            page: auth.page(),
            zone_name: zone.name().to_owned(),
            upcoming,
            past,
        },
        StatusCode::OK,
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn notices_name_who_was_emailed_and_hold_only_while_true() {
        use super::{Party, Status, notice_text};
        for (code, party, want) in [
            ("cancelled", Party::Learner, "both of you got an email"),
            (
                "cancelled",
                Party::Admin,
                "the learner and the mentor got an email",
            ),
            ("rescheduled", Party::Mentor, "Both of you got an email"),
            (
                "rescheduled",
                Party::Admin,
                "The learner and the mentor got an email",
            ),
        ] {
            let status = if code == "cancelled" {
                Status::Cancelled
            } else {
                Status::Confirmed
            };
            let text = notice_text(Some(code), status, party).unwrap_or_default();
            assert!(text.contains(want), "{code} {party:?}: {text}");
        }
        // "Moved" is not shown over a session cancelled since.
        assert_eq!(
            notice_text(Some("rescheduled"), Status::Cancelled, Party::Admin),
            None
        );
    }

    #[test]
    fn the_confirm_page_promises_only_the_reminders_there_will_be() {
        let now = Utc.with_ymd_and_hms(2026, 6, 15, 9, 0, 0).unwrap();
        let zone = chrono_tz::Europe::Berlin;
        let line = |ahead: Duration| reminders_line(Some(now + ahead), now, zone);
        assert_eq!(
            line(Duration::hours(25)),
            "Reminders come 24 hours and 1 hour before the start."
        );
        // Booked with exactly 24 hours to go, the 24-hour reminder is
        // skipped (its moment is not after the booking).
        assert_eq!(
            line(Duration::hours(24)),
            "A reminder comes 1 hour before the start."
        );
        // Ten minutes to spare: by when to book for it.
        assert_eq!(
            line(Duration::hours(24) + Duration::minutes(10)),
            "Reminders come 24 hours (if you book before 11:10 CEST) and 1 hour before the start."
        );
        assert_eq!(
            line(Duration::hours(23)),
            "A reminder comes 1 hour before the start."
        );
        assert_eq!(
            line(Duration::hours(1)),
            "It starts too soon for a reminder."
        );
        assert_eq!(
            line(Duration::minutes(59)),
            "It starts too soon for a reminder."
        );
        assert!(reminders_line(None, now, zone).contains("when it is still that far away"));
    }

    use super::*;
    use chrono::TimeZone;

    #[test]
    fn limit_refusals_name_the_limit_and_when_it_frees() {
        let at = Utc.with_ymd_and_hms(2026, 6, 20, 12, 0, 0).unwrap();
        let zone: Tz = chrono_tz::Europe::Berlin;
        let text = limit_text(
            &Limit::Upcoming {
                max: 2,
                frees_at: Some(at),
            },
            zone,
        )
        .join(" ");
        assert!(text.contains("2 upcoming sessions"), "{text}");
        assert!(text.contains("14:00"), "{text}");
        assert!(text.contains("Europe/Berlin"), "{text}");
        let (month_start, _, next) = super::super::policy::month_bounds(at, zone);
        let text = limit_text(
            &Limit::PerMonth {
                max: 4,
                month_start,
                next_month_at: next,
            },
            zone,
        )
        .join(" ");
        assert!(text.contains("June 2026"), "{text}");
        assert!(text.contains("1 July 2026"), "{text}");
    }
}
