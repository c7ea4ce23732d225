//! Writes iCalendar (RFC 5545) text for booking invitations, their updates
//! and cancellations, and the mentor's subscribable feed. Pure: plain data
//! in, a string out; depends on chrono and uuid only.
//!
//! Every value passes through one of the sanitisers below before it is
//! written, so no name, topic or goal text can end a content line early and
//! smuggle in a property of its own.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// The iTIP method (RFC 5546) of a calendar sent by email.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Request,
    Cancel,
    Publish,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Request => "REQUEST",
            Method::Cancel => "CANCEL",
            Method::Publish => "PUBLISH",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub name: String,
    pub email: String,
}

/// One session as a VEVENT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Stable per booking (see [`uid_for`]), so updates replace the entry.
    pub uid: String,
    /// Raised on every change, so calendars apply the newest version.
    pub sequence: i32,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// DTSTAMP: when this version was written (from the app clock).
    pub stamp: DateTime<Utc>,
    pub summary: String,
    pub description: String,
    /// The meeting link.
    pub location: Option<String>,
    /// The booking page.
    pub url: Option<String>,
    /// STATUS:CANCELLED, else STATUS:CONFIRMED.
    pub cancelled: bool,
    pub organizer: Person,
    pub attendees: Vec<Person>,
}

/// The UID of a booking's calendar entry: the same for every version of
/// the booking, whoever its mentor is by then.
pub fn uid_for(booking_id: Uuid, from_domain: &str) -> String {
    let domain: String = from_domain
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
        .collect::<String>()
        .to_ascii_lowercase();
    let domain = if domain.is_empty() {
        "localhost".to_owned()
    } else {
        domain
    };
    format!("{}@{domain}", booking_id.hyphenated())
}

/// A whole VCALENDAR with one VEVENT per event. `method` is set for
/// invitations sent by email; `name` (X-WR-CALNAME) for subscribed feeds.
pub fn calendar(method: Option<Method>, name: Option<&str>, events: &[Event]) -> String {
    let mut out = Writer::default();
    out.line("BEGIN:VCALENDAR");
    out.line("VERSION:2.0");
    out.line("PRODID:-//Office Hours//Office Hours//EN");
    out.line("CALSCALE:GREGORIAN");
    if let Some(method) = method {
        out.line(&format!("METHOD:{}", method.as_str()));
    }
    if let Some(name) = name {
        out.line(&format!("X-WR-CALNAME:{}", text(name)));
    }
    for event in events {
        write_event(&mut out, event);
    }
    out.line("END:VCALENDAR");
    out.0
}

fn write_event(out: &mut Writer, e: &Event) {
    out.line("BEGIN:VEVENT");
    out.line(&format!("UID:{}", text(&e.uid)));
    out.line(&format!("SEQUENCE:{}", e.sequence));
    out.line(&format!("DTSTAMP:{}", utc(e.stamp)));
    out.line(&format!("DTSTART:{}", utc(e.start)));
    out.line(&format!("DTEND:{}", utc(e.end)));
    out.line(&format!("SUMMARY:{}", text(&e.summary)));
    out.line(&format!("DESCRIPTION:{}", text(&e.description)));
    if let Some(location) = &e.location {
        out.line(&format!("LOCATION:{}", text(location)));
    }
    if let Some(url) = &e.url {
        out.line(&format!("URL:{}", raw(url)));
    }
    out.line(if e.cancelled {
        "STATUS:CANCELLED"
    } else {
        "STATUS:CONFIRMED"
    });
    out.line(&format!(
        "ORGANIZER;CN={}:{}",
        param(&e.organizer.name),
        mailto(&e.organizer.email)
    ));
    for a in &e.attendees {
        out.line(&format!(
            "ATTENDEE;CN={};ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;RSVP=FALSE:{}",
            param(&a.name),
            mailto(&a.email)
        ));
    }
    out.line("END:VEVENT");
}

fn utc(at: DateTime<Utc>) -> String {
    at.format("%Y%m%dT%H%M%SZ").to_string()
}

/// A TEXT value (RFC 5545 3.3.11): line breaks become `\n`, the
/// characters with a meaning are escaped, other control characters go.
fn text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {
                // CRLF and a lone CR are one line break each.
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str("\\n");
            }
            '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// A value written as is (URI, address): only control characters go.
