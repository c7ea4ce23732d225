//! Fixed-date cases with explicit expected instants.

use chrono::{SecondsFormat, Timelike};
use chrono_tz::{America, Asia, Australia, Europe, Pacific};

use super::*;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn rfc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn hm(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap()
}

fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn win(start: (u32, u32), end: (u32, u32)) -> LocalWindow {
    LocalWindow::new(hm(start.0, start.1), hm(end.0, end.1))
}

fn mins(m: i64) -> Duration {
    Duration::minutes(m)
}

fn weekly(zone: Tz, rules: &[(Weekday, LocalWindow)]) -> Schedule {
    Schedule {
        zone,
        weekly: rules
            .iter()
            .map(|(weekday, window)| WeeklyRule {
                weekday: *weekday,
                window: *window,
            })
            .collect(),
        overrides: Vec::new(),
        time_off: Vec::new(),
    }
}

fn settings(step: i64) -> BookingSettings {
    BookingSettings {
        buffer_before: Duration::zero(),
        buffer_after: Duration::zero(),
        min_notice: Duration::zero(),
        horizon: Duration::days(3650),
        step: mins(step),
        max_per_day: None,
        max_per_week: None,
    }
}

fn query(from: &str, to: &str, duration: i64) -> SlotQuery {
    SlotQuery {
        duration: mins(duration),
        now: at("2026-01-01T00:00:00Z"),
        window: Interval::new(at(from), at(to)),
    }
}

fn run(
    schedule: &Schedule,
    settings: &BookingSettings,
    bookings: &[ExistingBooking],
    own: &[Interval],
    query: &SlotQuery,
) -> Vec<String> {
    let slots = free_slots(schedule, settings, bookings, own, query);
    for s in &slots {
        assert_eq!(s.end - s.start, query.duration);
    }
    slots.iter().map(|s| rfc(s.start)).collect()
}

fn simple(schedule: &Schedule, step: i64, q: &SlotQuery) -> Vec<String> {
    run(schedule, &settings(step), &[], &[], q)
}

fn booking(start: &str, end: &str, before: i64, after: i64) -> ExistingBooking {
    ExistingBooking {
        session: Interval::new(at(start), at(end)),
        buffer_before: mins(before),
        buffer_after: mins(after),
    }
}

// ---------------------------------------------------------------- resolve

fn check_resolve(zone: Tz, date: NaiveDate, cases: &[((u32, u32), &str)]) {
    for ((h, m), expected) in cases {
        assert_eq!(
            rfc(resolve_local(zone, date, hm(*h, *m))),
            *expected,
            "{zone} {date} {h:02}:{m:02}"
        );
    }
}

#[test]
fn resolve_berlin_spring_gap() {
    check_resolve(
        Europe::Berlin,
        ymd(2026, 3, 29),
        &[
            ((1, 59), "2026-03-29T00:59:00Z"),
            ((2, 0), "2026-03-29T01:00:00Z"),  // gap: 03:00 CEST
            ((2, 30), "2026-03-29T01:30:00Z"), // gap: 03:30 CEST
            ((3, 0), "2026-03-29T01:00:00Z"),
            ((13, 30), "2026-03-29T11:30:00Z"),
        ],
    );
}

#[test]
fn resolve_berlin_fall_fold() {
    check_resolve(
        Europe::Berlin,
        ymd(2026, 10, 25),
        &[
            ((1, 59), "2026-10-24T23:59:00Z"),
            ((2, 0), "2026-10-25T00:00:00Z"), // fold: the CEST one
            ((2, 30), "2026-10-25T00:30:00Z"),
            ((3, 0), "2026-10-25T02:00:00Z"),
            ((14, 0), "2026-10-25T13:00:00Z"),
        ],
    );
}

#[test]
fn resolve_new_york() {
    check_resolve(
        America::New_York,
        ymd(2026, 3, 8),
        &[
            ((1, 59), "2026-03-08T06:59:00Z"),
            ((2, 30), "2026-03-08T07:30:00Z"), // gap: 03:30 EDT
            ((3, 0), "2026-03-08T07:00:00Z"),
            ((14, 0), "2026-03-08T18:00:00Z"),
        ],
    );
    check_resolve(
        America::New_York,
        ymd(2026, 11, 1),
        &[
            ((0, 59), "2026-11-01T04:59:00Z"),
            ((1, 30), "2026-11-01T05:30:00Z"), // fold: the EDT one
            ((2, 0), "2026-11-01T07:00:00Z"),
            ((14, 0), "2026-11-01T19:00:00Z"),
        ],
    );
}

#[test]
fn resolve_sydney() {
    check_resolve(
        Australia::Sydney,
        ymd(2026, 4, 5),
        &[
            ((1, 59), "2026-04-04T14:59:00Z"),
            ((2, 30), "2026-04-04T15:30:00Z"), // fold: the AEDT one
            ((3, 0), "2026-04-04T17:00:00Z"),
            ((14, 0), "2026-04-05T04:00:00Z"),
        ],
    );
    check_resolve(
        Australia::Sydney,
        ymd(2026, 10, 4),
        &[
            ((1, 59), "2026-10-03T15:59:00Z"),
            ((2, 30), "2026-10-03T16:30:00Z"), // gap: 03:30 AEDT
            ((3, 0), "2026-10-03T16:00:00Z"),
            ((14, 0), "2026-10-04T03:00:00Z"),
        ],
    );
}

#[test]
fn resolve_kolkata_half_hour_offset() {
    check_resolve(
        Asia::Kolkata,
        ymd(2026, 3, 29),
        &[
            ((9, 0), "2026-03-29T03:30:00Z"),
            ((14, 0), "2026-03-29T08:30:00Z"),
        ],
    );
    check_resolve(
        Asia::Kolkata,
        ymd(2026, 10, 25),
        &[((2, 30), "2026-10-24T21:00:00Z")],
    );
}

