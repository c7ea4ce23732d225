//! The outbox table: enqueueing inside the caller's transaction, and the
//! worker's claim / sent / failed transitions.
//!
//! States: `pending` → `sending` (claimed under a lease) → `sent`; or back
//! to `pending` with a later attempt after a failure; `dead` after 24 h of
//! failures or a permanent refusal; `kept` when no SMTP server is set up.

use std::fmt::Write as _;

use chrono::{DateTime, Duration, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment};
use diesel::sql_types::{Array, BigInt, Bool, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use lettre::message::Mailbox;
use rand::Rng;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::db::schema::email_outbox;

/// How long a claim protects a row; a worker that dies mid-send loses its
/// rows to another worker after this.
pub const LEASE: Duration = Duration::minutes(5);
/// Failures are retried for this long after the message was due.
pub const GIVE_UP_AFTER: Duration = Duration::hours(24);
const FIRST_RETRY_SECS: i64 = 30;
const MAX_RETRY_SECS: i64 = 3600;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxState {
    Pending,
    Sending,
    Sent,
    Kept,
    Dead,
}

impl OutboxState {
    pub const ALL: [OutboxState; 5] = [
        OutboxState::Pending,
        OutboxState::Sending,
        OutboxState::Sent,
        OutboxState::Kept,
        OutboxState::Dead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OutboxState::Pending => "pending",
            OutboxState::Sending => "sending",
            OutboxState::Sent => "sent",
            OutboxState::Kept => "kept",
            OutboxState::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub filename: String,
    pub content_type: String,
    pub content: String,
}

/// A message to enqueue.
#[derive(Debug, Clone)]
pub struct NewEmail {
    pub kind: String,
    pub to: Mailbox,
    pub recipient_user_id: Option<Uuid>,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
    pub attachments: Vec<Attachment>,
    /// The body holds a secret link (verification, reset, manage): it is
    /// cleared from the outbox once sent.
    pub carries_secret: bool,
    /// Not sent before this instant (e.g. reminders).
    pub not_before: Option<DateTime<Utc>>,
    /// At most one message per key, e.g. one reminder per booking and kind.
    pub dedupe_key: Option<String>,
    /// The booking the message is about (reminders are withdrawn by it).
    pub booking_id: Option<Uuid>,
    /// Not sent after this instant (a reminder once the session started).
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("the {field} of an email contains a line break or NUL character")]
    HeaderInjection { field: &'static str },
    #[error("the email kind {0:?} is not a lower-case word")]
    BadKind(String),
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

/// One row, as the worker and the admin views read it.
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = email_outbox)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct OutboxRow {
    pub id: Uuid,
    pub kind: String,
    pub recipient: String,
    pub recipient_user_id: Option<Uuid>,
    pub subject: String,
    pub body_text: Option<String>,
    pub body_html: Option<String>,
    pub attachments: serde_json::Value,
    pub message_id: String,
    pub carries_secret: bool,
    pub state: String,
    pub attempts: i32,
    pub not_before: DateTime<Utc>,
    pub next_attempt_at: DateTime<Utc>,
    pub lease_token: Option<Uuid>,
    pub lease_until: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub dedupe_key: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub booking_id: Option<Uuid>,
    pub expires_at: Option<DateTime<Utc>>,
}

impl OutboxRow {
    pub fn attachments(&self) -> Vec<Attachment> {
        serde_json::from_value(self.attachments.clone()).unwrap_or_default()
    }
}

/// `enqueue_many`'s rows, one array per column, and its INSERT: the same
/// text for any number of rows, prepared once per connection (diesel's
/// multi-row INSERT is parsed and planned on every call, and the outbox is
/// written by every booking, cancel and reminder).
#[derive(Default)]
struct NewRows<'a> {
    id: Vec<Uuid>,
    kind: Vec<&'a str>,
    recipient: Vec<String>,
    recipient_user_id: Vec<Option<Uuid>>,
    subject: Vec<&'a str>,
    body_text: Vec<&'a str>,
    body_html: Vec<Option<&'a str>>,
    attachments: Vec<serde_json::Value>,
    message_id: Vec<String>,
    carries_secret: Vec<bool>,
    due: Vec<DateTime<Utc>>,
    dedupe_key: Vec<Option<&'a str>>,
    booking_id: Vec<Option<Uuid>>,
    expires_at: Vec<Option<DateTime<Utc>>>,
    created_at: DateTime<Utc>,
}

crate::prepared_statement!(NewRows<'a>);

impl QueryFragment<Pg> for NewRows<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(
            "INSERT INTO email_outbox (id, kind, recipient, recipient_user_id, subject, body_text, \
               body_html, attachments, message_id, carries_secret, state, not_before, \
               next_attempt_at, dedupe_key, created_at, booking_id, expires_at) \
             SELECT r.id, r.kind, r.recipient, r.recipient_user_id, r.subject, r.body_text, \
               r.body_html, r.attachments, r.message_id, r.carries_secret, 'pending', r.due, r.due, \
               r.dedupe_key, ",
        );
        out.push_bind_param::<Timestamptz, _>(&self.created_at)?;
        out.push_sql(", r.booking_id, r.expires_at FROM unnest(");
        out.push_bind_param::<Array<SqlUuid>, _>(&self.id)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&self.kind)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&self.recipient)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Nullable<SqlUuid>>, _>(&self.recipient_user_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&self.subject)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&self.body_text)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Nullable<Text>>, _>(&self.body_html)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Jsonb>, _>(&self.attachments)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&self.message_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Bool>, _>(&self.carries_secret)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Timestamptz>, _>(&self.due)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Nullable<Text>>, _>(&self.dedupe_key)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Nullable<SqlUuid>>, _>(&self.booking_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Nullable<Timestamptz>>, _>(&self.expires_at)?;
        out.push_sql(
            ") AS r(id, kind, recipient, recipient_user_id, subject, body_text, body_html, \
               attachments, message_id, carries_secret, due, dedupe_key, booking_id, expires_at)",
        );
        Ok(())
    }
}

