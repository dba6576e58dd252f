//! The garbage collector, as kube-controller-manager's: ownership graph, background/foreground/orphan deletion.

mod graph;
#[cfg(test)]
mod tests;

use std::{
    collections::{HashMap, HashSet},
    future::Future,
    sync::{Arc, Weak},
    time::Duration,
};

use futures::StreamExt;
use serde_json::Value;
use tokio::{sync::mpsc, task::JoinHandle};

use self::graph::{Decision, Graph, Node, OwnerRef, OwnerState, Work, decide};
use super::{
    Registry, RegistryInner, ResourceKey, ResourceStore, WatchEventType,
    store::{RequestContext, meta},
};
use crate::machinery::{
    ApiError, GroupResource, Object,
    options::{DeleteOptions, GetOptions, ListOptions, PropagationPolicy, ResourceVersionMatch, WriteOptions},
};

/// The User-Agent (and so field manager) of the collector's writes.
const AGENT: &str = "kube-controller-manager/generic-garbage-collector";

/// How often the set of served resources is compared with the followed ones.
const RESYNC_INTERVAL: Duration = Duration::from_secs(2);

/// How long a failed piece of work waits before it is tried again.
const RETRY_DELAY: Duration = Duration::from_secs(1);

/// How long a monitor waits before watching again after its watch failed to start.
const REWATCH_DELAY: Duration = Duration::from_millis(500);

/// Conflicting writes tolerated when the collector edits an object.
const EDIT_ATTEMPTS: usize = 5;

/// A background task of the registry (a controller); it stops when dropped.
#[derive(Debug)]
pub struct ControllerTask(JoinHandle<()>);

impl ControllerTask {
    pub(crate) fn spawn(task: impl Future<Output = ()> + Send + 'static) -> Self {
        Self(tokio::spawn(task))
    }
}

impl Drop for ControllerTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Registry {
    /// Starts the garbage collector (see the module docs). Runs until the returned task is dropped.
    pub fn start_garbage_collector(&self) -> ControllerTask {
        ControllerTask::spawn(run(Arc::downgrade(&self.inner)))
    }

    /// Starts every built-in controller: the garbage collector and the namespace controller.
    pub fn start_controllers(&self) -> Vec<ControllerTask> {
        vec![self.start_garbage_collector(), self.start_namespace_controller()]
    }
}

/// What monitors tell the collector.
enum Message {
    /// An object was added, changed or deleted.
    Event { resource: ResourceKey, type_: WatchEventType, object: Object },
    /// A (re)started watch delivered its complete initial state: these uids are all there is.
    Synced { resource: ResourceKey, uids: HashSet<String> },
}

/// One followed resource.
struct Monitor {
    key: ResourceKey,
    store: Weak<ResourceStore>,
    task: JoinHandle<()>,
}

struct Collector {
    registry: Weak<RegistryInner>,
    graph: Graph,
    /// Per storage resource: the served resource followed, its store, and the task following it.
    monitors: HashMap<GroupResource, Monitor>,
    synced: HashSet<ResourceKey>,
    retries: Vec<(tokio::time::Instant, Work)>,
    sender: mpsc::UnboundedSender<Message>,
}

impl Drop for Collector {
    fn drop(&mut self) {
        for (_, monitor) in self.monitors.drain() {
            monitor.task.abort();
        }
    }
}

async fn run(registry: Weak<RegistryInner>) {
    let (sender, mut receiver) = mpsc::unbounded_channel();
    let mut collector = Collector {
        registry,
        graph: Graph::default(),
        monitors: HashMap::new(),
        synced: HashSet::new(),
        retries: Vec::new(),
        sender,
    };
    let mut resync = tokio::time::interval(RESYNC_INTERVAL);
    loop {
        let working = collector.ready() && collector.graph.has_work();
        tokio::select! {
            biased;
            message = receiver.recv() => {
                let Some(message) = message else { return };
                collector.apply(message);
            }
            _ = resync.tick() => {
                if !collector.follow_resources() {
                    return;
                }
                collector.requeue_due();
            }
            () = std::future::ready(()), if working => {
                if let Some(work) = collector.graph.next_work()
                    && !collector.process(&work).await
                {
                    collector.retries.push((tokio::time::Instant::now() + RETRY_DELAY, work));
                }
            }
        }
    }
}

impl Collector {
    fn registry(&self) -> Option<Registry> {
        self.registry.upgrade().map(|inner| Registry { inner })
    }