#[test]
fn resolve_lord_howe_half_hour_shift() {
    check_resolve(
        Australia::Lord_Howe,
        ymd(2026, 4, 5),
        &[
            ((1, 29), "2026-04-04T14:29:00Z"),
            ((1, 45), "2026-04-04T14:45:00Z"), // fold: the +11:00 one
            ((2, 0), "2026-04-04T15:30:00Z"),
            ((14, 0), "2026-04-05T03:30:00Z"),
        ],
    );
    check_resolve(
        Australia::Lord_Howe,
        ymd(2026, 10, 4),
        &[
            ((1, 59), "2026-10-03T15:29:00Z"),
            ((2, 15), "2026-10-03T15:45:00Z"), // gap: 02:45 +11:00
            ((2, 30), "2026-10-03T15:30:00Z"),
            ((14, 0), "2026-10-04T03:00:00Z"),
        ],
    );
}

// ---------------------------------------------------------- DST and zones

#[test]
fn berlin_weekly_rule_keeps_wall_clock_across_spring_change() {
    let s = weekly(
        Europe::Berlin,
        &[
            (Weekday::Sun, win((9, 0), (11, 0))),
            (Weekday::Sun, win((14, 0), (15, 0))),
        ],
    );
    let q = query("2026-03-22T00:00:00Z", "2026-03-30T00:00:00Z", 60);
    assert_eq!(
        simple(&s, 60, &q),
        [
            "2026-03-22T08:00:00Z",
            "2026-03-22T09:00:00Z",
            "2026-03-22T13:00:00Z",
            "2026-03-29T07:00:00Z",
            "2026-03-29T08:00:00Z",
            "2026-03-29T12:00:00Z",
        ]
    );
}

#[test]
fn berlin_weekly_rule_keeps_wall_clock_across_fall_change() {
    let s = weekly(
        Europe::Berlin,
        &[
            (Weekday::Sun, win((9, 0), (10, 0))),
            (Weekday::Sun, win((14, 0), (15, 0))),
        ],
    );
    let q = query("2026-10-18T00:00:00Z", "2026-10-26T00:00:00Z", 60);
    assert_eq!(
        simple(&s, 60, &q),
        [
            "2026-10-18T07:00:00Z",
            "2026-10-18T12:00:00Z",
            "2026-10-25T08:00:00Z",
            "2026-10-25T13:00:00Z",
        ]
    );
}

#[test]
fn berlin_window_wholly_in_gap_is_empty_on_change_day() {
    let s = weekly(Europe::Berlin, &[(Weekday::Sun, win((2, 0), (3, 0)))]);
    let q = query("2026-03-22T00:00:00Z", "2026-03-30T00:00:00Z", 30);
    assert_eq!(
        simple(&s, 30, &q),
        ["2026-03-22T01:00:00Z", "2026-03-22T01:30:00Z"]
    );
}

#[test]
fn berlin_window_partly_in_gap_starts_at_shifted_time() {
    let s = weekly(Europe::Berlin, &[(Weekday::Sun, win((2, 15), (4, 0)))]);
    let q = query("2026-03-22T00:00:00Z", "2026-03-30T00:00:00Z", 30);
    assert_eq!(
        simple(&s, 15, &q),
        [
            "2026-03-22T01:15:00Z",
            "2026-03-22T01:30:00Z",
            "2026-03-22T01:45:00Z",
            "2026-03-22T02:00:00Z",
            "2026-03-22T02:15:00Z",
            "2026-03-22T02:30:00Z",
            // 29 Mar: 02:15/02:30 local shift to 03:15/03:30 CEST; 03:00 CEST
            // is before the shifted window start; later ones repeat or overrun.
            "2026-03-29T01:15:00Z",
            "2026-03-29T01:30:00Z",
        ]
    );
}

#[test]
fn window_ending_in_gap_keeps_times_the_shifted_end_covers() {
    // 00:30–02:50 on 29 Mar ends at 03:50 CEST (01:50Z). Step 45 from
    // 00:30: 01:15, 02:00 (→ 03:00 CEST), 02:45 (→ 03:45, overruns), 03:30.
    let s = weekly(Europe::Berlin, &[(Weekday::Sun, win((0, 30), (2, 50)))]);
    let q = query("2026-03-28T12:00:00Z", "2026-03-29T12:00:00Z", 15);
    assert_eq!(
        simple(&s, 45, &q),
        [
            "2026-03-28T23:30:00Z",
            "2026-03-29T00:15:00Z",
            "2026-03-29T01:00:00Z",
            "2026-03-29T01:30:00Z",
        ]
    );
}

#[test]
fn berlin_fold_offers_only_the_earlier_of_repeated_wall_times() {
    let s = weekly(Europe::Berlin, &[(Weekday::Sun, win((1, 30), (3, 30)))]);
    let q = query("2026-10-24T12:00:00Z", "2026-10-25T12:00:00Z", 30);
    assert_eq!(
        simple(&s, 30, &q),
        [
            "2026-10-24T23:30:00Z", // 01:30 CEST
            "2026-10-25T00:00:00Z", // 02:00 CEST
            "2026-10-25T00:30:00Z", // 02:30 CEST
            "2026-10-25T02:00:00Z", // 03:00 CET
        ]
    );
}

#[test]
fn new_york_spring_forward() {
    let s = weekly(
        America::New_York,
        &[
            (Weekday::Sun, win((1, 0), (4, 0))),
            (Weekday::Sun, win((14, 0), (15, 0))),
        ],
    );
    let q = query("2026-03-08T00:00:00Z", "2026-03-09T12:00:00Z", 60);
    assert_eq!(
        simple(&s, 60, &q),
        [
            "2026-03-08T06:00:00Z", // 01:00 EST
            "2026-03-08T07:00:00Z", // 02:00 → 03:00 EDT, and 03:00 EDT itself
            "2026-03-08T18:00:00Z", // 14:00 EDT
        ]
    );
}

