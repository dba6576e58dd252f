//! The workload controllers: Deployments, ReplicaSets, StatefulSets, DaemonSets and Jobs, each reconciled from the
//! index and its own object, writing only what changed.

use std::{collections::BTreeMap, sync::Arc};

use flotilla_apiserver::{
    machinery::{
        ApiError, meta,
        options::{GetOptions, WriteOptions},
    },
    registry::ResourceStore,
};
use serde_json::{Value, json};

use super::{
    Key, Simulator,
    pods::{Outcome, Owner, suffix},
};
use crate::logic::{self, SetCounts};

/// The label a Deployment's ReplicaSets and pods carry.
const TEMPLATE_HASH: &str = "pod-template-hash";
/// The label a StatefulSet's pods carry.
const REVISION_HASH: &str = "controller-revision-hash";

/// Reads an object, `None` when it is gone or being deleted.
async fn current(store: &ResourceStore, key: &Key) -> Result<Option<Value>, ApiError> {
    match store.get(Some(&key.0), &key.1, &GetOptions::default()).await {
        Ok(object) if meta::deletion_timestamp(&object).is_some() => Ok(None),
        Ok(object) => Ok(Some(object)),
        Err(error) if error.code == 404 => Ok(None),
        Err(error) => Err(error),
    }
}

fn int(object: &Value, pointer: &str, default: i64) -> i64 {
    object.pointer(pointer).and_then(Value::as_i64).unwrap_or(default)
}

fn owner(object: &Value, api_version: &'static str, kind: &'static str) -> Owner {
    Owner { api_version, kind, name: meta::name(object).to_string(), uid: meta::uid(object).to_string() }
}

impl Simulator {
    /// Writes `status` unless the object already says the same.
    async fn write_status(&self, store: &Arc<ResourceStore>, mut object: Value, status: Value) -> Result<(), ApiError> {
        if logic::same_status(object.get("status"), &status) {
            return Ok(());
        }
        let (namespace, name) = (meta::namespace(&object).to_string(), meta::name(&object).to_string());
        object["status"] = status;
        store.update(&self.ctx, Some(&namespace), &name, object, Some("status"), &WriteOptions::default()).await?;
        Ok(())
    }

    pub(crate) async fn reconcile_deployment(&mut self, key: &Key) -> Result<(), ApiError> {
        let store = Arc::clone(&self.stores.deployments);
        let sets_store = Arc::clone(&self.stores.replicasets);
        let Some(deployment) = current(&store, key).await? else { return Ok(()) };
        let uid = meta::uid(&deployment).to_string();
        let replicas = int(&deployment, "/spec/replicas", 1);
        let template = deployment.pointer("/spec/template").cloned().unwrap_or_else(|| json!({}));
        let hash = logic::template_hash(&template);
        let current_name = format!("{}-{hash}", key.1);
        let mut sets = Vec::new();
        let mut objects = BTreeMap::new();
        for set_key in self.children.get(&uid).cloned().unwrap_or_default() {
            let Some(set) = current(&sets_store, &set_key).await? else { continue };
            sets.push(SetCounts {
                name: set_key.1.clone(),
                desired: int(&set, "/spec/replicas", 1),
                replicas: int(&set, "/status/replicas", 0),
                ready: int(&set, "/status/readyReplicas", 0),
                available: int(&set, "/status/availableReplicas", 0),
            });
            objects.insert(set_key.1, set);
        }
        if !objects.contains_key(&current_name) {
            let set = replica_set_for(&deployment, &template, &hash, &current_name, replicas);
            match sets_store.create(&self.ctx, Some(&key.0), set, &WriteOptions::default()).await {
                Ok(_) => {}
                Err(error) if error.code == 409 => {}
                Err(error) => return Err(error),
            }
            sets.push(SetCounts { name: current_name.clone(), desired: replicas, ..SetCounts::default() });
        }
        for (name, want) in logic::rollout(&current_name, &sets, replicas) {
            let Some(mut set) = objects.remove(&name) else { continue };
            set["spec"]["replicas"] = json!(want);
            sets_store.update(&self.ctx, Some(&key.0), &name, set, None, &WriteOptions::default()).await?;
        }
        let status =
            logic::deployment_status(meta::generation(&deployment), replicas, &current_name, &sets, &meta::now());
        self.write_status(&store, deployment, status).await
    }