    /// Whether every followed resource has delivered its initial state (work waits until then).
    fn ready(&self) -> bool {
        self.monitors.values().all(|monitor| self.synced.contains(&monitor.key))
    }

    fn requeue_due(&mut self) {
        let now = tokio::time::Instant::now();
        let (due, later): (Vec<_>, Vec<_>) = self.retries.drain(..).partition(|(at, _)| *at <= now);
        self.retries = later;
        for (_, work) in due {
            self.graph.enqueue(work);
        }
    }

    /// Starts monitors for newly served resources and stops those of resources no longer served; `false` once the
    /// registry is gone.
    fn follow_resources(&mut self) -> bool {
        let Some(registry) = self.registry() else { return false };
        let mut wanted: HashMap<GroupResource, Arc<ResourceStore>> = HashMap::new();
        for store in registry.resources() {
            wanted.entry(store.info().storage.clone()).or_insert(store);
        }
        // Stop following resources no longer served, or served by a new store (a CRD was replaced).
        let stale: Vec<GroupResource> = self
            .monitors
            .iter()
            .filter(|(storage, monitor)| {
                monitor.task.is_finished()
                    || wanted
                        .get(*storage)
                        .is_none_or(|store| !std::ptr::eq(monitor.store.as_ptr(), Arc::as_ptr(store)))
            })
            .map(|(storage, _)| storage.clone())
            .collect();
        let mut changed = !stale.is_empty();
        for storage in stale {
            if let Some(monitor) = self.monitors.remove(&storage) {
                monitor.task.abort();
                self.synced.remove(&monitor.key);
                if !wanted.contains_key(&storage) {
                    for uid in self.graph.uids_of(&monitor.key) {
                        self.graph.remove(&uid);
                    }
                }
            }
        }
        for (storage, store) in wanted {
            if self.monitors.contains_key(&storage) {
                continue;
            }
            let info = store.info();
            let key: ResourceKey = (info.group.clone(), info.version.clone(), info.plural.clone());
            let task = tokio::spawn(monitor(Arc::downgrade(&store), key.clone(), self.sender.clone()));
            self.monitors.insert(storage, Monitor { key, store: Arc::downgrade(&store), task });
            changed = true;
        }
        if changed {
            // Owners of kinds that were not served before may be resolvable now.
            for uid in self.graph.owned() {
                self.graph.enqueue(Work::AttemptToDelete(uid));
            }
        }
        true
    }

    fn apply(&mut self, message: Message) {
        match message {
            Message::Event { resource, type_, object } => match type_ {
                WatchEventType::Added | WatchEventType::Modified => {
                    if let Some(node) = Node::from_object(&resource, &object) {
                        self.graph.upsert(node);
                    }
                }
                WatchEventType::Deleted => self.graph.remove(meta::uid(&object)),
                WatchEventType::Bookmark | WatchEventType::Error => {}
            },
            Message::Synced { resource, uids } => {
                for uid in self.graph.uids_of(&resource) {
                    if !uids.contains(&uid) {
                        self.graph.remove(&uid);
                    }
                }
                self.synced.insert(resource);
            }
        }
    }

    /// Carries out one piece of work; `false` when it failed and should be retried.
    async fn process(&mut self, work: &Work) -> bool {
        let Some(registry) = self.registry() else { return true };
        let result = match work {
            Work::AttemptToDelete(uid) => self.attempt_to_delete(&registry, uid).await,
            Work::Orphan(uid) => self.orphan(&registry, uid).await,
        };
        match result {
            Ok(()) => true,
            Err(error) => {
                tracing::debug!(?work, %error, "garbage collector will retry");
                false
            }
        }
    }

    async fn attempt_to_delete(&mut self, registry: &Registry, uid: &str) -> Result<(), ApiError> {
        let Some(node) = self.graph.node(uid).cloned() else { return Ok(()) };
        if node.deleting_dependents() {
            return self.delete_dependents_first(registry, &node).await;
        }
        if node.deleting || node.owners.is_empty() {
            return Ok(());
        }
        let mut owners = Vec::with_capacity(node.owners.len());
        for owner in &node.owners {
            let state = self.owner_state(registry, &node, owner).await?;
            owners.push((owner.clone(), state));
        }
        let has_dependents = !self.graph.dependents_of(uid).is_empty();
        let Some(store) = registry.lookup(&node.resource.0, &node.resource.1, &node.resource.2) else {
            return Ok(());
        };
        match decide(&owners, has_dependents) {
            Decision::Keep => Ok(()),
            Decision::RemoveOwners(stale) => {
                edit(&store, &node, |object| remove_owner_references(object, &stale)).await
            }
            Decision::Delete { foreground } => {
                let policy = if node.orphaning() {
                    PropagationPolicy::Orphan
                } else if foreground || node.finalizers.iter().any(|f| f == meta::FINALIZER_FOREGROUND) {
                    PropagationPolicy::Foreground
                } else {
                    PropagationPolicy::Background
                };
                delete(&store, &node, policy).await
            }
        }
    }

