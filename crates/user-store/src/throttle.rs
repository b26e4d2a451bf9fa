use std::borrow::Cow;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::LazyLock;
use std::time::Duration;

use crate::error::DbResultExt;
use crate::statement::Statement;
use crate::{Store, StoreError, Timestamp, Username};

/// How password attempts slow a username down: the first `free_failures` cost nothing,
/// then each attempt blocks the name for twice as long as the one before, from
/// `first_delay` up to `max_delay`. A record is forgotten once `window` has passed since
/// its last attempt *and* since its block ended, so the free attempts do not come back
/// the moment the longest block ends.
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
/// Password-reset requests are counted the same way, in a third table
/// (`recovery_requests`), per client address and per target (a lower-cased email or a
/// username key), so that they never spend a login's budget.
#[derive(Debug, Clone, Copy)]
pub enum ThrottleKey<'a> {
    Username(&'a Username),
    Address(IpAddr),
    RecoveryAddress(IpAddr),
    RecoveryTarget(&'a str),
    /// A user's email changes (`PUT /api/me/email`), in the recovery table: each sends
    /// mail to an address of the caller's choosing, so their number is bounded per user.
    EmailChange(uuid::Uuid),
}

impl ThrottleKey<'_> {
    fn sql(&self) -> &'static ThrottleSql {
        match self {
            ThrottleKey::Username(_) => &BY_USERNAME,
            ThrottleKey::Address(_) => &BY_ADDRESS,
            ThrottleKey::RecoveryAddress(_)
            | ThrottleKey::RecoveryTarget(_)
            | ThrottleKey::EmailChange(_) => &BY_RECOVERY,
        }
    }

    /// The stored key: the case-folded username, or the address (IPv6 by its /64 prefix,
    /// which one subscriber usually holds whole; IPv4-mapped IPv6 as plain IPv4).
    fn value(&self) -> Cow<'_, str> {
        match self {
            ThrottleKey::Username(name) => Cow::Borrowed(name.key()),
            ThrottleKey::Address(ip) => Cow::Owned(address_key(*ip)),
            ThrottleKey::RecoveryAddress(ip) => Cow::Owned(format!("address:{}", address_key(*ip))),
            ThrottleKey::RecoveryTarget(target) => Cow::Owned(format!("target:{target}")),
            ThrottleKey::EmailChange(user_id) => Cow::Owned(format!("email_change:{user_id}")),
        }
    }
}

fn address_key(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            format!("{}/64", Ipv6Addr::from(prefix))
        }
    }
}

/// Whether a password attempt may go on to the password check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Go on: the attempt is already counted (a success refunds it).
    Allowed,
    /// Refused until then (429).
    Blocked { until: Timestamp },
}

/// The statements of one throttle table.
struct ThrottleSql {
    read: String,
    insert: String,
    admit: String,
    increment: String,
    clear: String,
    refund: String,
}

impl ThrottleSql {
    /// The statements of `table`, whose primary key is `key`. Both are constants of this
    /// module, never input.
    fn new(table: &str, key: &str) -> Self {
        Self {
            read: format!(
                "SELECT failures, last_failure_at, blocked_until FROM {table} WHERE {key} = $1"
            ),
            insert: format!(
                "INSERT INTO {table} ({key}, failures, last_failure_at, blocked_until) \
                 VALUES ($1, 1, $2, $3) ON CONFLICT ({key}) DO NOTHING"
            ),
            // Compare-and-set on the record as it was read: of concurrent attempts that
            // read the same record, exactly one is counted by this statement; the others
            // read again.
            admit: format!(
                "UPDATE {table} SET failures = $1, last_failure_at = $2, blocked_until = $3 \
                 WHERE {key} = $4 AND failures = $5 AND last_failure_at = $6"
            ),
            // Within the free attempts no compare-and-set is needed: one atomic
            // increment, as long as it stays within them.
            increment: format!(
                "UPDATE {table} SET failures = failures + 1, last_failure_at = $1 \
                 WHERE {key} = $2 AND failures < $3"
            ),
            clear: format!("DELETE FROM {table} WHERE {key} = $1"),
            refund: format!(
                "UPDATE {table} SET failures = failures - 1 WHERE {key} = $1 AND failures > 0"
            ),
        }
    }
}

static BY_USERNAME: LazyLock<ThrottleSql> =
    LazyLock::new(|| ThrottleSql::new("login_failures", "username_key"));
static BY_ADDRESS: LazyLock<ThrottleSql> =
    LazyLock::new(|| ThrottleSql::new("address_login_failures", "address"));
static BY_RECOVERY: LazyLock<ThrottleSql> =
    LazyLock::new(|| ThrottleSql::new("recovery_requests", "request_key"));

/// A throttle row as read.
#[derive(sqlx::FromRow)]
struct ThrottleRecord {
    failures: i32,
    last_failure_at: Timestamp,
    blocked_until: Option<Timestamp>,
}

/// How often an attempt re-reads a record that concurrent attempts changed under it
/// before it gives up and is refused like a blocked one: attempts in such numbers at
/// once are a flood, not a user.
const ADMIT_RETRIES: usize = 8;

