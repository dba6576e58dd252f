//! The single writer thread: checks queued writes as a group, commits them with one fsync, then publishes them.

use std::{collections::HashMap, sync::Arc};

use bytes::Bytes;
use parking_lot::{RwLock, RwLockWriteGuard};
use tokio::sync::{broadcast, mpsc, oneshot};

use super::{disk::Disk, record::Record, state::State};
use crate::storage::{Deleted, Event, Revision, StoreError};

/// A write as callers ask for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum WriteOp {
    /// Write `value` only if `key` is absent.
    Create {
        /// The key.
        key: String,
        /// The value.
        value: Bytes,
    },
    /// Replace `key`'s value only if its live version is at `expected`.
    Update {
        /// The key.
        key: String,
        /// The value.
        value: Bytes,
        /// The expected `mod_revision`.
        expected: Revision,
    },
    /// Delete `key`, only if its live version is at `expected` when given.
    Delete {
        /// The key.
        key: String,
        /// The expected `mod_revision`, if any.
        expected: Option<Revision>,
    },
}

impl WriteOp {
    /// The key written.
    fn key(&self) -> &str {
        match self {
            Self::Create { key, .. } | Self::Update { key, .. } | Self::Delete { key, .. } => key,
        }
    }
}

/// What a successful write answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A create or update, with its revision.
    Written(Revision),
    /// A deletion.
    Deleted(Deleted),
}

/// A queued request with the channel its answer goes to.
pub(crate) enum Request {
    /// A create, update or delete.
    Write {
        /// The write.
        op: WriteOp,
        /// Where the answer goes.
        reply: oneshot::Sender<Result<Outcome, StoreError>>,
    },
    /// A compaction.
    Compact {
        /// The compaction revision.
        revision: Revision,
        /// Where the answer goes.
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
}

/// A committed group of writes as watchers receive it.
#[derive(Debug)]
pub(crate) struct Batch {
    /// The group's last revision.
    pub(crate) last: Revision,
    /// One event per write, in revision order.
    pub(crate) events: Vec<Event>,
}

/// A write that passed its checks: the row to append and what its caller will be answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Planned {
    /// The new row.
    pub(crate) record: Arc<Record>,
    /// The caller's answer once the row is durable.
    pub(crate) outcome: Outcome,
}

/// Checks each write against committed state plus the effects of the earlier writes in the same group, assigning
/// consecutive revisions to those that pass. Failed checks consume no revision.
pub(crate) fn plan_writes<'a>(
    state: &State,
    ops: impl IntoIterator<Item = &'a WriteOp>,
) -> Vec<Result<Planned, StoreError>> {
    let mut last = state.current();
    let mut overlay: HashMap<&'a str, Arc<Record>> = HashMap::new();
    let mut plans = Vec::new();
    for op in ops {
        let key = op.key();
        let newest = overlay.get(key).or_else(|| state.latest(key));
        let live = newest.filter(|record| !record.tombstone).cloned();
        let revision = last + 1;
        let planned = match (op, live) {
            (WriteOp::Create { key, .. }, Some(_)) => Err(StoreError::AlreadyExists { key: key.clone() }),
            (WriteOp::Create { key, value }, None) => {
                let record = Arc::new(Record::put(key.clone(), value.clone(), revision, revision, 0));
                Ok(Planned { record, outcome: Outcome::Written(revision) })
            }
            (WriteOp::Update { key, .. } | WriteOp::Delete { key, .. }, None) => {
                Err(StoreError::NotFound { key: key.clone() })
            }
            (WriteOp::Update { key, expected, .. }, Some(live)) if live.revision() != *expected => {
                Err(StoreError::Conflict { key: key.clone(), current_revision: live.revision() })
            }
            (WriteOp::Delete { key, expected: Some(expected) }, Some(live)) if live.revision() != *expected => {
                Err(StoreError::Conflict { key: key.clone(), current_revision: live.revision() })
            }
            (WriteOp::Update { key, value, .. }, Some(live)) => {
                let create_revision = live.kv.create_revision;
                let record = Record::put(key.clone(), value.clone(), revision, create_revision, live.revision());
                Ok(Planned { record: Arc::new(record), outcome: Outcome::Written(revision) })
            }
            (WriteOp::Delete { key, .. }, Some(live)) => {
                let record = Arc::new(Record::tombstone(key.clone(), revision, live.revision()));
                let deleted = Deleted { prev: (*live.kv).clone(), revision };
                Ok(Planned { record, outcome: Outcome::Deleted(deleted) })
            }
        };
        if let Ok(planned) = &planned {
            last = revision;
            overlay.insert(key, Arc::clone(&planned.record));
        }
        plans.push(planned);
    }
    plans
}

