//! The workload simulator of one cluster: an index fed by watch streams and a queue of objects to reconcile.

mod pods;
mod workloads;

use std::{
    collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque},
    sync::Arc,
    time::Duration,
};

use flotilla_apiserver::{
    machinery::{ApiError, meta, options::ListOptions},
    registry::{Registry, RequestContext, ResourceStore, WatchEvent, WatchEventType},
};
use futures::StreamExt;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::logic::{NodeUse, Resources};

/// The User-Agent (and field manager) of the simulator's writes.
const AGENT: &str = "flotilla-member-sim";

/// How long a watch that ended or failed waits before it is opened again.
const REWATCH_WAIT: Duration = Duration::from_millis(500);

/// How long a reconcile that hit a conflict or a transient error waits before it is tried again.
const RETRY_WAIT: Duration = Duration::from_millis(200);

/// `namespace`, `name`.
pub(crate) type Key = (String, String);

/// The kinds the simulator watches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Kind {
    Deployment,
    ReplicaSet,
    StatefulSet,
    DaemonSet,
    Job,
    Pod,
    Node,
}

impl Kind {
    /// Group, version and plural.
    fn resource(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Self::Deployment => ("apps", "v1", "deployments"),
            Self::ReplicaSet => ("apps", "v1", "replicasets"),
            Self::StatefulSet => ("apps", "v1", "statefulsets"),
            Self::DaemonSet => ("apps", "v1", "daemonsets"),
            Self::Job => ("batch", "v1", "jobs"),
            Self::Pod => ("", "v1", "pods"),
            Self::Node => ("", "v1", "nodes"),
        }
    }
}

/// What the index knows of one pod.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct PodEntry {
    /// The controlling owner's uid, if any.
    pub(crate) owner: Option<String>,
    /// The node it is bound to ("" while Pending).
    pub(crate) node: String,
    /// What it asks of its node.
    pub(crate) request: Resources,
    /// `status.phase`.
    pub(crate) phase: String,
    /// Whether it is Ready.
    pub(crate) ready: bool,
    /// Labels that matter to owners: `controller-revision-hash` / `pod-template-hash`.
    pub(crate) revision: String,
}

impl PodEntry {
    /// Whether it holds node resources.
    fn holds_resources(&self) -> bool {
        !self.node.is_empty() && self.phase != "Succeeded" && self.phase != "Failed"
    }
}

/// The resource stores the simulator reads and writes.
pub(crate) struct Stores {
    pub(crate) deployments: Arc<ResourceStore>,
    pub(crate) replicasets: Arc<ResourceStore>,
    pub(crate) statefulsets: Arc<ResourceStore>,
    pub(crate) daemonsets: Arc<ResourceStore>,
    pub(crate) jobs: Arc<ResourceStore>,
    pub(crate) pods: Arc<ResourceStore>,
}

/// The simulator's state: the index, the queue, and the address counters.
pub(crate) struct Simulator {
    pub(crate) stores: Stores,
    pub(crate) ctx: RequestContext,
    /// Nodes by name.
    pub(crate) nodes: BTreeMap<String, NodeUse>,
    /// Node InternalIPs.
    pub(crate) node_ips: HashMap<String, String>,
    /// Pods by key.
    pub(crate) pods: HashMap<Key, PodEntry>,
    /// Owner uid → owned ReplicaSets and Pods.
    pub(crate) children: HashMap<String, BTreeSet<Key>>,
    /// Workload uid → what it is, for reconciling the owner of a changed child.
    pub(crate) owners: HashMap<String, (Kind, Key)>,
    /// Workloads waiting to be reconciled, in order, without duplicates.
    queue: VecDeque<(Kind, Key)>,
    queued: HashSet<(Kind, Key)>,
    /// Where retries are sent back to the loop.
    retries: mpsc::UnboundedSender<(Kind, Key)>,
    /// The next pod IP.
    pub(crate) next_ip: u32,
}

/// Starts the simulator of `registry`'s cluster; it runs until the returned task is dropped.
pub fn start(registry: &Registry) -> Result<SimulatorTask, ApiError> {
    let lookup = |kind: Kind| {
        let (group, version, plural) = kind.resource();
        registry
            .lookup(group, version, plural)
            .ok_or_else(|| ApiError::internal(format!("{group}/{version} {plural} is not served")))
    };
    let stores = Stores {
        deployments: lookup(Kind::Deployment)?,
        replicasets: lookup(Kind::ReplicaSet)?,
        statefulsets: lookup(Kind::StatefulSet)?,
        daemonsets: lookup(Kind::DaemonSet)?,
        jobs: lookup(Kind::Job)?,
        pods: lookup(Kind::Pod)?,
    };
    let (events_tx, events) = mpsc::channel(1024);
    let mut watchers = Vec::new();
    for kind in
        [Kind::Node, Kind::Pod, Kind::ReplicaSet, Kind::Deployment, Kind::StatefulSet, Kind::DaemonSet, Kind::Job]
    {
        watchers.push(tokio::spawn(forward(lookup(kind)?, kind, events_tx.clone())));
    }
    let (retries, retried) = mpsc::unbounded_channel();
    let simulator = Simulator {
        stores,
        ctx: RequestContext::for_agent(AGENT),
        nodes: BTreeMap::new(),
        node_ips: HashMap::new(),
        pods: HashMap::new(),
        children: HashMap::new(),
        owners: HashMap::new(),
        queue: VecDeque::new(),
        queued: HashSet::new(),
        retries,
        next_ip: 0,
    };
    Ok(SimulatorTask(tokio::spawn(async move {
        let _watchers = AbortAll(watchers);
        simulator.run(events, retried).await;
    })))
}

