//! Prometheus metrics (`GET /metrics`, text exposition format 0.0.4): requests by route
//! and status with latency histograms, logins and refreshes by outcome, rows purged by
//! table, and gauges read
//! at scrape time (the argon2 queue's depth, the revoked-session set's size). One registry
//! per application, passed in `web::Data`: no global recorder.

use std::time::{Duration, Instant};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

use crate::state::AppState;

/// How a login ended.
#[derive(Debug, Clone, Copy)]
pub enum LoginOutcome {
    Succeeded,
    Failed,
    Throttled,
    Disabled,
    /// The password was right and a second factor is due (`POST /auth/login/mfa`).
    MfaRequired,
}

/// How a refresh ended.
#[derive(Debug, Clone, Copy)]
pub enum RefreshOutcome {
    Rotated,
    Invalid,
    ReuseDetected,
}

/// Cheap to clone: clones share one registry (the background purge holds one).
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: HistogramVec,
    logins: IntCounterVec,
    refreshes: IntCounterVec,
    purged_rows: IntCounterVec,
    purge_failures: IntCounterVec,
    emails: IntCounterVec,
    hash_queue: IntGauge,
    revoked_sessions: IntGauge,
}

impl Metrics {
    pub fn new() -> prometheus::Result<Self> {
        let registry = Registry::new_custom(Some("authd".to_owned()), None)?;
        // From 100 µs (a token check) to 10 s (a request near REQUEST_TIMEOUT).
        let buckets = vec![
            0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
            2.5, 5.0, 10.0,
        ];
        let requests = registered(
            &registry,
            HistogramVec::new(
                HistogramOpts::new(
                    "http_request_duration_seconds",
                    "HTTP requests by method, route pattern and status, and how long they took",
                )
                .buckets(buckets),
                &["method", "route", "status"],
            )?,
        )?;
        let counter = |name: &str, help: &str, labels: &[&str]| {
            registered(
                &registry,
                IntCounterVec::new(Opts::new(name, help), labels)?,
            )
        };
        let gauge = |name: &str, help: &str| registered(&registry, IntGauge::new(name, help)?);
        Ok(Self {
            requests,
            logins: counter(
                "logins_total",
                "Logins by outcome: succeeded, failed (wrong credentials), throttled (429), disabled (403)",
                &["outcome"],
            )?,
            refreshes: counter(
                "refreshes_total",
                "Refresh-token presentations by outcome: rotated, invalid, reuse_detected",
                &["outcome"],
            )?,
            purged_rows: counter(
                "purged_rows_total",
                "Rows deleted by the housekeeping purge, by table",
                &["table"],
            )?,
            purge_failures: counter(
                "purge_failures_total",
                "Purge runs that failed on a table (retried at the next run), by table",
                &["table"],
            )?,
            emails: counter(
                "emails_total",
                "Account-recovery messages by kind (verify, reset, change_notice) and outcome: sent, retried, failed, dropped (queue full)",
                &["kind", "outcome"],
            )?,
            hash_queue: gauge(
                "password_hash_queue_depth",
                "Password hashes waiting for a hashing thread",
            )?,
            revoked_sessions: gauge(
                "revoked_sessions",
                "Revoked sessions held in memory (until their tokens expire)",
            )?,
            registry,
        })
    }

    pub fn login(&self, outcome: LoginOutcome) {
        let label = match outcome {
            LoginOutcome::Succeeded => "succeeded",
            LoginOutcome::Failed => "failed",
            LoginOutcome::Throttled => "throttled",
            LoginOutcome::Disabled => "disabled",
            LoginOutcome::MfaRequired => "mfa_required",
        };
        self.logins.with_label_values(&[label]).inc();
    }

    pub fn refresh(&self, outcome: RefreshOutcome) {
        let label = match outcome {
            RefreshOutcome::Rotated => "rotated",
            RefreshOutcome::Invalid => "invalid",
            RefreshOutcome::ReuseDetected => "reuse_detected",
        };
        self.refreshes.with_label_values(&[label]).inc();
    }

    /// Rows a purge deleted from `table` (counted even when zero, so the series exists).
    /// One outcome of an email delivery (or a try at one).
    pub fn email(&self, kind: &str, outcome: &str) {
        self.emails.with_label_values(&[kind, outcome]).inc();
    }

    pub fn purged(&self, table: &str, rows: u64) {
        self.purged_rows.with_label_values(&[table]).inc_by(rows);
    }

    pub fn purge_failed(&self, table: &str) {
        self.purge_failures.with_label_values(&[table]).inc();
    }

    fn request(&self, method: &Method, route: &str, status: StatusCode, took: Duration) {
        self.requests
            .with_label_values(&[method_label(method), route, status.as_str()])
            .observe(took.as_secs_f64());
    }

    /// The exposition text, with the gauges read now.
    pub fn render(&self, state: &AppState) -> String {
        self.hash_queue
            .set(i64::try_from(state.accounts.users.hasher.waiting()).unwrap_or(i64::MAX));
        self.revoked_sessions
            .set(i64::try_from(state.accounts.sessions.revoked().len()).unwrap_or(i64::MAX));
        let mut text = String::new();
        if let Err(e) = TextEncoder::new().encode_utf8(&self.registry.gather(), &mut text) {
            tracing::error!(error = %e, "cannot encode metrics");
        }
        text
    }
}

/// `metric`, registered in `registry`.
fn registered<M: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    metric: M,
) -> prometheus::Result<M> {
    registry.register(Box::new(metric.clone()))?;
    Ok(metric)
}

/// HTTP allows any token as a method: label only the standard ones, so that a client
/// cannot create series by inventing methods.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// `GET /metrics`.
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(TextEncoder::new().format_type())
        .body(state.metrics.render(&state))
}

/// Around every request, inside the tracing span: counts it by method, route pattern (never
/// the raw path, which would let clients create series) and status, with its latency. Runs
/// before routing, so it only reads the request (holding a clone of it would stop the
/// router from filling in path parameters).
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().clone();
    let route = req.match_pattern();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let outcome = next.call(req).await;
    let status = match &outcome {
        Ok(response) => response.status(),
        Err(error) => error.as_response_error().status_code(),
    };
    if let Some(state) = state {
        state.metrics.request(
            &method,
            route.as_deref().unwrap_or("unmatched"),
            status,
            started.elapsed(),
        );
    }
    Ok(outcome?.map_into_boxed_body())
}