/// The thread owning the database file's write path.
pub(crate) struct Writer {
    /// The database file; `None` for a store kept in memory only.
    disk: Option<Disk>,
    /// The in-memory image readers use.
    state: Arc<RwLock<State>>,
    /// Where committed groups go to watchers.
    batches: broadcast::Sender<Arc<Batch>>,
    /// Queued requests.
    requests: mpsc::Receiver<Request>,
    /// At most this many requests per group.
    max_batch: usize,
    /// Set after a failed commit: the file's state is uncertain, so every later request is refused with it.
    failure: Option<String>,
}

impl Writer {
    /// A writer over an opened file and the image loaded from it.
    pub(crate) fn new(
        disk: Option<Disk>,
        state: Arc<RwLock<State>>,
        batches: broadcast::Sender<Arc<Batch>>,
        requests: mpsc::Receiver<Request>,
        max_batch: usize,
    ) -> Self {
        Self { disk, state, batches, requests, max_batch: max_batch.max(1), failure: None }
    }

    /// Serves requests until every sender is gone, then releases the file.
    pub(crate) fn run(mut self) {
        let mut group = Vec::with_capacity(self.max_batch);
        while let Some(first) = self.requests.blocking_recv() {
            group.push(first);
            while group.len() < self.max_batch {
                match self.requests.try_recv() {
                    Ok(request) => group.push(request),
                    Err(_) => break,
                }
            }
            self.serve(group.drain(..));
        }
    }

    /// Serves one group: writes are committed together; a compaction splits the group to keep request order.
    fn serve(&mut self, group: impl Iterator<Item = Request>) {
        let mut writes = Vec::new();
        for request in group {
            match request {
                Request::Write { op, reply } => writes.push((op, reply)),
                Request::Compact { revision, reply } => {
                    self.commit(std::mem::take(&mut writes));
                    let _ = reply.send(self.compact(revision));
                }
            }
        }
        self.commit(writes);
    }

    /// Records a failed commit and the error every request is answered with from now on.
    fn fail(&mut self, error: &super::disk::DiskError) -> StoreError {
        let message = format!("the embedded store could not commit and refuses writes until reopened: {error}");
        tracing::error!(%error, "embedded store commit failed");
        self.failure = Some(message.clone());
        StoreError::Unavailable(message)
    }

    /// Checks, commits (one fsync), applies, publishes and answers a group of writes.
    fn commit(&mut self, writes: Vec<(WriteOp, oneshot::Sender<Result<Outcome, StoreError>>)>) {
        if writes.is_empty() {
            return;
        }
        if let Some(failure) = &self.failure {
            for (_, reply) in writes {
                let _ = reply.send(Err(StoreError::Unavailable(failure.clone())));
            }
            return;
        }
        let plans = plan_writes(&self.state.read(), writes.iter().map(|(op, _)| op));
        let records: Vec<Arc<Record>> =
            plans.iter().filter_map(|plan| plan.as_ref().ok()).map(|plan| Arc::clone(&plan.record)).collect();
        if let Some(last) = records.last().map(|record| record.revision()) {
            if let Some(Err(error)) = self.disk.as_ref().map(|disk| disk.append(&records)) {
                let error = self.fail(&error);
                for (_, reply) in writes {
                    let _ = reply.send(Err(error.clone()));
                }
                return;
            }
            let mut state = self.state.write();
            for record in &records {
                state.insert(Arc::clone(record));
            }
            let state = RwLockWriteGuard::downgrade(state);
            let events = records.iter().map(|record| state.event(record)).collect();
            drop(state);
            // No receivers is fine: nobody watches.
            let _ = self.batches.send(Arc::new(Batch { last, events }));
        }
        for ((_, reply), plan) in writes.into_iter().zip(plans) {
            let _ = reply.send(plan.map(|plan| plan.outcome));
        }
    }

    /// Checks, persists and applies a compaction.
    fn compact(&mut self, revision: Revision) -> Result<(), StoreError> {
        if let Some(failure) = &self.failure {
            return Err(StoreError::Unavailable(failure.clone()));
        }
        let plan = self.state.read().plan_compaction(revision)?;
        if let Some(Err(error)) = self.disk.as_ref().map(|disk| disk.compact(&plan)) {
            return Err(self.fail(&error));
        }
        self.state.write().apply_compaction(&plan);
        tracing::debug!(revision, removed = plan.revisions.len(), "embedded store compacted");
        Ok(())
    }
}
