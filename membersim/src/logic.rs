//! The simulator's pure decisions: quantities, node fit, template hashes, rollout sizes and workload status counts.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// CPU in millicores and memory in bytes, as a container asks for them or a node offers them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Resources {
    /// Millicores.
    pub cpu_milli: i64,
    /// Bytes.
    pub memory: i64,
    /// Pods (1 for a pod, the node's limit for a node).
    pub pods: i64,
}

impl Resources {
    /// The sum of both.
    pub fn plus(self, other: Self) -> Self {
        Self {
            cpu_milli: self.cpu_milli + other.cpu_milli,
            memory: self.memory + other.memory,
            pods: self.pods + other.pods,
        }
    }

    /// `self - other`.
    pub fn minus(self, other: Self) -> Self {
        Self {
            cpu_milli: self.cpu_milli - other.cpu_milli,
            memory: self.memory - other.memory,
            pods: self.pods - other.pods,
        }
    }

    /// Whether `request` fits in what is left of `self` after `used`; otherwise the names of what is short.
    pub fn fits(self, used: Self, request: Self) -> Result<(), Vec<&'static str>> {
        let left = self.minus(used);
        let mut short = Vec::new();
        if request.pods > left.pods {
            short.push("pods");
        }
        if request.cpu_milli > left.cpu_milli {
            short.push("cpu");
        }
        if request.memory > left.memory {
            short.push("memory");
        }
        if short.is_empty() { Ok(()) } else { Err(short) }
    }
}

/// Parses a Kubernetes quantity (`500m`, `2`, `1.5`, `128Mi`, `1G`, `1e3`) scaled by `scale` (1000 for millicores,
/// 1 for bytes), rounding up; `None` when it is not a quantity.
pub fn parse_quantity(text: &str, scale: i64) -> Option<i64> {
    let text = text.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-')).unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor: f64 = match suffix {
        "" => 1.0,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024.0_f64.powi(2),
        "Gi" => 1024.0_f64.powi(3),
        "Ti" => 1024.0_f64.powi(4),
        "Pi" => 1024.0_f64.powi(5),
        "Ei" => 1024.0_f64.powi(6),
        exponent if exponent.starts_with(['e', 'E']) => 10f64.powi(exponent[1..].parse().ok()?),
        _ => return None,
    };
    let value = (number * factor * scale as f64).ceil();
    (value.is_finite() && value >= 0.0 && value < i64::MAX as f64).then_some(value as i64)
}

/// What a pod asks of its node: the sum of its containers' requests (the larger of that and any init container's),
/// and one pod slot.
pub fn pod_requests(pod_spec: &Value) -> Resources {
    let of = |container: &Value| Resources {
        cpu_milli: container
            .pointer("/resources/requests/cpu")
            .and_then(quantity_text)
            .and_then(|q| parse_quantity(&q, 1000))
            .unwrap_or(0),
        memory: container
            .pointer("/resources/requests/memory")
            .and_then(quantity_text)
            .and_then(|q| parse_quantity(&q, 1))
            .unwrap_or(0),
        pods: 0,
    };
    let list = |key: &str| pod_spec.get(key).and_then(Value::as_array).cloned().unwrap_or_default();
    let sum = list("containers").iter().map(of).fold(Resources::default(), Resources::plus);
    let init = list("initContainers").iter().map(of).fold(Resources::default(), |max, r| Resources {
        cpu_milli: max.cpu_milli.max(r.cpu_milli),
        memory: max.memory.max(r.memory),
        pods: 0,
    });
    Resources { cpu_milli: sum.cpu_milli.max(init.cpu_milli), memory: sum.memory.max(init.memory), pods: 1 }
}

/// A quantity written as a string or a number.
fn quantity_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// One node as the scheduler sees it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeUse {
    /// `status.allocatable`.
    pub allocatable: Resources,
    /// The requests of the pods bound to it that have not finished.
    pub used: Resources,
    /// Whether it takes new pods (Ready and not cordoned).
    pub schedulable: bool,
}

/// Picks the node for `request`: among those it fits on, the least used (by pod count, then name); otherwise the
/// message a Pending pod's PodScheduled condition carries, in kube-scheduler's words.
pub fn place(nodes: &BTreeMap<String, NodeUse>, request: Resources) -> Result<String, String> {
    let mut shortages: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut best: Option<(&String, i64)> = None;
    let mut unschedulable = 0;
    for (name, node) in nodes {
        if !node.schedulable {
            unschedulable += 1;
            continue;
        }
        match node.allocatable.fits(node.used, request) {
            Ok(()) => {
                if best.is_none_or(|(_, pods)| node.used.pods < pods) {
                    best = Some((name, node.used.pods));
                }
            }
            Err(short) => {
                for what in short {
                    *shortages.entry(what).or_default() += 1;
                }
            }
        }
    }
    if let Some((name, _)) = best {
        return Ok(name.clone());
    }
    let mut reasons: Vec<String> = shortages
        .iter()
        .map(|(what, count)| match *what {
            "pods" => format!("{count} Too many pods"),
            other => format!("{count} Insufficient {other}"),
        })
        .collect();
    if unschedulable > 0 {
        reasons.push(format!("{unschedulable} node(s) were unschedulable"));
    }
    let detail = if reasons.is_empty() { String::new() } else { format!(" {}.", reasons.join(", ")) };
    Err(format!(
        "0/{} nodes are available:{detail} preemption: 0/{} nodes are available: {} No preemption victims found \
         for incoming pod.",
        nodes.len(),
        nodes.len(),
        nodes.len()
    ))
}

