//! The routes, under `[http] base_path`. Action routes exist only with
//! `token_file`; without it they are 404/405 like any unknown path.

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::Deserialize;

use super::api::{self, show};
use super::auth::{self, COOKIE};
use super::pages::{self, Visitor};
use super::{App, MAX_BODY_BYTES, REQUEST_TIMEOUT};
use crate::commands::{Reply, Request as Command};

type Shared = State<Arc<App>>;

pub fn router(app: Arc<App>) -> Router {
    let mut routes = Router::new()
        .route("/", get(dashboard))
        .route("/jobs/{id}", get(job_page))
        .route("/files/{id}/{*name}", get(file))
        .route("/live.json", get(live))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/assets/app.css", get(css))
        .route("/assets/app.js", get(js))
        .route(
            "/api/v1/status",
            get(|s: Shared| async move { api::json(&s, Command::Status).await }),
        )
        .route(
            "/api/v1/feeds",
            get(|s: Shared| async move { api::json(&s, Command::Feeds).await }),
        );
    if app.http.token.is_some() {
        routes = routes
            .route("/api/v1/jobs", get(jobs).post(api_submit))
            .route("/api/v1/jobs/{id}", get(job_json).delete(api_forget))
            .route("/api/v1/jobs/{id}/retry", post(api_retry))
            .route("/login", get(login_page).post(login))
            .route("/logout", post(logout))
            .route("/act/submit", post(page_submit))
            .route("/act/jobs/{id}/{action}", post(page_action));
    } else {
        routes = routes
            .route("/api/v1/jobs", get(jobs))
            .route("/api/v1/jobs/{id}", get(job_json));
    }
    let routes = routes
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(limits))
        .with_state(app.clone());
    if app.http.base_path.is_empty() {
        routes
    } else {
        Router::new().nest(&app.http.base_path, routes)
    }
}

/// Every answer starts within [`REQUEST_TIMEOUT`] (a slow body included);
/// pages are not framed by other sites.
async fn limits(request: Request, next: Next) -> Response {
    let mut response = match tokio::time::timeout(REQUEST_TIMEOUT, next.run(request)).await {
        Ok(response) => response,
        Err(_) => (StatusCode::REQUEST_TIMEOUT, "request took too long\n").into_response(),
    };
    let headers = response.headers_mut();
    headers.insert("x-frame-options", "DENY".parse().expect("static"));
    headers.insert("x-content-type-options", "nosniff".parse().expect("static"));
    headers.insert("referrer-policy", "same-origin".parse().expect("static"));
    response
}

fn visitor(app: &App, headers: &HeaderMap) -> Visitor {
    Visitor {
        actions: app.http.token.is_some(),
        csrf: app
            .http
            .token
            .as_ref()
            .and_then(|_| app.sessions.csrf_for(headers)),
    }
}

async fn dashboard(State(app): Shared, headers: HeaderMap) -> Response {
    let feeds = match api::run(&app, Command::Feeds).await {
        Ok(Reply::Feeds(views)) => views
            .iter()
            .filter_map(|view| serde_json::to_value(view).ok())
            .collect(),
        _ => Vec::new(),
    };
    Html(pages::dashboard(&app, &visitor(&app, &headers), &feeds)).into_response()
}

async fn job_page(State(app): Shared, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let visitor = visitor(&app, &headers);
    if !id.bytes().all(|b| b.is_ascii_digit()) {
        return not_found(&app, &visitor);
    }
    match app.pipeline.store.find(&id) {
        Ok(job) => Html(pages::job(&app, &visitor, &job)).into_response(),
        Err(_) => not_found(&app, &visitor),
    }
}

fn not_found(app: &App, visitor: &Visitor) -> Response {
    (
        StatusCode::NOT_FOUND,
        Html(pages::message(
            app,
            visitor,
            "Not found",
            "There is no such job.",
        )),
    )
        .into_response()
}

