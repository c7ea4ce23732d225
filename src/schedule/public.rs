//! The public schedule pages: `/mentors/{id}` (a mentor's profile and a
//! week grid of free slots) and `/topics/{slug}` (the mentors offering a
//! topic, each with their next free slots). Slots are shown in the
//! viewer's zone (`?tz=`, else the signed-in user's zone, else UTC, which
//! the one small script replaces with the browser's zone) and link to
//! `/book` with the exact UTC instant.
//!
//! Each page runs ONE SQL statement whatever the number of mentors and
//! bookings (`load`: the rows `availability::load` reads, plus the users
//! and topics, aggregated by PostgreSQL), then the pure slot engine. For
//! a signed-in visitor one more statement (`bookings::facts::Standing`,
//! as the booking check reads it) finds their own sessions: the grid marks
//! the times that clash with them as busy (shown, not linked) and the
//! topic page leaves them out, so nobody is offered a time that booking
//! would refuse. The same read gives their standing against the fairness
//! limits: times a limit refuses are marked "limit" on the grid (a month
//! cap's are left out of the topic page), and the limit is named above
//! the times with when it frees up (`VisitorLimits`).
//! Depends on `schedule::availability`, `schedule::queries`,
//! `bookings::facts` and `bookings::policy`, `slots`, `web`, `db`.

pub mod cache;
pub mod load;

use std::fmt::Write as _;
use std::sync::LazyLock;

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Offset as _, Timelike, Utc};
use chrono_tz::Tz;
use diesel::QueryResult;
use uuid::Uuid;

use self::load::TopicInfo;
use super::availability::Loaded;
use super::queries;
use crate::bookings::facts::Standing;
use crate::bookings::policy::{Limit, limit_text};
use crate::error::AppError;
use crate::slots::{Interval, Slot, resolve_local};
use crate::state::AppState;
use crate::web::auth::Viewer;
use crate::web::{PageCtx, render};

/// How many free slots the topic page shows per mentor.
const NEXT_SLOTS: usize = 3;
/// The furthest the topic page searches for them (the largest horizon a
/// mentor can set).
const MAX_SEARCH_DAYS: i64 = 180;
/// The first, cheap pass of that search; most mentors have three free
/// slots within it.
const FIRST_SEARCH_DAYS: i64 = 14;
/// How far from the current week `?week=` may go; further is ignored.
const MAX_WEEK_OFFSET_DAYS: i64 = 2 * 366;

// ---------------------------------------------------------------------
// Request parameters and the viewer's zone
// ---------------------------------------------------------------------

/// The query parameters of both pages. Unknown, repeated (first wins),
/// empty or malformed values are ignored rather than refused: a stale or
/// hand-edited link still shows a page.
#[derive(Debug, Default)]
struct Params {
    topic: Option<String>,
    week: Option<String>,
    tz: Option<String>,
}

impl Params {
    fn parse(query: &str) -> Self {
        let mut p = Params::default();
        for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
            let value = value.trim();
            if value.is_empty() || value.len() > 100 {
                continue;
            }
            let slot = match key.as_ref() {
                "topic" => &mut p.topic,
                "week" => &mut p.week,
                "tz" => &mut p.tz,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(value.to_owned());
            }
        }
        p
    }
}

/// The zone times are shown in, and where it came from.
#[derive(Debug, Clone, Copy)]
struct ViewerZone {
    zone: Tz,
    /// Chosen with a valid `?tz=`: links keep it.
    explicit: bool,
    /// Nothing chose it (anonymous, no usable `?tz=`): UTC, and the page
    /// asks the script to offer the browser's zone.
    fallback: bool,
    /// A `?tz=` was given that names no zone we know: the page says so.
    unknown: bool,
}

impl ViewerZone {
    /// The zone a link is built for outside a slot page: `zone`, kept in
    /// the link when it was `chosen` with `?tz=`.
    fn linked(zone: Tz, chosen: bool) -> Self {
        ViewerZone {
            zone,
            explicit: chosen,
            fallback: false,
            unknown: false,
        }
    }
}

/// A `?tz=` naming a zone by another spelling (its old name, as Chromium
/// reports India's, or another letter case): the same page with the
/// zone's current name, so the address, `next` and every link carry one
/// name for it.
fn respelled_zone(req: &HttpRequest, tz: Option<&str>) -> Option<HttpResponse> {
    let raw = tz?;
    let zone = crate::web::forms::zone_from_query(raw)?;
    if zone.name() == raw {
        return None;
    }
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(req.query_string().as_bytes())
        .into_owned()
        .map(|(k, v)| {
            let v = if k == "tz" { zone.name().to_owned() } else { v };
            (k, v)
        })
        .collect();
    let query = serde_urlencoded::to_string(&pairs).ok()?;
    Some(
        HttpResponse::Found()
            .insert_header((
                actix_web::http::header::LOCATION,
                format!("{}?{query}", req.path()),
            ))
            .finish(),
    )
}

