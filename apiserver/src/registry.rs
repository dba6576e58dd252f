//! The set of served resources, each a generic store over storage configured by its kind's strategy.

mod resource;
mod store;
mod strategy;

use std::{collections::BTreeMap, sync::Arc};

use parking_lot::RwLock;

pub use resource::ResourceInfo;
pub use store::{DeleteOutcome, ObjectList, RequestContext, ResourceStore, WatchEvent, WatchEventType, WatchStream};
pub use strategy::Strategy;

use crate::storage::{KeySpace, SharedStore};

/// `(group, version, plural)` of a served resource.
pub type ResourceKey = (String, String, String);

/// The served resources; CRDs add and remove entries while the server runs.
#[derive(Clone)]
pub struct Registry {
    inner: Arc<RegistryInner>,
}

struct RegistryInner {
    store: SharedStore,
    keys: KeySpace,
    resources: RwLock<BTreeMap<ResourceKey, Arc<ResourceStore>>>,
}

impl Registry {
    /// An empty registry over `store`, keys under `keys`.
    pub fn new(store: SharedStore, keys: KeySpace) -> Self {
        Self { inner: Arc::new(RegistryInner { store, keys, resources: RwLock::new(BTreeMap::new()) }) }
    }

    /// Serves the resource `strategy` describes (starting its watch cache); replaces an earlier one of that name.
    pub fn register(&self, strategy: Arc<dyn Strategy>) -> Arc<ResourceStore> {
        let info = strategy.info();
        let key = (info.group.clone(), info.version.clone(), info.plural.clone());
        let resource = Arc::new(ResourceStore::new(strategy, self.inner.store.clone(), &self.inner.keys));
        self.inner.resources.write().insert(key, resource.clone());
        resource
    }

    /// Stops serving a resource.
    pub fn unregister(&self, group: &str, version: &str, plural: &str) -> Option<Arc<ResourceStore>> {
        self.inner.resources.write().remove(&(group.to_string(), version.to_string(), plural.to_string()))
    }

    /// The store of a served resource.
    pub fn lookup(&self, group: &str, version: &str, plural: &str) -> Option<Arc<ResourceStore>> {
        self.inner.resources.read().get(&(group.to_string(), version.to_string(), plural.to_string())).cloned()
    }

    /// Every served resource, ordered by group, version and name.
    pub fn resources(&self) -> Vec<Arc<ResourceStore>> {
        self.inner.resources.read().values().cloned().collect()
    }

    /// Whether every resource's watch cache has loaded its first list.
    pub fn is_ready(&self) -> bool {
        self.inner.resources.read().values().all(|r| r.is_ready())
    }

    /// The underlying store (for health checks).
    pub fn storage(&self) -> &SharedStore {
        &self.inner.store
    }
}
