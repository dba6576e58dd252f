//! Shutdown: signals (the first drains, the second aborts) and the drain flag that long-running requests follow.

use std::{io, sync::Arc};

use tokio::sync::{mpsc, watch};

/// Set once the server starts draining: readiness fails and watches end. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Drain {
    flag: Arc<watch::Sender<bool>>,
}

impl Default for Drain {
    fn default() -> Self {
        Self::new()
    }
}

impl Drain {
    /// A drain flag that is not set.
    pub fn new() -> Self {
        Self { flag: Arc::new(watch::Sender::new(false)) }
    }

    /// Sets the flag (idempotent).
    pub fn start(&self) {
        self.flag.send_replace(true);
    }

    /// Whether draining has started.
    pub fn is_draining(&self) -> bool {
        *self.flag.borrow()
    }

    /// Resolves once draining has started.
    pub async fn started(&self) {
        let mut flag = self.flag.subscribe();
        // The sender lives as long as `self`, so this only returns once the flag is set.
        let _ = flag.wait_for(|draining| *draining).await;
    }
}

/// Shutdown requests: each SIGTERM or Ctrl-C (or [`ShutdownTrigger::trigger`]) is one request.
#[derive(Debug)]
pub struct ShutdownRequests {
    requests: mpsc::UnboundedReceiver<()>,
}

/// Requests a shutdown by hand (tests, `flotilla up` wiring).
#[derive(Clone, Debug)]
pub struct ShutdownTrigger {
    requests: mpsc::UnboundedSender<()>,
}

impl ShutdownTrigger {
    /// One shutdown request: the first drains, the second aborts.
    pub fn trigger(&self) {
        let _ = self.requests.send(());
    }
}

impl ShutdownRequests {
    /// Requests from SIGTERM and SIGINT; the handlers are installed before this returns.
    ///
    /// # Errors
    /// When a signal handler cannot be installed.
    ///
    /// # Panics
    /// When called outside a Tokio runtime.
    pub fn from_signals() -> io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        let (trigger, requests) = Self::manual();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    Some(()) = interrupt.recv() => trigger.trigger(),
                    Some(()) = terminate.recv() => trigger.trigger(),
                    else => break,
                }
            }
        });
        Ok(requests)
    }

    /// Requests that only [`ShutdownTrigger::trigger`] makes.
    pub fn manual() -> (ShutdownTrigger, Self) {
        let (tx, rx) = mpsc::unbounded_channel();
        (ShutdownTrigger { requests: tx }, Self { requests: rx })
    }

    /// Waits for the next request (forever when no trigger is left).
    pub async fn requested(&mut self) {
        if self.requests.recv().await.is_none() {
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn watchers_of_the_drain_flag_wake_when_it_is_set() {
        let drain = Drain::new();
        let waiter = tokio::spawn({
            let drain = drain.clone();
            async move { drain.started().await }
        });
        assert!(!drain.is_draining());
        drain.start();
        tokio::time::timeout(Duration::from_secs(1), waiter).await.unwrap().unwrap();
        assert!(drain.is_draining());
    }

    #[tokio::test]
    async fn each_trigger_is_one_request() {
        let (trigger, mut requests) = ShutdownRequests::manual();
        trigger.trigger();
        trigger.trigger();
        tokio::time::timeout(Duration::from_secs(1), requests.requested()).await.unwrap();
        tokio::time::timeout(Duration::from_secs(1), requests.requested()).await.unwrap();
        assert!(tokio::time::timeout(Duration::from_millis(50), requests.requested()).await.is_err());
    }
}
