//! The second factor (API.md, "Second factor: TOTP and recovery codes"): enrolment,
//! confirmation, the two-step login and its `amr`, replay and window rules, recovery
//! codes, the mfa_token's limits, the login throttle (across replicas too), races,
//! disabling, the operator's reset, and logs without secrets. Codes are computed with the
//! server's own RFC 6238 function (checked against RFC 6238 Appendix B in its unit tests,
//! and against pyotp in CI).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use api::accounts::mfa::totp;
use futures::future::join_all;
use reqwest::{Method, Response, StatusCode};
use rstest::rstest;
use serde_json::{Value, json};
use user_store::{PurgePolicy, Store, StoreOptions, Timestamp};

use crate::helpers::*;
use crate::process::{ProcessStore, Server, vars};

const WRONG: &str = "definitely not the password";

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The code `steps` time steps from now.
fn code(secret: &[u8], steps: i64) -> String {
    totp::code_at(secret, now() + steps * totp::PERIOD as i64)
}

/// A user's enrolment as a client holds it.
struct Enrolled {
    secret: Vec<u8>,
    recovery_codes: Vec<String>,
}

impl Http {
    async fn post_with_token(&self, path: &str, token: &str, body: Option<Value>) -> Response {
        let request = self.client.post(self.url(path)).bearer_auth(token);
        let request = match body {
            Some(body) => request.json(&body),
            None => request,
        };
        request.send().await.expect("request")
    }

    async fn enrol(&self, token: &str) -> Response {
        self.post_with_token("/api/me/mfa/totp", token, None).await
    }

    async fn confirm(&self, token: &str, code: &str, password: &str) -> Response {
        let body = json!({"code": code, "password": password});
        self.post_with_token("/api/me/mfa/totp/confirm", token, Some(body))
            .await
    }

    async fn disable(&self, token: &str, password: &str, code: &str) -> Response {
        let body = json!({"password": password, "code": code});
        self.post_with_token("/api/me/mfa/totp/disable", token, Some(body))
            .await
    }

    async fn login_mfa(&self, mfa_token: &str, code: &str) -> Response {
        self.post_json(
            "/auth/login/mfa",
            &json!({"mfa_token": mfa_token, "code": code}),
        )
        .await
    }

