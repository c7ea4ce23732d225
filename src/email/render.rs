//! Renders email kinds from `templates/email/<kind>/{subject.txt,
//! body.txt,body.html}` into a subject and both bodies.

use askama::Template;
use lettre::message::Mailbox;
use uuid::Uuid;

use super::outbox::NewEmail;

/// A rendered message, before it is addressed.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// One kind of email: its name in the outbox, whether its body carries a
/// secret link (then it is cleared once sent), and how it renders.
pub trait EmailContent {
    const KIND: &'static str;
    const CARRIES_SECRET: bool;

    fn render(&self) -> Result<Rendered, askama::Error>;

    /// Renders and addresses the message for the outbox.
    fn to_email(
        &self,
        to: Mailbox,
        recipient_user_id: Option<Uuid>,
    ) -> Result<NewEmail, askama::Error> {
        let rendered = self.render()?;
        Ok(NewEmail {
            kind: Self::KIND.to_owned(),
            to,
            recipient_user_id,
            // Subjects are one line; templates end with a newline.
            subject: rendered.subject.trim().to_owned(),
            text: rendered.text,
            html: Some(rendered.html),
            attachments: Vec::new(),
            carries_secret: Self::CARRIES_SECRET,
            not_before: None,
            dedupe_key: None,
            booking_id: None,
            expires_at: None,
        })
    }
}

/// Declares the three templates of a kind over one content struct `$ctx`
/// (fields reached as `m.<field>` in the templates).
macro_rules! email_templates {
    ($ctx:ident, $kind:literal, secret = $secret:literal,
     $subject:ident = $sp:literal, $text:ident = $tp:literal, $html:ident = $hp:literal) => {
        #[derive(Template)]
        #[template(path = $sp)]
        #[allow(dead_code, reason = "a subject line may not need the message's fields")]
        struct $subject<'a> {
            m: &'a $ctx,
        }
        #[derive(Template)]
        #[template(path = $tp)]
        struct $text<'a> {
            m: &'a $ctx,
        }
        #[derive(Template)]
        #[template(path = $hp)]
        struct $html<'a> {
            m: &'a $ctx,
        }
        impl EmailContent for $ctx {
            const KIND: &'static str = $kind;
            const CARRIES_SECRET: bool = $secret;

            fn render(&self) -> Result<Rendered, askama::Error> {
                Ok(Rendered {
                    subject: $subject { m: self }.render()?,
                    text: $text { m: self }.render()?,
                    html: $html { m: self }.render()?,
                })
            }
        }
    };
}
pub(crate) use email_templates;

/// Sent when an administrator creates an account from the command line.
#[derive(Debug, Clone)]
pub struct Welcome {
    pub display_name: String,
    pub role: String,
    pub sign_in_url: String,
    pub home_url: String,
}

email_templates!(
    Welcome,
    "welcome",
    secret = false,
    WelcomeSubject = "email/welcome/subject.txt",
    WelcomeText = "email/welcome/body.txt",
    WelcomeHtml = "email/welcome/body.html"
);

/// The link that confirms an address (sign-up or email change).
#[derive(Debug, Clone)]
pub struct VerifyEmail {
    pub display_name: String,
    pub link: String,
    /// Confirms a new address of an existing account, not a sign-up.
    pub email_change: bool,
}

email_templates!(
    VerifyEmail,
    "verify_email",
    secret = true,
    VerifyEmailSubject = "email/verify_email/subject.txt",
    VerifyEmailText = "email/verify_email/body.txt",
    VerifyEmailHtml = "email/verify_email/body.html"
);

#[derive(Debug, Clone)]
pub struct PasswordReset {
    pub display_name: String,
    pub link: String,
}

email_templates!(
    PasswordReset,
    "password_reset",
    secret = true,
    PasswordResetSubject = "email/password_reset/subject.txt",
    PasswordResetText = "email/password_reset/body.txt",
    PasswordResetHtml = "email/password_reset/body.html"
);

