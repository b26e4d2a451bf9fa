//! Where a session is revoked. A revocation has two halves: the store (so every replica
//! learns of it through its revocation feed, and refresh tokens stop working at once) and
//! this replica's in-memory revoked set (so its access tokens stop working here at once,
//! not at the next poll). Every store call that revokes goes through [`Sessions`], which
//! does both: no caller can write one half and forget the other. A client's token
//! generations (the `sid` of its tokens) are revoked the same way.

use std::time::Duration;

use auth_core::{PresentedRefreshToken, RefreshChainKey, RevokedSessions};
use user_store::{Origin, RevocationReason, Rotation, Store, Timestamp, User, UserChange};
use uuid::Uuid;

use crate::accounts::AccountError;

/// The store's revoking calls, each followed by remembering what it revoked.
pub struct Sessions {
    store: Store,
    revoked: RevokedSessions,
    /// How long a revoked session must stay in the revoked set: the longest an access
    /// token lives, plus the verification leeway and a margin
    /// ([`crate::Settings::token_retention`]).
    retention: Duration,
}

/// Which sessions to revoke.
#[derive(Debug, Clone, Copy)]
pub enum Revoke {
    /// One session.
    Session(Uuid),
    /// Every live session of a user, but `except` when given.
    User { user_id: Uuid, except: Option<Uuid> },
}

impl Sessions {
    pub fn new(store: Store, revoked: RevokedSessions, retention: Duration) -> Self {
        Self {
            store,
            revoked,
            retention,
        }
    }

    /// For a process that verifies no tokens (the CLI): its revoked set is never read,
    /// and the servers learn of its revocations from the database.
    pub fn offline(store: Store) -> Self {
        Self::new(store, RevokedSessions::new(), Duration::ZERO)
    }

    /// The sessions this replica refuses, by id (the bearer guard reads it; the
    /// revocation feed fills it with other replicas' revocations).
    pub fn revoked(&self) -> &RevokedSessions {
        &self.revoked
    }

    /// How long a revocation is remembered (and an ended session kept).
    pub fn retention(&self) -> Duration {
        self.retention
    }

    /// Revokes `which` for `reason`; returns the sessions that were live. Revoking a
    /// user's sessions records `sessions_revoked` from `origin` in the same transaction;
    /// one session (a local logout) records nothing.
    pub async fn revoke(
        &self,
        which: Revoke,
        reason: RevocationReason,
        origin: &Origin,
    ) -> Result<Vec<Uuid>, AccountError> {
        let revoked = match which {
            Revoke::Session(id) => self.store.revoke_session(id, reason).await?,
            Revoke::User { user_id, except } => {
                self.store
                    .revoke_user_sessions(user_id, except, reason, origin)
                    .await?
            }
        };
        Ok(self.remember(revoked))
    }

    /// Applies an operator's change to a user; disabling, or taking a role away, revokes
    /// the user's sessions in the same transaction, and what changed is recorded there as
    /// events from `origin`. `None` when there is no such user.
    pub async fn update_user(
        &self,
        id: Uuid,
        change: &UserChange,
        origin: &Origin,
    ) -> Result<Option<(User, Vec<Uuid>)>, AccountError> {
        let updated = self.store.update_user(id, change, origin).await?;
        Ok(updated.map(|(user, revoked)| (user, self.remember(revoked))))
    }

    /// Replaces the verified hash by `new_hash` and revokes every session of the user, in
    /// one transaction with the `password_changed` event from `origin`; `None` when the
    /// hash changed since it was verified.
    pub async fn change_password(
        &self,
        user_id: Uuid,
        verified_hash: &str,
        new_hash: &str,
        origin: &Origin,
    ) -> Result<Option<Vec<Uuid>>, AccountError> {
        let changed = self
            .store
            .change_password(user_id, verified_hash, new_hash, origin)
            .await?;
        Ok(changed.map(|revoked| self.remember(revoked)))
    }

    /// Spends a reset token, sets `new_hash` and revokes every session of its user, in one
    /// transaction; `None` when the token is not live. The user and how many were revoked.
    pub async fn reset_password(
        &self,
        token: &str,
        new_hash: &str,
        origin: &Origin,
    ) -> Result<Option<(Uuid, usize)>, AccountError> {
        let reset = self.store.reset_password(token, new_hash, origin).await?;
        Ok(reset.map(|(user_id, revoked)| (user_id, self.remember(revoked).len())))
    }

    /// An operator's new password: sets it and revokes every session; how many.
    pub async fn set_password(
        &self,
        user_id: Uuid,
        new_hash: &str,
        origin: &Origin,
    ) -> Result<usize, AccountError> {
        let revoked = self.store.set_password(user_id, new_hash, origin).await?;
        Ok(self.remember(revoked).len())
    }

    /// Spends a refresh token for its successor; a replay after the grace revokes the
    /// session and records `refresh_reuse_detected` from `origin`, the presenter (see
    /// [`crate::accounts::refresh`]).
    pub async fn rotate_refresh_token(
        &self,
        presented: &PresentedRefreshToken,
        chain: &RefreshChainKey,
        ttl: Duration,
        reuse_grace: Duration,
        origin: &Origin,
    ) -> Result<Rotation, AccountError> {
        let rotation = self
            .store
            .rotate_refresh_token(presented, chain, ttl, reuse_grace, origin)
            .await?;
        if let Rotation::ReuseDetected { session_id } = &rotation {
            self.remember(vec![*session_id]);
        }
        Ok(rotation)
    }

    /// Deletes a client and revokes its token generations (see
    /// [`crate::accounts::clients::delete`]); `false` when there is no such client.
    pub async fn delete_client(
        &self,
        client_id: Uuid,
        origin: &Origin,
    ) -> Result<bool, AccountError> {
        let revoked = self.store.delete_client(client_id, origin).await?;
        Ok(revoked.map(|revoked| self.remember(revoked)).is_some())
    }

    /// Revokes the client's token generation `generation` (every token issued to it so
    /// far) and gives the client a fresh one (RFC 7009 for a client's token).
    pub async fn revoke_client_generation(
        &self,
        client_id: Uuid,
        generation: Uuid,
    ) -> Result<Vec<Uuid>, AccountError> {
        let revoked = self
            .store
            .revoke_client_generation(client_id, generation)
            .await?;
        Ok(self.remember(revoked))
    }

    /// Makes revocations done by this replica take effect here at once (the others learn
    /// of them from the database within their poll interval).
    fn remember(&self, sessions: Vec<Uuid>) -> Vec<Uuid> {
        // As the revocation feed computes it: saturating, so no setting can wrap it into
        // the past and forget the revocation at once.
        let forget_after = Timestamp::now().plus(self.retention).unix_seconds();
        for sid in &sessions {
            self.revoked.insert(*sid, forget_after);
        }
        sessions
    }
}
