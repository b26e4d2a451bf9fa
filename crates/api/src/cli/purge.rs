//! `authd purge`: what the server purges every `PURGE_INTERVAL`, once, now.

use anyhow::bail;
use user_store::PurgePolicy;

use crate::config::Settings;
use crate::purge::purge_once;
use crate::startup::{open_store, throttle_window};

/// One full purge, as the server runs it; fails when any rule failed.
pub async fn purge(settings: &Settings) -> anyhow::Result<()> {
    let store = open_store(settings).await?;
    // As the server's (`crate::purge::purge_policy`): both throttles keep their rows for
    // the same window.
    let policy = PurgePolicy::new(settings.token_retention(), throttle_window(settings))
        .with_event_retention(settings.database.event_retention);
    let report = purge_once(&store, &policy, None).await;
    store.close().await;
    let mut failed = 0;
    for (rule, outcome) in report {
        match outcome {
            Ok(purged) => {
                let more = if purged.complete {
                    ""
                } else {
                    " (more remain: run again)"
                };
                println!("{:<24} {:>8}  {}{more}", rule.table, purged.rows, rule.what);
            }
            Err(e) => {
                failed += 1;
                println!("{:<24} {:>8}  {}: {e:#}", rule.table, "failed", rule.what);
            }
        }
    }
    if failed > 0 {
        bail!("{failed} purge rule(s) failed");
    }
    Ok(())
}
