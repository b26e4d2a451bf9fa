//! The OAuth 2.0 endpoints: registered clients (admin API), the client credentials grant
//! at `/oauth/token`, introspection (RFC 7662), revocation (RFC 7009) and the metadata
//! (RFC 8414), over HTTP on both databases; replicas in `replicas.rs`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::{Method, Response, StatusCode};
use rstest::rstest;
use serde_json::{Value, json};

use crate::helpers::*;

/// A registered client's credentials.
pub(crate) struct ClientKeys {
    pub id: String,
    pub secret: String,
}

impl Http {
    /// `POST path` with a form body and, when given, HTTP Basic client credentials.
    pub(crate) async fn post_form(
        &self,
        path: &str,
        params: &[(&str, &str)],
        basic: Option<&ClientKeys>,
    ) -> Response {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        let request = self
            .client
            .post(self.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        let request = match basic {
            Some(keys) => request.header(
                "authorization",
                format!(
                    "Basic {}",
                    STANDARD.encode(format!("{}:{}", keys.id, keys.secret))
                ),
            ),
            None => request,
        };
        request.send().await.expect("request")
    }

    /// A client credentials grant with Basic authentication; panics unless it succeeds.
    pub(crate) async fn client_token(&self, keys: &ClientKeys) -> String {
        let response = self
            .post_form(
                "/oauth/token",
                &[("grant_type", "client_credentials")],
                Some(keys),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// Introspects `token` as `keys`.
    pub(crate) async fn introspect(&self, keys: &ClientKeys, token: &str) -> Value {
        let response = self
            .post_form("/oauth/introspect", &[("token", token)], Some(keys))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }
}

impl TestApp {
    /// Registers a client through the admin API.
    pub(crate) async fn new_client(&self, admin: &str, name: &str, roles: &[&str]) -> ClientKeys {
        let response = self
            .admin_call(
                Method::POST,
                "/api/admin/clients",
                admin,
                Some(json!({"name": name, "roles": roles})),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        assert_eq!(response.headers()["cache-control"], "no-store");
        let body: Value = response.json().await.unwrap();
        ClientKeys {
            id: body["client_id"].as_str().unwrap().to_owned(),
            secret: body["client_secret"].as_str().unwrap().to_owned(),
        }
    }
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_credentials_grant_gives_the_client_a_token_of_its_own(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let admin = app.admin("root").await;
    let keys = app
        .new_client(&admin.access, "billing job", &["reports", "jobs"])
        .await;
    assert!(keys.secret.len() >= 43, "at least 256 bits in base64url");
    let response = app
        .post_form(
            "/oauth/token",
            &[("grant_type", "client_credentials")],
            Some(&keys),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(response.headers()["pragma"], "no-cache");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "jobs reports");
    assert!(body.get("refresh_token").is_none());
    let access = body["access_token"].as_str().unwrap();
    let claims = jwt_part(access, 1);
    assert_eq!(claims["sub"], keys.id.as_str());
    assert_eq!(claims["client_id"], keys.id.as_str());
    assert_eq!(claims["username"], "billing job");
    assert_eq!(claims["roles"], json!(["jobs", "reports"]));
    assert!(claims.get("amr").is_none());
    let session: Value = app.session(access).await.json().await.unwrap();
    assert_eq!(session["client_id"], keys.id.as_str());
    assert_eq!(session["sid"], claims["sid"]);
    // A client's token stands for no user.
    let me = app.me(access).await;
    assert!(
        me.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("insufficient_scope")
    );
    assert_error(me, StatusCode::FORBIDDEN, "insufficient_scope").await;
    // client_secret_post works the same; a second grant has the same generation (sid).
    let post = app
        .post_form(
            "/oauth/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &keys.id),
                ("client_secret", &keys.secret),
                ("scope", "ignored"),
            ],
            None,
        )
        .await;
    assert_eq!(post.status(), StatusCode::OK);
    let again: Value = post.json().await.unwrap();
    assert_eq!(
        jwt_part(again["access_token"].as_str().unwrap(), 1)["sid"],
        claims["sid"]
    );
    // The list shows it, never a secret or hash.
    let list: Value = app
        .admin_call(Method::GET, "/api/admin/clients", &admin.access, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["clients"][0]["client_id"], keys.id.as_str());
    assert_eq!(list["clients"][0]["name"], "billing job");
    assert!(!list.to_string().contains(&keys.secret));
    assert!(list["clients"][0].get("client_secret").is_none());
    // A user's token says it came from authd's own login.
    assert_eq!(jwt_part(&admin.access, 1)["client_id"], "authd");
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_endpoint_refuses_bad_requests_with_rfc_6749_codes(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let admin = app.admin("root").await;
    let keys = app.new_client(&admin.access, "svc", &[]).await;
    let grant = [("grant_type", "client_credentials")];
    let wrong = ClientKeys {
        id: keys.id.clone(),
        secret: format!("{}x", keys.secret),
    };
    let unknown = ClientKeys {
        id: uuid::Uuid::now_v7().to_string(),
        secret: keys.secret.clone(),
    };
    for bad in [&wrong, &unknown] {
        let response = app.post_form("/oauth/token", &grant, Some(bad)).await;
        assert_eq!(
            response.headers()["www-authenticate"],
            r#"Basic realm="authd""#
        );
        assert_eq!(response.headers()["cache-control"], "no-store");
        assert_error(response, StatusCode::UNAUTHORIZED, "invalid_client").await;
    }
    // A client_id without a secret; no credentials at all.
    let id_only = [
        ("grant_type", "client_credentials"),
        ("client_id", keys.id.as_str()),
    ];
    for params in [&id_only[..], &grant[..]] {
        let response = app.post_form("/oauth/token", params, None).await;
        assert_error(response, StatusCode::UNAUTHORIZED, "invalid_client").await;
    }
    // Basic and form credentials together.
    let both = [
        ("grant_type", "client_credentials"),
        ("client_id", keys.id.as_str()),
        ("client_secret", keys.secret.as_str()),
    ];
    let response = app.post_form("/oauth/token", &both, Some(&keys)).await;
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    // A repeated parameter, even when one of the two is empty.
    for repeated in [
        &[
            ("grant_type", "client_credentials"),
            ("grant_type", "client_credentials"),
        ][..],
        &[("grant_type", ""), ("grant_type", "client_credentials")][..],
    ] {
        let response = app.post_form("/oauth/token", repeated, Some(&keys)).await;
        assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    }
    // Missing (or empty, which counts as absent) grant_type; unsupported ones.
    for params in [&[][..], &[("grant_type", "")][..]] {
        let response = app.post_form("/oauth/token", params, Some(&keys)).await;
        assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    }
    for grant_type in ["password", "refresh_token", "authorization_code", "x"] {
        let response = app
            .post_form("/oauth/token", &[("grant_type", grant_type)], Some(&keys))
            .await;
        assert_error(response, StatusCode::BAD_REQUEST, "unsupported_grant_type").await;
    }
    // Not a form.
    let response = app
        .post_json("/oauth/token", &json!({"grant_type": "client_credentials"}))
        .await;
    assert_error(
        response,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn introspection_answers_live_tokens_and_reflects_revocation(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let admin = app.admin("root").await;
    let keys = app.new_client(&admin.access, "gateway", &["gw"]).await;
    let alice = app.signed_in("alice").await;
    let found = app.introspect(&keys, &alice.access).await;
    assert_eq!(found["active"], true);
    assert_eq!(found["token_type"], "Bearer");
    assert_eq!(found["token_use"], "access_token");
    assert_eq!(found["username"], "alice");
    assert_eq!(found["client_id"], "authd");
    for claim in [
        "sub", "sid", "roles", "scope", "iss", "aud", "exp", "iat", "nbf", "jti",
    ] {
        assert!(found.get(claim).is_some(), "{claim} in {found}");
    }
    let refresh = app.introspect(&keys, &alice.refresh).await;
    assert_eq!(refresh["active"], true);
    assert_eq!(refresh["token_use"], "refresh_token");
    assert_eq!(refresh["sid"], found["sid"]);
    // An admin's bearer token may introspect too.
    let response = app
        .client
        .post(app.url("/oauth/introspect"))
        .bearer_auth(&admin.access)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={}", alice.access))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    // Not a client, not an admin: 401 invalid_client.
    let response = app
        .client
        .post(app.url("/oauth/introspect"))
        .bearer_auth(&alice.access)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={}", alice.access))
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::UNAUTHORIZED, "invalid_client").await;
    let response = app
        .post_form("/oauth/introspect", &[("token", &alice.access)], None)
        .await;
    assert_error(response, StatusCode::UNAUTHORIZED, "invalid_client").await;
    // After a logout, neither token is live; garbage is inactive alike.
    assert_eq!(
        app.logout(&alice.access, None).await.status(),
        StatusCode::NO_CONTENT
    );
    for token in [
        alice.access.as_str(),
        alice.refresh.as_str(),
        "garbage",
        "a.b.c",
    ] {
        assert_eq!(app.introspect(&keys, token).await, json!({"active": false}));
    }
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_ends_a_users_session_or_a_clients_token_generation(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let admin = app.admin("root").await;
    let keys = app.new_client(&admin.access, "svc", &[]).await;
    // A refresh token issued without a client needs no authentication.
    let alice = app.signed_in("alice").await;
    let response = app
        .post_form("/oauth/revoke", &[("token", &alice.refresh)], None)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.bytes().await.unwrap().is_empty());
    assert_error(
        app.refresh(&alice.refresh).await,
        StatusCode::UNAUTHORIZED,
        "invalid_grant",
    )
    .await;
    assert_unauthorized(app.session(&alice.access).await, true).await;
    // An access token needs a client's (or an admin's) authentication.
    let bob = app.signed_in("bob").await;
    let response = app
        .post_form("/oauth/revoke", &[("token", &bob.access)], None)
        .await;
    assert_error(response, StatusCode::UNAUTHORIZED, "invalid_client").await;
    assert_eq!(app.session(&bob.access).await.status(), StatusCode::OK);
    let response = app
        .post_form("/oauth/revoke", &[("token", &bob.access)], Some(&keys))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_unauthorized(app.session(&bob.access).await, true).await;
    // Unknown tokens, and revoking twice: 200.
    for token in ["unknown", bob.access.as_str()] {
        let response = app
            .post_form("/oauth/revoke", &[("token", token)], Some(&keys))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    // A client's token revokes every token of its generation; new grants work.
    let first = app.client_token(&keys).await;
    let second = app.client_token(&keys).await;
    let response = app
        .post_form("/oauth/revoke", &[("token", &first)], Some(&keys))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    for token in [&first, &second] {
        assert_unauthorized(app.session(token).await, true).await;
        assert_eq!(app.introspect(&keys, token).await, json!({"active": false}));
    }
    let fresh = app.client_token(&keys).await;
    assert_eq!(app.session(&fresh).await.status(), StatusCode::OK);
    assert_ne!(jwt_part(&fresh, 1)["sid"], jwt_part(&first, 1)["sid"]);
    // A wrong secret is refused even for a token that needs none; nothing is revoked.
    let carol = app.signed_in("carol").await;
    let wrong = ClientKeys {
        id: keys.id.clone(),
        secret: "nope".into(),
    };
    let response = app
        .post_form("/oauth/revoke", &[("token", &carol.refresh)], Some(&wrong))
        .await;
    assert_error(response, StatusCode::UNAUTHORIZED, "invalid_client").await;
    assert_eq!(app.refresh(&carol.refresh).await.status(), StatusCode::OK);
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_client_revokes_its_tokens_and_its_credentials(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let admin = app.admin("root").await;
    let keys = app.new_client(&admin.access, "doomed", &["x"]).await;
    let token = app.client_token(&keys).await;
    let path = format!("/api/admin/clients/{}", keys.id);
    let response = app
        .admin_call(Method::DELETE, &path, &admin.access, None)
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_unauthorized(app.session(&token).await, true).await;
    let response = app
        .post_form(
            "/oauth/token",
            &[("grant_type", "client_credentials")],
            Some(&keys),
        )
        .await;
    assert_error(response, StatusCode::UNAUTHORIZED, "invalid_client").await;
    for path in [path.as_str(), "/api/admin/clients/not-a-uuid"] {
        let response = app
            .admin_call(Method::DELETE, path, &admin.access, None)
            .await;
        assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
    }
    // Both changes are security events, never with the secret.
    for kind in ["client_created", "client_deleted"] {
        let events: Value = app
            .admin_call(
                Method::GET,
                &format!("/api/admin/events?type={kind}"),
                &admin.access,
                None,
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(
            events["events"][0]["detail"]["client_id"],
            keys.id.as_str(),
            "{events}"
        );
        assert!(!events.to_string().contains(&keys.secret));
    }
    // Registration refuses bad names; a user without the admin role gets 403.
    for name in ["", &"n".repeat(65), "a\u{7}b"] {
        let response = app
            .admin_call(
                Method::POST,
                "/api/admin/clients",
                &admin.access,
                Some(json!({"name": name})),
            )
            .await;
        assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    }
    let user = app.signed_in("alice").await;
    let response = app
        .admin_call(Method::GET, "/api/admin/clients", &user.access, None)
        .await;
    assert_error(response, StatusCode::FORBIDDEN, "insufficient_scope").await;
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metadata_names_absolute_endpoints_under_the_public_url(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app_with(
        db,
        &[
            ("PUBLIC_URL", "https://auth.example.com"),
            ("JWT_ISSUER", "https://auth.example.com"),
        ],
    )
    .await;
    let metadata = app
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert_eq!(metadata["issuer"], "https://auth.example.com");
    assert_eq!(
        metadata["token_endpoint"],
        "https://auth.example.com/oauth/token"
    );
    assert_eq!(
        metadata["introspection_endpoint"],
        "https://auth.example.com/oauth/introspect"
    );
    assert_eq!(
        metadata["revocation_endpoint"],
        "https://auth.example.com/oauth/revoke"
    );
    assert_eq!(
        metadata["jwks_uri"],
        "https://auth.example.com/.well-known/jwks.json"
    );
    assert_eq!(
        metadata["grant_types_supported"],
        json!(["client_credentials"])
    );
    assert_eq!(metadata["response_types_supported"], json!([]));
    assert_eq!(
        metadata["token_endpoint_auth_methods_supported"],
        json!(["client_secret_basic", "client_secret_post", "none"])
    );
}
