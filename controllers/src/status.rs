//! What the cluster status controller computes from one probe of a member: conditions, summaries, taints.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use flotilla_apis::cluster::v1alpha1::{
    APIEnablement, APIResource, CLUSTER_CONDITION_COMPLETE_API_ENABLEMENTS, CLUSTER_CONDITION_READY, NodeSummary,
    ResourceSummary, TAINT_CLUSTER_NOT_READY, TAINT_CLUSTER_UNREACHABLE,
};
use k8s_openapi::api::core::v1::{Node, Pod, PodSpec, Taint};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{APIResourceList, Condition, Time};

use crate::quantity::{Amount, Format};

/// Reason of `Ready=True`.
pub const REASON_CLUSTER_READY: &str = "ClusterReady";
/// Message of `Ready=True`.
pub const MESSAGE_CLUSTER_READY: &str = "cluster is healthy and ready to accept workloads";
/// Reason of `Ready=False` when the health endpoint answered, but not "ok".
pub const REASON_CLUSTER_NOT_READY: &str = "ClusterNotReady";
/// Message of `Ready=False` when the health endpoint answered, but not "ok".
pub const MESSAGE_CLUSTER_NOT_READY: &str = "cluster is reachable but health endpoint responded without ok";
/// Reason of `Ready=False` when the member could not be reached at all.
pub const REASON_CLUSTER_NOT_REACHABLE: &str = "ClusterNotReachable";
/// Message of `Ready=False` when the member could not be reached at all.
pub const MESSAGE_CLUSTER_NOT_REACHABLE: &str = "cluster is not reachable";
/// Reason of `Ready=False` when no client could be built from the Cluster and its Secret.
pub const REASON_STATUS_COLLECTION_FAILED: &str = "StatusCollectionFailed";

/// Builds a condition of `type_`; its transition time is filled in by [`set_condition`].
pub fn condition(type_: &str, reason: &str, message: impl Into<String>, status: bool) -> Condition {
    Condition {
        type_: type_.to_owned(),
        status: if status { "True" } else { "False" }.to_owned(),
        reason: reason.to_owned(),
        message: message.into(),
        observed_generation: None,
        last_transition_time: Time(jiff::Timestamp::UNIX_EPOCH),
    }
}

/// The `Ready` condition one probe observed: `online` = the member answered, `healthy` = it answered 200.
pub fn observed_ready(online: bool, healthy: bool) -> Condition {
    match (online, healthy) {
        (false, _) => {
            condition(CLUSTER_CONDITION_READY, REASON_CLUSTER_NOT_REACHABLE, MESSAGE_CLUSTER_NOT_REACHABLE, false)
        }
        (true, false) => condition(CLUSTER_CONDITION_READY, REASON_CLUSTER_NOT_READY, MESSAGE_CLUSTER_NOT_READY, false),
        (true, true) => condition(CLUSTER_CONDITION_READY, REASON_CLUSTER_READY, MESSAGE_CLUSTER_READY, true),
    }
}

/// The `CompleteAPIEnablements` condition for what discovery returned (`complete` = no group failed).
pub fn api_enablements_condition(count: usize, complete: bool) -> Condition {
    let type_ = CLUSTER_CONDITION_COMPLETE_API_ENABLEMENTS;
    if count == 0 {
        condition(type_, "Empty", "collected empty APIEnablements from the cluster", false)
    } else if !complete {
        condition(type_, "Partial", format!("might collect partial APIEnablements({count}) from the cluster"), false)
    } else {
        condition(type_, "Complete", "collected complete APIEnablements from the cluster", true)
    }
}

/// Sets `new` in `conditions` the way `meta.SetStatusCondition` does: the transition time moves only when the
/// status changes (to `now`); reason, message and generation are always taken from `new`.
pub fn set_condition(conditions: &mut Vec<Condition>, new: Condition, now: &Time) {
    match conditions.iter_mut().find(|c| c.type_ == new.type_) {
        Some(existing) => {
            if existing.status != new.status {
                existing.status = new.status;
                existing.last_transition_time = now.clone();
            }
            existing.reason = new.reason;
            existing.message = new.message;
            existing.observed_generation = new.observed_generation;
        }
        None => conditions.push(Condition { last_transition_time: now.clone(), ..new }),
    }
}

