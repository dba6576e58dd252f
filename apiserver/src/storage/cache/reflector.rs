//! The reflector: lists the prefix at one revision, then follows the store's watch, re-listing when it breaks.

use std::{sync::Arc, time::Duration};

use futures::StreamExt;
use tokio::time::{Instant, MissedTickBehavior};

use super::shared::Shared;
use crate::storage::{KeyValue, ListRequest, Revision, Store, StoreError, WatchMessage, WatchStream};

/// Items per page when listing from the store.
pub(super) const LIST_PAGE_SIZE: usize = 1000;
/// First delay before re-listing after a failure; doubles per consecutive failure.
const BACKOFF_START: Duration = Duration::from_millis(100);
/// Longest delay between re-list attempts.
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// A watch that stayed up this long is healthy even if nothing happened on it.
const HEALTHY_AFTER: Duration = Duration::from_secs(10);
/// Upstream progress is forwarded to watchers as a bookmark at most this often (a backend may report progress after
/// every write elsewhere in the store; the newest revision is sent once the gap has passed).
const PROGRESS_BOOKMARK_GAP: Duration = Duration::from_millis(100);

/// Runs until the task is aborted (the last cache handle dropped).
pub(super) async fn run(shared: Arc<Shared>) {
    let mut failures: u32 = 0;
    loop {
        if failures > 0 {
            tokio::time::sleep(backoff(failures)).await;
        }
        let (items, revision) = match list_all(&*shared.store, &shared.prefix).await {
            Ok(listed) => listed,
            Err(error) => {
                failures = failures.saturating_add(1);
                tracing::warn!(prefix = %shared.prefix, %error, "watch cache could not list; retrying");
                continue;
            }
        };
        tracing::debug!(prefix = %shared.prefix, revision, objects = items.len(), "watch cache listed");
        shared.load(items, revision);
        let started = Instant::now();
        let healthy = match shared.store.watch(&shared.prefix, revision).await {
            Ok(stream) => follow(&shared, stream).await,
            Err(error) => {
                tracing::warn!(prefix = %shared.prefix, %error, "watch cache could not watch");
                false
            }
        };
        tracing::info!(prefix = %shared.prefix, "watch cache lost its upstream watch; closing watchers and re-listing");
        shared.reset();
        failures = if healthy || started.elapsed() >= HEALTHY_AFTER { 0 } else { failures.saturating_add(1) };
    }
}

/// Applies the upstream watch until it fails or ends; whether it delivered anything before breaking.
async fn follow(shared: &Shared, mut stream: WatchStream) -> bool {
    let period = shared.config.bookmark_interval;
    let mut ticker = (!period.is_zero()).then(|| {
        let mut ticker = tokio::time::interval_at(Instant::now() + period, period);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        ticker
    });
    let mut healthy = false;
    // When progress was last forwarded, and whether newer progress still has to be.
    let mut last_forwarded: Option<Instant> = None;
    let mut progress_owed = false;
    loop {
        let tick = async {
            match ticker.as_mut() {
                Some(ticker) => ticker.tick().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            message = stream.next() => match message {
                Some(Ok(WatchMessage::Events(events))) => {
                    shared.apply(events);
                    healthy = true;
                }
                Some(Ok(WatchMessage::Progress(revision))) => {
                    healthy = true;
                    if shared.progress(revision) {
                        if last_forwarded.is_none_or(|at| at.elapsed() >= PROGRESS_BOOKMARK_GAP) {
                            shared.bookmark();
                            last_forwarded = Some(Instant::now());
                        } else {
                            progress_owed = true;
                        }
                    }
                }
                Some(Err(error)) => {
                    tracing::warn!(prefix = %shared.prefix, %error, "watch cache's upstream watch failed");
                    return healthy;
                }
                None => {
                    tracing::warn!(prefix = %shared.prefix, "watch cache's upstream watch ended");
                    return healthy;
                }
            },
            () = tokio::time::sleep_until(last_forwarded.unwrap_or_else(Instant::now) + PROGRESS_BOOKMARK_GAP), if progress_owed => {
                shared.bookmark();
                last_forwarded = Some(Instant::now());
                progress_owed = false;
            }
            _ = tick => shared.bookmark(),
        }
    }
}

/// Every key under `prefix` at one revision, read in pages; the items and that revision.
pub(super) async fn list_all(store: &dyn Store, prefix: &str) -> Result<(Vec<KeyValue>, Revision), StoreError> {
    let mut request = ListRequest { prefix: prefix.to_string(), revision: 0, start_key: None, limit: LIST_PAGE_SIZE };
    let mut items = Vec::new();
    loop {
        let page = store.list(request.clone()).await?;
        request.revision = page.revision;
        let next = page.next_start_key();
        items.extend(page.items);
        match next {
            Some(start_key) => request.start_key = Some(start_key),
            None => return Ok((items, request.revision)),
        }
    }
}

fn backoff(failures: u32) -> Duration {
    let exponent = failures.saturating_sub(1).min(16);
    BACKOFF_START.saturating_mul(1 << exponent).min(BACKOFF_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_a_ceiling() {
        assert_eq!(backoff(1), Duration::from_millis(100));
        assert_eq!(backoff(2), Duration::from_millis(200));
        assert_eq!(backoff(4), Duration::from_millis(800));
        assert_eq!(backoff(40), BACKOFF_MAX);
    }
}
