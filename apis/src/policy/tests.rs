//! Round-trip tests for the `policy.karmada.io` kinds over a corpus of manifests covering every field and enum value.

use k8s_openapi::{ListableResource, Resource};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::*;

/// Splits a multi-document YAML file into JSON values.
pub(crate) fn documents(yaml: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(yaml)
        .map(|doc| Value::deserialize(doc).expect("corpus document is valid YAML"))
        .collect()
}

/// Reads `input` as `T` (from JSON and from YAML text), writes it back, and requires the result to equal the input.
pub(crate) fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(input: &Value) {
    let typed: T =
        serde_json::from_value(input.clone()).unwrap_or_else(|e| panic!("deserialize failed: {e}\n{input:#}"));
    let output = serde_json::to_value(&typed).expect("serialize");
    assert_eq!(&output, input, "round trip changed the manifest");
    let yaml = serde_yaml::to_string(input).expect("to yaml");
    let from_yaml: T = serde_yaml::from_str(&yaml).expect("deserialize from YAML");
    assert_eq!(from_yaml, typed);
}

fn round_trip_policy_doc(doc: &Value) {
    match doc["kind"].as_str().expect("kind") {
        "PropagationPolicy" => round_trip::<PropagationPolicy>(doc),
        "ClusterPropagationPolicy" => round_trip::<ClusterPropagationPolicy>(doc),
        "OverridePolicy" => round_trip::<OverridePolicy>(doc),
        "ClusterOverridePolicy" => round_trip::<ClusterOverridePolicy>(doc),
        "PropagationPolicyList" => round_trip::<PropagationPolicyList>(doc),
        "ClusterPropagationPolicyList" => round_trip::<ClusterPropagationPolicyList>(doc),
        "OverridePolicyList" => round_trip::<OverridePolicyList>(doc),
        "ClusterOverridePolicyList" => round_trip::<ClusterOverridePolicyList>(doc),
        other => panic!("unexpected kind {other}"),
    }
}

fn round_trip_file(yaml: &str, expected_docs: usize) {
    let docs = documents(yaml);
    assert_eq!(docs.len(), expected_docs);
    for doc in &docs {
        round_trip_policy_doc(doc);
    }
}

#[test]
fn propagation_policies_round_trip() {
    round_trip_file(include_str!("testdata/propagation.yaml"), 3);
}

#[test]
fn cluster_propagation_policies_round_trip() {
    round_trip_file(include_str!("testdata/cluster-propagation.yaml"), 1);
}

#[test]
fn override_policies_round_trip() {
    round_trip_file(include_str!("testdata/override.yaml"), 3);
}

#[test]
fn cluster_override_policies_round_trip() {
    round_trip_file(include_str!("testdata/cluster-override.yaml"), 1);
}

#[test]
fn lists_round_trip() {
    round_trip_file(include_str!("testdata/lists.yaml"), 4);
}

#[test]
fn seeds_round_trip() {
    round_trip_file(include_str!("testdata/seeds.yaml"), 4);
}

#[test]
fn seed_values_land_in_typed_fields() {
    let docs = documents(include_str!("testdata/seeds.yaml"));
    let pp: PropagationPolicy = serde_json::from_value(docs[0].clone()).unwrap();
    let rs = pp.spec.placement.unwrap().replica_scheduling.unwrap();
    assert_eq!(rs.replica_scheduling_type, Some(ReplicaSchedulingType::Divided));
    assert_eq!(rs.replica_division_preference, Some(ReplicaDivisionPreference::Weighted));
    let weights = rs.weight_preference.unwrap().static_weight_list.unwrap();
    assert_eq!(weights.len(), 2);
    assert_eq!(weights[1].target_cluster.cluster_names.as_deref(), Some(&["member2".to_owned()][..]));
    let op: OverridePolicy = serde_json::from_value(docs[1].clone()).unwrap();
    let rules = op.spec.override_rules.unwrap();
    assert_eq!(rules[0].overriders.labels_overrider.as_ref().unwrap()[3].operator, OverriderOperator::Replace);
    let nginx: PropagationPolicy = serde_json::from_value(docs[3].clone()).unwrap();
    assert_eq!(nginx.spec.priority, Some(10));
    assert_eq!(nginx.spec.preemption, Some(PreemptionBehavior::Always));
    assert_eq!(nginx.spec.conflict_resolution, Some(ConflictResolution::Overwrite));
}

