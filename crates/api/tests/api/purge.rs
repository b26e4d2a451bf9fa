//! Housekeeping: the purge deletes what can no longer matter (spent tokens once expired,
//! sessions once their last access token is past, stale throttle rows), in batches, and
//! nothing that still does. Rows are counted in the database itself; purges are run "as of"
//! a later instant through the store, so that no test waits for days to pass.

use std::time::Duration;

use api::{Application, Settings};
use reqwest::StatusCode;
use rstest::rstest;
use user_store::{ENDED_SESSION_MARGIN, PurgePolicy, Store, StoreOptions, Timestamp};

use crate::cli::run_authd;
use crate::helpers::*;
use crate::process::ProcessStore;

/// ACCESS_TOKEN_TTL + JWT_LEEWAY by default: how long an access token can verify.
const TOKEN_RETENTION: Duration = Duration::from_secs(15 * 60 + 30);
/// The login throttle's window.
const WINDOW: Duration = Duration::from_secs(15 * 60);

/// What the server keeps with default settings.
fn policy() -> PurgePolicy {
    PurgePolicy::new(TOKEN_RETENTION, WINDOW)
}

/// The test app's database, opened beside it.
async fn store_of(app: &TestApp) -> Store {
    Store::connect(&app.env["DATABASE_URL"], &StoreOptions::default())
        .await
        .unwrap()
}

/// `SELECT COUNT(*) ...`.
async fn count(store: &Store, sql: &'static str) -> i64 {
    match store {
        Store::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap(),
        Store::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap(),
    }
}

async fn rows(store: &Store, table: &str) -> i64 {
    match table {
        "refresh_tokens" => count(store, "SELECT COUNT(*) FROM refresh_tokens").await,
        "sessions" => count(store, "SELECT COUNT(*) FROM sessions").await,
        "users" => count(store, "SELECT COUNT(*) FROM users").await,
        other => panic!("no count for {other}"),
    }
}

/// The keys left in a throttle table, sorted (here: collations differ).
async fn throttle_keys(store: &Store, sql: &'static str) -> Vec<String> {
    let mut keys: Vec<String> = match store {
        Store::Sqlite(pool) => sqlx::query_scalar(sql).fetch_all(pool).await.unwrap(),
        Store::Postgres(pool) => sqlx::query_scalar(sql).fetch_all(pool).await.unwrap(),
    };
    keys.sort();
    keys
}

/// Inserts a throttle row with the given times (`sql` takes key, last failure, block end).
async fn insert_throttle_row(
    store: &Store,
    sql: &'static str,
    key: &str,
    last_failure_at: Timestamp,
    blocked_until: Option<Timestamp>,
) {
    match store {
        Store::Sqlite(pool) => sqlx::query(sql)
            .bind(key)
            .bind(last_failure_at)
            .bind(blocked_until)
            .execute(pool)
            .await
            .map(|_| ()),
        Store::Postgres(pool) => sqlx::query(sql)
            .bind(key)
            .bind(last_failure_at)
            .bind(blocked_until)
            .execute(pool)
            .await
            .map(|_| ()),
    }
    .unwrap();
}

const INSERT_LOGIN_FAILURE: &str = "INSERT INTO login_failures \
    (username_key, failures, last_failure_at, blocked_until) VALUES ($1, 10, $2, $3)";
const INSERT_ADDRESS_FAILURE: &str = "INSERT INTO address_login_failures \
    (address, failures, last_failure_at, blocked_until) VALUES ($1, 10, $2, $3)";

/// The newest refresh token's expiry.
async fn newest_refresh_expiry(store: &Store) -> Timestamp {
    const SQL: &str = "SELECT expires_at FROM refresh_tokens ORDER BY expires_at DESC LIMIT 1";
    match store {
        Store::Sqlite(pool) => sqlx::query_scalar(SQL).fetch_one(pool).await.unwrap(),
        Store::Postgres(pool) => sqlx::query_scalar(SQL).fetch_one(pool).await.unwrap(),
    }
}

/// Another server on the same database and settings: a replica that (re)starts now.
async fn replica_of(app: &TestApp) -> Http {
    let settings = Settings::from_lookup(|k| app.env.get(k).cloned()).unwrap();
    let replica = Application::build(settings).await.unwrap();
    let http = Http::new(format!("http://127.0.0.1:{}", replica.port()));
    tokio::spawn(replica.run_until_stopped());
    http
}

