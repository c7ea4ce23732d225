//! [`free_slots`]: expands the schedule into candidate starts, then removes
//! busy and capped ones in one sweep. The rules are in the parent module doc.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, TimeDelta, Utc};
use chrono_tz::Tz;

use super::resolve::{Resolution, resolve};
use super::{BookingSettings, ExistingBooking, Interval, LocalWindow, Schedule, Slot, SlotQuery};

/// Free slots, ordered by start, no duplicates, deterministic.
pub fn free_slots(
    schedule: &Schedule,
    settings: &BookingSettings,
    bookings: &[ExistingBooking],
    own_sessions: &[Interval],
    query: &SlotQuery,
) -> Vec<Slot> {
    let duration = query.duration;
    let step = settings.step;
    if duration <= TimeDelta::zero() || step <= TimeDelta::zero() {
        return Vec::new();
    }
    // A cap of 0 is reached by every day, booked or not.
    if settings.max_per_day == Some(0) || settings.max_per_week == Some(0) {
        return Vec::new();
    }
    // Starts must lie in [lo, hi).
    let lo = query.window.start.max(add(query.now, settings.min_notice));
    let hi = query.window.end.min(add(query.now, settings.horizon));
    if lo >= hi {
        return Vec::new();
    }

    let zone = schedule.zone;
    let plan = DayPlan::new(schedule);
    let bounds = Bounds {
        lo,
        hi,
        duration,
        step,
    };

    let first_day = lo.with_timezone(&zone).date_naive();
    // A window of the previous day may cross midnight into `first_day`.
    let first_day = first_day.pred_opt().unwrap_or(first_day);
    // A session starting before `hi` may run into windows of the date it
    // ends on, and of the day after when a fold over midnight repeats the
    // end of that date (St John's fell back from 00:01 to 23:01 until 2011).
    let last_day = add(hi, duration).with_timezone(&zone).date_naive();
    let last_day = last_day.succ_opt().unwrap_or(last_day);

    let mut spans = Vec::new();
    for day in first_day.iter_days().take_while(|d| *d <= last_day) {
        let next_overridden = day.succ_opt().is_some_and(|next| plan.has_override(next));
        for window in plan.windows(day) {
            spans.extend(Span::new(zone, day, *window, next_overridden));
        }
    }
    let reaches = reaches(&spans);
    let mut starts = Vec::new();
    for (span, reach) in spans.iter().zip(reaches) {
        expand(zone, span, reach, &bounds, &mut starts);
    }
    starts.sort_unstable();
    starts.dedup();

    let busy = merged_busy(schedule, bookings, own_sessions);
    let caps = Caps::new(zone, settings, bookings);

    let mut slots = Vec::with_capacity(starts.len());
    let mut next_busy = 0;
    for start in starts {
        let end = add(start, duration);
        let occupied = Interval {
            start: add(start, -settings.buffer_before),
            end: add(end, settings.buffer_after),
        };
        if !occupied.is_empty() {
            // `occupied.start` grows with `start`, and merged busy intervals
            // are disjoint and sorted, so the pointer only moves forward.
            while busy.get(next_busy).is_some_and(|b| b.end <= occupied.start) {
                next_busy += 1;
            }
            if busy.get(next_busy).is_some_and(|b| b.start < occupied.end) {
                continue;
            }
        }
        if caps.reached(start) {
            continue;
        }
        slots.push(Slot { start, end });
    }
    slots
}

/// `t + d`, saturating at the ends of chrono's range instead of panicking.
pub(crate) fn add(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    t.checked_add_signed(d).unwrap_or(if d < TimeDelta::zero() {
        DateTime::<Utc>::MIN_UTC
    } else {
        DateTime::<Utc>::MAX_UTC
    })
}

struct Bounds {
    lo: DateTime<Utc>,
    hi: DateTime<Utc>,
    duration: Duration,
    step: Duration,
}

/// The schedule indexed for lookups by date.
struct DayPlan {
    /// Monday first.
    weekly: [Vec<LocalWindow>; 7],
    /// Sorted by date; several overrides of one date are united.
    overrides: Vec<(NaiveDate, Vec<LocalWindow>)>,
}

impl DayPlan {
    fn new(schedule: &Schedule) -> Self {
        let mut weekly: [Vec<LocalWindow>; 7] = Default::default();
        for rule in &schedule.weekly {
            weekly[rule.weekday.num_days_from_monday() as usize].push(rule.window);
        }
        let mut overrides: Vec<(NaiveDate, Vec<LocalWindow>)> = Vec::new();
        let mut sorted: Vec<_> = schedule.overrides.iter().collect();
        sorted.sort_by_key(|o| o.date);
        for o in sorted {
            match overrides.last_mut() {
                Some((date, windows)) if *date == o.date => {
                    windows.extend_from_slice(&o.windows);
                }
                _ => overrides.push((o.date, o.windows.clone())),
            }
        }
        Self { weekly, overrides }
    }

    fn has_override(&self, day: NaiveDate) -> bool {
        self.overrides
            .binary_search_by_key(&day, |(d, _)| *d)
            .is_ok()
    }

    fn windows(&self, day: NaiveDate) -> &[LocalWindow] {
        match self.overrides.binary_search_by_key(&day, |(d, _)| *d) {
            Ok(i) => &self.overrides[i].1,
            Err(_) => &self.weekly[day.weekday().num_days_from_monday() as usize],
        }
    }
}

