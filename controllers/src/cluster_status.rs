//! The cluster status controller: probes every member each period, publishes its status, and taints it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use flotilla_apis::cluster::v1alpha1::{CLUSTER_CONDITION_READY, Cluster, ClusterSpec, ClusterStatus};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::{Api, ListParams, PostParams};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use tokio::sync::Mutex;

use crate::member;
use crate::status::{self, ReadyThresholds};

/// Timing of the controller.
#[derive(Clone, Debug)]
pub struct StatusOptions {
    /// How often each member is probed.
    pub update_frequency: Duration,
    /// How long a member must be seen healthy again before Ready turns True.
    pub success_threshold: Duration,
    /// How long a member must be seen failing before Ready turns False.
    pub failure_threshold: Duration,
}

/// A cached member client, valid while the Cluster's connection fields and its Secret are unchanged.
struct Cached {
    key: String,
    client: kube::Client,
}

/// State shared by the probes of all clusters.
struct Shared {
    flotilla: kube::Client,
    thresholds: Mutex<ReadyThresholds>,
    clients: Mutex<HashMap<String, Cached>>,
}

/// Runs the controller until the process stops (or the future is dropped): a reflector keeps the Cluster list, and
/// each period every cluster whose previous sync has finished is synced, concurrently.
pub async fn run(flotilla: kube::Client, options: StatusOptions) {
    let clusters: Api<Cluster> = Api::all(flotilla.clone());
    let (store, writer) = reflector::store();
    let stream = reflector(writer, watcher(clusters, watcher::Config::default()).default_backoff()).touched_objects();
    let changed = Arc::new(tokio::sync::Notify::new());
    let notify = Arc::clone(&changed);
    let _watch = AbortOnDrop(tokio::spawn(async move {
        futures::pin_mut!(stream);
        while let Some(event) = stream.next().await {
            match event {
                Ok(_) => notify.notify_one(),
                Err(error) => tracing::warn!(%error, "watching clusters"),
            }
        }
    }));
    let shared = Arc::new(Shared {
        flotilla,
        thresholds: Mutex::new(ReadyThresholds::new(options.success_threshold, options.failure_threshold)),
        clients: Mutex::new(HashMap::new()),
    });
    if store.wait_until_ready().await.is_err() {
        tracing::error!("the cluster watch ended before its first list");
        return;
    }
    let mut ticker = tokio::time::interval(options.update_frequency);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // one sync per cluster at a time; a slow member delays only its own next round. The JoinSet aborts the
    // syncs still running when this future is dropped (shutdown, lost leadership).
    let mut tasks = tokio::task::JoinSet::new();
    let mut busy: HashMap<tokio::task::Id, String> = HashMap::new();
    // names synced at least once: a cluster appearing between ticks is synced at once, the rest wait for the tick
    let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
    loop {
        let only_new = tokio::select! {
            _ = ticker.tick() => false,
            () = changed.notified() => true,
        };
        while let Some(done) = tasks.try_join_next_with_id() {
            let id = match done {
                Ok((id, ())) => id,
                Err(error) => error.id(),
            };
            busy.remove(&id);
        }
        let current = store.state();
        forget_removed(&shared, &current).await;
        seen.retain(|name| current.iter().any(|c| c.metadata.name.as_deref() == Some(name.as_str())));
        for cluster in current {
            let name = cluster.metadata.name.clone().unwrap_or_default();
            if busy.values().any(|n| *n == name) || (only_new && seen.contains(&name)) {
                continue;
            }
            seen.insert(name.clone());
            let shared = Arc::clone(&shared);
            let cluster = Cluster::clone(&cluster);
            let task_name = name.clone();
            let handle = tasks.spawn(async move {
                if let Err(error) = sync_cluster(&shared, cluster).await {
                    tracing::warn!(cluster = %task_name, %error, "updating cluster status");
                }
            });
            busy.insert(handle.id(), name);
        }
    }
}

/// Aborts a background task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn forget_removed(shared: &Shared, current: &[Arc<Cluster>]) {
    let names: Vec<&str> = current.iter().filter_map(|c| c.metadata.name.as_deref()).collect();
    shared.clients.lock().await.retain(|name, _| names.contains(&name.as_str()));
    shared.thresholds.lock().await.retain(|name| names.contains(&name));
}

