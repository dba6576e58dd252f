//! The per-resource watch cache: one reflector per prefix serving lists, gets and watches from memory.

mod reflector;
mod shared;
mod state;
mod watch;

use std::{collections::VecDeque, fmt, sync::Arc, time::Duration};

use tokio::task::JoinHandle;

pub use watch::CacheWatch;

use self::shared::{Shared, created};
use super::{Event, KeyValue, Revision, SharedStore, StoreError};

/// Tuning of a [`WatchCache`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchCacheConfig {
    /// How many recent events are kept for watches starting in the past.
    pub history_capacity: usize,
    /// Events queued per watcher before it is closed as too slow.
    pub watcher_buffer: usize,
    /// How often every watcher gets a bookmark with the cache's revision (`0` disables periodic bookmarks).
    pub bookmark_interval: Duration,
    /// How long a read needing a newer revision (or a ready cache) waits before reading through to the store.
    pub freshness_wait: Duration,
}

impl Default for WatchCacheConfig {
    fn default() -> Self {
        Self {
            history_capacity: 10_000,
            watcher_buffer: 1024,
            bookmark_interval: Duration::from_secs(30),
            freshness_wait: Duration::from_secs(3),
        }
    }
}

/// Objects read from the cache (or through it), in key order, as of `revision`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CacheList {
    /// The objects, shared with the cache.
    pub items: Vec<Arc<KeyValue>>,
    /// The revision the list is complete up to.
    pub revision: Revision,
}

/// Where a watch starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatchStart {
    /// Every change with a revision greater than this one; `0` = changes after the cache's current revision.
    After(Revision),
    /// Every current object as a `Created` event, then [`CacheEvent::InitialStateDone`], then live changes.
    InitialState,
}

/// An item of a [`CacheWatch`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CacheEvent {
    /// One change; `prev` is the version the cache held before it.
    Event(Event),
    /// The initial state has been sent completely; it was the state at this revision.
    InitialStateDone(Revision),
    /// Every change up to this revision under the watched prefix has been sent.
    Bookmark(Revision),
}

/// Everything the cache can fail with.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum CacheError {
    /// The store failed (including `Compacted` for a watch starting too far in the past).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The watcher did not read fast enough and its queue filled up; watch again from the last revision seen.
    #[error("the watcher did not keep up and was closed")]
    WatcherTooSlow,
    /// The cache lost continuity with the store and re-listed; watch again.
    #[error("the watch cache was reset")]
    CacheReset,
    /// The cache was shut down.
    #[error("the watch cache was stopped")]
    Stopped,
    /// The requested key or prefix is not under the cache's prefix.
    #[error("{requested:?} is outside the watch cache's prefix {cache:?}")]
    OutsidePrefix {
        /// The key or prefix that was asked for.
        requested: String,
        /// The cache's prefix.
        cache: String,
    },
}

/// A handle to the watch cache of one prefix; cheap to clone. The reflector stops when the last handle drops.
///
/// A reflector task lists the prefix at one revision (in pages), then follows `store.watch(prefix, revision)`,
/// keeping the current objects, a bounded ring of recent events and the revision it is complete up to. When the
/// upstream watch breaks (compaction, unavailability, end of stream) continuity is lost: the cache stops being ready,
/// closes every watcher with [`CacheError::CacheReset`] and re-lists with backoff.
///
/// Watchers get a bounded queue each; fan-out never waits. A watcher whose queue is full is closed: its stream yields
/// what it already holds, then [`CacheError::WatcherTooSlow`]. Watches starting before the ring's window are served
/// by a watch on the store itself, so a client still sees every revision after its start (or `Compacted`).
#[derive(Clone)]
pub struct WatchCache {
    shared: Arc<Shared>,
    _reflector: Arc<Reflector>,
}

/// Aborts the reflector task when dropped.
struct Reflector(JoinHandle<()>);

impl Drop for Reflector {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl fmt::Debug for WatchCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = self.shared.status();
        f.debug_struct("WatchCache")
            .field("prefix", &self.shared.prefix)
            .field("ready", &status.ready)
            .field("revision", &status.revision)
            .finish()
    }
}

impl WatchCache {
    /// Starts caching every key under `prefix` of `store`.
    ///
    /// # Panics
    /// When called outside a Tokio runtime.
    pub fn start(store: SharedStore, prefix: impl Into<String>, config: WatchCacheConfig) -> WatchCache {
        let shared = Arc::new(Shared::new(store, prefix.into(), config));
        let task = tokio::spawn(reflector::run(Arc::clone(&shared)));
        WatchCache { shared, _reflector: Arc::new(Reflector(task)) }
    }

    /// The prefix this cache holds.
    pub fn prefix(&self) -> &str {
        &self.shared.prefix
    }

    /// Whether a list has been loaded and the upstream watch is intact.
    pub fn is_ready(&self) -> bool {
        self.shared.status().ready
    }

