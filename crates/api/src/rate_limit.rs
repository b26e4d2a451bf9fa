//! How often one client address may register, and how often anyone may: a per-process
//! limit (the CPU it protects, the strength estimate and the argon2 hash, is per process),
//! kept in memory.
//!
//! GCRA, the generic cell rate algorithm: a token bucket of `count` registrations refilled
//! evenly at `count` per `period`, kept as one time per bucket (when it would be full
//! again, the "theoretical arrival time"). An event is admitted only when every bucket it
//! counts against admits it: the process's total, and its address's (an IPv4 address; an
//! IPv6 address's /64, /56 and /48, see [`IPV6_PREFIXES`]).
//!
//! The table is bounded: two generations of at most [`ADDRESSES_REMEMBERED`] buckets each;
//! when the current one is full it becomes the previous one and the old previous one is
//! forgotten, so a flood of distinct addresses costs bounded memory and nothing is scanned
//! but once per generation. A bucket is forgotten only once it is full again (forgetting
//! it then changes nothing): while the previous generation still holds one that is not,
//! a registration that needs room is refused instead. Only admitted registrations take
//! room, and the total bounds those, so with the defaults a generation lasts hours.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::parse_duration;

/// Buckets remembered per generation, at most twice this many in all. Each generation's
/// `HashMap<(IpAddr, u8), Duration>` then has 131,072 slots of 40 bytes plus one control
/// byte: about 5 MiB, so about 10 MiB for both (see `the_table_stays_within_its_stated_size`).
pub const ADDRESSES_REMEMBERED: usize = 65_536;

/// The IPv6 prefixes an address counts against, each with its budget as a multiple of
/// the address's. One subscriber commonly holds a /64 (one network), a home a /56 and a
/// site a /48 (RFC 6177; RIPE-690 §4.2 recommends a /56 or /48 per customer). Four times
/// the budget lets four of a home's networks register at the full rate, sixteen times lets
/// sixteen of a site's; a holder of a whole /48 (free from tunnel brokers) then gets 16×
/// the budget of one address instead of 65,536×.
pub const IPV6_PREFIXES: [(u8, u32); 3] = [(64, 1), (56, 4), (48, 16)];

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

/// Admits or refuses events per client address and in total (see the module comment).
pub struct AddressRateLimiter {
    per_address: Option<Rate>,
    total: Option<Gcra>,
    capacity: usize,
    /// Times are kept as durations since this instant.
    epoch: Instant,
    table: Mutex<Table>,
}

/// A bucket's key: an address, or the network of an IPv6 prefix, with its length (so a
/// /48 and the /64 at its start are told apart).
type Prefix = (IpAddr, u8);

#[derive(Default)]
struct Table {
    /// The process's bucket: `None` until the first event.
    total: Option<Duration>,
    current: HashMap<Prefix, Duration>,
    previous: HashMap<Prefix, Duration>,
    /// The latest time in `previous`: until then it may hold a bucket that is not full.
    previous_due: Duration,
}

/// One bucket's rule: `interval = period / count`, `tolerance = interval × (count − 1)`
/// (how far ahead of now the bucket's time may run).
#[derive(Debug, Clone, Copy)]
struct Gcra {
    interval: Duration,
    tolerance: Duration,
}

impl Gcra {
    /// `rate` with `multiple` times its count; `Rate` bounds the count to 10,000, so the
    /// product fits, and the period to at least 1 s, so the interval is never zero.
    fn new(rate: Rate, multiple: u32) -> Self {
        let count = rate.count.saturating_mul(multiple).max(1);
        let interval = rate.period / count;
        Self {
            interval,
            tolerance: interval * (count - 1),
        }
    }

    /// The bucket's next time if an event at `now` is admitted, or how long until one is.
    fn admit(self, due: Option<Duration>, now: Duration) -> Result<Duration, Duration> {
        let due = due.map_or(now, |due| due.max(now));
        if due > now + self.tolerance {
            return Err(due - self.tolerance - now);
        }
        Ok(due + self.interval)
    }
}

impl AddressRateLimiter {
    /// A limiter of `per_address` for each client address and `total` for all of them;
    /// `None` when both are off.
    pub fn new(per_address: Option<Rate>, total: Option<Rate>) -> Option<Self> {
        (per_address.is_some() || total.is_some())
            .then(|| Self::with_capacity(per_address, total, ADDRESSES_REMEMBERED))
    }