fn has_header_breaking(value: &str) -> bool {
    value.contains(['\r', '\n', '\0'])
}

/// Refuses values that would break out of a header line, before anything
/// is written; returns the recipient as it goes into the `To` header.
fn check_headers(email: &NewEmail) -> Result<String, OutboxError> {
    let recipient_err = OutboxError::HeaderInjection { field: "recipient" };
    if email.to.name.as_deref().is_some_and(has_header_breaking) {
        return Err(recipient_err);
    }
    // lettre refuses to format some names; that is a refusal, not a crash.
    let mut recipient = String::new();
    write!(recipient, "{}", email.to)
        .map_err(|_| OutboxError::HeaderInjection { field: "recipient" })?;
    if has_header_breaking(&recipient) {
        return Err(recipient_err);
    }
    if has_header_breaking(&email.subject) {
        return Err(OutboxError::HeaderInjection { field: "subject" });
    }
    for a in &email.attachments {
        if has_header_breaking(&a.filename) {
            return Err(OutboxError::HeaderInjection {
                field: "attachment filename",
            });
        }
        if has_header_breaking(&a.content_type) {
            return Err(OutboxError::HeaderInjection {
                field: "attachment content type",
            });
        }
    }
    if email.kind.is_empty()
        || !email
            .kind
            .chars()
            .all(|c| c.is_ascii_lowercase() || c == '_')
    {
        return Err(OutboxError::BadKind(email.kind.clone()));
    }
    Ok(recipient)
}

/// Writes a message to the outbox inside the caller's transaction; it is
/// sent only if that transaction commits. `now` comes from the app clock;
/// the Message-ID (kept by every resend) uses the sender's domain.
pub fn enqueue(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    from: &Mailbox,
    email: &NewEmail,
) -> Result<Uuid, OutboxError> {
    let ids = enqueue_many(conn, now, from, std::slice::from_ref(email))?;
    Ok(ids[0])
}

/// [`enqueue`] for several messages in one INSERT (one round trip: a
/// booking's notices go to two or three people). All or none: a refused
/// header refuses the lot before anything is written.
pub fn enqueue_many(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    from: &Mailbox,
    emails: &[NewEmail],
) -> Result<Vec<Uuid>, OutboxError> {
    let mut rows = NewRows {
        created_at: now,
        ..NewRows::default()
    };
    for email in emails {
        let recipient = check_headers(email)?;
        let id = Uuid::now_v7();
        rows.id.push(id);
        rows.kind.push(&email.kind);
        rows.recipient.push(recipient);
        rows.recipient_user_id.push(email.recipient_user_id);
        rows.subject.push(&email.subject);
        rows.body_text.push(&email.text);
        rows.body_html.push(email.html.as_deref());
        rows.attachments.push(
            serde_json::to_value(&email.attachments).unwrap_or_else(|_| serde_json::json!([])),
        );
        rows.message_id
            .push(format!("<{}@{}>", id.simple(), from.email.domain()));
        rows.carries_secret.push(email.carries_secret);
        rows.due.push(email.not_before.unwrap_or(now));
        rows.dedupe_key.push(email.dedupe_key.as_deref());
        rows.booking_id.push(email.booking_id);
        rows.expires_at.push(email.expires_at);
    }
    let ids = rows.id.clone();
    if !ids.is_empty() {
        rows.execute(conn)?;
    }
    Ok(ids)
}

