//! Several `authd` processes on one PostgreSQL database, as behind a load balancer: they
//! agree on tokens, revocations, refresh-token rotation and throttling.

use std::time::{Duration, Instant};

use futures::future::join_all;
use reqwest::StatusCode;
use tempfile::TempDir;

use crate::helpers::*;
use crate::process::{Server, vars};

/// Three replicas sharing a fresh PostgreSQL database and a signing secret.
struct Cluster {
    replicas: Vec<Server>,
    _dirs: Vec<TempDir>,
    _pg: PgDatabase,
}

impl Cluster {
    /// `None` when `TEST_DATABASE_URL` is not set (see [`postgres_or_skip`]).
    async fn start(extra: &[(&str, &str)]) -> Option<Cluster> {
        if !postgres_or_skip("replica test not run") {
            return None;
        }
        let pg = PgDatabase::create().await;
        let mut replicas = Vec::new();
        let mut dirs = Vec::new();
        for _ in 0..3 {
            let dir = tempfile::tempdir().unwrap();
            let data_dir = dir.path().display().to_string();
            let mut vars = vars(&[
                ("DATABASE_URL", pg.url.as_str()),
                ("DATA_DIR", &data_dir),
                ("JWT_SECRET", SECRET),
                ("HTTP_WORKERS", "1"),
                ("PASSWORD_HASH_CONCURRENCY", "1"),
                ("DATABASE_MAX_CONNECTIONS", "4"),
            ]);
            vars.extend(crate::process::vars(extra));
            replicas.push(Server::start(dir.path(), &vars).await);
            dirs.push(dir);
        }
        Some(Cluster {
            replicas,
            _dirs: dirs,
            _pg: pg,
        })
    }
}

