use serde::Serialize;
use sqlx::types::Json;
use uuid::Uuid;

use crate::error::DbResultExt;
use crate::events::{self, EventType, NewEvent, Origin};
use crate::sessions::{REVOKE_USER_SESSIONS, RevocationReason};
use crate::{Store, StoreError, Timestamp, Username};

/// A user as the API shows it: never a hash.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct User {
    pub id: Uuid,
    /// As entered, trimmed and NFKC-normalised.
    pub username: String,
    #[serde(serialize_with = "roles_as_array")]
    #[schema(value_type = Vec<String>)]
    pub roles: Json<Vec<String>>,
    pub disabled: bool,
    /// RFC 3339, UTC.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// The verified address, or the pending one while there is no verified one.
    pub email: Option<String>,
    /// Whether `email` is the verified address.
    pub email_verified: bool,
    /// The active second factors (`["totp"]`, or empty). Filled in by the lookups that
    /// answer with a user ([`Store::find_user`], the admin list and update), not by
    /// those that only check credentials.
    #[sqlx(skip)]
    pub mfa: Vec<String>,
}

fn roles_as_array<S: serde::Serializer>(
    roles: &Json<Vec<String>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    roles.0.serialize(s)
}

/// A user with the stored password hash, for logins; not serialisable on purpose.
#[derive(sqlx::FromRow)]
pub struct UserCredentials {
    #[sqlx(flatten)]
    pub user: User,
    pub password_hash: String,
}

impl Store {
    /// Creates a user; [`StoreError::UsernameTaken`] when the case-folded name exists
    /// (decided by the `users_username_key` constraint, so concurrent sign-ups cannot both win).
    /// `email`, when given, is stored as the pending address (it is verified later).
    #[tracing::instrument(skip_all, fields(username = %username.as_str()))]
    pub async fn create_user(
        &self,
        username: &Username,
        password_hash: &str,
        roles: &[String],
        email: Option<&str>,
    ) -> Result<User, StoreError> {
        let now = Timestamp::now();
        let user = User {
            id: Uuid::now_v7(),
            username: username.as_str().to_owned(),
            roles: Json(roles.to_vec()),
            disabled: false,
            created_at: now,
            mfa: Vec::new(),
            email: email.map(str::to_owned),
            email_verified: false,
        };
        const SQL: &str = "INSERT INTO users \
                           (id, username, username_key, password_hash, roles, disabled, \
                            created_at, updated_at, pending_email) \
                           VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8)";
        let result = self
            .sql(SQL)
            .bind(user.id)
            .bind(&user.username)
            .bind(username.key())
            .bind(password_hash)
            .bind(&user.roles)
            .bind(user.disabled)
            .bind(now)
            .bind(&user.email)
            .execute()
            .await;
        match result {
            Ok(_) => Ok(user),
            Err(sqlx::Error::Database(e))
                if e.is_unique_violation()
                    // PostgreSQL names the constraint; SQLite does not, and on this
                    // insert its only other unique key is a fresh UUID v7.
                    && e.constraint().is_none_or(|c| c == "users_username_key") =>
            {
                Err(StoreError::UsernameTaken)
            }
            Err(e) => Err(StoreError::from_sqlx(e, "insert user")),
        }
    }

    /// The user with this (normalised) name, with its password hash.
    #[tracing::instrument(skip_all)]
    pub async fn find_credentials(
        &self,
        username: &Username,
    ) -> Result<Option<UserCredentials>, StoreError> {
        const SQL: &str = concat!(
            "SELECT ",
            user_columns!(),
            ", password_hash FROM users WHERE username_key = $1"
        );
        self.sql(SQL)
            .bind(username.key())
            .fetch_optional::<UserCredentials>()
            .await
            .db("find user by name")
    }