    /// An owner deleted in the foreground: delete its dependents; once none blocks it, drop its finalizer.
    async fn delete_dependents_first(&mut self, registry: &Registry, node: &Node) -> Result<(), ApiError> {
        let dependents: Vec<Node> = self.graph.dependents_of(&node.uid).into_iter().cloned().collect();
        let blocking = dependents.iter().any(|d| d.owners.iter().any(|o| o.uid == node.uid && o.block));
        if !blocking {
            let Some(store) = registry.lookup(&node.resource.0, &node.resource.1, &node.resource.2) else {
                return Ok(());
            };
            return edit(&store, node, |object| remove_finalizer(object, meta::FINALIZER_FOREGROUND)).await;
        }
        for dependent in dependents.iter().filter(|d| !d.deleting) {
            self.graph.enqueue(Work::AttemptToDelete(dependent.uid.clone()));
        }
        Ok(())
    }

    /// An owner deleted with `orphan`: its dependents lose their reference to it, then it loses the finalizer.
    async fn orphan(&mut self, registry: &Registry, uid: &str) -> Result<(), ApiError> {
        let Some(node) = self.graph.node(uid).cloned() else { return Ok(()) };
        if !node.orphaning() {
            return Ok(());
        }
        let owner_uid = vec![node.uid.clone()];
        let dependents: Vec<Node> = self.graph.dependents_of(uid).into_iter().cloned().collect();
        for dependent in dependents {
            let Some(store) = registry.lookup(&dependent.resource.0, &dependent.resource.1, &dependent.resource.2)
            else {
                continue;
            };
            edit(&store, &dependent, |object| remove_owner_references(object, &owner_uid)).await?;
        }
        let Some(store) = registry.lookup(&node.resource.0, &node.resource.1, &node.resource.2) else {
            return Ok(());
        };
        edit(&store, &node, |object| remove_finalizer(object, meta::FINALIZER_ORPHAN)).await
    }

    /// Whether `owner` of `dependent` exists: from the graph, else from storage.
    async fn owner_state(
        &self,
        registry: &Registry,
        dependent: &Node,
        owner: &OwnerRef,
    ) -> Result<OwnerState, ApiError> {
        if let Some(found) = self.graph.node(&owner.uid) {
            return Ok(if found.deleting_dependents() { OwnerState::Waiting } else { OwnerState::Solid });
        }
        let Some(store) = resolve(registry, &owner.api_version, &owner.kind) else {
            return Ok(OwnerState::Unknown);
        };
        let namespace = if store.info().namespaced {
            match &dependent.namespace {
                Some(namespace) => Some(namespace.as_str()),
                // A cluster-scoped dependent cannot have a namespaced owner: unresolvable, never collected.
                None => return Ok(OwnerState::Unknown),
            }
        } else {
            None
        };
        match store.get(namespace, &owner.name, &GetOptions::default()).await {
            Ok(object) if meta::uid(&object) != owner.uid => Ok(OwnerState::Dangling),
            Ok(object) => {
                let deleting = meta::is_deleting(&object)
                    && meta::finalizers(&object).iter().any(|f| f == meta::FINALIZER_FOREGROUND);
                Ok(if deleting { OwnerState::Waiting } else { OwnerState::Solid })
            }
            Err(error) if error.code == 404 => Ok(OwnerState::Dangling),
            Err(error) => Err(error),
        }
    }
}

