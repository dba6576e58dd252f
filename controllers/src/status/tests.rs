//! Unit tests of the status computations: summaries, Ready debouncing, condition times and taints.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{
    Container, Node, NodeCondition, NodeStatus, Pod, PodSpec, PodStatus, ResourceRequirements, Taint,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::*;

fn list(entries: &[(&str, &str)]) -> BTreeMap<String, Quantity> {
    entries.iter().map(|(k, v)| ((*k).to_owned(), Quantity((*v).to_owned()))).collect()
}

fn node(ready: bool, allocatable: &[(&str, &str)]) -> Node {
    Node {
        status: Some(NodeStatus {
            allocatable: Some(list(allocatable)),
            conditions: Some(vec![NodeCondition {
                type_: "Ready".into(),
                status: if ready { "True" } else { "False" }.into(),
                ..NodeCondition::default()
            }]),
            ..NodeStatus::default()
        }),
        ..Node::default()
    }
}

fn pod(node: Option<&str>, phase: &str, requests: &[&[(&str, &str)]], init: &[(&str, &str)]) -> Pod {
    let container = |r: &[(&str, &str)]| Container {
        name: "c".into(),
        resources: Some(ResourceRequirements { requests: Some(list(r)), ..ResourceRequirements::default() }),
        ..Container::default()
    };
    Pod {
        spec: Some(PodSpec {
            node_name: node.map(str::to_owned),
            containers: requests.iter().map(|r| container(r)).collect(),
            init_containers: (!init.is_empty()).then(|| vec![container(init)]),
            ..PodSpec::default()
        }),
        status: Some(PodStatus { phase: Some(phase.into()), ..PodStatus::default() }),
        ..Pod::default()
    }
}

fn text(list: &Option<BTreeMap<String, Quantity>>) -> BTreeMap<String, String> {
    list.iter().flatten().map(|(k, v)| (k.clone(), v.0.clone())).collect()
}

