//! Shared test harness: per-test databases from a migrated template, the
//! app on port 0, users created directly in the database, the clock.

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::Path;
use std::sync::OnceLock;

use chrono::{DateTime, TimeZone, Utc};
use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, Pool, PooledConnection};
use diesel::{Connection, PgConnection, RunQueryDsl};
use officehours::accounts::service::{self as accounts, NewAccount};
use officehours::accounts::{Role, User};
use officehours::clock::Clock;
use officehours::config::Settings;
use officehours::db;
use officehours::email::transport::Transport;
use officehours::email::worker::Worker;
use officehours::startup::{Application, Options};
use officehours::state::AppState;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::mail::MailSink;

/// The cluster the tests create databases in: `DATABASE_URL` as set by
/// `scripts/test` (the private cluster, or the override).
pub fn admin_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| {
        officehours::config::Settings::from_lookup(|_| None)
            .map(|s| s.database_url.expose().clone())
            .unwrap_or_else(|e| {
                panic!("tests need a database: run scripts/test, or set DATABASE_URL ({e})")
            })
    })
}

/// The URL of database `name` on the same server as `admin`.
pub fn url_for(admin: &str, name: &str) -> String {
    let mut url = url::Url::parse(admin).expect("DATABASE_URL is a URL");
    url.set_path(&format!("/{name}"));
    url.to_string()
}

fn quote_ident(name: &str) -> String {
    assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
    format!("\"{name}\"")
}

/// The template's name carries a hash of the migrations, so a changed
/// migration gets a fresh template instead of a stale one.
fn template_name() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .expect("migrations dir")
            .map(|e| e.expect("dir entry").path())
            .collect();
        entries.sort();
        let mut hasher = Sha256::new();
        for e in entries {
            hasher.update(e.file_name().unwrap().to_string_lossy().as_bytes());
            for f in ["up.sql", "down.sql"] {
                if let Ok(bytes) = std::fs::read(e.join(f)) {
                    hasher.update(&bytes);
                }
            }
        }
        format!("oh_tmpl_{}", &hex::encode(hasher.finalize())[..16])
    })
}

/// Makes the migrated template once per schema. An advisory lock keeps
/// several test processes from building it at once; building under a
/// temporary name and renaming means nobody clones a half-made template.
fn ensure_template() -> &'static str {
    static READY: OnceLock<()> = OnceLock::new();
    let name = template_name();
    READY.get_or_init(|| {
        let admin = admin_url();
        let mut conn = PgConnection::establish(&admin).expect("connect to the test cluster");
        diesel::sql_query("SELECT pg_advisory_lock(724311)")
            .execute(&mut conn)
            .expect("lock");
        #[derive(QueryableByName)]
        struct Exists {
            #[diesel(sql_type = diesel::sql_types::Bool)]
            exists: bool,
        }
        let exists = diesel::sql_query(
            "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS exists",
        )
        .bind::<diesel::sql_types::Text, _>(name)
        .get_result::<Exists>(&mut conn)
        .expect("query pg_database")
        .exists;
        if !exists {
            let building = format!("{name}_building");
            diesel::sql_query(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                quote_ident(&building)
            ))
            .execute(&mut conn)
            .expect("drop a half-built template");
            diesel::sql_query(format!(
                "CREATE DATABASE {} TEMPLATE template0",
                quote_ident(&building)
            ))
            .execute(&mut conn)
            .expect("create template");
            {
                let url = url_for(&admin, &building);
                let mut t = PgConnection::establish(&url).expect("connect to template");
                db::migrate(&mut t, "template").expect("migrate template");
            }
            diesel::sql_query(format!(
                "ALTER DATABASE {} RENAME TO {}",
                quote_ident(&building),
                quote_ident(name)
            ))
            .execute(&mut conn)
            .expect("publish template");
            // Templates of earlier schemas are of no more use; one still
            // being cloned from is left for the next run.
            #[derive(QueryableByName)]
            struct Name {
                #[diesel(sql_type = diesel::sql_types::Text)]
                datname: String,
            }
            let stale = diesel::sql_query(
                "SELECT datname FROM pg_database WHERE datname LIKE 'oh\\_tmpl\\_%' AND datname <> $1",
            )
            .bind::<diesel::sql_types::Text, _>(name)
            .load::<Name>(&mut conn)
            .unwrap_or_default();
            for old in stale {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {}", quote_ident(&old.datname)))
                    .execute(&mut conn);
            }
        }
        diesel::sql_query("SELECT pg_advisory_unlock(724311)")
            .execute(&mut conn)
            .expect("unlock");
    });
    name
}

/// A database of one test, dropped (with its connections) when the test ends.
pub struct TestDb {
    pub name: String,
    pub url: String,
    admin: String,
}

impl TestDb {
    /// A fresh database with every migration applied.
    pub fn migrated() -> Self {
        Self::create(Some(ensure_template()))
    }