/// Follows one resource and reports to the collector until the resource's store goes away.
async fn monitor(store: Weak<ResourceStore>, key: ResourceKey, sender: mpsc::UnboundedSender<Message>) {
    let options = ListOptions {
        send_initial_events: Some(true),
        resource_version_match: Some(ResourceVersionMatch::NotOlderThan),
        allow_watch_bookmarks: true,
        timeout_seconds: Some(3600),
        ..ListOptions::default()
    };
    loop {
        let Some(resource) = store.upgrade() else { return };
        let watch = resource.watch(None, &options).await;
        drop(resource);
        let mut watch = match watch {
            Ok(watch) => watch,
            Err(error) => {
                tracing::debug!(?key, %error, "garbage collector monitor cannot watch yet");
                tokio::time::sleep(REWATCH_DELAY).await;
                continue;
            }
        };
        let mut initial: Option<HashSet<String>> = Some(HashSet::new());
        while let Some(event) = watch.next().await {
            if event.type_ == WatchEventType::Bookmark {
                let end = event.object.pointer("/metadata/annotations/k8s.io~1initial-events-end");
                if end.and_then(Value::as_str) == Some("true")
                    && let Some(uids) = initial.take()
                    && sender.send(Message::Synced { resource: key.clone(), uids }).is_err()
                {
                    return;
                }
                continue;
            }
            if let Some(uids) = initial.as_mut() {
                uids.insert(meta::uid(&event.object).to_string());
            }
            let message = Message::Event { resource: key.clone(), type_: event.type_, object: event.object };
            if sender.send(message).is_err() {
                return;
            }
        }
    }
}

/// The served resource of an owner reference's `apiVersion` and `kind` (any served version of its group).
fn resolve(registry: &Registry, api_version: &str, kind: &str) -> Option<Arc<ResourceStore>> {
    let group = api_version.rsplit_once('/').map(|(group, _)| group).unwrap_or_default();
    let resources = registry.resources();
    let exact = resources.iter().find(|s| s.info().kind == kind && s.info().api_version() == api_version);
    exact.or_else(|| resources.iter().find(|s| s.info().kind == kind && s.info().group == group)).cloned()
}

async fn delete(store: &ResourceStore, node: &Node, policy: PropagationPolicy) -> Result<(), ApiError> {
    let ctx = RequestContext::for_agent(AGENT);
    let options = DeleteOptions {
        propagation_policy: Some(policy),
        precondition_uid: Some(node.uid.clone()),
        ..DeleteOptions::default()
    };
    match store.delete(&ctx, node.namespace.as_deref(), &node.name, &options).await {
        Ok(_) => Ok(()),
        Err(error) if error.code == 404 || error.code == 409 => Ok(()),
        Err(error) => Err(error),
    }
}

/// Reads the object of `node`, lets `change` edit it (returning whether it did) and updates it, retrying conflicts.
async fn edit(store: &ResourceStore, node: &Node, change: impl Fn(&mut Object) -> bool) -> Result<(), ApiError> {
    let ctx = RequestContext::for_agent(AGENT);
    let namespace = node.namespace.as_deref();
    for _ in 0..EDIT_ATTEMPTS {
        let mut object = match store.get(namespace, &node.name, &GetOptions::default()).await {
            Ok(object) => object,
            Err(error) if error.code == 404 => return Ok(()),
            Err(error) => return Err(error),
        };
        if meta::uid(&object) != node.uid || !change(&mut object) {
            return Ok(());
        }
        match store.update(&ctx, namespace, &node.name, object, None, &WriteOptions::default()).await {
            Ok(_) => return Ok(()),
            Err(error) if error.code == 404 => return Ok(()),
            Err(error) if error.code == 409 => continue,
            Err(error) => return Err(error),
        }
    }
    Err(ApiError::conflict(&store.info().group_resource(), &node.name, "the object keeps changing"))
}

fn remove_owner_references(object: &mut Object, uids: &[String]) -> bool {
    let Some(references) = meta::metadata_mut(object).get_mut("ownerReferences").and_then(Value::as_array_mut) else {
        return false;
    };
    let before = references.len();
    references.retain(|r| !uids.iter().any(|uid| r.get("uid").and_then(Value::as_str) == Some(uid)));
    let changed = references.len() != before;
    if references.is_empty() {
        meta::set_meta(object, "ownerReferences", Value::Null);
    }
    changed
}

fn remove_finalizer(object: &mut Object, finalizer: &str) -> bool {
    let finalizers = meta::finalizers(object);
    let kept: Vec<String> = finalizers.iter().filter(|f| *f != finalizer).cloned().collect();
    if kept.len() == finalizers.len() {
        return false;
    }
    meta::set_finalizers(object, &kept);
    true
}
