//! What a new user must satisfy, and how users are found: [`Users`] is the store with the
//! password hasher, all that `authd user create` needs (no keys, no metrics, no secret);
//! a lookup needs the store alone.

use secrecy::SecretString;
use user_store::{PasswordHasher, Store, User, Username, UsernameError};
use uuid::Uuid;

use crate::accounts::AccountError;

/// Users and their passwords.
#[derive(Clone)]
pub struct Users {
    pub store: Store,
    pub hasher: PasswordHasher,
}

/// A user to create, from a sign-up or an operator.
pub struct NewUser {
    pub username: String,
    pub password: SecretString,
    pub roles: Vec<String>,
    /// Stored as the pending address.
    pub email: Option<String>,
}

impl Users {
    pub fn new(store: Store, hasher: PasswordHasher) -> Self {
        Self { store, hasher }
    }

    /// Validates, hashes and stores a new user: the username rules, then the password's
    /// strength (checked with the hash, off the async workers), then a unique name.
    pub async fn create(&self, new: NewUser) -> Result<User, AccountError> {
        let NewUser {
            username,
            password,
            roles,
            email,
        } = new;
        // The bounds hold for the name as sent too, as the OpenAPI document states them
        // (JSON Schema counts the characters sent): trimming would otherwise admit any
        // amount of surrounding whitespace, and NFKC turns one character such as U+3300
        // into four.
        let sent = username.chars().count();
        if !(Username::MIN_CHARS..=Username::MAX_CHARS).contains(&sent) {
            return Err(UsernameError::Length.into());
        }
        let username = Username::parse(&username)?;
        let hash = self.hasher.hash_new(password, username.as_str()).await?;
        let user = self
            .store
            .create_user(&username, &hash, &roles, email.as_deref())
            .await?;
        tracing::info!(user_id = %user.id, "user registered");
        Ok(user)
    }

    /// The signed-in user's own account: [`AccountError::AccountGone`] when it was
    /// deleted after the token was issued.
    pub async fn own_account(&self, id: Uuid) -> Result<User, AccountError> {
        self.store
            .find_user(id)
            .await?
            .ok_or(AccountError::AccountGone)
    }
}

/// The user with this name (normalised as at login), if any: a lookup needs no hasher.
pub async fn find_by_name(store: &Store, name: &str) -> Result<Option<User>, AccountError> {
    let username = Username::parse(name)?;
    Ok(store
        .find_credentials(&username)
        .await?
        .map(|found| found.user))
}