#[test]
fn new_york_fall_back() {
    let s = weekly(
        America::New_York,
        &[
            (Weekday::Sun, win((1, 0), (4, 0))),
            (Weekday::Sun, win((14, 0), (15, 0))),
        ],
    );
    let q = query("2026-11-01T00:00:00Z", "2026-11-02T12:00:00Z", 60);
    assert_eq!(
        simple(&s, 60, &q),
        [
            "2026-11-01T05:00:00Z", // 01:00 EDT (not 01:00 EST)
            "2026-11-01T07:00:00Z", // 02:00 EST
            "2026-11-01T08:00:00Z", // 03:00 EST
            "2026-11-01T19:00:00Z", // 14:00 EST
        ]
    );
}

#[test]
fn sydney_fall_back_in_april() {
    let s = weekly(
        Australia::Sydney,
        &[
            (Weekday::Sun, win((2, 0), (4, 0))),
            (Weekday::Sun, win((14, 0), (15, 0))),
        ],
    );
    let q = query("2026-04-04T00:00:00Z", "2026-04-06T00:00:00Z", 60);
    assert_eq!(
        simple(&s, 60, &q),
        [
            "2026-04-04T15:00:00Z", // 02:00 AEDT
            "2026-04-04T17:00:00Z", // 03:00 AEST
            "2026-04-05T04:00:00Z", // 14:00 AEST
        ]
    );
}

#[test]
fn sydney_spring_forward_in_october() {
    let s = weekly(
        Australia::Sydney,
        &[
            (Weekday::Sun, win((2, 0), (4, 0))),
            (Weekday::Sun, win((14, 0), (15, 0))),
        ],
    );
    let q = query("2026-10-03T00:00:00Z", "2026-10-05T00:00:00Z", 60);
    assert_eq!(
        simple(&s, 60, &q),
        [
            "2026-10-03T16:00:00Z", // 02:00 → 03:00 AEDT; 03:00 itself repeats it
            "2026-10-04T03:00:00Z", // 14:00 AEDT
        ]
    );
}

#[test]
fn kolkata_half_hour_offset() {
    let s = weekly(
        Asia::Kolkata,
        &[
            (Weekday::Mon, win((9, 0), (10, 0))),
            (Weekday::Mon, win((15, 30), (16, 0))),
        ],
    );
    let q = query("2026-03-29T12:00:00Z", "2026-03-31T00:00:00Z", 30);
    assert_eq!(
        simple(&s, 30, &q),
        [
            "2026-03-30T03:30:00Z",
            "2026-03-30T04:00:00Z",
            "2026-03-30T10:00:00Z",
        ]
    );
}

#[test]
fn lord_howe_thirty_minute_fall_back() {
    let s = weekly(Australia::Lord_Howe, &[(Weekday::Sun, win((1, 0), (3, 0)))]);
    let q = query("2026-04-04T00:00:00Z", "2026-04-05T00:00:00Z", 30);
    assert_eq!(
        simple(&s, 30, &q),
        [
            "2026-04-04T14:00:00Z", // 01:00 +11
            "2026-04-04T14:30:00Z", // 01:30 +11 (not 01:30 +10:30)
            "2026-04-04T15:30:00Z", // 02:00 +10:30
            "2026-04-04T16:00:00Z", // 02:30 +10:30
        ]
    );
}

#[test]
fn lord_howe_thirty_minute_spring_forward() {
    let s = weekly(Australia::Lord_Howe, &[(Weekday::Sun, win((1, 0), (3, 0)))]);
    let q = query("2026-10-03T00:00:00Z", "2026-10-04T00:00:00Z", 30);
    assert_eq!(
        simple(&s, 30, &q),
        [
            "2026-10-03T14:30:00Z", // 01:00 +10:30
            "2026-10-03T15:00:00Z", // 01:30 +10:30
            "2026-10-03T15:30:00Z", // 02:00 → 02:30 +11; 02:30 repeats it
        ]
    );
}

#[test]
fn window_crossing_midnight() {
    // 2026-01-09 is a Friday.
    let s = weekly(Europe::Berlin, &[(Weekday::Fri, win((22, 0), (2, 0)))]);
    let q = query("2026-01-09T00:00:00Z", "2026-01-11T00:00:00Z", 60);
    assert_eq!(
        simple(&s, 60, &q),
        [
            "2026-01-09T21:00:00Z",
            "2026-01-09T22:00:00Z",
            "2026-01-09T23:00:00Z",
            "2026-01-10T00:00:00Z",
        ]
    );
    // A query starting on Saturday still sees Friday's window.
    let q = query("2026-01-10T00:00:00Z", "2026-01-11T00:00:00Z", 60);
    assert_eq!(simple(&s, 60, &q), ["2026-01-10T00:00:00Z"]);
}

#[test]
fn window_crossing_midnight_into_the_gap() {
    let s = weekly(Europe::Berlin, &[(Weekday::Sat, win((22, 0), (4, 0)))]);
    let q = query("2026-03-28T00:00:00Z", "2026-03-30T00:00:00Z", 60);
    assert_eq!(
        simple(&s, 60, &q),
        [
            "2026-03-28T21:00:00Z",
            "2026-03-28T22:00:00Z",
            "2026-03-28T23:00:00Z",
            "2026-03-29T00:00:00Z",
            "2026-03-29T01:00:00Z", // 02:00 → 03:00 CEST; 03:00 repeats it
        ]
    );
}

