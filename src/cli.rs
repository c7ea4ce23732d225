//! What the command-line subcommands do, apart from parsing (main.rs) and
//! serving (startup.rs). Each returns a one-line error for the terminal.

use std::borrow::Cow;
use std::io::{BufRead, Write};

use diesel::prelude::*;
use uuid::Uuid;

use crate::accounts::service::{self as accounts, NewAccount};
use crate::accounts::{Role, password};
use crate::clock::Clock;
use crate::config::Settings;
use crate::db::{self, PgPool};
use crate::email::outbox::{self, OutboxState};
use crate::email::render::Welcome;
use crate::email::{EmailContent, enqueue};
use crate::seed;
use crate::startup::{self, StartupError};

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Startup(#[from] StartupError),
    #[error(transparent)]
    Db(#[from] db::DbError),
    #[error("database: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("database pool: {0}")]
    Pool(#[from] diesel::r2d2::PoolError),
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Account(#[from] accounts::AccountError),
    #[error(transparent)]
    Seed(#[from] seed::SeedError),
    #[error(transparent)]
    Hash(#[from] password::HashError),
    #[error("email: {0}")]
    Outbox(#[from] outbox::OutboxError),
    #[error("email template: {0}")]
    Template(#[from] askama::Error),
    #[error("background task: {0}")]
    Join(#[from] tokio::task::JoinError),
    #[error("terminal: {0}")]
    Io(#[from] std::io::Error),
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, CliError> + Send + 'static,
) -> Result<T, CliError> {
    tokio::task::spawn_blocking(f).await?
}

/// `officehours migrate`: applies pending migrations; a no-op when none.
pub async fn migrate(settings: &Settings) -> Result<usize, CliError> {
    let pool = startup::connect(settings).await?;
    let display = settings.database_display();
    blocking(move || {
        let mut conn = pool.get()?;
        Ok(db::migrate(&mut conn, &display)?)
    })
    .await
}

/// The password for `user add`: `OFFICEHOURS_PASSWORD`, else one line of
/// standard input.
pub fn read_password(from_env: Option<String>) -> Result<String, CliError> {
    if let Some(p) = from_env {
        return Ok(p);
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let p = line.trim_end_matches(['\r', '\n']).to_owned();
    if p.is_empty() {
        return Err(CliError::Usage(
            "no password: set OFFICEHOURS_PASSWORD or pipe it on standard input".into(),
        ));
    }
    Ok(p)
}

pub struct UserAdd {
    pub email: String,
    pub name: String,
    pub role: Role,
    pub time_zone: chrono_tz::Tz,
    pub password: String,
}

/// `officehours user add`: a pre-verified account, its audit entry and a
/// welcome email, in one transaction.
pub async fn user_add(settings: &Settings, clock: &Clock, add: UserAdd) -> Result<Uuid, CliError> {
    password::check(&add.password).map_err(|p| CliError::Usage(format!("password: {p}")))?;
    let pool = startup::connect(settings).await?;
    let settings = settings.clone();
    let now = clock.now();
    blocking(move || {
        let hash = password::hash(&add.password)?;
        let mut conn = pool.get()?;
        conn.transaction(|conn| {
            let user = accounts::create_by_operator(
                conn,
                now,
                &NewAccount {
                    email: &add.email,
                    display_name: &add.name,
                    role: add.role,
                    time_zone: add.time_zone,
                    password_hash: &hash,
                    verified: true,
                },
                "cli",
            )?;
            let to = user.mailbox().map_err(|_| {
                accounts::AccountError::Invalid(
                    "Enter an email address like name@example.org.".into(),
                )
            })?;
            let email = Welcome {
                display_name: user.display_name.clone(),
                role: user.role.as_str().to_owned(),
                sign_in_url: settings.absolute_url("/login"),
                home_url: settings.absolute_url("/"),
            }
            .to_email(to, Some(user.id))?;
            enqueue(conn, now, &settings.smtp_from, &email)?;
            Ok(user.id)
        })
    })
    .await
}

/// `officehours seed-demo`.
pub async fn seed_demo(settings: &Settings, clock: &Clock) -> Result<seed::SeedReport, CliError> {
    let pool = startup::connect(settings).await?;
    let now = clock.now();
    let key = startup::server_key(&pool, settings, now).await?;
    let settings = settings.clone();
    blocking(move || {
        let mut conn = pool.get()?;
        Ok(seed::run(&mut conn, &settings, key.expose(), now)?)
    })
    .await
}

async fn with_conn<T: Send + 'static>(
    pool: PgPool,
    f: impl FnOnce(&mut PgConnection) -> Result<T, CliError> + Send + 'static,
) -> Result<T, CliError> {
    blocking(move || {
        let mut conn = pool.get()?;
        f(&mut conn)
    })
    .await
}

/// `text` as a terminal should show it: every control character written
/// out as `\u{1b}`, but for line breaks and tabs in a body (`multiline`).
/// The outbox holds what people wrote (a cancel reason, a name): printed
/// raw, an escape sequence in it could clear the operator's screen,
/// retitle the window or hide lines.
fn for_terminal(text: &str, multiline: bool) -> Cow<'_, str> {
    let shown = |c: char| !c.is_control() || (multiline && matches!(c, '\n' | '\t'));
    if text.chars().all(shown) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if shown(c) {
            out.push(c);
        } else {
            out.extend(c.escape_unicode());
        }
    }
    Cow::Owned(out)
}

/// One line of text for the terminal (see [`for_terminal`]).
fn line(text: &str) -> Cow<'_, str> {
    for_terminal(text, false)
}

/// `officehours outbox list`.
pub async fn outbox_list(
    settings: &Settings,
    state: Option<String>,
    limit: i64,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let state = match state {
        None => None,
        Some(s) => Some(OutboxState::parse(&s).ok_or_else(|| {
            CliError::Usage(format!(
                "--state {s:?}: expected pending, sending, sent, kept or dead"
            ))
        })?),
    };
    let pool = startup::connect(settings).await?;
    let rows = with_conn(pool, move |c| Ok(outbox::list(c, state, limit)?)).await?;
    if rows.is_empty() {
        writeln!(out, "The outbox is empty.")?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<36}  {:<20}  {:<7}  {:<16}  {:<32}  subject",
        "id", "created (UTC)", "state", "kind", "to"
    )?;
    for r in rows {
        writeln!(
            out,
            "{:<36}  {:<20}  {:<7}  {:<16}  {:<32}  {}",
            r.id,
            r.created_at.format("%Y-%m-%d %H:%M:%S"),
            line(&r.state),
            line(&r.kind),
            line(&r.recipient),
            line(&r.subject)
        )?;
    }
    Ok(())
}

/// `officehours outbox show ID`.
pub async fn outbox_show(
    settings: &Settings,
    id: &str,
    html: bool,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let id: Uuid = id.trim().parse().map_err(|_| {
        CliError::Usage(format!(
            "{id:?} is not a message id (see `officehours outbox list`)"
        ))
    })?;
    let pool = startup::connect(settings).await?;
    let row = with_conn(pool, move |c| Ok(outbox::find(c, id)?))
        .await?
        .ok_or_else(|| CliError::Usage(format!("no message {id} in the outbox")))?;
    writeln!(out, "Message-ID: {}", line(&row.message_id))?;
    writeln!(out, "To: {}", line(&row.recipient))?;
    writeln!(out, "Subject: {}", line(&row.subject))?;
    writeln!(out, "Kind: {}", line(&row.kind))?;
    writeln!(
        out,
        "State: {} (attempts: {})",
        line(&row.state),
        row.attempts
    )?;
    writeln!(out, "Created: {}", row.created_at.to_rfc3339())?;
    writeln!(out, "Not before: {}", row.not_before.to_rfc3339())?;
    if let Some(sent) = row.sent_at {
        writeln!(out, "Sent: {}", sent.to_rfc3339())?;
    }
    if let Some(err) = &row.last_error {
        writeln!(out, "Last error: {}", line(err))?;
    }
    for a in row.attachments() {
        writeln!(
            out,
            "Attachment: {} ({}, {} bytes)",
            line(&a.filename),
            line(&a.content_type),
            a.content.len()
        )?;
    }
    writeln!(out)?;
    let body = if html { &row.body_html } else { &row.body_text };
    match body {
        Some(b) => writeln!(out, "{}", for_terminal(b, true))?,
        None if row.carries_secret => writeln!(
            out,
            "(body cleared after sending: it carried a secret link)"
        )?,
        None => writeln!(out, "(no {} body)", if html { "HTML" } else { "text" })?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::for_terminal;

    #[test]
    fn stored_text_is_printed_never_acted_on() {
        let tricks = "\u{1b}[2J\u{1b}]0;pwned\u{7}\r\u{9b}31m\0\u{7f}";
        assert_eq!(
            for_terminal(tricks, true),
            "\\u{1b}[2J\\u{1b}]0;pwned\\u{7}\\u{d}\\u{9b}31m\\u{0}\\u{7f}"
        );
        assert_eq!(for_terminal("one\n\ttwo", true), "one\n\ttwo");
        assert_eq!(for_terminal("one\n\ttwo", false), "one\\u{a}\\u{9}two");
        assert_eq!(for_terminal("Café 🤒", false), "Café 🤒");
    }
}
