//! What a registry answers without storing: create-only kinds (the review APIs) and connect subresources.

use std::sync::{Arc, atomic::Ordering};

use parking_lot::RwLock;

use super::{Registry, ResourceInfo, next_generation, subresource::Connect};
use crate::auth::reviews::VirtualResource;

/// A registry's unstored endpoints; the built-in connect subresources are there from the start.
pub(super) struct Endpoints {
    reviews: RwLock<Vec<Arc<VirtualResource>>>,
    connects: RwLock<Vec<Arc<Connect>>>,
}

impl Default for Endpoints {
    fn default() -> Self {
        let scale = ["deployments", "replicasets", "statefulsets"]
            .map(|resource| super::builtin::scale::connect("apps", resource));
        let connects = std::iter::once(super::karmada::proxy::connect()).chain(scale).map(Arc::new).collect();
        Self { reviews: RwLock::default(), connects: RwLock::new(connects) }
    }
}

impl Registry {
    /// Answers creates of `resource` (replacing one with the same group, version and plural).
    pub fn serve_review(&self, resource: VirtualResource) {
        let mut reviews = self.inner.endpoints.reviews.write();
        let info = &resource.info;
        reviews
            .retain(|r| (&r.info.group, &r.info.version, &r.info.plural) != (&info.group, &info.version, &info.plural));
        reviews.push(Arc::new(resource));
        self.inner.generation.store(next_generation(), Ordering::Release);
    }

    /// The review kind served at this group, version and plural.
    pub fn review(&self, group: &str, version: &str, plural: &str) -> Option<Arc<VirtualResource>> {
        let reviews = self.inner.endpoints.reviews.read();
        reviews.iter().find(|r| r.info.group == group && r.info.version == version && r.info.plural == plural).cloned()
    }

    /// Every review kind served, in the order they were added.
    pub fn reviews(&self) -> Vec<Arc<VirtualResource>> {
        self.inner.endpoints.reviews.read().clone()
    }

    /// Whether `info` describes a review kind this registry serves (whose only verb is `create`).
    pub fn is_review(&self, info: &ResourceInfo) -> bool {
        self.review(&info.group, &info.version, &info.plural).is_some_and(|r| r.info == *info)
    }

    /// Serves `connect` for its resource in every served version (replacing one of the same name).
    pub fn serve_connect(&self, connect: Connect) {
        let mut connects = self.inner.endpoints.connects.write();
        let key = (&connect.group, &connect.resource, &connect.subresource);
        connects.retain(|c| (&c.group, &c.resource, &c.subresource) != key);
        connects.push(Arc::new(connect));
        self.inner.generation.store(next_generation(), Ordering::Release);
    }

    /// The connect subresource `subresource` of `group`/`resource`.
    pub fn connect(&self, group: &str, resource: &str, subresource: &str) -> Option<Arc<Connect>> {
        let connects = self.inner.endpoints.connects.read();
        connects.iter().find(|c| c.group == group && c.resource == resource && c.subresource == subresource).cloned()
    }

    /// The connect subresources of a served resource, sorted by name (for discovery).
    pub fn connects(&self, info: &ResourceInfo) -> Vec<Arc<Connect>> {
        let connects = self.inner.endpoints.connects.read();
        let mut found: Vec<Arc<Connect>> =
            connects.iter().filter(|c| c.group == info.group && c.resource == info.plural).cloned().collect();
        found.sort_by(|a, b| a.subresource.cmp(&b.subresource));
        found
    }
}
