//! Run counts of the runs page, kept for a few seconds. Counting the runs a filter matches costs
//! the store as much as finding a page of them (over 100,000 runs, tens of milliseconds), and a
//! person sorting, paging or reloading asks for the same count again and again; so do many
//! people looking at one experiment. A count may therefore lag new runs by up to `FRESH`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a count is reused.
const FRESH: Duration = Duration::from_secs(5);
/// Counts kept at most; beyond, the oldest go.
const KEPT: usize = 1024;

/// Experiment, filter, whether stage runs count.
pub(crate) type CountKey = (String, String, bool);

/// Recent counts by query.
#[derive(Default)]
pub(crate) struct Counts {
    entries: Mutex<HashMap<CountKey, (Instant, Option<u64>)>>,
}

impl Counts {
    /// The count of `key` if it was taken less than `FRESH` ago.
    pub(crate) fn get(&self, key: &CountKey) -> Option<Option<u64>> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(key)
            .filter(|(at, _)| at.elapsed() < FRESH)
            .map(|(_, count)| *count)
    }

    /// Keeps `count` for `key`.
    pub(crate) fn put(&self, key: CountKey, count: Option<u64>) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= KEPT {
            entries.retain(|_, (at, _)| at.elapsed() < FRESH);
            if entries.len() >= KEPT {
                entries.clear();
            }
        }
        entries.insert(key, (Instant::now(), count));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_count_is_reused_only_for_the_same_query() {
        let counts = Counts::default();
        let key = ("1".to_string(), "metrics.a > 1".to_string(), false);
        assert_eq!(counts.get(&key), None);
        counts.put(key.clone(), Some(7));
        assert_eq!(counts.get(&key), Some(Some(7)));
        assert_eq!(
            counts.get(&("1".into(), "metrics.a > 1".into(), true)),
            None
        );
        assert_eq!(
            counts.get(&("2".into(), "metrics.a > 1".into(), false)),
            None
        );
    }
}
