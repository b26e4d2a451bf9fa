use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use uuid::Uuid;

use crate::unix_now;

/// The revoked, not yet expired session ids, held in memory so that checking an access
/// token never reads the database. Each entry is kept until `forget_after`, the time by
/// which every access token of that session has expired.
///
/// Cheap to clone: clones share one set.
#[derive(Clone, Default)]
pub struct RevokedSessions {
    inner: Arc<RwLock<HashMap<Uuid, i64>>>,
}

impl RevokedSessions {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that `session` is revoked; it is remembered until `forget_after` (Unix seconds).
    pub fn insert(&self, session: Uuid, forget_after: i64) {
        let mut map = self.inner.write().unwrap_or_else(|p| p.into_inner());
        let entry = map.entry(session).or_insert(forget_after);
        *entry = (*entry).max(forget_after);
    }

    pub fn contains(&self, session: &Uuid) -> bool {
        self.inner
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(session)
    }

    /// Drops the entries whose tokens have all expired.
    pub fn purge_expired(&self) {
        let now = unix_now();
        self.inner
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, forget_after| *forget_after > now);
    }

    pub fn len(&self) -> usize {
        self.inner.read().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revoked_sessions_are_remembered_until_their_tokens_expire() {
        let set = RevokedSessions::new();
        let live = Uuid::now_v7();
        let old = Uuid::now_v7();
        set.insert(live, unix_now() + 60);
        set.insert(old, unix_now() - 1);
        assert!(set.contains(&live) && set.contains(&old));
        set.purge_expired();
        assert!(set.contains(&live));
        assert!(!set.contains(&old));
        assert_eq!(set.len(), 1);
    }

    #[test]
    fn a_later_forget_time_wins() {
        let set = RevokedSessions::new();
        let sid = Uuid::now_v7();
        set.insert(sid, unix_now() + 60);
        set.insert(sid, unix_now() - 1);
        set.purge_expired();
        assert!(set.contains(&sid));
    }
}