/// Polls every replica (bounded) until each refuses `access`; returns the longest wait.
async fn until_refused_everywhere(cluster: &Cluster, access: &str) -> Duration {
    let started = Instant::now();
    for replica in &cluster.replicas {
        loop {
            let status = replica.session(access).await.status();
            if status == StatusCode::UNAUTHORIZED {
                break;
            }
            assert_eq!(status, StatusCode::OK);
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "a replica still accepts a revoked session's token"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_from_one_replica_is_accepted_by_the_others() {
    let Some(cluster) = Cluster::start(&[]).await else {
        return;
    };
    let [a, b, c] = &cluster.replicas[..] else {
        unreachable!()
    };
    a.create_user("alice").await;
    let tokens = b.tokens("alice").await;
    for replica in [a, b, c] {
        assert_eq!(
            replica.session(&tokens.access).await.status(),
            StatusCode::OK
        );
        assert_eq!(replica.me(&tokens.access).await.status(), StatusCode::OK);
    }
    let refreshed = c.refresh(&tokens.refresh).await;
    assert_eq!(refreshed.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_on_one_replica_is_enforced_by_the_others_within_two_seconds() {
    // A long poll interval: the notification, not the poll, must carry the logout.
    let Some(cluster) = Cluster::start(&[("REVOCATION_POLL_INTERVAL", "30s")]).await else {
        return;
    };
    let [a, b, c] = &cluster.replicas[..] else {
        unreachable!()
    };
    a.create_user("alice").await;
    let tokens = a.tokens("alice").await;
    for replica in [a, b, c] {
        assert_eq!(
            replica.session(&tokens.access).await.status(),
            StatusCode::OK
        );
    }
    assert_eq!(
        b.logout(&tokens.access, None).await.status(),
        StatusCode::NO_CONTENT
    );
    let waited = until_refused_everywhere(&cluster, &tokens.access).await;
    assert!(
        waited < Duration::from_secs(2),
        "the contract allows 2 s; took {waited:?}"
    );
    assert_unauthorized(c.session(&tokens.access).await, true).await;
    // A password change on one replica (every session) reaches the others too.
    let other = c.tokens("alice").await;
    let changed = a
        .change_password(&other.access, PASSWORD, "a brand new passphrase for alice")
        .await;
    assert_eq!(changed.status(), StatusCode::NO_CONTENT);
    let waited = until_refused_everywhere(&cluster, &other.access).await;
    assert!(waited < Duration::from_secs(2), "took {waited:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_race_split_across_replicas_spends_the_token_once() {
    let Some(cluster) = Cluster::start(&[("REFRESH_REUSE_GRACE", "0")]).await else {
        return;
    };
    let replicas = &cluster.replicas;
    replicas[0].create_user("alice").await;
    let tokens = replicas[0].tokens("alice").await;
    let responses =
        join_all((0..12).map(|i| replicas[i % replicas.len()].refresh(&tokens.refresh))).await;
    let ok = responses
        .iter()
        .filter(|r| r.status() == StatusCode::OK)
        .count();
    assert_eq!(ok, 1, "exactly one refresh spends the token");
    for response in responses {
        if response.status() != StatusCode::OK {
            assert_error(response, StatusCode::UNAUTHORIZED, "invalid_grant").await;
        }
    }
    // With no grace the losers are reuse: the session is revoked on every replica.
    until_refused_everywhere(&cluster, &tokens.access).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn within_the_grace_concurrent_refreshes_on_several_replicas_all_get_the_one_live_token() {
    let Some(cluster) = Cluster::start(&[]).await else {
        return;
    };
    let replicas = &cluster.replicas;
    replicas[0].create_user("alice").await;
    let tokens = replicas[0].tokens("alice").await;
    let responses =
        join_all((0..9).map(|i| replicas[i % replicas.len()].refresh(&tokens.refresh))).await;
    let mut live = Vec::new();
    for response in responses {
        assert_eq!(response.status(), StatusCode::OK);
        live.push(Tokens::from_body(&response.json().await.unwrap()).refresh);
    }
    live.dedup();
    assert_eq!(
        live.len(),
        1,
        "one live refresh token, whichever replica answered: {live:?}"
    );
    assert_eq!(
        replicas[2].session(&tokens.access).await.status(),
        StatusCode::OK
    );
    // The live token rotates on one replica; a replay of the first token on another
    // replica, still within its grace, gets the newest token: the chain never forks.
    let next = replicas[1].refresh(&live[0]).await;
    assert_eq!(next.status(), StatusCode::OK);
    let next = Tokens::from_body(&next.json().await.unwrap());
    let replay = replicas[2].refresh(&tokens.refresh).await;
    assert_eq!(replay.status(), StatusCode::OK);
    assert_eq!(
        Tokens::from_body(&replay.json().await.unwrap()).refresh,
        next.refresh
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_on_every_replica_count_toward_one_throttle() {
    let Some(cluster) = Cluster::start(&[("LOGIN_FREE_FAILURES", "2")]).await else {
        return;
    };
    let [a, b, c] = &cluster.replicas[..] else {
        unreachable!()
    };
    a.create_user("alice").await;
    for replica in [a, b, c] {
        assert_error(
            replica.login("alice", "not the password at all").await,
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
        )
        .await;
    }
    for replica in [a, b, c] {
        let response = replica.login("alice", PASSWORD).await;
        assert!(response.headers().contains_key("retry-after"));
        assert_error(response, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
    }
}

/// Registers a client and makes `username` an admin, in the store the cluster shares.
async fn client_and_admin(cluster: &Cluster, username: &str) -> crate::oauth::ClientKeys {
    use user_store::{Store, StoreOptions, UserChange, Username};
    let store = Store::connect(&cluster._pg.url, &StoreOptions::default())
        .await
        .unwrap();
    let (secret, hash) = auth_core::ClientSecretHash::generate().unwrap();
    let client = store
        .create_client("svc", &[], &hash.0, &user_store::Origin::operator())
        .await
        .unwrap();
    let user = store
        .find_credentials(&Username::parse(username).unwrap())
        .await
        .unwrap()
        .unwrap()
        .user;
    let change = UserChange {
        roles: Some(vec!["admin".into()]),
        disabled: None,
    };
    store
        .update_user(user.id, &change, &user_store::Origin::operator())
        .await
        .unwrap();
    store.close().await;
    crate::oauth::ClientKeys {
        id: client.id.to_string(),
        secret,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_client_on_one_replica_kills_its_tokens_on_the_others_within_two_seconds() {
    let Some(cluster) = Cluster::start(&[("REVOCATION_POLL_INTERVAL", "30s")]).await else {
        return;
    };
    let [a, b, c] = &cluster.replicas[..] else {
        unreachable!()
    };
    a.create_user("root").await;
    let keys = client_and_admin(&cluster, "root").await;
    let admin = a.tokens("root").await;
    let token = b.client_token(&keys).await;
    for replica in [a, b, c] {
        assert_eq!(replica.session(&token).await.status(), StatusCode::OK);
        assert_eq!(replica.introspect(&keys, &token).await["active"], true);
    }
    // Introspection on another replica reflects a user's revocation within 2 s.
    let alice = {
        a.create_user("alice").await;
        a.tokens("alice").await
    };
    assert_eq!(c.introspect(&keys, &alice.access).await["active"], true);
    assert_eq!(
        a.logout(&alice.access, None).await.status(),
        StatusCode::NO_CONTENT
    );
    let started = Instant::now();
    while c.introspect(&keys, &alice.access).await["active"] == true {
        assert!(started.elapsed() < Duration::from_secs(20));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    // Deleting the client on one replica: its token is refused everywhere within 2 s.
    let deleted = a
        .client
        .delete(a.url(&format!("/api/admin/clients/{}", keys.id)))
        .bearer_auth(&admin.access)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let waited = until_refused_everywhere(&cluster, &token).await;
    assert!(waited < Duration::from_secs(2), "took {waited:?}");
}
