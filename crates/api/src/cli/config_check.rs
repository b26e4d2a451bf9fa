//! `authd config check`: the effective configuration with secrets masked, and every
//! problem found, not just the first; the exit status says whether authd would start.

use std::collections::HashSet;
use std::net::ToSocketAddrs;
use std::time::Duration;

use secrecy::ExposeSecret;
use user_store::{Store, StoreOptions};

use crate::config::{ConfigError, Entry, Settings};

/// Reads the configuration through `lookup`, collecting every bad key, then tries the
/// things a start needs: the data folder, the key file, the TLS certificate and key, the
/// listen addresses and the database. Prints a report; `Ok(false)` when anything is
/// wrong.
pub async fn check(lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<bool> {
    let mut problems: Vec<String> = Vec::new();
    let Some((settings, shown)) = read_all(lookup, &mut problems) else {
        return report(None, problems);
    };
    check_files_and_addresses(&settings, &mut problems);
    if problems.is_empty() {
        check_database(&settings, &mut problems).await;
    }
    report(Some(&shown), problems)
}

/// The settings with every bad key set aside (each failing key is dropped and the rest
/// read again) and reported; `None` when a default itself is refused.
fn read_all(
    lookup: impl Fn(&str) -> Option<String>,
    problems: &mut Vec<String>,
) -> Option<(Settings, Vec<Entry>)> {
    let mut ignored: HashSet<&'static str> = HashSet::new();
    loop {
        let read = Settings::read(|key| {
            if ignored.contains(key) {
                None
            } else {
                lookup(key)
            }
        });
        match read {
            Ok(read) => return Some(read),
            Err(ConfigError { key, message }) => {
                problems.push(format!("{key}: {message}"));
                if !ignored.insert(key) {
                    // The default itself is refused: nothing more to learn.
                    return None;
                }
            }
        }
    }
}

/// The data folder can be created, the key file and the TLS files read, the addresses
/// resolved (not bound: a running authd may hold the port).
fn check_files_and_addresses(settings: &Settings, problems: &mut Vec<String>) {
    let data_dir = &settings.database.data_dir;
    if let Err(e) = std::fs::create_dir_all(data_dir) {
        problems.push(format!(
            "DATA_DIR: cannot create {}: {e}",
            data_dir.display()
        ));
    }
    if let Some(path) = &settings.signing.private_key_file
        && let Err(e) = std::fs::read(path)
    {
        problems.push(format!(
            "JWT_PRIVATE_KEY_FILE: cannot read {}: {e}",
            path.display()
        ));
    }
    if let Some((cert, key)) = &settings.http.tls
        && let Err(e) = crate::tls::server_config(cert, key)
    {
        problems.push(format!("{e:#}"));
    }
    let addresses = [
        ("BIND_ADDR", Some(&settings.http.bind_addr)),
        ("METRICS_ADDR", settings.observability.metrics_addr.as_ref()),
    ];
    for (key, addr) in addresses {
        if let Some(addr) = addr
            && addr
                .to_socket_addrs()
                .map_or(true, |mut found| found.next().is_none())
        {
            problems.push(format!(
                "{key}: {addr:?} is not an address to listen on (host:port)"
            ));
        }
    }
}

/// Connects and asks one question; nothing is migrated or written.
async fn check_database(settings: &Settings, problems: &mut Vec<String>) {
    let options = StoreOptions {
        max_connections: 1,
        acquire_timeout: settings.database.timeout.min(Duration::from_secs(5)),
    };
    let reached = match Store::connect(settings.database.url.expose_secret(), &options).await {
        Ok(store) => {
            let answered = store.ping().await;
            store.close().await;
            answered
        }
        Err(e) => Err(e),
    };
    if let Err(e) = reached {
        problems.push(format!("DATABASE_URL: cannot reach the database: {e:#}"));
    }
}

/// Prints every key as read (`shown`, from the keys' own declarations, secrets masked)
/// and the problems.
fn report(shown: Option<&[Entry]>, problems: Vec<String>) -> anyhow::Result<bool> {
    if let Some(shown) = shown {
        println!("effective configuration (bad values replaced by defaults):");
        for Entry { name, shown, .. } in shown {
            println!("  {name}={shown}");
        }
    }
    if problems.is_empty() {
        println!("no problems found");
        return Ok(true);
    }
    println!("problems:");
    for problem in &problems {
        println!("  {problem}");
    }
    Ok(false)
}