/// The `pod-template-hash` of a pod template: a short, stable, DNS-label-safe digest of it.
pub fn template_hash(template: &Value) -> String {
    let digest = Sha256::digest(template.to_string().as_bytes());
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    digest.iter().take(10).map(|byte| ALPHABET[usize::from(*byte) % ALPHABET.len()] as char).collect()
}

/// A ReplicaSet of a Deployment, as the rollout sees it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SetCounts {
    /// Its name.
    pub name: String,
    /// `spec.replicas`.
    pub desired: i64,
    /// `status.replicas`.
    pub replicas: i64,
    /// `status.readyReplicas`.
    pub ready: i64,
    /// `status.availableReplicas`.
    pub available: i64,
}

/// The `spec.replicas` each of a Deployment's ReplicaSets should have: all of `replicas` on the current one, none on
/// the others (a rollout that replaces at once).
pub fn rollout(current: &str, sets: &[SetCounts], replicas: i64) -> Vec<(String, i64)> {
    sets.iter()
        .filter_map(|set| {
            let want = if set.name == current { replicas } else { 0 };
            (set.desired != want).then(|| (set.name.clone(), want))
        })
        .collect()
}

/// A Deployment's `status` from its ReplicaSets (the current one named `current`).
pub fn deployment_status(generation: i64, replicas: i64, current: &str, sets: &[SetCounts], now: &str) -> Value {
    let total: i64 = sets.iter().map(|s| s.replicas).sum();
    let ready: i64 = sets.iter().map(|s| s.ready).sum();
    let available: i64 = sets.iter().map(|s| s.available).sum();
    let updated = sets.iter().find(|s| s.name == current).map_or(0, |s| s.replicas);
    let complete = updated == replicas && total == replicas && available == replicas;
    let (available_status, available_reason, available_message) = if available >= replicas {
        ("True", "MinimumReplicasAvailable", "Deployment has minimum availability.")
    } else {
        ("False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability.")
    };
    let (progress_reason, progress_message) = if complete {
        ("NewReplicaSetAvailable", format!("ReplicaSet \"{current}\" has successfully progressed."))
    } else {
        ("ReplicaSetUpdated", format!("ReplicaSet \"{current}\" is progressing."))
    };
    let mut status = json!({
        "observedGeneration": generation,
        "replicas": total,
        "updatedReplicas": updated,
        "readyReplicas": ready,
        "availableReplicas": available,
        "conditions": [
            condition("Available", available_status, available_reason, available_message, now),
            condition("Progressing", "True", progress_reason, &progress_message, now),
        ],
    });
    if total > available {
        status["unavailableReplicas"] = json!(total - available);
    }
    drop_zero_counts(&mut status);
    status
}

/// A condition with both timestamps at `now`.
pub fn condition(type_: &str, status: &str, reason: &str, message: &str, now: &str) -> Value {
    json!({
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message,
        "lastUpdateTime": now,
        "lastTransitionTime": now,
    })
}

/// Removes zero counts, as the Go types' `omitempty` does.
pub fn drop_zero_counts(status: &mut Value) {
    if let Some(map) = status.as_object_mut() {
        map.retain(|key, value| key == "replicas" || key == "observedGeneration" || value != &json!(0));
    }
}

