//! Pods as the simulated kubelet and scheduler make them: built from templates, bound, started and indexed.

use flotilla_apiserver::machinery::{ApiError, meta, options::WriteOptions};
use serde_json::{Map, Value, json};

use super::{Key, PodEntry, Simulator, controller_of};
use crate::logic::{self, Resources};

/// The owner a new pod gets.
#[derive(Clone, Debug)]
pub(crate) struct Owner {
    pub(crate) api_version: &'static str,
    pub(crate) kind: &'static str,
    pub(crate) name: String,
    pub(crate) uid: String,
}

impl Owner {
    /// The owner reference naming it as controller.
    pub(crate) fn reference(&self) -> Value {
        json!({
            "apiVersion": self.api_version,
            "kind": self.kind,
            "name": self.name,
            "uid": self.uid,
            "controller": true,
            "blockOwnerDeletion": true,
        })
    }
}

/// What the index keeps of a pod.
pub(crate) fn entry_of(pod: &Value) -> PodEntry {
    let labels = pod.pointer("/metadata/labels");
    let revision = ["controller-revision-hash", "pod-template-hash"]
        .iter()
        .find_map(|label| labels.and_then(|l| l.get(*label)).and_then(Value::as_str))
        .unwrap_or_default();
    PodEntry {
        owner: controller_of(pod).map(|(uid, _)| uid),
        node: pod.pointer("/spec/nodeName").and_then(Value::as_str).unwrap_or_default().to_string(),
        request: pod.get("spec").map(logic::pod_requests).unwrap_or_default(),
        phase: pod.pointer("/status/phase").and_then(Value::as_str).unwrap_or("Pending").to_string(),
        ready: condition_is_true(pod, "Ready"),
        revision: revision.to_string(),
    }
}

fn condition_is_true(object: &Value, type_: &str) -> bool {
    object
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|conditions| conditions.iter().any(|c| c["type"] == type_ && c["status"] == "True"))
}

/// A node's `status.allocatable`.
pub(crate) fn allocatable(node: &Value) -> Resources {
    let quantity = |name: &str, scale: i64| {
        node.pointer(&format!("/status/allocatable/{name}"))
            .and_then(Value::as_str)
            .and_then(|text| logic::parse_quantity(text, scale))
            .unwrap_or(0)
    };
    Resources { cpu_milli: quantity("cpu", 1000), memory: quantity("memory", 1), pods: quantity("pods", 1) }
}

/// Whether a node takes pods: Ready and not cordoned.
pub(crate) fn node_is_ready(node: &Value) -> bool {
    condition_is_true(node, "Ready") && node.pointer("/spec/unschedulable") != Some(&Value::Bool(true))
}

/// A node's InternalIP.
pub(crate) fn internal_ip(node: &Value) -> Option<String> {
    node.pointer("/status/addresses")?
        .as_array()?
        .iter()
        .find(|address| address["type"] == "InternalIP")
        .and_then(|address| address["address"].as_str())
        .map(str::to_string)
}

/// A lowercase random suffix like the ones generated names get.
pub(crate) fn suffix(length: usize) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    (0..length).map(|_| ALPHABET[fastrand::usize(..ALPHABET.len())] as char).collect()
}

/// A pod from `template` named `name` in `namespace`, owned by `owner`, bound to `node` when given.
pub(crate) fn build(
    template: &Value,
    namespace: &str,
    name: &str,
    owner: &Owner,
    labels: &[(&str, String)],
    node: Option<&str>,
) -> Value {
    let mut metadata = template.get("metadata").cloned().unwrap_or_else(|| json!({}));
    if !metadata.is_object() {
        metadata = json!({});
    }
    metadata["name"] = json!(name);
    metadata["namespace"] = json!(namespace);
    metadata["ownerReferences"] = json!([owner.reference()]);
    if !metadata.get("labels").is_some_and(Value::is_object) {
        metadata["labels"] = json!({});
    }
    for (label, value) in labels {
        metadata["labels"][*label] = json!(value);
    }
    let mut spec = template.get("spec").cloned().unwrap_or_else(|| json!({}));
    if let Some(node) = node {
        spec["nodeName"] = json!(node);
    }
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec})
}

/// How a new pod ends up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// It keeps running (Deployments, StatefulSets, DaemonSets).
    Runs,
    /// It runs to completion (Jobs).
    Completes,
}

impl Simulator {
    /// The next pod IP, from 10.244.0.0/16.
    fn pod_ip(&mut self) -> String {
        self.next_ip = self.next_ip.wrapping_add(1);
        let n = self.next_ip % (256 * 254);
        format!("10.244.{}.{}", n / 254, n % 254 + 1)
    }

    /// Creates a pod from `template`: bound to `pinned`, or to the node the scheduler picks, and started; Pending
    /// with `PodScheduled=False` when it fits nowhere.
    pub(crate) async fn create_pod(
        &mut self,
        template: &Value,
        key: Key,
        owner: &Owner,
        labels: &[(&str, String)],
        pinned: Option<&str>,
        outcome: Outcome,
    ) -> Result<(), ApiError> {
        let request = template.get("spec").map(logic::pod_requests).unwrap_or_default();
        let placed = match pinned {
            Some(node) => Ok(node.to_string()),
            None => logic::place(&self.nodes, request),
        };
        let (namespace, name) = &key;
        let pod = build(template, namespace, name, owner, labels, placed.as_deref().ok());
        let created = self.stores.pods.create(&self.ctx, Some(namespace), pod, &WriteOptions::default()).await?;
        let now = meta::now();
        let (status, entry) = match &placed {
            Ok(node) => {
                let host_ip = self.node_ips.get(node).cloned().unwrap_or_default();
                let pod_ip = self.pod_ip();
                let status = started_status(&created, &host_ip, &pod_ip, &now, outcome);
                let mut entry = entry_of(&created);
                entry.phase = status["phase"].as_str().unwrap_or("Running").to_string();
                entry.ready = outcome == Outcome::Runs;
                (status, entry)
            }
            Err(message) => (pending_status(&created, message, &now), entry_of(&created)),
        };
        // Count the pod at once, so the next placement in this pass sees the node's new load.
        self.set_pod(key.clone(), Some(entry));
        let mut with_status = created;
        with_status["status"] = status;
        self.stores
            .pods
            .update(&self.ctx, Some(namespace), name, with_status, Some("status"), &WriteOptions::default())
            .await?;
        Ok(())
    }

