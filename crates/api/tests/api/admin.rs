//! `/api/admin`: listing users a page at a time, changing roles, disabling, revoking
//! sessions; and the 403 for tokens without the `admin` role.

use reqwest::{Method, Response, StatusCode};
use rstest::rstest;
use serde_json::{Value, json};
use user_store::{Origin, Store, StoreOptions, UserChange, Username};

use crate::helpers::*;

impl TestApp {
    /// A new user with the `admin` role (granted in the store), logged in.
    pub(crate) async fn admin(&self, username: &str) -> Tokens {
        self.create_user(username).await;
        let store = Store::connect(&self.env["DATABASE_URL"], &StoreOptions::default())
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
            .update_user(user.id, &change, &Origin::operator())
            .await
            .unwrap();
        store.close().await;
        self.tokens(username).await
    }

    pub(crate) async fn admin_call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Response {
        let request = self
            .client
            .request(method, self.url(path))
            .bearer_auth(token);
        let request = match body {
            Some(body) => request.json(&body),
            None => request,
        };
        request.send().await.unwrap()
    }

    async fn user_id(&self, token: &str) -> String {
        let me: Value = self.me(token).await.json().await.unwrap();
        me["id"].as_str().unwrap().to_owned()
    }
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_without_the_admin_role_gets_403_insufficient_scope(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let user = app.signed_in("alice").await;
    let id = app.user_id(&user.access).await;
    for (method, path, body) in [
        (Method::GET, "/api/admin/users".to_owned(), None),
        (
            Method::PATCH,
            format!("/api/admin/users/{id}"),
            Some(json!({"roles": ["admin"]})),
        ),
        (
            Method::DELETE,
            format!("/api/admin/users/{id}/sessions"),
            None,
        ),
    ] {
        let response = app
            .admin_call(method.clone(), &path, &user.access, body.clone())
            .await;
        let challenge = response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            challenge.starts_with(r#"Bearer realm="api", error="insufficient_scope""#),
            "{challenge}"
        );
        assert_error(response, StatusCode::FORBIDDEN, "insufficient_scope").await;
        // No token at all is still a 401.
        let anonymous = app
            .client
            .request(method, app.url(&path))
            .send()
            .await
            .unwrap();
        assert_unauthorized(anonymous, false).await;
    }
    // Nothing changed.
    let me: Value = app.me(&user.access).await.json().await.unwrap();
    assert_eq!(me["roles"], json!([]));
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_are_listed_a_page_at_a_time_in_creation_order(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let admin = app.admin("root").await;
    for name in ["user1", "user2", "user3", "user4", "user5"] {
        app.create_user(name).await;
    }
    let mut seen = Vec::new();
    let mut path = "/api/admin/users?limit=2".to_owned();
    for _ in 0..10 {
        let response = app
            .admin_call(Method::GET, &path, &admin.access, None)
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let page: Value = response.json().await.unwrap();
        let users = page["users"].as_array().unwrap();
        assert!(users.len() <= 2);
        for user in users {
            assert!(user.get("password_hash").is_none());
            seen.push(user["username"].as_str().unwrap().to_owned());
        }
        match page["next"].as_str() {
            Some(next) => path = format!("/api/admin/users?limit=2&after={next}"),
            None => break,
        }
    }
    assert_eq!(seen, ["root", "user1", "user2", "user3", "user4", "user5"]);
    let all: Value = app
        .admin_call(Method::GET, "/api/admin/users", &admin.access, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all["users"].as_array().unwrap().len(), 6);
    assert_eq!(all["next"], Value::Null);

    for bad in [
        "limit=0",
        "limit=201",
        "limit=ten",
        "after=not-an-id",
        "color=blue",
    ] {
        let response = app
            .admin_call(
                Method::GET,
                &format!("/api/admin/users?{bad}"),
                &admin.access,
                None,
            )
            .await;
        assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    }
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_set_by_an_admin_reach_the_users_next_token(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let admin = app.admin("root").await;
    let user = app.signed_in("alice").await;
    let id = app.user_id(&user.access).await;
    let response = app
        .admin_call(
            Method::PATCH,
            &format!("/api/admin/users/{id}"),
            &admin.access,
            Some(json!({"roles": ["editor", "admin", "editor"]})),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let updated: Value = response.json().await.unwrap();
    assert_eq!(updated["roles"], json!(["admin", "editor"]));
    assert_eq!(updated["id"], id.as_str());
    assert_eq!(updated["disabled"], false);
    // The old token keeps its old roles; a refresh or login carries the new ones.
    let old: Value = app.session(&user.access).await.json().await.unwrap();
    assert_eq!(old["roles"], json!([]));
    let refreshed = Tokens::from_body(&app.refresh(&user.refresh).await.json().await.unwrap());
    let claims: Value = app.session(&refreshed.access).await.json().await.unwrap();
    assert_eq!(claims["roles"], json!(["admin", "editor"]));
    // Now an admin: the scope opens.
    let listed = app
        .admin_call(Method::GET, "/api/admin/users", &refreshed.access, None)
        .await;
    assert_eq!(listed.status(), StatusCode::OK);
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_patches_are_refused_and_unknown_users_are_404(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let admin = app.admin("root").await;
    let user = app.signed_in("alice").await;
    let id = app.user_id(&user.access).await;
    let path = format!("/api/admin/users/{id}");
    for body in [
        json!({"roles": "admin"}),
        json!({"roles": ["has space"]}),
        json!({"roles": [""]}),
        json!({"roles": [7]}),
        json!({"disabled": "yes"}),
        json!({"disable": true}),
        json!(["roles"]),
    ] {
        let response = app
            .admin_call(Method::PATCH, &path, &admin.access, Some(body.clone()))
            .await;
        assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    }
    let too_many: Vec<String> = (0..33).map(|i| format!("r{i}")).collect();
    let response = app
        .admin_call(
            Method::PATCH,
            &path,
            &admin.access,
            Some(json!({"roles": too_many})),
        )
        .await;
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    // Nothing changed.
    let me: Value = app.me(&user.access).await.json().await.unwrap();
    assert_eq!(me["roles"], json!([]));

    let nobody = uuid::Uuid::now_v7();
    for path in [
        format!("/api/admin/users/{nobody}"),
        "/api/admin/users/not-a-uuid".to_owned(),
    ] {
        let response = app
            .admin_call(
                Method::PATCH,
                &path,
                &admin.access,
                Some(json!({"disabled": true})),
            )
            .await;
        assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
        let response = app
            .admin_call(
                Method::DELETE,
                &format!("{path}/sessions"),
                &admin.access,
                None,
            )
            .await;
        assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
    }
    // An empty patch changes nothing and shows the user.
    let response = app
        .admin_call(Method::PATCH, &path, &admin.access, Some(json!({})))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabling_a_user_revokes_its_sessions_and_refuses_its_logins(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let admin = app.admin("root").await;
    let user = app.signed_in("alice").await;
    let id = app.user_id(&user.access).await;
    let path = format!("/api/admin/users/{id}");
    let response = app
        .admin_call(
            Method::PATCH,
            &path,
            &admin.access,
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["disabled"], true);

    assert_unauthorized(app.session(&user.access).await, true).await;
    assert_error(
        app.refresh(&user.refresh).await,
        StatusCode::UNAUTHORIZED,
        "invalid_grant",
    )
    .await;
    assert_error(
        app.login("alice", PASSWORD).await,
        StatusCode::FORBIDDEN,
        "account_disabled",
    )
    .await;
    // A wrong password still says only "wrong": being disabled is not revealed to guessers.
    assert_error(
        app.login("alice", "not the password at all").await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;

    let response = app
        .admin_call(
            Method::PATCH,
            &path,
            &admin.access,
            Some(json!({"disabled": false})),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(app.login("alice", PASSWORD).await.status(), StatusCode::OK);
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_revokes_every_session_of_a_user(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let admin = app.admin("root").await;
    let first = app.signed_in("alice").await;
    let second = app.tokens("alice").await;
    let id = app.user_id(&first.access).await;
    let response = app
        .admin_call(
            Method::DELETE,
            &format!("/api/admin/users/{id}/sessions"),
            &admin.access,
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    for tokens in [&first, &second] {
        assert_unauthorized(app.session(&tokens.access).await, true).await;
        assert_error(
            app.refresh(&tokens.refresh).await,
            StatusCode::UNAUTHORIZED,
            "invalid_grant",
        )
        .await;
    }
    // The admin's own session is untouched, and alice can log in again.
    assert_eq!(app.session(&admin.access).await.status(), StatusCode::OK);
    assert_eq!(app.login("alice", PASSWORD).await.status(), StatusCode::OK);
}
