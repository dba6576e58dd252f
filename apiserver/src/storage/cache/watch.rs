//! Watchers: the cache side of a watch (bounded fan-out queue) and the client side ([`CacheWatch`], a stream).

use std::{
    collections::VecDeque,
    fmt,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicU8, Ordering},
    },
    task::{Context, Poll},
};

use futures::Stream;
use tokio::sync::mpsc::{self, error::TrySendError};

use super::{CacheError, CacheEvent};
use crate::storage::{Event, Revision, WatchMessage, WatchStream};

/// Why the cache closed a watcher; kept beside the queue so the client can tell after draining it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(super) enum CloseReason {
    /// The cache itself went away (every handle dropped).
    Stopped = 0,
    /// The watcher's queue was full when an event had to go in.
    TooSlow = 1,
    /// The cache lost continuity with the store and re-listed.
    Reset = 2,
}

impl CloseReason {
    fn load(cell: &AtomicU8) -> Self {
        match cell.load(Ordering::Acquire) {
            1 => Self::TooSlow,
            2 => Self::Reset,
            _ => Self::Stopped,
        }
    }

    fn error(self) -> CacheError {
        match self {
            Self::Stopped => CacheError::Stopped,
            Self::TooSlow => CacheError::WatcherTooSlow,
            Self::Reset => CacheError::CacheReset,
        }
    }
}

/// The cache's end of one watch.
pub(super) struct Watcher {
    /// Only keys under this prefix; `None` when the watcher wants the whole cache.
    prefix: Option<Box<str>>,
    /// Events at or before this revision are skipped (the watch started after it).
    after: Revision,
    queue: mpsc::Sender<CacheEvent>,
    reason: Arc<AtomicU8>,
}

impl Watcher {
    /// A watcher for keys under `prefix` (`None` = all) and changes after `after`, and the client's stream, which
    /// yields `pending` before anything sent to the watcher.
    pub(super) fn new(
        prefix: Option<&str>,
        after: Revision,
        buffer: usize,
        pending: VecDeque<CacheEvent>,
    ) -> (Self, CacheWatch) {
        let (queue, receiver) = mpsc::channel(buffer.max(1));
        let reason = Arc::new(AtomicU8::new(CloseReason::Stopped as u8));
        let watcher = Self { prefix: prefix.map(Box::from), after, queue, reason: Arc::clone(&reason) };
        (watcher, CacheWatch { inner: Inner::Cached { pending, receiver, reason } })
    }

    /// Queues the events this watcher wants; `false` when the watcher is gone or was closed for being too slow.
    pub(super) fn deliver(&self, events: &[Event]) -> bool {
        for event in events {
            if event.revision() <= self.after {
                continue;
            }
            if let Some(prefix) = &self.prefix
                && !event.kv.key.starts_with(&**prefix)
            {
                continue;
            }
            match self.queue.try_send(CacheEvent::Event(event.clone())) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => {
                    self.close(CloseReason::TooSlow);
                    return false;
                }
                Err(TrySendError::Closed(_)) => return false,
            }
        }
        true
    }

    /// Queues a bookmark unless the queue is full (bookmarks are best effort); `false` when the watcher is gone.
    pub(super) fn bookmark(&self, revision: Revision) -> bool {
        if revision < self.after {
            return !self.queue.is_closed();
        }
        !matches!(self.queue.try_send(CacheEvent::Bookmark(revision)), Err(TrySendError::Closed(_)))
    }

    /// Records why the watcher ends; its stream ends with the matching error once the watcher is dropped.
    pub(super) fn close(&self, reason: CloseReason) {
        self.reason.store(reason as u8, Ordering::Release);
    }
}

/// A watch on a [`super::WatchCache`]: a stream of [`CacheEvent`]s that ends after its first error.
///
/// Served from the cache's memory, or, for a start older than the cache's history (or while the cache is not ready),
/// by a watch on the store itself.
pub struct CacheWatch {
    inner: Inner,
}

enum Inner {
    /// Fed by the cache: `pending` (replayed history or initial state) first, then the queue.
    Cached { pending: VecDeque<CacheEvent>, receiver: mpsc::Receiver<CacheEvent>, reason: Arc<AtomicU8> },
    /// Fed by a watch on the store: `pending` (initial state, or the rest of a batch) first, then the stream.
    Store { pending: VecDeque<CacheEvent>, stream: WatchStream },
    /// Ended.
    Done,
}

impl CacheWatch {
    /// A watch served by the store's own `stream`, after yielding `pending`.
    pub(super) fn from_store(stream: WatchStream, pending: VecDeque<CacheEvent>) -> Self {
        Self { inner: Inner::Store { pending, stream } }
    }

    /// Whether this watch is served by the store directly rather than from the cache's memory.
    pub fn is_delegated(&self) -> bool {
        matches!(self.inner, Inner::Store { .. })
    }
}