    /// Enrols and confirms a factor for the holder of `token` (the current step is used).
    async fn enable_totp(&self, token: &str) -> Enrolled {
        let enrolment: Value = self.enrol(token).await.json().await.unwrap();
        let secret = totp::decode_base32(enrolment["secret"].as_str().unwrap()).unwrap();
        let confirmed = self.confirm(token, &code(&secret, 0), PASSWORD).await;
        assert_eq!(confirmed.status(), StatusCode::OK);
        let body: Value = confirmed.json().await.unwrap();
        let recovery_codes = body["recovery_codes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_owned())
            .collect();
        Enrolled {
            secret,
            recovery_codes,
        }
    }

    /// The first step of a login of a user with a factor: its `mfa_token`.
    async fn mfa_token(&self, username: &str) -> String {
        let response = self.login(username, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["mfa_required"], true, "{body}");
        body["mfa_token"].as_str().unwrap().to_owned()
    }
}

fn assert_no_store(response: &Response) {
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(response.headers()["pragma"], "no-cache");
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrolment_confirmation_and_a_two_step_login_give_tokens_with_amr_otp(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app_with(db, &[("MFA_ISSUER", "Example Co")]).await;
    let first = app.signed_in("alice smith").await;
    let me: Value = app.me(&first.access).await.json().await.unwrap();
    assert_eq!(me["mfa"], json!([]));

    let enrolled = app.enrol(&first.access).await;
    assert_eq!(enrolled.status(), StatusCode::OK);
    assert_no_store(&enrolled);
    let enrolment: Value = enrolled.json().await.unwrap();
    let secret_text = enrolment["secret"].as_str().unwrap();
    assert_eq!(secret_text.len(), 32, "160 bits in base32 without padding");
    let secret = totp::decode_base32(secret_text).unwrap();
    assert_eq!(secret.len(), 20);
    assert_eq!(
        enrolment["otpauth_uri"],
        format!(
            "otpauth://totp/Example%20Co:alice%20smith?secret={secret_text}&issuer=Example%20Co\
             &algorithm=SHA1&digits=6&period=30"
        )
    );
    // Pending: the login still needs the password alone.
    assert!(
        app.login("alice smith", PASSWORD)
            .await
            .json::<Value>()
            .await
            .unwrap()["access_token"]
            .is_string()
    );

    assert_error(
        app.confirm(&first.access, &code(&secret, 0), WRONG).await,
        StatusCode::BAD_REQUEST,
        "invalid_credentials",
    )
    .await;
    assert_error(
        app.confirm(&first.access, &code(&secret, 3), PASSWORD)
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_code",
    )
    .await;
    let confirmed = app
        .confirm(&first.access, &code(&secret, 0), PASSWORD)
        .await;
    assert_eq!(confirmed.status(), StatusCode::OK);
    assert_no_store(&confirmed);
    let body: Value = confirmed.json().await.unwrap();
    let codes = body["recovery_codes"].as_array().unwrap();
    assert_eq!(codes.len(), 10);
    for code in codes {
        let code = code.as_str().unwrap();
        assert_eq!(code.len(), 11, "{code}");
        assert_eq!(&code[5..6], "-");
        assert!(
            code.chars()
                .all(|c| c == '-' || "0123456789ABCDEFGHJKMNPQRSTVWXYZ".contains(c))
        );
    }
    let me: Value = app.me(&first.access).await.json().await.unwrap();
    assert_eq!(me["mfa"], json!(["totp"]));
    assert_error(
        app.enrol(&first.access).await,
        StatusCode::CONFLICT,
        "mfa_already_enabled",
    )
    .await;

    // The password alone: no tokens, an mfa_token for five minutes.
    let step_one = app.login("alice smith", PASSWORD).await;
    assert_eq!(step_one.status(), StatusCode::OK);
    assert_no_store(&step_one);
    let body: Value = step_one.json().await.unwrap();
    assert_eq!(body["mfa_required"], true);
    assert_eq!(body["expires_in"], 300);
    assert!(body.get("access_token").is_none() && body.get("refresh_token").is_none());
    let mfa_token = body["mfa_token"].as_str().unwrap();

    // The confirming code's step is used: the next step's code completes the login.
    let step_two = app.login_mfa(mfa_token, &code(&secret, 1)).await;
    assert_eq!(step_two.status(), StatusCode::OK);
    assert_no_store(&step_two);
    let tokens = Tokens::from_body(&step_two.json().await.unwrap());
    assert_eq!(jwt_part(&tokens.access, 1)["amr"], json!(["pwd", "otp"]));
    let session: Value = app.session(&tokens.access).await.json().await.unwrap();
    assert_eq!(session["amr"], json!(["pwd", "otp"]));
    // A refresh keeps the session's amr; a spent mfa_token buys nothing more.
    let refreshed: Value = app.refresh(&tokens.refresh).await.json().await.unwrap();
    let access = refreshed["access_token"].as_str().unwrap();
    assert_eq!(jwt_part(access, 1)["amr"], json!(["pwd", "otp"]));
    assert_error(
        app.login_mfa(mfa_token, &code(&secret, 1)).await,
        StatusCode::UNAUTHORIZED,
        "invalid_grant",
    )
    .await;
    // The password alone gives amr ["pwd"].
    let session: Value = app.session(&first.access).await.json().await.unwrap();
    assert_eq!(session["amr"], json!(["pwd"]));
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_is_accepted_once_within_one_step_either_side(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app_with(db, &[("LOGIN_FREE_FAILURES", "100")]).await;
    let first = app.signed_in("alice").await;
    let Enrolled { secret, .. } = app.enable_totp(&first.access).await;
    let mfa_token = app.mfa_token("alice").await;
    for steps in [-2, 2, -1] {
        // Two steps away; one step back is older than the step the confirmation used.
        assert_error(
            app.login_mfa(&mfa_token, &code(&secret, steps)).await,
            StatusCode::UNAUTHORIZED,
            "invalid_code",
        )
        .await;
    }
    let next = code(&secret, 1);
    assert_eq!(
        app.login_mfa(&mfa_token, &next).await.status(),
        StatusCode::OK
    );
    // The same code again, and the current (older) step, on a fresh mfa_token.
    let mfa_token = app.mfa_token("alice").await;
    for again in [next, code(&secret, 0)] {
        assert_error(
            app.login_mfa(&mfa_token, &again).await,
            StatusCode::UNAUTHORIZED,
            "invalid_code",
        )
        .await;
    }
    assert_error(
        app.login_mfa("not-a-token", &code(&secret, 1)).await,
        StatusCode::UNAUTHORIZED,
        "invalid_grant",
    )
    .await;
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recovery_code_works_once_in_any_case_and_spacing(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let first = app.signed_in("alice").await;
    let Enrolled { recovery_codes, .. } = app.enable_totp(&first.access).await;
    let typed = recovery_codes[0].to_lowercase().replace('-', " ");
    let mfa_token = app.mfa_token("alice").await;
    let done = app.login_mfa(&mfa_token, &typed).await;
    assert_eq!(done.status(), StatusCode::OK);
    let tokens = Tokens::from_body(&done.json().await.unwrap());
    assert_eq!(jwt_part(&tokens.access, 1)["amr"], json!(["pwd", "otp"]));
    let mfa_token = app.mfa_token("alice").await;
    assert_error(
        app.login_mfa(&mfa_token, &recovery_codes[0]).await,
        StatusCode::UNAUTHORIZED,
        "invalid_code",
    )
    .await;
    assert_eq!(
        app.login_mfa(&mfa_token, &recovery_codes[1]).await.status(),
        StatusCode::OK
    );
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_wrong_codes_spend_the_mfa_token(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app_with(db, &[("LOGIN_FREE_FAILURES", "100")]).await;
    let first = app.signed_in("alice").await;
    let Enrolled { secret, .. } = app.enable_totp(&first.access).await;
    let mfa_token = app.mfa_token("alice").await;
    for wrong in ["000000", "999999", "12345", "ABCDE-FGHJK", ""] {
        assert_error(
            app.login_mfa(&mfa_token, wrong).await,
            StatusCode::UNAUTHORIZED,
            "invalid_code",
        )
        .await;
    }
    assert_error(
        app.login_mfa(&mfa_token, &code(&secret, 1)).await,
        StatusCode::UNAUTHORIZED,
        "invalid_grant",
    )
    .await;
    // The code was not spent by the refused request: a fresh login takes it.
    let mfa_token = app.mfa_token("alice").await;
    assert_eq!(
        app.login_mfa(&mfa_token, &code(&secret, 1)).await.status(),
        StatusCode::OK
    );
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_codes_count_against_the_login_throttle_and_a_right_password_does_not_reset_it(
    #[case] db: Db,
) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app_with(db, &[("LOGIN_FREE_FAILURES", "3")]).await;
    let first = app.signed_in("alice").await;
    let Enrolled { secret, .. } = app.enable_totp(&first.access).await;
    let mfa_token = app.mfa_token("alice").await;
    for _ in 0..2 {
        let response = app.login_mfa(&mfa_token, "000000").await;
        assert_error(response, StatusCode::UNAUTHORIZED, "invalid_code").await;
    }
    // The right password again: a new mfa_token, and the two failures still count, so
    // two more wrong codes make four (one past the free three) and block the name.
    let mfa_token = app.mfa_token("alice").await;
    for _ in 0..2 {
        let response = app.login_mfa(&mfa_token, "000000").await;
        assert_error(response, StatusCode::UNAUTHORIZED, "invalid_code").await;
    }
    let throttled = app.login_mfa(&mfa_token, &code(&secret, 1)).await;
    assert!(throttled.headers().contains_key("retry-after"));
    assert_error(
        throttled,
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_attempts",
    )
    .await;
    assert_error(
        app.login("alice", PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_attempts",
    )
    .await;
    // Once the block has passed, a right code completes the login and clears the count.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        app.login_mfa(&mfa_token, &code(&secret, 1)).await.status(),
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_codes_count_against_the_throttle_on_every_replica() {
    if !postgres_or_skip("MFA replica test not run") {
        return;
    }
    let store = ProcessStore::new(Db::Postgres).await;
    let settings = [("LOGIN_FREE_FAILURES", "2"), ("HTTP_WORKERS", "1")];
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let mut replicas: Vec<Server> = Vec::new();
    for dir in &dirs {
        let mut all = store.vars(&settings);
        all.extend(vars(&[("DATA_DIR", &dir.path().display().to_string())]));
        replicas.push(Server::start(dir.path(), &all).await);
    }
    let [a, b] = &replicas[..] else {
        unreachable!()
    };
    let first = a.signed_in("alice").await;
    let Enrolled { secret, .. } = a.enable_totp(&first.access).await;
    let mfa_token = b.mfa_token("alice").await;
    for replica in [a, b, a] {
        let response = replica.login_mfa(&mfa_token, "000000").await;
        assert_error(response, StatusCode::UNAUTHORIZED, "invalid_code").await;
    }
    for replica in [b, a] {
        let response = replica.login_mfa(&mfa_token, &code(&secret, 1)).await;
        assert_error(response, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
    }
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_code_sent_twice_at_once_signs_in_exactly_once(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app_with(db, &[("HTTP_WORKERS", "2"), ("LOGIN_FREE_FAILURES", "100")]).await;
    let first = app.signed_in("alice").await;
    let Enrolled {
        secret,
        recovery_codes,
    } = app.enable_totp(&first.access).await;
    for shared in [code(&secret, 1), recovery_codes[0].clone()] {
        let tokens = [app.mfa_token("alice").await, app.mfa_token("alice").await];
        let answers = join_all(tokens.iter().map(|t| app.login_mfa(t, &shared))).await;
        let mut statuses: Vec<StatusCode> = answers.iter().map(Response::status).collect();
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::OK, StatusCode::UNAUTHORIZED],
            "code {shared}"
        );
    }
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabling_needs_the_password_and_a_code_and_keeps_sessions(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app_with(db, &[("LOGIN_FREE_FAILURES", "100")]).await;
    let first = app.signed_in("alice").await;
    let some_code = "ABCDE-FGHJK";
    assert_error(
        app.disable(&first.access, PASSWORD, some_code).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let Enrolled {
        secret,
        recovery_codes,
    } = app.enable_totp(&first.access).await;
    assert_error(
        app.disable(&first.access, WRONG, &code(&secret, 1)).await,
        StatusCode::BAD_REQUEST,
        "invalid_credentials",
    )
    .await;
    assert_error(
        app.disable(&first.access, PASSWORD, some_code).await,
        StatusCode::BAD_REQUEST,
        "invalid_code",
    )
    .await;
    let disabled = app
        .disable(&first.access, PASSWORD, &recovery_codes[3])
        .await;
    assert_eq!(disabled.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.me(&first.access).await.status(), StatusCode::OK);
    let me: Value = app.me(&first.access).await.json().await.unwrap();
    assert_eq!(me["mfa"], json!([]));
    let again = app
        .login("alice", PASSWORD)
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert!(again["access_token"].is_string(), "{again}");
    // Enrolling again starts afresh: the old codes are gone.
    let Enrolled { .. } = app.enable_totp(&first.access).await;
    let mfa_token = app.mfa_token("alice").await;
    assert_error(
        app.login_mfa(&mfa_token, &recovery_codes[4]).await,
        StatusCode::UNAUTHORIZED,
        "invalid_code",
    )
    .await;
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_removes_a_users_factors_and_keeps_their_sessions(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let admin = app.admin("root").await;
    let first = app.signed_in("alice").await;
    app.enable_totp(&first.access).await;
    let me: Value = app.me(&first.access).await.json().await.unwrap();
    let id = me["id"].as_str().unwrap();
    let users: Value = app
        .admin_call(Method::GET, "/api/admin/users", &admin.access, None)
        .await
        .json()
        .await
        .unwrap();
    let listed = users["users"].as_array().unwrap();
    let alice = listed.iter().find(|u| u["username"] == "alice").unwrap();
    assert_eq!(alice["mfa"], json!(["totp"]));
    let root = listed.iter().find(|u| u["username"] == "root").unwrap();
    assert_eq!(root["mfa"], json!([]));
    let path = format!("/api/admin/users/{id}/mfa");
    let refused = app
        .admin_call(Method::DELETE, &path, &first.access, None)
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let reset = app
        .admin_call(Method::DELETE, &path, &admin.access, None)
        .await;
    assert_eq!(reset.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.me(&first.access).await.status(), StatusCode::OK);
    let body = app
        .login("alice", PASSWORD)
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert!(body["access_token"].is_string(), "{body}");
    let unknown = format!("/api/admin/users/{}/mfa", uuid::Uuid::now_v7());
    assert_error(
        app.admin_call(Method::DELETE, &unknown, &admin.access, None)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_resets_a_users_factors(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let first = app.signed_in("alice").await;
    app.enable_totp(&first.access).await;
    let settings: Vec<(String, String)> = ["DATA_DIR", "DATABASE_URL", "JWT_SECRET"]
        .into_iter()
        .map(|key| (key.to_owned(), app.env[key].clone()))
        .collect();
    let done = crate::cli::run_authd(
        app.data_dir.path(),
        settings,
        &["user", "reset-mfa", "ALICE"],
        None,
    )
    .await;
    assert!(done.status.success(), "{}", done.stderr);
    let printed: Value = serde_json::from_str(done.stdout.trim()).unwrap();
    assert_eq!(printed["mfa"], json!([]));
    let body = app
        .login("alice", PASSWORD)
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert!(body["access_token"].is_string(), "{body}");
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_of_the_second_factor_reaches_the_log(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let store = ProcessStore::new(db).await;
    let server = store.start(&[("RUST_LOG", "trace")]).await;
    let first = server.signed_in("alice").await;
    let enrolment: Value = server.enrol(&first.access).await.json().await.unwrap();
    let secret_text = enrolment["secret"].as_str().unwrap().to_owned();
    let secret = totp::decode_base32(&secret_text).unwrap();
    let confirming = code(&secret, 0);
    let confirmed: Value = server
        .confirm(&first.access, &confirming, PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    let recovery: Vec<String> = confirmed["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    let mfa_token = server.mfa_token("alice").await;
    let wrong = server.login_mfa(&mfa_token, &recovery[9][..5]).await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let second = code(&secret, 1);
    assert_eq!(
        server.login_mfa(&mfa_token, &second).await.status(),
        StatusCode::OK
    );
    let other_token = server.mfa_token("alice").await;
    assert_eq!(
        server.login_mfa(&other_token, &recovery[0]).await.status(),
        StatusCode::OK
    );
    let log = server.log();
    assert!(log.contains("second factor required"), "the log is written");
    let mut secrets = vec![secret_text, mfa_token, other_token, confirming, second];
    secrets.extend(recovery.iter().cloned());
    secrets.extend(recovery.iter().map(|c| c.replace('-', "")));
    for secret in secrets {
        assert!(!log.contains(&secret), "{secret} is in the log");
    }
}

/// `SELECT COUNT(*) FROM mfa_challenges`, in the app's database.
async fn challenges(app: &TestApp) -> i64 {
    let store = Store::connect(&app.env["DATABASE_URL"], &StoreOptions::default())
        .await
        .unwrap();
    const SQL: &str = "SELECT COUNT(*) FROM mfa_challenges";
    let rows = match &store {
        Store::Sqlite(pool) => sqlx::query_scalar(SQL).fetch_one(pool).await.unwrap(),
        Store::Postgres(pool) => sqlx::query_scalar(SQL).fetch_one(pool).await.unwrap(),
    };
    store.close().await;
    rows
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_purge_deletes_spent_and_expired_mfa_challenges_only(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    // The server's own first purge runs a second after start; the next one in ten minutes.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let first = app.signed_in("alice").await;
    let Enrolled { secret, .. } = app.enable_totp(&first.access).await;
    let spent = app.mfa_token("alice").await;
    assert_eq!(
        app.login_mfa(&spent, &code(&secret, 1)).await.status(),
        StatusCode::OK
    );
    let live = app.mfa_token("alice").await;
    assert_eq!(challenges(&app).await, 2);

    let store = Store::connect(&app.env["DATABASE_URL"], &StoreOptions::default())
        .await
        .unwrap();
    let policy = PurgePolicy::new(Duration::from_secs(930), Duration::from_secs(900));
    store.purge(&policy, Timestamp::now()).await.unwrap();
    assert_eq!(
        challenges(&app).await,
        1,
        "the spent challenge goes, the live one stays"
    );
    // Five minutes on, the live one has expired too.
    let later = Timestamp::now().plus(Duration::from_secs(5 * 60 + 1));
    store.purge(&policy, later).await.unwrap();
    assert_eq!(challenges(&app).await, 0);
    store.close().await;
    assert_error(
        app.login_mfa(&live, &code(&secret, 1)).await,
        StatusCode::UNAUTHORIZED,
        "invalid_grant",
    )
    .await;
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_second_factor_records_its_events_without_a_secret(#[case] db: Db) {
    let Some(db) = db.ready() else { return };
    let app = spawn_app(db).await;
    let admin = app.admin("root").await;
    let first = app.signed_in("alice").await;
    let enrolment: Value = app.enrol(&first.access).await.json().await.unwrap();
    let secret_text = enrolment["secret"].as_str().unwrap().to_owned();
    let secret = totp::decode_base32(&secret_text).unwrap();
    let confirming = code(&secret, 0);
    let confirmed: Value = app
        .confirm(&first.access, &confirming, PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    let recovery: Vec<String> = confirmed["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    let mfa_token = app.mfa_token("alice").await;
    let wrong = app.login_mfa(&mfa_token, "000000").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let done = app.login_mfa(&mfa_token, &recovery[0]).await;
    assert_eq!(done.status(), StatusCode::OK);
    let disabled = app.disable(&first.access, PASSWORD, &recovery[1]).await;
    assert_eq!(disabled.status(), StatusCode::NO_CONTENT);
    app.enable_totp(&first.access).await;
    let me: Value = app.me(&first.access).await.json().await.unwrap();
    let id = me["id"].as_str().unwrap();
    let path = format!("/api/admin/users/{id}/mfa");
    let reset = app
        .admin_call(Method::DELETE, &path, &admin.access, None)
        .await;
    assert_eq!(reset.status(), StatusCode::NO_CONTENT);

    let listed = app
        .admin_call(
            Method::GET,
            &format!("/api/admin/events?user={id}&limit=200"),
            &admin.access,
            None,
        )
        .await;
    assert_eq!(listed.status(), StatusCode::OK);
    let text = listed.text().await.unwrap();
    let events: Value = serde_json::from_str(&text).unwrap();
    let of = |kind: &str| -> Vec<Value> {
        let all = events["events"].as_array().unwrap();
        all.iter().filter(|e| e["type"] == kind).cloned().collect()
    };
    assert_eq!(of("mfa_enabled").len(), 2, "{events}");
    assert_eq!(of("mfa_enabled")[0]["detail"]["factor"], "totp");
    let disabled = of("mfa_disabled");
    assert_eq!(disabled.len(), 2, "{events}");
    // Newest first: the admin's reset, then the user's own disable.
    assert_eq!(disabled[0]["detail"]["by"], "admin");
    assert!(disabled[1]["detail"].get("by").is_none());
    let failed = of("mfa_failed");
    assert_eq!(failed.len(), 1, "{events}");
    assert_eq!(failed[0]["detail"]["check"], "mfa_login");
    let amrs: Vec<Value> = of("login_succeeded")
        .iter()
        .map(|e| e["detail"]["amr"].clone())
        .collect();
    assert!(amrs.contains(&json!(["pwd", "otp"])), "{amrs:?}");
    let mut secrets = vec![secret_text, mfa_token, confirming];
    secrets.extend(recovery.iter().cloned());
    secrets.extend(recovery.iter().map(|c| c.replace('-', "")));
    for secret in secrets {
        assert!(!text.contains(&secret), "{secret} is in the events");
    }
}
