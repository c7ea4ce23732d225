//! The `officehours` command line: parses arguments, then calls into the
//! library. Errors print as one line naming the problem, never a panic or
//! a backtrace.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use officehours::accounts::Role;
use officehours::clock::Clock;
use officehours::config::Settings;
use officehours::{cli, seed, startup};

/// Prints a line to stdout. A reader that went away (`officehours
/// seed-demo | head -1`) is not an error worth a panic: the rest is dropped.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ignored_closed_stdout = writeln!(std::io::stdout(), $($arg)*);
    }};
}

#[derive(Parser)]
#[command(name = "officehours", version, about = "Office Hours: book free 1-on-1 mentoring sessions", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the web application and run the email outbox worker.
    Serve,
    /// Apply pending database migrations (a no-op when up to date).
    Migrate,
    /// Run the email outbox worker alone (no HTTP).
    Worker,
    /// Manage user accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Create demo topics and accounts (idempotent) and print the sign-ins.
    SeedDemo,
    /// Read the email outbox in the terminal.
    Outbox {
        #[command(subcommand)]
        command: OutboxCommand,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a pre-verified account. The password comes from
    /// OFFICEHOURS_PASSWORD, or else from one line of standard input.
    Add {
        /// Email address (sign-in name).
        #[arg(long)]
        email: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// learner, mentor or admin.
        #[arg(long, default_value = "learner", value_parser = parse_role)]
        role: Role,
        /// IANA time zone, e.g. Europe/Berlin.
        #[arg(long, default_value = "UTC", value_parser = parse_zone)]
        time_zone: chrono_tz::Tz,
    },
}

#[derive(Subcommand)]
enum OutboxCommand {
    /// List messages, newest first.
    List {
        /// Only this state: pending, sending, sent, kept or dead.
        #[arg(long)]
        state: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Print one message with its headers and body.
    Show {
        /// The message id from `outbox list`.
        id: String,
        /// Print the HTML body instead of the text body.
        #[arg(long)]
        html: bool,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse()
        .map_err(|e: officehours::accounts::model::UnknownRole| e.to_string())
}

fn parse_zone(s: &str) -> Result<chrono_tz::Tz, String> {
    officehours::web::forms::parse_zone(s)
        .ok_or_else(|| format!("{s:?} is not an IANA time zone like Europe/Berlin"))
}

fn init_tracing(settings: &Settings) {
    let filter = tracing_subscriber::EnvFilter::try_new(&settings.log_filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .with_writer(std::io::stderr)
        .init();
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    // Settings first: a malformed one stops every command with its name.
    let settings = Settings::from_env()?;
    init_tracing(&settings);
    let clock = Clock::system();
    match cli.command {
        Command::Serve => {
            let app =
                startup::Application::build(settings.clone(), clock, startup::Options::default())
                    .await?;
            tracing::info!(
                port = app.port(),
                "Office Hours is serving on {} (bound to {})",
                settings.base_url,
                settings.bind
            );
            app.run_until_stopped()
                .await
                .map_err(|e| anyhow::anyhow!("the server stopped: {e}"))?;
        }
        Command::Migrate => {
            let applied = cli::migrate(&settings).await?;
            if applied == 0 {
                say!("The database is up to date.");
            } else {
                say!("Applied {applied} migration(s).");
            }
        }
        Command::Worker => {
            startup::run_worker_alone(settings, clock).await?;
        }
        Command::User {
            command:
                UserCommand::Add {
                    email,
                    name,
                    role,
                    time_zone,
                },
        } => {
            let password = cli::read_password(std::env::var("OFFICEHOURS_PASSWORD").ok())?;
            let id = cli::user_add(
                &settings,
                &clock,
                cli::UserAdd {
                    email: email.clone(),
                    name,
                    role,
                    time_zone,
                    password,
                },
            )
            .await?;
            say!("Created {role} {email} ({id}); a welcome email is in the outbox.");
        }
        Command::SeedDemo => {
            let report = cli::seed_demo(&settings, &clock).await?;
            say!(
                "Demo data ready ({} topic(s), {} account(s), {} mentor schedule(s) and {} booking(s) added now).",
                report.topics_created,
                report.users_created,
                report.schedules_created,
                report.bookings_created
            );
            say!(
                "Every demo account signs in with the password: {}",
                seed::DEMO_PASSWORD
            );
            for u in &seed::USERS {
                say!(
                    "  {:<8} {:<34} {} ({})",
                    u.role.as_str(),
                    u.email,
                    u.name,
                    u.time_zone
                );
            }
        }
        Command::Outbox { command } => {
            let mut out = std::io::stdout().lock();
            match command {
                OutboxCommand::List { state, limit } => {
                    cli::outbox_list(&settings, state, limit, &mut out).await?
                }
                OutboxCommand::Show { id, html } => {
                    cli::outbox_show(&settings, &id, html, &mut out).await?
                }
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("officehours: error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // One line. Every error's message already names its cause, so
            // the top-level message is the whole story.
            let line = err
                .to_string()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            eprintln!("officehours: error: {line}");
            ExitCode::FAILURE
        }
    }
}
