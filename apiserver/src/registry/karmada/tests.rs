//! Tests of the Karmada kinds' table columns and cells.

use jiff::Timestamp;
use serde_json::{Value, json};

use super::KarmadaStrategy;
use crate::registry::Strategy;

fn strategy(group: &str, kind: &str) -> KarmadaStrategy {
    match KarmadaStrategy::of(group, kind) {
        Some(strategy) => strategy,
        None => panic!("{group}/{kind} is not a Karmada kind"),
    }
}

fn now() -> Timestamp {
    match "2026-01-01T01:00:00Z".parse() {
        Ok(now) => now,
        Err(error) => panic!("{error}"),
    }
}

fn headers(strategy: &KarmadaStrategy) -> Vec<(String, i32)> {
    strategy.table_columns().into_iter().map(|c| (c.name.to_uppercase(), c.priority)).collect()
}

fn narrow(strategy: &KarmadaStrategy) -> Vec<String> {
    headers(strategy).into_iter().filter(|(_, priority)| *priority == 0).map(|(name, _)| name).collect()
}

#[test]
fn clusters_print_version_mode_ready_and_age_and_wide_adds_location_and_endpoints() {
    let clusters = strategy("cluster.karmada.io", "Cluster");
    assert_eq!(narrow(&clusters), ["NAME", "VERSION", "MODE", "READY", "AGE"]);
    let all: Vec<String> = headers(&clusters).into_iter().map(|(name, _)| name).collect();
    assert_eq!(all[5..], ["ZONES", "REGION", "PROVIDER", "API-ENDPOINT", "PROXY-URL"]);
    let cluster = json!({
        "metadata": {"name": "member1", "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {"syncMode": "Push", "apiEndpoint": "https://10.0.0.1:6443", "zones": ["a", "b"], "region": "r1",
                 "provider": "aws", "proxyURL": "http://proxy:3128"},
        "status": {"kubernetesVersion": "v1.31.0", "conditions": [{"type": "Ready", "status": "True"}]}
    });
    assert_eq!(
        clusters.table_cells_at(&cluster, now()),
        [
            json!("member1"),
            json!("v1.31.0"),
            json!("Push"),
            json!("True"),
            json!("60m"),
            json!("a,b"),
            json!("r1"),
            json!("aws"),
            json!("https://10.0.0.1:6443"),
            json!("http://proxy:3128"),
        ]
    );
}

#[test]
fn a_cluster_without_a_ready_condition_is_unknown() {
    let cells = strategy("cluster.karmada.io", "Cluster").table_cells_at(&json!({"metadata": {"name": "m"}}), now());
    assert_eq!(cells[3], json!("Unknown"));
    assert_eq!(cells[4], json!("<unknown>"));
}

#[test]
fn propagation_policies_print_conflict_resolution_and_priority() {
    for kind in ["PropagationPolicy", "ClusterPropagationPolicy"] {
        let policies = strategy("policy.karmada.io", kind);
        assert_eq!(narrow(&policies), ["NAME", "CONFLICT-RESOLUTION", "PRIORITY", "AGE"]);
        let policy = json!({
            "metadata": {"name": "p", "creationTimestamp": "2026-01-01T00:59:30Z"},
            "spec": {"conflictResolution": "Abort", "priority": 0}
        });
        assert_eq!(policies.table_cells_at(&policy, now()), [json!("p"), json!("Abort"), json!("0"), json!("30s")]);
        let bare = policies.table_cells_at(&json!({"metadata": {"name": "p"}}), now());
        assert_eq!(bare[1..3], [Value::Null, Value::Null], "missing values print as <none>");
    }
}

#[test]
fn bindings_print_their_scheduled_and_fully_applied_conditions() {
    for (version, kind) in [("v1alpha2", "ResourceBinding"), ("v1alpha2", "ClusterResourceBinding")] {
        let bindings = strategy("work.karmada.io", kind);
        assert_eq!(bindings.info().version, version);
        assert_eq!(narrow(&bindings), ["NAME", "SCHEDULED", "FULLYAPPLIED", "AGE"]);
        let binding = json!({
            "metadata": {"name": "nginx-deployment"},
            "status": {"conditions": [{"type": "FullyApplied", "status": "False"}, {"type": "Scheduled", "status": "True"}]}
        });
        let cells = bindings.table_cells_at(&binding, now());
        assert_eq!(cells[..3], [json!("nginx-deployment"), json!("True"), json!("False")]);
    }
}

