//! Typed settings, read once from the environment at start-up and passed
//! around as app data (no globals). Owns the names and defaults of every
//! setting in the README; depends on nothing else in the crate.

use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use ipnet::IpNet;
use lettre::message::Mailbox;
use sha2::{Digest, Sha256};
use url::Url;

/// A value that must never reach a log line or an error page.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    pub fn new(value: T) -> Self {
        Self(value)
    }

    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// A setting that could not be used, with the variable's name.
#[derive(Debug, thiserror::Error)]
#[error("{name}: {message}")]
pub struct ConfigError {
    pub name: &'static str,
    pub message: String,
}

fn invalid(name: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        name,
        message: message.into(),
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub database_url: Secret<String>,
    pub bind: SocketAddr,
    pub base_url: Url,
    pub secret_key: Option<Secret<Vec<u8>>>,
    pub smtp_url: Option<Secret<String>>,
    pub smtp_from: Mailbox,
    pub log_filter: String,
    pub session_idle: Duration,
    pub session_absolute: Duration,
    pub trusted_proxies: Vec<IpNet>,
    pub hash_concurrency: usize,
    pub db_pool_size: u32,
    /// How long `/admin`'s statistics are reused before being counted
    /// again (0 = always count).
    pub stats_cache: Duration,
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests can pass their own values
    /// without touching the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        // An empty variable means "unset", as shells make that easy to do.
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());

        let database_url = match get("DATABASE_URL") {
            Some(url) => url,
            None => private_cluster_url()?,
        };
        validate_database_url(&database_url)?;

        let bind: SocketAddr = match get("OFFICEHOURS_BIND") {
            Some(v) => v.trim().parse().map_err(|_| {
                invalid(
                    "OFFICEHOURS_BIND",
                    format!("{v:?} is not a socket address like 127.0.0.1:8080"),
                )
            })?,
            None => SocketAddr::from(([127, 0, 0, 1], 8080)),
        };

        let base_url = match get("OFFICEHOURS_BASE_URL") {
            Some(v) => parse_base_url(&v)?,
            None => parse_base_url(&format!("http://{bind}"))?,
        };

        let secret_key = match get("OFFICEHOURS_SECRET_KEY") {
            Some(v) if v.len() >= 32 => Some(Secret::new(v.into_bytes())),
            Some(_) => {
                return Err(invalid(
                    "OFFICEHOURS_SECRET_KEY",
                    "must be at least 32 characters (e.g. `openssl rand -hex 32`)",
                ));
            }
            None => None,
        };

        let smtp_url = match get("SMTP_URL") {
            Some(v) => {
                let parsed = Url::parse(v.trim())
                    .map_err(|e| invalid("SMTP_URL", format!("not a URL ({e})")))?;
                if !matches!(parsed.scheme(), "smtp" | "smtps") {
                    return Err(invalid(
                        "SMTP_URL",
                        "scheme must be smtp:// or smtps:// (e.g. smtp://127.0.0.1:1025)",
                    ));
                }
                if parsed.host_str().is_none() {
                    return Err(invalid("SMTP_URL", "has no host"));
                }
                Some(Secret::new(v.trim().to_owned()))
            }
            None => None,
        };

        let smtp_from: Mailbox = get("SMTP_FROM")
            .unwrap_or_else(|| "Office Hours <no-reply@localhost>".to_owned())
            .parse()
            .map_err(|e| {
                invalid(
                    "SMTP_FROM",
                    format!("not a mailbox like `Office Hours <no-reply@example.org>` ({e})"),
                )
            })?;

        let log_filter = get("OFFICEHOURS_LOG").unwrap_or_else(|| "info".to_owned());
        tracing_subscriber::EnvFilter::try_new(&log_filter)
            .map_err(|e| invalid("OFFICEHOURS_LOG", format!("not a log filter ({e})")))?;

        let session_idle = duration(
            "OFFICEHOURS_SESSION_IDLE",
            get("OFFICEHOURS_SESSION_IDLE"),
            Duration::from_secs(12 * 3600),
        )?;
        let session_absolute = duration(
            "OFFICEHOURS_SESSION_ABSOLUTE",
            get("OFFICEHOURS_SESSION_ABSOLUTE"),
            Duration::from_secs(30 * 24 * 3600),
        )?;
        if session_idle > session_absolute {
            return Err(invalid(
                "OFFICEHOURS_SESSION_IDLE",
                "must not be longer than OFFICEHOURS_SESSION_ABSOLUTE",
            ));
        }

        let trusted_proxies = match get("OFFICEHOURS_TRUSTED_PROXIES") {
            Some(v) => parse_cidrs(&v)?,
            None => Vec::new(),
        };

        let hash_concurrency = positive(
            "OFFICEHOURS_HASH_CONCURRENCY",
            get("OFFICEHOURS_HASH_CONCURRENCY"),
            num_cpus::get().max(1),
        )?;
        let db_pool_size = positive(
            "OFFICEHOURS_DB_POOL",
            get("OFFICEHOURS_DB_POOL"),
            default_pool_size(),
        )?;
        let db_pool_size = u32::try_from(db_pool_size)
            .map_err(|_| invalid("OFFICEHOURS_DB_POOL", "is too large"))?;
        let stats_cache = match get("OFFICEHOURS_STATS_CACHE") {
            Some(v) if v.trim() == "0" => Duration::ZERO,
            other => duration("OFFICEHOURS_STATS_CACHE", other, Duration::from_secs(30))?,
        };

        Ok(Self {
            database_url: Secret::new(database_url),
            bind,
            base_url,
            secret_key,
            smtp_url,
            smtp_from,
            log_filter,
            session_idle,
            session_absolute,
            trusted_proxies,
            hash_concurrency,
            db_pool_size,
            stats_cache,
        })
    }

    /// Whether cookies get `Secure` and responses get HSTS.
    pub fn is_https(&self) -> bool {
        self.base_url.scheme() == "https"
    }

    /// Absolute URL for a path of this service, for links in emails.
    pub fn absolute_url(&self, path_and_query: &str) -> String {
        let base = self.base_url.as_str().trim_end_matches('/');
        format!("{base}{path_and_query}")
    }

    /// An absolute link carrying a secret token in its query, e.g.
    /// `/verify-email?token=…` (tokens are URL-safe; encoded anyway).
    pub fn token_link(&self, path: &str, token: &str) -> String {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("token", token)
            .finish();
        self.absolute_url(&format!("{path}?{query}"))
    }

    /// The database URL without its password, for error messages.
    pub fn database_display(&self) -> String {
        redact_url(self.database_url.expose())
    }
}

