//! The Node objects of a simulated cluster: capacity, allocatable, Ready, topology labels and kubelet version.

use std::collections::BTreeMap;

use flotilla_apiserver::{
    machinery::{ApiError, meta, options::WriteOptions},
    registry::{Registry, RequestContext},
};
use serde_json::{Value, json};

/// What every node of a cluster offers and how it is labelled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeShape {
    /// Nodes per cluster.
    pub count: usize,
    /// CPU capacity (a quantity, e.g. `32`).
    pub cpu: String,
    /// Memory capacity (e.g. `128Gi`).
    pub memory: String,
    /// Pod capacity.
    pub pods: u32,
    /// `nodeInfo.kubeletVersion`, e.g. `v1.31.0`.
    pub kubelet_version: String,
}

/// The node object `index` (0-based) of cluster `cluster` (the `cluster_index`th, for its addresses).
pub fn node_object(
    cluster: &str,
    cluster_index: usize,
    index: usize,
    shape: &NodeShape,
    labels: &BTreeMap<String, String>,
) -> Value {
    let name = format!("{cluster}-node-{}", index + 1);
    let mut all_labels = json!({
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "beta.kubernetes.io/arch": "amd64",
        "node.kubernetes.io/instance-type": "simulated",
    });
    for (key, value) in labels {
        all_labels[key] = json!(value);
    }
    let ip = format!("172.{}.{}.{}", 16 + (cluster_index / 256) % 16, cluster_index % 256, (index % 250) + 2);
    let now = meta::now();
    let resources = json!({
        "cpu": shape.cpu,
        "memory": shape.memory,
        "pods": shape.pods.to_string(),
        "ephemeral-storage": "100Gi",
    });
    let condition = |type_: &str, status: &str, reason: &str, message: &str| {
        json!({"type": type_, "status": status, "reason": reason, "message": message,
            "lastHeartbeatTime": now, "lastTransitionTime": now})
    };
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": all_labels},
        "spec": {"providerID": format!("flotilla-member-sim://{cluster}/{name}"), "podCIDR": format!("10.244.{index}.0/24")},
        "status": {
            "capacity": resources,
            "allocatable": resources,
            "conditions": [
                condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                condition("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
            ],
            "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "machineID": "", "systemUUID": "", "bootID": "",
                "kernelVersion": "6.1.0-flotilla",
                "osImage": "Flotilla member-sim",
                "containerRuntimeVersion": "containerd://1.7.0",
                "kubeletVersion": shape.kubelet_version,
                "kubeProxyVersion": shape.kubelet_version,
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
        },
    })
}

/// Creates the cluster's nodes (with their status) unless they exist.
///
/// # Errors
/// The registry's errors other than "already exists".
pub async fn ensure_nodes(
    registry: &Registry,
    cluster: &str,
    cluster_index: usize,
    shape: &NodeShape,
    labels: &BTreeMap<String, String>,
) -> Result<(), ApiError> {
    let store =
        registry.lookup("", "v1", "nodes").ok_or_else(|| ApiError::internal("v1 nodes is not served".to_string()))?;
    let ctx = RequestContext::for_agent("kubelet");
    for index in 0..shape.count {
        let node = node_object(cluster, cluster_index, index, shape, labels);
        let status = node["status"].clone();
        let created = match store.create(&ctx, None, node, &WriteOptions::default()).await {
            Ok(created) => created,
            Err(error) if error.code == 409 => continue,
            Err(error) => return Err(error),
        };
        let name = meta::name(&created).to_string();
        let mut with_status = created;
        with_status["status"] = status;
        store.update(&ctx, None, &name, with_status, Some("status"), &WriteOptions::default()).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_has_capacity_readiness_topology_and_kubelet_version() {
        let shape = NodeShape {
            count: 2,
            cpu: "32".into(),
            memory: "128Gi".into(),
            pods: 110,
            kubelet_version: "v1.31.0".into(),
        };
        let labels = BTreeMap::from([("topology.kubernetes.io/region".to_string(), "eu-west-1".to_string())]);
        let node = node_object("member1", 0, 1, &shape, &labels);
        assert_eq!(node["metadata"]["name"], "member1-node-2");
        assert_eq!(node["metadata"]["labels"]["kubernetes.io/hostname"], "member1-node-2");
        assert_eq!(node["metadata"]["labels"]["topology.kubernetes.io/region"], "eu-west-1");
        assert_eq!(
            node["status"]["allocatable"],
            json!({"cpu": "32", "memory": "128Gi", "pods": "110", "ephemeral-storage": "100Gi"})
        );
        assert_eq!(node["status"]["nodeInfo"]["kubeletVersion"], "v1.31.0");
        assert_eq!(node["status"]["conditions"][3]["type"], "Ready");
    }
}
