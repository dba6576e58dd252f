//! The embedded backend: a revisioned log served from memory, written by one thread, durable in a redb file or not.

mod disk;
mod record;
mod state;
mod watch;
mod writer;

#[cfg(test)]
mod tests;

use std::{fmt, path::PathBuf, sync::Arc, thread, time::Duration};

use async_trait::async_trait;
use bytes::Bytes;
use parking_lot::RwLock;
use tokio::sync::{broadcast, mpsc, oneshot};

use self::{
    disk::Disk,
    state::State,
    watch::Watcher,
    writer::{Batch, Outcome, Request, WriteOp, Writer},
};
use super::{
    DEFAULT_REQUEST_TIMEOUT, Deleted, KeyValue, ListRequest, ListResponse, Result, Revision, Store, StoreError,
    WatchStream,
};

/// The database file inside the data directory.
const DATABASE_FILE: &str = "flotilla.redb";

/// Where and how the embedded store keeps its data.
#[derive(Clone, Debug)]
pub struct EmbeddedOptions {
    /// Directory holding the store's files (created with its parents when missing); `None` keeps everything in
    /// memory only (nothing survives the process), as the simulated member clusters of `flotilla member-sim` do.
    pub data_dir: Option<PathBuf>,
    /// How long a write may wait for its commit before it fails with `Unavailable` (it may still commit later).
    pub request_timeout: Duration,
    /// At most this many queued requests are committed together (one fsync).
    pub max_batch: usize,
    /// Committed groups buffered per watcher; a watcher further behind catches up from memory.
    pub watch_buffer: usize,
}

impl EmbeddedOptions {
    /// Defaults for a store in `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self { data_dir: Some(data_dir.into()), ..Self::in_memory() }
    }

    /// Defaults for a store without a file: same revisions, watches and compaction, but nothing is persisted.
    pub fn in_memory() -> Self {
        Self { data_dir: None, request_timeout: DEFAULT_REQUEST_TIMEOUT, max_batch: 512, watch_buffer: 1024 }
    }
}

/// A `Store` in a local file; clones share one store.
///
/// # Design
/// - Every write appends one row (revision, key, create revision, previous live revision, value or tombstone) to the
///   `log` table of `<data_dir>/flotilla.redb`; the `meta` table holds the compacted and latest revisions.
/// - One writer thread takes every queued request (up to [`EmbeddedOptions::max_batch`]), checks each against the
///   committed state plus the earlier requests of the same group, and commits the group's rows in one fsync'd redb
///   transaction before applying them to memory, publishing them to watchers and answering the callers. Failed
///   checks consume no revision; a failed commit answers the whole group `Unavailable`, leaves memory unchanged and
///   makes the store refuse further writes until it is reopened (the file's state is then uncertain).
/// - Reads are served from the in-memory image rebuilt from the log at open.
/// - As in etcd, an empty store is at revision 1 and the first write gets revision 2.
/// - Compaction at `C` keeps every row at or after `C` (so a watch starting at `C` sees each change, deletions
///   included, with previous values), and of each key's older rows only the newest, unless it is a tombstone. This
///   keeps what etcd keeps, except that a deletion at exactly `C` (and the previous version of the key written at
///   `C`) stays until the next compaction: etcd drops them, losing that event for a watch starting at `C`.
/// - Dropping the last clone closes the store: the drop returns once the writer has finished its current group and
///   released the file (it blocks the dropping thread for that long), so the directory can be reopened right after.
///   Open watch streams do not keep the store open: they end with `Unavailable` once it is closed.
#[derive(Clone)]
pub struct EmbeddedStore {
    inner: Arc<Inner>,
}

/// The open store; dropping it stops and joins the writer, releasing the file.
struct Inner {
    /// The in-memory image, shared with the writer and watchers.
    state: Arc<RwLock<State>>,
    /// The writer's queue; `None` only while closing.
    requests: Option<mpsc::Sender<Request>>,
    /// For subscribing watchers (the writer holds the sending side that matters).
    batches: broadcast::Sender<Arc<Batch>>,
    /// The writer thread; `None` only while closing.
    writer: Option<thread::JoinHandle<()>>,
    /// See [`EmbeddedOptions::request_timeout`].
    request_timeout: Duration,
    /// The database file, for messages (`None` in memory).
    path: Option<PathBuf>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        drop(self.requests.take());
        if let Some(writer) = self.writer.take()
            && writer.join().is_err()
        {
            tracing::error!(path = ?self.path, "the embedded store's writer thread panicked");
        }
    }
}

impl fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbeddedStore").field("path", &self.inner.path).finish_non_exhaustive()
    }
}

impl EmbeddedStore {
    /// A new empty store kept in memory only ([`EmbeddedOptions::in_memory`]).
    ///
    /// # Errors
    /// `Unavailable` when the writer thread cannot be started.
    pub fn in_memory() -> Result<Self> {
        Self::open_blocking(EmbeddedOptions::in_memory())
    }

