//! Property tests for the slot engine, including a naive reference model
//! that follows the module-doc rules literally (linear scans, no early
//! exits) and must agree with the engine on every generated case.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, Offset, TimeZone, Timelike};
use chrono_tz::{America, Asia, Australia, Europe, Pacific, UTC};
use proptest::prelude::*;
use proptest::sample::select;

use super::*;

const ZONES: [Tz; 10] = [
    Europe::Berlin,
    America::New_York,
    Australia::Sydney,
    Australia::Lord_Howe,
    Asia::Kolkata,
    Pacific::Auckland,
    America::Los_Angeles,
    America::St_Johns,
    Asia::Kathmandu,
    UTC,
];
const DST_ZONES: [Tz; 4] = [
    Europe::Berlin,
    America::New_York,
    Australia::Sydney,
    Australia::Lord_Howe,
];
const STEPS: [i64; 7] = [5, 10, 15, 20, 30, 45, 60];
const DURATIONS: [i64; 6] = [15, 30, 45, 60, 90, 120];
const WEEKDAYS: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];
fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 1000,
        ..ProptestConfig::default()
    }
}

fn mins(m: i64) -> Duration {
    Duration::minutes(m)
}

fn jan1() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()
}

/// A time on the 5-minute grid; half of them between 00:00 and 04:00, where
/// the listed zones change their clocks.
fn time5() -> impl Strategy<Value = NaiveTime> {
    prop_oneof![0u32..288, 0u32..48]
        .prop_map(|i| NaiveTime::from_hms_opt(i / 12, (i % 12) * 5, 0).unwrap())
}

/// Any weekday, but Sundays (most 2026 change days are) and Saturdays
/// (windows crossing into Sunday) more often.
fn weekday() -> impl Strategy<Value = Weekday> {
    prop_oneof![
        3 => Just(Weekday::Sun),
        1 => Just(Weekday::Sat),
        4 => select(&WEEKDAYS[..]),
    ]
}

/// The UTC days of 2026 on which `zone` changes its offset.
fn change_days(zone: Tz) -> Vec<NaiveDate> {
    let offset = |d: NaiveDate| {
        d.and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc()
            .with_timezone(&zone)
            .offset()
            .fix()
    };
    jan1()
        .iter_days()
        .take(365)
        .filter(|d| offset(*d) != offset(d.succ_opt().unwrap()))
        .collect()
}

/// A day in 2026; for zones with DST, half of them within a few days of
/// one of the zone's changes, so gaps and folds come up often.
fn day2026(zone: Tz) -> BoxedStrategy<NaiveDate> {
    let any_day = (0u64..365).prop_map(|d| jan1() + chrono::Days::new(d));
    let changes = change_days(zone);
    if changes.is_empty() {
        return any_day.boxed();
    }
    prop_oneof![
        any_day,
        (select(changes), -3i64..=1).prop_map(|(d, shift)| d + Duration::days(shift)),
    ]
    .boxed()
}

fn window() -> impl Strategy<Value = LocalWindow> {
    (time5(), time5()).prop_map(|(s, e)| LocalWindow::new(s, e))
}

fn busy_interval(base: DateTime<Utc>, max_len_5: i64) -> impl Strategy<Value = Interval> {
    (0i64..(12 * 24 * 10), 1i64..=max_len_5).prop_map(move |(off, len)| {
        let start = base - Duration::days(1) + mins(off * 5);
        Interval::new(start, start + mins(len * 5))
    })
}

#[derive(Clone, Debug)]
struct Case {
    schedule: Schedule,
    settings: BookingSettings,
    bookings: Vec<ExistingBooking>,
    own: Vec<Interval>,
    query: SlotQuery,
}

impl Case {
    fn slots(&self) -> Vec<Slot> {
        free_slots(
            &self.schedule,
            &self.settings,
            &self.bookings,
            &self.own,
            &self.query,
        )
    }

    fn busy(&self) -> Vec<Interval> {
        self.bookings
            .iter()
            .map(ExistingBooking::occupied)
            .chain(self.own.iter().copied())
            .chain(self.schedule.time_off.iter().copied())
            .collect()
    }
}

