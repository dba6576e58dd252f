//! The in-memory image of the log: every retained row by revision, each key's versions, and the reads served from it.

use std::{collections::BTreeMap, ops::Bound, sync::Arc};

use super::record::Record;
use crate::storage::{Event, KeyValue, ListRequest, ListResponse, Revision, StoreError};

/// The revision of a store nothing was ever written to (etcd's convention: the first write gets revision 2, so no
/// read ever reports revision 0, which Kubernetes clients treat as "any").
pub(crate) const EMPTY_STORE_REVISION: Revision = 1;

/// Every retained row and the versions of each key, plus the current and compacted revisions.
#[derive(Debug, Default)]
pub(crate) struct State {
    /// Retained rows by revision.
    log: BTreeMap<Revision, Arc<Record>>,
    /// Each key's retained rows (tombstones included), oldest first.
    index: BTreeMap<String, Vec<Revision>>,
    /// The latest committed revision.
    current: Revision,
    /// Reads below this revision fail with `Compacted`.
    compacted: Revision,
}

/// What a compaction removes: the oldest `count` versions of each listed key.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct CompactionPlan {
    /// The compaction revision.
    pub(crate) revision: Revision,
    /// Keys and how many of their oldest versions go.
    pub(crate) removals: Vec<(String, usize)>,
    /// Every removed revision (the log rows to delete).
    pub(crate) revisions: Vec<Revision>,
}

/// A slice of history read for a watcher.
#[derive(Debug, Default)]
pub(crate) struct Changes {
    /// Matching events in revision order.
    pub(crate) events: Vec<Event>,
    /// Every revision up to this one was examined.
    pub(crate) seen: Revision,
    /// Whether `seen` is the current revision (nothing newer to read).
    pub(crate) caught_up: bool,
}

impl State {
    /// An empty image whose revisions start at `current` and whose history before `compacted` is gone.
    pub(crate) fn new(current: Revision, compacted: Revision) -> Self {
        Self { log: BTreeMap::new(), index: BTreeMap::new(), current: current.max(EMPTY_STORE_REVISION), compacted }
    }

    /// The latest committed revision.
    pub(crate) fn current(&self) -> Revision {
        self.current
    }

    /// The compacted revision.
    pub(crate) fn compacted(&self) -> Revision {
        self.compacted
    }

    /// The revisions of every retained row.
    #[cfg(test)]
    pub(crate) fn retained_revisions(&self) -> Vec<Revision> {
        self.log.keys().copied().collect()
    }

    /// Adds a committed row; rows must arrive in revision order.
    pub(crate) fn insert(&mut self, record: Arc<Record>) {
        let revision = record.revision();
        match self.index.get_mut(record.key()) {
            Some(revisions) => revisions.push(revision),
            None => {
                self.index.insert(record.key().to_string(), vec![revision]);
            }
        }
        self.log.insert(revision, record);
        self.current = self.current.max(revision);
    }

    /// The newest row of `key`, tombstone or not.
    pub(crate) fn latest(&self, key: &str) -> Option<&Arc<Record>> {
        let revision = self.index.get(key)?.last()?;
        self.log.get(revision)
    }

    /// The live version of `key`.
    pub(crate) fn get(&self, key: &str) -> Option<KeyValue> {
        self.latest(key).filter(|record| !record.tombstone).map(|record| (*record.kv).clone())
    }

    /// The revision a read asking for `requested` is served at.
    ///
    /// # Errors
    /// `Compacted` below the compacted revision (and for negative revisions), `FutureRevision` above the current one.
    pub(crate) fn read_revision(&self, requested: Revision) -> Result<Revision, StoreError> {
        if requested == 0 {
            return Ok(self.current);
        }
        if requested < self.compacted || requested < 0 {
            return Err(StoreError::Compacted { requested, compacted: self.compacted });
        }
        if requested > self.current {
            return Err(StoreError::FutureRevision { requested, current: self.current });
        }
        Ok(requested)
    }

