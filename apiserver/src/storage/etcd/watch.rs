//! etcd watch streams as `WatchStream`s: events with previous values, progress notifications, compaction and loss.

use std::sync::Arc;

use etcd_client::{EventType, WatchOptions, WatchResponse};

use super::super::{Event, EventKind, Result, Revision, StoreError, WatchMessage, WatchStream};
use super::{Connection, key_value};

/// A running etcd watch and what the stream needs to translate it.
struct Watching {
    conn: Connection,
    /// Keeps the request side open; dropping the stream drops it and cancels the watch.
    etcd: etcd_client::WatchStream,
    /// The next revision this watch still has to deliver.
    next: Revision,
}

/// What one etcd watch response means for the stream.
enum Step {
    /// Nothing to hand on (the `created` confirmation).
    Skip,
    /// A message for the consumer.
    Deliver(WatchMessage),
    /// A final error; the stream ends after it.
    End(StoreError),
}

/// Opens a watch on every key under `prefix` for changes with revisions above `after`.
pub(super) async fn open(conn: Connection, prefix: &str, after: Revision) -> Result<WatchStream> {
    let start = after.saturating_add(1).max(1);
    let options = WatchOptions::new().with_prefix().with_prev_key().with_start_revision(start).with_progress_notify();
    let mut client = conn.watcher.clone();
    let etcd = conn.call(start, client.watch(prefix, Some(options))).await?;
    let watching = Watching { conn, etcd, next: start };
    let stream = futures::stream::unfold(Some(watching), |state| async move {
        let mut watching = state?;
        loop {
            let step = match watching.etcd.message().await {
                Ok(Some(response)) => watching.translate(&response),
                Ok(None) => Step::End(StoreError::Unavailable(format!(
                    "etcd at {} closed the watch stream",
                    watching.conn.endpoints
                ))),
                Err(error) => Step::End(watching.conn.failure(&error, watching.next).await),
            };
            match step {
                Step::Skip => continue,
                Step::Deliver(message) => return Some((Ok(message), Some(watching))),
                Step::End(error) => return Some((Err(error), None)),
            }
        }
    });
    Ok(Box::pin(stream))
}

impl Watching {
    fn translate(&mut self, response: &WatchResponse) -> Step {
        if response.canceled() {
            if response.compact_revision() > 0 {
                return Step::End(StoreError::Compacted {
                    requested: self.next,
                    compacted: response.compact_revision(),
                });
            }
            return Step::End(StoreError::Unavailable(format!(
                "etcd at {} canceled the watch: {}",
                self.conn.endpoints,
                response.cancel_reason()
            )));
        }
        if response.events().is_empty() {
            if response.created() {
                return Step::Skip;
            }
            let Some(revision) = response.header().map(etcd_client::ResponseHeader::revision) else {
                return Step::End(StoreError::Internal(
                    "etcd sent a watch progress notification without a header".into(),
                ));
            };
            self.next = self.next.max(revision.saturating_add(1));
            return Step::Deliver(WatchMessage::Progress(revision));
        }
        let mut events = Vec::with_capacity(response.events().len());
        for event in response.events() {
            match translate_event(event) {
                Ok(event) => {
                    self.next = self.next.max(event.revision().saturating_add(1));
                    events.push(event);
                }
                Err(error) => return Step::End(error),
            }
        }
        Step::Deliver(WatchMessage::Events(events))
    }
}

fn translate_event(event: &etcd_client::Event) -> Result<Event> {
    let kv = event
        .kv()
        .cloned()
        .ok_or_else(|| StoreError::Internal("etcd sent a watch event without a key-value pair".into()))?;
    let kv = key_value(kv)?;
    let kind = match event.event_type() {
        EventType::Delete => EventKind::Deleted,
        EventType::Put if kv.create_revision == kv.mod_revision => EventKind::Created,
        EventType::Put => EventKind::Updated,
    };
    let prev = event.prev_kv().cloned().map(key_value).transpose()?.map(Arc::new);
    Ok(Event { kind, kv: Arc::new(kv), prev })
}