/// A URL with any password replaced, safe to print.
pub fn redact_url(raw: &str) -> String {
    match Url::parse(raw) {
        Ok(mut url) => {
            if url.password().is_some() {
                let _ = url.set_password(Some("***"));
            }
            url.to_string()
        }
        Err(_) => "(unparseable URL)".to_owned(),
    }
}

fn validate_database_url(url: &str) -> Result<(), ConfigError> {
    let parsed = Url::parse(url).map_err(|e| {
        invalid(
            "DATABASE_URL",
            format!("not a URL ({e}); expected postgres://user@host:port/database"),
        )
    })?;
    if !matches!(parsed.scheme(), "postgres" | "postgresql") {
        return Err(invalid(
            "DATABASE_URL",
            "scheme must be postgres:// or postgresql://",
        ));
    }
    Ok(())
}

fn parse_base_url(v: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(v.trim()).map_err(|e| {
        invalid(
            "OFFICEHOURS_BASE_URL",
            format!("{v:?} is not an absolute URL ({e})"),
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(invalid(
            "OFFICEHOURS_BASE_URL",
            "must be an http:// or https:// URL with a host",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(
            "OFFICEHOURS_BASE_URL",
            "must not have a query or fragment",
        ));
    }
    Ok(url)
}

fn duration(
    name: &'static str,
    value: Option<String>,
    default: Duration,
) -> Result<Duration, ConfigError> {
    match value {
        None => Ok(default),
        Some(v) => {
            let d = humantime::parse_duration(v.trim()).map_err(|e| {
                invalid(
                    name,
                    format!("{v:?} is not a duration like 12h or 30d ({e})"),
                )
            })?;
            if d.is_zero() {
                return Err(invalid(name, "must be longer than zero"));
            }
            Ok(d)
        }
    }
}

/// Connections per server: twice the cores plus one — the usual starting
/// point for a PostgreSQL pool (each connection is a backend process; more
/// runnable backends than cores only queue inside PostgreSQL, where a
/// trivial request can wait behind a busy one for a whole scheduler slice;
/// see the README's booking load runs, where 16 on two cores gave
/// `/readyz` answers over a second and 4-5 none).
pub fn default_pool_size() -> usize {
    2 * num_cpus::get().max(1) + 1
}

fn positive(
    name: &'static str,
    value: Option<String>,
    default: usize,
) -> Result<usize, ConfigError> {
    match value {
        None => Ok(default),
        Some(v) => match v.trim().parse::<usize>() {
            Ok(n) if (1..=10_000).contains(&n) => Ok(n),
            _ => Err(invalid(
                name,
                format!("{v:?} is not a whole number from 1 to 10000"),
            )),
        },
    }
}

fn parse_cidrs(v: &str) -> Result<Vec<IpNet>, ConfigError> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    invalid(
                        "OFFICEHOURS_TRUSTED_PROXIES",
                        format!("{s:?} is not an IP address or CIDR like 10.0.0.0/8"),
                    )
                })
        })
        .collect()
}

