//! Database faults: PostgreSQL unreachable or hanging (through a proxy the test controls),
//! and `kill -9` of the server while it acknowledges registrations.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reqwest::{Response, StatusCode};
use rstest::rstest;
use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use user_store::{Store, StoreOptions, Username};

use crate::helpers::*;
use crate::process::ProcessStore;

/// What the proxy does to the database's traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    /// Forwards both ways.
    Up,
    /// Closes every connection, open or new: the database has stopped.
    Down,
    /// Holds every connection open and forwards nothing: a network partition, where
    /// requests hang rather than fail.
    Hanging,
}

/// A TCP proxy in front of PostgreSQL whose link the test switches.
struct FaultProxy {
    port: u16,
    link: watch::Sender<Link>,
}

impl FaultProxy {
    async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (link, _) = watch::channel(Link::Up);
        let links = link.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(carry(client, upstream, links.subscribe()));
            }
        });
        Self { port, link }
    }

    fn set(&self, link: Link) {
        self.link.send_replace(link);
    }
}

/// One connection through the proxy, for as long as the link stays as it was at its start.
async fn carry(mut client: TcpStream, upstream: SocketAddr, mut link: watch::Receiver<Link>) {
    let at_start = *link.borrow_and_update();
    match at_start {
        Link::Down => {}
        Link::Hanging => {
            let _ = link.wait_for(|l| *l != Link::Hanging).await;
        }
        Link::Up => {
            let Ok(mut server) = TcpStream::connect(upstream).await else {
                return;
            };
            let changed = tokio::select! {
                _ = copy_bidirectional(&mut client, &mut server) => None,
                changed = link.wait_for(|l| *l != Link::Up) => changed.ok().map(|l| *l),
            };
            if changed == Some(Link::Hanging) {
                // Partitioned: keep both ends open, silent, until the link changes.
                let _ = link.wait_for(|l| *l != Link::Hanging).await;
            }
        }
    }
}

/// The test database's URL with its host and port replaced by the proxy's, and the
/// address of the real server.
fn through_proxy(url: &str, proxy_port: u16) -> (String, SocketAddr) {
    let mut parsed = reqwest::Url::parse(url).unwrap();
    let host = parsed.host_str().unwrap_or("127.0.0.1").to_owned();
    let port = parsed.port().unwrap_or(5432);
    let upstream = format!("{host}:{port}")
        .parse()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], port)));
    parsed.set_host(Some("127.0.0.1")).unwrap();
    parsed.set_port(Some(proxy_port)).unwrap();
    (parsed.to_string(), upstream)
}

