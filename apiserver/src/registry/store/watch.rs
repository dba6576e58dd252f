//! WATCH from the cache: start semantics, initial events, selector transitions, bookmarks, 410s and timeouts.

use std::{collections::VecDeque, sync::Arc, time::Duration};

use futures::StreamExt;
use serde_json::json;
use tokio::time::Instant;

use super::{
    ResourceStore, WatchEvent, WatchEventType, WatchStream,
    codec::{self, Codec, DecodeCache},
    read::{Predicate, parse_resource_version, selection_prefix},
};
use crate::{
    machinery::{ApiError, Object, options::ListOptions},
    storage::{CacheError, CacheEvent, CacheWatch, Event, EventKind, KeyValue, Revision, StoreError, WatchStart},
};

/// The annotation of the bookmark that ends the initial events of `sendInitialEvents=true`.
pub const INITIAL_EVENTS_END_ANNOTATION: &str = "k8s.io/initial-events-end";

/// Without `timeoutSeconds`, a watch ends after a random time between these (kube-apiserver's default range).
const DEFAULT_TIMEOUT_RANGE: (u64, u64) = (1800, 3600);

/// A bookmark is sent this long before a watch times out (with `allowWatchBookmarks`).
const BOOKMARK_BEFORE_DEADLINE: Duration = Duration::from_secs(2);

pub(super) async fn watch(
    store: &ResourceStore,
    namespace: Option<&str>,
    options: &ListOptions,
) -> Result<WatchStream, ApiError> {
    let predicate = Predicate::new(store, options)?;
    let prefix = selection_prefix(store, namespace, options);
    let requested = match options.resource_version.as_str() {
        "" => None,
        text => Some(parse_resource_version(text)?),
    };
    let initial_state = match (options.send_initial_events, requested) {
        (Some(send), _) => send,
        (None, None | Some(0)) => true,
        (None, Some(_)) => false,
    };
    let start = if initial_state {
        // Wait until the cache has what the request needs to see: the newest writes, or the given revision.
        let min = store.cache_floor(requested);
        if min > 0 {
            store.cache.list(&prefix, min).await.map_err(|e| store.cache_error(e, ""))?;
        }
        WatchStart::InitialState
    } else {
        match requested {
            Some(revision) => WatchStart::After(revision),
            None => {
                let current = store.store.current_revision().await;
                WatchStart::After(current.map_err(|e| ApiError::from_store(e, &store.group_resource(), ""))?)
            }
        }
    };
    let mut state = State {
        source: None,
        decoded: Arc::clone(&store.decoded),
        codec: store.codec.clone(),
        predicate,
        bookmarks: options.allow_watch_bookmarks,
        initial_events_end: options.send_initial_events == Some(true) && options.allow_watch_bookmarks,
        deadline: Instant::now() + timeout(options.timeout_seconds),
        sent_deadline_bookmark: false,
        last_revision: match start {
            WatchStart::After(revision) => revision,
            WatchStart::InitialState => 0,
        },
        pending: VecDeque::new(),
        done: false,
    };
    match store.cache.watch(&prefix, start).await {
        Ok(source) => state.source = Some(source),
        Err(CacheError::Store(StoreError::Compacted { requested, compacted })) => {
            state.expired(requested, compacted);
        }
        Err(error) => return Err(store.cache_error(error, "")),
    }
    let stream = futures::stream::unfold(state, |mut state| async move {
        let event = state.next().await?;
        Some((event, state))
    });
    Ok(Box::pin(stream))
}

fn timeout(seconds: Option<u64>) -> Duration {
    match seconds {
        Some(seconds) => Duration::from_secs(seconds),
        None => Duration::from_secs(fastrand::u64(DEFAULT_TIMEOUT_RANGE.0..=DEFAULT_TIMEOUT_RANGE.1)),
    }
}

struct State {
    source: Option<CacheWatch>,
    decoded: Arc<DecodeCache>,
    codec: Codec,
    predicate: Predicate,
    bookmarks: bool,
    initial_events_end: bool,
    deadline: Instant,
    sent_deadline_bookmark: bool,
    /// The newest revision the client has been told about (events or bookmarks).
    last_revision: Revision,
    pending: VecDeque<WatchEvent>,
    done: bool,
}

