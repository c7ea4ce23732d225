//! Human-readable times for emails and pages. Every string names the zone
//! (abbreviation, and in the long forms the IANA name too), so a reader in
//! another zone is never left guessing. Pure: depends on chrono and
//! chrono-tz only.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

const LONG_DATE: &str = "%A %-d %B %Y";
const CLOCK: &str = "%H:%M";
const ABBREVIATION: &str = "%Z";

/// A session's time range in `zone`, e.g.
/// `Tuesday 16 June 2026, 14:00–15:00 CEST (Europe/Berlin)`.
///
/// The date is repeated when the range ends on another local date, and
/// each end gets its own abbreviation when the offset changes in between
/// (a DST switch), e.g. `…, 02:30 CEST – 02:30 CET (Europe/Berlin)`.
pub fn when(start: DateTime<Utc>, end: DateTime<Utc>, zone: Tz) -> String {
    let (s, e) = (start.with_timezone(&zone), end.with_timezone(&zone));
    let start_abbr = s.format(ABBREVIATION).to_string();
    let end_abbr = e.format(ABBREVIATION).to_string();
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
    let abbr = local.format(ABBREVIATION).to_string();
    named(
        local.format("%A %-d %B %Y, %H:%M %Z").to_string(),
        &abbr,
        &abbr,
        zone,
    )
}

/// A compact instant for subject lines and lists, e.g. `Tue 16 Jun 2026, 14:00 CEST`.
pub fn short(at: DateTime<Utc>, zone: Tz) -> String {
    at.with_timezone(&zone)
        .format("%a %-d %b %Y, %H:%M %Z")
        .to_string()
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
}
