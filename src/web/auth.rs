//! Who is asking, and may they: the session and pre-session cookies, the
//! CSRF token bound to either, the client address, and the one extractor
//! (`Auth<R>`) every protected handler uses for its role check.

use std::future::Future;
use std::marker::PhantomData;
use std::net::IpAddr;
use std::pin::Pin;
use std::rc::Rc;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::http::Method;
use actix_web::web::{Bytes, Data};
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use ipnet::IpNet;
use serde::de::DeserializeOwned;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use tokio::sync::OnceCell;

use super::{NavUser, PageCtx};
use crate::accounts::session::{self, Session};
use crate::accounts::tokens;
use crate::accounts::{Role, User};
use crate::error::AppError;
use crate::state::AppState;

pub const SESSION_COOKIE: &str = "oh_session";
pub const PRE_SESSION_COOKIE: &str = "oh_pre";

/// HMAC-SHA256 of `value` under `key`, bound to a `purpose`.
pub fn mac(key: &[u8], purpose: &str, value: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length.
    let mut m = match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return Vec::new(),
    };
    m.update(purpose.as_bytes());
    m.update(b"\0");
    m.update(value);
    m.finalize().into_bytes().to_vec()
}

fn equal(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// A cookie with the attributes every cookie of ours has.
pub fn cookie(name: &'static str, value: String, https: bool) -> Cookie<'static> {
    Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(https)
        .finish()
}

/// A cookie that tells the browser to forget `name`.
pub fn removal(name: &'static str, https: bool) -> Cookie<'static> {
    let mut c = cookie(name, String::new(), https);
    c.make_removal();
    c
}

/// The signed pre-session identifier of a browser that has not signed in:
/// what its CSRF tokens are bound to.
#[derive(Debug, Clone)]
pub struct PreSession {
    pub value: String,
    /// Made for this request: the response must set the cookie.
    pub fresh: bool,
}

impl PreSession {
    pub fn from_cookie(req: &HttpRequest, key: &[u8]) -> Option<Self> {
        let raw = req.cookie(PRE_SESSION_COOKIE)?;
        let (value, sig) = raw.value().split_once('.')?;
        let sig = URL_SAFE_NO_PAD.decode(sig).ok()?;
        equal(&sig, &mac(key, "pre-session-cookie", value.as_bytes())).then(|| PreSession {
            value: value.to_owned(),
            fresh: false,
        })
    }

    pub fn new() -> Self {
        PreSession {
            value: tokens::generate(),
            fresh: true,
        }
    }

    pub fn cookie_value(&self, key: &[u8]) -> String {
        let sig = URL_SAFE_NO_PAD.encode(mac(key, "pre-session-cookie", self.value.as_bytes()));
        format!("{}.{}", self.value, sig)
    }
}

impl Default for PreSession {
    fn default() -> Self {
        Self::new()
    }
}

/// The client address: the socket peer, or — only when that peer is a
/// trusted proxy — the nearest untrusted address in `X-Forwarded-For`,
/// read from the right. An IPv4 address in IPv6 form (`::ffff:a.b.c.d`,
/// what a socket bound to `[::]` reports) counts as the IPv4 address.
pub fn client_ip(req: &HttpRequest, trusted: &[IpNet]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip().to_canonical();
    Some(forwarded_client(
        peer,
        req.headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok()),
        trusted,
    ))
}

/// [`client_ip`] on the peer and the `X-Forwarded-For` values. Proxies
/// append, so only entries to the right of the nearest untrusted one were
/// written by proxies we trust; an entry that is not a bare address (a
/// port, brackets, a zone) ends the walk at the proxy that wrote it, as
/// the client could have written everything further left.
fn forwarded_client<'a>(
    peer: IpAddr,
    headers: impl Iterator<Item = &'a str>,
    trusted: &[IpNet],
) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let entries: Vec<&str> = headers.flat_map(|v| v.split(',')).collect();
    let mut client = peer;
    for entry in entries.iter().rev() {
        match entry.trim().parse::<IpAddr>() {
            Ok(ip) => {
                client = ip.to_canonical();
                if !is_trusted(&client) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    client
}

/// The viewer of a page: signed in or not, with the CSRF token their forms
/// must carry. Looked up once per request.
#[derive(Clone)]
pub struct Viewer {
    pub signed_in: Option<(Session, User)>,
    pub csrf_token: String,
    /// Signed out on a public page: that page, for the header's links.
    pub return_to: Option<String>,
}

impl Viewer {
    pub fn user(&self) -> Option<&User> {
        self.signed_in.as_ref().map(|(_, u)| u)
    }

    pub fn page(&self) -> PageCtx {
        PageCtx {
            user: self.user().map(|u| NavUser {
                display_name: u.display_name.clone(),
                role: u.role,
                verified: u.email_verified_at.is_some(),
            }),
            csrf_token: self.csrf_token.clone(),
            return_to: self.return_to.clone(),
        }
    }

    /// The header of an error page for `req`: its viewer when a handler's
    /// extractor already looked them up, else (with `look_up`, and only
    /// with a connection idle in the pool: an error page never queues for
    /// one) looked up now, else anonymous. A signed-in person's 404 or 403
    /// then still shows them signed in.
    pub async fn page_for_error(req: HttpRequest, look_up: bool) -> PageCtx {
        let cached = req
            .extensions()
            .get::<ViewerCell>()
            .and_then(|cell| cell.0.get().cloned());
        let idle = req
            .app_data::<Data<AppState>>()
            .is_some_and(|state| state.pool.state().idle_connections > 0);
        match cached {
            Some(viewer) => viewer.page(),
            None if look_up && idle && req.cookie(SESSION_COOKIE).is_some() => Self::load(req)
                .await
                .map(|viewer| viewer.page())
                .unwrap_or_default(),
            None => PageCtx::anonymous(),
        }
    }

    /// Checks a submitted CSRF token in constant time.
    pub fn csrf_ok(&self, submitted: &str) -> bool {
        equal(submitted.as_bytes(), self.csrf_token.as_bytes())
    }

    /// The request's viewer, looked up once however many extractors ask:
    /// actix polls a handler's extractors together, so `Auth` and
    /// `CsrfForm` of one POST both arrive here before either has an
    /// answer; the second waits for the first's lookup instead of making
    /// its own (which doubled the session reads of every form POST).
    async fn load(req: HttpRequest) -> Result<Self, AppError> {
        let cell = req
            .extensions_mut()
            .get_or_insert_with(|| ViewerCell(Rc::new(OnceCell::new())))
            .0
            .clone();
        cell.get_or_try_init(|| Self::lookup(&req)).await.cloned()
    }

    async fn lookup(req: &HttpRequest) -> Result<Self, AppError> {
        let state = req
            .app_data::<Data<AppState>>()
            .cloned()
            .ok_or_else(|| AppError::internal("AppState missing"))?;
        let key = state.secret_key.expose().clone();
        let signed_in = match req.cookie(SESSION_COOKIE) {
            Some(c) if !c.value().is_empty() => {
                let token = c.value().to_owned();
                let now = state.clock.now();
                let idle = chrono::Duration::from_std(state.settings.session_idle)
                    .unwrap_or(chrono::Duration::hours(12));
                state
                    .db(move |conn| session::lookup(conn, &token, now, idle))
                    .await?
            }
            _ => None,
        };
        let csrf_token = match &signed_in {
            Some((s, _)) => URL_SAFE_NO_PAD.encode(mac(&key, "csrf-session", s.id.as_bytes())),
            None => {
                let pre = req
                    .extensions()
                    .get::<PreSession>()
                    .cloned()
                    .unwrap_or_default();
                URL_SAFE_NO_PAD.encode(mac(&key, "csrf-pre-session", pre.value.as_bytes()))
            }
        };
        let return_to = signed_in.is_none().then(|| return_to(req)).flatten();
        Ok(Viewer {
            signed_in,
            csrf_token,
            return_to,
        })
    }
}

/// Where a request keeps its viewer once looked up (see `Viewer::load`).
struct ViewerCell(Rc<OnceCell<Viewer>>);

impl FromRequest for Viewer {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        Box::pin(Self::load(req.clone()))
    }
}

/// The least role a handler needs.
pub trait MinRole {
    const ROLE: Role;
}

pub struct AnyRole;
pub struct MentorRole;
pub struct AdminRole;

impl MinRole for AnyRole {
    const ROLE: Role = Role::Learner;
}
impl MinRole for MentorRole {
    const ROLE: Role = Role::Mentor;
}
impl MinRole for AdminRole {
    const ROLE: Role = Role::Admin;
}

fn rank(role: Role) -> u8 {
    match role {
        Role::Learner => 0,
        Role::Mentor => 1,
        Role::Admin => 2,
    }
}

/// A signed-in user with at least role `R`. Not signed in: a redirect to
/// the sign-in page (and back afterwards); signed in with a lesser role: 403.
pub struct Auth<R: MinRole = AnyRole> {
    pub user: User,
    pub session: Session,
    pub viewer: Viewer,
    _role: PhantomData<R>,
}

impl<R: MinRole> Auth<R> {
    pub fn page(&self) -> PageCtx {
        self.viewer.page()
    }
}

impl<R: MinRole + 'static> FromRequest for Auth<R> {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let viewer = Viewer::load(req.clone()).await?;
            let Some((session, user)) = viewer.signed_in.clone() else {
                let next = if req.method() == Method::GET {
                    req.uri()
                        .path_and_query()
                        .map(|p| p.as_str().to_owned())
                        .unwrap_or_else(|| "/".to_owned())
                } else {
                    "/".to_owned()
                };
                return Err(AppError::SignInRequired { next });
            };
            if rank(user.role) < rank(R::ROLE) {
                return Err(AppError::Forbidden);
            }
            Ok(Auth {
                user,
                session,
                viewer,
                _role: PhantomData,
            })
        })
    }
}

