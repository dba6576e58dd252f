//! The generic store: every verb's Kubernetes semantics over storage and the watch cache, for any strategy.

use std::{pin::Pin, sync::Arc};

use futures::Stream;

use super::{ResourceInfo, Strategy};
use crate::{
    machinery::{
        ApiError, Object,
        options::{DeleteOptions, GetOptions, ListOptions, PatchOptions, WriteOptions},
    },
    patch::PatchType,
    storage::{KeySpace, SharedStore, WatchCache, WatchCacheConfig},
};

/// Who is asking, as far as the store needs to know.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestContext {
    /// The authenticated user name (empty until authentication exists).
    pub user: String,
    /// The `User-Agent`, the default field manager for non-apply writes (`kubectl-client-side-apply`, ...).
    pub user_agent: String,
}

/// A list answer before encoding.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObjectList {
    /// Objects, each with `apiVersion`, `kind` and `metadata.resourceVersion`.
    pub items: Vec<Object>,
    /// `metadata.resourceVersion` of the list.
    pub resource_version: String,
    /// `metadata.continue`, when more items exist.
    pub continue_token: Option<String>,
    /// `metadata.remainingItemCount`, when known (never with selectors).
    pub remaining_item_count: Option<i64>,
}

/// Watch event types on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatchEventType {
    /// `ADDED`.
    Added,
    /// `MODIFIED`.
    Modified,
    /// `DELETED`.
    Deleted,
    /// `BOOKMARK`: the object carries only kind, apiVersion, metadata.resourceVersion (and annotations).
    Bookmark,
    /// `ERROR`: the object is a `Status`; the stream ends after it.
    Error,
}

impl WatchEventType {
    /// The wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Added => "ADDED",
            Self::Modified => "MODIFIED",
            Self::Deleted => "DELETED",
            Self::Bookmark => "BOOKMARK",
            Self::Error => "ERROR",
        }
    }
}

/// One watch event before encoding.
#[derive(Clone, Debug, PartialEq)]
pub struct WatchEvent {
    /// The type.
    pub type_: WatchEventType,
    /// The object (with kind and apiVersion), a bookmark object, or a `Status`.
    pub object: Object,
}

/// A finite stream of watch events (it ends at `timeoutSeconds`, on an ERROR event, or when dropped).
pub type WatchStream = Pin<Box<dyn Stream<Item = WatchEvent> + Send>>;

/// The result of a delete.
#[derive(Clone, Debug, PartialEq)]
pub enum DeleteOutcome {
    /// The object is gone; this was its last state.
    Deleted(Object),
    /// Finalizers remain: the object now has a deletionTimestamp and stays until they are removed.
    Pending(Object),
}

/// One served resource: its strategy, its storage keys and its watch cache.
pub struct ResourceStore {
    strategy: Arc<dyn Strategy>,
    store: SharedStore,
    prefix: String,
    cache: WatchCache,
}

impl ResourceStore {
    /// A store for `strategy`'s resource, keys under `keys`; starts the watch cache.
    pub fn new(strategy: Arc<dyn Strategy>, store: SharedStore, keys: &KeySpace) -> Self {
        let storage = &strategy.info().storage;
        let prefix = keys.resource_prefix(&storage.group, &storage.resource);
        let cache = WatchCache::start(store.clone(), prefix.clone(), WatchCacheConfig::default());
        Self { strategy, store, prefix, cache }
    }

    /// The resource's description.
    pub fn info(&self) -> &ResourceInfo {
        self.strategy.info()
    }

    /// The resource's strategy.
    pub fn strategy(&self) -> &Arc<dyn Strategy> {
        &self.strategy
    }

    /// Whether the watch cache has loaded.
    pub fn is_ready(&self) -> bool {
        self.cache.is_ready()
    }

    /// POST: creates `object` in `namespace` (`None` for cluster-scoped resources).
    pub async fn create(
        &self,
        ctx: &RequestContext,
        namespace: Option<&str>,
        object: Object,
        options: &WriteOptions,
    ) -> Result<Object, ApiError> {
        let _ = (ctx, namespace, object, options, &self.store, &self.prefix);
        Err(ApiError::internal("the generic store is being written"))
    }

    /// GET of one object.
    pub async fn get(&self, namespace: Option<&str>, name: &str, options: &GetOptions) -> Result<Object, ApiError> {
        let _ = (namespace, name, options);
        Err(ApiError::internal("the generic store is being written"))
    }

    /// GET of a collection (all namespaces when `namespace` is `None` for a namespaced resource).
    pub async fn list(&self, namespace: Option<&str>, options: &ListOptions) -> Result<ObjectList, ApiError> {
        let _ = (namespace, options);
        Err(ApiError::internal("the generic store is being written"))
    }

    /// GET with `watch=true`.
    pub async fn watch(&self, namespace: Option<&str>, options: &ListOptions) -> Result<WatchStream, ApiError> {
        let _ = (namespace, options);
        Err(ApiError::internal("the generic store is being written"))
    }

    /// PUT of the object or of a subresource (`Some("status")`); returns the object and whether it was created.
    pub async fn update(
        &self,
        ctx: &RequestContext,
        namespace: Option<&str>,
        name: &str,
        object: Object,
        subresource: Option<&str>,
        options: &WriteOptions,
    ) -> Result<(Object, bool), ApiError> {
        let _ = (ctx, namespace, name, object, subresource, options);
        Err(ApiError::internal("the generic store is being written"))
    }

    /// PATCH of the object or a subresource; returns the object and whether it was created (apply may create).
    #[allow(clippy::too_many_arguments)]
    pub async fn patch(
        &self,
        ctx: &RequestContext,
        namespace: Option<&str>,
        name: &str,
        patch_type: PatchType,
        body: &[u8],
        subresource: Option<&str>,
        options: &PatchOptions,
    ) -> Result<(Object, bool), ApiError> {
        let _ = (ctx, namespace, name, patch_type, body, subresource, options);
        Err(ApiError::internal("the generic store is being written"))
    }

    /// DELETE of one object.
    pub async fn delete(
        &self,
        ctx: &RequestContext,
        namespace: Option<&str>,
        name: &str,
        options: &DeleteOptions,
    ) -> Result<DeleteOutcome, ApiError> {
        let _ = (ctx, namespace, name, options);
        Err(ApiError::internal("the generic store is being written"))
    }

    /// DELETE of a collection: deletes every object `list` selects; returns them.
    pub async fn delete_collection(
        &self,
        ctx: &RequestContext,
        namespace: Option<&str>,
        list: &ListOptions,
        options: &DeleteOptions,
    ) -> Result<ObjectList, ApiError> {
        let _ = (ctx, namespace, list, options);
        Err(ApiError::internal("the generic store is being written"))
    }
}
