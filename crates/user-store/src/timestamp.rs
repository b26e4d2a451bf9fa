use std::fmt;

use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::{Decode, Encode, Postgres, Sqlite, Type};
use time::format_description::BorrowedFormatItem;
use time::format_description::well_known::Rfc3339;
use time::macros::{datetime, format_description};
use time::{Duration, OffsetDateTime};

/// A UTC instant with microsecond precision, stored as `TIMESTAMPTZ` on PostgreSQL and as
/// fixed-width RFC 3339 text on SQLite.
///
/// Fixed width matters: sqlx's own SQLite encoding of `OffsetDateTime` drops a zero
/// fraction ("…:05Z" vs "…:05.5Z"), and such strings do not sort in time order, which
/// would break every `WHERE revoked_at > $1`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(OffsetDateTime);

const SQLITE_FORMAT: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");

/// The range [`Timestamp::plus`] and [`Timestamp::minus`] saturate to: the years RFC 3339
/// can write (four digits, §5.6), so every result can be stored and shown.
const EARLIEST: OffsetDateTime = datetime!(0000-01-01 00:00:00 UTC);
const LATEST: OffsetDateTime = datetime!(9999-12-31 23:59:59.999999 UTC);

impl Timestamp {
    pub fn now() -> Self {
        Self::from(OffsetDateTime::now_utc())
    }

    pub fn unix_seconds(self) -> i64 {
        self.0.unix_timestamp()
    }

    pub fn rfc3339(self) -> String {
        self.0.format(&Rfc3339).unwrap_or_default()
    }

    /// `self + d`, saturating at the end of year 9999 rather than overflowing.
    pub fn plus(self, d: std::time::Duration) -> Self {
        let sum = Duration::try_from(d)
            .ok()
            .and_then(|d| self.0.checked_add(d))
            .unwrap_or(LATEST);
        Self(sum.clamp(EARLIEST, LATEST))
    }

    /// `self - d`, saturating at the start of year 0 rather than overflowing.
    pub fn minus(self, d: std::time::Duration) -> Self {
        let difference = Duration::try_from(d)
            .ok()
            .and_then(|d| self.0.checked_sub(d))
            .unwrap_or(EARLIEST);
        Self(difference.clamp(EARLIEST, LATEST))
    }

    /// How long after `earlier` this is (zero when it is not after).
    pub fn since(self, earlier: Timestamp) -> std::time::Duration {
        (self.0 - earlier.0).try_into().unwrap_or_default()
    }
}

impl From<OffsetDateTime> for Timestamp {
    fn from(t: OffsetDateTime) -> Self {
        let t = t.to_offset(time::UtcOffset::UTC);
        let micros = t.nanosecond() / 1_000 * 1_000;
        Self(t.replace_nanosecond(micros).unwrap_or(t))
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rfc3339())
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.rfc3339())
    }
}

impl Type<Sqlite> for Timestamp {
    fn type_info() -> <Sqlite as sqlx::Database>::TypeInfo {
        <String as Type<Sqlite>>::type_info()
    }
    fn compatible(ty: &<Sqlite as sqlx::Database>::TypeInfo) -> bool {
        <String as Type<Sqlite>>::compatible(ty)
    }
}

impl Encode<'_, Sqlite> for Timestamp {
    fn encode_by_ref(
        &self,
        buf: &mut <Sqlite as sqlx::Database>::ArgumentBuffer,
    ) -> Result<IsNull, BoxDynError> {
        Encode::<Sqlite>::encode(self.0.format(SQLITE_FORMAT)?, buf)
    }
}

impl<'r> Decode<'r, Sqlite> for Timestamp {
    fn decode(value: <Sqlite as sqlx::Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
        let text = <&str as Decode<Sqlite>>::decode(value)?;
        Ok(Self::from(OffsetDateTime::parse(text, &Rfc3339)?))
    }
}

impl Type<Postgres> for Timestamp {
    fn type_info() -> <Postgres as sqlx::Database>::TypeInfo {
        <OffsetDateTime as Type<Postgres>>::type_info()
    }
}

impl Encode<'_, Postgres> for Timestamp {
    fn encode_by_ref(
        &self,
        buf: &mut <Postgres as sqlx::Database>::ArgumentBuffer,
    ) -> Result<IsNull, BoxDynError> {
        Encode::<Postgres>::encode_by_ref(&self.0, buf)
    }
}

impl<'r> Decode<'r, Postgres> for Timestamp {
    fn decode(value: <Postgres as sqlx::Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(Self::from(<OffsetDateTime as Decode<Postgres>>::decode(
            value,
        )?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FOREVER: std::time::Duration = std::time::Duration::MAX;
    const CENTURIES: std::time::Duration = std::time::Duration::from_secs(20_000 * 366 * 86_400);

    #[test]
    fn plus_and_minus_saturate_at_the_ends_of_what_can_be_written() {
        let now = Timestamp::now();
        let latest = Timestamp(LATEST);
        let earliest = Timestamp(EARLIEST);
        for far in [FOREVER, CENTURIES, std::time::Duration::from_secs(u64::MAX)] {
            assert_eq!(now.plus(far), latest, "{far:?}");
            assert_eq!(now.minus(far), earliest, "{far:?}");
            assert_eq!(latest.plus(far), latest);
            assert_eq!(earliest.minus(far), earliest);
        }
        // At the ends, a small step saturates too, and the other way still moves.
        let second = std::time::Duration::from_secs(1);
        assert_eq!(latest.plus(second), latest);
        assert_eq!(earliest.minus(second), earliest);
        assert!(latest.minus(second) < latest);
        assert!(earliest.plus(second) > earliest);
        // Saturated values are still written and read back.
        for t in [latest, earliest] {
            assert!(!t.rfc3339().is_empty());
            let text = t.0.format(SQLITE_FORMAT).unwrap();
            assert_eq!(
                Timestamp::from(OffsetDateTime::parse(&text, &Rfc3339).unwrap()),
                t
            );
        }
        assert!(latest.since(earliest) > std::time::Duration::from_secs(9_999 * 365 * 86_400));
        assert_eq!(earliest.since(latest), std::time::Duration::ZERO);
    }

    #[test]
    fn plus_and_minus_are_exact_within_range() {
        let base = Timestamp::from(OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap());
        let d = std::time::Duration::from_secs(3_600);
        assert_eq!(base.plus(d).unix_seconds(), 1_800_003_600);
        assert_eq!(base.minus(d).unix_seconds(), 1_799_996_400);
        assert_eq!(base.plus(d).minus(d), base);
    }

    #[test]
    fn the_sqlite_text_form_sorts_in_time_order() {
        let base = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let whole = Timestamp::from(base);
        let half = Timestamp::from(base + Duration::milliseconds(500));
        let a = whole.0.format(SQLITE_FORMAT).unwrap();
        let b = half.0.format(SQLITE_FORMAT).unwrap();
        assert_eq!(a.len(), b.len());
        assert!(a < b, "{a} !< {b}");
        assert_eq!(
            Timestamp::from(OffsetDateTime::parse(&a, &Rfc3339).unwrap()),
            whole
        );
    }
}
