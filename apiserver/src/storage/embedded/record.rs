//! One row of the revisioned log (a key's version or its tombstone) and its versioned binary encoding.

use std::sync::Arc;

use bytes::Bytes;

use crate::storage::{Event, EventKind, KeyValue, Revision};

/// The encoding version written as every row's first byte.
const FORMAT_V1: u8 = 1;
/// Row kind: the key got a value.
const KIND_PUT: u8 = 0;
/// Row kind: the key was deleted.
const KIND_TOMBSTONE: u8 = 1;
/// Bytes before the key: version, kind, create revision, previous revision, key length.
const HEADER_LEN: usize = 1 + 1 + 8 + 8 + 8;

/// Why a stored row could not be read back.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum DecodeError {
    /// The row is shorter than its header says.
    #[error("row is truncated ({0} bytes)")]
    Truncated(usize),
    /// The row was written by an unknown encoding version.
    #[error("unknown row format version {0}")]
    UnknownVersion(u8),
    /// The row's kind byte is neither put nor tombstone.
    #[error("unknown row kind {0}")]
    UnknownKind(u8),
    /// The key is not UTF-8.
    #[error("row key is not UTF-8")]
    KeyNotUtf8,
}

/// One write in the log: the version it produced plus a link to the live version it replaced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Record {
    /// The version as readers and watchers see it (`mod_revision` = this row's revision). A tombstone carries an
    /// empty value and `create_revision` 0, as etcd reports deletions.
    pub(crate) kv: Arc<KeyValue>,
    /// Revision of the live version this write replaced; 0 when the key was absent (a create).
    pub(crate) prev_revision: Revision,
    /// Whether this row deletes the key.
    pub(crate) tombstone: bool,
}

impl Record {
    /// A row giving `key` a value.
    pub(crate) fn put(
        key: String,
        value: Bytes,
        revision: Revision,
        create_revision: Revision,
        prev: Revision,
    ) -> Self {
        let kv = KeyValue { key, value, create_revision, mod_revision: revision };
        Self { kv: Arc::new(kv), prev_revision: prev, tombstone: false }
    }

    /// A row deleting `key`, whose live version was at `prev`.
    pub(crate) fn tombstone(key: String, revision: Revision, prev: Revision) -> Self {
        let kv = KeyValue { key, value: Bytes::new(), create_revision: 0, mod_revision: revision };
        Self { kv: Arc::new(kv), prev_revision: prev, tombstone: true }
    }

    /// The revision of the write.
    pub(crate) fn revision(&self) -> Revision {
        self.kv.mod_revision
    }

    /// The key written.
    pub(crate) fn key(&self) -> &str {
        &self.kv.key
    }

    /// The watch event for this row, given the version it replaced (when still retained).
    pub(crate) fn event(&self, prev: Option<Arc<KeyValue>>) -> Event {
        let kind = if self.tombstone {
            EventKind::Deleted
        } else if self.kv.create_revision == self.kv.mod_revision {
            EventKind::Created
        } else {
            EventKind::Updated
        };
        Event { kind, kv: Arc::clone(&self.kv), prev }
    }

    /// The row's bytes (its revision is the table key, not part of the row).
    pub(crate) fn encode(&self) -> Vec<u8> {
        let key = self.kv.key.as_bytes();
        let mut out = Vec::with_capacity(HEADER_LEN + key.len() + self.kv.value.len());
        out.push(FORMAT_V1);
        out.push(if self.tombstone { KIND_TOMBSTONE } else { KIND_PUT });
        out.extend_from_slice(&self.kv.create_revision.to_le_bytes());
        out.extend_from_slice(&self.prev_revision.to_le_bytes());
        out.extend_from_slice(&(key.len() as u64).to_le_bytes());
        out.extend_from_slice(key);
        out.extend_from_slice(&self.kv.value);
        out
    }

    /// Reads back a row stored at `revision`.
    pub(crate) fn decode(revision: Revision, row: &[u8]) -> Result<Self, DecodeError> {
        if row.len() < HEADER_LEN {
            return Err(DecodeError::Truncated(row.len()));
        }
        if row[0] != FORMAT_V1 {
            return Err(DecodeError::UnknownVersion(row[0]));
        }
        let tombstone = match row[1] {
            KIND_PUT => false,
            KIND_TOMBSTONE => true,
            other => return Err(DecodeError::UnknownKind(other)),
        };
        let create_revision = read_i64(&row[2..10]);
        let prev_revision = read_i64(&row[10..18]);
        let key_len = usize::try_from(read_u64(&row[18..26])).map_err(|_| DecodeError::Truncated(row.len()))?;
        let key_end = HEADER_LEN.checked_add(key_len).filter(|end| *end <= row.len());
        let key_end = key_end.ok_or(DecodeError::Truncated(row.len()))?;
        let key = std::str::from_utf8(&row[HEADER_LEN..key_end]).map_err(|_| DecodeError::KeyNotUtf8)?.to_string();
        if tombstone {
            return Ok(Self::tombstone(key, revision, prev_revision));
        }
        let value = Bytes::copy_from_slice(&row[key_end..]);
        Ok(Self::put(key, value, revision, create_revision, prev_revision))
    }
}

/// A little-endian i64 from exactly 8 bytes.
fn read_i64(bytes: &[u8]) -> i64 {
    let mut buf = [0u8; 8];
    buf.copy_from_slice(bytes);
    i64::from_le_bytes(buf)
}

/// A little-endian u64 from exactly 8 bytes.
fn read_u64(bytes: &[u8]) -> u64 {
    let mut buf = [0u8; 8];
    buf.copy_from_slice(bytes);
    u64::from_le_bytes(buf)
}
