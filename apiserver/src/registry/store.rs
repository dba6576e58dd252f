//! The generic store: every verb's Kubernetes semantics over storage and the watch cache, for any strategy.

mod admission;
mod codec;
mod create;
mod delete;
pub(crate) mod meta;
mod prepare;
mod read;
mod update;
mod watch;

#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;

use std::{
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicI64, Ordering},
    },
};

use futures::Stream;
use parking_lot::Mutex;

pub use admission::{Admission, AdmissionChain, AdmissionRequest, Operation};
pub(crate) use update::mutate_stored;

use self::codec::{Codec, DecodeCache, Decoded};
use super::{ResourceInfo, Strategy};
use crate::{
    machinery::{
        ApiError, GroupResource, Object,
        options::{DeleteOptions, GetOptions, ListOptions, PatchOptions, WriteOptions},
    },
    patch::PatchType,
    storage::{CacheError, KeySpace, KeyValue, Revision, SharedStore, WatchCache, WatchCacheConfig},
};

/// Warnings a request collects for `Warning: 299 - "..."` response headers; shared by clones of one context.
#[derive(Clone, Debug, Default)]
pub struct Warnings(Arc<Mutex<Vec<String>>>);

impl Warnings {
    /// Records a warning (duplicates are kept once).
    pub fn add(&self, warning: impl Into<String>) {
        let warning = warning.into();
        let mut warnings = self.0.lock();
        if !warnings.contains(&warning) {
            warnings.push(warning);
        }
    }

    /// The warnings recorded so far, in order.
    pub fn list(&self) -> Vec<String> {
        self.0.lock().clone()
    }
}

impl PartialEq for Warnings {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || *self.0.lock() == *other.0.lock()
    }
}

impl Eq for Warnings {}

/// Who is asking, as far as the store needs to know.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestContext {
    /// The authenticated user name (empty until authentication exists).
    pub user: String,
    /// The `User-Agent`, the default field manager for non-apply writes (`kubectl-client-side-apply`, ...).
    pub user_agent: String,
    /// Warnings the verbs add (unknown fields under `fieldValidation=Warn`, ...); the HTTP layer sends each as a
    /// `Warning: 299 - "<text>"` header.
    pub warnings: Warnings,
}

impl RequestContext {
    /// A context for `user_agent` (used by the built-in controllers).
    pub fn for_agent(user_agent: &str) -> Self {
        Self { user_agent: user_agent.into(), ..Self::default() }
    }
}

/// A list answer before encoding.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObjectList {
    /// Objects, each with `apiVersion`, `kind` and `metadata.resourceVersion`; shared with the store's decode cache
    /// (clone one to change it).
    pub items: Vec<Arc<Object>>,
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
    /// The object is gone; this was its last state (`metadata.resourceVersion` = the deletion's revision).
    Deleted(Object),
    /// Finalizers remain: the object now has a deletionTimestamp and stays until they are removed.
    Pending(Object),
}

impl DeleteOutcome {
    /// The object, deleted or pending.
    pub fn object(&self) -> &Object {
        match self {
            Self::Deleted(object) | Self::Pending(object) => object,
        }
    }
}

/// How long the decode warm-up waits for a watch cache to load before giving up.
const WARM_UP_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// Decodes every cached object once the watch cache has loaded, so the first large LIST after a start is as fast as
/// the later ones (the cost moves from that request to the background).
fn warm_up(cache: &WatchCache, prefix: &str, decoded: &Arc<DecodeCache>, codec: &Codec) {
    if tokio::runtime::Handle::try_current().is_err() {
        return;
    }
    let (cache, prefix, decoded, codec) = (cache.clone(), prefix.to_string(), Arc::downgrade(decoded), codec.clone());
    tokio::spawn(async move {
        if tokio::time::timeout(WARM_UP_WAIT, cache.ready()).await.is_err() {
            return;
        }
        let Ok(list) = cache.list(&prefix, 0).await else { return };
        drop(cache);
        if let Some(decoded) = decoded.upgrade() {
            let decoded = decoded.decode_all(list.items.iter().map(|kv| &**kv), &codec);
            if let Err(error) = decoded {
                tracing::warn!(%prefix, %error, "some stored objects cannot be decoded");
            }
        }
    });
}

/// One served resource: its strategy, its storage keys and its watch cache.
pub struct ResourceStore {
    strategy: Arc<dyn Strategy>,
    store: SharedStore,
    keys: KeySpace,
    prefix: String,
    cache: WatchCache,
    /// Decoded objects of this served version.
    decoded: Arc<DecodeCache>,
    /// Stored bytes ⇄ objects of this served version (converting when stored at another version).
    codec: Codec,
    admission: AdmissionChain,
    /// The newest revision this store (or another version of its resource) wrote; "most recent" reads from the
    /// cache wait for at least it.
    last_write: Arc<AtomicI64>,
}

