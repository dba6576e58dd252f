//! Watch streams: history from the in-memory log, then committed batches live, catching up from memory after a lag.

use std::{collections::VecDeque, sync::Arc};

use parking_lot::RwLock;
use tokio::sync::broadcast::{
    self,
    error::{RecvError, TryRecvError},
};

use super::{state::State, writer::Batch};
use crate::storage::{Event, Revision, StoreError, WatchMessage, WatchStream};

/// Rows examined per read of the in-memory log (bounds how long a catching-up watcher holds the read lock).
const CATCH_UP_ROWS: usize = 1024;
/// Events gathered into one message at most.
const MAX_EVENTS_PER_MESSAGE: usize = 1024;

/// What draining the available batches ended with.
enum Drained {
    /// Nothing more is available now.
    Empty,
    /// Enough events for one message.
    Full,
    /// Batches were dropped for this watcher; read them from memory.
    Lagged,
    /// The store was closed.
    Closed,
}

/// One watch: its position and what it still has to say.
pub(crate) struct Watcher {
    /// The in-memory image (for history and catch-up).
    state: Arc<RwLock<State>>,
    /// Committed batches, subscribed before any history was read.
    batches: broadcast::Receiver<Arc<Batch>>,
    /// Only keys starting with this.
    prefix: String,
    /// Every revision up to this one was examined.
    seen: Revision,
    /// The watcher's consumer knows everything up to this revision (through events or progress).
    reported: Revision,
    /// Whether history must be read from memory before live batches.
    catching_up: bool,
    /// Matching events not yet put in a message.
    pending: Vec<Event>,
    /// Messages ready to hand out.
    ready: VecDeque<WatchMessage>,
    /// The error ending the stream once `ready` is handed out.
    end: Option<StoreError>,
    /// Whether the stream has ended.
    done: bool,
}

impl Watcher {
    /// A watcher for changes under `prefix` after `after`; `batches` must be subscribed before this is polled.
    pub(crate) fn new(
        state: Arc<RwLock<State>>,
        batches: broadcast::Receiver<Arc<Batch>>,
        prefix: &str,
        after: Revision,
    ) -> Self {
        let after = after.max(0);
        Self {
            state,
            batches,
            prefix: prefix.to_string(),
            seen: after,
            reported: after,
            catching_up: true,
            pending: Vec::new(),
            ready: VecDeque::new(),
            end: None,
            done: false,
        }
    }

    /// The watcher as a stream.
    pub(crate) fn into_stream(self) -> WatchStream {
        Box::pin(futures::stream::unfold(self, |mut watcher| async move {
            watcher.next_message().await.map(|message| (message, watcher))
        }))
    }

    /// The next message, `None` once the stream has ended.
    async fn next_message(&mut self) -> Option<Result<WatchMessage, StoreError>> {
        loop {
            if let Some(message) = self.ready.pop_front() {
                return Some(Ok(message));
            }
            if let Some(error) = self.end.take() {
                self.done = true;
                return Some(Err(error));
            }
            if self.done {
                return None;
            }
            if self.catching_up {
                self.catch_up();
                if self.catching_up && self.ready.is_empty() {
                    // A long stretch of history without matching events: let other tasks run between slices.
                    tokio::task::yield_now().await;
                }
                continue;
            }
            match self.drain() {
                Drained::Empty => {
                    if self.flush_idle() {
                        continue;
                    }
                    match self.batches.recv().await {
                        Ok(batch) => self.take(&batch),
                        Err(RecvError::Lagged(_)) => self.catching_up = true,
                        Err(RecvError::Closed) => self.close(),
                    }
                }
                Drained::Full => self.flush_events(),
                Drained::Lagged => {
                    self.flush_events();
                    self.catching_up = true;
                }
                Drained::Closed => {
                    self.flush_events();
                    self.close();
                }
            }
        }
    }

    /// Reads the next slice of history from memory.
    fn catch_up(&mut self) {
        let changes = self.state.read().changes_after(&self.prefix, self.seen, CATCH_UP_ROWS);
        match changes {
            Ok(changes) => {
                self.pending.extend(changes.events);
                self.seen = self.seen.max(changes.seen);
                self.catching_up = !changes.caught_up;
                self.flush_events();
            }
            Err(error) => {
                self.flush_events();
                self.end = Some(error);
            }
        }
    }

    /// Takes every batch available without waiting, up to one message's worth of events.
    fn drain(&mut self) -> Drained {
        loop {
            if self.pending.len() >= MAX_EVENTS_PER_MESSAGE {
                return Drained::Full;
            }
            match self.batches.try_recv() {
                Ok(batch) => self.take(&batch),
                Err(TryRecvError::Empty) => return Drained::Empty,
                Err(TryRecvError::Lagged(_)) => return Drained::Lagged,
                Err(TryRecvError::Closed) => return Drained::Closed,
            }
        }
    }

    /// Adds a batch's matching events not delivered yet.
    fn take(&mut self, batch: &Batch) {
        if batch.last <= self.seen {
            return;
        }
        let fresh = batch.events.iter().filter(|event| event.revision() > self.seen);
        self.pending.extend(fresh.filter(|event| event.kv.key.starts_with(&self.prefix)).cloned());
        self.seen = batch.last;
    }

    /// Turns pending events into a message.
    fn flush_events(&mut self) {
        if let Some(last) = self.pending.last() {
            self.reported = last.revision();
            self.ready.push_back(WatchMessage::Events(std::mem::take(&mut self.pending)));
        }
    }

    /// With nothing more available: pending events, then progress if revisions passed without matching events.
    /// Returns whether there is something to hand out.
    fn flush_idle(&mut self) -> bool {
        self.flush_events();
        if self.seen > self.reported {
            self.reported = self.seen;
            self.ready.push_back(WatchMessage::Progress(self.seen));
        }
        !self.ready.is_empty()
    }

    /// Ends the stream: the store was closed.
    fn close(&mut self) {
        self.end = Some(StoreError::Unavailable("the embedded store was closed".into()));
    }
}