/// A reset asked for an address without an account (`display_name`
/// `None`) or of a disabled account: told instead of a link, so every
/// request sends one email and none reveals which addresses have accounts.
#[derive(Debug, Clone)]
pub struct ResetUnavailable {
    pub display_name: Option<String>,
    pub forgot_url: String,
    pub register_url: String,
}

email_templates!(
    ResetUnavailable,
    "reset_unavailable",
    secret = false,
    ResetUnavailableSubject = "email/reset_unavailable/subject.txt",
    ResetUnavailableText = "email/reset_unavailable/body.txt",
    ResetUnavailableHtml = "email/reset_unavailable/body.html"
);

/// After a reset or change: the account's owner learns of it.
#[derive(Debug, Clone)]
pub struct PasswordChanged {
    pub display_name: String,
    /// When, in the recipient's zone with the zone named.
    pub when: String,
    pub forgot_url: String,
    /// Changed from a signed-in session, which stays signed in.
    pub kept_current_session: bool,
}

email_templates!(
    PasswordChanged,
    "password_changed",
    secret = false,
    PasswordChangedSubject = "email/password_changed/subject.txt",
    PasswordChangedText = "email/password_changed/body.txt",
    PasswordChangedHtml = "email/password_changed/body.html"
);

/// Sign-up with an address that has an account: the page says "check your
/// inbox" as for a new one, and the owner gets this.
#[derive(Debug, Clone)]
pub struct RegisterAttempt {
    pub display_name: String,
    pub login_url: String,
    pub forgot_url: String,
}

email_templates!(
    RegisterAttempt,
    "register_attempt",
    secret = false,
    RegisterAttemptSubject = "email/register_attempt/subject.txt",
    RegisterAttemptText = "email/register_attempt/body.txt",
    RegisterAttemptHtml = "email/register_attempt/body.html"
);

/// An email change was asked for: the account's current address learns
/// of it (the change itself waits for the link sent to the new address).
#[derive(Debug, Clone)]
pub struct EmailChangeNotice {
    pub display_name: String,
    pub new_email: String,
    /// When, in the recipient's zone with the zone named.
    pub when: String,
    pub forgot_url: String,
}

email_templates!(
    EmailChangeNotice,
    "email_change_notice",
    secret = false,
    EmailChangeNoticeSubject = "email/email_change_notice/subject.txt",
    EmailChangeNoticeText = "email/email_change_notice/body.txt",
    EmailChangeNoticeHtml = "email/email_change_notice/body.html"
);

/// An email change to an address that has an account: its owner gets this
/// instead of a link, and the asker sees the same page either way.
#[derive(Debug, Clone)]
pub struct EmailChangeTaken {
    pub display_name: String,
    pub login_url: String,
    pub forgot_url: String,
}

email_templates!(
    EmailChangeTaken,
    "email_change_taken",
    secret = false,
    EmailChangeTakenSubject = "email/email_change_taken/subject.txt",
    EmailChangeTakenText = "email/email_change_taken/body.txt",
    EmailChangeTakenHtml = "email/email_change_taken/body.html"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn welcome_renders_both_parts_and_escapes_html() {
        let m = Welcome {
            display_name: "Ada <script>".into(),
            role: "mentor".into(),
            sign_in_url: "https://hours.example.org/login".into(),
            home_url: "https://hours.example.org/".into(),
        };
        let r = m.render().unwrap();
        assert_eq!(
            r.subject.trim(),
            "Your Office Hours account is ready, Ada <script>"
        );
        assert!(r.text.contains("Ada <script>"), "plain text is not escaped");
        assert!(r.text.contains("https://hours.example.org/login"));
        assert!(r.html.contains("Ada &#60;script&#62;") || r.html.contains("Ada &lt;script&gt;"));
        assert!(!r.html.contains("<script>"));
        // Narrower than 600 px on a phone: no fixed width.
        assert!(!r.html.contains("width=\"600\""));
        assert!(r.html.contains("max-width:600px"));
        // A long link (a manage token) wraps instead of widening it.
        assert!(r.html.contains("overflow-wrap:anywhere"));
    }
}
