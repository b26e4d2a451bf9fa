//! Under a login flood the argon2 queue stays bounded: what does not fit is refused at
//! once with 503 and `Retry-After`, token checks keep being served, and the service is
//! fine afterwards; the hashing threads run at a lower priority than the HTTP workers.

use futures::future::join_all;
use reqwest::StatusCode;
use rstest::rstest;

use crate::helpers::*;

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_flood_beyond_the_hashing_queue_is_shed_with_503(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app_with(
        db,
        // Logins of one name at once count against its throttle before they reach
        // the queue: allow them all, to flood the queue itself.
        &[
            ("PASSWORD_HASH_CONCURRENCY", "1"),
            ("PASSWORD_HASH_QUEUE", "2"),
            ("LOGIN_FREE_FAILURES", "1000"),
        ],
    )
    .await;
    let tokens = app.signed_in("alice").await;
    let (logins, session) = tokio::join!(
        join_all((0..24).map(|_| app.login("alice", PASSWORD))),
        async {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            app.session(&tokens.access).await
        },
    );
    assert_eq!(
        session.status(),
        StatusCode::OK,
        "token checks are served during the flood"
    );
    let mut served = 0;
    let mut shed = 0;
    for response in logins {
        match response.status() {
            StatusCode::OK => served += 1,
            StatusCode::SERVICE_UNAVAILABLE => {
                assert_eq!(response.headers()["retry-after"], "1");
                assert_error(response, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
                shed += 1;
            }
            other => panic!("unexpected {other} during a login flood"),
        }
    }
    assert!(served >= 1 && shed >= 1, "served {served}, shed {shed}");
    // Shed requests lost nothing and the queue drains: logins work again.
    assert_eq!(app.login("alice", PASSWORD).await.status(), StatusCode::OK);
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_hashed_with_older_parameters_is_rehashed_at_login(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let old = spawn_app_with(
        db,
        &[
            ("PASSWORD_HASH_MEMORY", "12288"),
            ("PASSWORD_HASH_ITERATIONS", "3"),
        ],
    )
    .await;
    old.create_user("alice").await;
    let url = old.env["DATABASE_URL"].clone();
    let stored = || async {
        let store = user_store::Store::connect(&url, &user_store::StoreOptions::default())
            .await
            .unwrap();
        let found = store
            .find_credentials(&user_store::Username::parse("alice").unwrap())
            .await
            .unwrap()
            .unwrap();
        store.close().await;
        found.password_hash
    };
    assert!(
        stored()
            .await
            .starts_with("$argon2id$v=19$m=12288,t=3,p=1$")
    );

    // The same store, now configured with the defaults (m=19456, t=2).
    let mut env: Vec<(&str, &str)> = old
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    env.retain(|(k, _)| !k.starts_with("PASSWORD_HASH_"));
    let current = spawn_app_with(db, &env).await;
    assert_eq!(
        current.login("alice", PASSWORD).await.status(),
        StatusCode::OK
    );
    eventually(
        "the hash is replaced with the configured parameters",
        || async {
            stored()
                .await
                .starts_with("$argon2id$v=19$m=19456,t=2,p=1$")
        },
    )
    .await;
    // Still the same password, and sessions were left alone.
    let tokens = current.tokens("alice").await;
    assert_eq!(current.me(&tokens.access).await.status(), StatusCode::OK);
    assert_error(
        current.login("alice", "not the password at all").await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
}

/// A thread's nice value and name from /proc (proc(5): field 19 of `stat`, and `comm`).
#[cfg(target_os = "linux")]
fn nice_and_name(task: &std::path::Path) -> Option<(i32, String)> {
    let stat = std::fs::read_to_string(task.join("stat")).ok()?;
    let name = std::fs::read_to_string(task.join("comm")).ok()?;
    // Fields after the command name (which may hold spaces) start at field 3.
    let after_name = &stat[stat.rfind(')')? + 1..];
    let nice = after_name.split_whitespace().nth(19 - 3)?.parse().ok()?;
    Some((nice, name.trim().to_owned()))
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn the_hashing_threads_run_ten_nice_levels_below_the_rest_by_default() {
    let store = crate::process::ProcessStore::new(Db::Sqlite).await;
    let server = store.start(&[("PASSWORD_HASH_CONCURRENCY", "2")]).await;
    let proc_dir = std::path::PathBuf::from(format!("/proc/{}", server.pid()));
    let (base, _) = nice_and_name(&proc_dir).expect("the process's own stat");
    let expected = vec![(base + 10).min(19); 2];
    // Each hashing thread names itself and lowers its own priority as it starts, which
    // may be just after the server answers: read the threads until both have (bounded).
    let read_threads = || -> Vec<(i32, String)> {
        std::fs::read_dir(proc_dir.join("task"))
            .expect("the process's threads")
            .filter_map(|task| nice_and_name(&task.ok()?.path()))
            .collect()
    };
    let hashing_of = |threads: &[(i32, String)]| -> Vec<i32> {
        threads
            .iter()
            .filter(|(_, name)| name.starts_with("argon2-"))
            .map(|(nice, _)| *nice)
            .collect()
    };
    let mut threads = read_threads();
    for _ in 0..100 {
        if hashing_of(&threads) == expected {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        threads = read_threads();
    }
    let hashing = hashing_of(&threads);
    assert_eq!(hashing, expected, "{threads:?}");
    assert!(
        threads
            .iter()
            .filter(|(_, name)| !name.starts_with("argon2-"))
            .all(|(nice, _)| *nice == base),
        "every other thread keeps the process's priority: {threads:?}"
    );
    // Hashing still works at that priority.
    server.create_user("alice").await;
    assert_eq!(
        server.login("alice", PASSWORD).await.status(),
        StatusCode::OK
    );
}
