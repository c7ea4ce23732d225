//! Slot engine benchmark: one Berlin mentor over 28 days spanning the
//! 2026-10-25 fall-back, with 200 busy intervals. Run with
//! `cargo bench --bench slots`.
#![expect(clippy::expect_used, reason = "fixed, valid benchmark inputs")]

use std::hint::black_box;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Europe;
use criterion::{Criterion, criterion_group, criterion_main};
use officehours::slots::{
    BookingSettings, DateOverride, ExistingBooking, Interval, LocalWindow, Schedule, SlotQuery,
    WeeklyRule, free_slots,
};

fn t(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).expect("valid time")
}

fn utc(y: i32, mo: u32, d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, 0, 0)
        .single()
        .expect("valid instant")
}

fn date(mo: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, mo, d).expect("valid date")
}

fn rule(weekday: Weekday, start: NaiveTime, end: NaiveTime) -> WeeklyRule {
    WeeklyRule {
        weekday,
        window: LocalWindow::new(start, end),
    }
}

struct Input {
    schedule: Schedule,
    settings: BookingSettings,
    bookings: Vec<ExistingBooking>,
    own: Vec<Interval>,
    query: SlotQuery,
}

fn input() -> Input {
    let from = utc(2026, 10, 12, 0);
    let to = from + Duration::days(28);

    // 200 busy intervals spread evenly over the window, lengths 30–90 min:
    // 160 bookings (with buffers), 30 own sessions, 10 time-off ranges.
    let spacing = (to - from) / 200;
    let busy: Vec<Interval> = (0..200i32)
        .map(|i| {
            let start = from + spacing * i;
            Interval::new(start, start + Duration::minutes(30 + i64::from(i % 5) * 15))
        })
        .collect();
    let bookings = busy[..160]
        .iter()
        .map(|session| ExistingBooking {
            session: *session,
            buffer_before: Duration::minutes(10),
            buffer_after: Duration::minutes(10),
        })
        .collect();

    let schedule = Schedule {
        zone: Europe::Berlin,
        weekly: vec![
            rule(Weekday::Mon, t(9, 0), t(17, 0)),
            rule(Weekday::Tue, t(9, 0), t(12, 0)),
            rule(Weekday::Wed, t(13, 0), t(19, 0)),
            rule(Weekday::Thu, t(18, 0), t(1, 0)), // crosses midnight
            rule(Weekday::Sun, t(1, 0), t(5, 0)),  // covers the fold on 25 Oct
        ],
        overrides: vec![
            DateOverride {
                date: date(10, 20),
                windows: Vec::new(),
            },
            DateOverride {
                date: date(10, 24),
                windows: vec![LocalWindow::new(t(10, 0), t(14, 0))],
            },
            DateOverride {
                date: date(11, 2),
                windows: vec![LocalWindow::new(t(14, 0), t(18, 0))],
            },
        ],
        time_off: busy[190..].to_vec(),
    };
    Input {
        schedule,
        settings: BookingSettings {
            buffer_before: Duration::minutes(10),
            buffer_after: Duration::minutes(10),
            min_notice: Duration::hours(12),
            horizon: Duration::days(60),
            step: Duration::minutes(15),
            max_per_day: Some(6),
            max_per_week: Some(20),
        },
        bookings,
        own: busy[160..190].to_vec(),
        query: SlotQuery {
            duration: Duration::minutes(45),
            now: utc(2026, 10, 11, 8),
            window: Interval::new(from, to),
        },
    }
}

fn bench(c: &mut Criterion) {
    let input = input();
    let mut group = c.benchmark_group("free_slots");
    group.bench_function("28d_200busy", |b| {
        b.iter(|| {
            free_slots(
                black_box(&input.schedule),
                black_box(&input.settings),
                black_box(&input.bookings),
                black_box(&input.own),
                black_box(&input.query),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