/// Finds the condition of `type_`.
pub fn find_condition<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// Debounces the `Ready` condition: a change between True and not-True is published only after the observed
/// status has held for the success (recovery) or failure threshold; flapping members keep their last status.
#[derive(Debug)]
pub struct ReadyThresholds {
    success: Duration,
    failure: Duration,
    seen: HashMap<String, (String, Instant)>,
}

impl ReadyThresholds {
    /// Thresholds for recovery (`success`) and for failure (`failure`).
    pub fn new(success: Duration, failure: Duration) -> Self {
        ReadyThresholds { success, failure, seen: HashMap::new() }
    }

    /// Forgets the clusters `keep` says no to (they were removed).
    pub fn retain(&mut self, keep: impl Fn(&str) -> bool) {
        self.seen.retain(|name, _| keep(name));
    }

    /// The `Ready` condition to publish for `cluster`, given what it currently shows and what was observed.
    pub fn adjust(
        &mut self,
        cluster: &str,
        current: Option<&Condition>,
        observed: Condition,
        now: Instant,
    ) -> Condition {
        let Some(saved) = self.seen.get_mut(cluster) else {
            // a cluster seen for the first time: publish what was observed
            self.seen.insert(cluster.to_owned(), (observed.status.clone(), now));
            return observed;
        };
        let Some(current) = current else {
            return observed;
        };
        if saved.0 != observed.status {
            *saved = (observed.status.clone(), now);
        }
        let observed_true = observed.status == "True";
        let current_true = current.status == "True";
        let threshold = if observed_true { self.success } else { self.failure };
        if observed_true != current_true && now < saved.1 + threshold {
            return current.clone();
        }
        observed
    }
}

/// The taint the scheduler sees for a `Ready` condition (none when Ready is True).
fn taint(key: &str) -> Taint {
    Taint { key: key.to_owned(), effect: "NoSchedule".to_owned(), value: None, time_added: None }
}

/// The cluster's taints after applying its `Ready` condition: `False` → `not-ready`, `Unknown` →
/// `unreachable`, `True` → neither, no condition yet → `not-ready`; other taints are kept in order, new ones are
/// appended with `timeAdded = now`. Returns `None` when nothing changes.
pub fn taints_for(current: &[Taint], ready: Option<&Condition>, now: &Time) -> Option<Vec<Taint>> {
    let not_ready = taint(TAINT_CLUSTER_NOT_READY);
    let unreachable = taint(TAINT_CLUSTER_UNREACHABLE);
    let (add, remove): (Vec<&Taint>, Vec<&Taint>) = match ready.map(|c| c.status.as_str()) {
        Some("False") => (vec![&not_ready], vec![&unreachable]),
        Some("Unknown") => (vec![&unreachable], vec![&not_ready]),
        Some("True") => (vec![], vec![&not_ready, &unreachable]),
        _ => (vec![&not_ready], vec![]),
    };
    let same = |a: &Taint, b: &Taint| a.key == b.key && a.effect == b.effect;
    let to_add: Vec<&Taint> = add.into_iter().filter(|t| !current.iter().any(|c| same(c, t))).collect();
    let to_remove: Vec<&Taint> = remove.into_iter().filter(|t| current.iter().any(|c| same(c, t))).collect();
    if to_add.is_empty() && to_remove.is_empty() {
        return None;
    }
    let mut taints: Vec<Taint> = current.iter().filter(|c| !to_remove.iter().any(|t| same(c, t))).cloned().collect();
    taints.extend(to_add.into_iter().map(|t| Taint { time_added: Some(now.clone()), ..t.clone() }));
    Some(taints)
}