fn expect(entries: &[(&str, &str)]) -> BTreeMap<String, String> {
    entries.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

#[test]
fn nodes_are_counted_in_total_and_ready() {
    let nodes = [node(true, &[]), node(false, &[]), node(true, &[])];
    let summary = node_summary(&nodes);
    assert_eq!((summary.total_num, summary.ready_num), (Some(3), Some(2)));
}

#[test]
fn the_resource_summary_sums_allocatable_and_splits_pods_into_allocated_and_allocating() {
    let nodes = [
        node(true, &[("cpu", "32"), ("memory", "128Gi"), ("pods", "110")]),
        node(true, &[("cpu", "31500m"), ("memory", "128Gi"), ("pods", "110")]),
    ];
    let pods = [
        pod(Some("n1"), "Running", &[&[("cpu", "500m"), ("memory", "1Gi")], &[("cpu", "1")]], &[]),
        pod(Some("n2"), "Running", &[&[("cpu", "250m"), ("memory", "512Mi")]], &[("cpu", "4")]),
        // finished Pods free their requests
        pod(Some("n1"), "Succeeded", &[&[("cpu", "8")]], &[]),
        pod(Some("n1"), "Failed", &[&[("cpu", "8")]], &[]),
        // unscheduled Pods are allocating
        pod(None, "Pending", &[&[("cpu", "2"), ("memory", "4Gi"), ("nvidia.com/gpu", "1")]], &[]),
    ];
    let summary = resource_summary(&nodes, &pods);
    assert_eq!(text(&summary.allocatable), expect(&[("cpu", "63500m"), ("memory", "256Gi"), ("pods", "220")]));
    // 500m + 1 + 250m = 1750m; the init container's 4 CPUs then raise the running total to 4 (Karmada applies an
    // init container's request as a floor on the running total)
    assert_eq!(text(&summary.allocated), expect(&[("cpu", "4"), ("memory", "1536Mi"), ("pods", "2")]));
    assert_eq!(
        text(&summary.allocating),
        expect(&[("cpu", "2"), ("memory", "4Gi"), ("nvidia.com/gpu", "1"), ("pods", "1")])
    );
}

#[test]
fn a_cluster_without_pods_has_nothing_allocated() {
    let summary = resource_summary(&[node(true, &[("cpu", "4")])], &[]);
    assert_eq!(summary.allocated, None);
    assert_eq!(summary.allocating, None);
}

fn ready_with(status: bool) -> Condition {
    observed_ready(status, status)
}

#[test]
fn the_ready_condition_uses_karmadas_reasons_and_messages() {
    let reachable_unhealthy = observed_ready(true, false);
    assert_eq!(
        (reachable_unhealthy.status.as_str(), reachable_unhealthy.reason.as_str()),
        ("False", "ClusterNotReady")
    );
    let unreachable = observed_ready(false, false);
    assert_eq!(
        (unreachable.status.as_str(), unreachable.reason.as_str(), unreachable.message.as_str()),
        ("False", "ClusterNotReachable", "cluster is not reachable")
    );
    let ready = observed_ready(true, true);
    assert_eq!(ready.message, "cluster is healthy and ready to accept workloads");
}

#[test]
fn a_failing_cluster_keeps_ready_true_until_the_failure_threshold_passes() {
    let mut thresholds = ReadyThresholds::new(Duration::from_secs(30), Duration::from_secs(40));
    let start = Instant::now();
    let published = ready_with(true);
    assert_eq!(thresholds.adjust("m", None, ready_with(true), start).status, "True");
    // first failure: the threshold starts now; the published condition stays True
    let kept = thresholds.adjust("m", Some(&published), ready_with(false), start + Duration::from_secs(10));
    assert_eq!(kept.status, "True");
    let kept = thresholds.adjust("m", Some(&published), ready_with(false), start + Duration::from_secs(45));
    assert_eq!(kept.status, "True", "40 s have not passed since the first failure");
    let flipped = thresholds.adjust("m", Some(&published), ready_with(false), start + Duration::from_secs(51));
    assert_eq!((flipped.status.as_str(), flipped.reason.as_str()), ("False", "ClusterNotReachable"));
}

#[test]
fn a_recovered_cluster_turns_ready_only_after_the_success_threshold() {
    let mut thresholds = ReadyThresholds::new(Duration::from_secs(30), Duration::from_secs(40));
    let start = Instant::now();
    let published = thresholds.adjust("m", None, ready_with(false), start);
    assert_eq!(published.status, "False");
    let kept = thresholds.adjust("m", Some(&published), ready_with(true), start + Duration::from_secs(5));
    assert_eq!(kept.status, "False");
    // a blip of failure restarts the clock
    let kept = thresholds.adjust("m", Some(&published), ready_with(false), start + Duration::from_secs(20));
    assert_eq!(kept.status, "False");
    let kept = thresholds.adjust("m", Some(&published), ready_with(true), start + Duration::from_secs(40));
    assert_eq!(kept.status, "False");
    let ready = thresholds.adjust("m", Some(&published), ready_with(true), start + Duration::from_secs(71));
    assert_eq!(ready.status, "True");
}

#[test]
fn the_transition_time_moves_only_when_the_status_changes() {
    let t1 = Time(jiff::Timestamp::from_second(1_000).unwrap_or(jiff::Timestamp::UNIX_EPOCH));
    let t2 = Time(jiff::Timestamp::from_second(2_000).unwrap_or(jiff::Timestamp::UNIX_EPOCH));
    let t3 = Time(jiff::Timestamp::from_second(3_000).unwrap_or(jiff::Timestamp::UNIX_EPOCH));
    let mut conditions = Vec::new();
    set_condition(&mut conditions, observed_ready(false, false), &t1);
    set_condition(&mut conditions, observed_ready(true, false), &t2);
    assert_eq!(conditions[0].last_transition_time, t1, "False → False keeps the time");
    assert_eq!(conditions[0].reason, "ClusterNotReady");
    set_condition(&mut conditions, observed_ready(true, true), &t3);
    assert_eq!((conditions[0].status.as_str(), &conditions[0].last_transition_time), ("True", &t3));
    assert_eq!(conditions.len(), 1);
}

fn keys(taints: &[Taint]) -> Vec<&str> {
    taints.iter().map(|t| t.key.as_str()).collect()
}

#[test]
fn taints_follow_the_ready_condition() {
    let now = Time(jiff::Timestamp::UNIX_EPOCH);
    let user = Taint { key: "dedicated".into(), effect: "NoExecute".into(), ..Taint::default() };
    let not_ready = taints_for(std::slice::from_ref(&user), Some(&observed_ready(false, false)), &now)
        .expect("a not-ready taint is added");
    assert_eq!(keys(&not_ready), ["dedicated", "cluster.karmada.io/not-ready"]);
    assert_eq!(not_ready[1].effect, "NoSchedule");
    assert_eq!(not_ready[1].time_added, Some(now.clone()));
    assert_eq!(taints_for(&not_ready, Some(&observed_ready(true, false)), &now), None, "already tainted");

    let mut unknown = observed_ready(false, false);
    unknown.status = "Unknown".into();
    let unreachable = taints_for(&not_ready, Some(&unknown), &now).expect("swapped for unreachable");
    assert_eq!(keys(&unreachable), ["dedicated", "cluster.karmada.io/unreachable"]);

    let healthy = taints_for(&unreachable, Some(&observed_ready(true, true)), &now).expect("taints removed");
    assert_eq!(keys(&healthy), ["dedicated"]);
    assert_eq!(taints_for(&healthy, Some(&observed_ready(true, true)), &now), None);
    let fresh = taints_for(&[], None, &now).expect("a new cluster is not-ready until probed");
    assert_eq!(keys(&fresh), ["cluster.karmada.io/not-ready"]);
}