    /// Waits until the cache is ready (the first list has been loaded, or the re-list after a reset).
    pub async fn ready(&self) {
        let mut status = self.shared.subscribe();
        // The sender lives in `shared`, which `self` keeps alive, so this only returns once ready.
        let _ = status.wait_for(|status| status.ready).await;
    }

    /// The revision the cache is complete up to.
    pub fn revision(&self) -> Revision {
        self.shared.status().revision
    }

    /// Objects under `prefix` (the cache's prefix or a narrower one), in key order, at a revision of at least
    /// `min_revision` (`0` = whatever the cache has). When the cache does not get there within `freshness_wait`,
    /// the list is read from the store instead.
    ///
    /// # Errors
    /// `OutsidePrefix` for a prefix the cache does not hold; `Store(FutureRevision)` when even the store has not
    /// reached `min_revision`; other store errors when reading through.
    pub async fn list(&self, prefix: &str, min_revision: Revision) -> Result<CacheList, CacheError> {
        self.check_prefix(prefix)?;
        if self.wait_fresh(min_revision).await
            && let Some(list) = self.shared.list(prefix, min_revision)
        {
            return Ok(list);
        }
        self.list_from_store(prefix, min_revision).await
    }

    /// The current version of `key` at a revision of at least `min_revision`, read as [`WatchCache::list`] reads.
    ///
    /// # Errors
    /// `OutsidePrefix` for a key the cache does not hold; store errors when reading through.
    pub async fn get(&self, key: &str, min_revision: Revision) -> Result<Option<Arc<KeyValue>>, CacheError> {
        self.check_prefix(key)?;
        if self.wait_fresh(min_revision).await
            && let Some(found) = self.shared.get(key, min_revision)
        {
            return Ok(found);
        }
        Ok(self.shared.store.get(key).await?.map(Arc::new))
    }

    /// Watches changes under `prefix` (the cache's prefix or a narrower one) from `start`.
    ///
    /// `After(R)` within the cache's history replays the events after `R` and continues live; `R` newer than the
    /// cache skips events up to `R`; `R` older than the history (or a cache not ready within `freshness_wait`) is
    /// served by a watch on the store, which reports `Compacted` when `R` is gone there too.
    ///
    /// # Errors
    /// `OutsidePrefix` for a prefix the cache does not hold; store errors when the store must serve the watch.
    pub async fn watch(&self, prefix: &str, start: WatchStart) -> Result<CacheWatch, CacheError> {
        self.check_prefix(prefix)?;
        let ready = self.wait_fresh(0).await;
        match start {
            WatchStart::After(after) => {
                if ready && let Some(watch) = self.shared.watch_after(prefix, after) {
                    return Ok(watch);
                }
                let after = if after == 0 { self.shared.store.current_revision().await? } else { after };
                let stream = self.shared.store.watch(prefix, after).await?;
                Ok(CacheWatch::from_store(stream, VecDeque::new()))
            }
            WatchStart::InitialState => {
                if ready && let Some(watch) = self.shared.watch_initial_state(prefix) {
                    return Ok(watch);
                }
                let list = self.list_from_store(prefix, 0).await?;
                let stream = self.shared.store.watch(prefix, list.revision).await?;
                let mut pending: VecDeque<CacheEvent> =
                    list.items.iter().map(|kv| CacheEvent::Event(created(kv))).collect();
                pending.push_back(CacheEvent::InitialStateDone(list.revision));
                Ok(CacheWatch::from_store(stream, pending))
            }
        }
    }

    fn check_prefix(&self, requested: &str) -> Result<(), CacheError> {
        if requested.starts_with(&self.shared.prefix) {
            Ok(())
        } else {
            Err(CacheError::OutsidePrefix { requested: requested.to_string(), cache: self.shared.prefix.clone() })
        }
    }

    /// Waits up to `freshness_wait` for the cache to be ready at `min_revision` or newer; whether it got there.
    async fn wait_fresh(&self, min_revision: Revision) -> bool {
        if self.shared.status().fresh(min_revision) {
            return true;
        }
        let mut status = self.shared.subscribe();
        let wait = status.wait_for(|status| status.fresh(min_revision));
        matches!(tokio::time::timeout(self.shared.config.freshness_wait, wait).await, Ok(Ok(_)))
    }

    /// A consistent list of `prefix` straight from the store, which must have reached `min_revision`.
    async fn list_from_store(&self, prefix: &str, min_revision: Revision) -> Result<CacheList, CacheError> {
        let (items, revision) = reflector::list_all(&*self.shared.store, prefix).await?;
        if revision < min_revision {
            return Err(StoreError::FutureRevision { requested: min_revision, current: revision }.into());
        }
        Ok(CacheList { items: items.into_iter().map(Arc::new).collect(), revision })
    }
}