fn viewer_zone(tz: Option<&str>, viewer: &Viewer) -> ViewerZone {
    if let Some(zone) = tz.and_then(crate::web::forms::zone_from_query) {
        return ViewerZone::linked(zone, true);
    }
    let unknown = tz.is_some();
    match viewer.user() {
        Some(user) => ViewerZone {
            zone: user.time_zone,
            explicit: false,
            fallback: false,
            unknown,
        },
        // The script then offers the browser's zone, also in place of one
        // we do not know (it leaves a `?tz=` naming its own zone alone, so
        // a browser zone we do not know cannot make it reload forever).
        None => ViewerZone {
            zone: chrono_tz::UTC,
            explicit: false,
            fallback: true,
            unknown,
        },
    }
}

/// The `?tz=` the page could not use, to name in its notice.
fn unknown_zone(vz: ViewerZone, params: &Params) -> Option<String> {
    vz.unknown.then(|| params.tz.clone()).flatten()
}

/// The `<option>`s of the zone select (`forms::listed_zones`), built once;
/// the selected one is marked per request by a single insertion.
static ZONE_OPTIONS: LazyLock<String> = LazyLock::new(|| {
    let zones = crate::web::forms::listed_zones();
    let mut html = String::with_capacity(zones.len() * 32);
    for name in zones {
        // Zone names are ASCII letters, digits and `/_+-`: nothing to escape.
        let _ = write!(html, "<option>{name}</option>");
    }
    html
});

/// The zone select's options with `selected` on `zone`.
fn zone_options(zone: Tz) -> String {
    let marker = format!("<option>{}</option>", zone.name());
    let mut html = String::with_capacity(ZONE_OPTIONS.len() + 16);
    match ZONE_OPTIONS.find(&marker) {
        Some(at) => {
            html.push_str(&ZONE_OPTIONS[..at]);
            html.push_str("<option selected>");
            html.push_str(&ZONE_OPTIONS[at + "<option>".len()..]);
        }
        // A valid zone the list leaves out (`?tz=EST`): shown first.
        None => {
            html.push_str(&marker.replacen("<option>", "<option selected>", 1));
            html.push_str(&ZONE_OPTIONS);
        }
    }
    html
}

// ---------------------------------------------------------------------
// Formatting
// ---------------------------------------------------------------------

// Dates and times are formatted by hand: chrono's `format` parses its
// pattern on every call, which showed up in the page's profile.
const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `Tue 16 Jun`.
fn day_label(date: NaiveDate) -> String {
    format!(
        "{} {} {}",
        WEEKDAYS[date.weekday().num_days_from_monday() as usize],
        date.day(),
        MONTHS[date.month0() as usize]
    )
}

/// `2026-06-16`.
fn iso_date(date: NaiveDate) -> String {
    format!("{:04}-{:02}-{:02}", date.year(), date.month(), date.day())
}

/// `09:00`.
fn hh_mm(t: &DateTime<Tz>) -> String {
    format!("{:02}:{:02}", t.hour(), t.minute())
}

/// `Tue 16 Jun, 09:00 CEST`: the date, time and zone abbreviation (or
/// offset) of an instant in the viewer's zone.
fn full_label(t: &DateTime<Tz>) -> String {
    format!(
        "{}, {} {}",
        day_label(t.date_naive()),
        hh_mm(t),
        crate::timefmt::abbreviation(t)
    )
}

