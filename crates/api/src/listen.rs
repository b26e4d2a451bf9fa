//! What the server listens on, bound before anything else is done, so that a bad
//! `BIND_ADDR`, TLS file or `METRICS_ADDR` fails before anything is created on disk.

use std::net::TcpListener;

use anyhow::Context;

use crate::config::Settings;

/// What the server listens on, bound before anything else is done.
pub(crate) struct Listeners {
    pub listener: TcpListener,
    pub tls: Option<rustls::ServerConfig>,
    /// `METRICS_ADDR`, when set.
    pub metrics_listener: Option<TcpListener>,
}

impl Listeners {
    pub fn bind(settings: &Settings) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(&settings.http.bind_addr).with_context(|| {
            format!(
                "invalid BIND_ADDR: cannot listen on {}",
                settings.http.bind_addr
            )
        })?;
        let tls = match &settings.http.tls {
            Some((cert, key)) => Some(crate::tls::server_config(cert, key)?),
            None => None,
        };
        let metrics_listener = match &settings.observability.metrics_addr {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .with_context(|| format!("invalid METRICS_ADDR: cannot listen on {addr}"))?,
            ),
            None => None,
        };
        Ok(Self {
            listener,
            tls,
            metrics_listener,
        })
    }

    /// The port the main listener is bound to (the one chosen, for port 0).
    pub fn port(&self) -> anyhow::Result<u16> {
        Ok(self
            .listener
            .local_addr()
            .context("reading the bound address")?
            .port())
    }
}