/// Identifies what a member client was built from.
fn client_key(spec: &ClusterSpec, secret: &Secret) -> String {
    format!(
        "{:?}|{:?}|{:?}|{:?}",
        spec.api_endpoint, spec.insecure_skip_tls_verification, secret.metadata.uid, secret.metadata.resource_version
    )
}

async fn member_client(shared: &Shared, cluster: &Cluster) -> Result<kube::Client, String> {
    let name = cluster.metadata.name.clone().unwrap_or_default();
    let secret_ref = cluster.spec.secret_ref.as_ref().ok_or("the cluster has no secretRef")?;
    let secrets: Api<Secret> = Api::namespaced(shared.flotilla.clone(), &secret_ref.namespace);
    let secret = secrets
        .get(&secret_ref.name)
        .await
        .map_err(|e| format!("reading secret {}/{}: {e}", secret_ref.namespace, secret_ref.name))?;
    let key = client_key(&cluster.spec, &secret);
    let mut clients = shared.clients.lock().await;
    if let Some(cached) = clients.get(&name).filter(|c| c.key == key) {
        return Ok(cached.client.clone());
    }
    let client = member::client_for_cluster(cluster, &secret).map_err(|e| e.to_string())?;
    clients.insert(name, Cached { key, client: client.clone() });
    Ok(client)
}

/// Health of a member as Karmada judges it: `/readyz` (or `/healthz` where `/readyz` is 404). Any error or
/// non-2xx answer means unreachable; a 2xx that is not 200 means reachable but not healthy.
pub async fn probe(client: &kube::Client) -> (bool, bool) {
    let mut status = get_status(client, "/readyz").await;
    if status == Some(404) {
        status = get_status(client, "/healthz").await;
    }
    match status {
        Some(200) => (true, true),
        Some(code) if (200..300).contains(&code) => (true, false),
        _ => (false, false),
    }
}

async fn get_status(client: &kube::Client, path: &str) -> Option<u16> {
    let request = http::Request::get(path).body(kube::client::Body::empty()).ok()?;
    let response = tokio::time::timeout(member::READ_TIMEOUT, client.send(request)).await.ok()?.ok()?;
    Some(response.status().as_u16())
}

fn timestamp() -> Time {
    Time(jiff::Timestamp::now())
}

async fn sync_cluster(shared: &Shared, cluster: Cluster) -> Result<(), kube::Error> {
    let name = cluster.metadata.name.clone().unwrap_or_default();
    let current_ready = cluster
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .and_then(|c| status::find_condition(c, CLUSTER_CONDITION_READY))
        .cloned();
    let adjust = |observed: Condition| async {
        shared.thresholds.lock().await.adjust(&name, current_ready.as_ref(), observed, Instant::now())
    };
    let client = match member_client(shared, &cluster).await {
        Ok(client) => client,
        Err(problem) => {
            let observed = status::condition(
                CLUSTER_CONDITION_READY,
                status::REASON_STATUS_COLLECTION_FAILED,
                format!("failed to create a ClusterClient: {problem}"),
                false,
            );
            let ready = adjust(observed).await;
            return publish(shared, cluster, None, vec![ready]).await;
        }
    };
    let (online, healthy) = probe(&client).await;
    let ready = adjust(status::observed_ready(online, healthy)).await;
    if online && healthy && ready.status == "True" {
        let (collected, api_condition) = collect(&client).await;
        return publish(shared, cluster, Some(collected), vec![api_condition, ready]).await;
    }
    publish(shared, cluster, None, vec![ready]).await
}