    fn with_capacity(per_address: Option<Rate>, total: Option<Rate>, capacity: usize) -> Self {
        Self {
            per_address,
            total: total.map(|rate| Gcra::new(rate, 1)),
            capacity: capacity.max(IPV6_PREFIXES.len()),
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
        let mut table = self.table.lock().unwrap_or_else(|p| p.into_inner());
        let mut wait = Duration::ZERO;
        let mut refused =
            |outcome: Result<Duration, Duration>| outcome.map_err(|w| wait = wait.max(w)).ok();
        let total = self.total.map(|gcra| refused(gcra.admit(table.total, now)));
        let admitted: Vec<(Prefix, Option<Duration>)> = self
            .buckets(address)
            .into_iter()
            .map(|(prefix, gcra)| (prefix, refused(gcra.admit(table.get(&prefix), now))))
            .collect();
        if wait > Duration::ZERO {
            return Err(wait);
        }
        let new = admitted
            .iter()
            .filter(|(prefix, _)| !table.current.contains_key(prefix))
            .count();
        table.make_room(new, self.capacity, now)?;
        table.total = total.flatten().or(table.total);
        for (prefix, due) in admitted {
            if let Some(due) = due {
                table.previous.remove(&prefix);
                table.current.insert(prefix, due);
            }
        }
        Ok(())
    }

    /// The buckets an event from `address` counts against, each with its rule.
    fn buckets(&self, address: IpAddr) -> Vec<(Prefix, Gcra)> {
        let Some(rate) = self.per_address else {
            return Vec::new();
        };
        match address.to_canonical() {
            v4 @ IpAddr::V4(_) => vec![((v4, 32), Gcra::new(rate, 1))],
            IpAddr::V6(v6) => IPV6_PREFIXES
                .iter()
                .map(|&(len, multiple)| {
                    let network = u128::from(v6) & !(u128::MAX >> len);
                    let prefix = (IpAddr::V6(Ipv6Addr::from(network)), len);
                    (prefix, Gcra::new(rate, multiple))
                })
                .collect(),
        }
    }

    #[cfg(test)]
    fn remembered(&self) -> usize {
        let table = self.table.lock().unwrap();
        table.current.len() + table.previous.len()
    }
}

impl Table {
    fn get(&self, prefix: &Prefix) -> Option<Duration> {
        self.current
            .get(prefix)
            .or_else(|| self.previous.get(prefix))
            .copied()
    }

