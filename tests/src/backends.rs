//! Stores for tests: each test gets an isolated store on the embedded backend or on a real etcd.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{SystemTime, UNIX_EPOCH},
};

use flotilla_apiserver::storage::{EmbeddedOptions, EmbeddedStore, EtcdStore, KeySpace, SharedStore};
use tempfile::TempDir;

use crate::etcd::{EtcdProcess, shared_etcd};

/// Which storage backend a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendKind {
    /// The embedded revisioned log in a temporary directory.
    Embedded,
    /// A real etcd process.
    Etcd,
}

/// A store for one test, with a key space of its own.
pub struct TestStore {
    kind: BackendKind,
    store: Option<SharedStore>,
    keys: KeySpace,
    embedded_dir: Option<TempDir>,
    dedicated_etcd: Option<EtcdProcess>,
}

fn unique_prefix() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("/t{}-{}-{nanos}/registry", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

impl TestStore {
    /// A store isolated by key prefix: the embedded store in a fresh directory, or the process's shared etcd.
    pub async fn isolated(kind: BackendKind) -> Self {
        match kind {
            BackendKind::Embedded => Self::embedded().await,
            BackendKind::Etcd => {
                let store = connect(shared_etcd().await).await;
                Self {
                    kind,
                    store: Some(store),
                    keys: KeySpace::new(&unique_prefix()),
                    embedded_dir: None,
                    dedicated_etcd: None,
                }
            }
        }
    }

    /// A store whose backend nobody else uses, for tests that compact or restart it.
    pub async fn dedicated(kind: BackendKind) -> Self {
        match kind {
            BackendKind::Embedded => Self::embedded().await,
            BackendKind::Etcd => {
                let etcd = EtcdProcess::start().await;
                let store = connect(&etcd).await;
                Self {
                    kind,
                    store: Some(store),
                    keys: KeySpace::new(&unique_prefix()),
                    embedded_dir: None,
                    dedicated_etcd: Some(etcd),
                }
            }
        }
    }

    async fn embedded() -> Self {
        let dir = tempfile::tempdir().expect("creating a temporary directory for the embedded store");
        let store = open_embedded(&dir).await;
        Self {
            kind: BackendKind::Embedded,
            store: Some(store),
            keys: KeySpace::new(&unique_prefix()),
            embedded_dir: Some(dir),
            dedicated_etcd: None,
        }
    }

    /// The backend this store runs on.
    pub fn kind(&self) -> BackendKind {
        self.kind
    }

    /// The store.
    pub fn store(&self) -> &SharedStore {
        self.store.as_ref().expect("the store is open")
    }

    /// This test's key space (a unique prefix).
    pub fn keys(&self) -> &KeySpace {
        &self.keys
    }

    /// A key under this test's prefix.
    pub fn key(&self, name: &str) -> String {
        format!("{}{name}", self.keys.root())
    }

    /// The dedicated etcd process, for tests that stop it.
    pub fn etcd_process(&mut self) -> &mut EtcdProcess {
        self.dedicated_etcd.as_mut().expect("an etcd-backed store opened with TestStore::dedicated")
    }

    /// Stops the backend abruptly: SIGKILL for etcd; the embedded store is stopped by [`TestStore::restart`].
    pub fn interrupt(&mut self) {
        if let Some(etcd) = self.dedicated_etcd.as_mut() {
            etcd.kill();
        }
    }

    /// Brings the backend back after [`TestStore::interrupt`] (or stops it abruptly first) and reconnects:
    /// etcd restarts on its data directory; the embedded store is closed and its files reopened.
    ///
    /// # Panics
    /// When something still holds the store (drop clones and watch streams first), or on an isolated etcd store.
    pub async fn restart(&mut self) {
        let store = self.store.take().expect("the store is open");
        assert_eq!(Arc::strong_count(&store), 1, "drop every clone and watch of the store before restarting it");
        drop(store);
        let store = match self.kind {
            BackendKind::Embedded => open_embedded(self.embedded_dir.as_ref().expect("embedded directory")).await,
            BackendKind::Etcd => {
                let etcd = self.dedicated_etcd.as_mut().expect("restart needs TestStore::dedicated");
                etcd.restart().await;
                connect(etcd).await
            }
        };
        self.store = Some(store);
    }
}

async fn open_embedded(dir: &TempDir) -> SharedStore {
    let store = EmbeddedStore::open(EmbeddedOptions::new(dir.path())).await.expect("opening the embedded store");
    Arc::new(store)
}

async fn connect(etcd: &EtcdProcess) -> SharedStore {
    Arc::new(EtcdStore::connect(etcd.options()).await.expect("connecting to the test etcd"))
}
