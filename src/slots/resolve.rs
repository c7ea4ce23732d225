//! Local wall-clock time → UTC instant with the product's gap/fold rule.

use chrono::{
    DateTime, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone, Utc,
};
use chrono_tz::Tz;

/// How a local time was turned into an instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Resolution {
    /// The local time occurs once.
    Exact,
    /// The local time occurs twice (fall-back fold); the earlier instant.
    Earlier,
    /// The local time does not exist (spring-forward gap); moved forward.
    Shifted,
}

/// Local date+time → instant: a time in a spring-forward gap moves forward
/// by the gap length; an ambiguous (fall-back) time takes the earlier
/// instant (RFC 5545 / Temporal "compatible").
///
/// Only for dates at the very ends of chrono's range, where no instant can
/// be represented, the local time is returned read as UTC.
pub fn resolve_local(zone: Tz, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    let local = date.and_time(time);
    resolve(zone, local).map_or_else(|| local.and_utc(), |(instant, _)| instant)
}

/// [`resolve_local`] that also says which case applied; `None` only when
/// the instant is outside chrono's range.
pub(crate) fn resolve(zone: Tz, local: NaiveDateTime) -> Option<(DateTime<Utc>, Resolution)> {
    match zone.offset_from_local_datetime(&local) {
        LocalResult::Single(offset) => Some((at_offset(local, offset.fix())?, Resolution::Exact)),
        LocalResult::Ambiguous(a, b) => {
            let a = at_offset(local, a.fix())?;
            let b = at_offset(local, b.fix())?;
            Some((a.min(b), Resolution::Earlier))
        }
        LocalResult::None => {
            // Read the missing time with the offset in force before the gap:
            // the instant is then `gap length` later on the wall clock. Like
            // Temporal, take "before" as one day earlier — no zone changes
            // its offset twice within a day around a gap.
            let probe = local.and_utc().checked_sub_signed(Duration::days(1))?;
            let before = zone.offset_from_utc_datetime(&probe.naive_utc()).fix();
            Some((at_offset(local, before)?, Resolution::Shifted))
        }
    }
}

fn at_offset(local: NaiveDateTime, offset: chrono::FixedOffset) -> Option<DateTime<Utc>> {
    local.checked_sub_offset(offset).map(|utc| utc.and_utc())
}
