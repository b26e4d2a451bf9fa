//! The HTTP servers: the middleware stack around the routes, the limits that protect the
//! workers from slow clients, and the separate `/metrics` listener.

use std::net::TcpListener;
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, Service, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::{Condition, ErrorHandlers, from_fn};
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use tracing_actix_web::TracingLogger;

use crate::config::Http;
use crate::cors::AllowedOrigins;
use crate::error::{ApiError, render_non_json_errors};
use crate::metrics::{self, observe};
use crate::openapi::OpenApiJson;
use crate::request_id::echo_request_id;
use crate::startup::routes;
use crate::state::AppState;
use crate::telemetry::RequestSpan;

/// What every worker's `App` is made of.
#[derive(Clone)]
pub(crate) struct AppParts {
    pub state: web::Data<AppState>,
    pub openapi: web::Data<OpenApiJson>,
    pub body_limit: usize,
    pub request_timeout: Duration,
    /// Whether `/metrics` is served here (no `METRICS_ADDR`).
    pub metrics_here: bool,
    pub cors: AllowedOrigins,
}

impl AppParts {
    /// One worker's application: the middleware (innermost first) around the routes.
    fn app(
        self,
    ) -> App<
        impl ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<impl MessageBody>,
            Error = actix_web::Error,
            InitError = (),
        >,
    > {
        let request_timeout = self.request_timeout;
        let metrics_here = self.metrics_here;
        App::new()
            .wrap_fn(move |req, service| {
                let response = service.call(req);
                async move {
                    tokio::time::timeout(request_timeout, response)
                        .await
                        .unwrap_or_else(|_| Err(ApiError::TimedOut.into()))
                }
            })
            .wrap(Condition::new(
                !self.cors.is_empty(),
                self.cors.middleware(),
            ))
            .wrap(ErrorHandlers::new().default_handler(render_non_json_errors))
            .wrap(from_fn(observe))
            .wrap(from_fn(echo_request_id))
            .wrap(TracingLogger::<RequestSpan>::new())
            .app_data(self.state.clone())
            .app_data(self.openapi.clone())
            .app_data(web::PayloadConfig::new(self.body_limit))
            .configure(|cfg| {
                if metrics_here {
                    cfg.service(web::resource("/metrics").route(web::get().to(metrics::metrics)));
                }
            })
            .configure(routes)
    }
}

/// The HTTP server on `listener`, with the limits that protect it from slow clients.
pub(crate) fn http_server(
    parts: AppParts,
    http: &Http,
    listener: TcpListener,
    tls: Option<rustls::ServerConfig>,
) -> anyhow::Result<Server> {
    let workers = http.workers;
    let server = HttpServer::new(move || parts.clone().app())
        .workers(workers)
        // Slow clients: the request head must arrive within REQUEST_HEADER_TIMEOUT (else
        // 408 and the connection is closed), idle keep-alive connections are closed after
        // as long, and at most MAX_CONNECTIONS are open at once (actix counts per worker;
        // beyond it new connections wait in the listen backlog).
        .client_request_timeout(http.header_timeout)
        .keep_alive(http.header_timeout)
        .client_disconnect_timeout(Duration::from_secs(1))
        .max_connections(http.max_connections.div_ceil(workers).max(1))
        // Signals are the binary's business (`cli`): a test process keeps its own.
        .disable_signals()
        .shutdown_timeout(http.shutdown_timeout.as_secs());
    Ok(match tls {
        Some(config) => server.listen_rustls_0_23(listener, config),
        None => server.listen(listener),
    }
    .context("starting the HTTP server")?
    .run())
}

/// `GET /metrics` alone, on its own listener (one worker): kept off the public port.
pub(crate) fn metrics_server(
    listener: TcpListener,
    state: web::Data<AppState>,
) -> anyhow::Result<(u16, Server)> {
    let port = listener
        .local_addr()
        .context("reading the metrics address")?
        .port();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .service(web::resource("/metrics").route(web::get().to(metrics::metrics)))
            .default_service(web::to(|| async {
                Err::<actix_web::HttpResponse, _>(ApiError::NotFound)
            }))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .context("starting the metrics server")?
    .run();
    tracing::info!(port, "metrics listening");
    Ok((port, server))
}