/// How much each resource's in-memory caches keep (a server wants fast lists and long watch history; a process
/// simulating a hundred clusters wants little memory).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreTuning {
    /// The watch cache: history length, per-watcher buffer, bookmarks.
    pub watch_cache: WatchCacheConfig,
    /// Most decoded objects remembered per resource so lists need not parse stored JSON again (`0`: none).
    pub decoded_objects: usize,
}

impl Default for StoreTuning {
    fn default() -> Self {
        Self { watch_cache: WatchCacheConfig::default(), decoded_objects: codec::DEFAULT_DECODED_OBJECTS }
    }
}

impl ResourceStore {
    /// A store for `strategy`'s resource, keys under `keys`; starts the watch cache. No admission checks run.
    pub fn new(strategy: Arc<dyn Strategy>, store: SharedStore, keys: &KeySpace) -> Self {
        Self::with_admission(strategy, store, keys, AdmissionChain::default())
    }

    /// [`ResourceStore::new`] running `admission` before every write.
    pub fn with_admission(
        strategy: Arc<dyn Strategy>,
        store: SharedStore,
        keys: &KeySpace,
        admission: AdmissionChain,
    ) -> Self {
        Self::tuned(strategy, store, keys, admission, &StoreTuning::default())
    }

    /// [`ResourceStore::with_admission`] with the caches sized by `tuning`.
    pub fn tuned(
        strategy: Arc<dyn Strategy>,
        store: SharedStore,
        keys: &KeySpace,
        admission: AdmissionChain,
        tuning: &StoreTuning,
    ) -> Self {
        let storage = &strategy.info().storage;
        let prefix = keys.resource_prefix(&storage.group, &storage.resource);
        let cache = WatchCache::start(store.clone(), prefix.clone(), tuning.watch_cache.clone());
        let decoded = Arc::new(DecodeCache::with_limit(tuning.decoded_objects));
        Self::assemble(strategy, store, keys, prefix, cache, admission, Arc::default(), decoded)
    }

    /// Another served version of `sibling`'s resource: same storage keys, watch cache and write tracking (so a read
    /// at one version sees every write made at another), objects converted by `strategy` (see
    /// [`Strategy::storage_version`]). Without a shared storage resource it is [`ResourceStore::with_admission`].
    pub fn beside(strategy: Arc<dyn Strategy>, sibling: &ResourceStore, admission: AdmissionChain) -> Self {
        if strategy.info().storage != sibling.info().storage {
            return Self::with_admission(strategy, sibling.store.clone(), &sibling.keys, admission);
        }
        let (store, keys, prefix, cache) =
            (sibling.store.clone(), &sibling.keys, sibling.prefix.clone(), sibling.cache.clone());
        let decoded = Arc::new(DecodeCache::with_limit(sibling.decoded.limit()));
        Self::assemble(strategy, store, keys, prefix, cache, admission, Arc::clone(&sibling.last_write), decoded)
    }

