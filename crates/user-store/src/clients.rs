//! Registered OAuth clients (service accounts) and their token generations.
//!
//! A client's tokens carry its current generation as `sid`. Revoking a generation is the
//! same act as revoking a session (`revoked_at` set once, read by every replica's
//! revocation feed, announced on PostgreSQL by migration 0011's trigger), so a client's
//! tokens die within the same 2 s as a user's. Nothing here is written per token: a grant
//! only reads the client ([`Store::find_client`]).

use sqlx::types::Json;
use uuid::Uuid;

use crate::error::DbResultExt;
use crate::events::{self, EventType, NewEvent, Origin};
use crate::{Store, StoreError, Timestamp};

/// A client as the admin API shows it: never its secret's hash.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Client {
    pub id: Uuid,
    pub name: String,
    pub roles: Json<Vec<String>>,
    pub created_at: Timestamp,
    /// The current token generation: the `sid` of the tokens it is issued now.
    pub generation: Uuid,
}

/// A client with the SHA-256 of its secret, for authenticating it.
#[derive(sqlx::FromRow)]
pub struct ClientCredentials {
    #[sqlx(flatten)]
    pub client: Client,
    pub secret_hash: Vec<u8>,
}

/// Why a generation was revoked, stored with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GenerationRevocation {
    /// One of its tokens was revoked (RFC 7009); the client gets a new generation.
    TokenRevoked,
    /// The client was deleted.
    ClientDeleted,
}

impl GenerationRevocation {
    pub fn as_str(self) -> &'static str {
        match self {
            GenerationRevocation::TokenRevoked => "token_revoked",
            GenerationRevocation::ClientDeleted => "client_deleted",
        }
    }
}

const INSERT_GENERATION: &str =
    "INSERT INTO client_generations (id, client_id, created_at) VALUES ($1, $2, $3)";

impl Store {
    /// Registers a client with the hash of its secret, and its first token generation,
    /// in one transaction with its `client_created` event.
    #[tracing::instrument(skip_all)]
    pub async fn create_client(
        &self,
        name: &str,
        roles: &[String],
        secret_hash: &[u8],
        origin: &Origin,
    ) -> Result<Client, StoreError> {
        let client = Client {
            id: Uuid::now_v7(),
            name: name.to_owned(),
            roles: Json(roles.to_vec()),
            created_at: Timestamp::now(),
            generation: Uuid::now_v7(),
        };
        const SQL: &str = "INSERT INTO clients (id, name, roles, secret_hash, created_at, generation) \
                           VALUES ($1, $2, $3, $4, $5, $6)";
        let mut tx = self.begin_write().await?;
        tx.sql(INSERT_GENERATION)
            .bind(client.generation)
            .bind(client.id)
            .bind(client.created_at)
            .execute()
            .await
            .db("insert client generation")?;
        tx.sql(SQL)
            .bind(client.id)
            .bind(&client.name)
            .bind(&client.roles)
            .bind(secret_hash)
            .bind(client.created_at)
            .bind(client.generation)
            .execute()
            .await
            .db("insert client")?;
        let event = NewEvent::new(EventType::ClientCreated, None, origin)
            .with("client_id", client.id)
            .with("name", &client.name)
            .with("roles", roles);
        events::insert(&mut tx, &event).await?;
        tx.commit().await.db("commit client")?;
        Ok(client)
    }

    /// Every client, oldest first.
    #[tracing::instrument(skip_all)]
    pub async fn list_clients(&self) -> Result<Vec<Client>, StoreError> {
        const SQL: &str = "SELECT id, name, roles, created_at, generation FROM clients ORDER BY id";
        self.sql(SQL).fetch_all::<Client>().await.db("list clients")
    }

    /// The client with its secret's hash: one read by primary key, what a grant costs.
    #[tracing::instrument(skip_all, fields(client_id = %id))]
    pub async fn find_client(&self, id: Uuid) -> Result<Option<ClientCredentials>, StoreError> {
        const SQL: &str = "SELECT id, name, roles, created_at, generation, secret_hash \
                           FROM clients WHERE id = $1";
        self.sql(SQL)
            .bind(id)
            .fetch_optional::<ClientCredentials>()
            .await
            .db("find client")
    }

    /// Deletes a client and revokes every live generation of it, in one transaction with
    /// its `client_deleted` event; `None` when there is no such client, else the
    /// generations revoked.
    #[tracing::instrument(skip_all, fields(client_id = %id))]
    pub async fn delete_client(
        &self,
        id: Uuid,
        origin: &Origin,
    ) -> Result<Option<Vec<Uuid>>, StoreError> {
        const REVOKE: &str = "UPDATE client_generations SET revoked_at = $1, revoked_reason = $2 \
                              WHERE client_id = $3 AND revoked_at IS NULL RETURNING id";
        let mut tx = self.begin_write().await?;
        let deleted = tx
            .sql("DELETE FROM clients WHERE id = $1")
            .bind(id)
            .execute()
            .await
            .db("delete client")?;
        if deleted == 0 {
            return Ok(None);
        }
        let revoked = tx
            .sql(REVOKE)
            .bind(Timestamp::now())
            .bind(GenerationRevocation::ClientDeleted.as_str())
            .bind(id)
            .fetch_all_scalar::<Uuid>()
            .await
            .db("revoke deleted client's generations")?;
        let event = NewEvent::new(EventType::ClientDeleted, None, origin).with("client_id", id);
        events::insert(&mut tx, &event).await?;
        tx.commit().await.db("commit client deletion")?;
        Ok(Some(revoked))
    }

    /// Revokes `generation` of client `client_id` if it is live, and makes a fresh one the
    /// client's current generation, in one transaction; returns the generations revoked
    /// (none when it was revoked already, or is not the client's).
    #[tracing::instrument(skip_all, fields(client_id = %client_id))]
    pub async fn revoke_client_generation(
        &self,
        client_id: Uuid,
        generation: Uuid,
    ) -> Result<Vec<Uuid>, StoreError> {
        const REVOKE: &str = "UPDATE client_generations SET revoked_at = $1, revoked_reason = $2 \
                              WHERE id = $3 AND client_id = $4 AND revoked_at IS NULL RETURNING id";
        const ADVANCE: &str =
            "UPDATE clients SET generation = $1 WHERE id = $2 AND generation = $3";
        let now = Timestamp::now();
        let mut tx = self.begin_write().await?;
        let revoked = tx
            .sql(REVOKE)
            .bind(now)
            .bind(GenerationRevocation::TokenRevoked.as_str())
            .bind(generation)
            .bind(client_id)
            .fetch_all_scalar::<Uuid>()
            .await
            .db("revoke client generation")?;
        if revoked.is_empty() {
            return Ok(revoked);
        }
        let next = Uuid::now_v7();
        tx.sql(INSERT_GENERATION)
            .bind(next)
            .bind(client_id)
            .bind(now)
            .execute()
            .await
            .db("insert client generation")?;
        tx.sql(ADVANCE)
            .bind(next)
            .bind(client_id)
            .bind(generation)
            .execute()
            .await
            .db("advance client generation")?;
        tx.commit().await.db("commit generation revocation")?;
        Ok(revoked)
    }
}