/// A form body whose CSRF token was checked against the viewer's before
/// the fields are parsed. Cross-site requests are refused earlier, by
/// `middleware::refuse_cross_site`. A body with a NUL anywhere is refused
/// whole (400, see `forms::urlencoded_has_nul`), so no handler passes one
/// to the database; other control characters are each field's to refuse
/// next to it.
pub struct CsrfForm<T> {
    pub viewer: Viewer,
    pub form: T,
}

#[derive(serde::Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf_token: String,
}

/// Largest form body accepted.
const FORM_LIMIT: usize = 64 * 1024;

impl<T: DeserializeOwned + 'static> FromRequest for CsrfForm<T> {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let body = Bytes::from_request(&req, payload);
        Box::pin(async move {
            let viewer = Viewer::load(req.clone()).await?;
            let body = body.await.map_err(|_| AppError::BadRequest)?;
            if body.len() > FORM_LIMIT {
                return Err(AppError::BadRequest);
            }
            let field: CsrfField =
                serde_urlencoded::from_bytes(&body).map_err(|_| AppError::Forbidden)?;
            if !viewer.csrf_ok(&field.csrf_token) {
                return Err(AppError::Forbidden);
            }
            if super::forms::urlencoded_has_nul(&body) {
                return Err(AppError::BadRequest);
            }
            let form = serde_urlencoded::from_bytes(&body).map_err(|_| AppError::BadRequest)?;
            Ok(CsrfForm { viewer, form })
        })
    }
}

