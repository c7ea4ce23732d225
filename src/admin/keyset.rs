//! Keyset paging for the admin lists (users, bookings, emails, audit
//! log): a place in a list's order — a timestamp and the id that breaks
//! ties, so the order is total and pages never overlap or skip, however
//! many rows arrive between two clicks — as it travels in `after=` and
//! `before=` links.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// A row's place in a list ordered by (`at`, `id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    pub at: DateTime<Utc>,
    pub id: Uuid,
}

impl Key {
    pub fn new(at: DateTime<Utc>, id: Uuid) -> Self {
        Key { at, id }
    }

    /// `<microseconds since the epoch>_<uuid>`: exact, since PostgreSQL
    /// keeps microseconds.
    pub fn encode(&self) -> String {
        format!("{}_{}", self.at.timestamp_micros(), self.id)
    }

    pub fn decode(s: &str) -> Option<Self> {
        let (micros, id) = s.split_once('_')?;
        Some(Key {
            at: DateTime::from_timestamp_micros(micros.parse().ok()?)?,
            id: Uuid::parse_str(id).ok()?,
        })
    }
}

/// Which page: the rows right after a key in the list's order, or right
/// before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cursor {
    After(Key),
    Before(Key),
}

impl Cursor {
    /// From a list URL's `after` and `before` values (`after` first); a
    /// value that does not decode is ignored: the first page.
    pub fn from_query(after: Option<&str>, before: Option<&str>) -> Option<Cursor> {
        after
            .and_then(Key::decode)
            .map(Cursor::After)
            .or_else(|| before.and_then(Key::decode).map(Cursor::Before))
    }

    /// The query pair of a link to this page.
    pub fn pair(self) -> (&'static str, String) {
        match self {
            Cursor::After(key) => ("after", key.encode()),
            Cursor::Before(key) => ("before", key.encode()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_junk_is_refused() {
        let key = Key::new(
            DateTime::from_timestamp_micros(1_781_514_000_123_456).unwrap(),
            Uuid::now_v7(),
        );
        assert_eq!(Key::decode(&key.encode()), Some(key));
        for junk in [
            "",
            "_",
            "12",
            "abc_",
            "1_not-a-uuid",
            "x_0190a0e0-0000-7000-8000-000000000000",
            "99999999999999999999_x",
        ] {
            assert_eq!(Key::decode(junk), None, "{junk}");
        }
    }

    #[test]
    fn cursors_come_from_links_and_go_back_into_them() {
        let key = Key::new(
            DateTime::from_timestamp_micros(1_781_514_000_123_456).unwrap(),
            Uuid::now_v7(),
        );
        let code = key.encode();
        assert_eq!(
            Cursor::from_query(Some(&code), Some("junk")),
            Some(Cursor::After(key))
        );
        assert_eq!(
            Cursor::from_query(Some("junk"), Some(&code)),
            Some(Cursor::Before(key))
        );
        assert_eq!(Cursor::from_query(Some("junk"), None), None);
        assert_eq!(Cursor::After(key).pair(), ("after", code.clone()));
        assert_eq!(Cursor::Before(key).pair(), ("before", code));
    }
}