    /// A range read: each key's newest version at the read revision, unless that version is a deletion.
    pub(crate) fn list(&self, request: &ListRequest) -> Result<ListResponse, StoreError> {
        let revision = self.read_revision(request.revision)?;
        let start = match &request.start_key {
            Some(start) if start.as_str() > request.prefix.as_str() => start.as_str(),
            _ => request.prefix.as_str(),
        };
        let mut items = Vec::new();
        let mut remaining = 0u64;
        for (key, revisions) in self.index.range::<str, _>((Bound::Included(start), Bound::Unbounded)) {
            if !key.starts_with(&request.prefix) {
                break;
            }
            let Some(record) = self.version_at(revisions, revision) else { continue };
            if record.tombstone {
                continue;
            }
            if request.limit == 0 || items.len() < request.limit {
                items.push((*record.kv).clone());
            } else {
                remaining += 1;
            }
        }
        Ok(ListResponse { items, revision, remaining })
    }

    /// The newest of `revisions` at or below `revision`.
    fn version_at(&self, revisions: &[Revision], revision: Revision) -> Option<&Arc<Record>> {
        let newer = revisions.partition_point(|candidate| *candidate <= revision);
        let at = revisions.get(newer.checked_sub(1)?)?;
        self.log.get(at)
    }

    /// The watch event for a retained row, with the version it replaced when that is retained.
    pub(crate) fn event(&self, record: &Record) -> Event {
        let prev = if record.prev_revision == 0 { None } else { self.log.get(&record.prev_revision) };
        record.event(prev.map(|prev| Arc::clone(&prev.kv)))
    }

    /// Changes under `prefix` after revision `after`, examining at most `max_rows` rows.
    ///
    /// # Errors
    /// `Compacted` when revision `after + 1` is older than the compacted revision.
    pub(crate) fn changes_after(&self, prefix: &str, after: Revision, max_rows: usize) -> Result<Changes, StoreError> {
        let start = after.saturating_add(1);
        if start < self.compacted {
            return Err(StoreError::Compacted { requested: start, compacted: self.compacted });
        }
        let mut changes = Changes { events: Vec::new(), seen: after, caught_up: false };
        for (examined, (revision, record)) in self.log.range(start..).enumerate() {
            if examined == max_rows {
                return Ok(changes);
            }
            if record.key().starts_with(prefix) {
                changes.events.push(self.event(record));
            }
            changes.seen = *revision;
        }
        changes.seen = changes.seen.max(self.current);
        changes.caught_up = true;
        Ok(changes)
    }

    /// Which rows a compaction at `revision` removes.
    ///
    /// Every row at or after `revision` stays (so a watch starting at `revision` still sees each change, deletions
    /// included, with its previous value). Of a key's rows older than `revision`, only the newest can still be read
    /// (at `revision`); it stays unless it is a tombstone. A key left without rows disappears.
    ///
    /// # Errors
    /// `FutureRevision` above the current revision, `Compacted` at or below the compacted one.
    pub(crate) fn plan_compaction(&self, revision: Revision) -> Result<CompactionPlan, StoreError> {
        if revision > self.current {
            return Err(StoreError::FutureRevision { requested: revision, current: self.current });
        }
        if revision <= self.compacted {
            return Err(StoreError::Compacted { requested: revision, compacted: self.compacted });
        }
        let mut plan = CompactionPlan { revision, ..CompactionPlan::default() };
        for (key, revisions) in &self.index {
            let older = revisions.partition_point(|candidate| *candidate < revision);
            if older == 0 {
                continue;
            }
            let newest_older = revisions[older - 1];
            let newest_is_tombstone = self.log.get(&newest_older).is_none_or(|record| record.tombstone);
            let count = if newest_is_tombstone { older } else { older - 1 };
            if count > 0 {
                plan.removals.push((key.clone(), count));
                plan.revisions.extend_from_slice(&revisions[..count]);
            }
        }
        Ok(plan)
    }

    /// Applies a compaction that was persisted.
    pub(crate) fn apply_compaction(&mut self, plan: &CompactionPlan) {
        for (key, count) in &plan.removals {
            let Some(revisions) = self.index.get_mut(key) else { continue };
            let count = (*count).min(revisions.len());
            for revision in revisions.drain(..count) {
                self.log.remove(&revision);
            }
            if revisions.is_empty() {
                self.index.remove(key);
            }
        }
        self.compacted = self.compacted.max(plan.revision);
    }
}
