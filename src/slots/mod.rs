//! The slot engine: which start instants a mentor can be booked at for a
//! topic of a given duration. PURE — plain data in, slots out: no actix, no
//! diesel, no I/O, no system clock (`now` is part of the query). May depend
//! only on `chrono` and `chrono-tz`. Callers (pages, the JSON API, booking
//! checks) load the rows, build these structs and call [`free_slots`].
//!
//! # Rules
//!
//! * **Local → instant** ([`resolve_local`]): a local time in a spring-forward
//!   gap moves forward by the gap length (it is read with the offset in force
//!   before the gap); an ambiguous fall-back time takes the earlier instant
//!   (RFC 5545 / Temporal "compatible").
//! * **Windows of a date.** For each local date D of the mentor's zone that
//!   touches the searched range (and D−1, since windows can cross midnight),
//!   the windows of D are the override's windows when D has an override,
//!   else the weekly rules of D's weekday. Several overrides for one date are
//!   united (one without windows adds nothing); an override with no windows
//!   at all makes D unavailable. A window of D starts at `resolve_local(D,
//!   start)` and ends at `resolve_local(D, end)`, or at `resolve_local(D+1,
//!   end)` when `end <= start` (so `00:00–00:00` is a whole day) — except
//!   that an override owns its whole date: a window of D running past
//!   midnight into a date D+1 that has an override stops at
//!   `resolve_local(D+1, 00:00)`. So "unavailable all day" leaves nothing
//!   on that date, and a date's own hours are all it has.
//! * **Candidates** step in local wall-clock time from the window start:
//!   `start, start+step, start+2·step, …` as naive date-times, each resolved
//!   with the gap/fold rule. So a 09:00 rule is 09:00 local on both sides of
//!   a DST change; in a fold a wall time that occurs twice yields only its
//!   earlier instant; a wall time in a gap moves forward by the gap.
//!   Identical instants are offered once.
//! * **Fit:** a candidate `s` is kept when it lies inside its own window's
//!   resolved instants (`window_start <= s < window_end`) and the session
//!   `[s, s + duration)` ends by the window's *reach*: the end of the union
//!   of the resolved windows (of any date) that overlap or touch it,
//!   directly or through others. So a session may run across the boundary
//!   of two touching windows — 09:00–12:00 and 12:00–14:00, a window ending
//!   at midnight and the next date's starting then, a window stopped by an
//!   override and that date's 00:00 window — as one window covering both
//!   would allow, while each window keeps stepping from its own start. A
//!   window with no other next to it reaches its own end. Compared as
//!   instants, so a window whose end falls in a gap keeps the wall times
//!   that the shifted end covers.
//! * **Notice, horizon, query:** `now + min_notice <= s < now + horizon` and
//!   `query.window.start <= s < query.window.end`.
//! * **Busy time:** the slot's occupied range `[s − buffer_before, s +
//!   duration + buffer_after)` (the mentor's *current* buffers) overlaps none
//!   of: each booking's [`ExistingBooking::occupied`], the mentor's own
//!   sessions as a learner, time off. Half-open: touching is not
//!   overlapping. This is the same test as the database's exclusion
//!   constraint, so every slot shown can really be booked.
//! * **Caps:** `max_per_day` / `max_per_week` count the given bookings by the
//!   local date / ISO week (Monday start) of their session start in the
//!   mentor's zone; a slot whose own local date (week) already reached the
//!   cap is not offered. Slots do not count toward each other. Callers pass
//!   live bookings only.
//! * **Output** is sorted by start, without duplicates, and independent of
//!   the order of rules, overrides, bookings, sessions and time off.
//! * **Degenerate settings** (validated upstream): a non-positive `step` or
//!   `duration` yields no slots; empty or inverted busy intervals block
//!   nothing.
//!
//! # Cost
//! The resolved windows and the busy intervals are each sorted and merged
//! once; busy ones are swept with one moving pointer over the sorted
//! candidates; reaches and caps are looked up by binary search. The work is
//! O(candidates · log transitions + windows · log windows + busy · log busy).

mod engine;
mod resolve;

#[cfg(test)]
mod tests_fixed;
#[cfg(test)]
mod tests_prop;

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;

pub use engine::free_slots;
pub use resolve::resolve_local;

/// [start, end) in UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Interval {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Interval {
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Self {
        Self { start, end }
    }

    /// True when the range holds no instant (`end <= start`).
    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }

    /// Half-open overlap: `[a, b)` and `[b, c)` touch but do not overlap,
    /// and an empty range overlaps nothing.
    pub fn overlaps(&self, other: &Interval) -> bool {
        self.start < other.end && other.start < self.end && !self.is_empty() && !other.is_empty()
    }

    /// The union of `intervals`: sorted, overlapping or touching ranges
    /// united, empty ones dropped.
    pub fn union(intervals: impl IntoIterator<Item = Interval>) -> Vec<Interval> {
        let mut all: Vec<Interval> = intervals.into_iter().filter(|i| !i.is_empty()).collect();
        all.sort_unstable();
        let mut united: Vec<Interval> = Vec::with_capacity(all.len());
        for interval in all {
            match united.last_mut() {
                Some(last) if interval.start <= last.end => last.end = last.end.max(interval.end),
                _ => united.push(interval),
            }
        }
        united
    }
}