/// Nodes in total and nodes whose `Ready` condition is True.
pub fn node_summary(nodes: &[Node]) -> NodeSummary {
    let ready = nodes
        .iter()
        .filter(|node| {
            let conditions = node.status.as_ref().and_then(|s| s.conditions.as_ref());
            conditions.is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        })
        .count();
    NodeSummary { total_num: Some(count(nodes.len())), ready_num: Some(count(ready)) }
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// Allocatable (sum over nodes), allocated (requests of scheduled Pods not Succeeded/Failed, plus their count)
/// and allocating (requests of unscheduled Pods, plus their count).
pub fn resource_summary(nodes: &[Node], pods: &[Pod]) -> ResourceSummary {
    let mut allocatable: BTreeMap<String, Amount> = BTreeMap::new();
    for node in nodes {
        for (name, quantity) in node.status.as_ref().and_then(|s| s.allocatable.as_ref()).into_iter().flatten() {
            let amount = Amount::of(quantity);
            allocatable.entry(name.clone()).and_modify(|sum| sum.milli += amount.milli).or_insert(amount);
        }
    }
    let allocatable = allocatable.into_iter().map(|(name, amount)| (name, amount.to_quantity())).collect();
    let mut allocating = Requests::default();
    let mut allocated = Requests::default();
    for pod in pods {
        let Some(spec) = pod.spec.as_ref() else { continue };
        let scheduled = spec.node_name.as_deref().is_some_and(|n| !n.is_empty());
        let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or_default();
        if !scheduled {
            allocating.add_pod(spec);
        } else if phase != "Succeeded" && phase != "Failed" {
            allocated.add_pod(spec);
        }
    }
    ResourceSummary {
        allocatable: Some(allocatable),
        allocating: allocating.into_list(),
        allocated: allocated.into_list(),
        allocatable_modelings: None,
    }
}

/// Running totals of Pod requests, one exact integer per resource (CPU in milli-cores, the rest in units).
#[derive(Debug, Default)]
struct Requests {
    totals: BTreeMap<String, i128>,
    pods: i128,
}

impl Requests {
    fn tracked(name: &str) -> bool {
        matches!(name, "cpu" | "memory" | "ephemeral-storage" | "pods")
            || name.contains('/')
            || name.starts_with("hugepages-")
            || name.starts_with("attachable-volumes-")
    }

    fn units(name: &str, quantity: &Quantity) -> i128 {
        let amount = Amount::of(quantity);
        if name == "cpu" { amount.milli } else { amount.value() }
    }

    fn add(&mut self, list: Option<&BTreeMap<String, Quantity>>) {
        for (name, quantity) in list.into_iter().flatten().filter(|(n, _)| Self::tracked(n)) {
            *self.totals.entry(name.clone()).or_default() += Self::units(name, quantity);
        }
    }

    fn max(&mut self, list: Option<&BTreeMap<String, Quantity>>) {
        for (name, quantity) in list.into_iter().flatten().filter(|(n, _)| Self::tracked(n)) {
            let value = Self::units(name, quantity);
            let total = self.totals.entry(name.clone()).or_default();
            *total = (*total).max(value);
        }
    }

    /// Adds a Pod: its containers' requests, at least its largest init container's, and its overhead.
    fn add_pod(&mut self, spec: &PodSpec) {
        for container in &spec.containers {
            self.add(container.resources.as_ref().and_then(|r| r.requests.as_ref()));
        }
        for container in spec.init_containers.iter().flatten() {
            self.max(container.resources.as_ref().and_then(|r| r.requests.as_ref()));
        }
        self.add(spec.overhead.as_ref());
        self.pods += 1;
    }

    fn into_list(mut self) -> Option<BTreeMap<String, Quantity>> {
        *self.totals.entry("pods".to_owned()).or_default() += self.pods;
        let list: BTreeMap<String, Quantity> = self
            .totals
            .into_iter()
            .filter(|(_, value)| *value > 0)
            .map(|(name, value)| {
                let amount = match name.as_str() {
                    "cpu" => Amount { milli: value, format: Format::DecimalSi },
                    "memory" | "ephemeral-storage" => Amount { milli: value * 1000, format: Format::BinarySi },
                    n if n.starts_with("hugepages-") => Amount { milli: value * 1000, format: Format::BinarySi },
                    _ => Amount { milli: value * 1000, format: Format::DecimalSi },
                };
                (name, amount.to_quantity())
            })
            .collect();
        (!list.is_empty()).then_some(list)
    }
}

/// One group-version's resources as Karmada records them: subresources dropped, sorted by name.
pub fn api_enablement(list: &APIResourceList) -> APIEnablement {
    let mut resources: Vec<APIResource> = list
        .resources
        .iter()
        .filter(|r| !r.name.contains('/'))
        .map(|r| APIResource { name: r.name.clone(), kind: r.kind.clone() })
        .collect();
    resources.sort_by(|a, b| a.name.cmp(&b.name));
    APIEnablement { group_version: list.group_version.clone(), resources: Some(resources) }
}

#[cfg(test)]
mod tests;