async fn file(
    State(app): Shared,
    Path((id, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    super::files::serve(&app, &id, &name, &headers).await
}

async fn live(State(app): Shared) -> Response {
    let (version, jobs) = app.live.recent(pages::RECENT);
    Json(serde_json::json!({
        "version": version,
        "counts": app.live.counts().into_iter().collect::<std::collections::BTreeMap<_, _>>(),
        "jobs": jobs,
    }))
    .into_response()
}

async fn healthz(State(app): Shared) -> Response {
    super::health::check(&app).into_response()
}

async fn metrics(State(app): Shared) -> Response {
    let metrics = crate::telemetry::metrics();
    metrics
        .tasks_running
        .set(app.pipeline.slots.in_use() as i64);
    if let Ok(total) = app.pipeline.store.units_total() {
        metrics.units_seen(total);
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        metrics.render(),
    )
        .into_response()
}

async fn css() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css")],
        include_str!("assets/app.css"),
    )
        .into_response()
}

async fn js() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript")],
        include_str!("assets/app.js"),
    )
        .into_response()
}

async fn job_json(State(app): Shared, Path(id): Path<String>) -> Response {
    api::json(&app, show(&id)).await
}

#[derive(Deserialize, Default)]
struct JobsQuery {
    state: Option<String>,
    feed: Option<String>,
}

async fn jobs(
    State(app): Shared,
    axum::extract::Query(q): axum::extract::Query<JobsQuery>,
) -> Response {
    api::json(
        &app,
        Command::Jobs {
            state: q.state,
            feed: q.feed,
        },
    )
    .await
}

// ---- actions ------------------------------------------------------------

fn bearer(app: &App, headers: &HeaderMap) -> Result<(), Box<Response>> {
    let token = app.http.token.as_ref().expect("routed only with a token");
    if auth::bearer_ok(headers, token) {
        Ok(())
    } else {
        Err((
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            Json(serde_json::json!({"error": "send Authorization: Bearer <the token in http.token_file>"})),
        )
            .into_response()
            .into())
    }
}

#[derive(Deserialize)]
struct SubmitBody {
    url: String,
    preset: Option<String>,
    name: Option<String>,
}

fn submit_command(body: SubmitBody) -> Result<Command, String> {
    let url = body.url.trim().to_string();
    // A path would upload a file of the server's: only links.
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err("url must be an http(s) link".into());
    }
    let blank = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    Ok(Command::Submit {
        target: url,
        preset: blank(body.preset),
        name: blank(body.name),
        force: false,
    })
}

/// The token is checked before the body is read: without it, 401 whatever
/// was sent.
async fn api_submit(State(app): Shared, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    if let Err(refused) = bearer(&app, &headers) {
        return *refused;
    }
    let Ok(body) = serde_json::from_slice::<SubmitBody>(&body) else {
        return api::error(
            StatusCode::BAD_REQUEST,
            "send JSON {\"url\", \"preset\"?, \"name\"?}",
        );
    };
    match submit_command(body) {
        Ok(command) => api::act(&app, command).await,
        Err(message) => api::error(StatusCode::BAD_REQUEST, &message),
    }
}

async fn api_retry(State(app): Shared, Path(id): Path<String>, headers: HeaderMap) -> Response {
    if let Err(refused) = bearer(&app, &headers) {
        return *refused;
    }
    api::act(&app, Command::Retry { job: id }).await
}

async fn api_forget(State(app): Shared, Path(id): Path<String>, headers: HeaderMap) -> Response {
    if let Err(refused) = bearer(&app, &headers) {
        return *refused;
    }
    api::act(&app, Command::Forget { job: id }).await
}

async fn login_page(State(app): Shared) -> Response {
    Html(pages::login(&app, None)).into_response()
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
}