/// Whether two statuses say the same, ignoring condition timestamps (so unchanged state is not rewritten).
pub fn same_status(old: Option<&Value>, new: &Value) -> bool {
    let strip = |status: &Value| {
        let mut status = status.clone();
        if let Some(conditions) = status.get_mut("conditions").and_then(Value::as_array_mut) {
            for condition in conditions {
                if let Some(map) = condition.as_object_mut() {
                    map.remove("lastUpdateTime");
                    map.remove("lastTransitionTime");
                    map.remove("lastProbeTime");
                }
            }
        }
        status
    };
    old.is_some_and(|old| strip(old) == strip(new))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(cpu: i64, memory: i64, pods: i64) -> NodeUse {
        NodeUse {
            allocatable: Resources { cpu_milli: cpu, memory, pods },
            used: Resources::default(),
            schedulable: true,
        }
    }

    #[test]
    fn quantities_parse_in_decimal_binary_and_milli_units() {
        assert_eq!(parse_quantity("500m", 1000), Some(500));
        assert_eq!(parse_quantity("2", 1000), Some(2000));
        assert_eq!(parse_quantity("1.5", 1000), Some(1500));
        assert_eq!(parse_quantity("128Mi", 1), Some(128 * 1024 * 1024));
        assert_eq!(parse_quantity("1G", 1), Some(1_000_000_000));
        assert_eq!(parse_quantity("1e3", 1), Some(1000));
        assert_eq!(parse_quantity("lots", 1), None);
    }

    #[test]
    fn a_pod_asks_for_the_sum_of_its_containers_requests() {
        let spec = json!({"containers": [
            {"name": "a", "resources": {"requests": {"cpu": "250m", "memory": "64Mi"}}},
            {"name": "b", "resources": {"requests": {"cpu": 1}}},
            {"name": "c"},
        ]});
        assert_eq!(pod_requests(&spec), Resources { cpu_milli: 1250, memory: 64 * 1024 * 1024, pods: 1 });
    }

    #[test]
    fn a_pod_goes_to_the_least_loaded_node_it_fits_on() {
        let mut nodes = BTreeMap::new();
        nodes.insert("n1".to_string(), node(4000, 1 << 30, 10));
        nodes.insert("n2".to_string(), node(4000, 1 << 30, 10));
        if let Some(n1) = nodes.get_mut("n1") {
            n1.used = Resources { cpu_milli: 100, memory: 0, pods: 3 };
        }
        let request = Resources { cpu_milli: 1000, memory: 1 << 20, pods: 1 };
        assert_eq!(place(&nodes, request), Ok("n2".to_string()));
    }

    #[test]
    fn a_pod_that_fits_nowhere_is_refused_naming_what_is_short() {
        let mut nodes = BTreeMap::new();
        nodes.insert("n1".to_string(), node(1000, 1 << 30, 110));
        nodes.insert("n2".to_string(), node(1000, 1 << 30, 0));
        let request = Resources { cpu_milli: 2000, memory: 1 << 20, pods: 1 };
        let message = place(&nodes, request).expect_err("nothing fits");
        assert!(message.starts_with("0/2 nodes are available:"), "{message}");
        assert!(message.contains("2 Insufficient cpu") && message.contains("1 Too many pods"), "{message}");
    }

    #[test]
    fn a_template_hash_is_stable_and_changes_with_the_template() {
        let one = json!({"spec": {"containers": [{"image": "nginx:1"}]}});
        let two = json!({"spec": {"containers": [{"image": "nginx:2"}]}});
        let same = json!({"spec": {"containers": [{"image": "nginx:1"}]}});
        assert_eq!(template_hash(&one), template_hash(&same));
        assert_ne!(template_hash(&one), template_hash(&two));
        assert_eq!(template_hash(&one).len(), 10);
    }

    #[test]
    fn a_rollout_moves_every_replica_to_the_current_replica_set() {
        let sets = vec![
            SetCounts { name: "web-old".into(), desired: 3, replicas: 3, ready: 3, available: 3 },
            SetCounts { name: "web-new".into(), desired: 0, ..SetCounts::default() },
        ];
        assert_eq!(rollout("web-new", &sets, 3), vec![("web-old".to_string(), 0), ("web-new".to_string(), 3)]);
        let done = vec![SetCounts { name: "web-new".into(), desired: 3, ..SetCounts::default() }];
        assert!(rollout("web-new", &done, 3).is_empty(), "nothing to change once settled");
    }

    #[test]
    fn deployment_status_counts_ready_available_and_updated_replicas() {
        let sets = vec![
            SetCounts { name: "web-old".into(), desired: 0, replicas: 1, ready: 1, available: 1 },
            SetCounts { name: "web-new".into(), desired: 3, replicas: 3, ready: 2, available: 2 },
        ];
        let status = deployment_status(4, 3, "web-new", &sets, "t");
        assert_eq!(status["observedGeneration"], 4);
        assert_eq!((status["replicas"].as_i64(), status["readyReplicas"].as_i64()), (Some(4), Some(3)));
        assert_eq!((status["updatedReplicas"].as_i64(), status["unavailableReplicas"].as_i64()), (Some(3), Some(1)));
        assert_eq!(status["conditions"][0]["status"], "True", "3 available of 3 wanted");
        assert_eq!(status["conditions"][1]["reason"], "ReplicaSetUpdated", "the old set still runs a pod");
        let settled = vec![SetCounts { name: "web-new".into(), desired: 3, replicas: 3, ready: 3, available: 3 }];
        let status = deployment_status(4, 3, "web-new", &settled, "t");
        assert_eq!(status["conditions"][1]["reason"], "NewReplicaSetAvailable");
        assert!(same_status(Some(&status), &deployment_status(4, 3, "web-new", &settled, "later")));
    }
}