/// A running simulator; dropping it stops it.
#[derive(Debug)]
pub struct SimulatorTask(tokio::task::JoinHandle<()>);

impl Drop for SimulatorTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Aborts the watch forwarders with the simulator.
struct AbortAll(Vec<tokio::task::JoinHandle<()>>);

impl Drop for AbortAll {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

/// Forwards one resource's watch events to the loop, re-opening the watch from the last seen version when it ends.
async fn forward(store: Arc<ResourceStore>, kind: Kind, events: mpsc::Sender<(Kind, WatchEvent)>) {
    let mut resource_version = String::new();
    loop {
        let options = ListOptions {
            resource_version: resource_version.clone(),
            timeout_seconds: Some(3600),
            ..ListOptions::default()
        };
        let mut watch = match store.watch(None, &options).await {
            Ok(watch) => watch,
            Err(error) => {
                tracing::debug!(%error, ?kind, "simulator watch failed; retrying");
                resource_version.clear();
                tokio::time::sleep(REWATCH_WAIT).await;
                continue;
            }
        };
        while let Some(event) = watch.next().await {
            match event.type_ {
                WatchEventType::Error => {
                    // Usually 410 Gone: start again from a fresh list (every object arrives as ADDED).
                    resource_version.clear();
                    break;
                }
                WatchEventType::Bookmark => {}
                _ => {
                    resource_version = meta::resource_version(&event.object).to_string();
                    if events.send((kind, event)).await.is_err() {
                        return;
                    }
                }
            }
        }
        tokio::time::sleep(REWATCH_WAIT).await;
    }
}

/// The controlling owner reference's uid and kind.
fn controller_of(object: &Value) -> Option<(String, String)> {
    meta::owner_references(object)
        .into_iter()
        .find(|reference| reference.controller)
        .map(|reference| (reference.uid, reference.kind))
}

fn key_of(object: &Value) -> Key {
    (meta::namespace(object).to_string(), meta::name(object).to_string())
}

impl Simulator {
    async fn run(
        mut self,
        mut events: mpsc::Receiver<(Kind, WatchEvent)>,
        mut retried: mpsc::UnboundedReceiver<(Kind, Key)>,
    ) {
        loop {
            tokio::select! {
                event = events.recv() => {
                    let Some((kind, event)) = event else { return };
                    self.observe(kind, &event);
                }
                target = retried.recv() => {
                    let Some(target) = target else { return };
                    self.enqueue(target.0, target.1);
                }
            }
            // Take in everything already waiting before reconciling, so bursts coalesce.
            while let Ok((kind, event)) = events.try_recv() {
                self.observe(kind, &event);
            }
            while let Some(target) = self.queue.pop_front() {
                self.queued.remove(&target);
                let (kind, key) = target;
                match self.reconcile(kind, &key).await {
                    Ok(()) => {}
                    Err(error) => {
                        if error.code != 409 {
                            tracing::debug!(%error, ?kind, namespace = %key.0, name = %key.1, "reconcile failed; retrying");
                        }
                        let retries = self.retries.clone();
                        tokio::spawn(async move {
                            tokio::time::sleep(RETRY_WAIT).await;
                            let _ = retries.send((kind, key));
                        });
                    }
                }
                while let Ok((kind, event)) = events.try_recv() {
                    self.observe(kind, &event);
                }
            }
        }
    }

    /// Queues a workload once.
    pub(crate) fn enqueue(&mut self, kind: Kind, key: Key) {
        if self.queued.insert((kind, key.clone())) {
            self.queue.push_back((kind, key));
        }
    }

    /// Queues the controlling owner of `object`, when it is a workload the simulator knows.
    fn enqueue_owner_uid(&mut self, uid: &str) {
        if let Some((kind, key)) = self.owners.get(uid).cloned() {
            self.enqueue(kind, key);
        }
    }

