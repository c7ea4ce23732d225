//! Form errors shown next to their fields.

use std::sync::LazyLock;

use chrono_tz::Tz;

/// Messages by field name, in the order they were found.
#[derive(Debug, Default, Clone)]
pub struct FieldErrors(Vec<(&'static str, String)>);

impl FieldErrors {
    pub fn add(&mut self, field: &'static str, message: impl Into<String>) {
        if self.get(field).is_none() {
            self.0.push((field, message.into()));
        }
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// One option of a time-zone select.
pub struct ZoneOption {
    pub name: &'static str,
    pub selected: bool,
}

/// The zones a person picks from, sorted: the IANA `Area/Place` names and
/// UTC. Left out are the legacy names without an area (`EST`, `CET`,
/// `W-SU`, `Zulu`, …), `Etc/GMT±n`, whose signs run backwards, and the old
/// `US/…`-style aliases: picking "EST" meant a zone without daylight
/// saving time. Older names inside an area stay (`Asia/Calcutta` is what
/// Chromium reports for India, and the script picks the browser's zone).
/// Names left out stay valid where already chosen (the select then shows
/// that one too).
pub fn listed_zones() -> &'static [&'static str] {
    // Old country-named aliases of America/… zones, and Etc/GMT±n.
    const LEGACY_AREAS: [&str; 6] = ["Etc/", "US/", "Canada/", "Brazil/", "Chile/", "Mexico/"];
    static ZONES: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
        let mut zones: Vec<&'static str> = chrono_tz::TZ_VARIANTS
            .iter()
            .map(|z| z.name())
            .filter(|name| {
                *name == "UTC"
                    || (name.contains('/')
                        && !LEGACY_AREAS.iter().any(|area| name.starts_with(area)))
            })
            .collect();
        zones.sort_unstable();
        zones
    });
    &ZONES
}

/// The listed zones with `selected` marked; a valid zone not listed, when
/// it is the one selected, comes first.
pub fn zone_options(selected: &str) -> Vec<ZoneOption> {
    let listed = listed_zones();
    let unlisted = chrono_tz::TZ_VARIANTS
        .iter()
        .map(|z| z.name())
        .find(|name| *name == selected && listed.binary_search(name).is_err());
    unlisted
        .into_iter()
        .chain(listed.iter().copied())
        .map(|name| ZoneOption {
            name,
            selected: name == selected,
        })
        .collect()
}

/// A zone named in a URL (`?tz=`): its IANA name, in any letter case
/// (`asia/kolkata` is Asia/Kolkata), as people type them.
pub fn zone_from_query(raw: &str) -> Option<Tz> {
    let raw = raw.trim();
    raw.parse::<Tz>().ok().or_else(|| {
        chrono_tz::TZ_VARIANTS
            .iter()
            .copied()
            .find(|z| z.name().eq_ignore_ascii_case(raw))
    })
}

/// Line breaks as one `\n` each: a browser sends a textarea's breaks as
/// CRLF but counts each as one character against its `maxlength`, so the
/// limits the server checks (and what it stores) must count them so too.
pub fn one_char_line_breaks(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\r', "\n")
}

/// Text input: trimmed, with control characters refused.
pub fn has_control_chars(s: &str) -> bool {
    s.chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zone_in_a_url_is_found_in_any_letter_case() {
        assert_eq!(
            zone_from_query("Asia/Kolkata"),
            Some(chrono_tz::Asia::Kolkata)
        );
        assert_eq!(
            zone_from_query("asia/kolkata"),
            Some(chrono_tz::Asia::Kolkata)
        );
        assert_eq!(
            zone_from_query(" AMERICA/NEW_YORK "),
            Some(chrono_tz::America::New_York)
        );
        assert_eq!(zone_from_query("utc"), Some(chrono_tz::UTC));
        assert_eq!(zone_from_query("Mars/Olympus"), None);
        assert_eq!(zone_from_query(""), None);
    }

    #[test]
    fn the_zone_list_leaves_out_legacy_names_unless_chosen() {
        let names = |selected: &str| -> Vec<&'static str> {
            zone_options(selected).iter().map(|o| o.name).collect()
        };
        let usual = names("Europe/Berlin");
        for kept in ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"] {
            assert!(usual.contains(&kept), "{kept}");
        }
        for dropped in [
            "EST",
            "CET",
            "W-SU",
            "Zulu",
            "GMT+0",
            "Etc/GMT+5",
            "US/Eastern",
            "Canada/Pacific",
        ] {
            assert!(!usual.contains(&dropped), "{dropped}");
        }
        let with_est = zone_options("EST");
        assert_eq!(with_est[0].name, "EST");
        assert!(with_est[0].selected);
        assert_eq!(with_est.iter().filter(|o| o.selected).count(), 1);
        assert_eq!(with_est.len(), usual.len() + 1);
    }
}