/// A 503 `unavailable` with `Retry-After`, within `limit` of `started`.
async fn assert_unavailable(response: Response, started: Instant, limit: Duration) {
    let elapsed = started.elapsed();
    assert!(elapsed < limit, "answered after {elapsed:?}");
    assert!(
        response.headers().contains_key("retry-after"),
        "{} {:?}",
        response.status(),
        response.headers()
    );
    assert_error(response, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
}

/// With the database unreachable (`Down`) or hanging: everything that needs the store
/// answers 503 within the configured timeouts, `/api/session` keeps serving from the token.
async fn assert_degraded(app: &TestApp, tokens: &Tokens, limit: Duration) {
    let started = Instant::now();
    assert_unavailable(
        app.client.get(app.url("/readyz")).send().await.unwrap(),
        started,
        limit,
    )
    .await;
    let started = Instant::now();
    assert_unavailable(app.me(&tokens.access).await, started, limit).await;
    let started = Instant::now();
    assert_unavailable(app.login("alice", PASSWORD).await, started, limit).await;
    let started = Instant::now();
    assert_unavailable(app.refresh(&tokens.refresh).await, started, limit).await;
    let started = Instant::now();
    assert_unavailable(app.register("bob", PASSWORD).await, started, limit).await;
    // The token alone: no database.
    assert_eq!(app.session(&tokens.access).await.status(), StatusCode::OK);
    assert_eq!(
        app.client
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
}

/// Back up: ready again without a restart, and the store works.
async fn assert_recovers(app: &TestApp, tokens: &Tokens) {
    eventually("readiness after the database returns", || async {
        app.client
            .get(app.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status()
            == StatusCode::OK
    })
    .await;
    assert_eq!(app.me(&tokens.access).await.status(), StatusCode::OK);
    assert_eq!(app.login("alice", PASSWORD).await.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_postgres_down_or_hanging_requests_fail_fast_with_503_and_recover_without_a_restart() {
    if !postgres_or_skip("fault test not run") {
        return;
    }
    let pg = PgDatabase::create().await;
    let (_, upstream) = through_proxy(&pg.url, 0);
    let proxy = FaultProxy::start(upstream).await;
    let (url, _) = through_proxy(&pg.url, proxy.port);
    let app = spawn_app_with(
        Db::Sqlite,
        &[
            ("DATABASE_URL", &url),
            ("DATABASE_TIMEOUT", "1s"),
            ("REQUEST_TIMEOUT", "3s"),
        ],
    )
    .await;
    let tokens = app.signed_in("alice").await;
    // Far below the defaults (5 s, 30 s): the configured timeouts are what bound the wait.
    let limit = Duration::from_secs(10);

    proxy.set(Link::Down);
    assert_degraded(&app, &tokens, limit).await;
    proxy.set(Link::Up);
    assert_recovers(&app, &tokens).await;

    proxy.set(Link::Hanging);
    assert_degraded(&app, &tokens, limit).await;
    proxy.set(Link::Up);
    assert_recovers(&app, &tokens).await;
    // Nothing was lost or half-done: the session still refreshes, and logout works.
    assert_eq!(app.refresh(&tokens.refresh).await.status(), StatusCode::OK);
    assert_eq!(
        app.logout(&tokens.access, None).await.status(),
        StatusCode::NO_CONTENT
    );
    drop(pg);
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_a_burst_of_registrations_loses_no_acknowledged_user(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let store = ProcessStore::new(db).await;
    let settings = [("HTTP_WORKERS", "2"), ("PASSWORD_HASH_CONCURRENCY", "2")];
    let mut server = store.start(&settings).await;

    // 60 registrations, 8 at a time; the server is killed once 10 have been acknowledged,
    // with others in flight.
    let acknowledged = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let count = Arc::new(AtomicUsize::new(0));
    let mut burst = Vec::new();
    for worker in 0..8 {
        let http = Http::new(server.address.clone());
        let acknowledged = acknowledged.clone();
        let count = count.clone();
        burst.push(tokio::spawn(async move {
            for i in 0..8 {
                let name = format!("user-{worker}-{i}");
                let Ok(response) = http
                    .client
                    .post(http.url("/auth/register"))
                    .json(&serde_json::json!({"username": name, "password": PASSWORD}))
                    .send()
                    .await
                else {
                    return;
                };
                if response.status() == StatusCode::CREATED {
                    acknowledged.lock().unwrap().push(name);
                    count.fetch_add(1, Ordering::SeqCst);
                }
            }
        }));
    }
    let started = Instant::now();
    while count.load(Ordering::SeqCst) < 10 && started.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.kill9();
    for task in burst {
        let _ = tokio::time::timeout(Duration::from_secs(30), task).await;
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() >= 10,
        "only {} registrations acknowledged",
        acknowledged.len()
    );

    // Reopen the store as a restarted server would (SQLite recovers its WAL here).
    let reopened = Store::connect(&store.database_url, &StoreOptions::default())
        .await
        .unwrap();
    for name in &acknowledged {
        let found = reopened
            .find_credentials(&Username::parse(name).unwrap())
            .await
            .unwrap();
        assert!(found.is_some(), "{name} got 201 but is gone after kill -9");
    }
    reopened.close().await;
    // And the server starts again on it.
    let restarted = store.start(&settings).await;
    assert_eq!(
        restarted.login(&acknowledged[0], PASSWORD).await.status(),
        StatusCode::OK
    );
    drop(restarted);
}
