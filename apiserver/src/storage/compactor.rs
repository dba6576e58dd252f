//! Periodic compaction: every interval, compact to the revision seen one interval earlier, as kube-apiserver does.

use std::time::Duration;

use tokio::task::JoinHandle;

use super::SharedStore;

/// A background task compacting a store; stops when dropped.
#[derive(Debug)]
pub struct Compactor {
    task: JoinHandle<()>,
}

impl Compactor {
    /// Starts compacting `store` every `interval`, keeping at least one interval of history.
    pub fn start(store: SharedStore, interval: Duration) -> Self {
        let task = tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut seen_last_tick = 0;
            loop {
                ticker.tick().await;
                let current = match store.current_revision().await {
                    Ok(revision) => revision,
                    Err(error) => {
                        tracing::warn!(%error, "compactor could not read the current revision");
                        continue;
                    }
                };
                if seen_last_tick > 0 {
                    match store.compact(seen_last_tick).await {
                        Ok(()) => tracing::debug!(revision = seen_last_tick, "compacted"),
                        Err(super::StoreError::Compacted { .. }) => {}
                        Err(error) => tracing::warn!(%error, revision = seen_last_tick, "compaction failed"),
                    }
                }
                seen_last_tick = current;
            }
        });
        Self { task }
    }
}

impl Drop for Compactor {
    fn drop(&mut self) {
        self.task.abort();
    }
}
