//! How often one client address may register: a per-process limit (the CPU it protects,
//! the strength estimate and the argon2 hash, is per process), kept in memory.
//!
//! GCRA, the generic cell rate algorithm: a token bucket of `count` registrations refilled
//! evenly at `count` per `period`, kept as one time per address (when the bucket would be
//! full again, the "theoretical arrival time"). The table is bounded: two generations of at
//! most [`ADDRESSES_REMEMBERED`] addresses each; when the current one is full it becomes
//! the previous one and the old previous one is forgotten, so a flood of distinct addresses
//! costs bounded memory and nothing is ever scanned. A forgotten address starts afresh,
//! which only a client holding more addresses than that can bring about.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::parse_duration;

/// Addresses remembered per generation (at most twice this many, about 5 MiB).
pub const ADDRESSES_REMEMBERED: usize = 65_536;

/// `count` events at once from one address, then `count` per `period`, evenly spread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub count: u32,
    pub period: Duration,
}

impl Rate {
    const MAX_COUNT: u32 = 10_000;
    const MAX_PERIOD: Duration = Duration::from_secs(7 * 24 * 3600);
}

impl FromStr for Rate {
    type Err = String;

    /// `COUNT/PERIOD`: `10/1h`, `10/h`, `3/15m`, `100/1d`.
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        const FORMAT: &str = "expected COUNT/PERIOD such as 10/1h, or off";
        let (count, period) = value.split_once('/').ok_or(FORMAT)?;
        let count: u32 = count.trim().parse().map_err(|_| FORMAT)?;
        let period = period.trim();
        let period = parse_duration(period)
            .or_else(|_| parse_duration(&format!("1{period}")))
            .map_err(|_| FORMAT)?;
        if !(1..=Self::MAX_COUNT).contains(&count) {
            return Err(format!("the count must be 1 to {}", Self::MAX_COUNT));
        }
        if period < Duration::from_secs(1) || period > Self::MAX_PERIOD {
            return Err("the period must be 1s to 7d".to_owned());
        }
        Ok(Rate { count, period })
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}",
            self.count,
            humantime::format_duration(self.period)
        )
    }
}

/// Admits or refuses events per client address at a [`Rate`] (see the module comment).
pub struct AddressRateLimiter {
    /// The time one event takes back from the bucket: `period / count`.
    interval: Duration,
    /// How far ahead of now the bucket's time may run: `interval × (count − 1)`.
    tolerance: Duration,
    capacity: usize,
    /// Times are kept as durations since this instant.
    epoch: Instant,
    table: Mutex<Generations>,
}

#[derive(Default)]
struct Generations {
    current: HashMap<IpAddr, Duration>,
    previous: HashMap<IpAddr, Duration>,
}

impl AddressRateLimiter {
    pub fn new(rate: Rate) -> Self {
        Self::with_capacity(rate, ADDRESSES_REMEMBERED)
    }

    fn with_capacity(rate: Rate, capacity: usize) -> Self {
        let interval = rate.period / rate.count;
        Self {
            interval,
            tolerance: interval * (rate.count - 1),
            capacity: capacity.max(1),
            epoch: Instant::now(),
            table: Mutex::default(),
        }
    }

    /// Counts an event from `address` and admits it, or refuses it (without counting it)
    /// with the time until one would be admitted.
    pub fn check(&self, address: IpAddr) -> Result<(), Duration> {
        self.check_at(address, Instant::now())
    }

    fn check_at(&self, address: IpAddr, now: Instant) -> Result<(), Duration> {
        let now = now.saturating_duration_since(self.epoch);
        let key = key(address);
        let mut table = self.table.lock().unwrap_or_else(|p| p.into_inner());
        let due = table
            .current
            .get(&key)
            .or_else(|| table.previous.get(&key))
            .map_or(now, |due| (*due).max(now));
        if due > now + self.tolerance {
            return Err(due - self.tolerance - now);
        }
        if table.current.len() >= self.capacity && !table.current.contains_key(&key) {
            table.previous = std::mem::take(&mut table.current);
        }
        table.previous.remove(&key);
        table.current.insert(key, due + self.interval);
        Ok(())
    }

