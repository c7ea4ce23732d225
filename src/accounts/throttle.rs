//! Sign-in brute-force limits, counted in PostgreSQL so they hold across
//! app instances. Keyed by the normalised email as typed — whether or not
//! an account has it — so a block reveals nothing about accounts.
//!
//! - email + IP: 10 failures in 15 min block that pair for 15 min;
//! - email: 100 failures in an hour block it, except from IPs that signed
//!   in to it successfully before;
//! - IP: 100 failures in an hour block that IP.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::{login_failures, login_known_ips};

pub const PAIR_LIMIT: i64 = 10;
pub const PAIR_WINDOW: Duration = Duration::minutes(15);
pub const EMAIL_LIMIT: i64 = 100;
pub const IP_LIMIT: i64 = 100;
pub const WIDE_WINDOW: Duration = Duration::hours(1);

/// The key failures are counted under.
pub fn email_key(typed: &str) -> String {
    typed.trim().to_lowercase().chars().take(254).collect()
}

/// Until when a sign-in attempt is refused, if it is.
pub fn blocked_until(
    conn: &mut PgConnection,
    email_key: &str,
    ip: &str,
    now: DateTime<Utc>,
) -> QueryResult<Option<DateTime<Utc>>> {
    let mut until: Option<DateTime<Utc>> = None;

    // The pair: blocked for 15 min from its latest failure once 10 fall
    // within 15 min.
    let pair: Vec<DateTime<Utc>> = login_failures::table
        .filter(login_failures::email_key.eq(email_key))
        .filter(login_failures::ip.eq(ip))
        .filter(login_failures::at.gt(now - PAIR_WINDOW))
        .order(login_failures::at.desc())
        .select(login_failures::at)
        .limit(PAIR_LIMIT)
        .load(conn)?;
    if pair.len() as i64 >= PAIR_LIMIT {
        until = until.max(Some(pair[0] + PAIR_WINDOW));
    }

    // The email, for IPs it does not know: blocked while 100 failures fall
    // within the last hour.
    let known = login_known_ips::table
        .find((email_key, ip))
        .count()
        .get_result::<i64>(conn)?
        > 0;
    if !known {
        let nth: Option<DateTime<Utc>> = login_failures::table
            .filter(login_failures::email_key.eq(email_key))
            .filter(login_failures::at.gt(now - WIDE_WINDOW))
            .order(login_failures::at.desc())
            .select(login_failures::at)
            .offset(EMAIL_LIMIT - 1)
            .first(conn)
            .optional()?;
        if let Some(at) = nth {
            until = until.max(Some(at + WIDE_WINDOW));
        }
    }

    // The IP, whatever email it tries.
    let nth: Option<DateTime<Utc>> = login_failures::table
        .filter(login_failures::ip.eq(ip))
        .filter(login_failures::at.gt(now - WIDE_WINDOW))
        .order(login_failures::at.desc())
        .select(login_failures::at)
        .offset(IP_LIMIT - 1)
        .first(conn)
        .optional()?;
    if let Some(at) = nth {
        until = until.max(Some(at + WIDE_WINDOW));
    }
    Ok(until.filter(|u| *u > now))
}

pub fn record_failure(
    conn: &mut PgConnection,
    email_key: &str,
    ip: &str,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::insert_into(login_failures::table)
        .values((
            login_failures::id.eq(Uuid::now_v7()),
            login_failures::email_key.eq(email_key),
            login_failures::ip.eq(ip),
            login_failures::at.eq(now),
        ))
        .execute(conn)
        .map(|_| ())
}

/// A successful sign-in: the IP becomes known for the email, and the
/// pair's failures are forgotten.
pub fn record_success(
    conn: &mut PgConnection,
    email_key: &str,
    ip: &str,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::insert_into(login_known_ips::table)
        .values((
            login_known_ips::email_key.eq(email_key),
            login_known_ips::ip.eq(ip),
            login_known_ips::last_at.eq(now),
        ))
        .on_conflict((login_known_ips::email_key, login_known_ips::ip))
        .do_update()
        .set(login_known_ips::last_at.eq(now))
        .execute(conn)?;
    diesel::delete(
        login_failures::table
            .filter(login_failures::email_key.eq(email_key))
            .filter(login_failures::ip.eq(ip)),
    )
    .execute(conn)?;
    Ok(())
}

/// Failures older than any window are of no use.
pub fn prune(conn: &mut PgConnection, now: DateTime<Utc>) -> QueryResult<usize> {
    diesel::delete(login_failures::table.filter(login_failures::at.lt(now - WIDE_WINDOW)))
        .execute(conn)
}