#[test]
fn works_print_the_first_workload_kind_and_applied() {
    let works = strategy("work.karmada.io", "Work");
    assert_eq!(narrow(&works), ["NAME", "WORKLOAD-KIND", "APPLIED", "AGE"]);
    let work = json!({
        "metadata": {"name": "nginx-687f7fb96f"},
        "spec": {"workload": {"manifests": [{"kind": "Deployment"}, {"kind": "Service"}]}},
        "status": {"conditions": [{"type": "Applied", "status": "True"}]}
    });
    let cells = works.table_cells_at(&work, now());
    assert_eq!(cells[..3], [json!("nginx-687f7fb96f"), json!("Deployment"), json!("True")]);
}

#[test]
fn override_policies_and_resource_registries_print_name_and_age() {
    for (group, kind) in [
        ("policy.karmada.io", "OverridePolicy"),
        ("policy.karmada.io", "ClusterOverridePolicy"),
        ("search.karmada.io", "ResourceRegistry"),
    ] {
        let plain = strategy(group, kind);
        assert_eq!(narrow(&plain), ["NAME", "AGE"]);
        let object = json!({"metadata": {"name": "x", "creationTimestamp": "2025-12-30T01:00:00Z"}});
        assert_eq!(plain.table_cells_at(&object, now()), [json!("x"), json!("2d")]);
    }
}

#[test]
fn every_kind_is_in_the_karmada_io_category_with_karmada_short_names_and_scope() {
    let expected = [
        ("cluster.karmada.io", "Cluster", "clusters", false, &[][..], true),
        ("policy.karmada.io", "PropagationPolicy", "propagationpolicies", true, &["pp"][..], false),
        ("policy.karmada.io", "ClusterPropagationPolicy", "clusterpropagationpolicies", false, &["cpp"][..], false),
        ("policy.karmada.io", "OverridePolicy", "overridepolicies", true, &["op"][..], false),
        ("policy.karmada.io", "ClusterOverridePolicy", "clusteroverridepolicies", false, &["cop"][..], false),
        ("work.karmada.io", "Work", "works", true, &["wk"][..], true),
        ("work.karmada.io", "ResourceBinding", "resourcebindings", true, &["rb"][..], true),
        ("work.karmada.io", "ClusterResourceBinding", "clusterresourcebindings", false, &["crb"][..], true),
        ("search.karmada.io", "ResourceRegistry", "resourceregistries", false, &[][..], true),
    ];
    for (group, kind, plural, namespaced, short_names, status) in expected {
        let s = strategy(group, kind);
        let info = s.info();
        assert_eq!(
            (info.plural.as_str(), info.namespaced, info.status_subresource),
            (plural, namespaced, status),
            "{kind}"
        );
        assert_eq!(info.short_names, short_names, "{kind}");
        assert_eq!(info.categories, ["karmada-io"], "{kind}");
        assert_eq!(s.allow_unconditional_update(), kind == "Cluster", "{kind}");
        assert!(s.kind_schema().is_some(), "{kind} has a schema");
    }
}

#[test]
fn schemas_are_structural_with_enums_spelled_out_as_a_crd_publishes_them() {
    let policies = strategy("policy.karmada.io", "PropagationPolicy");
    assert!(policies.kind_schema().is_some_and(|k| k.is_structural()));
    let schema = policies.schema().unwrap_or_default();
    let scheduling = &schema["properties"]["spec"]["properties"]["placement"]["properties"]["replicaScheduling"];
    assert_eq!(scheduling["type"], "object", "{scheduling}");
    let types = &scheduling["properties"]["replicaSchedulingType"];
    assert_eq!(types["type"], "string", "{types}");
    assert!(types["enum"].as_array().is_some_and(|e| e.contains(&json!("Divided"))), "{types}");
}