    #[allow(clippy::too_many_arguments)]
    fn assemble(
        strategy: Arc<dyn Strategy>,
        store: SharedStore,
        keys: &KeySpace,
        prefix: String,
        cache: WatchCache,
        admission: AdmissionChain,
        last_write: Arc<AtomicI64>,
        decoded: Arc<DecodeCache>,
    ) -> Self {
        let codec = Codec::new(&strategy);
        warm_up(&cache, &prefix, &decoded, &codec);
        Self { strategy, store, keys: keys.clone(), prefix, cache, decoded, codec, admission, last_write }
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

    /// Waits until the watch cache has loaded.
    pub async fn ready(&self) {
        self.cache.ready().await;
    }

    /// POST: creates `object` in `namespace` (`None` for cluster-scoped resources).
    pub async fn create(
        &self,
        ctx: &RequestContext,
        namespace: Option<&str>,
        object: Object,
        options: &WriteOptions,
    ) -> Result<Object, ApiError> {
        create::create(self, ctx, namespace, object, options).await
    }

    /// GET of one object.
    pub async fn get(&self, namespace: Option<&str>, name: &str, options: &GetOptions) -> Result<Object, ApiError> {
        read::get(self, namespace, name, options).await
    }

    /// GET from the watch cache once it holds every write this store made (cheaper than [`ResourceStore::get`],
    /// which reads storage; as consistent for objects written through this server).
    pub async fn get_cached(&self, namespace: Option<&str>, name: &str) -> Result<Object, ApiError> {
        let key = self.key(namespace, name)?;
        let found = self.cache.get(&key, self.consistent_revision()).await.map_err(|e| self.cache_error(e, name))?;
        match found {
            Some(kv) => Ok((*self.decode(&kv)?.object).clone()),
            None => Err(ApiError::not_found(&self.group_resource(), name)),
        }
    }

    /// GET of a collection (all namespaces when `namespace` is `None` for a namespaced resource).
    pub async fn list(&self, namespace: Option<&str>, options: &ListOptions) -> Result<ObjectList, ApiError> {
        read::list(self, namespace, options).await
    }

    /// GET with `watch=true`.
    pub async fn watch(&self, namespace: Option<&str>, options: &ListOptions) -> Result<WatchStream, ApiError> {
        watch::watch(self, namespace, options).await
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
        update::update(self, ctx, namespace, name, object, subresource, options).await
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
        update::patch(self, ctx, namespace, name, patch_type, body, subresource, options).await
    }

    /// DELETE of one object.
    pub async fn delete(
        &self,
        ctx: &RequestContext,
        namespace: Option<&str>,
        name: &str,
        options: &DeleteOptions,
    ) -> Result<DeleteOutcome, ApiError> {
        delete::delete(self, ctx, namespace, name, options).await
    }

    /// DELETE of a collection: deletes every object `list` selects; returns them (as listed).
    pub async fn delete_collection(
        &self,
        ctx: &RequestContext,
        namespace: Option<&str>,
        list: &ListOptions,
        options: &DeleteOptions,
    ) -> Result<ObjectList, ApiError> {
        delete::delete_collection(self, ctx, namespace, list, options).await
    }

    // ---- helpers shared by the verbs ----

    fn group_resource(&self) -> GroupResource {
        self.info().group_resource()
    }

    /// The namespace segment of keys: `None` for cluster-scoped resources.
    fn scope<'a>(&self, namespace: Option<&'a str>) -> Option<&'a str> {
        if self.info().namespaced { namespace } else { None }
    }

    /// The key of one object.
    ///
    /// # Errors
    /// 400 when a namespaced resource is addressed without a namespace.
    fn key(&self, namespace: Option<&str>, name: &str) -> Result<String, ApiError> {
        let storage = &self.info().storage;
        let namespace = match (self.info().namespaced, namespace) {
            (true, None | Some("")) => return Err(ApiError::bad_request("Namespace parameter required.")),
            (true, namespace) => namespace,
            (false, _) => None,
        };
        if name.is_empty() {
            return Err(ApiError::bad_request("Name parameter required."));
        }
        Ok(self.keys.object_key(&storage.group, &storage.resource, namespace, name))
    }

    /// The prefix of every key a list of `namespace` covers.
    fn list_prefix(&self, namespace: Option<&str>) -> String {
        let storage = &self.info().storage;
        match self.scope(namespace).filter(|ns| !ns.is_empty()) {
            Some(namespace) => self.keys.namespace_prefix(&storage.group, &storage.resource, namespace),
            None => self.prefix.clone(),
        }
    }

    fn decode(&self, kv: &KeyValue) -> Result<Arc<Decoded>, ApiError> {
        self.decoded.decode(kv, &self.codec)
    }

    /// The current stored version of `key` and its object, read from storage (not the cache).
    async fn read_current(&self, key: &str, name: &str) -> Result<Option<(KeyValue, Object)>, ApiError> {
        let found = self.store.get(key).await.map_err(|e| ApiError::from_store(e, &self.group_resource(), name))?;
        match found {
            Some(kv) => {
                let object = (*self.decode(&kv)?.object).clone();
                Ok(Some((kv, object)))
            }
            None => Ok(None),
        }
    }

    /// Remembers a successful write at `revision` (and the object as written, to skip parsing it on reads).
    fn wrote(&self, key: &str, revision: Revision, object: Option<&Object>) {
        self.last_write.fetch_max(revision, Ordering::AcqRel);
        match object {
            Some(object) => self.decoded.insert(key, revision, object.clone()),
            None => self.decoded.forget(key),
        }
    }

    /// The revision "most recent" cache reads must reach: the newest write this store made.
    fn consistent_revision(&self) -> Revision {
        self.last_write.load(Ordering::Acquire)
    }

    /// The revision a cache read for `resourceVersion` must reach. Unset means "most recent"; `0` ("any") still
    /// waits for this server's own writes, so a client reads what it just wrote; any other value is a floor.
    fn cache_floor(&self, requested: Option<Revision>) -> Revision {
        match requested {
            None | Some(0) => self.consistent_revision(),
            Some(revision) => revision,
        }
    }

    fn cache_error(&self, error: CacheError, name: &str) -> ApiError {
        match error {
            CacheError::Store(error) => ApiError::from_store(error, &self.group_resource(), name),
            CacheError::WatcherTooSlow | CacheError::CacheReset | CacheError::Stopped => {
                ApiError::unavailable(format!("the watch cache of {} is resyncing", self.group_resource()))
            }
            CacheError::OutsidePrefix { requested, cache } => {
                ApiError::internal(format!("{requested:?} is outside the watch cache's prefix {cache:?}"))
            }
        }
    }
}