    /// The id of the user with this (normalised) name, if any: who a throttled login
    /// was for, without reading the hash.
    #[tracing::instrument(skip_all)]
    pub async fn find_user_id(&self, username: &Username) -> Result<Option<Uuid>, StoreError> {
        self.sql("SELECT id FROM users WHERE username_key = $1")
            .bind(username.key())
            .fetch_optional_scalar::<Uuid>()
            .await
            .db("find user id by name")
    }

    /// The user's password hash, by id.
    #[tracing::instrument(skip_all, fields(user_id = %id))]
    pub async fn find_credentials_by_id(
        &self,
        id: Uuid,
    ) -> Result<Option<UserCredentials>, StoreError> {
        const SQL: &str = concat!(
            "SELECT ",
            user_columns!(),
            ", password_hash FROM users WHERE id = $1"
        );
        self.sql(SQL)
            .bind(id)
            .fetch_optional::<UserCredentials>()
            .await
            .db("find user by id")
    }

    #[tracing::instrument(skip_all, fields(user_id = %id))]
    pub async fn find_user(&self, id: Uuid) -> Result<Option<User>, StoreError> {
        const SQL: &str = concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1");
        let user = self
            .sql(SQL)
            .bind(id)
            .fetch_optional::<User>()
            .await
            .db("find user")?;
        let Some(mut user) = user else {
            return Ok(None);
        };
        user.mfa = self.active_factors(id).await?;
        Ok(Some(user))
    }

    /// Replaces a user's password hash with a fresh one of the same password (a rehash on
    /// login), only if it is still `old_hash`: a password changed meanwhile wins. Sessions
    /// are not touched. Returns whether the hash was replaced.
    #[tracing::instrument(skip_all, fields(user_id = %id))]
    pub async fn replace_password_hash(
        &self,
        id: Uuid,
        old_hash: &str,
        new_hash: &str,
    ) -> Result<bool, StoreError> {
        self.sql(REPLACE_HASH)
            .bind(new_hash)
            .bind(Timestamp::now())
            .bind(id)
            .bind(old_hash)
            .execute()
            .await
            .db("replace password hash")
            .map(|changed| changed == 1)
    }

    /// Replaces the password hash `verified_hash` (the one the caller checked the
    /// current password against) by `new_hash` and revokes every session of the user,
    /// atomically, with the `password_changed` event from `origin`. `None` when the hash
    /// is no longer `verified_hash` (changed meanwhile): nothing was written. Otherwise the
    /// revoked session ids.
    #[tracing::instrument(skip_all, fields(user_id = %user_id))]
    pub async fn change_password(
        &self,
        user_id: Uuid,
        verified_hash: &str,
        new_hash: &str,
        origin: &Origin,
    ) -> Result<Option<Vec<Uuid>>, StoreError> {
        let now = Timestamp::now();
        let mut tx = self.begin_write().await?;
        let changed = tx
            .sql(REPLACE_HASH)
            .bind(new_hash)
            .bind(now)
            .bind(user_id)
            .bind(verified_hash)
            .execute()
            .await
            .db("update password")?;
        if changed == 0 {
            return Ok(None);
        }
        let revoked = tx
            .sql(REVOKE_USER_SESSIONS)
            .bind(now)
            .bind(RevocationReason::PasswordChange.as_str())
            .bind(user_id)
            .bind(Uuid::nil())
            .fetch_all_scalar::<Uuid>()
            .await
            .db("revoke sessions on password change")?;
        let event = NewEvent::new(EventType::PasswordChanged, Some(user_id), origin)
            .with("sessions_revoked", revoked.len());
        events::insert(&mut tx, &event).await?;
        tx.commit().await.db("commit password change")?;
        Ok(Some(revoked))
    }
}

/// Replaces user `$3`'s password hash by `$1` at `$2`, only if it is still `$4`.
const REPLACE_HASH: &str = "UPDATE users SET password_hash = $1, updated_at = $2 \
                            WHERE id = $3 AND password_hash = $4";
