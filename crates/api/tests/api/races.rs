//! State changes win over requests in flight: once a password change, a disable or a
//! role removal has been answered, no session survives that was opened by a login that
//! checked the old state (contract, "Tokens"). Each test keeps four clients logging in
//! in a loop while the change is made, then checks every session they were given.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::future::join_all;
use reqwest::{Method, StatusCode};
use rstest::rstest;
use serde_json::json;

use crate::helpers::*;

const NEW_PASSWORD: &str = "an entirely different passphrase";

/// Four clients logging `username` in with [`PASSWORD`] until `stop` (at most 400 tries
/// each, 30 s in all); the tokens of every login that succeeded.
async fn keep_logging_in(
    app: &TestApp,
    username: &str,
    stop: Arc<AtomicBool>,
    succeeded: Arc<AtomicUsize>,
) -> Vec<Tokens> {
    let started = Instant::now();
    let client = |_| {
        let stop = stop.clone();
        let succeeded = succeeded.clone();
        async move {
            let mut got = Vec::new();
            for _ in 0..400 {
                if stop.load(Ordering::SeqCst) || started.elapsed() > Duration::from_secs(30) {
                    break;
                }
                let response = app.login(username, PASSWORD).await;
                match response.status() {
                    StatusCode::OK => {
                        got.push(Tokens::from_body(&response.json().await.unwrap()));
                        succeeded.fetch_add(1, Ordering::SeqCst);
                    }
                    StatusCode::UNAUTHORIZED
                    | StatusCode::FORBIDDEN
                    | StatusCode::TOO_MANY_REQUESTS => {}
                    other => panic!("unexpected {other} from a login"),
                }
            }
            got
        }
    };
    join_all((0..4).map(client))
        .await
        .into_iter()
        .flatten()
        .collect()
}

/// Runs `change` while four clients log `username` in, stops them a moment after it is
/// answered, and returns every session they got.
async fn logins_racing<F, Fut>(app: &TestApp, username: &str, change: F) -> Vec<Tokens>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let stop = Arc::new(AtomicBool::new(false));
    let succeeded = Arc::new(AtomicUsize::new(0));
    let logins = keep_logging_in(app, username, stop.clone(), succeeded.clone());
    let (sessions, ()) = tokio::join!(logins, async {
        // Let the logins get going (however slow the machine), so that some are between
        // their password check and their session when the change lands.
        let started = Instant::now();
        while succeeded.load(Ordering::SeqCst) < 4 && started.elapsed() < Duration::from_secs(20) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        change().await;
        // Logins in flight when the change was answered finish within this.
        tokio::time::sleep(Duration::from_millis(500)).await;
        stop.store(true, Ordering::SeqCst);
    });
    assert!(
        !sessions.is_empty(),
        "some logins succeeded before the change"
    );
    sessions
}

