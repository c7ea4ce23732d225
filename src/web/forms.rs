//! Form errors shown next to their fields, and what text a request may
//! hold at all.

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
    /// The name the place had before the tz database renamed it, for the
    /// script: a browser reporting the old name selects this option.
    pub old: Option<&'static str>,
}

/// The zones a person picks from, sorted: the IANA `Area/Place` names and
/// UTC. Left out are the legacy names without an area (`EST`, `CET`,
/// `W-SU`, `Zulu`, …), `Etc/GMT±n`, whose signs run backwards, and the old
/// `US/…`-style aliases: picking "EST" meant a zone without daylight
/// saving time, and the old names of renamed places ([`RENAMED`]): each
/// place once, by its current name (a browser that reports
/// `Asia/Calcutta` for India finds `Asia/Kolkata` by the option's old
/// name). Names left out stay valid where already chosen (the select then
/// shows that one too).
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
                        && !LEGACY_AREAS.iter().any(|area| name.starts_with(area))
                        && RENAMED.iter().all(|(old, _)| old != name))
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
            old: RENAMED
                .iter()
                .find(|(_, current)| *current == name)
                .map(|(old, _)| *old),
        })
        .collect()
}

/// Places the tz database renamed, by their old names: browsers built on
/// ICU still report some of these (Chromium says `Asia/Calcutta` for
/// India), so the lists give each current name its old one for the script
/// that picks the browser's zone, but a zone is listed, stored and shown
/// by its current name. Only renames
/// of one place (not the links that merged one place's zone into another
/// place's), sorted by old name.
const RENAMED: [(&str, &str); 18] = [
    ("Africa/Asmera", "Africa/Asmara"),
    ("America/Buenos_Aires", "America/Argentina/Buenos_Aires"),
    ("America/Catamarca", "America/Argentina/Catamarca"),
    ("America/Cordoba", "America/Argentina/Cordoba"),
    ("America/Godthab", "America/Nuuk"),
    ("America/Indianapolis", "America/Indiana/Indianapolis"),
    ("America/Jujuy", "America/Argentina/Jujuy"),
    ("America/Louisville", "America/Kentucky/Louisville"),
    ("America/Mendoza", "America/Argentina/Mendoza"),
    ("Asia/Calcutta", "Asia/Kolkata"),
    ("Asia/Katmandu", "Asia/Kathmandu"),
    ("Asia/Rangoon", "Asia/Yangon"),
    ("Asia/Saigon", "Asia/Ho_Chi_Minh"),
    ("Atlantic/Faeroe", "Atlantic/Faroe"),
    ("Europe/Kiev", "Europe/Kyiv"),
    ("Pacific/Enderbury", "Pacific/Kanton"),
    ("Pacific/Ponape", "Pacific/Pohnpei"),
    ("Pacific/Truk", "Pacific/Chuuk"),
];

/// `zone` by its current name (see [`RENAMED`]).
pub fn current_name(zone: Tz) -> Tz {
    RENAMED
        .binary_search_by(|(old, _)| (*old).cmp(zone.name()))
        .ok()
        .and_then(|i| RENAMED[i].1.parse().ok())
        .unwrap_or(zone)
}

/// A zone a form or the command line names: an IANA name, by its current
/// name.
pub fn parse_zone(raw: &str) -> Option<Tz> {
    raw.trim().parse::<Tz>().ok().map(current_name)
}

/// A zone named in a URL (`?tz=`): its IANA name, in any letter case
/// (`asia/kolkata` is Asia/Kolkata), as people type them, by its current
/// name.
pub fn zone_from_query(raw: &str) -> Option<Tz> {
    let raw = raw.trim();
    parse_zone(raw).or_else(|| {
        chrono_tz::TZ_VARIANTS
            .iter()
            .copied()
            .find(|z| z.name().eq_ignore_ascii_case(raw))
            .map(current_name)
    })
}

/// Line breaks as one `\n` each: a browser sends a textarea's breaks as
/// CRLF but counts each as one character against its `maxlength`, so the
/// limits the server checks (and what it stores) must count them so too.
pub fn one_char_line_breaks(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\r', "\n")
}

/// Whether URL-encoded pairs (a query string or a form body) hold a NUL
/// character in a name or a value once decoded. PostgreSQL cannot store
/// one in text (it refuses the whole statement), no page of ours makes
/// one and nobody types one: such a request is refused whole, before any
/// handler passes a field on (see `middleware::refuse_unreadable_input`
/// and `auth::CsrfForm`).
pub fn urlencoded_has_nul(raw: &[u8]) -> bool {
    url::form_urlencoded::parse(raw)
        .any(|(name, value)| name.contains('\0') || value.contains('\0'))
}