/// A whole random case. `with_busy = false` gives no bookings, sessions,
/// time off, buffers or caps.
fn case(with_busy: bool) -> impl Strategy<Value = Case> {
    let zone_and_day = select(&ZONES[..]).prop_flat_map(|zone| (Just(zone), day2026(zone)));
    let schedule_parts = (
        zone_and_day,
        prop::collection::vec((weekday(), window()), 1..6),
        prop::collection::vec((-1i64..=8, prop::collection::vec(window(), 0..3)), 0..3),
    );
    let timing = (
        0i64..288,
        1i64..=7,
        0i64..=200,
        0i64..=16,
        1i64..=(24 * 14),
        select(&STEPS[..]),
        select(&DURATIONS[..]),
    );
    let extras = (
        0i64..=12,
        0i64..=12,
        prop::option::weighted(0.3, 1u32..4),
        prop::option::weighted(0.3, 1u32..6),
    );
    (schedule_parts, timing, extras).prop_flat_map(
        move |(((zone, day), rules, overrides), timing, extras)| {
            let (q_off, span, back, notice, horizon, step, duration) = timing;
            let base = day.and_hms_opt(0, 0, 0).unwrap().and_utc();
            let n = if with_busy { 12 } else { 0 };
            let busy = (
                prop::collection::vec((busy_interval(base, 36), 0i64..=4, 0i64..=4), 0..=n),
                prop::collection::vec(busy_interval(base, 36), 0..=n / 3),
                prop::collection::vec(busy_interval(base, 288), 0..=n / 4),
            );
            busy.prop_map(move |(bookings, own, time_off)| {
                let (bb, ba, per_day, per_week) = if with_busy {
                    extras
                } else {
                    (0, 0, None, None)
                };
                let start = base + mins(q_off * 5);
                Case {
                    schedule: Schedule {
                        zone,
                        weekly: rules
                            .iter()
                            .map(|(weekday, window)| WeeklyRule {
                                weekday: *weekday,
                                window: *window,
                            })
                            .collect(),
                        overrides: overrides
                            .iter()
                            .map(|(d, windows)| DateOverride {
                                date: day + Duration::days(*d),
                                windows: windows.clone(),
                            })
                            .collect(),
                        time_off,
                    },
                    settings: BookingSettings {
                        buffer_before: mins(bb * 5),
                        buffer_after: mins(ba * 5),
                        min_notice: mins(notice * 30),
                        // Mostly reaching into the query window, sometimes ending inside it.
                        horizon: mins(back * 15) + Duration::hours(horizon),
                        step: mins(step),
                        max_per_day: per_day,
                        max_per_week: per_week,
                    },
                    bookings: bookings
                        .into_iter()
                        .map(|(session, before, after)| ExistingBooking {
                            session,
                            buffer_before: mins(before * 5),
                            buffer_after: mins(after * 5),
                        })
                        .collect(),
                    own,
                    query: SlotQuery {
                        duration: mins(duration),
                        now: start - mins(back * 15),
                        window: Interval::new(start, start + Duration::days(span)),
                    },
                }
            })
        },
    )
}

fn local_date(zone: Tz, t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&zone).date_naive()
}

fn iso(d: NaiveDate) -> (i32, u32) {
    (d.iso_week().year(), d.iso_week().week())
}

/// The window `w` of local `day` as instants. Written out here rather than
/// through `resolve`: a window crossing into a date with an override stops
/// at its start.
fn resolved(s: &Schedule, day: NaiveDate, w: &LocalWindow) -> Interval {
    let next = day.succ_opt().unwrap();
    let mut r = w.resolve(s.zone, day, false).unwrap();
    if w.crosses_midnight() && s.overrides.iter().any(|o| o.date == next) {
        r.end = resolve_local(s.zone, next, NaiveTime::MIN);
    }
    r
}

