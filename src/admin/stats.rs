//! The statistics on `/admin`: bookings per week and per topic over the
//! last 12 weeks, cancellation, late-cancel and no-show rates, and each
//! mentor's utilisation over the next 4 weeks. Counts come from SQL
//! aggregation (GROUP BY / FILTER), never from booking rows loaded into
//! memory; hours offered come from the mentors' schedules (weekly rules
//! and overrides resolved per local date by the slot engine's own types,
//! minus time off), read for all mentors at once. The page runs the same
//! number of statements whatever the number of mentors or bookings.
//! `view` turns the numbers into what the template shows, charts through
//! the pure `charts` module. Depends on `db`, `schedule`, `slots`,
//! `timefmt`.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Integer, Text, Timestamptz, Uuid as SqlUuid};
use uuid::Uuid;

use super::charts::{self, ColumnChart, Point, RowChart};
use crate::schedule::availability::{self, MentorRef, Rows};
use crate::schedule::queries;
use crate::slots::{Interval, Schedule, resolve_local};

/// Weeks of history shown, the current one included.
pub const WEEKS: usize = 12;
/// Days ahead over which utilisation is measured.
pub const UTILISATION_DAYS: i64 = 28;

// ================================================================ numbers

/// Bookings of one week by what became of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcomes {
    /// Every booking, cancelled ones included.
    pub total: i64,
    pub cancelled: i64,
    /// Cancelled by the learner inside the late-cancel window.
    pub late_cancelled: i64,
    pub completed: i64,
    pub no_show: i64,
}

impl Outcomes {
    /// Sessions that were not cancelled (booked, held or missed).
    pub fn booked(&self) -> i64 {
        self.total - self.cancelled
    }

    fn add(&mut self, other: &Outcomes) {
        self.total += other.total;
        self.cancelled += other.cancelled;
        self.late_cancelled += other.late_cancelled;
        self.completed += other.completed;
        self.no_show += other.no_show;
    }

    /// Cancelled / all bookings.
    pub fn cancellation_rate(&self) -> Option<f64> {
        ratio(self.cancelled, self.total)
    }

    /// Late cancels / all cancels.
    pub fn late_share_of_cancels(&self) -> Option<f64> {
        ratio(self.late_cancelled, self.cancelled)
    }

    /// Late cancels / all bookings.
    pub fn late_rate(&self) -> Option<f64> {
        ratio(self.late_cancelled, self.total)
    }

    /// No-shows / sessions whose outcome was marked (completed + no-show).
    pub fn no_show_rate(&self) -> Option<f64> {
        ratio(self.no_show, self.completed + self.no_show)
    }
}

