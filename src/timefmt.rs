//! Human-readable times for emails and pages. Every string names the zone
//! (abbreviation, and in the long forms the IANA name too), so a reader in
//! another zone is never left guessing. Pure: depends on chrono and
//! chrono-tz only.

use std::fmt;

use chrono::{DateTime, Datelike, Offset, Utc};
use chrono_tz::{OffsetName, Tz, TzOffset};

const LONG_DATE: &str = "%A %-d %B %Y";
const CLOCK: &str = "%H:%M";

/// The zone's abbreviation at an instant, e.g. `CEST`. Where the tz
/// database has no letters for a zone it would print the bare offset
/// (`-03`, `+0545`), which reads like a typo after a clock time; this
/// shows `UTC-03` and `UTC+05:45` instead.
pub struct Abbreviation(TzOffset);

/// The abbreviation of `local`'s zone at that instant.
pub fn abbreviation(local: &DateTime<Tz>) -> Abbreviation {
    Abbreviation(*local.offset())
}

impl fmt::Display for Abbreviation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(letters) = self.0.abbreviation() {
            return f.write_str(letters);
        }
        let seconds = self.0.fix().local_minus_utc();
        let sign = if seconds < 0 { '-' } else { '+' };
        let (hours, minutes) = (seconds.abs() / 3600, seconds.abs() % 3600 / 60);
        if minutes == 0 {
            write!(f, "UTC{sign}{hours:02}")
        } else {
            write!(f, "UTC{sign}{hours:02}:{minutes:02}")
        }
    }
}

/// A session's time range in `zone`, e.g.
/// `Tuesday 16 June 2026, 14:00–15:00 CEST (Europe/Berlin)`.
///
/// The date is repeated when the range ends on another local date, and
/// each end gets its own abbreviation when the offset changes in between
/// (a DST switch), e.g. `…, 02:30 CEST – 02:30 CET (Europe/Berlin)`.
pub fn when(start: DateTime<Utc>, end: DateTime<Utc>, zone: Tz) -> String {
    let (s, e) = (start.with_timezone(&zone), end.with_timezone(&zone));
    let start_abbr = abbreviation(&s).to_string();
    let end_abbr = abbreviation(&e).to_string();
    let start_date = s.format(LONG_DATE);
    let start_clock = s.format(CLOCK);
    let end_clock = e.format(CLOCK);
    let same_date = s.date_naive() == e.date_naive();
    let range = match (same_date, start_abbr == end_abbr) {
        (true, true) => format!("{start_date}, {start_clock}–{end_clock} {start_abbr}"),
        (true, false) => {
            format!("{start_date}, {start_clock} {start_abbr} – {end_clock} {end_abbr}")
        }
        (false, true) => format!(
            "{start_date}, {start_clock} – {}, {end_clock} {start_abbr}",
            e.format(LONG_DATE)
        ),
        (false, false) => format!(
            "{start_date}, {start_clock} {start_abbr} – {}, {end_clock} {end_abbr}",
            e.format(LONG_DATE)
        ),
    };
    named(range, &start_abbr, &end_abbr, zone)
}

/// `text` with the zone's name after it, unless the abbreviation shown
/// is that name already (`UTC`, not `UTC (UTC)`).
fn named(text: String, start_abbr: &str, end_abbr: &str, zone: Tz) -> String {
    if start_abbr == zone.name() && end_abbr == zone.name() {
        text
    } else {
        format!("{text} ({})", zone.name())
    }
}

/// One instant in `zone`, e.g. `Tuesday 16 June 2026, 14:00 CEST (Europe/Berlin)`.
pub fn instant(at: DateTime<Utc>, zone: Tz) -> String {
    let local = at.with_timezone(&zone);
    let abbr = abbreviation(&local).to_string();
    named(
        format!("{} {abbr}", local.format("%A %-d %B %Y, %H:%M")),
        &abbr,
        &abbr,
        zone,
    )
}

