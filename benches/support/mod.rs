//! What the load benchmarks share: a scratch database on the private
//! cluster (dropped, with the server stopped, when the guard goes), the
//! release binary's `migrate` and `serve`, waiting for readiness, and
//! percentiles. Included by each benchmark with `#[path]`.

#![allow(dead_code, reason = "each benchmark uses its own part")]

use std::fs::File;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use officehours::clock::Clock;

pub type Error = Box<dyn std::error::Error + Send + Sync>;
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The scratch database and the server serving it: the server is killed
/// and the database dropped when this goes out of scope, panics included.
pub struct Scratch {
    /// Who is talking in messages, e.g. `admin_load`.
    pub label: &'static str,
    pub admin_url: String,
    pub name: String,
    pub url: String,
    pub server: Option<Child>,
}

impl Scratch {
    /// Kills the server (if it still runs) and waits for it.
    pub fn stop_server(&mut self) {
        if let Some(mut child) = self.server.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Prints the server's log (it runs with `OFFICEHOURS_LOG=warn`): how many
/// lines, and the first five.
pub fn print_server_log(path: &Path) {
    let server_log = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = server_log
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    println!(
        "server log (warn and above): {} line{}",
        lines.len(),
        if lines.len() == 1 { "" } else { "s" }
    );
    for l in lines.iter().take(5) {
        println!("  {}", l.chars().take(300).collect::<String>());
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        self.stop_server();
        if std::env::var_os("LOAD_KEEP_DATABASE").is_some() {
            eprintln!("{}: kept {} (LOAD_KEEP_DATABASE)", self.label, self.name);
            return;
        }
        let drop_sql = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        match PgConnection::establish(&self.admin_url) {
            Ok(mut conn) => match conn.batch_execute(&drop_sql) {
                Ok(()) => eprintln!("{}: dropped {}", self.label, self.name),
                Err(e) => eprintln!("{}: could not drop {}: {e}", self.label, self.name),
            },
            Err(e) => eprintln!("{}: could not drop {}: {e}", self.label, self.name),
        }
    }
}

pub fn heading(text: &str) {
    eprintln!("\n==> {text}");
}

/// The URL of the database server to use: `scripts/db` starts this
/// checkout's private cluster unless `DATABASE_URL` is set (then it prints
/// that), exactly as the other scripts do.
pub fn admin_url(root: &Path) -> Result<String> {
    let db = root.join("scripts/db");
    let status = Command::new(&db)
        .arg("start")
        .stdout(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run {}: {e}", db.display()))?;
    if !status.success() {
        return Err(format!("`scripts/db start` failed ({status})").into());
    }
    let out = Command::new(&db)
        .arg("url")
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", db.display()))?;
    if !out.status.success() {
        return Err(format!("`scripts/db url` failed ({})", out.status).into());
    }
    let url = String::from_utf8(out.stdout)?.trim().to_owned();
    let parsed = url::Url::parse(&url).map_err(|e| format!("bad database URL {url:?}: {e}"))?;
    match parsed.host_str() {
        None | Some("" | "127.0.0.1" | "localhost" | "[::1]") => Ok(url),
        Some(host) => {
            Err(format!("refusing to load the database server at {host}: loopback only").into())
        }
    }
}

pub fn create_scratch(label: &'static str, admin_url: String) -> Result<Scratch> {
    let name = format!(
        "oh_{}_{}_{}",
        label,
        std::process::id(),
        Clock::system().now().timestamp()
    );
    let mut url = url::Url::parse(&admin_url)?;
    url.set_path(&format!("/{name}"));
    let mut admin = PgConnection::establish(&admin_url)
        .map_err(|e| format!("cannot connect to {admin_url}: {e}"))?;
    admin.batch_execute(&format!("CREATE DATABASE \"{name}\""))?;
    Ok(Scratch {
        label,
        admin_url,
        name,
        url: url.to_string(),
        server: None,
    })
}

pub fn migrate(bin: &Path, db_url: &str) -> Result<()> {
    let status = Command::new(bin)
        .arg("migrate")
        .env("DATABASE_URL", db_url)
        .env("OFFICEHOURS_LOG", "warn")
        .stdout(Stdio::null())
        .status()?;
    if !status.success() {
        return Err(format!("`officehours migrate` failed ({status})").into());
    }
    Ok(())
}

/// A free port on 127.0.0.1 (free when asked; the server binds it next).
pub fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

pub fn start_server(bin: &Path, db_url: &str, port: u16, log: &File) -> Result<Child> {
    Ok(Command::new(bin)
        .arg("serve")
        .env("DATABASE_URL", db_url)
        .env("OFFICEHOURS_BIND", format!("127.0.0.1:{port}"))
        .env("OFFICEHOURS_BASE_URL", format!("http://127.0.0.1:{port}"))
        .env("OFFICEHOURS_LOG", "warn")
        .env_remove("SMTP_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::from(log.try_clone()?))
        .stderr(Stdio::from(log.try_clone()?))
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", bin.display()))?)
}

pub async fn wait_ready(client: &reqwest::Client, base: &str, server: &mut Child) -> Result<()> {
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = server.try_wait()? {
            return Err(format!("the server exited early ({status})").into());
        }
        if let Ok(res) = client.get(format!("{base}/readyz")).send().await
            && res.status() == reqwest::StatusCode::OK
        {
            return Ok(());
        }
        if Instant::now() > until {
            return Err("the server was not ready within 30 s".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Nearest-rank percentile of sorted latencies.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}