/// Whether a request path holds a control character once percent-decoded:
/// no slug, id, token or file name of ours does.
pub fn path_has_control_chars(path: &str) -> bool {
    percent_encoding::percent_decode_str(path)
        .decode_utf8_lossy()
        .chars()
        .any(char::is_control)
}

/// Characters that show nothing (zero-width space, joiners, word joiner,
/// byte-order mark, soft hyphen, the Hangul and Braille blanks): they do
/// not count towards a length, and text of only these is empty.
pub fn invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200B}'
            ..='\u{200D}'
                | '\u{2060}'
                | '\u{FEFF}'
                | '\u{00AD}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{3164}'
                | '\u{FFA0}'
                | '\u{2800}'
    )
}

/// Whether text shows nothing: only spaces and [`invisible`] characters.
pub fn is_blank(s: &str) -> bool {
    s.chars().all(|c| c.is_whitespace() || invisible(c))
}

/// Bidirectional overrides and isolates: they reorder the text shown
/// around them, so a reader sees something else than was written (a name
/// ending in U+202E and "gpj.exe" reads "exe.jpg").
pub fn reorders(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// One line of plain text (a name, a title, a note): no control
/// character, line breaks included (the Unicode line and paragraph
/// separators too), and nothing that reorders the text around it.
pub fn is_plain_line(s: &str) -> bool {
    !s.chars()
        .any(|c| c.is_control() || reorders(c) || matches!(c, '\u{2028}' | '\u{2029}'))
}

/// The characters that text of several lines one person writes for
/// others to read (the goals, a cancel reason, a description, a bio) may
/// hold: no overrides that reorder what is shown around them, and no
/// control characters but line breaks and tabs — an escape sequence would
/// drive the terminal of an operator reading the outbox, and others hide
/// text.
pub fn check_characters(text: &str) -> Result<(), &'static str> {
    if text.chars().any(reorders) {
        Err("Remove the characters that change the direction of the text.")
    } else if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        Err("Remove the control characters.")
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nul_is_found_however_it_is_written() {
        assert!(urlencoded_has_nul(b"a=1&b=x%00y"));
        assert!(urlencoded_has_nul(b"a%00=1"));
        assert!(urlencoded_has_nul(b"a=\0"));
        assert!(!urlencoded_has_nul(b"a=%2500&b=%0A%1B&c=%FF"));
        assert!(!urlencoded_has_nul(b""));
        assert!(path_has_control_chars("/topics/%00"));
        assert!(path_has_control_chars("/manage/a%0Ab"));
        assert!(path_has_control_chars("/topics/%1b%5B2J"));
        assert!(path_has_control_chars("/topics/%C2%9B"));
        assert!(!path_has_control_chars("/topics/%2500"));
        assert!(!path_has_control_chars("/topics/sql-basics"));
        assert!(!path_has_control_chars("/mentor/feed/%FF%FE.ics"));
        assert!(!path_has_control_chars("/topics/caf%C3%A9"));
    }

    #[test]
    fn renamed_zones_go_by_their_current_names() {
        assert!(RENAMED.is_sorted_by_key(|(old, _)| *old));
        for (old, new) in RENAMED {
            let (o, n): (Tz, Tz) = (old.parse().unwrap(), new.parse().unwrap());
            assert_eq!(current_name(o), n, "{old}");
            assert_eq!(current_name(n), n, "{new}");
            // The same rules: only the name differs.
            let at =
                chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 7, 1, 12, 0, 0).unwrap();
            assert_eq!(
                at.with_timezone(&o).naive_local(),
                at.with_timezone(&n).naive_local(),
                "{old}"
            );
            // Listed once, by the current name.
            assert!(!listed_zones().contains(&old), "{old}");
            assert!(listed_zones().contains(&new), "{new}");
        }
        assert_eq!(
            parse_zone(" Asia/Calcutta "),
            Some(chrono_tz::Asia::Kolkata)
        );
        assert_eq!(
            zone_from_query("asia/calcutta"),
            Some(chrono_tz::Asia::Kolkata)
        );
        assert_eq!(parse_zone("Europe/Berlin"), Some(chrono_tz::Europe::Berlin));
        assert_eq!(parse_zone("Nowhere/Else"), None);
        // The list tells the script the old name of a current one.
        let options = zone_options("UTC");
        let old_of = |name: &str| options.iter().find(|o| o.name == name).unwrap().old;
        assert_eq!(old_of("Asia/Kolkata"), Some("Asia/Calcutta"));
        assert_eq!(old_of("Europe/Berlin"), None);
        assert!(options.iter().all(|o| o.name != "Asia/Calcutta"));
        // A person whose stored zone is an old name still sees it chosen.
        let options = zone_options("Asia/Calcutta");
        assert_eq!(options[0].name, "Asia/Calcutta");
        assert!(options[0].selected);
    }

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