    /// Deletes a pod and forgets it at once (so its node's resources are free for the next placement).
    pub(crate) async fn delete_pod(&mut self, key: &Key) -> Result<(), ApiError> {
        let (namespace, name) = key;
        let deleted = self.stores.pods.delete(&self.ctx, Some(namespace), name, &Default::default()).await;
        match deleted {
            Ok(_) => {}
            Err(error) if error.code == 404 => {}
            Err(error) => return Err(error),
        }
        self.set_pod(key.clone(), None);
        Ok(())
    }
}

/// Merges `fields` into the created pod's status (keeping what creation set, such as `qosClass`).
fn merged_status(created: &Value, fields: Value) -> Value {
    let mut status: Map<String, Value> = created.get("status").and_then(Value::as_object).cloned().unwrap_or_default();
    if let Value::Object(fields) = fields {
        status.extend(fields);
    }
    Value::Object(status)
}

/// The status of a started pod: Running and Ready, or Succeeded for one that runs to completion.
fn started_status(created: &Value, host_ip: &str, pod_ip: &str, now: &str, outcome: Outcome) -> Value {
    let running = outcome == Outcome::Runs;
    let containers: Vec<Value> = created
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|container| {
            let name = container["name"].as_str().unwrap_or_default();
            let image = container["image"].as_str().unwrap_or_default();
            let state = if running {
                json!({"running": {"startedAt": now}})
            } else {
                json!({"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": now, "finishedAt": now,
                    "containerID": format!("containerd://{}", suffix(32))}})
            };
            json!({
                "name": name,
                "image": image,
                "imageID": format!("{image}@sha256:{}", suffix(32)),
                "containerID": format!("containerd://{}", suffix(32)),
                "ready": running,
                "started": running,
                "restartCount": 0,
                "state": state,
            })
        })
        .collect();
    let ready = if running { "True" } else { "False" };
    let reason = if running { None } else { Some("PodCompleted") };
    let condition = |type_: &str, status: &str| {
        let mut condition = json!({"type": type_, "status": status, "lastProbeTime": null, "lastTransitionTime": now});
        if let Some(reason) = reason.filter(|_| status == "False") {
            condition["reason"] = json!(reason);
        }
        condition
    };
    merged_status(
        created,
        json!({
            "phase": if running { "Running" } else { "Succeeded" },
            "conditions": [
                condition("PodReadyToStartContainers", ready),
                condition("Initialized", "True"),
                condition("Ready", ready),
                condition("ContainersReady", ready),
                condition("PodScheduled", "True"),
            ],
            "hostIP": host_ip,
            "hostIPs": [{"ip": host_ip}],
            "podIP": pod_ip,
            "podIPs": [{"ip": pod_ip}],
            "startTime": now,
            "containerStatuses": containers,
        }),
    )
}

/// The status of a pod that fits on no node.
fn pending_status(created: &Value, message: &str, now: &str) -> Value {
    merged_status(
        created,
        json!({
            "phase": "Pending",
            "conditions": [{
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": message,
                "lastProbeTime": null,
                "lastTransitionTime": now,
            }],
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner() -> Owner {
        Owner { api_version: "apps/v1", kind: "ReplicaSet", name: "web-abc".into(), uid: "u1".into() }
    }

    #[test]
    fn a_pod_built_from_a_template_is_owned_labelled_and_bound() {
        let template = json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c",
            "image": "nginx", "resources": {"requests": {"cpu": "100m"}}}]}});
        let pod =
            build(&template, "default", "web-abc-x", &owner(), &[("pod-template-hash", "abc".into())], Some("n1"));
        assert_eq!(pod["metadata"]["labels"], json!({"app": "web", "pod-template-hash": "abc"}));
        assert_eq!(pod["metadata"]["ownerReferences"][0]["controller"], true);
        assert_eq!(pod["spec"]["nodeName"], "n1");
        let entry = entry_of(&pod);
        assert_eq!((entry.owner.as_deref(), entry.node.as_str(), entry.revision.as_str()), (Some("u1"), "n1", "abc"));
        assert_eq!(entry.request.cpu_milli, 100);
    }

    #[test]
    fn a_started_pod_is_running_and_ready_with_addresses_and_container_statuses() {
        let pod =
            json!({"spec": {"containers": [{"name": "c", "image": "nginx"}]}, "status": {"qosClass": "BestEffort"}});
        let status = started_status(&pod, "172.18.0.2", "10.244.0.5", "t", Outcome::Runs);
        assert_eq!((status["phase"].as_str(), status["podIP"].as_str()), (Some("Running"), Some("10.244.0.5")));
        assert_eq!(status["qosClass"], "BestEffort", "creation's fields are kept");
        assert_eq!(status["containerStatuses"][0]["ready"], true);
        assert!(condition_is_true(&json!({"status": status}), "Ready"));
        let done = started_status(&pod, "h", "p", "t", Outcome::Completes);
        assert_eq!(done["phase"], "Succeeded");
        assert_eq!(done["containerStatuses"][0]["state"]["terminated"]["reason"], "Completed");
    }
}