/// `part / whole`, none when `whole` is zero.
fn ratio(part: i64, whole: i64) -> Option<f64> {
    // Booking counts stay far below 2^53: exact as f64.
    (whole > 0).then(|| part as f64 / whole as f64)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Week {
    /// The Monday it starts on, in the admin's zone.
    pub monday: NaiveDate,
    pub outcomes: Outcomes,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicCount {
    pub title: String,
    /// Sessions not cancelled.
    pub booked: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MentorUse {
    pub id: Uuid,
    pub name: String,
    /// Live bookings starting in the window.
    pub booked: Duration,
    /// The schedule's windows inside the window, minus time off.
    pub offered: Duration,
}

impl MentorUse {
    /// Booked / offered; none for a mentor offering nothing.
    pub fn utilisation(&self) -> Option<f64> {
        let offered = self.offered.num_seconds();
        (offered > 0).then(|| self.booked.num_seconds() as f64 / offered as f64)
    }
}

#[derive(Debug, Clone)]
pub struct Stats {
    pub zone: Tz,
    /// `WEEKS + 1` instants: local Mondays at 00:00, oldest first.
    pub week_bounds: Vec<DateTime<Utc>>,
    pub weeks: Vec<Week>,
    pub totals: Outcomes,
    pub topics: Vec<TopicCount>,
    pub ahead: Interval,
    pub mentors: Vec<MentorUse>,
}

/// Local midnights of the Mondays that bound the last `WEEKS` weeks of
/// `zone` (the current one included): `WEEKS + 1` instants, the last
/// being next Monday. A midnight in a DST gap moves forward, as
/// everywhere else.
pub fn week_bounds(zone: Tz, now: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let today = now.with_timezone(&zone).date_naive();
    let monday = today - Duration::days(today.weekday().num_days_from_monday().into());
    let weeks_back = i64::try_from(WEEKS).unwrap_or(12) - 1;
    let first = monday - Duration::weeks(weeks_back);
    (0..=weeks_back + 1)
        .map(|i| resolve_local(zone, first + Duration::weeks(i), NaiveTime::MIN))
        .collect()
}

#[derive(QueryableByName)]
struct WeekRow {
    /// 1-based week of `week_bounds`.
    #[diesel(sql_type = Integer)]
    bucket: i32,
    #[diesel(sql_type = BigInt)]
    total: i64,
    #[diesel(sql_type = BigInt)]
    cancelled: i64,
    #[diesel(sql_type = BigInt)]
    late_cancelled: i64,
    #[diesel(sql_type = BigInt)]
    completed: i64,
    #[diesel(sql_type = BigInt)]
    no_show: i64,
}

/// Bookings per week by outcome, for sessions starting in the weeks of
/// `bounds` (one statement; `width_bucket` puts each start in its week).
fn weeks_of(conn: &mut PgConnection, bounds: &[DateTime<Utc>]) -> QueryResult<Vec<Week>> {
    let (Some(from), Some(to)) = (bounds.first(), bounds.last()) else {
        return Ok(Vec::new());
    };
    let rows: Vec<WeekRow> = diesel::sql_query(
        "SELECT width_bucket(start_at, $1) AS bucket,
                count(*) AS total,
                count(*) FILTER (WHERE status = 'cancelled') AS cancelled,
                count(*) FILTER (WHERE status = 'cancelled' AND late_cancel) AS late_cancelled,
                count(*) FILTER (WHERE status = 'completed') AS completed,
                count(*) FILTER (WHERE status = 'no_show') AS no_show
           FROM bookings
          WHERE start_at >= $2 AND start_at < $3
          GROUP BY 1",
    )
    .bind::<Array<Timestamptz>, _>(bounds)
    .bind::<Timestamptz, _>(from)
    .bind::<Timestamptz, _>(to)
    .load(conn)?;
    let mut weeks: Vec<Week> = bounds
        .iter()
        .take(bounds.len().saturating_sub(1))
        .map(|_| Week {
            monday: NaiveDate::MIN,
            outcomes: Outcomes::default(),
        })
        .collect();
    for row in rows {
        let slot = usize::try_from(row.bucket)
            .ok()
            .and_then(|b| b.checked_sub(1))
            .and_then(|i| weeks.get_mut(i));
        if let Some(week) = slot {
            week.outcomes = Outcomes {
                total: row.total,
                cancelled: row.cancelled,
                late_cancelled: row.late_cancelled,
                completed: row.completed,
                no_show: row.no_show,
            };
        }
    }
    Ok(weeks)
}

#[derive(QueryableByName)]
struct TopicRow {
    #[diesel(sql_type = Text)]
    title: String,
    #[diesel(sql_type = BigInt)]
    booked: i64,
}

/// Sessions not cancelled per topic in `[from, to)`: every active topic,
/// and inactive ones that had sessions; most booked first.
fn topics_of(
    conn: &mut PgConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> QueryResult<Vec<TopicCount>> {
    let rows: Vec<TopicRow> = diesel::sql_query(
        "SELECT t.title, count(b.id) AS booked
           FROM topics t
           LEFT JOIN bookings b
             ON b.topic_id = t.id AND b.status <> 'cancelled'
            AND b.start_at >= $1 AND b.start_at < $2
          GROUP BY t.id, t.title, t.active
         HAVING t.active OR count(b.id) > 0
          ORDER BY booked DESC, t.title, t.id",
    )
    .bind::<Timestamptz, _>(from)
    .bind::<Timestamptz, _>(to)
    .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| TopicCount {
            title: r.title,
            booked: r.booked,
        })
        .collect())
}

#[derive(QueryableByName)]
struct MentorRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Text)]
    display_name: String,
    #[diesel(sql_type = Text)]
    time_zone: String,
    #[diesel(sql_type = BigInt)]
    booked_seconds: i64,
}