fn raw(value: &str) -> String {
    value.chars().filter(|c| !c.is_control()).collect()
}

/// A quoted parameter value: RFC 5545 allows neither DQUOTE nor control
/// characters inside the quotes, so both go.
fn param(value: &str) -> String {
    let inner: String = value
        .chars()
        .filter(|c| *c != '"' && !c.is_control())
        .collect();
    format!("\"{inner}\"")
}

fn mailto(email: &str) -> String {
    format!("mailto:{}", raw(email))
}

/// Collects content lines, folded at 75 octets and ended with CRLF.
#[derive(Default)]
struct Writer(String);

impl Writer {
    const MAX_OCTETS: usize = 75;

    fn line(&mut self, content: &str) {
        let mut used = 0;
        for c in content.chars() {
            let len = c.len_utf8();
            if used + len > Self::MAX_OCTETS {
                // The leading space of a continuation line counts too.
                self.0.push_str("\r\n ");
                used = 1;
            }
            self.0.push(c);
            used += len;
        }
        self.0.push_str("\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use icalendar::parser::{Component, Property, read_calendar, unfold};

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 16, h, m, 0).unwrap()
    }

    fn event() -> Event {
        Event {
            uid: uid_for(
                Uuid::parse_str("0190f7c2-7d1e-7a4b-9c3d-2e1f0a9b8c7d").unwrap(),
                "hours.example.org",
            ),
            sequence: 2,
            start: at(12, 0),
            end: at(13, 0),
            stamp: at(9, 15),
            summary: "Database fundamentals with Maya Schneider".into(),
            description: "Grüße, Zoë; C:\\path\nline 2".into(),
            location: Some("https://meet.example.org/abc-def".into()),
            url: Some("https://hours.example.org/bookings/0190f7c2".into()),
            cancelled: false,
            organizer: Person {
                name: "Office Hours".into(),
                email: "no-reply@hours.example.org".into(),
            },
            attendees: vec![
                Person {
                    name: "Maya Schneider".into(),
                    email: "maya@example.org".into(),
                },
                Person {
                    name: "Zoë \"Zo\" O'Neil".into(),
                    email: "zoe@example.org".into(),
                },
            ],
        }
    }

    /// Parses with the `icalendar` crate's parser and returns the VCALENDAR
    /// properties and its VEVENTs, owned.
    fn parse(ics: &str) -> (Vec<Property<'static>>, Vec<Component<'static>>) {
        let unfolded = unfold(ics);
        let cal = read_calendar(&unfolded).unwrap();
        let props = cal.properties.iter().map(owned_prop).collect();
        let events = cal
            .components
            .iter()
            .filter(|c| c.name == "VEVENT")
            .map(owned_component)
            .collect();
        (props, events)
    }