/// Every window of the local dates `first..=last`, resolved.
fn all_windows(s: &Schedule, first: NaiveDate, last: NaiveDate) -> Vec<Interval> {
    first
        .iter_days()
        .take_while(|d| *d <= last)
        .flat_map(|d| {
            s.windows_on(d)
                .iter()
                .map(|w| resolved(s, d, w))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Whether `[start, end)` is covered by `windows` together: walk from
/// `start`, each time to the furthest end of a window holding the point.
fn covered(windows: &[Interval], start: DateTime<Utc>, end: DateTime<Utc>) -> bool {
    let mut point = start;
    while point < end {
        match windows
            .iter()
            .filter(|w| w.start <= point && point < w.end)
            .map(|w| w.end)
            .max()
        {
            Some(next) => point = next,
            None => return false,
        }
    }
    true
}

/// The rules, read literally: every date that could matter, every grid
/// point up to well past the window's end, every busy interval and booking
/// checked one by one.
fn reference(c: &Case) -> Vec<Slot> {
    let (s, set, q) = (&c.schedule, &c.settings, &c.query);
    let zone = s.zone;
    let lo = q.window.start.max(q.now + set.min_notice);
    let hi = q.window.end.min(q.now + set.horizon);
    let busy = c.busy();
    let mut out = BTreeSet::new();
    if lo >= hi {
        return Vec::new();
    }
    // A session may run on into windows that touch or overlap its own.
    let windows = all_windows(
        s,
        local_date(zone, lo) - Duration::days(2),
        local_date(zone, hi) + Duration::days(2),
    );
    let mut day = local_date(zone, lo) - Duration::days(2);
    while day <= local_date(zone, hi) + Duration::days(1) {
        for w in s.windows_on(day) {
            let own = resolved(s, day, &w);
            let end_day = if w.crosses_midnight() {
                day.succ_opt().unwrap()
            } else {
                day
            };
            let last_local = end_day.and_time(w.end) + Duration::hours(3);
            let mut local = day.and_time(w.start);
            while local <= last_local {
                let start = resolve_local(zone, local.date(), local.time());
                let slot = Slot {
                    start,
                    end: start + q.duration,
                };
                let occupied = slot.occupied(set);
                let fits =
                    start >= own.start && start < own.end && covered(&windows, start, slot.end);
                let in_range = start >= lo && start < hi;
                let free = busy.iter().all(|b| !occupied.overlaps(b));
                let slot_day = local_date(zone, start);
                let count = |same: &dyn Fn(NaiveDate) -> bool| {
                    c.bookings
                        .iter()
                        .filter(|b| same(local_date(zone, b.session.start)))
                        .count() as u32
                };
                let day_ok = set
                    .max_per_day
                    .is_none_or(|cap| count(&|d| d == slot_day) < cap);
                let week_ok = set
                    .max_per_week
                    .is_none_or(|cap| count(&|d| iso(d) == iso(slot_day)) < cap);
                if fits && in_range && free && day_ok && week_ok {
                    out.insert(slot);
                }
                local += set.step;
            }
        }
        day = day.succ_opt().unwrap();
    }
    out.into_iter().collect()
}

proptest! {
    #![proptest_config(config())]

    /// (a) Every slot is a wall-clock grid point of some window of its local
    /// date (or the day before), starts inside that resolved window, and
    /// runs inside it or on into windows touching or overlapping it.
    #[test]
    fn slots_lie_inside_a_resolved_window(c in case(true)) {
        let zone = c.schedule.zone;
        let step = c.settings.step;
        for slot in c.slots() {
            prop_assert_eq!(slot.end - slot.start, c.query.duration);
            let date = local_date(zone, slot.start);
            let windows = all_windows(
                &c.schedule,
                date.pred_opt().unwrap(),
                local_date(zone, slot.end).succ_opt().unwrap(),
            );
            prop_assert!(covered(&windows, slot.start, slot.end), "{:?} not covered", slot);
            let found = [date.pred_opt().unwrap(), date].iter().any(|d| {
                c.schedule.windows_on(*d).iter().any(|w| {
                    let next_overridden = c.schedule.has_override(d.succ_opt().unwrap());
                    let r = w.resolve(zone, *d, next_overridden).unwrap();
                    let fits = r.start <= slot.start && slot.start < r.end;
                    // Grid points within the window's length plus one hour
                    // of gap, counted from its local start.
                    let steps = ((r.end - r.start).num_minutes() + 60) / step.num_minutes();
                    fits && (0..=steps).any(|k| {
                        let local = d.and_time(w.start) + step * k as i32;
                        resolve_local(zone, local.date(), local.time()) == slot.start
                    })
                })
            });
            prop_assert!(found, "slot {:?} outside every window", slot);
        }
    }

    /// (b) No slot's occupied range overlaps a busy interval; slots are
    /// sorted and unique.
    #[test]
    fn slots_avoid_busy_time_and_are_sorted(c in case(true)) {
        let slots = c.slots();
        let busy = c.busy();
        for slot in &slots {
            let occupied = slot.occupied(&c.settings);
            for b in &busy {
                prop_assert!(!occupied.overlaps(b), "{:?} overlaps {:?}", slot, b);
            }
        }
        for pair in slots.windows(2) {
            prop_assert!(pair[0].start < pair[1].start);
        }
    }

    /// (c) No slot on a local day / ISO week whose booking count reached
    /// the cap.
    #[test]
    fn caps_hold(c in case(true)) {
        let zone = c.schedule.zone;
        let days: Vec<NaiveDate> = c
            .bookings
            .iter()
            .map(|b| local_date(zone, b.session.start))
            .collect();
        for slot in c.slots() {
            let d = local_date(zone, slot.start);
            if let Some(cap) = c.settings.max_per_day {
                prop_assert!((days.iter().filter(|x| **x == d).count() as u32) < cap);
            }
            if let Some(cap) = c.settings.max_per_week {
                prop_assert!((days.iter().filter(|x| iso(**x) == iso(d)).count() as u32) < cap);
            }
        }
    }

    /// (d) A weekly rule starts at the same wall-clock time on every
    /// matching date of 2026, DST or not.
    #[test]
    fn weekly_rule_keeps_its_wall_clock_start(
        zone in select(&DST_ZONES[..]),
        weekday in select(&WEEKDAYS[..]),
        step in select(&STEPS[..]),
        duration in select(&DURATIONS[..]),
        extra in 0i64..=36,
        start_frac in 0.0f64..1.0,
    ) {
        // A same-day window long enough for one slot in wall-clock time.
        let len = duration + extra * 5;
        let latest = (24 * 60 - 5 - len) / 5;
        let start_min = ((latest as f64 + 1.0) * start_frac) as i64 * 5;
        let start = NaiveTime::from_hms_opt(0, 0, 0).unwrap() + mins(start_min);
        let window = LocalWindow::new(start, start + mins(len));
        prop_assume!(window.end > window.start);
        let schedule = Schedule {
            zone,
            weekly: vec![WeeklyRule { weekday, window }],
            overrides: Vec::new(),
            time_off: Vec::new(),
        };
        let settings = BookingSettings {
            buffer_before: Duration::zero(),
            buffer_after: Duration::zero(),
            min_notice: Duration::zero(),
            horizon: Duration::days(800),
            step: mins(step),
            max_per_day: None,
            max_per_week: None,
        };
        let from = Utc.with_ymd_and_hms(2025, 12, 31, 0, 0, 0).unwrap();
        let query = SlotQuery {
            duration: mins(duration),
            now: from,
            window: Interval::new(from, Utc.with_ymd_and_hms(2027, 1, 2, 0, 0, 0).unwrap()),
        };
        let mut first: BTreeMap<NaiveDate, DateTime<Utc>> = BTreeMap::new();
        for slot in free_slots(&schedule, &settings, &[], &[], &query) {
            first.entry(local_date(zone, slot.start)).or_insert(slot.start);
        }
        let mut day = jan1();
        while day.year() == 2026 {
            if day.weekday() == weekday
                && zone.from_local_datetime(&day.and_time(start)).earliest().is_some()
            {
                let resolved = window.resolve(zone, day, false).unwrap();
                if resolved.end - resolved.start >= mins(duration) {
                    let got = first.get(&day).map(|t| t.with_timezone(&zone).time());
                    prop_assert_eq!(got, Some(start), "{} {}", zone, day);
                } else {
                    prop_assert!(!first.contains_key(&day));
                }
            }
            day = day.succ_opt().unwrap();
        }
    }

    /// (e) With no buffers, a booking [a, b) removes exactly the slots that
    /// overlap it: a slot ending at a or starting at b stays.
    #[test]
    fn adjacent_bookings_leave_neighbours_free(
        c in case(false),
        i in any::<prop::sample::Index>(),
        j in any::<prop::sample::Index>(),
        len_a in 1i64..=24,
        len_b in 1i64..=24,
    ) {
        let before = c.slots();
        prop_assume!(!before.is_empty());
        let (x, y) = (before[i.index(before.len())], before[j.index(before.len())]);
        let after_x = Interval::new(x.end, x.end + mins(len_a * 5));
        let before_y = Interval::new(y.start - mins(len_b * 5), y.start);
        let mut c2 = c.clone();
        c2.bookings = [after_x, before_y]
            .iter()
            .map(|session| ExistingBooking {
                session: *session,
                buffer_before: Duration::zero(),
                buffer_after: Duration::zero(),
            })
            .collect();
        let got = c2.slots();
        let expected: Vec<Slot> = before
            .iter()
            .copied()
            .filter(|s| !s.interval().overlaps(&after_x) && !s.interval().overlaps(&before_y))
            .collect();
        prop_assert_eq!(&got, &expected);
        if !x.interval().overlaps(&before_y) {
            prop_assert!(got.contains(&x));
        }
        if !y.interval().overlaps(&after_x) {
            prop_assert!(got.contains(&y));
        }
    }

    /// (f) The engine agrees with the literal reference model, whatever the
    /// order of its inputs.
    #[test]
    fn engine_matches_reference_model(c in case(true)) {
        let slots = c.slots();
        prop_assert_eq!(&slots, &reference(&c));
        let mut reversed = c.clone();
        reversed.schedule.weekly.reverse();
        reversed.schedule.overrides.reverse();
        reversed.schedule.time_off.reverse();
        reversed.bookings.reverse();
        reversed.own.reverse();
        prop_assert_eq!(&slots, &reversed.slots());
    }
}

/// The list of zones really has the half-hour and 45-minute offsets the
/// generators rely on (guards against a tz database surprise).
#[test]
fn zone_list_covers_odd_offsets() {
    let t = Utc.with_ymd_and_hms(2026, 1, 15, 0, 0, 0).unwrap();
    let offset = |z: Tz| t.with_timezone(&z).offset().fix().local_minus_utc();
    assert_eq!(offset(Asia::Kolkata), 5 * 3600 + 1800);
    assert_eq!(offset(Asia::Kathmandu), 5 * 3600 + 2700);
    assert_eq!(offset(Australia::Lord_Howe), 11 * 3600);
    assert_eq!(t.with_timezone(&UTC).minute(), 0);
}