    /// An empty database (no migrations), e.g. to test `migrate` itself.
    pub fn empty() -> Self {
        Self::create(None)
    }

    fn create(template: Option<&str>) -> Self {
        let admin = admin_url();
        let name = format!("oh_test_{}", Uuid::new_v4().simple());
        let mut conn = PgConnection::establish(&admin).expect("connect to the test cluster");
        let template = quote_ident(template.unwrap_or("template0"));
        diesel::sql_query(format!(
            "CREATE DATABASE {} TEMPLATE {template}",
            quote_ident(&name)
        ))
        .execute(&mut conn)
        .expect("create test database");
        let url = url_for(&admin, &name);
        Self { name, url, admin }
    }

    pub fn conn(&self) -> PgConnection {
        PgConnection::establish(&self.url).expect("connect to test database")
    }

    /// Drops the database now, terminating the app's connections.
    pub fn drop_now(&self) {
        if let Ok(mut conn) = PgConnection::establish(&self.admin) {
            let _ = diesel::sql_query(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                quote_ident(&self.name)
            ))
            .execute(&mut conn);
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        self.drop_now();
    }
}

/// Tests start at a fixed instant so they do not depend on today's date.
pub fn default_now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 15, 9, 0, 0).unwrap()
}

#[derive(Default)]
pub struct AppOptions {
    /// Run the outbox worker in the background (off: tests drive it).
    pub worker: bool,
    pub smtp: Option<String>,
    pub base_url: Option<String>,
    pub extra_env: Vec<(&'static str, String)>,
}

pub struct TestApp {
    pub address: String,
    pub clock: Clock,
    pub state: AppState,
    pub client: reqwest::Client,
    pub db: TestDb,
    pub mail: Option<MailSink>,
    /// The test's own connections to the app's database (not the app's
    /// pool: its statements are not counted as the app's).
    side: Pool<ConnectionManager<PgConnection>>,
}

/// A connection of the test's own.
pub type TestConn = PooledConnection<ConnectionManager<PgConnection>>;

/// The app with no SMTP server (emails are kept in the outbox).
pub async fn spawn_app() -> TestApp {
    spawn_app_with(AppOptions::default()).await
}

/// The app sending to a real SMTP server on loopback.
pub async fn spawn_app_with_mail() -> TestApp {
    let mail = MailSink::start();
    let mut app = spawn_app_with(AppOptions {
        smtp: Some(mail.url()),
        ..AppOptions::default()
    })
    .await;
    app.mail = Some(mail);
    app
}

pub async fn spawn_app_with(opts: AppOptions) -> TestApp {
    let db = TestDb::migrated();
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    let port = listener.local_addr().unwrap().port();
    let address = format!("http://127.0.0.1:{port}");
    let mut env: HashMap<&str, String> = HashMap::new();
    env.insert("DATABASE_URL", db.url.clone());
    env.insert("OFFICEHOURS_BIND", format!("127.0.0.1:{port}"));
    env.insert(
        "OFFICEHOURS_BASE_URL",
        opts.base_url.clone().unwrap_or_else(|| address.clone()),
    );
    env.insert("OFFICEHOURS_DB_POOL", "4".into());
    // Tests change bookings between page loads: count every time.
    env.insert("OFFICEHOURS_STATS_CACHE", "0".into());
    env.insert("SMTP_FROM", "Office Hours <hours@officehours.test>".into());
    if let Some(smtp) = &opts.smtp {
        env.insert("SMTP_URL", smtp.clone());
    }
    for (k, v) in &opts.extra_env {
        env.insert(k, v.clone());
    }
    let settings = Settings::from_lookup(|k| env.get(k).cloned()).expect("test settings");
    let clock = Clock::manual(default_now());
    let app = Application::build(
        settings,
        clock.clone(),
        Options {
            run_worker: opts.worker,
            worker_idle_wait: std::time::Duration::from_millis(50),
            http_workers: Some(1),
            listener: Some(listener),
        },
    )
    .await
    .expect("the app starts");
    let state = app.state().clone();
    tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap();
    let side = Pool::builder()
        .max_size(8)
        .min_idle(Some(0))
        .build_unchecked(ConnectionManager::new(db.url.clone()));
    TestApp {
        address,
        clock,
        state,
        client,
        db,
        mail: None,
        side,
    }
}

impl TestApp {
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{}", self.address, path))
            .send()
            .await
            .expect("request")
    }

    pub fn conn(&self) -> TestConn {
        self.side.get().expect("pooled connection")
    }