/// A `next` target that stays on this site: a path, never `//host` or a URL.
/// Browsers drop tabs and line breaks from a URL and read `\` as `/`, so
/// `/<tab>/evil.example` would leave the site: a value with any control
/// character, space or backslash is refused, and what is left must still
/// resolve to this site's origin.
pub fn safe_next(next: Option<&str>) -> String {
    const HERE: &str = "http://here.invalid";
    let Some(n) = next else {
        return "/".to_owned();
    };
    let plain = n.starts_with('/')
        && !n.starts_with("//")
        && !n
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '\\');
    let same_origin = url::Url::parse(HERE)
        .and_then(|base| base.join(n))
        .is_ok_and(|u| u.origin().ascii_serialization() == HERE);
    if plain && same_origin {
        n.to_owned()
    } else {
        "/".to_owned()
    }
}

/// `link` carrying `next` (already checked by [`safe_next`]); `next` of
/// `/` is left out.
pub fn with_next(link: &str, next: &str) -> String {
    if next == "/" {
        return link.to_owned();
    }
    let sep = if link.contains('?') { '&' } else { '?' };
    let encoded: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
    format!("{link}{sep}next={encoded}")
}

/// Whether `next` is a slot's confirm page (`/book?…`): the sign-in and
/// sign-up pages then say that the visitor comes back to the time they
/// picked.
pub fn next_is_slot(next: &str) -> bool {
    next.split(['?', '#']).next() == Some("/book")
}