    fn owned_prop(p: &Property<'_>) -> Property<'static> {
        Property {
            name: p.name.to_owned(),
            val: p.val.to_owned(),
            params: p
                .params
                .iter()
                .map(|x| icalendar::parser::Parameter {
                    key: x.key.to_owned(),
                    val: x.val.as_ref().map(|v| v.to_owned()),
                })
                .collect(),
        }
    }

    fn owned_component(c: &Component<'_>) -> Component<'static> {
        Component {
            name: c.name.to_owned(),
            properties: c.properties.iter().map(owned_prop).collect(),
            components: c.components.iter().map(owned_component).collect(),
        }
    }

    fn value<'a>(props: &'a [Property<'static>], name: &str) -> &'a str {
        props
            .iter()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("no {name}"))
            .val
            .as_str()
    }

    fn all<'a>(props: &'a [Property<'static>], name: &str) -> Vec<&'a Property<'static>> {
        props.iter().filter(|p| p.name == name).collect()
    }

    fn param_of<'a>(p: &'a Property<'static>, key: &str) -> Option<&'a str> {
        p.params
            .iter()
            .find(|x| x.key == key)
            .and_then(|x| x.val.as_ref())
            .map(|v| v.as_str())
    }

    #[test]
    fn request_has_every_property_a_calendar_needs() {
        let ics = calendar(Some(Method::Request), None, &[event()]);
        let (cal, events) = parse(&ics);
        assert_eq!(value(&cal, "VERSION"), "2.0");
        assert_eq!(value(&cal, "PRODID"), "-//Office Hours//Office Hours//EN");
        assert_eq!(value(&cal, "CALSCALE"), "GREGORIAN");
        assert_eq!(value(&cal, "METHOD"), "REQUEST");
        assert!(all(&cal, "X-WR-CALNAME").is_empty());
        assert_eq!(events.len(), 1);
        let e = &events[0].properties;
        assert_eq!(
            value(e, "UID"),
            "0190f7c2-7d1e-7a4b-9c3d-2e1f0a9b8c7d@hours.example.org"
        );
        assert_eq!(value(e, "SEQUENCE"), "2");
        assert_eq!(value(e, "DTSTAMP"), "20260616T091500Z");
        assert_eq!(value(e, "DTSTART"), "20260616T120000Z");
        assert_eq!(value(e, "DTEND"), "20260616T130000Z");
        assert_eq!(value(e, "STATUS"), "CONFIRMED");
        assert_eq!(
            value(e, "SUMMARY"),
            "Database fundamentals with Maya Schneider"
        );
        assert_eq!(value(e, "LOCATION"), "https://meet.example.org/abc-def");
        assert_eq!(
            value(e, "URL"),
            "https://hours.example.org/bookings/0190f7c2"
        );

        let organizer = all(e, "ORGANIZER");
        assert_eq!(organizer.len(), 1);
        assert_eq!(organizer[0].val, "mailto:no-reply@hours.example.org");
        assert_eq!(param_of(organizer[0], "CN"), Some("Office Hours"));

        let attendees = all(e, "ATTENDEE");
        assert_eq!(attendees.len(), 2);
        assert_eq!(attendees[0].val, "mailto:maya@example.org");
        assert_eq!(param_of(attendees[0], "CN"), Some("Maya Schneider"));
        assert_eq!(attendees[1].val, "mailto:zoe@example.org");
        // The quotes inside the name are dropped, not allowed to end the value.
        assert_eq!(param_of(attendees[1], "CN"), Some("Zoë Zo O'Neil"));
        for a in &attendees {
            assert_eq!(param_of(a, "ROLE"), Some("REQ-PARTICIPANT"));
            assert_eq!(param_of(a, "PARTSTAT"), Some("ACCEPTED"));
            assert_eq!(param_of(a, "RSVP"), Some("FALSE"));
        }

        // Also convertible into the crate's typed model.
        let typed: icalendar::Calendar = ics.parse().unwrap();
        assert_eq!(typed.components.len(), 1);
    }

    #[test]
    fn lines_end_with_crlf_and_the_raw_text_is_escaped() {
        let ics = calendar(Some(Method::Request), None, &[event()]);
        assert!(ics.ends_with("END:VCALENDAR\r\n"));
        assert!(!ics.replace("\r\n", "").contains('\n'));
        assert!(!ics.replace("\r\n", "").contains('\r'));
        assert!(ics.contains("DESCRIPTION:Grüße\\, Zoë\\; C:\\\\path\\nline 2\r\n"));
        assert!(ics.contains("ATTENDEE;CN=\"Maya Schneider\";ROLE=REQ-PARTICIPANT;"));
    }

    #[test]
    fn description_round_trips_through_a_real_parser() {
        let ics = calendar(Some(Method::Request), None, &[event()]);
        let (_, events) = parse(&ics);
        // The parser unescapes TEXT properties (DESCRIPTION, SUMMARY, ...) itself.
        assert_eq!(
            value(&events[0].properties, "DESCRIPTION"),
            "Grüße, Zoë; C:\\path\nline 2"
        );
    }

    #[test]
    fn cancel_keeps_uid_and_says_cancelled() {
        let mut e = event();
        e.sequence = 3;
        e.cancelled = true;
        let (cal, events) = parse(&calendar(Some(Method::Cancel), None, &[e]));
        assert_eq!(value(&cal, "METHOD"), "CANCEL");
        let props = &events[0].properties;
        assert_eq!(
            value(props, "UID"),
            "0190f7c2-7d1e-7a4b-9c3d-2e1f0a9b8c7d@hours.example.org"
        );
        assert_eq!(value(props, "SEQUENCE"), "3");
        assert_eq!(value(props, "STATUS"), "CANCELLED");
    }

    #[test]
    fn long_values_fold_at_75_octets_without_splitting_characters() {
        let long: String = "Zoë wants to learn joins, indexes; and more. "
            .chars()
            .cycle()
            .take(300)
            .collect();
        let mut e = event();
        e.description = long.clone();
        e.summary = "ü".repeat(100);
        let ics = calendar(None, Some("Maya's sessions, all"), &[e]);
        for line in ics.split("\r\n") {
            assert!(line.len() <= 75, "{} octets: {line:?}", line.len());
        }
        assert!(ics.contains("\r\n "), "long values were folded");
        let (cal, events) = parse(&ics);
        assert!(all(&cal, "METHOD").is_empty());
        // X-WR-CALNAME is an extension property: the parser leaves it escaped.
        let name = cal.iter().find(|p| p.name == "X-WR-CALNAME").unwrap();
        assert_eq!(
            name.val.clone().unescape_text().as_str(),
            "Maya's sessions, all"
        );
        let props = &events[0].properties;
        assert_eq!(value(props, "DESCRIPTION"), long);
        assert_eq!(value(props, "SUMMARY"), "ü".repeat(100));
    }

    #[test]
    fn line_breaks_and_control_characters_cannot_inject_properties() {
        let mut e = event();
        e.summary = "Hi\r\nATTENDEE:mailto:evil@x".into();
        e.description = "a\rb\u{0}c\u{7f}d\u{85}e\r\nEND:VEVENT".into();
        e.location = Some("https://x\r\nATTENDEE:mailto:evil@x".into());
        e.url = Some("https://x/\nORGANIZER:mailto:evil@x".into());
        e.uid = "u\r\nSTATUS:CANCELLED".into();
        e.organizer.name = "Org\"\r\nATTENDEE:mailto:evil@x".into();
        e.attendees[0].email = "maya@example.org\r\nATTENDEE:mailto:evil@x".into();
        let ics = calendar(Some(Method::Request), Some("cal\r\nMETHOD:CANCEL"), &[e]);
        let (cal, events) = parse(&ics);
        assert_eq!(all(&cal, "METHOD").len(), 1);
        assert_eq!(value(&cal, "METHOD"), "REQUEST");
        assert_eq!(events.len(), 1);
        let props = &events[0].properties;
        assert_eq!(all(props, "ATTENDEE").len(), 2);
        assert_eq!(all(props, "ORGANIZER").len(), 1);
        assert_eq!(all(props, "STATUS").len(), 1);
        assert_eq!(value(props, "STATUS"), "CONFIRMED");
        assert_eq!(value(props, "SUMMARY"), "Hi\nATTENDEE:mailto:evil@x");
        assert_eq!(value(props, "DESCRIPTION"), "a\nbcde\nEND:VEVENT");
        assert_eq!(value(props, "UID"), "u\nSTATUS:CANCELLED");
        assert_eq!(
            value(props, "LOCATION"),
            "https://x\nATTENDEE:mailto:evil@x"
        );
        assert_eq!(value(props, "URL"), "https://x/ORGANIZER:mailto:evil@x");
        // The same seen in the raw text: no physical line starts a property
        // that was not written on purpose.
        let lines: Vec<&str> = ics.split("\r\n").collect();
        assert_eq!(
            lines.iter().filter(|l| l.starts_with("ATTENDEE")).count(),
            2
        );
        assert_eq!(
            lines.iter().filter(|l| l.starts_with("END:VEVENT")).count(),
            1
        );
        assert_eq!(lines.iter().filter(|l| l.starts_with("METHOD")).count(), 1);
    }

    #[test]
    fn uid_is_stable_and_clean() {
        let id = Uuid::parse_str("0190f7c2-7d1e-7a4b-9c3d-2e1f0a9b8c7d").unwrap();
        assert_eq!(
            uid_for(id, " Hours.Example.org "),
            "0190f7c2-7d1e-7a4b-9c3d-2e1f0a9b8c7d@hours.example.org"
        );
        assert_eq!(uid_for(id, "a>b\r\n"), format!("{id}@ab"));
        assert_eq!(uid_for(id, ""), format!("{id}@localhost"));
    }
}