#[test]
fn whole_day_window_when_end_equals_start() {
    let s = weekly(Asia::Kolkata, &[(Weekday::Mon, win((0, 0), (0, 0)))]);
    let q = query("2026-03-29T00:00:00Z", "2026-04-01T00:00:00Z", 60);
    let slots = simple(&s, 60, &q);
    assert_eq!(slots.len(), 24);
    assert_eq!(slots[0], "2026-03-29T18:30:00Z");
    assert_eq!(slots[23], "2026-03-30T17:30:00Z");
}

// ---------------------------------------------------------------- overrides

fn berlin_mondays() -> Schedule {
    weekly(Europe::Berlin, &[(Weekday::Mon, win((9, 0), (12, 0)))])
}

const JUNE_15_TO_23: (&str, &str) = ("2026-06-15T00:00:00Z", "2026-06-23T00:00:00Z");

#[test]
fn override_replaces_the_weekday() {
    let mut s = berlin_mondays();
    s.overrides.push(DateOverride {
        date: ymd(2026, 6, 15),
        windows: vec![win((14, 0), (15, 0))],
    });
    let q = query(JUNE_15_TO_23.0, JUNE_15_TO_23.1, 60);
    assert_eq!(
        simple(&s, 60, &q),
        [
            "2026-06-15T12:00:00Z",
            "2026-06-22T07:00:00Z",
            "2026-06-22T08:00:00Z",
            "2026-06-22T09:00:00Z",
        ]
    );
}

#[test]
fn override_without_windows_blocks_the_day() {
    let mut s = berlin_mondays();
    s.overrides.push(DateOverride {
        date: ymd(2026, 6, 22),
        windows: Vec::new(),
    });
    let q = query(JUNE_15_TO_23.0, JUNE_15_TO_23.1, 60);
    assert_eq!(
        simple(&s, 60, &q),
        [
            "2026-06-15T07:00:00Z",
            "2026-06-15T08:00:00Z",
            "2026-06-15T09:00:00Z",
        ]
    );
}

#[test]
fn override_opens_a_day_without_weekly_rules() {
    let mut s = berlin_mondays();
    s.overrides.push(DateOverride {
        date: ymd(2026, 6, 20),
        windows: vec![win((10, 0), (11, 0))],
    });
    let q = query("2026-06-16T00:00:00Z", "2026-06-22T00:00:00Z", 60);
    assert_eq!(simple(&s, 60, &q), ["2026-06-20T08:00:00Z"]);
}

#[test]
fn an_override_owns_its_date_against_the_night_before() {
    // Sunday 22:00–02:00 in Berlin (CET, UTC+1); 2026-11-29 is a Sunday.
    let mut s = weekly(Europe::Berlin, &[(Weekday::Sun, win((22, 0), (2, 0)))]);
    let q = query("2026-11-29T00:00:00Z", "2026-12-01T00:00:00Z", 60);
    let all = [
        "2026-11-29T21:00:00Z",
        "2026-11-29T22:00:00Z",
        "2026-11-29T23:00:00Z",
        "2026-11-30T00:00:00Z",
    ];
    assert_eq!(simple(&s, 60, &q), all);
    // Monday unavailable all day: nothing of Monday is left, Sunday keeps
    // its evening up to midnight.
    s.overrides.push(DateOverride {
        date: ymd(2026, 11, 30),
        windows: Vec::new(),
    });
    assert_eq!(simple(&s, 60, &q), &all[..2]);
    // Monday with its own hours: those, and Sunday's evening.
    s.overrides[0].windows = vec![win((1, 0), (3, 0))];
    assert_eq!(
        simple(&s, 60, &q),
        [
            "2026-11-29T21:00:00Z",
            "2026-11-29T22:00:00Z",
            "2026-11-30T00:00:00Z",
            "2026-11-30T01:00:00Z",
        ]
    );
    assert!(s.has_override(ymd(2026, 11, 30)));
    assert_eq!(
        s.spans_on(Europe::Berlin, ymd(2026, 11, 29)),
        [Interval::new(
            at("2026-11-29T21:00:00Z"),
            at("2026-11-29T23:00:00Z")
        )]
    );
}

// ------------------------------------------------------- touching windows

/// Monday 22 June 2026 in Berlin (CEST, UTC+2), 00:00 to 00:00.
const JUNE_22: (&str, &str) = ("2026-06-21T22:00:00Z", "2026-06-22T22:00:00Z");

#[test]
fn a_session_may_span_two_touching_windows() {
    let two = weekly(
        Europe::Berlin,
        &[
            (Weekday::Mon, win((9, 0), (12, 0))),
            (Weekday::Mon, win((12, 0), (14, 0))),
        ],
    );
    let one = weekly(Europe::Berlin, &[(Weekday::Mon, win((9, 0), (14, 0)))]);
    let q = query(JUNE_22.0, JUNE_22.1, 30);
    let slots = simple(&two, 15, &q);
    // 11:45–12:15 CEST runs across the boundary.
    assert!(
        slots.contains(&"2026-06-22T09:45:00Z".to_owned()),
        "{slots:?}"
    );
    assert_eq!(slots, simple(&one, 15, &q));
    assert_eq!(slots.len(), 19);
    // Given in the other order, the same.
    let mut reversed = two.clone();
    reversed.weekly.reverse();
    assert_eq!(simple(&reversed, 15, &q), slots);
}

