//! Sign-in brute-force limits, counted in PostgreSQL so they hold across
//! app instances. Keyed by the normalised email as typed — whether or not
//! an account has it — so a block reveals nothing about accounts. The key
//! is normalised by PostgreSQL's `lower()`, as the account lookup and the
//! unique index are: every spelling that reaches an account (`İ` for `i`)
//! counts against that one key.
//!
//! - email + network: 10 failures in 15 min block that pair for 15 min;
//! - email: 100 failures in an hour block it, except from networks that
//!   signed in to it successfully before;
//! - network: 100 failures in an hour block it.
//!
//! A network is an IPv4 address, or the /64 of an IPv6 one ([`ip_key`]).
//!
//! Emails a visitor can make us send without signing in (password reset,
//! sign-up) have their own limits, the same for every address: see
//! [`mail_request`].

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::db::lower;
use crate::db::schema::{login_failures, login_known_ips, mail_requests};

pub const PAIR_LIMIT: i64 = 10;
pub const PAIR_WINDOW: Duration = Duration::minutes(15);
pub const EMAIL_LIMIT: i64 = 100;
pub const IP_LIMIT: i64 = 100;
pub const WIDE_WINDOW: Duration = Duration::hours(1);

/// The address limits are counted under: an IPv4 address, or the /64 an
/// IPv6 address lies in (one customer's network: it can take any address
/// in it, so per address it could dodge every limit).
pub fn ip_key(ip: &str) -> String {
    use std::net::{IpAddr, Ipv6Addr};
    // `to_canonical`: `::ffff:a.b.c.d` is the IPv4 address.
    match ip.parse::<IpAddr>().map(|ip| ip.to_canonical()) {
        Ok(IpAddr::V6(v6)) => match v6.segments() {
            // NAT64 (64:ff9b::/96) carries an IPv4 client: count that.
            [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => {
                std::net::Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo)).to_string()
            }
            s => format!("{}/64", Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0)),
        },
        Ok(v4) => v4.to_string(),
        Err(_) => ip.to_owned(),
    }
}

/// The key failures are counted under: `lower(email)` as PostgreSQL
/// computes it for the lookup (Rust's `to_lowercase` differs: it turns
/// `İ` into `i` and a combining dot, PostgreSQL into `i`).
pub fn email_key(conn: &mut PgConnection, typed: &str) -> QueryResult<String> {
    let typed: String = typed.trim().chars().take(254).collect();
    let key: String = diesel::select(lower(typed)).get_result(conn)?;
    Ok(key.chars().take(254).collect())
}

/// Whether someone signed in to `email_key` from `ip` before (its owner,
/// most likely): the limits for everyone else do not hold them back.
fn known_ip(conn: &mut PgConnection, email_key: &str, ip: &str) -> QueryResult<bool> {
    login_known_ips::table
        .find((email_key, ip))
        .count()
        .get_result::<i64>(conn)
        .map(|n| n > 0)
}

/// Until when a sign-in attempt is refused, if it is.
pub fn blocked_until(
    conn: &mut PgConnection,
    email_key: &str,
    ip: &str,
    now: DateTime<Utc>,
) -> QueryResult<Option<DateTime<Utc>>> {
    let ip = ip_key(ip);
    let ip = ip.as_str();
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
    if !known_ip(conn, email_key, ip)? {
        let failures = login_failures::table
            .filter(login_failures::email_key.eq(email_key))
            .filter(login_failures::at.gt(now - WIDE_WINDOW))
            .order(login_failures::at.desc())
            .select(login_failures::at)
            .limit(1);
        until = until.max(hour_after_nth(conn, failures, EMAIL_LIMIT, now)?);
    }

    // The IP, whatever email it tries.
    let failures = login_failures::table
        .filter(login_failures::ip.eq(ip))
        .filter(login_failures::at.gt(now - WIDE_WINDOW))
        .order(login_failures::at.desc())
        .select(login_failures::at)
        .limit(1);
    until = until.max(hour_after_nth(conn, failures, IP_LIMIT, now)?);
    Ok(until.filter(|u| *u > now))
}

pub fn record_failure(
    conn: &mut PgConnection,
    email_key: &str,
    ip: &str,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    let ip = ip_key(ip);
    let ip = ip.as_str();
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
    let ip = ip_key(ip);
    let ip = ip.as_str();
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

/// Failures and email requests older than any window are of no use.
pub fn prune(conn: &mut PgConnection, now: DateTime<Utc>) -> QueryResult<usize> {
    let failures =
        diesel::delete(login_failures::table.filter(login_failures::at.lt(now - WIDE_WINDOW)))
            .execute(conn)?;
    let requests =
        diesel::delete(mail_requests::table.filter(mail_requests::at.lt(now - WIDE_WINDOW)))
            .execute(conn)?;
    Ok(failures + requests)
}

// ------------------------------------------------- emails on a visitor's request

/// From one IP, at most one email to an address every `MAIL_GAP`…
pub const MAIL_GAP: Duration = Duration::minutes(2);
/// …and `MAIL_PER_HOUR` an hour (for each purpose)…
pub const MAIL_PER_HOUR: i64 = 5;
/// …and `MAIL_ADDRESS_LIMIT` an hour in all, which never holds back IPs
/// that signed in to the address before (its owner's): nobody elsewhere
/// can use up the owner's allowance, nor flood an inbox from many
/// networks. (An owner on a network they never signed in from is held
/// back like anyone else.)
pub const MAIL_ADDRESS_LIMIT: i64 = 20;
/// Requests one IP may make in an hour, whatever the addresses.
pub const MAIL_IP_LIMIT: i64 = 100;

/// The `n`-th newest instant (1-based) a query of instants gives within
/// the last hour, plus the hour: until when `n` of them keep counting.
fn hour_after_nth<'a, Q>(
    conn: &mut PgConnection,
    instants: Q,
    n: i64,
    now: DateTime<Utc>,
) -> QueryResult<Option<DateTime<Utc>>>
where
    Q: diesel::query_dsl::methods::OffsetDsl,
    Q::Output: diesel::query_dsl::LoadQuery<'a, PgConnection, DateTime<Utc>>,
{
    let nth: Option<DateTime<Utc>> = instants.offset(n - 1).get_result(conn).optional()?;
    Ok(nth.map(|at| at + WIDE_WINDOW).filter(|u| *u > now))
}