/// Every session must be dead: its access token refused, its refresh token too.
async fn assert_all_revoked(app: &TestApp, sessions: &[Tokens], what: &str) {
    let mut alive = 0;
    for tokens in sessions {
        if app.session(&tokens.access).await.status() == StatusCode::OK {
            alive += 1;
        }
        if app.refresh(&tokens.refresh).await.status() == StatusCode::OK {
            alive += 1;
        }
    }
    assert_eq!(
        alive,
        0,
        "{alive} tokens of {} sessions survived {what}",
        sessions.len()
    );
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_login_in_flight_outlives_a_password_change(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let owner = app.signed_in("alice").await;
    let sessions = logins_racing(&app, "alice", || async {
        let changed = app
            .change_password(&owner.access, PASSWORD, NEW_PASSWORD)
            .await;
        assert_eq!(changed.status(), StatusCode::NO_CONTENT);
    })
    .await;
    assert_all_revoked(&app, &sessions, "the password change").await;
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_login_in_flight_outlives_a_disable(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let admin = app.admin("root").await;
    app.create_user("rogue").await;
    let rogue_id = jwt_part(&app.tokens("rogue").await.access, 1)["sub"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/admin/users/{rogue_id}");
    let sessions = logins_racing(&app, "rogue", || async {
        let disabled = app
            .admin_call(
                Method::PATCH,
                &path,
                &admin.access,
                Some(json!({"disabled": true})),
            )
            .await;
        assert_eq!(disabled.status(), StatusCode::OK);
    })
    .await;
    assert_all_revoked(&app, &sessions, "the disable").await;
    assert_error(
        app.login("rogue", PASSWORD).await,
        StatusCode::FORBIDDEN,
        "account_disabled",
    )
    .await;
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_login_in_flight_keeps_a_removed_role(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let admin = app.admin("root").await;
    let rogue = app.admin("rogue").await;
    let rogue_id = jwt_part(&rogue.access, 1)["sub"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/admin/users/{rogue_id}");
    let sessions = logins_racing(&app, "rogue", || async {
        let demoted = app
            .admin_call(
                Method::PATCH,
                &path,
                &admin.access,
                Some(json!({"roles": []})),
            )
            .await;
        assert_eq!(demoted.status(), StatusCode::OK);
    })
    .await;
    // Logins after the change open sessions without the role; every session that
    // was given the role must be dead.
    let with_role: Vec<Tokens> = sessions
        .into_iter()
        .filter(|t| jwt_part(&t.access, 1)["roles"] == json!(["admin"]))
        .collect();
    assert!(
        !with_role.is_empty(),
        "some logins got the role before the change"
    );
    assert_all_revoked(&app, &with_role, "the role removal").await;
    // A login now carries the roles as they are.
    let now = app.tokens("rogue").await;
    assert_eq!(jwt_part(&now.access, 1)["roles"], json!([]));
    assert_eq!(
        app.admin_call(Method::GET, "/api/admin/users", &now.access, None)
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_role_revokes_the_users_sessions_and_adding_one_does_not(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let admin = app.admin("root").await;
    let bob = app.signed_in("bob").await;
    let bob_id = jwt_part(&bob.access, 1)["sub"].as_str().unwrap().to_owned();
    let path = format!("/api/admin/users/{bob_id}");
    let added = app
        .admin_call(
            Method::PATCH,
            &path,
            &admin.access,
            Some(json!({"roles": ["editor", "viewer"]})),
        )
        .await;
    assert_eq!(added.status(), StatusCode::OK);
    assert_eq!(
        app.session(&bob.access).await.status(),
        StatusCode::OK,
        "adding a role keeps sessions"
    );
    let refreshed = Tokens::from_body(&app.refresh(&bob.refresh).await.json().await.unwrap());
    assert_eq!(
        jwt_part(&refreshed.access, 1)["roles"],
        json!(["editor", "viewer"])
    );
    let removed = app
        .admin_call(
            Method::PATCH,
            &path,
            &admin.access,
            Some(json!({"roles": ["viewer"]})),
        )
        .await;
    assert_eq!(removed.status(), StatusCode::OK);
    assert_unauthorized(app.session(&refreshed.access).await, true).await;
    assert_error(
        app.refresh(&refreshed.refresh).await,
        StatusCode::UNAUTHORIZED,
        "invalid_grant",
    )
    .await;
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_current_password_counts_against_the_login_throttle(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let tokens = app.signed_in("alice").await;
    let mut statuses = Vec::new();
    for i in 0..20 {
        let guess = format!("wrong guess number {i}");
        let status = app
            .change_password(&tokens.access, &guess, NEW_PASSWORD)
            .await
            .status();
        statuses.push(status);
        if status == StatusCode::TOO_MANY_REQUESTS {
            break;
        }
    }
    // Five free attempts, then the name is blocked: guesses get 429 before any check.
    assert_eq!(
        &statuses[..5],
        &[StatusCode::UNAUTHORIZED; 5],
        "{statuses:?}"
    );
    assert_eq!(
        statuses.last(),
        Some(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    let blocked = app
        .change_password(&tokens.access, PASSWORD, NEW_PASSWORD)
        .await;
    assert_eq!(
        blocked.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits"
    );
    assert!(blocked.headers().contains_key("retry-after"));
    assert_error(blocked, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
    // The login form shares the budget.
    assert_eq!(
        app.login("alice", PASSWORD).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    // The password was not changed by any of it.
    assert_eq!(app.session(&tokens.access).await.status(), StatusCode::OK);
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_change_racing_another_spends_the_verified_hash_once(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let tokens = app.signed_in("alice").await;
    let (a, b) = tokio::join!(
        app.change_password(&tokens.access, PASSWORD, NEW_PASSWORD),
        app.change_password(&tokens.access, PASSWORD, "yet another fresh passphrase"),
    );
    let mut statuses = [a.status(), b.status()];
    statuses.sort();
    // Both checked the same current password; only one may replace it (the other
    // finds it changed, or its session already revoked).
    assert_eq!(statuses[0], StatusCode::NO_CONTENT, "{statuses:?}");
    assert_eq!(statuses[1], StatusCode::UNAUTHORIZED, "{statuses:?}");
}
