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

/// Builds the MIME message of a row; the stored Message-ID, so a resend is
/// recognisable as the same message.
///
/// A calendar invitation (an attachment of type `text/calendar` with a
/// `method=`) is sent the way iMIP (RFC 6047) and the big calendar clients
/// expect it: inline, as the last alternative next to the text and HTML
/// bodies, which is what Outlook, Gmail and Apple Mail act on (add, move,
/// or remove the event); and again as a plain `invite.ics` download
/// (`application/ics`, so no client takes it for a second invitation).
/// Other attachments follow the alternatives as they are.
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
    let content_type = |raw: &str| {
        ContentType::parse(raw)
            .map_err(|e| SendError::Build(format!("attachment content type: {e}")))
    };
    let attachments = row.attachments();
    let invitation = attachments.iter().find(|a| is_invitation(&a.content_type));
    let mut body = MultiPart::alternative().singlepart(SinglePart::plain(text));
    if let Some(html) = &row.body_html {
        body = body.singlepart(SinglePart::html(html.clone()));
    }
    if let Some(invite) = invitation {
        body = body.singlepart(
            SinglePart::builder()
                .header(content_type(&invite.content_type)?)
                .body(invite.content.clone()),
        );
    }
    let body = if attachments.is_empty() {
        body
    } else {
        let mut mixed = MultiPart::mixed().multipart(body);
        for a in attachments {
            let kind = if is_invitation(&a.content_type) {
                content_type("application/ics")?
            } else {
                content_type(&a.content_type)?
            };
            mixed = mixed.singlepart(MimeAttachment::new(a.filename).body(a.content, kind));
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

/// Whether an attachment's content type is a calendar invitation (iMIP):
/// `text/calendar` with a `method=` parameter.
fn is_invitation(content_type: &str) -> bool {
    let mut parts = content_type.split(';').map(str::trim);
    parts
        .next()
        .is_some_and(|t| t.eq_ignore_ascii_case("text/calendar"))
        && parts.any(|p| {
            p.split_once('=')
                .is_some_and(|(k, _)| k.trim().eq_ignore_ascii_case("method"))
        })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use mail_parser::{MessageParser, MimeHeaders, PartType};
    use uuid::Uuid;

    use super::*;
    use crate::email::outbox::Attachment;

    const INVITE: &str = "BEGIN:VCALENDAR\r\nMETHOD:CANCEL\r\nEND:VCALENDAR\r\n";

    fn row(html: Option<&str>, attachments: Vec<Attachment>) -> OutboxRow {
        let at = Utc.with_ymd_and_hms(2026, 11, 26, 9, 0, 0).unwrap();
        OutboxRow {
            id: Uuid::nil(),
            kind: "booking_cancelled".into(),
            recipient: "Priya <priya@example.org>".into(),
            recipient_user_id: None,
            subject: "Cancelled".into(),
            body_text: Some("Hello Priya,".into()),
            body_html: html.map(str::to_owned),
            attachments: serde_json::to_value(attachments).unwrap(),
            message_id: "<x@officehours.test>".into(),
            carries_secret: false,
            state: "sending".into(),
            attempts: 0,
            not_before: at,
            next_attempt_at: at,
            lease_token: None,
            lease_until: None,
            last_error: None,
            dedupe_key: None,
            created_at: at,
            sent_at: None,
            booking_id: None,
            expires_at: None,
        }
    }

    fn formatted(row: &OutboxRow) -> Vec<u8> {
        let from: Mailbox = "Office Hours <hours@officehours.test>".parse().unwrap();
        build_message(row, &from, row.created_at)
            .unwrap()
            .formatted()
    }

    /// (content type with subtype, `method` parameter, attachment name) of
    /// every leaf part, in order.
    fn leaves(raw: &[u8]) -> Vec<(String, Option<String>, Option<String>)> {
        let msg = MessageParser::default().parse(raw).unwrap();
        msg.parts
            .iter()
            .filter(|p| !matches!(p.body, PartType::Multipart(_)))
            .map(|p| {
                let ct = p.content_type().unwrap();
                (
                    format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or_default()),
                    ct.attribute("method").map(str::to_owned),
                    p.attachment_name().map(str::to_owned),
                )
            })
            .collect()
    }

    #[test]
    fn an_invitation_is_an_inline_alternative_and_a_download() {
        let invite = Attachment {
            filename: "invite.ics".into(),
            content_type: "text/calendar; charset=utf-8; method=CANCEL".into(),
            content: INVITE.into(),
        };
        let raw = formatted(&row(Some("<p>Hello Priya,</p>"), vec![invite]));
        assert_eq!(
            leaves(&raw),
            vec![
                ("text/plain".into(), None, None),
                ("text/html".into(), None, None),
                ("text/calendar".into(), Some("CANCEL".into()), None),
                ("application/ics".into(), None, Some("invite.ics".into())),
            ]
        );
        let msg = MessageParser::default().parse(&raw).unwrap();
        // The three bodies are alternatives of one another, inside the
        // mixed message that carries the download.
        assert_eq!(
            msg.content_type().map(|c| c.subtype().unwrap_or_default()),
            Some("mixed")
        );
        let PartType::Multipart(top) = &msg.parts[0].body else {
            panic!("not multipart")
        };
        let alternative = &msg.parts[top[0] as usize];
        assert_eq!(
            alternative.content_type().unwrap().subtype(),
            Some("alternative")
        );
        let PartType::Multipart(inner) = &alternative.body else {
            panic!("not multipart")
        };
        assert_eq!(inner.len(), 3);
        for part in [inner[2], top[1]] {
            let p = &msg.parts[part as usize];
            assert_eq!(p.contents(), INVITE.as_bytes(), "the calendar, unchanged");
        }
    }

    #[test]
    fn a_plain_message_or_other_attachment_is_left_as_it_is() {
        let raw = formatted(&row(None, vec![]));
        assert_eq!(leaves(&raw), vec![("text/plain".into(), None, None)]);
        let file = Attachment {
            filename: "notes.ics".into(),
            content_type: "text/calendar; charset=utf-8".into(),
            content: INVITE.into(),
        };
        let raw = formatted(&row(None, vec![file]));
        assert_eq!(
            leaves(&raw),
            vec![
                ("text/plain".into(), None, None),
                ("text/calendar".into(), None, Some("notes.ics".into())),
            ]
        );
    }

    #[test]
    fn invitations_are_recognised_by_type_and_method() {
        assert!(is_invitation(
            "text/calendar; charset=utf-8; method=REQUEST"
        ));
        assert!(is_invitation("Text/Calendar;METHOD=cancel"));
        assert!(!is_invitation("text/calendar; charset=utf-8"));
        assert!(!is_invitation("application/ics; method=REQUEST"));
        assert!(!is_invitation("text/calendarx; method=REQUEST"));
    }
}