/// Local wall-clock window; `end <= start` means it ends on the next day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalWindow {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

impl LocalWindow {
    pub fn new(start: NaiveTime, end: NaiveTime) -> Self {
        Self { start, end }
    }

    /// True when the window ends on the day after it starts.
    pub fn crosses_midnight(&self) -> bool {
        self.end <= self.start
    }

    /// The window of local date `date` as resolved instants, following the
    /// rules in the module doc: `next_overridden` says whether the next date
    /// has an override (which stops a window crossing midnight there).
    /// `None` only at the ends of chrono's range.
    pub fn resolve(&self, zone: Tz, date: NaiveDate, next_overridden: bool) -> Option<Interval> {
        let end_local = self.end_local(date, next_overridden)?;
        let start = resolve::resolve(zone, date.and_time(self.start))?.0;
        let end = resolve::resolve(zone, end_local)?.0;
        Some(Interval { start, end })
    }

    /// Where the window of `date` ends, as a local date-time (see
    /// [`LocalWindow::resolve`]).
    pub(crate) fn end_local(
        &self,
        date: NaiveDate,
        next_overridden: bool,
    ) -> Option<NaiveDateTime> {
        if !self.crosses_midnight() {
            return Some(date.and_time(self.end));
        }
        let next = date.succ_opt()?;
        Some(next.and_time(if next_overridden {
            NaiveTime::MIN
        } else {
            self.end
        }))
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WeeklyRule {
    pub weekday: Weekday,
    pub window: LocalWindow,
}

/// A local date with its own windows; no windows = unavailable all day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DateOverride {
    pub date: NaiveDate,
    pub windows: Vec<LocalWindow>,
}

#[derive(Clone, Debug)]
pub struct Schedule {
    pub zone: Tz,
    pub weekly: Vec<WeeklyRule>,
    pub overrides: Vec<DateOverride>,
    pub time_off: Vec<Interval>,
}

impl Schedule {
    /// The windows of local date `date` (override first, else weekly rules),
    /// in no particular order. Allocates; the engine uses its own index.
    pub fn windows_on(&self, date: NaiveDate) -> Vec<LocalWindow> {
        let overrides: Vec<&DateOverride> =
            self.overrides.iter().filter(|o| o.date == date).collect();
        if overrides.is_empty() {
            use chrono::Datelike as _;
            let weekday = date.weekday();
            self.weekly
                .iter()
                .filter(|r| r.weekday == weekday)
                .map(|r| r.window)
                .collect()
        } else {
            overrides
                .iter()
                .flat_map(|o| o.windows.iter().copied())
                .collect()
        }
    }

    /// Whether local `date` has an override (with windows or without).
    pub fn has_override(&self, date: NaiveDate) -> bool {
        self.overrides.iter().any(|o| o.date == date)
    }

    /// The windows of local `date` as resolved instants, each cut at the
    /// next date's start when that date has an override.
    pub fn spans_on(&self, zone: Tz, date: NaiveDate) -> Vec<Interval> {
        let next_overridden = date.succ_opt().is_some_and(|d| self.has_override(d));
        self.windows_on(date)
            .iter()
            .filter_map(|w| w.resolve(zone, date, next_overridden))
            .collect()
    }
}

#[derive(Clone, Debug)]
pub struct BookingSettings {
    pub buffer_before: Duration,
    pub buffer_after: Duration,
    pub min_notice: Duration,
    pub horizon: Duration,
    pub step: Duration,
    pub max_per_day: Option<u32>,
    pub max_per_week: Option<u32>,
}

/// An existing live booking of the mentor (as mentor): its session and the
/// buffers copied onto it.
#[derive(Clone, Copy, Debug)]
pub struct ExistingBooking {
    pub session: Interval,
    pub buffer_before: Duration,
    pub buffer_after: Duration,
}

impl ExistingBooking {
    /// `[start − buffer_before, end + buffer_after)`, as the database's
    /// exclusion constraint sees it.
    pub fn occupied(&self) -> Interval {
        Interval {
            start: engine::add(self.session.start, -self.buffer_before),
            end: engine::add(self.session.end, self.buffer_after),
        }
    }
}

#[derive(Clone, Debug)]
pub struct SlotQuery {
    /// The topic's duration.
    pub duration: Duration,
    pub now: DateTime<Utc>,
    /// Only slots starting in `[window.start, window.end)`.
    pub window: Interval,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Slot {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Slot {
    pub fn interval(&self) -> Interval {
        Interval {
            start: self.start,
            end: self.end,
        }
    }

    /// The range this slot would occupy once booked with `settings`' buffers.
    pub fn occupied(&self, settings: &BookingSettings) -> Interval {
        Interval {
            start: engine::add(self.start, -settings.buffer_before),
            end: engine::add(self.end, settings.buffer_after),
        }
    }
}
