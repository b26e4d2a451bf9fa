use std::time::Duration;

use crate::error::DbResultExt;
use crate::store::on_pool;
use crate::{Store, StoreError, Timestamp, Username};

/// How failed logins slow a username down: the first `free_failures` cost nothing, then
/// each failure blocks the name for twice as long as the one before, from `first_delay`
/// up to `max_delay`. Failures older than `window` are forgotten.
#[derive(Debug, Clone)]
pub struct ThrottlePolicy {
    pub free_failures: u32,
    pub first_delay: Duration,
    pub max_delay: Duration,
    pub window: Duration,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            free_failures: 5,
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(15 * 60),
            window: Duration::from_secs(15 * 60),
        }
    }
}

impl ThrottlePolicy {
    /// The block after the `failures`-th consecutive failure.
    pub fn delay_after(&self, failures: u32) -> Duration {
        let Some(excess) = failures.checked_sub(self.free_failures).filter(|e| *e > 0) else {
            return Duration::ZERO;
        };
        let factor = 1u32.checked_shl(excess - 1).unwrap_or(u32::MAX);
        self.first_delay.saturating_mul(factor).min(self.max_delay)
    }
}

impl Store {
    /// Until when logins for this name are refused, if they are now.
    #[tracing::instrument(skip_all)]
    pub async fn login_blocked_until(
        &self,
        username: &Username,
    ) -> Result<Option<Timestamp>, StoreError> {
        const SQL: &str = "SELECT blocked_until FROM login_failures WHERE username_key = $1 AND blocked_until > $2";
        let blocked = on_pool!(self, pool => sqlx::query_scalar::<_, Option<Timestamp>>(SQL)
            .bind(username.key())
            .bind(Timestamp::now())
            .fetch_optional(pool)
            .await
            .db("read login throttle"))?;
        Ok(blocked.flatten())
    }

    /// Counts a failed login for this name (one atomic upsert, so concurrent failures on
    /// several replicas all count) and returns the block it earned, if any.
    #[tracing::instrument(skip_all)]
    pub async fn record_login_failure(
        &self,
        username: &Username,
        policy: &ThrottlePolicy,
    ) -> Result<Option<Timestamp>, StoreError> {
        const COUNT: &str = "INSERT INTO login_failures (username_key, failures, last_failure_at) VALUES ($1, 1, $2) \
             ON CONFLICT (username_key) DO UPDATE SET \
                 failures = CASE WHEN login_failures.last_failure_at < $3 THEN 1 ELSE login_failures.failures + 1 END, \
                 last_failure_at = $2 \
             RETURNING failures";
        const BLOCK: &str = "UPDATE login_failures SET blocked_until = $1 \
             WHERE username_key = $2 AND (blocked_until IS NULL OR blocked_until < $1)";
        let now = Timestamp::now();
        let failures = on_pool!(self, pool => sqlx::query_scalar::<_, i32>(COUNT)
            .bind(username.key())
            .bind(now)
            .bind(now.minus(policy.window))
            .fetch_one(pool)
            .await
            .db("count login failure"))?;
        let delay = policy.delay_after(u32::try_from(failures).unwrap_or(u32::MAX));
        if delay.is_zero() {
            return Ok(None);
        }
        let until = now.plus(delay);
        on_pool!(self, pool => sqlx::query(BLOCK)
            .bind(until)
            .bind(username.key())
            .execute(pool)
            .await
            .db("block login")
            .map(|_| ()))?;
        Ok(Some(until))
    }

    /// Forgets the failures of a name after a successful login.
    #[tracing::instrument(skip_all)]
    pub async fn clear_login_failures(&self, username: &Username) -> Result<(), StoreError> {
        on_pool!(self, pool => sqlx::query("DELETE FROM login_failures WHERE username_key = $1")
            .bind(username.key())
            .execute(pool)
            .await
            .db("clear login failures")
            .map(|_| ()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delay_doubles_after_the_free_failures_up_to_the_cap() {
        let policy = ThrottlePolicy::default();
        let secs: Vec<u64> = (1..=16).map(|n| policy.delay_after(n).as_secs()).collect();
        assert_eq!(
            secs,
            [0, 0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900]
        );
        assert_eq!(policy.delay_after(u32::MAX), policy.max_delay);
    }
}