    /// Opens or creates the store (a new empty one when [`EmbeddedOptions::data_dir`] is `None`).
    ///
    /// # Errors
    /// `Unavailable` naming the path when the directory cannot be created or the file cannot be opened (for
    /// instance because another process has it open); `Internal` when the file holds unreadable data.
    pub async fn open(options: EmbeddedOptions) -> Result<Self> {
        tokio::task::spawn_blocking(move || Self::open_blocking(options))
            .await
            .map_err(|error| StoreError::Internal(format!("opening the embedded store failed: {error}")))?
    }

    /// [`EmbeddedStore::open`] for the calling thread (it does file I/O).
    fn open_blocking(options: EmbeddedOptions) -> Result<Self> {
        let (disk, state, path) = match &options.data_dir {
            Some(dir) => {
                std::fs::create_dir_all(dir).map_err(|error| {
                    StoreError::Unavailable(format!("cannot create data directory {}: {error}", dir.display()))
                })?;
                let path = dir.join(DATABASE_FILE);
                let (disk, state) = Disk::open(&path)?;
                tracing::info!(
                    path = %path.display(),
                    revision = state.current(),
                    compacted = state.compacted(),
                    "embedded store opened"
                );
                (Some(disk), state, Some(path))
            }
            None => (None, State::new(state::EMPTY_STORE_REVISION, 0), None),
        };
        let state = Arc::new(RwLock::new(state));
        let max_batch = options.max_batch.max(1);
        let (requests, queue) = mpsc::channel(max_batch.saturating_mul(4));
        let (batches, _) = broadcast::channel(options.watch_buffer.max(1));
        let writer = Writer::new(disk, Arc::clone(&state), batches.clone(), queue, max_batch);
        let writer = thread::Builder::new()
            .name("embedded-writer".into())
            .spawn(move || writer.run())
            .map_err(|error| StoreError::Unavailable(format!("cannot start the embedded store's writer: {error}")))?;
        let inner = Inner {
            state,
            requests: Some(requests),
            batches,
            writer: Some(writer),
            request_timeout: options.request_timeout,
            path,
        };
        Ok(Self { inner: Arc::new(inner) })
    }

    /// The error for requests made while the store is closing.
    fn closed() -> StoreError {
        StoreError::Unavailable("the embedded store is closed".into())
    }

    /// Queues a request and waits for its answer, within the request timeout.
    async fn request<T>(&self, request: Request, answer: oneshot::Receiver<Result<T>>) -> Result<T> {
        let requests = self.inner.requests.as_ref().ok_or_else(Self::closed)?;
        let exchange = async {
            requests.send(request).await.map_err(|_| Self::closed())?;
            answer.await.map_err(|_| Self::closed())?
        };
        let timeout = self.inner.request_timeout;
        tokio::time::timeout(timeout, exchange).await.map_err(|_| {
            StoreError::Unavailable(format!(
                "the embedded store did not commit within {}",
                humantime::format_duration(timeout)
            ))
        })?
    }

    /// Queues a write.
    async fn write(&self, op: WriteOp) -> Result<Outcome> {
        let (reply, answer) = oneshot::channel();
        self.request(Request::Write { op, reply }, answer).await
    }

    /// Queues a create or update and returns its revision.
    async fn put(&self, op: WriteOp) -> Result<Revision> {
        match self.write(op).await? {
            Outcome::Written(revision) => Ok(revision),
            Outcome::Deleted(_) => Err(StoreError::Internal("a put was answered as a deletion".into())),
        }
    }
}

#[async_trait]
impl Store for EmbeddedStore {
    async fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        Ok(self.inner.state.read().get(key))
    }

    async fn list(&self, request: ListRequest) -> Result<ListResponse> {
        self.inner.state.read().list(&request)
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<Revision> {
        self.put(WriteOp::Create { key: key.to_string(), value }).await
    }

    async fn update(&self, key: &str, value: Bytes, expected: Revision) -> Result<Revision> {
        self.put(WriteOp::Update { key: key.to_string(), value, expected }).await
    }

    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<Deleted> {
        match self.write(WriteOp::Delete { key: key.to_string(), expected }).await? {
            Outcome::Deleted(deleted) => Ok(deleted),
            Outcome::Written(_) => Err(StoreError::Internal("a deletion was answered as a put".into())),
        }
    }

    async fn current_revision(&self) -> Result<Revision> {
        Ok(self.inner.state.read().current())
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        let (reply, answer) = oneshot::channel();
        self.request(Request::Compact { revision, reply }, answer).await
    }

    async fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream> {
        // Subscribe before the watcher reads any history, so no committed batch falls between the two.
        let batches = self.inner.batches.subscribe();
        Ok(Watcher::new(Arc::clone(&self.inner.state), batches, prefix, after).into_stream())
    }

    fn backend(&self) -> &'static str {
        "embedded"
    }
}