    pub(crate) async fn reconcile_replica_set(&mut self, key: &Key) -> Result<(), ApiError> {
        let store = Arc::clone(&self.stores.replicasets);
        let Some(set) = current(&store, key).await? else { return Ok(()) };
        let uid = meta::uid(&set).to_string();
        let replicas = int(&set, "/spec/replicas", 1);
        let template = set.pointer("/spec/template").cloned().unwrap_or_else(|| json!({}));
        let hash = set.pointer("/metadata/labels/pod-template-hash").and_then(Value::as_str).unwrap_or_default();
        let labels: Vec<(&str, String)> =
            if hash.is_empty() { Vec::new() } else { vec![(TEMPLATE_HASH, hash.to_string())] };
        let mut pods = self.owned_pods(&uid);
        // Pending pods that would fit now are replaced by pods the scheduler places.
        let mut replace = Vec::new();
        pods.retain(|(pod_key, pod)| {
            let stuck = pod.node.is_empty() && logic::place(&self.nodes, pod.request).is_ok();
            if stuck {
                replace.push(pod_key.clone());
            }
            !stuck
        });
        for pod_key in replace {
            self.delete_pod(&pod_key).await?;
        }
        let owner = owner(&set, "apps/v1", "ReplicaSet");
        let count = i64::try_from(pods.len()).unwrap_or(i64::MAX);
        if count < replicas {
            for _ in count..replicas {
                let pod_key = (key.0.clone(), format!("{}-{}", key.1, suffix(5)));
                self.create_pod(&template, pod_key, &owner, &labels, None, Outcome::Runs).await?;
            }
        } else if count > replicas {
            // Pending pods go first, then the newest names (any order will do for a simulation).
            pods.sort_by(|a, b| (!a.1.node.is_empty(), &b.0.1).cmp(&(!b.1.node.is_empty(), &a.0.1)));
            let excess = usize::try_from(count - replicas).unwrap_or(0);
            for (pod_key, _) in pods.iter().take(excess) {
                self.delete_pod(pod_key).await?;
            }
        }
        let pods = self.owned_pods(&uid);
        let total = i64::try_from(pods.len()).unwrap_or(i64::MAX);
        let ready = i64::try_from(pods.iter().filter(|(_, pod)| pod.ready).count()).unwrap_or(i64::MAX);
        let mut status = json!({
            "replicas": total,
            "fullyLabeledReplicas": total,
            "readyReplicas": ready,
            "availableReplicas": ready,
            "observedGeneration": meta::generation(&set),
        });
        logic::drop_zero_counts(&mut status);
        self.write_status(&store, set, status).await
    }

    pub(crate) async fn reconcile_stateful_set(&mut self, key: &Key) -> Result<(), ApiError> {
        let store = Arc::clone(&self.stores.statefulsets);
        let Some(set) = current(&store, key).await? else { return Ok(()) };
        let uid = meta::uid(&set).to_string();
        let replicas = int(&set, "/spec/replicas", 1);
        let template = set.pointer("/spec/template").cloned().unwrap_or_else(|| json!({}));
        let revision = format!("{}-{}", key.1, logic::template_hash(&template));
        let owner = owner(&set, "apps/v1", "StatefulSet");
        let pods = self.owned_pods(&uid);
        let ordinal = |name: &str| name.strip_prefix(&format!("{}-", key.1)).and_then(|n| n.parse::<i64>().ok());
        for (pod_key, pod) in &pods {
            let wanted = ordinal(&pod_key.1).is_some_and(|n| n < replicas);
            let stuck = pod.node.is_empty() && logic::place(&self.nodes, pod.request).is_ok();
            if !wanted || pod.revision != revision || stuck {
                self.delete_pod(pod_key).await?;
            }
        }
        for n in 0..replicas {
            let pod_key = (key.0.clone(), format!("{}-{n}", key.1));
            if self.pods.contains_key(&pod_key) {
                continue;
            }
            let mut pod_template = template.clone();
            pod_template["spec"]["hostname"] = json!(pod_key.1);
            if let Some(service) = set.pointer("/spec/serviceName").and_then(Value::as_str).filter(|s| !s.is_empty()) {
                pod_template["spec"]["subdomain"] = json!(service);
            }
            let labels = [
                (REVISION_HASH, revision.clone()),
                ("statefulset.kubernetes.io/pod-name", pod_key.1.clone()),
                ("apps.kubernetes.io/pod-index", n.to_string()),
            ];
            self.create_pod(&pod_template, pod_key, &owner, &labels, None, Outcome::Runs).await?;
        }
        let pods = self.owned_pods(&uid);
        let total = i64::try_from(pods.len()).unwrap_or(i64::MAX);
        let ready = i64::try_from(pods.iter().filter(|(_, pod)| pod.ready).count()).unwrap_or(i64::MAX);
        let mut status = json!({
            "observedGeneration": meta::generation(&set),
            "replicas": total,
            "readyReplicas": ready,
            "currentReplicas": total,
            "updatedReplicas": total,
            "availableReplicas": ready,
            "currentRevision": revision,
            "updateRevision": revision,
            "collisionCount": 0,
        });
        logic::drop_zero_counts(&mut status);
        self.write_status(&store, set, status).await
    }