/// The value of one sample line of `/metrics`, e.g. `authd_purged_rows_total{table="sessions"}`.
async fn metric(app: &TestApp, series: &str) -> Option<f64> {
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_refreshes_keep_their_spent_tokens_until_they_expire_then_leave_one(
    #[case] db: Db,
) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let mut tokens = app.signed_in("alice").await;
    for _ in 0..100 {
        let response = app.refresh(&tokens.refresh).await;
        assert_eq!(response.status(), StatusCode::OK);
        tokens = Tokens::from_body(&response.json().await.unwrap());
    }
    let store = store_of(&app).await;
    assert_eq!(rows(&store, "refresh_tokens").await, 101);

    // Now: every spent token is still within its lifetime, so each is kept (its reuse
    // must still be seen as theft).
    store.purge(&policy(), Timestamp::now()).await.unwrap();
    assert_eq!(rows(&store, "refresh_tokens").await, 101);
    assert_eq!(rows(&store, "sessions").await, 1);

    // Just before the newest token expires, the 100 spent ones have: one row is left,
    // and the session lives on.
    let newest = newest_refresh_expiry(&store).await;
    store
        .purge(&policy(), newest.minus(Duration::from_micros(1)))
        .await
        .unwrap();
    assert_eq!(rows(&store, "refresh_tokens").await, 1);
    assert_eq!(rows(&store, "sessions").await, 1);
    assert_eq!(app.refresh(&tokens.refresh).await.status(), StatusCode::OK);

    // Once the session has expired and its last access token with it, nothing is left
    // of it; the user stays.
    let after_all = newest_refresh_expiry(&store)
        .await
        .plus(TOKEN_RETENTION + ENDED_SESSION_MARGIN + Duration::from_secs(1));
    store.purge(&policy(), after_all).await.unwrap();
    assert_eq!(rows(&store, "refresh_tokens").await, 0);
    assert_eq!(rows(&store, "sessions").await, 0);
    assert_eq!(rows(&store, "users").await, 1);
    store.close().await;
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_unexpired_token_is_kept_and_its_reuse_still_revokes_the_session(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app_with(db, &[("REFRESH_REUSE_GRACE", "0")]).await;
    let stolen = app.signed_in("alice").await;
    let child = Tokens::from_body(&app.refresh(&stolen.refresh).await.json().await.unwrap());
    let store = store_of(&app).await;
    let purged = store.purge(&policy(), Timestamp::now()).await.unwrap();
    assert!(
        purged.iter().all(|(_, p)| p.rows == 0 && p.complete),
        "{purged:?}"
    );
    assert_eq!(rows(&store, "refresh_tokens").await, 2);

    // RFC 9700 §4.14.2: the spent token comes back and the whole session is revoked.
    assert_error(
        app.refresh(&stolen.refresh).await,
        StatusCode::UNAUTHORIZED,
        "invalid_grant",
    )
    .await;
    assert_error(
        app.refresh(&child.refresh).await,
        StatusCode::UNAUTHORIZED,
        "invalid_grant",
    )
    .await;
    assert_unauthorized(app.session(&child.access).await, true).await;

    // The revoked session's tokens can do nothing more and go at once; the session
    // itself stays (its access tokens have yet to expire).
    store.purge(&policy(), Timestamp::now()).await.unwrap();
    assert_eq!(rows(&store, "refresh_tokens").await, 0);
    assert_eq!(rows(&store, "sessions").await, 1);
    assert_error(
        app.refresh(&stolen.refresh).await,
        StatusCode::UNAUTHORIZED,
        "invalid_grant",
    )
    .await;
    store.close().await;
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_session_is_kept_while_its_access_tokens_could_verify_then_deleted(
    #[case] db: Db,
) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let tokens = app.signed_in("alice").await;
    assert_eq!(
        app.logout(&tokens.access, None).await.status(),
        StatusCode::NO_CONTENT
    );
    let revoked_at = Timestamp::now();
    let store = store_of(&app).await;
    store.purge(&policy(), Timestamp::now()).await.unwrap();
    assert_eq!(rows(&store, "sessions").await, 1);

    // A replica that starts now loads the revocation from the session's row, so the
    // access token, still within its lifetime, is refused there too.
    let restarted = replica_of(&app).await;
    assert_unauthorized(restarted.session(&tokens.access).await, true).await;

    // Kept as long as an access token of it could verify, and a margin...
    let keep = TOKEN_RETENTION + ENDED_SESSION_MARGIN;
    store
        .purge(&policy(), revoked_at.plus(keep - Duration::from_secs(5)))
        .await
        .unwrap();
    assert_eq!(rows(&store, "sessions").await, 1);
    // ...and not longer.
    store
        .purge(&policy(), revoked_at.plus(keep + Duration::from_secs(5)))
        .await
        .unwrap();
    assert_eq!(rows(&store, "sessions").await, 0);
    store.close().await;
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_throttle_rows_are_deleted_and_blocking_rows_are_kept(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app_with(db, &[("LOGIN_IP_FREE_FAILURES", "3")]).await;
    let store = store_of(&app).await;
    let now = Timestamp::now();
    let ago = |minutes: u64| now.minus(Duration::from_secs(minutes * 60));
    let from_now = |minutes: u64| now.plus(Duration::from_secs(minutes * 60));
    // (key, last failure, end of block, kept?)
    let cases = [
        ("a-stale", ago(20), None, false),
        ("b-block-ended-long-ago", ago(40), Some(ago(20)), false),
        ("c-recent", ago(1), None, true),
        // The window counts from the end of the block.
        ("d-block-ended-recently", ago(40), Some(ago(10)), true),
        ("e-blocked", ago(20), Some(from_now(10)), true),
    ];
    let address = |i: usize| format!("192.0.2.{}", i + 1);
    for (i, (key, last, blocked, _)) in cases.iter().enumerate() {
        insert_throttle_row(&store, INSERT_LOGIN_FAILURE, key, *last, *blocked).await;
        insert_throttle_row(&store, INSERT_ADDRESS_FAILURE, &address(i), *last, *blocked).await;
    }
    // And a real failure, just now (counted against the name and the address).
    assert_eq!(
        app.login("mallory", "wrong password").await.status(),
        StatusCode::UNAUTHORIZED
    );

    // (The server's own purge may have run already: only what is left is compared.)
    store.purge(&policy(), Timestamp::now()).await.unwrap();
    let mut kept: Vec<String> = cases
        .iter()
        .filter(|c| c.3)
        .map(|c| c.0.to_owned())
        .collect();
    kept.push("mallory".to_owned());
    assert_eq!(
        throttle_keys(&store, "SELECT username_key FROM login_failures").await,
        kept
    );
    let mut kept: Vec<String> = cases
        .iter()
        .enumerate()
        .filter(|(_, c)| c.3)
        .map(|(i, _)| address(i))
        .collect();
    kept.push("127.0.0.1".to_owned());
    kept.sort();
    assert_eq!(
        throttle_keys(&store, "SELECT address FROM address_login_failures").await,
        kept
    );

    // The block still holds.
    let response = app.login("e-blocked", PASSWORD).await;
    assert_error(response, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
    store.close().await;
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purge_with_more_rows_than_a_batch_deletes_them_all_in_several_batches(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let store = store_of(&app).await;
    // 1234 throttle rows, in one statement; recent, so the server's own purge leaves
    // them, and purged below as of an hour from now.
    const FILL: &str = "WITH RECURSIVE n(i) AS \
        (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $2) \
        INSERT INTO login_failures (username_key, failures, last_failure_at) \
        SELECT 'user-' || i, 1, $1 FROM n";
    let now = Timestamp::now();
    let later = now.plus(Duration::from_secs(3600));
    match &store {
        Store::Sqlite(pool) => sqlx::query(FILL)
            .bind(now)
            .bind(1234_i32)
            .execute(pool)
            .await
            .map(|_| ()),
        Store::Postgres(pool) => sqlx::query(FILL)
            .bind(now)
            .bind(1234_i32)
            .execute(pool)
            .await
            .map(|_| ()),
    }
    .unwrap();
    let stale = || count(&store, "SELECT COUNT(*) FROM login_failures");
    assert_eq!(stale().await, 1234);

    let rule = user_store::PURGE_RULES
        .iter()
        .find(|r| r.table == "login_failures")
        .unwrap();
    let small = PurgePolicy {
        batch_size: 100,
        max_batches: 5,
        pause: Duration::from_millis(1),
        ..policy()
    };
    // A run stops at its bound and says so...
    let first = store.purge_rule(rule, &small, later).await.unwrap();
    assert_eq!((first.rows, first.batches, first.complete), (500, 5, false));
    assert_eq!(stale().await, 734);
    // ...and the next goes on: seven full batches and a short one.
    let more = PurgePolicy {
        max_batches: 100,
        ..small
    };
    let second = store.purge_rule(rule, &more, later).await.unwrap();
    assert_eq!(
        (second.rows, second.batches, second.complete),
        (734, 8, true)
    );
    assert_eq!(stale().await, 0);
    store.close().await;
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_purges_by_itself_and_counts_the_rows(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app_with(db, &[("PURGE_INTERVAL", "10s")]).await;
    let store = store_of(&app).await;
    let long_ago = Timestamp::now().minus(Duration::from_secs(3600));
    insert_throttle_row(&store, INSERT_LOGIN_FAILURE, "stale", long_ago, None).await;
    // The first run comes shortly after start (or, at worst, the next one).
    eventually("the server deletes the stale row", || async {
        count(&store, "SELECT COUNT(*) FROM login_failures").await == 0
    })
    .await;
    assert_eq!(
        metric(&app, r#"authd_purged_rows_total{table="login_failures"}"#).await,
        Some(1.0)
    );
    assert_eq!(
        metric(&app, r#"authd_purged_rows_total{table="sessions"}"#).await,
        Some(0.0)
    );
    assert_eq!(
        metric(
            &app,
            r#"authd_purge_failures_total{table="login_failures"}"#
        )
        .await,
        None
    );
    store.close().await;
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_purge_is_counted_and_the_server_and_other_tables_carry_on(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app_with(db, &[("PURGE_INTERVAL", "10s")]).await;
    let store = store_of(&app).await;
    // A table the purge cannot reach (this build does not use it without LOGIN_IP_FREE_FAILURES).
    match &store {
        Store::Sqlite(pool) => sqlx::query("DROP TABLE address_login_failures")
            .execute(pool)
            .await
            .map(|_| ()),
        Store::Postgres(pool) => sqlx::query("DROP TABLE address_login_failures")
            .execute(pool)
            .await
            .map(|_| ()),
    }
    .unwrap();
    insert_throttle_row(
        &store,
        INSERT_LOGIN_FAILURE,
        "stale",
        Timestamp::now().minus(Duration::from_secs(3600)),
        None,
    )
    .await;
    eventually("the failure is counted", || async {
        metric(
            &app,
            r#"authd_purge_failures_total{table="address_login_failures"}"#,
        )
        .await
            >= Some(1.0)
    })
    .await;
    eventually("the other tables are purged all the same", || async {
        count(&store, "SELECT COUNT(*) FROM login_failures").await == 0
    })
    .await;
    assert_eq!(
        app.client
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    app.signed_in("alice").await;
    store.close().await;
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authd_purge_runs_one_purge_and_prints_the_rows_per_table(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    // No server on this store: its own purge would race the command's.
    let place = ProcessStore::new(db).await;
    let migrated = run_authd(place.dir.path(), place.vars(&[]), &["migrate"], None).await;
    assert!(migrated.status.success(), "{}", migrated.stderr);
    let store = Store::connect(&place.database_url, &StoreOptions::default())
        .await
        .unwrap();
    insert_throttle_row(
        &store,
        INSERT_LOGIN_FAILURE,
        "stale",
        Timestamp::now().minus(Duration::from_secs(3600)),
        None,
    )
    .await;
    insert_throttle_row(
        &store,
        INSERT_LOGIN_FAILURE,
        "recent",
        Timestamp::now(),
        None,
    )
    .await;

    let done = run_authd(place.dir.path(), place.vars(&[]), &["purge"], None).await;
    assert!(done.status.success(), "{}", done.stderr);
    let line = done
        .stdout
        .lines()
        .find(|l| l.starts_with("login_failures "))
        .unwrap_or_else(|| panic!("{}", done.stdout));
    assert_eq!(line.split_whitespace().nth(1), Some("1"), "{}", done.stdout);
    assert_eq!(
        throttle_keys(&store, "SELECT username_key FROM login_failures").await,
        ["recent"]
    );
    store.close().await;
}
