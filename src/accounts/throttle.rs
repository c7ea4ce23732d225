//! Sign-in brute-force limits, counted in PostgreSQL so they hold across
//! app instances. Keyed by the normalised email as typed — whether or not
//! an account has it — so a block reveals nothing about accounts. The key
//! is normalised by PostgreSQL's `lower()`, as the account lookup and the
//! unique index are: every spelling that reaches an account (`İ` for `i`)
//! counts against that one key.
//!
//! - email + IP: 10 failures in 15 min block that pair for 15 min;
//! - email: 100 failures in an hour block it, except from IPs that signed
//!   in to it successfully before;
//! - IP: 100 failures in an hour block that IP.
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

/// The key failures are counted under: `lower(email)` as PostgreSQL
/// computes it for the lookup (Rust's `to_lowercase` differs: it turns
/// `İ` into `i` and a combining dot, PostgreSQL into `i`).
pub fn email_key(conn: &mut PgConnection, typed: &str) -> QueryResult<String> {
    let typed: String = typed.trim().chars().take(254).collect();
    let key: String = diesel::select(lower(typed)).get_result(conn)?;
    Ok(key.chars().take(254).collect())
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

/// At most one email to an address every `MAIL_GAP`…
pub const MAIL_GAP: Duration = Duration::minutes(2);
/// …and `MAIL_PER_HOUR` an hour, asked by anyone.
pub const MAIL_PER_HOUR: i64 = 5;
/// Requests one IP may make in an hour, whatever the addresses.
pub const MAIL_IP_LIMIT: i64 = 100;

/// Until when `ip` may not ask for emails (a password reset, a sign-up),
/// if it has asked `MAIL_IP_LIMIT` times in the last hour.
pub fn mail_ip_blocked_until(
    conn: &mut PgConnection,
    ip: &str,
    now: DateTime<Utc>,
) -> QueryResult<Option<DateTime<Utc>>> {
    let nth: Option<DateTime<Utc>> = mail_requests::table
        .filter(mail_requests::ip.eq(ip))
        .filter(mail_requests::at.gt(now - WIDE_WINDOW))
        .order(mail_requests::at.desc())
        .select(mail_requests::at)
        .offset(MAIL_IP_LIMIT - 1)
        .first(conn)
        .optional()?;
    Ok(nth.map(|at| at + WIDE_WINDOW).filter(|u| *u > now))
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
/// whether to send it: not when the address got one for `purpose` less
/// than `MAIL_GAP` ago or `MAIL_PER_HOUR` in the last hour. The same for
/// every address, with an account or not, so neither the answer nor the
/// outbox tells them apart; and nobody can flood an inbox through us.
pub fn mail_request(
    conn: &mut PgConnection,
    email_key: &str,
    purpose: MailPurpose,
    ip: &str,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    let recent: Vec<DateTime<Utc>> = mail_requests::table
        .filter(mail_requests::email_key.eq(email_key))
        .filter(mail_requests::purpose.eq(purpose.as_str()))
        .filter(mail_requests::sent)
        .filter(mail_requests::at.gt(now - WIDE_WINDOW))
        .order(mail_requests::at.desc())
        .select(mail_requests::at)
        .limit(MAIL_PER_HOUR)
        .load(conn)?;
    let send = (recent.len() as i64) < MAIL_PER_HOUR
        && recent.first().is_none_or(|last| now - *last >= MAIL_GAP);
    diesel::insert_into(mail_requests::table)
        .values((
            mail_requests::id.eq(Uuid::now_v7()),
            mail_requests::email_key.eq(email_key),
            mail_requests::purpose.eq(purpose.as_str()),
            mail_requests::ip.eq(ip),
            mail_requests::at.eq(now),
            mail_requests::sent.eq(send),
        ))
        .execute(conn)?;
    Ok(send)
}
