use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

db_tests! {
    async fn registering_returns_201_and_the_user_object_without_a_hash(db: Db) {
        let app = spawn_app(db).await;
        let response = app.register("  Alice ", PASSWORD).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let user: Value = response.json().await.unwrap();
        let keys: Vec<&str> = user.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys.len(), 5, "{user}");
        for key in ["id", "username", "roles", "disabled", "created_at"] {
            assert!(user.get(key).is_some(), "{key} missing from {user}");
        }
        assert_eq!(user["username"], "Alice", "trimmed, case kept");
        assert_eq!(user["roles"], json!([]));
        assert_eq!(user["disabled"], false);
        let id = uuid::Uuid::parse_str(user["id"].as_str().unwrap()).unwrap();
        assert_eq!(id.get_version_num(), 7);
        let created = user["created_at"].as_str().unwrap();
        assert!(created.ends_with('Z') && created.contains('T'), "RFC 3339 UTC: {created}");
        assert!(!user.to_string().contains("argon2"));
    }

    async fn usernames_are_unique_case_insensitively_after_nfkc(db: Db) {
        let app = spawn_app(db).await;
        app.create_user("alice").await;
        for same in ["alice", "ALICE", " Alice ", "ａｌｉｃｅ"] {
            let response = app.register(same, PASSWORD).await;
            assert_error(response, StatusCode::CONFLICT, "username_taken").await;
        }
        app.create_user("alice2").await;
    }

    async fn invalid_usernames_get_invalid_username(db: Db) {
        let app = spawn_app(db).await;
        let long = "a".repeat(65);
        for name in ["ab", "  ab  ", "", long.as_str(), "ali\u{0}ce", "bad\nname", "tab\there"] {
            let response = app.register(name, PASSWORD).await;
            assert_error(response, StatusCode::BAD_REQUEST, "invalid_username").await;
        }
        app.create_user(&"é".repeat(64)).await;
    }

    async fn usernames_are_bounded_as_sent_as_well_as_once_normalised(db: Db) {
        let app = spawn_app(db).await;
        // 65 characters sent, 64 once trimmed; one character sent, four after NFKC.
        let padded = format!(" {}", "a".repeat(64));
        for name in [padded.as_str(), "\u{3300}"] {
            let response = app.register(name, PASSWORD).await;
            assert_error(response, StatusCode::BAD_REQUEST, "invalid_username").await;
        }
        app.create_user(&format!(" {} ", "b".repeat(62))).await;
    }

    async fn weak_passwords_get_weak_password_with_a_reason(db: Db) {
        let app = spawn_app(db).await;
        let long = "Ab1!".repeat(33);
        for password in ["short", "password123", "aaaaaaaaaaaaaaa", "qwertyuiop", "carol1234", long.as_str()] {
            let response = app.register("carol", password).await;
            let body = assert_error(response, StatusCode::BAD_REQUEST, "weak_password").await;
            assert!(!body["error_description"].as_str().unwrap().contains(password));
        }
        // Any Unicode counts, by characters.
        app.create_user("dave").await;
        let response = app.register("erin", "Ünïcødé-pässwørd-42").await;
        assert_eq!(response.status(), StatusCode::CREATED);
    }

    async fn concurrent_registrations_of_one_name_create_exactly_one_user(db: Db) {
        let app = spawn_app(db).await;
        let names = ["frank", "FRANK", "Frank", "frank ", "fRank", "franK"];
        let responses = join_all(names.iter().map(|n| app.register(n, PASSWORD))).await;
        let statuses: Vec<StatusCode> = responses.iter().map(|r| r.status()).collect();
        assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CREATED).count(), 1, "{statuses:?}");
        assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CONFLICT).count(), names.len() - 1);
    }

    async fn sign_up_can_be_disabled(db: Db) {
        let app = spawn_app_with(db, &[("SIGNUP_ENABLED", "false")]).await;
        let response = app.register("grace", PASSWORD).await;
        assert_error(response, StatusCode::FORBIDDEN, "signup_disabled").await;
    }
}