    pub(crate) async fn reconcile_daemon_set(&mut self, key: &Key) -> Result<(), ApiError> {
        let store = Arc::clone(&self.stores.daemonsets);
        let Some(set) = current(&store, key).await? else { return Ok(()) };
        let uid = meta::uid(&set).to_string();
        let template = set.pointer("/spec/template").cloned().unwrap_or_else(|| json!({}));
        let revision = logic::template_hash(&template);
        let owner = owner(&set, "apps/v1", "DaemonSet");
        let nodes: Vec<String> =
            self.nodes.iter().filter(|(_, node)| node.schedulable).map(|(name, _)| name.clone()).collect();
        let mut covered = BTreeMap::new();
        for (pod_key, pod) in self.owned_pods(&uid) {
            let keep = nodes.contains(&pod.node) && pod.revision == revision && !covered.contains_key(&pod.node);
            if keep {
                covered.insert(pod.node.clone(), pod_key);
            } else {
                self.delete_pod(&pod_key).await?;
            }
        }
        for node in &nodes {
            if covered.contains_key(node) {
                continue;
            }
            let pod_key = (key.0.clone(), format!("{}-{}", key.1, suffix(5)));
            let labels = [(REVISION_HASH, revision.clone())];
            self.create_pod(&template, pod_key, &owner, &labels, Some(node), Outcome::Runs).await?;
        }
        let pods = self.owned_pods(&uid);
        let scheduled = i64::try_from(pods.len()).unwrap_or(i64::MAX);
        let ready = i64::try_from(pods.iter().filter(|(_, pod)| pod.ready).count()).unwrap_or(i64::MAX);
        let desired = i64::try_from(nodes.len()).unwrap_or(i64::MAX);
        let mut status = json!({
            "observedGeneration": meta::generation(&set),
            "desiredNumberScheduled": desired,
            "currentNumberScheduled": scheduled,
            "updatedNumberScheduled": scheduled,
            "numberReady": ready,
            "numberAvailable": ready,
            "numberMisscheduled": 0,
            "numberUnavailable": desired - ready,
        });
        logic::drop_zero_counts(&mut status);
        for always in ["desiredNumberScheduled", "currentNumberScheduled", "numberReady", "numberMisscheduled"] {
            if status.get(always).is_none() {
                status[always] = json!(0);
            }
        }
        self.write_status(&store, set, status).await
    }