    /// Updates the index from one event and queues what it affects.
    fn observe(&mut self, kind: Kind, event: &WatchEvent) {
        let object = &event.object;
        let deleted = event.type_ == WatchEventType::Deleted;
        let key = key_of(object);
        match kind {
            Kind::Node => self.observe_node(object, deleted),
            Kind::Pod => {
                let entry = (!deleted).then(|| pods::entry_of(object));
                // The creation event of a pod the simulator created and started itself is older than what the
                // index holds (simulated pods never go back to Pending): keep the index.
                let stale = entry.as_ref().is_some_and(|entry| {
                    entry.phase == "Pending"
                        && !entry.node.is_empty()
                        && self.pods.get(&key).is_some_and(|known| known.node == entry.node && known.phase != "Pending")
                });
                if stale {
                    return;
                }
                let owner = entry.as_ref().and_then(|entry| entry.owner.clone());
                self.set_pod(key, entry);
                if let Some(owner) = owner.or_else(|| controller_of(object).map(|(uid, _)| uid)) {
                    self.enqueue_owner_uid(&owner);
                }
            }
            Kind::ReplicaSet => {
                let owner = controller_of(object).map(|(uid, _)| uid);
                let uid = meta::uid(object).to_string();
                if let Some(owner) = &owner {
                    let children = self.children.entry(owner.clone()).or_default();
                    if deleted {
                        children.remove(&key);
                    } else {
                        children.insert(key.clone());
                    }
                }
                self.track_workload(kind, key, uid, deleted);
                if let Some(owner) = owner {
                    self.enqueue_owner_uid(&owner);
                }
            }
            Kind::Deployment | Kind::StatefulSet | Kind::DaemonSet | Kind::Job => {
                self.track_workload(kind, key, meta::uid(object).to_string(), deleted);
            }
        }
    }

    /// Records (or forgets) a workload and queues it.
    fn track_workload(&mut self, kind: Kind, key: Key, uid: String, deleted: bool) {
        if deleted {
            self.owners.remove(&uid);
            if self.children.get(&uid).is_some_and(BTreeSet::is_empty) {
                self.children.remove(&uid);
            }
            return;
        }
        self.owners.insert(uid, (kind, key.clone()));
        self.enqueue(kind, key);
    }

    fn observe_node(&mut self, node: &Value, deleted: bool) {
        let name = meta::name(node).to_string();
        if deleted {
            self.nodes.remove(&name);
            self.node_ips.remove(&name);
        } else {
            let used = self.nodes.get(&name).map(|node| node.used).unwrap_or_default();
            let allocatable = pods::allocatable(node);
            let schedulable = pods::node_is_ready(node);
            self.nodes.insert(name.clone(), NodeUse { allocatable, used, schedulable });
            if let Some(ip) = pods::internal_ip(node) {
                self.node_ips.insert(name, ip);
            }
        }
        let daemonsets: Vec<Key> =
            self.owners.values().filter(|(kind, _)| *kind == Kind::DaemonSet).map(|(_, key)| key.clone()).collect();
        for key in daemonsets {
            self.enqueue(Kind::DaemonSet, key);
        }
        self.retry_pending();
    }

    /// Replaces what the index knows of a pod, keeping node usage and owners' children in step.
    pub(crate) fn set_pod(&mut self, key: Key, entry: Option<PodEntry>) {
        let old = match &entry {
            Some(entry) => self.pods.insert(key.clone(), entry.clone()),
            None => self.pods.remove(&key),
        };
        let mut freed = false;
        if let Some(old) = &old {
            if old.holds_resources()
                && let Some(node) = self.nodes.get_mut(&old.node)
            {
                node.used = node.used.minus(old.request);
                freed = true;
            }
            if let Some(owner) = &old.owner
                && entry.as_ref().is_none_or(|entry| entry.owner.as_ref() != Some(owner))
                && let Some(children) = self.children.get_mut(owner)
            {
                children.remove(&key);
            }
        }
        if let Some(entry) = &entry {
            if entry.holds_resources()
                && let Some(node) = self.nodes.get_mut(&entry.node)
            {
                node.used = node.used.plus(entry.request);
                freed = false;
            }
            if let Some(owner) = &entry.owner {
                self.children.entry(owner.clone()).or_default().insert(key);
            }
        }
        if freed {
            self.retry_pending();
        }
    }

    /// Queues the owners of Pending pods that would now fit: they replace them (see `workloads`).
    fn retry_pending(&mut self) {
        let owners: BTreeSet<String> = self
            .pods
            .values()
            .filter(|pod| pod.node.is_empty() && pod.phase == "Pending")
            .filter(|pod| crate::logic::place(&self.nodes, pod.request).is_ok())
            .filter_map(|pod| pod.owner.clone())
            .collect();
        for owner in owners {
            self.enqueue_owner_uid(&owner);
        }
    }

    /// The pods a workload owns.
    pub(crate) fn owned_pods(&self, uid: &str) -> Vec<(Key, PodEntry)> {
        self.children
            .get(uid)
            .into_iter()
            .flatten()
            .filter_map(|key| self.pods.get(key).map(|entry| (key.clone(), entry.clone())))
            .collect()
    }

    async fn reconcile(&mut self, kind: Kind, key: &Key) -> Result<(), ApiError> {
        match kind {
            Kind::Deployment => self.reconcile_deployment(key).await,
            Kind::ReplicaSet => self.reconcile_replica_set(key).await,
            Kind::StatefulSet => self.reconcile_stateful_set(key).await,
            Kind::DaemonSet => self.reconcile_daemon_set(key).await,
            Kind::Job => self.reconcile_job(key).await,
            Kind::Pod | Kind::Node => Ok(()),
        }
    }
}