    /// A worker over the app's database and SMTP settings, to drive rounds
    /// by hand.
    pub fn worker(&self) -> Worker {
        Worker {
            pool: self.state.pool.clone(),
            clock: self.clock.clone(),
            transport: Transport::from_settings(&self.state.settings).expect("transport"),
            from: self.state.settings.smtp_from.clone(),
            batch: 20,
            idle_wait: std::time::Duration::from_millis(50),
            before_round: Some(officehours::bookings::reminders::hook(
                std::sync::Arc::clone(&self.state.settings),
                self.state.secret_key.clone(),
            )),
        }
    }

    pub fn mail(&self) -> &MailSink {
        self.mail
            .as_ref()
            .expect("started with spawn_app_with_mail")
    }

    /// A verified user of `role`, made directly in the database (no
    /// password hashing: tests do not queue behind argon2).
    pub fn create_user(&self, role: Role) -> User {
        let email = format!(
            "{}-{}@officehours.test",
            role.as_str(),
            Uuid::new_v4().simple()
        );
        let mut conn = self.conn();
        accounts::create(
            &mut conn,
            self.clock.now(),
            &NewAccount {
                email: &email,
                display_name: &format!("Test {}", role.as_str()),
                role,
                time_zone: chrono_tz::Europe::Berlin,
                // A syntactically valid PHC string no password matches.
                password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                verified: true,
            },
        )
        .expect("create user")
    }
}

/// A browser-like HTTP client: its own cookie jar, no redirects followed.
pub fn new_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap()
}

/// The value of the first `name="csrf_token"` field of a page.
pub fn csrf_in(html: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker).expect("a form with a CSRF token") + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_owned()
}

/// A signed-in client of one user, with the CSRF token its forms carry.
pub struct SignedIn {
    pub client: reqwest::Client,
    pub csrf: String,
    pub user: User,
    pub session_token: String,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// GETs `path` with `client` (any cookies it holds): the body.
    pub async fn text_of(&self, client: &reqwest::Client, path: &str) -> String {
        let res = client.get(self.url(path)).send().await.expect("request");
        res.text().await.expect("body")
    }

    /// GETs `path` as `who`: the status and the body.
    pub async fn get_as(&self, who: &SignedIn, path: &str) -> (reqwest::StatusCode, String) {
        let res = who
            .client
            .get(self.url(path))
            .send()
            .await
            .expect("request");
        (res.status(), res.text().await.expect("body"))
    }

    /// Signs `user` in by making the session directly in the database (no
    /// password hashing) and giving a fresh client its cookie.
    pub async fn sign_in(&self, user: &User) -> SignedIn {
        let (_, token) = officehours::accounts::session::create(
            &mut self.conn(),
            user.id,
            self.clock.now(),
            chrono::Duration::days(30),
            &officehours::accounts::session::Origin::default(),
        )
        .unwrap();
        let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
        jar.add_cookie_str(
            &format!("oh_session={token}; Path=/"),
            &self.address.parse::<reqwest::Url>().unwrap(),
        );
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_provider(jar)
            .build()
            .unwrap();
        let page = client
            .get(self.url("/"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let csrf = csrf_in(&page);
        SignedIn {
            client,
            csrf,
            user: user.clone(),
            session_token: token,
        }
    }

    /// The CSRF token an anonymous `client` gets on `path` (which sets its
    /// pre-session cookie on first visit).
    pub async fn csrf_for(&self, client: &reqwest::Client, path: &str) -> String {
        let page = client
            .get(self.url(path))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        csrf_in(&page)
    }

    /// Gives a user a real password (users made by `create_user` have a
    /// hash nothing matches); returns the stored hash.
    pub fn set_password(&self, user_id: Uuid, plain: &str) -> String {
        use officehours::db::schema::users;
        let hash = officehours::accounts::password::hash(plain).unwrap();
        diesel::update(users::table.find(user_id))
            .set(users::password_hash.eq(Some(&hash)))
            .execute(&mut self.conn())
            .unwrap();
        hash
    }

    /// POSTs a form as a same-origin browser would.
    pub async fn post_form(
        &self,
        client: &reqwest::Client,
        path: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        client
            .post(self.url(path))
            .header("origin", &self.address)
            .form(fields)
            .send()
            .await
            .unwrap()
    }
}

/// The error shown under field `name`, if any.
pub fn field_error(html: &str, name: &str) -> Option<String> {
    let marker = format!("<p class=\"field-error\" id=\"{name}-error\">");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find("</p>").unwrap() + start;
    Some(html[start..end].to_owned())
}

/// The `Location` header of a redirect.
pub fn location(res: &reqwest::Response) -> String {
    res.headers()
        .get("location")
        .expect("a Location header")
        .to_str()
        .unwrap()
        .to_owned()
}

/// The server process behind `conn`.
pub fn backend_pid(conn: &mut PgConnection) -> i32 {
    #[derive(QueryableByName)]
    struct Pid {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        pid: i32,
    }
    diesel::sql_query("SELECT pg_backend_pid() AS pid")
        .get_result::<Pid>(conn)
        .unwrap()
        .pid
}