/// Every enabled mentor (or admin with a mentor profile) with the length
/// of their live bookings starting in `[from, to)`, in one statement.
fn mentors_with_booked(
    conn: &mut PgConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> QueryResult<Vec<MentorRow>> {
    diesel::sql_query(
        "SELECT u.id, u.display_name, u.time_zone,
                coalesce(sum(extract(epoch FROM b.end_at - b.start_at)), 0)::bigint
                  AS booked_seconds
           FROM users u
           LEFT JOIN bookings b
             ON b.mentor_id = u.id AND b.status <> 'cancelled'
            AND b.start_at >= $1 AND b.start_at < $2
          WHERE u.disabled_at IS NULL
            AND (u.role = 'mentor'
                 OR (u.role = 'admin'
                     AND EXISTS (SELECT 1 FROM mentor_profiles p WHERE p.user_id = u.id)))
          GROUP BY u.id
          ORDER BY u.display_name, u.id",
    )
    .bind::<Timestamptz, _>(from)
    .bind::<Timestamptz, _>(to)
    .load(conn)
}

/// Everything the statistics show, as of `now`, with weeks in `zone`.
pub fn load(conn: &mut PgConnection, zone: Tz, now: DateTime<Utc>) -> QueryResult<Stats> {
    let week_bounds = week_bounds(zone, now);
    let mut weeks = weeks_of(conn, &week_bounds)?;
    for (week, start) in weeks.iter_mut().zip(&week_bounds) {
        week.monday = start.with_timezone(&zone).date_naive();
    }
    let mut totals = Outcomes::default();
    for week in &weeks {
        totals.add(&week.outcomes);
    }
    let topics = match (week_bounds.first(), week_bounds.last()) {
        (Some(from), Some(to)) => topics_of(conn, *from, *to)?,
        _ => Vec::new(),
    };

    let ahead = Interval::new(now, now + Duration::days(UTILISATION_DAYS));
    let rows = mentors_with_booked(conn, ahead.start, ahead.end)?;
    let refs: Vec<MentorRef> = rows
        .iter()
        .map(|r| MentorRef {
            id: r.id,
            zone: r.time_zone.parse().unwrap_or(Tz::UTC),
        })
        .collect();
    let schedules = schedules_of(conn, &refs, ahead, now)?;
    let mentors = rows
        .into_iter()
        .map(|r| MentorUse {
            id: r.id,
            offered: schedules
                .get(&r.id)
                .map_or_else(Duration::zero, |s| offered(s, ahead)),
            name: r.display_name,
            booked: Duration::seconds(r.booked_seconds),
        })
        .collect();
    Ok(Stats {
        zone,
        week_bounds,
        weeks,
        totals,
        topics,
        ahead,
        mentors,
    })
}

/// The current schedules of `mentors` around `window`, read for all of
/// them at once and assembled exactly as `availability::load` does — but
/// without their bookings, which hours offered do not depend on (the
/// booked hours are summed by SQL instead).
fn schedules_of(
    conn: &mut PgConnection,
    mentors: &[MentorRef],
    window: Interval,
    now: DateTime<Utc>,
) -> QueryResult<HashMap<Uuid, Schedule>> {
    let ids: Vec<Uuid> = mentors.iter().map(|m| m.id).collect();
    let rules = queries::weekly_rules_of(conn, &ids)?;
    // Local dates around the window in any zone, and the day before for
    // windows crossing midnight (as `availability::load`).
    let overrides = queries::overrides_of(
        conn,
        &ids,
        (window.start - Duration::days(2)).date_naive(),
        (window.end + Duration::days(2)).date_naive(),
    )?;
    let time_off = queries::time_off_of(
        conn,
        &ids,
        window.start - Duration::days(1),
        window.end + Duration::days(1),
    )?;
    let loaded = availability::assemble(
        mentors,
        Rows {
            // The booking settings play no part in the hours offered.
            profiles: Vec::new(),
            rules,
            overrides,
            time_off,
            bookings: Vec::new(),
        },
        now,
    );
    Ok(loaded.schedules)
}

/// How long `schedule` is open inside `window`: the windows of every local
/// date touching it (override first, else weekly rules, resolved with the
/// gap/fold rule), united where they overlap, minus time off. Booked time
/// still counts as offered.
pub fn offered(schedule: &Schedule, window: Interval) -> Duration {
    if window.is_empty() {
        return Duration::zero();
    }
    let zone = schedule.zone;
    let last = window.end.with_timezone(&zone).date_naive();
    // The day before the first, for a window crossing midnight into it.
    let mut date = window.start.with_timezone(&zone).date_naive();
    date = date.pred_opt().unwrap_or(date);
    let mut open = Vec::new();
    while date <= last {
        open.extend(
            schedule
                .spans_on(zone, date)
                .into_iter()
                .filter_map(|iv| clip(iv, window)),
        );
        match date.succ_opt() {
            Some(next) => date = next,
            None => break,
        }
    }
    let open = Interval::union(open);
    let off = Interval::union(schedule.time_off.iter().filter_map(|t| clip(*t, window)));
    let total = open
        .iter()
        .fold(Duration::zero(), |acc, iv| acc + (iv.end - iv.start));
    let blocked = open.iter().fold(Duration::zero(), |acc, a| {
        off.iter()
            .filter_map(|b| clip(*b, *a))
            .fold(acc, |acc, iv| acc + (iv.end - iv.start))
    });
    total - blocked
}

/// The part of `iv` inside `within`, none when they do not overlap.
fn clip(iv: Interval, within: Interval) -> Option<Interval> {
    let out = Interval::new(iv.start.max(within.start), iv.end.min(within.end));
    (!out.is_empty()).then_some(out)
}

// ================================================================ view

/// One row of a table: a heading cell and its numbers as shown.
#[derive(Debug, Clone)]
pub struct WeekLine {
    pub week: String,
    pub booked: i64,
}

#[derive(Debug, Clone)]
pub struct RateLine {
    pub name: &'static str,
    pub rate: String,
    /// The counts behind it, e.g. `3 of 24 bookings`.
    pub basis: String,
}

#[derive(Debug, Clone)]
pub struct MentorLine {
    pub name: String,
    pub booked: String,
    pub offered: String,
    pub utilisation: String,
}

/// What `templates/admin/stats.html` shows.
#[derive(Debug, Clone)]
pub struct View {
    pub zone: String,
    /// `Mon 23 Mar 2026 – Sun 14 Jun 2026`.
    pub period: String,
    pub weeks_chart: ColumnChart,
    pub weeks: Vec<WeekLine>,
    pub booked_total: i64,
    pub topics_chart: RowChart,
    pub topics: Vec<TopicCount>,
    pub rates_chart: RowChart,
    pub rates: Vec<RateLine>,
    /// `Mon 15 Jun 2026, 11:00 CEST – Mon 13 Jul 2026, 11:00 CEST`.
    pub ahead: String,
    pub mentors_chart: RowChart,
    pub mentors: Vec<MentorLine>,
}

/// The numbers as the page shows them, charts included.
pub fn view(stats: &Stats) -> View {
    let zone = stats.zone;
    let period = match (stats.weeks.first(), stats.week_bounds.last()) {
        (Some(first), Some(end)) => {
            let last_day = end.with_timezone(&zone).date_naive() - Duration::days(1);
            format!(
                "{} – {}",
                first.monday.format("%a %-d %b %Y"),
                last_day.format("%a %-d %b %Y")
            )
        }
        _ => String::new(),
    };
    let weeks_chart = charts::columns(
        &stats
            .weeks
            .iter()
            .map(|w| Point::count(w.monday.format("%-d %b").to_string(), w.outcomes.booked()))
            .collect::<Vec<_>>(),
    );
    let weeks = stats
        .weeks
        .iter()
        .map(|w| WeekLine {
            week: w.monday.format("%a %-d %b %Y").to_string(),
            booked: w.outcomes.booked(),
        })
        .collect();
    let topics_chart = charts::rows(
        &stats
            .topics
            .iter()
            .map(|t| Point::count(t.title.clone(), t.booked))
            .collect::<Vec<_>>(),
        0.0,
    );
    let t = &stats.totals;
    let rate_rows = [
        (
            "Cancellation rate",
            t.cancellation_rate(),
            format!("{} cancelled of {} bookings", t.cancelled, t.total),
        ),
        (
            "Late cancels, of all cancellations",
            t.late_share_of_cancels(),
            format!("{} late of {} cancellations", t.late_cancelled, t.cancelled),
        ),
        (
            "Late cancels, of all bookings",
            t.late_rate(),
            format!("{} late of {} bookings", t.late_cancelled, t.total),
        ),
        (
            "No-show rate",
            t.no_show_rate(),
            format!(
                "{} no-shows of {} sessions marked completed or no-show",
                t.no_show,
                t.completed + t.no_show
            ),
        ),
    ];
    let rates_chart = charts::rows(
        &rate_rows
            .iter()
            .map(|(name, rate, _)| Point::new(*name, percent_value(*rate), percent(*rate)))
            .collect::<Vec<_>>(),
        100.0,
    );
    let rates = rate_rows
        .into_iter()
        .map(|(name, rate, basis)| RateLine {
            name,
            rate: percent(rate),
            basis,
        })
        .collect();
    let mentors_chart = charts::rows(
        &stats
            .mentors
            .iter()
            .map(|m| {
                let u = m.utilisation();
                Point::new(m.name.clone(), percent_value(u), percent(u))
            })
            .collect::<Vec<_>>(),
        100.0,
    );
    let mentors = stats
        .mentors
        .iter()
        .map(|m| MentorLine {
            name: m.name.clone(),
            booked: hours(m.booked),
            offered: hours(m.offered),
            utilisation: percent(m.utilisation()),
        })
        .collect();
    View {
        zone: zone.name().to_owned(),
        period,
        weeks_chart,
        weeks,
        booked_total: stats.totals.booked(),
        topics_chart,
        topics: stats.topics.clone(),
        rates_chart,
        rates,
        ahead: format!(
            "{} – {}",
            crate::timefmt::short(stats.ahead.start, zone),
            crate::timefmt::short(stats.ahead.end, zone)
        ),
        mentors_chart,
        mentors,
    }
}

fn percent_value(rate: Option<f64>) -> f64 {
    rate.map_or(0.0, |r| r * 100.0)
}

/// `25%`, `33.3%`, or `—` when there is nothing to divide by.
pub fn percent(rate: Option<f64>) -> String {
    rate.map_or_else(|| "—".to_owned(), |r| format!("{}%", trim(r * 100.0, 1)))
}

/// `10 h`, `2.5 h`, `0.25 h`.
pub fn hours(d: Duration) -> String {
    format!("{} h", trim(d.num_seconds() as f64 / 3600.0, 2))
}

/// `v` with at most `places` decimals and no trailing zeros.
fn trim(v: f64, places: usize) -> String {
    let s = format!("{v:.places$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

/// The last figures per admin zone, reused for `OFFICEHOURS_STATS_CACHE`
/// (counting 12 weeks of bookings costs tens of milliseconds on 100,000
/// rows; an admin reloading the page does not need it recounted).
#[derive(Default)]
pub struct StatsCache {
    entries: std::sync::Mutex<std::collections::HashMap<Tz, (DateTime<Utc>, Stats)>>,
}

impl StatsCache {
    /// Figures counted at most `ttl` before `now` (by the app clock).
    pub fn get(&self, zone: Tz, now: DateTime<Utc>, ttl: std::time::Duration) -> Option<Stats> {
        let ttl = chrono::Duration::from_std(ttl).ok()?;
        let entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (at, stats) = entries.get(&zone)?;
        (*at <= now && now - *at < ttl).then(|| stats.clone())
    }

    pub fn put(&self, zone: Tz, now: DateTime<Utc>, stats: Stats) {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // One entry per zone an admin uses: a handful.
        if entries.len() > 64 {
            entries.clear();
        }
        entries.insert(zone, (now, stats));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slots::{DateOverride, LocalWindow, WeeklyRule};
    use chrono::{TimeZone, Weekday};

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    fn hm(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    fn schedule(zone: Tz, weekly: Vec<WeeklyRule>) -> Schedule {
        Schedule {
            zone,
            weekly,
            overrides: Vec::new(),
            time_off: Vec::new(),
        }
    }

    #[test]
    fn weeks_start_on_local_mondays() {
        // Monday 2026-06-15 00:30 in Berlin is still Sunday in UTC.
        let now = utc(2026, 6, 14, 22, 30);
        let b = week_bounds(chrono_tz::Europe::Berlin, now);
        assert_eq!(b.len(), WEEKS + 1);
        assert_eq!(b[WEEKS - 1], utc(2026, 6, 14, 22, 0));
        assert_eq!(b[WEEKS], utc(2026, 6, 21, 22, 0));
        // Eleven weeks before: Monday 30 March, just after the spring change.
        assert_eq!(b[0], utc(2026, 3, 29, 22, 0));
        let utc_b = week_bounds(Tz::UTC, now);
        assert_eq!(utc_b[WEEKS - 1], utc(2026, 6, 8, 0, 0));
    }

    #[test]
    fn offered_sums_windows_inside_the_range_minus_time_off() {
        let zone = chrono_tz::Europe::Berlin;
        let mut s = schedule(
            zone,
            vec![
                WeeklyRule {
                    weekday: Weekday::Mon,
                    window: LocalWindow::new(hm(9, 0), hm(12, 0)),
                },
                // Overlaps the first: counted once.
                WeeklyRule {
                    weekday: Weekday::Mon,
                    window: LocalWindow::new(hm(11, 0), hm(12, 30)),
                },
                // Crosses midnight into Wednesday.
                WeeklyRule {
                    weekday: Weekday::Tue,
                    window: LocalWindow::new(hm(22, 0), hm(1, 0)),
                },
            ],
        );
        // Monday 15 June 2026 00:00 Berlin to Monday 22 June 00:00.
        let week = Interval::new(utc(2026, 6, 14, 22, 0), utc(2026, 6, 21, 22, 0));
        assert_eq!(offered(&s, week), Duration::minutes(3 * 60 + 30 + 180));
        // Starting mid-window counts only the rest.
        let late = Interval::new(utc(2026, 6, 15, 9, 0), week.end);
        assert_eq!(offered(&s, late), Duration::minutes(90 + 180));
        // Time off over Monday 10:00–11:00 local, and an override that
        // closes Tuesday.
        s.time_off = vec![Interval::new(
            utc(2026, 6, 15, 8, 0),
            utc(2026, 6, 15, 9, 0),
        )];
        s.overrides = vec![DateOverride {
            date: NaiveDate::from_ymd_opt(2026, 6, 16).unwrap(),
            windows: Vec::new(),
        }];
        assert_eq!(offered(&s, week), Duration::minutes(150));
        assert_eq!(offered(&schedule(zone, Vec::new()), week), Duration::zero());
    }

    #[test]
    fn offered_follows_dst() {
        // 00:00–00:00 on the spring-forward Sunday is 23 hours long.
        let zone = chrono_tz::Europe::Berlin;
        let s = schedule(
            zone,
            vec![WeeklyRule {
                weekday: Weekday::Sun,
                window: LocalWindow::new(hm(0, 0), hm(0, 0)),
            }],
        );
        let range = Interval::new(utc(2026, 3, 23, 0, 0), utc(2026, 4, 1, 0, 0));
        assert_eq!(offered(&s, range), Duration::hours(23));
    }

    #[test]
    fn rates_and_their_formatting() {
        let o = Outcomes {
            total: 8,
            cancelled: 2,
            late_cancelled: 1,
            completed: 3,
            no_show: 1,
        };
        assert_eq!(o.booked(), 6);
        assert_eq!(percent(o.cancellation_rate()), "25%");
        assert_eq!(percent(o.late_share_of_cancels()), "50%");
        assert_eq!(percent(o.late_rate()), "12.5%");
        assert_eq!(percent(o.no_show_rate()), "25%");
        assert_eq!(percent(Outcomes::default().no_show_rate()), "—");
        assert_eq!(percent(Some(1.0 / 3.0)), "33.3%");
        assert_eq!(hours(Duration::minutes(150)), "2.5 h");
        assert_eq!(hours(Duration::hours(10)), "10 h");
        assert_eq!(hours(Duration::minutes(15)), "0.25 h");
    }
}