#[test]
fn starts_step_from_each_window_s_own_start() {
    // 09:00–12:10 then 12:10–14:00: the first window's grid goes on while
    // a start lies inside it (11:45, 12:00), the second has its own.
    let s = weekly(
        Europe::Berlin,
        &[
            (Weekday::Mon, win((9, 0), (12, 10))),
            (Weekday::Mon, win((12, 10), (14, 0))),
        ],
    );
    let q = query("2026-06-22T09:00:00Z", JUNE_22.1, 30);
    assert_eq!(
        simple(&s, 15, &q),
        [
            "2026-06-22T09:00:00Z",
            "2026-06-22T09:15:00Z",
            "2026-06-22T09:30:00Z",
            "2026-06-22T09:45:00Z", // 11:45 CEST, into the second window
            "2026-06-22T10:00:00Z", // 12:00 CEST, still inside the first
            "2026-06-22T10:10:00Z",
            "2026-06-22T10:25:00Z",
            "2026-06-22T10:40:00Z",
            "2026-06-22T10:55:00Z",
            "2026-06-22T11:10:00Z",
            "2026-06-22T11:25:00Z",
        ]
    );
}

#[test]
fn windows_with_a_gap_between_are_not_joined() {
    let s = weekly(
        Europe::Berlin,
        &[
            (Weekday::Mon, win((9, 0), (12, 0))),
            (Weekday::Mon, win((12, 5), (14, 0))),
        ],
    );
    let q = query("2026-06-22T09:00:00Z", "2026-06-22T10:30:00Z", 30);
    assert_eq!(
        simple(&s, 15, &q),
        [
            "2026-06-22T09:00:00Z",
            "2026-06-22T09:15:00Z",
            "2026-06-22T09:30:00Z",
            "2026-06-22T10:05:00Z",
            "2026-06-22T10:20:00Z",
        ]
    );
}

#[test]
fn a_session_may_span_midnight_between_touching_windows() {
    // Monday until midnight, Tuesday from midnight; and Sunday night into
    // Monday, whose windows are given first.
    let s = weekly(
        Europe::Berlin,
        &[
            (Weekday::Mon, win((0, 0), (1, 0))),
            (Weekday::Mon, win((22, 0), (0, 0))),
            (Weekday::Tue, win((0, 0), (1, 0))),
            (Weekday::Sun, win((23, 0), (0, 0))),
        ],
    );
    let q = query("2026-06-21T00:00:00Z", "2026-06-23T00:00:00Z", 60);
    assert_eq!(
        simple(&s, 30, &q),
        [
            "2026-06-21T21:00:00Z", // Sun 23:00 CEST
            "2026-06-21T21:30:00Z", // Sun 23:30, across midnight
            "2026-06-21T22:00:00Z", // Mon 00:00
            "2026-06-22T20:00:00Z", // Mon 22:00
            "2026-06-22T20:30:00Z",
            "2026-06-22T21:00:00Z",
            "2026-06-22T21:30:00Z", // Mon 23:30, across midnight
            "2026-06-22T22:00:00Z", // Tue 00:00
        ]
    );
}

#[test]
fn override_windows_touch_like_weekly_ones() {
    let mut s = berlin_mondays();
    s.overrides.push(DateOverride {
        date: ymd(2026, 6, 24),
        windows: vec![win((12, 0), (14, 0)), win((9, 0), (12, 0))],
    });
    let q = query("2026-06-24T09:00:00Z", "2026-06-24T10:30:00Z", 30);
    assert_eq!(
        simple(&s, 15, &q),
        [
            "2026-06-24T09:00:00Z",
            "2026-06-24T09:15:00Z",
            "2026-06-24T09:30:00Z",
            "2026-06-24T09:45:00Z",
            "2026-06-24T10:00:00Z",
            "2026-06-24T10:15:00Z",
        ]
    );
}

#[test]
fn a_night_cut_at_an_override_touches_the_override_s_midnight_window() {
    // Sunday 22:00–02:00; Monday 30 Nov 2026 (CET, UTC+1) has its own
    // 00:00–01:00. Sunday's window stops at midnight and touches it.
    let mut s = weekly(Europe::Berlin, &[(Weekday::Sun, win((22, 0), (2, 0)))]);
    s.overrides.push(DateOverride {
        date: ymd(2026, 11, 30),
        windows: vec![win((0, 0), (1, 0))],
    });
    let q = query("2026-11-29T00:00:00Z", "2026-12-01T00:00:00Z", 60);
    assert_eq!(
        simple(&s, 30, &q),
        [
            "2026-11-29T21:00:00Z",
            "2026-11-29T21:30:00Z",
            "2026-11-29T22:00:00Z",
            "2026-11-29T22:30:00Z", // 23:30–00:30, into Monday's window
            "2026-11-29T23:00:00Z", // Monday 00:00
        ]
    );
    // The override still owns Monday: no two hours from 23:30 though
    // Sunday's own window would run to 02:00.
    let q = query("2026-11-29T00:00:00Z", "2026-12-01T00:00:00Z", 120);
    assert_eq!(
        simple(&s, 30, &q),
        [
            "2026-11-29T21:00:00Z",
            "2026-11-29T21:30:00Z",
            "2026-11-29T22:00:00Z",
        ]
    );
    // Monday unavailable all day: nothing runs past midnight.
    s.overrides[0].windows.clear();
    let q = query("2026-11-29T00:00:00Z", "2026-12-01T00:00:00Z", 60);
    assert_eq!(
        simple(&s, 30, &q),
        [
            "2026-11-29T21:00:00Z",
            "2026-11-29T21:30:00Z",
            "2026-11-29T22:00:00Z",
        ]
    );
}

