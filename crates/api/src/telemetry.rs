//! Logging: readable on a terminal, JSON lines otherwise (`LOG_FORMAT` overrides).

use std::io::IsTerminal;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::{Error, HttpMessage};
use tracing::Span;
use tracing::field::Empty;
use tracing_actix_web::{DefaultRootSpanBuilder, RequestId, RootSpanBuilder};
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber (once, from `main`). The filter comes from `RUST_LOG`,
/// default `info`.
pub fn init(format: Option<LogFormat>) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let format = format.unwrap_or(if std::io::stderr().is_terminal() {
        LogFormat::Pretty
    } else {
        LogFormat::Json
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Pretty => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// The id of a request, as logged and echoed in `X-Request-Id`: the caller's own when it
/// sent a plausible one (a proxy's, so logs correlate), else a fresh UUID.
#[derive(Clone)]
pub struct RequestIdValue(pub String);

impl RequestIdValue {
    fn for_request(request: &ServiceRequest) -> Self {
        let inbound = request
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .filter(|v| {
                !v.is_empty()
                    && v.len() <= 128
                    && v.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
            });
        match inbound {
            Some(id) => Self(id.to_owned()),
            None => Self(
                request
                    .extensions()
                    .get::<RequestId>()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
            ),
        }
    }
}

/// The span of each request, for `TracingLogger`: method, route, path and request id.
///
/// Unlike tracing-actix-web's default it records the path without the query string (and
/// no headers): a client that puts a token or password in a URL, which authd never reads
/// from there, must not have it written to the log.
pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let request_id = RequestIdValue::for_request(request);
        request.extensions_mut().insert(request_id.clone());
        let request_id = request_id.0;
        tracing::info_span!(
            "HTTP request",
            http.method = %request.method(),
            http.route = %request.match_pattern().unwrap_or_else(|| "default".to_owned()),
            http.target = %request.path(),
            http.status_code = Empty,
            otel.status_code = Empty,
            request_id = %request_id,
            exception.message = Empty,
            exception.details = Empty,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        // An access-log line per request, at debug: at info it would cost the hot paths a
        // formatted write each.
        let status = match outcome {
            Ok(response) => response.status(),
            Err(error) => error.as_response_error().status_code(),
        };
        span.in_scope(|| tracing::debug!(status = status.as_u16(), "request finished"));
        if status.is_client_error() {
            // The default builder logs every 4xx at WARN: a flood of forged tokens would
            // be a flood of log lines. A refused request is the client's problem; the
            // metrics count them, and the line above has it at debug.
            span.record("http.status_code", status.as_u16());
            span.record("otel.status_code", "OK");
        } else {
            DefaultRootSpanBuilder::on_request_end(span, outcome);
        }
    }
}