    pub(crate) async fn reconcile_job(&mut self, key: &Key) -> Result<(), ApiError> {
        let store = Arc::clone(&self.stores.jobs);
        let Some(job) = current(&store, key).await? else { return Ok(()) };
        let uid = meta::uid(&job).to_string();
        let parallelism = int(&job, "/spec/parallelism", 1);
        let completions = int(&job, "/spec/completions", parallelism.max(1));
        let suspended = job.pointer("/spec/suspend") == Some(&Value::Bool(true));
        let template = job.pointer("/spec/template").cloned().unwrap_or_else(|| json!({}));
        let owner = owner(&job, "batch/v1", "Job");
        let count = |sim: &Self, phase: &str| {
            i64::try_from(sim.owned_pods(&uid).iter().filter(|(_, pod)| pod.phase == phase).count()).unwrap_or(0)
        };
        let succeeded = count(self, "Succeeded");
        let active = i64::try_from(
            self.owned_pods(&uid).iter().filter(|(_, pod)| pod.phase == "Pending" || pod.phase == "Running").count(),
        )
        .unwrap_or(0);
        let missing = (parallelism - active).min(completions - succeeded - active).max(0);
        if !suspended {
            let labels = [("batch.kubernetes.io/job-name", key.1.clone()), ("job-name", key.1.clone())];
            for _ in 0..missing {
                let pod_key = (key.0.clone(), format!("{}-{}", key.1, suffix(5)));
                self.create_pod(&template, pod_key, &owner, &labels, None, Outcome::Completes).await?;
            }
        }
        let succeeded = count(self, "Succeeded");
        let active = count(self, "Pending") + count(self, "Running");
        let ready = count(self, "Running");
        let now = meta::now();
        let start = job.pointer("/status/startTime").cloned().unwrap_or_else(|| json!(now));
        let mut status = json!({
            "startTime": start,
            "active": active,
            "succeeded": succeeded,
            "ready": ready,
            "terminating": 0,
            "uncountedTerminatedPods": {},
        });
        if succeeded >= completions {
            let done = job.pointer("/status/completionTime").cloned().unwrap_or_else(|| json!(now));
            status["completionTime"] = done;
            status["conditions"] = json!([
                job_condition(
                    "SuccessCriteriaMet",
                    "CompletionsReached",
                    "Reached expected number of succeeded pods",
                    &now
                ),
                job_condition("Complete", "CompletionsReached", "Reached expected number of succeeded pods", &now),
            ]);
        }
        logic::drop_zero_counts(&mut status);
        status["ready"] = json!(ready);
        status["terminating"] = json!(0);
        self.write_status(&store, job, status).await
    }
}

fn job_condition(type_: &str, reason: &str, message: &str, now: &str) -> Value {
    json!({"type": type_, "status": "True", "reason": reason, "message": message, "lastProbeTime": now,
        "lastTransitionTime": now})
}

/// The ReplicaSet a Deployment's template gets: the template hash in its name, labels and selector.
fn replica_set_for(deployment: &Value, template: &Value, hash: &str, name: &str, replicas: i64) -> Value {
    let mut template = template.clone();
    if !template.pointer("/metadata/labels").is_some_and(Value::is_object) {
        template["metadata"]["labels"] = json!({});
    }
    template["metadata"]["labels"][TEMPLATE_HASH] = json!(hash);
    let mut selector = deployment.pointer("/spec/selector").cloned().unwrap_or_else(|| json!({}));
    if !selector.get("matchLabels").is_some_and(Value::is_object) {
        selector["matchLabels"] = json!({});
    }
    selector["matchLabels"][TEMPLATE_HASH] = json!(hash);
    let labels = template["metadata"]["labels"].clone();
    let revision = meta::annotations(deployment).get("deployment.kubernetes.io/revision").cloned();
    let mut annotations = json!({
        "deployment.kubernetes.io/desired-replicas": replicas.to_string(),
        "deployment.kubernetes.io/max-replicas": replicas.to_string(),
    });
    if let Some(revision) = revision {
        annotations["deployment.kubernetes.io/revision"] = json!(revision);
    }
    json!({
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": name,
            "namespace": meta::namespace(deployment),
            "labels": labels,
            "annotations": annotations,
            "ownerReferences": [owner(deployment, "apps/v1", "Deployment").reference()],
        },
        "spec": {
            "replicas": replicas,
            "minReadySeconds": deployment.pointer("/spec/minReadySeconds").cloned().unwrap_or(json!(0)),
            "selector": selector,
            "template": template,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deployments_replica_set_carries_the_template_hash_in_labels_selector_and_template() {
        let deployment = json!({"metadata": {"name": "web", "namespace": "default", "uid": "d1"},
            "spec": {"selector": {"matchLabels": {"app": "web"}}}});
        let template = json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": []}});
        let set = replica_set_for(&deployment, &template, "abc", "web-abc", 3);
        assert_eq!(set["spec"]["selector"]["matchLabels"], json!({"app": "web", "pod-template-hash": "abc"}));
        assert_eq!(set["spec"]["template"]["metadata"]["labels"]["pod-template-hash"], "abc");
        assert_eq!(set["metadata"]["labels"]["pod-template-hash"], "abc");
        assert_eq!(set["metadata"]["ownerReferences"][0]["uid"], "d1");
        assert_eq!(set["spec"]["replicas"], 3);
    }
}