/// One window of one local date, resolved: its local start and end and
/// its instants (`start > end` when the window lies in a gap).
struct Span {
    first: NaiveDateTime,
    end_local: NaiveDateTime,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

impl Span {
    /// `next_overridden`: the next date has an override, which a window
    /// crossing midnight stops at. `None` at the ends of chrono's range.
    fn new(zone: Tz, day: NaiveDate, window: LocalWindow, next_overridden: bool) -> Option<Self> {
        let end_local = window.end_local(day, next_overridden)?;
        let first = day.and_time(window.start);
        let (start, _) = resolve(zone, first)?;
        let (end, _) = resolve(zone, end_local)?;
        Some(Self {
            first,
            end_local,
            start,
            end,
        })
    }
}

/// For each span, how far the mentor is available without a break from
/// its start: the end of the union of the spans that overlap or touch it,
/// directly or through others. A session may run that far.
fn reaches(spans: &[Span]) -> Vec<DateTime<Utc>> {
    let merged = Interval::union(spans.iter().map(|s| Interval::new(s.start, s.end)));
    spans
        .iter()
        .map(|s| {
            // The merged range holding the span's start, if it has instants.
            let i = merged.partition_point(|m| m.start <= s.start);
            match i.checked_sub(1).map(|i| merged[i]) {
                Some(m) if s.start < m.end && s.start < s.end => m.end,
                _ => s.end,
            }
        })
        .collect()
}

/// Pushes the candidate starts of `span` that lie inside it and in
/// `[lo, hi)` and whose session ends by `reach` (see [`reaches`]).
fn expand(zone: Tz, span: &Span, reach: DateTime<Utc>, b: &Bounds, out: &mut Vec<DateTime<Utc>>) {
    let Some(last_fit) = reach.checked_sub_signed(b.duration) else {
        return;
    };
    if span.end <= span.start || last_fit < span.start || last_fit < b.lo || span.start >= b.hi {
        return;
    }
    // Wall-clock candidates past the local end can still fit when the end
    // fell in a gap; this bound only guarantees termination.
    let Some(give_up) = span.end_local.checked_add_signed(Duration::days(2)) else {
        return;
    };

    let mut local = span.first;
    while local <= give_up {
        let Some((start, how)) = resolve(zone, local) else {
            return;
        };
        if start >= span.start
            && start < span.end
            && start <= last_fit
            && start >= b.lo
            && start < b.hi
        {
            out.push(start);
        }
        // From a time that exists, later wall times never resolve earlier
        // (a fold is resolved to its earlier instant); a gap-shifted time
        // can be overtaken by the times right after the gap, so go on.
        if how != Resolution::Shifted && (start >= span.end || start > last_fit || start >= b.hi) {
            return;
        }
        match local.checked_add_signed(b.step) {
            Some(next) => local = next,
            None => return,
        }
    }
}

/// Bookings' occupied ranges, own sessions and time off: sorted, with
/// overlapping or touching ranges merged, empty ones dropped. For a
/// non-empty range, overlapping the union of two touching ranges is the
/// same as overlapping one of them.
fn merged_busy(
    schedule: &Schedule,
    bookings: &[ExistingBooking],
    own_sessions: &[Interval],
) -> Vec<Interval> {
    Interval::union(
        bookings
            .iter()
            .map(ExistingBooking::occupied)
            .chain(own_sessions.iter().copied())
            .chain(schedule.time_off.iter().copied()),
    )
}

/// Local days and ISO weeks (mentor's zone) whose booking count reached the
/// cap.
struct Caps {
    zone: Tz,
    full_days: Vec<NaiveDate>,
    full_weeks: Vec<(i32, u32)>,
}

impl Caps {
    fn new(zone: Tz, settings: &BookingSettings, bookings: &[ExistingBooking]) -> Self {
        let mut caps = Self {
            zone,
            full_days: Vec::new(),
            full_weeks: Vec::new(),
        };
        if settings.max_per_day.is_none() && settings.max_per_week.is_none() {
            return caps;
        }
        let days: Vec<NaiveDate> = bookings
            .iter()
            .map(|b| b.session.start.with_timezone(&zone).date_naive())
            .collect();
        if let Some(cap) = settings.max_per_day {
            caps.full_days = reached(days.clone(), cap);
        }
        if let Some(cap) = settings.max_per_week {
            caps.full_weeks = reached(days.iter().map(|d| iso_week(*d)).collect(), cap);
        }
        caps
    }

    fn reached(&self, start: DateTime<Utc>) -> bool {
        if self.full_days.is_empty() && self.full_weeks.is_empty() {
            return false;
        }
        let day = start.with_timezone(&self.zone).date_naive();
        self.full_days.binary_search(&day).is_ok()
            || self.full_weeks.binary_search(&iso_week(day)).is_ok()
    }
}

fn iso_week(day: NaiveDate) -> (i32, u32) {
    let week = day.iso_week();
    (week.year(), week.week())
}

/// The keys occurring at least `cap` times, sorted. (A cap of 0 never gets
/// here: `free_slots` returns early.)
fn reached<K: Ord + Copy>(mut keys: Vec<K>, cap: u32) -> Vec<K> {
    keys.sort_unstable();
    let mut out = Vec::new();
    let mut i = 0;
    while i < keys.len() {
        let key = keys[i];
        let run = keys[i..].iter().take_while(|k| **k == key).count();
        if u32::try_from(run).unwrap_or(u32::MAX) >= cap {
            out.push(key);
        }
        i += run;
    }
    out
}
