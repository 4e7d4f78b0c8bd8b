//! The web dashboard and `/metrics`: server-rendered pages over the [`Backend`] (the
//! `stage` procedures and views, so both engines serve it alike), a small embedded
//! script for live updates, no front-end build.
//!
//! - [`auth`]: who may see and do what ([`database_logins`]: `--auth database`;
//!   [`throttle`]: failed sign-ins per address); [`csrf`]: every POST's token and
//!   origin check.
//! - [`pages`], [`task_page`], [`log_level`]: the HTML; [`layout`]: the frame and the chart; [`live`]:
//!   the JSON the script polls; [`metrics`]: Prometheus text.

pub mod auth;
mod csrf;
mod database_logins;
mod layout;
mod live;
mod log_level;
mod metrics;
mod pages;
mod task_page;
mod throttle;

use crate::driver::DriverMetrics;
use crate::store::{Backend, StoreError};
use anyhow::{Context, Result};
pub use auth::Auth;
use auth::{Principal, Role, Verdict};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

/// Tables above this many MiB are flagged on the overview (as `status --alert-mb`).
pub const DEFAULT_ALERT_MB: i64 = 5120;

/// What the pages share.
#[derive(Clone)]
pub(crate) struct AppState {
    db: Arc<dyn Backend>,
    auth: Arc<Auth>,
    throttle: Arc<throttle::SignInThrottle>,
    alert_mb: i64,
    driver_metrics: Option<DriverMetrics>,
}

/// The request's user and session token, put there by [`session`].
#[derive(Clone)]
pub(crate) struct Session {
    principal: Principal,
    csrf: String,
}

impl Session {
    /// Refuses (403) unless the user has at least `role`.
    fn require(&self, role: Role) -> Result<(), WebError> {
        if self.principal.role >= role {
            Ok(())
        } else {
            Err(WebError::Forbidden(format!(
                "this needs the {} role; {} is {}",
                role.as_str(),
                self.principal.name,
                self.principal.role.as_str()
            )))
        }
    }
}

/// What a handler fails with. Database errors are logged in full and shown masked: a
/// page never carries a connection string or a driver's message about one.
#[derive(Debug)]
pub(crate) enum WebError {
    NotFound(String),
    Forbidden(String),
    BadRequest(String),
    Store(StoreError),
}

impl From<StoreError> for WebError {
    fn from(error: StoreError) -> Self {
        WebError::Store(error)
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            WebError::NotFound(m) => (StatusCode::NOT_FOUND, m),
            WebError::Forbidden(m) => (StatusCode::FORBIDDEN, m),
            WebError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            // The procedures' own words name an argument or a state, never a secret.
            WebError::Store(StoreError::InvalidArgument(m) | StoreError::Refused(m)) => {
                (StatusCode::CONFLICT, m)
            }
            WebError::Store(error) => {
                tracing::error!("dashboard: {error}");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the database call failed (the details are in the dashboard's log)".to_string(),
                )
            }
        };
        (status, layout::error_page(status, &message)).into_response()
    }
}