#[test]
fn busy_time_still_cuts_a_session_across_touching_windows() {
    let mut s = weekly(
        Europe::Berlin,
        &[
            (Weekday::Mon, win((9, 0), (12, 0))),
            (Weekday::Mon, win((12, 0), (14, 0))),
        ],
    );
    s.time_off = vec![Interval::new(
        at("2026-06-22T10:00:00Z"),
        at("2026-06-22T10:05:00Z"),
    )];
    let q = query("2026-06-22T09:00:00Z", "2026-06-22T10:30:00Z", 30);
    assert_eq!(
        simple(&s, 15, &q),
        [
            "2026-06-22T09:00:00Z",
            "2026-06-22T09:15:00Z",
            "2026-06-22T09:30:00Z",
            "2026-06-22T10:15:00Z",
        ]
    );
    s.time_off.clear();
    let b = [booking(
        "2026-06-22T10:15:00Z",
        "2026-06-22T10:45:00Z",
        0,
        0,
    )];
    assert_eq!(
        run(&s, &settings(15), &b, &[], &q),
        [
            "2026-06-22T09:00:00Z",
            "2026-06-22T09:15:00Z",
            "2026-06-22T09:30:00Z",
            "2026-06-22T09:45:00Z",
        ]
    );
}

#[test]
fn touching_windows_at_a_spring_gap() {
    // Berlin, Sunday 29 March 2026: 02:00 does not exist, so 00:00–02:00
    // ends and 02:00–04:00 starts at 03:00 CEST (01:00Z).
    let s = weekly(
        Europe::Berlin,
        &[
            (Weekday::Sun, win((0, 0), (2, 0))),
            (Weekday::Sun, win((2, 0), (4, 0))),
        ],
    );
    let q = query("2026-03-28T12:00:00Z", "2026-03-29T12:00:00Z", 60);
    assert_eq!(
        simple(&s, 30, &q),
        [
            "2026-03-28T23:00:00Z", // 00:00 CET
            "2026-03-28T23:30:00Z",
            "2026-03-29T00:00:00Z", // 01:00 CET, ends at the gap
            "2026-03-29T00:30:00Z", // 01:30 CET, across the gap
            "2026-03-29T01:00:00Z", // 02:00 → 03:00 CEST
        ]
    );
}

#[test]
fn touching_windows_in_a_fold() {
    // Berlin, Sunday 25 October 2026: 02:00–03:00 happens twice; both
    // windows read 02:30 as the earlier (CEST) one, so they touch there.
    let s = weekly(
        Europe::Berlin,
        &[
            (Weekday::Sun, win((1, 0), (2, 30))),
            (Weekday::Sun, win((2, 30), (4, 0))),
        ],
    );
    let q = query("2026-10-24T12:00:00Z", "2026-10-25T12:00:00Z", 60);
    assert_eq!(
        simple(&s, 30, &q),
        [
            "2026-10-24T23:00:00Z", // 01:00 CEST
            "2026-10-24T23:30:00Z", // 01:30 CEST
            "2026-10-25T00:00:00Z", // 02:00 CEST, across 02:30
            "2026-10-25T00:30:00Z", // 02:30 CEST
            "2026-10-25T02:00:00Z", // 03:00 CET
        ]
    );
}

#[test]
fn a_window_ending_at_its_start_lasts_a_day_and_touches_the_next() {
    // Wednesday 10:00 to Thursday 10:00, and Thursday's own 10:00–10:00.
    let s = weekly(
        Europe::Berlin,
        &[
            (Weekday::Wed, win((10, 0), (10, 0))),
            (Weekday::Thu, win((10, 0), (10, 0))),
        ],
    );
    let q = query("2026-06-17T08:00:00Z", "2026-06-18T08:00:00Z", 30);
    let slots = simple(&s, 30, &q);
    assert_eq!(slots.len(), 48);
    assert_eq!(slots[0], "2026-06-17T08:00:00Z");
    assert_eq!(slots[47], "2026-06-18T07:30:00Z");
    // Steps of 45 from Wednesday 10:00 reach Thursday 09:15; its hour runs
    // into Thursday's window.
    let q = query("2026-06-18T07:00:00Z", "2026-06-18T08:00:00Z", 60);
    assert_eq!(simple(&s, 45, &q), ["2026-06-18T07:15:00Z"]);
}

// ------------------------------------------------------------- busy time

#[test]
fn time_off_blocks() {
    let mut s = berlin_mondays();
    s.time_off = vec![
        Interval::new(at("2026-06-15T08:00:00Z"), at("2026-06-15T09:00:00Z")),
        Interval::new(at("2026-06-22T00:00:00Z"), at("2026-06-23T00:00:00Z")),
    ];
    let q = query(JUNE_15_TO_23.0, JUNE_15_TO_23.1, 60);
    // Touching the time off on either side is fine.
    assert_eq!(
        simple(&s, 60, &q),
        ["2026-06-15T07:00:00Z", "2026-06-15T09:00:00Z"]
    );
}

fn monday_morning(step: i64) -> (Schedule, BookingSettings, SlotQuery) {
    let s = weekly(Europe::Berlin, &[(Weekday::Mon, win((9, 0), (13, 0)))]);
    let q = query("2026-06-15T00:00:00Z", "2026-06-16T00:00:00Z", 60);
    (s, settings(step), q)
}

#[test]
fn existing_booking_without_buffers_leaves_adjacent_slots() {
    let (s, set, q) = monday_morning(30);
    let b = [booking(
        "2026-06-15T08:00:00Z",
        "2026-06-15T09:00:00Z",
        0,
        0,
    )];
    assert_eq!(
        run(&s, &set, &b, &[], &q),
        [
            "2026-06-15T07:00:00Z",
            "2026-06-15T09:00:00Z",
            "2026-06-15T09:30:00Z",
            "2026-06-15T10:00:00Z",
        ]
    );
}

