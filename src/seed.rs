//! `seed-demo`: demo topics and accounts so every page has something to
//! show. Idempotent: running it again adds nothing that is already there.
//! Later features extend it (schedules, bookings, history).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::accounts::service::{self as accounts, NewAccount};
use crate::accounts::{Role, password};
use crate::db::schema::topics;
use crate::topics::NewTopic;

/// Shared by every demo account, printed by the command. Demo data only.
pub const DEMO_PASSWORD: &str = "mentoring-demo-2026";

pub struct DemoTopic {
    pub slug: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub duration_minutes: i32,
}

pub const TOPICS: [DemoTopic; 3] = [
    DemoTopic {
        slug: "javascript-fundamentals",
        title: "JavaScript fundamentals",
        description: "Scopes, closures, promises and async/await, the event loop, modules — or whatever in your JavaScript does not behave the way you expect.",
        duration_minutes: 45,
    },
    DemoTopic {
        slug: "database-fundamentals",
        title: "Database fundamentals",
        description: "Modelling tables, writing and reading SQL, indexes and query plans, transactions and constraints. Bring a schema or a slow query.",
        duration_minutes: 60,
    },
    DemoTopic {
        slug: "backend-debugging",
        title: "Backend debugging",
        description: "A failing request, a flaky test, a memory leak or a log you cannot read: debug it together, step by step, and learn how to do it alone next time.",
        duration_minutes: 30,
    },
];

pub struct DemoUser {
    pub email: &'static str,
    pub name: &'static str,
    pub role: Role,
    pub time_zone: &'static str,
}

pub const USERS: [DemoUser; 9] = [
    DemoUser {
        email: "admin@officehours.test",
        name: "Alex Admin",
        role: Role::Admin,
        time_zone: "Europe/London",
    },
    DemoUser {
        email: "maya.schneider@officehours.test",
        name: "Maya Schneider",
        role: Role::Mentor,
        time_zone: "Europe/Berlin",
    },
    DemoUser {
        email: "daniel.okafor@officehours.test",
        name: "Daniel Okafor",
        role: Role::Mentor,
        time_zone: "America/New_York",
    },
    DemoUser {
        email: "liam.walker@officehours.test",
        name: "Liam Walker",
        role: Role::Mentor,
        time_zone: "Australia/Sydney",
    },
    DemoUser {
        email: "priya.raman@officehours.test",
        name: "Priya Raman",
        role: Role::Learner,
        time_zone: "Asia/Kolkata",
    },
    DemoUser {
        email: "tom.baker@officehours.test",
        name: "Tom Baker",
        role: Role::Learner,
        time_zone: "Europe/London",
    },
    DemoUser {
        email: "sofia.costa@officehours.test",
        name: "Sofia Costa",
        role: Role::Learner,
        time_zone: "America/Sao_Paulo",
    },
    DemoUser {
        email: "kenji.sato@officehours.test",
        name: "Kenji Sato",
        role: Role::Learner,
        time_zone: "Asia/Tokyo",
    },
    DemoUser {
        email: "amara.nwosu@officehours.test",
        name: "Amara Nwosu",
        role: Role::Learner,
        time_zone: "Africa/Lagos",
    },
];

#[derive(Debug, Default)]
pub struct SeedReport {
    pub topics_created: usize,
    pub users_created: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
    #[error(transparent)]
    Account(#[from] accounts::AccountError),
    #[error(transparent)]
    Hash(#[from] password::HashError),
    #[error("demo data: {0}")]
    Data(String),
}

/// Seeds everything in one transaction.
pub fn run(conn: &mut PgConnection, now: DateTime<Utc>) -> Result<SeedReport, SeedError> {
    conn.transaction(|conn| {
        let mut report = SeedReport::default();
        for t in &TOPICS {
            report.topics_created += diesel::insert_into(topics::table)
                .values(NewTopic {
                    id: Uuid::now_v7(),
                    slug: t.slug,
                    title: t.title,
                    description: t.description,
                    duration_minutes: t.duration_minutes,
                    active: true,
                    created_at: now,
                    updated_at: now,
                })
                .on_conflict(topics::slug)
                .do_nothing()
                .execute(conn)?;
        }
        for u in &USERS {
            if accounts::find_by_email(conn, u.email)?.is_some() {
                continue;
            }
            let zone: chrono_tz::Tz = u
                .time_zone
                .parse()
                .map_err(|_| SeedError::Data(format!("bad zone {}", u.time_zone)))?;
            let hash = password::hash(DEMO_PASSWORD)?;
            accounts::create_by_operator(
                conn,
                now,
                &NewAccount {
                    email: u.email,
                    display_name: u.name,
                    role: u.role,
                    time_zone: zone,
                    password_hash: &hash,
                    verified: true,
                },
                "seed-demo",
            )?;
            report.users_created += 1;
        }
        Ok(report)
    })
}
