//! State shared by the reflector and every handle: the locked cache state, the watcher set, and readiness.

use std::{
    collections::{BTreeMap, VecDeque},
    sync::Arc,
};

use parking_lot::{Mutex, RwLock};
use tokio::sync::watch;

use super::{
    CacheEvent, CacheList, WatchCacheConfig,
    state::State,
    watch::{CacheWatch, CloseReason, Watcher},
};
use crate::storage::{Event, EventKind, KeyValue, Revision, SharedStore};

/// What waiters for readiness or freshness look at.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Status {
    /// A list is loaded and the upstream watch is intact.
    pub(super) ready: bool,
    /// The cache is complete up to this revision.
    pub(super) revision: Revision,
}

impl Status {
    /// Whether a read needing `min_revision` can be served from memory.
    pub(super) fn fresh(self, min_revision: Revision) -> bool {
        self.ready && self.revision >= min_revision
    }
}

/// Everything the reflector and the handles share.
///
/// Locking: `state` (read/write) is always taken before `watchers`. The reflector applies a batch under the state's
/// write lock and takes the watcher lock before releasing it, so a watcher registering (under the state's read lock)
/// either sees the batch in its replay or receives it live, never both and never neither.
pub(super) struct Shared {
    pub(super) store: SharedStore,
    pub(super) prefix: String,
    pub(super) config: WatchCacheConfig,
    state: RwLock<State>,
    watchers: Mutex<Vec<Watcher>>,
    status: watch::Sender<Status>,
}

impl Shared {
    pub(super) fn new(store: SharedStore, prefix: String, config: WatchCacheConfig) -> Self {
        let state = RwLock::new(State::new(config.history_capacity));
        let (status, _) = watch::channel(Status::default());
        Self { store, prefix, config, state, watchers: Mutex::new(Vec::new()), status }
    }

    /// The latest status.
    pub(super) fn status(&self) -> Status {
        *self.status.borrow()
    }

    /// A receiver for waiting on status changes.
    pub(super) fn subscribe(&self) -> watch::Receiver<Status> {
        self.status.subscribe()
    }

    fn publish(&self, ready: bool, revision: Revision) {
        self.status.send_if_modified(|status| {
            let next = Status { ready, revision };
            let changed = *status != next;
            *status = next;
            changed
        });
    }

    /// Installs a complete list of the prefix at `revision` and becomes ready.
    pub(super) fn load(&self, items: Vec<KeyValue>, revision: Revision) {
        let objects: BTreeMap<String, Arc<KeyValue>> =
            items.into_iter().map(|kv| (kv.key.clone(), Arc::new(kv))).collect();
        let mut state = self.state.write();
        state.load(objects, revision);
        let mut watchers = self.watchers.lock();
        drop(state);
        close_all(&mut watchers, CloseReason::Reset);
        drop(watchers);
        self.publish(true, revision);
    }

    /// The upstream watch broke: not ready until the next [`Shared::load`]; every watcher is closed with a reset.
    pub(super) fn reset(&self) {
        let mut state = self.state.write();
        state.ready = false;
        let revision = state.revision;
        let mut watchers = self.watchers.lock();
        drop(state);
        close_all(&mut watchers, CloseReason::Reset);
        drop(watchers);
        self.publish(false, revision);
    }

    /// Applies one upstream batch and fans it out; one pass over the watchers, `try_send` only.
    pub(super) fn apply(&self, events: Vec<Event>) {
        let mut state = self.state.write();
        let events = state.apply(events);
        if events.is_empty() {
            return;
        }
        let (ready, revision) = (state.ready, state.revision);
        let mut watchers = self.watchers.lock();
        drop(state);
        watchers.retain(|watcher| watcher.deliver(&events));
        drop(watchers);
        self.publish(ready, revision);
    }

    /// Upstream progress: everything up to `revision` has been seen; whether the cache's revision moved.
    pub(super) fn progress(&self, revision: Revision) -> bool {
        let mut state = self.state.write();
        if !state.advance(revision) {
            return false;
        }
        let ready = state.ready;
        drop(state);
        self.publish(ready, revision);
        true
    }

    /// Sends every watcher a bookmark at the cache's revision (and forgets watchers whose clients are gone).
    pub(super) fn bookmark(&self) {
        let state = self.state.read();
        if !state.ready {
            return;
        }
        let revision = state.revision;
        let mut watchers = self.watchers.lock();
        drop(state);
        watchers.retain(|watcher| watcher.bookmark(revision));
    }

    /// Objects under `prefix` from memory, when the cache is ready and at `min_revision` or newer.
    pub(super) fn list(&self, prefix: &str, min_revision: Revision) -> Option<CacheList> {
        let state = self.state.read();
        if !state.ready || state.revision < min_revision {
            return None;
        }
        Some(CacheList { items: state.list(prefix), revision: state.revision })
    }

    /// One object from memory (`Some(None)` = absent), when the cache is ready and at `min_revision` or newer.
    pub(super) fn get(&self, key: &str, min_revision: Revision) -> Option<Option<Arc<KeyValue>>> {
        let state = self.state.read();
        if !state.ready || state.revision < min_revision {
            return None;
        }
        Some(state.get(key))
    }

    /// Registers a watcher for changes under `prefix` after `after` (`0` = after the cache's revision), replaying
    /// history first; `None` when the cache is not ready or its history does not reach back to `after`.
    pub(super) fn watch_after(&self, prefix: &str, after: Revision) -> Option<CacheWatch> {
        let state = self.state.read();
        if !state.ready {
            return None;
        }
        let after = if after == 0 { state.revision } else { after };
        let pending: VecDeque<CacheEvent> =
            state.history.replay(after, prefix)?.map(|event| CacheEvent::Event(event.clone())).collect();
        Some(self.register(prefix, after, pending))
    }

    /// Registers a watcher that first gets every object under `prefix` as a creation, then `InitialStateDone`;
    /// `None` when the cache is not ready.
    pub(super) fn watch_initial_state(&self, prefix: &str) -> Option<CacheWatch> {
        let state = self.state.read();
        if !state.ready {
            return None;
        }
        let mut pending: VecDeque<CacheEvent> = state.range(prefix).map(|kv| CacheEvent::Event(created(kv))).collect();
        pending.push_back(CacheEvent::InitialStateDone(state.revision));
        Some(self.register(prefix, state.revision, pending))
    }

    /// Adds a watcher; the caller holds the state lock, so no batch is applied in between.
    fn register(&self, prefix: &str, after: Revision, pending: VecDeque<CacheEvent>) -> CacheWatch {
        let filter = (prefix != self.prefix).then_some(prefix);
        let (watcher, watch) = Watcher::new(filter, after, self.config.watcher_buffer, pending);
        self.watchers.lock().push(watcher);
        watch
    }
}

/// A synthetic creation event for an object that already exists (initial state).
pub(super) fn created(kv: &Arc<KeyValue>) -> Event {
    Event { kind: EventKind::Created, kv: Arc::clone(kv), prev: None }
}

fn close_all(watchers: &mut Vec<Watcher>, reason: CloseReason) {
    for watcher in watchers.drain(..) {
        watcher.close(reason);
    }
}