#[test]
fn mentor_buffers_make_adjacent_slots_unavailable() {
    let (s, mut set, q) = monday_morning(30);
    let b = [booking(
        "2026-06-15T08:00:00Z",
        "2026-06-15T09:00:00Z",
        0,
        0,
    )];
    set.buffer_after = mins(15);
    assert_eq!(
        run(&s, &set, &b, &[], &q),
        [
            "2026-06-15T09:00:00Z",
            "2026-06-15T09:30:00Z",
            "2026-06-15T10:00:00Z",
        ]
    );
    set.buffer_after = Duration::zero();
    set.buffer_before = mins(15);
    assert_eq!(
        run(&s, &set, &b, &[], &q),
        [
            "2026-06-15T07:00:00Z",
            "2026-06-15T09:30:00Z",
            "2026-06-15T10:00:00Z",
        ]
    );
}

#[test]
fn buffers_copied_onto_a_booking_block_too() {
    let (s, set, q) = monday_morning(30);
    let b = [booking(
        "2026-06-15T08:00:00Z",
        "2026-06-15T09:00:00Z",
        0,
        30,
    )];
    assert_eq!(
        b[0].occupied(),
        Interval::new(at("2026-06-15T08:00:00Z"), at("2026-06-15T09:30:00Z"))
    );
    assert_eq!(
        run(&s, &set, &b, &[], &q),
        [
            "2026-06-15T07:00:00Z",
            "2026-06-15T09:30:00Z",
            "2026-06-15T10:00:00Z",
        ]
    );
}

#[test]
fn own_learner_session_blocks() {
    let (s, set, q) = monday_morning(30);
    let own = [Interval::new(
        at("2026-06-15T08:00:00Z"),
        at("2026-06-15T08:30:00Z"),
    )];
    assert_eq!(
        run(&s, &set, &[], &own, &q),
        [
            "2026-06-15T07:00:00Z",
            "2026-06-15T08:30:00Z",
            "2026-06-15T09:00:00Z",
            "2026-06-15T09:30:00Z",
            "2026-06-15T10:00:00Z",
        ]
    );
}

// ------------------------------------------------------------------- caps

#[test]
fn cap_per_day_counts_by_the_mentors_local_date() {
    let s = weekly(
        Europe::Berlin,
        &[
            (Weekday::Mon, win((9, 0), (11, 0))),
            (Weekday::Tue, win((9, 0), (11, 0))),
        ],
    );
    let q = query("2026-06-15T00:00:00Z", "2026-06-17T00:00:00Z", 60);
    // 22:30Z on Monday is 00:30 on Tuesday in Berlin.
    let b = [booking(
        "2026-06-15T22:30:00Z",
        "2026-06-15T23:00:00Z",
        0,
        0,
    )];
    let mut set = settings(60);
    set.max_per_day = Some(1);
    assert_eq!(
        run(&s, &set, &b, &[], &q),
        ["2026-06-15T07:00:00Z", "2026-06-15T08:00:00Z"]
    );
    set.max_per_day = Some(2);
    assert_eq!(run(&s, &set, &b, &[], &q).len(), 4);
}

#[test]
fn cap_per_week_counts_by_local_iso_week() {
    let s = weekly(
        Europe::Berlin,
        &[
            (Weekday::Mon, win((9, 0), (10, 0))),
            (Weekday::Sun, win((9, 0), (10, 0))),
        ],
    );
    let q = query("2026-06-15T00:00:00Z", "2026-06-29T00:00:00Z", 60);
    let b = [
        booking("2026-06-16T10:00:00Z", "2026-06-16T11:00:00Z", 0, 0), // week 25
        // Sunday 22:30Z is Monday 00:30 in Berlin: week 26.
        booking("2026-06-21T22:30:00Z", "2026-06-21T23:00:00Z", 0, 0),
        booking("2026-06-22T10:00:00Z", "2026-06-22T11:00:00Z", 0, 0), // week 26
    ];
    let mut set = settings(60);
    set.max_per_week = Some(2);
    assert_eq!(
        run(&s, &set, &b, &[], &q),
        ["2026-06-15T07:00:00Z", "2026-06-21T07:00:00Z"]
    );
    set.max_per_week = Some(3);
    assert_eq!(run(&s, &set, &b, &[], &q).len(), 4);
}

#[test]
fn cap_of_zero_offers_nothing() {
    let s = berlin_mondays();
    let q = query(JUNE_15_TO_23.0, JUNE_15_TO_23.1, 60);
    let mut set = settings(60);
    set.max_per_day = Some(0);
    assert!(run(&s, &set, &[], &[], &q).is_empty());
}

// ------------------------------------------------- notice, horizon, query

fn monday_at_six() -> (Schedule, BookingSettings, SlotQuery) {
    let s = weekly(Europe::Berlin, &[(Weekday::Mon, win((9, 0), (11, 0)))]);
    let mut q = query("2026-06-15T00:00:00Z", "2026-06-16T00:00:00Z", 60);
    q.now = at("2026-06-15T06:00:00Z");
    (s, settings(60), q)
}

#[test]
fn notice_edge_is_inclusive() {
    let (s, mut set, q) = monday_at_six();
    set.min_notice = mins(60);
    assert_eq!(
        run(&s, &set, &[], &[], &q),
        ["2026-06-15T07:00:00Z", "2026-06-15T08:00:00Z"]
    );
    set.min_notice = mins(61);
    assert_eq!(run(&s, &set, &[], &[], &q), ["2026-06-15T08:00:00Z"]);
}

#[test]
fn horizon_edge_is_exclusive() {
    let (s, mut set, q) = monday_at_six();
    set.horizon = mins(120);
    assert_eq!(run(&s, &set, &[], &[], &q), ["2026-06-15T07:00:00Z"]);
    set.horizon = mins(121);
    assert_eq!(
        run(&s, &set, &[], &[], &q),
        ["2026-06-15T07:00:00Z", "2026-06-15T08:00:00Z"]
    );
}