impl State {
    async fn next(&mut self) -> Option<WatchEvent> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(event);
            }
            if self.done {
                return None;
            }
            let source = self.source.as_mut()?;
            let bookmark_at = self
                .deadline
                .checked_sub(BOOKMARK_BEFORE_DEADLINE)
                .filter(|_| self.bookmarks && !self.sent_deadline_bookmark && self.last_revision > 0);
            let wake = bookmark_at.unwrap_or(self.deadline);
            let item = match tokio::time::timeout_at(wake, source.next()).await {
                Ok(item) => item,
                Err(_) if bookmark_at.is_some() => {
                    self.sent_deadline_bookmark = true;
                    return Some(self.bookmark(self.last_revision, false));
                }
                Err(_) => {
                    self.done = true;
                    return None;
                }
            };
            match item {
                None => {
                    self.done = true;
                }
                Some(Ok(CacheEvent::Event(event))) => self.convert(&event),
                Some(Ok(CacheEvent::InitialStateDone(revision))) => {
                    self.last_revision = self.last_revision.max(revision);
                    if self.initial_events_end {
                        self.pending.push_back(self.bookmark(revision, true));
                    }
                }
                Some(Ok(CacheEvent::Bookmark(revision))) => {
                    if revision > self.last_revision {
                        self.last_revision = revision;
                        if self.bookmarks {
                            self.pending.push_back(self.bookmark(revision, false));
                        }
                    }
                }
                Some(Err(CacheError::Store(StoreError::Compacted { requested, compacted }))) => {
                    self.expired(requested, compacted);
                }
                Some(Err(error)) => {
                    // Too slow, a cache reset, or a storage failure: end the stream; clients watch again.
                    tracing::debug!(%error, kind = %self.codec.kind(), "ending a watch");
                    self.done = true;
                }
            }
        }
    }

    /// An ERROR event with a 410 Expired Status; the stream ends after it.
    fn expired(&mut self, requested: Revision, compacted: Revision) {
        let status = ApiError::expired(format!("too old resource version: {requested} ({compacted})")).to_status();
        self.pending.push_back(WatchEvent { type_: WatchEventType::Error, object: status });
        self.done = true;
    }

    fn bookmark(&self, revision: Revision, initial_events_end: bool) -> WatchEvent {
        let mut metadata = json!({"resourceVersion": revision.to_string()});
        if initial_events_end {
            metadata["annotations"] = json!({INITIAL_EVENTS_END_ANNOTATION: "true"});
        }
        let object = json!({"kind": self.codec.kind(), "apiVersion": self.codec.api_version(), "metadata": metadata});
        WatchEvent { type_: WatchEventType::Bookmark, object }
    }

    fn decode(&self, kv: &KeyValue) -> Option<Arc<codec::Decoded>> {
        match self.decoded.decode(kv, &self.codec) {
            Ok(decoded) => Some(decoded),
            Err(error) => {
                tracing::warn!(key = %kv.key, %error, "skipping an undecodable object in a watch");
                None
            }
        }
    }

    /// Queues what one change means to this watcher, with ADDED/DELETED when the object starts/stops matching.
    fn convert(&mut self, event: &Event) {
        let revision = event.revision();
        self.last_revision = self.last_revision.max(revision);
        let matches_prev = |state: &Self| {
            event.prev.as_ref().and_then(|prev| state.decode(prev)).filter(|prev| state.predicate.matches(prev))
        };
        let queued = match event.kind {
            EventKind::Created => self
                .decode(&event.kv)
                .filter(|new| self.predicate.matches(new))
                .map(|new| (WatchEventType::Added, (*new.object).clone())),
            EventKind::Updated => {
                let Some(new) = self.decode(&event.kv) else { return };
                let now = self.predicate.matches(&new);
                if self.predicate.is_empty() {
                    Some((WatchEventType::Modified, (*new.object).clone()))
                } else {
                    match (matches_prev(self), now) {
                        (Some(_), true) => Some((WatchEventType::Modified, (*new.object).clone())),
                        (None, true) => Some((WatchEventType::Added, (*new.object).clone())),
                        (Some(prev), false) => Some((WatchEventType::Deleted, at_revision(&prev.object, revision))),
                        (None, false) => None,
                    }
                }
            }
            EventKind::Deleted => {
                matches_prev(self).map(|prev| (WatchEventType::Deleted, at_revision(&prev.object, revision)))
            }
        };
        if let Some((type_, object)) = queued {
            self.pending.push_back(WatchEvent { type_, object });
        }
    }
}

/// A copy of `object` whose resourceVersion is `revision` (the last state of a deleted object, at its deletion).
fn at_revision(object: &Object, revision: Revision) -> Object {
    let mut object = object.clone();
    codec::set_resource_version(&mut object, revision);
    object
}