#[test]
fn every_enum_value_is_covered() {
    let corpus = [
        include_str!("testdata/propagation.yaml"),
        include_str!("testdata/cluster-propagation.yaml"),
        include_str!("testdata/override.yaml"),
    ]
    .join("\n---\n");
    let all = serde_json::to_string(&documents(&corpus)).unwrap();
    let values: &[(&str, &[&str])] = &[
        ("spreadByField", &["cluster", "region", "zone", "provider"]),
        ("replicaSchedulingType", &["Duplicated", "Divided"]),
        ("replicaDivisionPreference", &["Aggregated", "Weighted"]),
        ("dynamicWeight", &["AvailableReplicas"]),
        ("preemption", &["Always", "Never"]),
        ("conflictResolution", &["Overwrite", "Abort"]),
        ("activationPreference", &["Lazy"]),
        ("purgeMode", &["Directly", "Gracefully", "Never"]),
        ("priorityClassSource", &["FederatedPriorityClass", "KubePriorityClass", "PodPriorityClass"]),
        ("operator", &["add", "remove", "replace"]),
        ("component", &["Registry", "Repository", "Tag"]),
    ];
    for (field, wanted) in values {
        for value in *wanted {
            let needle = format!("\"{field}\":\"{value}\"");
            assert!(all.contains(&needle), "corpus lacks {needle}");
        }
    }
}

#[test]
fn type_meta_is_written_and_checked() {
    let pp = PropagationPolicy::default();
    let json = serde_json::to_value(&pp).unwrap();
    assert_eq!(json["apiVersion"], "policy.karmada.io/v1alpha1");
    assert_eq!(json["kind"], "PropagationPolicy");
    assert_eq!(json["spec"], serde_json::json!({}));
    let wrong_kind =
        serde_json::json!({"apiVersion": "policy.karmada.io/v1alpha1", "kind": "OverridePolicy", "spec": {}});
    assert!(serde_json::from_value::<PropagationPolicy>(wrong_kind).is_err());
    let wrong_version =
        serde_json::json!({"apiVersion": "policy.karmada.io/v1", "kind": "PropagationPolicy", "spec": {}});
    assert!(serde_json::from_value::<PropagationPolicy>(wrong_version).is_err());
    let bare = serde_json::json!({"metadata": {"name": "x"}, "spec": {}});
    assert!(serde_json::from_value::<PropagationPolicy>(bare).is_ok());
    let list = serde_json::to_value(ClusterOverridePolicyList::default()).unwrap();
    assert_eq!(
        list,
        serde_json::json!({"apiVersion": "policy.karmada.io/v1alpha1", "kind": "ClusterOverridePolicyList", "metadata": {}, "items": []})
    );
}

#[test]
fn unknown_enum_values_are_rejected() {
    let bad = serde_json::json!({"kind": "PropagationPolicy", "spec": {"preemption": "Sometimes"}});
    assert!(serde_json::from_value::<PropagationPolicy>(bad).is_err());
    let bad = serde_json::json!({"spec": {"placement": {"spreadConstraints": [{"spreadByField": "Cluster"}]}}});
    assert!(serde_json::from_value::<PropagationPolicy>(bad).is_err());
}

#[test]
fn resource_constants() {
    assert_eq!(PropagationPolicy::API_VERSION, "policy.karmada.io/v1alpha1");
    assert_eq!(PropagationPolicy::GROUP, "policy.karmada.io");
    assert_eq!(PropagationPolicy::VERSION, "v1alpha1");
    assert_eq!(PropagationPolicy::URL_PATH_SEGMENT, "propagationpolicies");
    assert_eq!(PropagationPolicy::LIST_KIND, "PropagationPolicyList");
    assert_eq!(ClusterPropagationPolicy::URL_PATH_SEGMENT, "clusterpropagationpolicies");
    assert_eq!(OverridePolicy::URL_PATH_SEGMENT, "overridepolicies");
    assert_eq!(ClusterOverridePolicy::URL_PATH_SEGMENT, "clusteroverridepolicies");
    assert_eq!(ClusterOverridePolicy::LIST_KIND, "ClusterOverridePolicyList");
    assert_eq!(OverridePolicyList::KIND, "OverridePolicyList");
    fn namespaced<T: Resource<Scope = k8s_openapi::NamespaceResourceScope>>() {}
    fn cluster<T: Resource<Scope = k8s_openapi::ClusterResourceScope>>() {}
    namespaced::<PropagationPolicy>();
    namespaced::<OverridePolicy>();
    cluster::<ClusterPropagationPolicy>();
    cluster::<ClusterOverridePolicy>();
}

#[test]
fn schemas_generate() {
    let schema = schemars::schema_for!(PropagationPolicy);
    let text = serde_json::to_string(&schema).unwrap();
    for field in ["resourceSelectors", "clusterAffinities", "staticWeightList", "apiVersion", "affinityName", "exclude"]
    {
        assert!(text.contains(field), "schema lacks {field}");
    }
    let schema = serde_json::to_string(&schemars::schema_for!(ClusterOverridePolicyList)).unwrap();
    for field in ["fieldOverrider", "imageOverrider", "subPath", "items"] {
        assert!(schema.contains(field), "schema lacks {field}");
    }
}