/// The page an anonymous visitor's header links (Sign in, Create account)
/// lead back to: a public page they were browsing (a topic or a mentor's
/// week, with its query), or on the sign-in and sign-up pages the `next`
/// they carry; `None` elsewhere. Never a page whose URL holds a secret (a
/// manage link, the feed): `next` travels into emails.
fn return_to(req: &HttpRequest) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Next {
        next: Option<String>,
    }
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return None;
    }
    let path = req.uri().path();
    let here = if path == "/login" || path == "/register" {
        let query = serde_urlencoded::from_str::<Next>(req.query_string()).ok()?;
        safe_next(query.next.as_deref())
    } else if path.starts_with("/topics/") || path.starts_with("/mentors/") {
        let here = req.uri().path_and_query()?.as_str();
        safe_next(Some(here))
    } else {
        return None;
    };
    (here != "/").then_some(here)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_is_the_nearest_untrusted_forwarded_address() {
        let trusted: Vec<IpNet> = vec![
            "127.0.0.1/32".parse().unwrap(),
            "10.0.0.0/8".parse().unwrap(),
        ];
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let client = |peer: &str, xff: &[&str]| {
            forwarded_client(ip(peer).to_canonical(), xff.iter().copied(), &trusted)
        };
        // Not from a proxy: the peer, whatever the header says.
        assert_eq!(client("203.0.113.9", &["9.9.9.9"]), ip("203.0.113.9"));
        // From a proxy: the nearest untrusted entry, from the right.
        assert_eq!(
            client("127.0.0.1", &["9.9.9.9, 198.51.100.9"]),
            ip("198.51.100.9")
        );
        assert_eq!(
            client("127.0.0.1", &["9.9.9.9, 198.51.100.9, 10.1.2.3"]),
            ip("198.51.100.9")
        );
        assert_eq!(
            client("127.0.0.1", &["9.9.9.9", "198.51.100.9"]),
            ip("198.51.100.9")
        );
        // An IPv4 proxy seen through a socket bound to [::] is trusted.
        assert_eq!(
            client("::ffff:127.0.0.1", &["198.51.100.9"]),
            ip("198.51.100.9")
        );
        assert_eq!(
            client("127.0.0.1", &["::ffff:198.51.100.9"]),
            ip("198.51.100.9")
        );
        // An entry that is no bare address stops the walk: never the
        // client's own entry further left.
        assert_eq!(
            client("127.0.0.1", &["9.9.9.9, 198.51.100.9:4321"]),
            ip("127.0.0.1")
        );
        assert_eq!(
            client("127.0.0.1", &["9.9.9.9, [2001:db8::1]:4321"]),
            ip("127.0.0.1")
        );
        assert_eq!(
            client("127.0.0.1", &["9.9.9.9, fe80::1%eth0"]),
            ip("127.0.0.1")
        );
        assert_eq!(
            client("127.0.0.1", &["9.9.9.9, 10.1.2.3, garbage"]),
            ip("127.0.0.1")
        );
        // Only trusted proxies: the leftmost of them.
        assert_eq!(client("127.0.0.1", &["10.1.2.3"]), ip("10.1.2.3"));
        assert_eq!(client("127.0.0.1", &[]), ip("127.0.0.1"));
    }

    #[test]
    fn a_slot_is_told_from_other_pages() {
        assert!(next_is_slot("/book?mentor=1&topic=sql&start=x"));
        assert!(next_is_slot("/book"));
        assert!(!next_is_slot("/bookings/1"));
        assert!(!next_is_slot("/booking"));
        assert!(!next_is_slot("/"));
    }

    #[test]
    fn next_stays_on_site() {
        assert_eq!(safe_next(Some("/account?x=1")), "/account?x=1");
        let slot = "/book?mentor=01a2140c-ae35-748d-87d4-4bed55695a35&topic=sql&start=2026-07-01T10:00:00Z";
        assert_eq!(safe_next(Some(slot)), slot);
        for bad in [
            "//evil.example",
            "https://evil.example",
            "/\\evil",
            "javascript:alert(1)",
            "",
            // Browsers drop tabs and line breaks: these would be //evil.
            "/\t/evil.example",
            "/\t\\evil.example",
            "/\n/evil.example",
            "/\r\n/evil.example",
            "/ /evil.example",
            "/x\\..\\/evil.example",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad}");
        }
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn pre_session_cookie_signature_is_checked() {
        let key = b"k".repeat(32);
        let pre = PreSession::new();
        let signed = pre.cookie_value(&key);
        let (value, sig) = signed.split_once('.').unwrap();
        assert_eq!(value, pre.value);
        let sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
        assert!(equal(
            &sig,
            &mac(&key, "pre-session-cookie", value.as_bytes())
        ));
        assert!(!equal(
            &sig,
            &mac(b"other key", "pre-session-cookie", value.as_bytes())
        ));
    }
}