    /// Room for `needed` more buckets in the current generation: rotates when it is full,
    /// unless that would forget a bucket that is not full yet; then the event is refused
    /// until that bucket would be full.
    fn make_room(&mut self, needed: usize, capacity: usize, now: Duration) -> Result<(), Duration> {
        if self.current.len() + needed <= capacity {
            return Ok(());
        }
        if self.previous_due > now {
            return Err(self.previous_due - now);
        }
        self.previous_due = self.current.values().copied().max().unwrap_or_default();
        self.previous = std::mem::take(&mut self.current);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(value: &str) -> Rate {
        value.parse().unwrap()
    }

    fn limiter(per_address: &str) -> AddressRateLimiter {
        AddressRateLimiter::new(Some(rate(per_address)), None).unwrap()
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
        let limiter = limiter("3/1m");
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
        let limiter = limiter("1/1h");
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
        let limiter = AddressRateLimiter::with_capacity(Some(rate("1/1h")), None, 100);
        let now = limiter.epoch;
        let victim = ip("198.51.100.1");
        assert!(limiter.check_at(victim, now).is_ok());
        for n in 0..10_000u32 {
            let _ = limiter.check_at(IpAddr::from(std::net::Ipv4Addr::from(n)), now);
            assert!(limiter.remembered() <= 200);
        }
        // An address active within the last generation is still remembered.
        let limiter = AddressRateLimiter::with_capacity(Some(rate("1/1h")), None, 100);
        assert!(limiter.check_at(victim, now).is_ok());
        for n in 0..150u32 {
            let _ = limiter.check_at(IpAddr::from(std::net::Ipv4Addr::from(n)), now);
        }
        assert!(limiter.check_at(victim, now).is_err());
    }

    #[test]
    fn ipv6_addresses_also_count_against_their_slash_56_and_slash_48() {
        let limiter = limiter("1/1h");
        let now = limiter.epoch;
        // Four /64s of one /56 (2001:db8:1:0::/56 spans 2001:db8:1:0:: to 2001:db8:1:ff::).
        for n in 0..4 {
            let address = ip(&format!("2001:db8:1:{n:x}::1"));
            assert!(limiter.check_at(address, now).is_ok(), "/64 number {n}");
        }
        assert!(limiter.check_at(ip("2001:db8:1:4::1"), now).is_err());
        // Sixteen /64s of one /48, four in each of four /56s.
        for n in 4..16u32 {
            let address = ip(&format!("2001:db8:1:{:x}::1", ((n / 4) << 8) | (n % 4)));
            assert!(limiter.check_at(address, now).is_ok(), "/64 number {n}");
        }
        let wait = limiter.check_at(ip("2001:db8:1:ff00::1"), now).unwrap_err();
        // The /48's bucket: 16 an hour, so one more after 3600 / 16 s.
        assert_eq!(wait, Duration::from_secs(225));
        // Another /48 has budgets of its own.
        assert!(limiter.check_at(ip("2001:db8:2::1"), now).is_ok());
        // A refused event is not counted against any of its buckets.
        let later = now + Duration::from_secs(225);
        assert!(limiter.check_at(ip("2001:db8:1:ff00::1"), later).is_ok());
    }

    #[test]
    fn the_total_limits_registrations_from_any_number_of_addresses() {
        let limiter = AddressRateLimiter::new(Some(rate("1/1h")), Some(rate("5/1h"))).unwrap();
        let now = limiter.epoch;
        for n in 1..=5u8 {
            assert!(limiter.check_at(ip(&format!("203.0.113.{n}")), now).is_ok());
        }
        let remembered = limiter.remembered();
        assert_eq!(
            limiter.check_at(ip("198.51.100.1"), now),
            Err(Duration::from_secs(720))
        );
        assert_eq!(limiter.remembered(), remembered, "a refusal takes no room");
        let total_only = AddressRateLimiter::new(None, Some(rate("2/1m"))).unwrap();
        let now = total_only.epoch;
        assert!(total_only.check_at(ip("203.0.113.1"), now).is_ok());
        assert!(total_only.check_at(ip("2001:db8::1"), now).is_ok());
        assert!(total_only.check_at(ip("198.51.100.1"), now).is_err());
        assert_eq!(total_only.remembered(), 0);
        assert!(AddressRateLimiter::new(None, None).is_none());
    }

    #[test]
    fn a_flood_of_distinct_addresses_cannot_make_the_limiter_forget_a_bucket() {
        let limiter = AddressRateLimiter::with_capacity(Some(rate("1/1h")), None, 100);
        let now = limiter.epoch;
        let victim = ip("198.51.100.1");
        assert!(limiter.check_at(victim, now).is_ok());
        let flood = |at: Instant| {
            (0..10_000u32)
                .filter(|&n| {
                    let address = IpAddr::from(std::net::Ipv6Addr::from(u128::from(n) << 80));
                    limiter.check_at(address, at).is_ok()
                })
                .count()
        };
        let admitted = flood(now);
        assert!(admitted < 100, "{admitted} admitted");
        assert!(limiter.remembered() <= 200);
        assert!(limiter.check_at(victim, now).is_err(), "still remembered");
        let half_an_hour = now + Duration::from_secs(1800);
        flood(half_an_hour);
        assert!(limiter.check_at(victim, half_an_hour).is_err());
        // Once every bucket is full again, forgetting them is harmless: room is made.
        let later = now + Duration::from_secs(2 * 3600);
        assert!(flood(later) > 0);
        assert!(limiter.remembered() <= 200);
    }

    #[test]
    fn the_table_stays_within_its_stated_size() {
        let mut generation: HashMap<Prefix, Duration> = HashMap::new();
        for n in 0..ADDRESSES_REMEMBERED as u32 {
            generation.insert(
                (IpAddr::from(std::net::Ipv4Addr::from(n)), 32),
                Duration::ZERO,
            );
        }
        // hashbrown keeps a power of two of slots, at most 7/8 used, each one entry and
        // one control byte.
        let slots = (generation.capacity() * 8 / 7).next_power_of_two();
        let bytes = slots * (std::mem::size_of::<(Prefix, Duration)>() + 1);
        assert_eq!(slots, 131_072);
        assert!(bytes <= 11 * (1 << 20) / 2, "{bytes} bytes a generation");
    }
}