    #[cfg(test)]
    fn remembered(&self) -> usize {
        let table = self.table.lock().unwrap();
        table.current.len() + table.previous.len()
    }
}

/// An IPv4 address, or an IPv6 address's /64 prefix: one subscriber commonly holds a whole
/// /64 (RFC 6177), so its addresses count as one.
fn key(address: IpAddr) -> IpAddr {
    match address.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1))),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(value: &str) -> Rate {
        value.parse().unwrap()
    }

    fn ip(value: &str) -> IpAddr {
        value.parse().unwrap()
    }

    #[test]
    fn rates_read_count_and_period() {
        let hourly = Rate {
            count: 10,
            period: Duration::from_secs(3600),
        };
        assert_eq!(rate("10/1h"), hourly);
        assert_eq!(rate("10/h"), hourly);
        assert_eq!(rate(" 10 / 3600 "), hourly);
        assert_eq!(rate("3/15m").period, Duration::from_secs(900));
        assert_eq!(hourly.to_string(), "10/1h");
        for bad in [
            "10", "x/1h", "10/soon", "0/1h", "-1/1h", "10001/1h", "10/0s", "10/8d",
        ] {
            assert!(bad.parse::<Rate>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_burst_of_count_is_admitted_then_one_per_interval() {
        let limiter = AddressRateLimiter::new(rate("3/1m"));
        let start = limiter.epoch;
        let client = ip("203.0.113.7");
        for _ in 0..3 {
            assert_eq!(limiter.check_at(client, start), Ok(()));
        }
        assert_eq!(
            limiter.check_at(client, start),
            Err(Duration::from_secs(20))
        );
        // A refusal is not counted: the wait does not grow.
        assert_eq!(
            limiter.check_at(client, start + Duration::from_secs(5)),
            Err(Duration::from_secs(15))
        );
        // One interval later, one more.
        let later = start + Duration::from_secs(20);
        assert_eq!(limiter.check_at(client, later), Ok(()));
        assert!(limiter.check_at(client, later).is_err());
        // A full period later the whole burst again.
        let much_later = later + Duration::from_secs(60);
        for _ in 0..3 {
            assert_eq!(limiter.check_at(client, much_later), Ok(()));
        }
        assert!(limiter.check_at(client, much_later).is_err());
    }

    #[test]
    fn addresses_are_limited_apart_and_ipv6_by_slash_64() {
        let limiter = AddressRateLimiter::new(rate("1/1h"));
        let now = limiter.epoch;
        assert!(limiter.check_at(ip("203.0.113.7"), now).is_ok());
        assert!(limiter.check_at(ip("203.0.113.7"), now).is_err());
        assert!(limiter.check_at(ip("203.0.113.8"), now).is_ok());
        // An IPv4 address is the same client when it comes mapped into IPv6.
        assert!(limiter.check_at(ip("::ffff:203.0.113.8"), now).is_err());
        assert!(limiter.check_at(ip("2001:db8:1:2::1"), now).is_ok());
        assert!(limiter.check_at(ip("2001:db8:1:2:ffff::9"), now).is_err());
        assert!(limiter.check_at(ip("2001:db8:1:3::1"), now).is_ok());
    }

    #[test]
    fn a_flood_of_distinct_addresses_keeps_memory_bounded() {
        let limiter = AddressRateLimiter::with_capacity(rate("1/1h"), 100);
        let now = limiter.epoch;
        let victim = ip("198.51.100.1");
        assert!(limiter.check_at(victim, now).is_ok());
        for n in 0..10_000u32 {
            let _ = limiter.check_at(IpAddr::from(std::net::Ipv4Addr::from(n)), now);
            assert!(limiter.remembered() <= 200);
        }
        // An address active within the last generation is still remembered.
        let limiter = AddressRateLimiter::with_capacity(rate("1/1h"), 100);
        assert!(limiter.check_at(victim, now).is_ok());
        for n in 0..150u32 {
            let _ = limiter.check_at(IpAddr::from(std::net::Ipv4Addr::from(n)), now);
        }
        assert!(limiter.check_at(victim, now).is_err());
    }
}