/// Until when `ip` may not ask for emails (a password reset, a sign-up),
/// if it has asked `MAIL_IP_LIMIT` times in the last hour.
pub fn mail_ip_blocked_until(
    conn: &mut PgConnection,
    ip: &str,
    now: DateTime<Utc>,
) -> QueryResult<Option<DateTime<Utc>>> {
    let ip = ip_key(ip);
    let ip = ip.as_str();
    hour_after_nth(
        conn,
        mail_requests::table
            .filter(mail_requests::ip.eq(ip))
            .filter(mail_requests::at.gt(now - WIDE_WINDOW))
            .order(mail_requests::at.desc())
            .select(mail_requests::at)
            .limit(1),
        MAIL_IP_LIMIT,
        now,
    )
}

/// What a visitor asks us to email an address, each limited on its own.
#[derive(Debug, Clone, Copy)]
pub enum MailPurpose {
    /// A reset link, or word that no account (or a disabled one) has it.
    Reset,
    /// A sign-up's confirmation link, or "someone tried to register".
    Register,
}

impl MailPurpose {
    fn as_str(self) -> &'static str {
        match self {
            MailPurpose::Reset => "reset",
            MailPurpose::Register => "register",
        }
    }
}

/// Records a visitor's request for an email to `email_key` and says
/// whether to send it, or until when the limits above hold it back. They
/// are the same for every address, with an account or not, so neither the
/// answer nor the outbox tells them apart. Takes a transaction-scoped lock
/// on the address and purpose, so concurrent requests are counted one
/// after another: call it inside the transaction that sends the email.
pub fn mail_request(
    conn: &mut PgConnection,
    email_key: &str,
    purpose: MailPurpose,
    ip: &str,
    now: DateTime<Utc>,
) -> QueryResult<Option<DateTime<Utc>>> {
    let ip = ip_key(ip);
    let ip = ip.as_str();
    debug_assert!(
        matches!(
            <diesel::connection::AnsiTransactionManager as diesel::connection::TransactionManager<
                PgConnection,
            >>::transaction_manager_status_mut(conn)
            .transaction_depth(),
            Ok(Some(_))
        ),
        "mail_request counts under a transaction-scoped lock: call it in a transaction"
    );
    diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind::<diesel::sql_types::Text, _>(format!("mail:{}:{email_key}", purpose.as_str()))
        .execute(conn)?;
    let sent = || {
        mail_requests::table
            .filter(mail_requests::email_key.eq(email_key))
            .filter(mail_requests::purpose.eq(purpose.as_str()))
            .filter(mail_requests::sent)
            .filter(mail_requests::at.gt(now - WIDE_WINDOW))
            .order(mail_requests::at.desc())
            .select(mail_requests::at)
    };
    let mine: Vec<DateTime<Utc>> = sent()
        .filter(mail_requests::ip.eq(ip))
        .limit(MAIL_PER_HOUR)
        .load(conn)?;
    let mut until = mine
        .first()
        .map(|last| *last + MAIL_GAP)
        .filter(|u| *u > now);
    if mine.len() as i64 >= MAIL_PER_HOUR {
        until = until.max(mine.last().map(|at| *at + WIDE_WINDOW));
    }
    if !known_ip(conn, email_key, ip)? {
        until = until.max(hour_after_nth(
            conn,
            sent().limit(1),
            MAIL_ADDRESS_LIMIT,
            now,
        )?);
    }
    diesel::insert_into(mail_requests::table)
        .values((
            mail_requests::id.eq(Uuid::now_v7()),
            mail_requests::email_key.eq(email_key),
            mail_requests::purpose.eq(purpose.as_str()),
            mail_requests::ip.eq(ip),
            mail_requests::at.eq(now),
            mail_requests::sent.eq(until.is_none()),
        ))
        .execute(conn)?;
    Ok(until)
}

#[cfg(test)]
mod tests {
    use super::ip_key;

    #[test]
    fn an_ipv6_network_counts_as_one_address() {
        assert_eq!(ip_key("203.0.113.7"), "203.0.113.7");
        assert_eq!(ip_key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(
            ip_key("2001:db8:1:2:bbbb:cccc:dddd:eeee"),
            "2001:db8:1:2::/64"
        );
        assert_ne!(ip_key("2001:db8:1:3::1"), ip_key("2001:db8:1:2::1"));
        assert_eq!(ip_key("::ffff:203.0.113.7"), "203.0.113.7");
        assert_eq!(ip_key("64:ff9b::cb00:7107"), "203.0.113.7");
        assert_eq!(ip_key("unknown"), "unknown");
    }
}