impl fmt::Debug for CacheWatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.inner {
            Inner::Cached { .. } => "cached",
            Inner::Store { .. } => "store",
            Inner::Done => "done",
        };
        f.debug_struct("CacheWatch").field("source", &state).finish()
    }
}

impl Stream for CacheWatch {
    type Item = Result<CacheEvent, CacheError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            match &mut this.inner {
                Inner::Done => return Poll::Ready(None),
                Inner::Cached { pending, receiver, reason } => {
                    if let Some(event) = pending.pop_front() {
                        return Poll::Ready(Some(Ok(event)));
                    }
                    return match receiver.poll_recv(cx) {
                        Poll::Ready(Some(event)) => Poll::Ready(Some(Ok(event))),
                        Poll::Ready(None) => {
                            let error = CloseReason::load(reason).error();
                            this.inner = Inner::Done;
                            Poll::Ready(Some(Err(error)))
                        }
                        Poll::Pending => Poll::Pending,
                    };
                }
                Inner::Store { pending, stream } => {
                    if let Some(event) = pending.pop_front() {
                        return Poll::Ready(Some(Ok(event)));
                    }
                    match stream.as_mut().poll_next(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Some(Ok(WatchMessage::Events(events)))) => {
                            pending.extend(events.into_iter().map(CacheEvent::Event));
                        }
                        Poll::Ready(Some(Ok(WatchMessage::Progress(revision)))) => {
                            return Poll::Ready(Some(Ok(CacheEvent::Bookmark(revision))));
                        }
                        Poll::Ready(Some(Err(error))) => {
                            this.inner = Inner::Done;
                            return Poll::Ready(Some(Err(CacheError::Store(error))));
                        }
                        Poll::Ready(None) => {
                            this.inner = Inner::Done;
                            return Poll::Ready(None);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use futures::StreamExt;

    use super::*;
    use crate::storage::{EventKind, KeyValue};

    fn event(key: &str, revision: Revision) -> Event {
        let kv =
            KeyValue { key: key.into(), value: Bytes::from_static(b"{}"), create_revision: 1, mod_revision: revision };
        Event { kind: EventKind::Created, kv: Arc::new(kv), prev: None }
    }

    async fn drain(watch: &mut CacheWatch) -> Vec<Result<CacheEvent, CacheError>> {
        let mut items = Vec::new();
        while let Some(item) = watch.next().await {
            items.push(item);
        }
        items
    }

    #[tokio::test]
    async fn a_full_watcher_is_closed_and_its_client_drains_before_the_error() {
        let (watcher, mut watch) = Watcher::new(None, 0, 2, VecDeque::new());
        assert!(!watcher.deliver(&[event("/r/a", 1), event("/r/b", 2), event("/r/c", 3)]));
        drop(watcher);
        let items = drain(&mut watch).await;
        assert_eq!(items.len(), 3);
        assert!(matches!(&items[0], Ok(CacheEvent::Event(e)) if e.revision() == 1));
        assert!(matches!(&items[1], Ok(CacheEvent::Event(e)) if e.revision() == 2));
        assert_eq!(items[2], Err(CacheError::WatcherTooSlow));
    }

    #[tokio::test]
    async fn a_watcher_gets_only_its_prefix_and_only_changes_after_its_start() {
        let (watcher, mut watch) = Watcher::new(Some("/r/ns1/"), 2, 10, VecDeque::new());
        assert!(watcher.deliver(&[event("/r/ns1/a", 2), event("/r/ns2/a", 3), event("/r/ns1/b", 4)]));
        assert!(watcher.bookmark(1) && watcher.bookmark(4));
        watcher.close(CloseReason::Reset);
        drop(watcher);
        let items = drain(&mut watch).await;
        assert!(matches!(&items[0], Ok(CacheEvent::Event(e)) if e.kv.key == "/r/ns1/b"));
        assert_eq!(items[1], Ok(CacheEvent::Bookmark(4)));
        assert_eq!(items[2], Err(CacheError::CacheReset));
        assert_eq!(items.len(), 3);
    }

    #[tokio::test]
    async fn bookmarks_never_close_a_watcher_but_a_dropped_client_does() {
        let (watcher, watch) = Watcher::new(None, 0, 1, VecDeque::new());
        assert!(watcher.bookmark(1));
        assert!(watcher.bookmark(2));
        drop(watch);
        assert!(!watcher.bookmark(3));
        assert!(!watcher.deliver(&[event("/r/a", 4)]));
    }

    #[tokio::test]
    async fn pending_events_come_before_queued_ones() {
        let pending = VecDeque::from([CacheEvent::InitialStateDone(1)]);
        let (watcher, mut watch) = Watcher::new(None, 1, 4, pending);
        assert!(watcher.deliver(&[event("/r/a", 2)]));
        drop(watcher);
        let items = drain(&mut watch).await;
        assert_eq!(items[0], Ok(CacheEvent::InitialStateDone(1)));
        assert!(matches!(&items[1], Ok(CacheEvent::Event(e)) if e.revision() == 2));
        assert_eq!(items[2], Err(CacheError::Stopped));
    }
}