/// A compact instant for subject lines and lists, e.g. `Tue 16 Jun 2026, 14:00 CEST`.
pub fn short(at: DateTime<Utc>, zone: Tz) -> String {
    let local = at.with_timezone(&zone);
    format!(
        "{} {}",
        local.format("%a %-d %b %Y, %H:%M"),
        abbreviation(&local)
    )
}

/// A clock time with the zone's abbreviation, e.g. `14:00 CEST`.
pub fn clock(at: DateTime<Utc>, zone: Tz) -> String {
    let local = at.with_timezone(&zone);
    format!("{} {}", local.format(CLOCK), abbreviation(&local))
}

/// An instant in `zone` with the zone named, e.g. `Tue 3 Mar, 14:30 CET`;
/// the year only when it is not the current one there.
pub fn recent(at: DateTime<Utc>, zone: Tz, now: DateTime<Utc>) -> String {
    let local = at.with_timezone(&zone);
    if local.year() == now.with_timezone(&zone).year() {
        format!(
            "{} {}",
            local.format("%a %-d %b, %H:%M"),
            abbreviation(&local)
        )
    } else {
        short(at, zone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    #[test]
    fn berlin_summer() {
        let (s, e) = (utc(2026, 6, 16, 12, 0), utc(2026, 6, 16, 13, 0));
        let z = chrono_tz::Europe::Berlin;
        assert_eq!(
            when(s, e, z),
            "Tuesday 16 June 2026, 14:00–15:00 CEST (Europe/Berlin)"
        );
        assert_eq!(
            instant(s, z),
            "Tuesday 16 June 2026, 14:00 CEST (Europe/Berlin)"
        );
        assert_eq!(short(s, z), "Tue 16 Jun 2026, 14:00 CEST");
    }

    #[test]
    fn berlin_winter() {
        let (s, e) = (utc(2026, 1, 13, 8, 30), utc(2026, 1, 13, 9, 15));
        let z = chrono_tz::Europe::Berlin;
        assert_eq!(
            when(s, e, z),
            "Tuesday 13 January 2026, 09:30–10:15 CET (Europe/Berlin)"
        );
        assert_eq!(
            instant(s, z),
            "Tuesday 13 January 2026, 09:30 CET (Europe/Berlin)"
        );
        assert_eq!(short(s, z), "Tue 13 Jan 2026, 09:30 CET");
    }

    #[test]
    fn utc_is_named_once() {
        let (s, e) = (utc(2026, 6, 16, 10, 0), utc(2026, 6, 16, 10, 45));
        assert_eq!(
            when(s, e, chrono_tz::UTC),
            "Tuesday 16 June 2026, 10:00–10:45 UTC"
        );
        assert_eq!(
            instant(s, chrono_tz::UTC),
            "Tuesday 16 June 2026, 10:00 UTC"
        );
    }

    #[test]
    fn kolkata_half_hour_offset_shows_ist() {
        // 14:00 UTC is 19:30 at +05:30.
        let (s, e) = (utc(2026, 6, 16, 14, 0), utc(2026, 6, 16, 15, 0));
        let z = chrono_tz::Asia::Kolkata;
        assert_eq!(
            when(s, e, z),
            "Tuesday 16 June 2026, 19:30–20:30 IST (Asia/Kolkata)"
        );
        assert_eq!(short(s, z), "Tue 16 Jun 2026, 19:30 IST");
    }

    #[test]
    fn zones_without_letters_show_the_offset_from_utc() {
        // The tz database writes São Paulo as "-03" and Kathmandu as "+0545".
        let (s, e) = (utc(2026, 6, 16, 18, 15), utc(2026, 6, 16, 19, 0));
        let z = chrono_tz::America::Sao_Paulo;
        assert_eq!(short(s, z), "Tue 16 Jun 2026, 15:15 UTC-03");
        assert_eq!(
            when(s, e, z),
            "Tuesday 16 June 2026, 15:15–16:00 UTC-03 (America/Sao_Paulo)"
        );
        assert_eq!(
            instant(s, z),
            "Tuesday 16 June 2026, 15:15 UTC-03 (America/Sao_Paulo)"
        );
        let k = chrono_tz::Asia::Kathmandu;
        assert_eq!(short(s, k), "Wed 17 Jun 2026, 00:00 UTC+05:45");
        assert_eq!(clock(s, z), "15:15 UTC-03");
        assert_eq!(
            recent(s, z, utc(2026, 1, 1, 12, 0)),
            "Tue 16 Jun, 15:15 UTC-03"
        );
        assert_eq!(
            recent(s, z, utc(2027, 1, 1, 12, 0)),
            "Tue 16 Jun 2026, 15:15 UTC-03"
        );
        // A zone at +00 without letters.
        assert_eq!(
            short(s, chrono_tz::Atlantic::Azores),
            "Tue 16 Jun 2026, 18:15 UTC+00"
        );
    }

    #[test]
    fn range_crossing_local_midnight_names_both_dates() {
        // 22:30–23:30 UTC on 31 October is 23:30–00:30 CET.
        let (s, e) = (utc(2026, 10, 31, 22, 30), utc(2026, 10, 31, 23, 30));
        assert_eq!(
            when(s, e, chrono_tz::Europe::Berlin),
            "Saturday 31 October 2026, 23:30 – Sunday 1 November 2026, 00:30 CET (Europe/Berlin)"
        );
    }

    #[test]
    fn range_across_fall_back_shows_both_abbreviations() {
        // Berlin falls back at 01:00 UTC on 25 October 2026 (03:00 CEST -> 02:00 CET).
        // 00:30–01:30 UTC is 02:30 CEST to 02:30 CET: the same wall clock, an hour apart.
        let (s, e) = (utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 30));
        assert_eq!(
            when(s, e, chrono_tz::Europe::Berlin),
            "Sunday 25 October 2026, 02:30 CEST – 02:30 CET (Europe/Berlin)"
        );
        // Before and after the switch on the same day each keep one abbreviation.
        assert_eq!(
            short(utc(2026, 10, 25, 0, 59), chrono_tz::Europe::Berlin),
            "Sun 25 Oct 2026, 02:59 CEST"
        );
        assert_eq!(
            short(utc(2026, 10, 25, 1, 0), chrono_tz::Europe::Berlin),
            "Sun 25 Oct 2026, 02:00 CET"
        );
    }

    #[test]
    fn range_crossing_midnight_and_an_offset_change() {
        // New York falls back at 06:00 UTC on 1 November 2026.
        let (s, e) = (utc(2026, 11, 1, 3, 30), utc(2026, 11, 1, 7, 0));
        assert_eq!(
            when(s, e, chrono_tz::America::New_York),
            "Saturday 31 October 2026, 23:30 EDT – Sunday 1 November 2026, 02:00 EST (America/New_York)"
        );
    }

    #[test]
    fn times_name_their_zone_and_the_year_only_when_not_this_one() {
        let now = Utc.with_ymd_and_hms(2026, 3, 3, 12, 0, 0).unwrap();
        let at = Utc.with_ymd_and_hms(2026, 3, 3, 13, 30, 0).unwrap();
        assert_eq!(
            recent(at, chrono_tz::Europe::Berlin, now),
            "Tue 3 Mar, 14:30 CET"
        );
        let summer = Utc.with_ymd_and_hms(2026, 7, 1, 12, 30, 0).unwrap();
        assert_eq!(
            recent(summer, chrono_tz::Europe::Berlin, now),
            "Wed 1 Jul, 14:30 CEST"
        );
        let last_year = Utc.with_ymd_and_hms(2025, 12, 31, 23, 30, 0).unwrap();
        assert_eq!(
            recent(last_year, chrono_tz::America::New_York, now),
            "Wed 31 Dec 2025, 18:30 EST"
        );
    }
}