#[test]
fn query_window_is_half_open() {
    let (s, set, mut q) = monday_at_six();
    q.window = Interval::new(at("2026-06-15T07:00:00Z"), at("2026-06-15T08:00:00Z"));
    assert_eq!(run(&s, &set, &[], &[], &q), ["2026-06-15T07:00:00Z"]);
    q.window = Interval::new(at("2026-06-15T07:00:01Z"), at("2026-06-15T08:00:01Z"));
    assert_eq!(run(&s, &set, &[], &[], &q), ["2026-06-15T08:00:00Z"]);
}

// ---------------------------------------------------------------- misc

#[test]
fn viewer_zone_does_not_change_instants() {
    let s = weekly(
        America::Los_Angeles,
        &[(Weekday::Mon, win((17, 0), (18, 0)))],
    );
    let q = query("2026-06-15T00:00:00Z", "2026-06-17T00:00:00Z", 60);
    let slots = free_slots(&s, &settings(60), &[], &[], &q);
    assert_eq!(slots.len(), 1);
    assert_eq!(rfc(slots[0].start), "2026-06-16T00:00:00Z");
    let in_la = slots[0].start.with_timezone(&America::Los_Angeles);
    let in_auckland = slots[0].start.with_timezone(&Pacific::Auckland);
    assert_eq!(in_la.date_naive(), ymd(2026, 6, 15));
    assert_eq!(in_auckland.date_naive(), ymd(2026, 6, 16));
    assert_eq!((in_auckland.hour(), in_auckland.minute()), (12, 0));
    assert_ne!(in_la.date_naive(), in_auckland.date_naive());
}

#[test]
fn degenerate_step_or_duration_gives_nothing() {
    let s = berlin_mondays();
    let q = query(JUNE_15_TO_23.0, JUNE_15_TO_23.1, 60);
    assert!(simple(&s, 0, &q).is_empty());
    assert!(simple(&s, -15, &q).is_empty());
    let q = query(JUNE_15_TO_23.0, JUNE_15_TO_23.1, 0);
    assert!(simple(&s, 15, &q).is_empty());
}

#[test]
fn output_does_not_depend_on_input_order() {
    let mut s = weekly(
        Europe::Berlin,
        &[
            (Weekday::Mon, win((9, 0), (12, 0))),
            (Weekday::Mon, win((11, 0), (14, 0))),
            (Weekday::Tue, win((22, 0), (1, 0))),
        ],
    );
    s.overrides = vec![
        DateOverride {
            date: ymd(2026, 6, 17),
            windows: vec![win((8, 0), (9, 0))],
        },
        DateOverride {
            date: ymd(2026, 6, 17),
            windows: vec![win((10, 0), (11, 0))],
        },
    ];
    s.time_off = vec![
        Interval::new(at("2026-06-15T10:00:00Z"), at("2026-06-15T10:20:00Z")),
        Interval::new(at("2026-06-15T08:00:00Z"), at("2026-06-15T08:10:00Z")),
    ];
    let b = [
        booking("2026-06-16T21:00:00Z", "2026-06-16T21:30:00Z", 10, 0),
        booking("2026-06-15T07:00:00Z", "2026-06-15T07:15:00Z", 0, 5),
    ];
    let q = query("2026-06-15T00:00:00Z", "2026-06-18T00:00:00Z", 30);
    let set = settings(15);
    let forward = free_slots(&s, &set, &b, &[], &q);
    s.weekly.reverse();
    s.overrides.reverse();
    s.time_off.reverse();
    let mut rb = b;
    rb.reverse();
    assert_eq!(free_slots(&s, &set, &rb, &[], &q), forward);
    // Both overrides of 17 Jun count.
    let on_17th: Vec<_> = forward
        .iter()
        .filter(|s| s.start.date_naive() == ymd(2026, 6, 17))
        .map(|s| rfc(s.start))
        .collect();
    assert_eq!(
        on_17th,
        [
            "2026-06-17T06:00:00Z",
            "2026-06-17T06:15:00Z",
            "2026-06-17T06:30:00Z",
            "2026-06-17T08:00:00Z",
            "2026-06-17T08:15:00Z",
            "2026-06-17T08:30:00Z",
        ]
    );
}

#[test]
fn interval_overlap_is_half_open() {
    let a = Interval::new(at("2026-01-01T10:00:00Z"), at("2026-01-01T11:00:00Z"));
    let b = Interval::new(at("2026-01-01T11:00:00Z"), at("2026-01-01T12:00:00Z"));
    let c = Interval::new(at("2026-01-01T10:59:00Z"), at("2026-01-01T11:01:00Z"));
    let empty = Interval::new(at("2026-01-01T10:30:00Z"), at("2026-01-01T10:30:00Z"));
    assert!(!a.overlaps(&b) && !b.overlaps(&a));
    assert!(a.overlaps(&c) && b.overlaps(&c));
    assert!(!a.overlaps(&empty));
}

#[test]
fn a_fold_over_midnight_reaches_back_into_the_previous_date() {
    // Until 2011 St John's fell back at 00:01: on Sunday 7 November 2010
    // the clocks went from 00:01 NDT (02:31 UTC) back to 23:01 NST on
    // Saturday. A session from Sunday 00:00 NDT (02:30 UTC) therefore ends
    // at Saturday 23:30 NST: the date its end falls on comes before the
    // date whose window it lies in.
    let s = weekly(America::St_Johns, &[(Weekday::Sun, win((0, 0), (3, 0)))]);
    let q = SlotQuery {
        now: at("2010-01-01T00:00:00Z"),
        ..query("2010-11-07T02:00:00Z", "2010-11-07T02:31:00Z", 30)
    };
    assert_eq!(
        run(&s, &settings(30), &[], &[], &q),
        ["2010-11-07T02:30:00Z"]
    );
}