/// Claims up to `limit` rows that are due, or whose lease ran out, for one
/// worker. `FOR UPDATE SKIP LOCKED` plus the state change in the same
/// statement means two workers never hold the same row.
pub fn claim_due(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> QueryResult<(Uuid, Vec<OutboxRow>)> {
    // What can no longer be sent in time is given up first (never a row a
    // worker is sending under a live lease).
    // Rows another transaction holds (an account deletion erasing them, a
    // cancel withdrawing them) are left for the next round rather than
    // waited for: this statement takes many rows, and waiting in its scan
    // order could close a cycle with such a transaction.
    diesel::sql_query(
        "UPDATE email_outbox
            SET state = 'dead', lease_token = NULL, lease_until = NULL,
                last_error = 'expired before it could be sent'
          WHERE id IN (SELECT id FROM email_outbox
                        WHERE expires_at <= $1
                          AND (state = 'pending' OR (state = 'sending' AND lease_until <= $1))
                        FOR UPDATE SKIP LOCKED)",
    )
    .bind::<Timestamptz, _>(now)
    .execute(conn)?;
    // A row whose lease ran out (its worker died while sending) is due
    // again. Done apart from the claim so the claim below is one ordered
    // walk of the due index, however large the backlog: the two kinds in
    // one `OR` made PostgreSQL read and sort every due row each round.
    diesel::sql_query(
        "UPDATE email_outbox SET state = 'pending', lease_token = NULL, lease_until = NULL
          WHERE id IN (SELECT id FROM email_outbox
                        WHERE state = 'sending' AND lease_until <= $1
                        FOR UPDATE SKIP LOCKED)",
    )
    .bind::<Timestamptz, _>(now)
    .execute(conn)?;
    let token = Uuid::new_v4();
    let rows = diesel::sql_query(
        "UPDATE email_outbox o
            SET state = 'sending', lease_token = $1, lease_until = $2, attempts = o.attempts + 1
          WHERE o.id IN (
                SELECT id FROM email_outbox
                 WHERE state = 'pending' AND next_attempt_at <= $3
                 ORDER BY next_attempt_at, id
                 LIMIT $4
                 FOR UPDATE SKIP LOCKED)
      RETURNING o.*",
    )
    .bind::<SqlUuid, _>(token)
    .bind::<Timestamptz, _>(now + LEASE)
    .bind::<Timestamptz, _>(now)
    .bind::<BigInt, _>(limit)
    .load::<OutboxRow>(conn)?;
    Ok((token, rows))
}

/// Whether the claim `token` still holds row `id` at `now`: nobody
/// withdrew or erased it, and its lease has not run out (after which
/// another worker may take it over and send it).
pub fn still_held(
    conn: &mut PgConnection,
    id: Uuid,
    token: Uuid,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        email_outbox::table
            .filter(email_outbox::id.eq(id))
            .filter(email_outbox::lease_token.eq(token))
            .filter(email_outbox::state.eq(OutboxState::Sending.as_str()))
            .filter(email_outbox::lease_until.gt(now)),
    ))
    .get_result(conn)
}

/// Marks the rows `ids` of the claim `token` kept (no SMTP server is set
/// up), in one statement; returns those it marked: the others were
/// withdrawn, erased or their lease ran out meanwhile.
pub fn mark_kept(
    conn: &mut PgConnection,
    ids: Vec<Uuid>,
    token: Uuid,
    now: DateTime<Utc>,
) -> QueryResult<Vec<Uuid>> {
    diesel::update(
        email_outbox::table
            .filter(email_outbox::id.eq_any(ids))
            .filter(email_outbox::lease_token.eq(token))
            .filter(email_outbox::state.eq(OutboxState::Sending.as_str()))
            .filter(email_outbox::lease_until.gt(now)),
    )
    .set((
        email_outbox::state.eq(OutboxState::Kept.as_str()),
        email_outbox::lease_token.eq(None::<Uuid>),
        email_outbox::lease_until.eq(None::<DateTime<Utc>>),
    ))
    .returning(email_outbox::id)
    .get_results(conn)
}

