//! `GET /openapi.json`: an OpenAPI 3 document of every route the server registers, no
//! more and no fewer.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

/// Every (method, path) registered in `startup.rs`'s `routes` and in the `routes` of the
/// modules it configures (the admin scope under `/api/admin`, OAuth, pages), read from
/// their source:
/// `web::scope("..")` prefixes the resources inside it, `web::resource("..")` names a path
/// and `web::get()`, `web::post()`, ... its methods. A route added there without
/// documentation makes the test below fail.
fn registered_routes() -> BTreeSet<(String, String)> {
    [
        ("/src/startup.rs", ""),
        ("/src/routes/admin.rs", "/api/admin"),
        ("/src/routes/oauth/mod.rs", ""),
        ("/src/routes/pages.rs", ""),
    ]
    .into_iter()
    .flat_map(|(file, mounted_at)| routes_in(file, mounted_at))
    .collect()
}

/// The routes registered by the `fn routes` of `file` (relative to the crate), whose
/// paths start with `mounted_at` (the scope `startup.rs` configures them in).
fn routes_in(file: &str, mounted_at: &str) -> BTreeSet<(String, String)> {
    let source = std::fs::read_to_string(format!("{}{file}", env!("CARGO_MANIFEST_DIR")))
        .expect("read the routes' source");
    let body = &source[source.find("fn routes(").expect("fn routes")..];
    let mut routes = BTreeSet::new();
    // (path so far, paren depth at which it was opened)
    let mut stack: Vec<(String, usize)> = vec![(mounted_at.to_owned(), 0)];
    let mut depth = 0usize;
    let mut i = 0;
    let bytes = body.as_bytes();
    while i < bytes.len() {
        let rest = &body[i..];
        if rest.starts_with("web::scope(\"") || rest.starts_with("web::resource(\"") {
            let start = rest.find('"').unwrap() + 1;
            let len = rest[start..].find('"').unwrap();
            let prefix = format!("{}{}", stack.last().unwrap().0, &rest[start..start + len]);
            // Open until the call enclosing it closes; its own `(` is skipped here.
            stack.push((prefix, depth));
            depth += 1;
            i += start + len + 1;
            continue;
        }
        for method in ["get", "post", "put", "patch", "delete"] {
            if rest.starts_with(&format!("web::{method}()")) {
                routes.insert((method.to_owned(), stack.last().unwrap().0.clone()));
            }
        }
        match bytes[i] {
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                while stack.len() > 1 && depth < stack.last().unwrap().1 {
                    stack.pop();
                }
            }
            b'}' if depth == 0 => break, // the end of fn routes
            _ => {}
        }
        i += 1;
    }
    routes
}

fn documented_routes(doc: &Value) -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().unwrap().keys() {
            routes.insert((method.clone(), path.clone()));
        }
    }
    routes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_registered_route_is_documented_and_nothing_else() {
    let app = spawn_app(Db::Sqlite).await;
    let response = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let doc: Value = response.json().await.unwrap();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        doc["openapi"]
    );

    let registered = registered_routes();
    // The parser itself must see the contract's routes, or this test proves nothing.
    for route in [
        ("post", "/auth/login"),
        ("patch", "/api/admin/users/{id}"),
        ("get", "/openapi.json"),
    ] {
        assert!(
            registered.contains(&(route.0.to_owned(), route.1.to_owned())),
            "parser missed {route:?}: {registered:?}"
        );
    }
    for route in [("post", "/oauth/token"), ("get", "/api/me")] {
        assert!(
            registered.contains(&(route.0.to_owned(), route.1.to_owned())),
            "parser missed {route:?}: {registered:?}"
        );
    }
    assert_eq!(registered.len(), 35, "{registered:?}");
    assert_eq!(documented_routes(&doc), registered);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_describes_errors_schemas_and_the_bearer_scheme() {
    let app = spawn_app(Db::Sqlite).await;
    let doc: Value = app.get_json("/openapi.json").await;
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["type"], "http");
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["bearer"]["bearerFormat"], "JWT");
    let schemas = &doc["components"]["schemas"];
    for name in [
        "ErrorBody",
        "User",
        "TokenPair",
        "Credentials",
        "SessionView",
        "UserList",
        "UserPatch",
        "PasswordChange",
        "RefreshRequest",
    ] {
        assert!(schemas.get(name).is_some(), "schema {name} missing");
    }
    let user = &schemas["User"]["properties"];
    for field in ["id", "username", "roles", "disabled", "created_at"] {
        assert!(user.get(field).is_some(), "User.{field}");
    }
    assert!(user.get("password_hash").is_none());
    // Protected routes name the bearer scheme; every operation documents its errors.
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let protected = path.starts_with("/api/") || path == "/auth/logout";
            let security = operation["security"].to_string();
            // Introspection and revocation also accept an admin's bearer token, besides
            // client credentials: optional there, never required.
            let bearer_optional = ["/oauth/introspect", "/oauth/revoke"].contains(&path.as_str());
            if !bearer_optional {
                assert_eq!(
                    security.contains("bearer"),
                    protected,
                    "{method} {path}: {security}"
                );
            }
            let responses = operation["responses"].as_object().unwrap();
            assert!(!responses.is_empty(), "{method} {path}");
            if protected {
                assert!(
                    responses.contains_key("401"),
                    "{method} {path} documents its 401"
                );
            }
        }
    }
}

/// What schemathesis (`.ci/schemathesis.sh`) found the document got wrong: a body that may
/// be absent was declared `null`-able (a `null` body is refused), the 408, 413 and 415 that every
/// body-reading operation can answer were missing, and registration's bounds were unstated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_states_the_bodies_the_server_accepts_and_their_refusals() {
    let app = spawn_app(Db::Sqlite).await;
    let doc: Value = app.get_json("/openapi.json").await;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let Some(body) = operation.get("requestBody") else {
                continue;
            };
            let schema = &body["content"]["application/json"]["schema"];
            assert!(
                !schema.to_string().contains(r#""null""#),
                "{method} {path}: a body may be absent, never null: {schema}"
            );
            for status in ["408", "413", "415"] {
                assert!(
                    operation["responses"].get(status).is_some(),
                    "{method} {path} reads a body and can answer {status}"
                );
            }
        }
    }
    // The contract's bounds: usernames 3 to 64 characters, passwords 8 to 128.
    let credentials = &doc["components"]["schemas"]["Credentials"]["properties"];
    assert_eq!(credentials["username"]["minLength"], 3);
    assert_eq!(credentials["username"]["maxLength"], 64);
    assert_eq!(credentials["password"]["minLength"], 8);
    assert_eq!(credentials["password"]["maxLength"], 128);
}
