//! The web foundation: security headers, error pages, health, readiness,
//! metrics and the home page.

use diesel::prelude::*;
use officehours::db::schema::topics;
use officehours::topics::NewTopic;
use reqwest::StatusCode;
use uuid::Uuid;

use crate::harness::{AppOptions, TestApp, spawn_app, spawn_app_with};

const CSP: &str = "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

fn assert_security_headers(res: &reqwest::Response, https: bool) {
    let h = res.headers();
    let csp = h
        .get("content-security-policy")
        .unwrap_or_else(|| panic!("no CSP on {}", res.url()))
        .to_str()
        .unwrap();
    assert!(csp.starts_with(CSP), "{csp}");
    assert!(!csp.contains("unsafe-inline"));
    assert_eq!(h.get("x-content-type-options").unwrap(), "nosniff");
    assert!(h.get("referrer-policy").is_some());
    assert!(h.get("x-request-id").is_some());
    assert_eq!(
        h.get("strict-transport-security").is_some(),
        https,
        "HSTS only over https"
    );
    // Pages (a 404 or 410 included) are never kept: they show live state.
    // Static files are, for a while.
    let cache = h
        .get("cache-control")
        .expect("a Cache-Control")
        .to_str()
        .unwrap();
    if res.url().path().starts_with("/static/") && res.status() == StatusCode::OK {
        assert!(cache.contains("max-age"), "{cache}");
    } else {
        assert_eq!(cache, "no-store", "{}", res.url());
    }
}

pub fn add_topic(app: &TestApp, slug: &str, title: &str, active: bool) {
    let now = app.clock.now();
    diesel::insert_into(topics::table)
        .values(NewTopic {
            id: Uuid::now_v7(),
            slug,
            title,
            description: "What it is about.",
            duration_minutes: 30,
            active,
            created_at: now,
            updated_at: now,
        })
        .execute(&mut app.conn())
        .unwrap();
}

#[tokio::test]
async fn home_lists_active_topics_only_with_security_headers() {
    let app = spawn_app().await;
    add_topic(&app, "sql-basics", "SQL <basics> & joins", true);
    add_topic(&app, "retired", "Retired topic", false);
    let res = app.get("/").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_security_headers(&res, false);
    assert_eq!(
        res.headers().get("content-type").unwrap(),
        "text/html; charset=utf-8"
    );
    let body = res.text().await.unwrap();
    assert!(
        body.contains("SQL &#60;basics&#62; &#38; joins")
            || body.contains("SQL &lt;basics&gt; &amp; joins"),
        "escaped: {body}"
    );
    assert!(!body.contains("SQL <basics>"));
    assert!(!body.contains("Retired topic"));
    assert!(body.contains("<main id=\"main\""));
    // The CSP forbids inline styles and scripts, so pages must not need them.
    assert!(!body.contains("style="));
    assert!(!body.contains("<script>"));
    assert!(body.contains("<script src=\"/static/app.js\""));
}

#[tokio::test]
async fn home_says_how_many_mentors_offer_each_topic_and_lists_theirs_first() {
    use crate::booking_fixture::{add_topic, mentor, offer};
    use officehours::db::schema::users;
    let app = spawn_app().await;
    let alone = add_topic(&app, "a-alone", 30);
    let one = add_topic(&app, "b-one", 30);
    let two = add_topic(&app, "c-two", 30);
    offer(&app, &mentor(&app, |_| {}), one);
    offer(&app, &mentor(&app, |_| {}), two);
    offer(&app, &mentor(&app, |_| {}), two);
    // Not counted: a mentor who takes no bookings, and a disabled one.
    offer(&app, &mentor(&app, |p| p.accepting_bookings = false), two);
    let disabled = mentor(&app, |_| {});
    offer(&app, &disabled, two);
    offer(&app, &disabled, alone);
    diesel::update(users::table.find(disabled.id))
        .set(users::disabled_at.eq(Some(app.clock.now())))
        .execute(&mut app.conn())
        .unwrap();

    let body = app.get("/").await.text().await.unwrap();
    let card = |slug: &str| {
        let from = body
            .find(&format!("href=\"/topics/{slug}\""))
            .unwrap_or_else(|| panic!("{slug}: {body}"));
        let to = from + body[from..].find("</li>").unwrap();
        (
            from,
            body[from..to]
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
        )
    };
    let (b, b_text) = card("b-one");
    let (c, c_text) = card("c-two");
    let (a, a_text) = card("a-alone");
    assert!(b_text.contains("30 minutes · free · 1 mentor<"), "{b_text}");
    assert!(
        c_text.contains("30 minutes · free · 2 mentors<"),
        "{c_text}"
    );
    assert!(a_text.contains("no mentor offers it yet"), "{a_text}");
    // Bookable topics first, in title order; then the rest.
    assert!(b < c && c < a, "{body}");
}