/// Marks a claimed row delivered (or kept; the worker marks a batch kept
/// at once with [`mark_kept`]). Clears the body
/// of a message that carried a secret once it has left. Returns false when
/// the lease was lost meanwhile.
pub fn mark_done(
    conn: &mut PgConnection,
    id: Uuid,
    token: Uuid,
    now: DateTime<Utc>,
    state: OutboxState,
) -> QueryResult<bool> {
    let updated = MarkDone {
        id,
        token,
        now,
        state: state.as_str(),
        sent: state == OutboxState::Sent,
    }
    .execute(conn)?;
    Ok(updated == 1)
}

/// `mark_done`'s UPDATE in one prepared statement (diesel prepares no
/// UPDATE), run once per message: a sent one records when, forgets an
/// earlier attempt's error and, if it carried a secret, its body.
struct MarkDone {
    id: Uuid,
    token: Uuid,
    now: DateTime<Utc>,
    state: &'static str,
    sent: bool,
}

crate::prepared_statement!(MarkDone);

impl QueryFragment<Pg> for MarkDone {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("UPDATE email_outbox SET state = ");
        out.push_bind_param::<Text, _>(&self.state)?;
        out.push_sql(", lease_token = NULL, lease_until = NULL, sent_at = CASE WHEN ");
        out.push_bind_param::<Bool, _>(&self.sent)?;
        out.push_sql(" THEN ");
        out.push_bind_param::<Timestamptz, _>(&self.now)?;
        out.push_sql(" ELSE sent_at END, last_error = CASE WHEN ");
        out.push_bind_param::<Bool, _>(&self.sent)?;
        out.push_sql(" THEN NULL ELSE last_error END");
        for column in ["body_text", "body_html"] {
            out.push_sql(", ");
            out.push_sql(column);
            out.push_sql(" = CASE WHEN carries_secret AND ");
            out.push_bind_param::<Bool, _>(&self.sent)?;
            out.push_sql(" THEN NULL ELSE ");
            out.push_sql(column);
            out.push_sql(" END");
        }
        out.push_sql(", attachments = CASE WHEN carries_secret AND ");
        out.push_bind_param::<Bool, _>(&self.sent)?;
        out.push_sql(" THEN '[]' ELSE attachments END WHERE id = ");
        out.push_bind_param::<SqlUuid, _>(&self.id)?;
        out.push_sql(" AND lease_token = ");
        out.push_bind_param::<SqlUuid, _>(&self.token)?;
        out.push_sql(" AND state = 'sending'");
        Ok(())
    }
}

/// The delay before attempt `attempts + 1`: exponential from 30 s, capped
/// at 1 h, with "equal jitter" (half fixed, half random) so a burst of
/// failures does not retry in lockstep.
pub fn retry_delay(attempts: i32, jitter: f64) -> Duration {
    let exp = attempts.clamp(1, 30) - 1;
    let base = FIRST_RETRY_SECS
        .saturating_mul(1_i64 << exp.min(20))
        .min(MAX_RETRY_SECS);
    let half = base as f64 / 2.0;
    let secs = half + half * jitter.clamp(0.0, 1.0);
    Duration::milliseconds((secs * 1000.0) as i64)
}

