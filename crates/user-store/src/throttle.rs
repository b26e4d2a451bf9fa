use std::borrow::Cow;
use std::net::{IpAddr, Ipv6Addr};
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

/// What failed logins are counted against: a normalised username (known or not), or a
/// client address for the optional per-address limit. Each has a table of its own.
#[derive(Debug, Clone, Copy)]
pub enum ThrottleKey<'a> {
    Username(&'a Username),
    Address(IpAddr),
}

impl ThrottleKey<'_> {
    fn sql(&self) -> &'static ThrottleSql {
        match self {
            ThrottleKey::Username(_) => &BY_USERNAME,
            ThrottleKey::Address(_) => &BY_ADDRESS,
        }
    }

    /// The stored key: the case-folded username, or the address (IPv6 by its /64 prefix,
    /// which one subscriber usually holds whole; IPv4-mapped IPv6 as plain IPv4).
    fn value(&self) -> Cow<'_, str> {
        match self {
            ThrottleKey::Username(name) => Cow::Borrowed(name.key()),
            ThrottleKey::Address(ip) => Cow::Owned(match ip.to_canonical() {
                IpAddr::V4(v4) => v4.to_string(),
                IpAddr::V6(v6) => {
                    let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                    format!("{}/64", Ipv6Addr::from(prefix))
                }
            }),
        }
    }
}

/// Whether a login attempt may go on to the password check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Go on. `on_record`: the key has failures on record (a success should clear them).
    /// `counted`: this attempt was already counted as a failure, so a failure must not be
    /// counted again.
    Allowed { on_record: bool, counted: bool },
    /// Refused until then (429).
    Blocked { until: Timestamp },
}

/// The statements of one throttle table.
struct ThrottleSql {
    record: &'static str,
    admit: &'static str,
    count: &'static str,
    block: &'static str,
    clear: &'static str,
}

macro_rules! throttle_sql {
    ($table:literal, $key:literal) => {
        ThrottleSql {
            record: concat!(
                "SELECT failures, last_failure_at, blocked_until FROM ",
                $table,
                " WHERE ",
                $key,
                " = $1"
            ),
            // Compare-and-set on the count: of concurrent attempts that read the same
            // count, exactly one is admitted.
            admit: concat!(
                "UPDATE ",
                $table,
                " SET failures = $1, last_failure_at = $2, blocked_until = $3 WHERE ",
                $key,
                " = $4 AND failures = $5"
            ),
            // One atomic upsert, so concurrent failures on several replicas all count;
            // failures older than the window start the count again.
            count: concat!(
                "INSERT INTO ",
                $table,
                " (",
                $key,
                ", failures, last_failure_at) VALUES ($1, 1, $2) \
                 ON CONFLICT (",
                $key,
                ") DO UPDATE SET \
                     failures = CASE WHEN ",
                $table,
                ".last_failure_at < $3 THEN 1 ELSE ",
                $table,
                ".failures + 1 END, \
                     last_failure_at = $2 \
                 RETURNING failures"
            ),
            block: concat!(
                "UPDATE ",
                $table,
                " SET blocked_until = $1 \
                 WHERE ",
                $key,
                " = $2 AND (blocked_until IS NULL OR blocked_until < $1)"
            ),
            clear: concat!("DELETE FROM ", $table, " WHERE ", $key, " = $1"),
        }
    };
}

static BY_USERNAME: ThrottleSql = throttle_sql!("login_failures", "username_key");
static BY_ADDRESS: ThrottleSql = throttle_sql!("address_login_failures", "address");

impl Store {
    /// Decides whether an attempt against `key` may go on to the (costly) password check.
    ///
    /// Within the free failures attempts go on and a failure is counted after the check.
    /// Past them, an attempt is admitted only if the block has passed, and it is counted
    /// as a failure *before* the check with a compare-and-set on the count, together with
    /// the block that failure earns: of guesses sent at once, one is admitted and the
    /// others are refused, instead of all of them being checked before the first failure
    /// lands. A success then clears the record.
    #[tracing::instrument(skip_all)]
    pub async fn admit_login_attempt(
        &self,
        key: ThrottleKey<'_>,
        policy: &ThrottlePolicy,
    ) -> Result<Admission, StoreError> {
        let value = key.value();
        let read = || async {
            on_pool!(self, pool => sqlx::query_as::<_, (i32, Timestamp, Option<Timestamp>)>(key.sql().record)
                .bind(&value)
                .fetch_optional(pool)
                .await
                .db("read login throttle"))
        };
        let Some((failures, last_failure_at, blocked_until)) = read().await? else {
            return Ok(Admission::Allowed {
                on_record: false,
                counted: false,
            });
        };
        let now = Timestamp::now();
        if let Some(until) = blocked_until.filter(|until| *until > now) {
            return Ok(Admission::Blocked { until });
        }
        // Failures older than the window no longer count (as in the upsert).
        let counted_so_far = if last_failure_at < now.minus(policy.window) {
            0
        } else {
            u32::try_from(failures).unwrap_or(u32::MAX)
        };
        let this_one = counted_so_far.saturating_add(1);
        let delay = policy.delay_after(this_one);
        if delay.is_zero() {
            return Ok(Admission::Allowed {
                on_record: true,
                counted: false,
            });
        }
        let admitted = on_pool!(self, pool => sqlx::query(key.sql().admit)
            .bind(i32::try_from(this_one).unwrap_or(i32::MAX))
            .bind(now)
            .bind(now.plus(delay))
            .bind(&value)
            .bind(failures)
            .execute(pool)
            .await
            .db("admit login attempt")
            .map(|done| done.rows_affected() == 1))?;
        if admitted {
            return Ok(Admission::Allowed {
                on_record: true,
                counted: true,
            });
        }
        // Another attempt won the race and set its block.
        let until = match read().await? {
            Some((_, _, Some(until))) if until > now => until,
            _ => now.plus(policy.first_delay),
        };
        Ok(Admission::Blocked { until })
    }

    /// Counts a failed login against `key` and returns the block it earned, if any.
    #[tracing::instrument(skip_all)]
    pub async fn record_login_failure(
        &self,
        key: ThrottleKey<'_>,
        policy: &ThrottlePolicy,
    ) -> Result<Option<Timestamp>, StoreError> {
        let now = Timestamp::now();
        let value = key.value();
        let failures = on_pool!(self, pool => sqlx::query_scalar::<_, i32>(key.sql().count)
            .bind(&value)
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
        on_pool!(self, pool => sqlx::query(key.sql().block)
            .bind(until)
            .bind(&value)
            .execute(pool)
            .await
            .db("block login")
            .map(|_| ()))?;
        Ok(Some(until))
    }

    /// Forgets the failures counted against `key` (a username, after its successful login).
    #[tracing::instrument(skip_all)]
    pub async fn clear_login_failures(&self, key: ThrottleKey<'_>) -> Result<(), StoreError> {
        on_pool!(self, pool => sqlx::query(key.sql().clear)
            .bind(key.value())
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

    #[test]
    fn addresses_are_keyed_by_ipv4_or_ipv6_slash_64() {
        let key = |s: &str| {
            ThrottleKey::Address(s.parse().unwrap())
                .value()
                .into_owned()
        };
        assert_eq!(key("203.0.113.7"), "203.0.113.7");
        assert_eq!(key("::ffff:203.0.113.7"), "203.0.113.7");
        assert_eq!(key("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:2::9"), key("2001:db8:1:2:ffff::1"));
    }
}