impl ThrottlePolicy {
    /// Whether a record last touched at `last_attempt_at` and blocked until
    /// `blocked_until` is forgotten at `now`: the window counts from whichever is later,
    /// so it always outlasts the block.
    pub fn is_stale(
        &self,
        last_attempt_at: Timestamp,
        blocked_until: Option<Timestamp>,
        now: Timestamp,
    ) -> bool {
        let quiet_since = blocked_until.map_or(last_attempt_at, |b| b.max(last_attempt_at));
        quiet_since.plus(self.window) < now
    }
}

impl Store {
    /// Decides whether an attempt against `key` may go on to the (costly) password check,
    /// and counts it *before* the check: every attempt is a failure until it succeeds
    /// (then [`Store::login_attempt_succeeded`] refunds it). Counting up front with a
    /// compare-and-set, together with the block the attempt earns, means guesses sent at
    /// once are admitted only as far as the free attempts and the block allow: the first
    /// `free_failures` at once, then one at a time as each block passes.
    #[tracing::instrument(skip_all)]
    pub async fn admit_login_attempt(
        &self,
        key: ThrottleKey<'_>,
        policy: &ThrottlePolicy,
    ) -> Result<Admission, StoreError> {
        let value = key.value();
        let sql = key.sql();
        for _ in 0..ADMIT_RETRIES {
            let now = Timestamp::now();
            let record = self
                .sql(&sql.read)
                .bind(&value)
                .fetch_optional::<ThrottleRecord>()
                .await
                .db("read login throttle")?;
            let count = match self.count_attempt(sql, &value, record, policy, now) {
                Ok(count) => count,
                Err(until) => return Ok(Admission::Blocked { until }),
            };
            // Not counted: a concurrent attempt changed the record since it was read.
            if count.execute().await.db("count login attempt")? == 1 {
                return Ok(Admission::Allowed);
            }
        }
        Ok(Admission::Blocked {
            until: Timestamp::now().plus(policy.first_delay),
        })
    }

    /// The statement that counts an attempt at `now` against `record` (the row as read,
    /// `None` when there is none), each conditional on the row being as read; or, when
    /// the record is blocked, until when.
    fn count_attempt(
        &self,
        sql: &'static ThrottleSql,
        value: &str,
        record: Option<ThrottleRecord>,
        policy: &ThrottlePolicy,
        now: Timestamp,
    ) -> Result<Statement<'_>, Timestamp> {
        let Some(record) = record else {
            let block = Some(policy.delay_after(1))
                .filter(|d| !d.is_zero())
                .map(|d| now.plus(d));
            return Ok(self.sql(&sql.insert).bind(value).bind(now).bind(block));
        };
        if let Some(until) = record.blocked_until.filter(|until| *until > now) {
            return Err(until);
        }
        let so_far = if policy.is_stale(record.last_failure_at, record.blocked_until, now) {
            0
        } else {
            u32::try_from(record.failures).unwrap_or(0)
        };
        let this_one = so_far.saturating_add(1);
        let delay = policy.delay_after(this_one);
        if delay.is_zero() && so_far > 0 {
            let free = i32::try_from(policy.free_failures).unwrap_or(i32::MAX);
            return Ok(self.sql(&sql.increment).bind(now).bind(value).bind(free));
        }
        let block = (!delay.is_zero()).then(|| now.plus(delay));
        Ok(self
            .sql(&sql.admit)
            .bind(i32::try_from(this_one).unwrap_or(i32::MAX))
            .bind(now)
            .bind(block)
            .bind(value)
            .bind(record.failures)
            .bind(record.last_failure_at))
    }

    /// The attempt admitted against `key` had the right password: a username's record is
    /// forgotten, an address's count gives the one attempt back (one good account must
    /// not clear the count of the address it guesses other accounts' passwords from).
    #[tracing::instrument(skip_all)]
    pub async fn login_attempt_succeeded(&self, key: ThrottleKey<'_>) -> Result<(), StoreError> {
        match key {
            ThrottleKey::Username(_) => self.run_throttle_sql(key, &key.sql().clear).await,
            ThrottleKey::Address(_)
            | ThrottleKey::RecoveryAddress(_)
            | ThrottleKey::RecoveryTarget(_)
            | ThrottleKey::EmailChange(_) => self.refund_login_attempt(key).await,
        }
    }

    /// Gives back an attempt admitted against `key` whose password was never checked
    /// (another key refused it, or the check could not run).
    #[tracing::instrument(skip_all)]
    pub async fn refund_login_attempt(&self, key: ThrottleKey<'_>) -> Result<(), StoreError> {
        self.run_throttle_sql(key, &key.sql().refund).await
    }

    async fn run_throttle_sql(
        &self,
        key: ThrottleKey<'_>,
        sql: &'static str,
    ) -> Result<(), StoreError> {
        self.sql(sql)
            .bind(key.value())
            .execute()
            .await
            .db("settle login attempt")
            .map(|_| ())
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
    fn a_record_is_forgotten_a_window_after_its_block_ends_not_when_it_ends() {
        let policy = ThrottlePolicy::default();
        let t0 = Timestamp::now();
        let block_end = t0.plus(policy.max_delay);
        assert!(!policy.is_stale(t0, Some(block_end), block_end));
        assert!(!policy.is_stale(t0, Some(block_end), block_end.plus(Duration::from_secs(60))));
        assert!(policy.is_stale(
            t0,
            Some(block_end),
            block_end.plus(policy.window + Duration::from_secs(1))
        ));
        assert!(policy.is_stale(t0, None, t0.plus(policy.window + Duration::from_secs(1))));
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