/// Version, APIs, nodes and resources of a healthy member, plus the `CompleteAPIEnablements` condition.
async fn collect(client: &kube::Client) -> (ClusterStatus, Condition) {
    let mut collected = ClusterStatus::default();
    match client.apiserver_version().await {
        Ok(info) => collected.kubernetes_version = Some(info.git_version),
        Err(error) => tracing::warn!(%error, "reading the member's version"),
    }
    let (enablements, complete) = api_enablements(client).await;
    let condition = status::api_enablements_condition(enablements.len(), complete);
    collected.api_enablements = (!enablements.is_empty()).then_some(enablements);
    let nodes = Api::<Node>::all(client.clone()).list(&ListParams::default()).await.map(|l| l.items);
    let pods = Api::<Pod>::all(client.clone()).list(&ListParams::default()).await.map(|l| l.items);
    let nodes = nodes.unwrap_or_else(|error| {
        tracing::warn!(%error, "listing the member's nodes");
        Vec::new()
    });
    let pods = pods.unwrap_or_else(|error| {
        tracing::warn!(%error, "listing the member's pods");
        Vec::new()
    });
    collected.node_summary = Some(status::node_summary(&nodes));
    collected.resource_summary = Some(status::resource_summary(&nodes, &pods));
    (collected, condition)
}

/// Every group-version the member serves with its resources, sorted; `false` when some could not be read.
async fn api_enablements(client: &kube::Client) -> (Vec<flotilla_apis::cluster::v1alpha1::APIEnablement>, bool) {
    let mut complete = true;
    let mut lists = Vec::new();
    match client.list_core_api_versions().await {
        Ok(core) => {
            for version in core.versions {
                match client.list_core_api_resources(&version).await {
                    Ok(list) => lists.push(list),
                    Err(_) => complete = false,
                }
            }
        }
        Err(_) => complete = false,
    }
    match client.list_api_groups().await {
        Ok(groups) => {
            for group in groups.groups {
                for version in group.versions {
                    match client.list_api_group_resources(&version.group_version).await {
                        Ok(list) => lists.push(list),
                        Err(_) => complete = false,
                    }
                }
            }
        }
        Err(_) => complete = false,
    }
    let mut enablements: Vec<_> = lists.iter().map(status::api_enablement).collect();
    enablements.sort_by(|a, b| a.group_version.cmp(&b.group_version));
    (enablements, complete)
}

/// Writes the new status when it differs from the current one, then the taints its Ready condition implies.
async fn publish(
    shared: &Shared,
    mut cluster: Cluster,
    collected: Option<ClusterStatus>,
    conditions: Vec<Condition>,
) -> Result<(), kube::Error> {
    let api: Api<Cluster> = Api::all(shared.flotilla.clone());
    let name = cluster.metadata.name.clone().unwrap_or_default();
    for attempt in 0..2 {
        let old = cluster.status.clone().unwrap_or_default();
        let mut new = old.clone();
        if let Some(collected) = &collected {
            new.kubernetes_version = collected.kubernetes_version.clone();
            new.api_enablements = collected.api_enablements.clone();
            new.node_summary = collected.node_summary.clone();
            new.resource_summary = collected.resource_summary.clone();
        }
        let now = timestamp();
        let mut list = new.conditions.take().unwrap_or_default();
        for condition in &conditions {
            status::set_condition(&mut list, condition.clone(), &now);
        }
        new.conditions = Some(list);
        if new != old {
            cluster.status = Some(new);
            match api.replace_status(&name, &PostParams::default(), &cluster).await {
                Ok(updated) => cluster = updated,
                Err(kube::Error::Api(s)) if s.code == 409 && attempt == 0 => {
                    cluster = api.get(&name).await?;
                    continue;
                }
                Err(error) => return Err(error),
            }
        }
        return taint(&api, cluster).await;
    }
    Ok(())
}

/// The `cluster` controller's part: keeps `spec.taints` in line with the Ready condition.
async fn taint(api: &Api<Cluster>, mut cluster: Cluster) -> Result<(), kube::Error> {
    let name = cluster.metadata.name.clone().unwrap_or_default();
    let ready = cluster
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .and_then(|c| status::find_condition(c, CLUSTER_CONDITION_READY))
        .cloned();
    let current = cluster.spec.taints.clone().unwrap_or_default();
    if let Some(taints) = status::taints_for(&current, ready.as_ref(), &timestamp()) {
        cluster.spec.taints = (!taints.is_empty()).then_some(taints);
        api.replace(&name, &PostParams::default(), &cluster).await?;
    }
    Ok(())
}
