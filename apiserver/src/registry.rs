//! The set of served resources, each a generic store over storage configured by its kind's strategy.

pub mod builtin;
pub mod crd;
mod endpoints;
mod gc;
pub mod karmada;
mod namespaces;
mod resource;
mod serviceaccounts;
mod store;
mod strategy;
pub mod subresource;

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use parking_lot::RwLock;

pub use gc::ControllerTask;
pub use namespaces::{DEFAULT_NAMESPACES, IMMORTAL_NAMESPACES, NAMESPACE_FINALIZER, NamespaceLifecycle};
pub use resource::ResourceInfo;
pub use serviceaccounts::DEFAULT_SERVICE_ACCOUNT;
pub use store::{
    Admission, AdmissionChain, AdmissionRequest, DeleteOutcome, ObjectList, Operation, RequestContext, ResourceStore,
    StoreTuning, Warnings, WatchEvent, WatchEventType, WatchStream,
};
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
    /// Checks every store runs before writes (NamespaceLifecycle first).
    admission: AdmissionChain,
    /// Changes whenever the set of resources changes; unique across registries (see [`Registry::generation`]).
    generation: AtomicU64,
    /// How much each resource's caches keep.
    tuning: StoreTuning,
    /// The review kinds and connect subresources answered without storage.
    endpoints: endpoints::Endpoints,
}

/// Source of registry generations, so that no two states of any registries share one.
static NEXT_GENERATION: AtomicU64 = AtomicU64::new(1);

fn next_generation() -> u64 {
    NEXT_GENERATION.fetch_add(1, Ordering::Relaxed)
}

impl Registry {
    /// An empty registry over `store`, keys under `keys`, with the NamespaceLifecycle admission check.
    pub fn new(store: SharedStore, keys: KeySpace) -> Self {
        Self::tuned(store, keys, StoreTuning::default())
    }

    /// [`Registry::new`] whose resources size their caches by `tuning`.
    pub fn tuned(store: SharedStore, keys: KeySpace, tuning: StoreTuning) -> Self {
        let inner = Arc::new_cyclic(|registry| {
            let admission = AdmissionChain::default();
            admission.push(Arc::new(NamespaceLifecycle::new(registry.clone())));
            let generation = AtomicU64::new(next_generation());
            let resources = RwLock::new(BTreeMap::new());
            let endpoints = endpoints::Endpoints::default();
            RegistryInner { store, keys, resources, admission, generation, tuning, endpoints }
        });
        Self { inner }
    }

    /// The admission checks every store of this registry runs before writes; push more to add checks.
    pub fn admission(&self) -> &AdmissionChain {
        &self.inner.admission
    }

    /// Serves the resource `strategy` describes (starting its watch cache); replaces an earlier one of that name.
    pub fn register(&self, strategy: Arc<dyn Strategy>) -> Arc<ResourceStore> {
        let info = strategy.info();
        let key = (info.group.clone(), info.version.clone(), info.plural.clone());
        let admission = self.inner.admission.clone();
        let mut resources = self.inner.resources.write();
        // Other versions of one resource share its storage (keys, watch cache), converting objects.
        let resource = Arc::new(match resources.values().find(|other| other.info().storage == info.storage) {
            Some(sibling) => ResourceStore::beside(strategy, sibling, admission),
            None => ResourceStore::tuned(
                strategy,
                self.inner.store.clone(),
                &self.inner.keys,
                admission,
                &self.inner.tuning,
            ),
        });
        resources.insert(key, resource.clone());
        self.inner.generation.store(next_generation(), Ordering::Release);
        drop(resources);
        resource
    }

    /// Stops serving a resource.
    pub fn unregister(&self, group: &str, version: &str, plural: &str) -> Option<Arc<ResourceStore>> {
        let mut resources = self.inner.resources.write();
        let removed = resources.remove(&(group.to_string(), version.to_string(), plural.to_string()));
        self.inner.generation.store(next_generation(), Ordering::Release);
        removed
    }

    /// A number that changes whenever a resource or an unstored endpoint is registered or unregistered, never the
    /// same for two states of any registries in the process: caches derived from the resource set (discovery and
    /// OpenAPI documents) key on it. Read it before reading the resources.
    pub fn generation(&self) -> u64 {
        self.inner.generation.load(Ordering::Acquire)
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
