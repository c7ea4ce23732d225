//! Form errors shown next to their fields.

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

/// Every IANA zone, sorted, with `selected` marked.
pub fn zone_options(selected: &str) -> Vec<ZoneOption> {
    let mut zones: Vec<&'static str> = chrono_tz::TZ_VARIANTS.iter().map(|z| z.name()).collect();
    zones.sort_unstable();
    zones
        .into_iter()
        .map(|name| ZoneOption {
            name,
            selected: name == selected,
        })
        .collect()
}

/// Text input: trimmed, with control characters refused.
pub fn has_control_chars(s: &str) -> bool {
    s.chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
}