/// Authenticates every request (401 with a basic-auth challenge when credentials are
/// required and missing), and gives the session its CSRF token (a new cookie if none).
async fn session(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    mut request: Request,
    next: Next,
) -> Response {
    let now = std::time::Instant::now();
    if let Some(wait) = state.throttle.refused_for(client.ip(), now) {
        let mut response = (
            StatusCode::TOO_MANY_REQUESTS,
            layout::error_page(
                StatusCode::TOO_MANY_REQUESTS,
                "too many failed sign-ins from this address; try again later",
            ),
        )
            .into_response();
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(wait.as_secs().max(1)),
        );
        return response;
    }
    let principal = match state.auth.authenticate(request.headers()).await {
        Verdict::Allowed(principal) => principal,
        Verdict::Unauthorized => {
            // A request without credentials is a browser's first, not a guess.
            if request.headers().contains_key(header::AUTHORIZATION) {
                state.throttle.failed(client.ip(), now);
            }
            let mut response = (
                StatusCode::UNAUTHORIZED,
                layout::error_page(StatusCode::UNAUTHORIZED, "sign in to see the dashboard"),
            )
                .into_response();
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"stagehand\", charset=\"UTF-8\""),
            );
            return response;
        }
        Verdict::NoStageRole(name) => {
            let message = format!(
                "{name} holds none of the roles stage_reader, stage_submitter, stage_admin"
            );
            return WebError::Forbidden(message).into_response();
        }
        Verdict::Unavailable => {
            let message = "the database that checks sign-ins cannot be reached; try again";
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                layout::error_page(StatusCode::SERVICE_UNAVAILABLE, message),
            )
                .into_response();
        }
    };
    let existing = csrf::from_cookie(request.headers());
    let csrf = match existing.clone().map(Ok).unwrap_or_else(csrf::new_token) {
        Ok(token) => token,
        Err(error) => {
            tracing::error!("dashboard: {error:#}");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    request.extensions_mut().insert(Session {
        principal,
        csrf: csrf.clone(),
    });
    let mut response = next.run(request).await;
    if existing.is_none() {
        if let Ok(value) = HeaderValue::from_str(&csrf::set_cookie(&csrf)) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    let headers = response.headers_mut();
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
        ),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(pages::overview))
        .route("/tasks", get(pages::tasks))
        .route("/tasks/{name}", get(task_page::show))
        .route(
            "/tasks/{name}/edit",
            get(task_page::edit_form).post(task_page::edit),
        )
        .route("/tasks/{name}/run", post(pages::run_now))
        .route("/tasks/{name}/enabled", post(pages::set_enabled))
        .route("/processes", get(pages::processes))
        .route("/processes/{id}", get(pages::process))
        .route("/processes/{id}/retry", post(pages::retry))
        .route("/processes/{id}/cancel", post(pages::cancel))
        .route("/failed", get(pages::failed))
        .route("/log-level", post(log_level::set))
        .route("/drivers", get(pages::drivers))
        .route("/live/processes", get(live::processes))
        .route("/live/process/{id}", get(live::process))
        .route("/metrics", get(metrics::render))
        .route("/static/live.js", get(layout::script))
        .route("/static/style.css", get(layout::style))
        .layer(axum::middleware::from_fn_with_state(state.clone(), session))
        .with_state(state)
}

/// Where and how the dashboard listens.
pub struct DashboardConfig {
    pub listen: SocketAddr,
    pub auth: Auth,
    pub alert_mb: i64,
    /// The counters of the driver this dashboard runs in (`run --dashboard`), added to /metrics.
    pub driver_metrics: Option<DriverMetrics>,
}

/// A bound dashboard, before it serves (so callers learn the port first).
pub struct Dashboard {
    listener: tokio::net::TcpListener,
    app: Router,
}

impl Dashboard {
    /// Binds the address; the auth was checked when it was loaded ([`Auth::load`]).
    pub async fn bind(db: Arc<dyn Backend>, config: DashboardConfig) -> Result<Dashboard> {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("listening on {}", config.listen))?;
        let state = AppState {
            db,
            auth: Arc::new(config.auth),
            throttle: Arc::default(),
            alert_mb: config.alert_mb,
            driver_metrics: config.driver_metrics,
        };
        Ok(Dashboard {
            listener,
            app: router(state),
        })
    }

    pub fn local_addr(&self) -> Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// Serves until `stop` completes.
    pub async fn serve(self, stop: impl Future<Output = ()> + Send + 'static) -> Result<()> {
        let address = self.local_addr()?;
        tracing::info!("dashboard on http://{address}/ (metrics on /metrics)");
        // The client's address, for the sign-in throttle.
        let app = self.app.into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(self.listener, app)
            .with_graceful_shutdown(stop)
            .await
            .context("serving the dashboard")
    }
}