#[tokio::test]
async fn a_cross_site_form_gets_a_page_and_leaves_the_pre_session_alone() {
    let app = spawn_app().await;
    let pre_cookie = |res: &reqwest::Response| {
        res.headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.starts_with("oh_pre="))
    };
    // A page of ours gives a new browser its pre-session…
    let client = crate::harness::new_client();
    let res = client.get(app.url("/login")).send().await.unwrap();
    assert!(pre_cookie(&res));
    // …a form another site sends (without our SameSite=Lax cookies) does
    // not replace it, which would expire the forms open here.
    let res = crate::harness::new_client()
        .post(app.url("/login"))
        .header("origin", "https://evil.example")
        .form(&[("email", "a@example.org"), ("password", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_security_headers(&res, false);
    assert!(!pre_cookie(&res), "{:?}", res.headers());
    let html = res.text().await.unwrap();
    assert!(html.contains("<h1>Sent from another site</h1>"), "{html}");
}

#[tokio::test]
async fn unknown_paths_get_the_404_page_with_security_headers() {
    let app = spawn_app().await;
    let res = app.get("/no/such/page").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_security_headers(&res, false);
    assert_eq!(
        res.headers().get("content-type").unwrap(),
        "text/html; charset=utf-8"
    );
    let body = res.text().await.unwrap();
    assert!(body.contains("Page not found"));
    assert!(body.contains("<main"));
    assert!(body.contains(">Sign in<"), "anonymous header");
    let res = app.get("/static/nothing.css").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    // Signed in, an error page still shows them signed in: a 404 no
    // handler took, and a 403 from a page their role may not open.
    let mentor = app.create_user(officehours::accounts::Role::Mentor);
    let signed = app.sign_in(&mentor).await;
    for (path, status) in [
        ("/no/such/page", StatusCode::NOT_FOUND),
        ("/admin", StatusCode::FORBIDDEN),
    ] {
        let (got, body) = app.get_as(&signed, path).await;
        assert_eq!(got, status, "{path}");
        assert!(body.contains("Sign out"), "{path}: {body}");
        assert!(!body.contains(">Sign in<"), "{path}");
    }
}

#[tokio::test]
async fn head_answers_like_get_without_a_body() {
    let app = spawn_app().await;
    let client = reqwest::Client::new();
    for path in ["/", "/healthz", "/static/app.css"] {
        let get = client.get(app.url(path)).send().await.unwrap();
        let head = client.head(app.url(path)).send().await.unwrap();
        assert_eq!(get.status(), StatusCode::OK, "{path}");
        assert_eq!(head.status(), StatusCode::OK, "{path}");
        assert_eq!(
            head.headers().get("content-type"),
            get.headers().get("content-type"),
            "{path}"
        );
        assert_security_headers(&head, false);
        // The length of the body GET sends, though none is sent.
        let length = head.headers().get("content-length").cloned();
        assert_eq!(
            length.and_then(|l| l.to_str().ok()?.parse::<usize>().ok()),
            Some(get.bytes().await.unwrap().len()),
            "{path}"
        );
    }
    // An action that is only ever POSTed gets no GET, nor HEAD.
    let res = client.head(app.url("/logout")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = client.head(app.url("/no/such/page")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_500_is_an_opaque_page_with_the_request_id_and_security_headers() {
    let app = spawn_app().await;
    add_topic(&app, "sql-basics", "SQL basics", true);
    assert_eq!(app.get("/").await.status(), StatusCode::OK);
    // The database disappears under the running app.
    app.db.drop_now();
    let res = app.get("/").await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_security_headers(&res, false);
    let request_id = res
        .headers()
        .get("x-request-id")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let body = res.text().await.unwrap();
    assert!(body.contains("Something went wrong"));
    assert!(body.contains(&request_id), "the page names the request id");
    for internal in [
        "diesel",
        "r2d2",
        "postgres",
        "database",
        "timed out",
        &app.db.name,
    ] {
        assert!(
            !body.to_lowercase().contains(internal),
            "leaks {internal:?}: {body}"
        );
    }
}

#[tokio::test]
async fn readyz_answers_503_when_the_database_is_gone_while_healthz_stays_up() {
    let app = spawn_app().await;
    let res = app.get("/readyz").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
    app.db.drop_now();
    let res = app.get("/readyz").await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_security_headers(&res, false);
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status_and_show_the_outbox() {
    let app = spawn_app().await;
    app.get("/").await;
    app.get("/").await;
    app.get("/missing-1").await;
    app.get("/missing-2").await;
    let res = app.get("/metrics").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let body = res.text().await.unwrap();
    assert!(
        body.contains(r#"officehours_http_requests_total{method="GET",route="/",status="200"} 2"#),
        "{body}"
    );
    // Unknown paths share one label, so scanners cannot blow up the series.
    assert!(
        body.contains(
            r#"officehours_http_requests_total{method="GET",route="unmatched",status="404"} 2"#
        ),
        "{body}"
    );
    assert!(!body.contains("missing-1"));
    assert!(body.contains(r#"officehours_http_request_duration_seconds_bucket{method="GET",route="/",status="200",le="0.005"}"#));
    for state in ["pending", "sending", "sent", "kept", "dead"] {
        assert!(
            body.contains(&format!(
                "officehours_email_outbox_messages{{state=\"{state}\"}} 0"
            )),
            "{state}: {body}"
        );
    }
}

#[tokio::test]
async fn https_base_url_turns_on_hsts() {
    let app = spawn_app_with(AppOptions {
        base_url: Some("https://hours.example.org".into()),
        ..AppOptions::default()
    })
    .await;
    let res = app.get("/").await;
    assert_security_headers(&res, true);
    let res = app.get("/nope").await;
    assert_security_headers(&res, true);
}

#[tokio::test]
async fn static_assets_are_served_with_their_types() {
    let app = spawn_app().await;
    for (path, ty) in [
        ("/static/app.css", "text/css; charset=utf-8"),
        ("/static/app.js", "text/javascript; charset=utf-8"),
        ("/static/favicon.svg", "image/svg+xml"),
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert_eq!(res.headers().get("content-type").unwrap(), ty);
        assert_security_headers(&res, false);
    }
}

#[tokio::test]
async fn state_changing_methods_on_pages_are_not_allowed() {
    let app = spawn_app().await;
    let res = app
        .client
        .post(format!("{}/", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_security_headers(&res, false);
}

#[tokio::test]
async fn the_harness_makes_verified_users_of_every_role() {
    use officehours::accounts::Role;
    let app = spawn_app().await;
    for role in Role::ALL {
        let user = app.create_user(role);
        let stored = officehours::accounts::service::find(&mut app.conn(), user.id)
            .unwrap()
            .unwrap();
        assert_eq!(stored.role, role);
        assert!(stored.email_verified_at.is_some());
        assert!(stored.disabled_at.is_none());
    }
}

#[tokio::test]
async fn the_query_counter_sees_a_page_s_statements() {
    let app = spawn_app().await;
    app.get("/").await;
    let before = app.state.queries.get();
    app.get("/").await;
    let per_page = app.state.queries.get() - before;
    // The topics query (the pool's health check is not counted).
    assert_eq!(per_page, 1);
}