/// Records a failed attempt: back to `pending` with a later attempt, or
/// `dead` when the error is permanent or the message is more than 24 h
/// overdue. Returns the new state (None when the lease was lost).
pub fn mark_failed(
    conn: &mut PgConnection,
    row: &OutboxRow,
    token: Uuid,
    now: DateTime<Utc>,
    error: &str,
    permanent: bool,
) -> QueryResult<Option<OutboxState>> {
    let delay = retry_delay(row.attempts, rand::thread_rng().r#gen::<f64>());
    let next = now + delay;
    let dead = permanent || next - row.not_before > GIVE_UP_AFTER;
    let state = if dead {
        OutboxState::Dead
    } else {
        OutboxState::Pending
    };
    // Error text from an SMTP server is bounded before it is stored.
    let error: String = error.chars().take(1000).collect();
    let updated = diesel::update(
        email_outbox::table
            .filter(email_outbox::id.eq(row.id))
            .filter(email_outbox::lease_token.eq(token))
            .filter(email_outbox::state.eq(OutboxState::Sending.as_str())),
    )
    .set((
        email_outbox::state.eq(state.as_str()),
        email_outbox::next_attempt_at.eq(next),
        email_outbox::lease_token.eq(None::<Uuid>),
        email_outbox::lease_until.eq(None::<DateTime<Utc>>),
        email_outbox::last_error.eq(Some(error)),
    ))
    .execute(conn)?;
    Ok((updated == 1).then_some(state))
}

/// `last_error` of a message that was being sent when its recipient
/// deleted their account.
pub const ERASED_WHILE_SENDING: &str =
    "its recipient deleted their account while it was being sent; whether it arrived is unknown";
/// `last_error` that replaces a stored error text (an SMTP server's often
/// quotes the address) when the recipient deletes their account.
pub const ERROR_ERASED: &str = "(error text erased with the recipient's account)";
/// The subject of a message erased with an account: the recipient's own
/// (a welcome names them), or one to the other person of a session,
/// whose subject names the deleted person.
pub const SUBJECT_ERASED: &str = "(erased with an account)";

/// The messages to other people about the sessions of `$1`: those of a
/// booking they are the learner or mentor of, and those of a booking
/// reassigned away from them written before it was (older than the last
/// message to them about it; the reassignment's own messages, written
/// with that last one, name only the new mentor). They name that person,
/// and a learner's goals are in the body and the `.ics`.
const TO_OTHERS_ABOUT_SESSIONS_OF: &str = "recipient_user_id IS DISTINCT FROM $1
            AND booking_id IS NOT NULL
            AND (booking_id IN (SELECT id FROM bookings WHERE learner_id = $1 OR mentor_id = $1)
                 OR EXISTS (SELECT 1 FROM email_outbox mine
                             WHERE mine.recipient_user_id = $1
                               AND mine.booking_id = email_outbox.booking_id
                               AND mine.created_at > email_outbox.created_at))";

/// Erases, in the caller's transaction, what the outbox holds about
/// `user`'s sessions in messages to other people, when the account is
/// deleted: those sent, kept or dead keep only their envelope (subject,
/// body and attachments go); those not yet sent — a confirmation held back
/// by an unreachable SMTP server, say, or one a worker has claimed, which
/// it then no longer sends (`Worker::handle_claimed`) — are withdrawn. For
/// the upcoming sessions, the cancellations the deletion writes next take
/// their place (they name nobody: `bookings::service::cancel_departing`).
///
/// Run before those are written, with the upcoming bookings already locked
/// (a cancel locks the booking before its messages). The envelopes first:
/// their row locks make an admin's retry of a dead one wait, then find it
/// erased; one retried just before is pending by the time the withdrawal
/// looks.
pub fn erase_about(conn: &mut PgConnection, user: Uuid) -> QueryResult<()> {
    diesel::sql_query(format!(
        "UPDATE email_outbox
            SET subject = $2, body_text = NULL, body_html = NULL, attachments = '[]'
          WHERE state IN ('sent', 'kept', 'dead') AND {TO_OTHERS_ABOUT_SESSIONS_OF}"
    ))
    .bind::<SqlUuid, _>(user)
    .bind::<Text, _>(SUBJECT_ERASED)
    .execute(conn)?;
    diesel::sql_query(format!(
        "DELETE FROM email_outbox
          WHERE state IN ('pending', 'sending') AND {TO_OTHERS_ABOUT_SESSIONS_OF}"
    ))
    .bind::<SqlUuid, _>(user)
    .execute(conn)?;
    Ok(())
}

/// Erases, in the caller's transaction, the messages to `user` when their
/// account is deleted (those about their sessions to others:
/// [`erase_about`]). Messages to them not yet sent go (the cancellations
/// just written to them too); every other message to them keeps only its
/// envelope, addressed to `erased`, without subject, body or the server's
/// error text. One being sent at that moment is erased as well and ends
/// `dead`: its worker still holds a copy and may deliver it, but its lease
/// is lost, so neither its "sent" nor a failed attempt's retry brings the
/// row back (nor does the worker send it if its turn has not come:
/// `Worker::handle_claimed`).
pub fn erase_for(conn: &mut PgConnection, user: Uuid, erased: &str) -> QueryResult<()> {
    diesel::delete(
        email_outbox::table
            .filter(email_outbox::recipient_user_id.eq(user))
            .filter(email_outbox::state.eq(OutboxState::Pending.as_str())),
    )
    .execute(conn)?;
    diesel::sql_query(
        "UPDATE email_outbox
            SET recipient = $2, subject = $5, body_text = NULL, body_html = NULL,
                attachments = '[]',
                state = CASE WHEN state = 'sending' THEN 'dead' ELSE state END,
                lease_token = NULL, lease_until = NULL,
                last_error = CASE WHEN state = 'sending' THEN $3
                                  WHEN last_error IS NULL THEN NULL
                                  ELSE $4 END
          WHERE recipient_user_id = $1",
    )
    .bind::<SqlUuid, _>(user)
    .bind::<Text, _>(erased)
    .bind::<Text, _>(ERASED_WHILE_SENDING)
    .bind::<Text, _>(ERROR_ERASED)
    .bind::<Text, _>(SUBJECT_ERASED)
    .execute(conn)?;
    Ok(())
}

/// Newest first, optionally of one state.
pub fn list(
    conn: &mut PgConnection,
    state: Option<OutboxState>,
    limit: i64,
) -> QueryResult<Vec<OutboxRow>> {
    let mut query = email_outbox::table
        .select(OutboxRow::as_select())
        .order((email_outbox::created_at.desc(), email_outbox::id.desc()))
        .limit(limit)
        .into_boxed();
    if let Some(state) = state {
        query = query.filter(email_outbox::state.eq(state.as_str()));
    }
    query.load(conn)
}

pub fn find(conn: &mut PgConnection, id: Uuid) -> QueryResult<Option<OutboxRow>> {
    email_outbox::table
        .find(id)
        .select(OutboxRow::as_select())
        .first(conn)
        .optional()
}

/// Rows per state, every state present (zero when empty).
pub fn counts_by_state(conn: &mut PgConnection) -> QueryResult<Vec<(OutboxState, i64)>> {
    let rows: Vec<(String, i64)> = email_outbox::table
        .group_by(email_outbox::state)
        .select((email_outbox::state, diesel::dsl::count_star()))
        .load(conn)?;
    Ok(OutboxState::ALL
        .into_iter()
        .map(|st| {
            let n = rows
                .iter()
                .find(|(s, _)| s == st.as_str())
                .map_or(0, |(_, n)| *n);
            (st, n)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(to: &str, subject: &str) -> NewEmail {
        NewEmail {
            kind: "welcome".into(),
            to: to.parse().unwrap(),
            recipient_user_id: None,
            subject: subject.into(),
            text: "hi".into(),
            html: None,
            attachments: vec![],
            carries_secret: false,
            not_before: None,
            dedupe_key: None,
            booking_id: None,
            expires_at: None,
        }
    }

    #[test]
    fn header_breaking_values_are_refused() {
        assert!(check_headers(&email("a@example.org", "Hello")).is_ok());
        for subject in ["Hi\r\nBcc: x@evil.test", "Hi\nthere", "nul\0"] {
            assert!(matches!(
                check_headers(&email("a@example.org", subject)),
                Err(OutboxError::HeaderInjection { field: "subject" })
            ));
        }
        let mut e = email("a@example.org", "ok");
        e.attachments.push(Attachment {
            filename: "x\r\n.ics".into(),
            content_type: "text/calendar".into(),
            content: String::new(),
        });
        assert!(matches!(
            check_headers(&e),
            Err(OutboxError::HeaderInjection { .. })
        ));
        let mut e = email("a@example.org", "ok");
        e.kind = "Bad Kind".into();
        assert!(matches!(check_headers(&e), Err(OutboxError::BadKind(_))));
    }

    #[test]
    fn retry_delay_grows_and_is_capped_at_an_hour() {
        assert_eq!(retry_delay(1, 1.0), Duration::seconds(30));
        assert_eq!(retry_delay(1, 0.0), Duration::seconds(15));
        assert_eq!(retry_delay(2, 1.0), Duration::seconds(60));
        assert_eq!(retry_delay(3, 1.0), Duration::seconds(120));
        assert_eq!(retry_delay(8, 1.0), Duration::seconds(3600));
        assert_eq!(retry_delay(50, 1.0), Duration::seconds(3600));
        assert!(retry_delay(50, 0.0) >= Duration::seconds(1800));
    }
}
