//! Turns outbox rows into MIME messages and hands them to SMTP (lettre), or
//! keeps them when no SMTP server is configured.

use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use lettre::message::header::ContentType;
use lettre::message::{Attachment as MimeAttachment, Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::outbox::OutboxRow;
use crate::config::Settings;

/// How long one SMTP conversation may take.
pub const SMTP_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Clone)]
pub enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// No SMTP_URL: messages stay in the outbox as `kept`.
    Keep,
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("cannot build the message: {0}")]
    Build(String),
    #[error("SMTP: {source}")]
    Smtp {
        #[source]
        source: lettre::transport::smtp::Error,
        permanent: bool,
    },
}

impl SendError {
    /// A refusal that retrying will not fix (5xx, or a malformed message).
    pub fn is_permanent(&self) -> bool {
        match self {
            SendError::Build(_) => true,
            SendError::Smtp { permanent, .. } => *permanent,
        }
    }
}

impl Transport {
    pub fn from_settings(settings: &Settings) -> Result<Self, lettre::transport::smtp::Error> {
        match &settings.smtp_url {
            None => Ok(Transport::Keep),
            Some(url) => Ok(Transport::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose())?
                    .timeout(Some(SMTP_TIMEOUT))
                    .build(),
            )),
        }
    }

    pub async fn send(&self, message: Message) -> Result<(), SendError> {
        match self {
            Transport::Keep => Ok(()),
            Transport::Smtp(smtp) => smtp.send(message).await.map(|_| ()).map_err(|source| {
                let permanent = source.is_permanent();
                SendError::Smtp { source, permanent }
            }),
        }
    }
}

/// Builds the MIME message of a row: text and HTML as alternatives, then
/// any attachments; the stored Message-ID, so a resend is recognisable as
/// the same message.
pub fn build_message(
    row: &OutboxRow,
    from: &Mailbox,
    now: DateTime<Utc>,
) -> Result<Message, SendError> {
    let to: Mailbox = row
        .recipient
        .parse()
        .map_err(|e| SendError::Build(format!("recipient: {e}")))?;
    let text = row
        .body_text
        .clone()
        .ok_or_else(|| SendError::Build("the body was already cleared".into()))?;
    let body = match &row.body_html {
        Some(html) => MultiPart::alternative_plain_html(text, html.clone()),
        None => MultiPart::mixed().singlepart(SinglePart::plain(text)),
    };
    let attachments = row.attachments();
    let body = if attachments.is_empty() {
        body
    } else {
        let mut mixed = MultiPart::mixed().multipart(body);
        for a in attachments {
            let content_type = ContentType::parse(&a.content_type)
                .map_err(|e| SendError::Build(format!("attachment content type: {e}")))?;
            mixed = mixed.singlepart(MimeAttachment::new(a.filename).body(a.content, content_type));
        }
        mixed
    };
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(row.subject.clone())
        .message_id(Some(row.message_id.clone()))
        .date(SystemTime::from(now))
        .multipart(body)
        .map_err(|e| SendError::Build(e.to_string()))
}
