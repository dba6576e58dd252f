//! The redb file: a `log` table (revision → encoded row) and a `meta` table, opened, loaded, appended and compacted.

use std::{path::Path, sync::Arc};

use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};

use super::{
    record::Record,
    state::{CompactionPlan, State},
};
use crate::storage::StoreError;

/// Revision → encoded [`Record`].
const LOG: TableDefinition<'_, i64, &[u8]> = TableDefinition::new("log");
/// Store-wide settings and counters.
const META: TableDefinition<'_, &str, i64> = TableDefinition::new("meta");
/// `meta` key: the layout version of this file.
const META_FORMAT: &str = "format";
/// `meta` key: the compacted revision.
const META_COMPACTED: &str = "compacted";
/// `meta` key: the latest committed revision (kept even when its row is compacted away).
const META_REVISION: &str = "revision";
/// The layout version this code writes and reads.
const FORMAT: i64 = 1;
/// redb's page cache: reads are served from memory, so the cache only serves writes and the load at open.
const CACHE_BYTES: usize = 64 * 1024 * 1024;

/// Why the file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DiskError {
    /// Another process (or another open store in this one) holds the file.
    #[error("{0} is already open by another store (redb holds a lock on it)")]
    AlreadyOpen(String),
    /// redb failed.
    #[error("{path}: {source}")]
    Redb {
        /// The database file.
        path: String,
        /// redb's error.
        source: redb::Error,
    },
    /// The file holds something this code cannot read.
    #[error("{path}: {message}")]
    Corrupt {
        /// The database file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

impl From<DiskError> for StoreError {
    fn from(error: DiskError) -> Self {
        match error {
            DiskError::Corrupt { .. } => StoreError::Internal(error.to_string()),
            DiskError::AlreadyOpen(_) | DiskError::Redb { .. } => StoreError::Unavailable(error.to_string()),
        }
    }
}

/// The open database file.
pub(crate) struct Disk {
    db: Database,
    path: String,
}

impl Disk {
    /// Opens (creating when missing) the database file at `path` and loads its contents.
    pub(crate) fn open(path: &Path) -> Result<(Self, State), DiskError> {
        let display = path.display().to_string();
        let db = match Database::builder().set_cache_size(CACHE_BYTES).create(path) {
            Ok(db) => db,
            Err(redb::DatabaseError::DatabaseAlreadyOpen) => return Err(DiskError::AlreadyOpen(display)),
            Err(error) => return Err(DiskError::Redb { path: display, source: error.into() }),
        };
        let disk = Self { db, path: display };
        disk.initialize()?;
        let state = disk.load()?;
        Ok((disk, state))
    }

    /// A redb error tagged with the file.
    fn fail(&self, error: impl Into<redb::Error>) -> DiskError {
        DiskError::Redb { path: self.path.clone(), source: error.into() }
    }

    /// A content error tagged with the file.
    fn corrupt(&self, message: String) -> DiskError {
        DiskError::Corrupt { path: self.path.clone(), message }
    }

    /// Creates both tables and records the layout version, or checks it on an existing file.
    fn initialize(&self) -> Result<(), DiskError> {
        let mut txn = self.db.begin_write().map_err(|e| self.fail(e))?;
        txn.set_durability(Durability::Immediate).map_err(|e| self.fail(e))?;
        {
            txn.open_table(LOG).map_err(|e| self.fail(e))?;
            let mut meta = txn.open_table(META).map_err(|e| self.fail(e))?;
            let format = meta.get(META_FORMAT).map_err(|e| self.fail(e))?.map(|guard| guard.value());
            match format {
                None => {
                    meta.insert(META_FORMAT, FORMAT).map_err(|e| self.fail(e))?;
                }
                Some(FORMAT) => {}
                Some(other) => return Err(self.corrupt(format!("unsupported layout version {other}"))),
            }
        }
        txn.commit().map_err(|e| self.fail(e))
    }

    /// Rebuilds the in-memory image from the file.
    fn load(&self) -> Result<State, DiskError> {
        let txn = self.db.begin_read().map_err(|e| self.fail(e))?;
        let meta = txn.open_table(META).map_err(|e| self.fail(e))?;
        let read_meta = |key: &str| -> Result<i64, DiskError> {
            Ok(meta.get(key).map_err(|e| self.fail(e))?.map_or(0, |guard| guard.value()))
        };
        let compacted = read_meta(META_COMPACTED)?;
        let revision = read_meta(META_REVISION)?;
        let mut state = State::new(revision, compacted);
        let log = txn.open_table(LOG).map_err(|e| self.fail(e))?;
        let mut previous = 0;
        for row in log.iter().map_err(|e| self.fail(e))? {
            let (revision, row) = row.map_err(|e| self.fail(e))?;
            let revision = revision.value();
            if revision <= previous {
                return Err(self.corrupt(format!("log revision {revision} follows {previous}")));
            }
            previous = revision;
            let record = Record::decode(revision, row.value())
                .map_err(|error| self.corrupt(format!("log row at revision {revision}: {error}")))?;
            state.insert(Arc::new(record));
        }
        Ok(state)
    }

    /// Appends rows (in revision order) in one transaction and makes them durable before returning.
    pub(crate) fn append(&self, records: &[Arc<Record>]) -> Result<(), DiskError> {
        let Some(last) = records.last() else { return Ok(()) };
        let mut txn = self.db.begin_write().map_err(|e| self.fail(e))?;
        txn.set_durability(Durability::Immediate).map_err(|e| self.fail(e))?;
        {
            let mut log = txn.open_table(LOG).map_err(|e| self.fail(e))?;
            for record in records {
                log.insert(record.revision(), record.encode().as_slice()).map_err(|e| self.fail(e))?;
            }
            let mut meta = txn.open_table(META).map_err(|e| self.fail(e))?;
            meta.insert(META_REVISION, last.revision()).map_err(|e| self.fail(e))?;
        }
        txn.commit().map_err(|e| self.fail(e))
    }

    /// Deletes the rows a compaction removes and records the compacted revision, durably.
    pub(crate) fn compact(&self, plan: &CompactionPlan) -> Result<(), DiskError> {
        let mut txn = self.db.begin_write().map_err(|e| self.fail(e))?;
        txn.set_durability(Durability::Immediate).map_err(|e| self.fail(e))?;
        {
            let mut log = txn.open_table(LOG).map_err(|e| self.fail(e))?;
            for revision in &plan.revisions {
                log.remove(revision).map_err(|e| self.fail(e))?;
            }
            let mut meta = txn.open_table(META).map_err(|e| self.fail(e))?;
            meta.insert(META_COMPACTED, plan.revision).map_err(|e| self.fail(e))?;
        }
        txn.commit().map_err(|e| self.fail(e))
    }
}
