//! `authd` and `authd serve`: the server, until a signal stops it.

use crate::config::Settings;
use crate::startup::Application;

/// Serves until SIGTERM or SIGINT, then shuts down gracefully: no new connections, the
/// requests in flight finish (within `SHUTDOWN_TIMEOUT`), the pool is closed.
pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    let app = Application::build(settings).await?;
    let server = app.handle();
    let signals = tokio::spawn(async move {
        let signal = shutdown_signal().await;
        tracing::info!(signal, "shutting down: finishing the requests in flight");
        server.stop(true).await;
    });
    let served = app.run_until_stopped().await;
    signals.abort();
    served?;
    tracing::info!("stopped");
    Ok(())
}

/// The first of SIGTERM (what orchestrators send) and SIGINT (Ctrl-C).
async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).ok();
    let mut int = signal(SignalKind::interrupt()).ok();
    tokio::select! {
        _ = async { match term.as_mut() { Some(s) => { s.recv().await; } None => std::future::pending().await } } => "SIGTERM",
        _ = async { match int.as_mut() { Some(s) => { s.recv().await; } None => std::future::pending().await } } => "SIGINT",
    }
}
