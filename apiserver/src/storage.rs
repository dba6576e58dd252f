//! The `Store` contract every backend honours: Kubernetes/etcd semantics over revisioned key-value pairs.

pub mod cache;
mod compactor;
mod embedded;
mod etcd;
mod keys;
mod options;

use std::{pin::Pin, sync::Arc, time::Duration};

use async_trait::async_trait;
use bytes::Bytes;
use futures::Stream;

pub use cache::{CacheError, CacheEvent, CacheList, CacheWatch, WatchCache, WatchCacheConfig, WatchStart};
pub use compactor::Compactor;
pub use embedded::{EmbeddedOptions, EmbeddedStore};
pub use etcd::{EtcdOptions, EtcdStore, EtcdTls};
pub use keys::KeySpace;
pub use options::{StorageOptions, open};

/// A store-wide revision; `0` means "none" (absent key, or "latest" in a read request).
pub type Revision = i64;

/// One stored version of a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyValue {
    /// The full key, e.g. `/registry/cluster.karmada.io/clusters/member1`.
    pub key: String,
    /// The stored bytes (JSON for Flotilla's objects); empty for a deletion.
    pub value: Bytes,
    /// Revision at which the key was (last) created.
    pub create_revision: Revision,
    /// Revision of the write that produced this version (the object's resourceVersion).
    pub mod_revision: Revision,
}

/// What happened to a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// The key came into existence.
    Created,
    /// An existing key got a new value.
    Updated,
    /// The key was removed.
    Deleted,
}

/// One change delivered by a watch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Created, updated or deleted.
    pub kind: EventKind,
    /// The new version; for a deletion the key with an empty value, `mod_revision` = the deletion's revision.
    pub kv: Arc<KeyValue>,
    /// The version this change replaced, when the backend still has it.
    pub prev: Option<Arc<KeyValue>>,
}

impl Event {
    /// The revision at which this change happened.
    pub fn revision(&self) -> Revision {
        self.kv.mod_revision
    }
}

/// A message on a watch stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WatchMessage {
    /// Changes in revision order (a backend may batch changes from one or more revisions).
    Events(Vec<Event>),
    /// Every change up to and including this revision has been delivered (no further changes under the prefix).
    Progress(Revision),
}

/// A watch: messages until an error (after which it ends) or until it is dropped.
pub type WatchStream = Pin<Box<dyn Stream<Item = Result<WatchMessage, StoreError>> + Send>>;

/// A range read request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListRequest {
    /// Every key starting with this prefix.
    pub prefix: String,
    /// Read at this revision; `0` reads at the latest revision.
    pub revision: Revision,
    /// Start at this key (inclusive) instead of the prefix's first key; used for continuation.
    pub start_key: Option<String>,
    /// At most this many items; `0` means unlimited.
    pub limit: usize,
}

/// A range read's answer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListResponse {
    /// Items in key order.
    pub items: Vec<KeyValue>,
    /// The revision the read was served at (pass it back to read the next page consistently).
    pub revision: Revision,
    /// How many keys in the requested range were left out by `limit`.
    pub remaining: u64,
}

impl ListResponse {
    /// Whether a further page exists.
    pub fn has_more(&self) -> bool {
        self.remaining > 0
    }

    /// The `start_key` of the next page, when there is one.
    pub fn next_start_key(&self) -> Option<String> {
        if !self.has_more() {
            return None;
        }
        self.items.last().map(|kv| key_after(&kv.key))
    }
}

/// The smallest key that sorts after `key`.
pub fn key_after(key: &str) -> String {
    let mut next = String::with_capacity(key.len() + 1);
    next.push_str(key);
    next.push('\0');
    next
}

/// A deleted key and the revision of its deletion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deleted {
    /// The last version before the deletion.
    pub prev: KeyValue,
    /// The deletion's revision.
    pub revision: Revision,
}

/// Everything a store operation can fail with.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The key does not exist.
    #[error("key {key:?} not found")]
    NotFound {
        /// The key that was asked for.
        key: String,
    },
    /// A create found the key already present.
    #[error("key {key:?} already exists")]
    AlreadyExists {
        /// The key that was asked for.
        key: String,
    },
    /// A compare-and-swap found another revision than expected.
    #[error("key {key:?} is at revision {current_revision}, not the expected one")]
    Conflict {
        /// The key that was asked for.
        key: String,
        /// The key's current `mod_revision`.
        current_revision: Revision,
    },
    /// The requested revision is older than the compacted revision.
    #[error("revision {requested} has been compacted (compacted up to {compacted})")]
    Compacted {
        /// The revision that was asked for.
        requested: Revision,
        /// The store's compacted revision.
        compacted: Revision,
    },
    /// The requested revision has not been written yet.
    #[error("revision {requested} is newer than the current revision {current}")]
    FutureRevision {
        /// The revision that was asked for.
        requested: Revision,
        /// The store's current revision.
        current: Revision,
    },
    /// The backend cannot be reached, or did not answer within its timeout.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// The backend answered with something this store cannot make sense of.
    #[error("storage internal error: {0}")]
    Internal(String),
}

/// Shorthand for results of store operations.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A revisioned key-value store with etcd v3 semantics.
///
/// # Guarantees
/// - Every write gets a new, strictly increasing store-wide revision (etcd's `mod_revision`).
/// - `create` succeeds only when the key is absent; `update`/`delete` are compare-and-swap on the key's
///   `mod_revision` and report the current revision on mismatch.
/// - A watch started after revision `R` delivers every change with revision `> R` under its prefix, in revision
///   order, exactly once, each with the key's previous value when one exists.
/// - Reads or watches that need history older than the compacted revision fail with [`StoreError::Compacted`].
/// - A backend that cannot be reached answers [`StoreError::Unavailable`] within its request timeout.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The latest version of `key`, or `None`.
    async fn get(&self, key: &str) -> Result<Option<KeyValue>>;

    /// A range read over a prefix at one revision.
    async fn list(&self, request: ListRequest) -> Result<ListResponse>;

    /// Writes `value` only if `key` is absent; returns the new revision.
    async fn create(&self, key: &str, value: Bytes) -> Result<Revision>;

    /// Replaces `key`'s value only if its `mod_revision` is `expected`; returns the new revision.
    async fn update(&self, key: &str, value: Bytes, expected: Revision) -> Result<Revision>;

    /// Removes `key`, only if its `mod_revision` is `expected` when given.
    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<Deleted>;

    /// The store's latest revision.
    async fn current_revision(&self) -> Result<Revision>;

    /// Discards history older than `revision`; reads and watches needing it then fail with `Compacted`.
    async fn compact(&self, revision: Revision) -> Result<()>;

    /// Every change under `prefix` with a revision greater than `after`.
    ///
    /// # Errors
    /// A compacted start is reported as the stream's first item, `Err(Compacted)`, as etcd does.
    async fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream>;

    /// A short name of the backend for logs and metrics (`etcd`, `embedded`).
    fn backend(&self) -> &'static str;
}

/// A shared handle to any store.
pub type SharedStore = Arc<dyn Store>;

/// How long the backends wait for one request before answering `Unavailable`.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