/// `2026-06-16T07:00:00Z`.
pub(crate) fn rfc3339_utc(t: DateTime<Utc>) -> String {
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        iso_date(t.date_naive()),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The booking link of a slot. `start` is kept readable (`:` is allowed in
/// a query string), so the link carries the instant verbatim; a zone chosen
/// with `?tz=` goes along, so the confirm page shows the time as picked.
fn book_href(mentor: Uuid, topic_slug: &str, start: DateTime<Utc>, vz: ViewerZone) -> String {
    let mut href = format!(
        "/book?mentor={mentor}&topic={}&start={}",
        encode(topic_slug),
        rfc3339_utc(start)
    );
    href.push_str(&tz_param('&', vz));
    href
}

/// The confirm page of `start` (`book_href`), with the zone it was picked
/// in: where an unconfirmed learner returns after confirming their address.
pub(crate) fn confirm_href(
    mentor: Uuid,
    topic_slug: &str,
    start: DateTime<Utc>,
    zone: Option<Tz>,
) -> String {
    let vz = ViewerZone::linked(zone.unwrap_or(chrono_tz::UTC), zone.is_some());
    book_href(mentor, topic_slug, start, vz)
}

/// The Monday of `date`'s week.
fn monday_of(date: NaiveDate) -> NaiveDate {
    date - Duration::days(date.weekday().num_days_from_monday().into())
}

/// `[start, end)` of the local dates `[from, to)` in `zone`.
fn local_days(zone: Tz, from: NaiveDate, to: NaiveDate) -> Interval {
    Interval {
        start: resolve_local(zone, from, NaiveTime::MIN),
        end: resolve_local(zone, to, NaiveTime::MIN),
    }
}

/// "CEST", or "CET until Sat 28 Mar, then CEST" for a week with a change.
fn zone_note(zone: Tz, days: &[NaiveDate]) -> String {
    let noon = NaiveTime::from_hms_opt(12, 0, 0).unwrap_or(NaiveTime::MIN);
    let mut runs: Vec<(String, NaiveDate, NaiveDate)> = Vec::new();
    let abbr_at =
        |t: DateTime<Utc>| crate::timefmt::abbreviation(&t.with_timezone(&zone)).to_string();
    for &d in days {
        let abbr = abbr_at(resolve_local(zone, d, noon));
        match runs.last_mut() {
            Some((a, _, last)) if *a == abbr => *last = d,
            _ => runs.push((abbr, d, d)),
        }
    }
    match runs.as_slice() {
        [] => String::new(),
        [(abbr, _, _)] => abbr.clone(),
        _ => {
            let mut parts = Vec::new();
            for (i, (abbr, _, last)) in runs.iter().enumerate() {
                match runs.get(i + 1) {
                    // The change lies between noon of this run's last day
                    // and noon of the next run's first: found to the
                    // second, named as the old offset's wall clock shows it
                    // ("CET until Sun 29 Mar 02:00").
                    Some((_, next, _)) => {
                        let (mut old, mut new) = (
                            resolve_local(zone, *last, noon),
                            resolve_local(zone, *next, noon),
                        );
                        while new - old > Duration::seconds(1) {
                            let mid = old + (new - old) / 2;
                            if abbr_at(mid) == *abbr {
                                old = mid;
                            } else {
                                new = mid;
                            }
                        }
                        let wall = new.with_timezone(&old.with_timezone(&zone).offset().fix());
                        parts.push(format!(
                            "{abbr} until {} {:02}:{:02}",
                            day_label(wall.date_naive()),
                            wall.hour(),
                            wall.minute()
                        ));
                    }
                    None => parts.push(format!("then {abbr}")),
                }
            }
            parts.join(", ")
        }
    }
}

// ---------------------------------------------------------------------
// Loading: one statement per page (see `load`)
// ---------------------------------------------------------------------

fn duration_of(topic: &TopicInfo) -> Duration {
    Duration::minutes(topic.duration_minutes.into())
}

fn bookable(loaded: &Loaded, mentor: Uuid, topics: &[TopicInfo]) -> bool {
    !topics.is_empty()
        && loaded
            .profiles
            .get(&mentor)
            .is_some_and(|p| p.accepting_bookings)
}

// ---------------------------------------------------------------------
// GET /mentors/{id}
// ---------------------------------------------------------------------

/// A topic the mentor offers, as a link.
struct TopicLink {
    title: String,
    duration_minutes: i32,
    /// This page showing the topic's grid.
    grid_href: String,
    /// The topic's page.
    topic_href: String,
    current: bool,
}

struct SlotLink {
    /// `09:00`, in the viewer's zone.
    time: String,
    /// `Tue 16 Jun, 09:00 CEST`, for assistive technology.
    full: String,
    href: String,
    /// RFC 3339 UTC start, for `<time datetime>`.
    utc: String,
    /// The signed-in viewer has another session then: shown, not linked.
    busy: bool,
    /// The viewer's fairness limits refuse it: shown, not linked.
    limited: bool,
}

struct DayColumn {
    label: String,
    iso: String,
    slots: Vec<SlotLink>,
}

#[derive(Template)]
#[template(path = "schedule/mentor.html")]
struct MentorPage {
    page: PageCtx,
    /// The fairness limit that refuses the visitor some or all of the
    /// times shown, as paragraphs (none: nothing refused).
    limit: Vec<String>,
    name: String,
    headline: String,
    bio: String,
    topics: Vec<TopicLink>,
    /// The topic of the grid, when the mentor takes bookings.
    selected: Option<TopicLink>,
    zone_name: String,
    zone_note: String,
    zone_options: String,
    tz_auto: bool,
    /// A `?tz=` naming no known zone, as given.
    zone_unknown: Option<String>,
    zone_form_action: String,
    zone_form_hidden: Vec<(&'static str, String)>,
    week_label: String,
    days: Vec<DayColumn>,
    /// Some time of the week can be booked (busy ones do not count).
    any_slots: bool,
    /// Some time is shown as busy (the legend is needed).
    any_busy: bool,
    /// Some time is shown as beyond the visitor's limits.
    any_limited: bool,
    prev_href: Option<String>,
    next_href: Option<String>,
    /// "… takes bookings up to N days ahead." for a week at or past it.
    horizon_note: Option<String>,
    this_week_href: Option<String>,
}

/// What a signed-in visitor's fairness limits say about the times of one
/// topic: a limit that refuses every one of them (the upcoming caps, a
/// no-show pause), else the month caps that refuse some, found as the
/// times are asked about. Months count in the visitor's own zone.
struct VisitorLimits<'a> {
    standing: Option<&'a Standing>,
    topic: Uuid,
    zone: Tz,
    now: DateTime<Utc>,
    every: Option<Limit>,
    /// With no limit on every time, only a month cap is left to refuse
    /// one: its verdict per (year, month) in `zone`, counted once.
    months: std::cell::RefCell<Vec<MonthVerdict>>,
}

/// A local (year, month) and the limit refusing its times, if any.
type MonthVerdict = ((i32, u32), Option<Limit>);

impl<'a> VisitorLimits<'a> {
    fn new(
        standing: Option<&'a Standing>,
        viewer: &Viewer,
        topic: Option<&TopicInfo>,
        now: DateTime<Utc>,
    ) -> Self {
        let zone = viewer.user().map_or(chrono_tz::UTC, |u| u.time_zone);
        let topic = topic.map_or(Uuid::nil(), |t| t.id);
        let standing = standing.filter(|_| !topic.is_nil());
        VisitorLimits {
            standing,
            topic,
            zone,
            now,
            every: standing.and_then(|s| s.limit_at_any_time(topic, zone, now)),
            months: std::cell::RefCell::new(Vec::new()),
        }
    }

    /// Whether the visitor may book a session starting at `start` as far
    /// as their limits go (a month cap that refuses it is kept for the
    /// notice).
    fn allow(&self, start: DateTime<Utc>) -> bool {
        if self.every.is_some() {
            return false;
        }
        let Some(standing) = self.standing else {
            return true;
        };
        let local = start.with_timezone(&self.zone);
        let month = (local.year(), local.month());
        let mut months = self.months.borrow_mut();
        if let Some((_, verdict)) = months.iter().find(|(m, _)| *m == month) {
            return verdict.is_none();
        }
        let verdict = standing.limit(self.topic, start, self.zone, self.now).err();
        let allowed = verdict.is_none();
        months.push((month, verdict));
        allowed
    }

    /// The notice above the times, in `zone`: the limit that refuses them
    /// all, else the first month cap that refused some (none: nothing
    /// refused). A month counts in the visitor's own zone, which the page
    /// names when it shows another.
    fn notice(self, zone: Tz) -> Vec<String> {
        let own = self.zone;
        let month = self
            .months
            .into_inner()
            .into_iter()
            .find_map(|(_, verdict)| verdict);
        let Some(limit) = self.every.or(month) else {
            return Vec::new();
        };
        let mut text = limit_text(&limit, zone);
        if matches!(limit, Limit::PerMonth { .. }) && own != zone {
            text.push(format!(
                "Months count in your own time zone, {}.",
                own.name()
            ));
        }
        text
    }
}

/// The signed-in `visitor`'s standing against the fairness limits, with
/// what keeps them busy for slots starting in `window`, in one statement
/// (nothing for a visitor not signed in).
fn visitor_standing(
    conn: &mut diesel::PgConnection,
    visitor: Option<Uuid>,
    window: Interval,
    now: DateTime<Utc>,
) -> QueryResult<(Option<Standing>, Vec<Interval>)> {
    let Some(v) = visitor else {
        return Ok((None, Vec::new()));
    };
    let standing = Standing::read(conn, v, Uuid::nil(), window, now)?;
    let busy = standing
        .busy_within(window)
        .map(<[Interval]>::to_vec)
        .unwrap_or_default();
    Ok((Some(standing), busy))
}

/// The mentor's page for `topic` at the week of `at` in `zone`; the zone
/// goes along when it was `chosen` with `?tz=` (as on the confirm page,
/// whose mentor links lead back to where the time was picked).
pub(crate) fn mentor_week_href(
    mentor: Uuid,
    topic: &str,
    at: DateTime<Utc>,
    zone: Tz,
    chosen: bool,
) -> String {
    let day = at.with_timezone(&zone).date_naive();
    mentor_href(
        &format!("/mentors/{mentor}"),
        topic,
        day,
        ViewerZone::linked(zone, chosen),
    )
}

/// `{sep}tz=…` (`sep`: `?` or `&`) for a zone chosen with `?tz=`, else
/// nothing: the one way a link keeps the viewer's chosen zone.
fn tz_param(sep: char, vz: ViewerZone) -> String {
    if vz.explicit {
        format!("{sep}tz={}", encode(vz.zone.name()))
    } else {
        String::new()
    }
}

/// The query string of a mentor-page link.
fn mentor_href(path: &str, topic: &str, week: NaiveDate, vz: ViewerZone) -> String {
    let mut href = format!("{path}?topic={}&week={}", encode(topic), iso_date(week));
    href.push_str(&tz_param('&', vz));
    href
}

pub async fn mentor_page(
    state: web::Data<AppState>,
    viewer: Viewer,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id: Uuid = path.parse().map_err(|_| AppError::NotFound)?;
    let params = Params::parse(req.query_string());
    if let Some(res) = respelled_zone(&req, params.tz.as_deref()) {
        return Ok(res);
    }
    let vz = viewer_zone(params.tz.as_deref(), &viewer);
    let now = state.clock.now();

    let today = now.with_timezone(&vz.zone).date_naive();
    let current_week = monday_of(today);
    let week = params
        .week
        .as_deref()
        .and_then(|w| NaiveDate::parse_from_str(w, "%Y-%m-%d").ok())
        .filter(|d| (*d - current_week).num_days().abs() <= MAX_WEEK_OFFSET_DAYS)
        .map(monday_of)
        .unwrap_or(current_week);
    let next_week = week + Duration::days(7);
    let window = local_days(vz.zone, week, next_week);

    let cache = state.mentor_pages.clone();
    // A signed-in visitor (other than the mentor, whose own sessions the
    // engine already counts) sees which times clash with their sessions.
    let visitor = viewer.user().map(|u| u.id).filter(|v| *v != id);
    let (data, busy, standing) = state
        .db(move |conn| -> QueryResult<_> {
            let data = cache.mentor(conn, id, window.start, window.end, now)?;
            let (standing, busy) =
                visitor_standing(conn, visitor.filter(|_| data.is_some()), window, now)?;
            Ok((data, busy, standing))
        })
        .await?;
    let data = data.ok_or(AppError::NotFound)?;
    let topics = data.offered.get(&id).map(Vec::as_slice).unwrap_or_default();
    let name = data
        .mentors
        .first()
        .map(|m| m.display_name.clone())
        .unwrap_or_default();

    let mentor_path = format!("/mentors/{id}");
    let profile = data.loaded.profiles.get(&id);
    let takes_bookings = bookable(&data.loaded, id, topics);
    let selected_topic = takes_bookings
        .then(|| {
            params
                .topic
                .as_deref()
                .and_then(|slug| topics.iter().find(|t| t.slug == slug))
                .or(topics.first())
        })
        .flatten();
    let selected_slug = selected_topic.map(|t| t.slug.clone()).unwrap_or_default();

    let link = |t: &TopicInfo| TopicLink {
        title: t.title.clone(),
        duration_minutes: t.duration_minutes,
        grid_href: mentor_href(&mentor_path, &t.slug, week, vz),
        topic_href: format!("/topics/{}{}", encode(&t.slug), tz_param('?', vz)),
        current: t.slug == selected_slug,
    };
    let topic_links: Vec<TopicLink> = topics.iter().map(link).collect();

    let dates: Vec<NaiveDate> = (0..7).map(|i| week + Duration::days(i)).collect();
    let mut days: Vec<DayColumn> = dates
        .iter()
        .map(|d| DayColumn {
            label: day_label(*d),
            iso: iso_date(*d),
            slots: Vec::new(),
        })
        .collect();
    let mut any_slots = false;
    let mut any_busy = false;
    let mut any_limited = false;
    let limits = VisitorLimits::new(standing.as_ref(), &viewer, selected_topic, now);
    let mut horizon_end = None;
    if let Some(topic) = selected_topic {
        let duration = duration_of(topic);
        let slots = data.loaded.slots(id, duration, now, window);
        for slot in slots {
            let local = slot.start.with_timezone(&vz.zone);
            let offset = (local.date_naive() - week).num_days();
            let Some(day) = usize::try_from(offset).ok().and_then(|i| days.get_mut(i)) else {
                continue;
            };
            let slot_busy = !queries::clear_of(&busy, slot.start, duration);
            let slot_limited = !slot_busy && !limits.allow(slot.start);
            any_busy |= slot_busy;
            any_limited |= slot_limited;
            any_slots |= !slot_busy;
            day.slots.push(SlotLink {
                time: hh_mm(&local),
                full: full_label(&local),
                href: book_href(id, &topic.slug, slot.start, vz),
                utc: rfc3339_utc(slot.start),
                busy: slot_busy,
                limited: slot_limited,
            });
        }
        horizon_end = profile.map(|p| now + Duration::days(p.horizon_days.into()));
    }

    let nav = |w: NaiveDate| mentor_href(&mentor_path, &selected_slug, w, vz);
    // Earlier weeks than the current one hold no free time; nor do weeks
    // past the mentor's horizon.
    let prev_href = (week > current_week).then(|| nav(week - Duration::days(7)));
    let next_href = horizon_end
        .is_some_and(|end| window.end < end)
        .then(|| nav(next_week));
    let this_week_href = (week != current_week).then(|| nav(current_week));
    // A week reaching past the horizon says why it ends there.
    let horizon_note = horizon_end
        .filter(|end| window.end >= *end)
        .and(profile)
        .map(|p| format!("{name} takes bookings up to {} days ahead.", p.horizon_days));

    let (headline, bio) = profile
        .map(|p| (p.headline.clone(), p.bio.clone()))
        .unwrap_or_default();
    let limit = limits.notice(vz.zone);
    render(&MentorPage {
        page: viewer.page(),
        limit,
        name,
        headline,
        bio,
        selected: selected_topic.map(link),
        topics: topic_links,
        zone_name: vz.zone.name().to_owned(),
        zone_note: zone_note(vz.zone, &dates),
        zone_options: zone_options(vz.zone),
        tz_auto: vz.fallback,
        zone_unknown: unknown_zone(vz, &params),
        zone_form_hidden: vec![("topic", selected_slug.clone()), ("week", iso_date(week))],
        week_label: format!("{} – {}", day_label(week), {
            let sunday = next_week - Duration::days(1);
            format!("{} {}", day_label(sunday), sunday.year())
        }),
        days,
        any_slots,
        any_busy,
        any_limited,
        prev_href,
        next_href,
        horizon_note,
        this_week_href,
        zone_form_action: mentor_path,
    })
}

// ---------------------------------------------------------------------
// GET /topics/{slug}
// ---------------------------------------------------------------------

struct NextSlot {
    /// `Tue 16 Jun, 09:00 CEST`, in the viewer's zone.
    label: String,
    href: String,
    utc: String,
}

struct MentorCard {
    name: String,
    headline: String,
    href: String,
    slots: Vec<NextSlot>,
}

#[derive(Template)]
#[template(path = "schedule/topic.html")]
struct TopicPage {
    page: PageCtx,
    /// As on the mentor page.
    limit: Vec<String>,
    /// That limit refuses every time: they are shown, not linked.
    all_limited: bool,
    topic: TopicInfo,
    mentors: Vec<MentorCard>,
    zone_name: String,
    zone_options: String,
    tz_auto: bool,
    /// A `?tz=` naming no known zone, as given.
    zone_unknown: Option<String>,
    zone_form_action: String,
    zone_form_hidden: Vec<(&'static str, String)>,
}

/// The first `n` free slots of `mentor` from `now` that the viewer is
/// `offered` (clear of their own sessions, within their limits), searching
/// a short window first and the whole `limit` only when that is not
/// enough.
fn next_slots(
    loaded: &Loaded,
    mentor: Uuid,
    duration: Duration,
    now: DateTime<Utc>,
    limit: DateTime<Utc>,
    offered: &dyn Fn(DateTime<Utc>) -> bool,
    n: usize,
) -> Vec<Slot> {
    let first_end = (now + Duration::days(FIRST_SEARCH_DAYS)).min(limit);
    let free = |window| {
        loaded
            .slots(mentor, duration, now, window)
            .into_iter()
            .filter(|s| offered(s.start))
    };
    let mut slots: Vec<Slot> = free(Interval::new(now, first_end)).collect();
    if slots.len() < n && first_end < limit {
        slots.extend(free(Interval::new(first_end, limit)));
    }
    slots.truncate(n);
    slots
}

pub async fn topic_page(
    state: web::Data<AppState>,
    viewer: Viewer,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let slug = path.into_inner();
    let params = Params::parse(req.query_string());
    if let Some(res) = respelled_zone(&req, params.tz.as_deref()) {
        return Ok(res);
    }
    let vz = viewer_zone(params.tz.as_deref(), &viewer);
    let now = state.clock.now();

    // Loaded up to the largest horizon a mentor can set; each mentor's own
    // horizon is applied by the engine.
    let cap = now + Duration::days(MAX_SEARCH_DAYS);
    // A signed-in visitor is not offered times they already have a
    // session at.
    let visitor = viewer.user().map(|u| u.id);
    let (data, busy, standing) = state
        .db(move |conn| -> QueryResult<_> {
            let data = load::topic(conn, &slug, now, cap, now)?;
            let window = Interval::new(now, cap);
            let (standing, busy) =
                visitor_standing(conn, visitor.filter(|_| data.is_some()), window, now)?;
            Ok((data, busy, standing))
        })
        .await?;
    let data = data.ok_or(AppError::NotFound)?;
    let Some(topic) = data.topic else {
        return Err(AppError::NotFound);
    };
    // The search ends at the furthest horizon among these mentors.
    let furthest = data
        .loaded
        .profiles
        .values()
        .map(|p| i64::from(p.horizon_days))
        .max()
        .unwrap_or(0)
        .min(MAX_SEARCH_DAYS);
    let limit = now + Duration::days(furthest);

    let duration = duration_of(&topic);
    let tz_query = tz_param('&', vz);
    // Times a month cap refuses are left out, as busy ones are; with a
    // limit that refuses them all, they are shown unlinked, as on the grid,
    // and the notice says why.
    let limits = VisitorLimits::new(standing.as_ref(), &viewer, Some(&topic), now);
    let offered = |start| {
        queries::clear_of(&busy, start, duration) && (limits.every.is_some() || limits.allow(start))
    };
    let mut cards: Vec<(Option<DateTime<Utc>>, MentorCard)> = data
        .mentors
        .iter()
        .map(|m| {
            let slots = next_slots(
                &data.loaded,
                m.id,
                duration,
                now,
                limit,
                &offered,
                NEXT_SLOTS,
            );
            let first = slots.first().map(|s| s.start);
            let card = MentorCard {
                name: m.display_name.clone(),
                headline: data
                    .loaded
                    .profiles
                    .get(&m.id)
                    .map(|p| p.headline.clone())
                    .unwrap_or_default(),
                href: format!(
                    "/mentors/{}?topic={}{}",
                    m.id,
                    encode(&topic.slug),
                    tz_query
                ),
                slots: slots
                    .iter()
                    .map(|s| NextSlot {
                        label: full_label(&s.start.with_timezone(&vz.zone)),
                        href: book_href(m.id, &topic.slug, s.start, vz),
                        utc: rfc3339_utc(s.start),
                    })
                    .collect(),
            };
            (first, card)
        })
        .collect();
    // Soonest free first; mentors with none last; by name within a tie
    // (the query's order, kept by the stable sort).
    cards.sort_by_key(|(first, _)| (first.is_none(), *first));

    let topic_path = format!("/topics/{}", encode(&topic.slug));
    render(&TopicPage {
        page: viewer.page(),
        all_limited: limits.every.is_some(),
        limit: limits.notice(vz.zone),
        topic,
        mentors: cards.into_iter().map(|(_, c)| c).collect(),
        zone_name: vz.zone.name().to_owned(),
        zone_options: zone_options(vz.zone),
        tz_auto: vz.fallback,
        zone_unknown: unknown_zone(vz, &params),
        zone_form_action: topic_path,
        zone_form_hidden: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_ignore_empty_unknown_and_repeated_values() {
        let p = Params::parse("tz=&week=2026-06-15&week=2027-01-01&x=1&topic=sql");
        assert_eq!(p.tz, None);
        assert_eq!(p.week.as_deref(), Some("2026-06-15"));
        assert_eq!(p.topic.as_deref(), Some("sql"));
        let p = Params::parse("tz=Europe%2FBerlin");
        assert_eq!(p.tz.as_deref(), Some("Europe/Berlin"));
    }

    #[test]
    fn zone_options_mark_exactly_one_zone() {
        let html = zone_options(chrono_tz::Pacific::Auckland);
        assert_eq!(html.matches(" selected").count(), 1);
        assert!(html.contains("<option selected>Pacific/Auckland</option>"));
        assert!(html.contains("<option>UTC</option>"));
        // Legacy names are not offered, but one already chosen is shown.
        assert!(!html.contains("<option>EST</option>"));
        assert!(!html.contains("Etc/GMT"));
        let html = zone_options(chrono_tz::EST);
        assert!(html.starts_with("<option selected>EST</option>"));
        assert_eq!(html.matches(" selected").count(), 1);
    }

    #[test]
    fn booking_links_carry_the_utc_instant() {
        let start = chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 6, 16, 7, 0, 0).unwrap();
        let id = Uuid::nil();
        let own = ViewerZone::linked(chrono_tz::Europe::Berlin, false);
        assert_eq!(
            book_href(id, "sql-basics", start, own),
            format!("/book?mentor={id}&topic=sql-basics&start=2026-06-16T07:00:00Z")
        );
        // A zone chosen with `?tz=` goes along to the confirm page.
        let chosen = ViewerZone::linked(chrono_tz::America::Argentina::Buenos_Aires, true);
        assert_eq!(
            book_href(id, "sql-basics", start, chosen),
            format!(
                "/book?mentor={id}&topic=sql-basics&start=2026-06-16T07:00:00Z\
                 &tz=America%2FArgentina%2FBuenos_Aires"
            )
        );
    }

    #[test]
    fn a_week_with_a_dst_change_names_both_abbreviations() {
        let monday = NaiveDate::from_ymd_opt(2026, 3, 23).unwrap();
        let days: Vec<NaiveDate> = (0..7).map(|i| monday + Duration::days(i)).collect();
        assert_eq!(
            zone_note(chrono_tz::Europe::Berlin, &days),
            "CET until Sun 29 Mar 02:00, then CEST"
        );
        // Falling back: the old offset's clock reads 03:00 at the change.
        let monday = NaiveDate::from_ymd_opt(2026, 10, 19).unwrap();
        let autumn: Vec<NaiveDate> = (0..7).map(|i| monday + Duration::days(i)).collect();
        assert_eq!(
            zone_note(chrono_tz::Europe::Berlin, &autumn),
            "CEST until Sun 25 Oct 03:00, then CET"
        );
        // New York springs forward at 02:00 on Sunday 8 March.
        let monday = NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
        let march: Vec<NaiveDate> = (0..7).map(|i| monday + Duration::days(i)).collect();
        assert_eq!(
            zone_note(chrono_tz::America::New_York, &march),
            "EST until Sun 8 Mar 02:00, then EDT"
        );
        assert_eq!(zone_note(chrono_tz::Asia::Kolkata, &days), "IST");
    }

    #[test]
    fn hand_formatting_matches_chrono() {
        let zones = [
            chrono_tz::Europe::Berlin,
            chrono_tz::Asia::Kolkata,
            chrono_tz::America::Sao_Paulo,
            chrono_tz::Australia::Lord_Howe,
            chrono_tz::UTC,
        ];
        let mut t = chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 1, 1, 0, 5, 0).unwrap();
        while t.year() < 2028 {
            for zone in zones {
                let local = t.with_timezone(&zone);
                assert_eq!(
                    full_label(&local),
                    format!(
                        "{} {}",
                        local.format("%a %-d %b, %H:%M"),
                        crate::timefmt::abbreviation(&local)
                    )
                );
                assert_eq!(
                    iso_date(local.date_naive()),
                    local.format("%Y-%m-%d").to_string()
                );
            }
            assert_eq!(
                rfc3339_utc(t),
                t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            );
            t += Duration::minutes(7 * 60 + 13);
        }
    }

    #[test]
    fn monday_of_a_sunday_is_six_days_before() {
        let sunday = NaiveDate::from_ymd_opt(2026, 6, 21).unwrap();
        assert_eq!(
            monday_of(sunday),
            NaiveDate::from_ymd_opt(2026, 6, 15).unwrap()
        );
        assert_eq!(monday_of(monday_of(sunday)), monday_of(sunday));
    }
}