/// Where `scripts/db` keeps this checkout's private cluster; must match the
/// scheme in that script.
pub fn private_cluster_dir(checkout: &Path) -> std::path::PathBuf {
    let digest = Sha256::digest(checkout.to_string_lossy().as_bytes());
    let hash = hex::encode(digest);
    Path::new("/var/tmp/officehours").join(&hash[..12])
}

fn private_cluster_url() -> Result<String, ConfigError> {
    let dir = private_cluster_dir(Path::new(env!("CARGO_MANIFEST_DIR")));
    let port_file = dir.join("port");
    let port = std::fs::read_to_string(&port_file)
        .ok()
        .and_then(|p| p.trim().parse::<u16>().ok())
        .ok_or_else(|| {
            invalid(
                "DATABASE_URL",
                "is not set and the private database is not set up (run `scripts/db start`, or set DATABASE_URL)",
            )
        })?;
    Ok(format!(
        "postgres://officehours@127.0.0.1:{port}/officehours"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let map = {
            let mut m = map;
            m.entry("DATABASE_URL".into())
                .or_insert_with(|| "postgres://u@127.0.0.1:5432/db".into());
            m
        };
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_match_the_readme() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(s.base_url.as_str(), "http://127.0.0.1:8080/");
        assert!(!s.is_https());
        assert!(s.smtp_url.is_none());
        assert_eq!(s.smtp_from.to_string(), "Office Hours <no-reply@localhost>");
        assert_eq!(s.log_filter, "info");
        assert_eq!(s.session_idle, Duration::from_secs(12 * 3600));
        assert_eq!(s.session_absolute, Duration::from_secs(30 * 86400));
        assert!(s.trusted_proxies.is_empty());
        assert_eq!(
            s.db_pool_size,
            u32::try_from(2 * num_cpus::get() + 1).unwrap()
        );
        assert!(s.hash_concurrency >= 1);
        assert_eq!(s.stats_cache, Duration::from_secs(30));
        let s = settings(&[("OFFICEHOURS_STATS_CACHE", "0")]).unwrap();
        assert_eq!(s.stats_cache, Duration::ZERO);
        let s = settings(&[("OFFICEHOURS_STATS_CACHE", "2m")]).unwrap();
        assert_eq!(s.stats_cache, Duration::from_secs(120));
        assert!(settings(&[("OFFICEHOURS_STATS_CACHE", "soon")]).is_err());
    }

    #[test]
    fn base_url_follows_bind_and_https_is_detected() {
        let s = settings(&[("OFFICEHOURS_BIND", "0.0.0.0:9000")]).unwrap();
        assert_eq!(s.base_url.as_str(), "http://0.0.0.0:9000/");
        let s = settings(&[("OFFICEHOURS_BASE_URL", "https://hours.example.org")]).unwrap();
        assert!(s.is_https());
        assert_eq!(s.absolute_url("/x?y=1"), "https://hours.example.org/x?y=1");
    }

    #[test]
    fn malformed_values_name_the_variable() {
        for (name, value) in [
            ("OFFICEHOURS_BIND", "nonsense"),
            ("OFFICEHOURS_BASE_URL", "ftp://x"),
            ("OFFICEHOURS_SECRET_KEY", "short"),
            ("SMTP_URL", "http://mail"),
            ("SMTP_FROM", "not an address"),
            ("OFFICEHOURS_LOG", "[[["),
            ("OFFICEHOURS_SESSION_IDLE", "soon"),
            ("OFFICEHOURS_TRUSTED_PROXIES", "10.0.0.0/99"),
            ("OFFICEHOURS_HASH_CONCURRENCY", "0"),
            ("OFFICEHOURS_DB_POOL", "-1"),
            ("DATABASE_URL", "mysql://x"),
        ] {
            let err = settings(&[(name, value)]).unwrap_err();
            assert_eq!(err.name, name, "{value}");
            assert!(err.to_string().starts_with(name));
        }
    }

    #[test]
    fn proxies_accept_cidrs_and_bare_addresses() {
        let s =
            settings(&[("OFFICEHOURS_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.1,::1")]).unwrap();
        assert_eq!(s.trusted_proxies.len(), 3);
    }

    #[test]
    fn secrets_do_not_print() {
        let s = settings(&[("DATABASE_URL", "postgres://u:hunter2@h/db")]).unwrap();
        assert!(!format!("{s:?}").contains("hunter2"));
        assert!(!s.database_display().contains("hunter2"));
    }
}