async fn login(State(app): Shared, Form(form): Form<LoginForm>) -> Response {
    let token = app.http.token.as_ref().expect("routed only with a token");
    if !auth::same(form.token.trim(), token.expose()) {
        return (
            StatusCode::UNAUTHORIZED,
            Html(pages::login(&app, Some("That is not the token."))),
        )
            .into_response();
    }
    let (session, _) = app.sessions.open();
    let path = if app.http.base_path.is_empty() {
        "/"
    } else {
        &app.http.base_path
    };
    // Behind an https proxy (public_url), the cookie never travels in clear.
    let secure = app
        .http
        .public_url
        .as_deref()
        .is_some_and(|url| url.starts_with("https://"));
    let cookie = format!(
        "{COOKIE}={session}; Path={path}; HttpOnly; SameSite=Strict{}",
        if secure { "; Secure" } else { "" }
    );
    (
        [(header::SET_COOKIE, cookie)],
        Redirect::to(&format!("{}/", app.http.base_path)),
    )
        .into_response()
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

/// The logged-in session's form, or the refusal: 401 without a session,
/// 403 with a wrong CSRF token.
fn checked(app: &App, headers: &HeaderMap, csrf: &str) -> Result<Visitor, Box<Response>> {
    let visitor = visitor(app, headers);
    match &visitor.csrf {
        None => Err((
            StatusCode::UNAUTHORIZED,
            Html(pages::login(app, Some("Log in first."))),
        )
            .into_response()
            .into()),
        Some(expected) if !auth::same(expected, csrf) => Err((
            StatusCode::FORBIDDEN,
            Html(pages::message(
                app,
                &visitor,
                "Refused",
                "The form is stale or forged (CSRF token mismatch); reload the page and try again.",
            )),
        )
            .into_response()
            .into()),
        Some(_) => Ok(visitor),
    }
}

async fn logout(State(app): Shared, headers: HeaderMap, Form(form): Form<CsrfForm>) -> Response {
    if let Err(refused) = checked(&app, &headers, &form.csrf) {
        return *refused;
    }
    app.sessions.close(&headers);
    Redirect::to(&format!("{}/", app.http.base_path)).into_response()
}

#[derive(Deserialize)]
struct SubmitForm {
    csrf: String,
    url: String,
    preset: Option<String>,
    name: Option<String>,
}

async fn page_submit(
    State(app): Shared,
    headers: HeaderMap,
    Form(form): Form<SubmitForm>,
) -> Response {
    let visitor = match checked(&app, &headers, &form.csrf) {
        Ok(visitor) => visitor,
        Err(refused) => return *refused,
    };
    let body = SubmitBody {
        url: form.url,
        preset: form.preset,
        name: form.name,
    };
    let command = match submit_command(body) {
        Ok(command) => command,
        Err(message) => return refused_page(&app, &visitor, &message),
    };
    match api::run(&app, command)
        .await
        .and_then(|reply| api::job_of(&reply))
    {
        Ok(Some(id)) => Redirect::to(&format!("{}/jobs/{id}", app.http.base_path)).into_response(),
        Ok(None) => Redirect::to(&format!("{}/", app.http.base_path)).into_response(),
        Err(err) => refused_page(&app, &visitor, &err.message),
    }
}

async fn page_action(
    State(app): Shared,
    Path((id, action)): Path<(String, String)>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    let visitor = match checked(&app, &headers, &form.csrf) {
        Ok(visitor) => visitor,
        Err(refused) => return *refused,
    };
    let (command, next) = match action.as_str() {
        "retry" => (
            Command::Retry { job: id.clone() },
            format!("{}/jobs/{id}", app.http.base_path),
        ),
        "forget" => (
            Command::Forget { job: id },
            format!("{}/", app.http.base_path),
        ),
        _ => return not_found(&app, &visitor),
    };
    match api::run(&app, command)
        .await
        .and_then(|reply| api::job_of(&reply))
    {
        Ok(_) => Redirect::to(&next).into_response(),
        Err(err) => refused_page(&app, &visitor, &crate::secret::redact_urls_in(&err.message)),
    }
}

fn refused_page(app: &App, visitor: &Visitor, message: &str) -> Response {
    let message = message.trim_start_matches("clipwatch: ");
    (
        StatusCode::CONFLICT,
        Html(pages::message(app, visitor, "Not done", message)),
    )
        .into_response()
}
