//! Registered OAuth clients (service accounts): what an admin does to them (create, list,
//! delete), how a client authenticates (RFC 6749 §2.3.1), and the client credentials
//! grant (§4.4). Creating and deleting a client record `client_created` and
//! `client_deleted` with the change.

use auth_core::{ClientSecretHash, IssuedAccessToken, TokenSubject};
use user_store::{Client, Origin, Store};
use uuid::Uuid;

use crate::accounts::admin::check_roles;
use crate::accounts::{AccountError, Accounts, Sessions};

/// The longest client name, in characters.
pub const MAX_NAME_CHARS: usize = 64;

/// What an admin registers.
pub struct NewClient {
    pub name: String,
    pub roles: Vec<String>,
}

/// A registered client and its secret, which exists only in this answer.
pub struct CreatedClient {
    pub client: Client,
    pub secret: String,
}

/// Registers a client: the name checked (1 to 64 characters, no control characters), the
/// roles as for users (a set: sorted, each once), a fresh 256-bit secret stored as its
/// SHA-256.
pub async fn create(
    store: &Store,
    new: NewClient,
    origin: &Origin,
) -> Result<CreatedClient, AccountError> {
    let chars = new.name.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS || new.name.chars().any(char::is_control) {
        return Err(AccountError::InvalidClientName {
            max_chars: MAX_NAME_CHARS,
        });
    }
    let mut roles = new.roles;
    roles.sort();
    roles.dedup();
    check_roles(&roles)?;
    let (secret, hash) = ClientSecretHash::generate()
        .map_err(|e| AccountError::Internal(anyhow::anyhow!("no randomness: {e}")))?;
    let client = store
        .create_client(&new.name, &roles, &hash.0, origin)
        .await?;
    tracing::info!(client_id = %client.id, "client registered");
    Ok(CreatedClient { client, secret })
}

/// Every client, oldest first.
pub async fn list(store: &Store) -> Result<Vec<Client>, AccountError> {
    Ok(store.list_clients().await?)
}

/// Deletes a client: every token it holds is refused within the revocation feed's 2 s
/// everywhere (at once on this replica).
pub async fn delete(
    sessions: &Sessions,
    client_id: Uuid,
    origin: &Origin,
) -> Result<(), AccountError> {
    if !sessions.delete_client(client_id, origin).await? {
        return Err(AccountError::ClientNotFound);
    }
    tracing::info!(client_id = %client_id, "client deleted");
    Ok(())
}

/// The client whose credentials these are (RFC 6749 §2.3.1); an unknown id, a wrong
/// secret and a malformed id alike are [`AccountError::InvalidClient`]. One read by
/// primary key and a SHA-256: cheap enough for every grant.
pub async fn authenticate(
    store: &Store,
    client_id: &str,
    secret: &str,
) -> Result<Client, AccountError> {
    let id: Uuid = client_id.parse().map_err(|_| AccountError::InvalidClient)?;
    let found = store
        .find_client(id)
        .await?
        .ok_or(AccountError::InvalidClient)?;
    let matches = ClientSecretHash::from_slice(&found.secret_hash)
        .is_some_and(|stored| stored.matches(secret));
    if !matches {
        return Err(AccountError::InvalidClient);
    }
    Ok(found.client)
}

/// The client credentials grant (RFC 6749 §4.4): an access token for the client itself,
/// `sub` and `client_id` its id, its name and roles, and its current token generation as
/// `sid`. Nothing is written.
pub fn grant(accounts: &Accounts, client: &Client) -> Result<IssuedAccessToken, AccountError> {
    let subject = TokenSubject {
        user_id: client.id,
        session_id: client.generation,
        username: client.name.clone(),
        roles: client.roles.0.clone(),
        client_id: Some(client.id),
        // No user authenticated: a client's own token has no `amr` (API.md, Tokens).
        amr: None,
    };
    accounts.keys.current().issuer.issue(&subject).map_err(|e| {
        AccountError::Internal(anyhow::Error::new(e).context("signing a client's token"))
    })
}
