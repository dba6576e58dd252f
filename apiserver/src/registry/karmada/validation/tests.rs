//! Tests of Karmada's validation: one invalid input per rule, checked by field path and error kind.

use serde_json::{Value, json};

use super::{
    cluster, cluster_override_policy, cluster_propagation_policy, override_policy, propagation_policy,
    propagation_policy_update, resource_binding, work,
};
use crate::machinery::{FieldError, FieldErrorKind};
use crate::registry::karmada::defaults;

fn paths(errors: &[FieldError]) -> Vec<(String, FieldErrorKind)> {
    errors.iter().map(|e| (e.field.clone(), e.kind)).collect()
}

fn one(errors: &[FieldError], field: &str, kind: FieldErrorKind) {
    assert_eq!(paths(errors), vec![(field.to_string(), kind)], "{errors:?}");
}

/// A valid, defaulted PropagationPolicy in namespace `team` with `spec` merged over a minimal spec.
fn pp(spec: Value) -> Value {
    let mut base = json!({"resourceSelectors": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}]});
    if let (Some(base), Some(extra)) = (base.as_object_mut(), spec.as_object()) {
        base.extend(extra.clone());
    }
    let mut object = json!({"apiVersion": "policy.karmada.io/v1alpha1", "kind": "PropagationPolicy",
                            "metadata": {"name": "p", "namespace": "team"}, "spec": base});
    defaults::propagation_policy(&mut object);
    object
}

fn placement(placement: Value) -> Value {
    pp(json!({"placement": placement}))
}

fn op(spec: Value) -> Value {
    let mut object = json!({"apiVersion": "policy.karmada.io/v1alpha1", "kind": "OverridePolicy",
                            "metadata": {"name": "o", "namespace": "team"}, "spec": spec});
    defaults::override_policy(&mut object);
    object
}

fn rule(overriders: Value) -> Value {
    op(json!({"overrideRules": [{"overriders": overriders}]}))
}

use FieldErrorKind::{Duplicate, Forbidden, Invalid, NotSupported, Required, TooLong, TypeInvalid};

#[test]
fn the_seed_shapes_are_valid() {
    let seed = placement(json!({"clusterAffinity": {"clusterNames": ["member1", "member2"]},
        "replicaScheduling": {"replicaDivisionPreference": "Weighted", "replicaSchedulingType": "Divided",
            "weightPreference": {"staticWeightList": [
                {"targetCluster": {"clusterNames": ["member1"]}, "weight": 1}]}}}));
    assert_eq!(paths(&propagation_policy(&seed)), vec![]);
    let overrides = rule(json!({"labelsOverrider": [{"operator": "add", "value": {"env": "dev"}}]}));
    assert_eq!(paths(&override_policy(&overrides)), vec![]);
}

#[test]
fn an_unknown_enum_value_is_not_supported_at_its_path() {
    one(&propagation_policy(&pp(json!({"preemption": "Sometimes"}))), "spec.preemption", NotSupported);
    let object = placement(json!({"replicaScheduling": {"replicaSchedulingType": "Split"}}));
    one(&propagation_policy(&object), "spec.placement.replicaScheduling.replicaSchedulingType", NotSupported);
    let object = rule(json!({"imageOverrider": [{"component": "Digest", "operator": "add", "value": "x"}]}));
    one(&override_policy(&object), "spec.overrideRules[0].overriders.imageOverrider[0].component", NotSupported);
}

#[test]
fn resource_selectors_are_required_and_need_at_least_one_item() {
    let mut object = pp(json!({}));
    object["spec"].as_object_mut().map(|s| s.remove("resourceSelectors"));
    one(&propagation_policy(&object), "spec.resourceSelectors", Required);
    one(&propagation_policy(&pp(json!({"resourceSelectors": []}))), "spec.resourceSelectors", Invalid);
}

#[test]
fn a_static_weight_below_one_is_invalid() {
    let object = placement(json!({"replicaScheduling": {"weightPreference": {"staticWeightList": [
        {"targetCluster": {"clusterNames": ["m"]}, "weight": 0}]}}}));
    one(
        &propagation_policy(&object),
        "spec.placement.replicaScheduling.weightPreference.staticWeightList[0].weight",
        Invalid,
    );
}

#[test]
fn an_affinity_name_longer_than_32_characters_is_too_long() {
    let object = placement(json!({"clusterAffinities": [{"affinityName": "a"}, {"affinityName": "b".repeat(33)}]}));
    one(&propagation_policy(&object), "spec.placement.clusterAffinities[1].affinityName", TooLong);
}

#[test]
fn an_affinity_name_that_is_no_label_key_is_invalid_at_the_term() {
    let object = placement(json!({"clusterAffinities": [{"affinityName": "not a key"}]}));
    one(&propagation_policy(&object), "spec.placement.clusterAffinities[0]", Invalid);
}

#[test]
fn affinity_names_must_be_unique() {
    let object = placement(json!({"clusterAffinities": [{"affinityName": "a"}, {"affinityName": "a"}]}));
    one(&propagation_policy(&object), "spec.placement.clusterAffinities", Invalid);
}

#[test]
fn cluster_affinity_and_cluster_affinities_are_exclusive() {
    let object =
        placement(json!({"clusterAffinity": {"clusterNames": ["m"]}, "clusterAffinities": [{"affinityName": "a"}]}));
    one(&propagation_policy(&object), "spec.placement", Invalid);
}

#[test]
fn a_field_selector_takes_only_provider_region_zone_with_in_or_not_in() {
    let object = placement(json!({"clusterAffinity": {"fieldSelector": {"matchExpressions": [
        {"key": "name", "operator": "In", "values": ["x"]}]}}}));
    one(&propagation_policy(&object), "spec.placement.clusterAffinity.fieldSelector", Invalid);
    let object = placement(json!({"clusterAffinities": [{"affinityName": "a", "fieldSelector": {"matchExpressions": [
        {"key": "zone", "operator": "Exists"}]}}]}));
    one(&propagation_policy(&object), "spec.placement.clusterAffinities[0].fieldSelector", Invalid);
}

#[test]
fn overflow_affinities_need_dynamic_or_aggregated_division_and_an_inline_affinity() {
    let object = placement(json!({"clusterAffinities": [{"affinityName": "a", "clusterNames": ["m"],
        "overflowAffinities": [{"affinityName": "b", "clusterNames": ["n"]}]}]}));
    one(&propagation_policy(&object), "spec.placement.clusterAffinities[0].overflowAffinities", Invalid);
    let object = placement(json!({"replicaScheduling": {"replicaDivisionPreference": "Aggregated"},
        "clusterAffinities": [{"affinityName": "a", "overflowAffinities": [{"affinityName": "a", "clusterNames": ["n"]}]}]}));
    assert_eq!(
        paths(&propagation_policy(&object)),
        vec![
            ("spec.placement.clusterAffinities[0].overflowAffinities".to_string(), Invalid),
            ("spec.placement.clusterAffinities[0].overflowAffinities[0].affinityName".to_string(), Invalid),
        ]
    );
}

#[test]
fn spread_constraints_follow_karmadas_rules() {
    let check = |constraints: Value, field: &str| {
        one(&propagation_policy(&placement(json!({"spreadConstraints": constraints}))), field, Invalid);
    };
    check(json!([{"spreadByField": "cluster", "spreadByLabel": "x"}]), "spec.placement.spreadConstraints[0]");
    check(json!([{"spreadByField": "cluster", "minGroups": -1}]), "spec.placement.spreadConstraints[0]");
    check(json!([{"spreadByField": "cluster", "maxGroups": -1}]), "spec.placement.spreadConstraints[0]");
    check(json!([{"spreadByField": "cluster", "minGroups": 3, "maxGroups": 2}]), "spec.placement.spreadConstraints[0]");
    check(json!([{"spreadByField": "cluster"}, {"spreadByField": "cluster"}]), "spec.placement.spreadConstraints");
    check(json!([{"spreadByField": "region"}]), "spec.placement.spreadConstraints");
}

#[test]
fn cluster_tolerations_may_not_compare_with_lt_or_gt() {
    let object = placement(json!({"clusterTolerations": [{"key": "k", "operator": "Gt", "value": "1"}]}));
    one(&propagation_policy(&object), "spec.placement.clusterTolerations[0].operator", NotSupported);
}

#[test]
fn workload_affinity_keys_are_label_keys_and_differ() {
    let object = placement(json!({"workloadAffinity": {"affinity": {"groupByLabelKey": "bad key"}}}));
    one(&propagation_policy(&object), "spec.placement.workloadAffinity.affinity.groupByLabelKey", Invalid);
    let object = placement(json!({"workloadAffinity": {"affinity": {"groupByLabelKey": "app"},
                                                        "antiAffinity": {"groupByLabelKey": "app"}}}));
    one(&propagation_policy(&object), "spec.placement.workloadAffinity", Invalid);
}

#[test]
fn application_failover_needs_propagate_deps_and_consistent_grace_period() {
    let failover =
        |application: Value, deps: bool| pp(json!({"propagateDeps": deps, "failover": {"application": application}}));
    let object = failover(json!({"decisionConditions": {}}), false);
    one(&propagation_policy(&object), "spec.propagateDeps", Invalid);
    let object = failover(json!({"decisionConditions": {"tolerationSeconds": -1}}), true);
    one(&propagation_policy(&object), "spec.failover.application.decisionConditions.tolerationSeconds", Invalid);
    let object = failover(json!({"decisionConditions": {}, "purgeMode": "Directly", "gracePeriodSeconds": 5}), true);
    one(&propagation_policy(&object), "spec.failover.application.gracePeriodSeconds", Invalid);
    let object = failover(json!({"decisionConditions": {}, "gracePeriodSeconds": 0}), true);
    one(&propagation_policy(&object), "spec.failover.application.gracePeriodSeconds", Invalid);
    let object = failover(
        json!({"decisionConditions": {}, "statePreservation": {"rules": [{"aliasLabelName": "bad key", "jsonPath": "{.x}"}]}}),
        true,
    );
    one(&propagation_policy(&object), "spec.failover.application.statePreservation.rules[0].aliasLabelName", Invalid);
}

#[test]
fn selectors_must_stay_in_the_policy_namespace() {
    let object = pp(json!({"resourceSelectors": [{"apiVersion": "v1", "kind": "Service", "namespace": "other"}]}));
    one(&propagation_policy(&object), "spec.resourceSelectors[0].namespace", Invalid);
}

#[test]
fn preemption_always_needs_named_selectors() {
    let object = pp(json!({"preemption": "Always", "resourceSelectors": [{"apiVersion": "v1", "kind": "Service"}]}));
    one(&propagation_policy(&object), "spec.resourceSelectors[0].name", Invalid);
}

#[test]
fn suspending_dispatch_everywhere_and_on_some_clusters_conflicts() {
    let object = pp(json!({"suspension": {"dispatching": true, "dispatchingOnClusters": {"clusterNames": ["m"]}}}));
    one(&propagation_policy(&object), "spec.suspension.suspension", Invalid);
}

#[test]
fn the_permanent_id_is_required_and_immutable_and_the_scheduler_name_is_immutable() {
    let mut object = pp(json!({}));
    object["metadata"]["labels"] = json!({});
    one(&propagation_policy(&object), "metadata.labels[propagationpolicy.karmada.io/permanent-id]", Required);
    let old = pp(json!({}));
    let mut new = old.clone();
    new["metadata"]["labels"]["propagationpolicy.karmada.io/permanent-id"] = json!("changed");
    one(
        &propagation_policy_update(&new, &old),
        "metadata.labels[propagationpolicy.karmada.io/permanent-id]",
        Forbidden,
    );
    let mut new = old.clone();
    new["spec"]["schedulerName"] = json!("other");
    one(&propagation_policy_update(&new, &old), "spec.schedulerName", Forbidden);
    assert_eq!(paths(&propagation_policy_update(&old, &old)), vec![]);
}

#[test]
fn a_cluster_propagation_policy_does_not_check_selector_namespaces() {
    let mut object = json!({"apiVersion": "policy.karmada.io/v1alpha1", "kind": "ClusterPropagationPolicy",
        "metadata": {"name": "c"},
        "spec": {"resourceSelectors": [{"apiVersion": "v1", "kind": "Service", "namespace": "any"}]}});
    defaults::cluster_propagation_policy(&mut object);
    assert_eq!(paths(&cluster_propagation_policy(&object)), vec![]);
}

#[test]
fn override_rules_exclude_the_deprecated_target_cluster_and_overriders() {
    let object = op(json!({"targetCluster": {"clusterNames": ["m"]}, "overrideRules": []}));
    one(&override_policy(&object), "spec.targetCluster", Invalid);
    let object = op(json!({"overriders": {"plaintext": [{"path": "/a", "operator": "remove"}]}, "overrideRules": []}));
    one(&override_policy(&object), "spec.overriders", Invalid);
}

#[test]
fn overrider_labels_and_annotations_must_be_valid() {
    let object = rule(json!({"labelsOverrider": [{"operator": "add", "value": {"bad key": "v"}}]}));
    assert!(
        paths(&override_policy(&object))
            .iter()
            .all(|(f, k)| f == "spec.overrideRules[0].overriders.labelsOverrider[0].value" && *k == Invalid)
    );
    let object = rule(json!({"annotationsOverrider": [{"operator": "add", "value": {"bad key": "v"}}]}));
    one(&override_policy(&object), "spec.overrideRules[0].overriders.annotationsOverrider[0].value", Invalid);
}

#[test]
fn overrider_paths_must_be_json_pointers() {
    let object = rule(json!({"imageOverrider": [{"component": "Tag", "operator": "replace", "value": "v2",
                                                 "predicate": {"path": "spec/template"}}]}));
    one(&override_policy(&object), "spec.overrideRules[0].overriders.imageOverrider[0].predicate.path", Invalid);
    let object =
        rule(json!({"fieldOverrider": [{"fieldPath": "data", "json": [{"subPath": "/a", "operator": "remove"}]}]}));
    one(&override_policy(&object), "spec.overrideRules[0].overriders.fieldOverrider[0].fieldPath", Invalid);
    let object =
        rule(json!({"fieldOverrider": [{"fieldPath": "/data", "yaml": [{"subPath": "a", "operator": "remove"}]}]}));
    one(&override_policy(&object), "spec.overrideRules[0].overriders.fieldOverrider[0].yaml[0].subPath", Invalid);
}

#[test]
fn a_field_overrider_needs_exactly_one_format_and_values_fit_the_operator() {
    let base = "spec.overrideRules[0].overriders.fieldOverrider[0]";
    let object = rule(json!({"fieldOverrider": [{"fieldPath": "/data"}]}));
    one(&override_policy(&object), base, Required);
    let object =
        rule(json!({"fieldOverrider": [{"fieldPath": "/data", "json": [{"subPath": "/a", "operator": "remove"}],
                                                 "yaml": [{"subPath": "/a", "operator": "remove"}]}]}));
    one(&override_policy(&object), base, Invalid);
    let object =
        rule(json!({"fieldOverrider": [{"fieldPath": "/data", "json": [{"subPath": "/a", "operator": "add"}]}]}));
    one(&override_policy(&object), &format!("{base}.json[0].value"), Invalid);
    let object = rule(
        json!({"fieldOverrider": [{"fieldPath": "/data", "json": [{"subPath": "/a", "operator": "remove", "value": {"x": 1}}]}]}),
    );
    one(&override_policy(&object), &format!("{base}.json[0].value"), Invalid);
}

#[test]
fn an_override_rule_target_cluster_field_selector_is_checked() {
    let object = op(json!({"overrideRules": [{"targetCluster": {"fieldSelector": {"matchExpressions": [
        {"key": "provider", "operator": "Gt", "values": ["1"]}]}}, "overriders": {}}]}));
    one(&override_policy(&object), "spec.overrideRules[0].targetCluster.fieldSelector", Invalid);
}

#[test]
fn a_cluster_override_policy_is_checked_like_an_override_policy_without_namespaces() {
    let mut object = json!({"apiVersion": "policy.karmada.io/v1alpha1", "kind": "ClusterOverridePolicy",
        "metadata": {"name": "c"}, "spec": {"resourceSelectors": [{"apiVersion": "v1", "kind": "Service", "namespace": "x"}],
        "overrideRules": [{"overriders": {"plaintext": [{"path": "/a", "operator": "nope"}]}}]}});
    defaults::none(&mut object);
    one(&cluster_override_policy(&object), "spec.overrideRules[0].overriders.plaintext[0].operator", NotSupported);
}

fn member(spec: Value) -> Value {
    let mut object = json!({"apiVersion": "cluster.karmada.io/v1alpha1", "kind": "Cluster",
                            "metadata": {"name": "member1"}, "spec": spec});
    defaults::cluster(&mut object);
    object
}

#[test]
fn a_cluster_name_is_a_dns_label_of_at_most_48_characters() {
    let mut object = member(json!({"syncMode": "Push"}));
    assert_eq!(paths(&cluster(&object)), vec![]);
    object["metadata"]["name"] = json!("m".repeat(49));
    one(&cluster(&object), "metadata.name", Invalid);
    object["metadata"]["name"] = json!("a.b");
    one(&cluster(&object), "metadata.name", Invalid);
}

#[test]
fn a_cluster_sync_mode_is_push_or_pull() {
    one(&cluster(&member(json!({"syncMode": "Sideways"}))), "spec.syncMode", NotSupported);
    let mut object = member(json!({}));
    object["spec"] = json!({});
    assert_eq!(
        cluster(&object).iter().map(ToString::to_string).collect::<Vec<_>>(),
        [
            "spec.syncMode: Required value",
            "spec.syncMode: Unsupported value: \"\": supported values: \"Pull\", \"Push\""
        ]
    );
}

#[test]
fn cluster_endpoints_and_secret_references_are_checked() {
    let object = member(json!({"syncMode": "Push", "apiEndpoint": "https://user@host:6443?x=1"}));
    assert_eq!(
        paths(&cluster(&object)),
        vec![("spec.apiEndpoint".into(), Invalid), ("spec.apiEndpoint".into(), Invalid)]
    );
    one(&cluster(&member(json!({"syncMode": "Push", "apiEndpoint": "10.0.0.1:6443"}))), "spec.apiEndpoint", Invalid);
    one(&cluster(&member(json!({"syncMode": "Push", "proxyURL": "ftp://proxy"}))), "spec.proxyURL", Invalid);
    let object = member(json!({"syncMode": "Push", "secretRef": {"name": "s"}}));
    one(&cluster(&object), "spec.secretRef.namespace", Required);
}

#[test]
fn cluster_location_fields_are_label_values_and_zone_excludes_zones() {
    one(&cluster(&member(json!({"syncMode": "Push", "region": "bad region"}))), "spec.region", Invalid);
    let mut object = member(json!({"syncMode": "Push", "zones": ["a"]}));
    object["spec"]["zone"] = json!("b");
    one(&cluster(&object), "spec.spec", TypeInvalid);
}

#[test]
fn cluster_taints_need_a_known_effect_and_are_unique() {
    let object = member(json!({"syncMode": "Push", "taints": [{"key": "k", "effect": "PreferNoSchedule"}]}));
    one(&cluster(&object), "spec.taints[0].effect", NotSupported);
    let object = member(
        json!({"syncMode": "Push", "taints": [{"key": "k", "effect": "NoSchedule"}, {"key": "k", "effect": "NoSchedule"}]}),
    );
    one(&cluster(&object), "spec.taints[1]", Duplicate);
}

#[test]
fn cluster_resource_models_must_be_contiguous() {
    let object = member(json!({"syncMode": "Push", "resourceModels": [
        {"grade": 0, "ranges": [{"name": "cpu", "min": "0", "max": "2"}]},
        {"grade": 1, "ranges": [{"name": "cpu", "min": "3", "max": "4"}]}]}));
    one(&cluster(&object), "spec.resourceModels", Invalid);
}

#[test]
fn a_binding_dependencies_annotation_must_be_json() {
    let object = json!({"apiVersion": "work.karmada.io/v1alpha2", "kind": "ResourceBinding",
        "metadata": {"name": "b", "namespace": "n", "annotations": {"resourcebinding.karmada.io/dependencies": "{not json"}},
        "spec": {"resource": {"apiVersion": "v1", "kind": "Service", "name": "s"}}});
    one(&resource_binding(&object), "metadata.annotations.resourcebinding.karmada.io/dependencies", Invalid);
}

#[test]
fn a_work_condition_reason_must_match_the_condition_pattern() {
    let object = json!({"apiVersion": "work.karmada.io/v1alpha1", "kind": "Work", "metadata": {"name": "w"},
        "spec": {}, "status": {"conditions": [{"type": "Applied", "status": "True", "reason": "bad reason",
                                               "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}});
    one(&work(&object), "status.conditions[0].reason", Invalid);
}

#[test]
fn messages_read_as_kubernetes_prints_them() {
    let messages = |errors: Vec<FieldError>| errors.iter().map(ToString::to_string).collect::<Vec<_>>();
    let object = placement(json!({"replicaScheduling": {"weightPreference": {"staticWeightList": [
        {"targetCluster": {"clusterNames": ["m"]}, "weight": 0}]}}}));
    assert_eq!(
        messages(propagation_policy(&object)),
        ["spec.placement.replicaScheduling.weightPreference.staticWeightList[0].weight: Invalid value: 0: \
          spec.placement.replicaScheduling.weightPreference.staticWeightList[0].weight in body should be greater \
          than or equal to 1"]
    );
    let object = pp(json!({"preemption": "Always", "resourceSelectors": [{"apiVersion": "v1", "kind": "Service"}]}));
    assert_eq!(
        messages(propagation_policy(&object)),
        ["spec.resourceSelectors[0].name: Invalid value: \"\": name cannot be empty if preemption is Always, the \
          empty name may cause unexpected resources preemption"]
    );
    let old = pp(json!({}));
    let mut new = old.clone();
    new["spec"]["schedulerName"] = json!("other");
    assert_eq!(
        messages(propagation_policy_update(&new, &old)),
        ["spec.schedulerName: Forbidden: the schedulerName should not be updated"]
    );
}

#[test]
fn a_resource_registry_checks_selectors_and_open_search_addresses() {
    let registry = |spec: Value| {
        json!({"apiVersion": "search.karmada.io/v1alpha1", "kind": "ResourceRegistry", "metadata": {"name": "r"},
               "spec": spec})
    };
    let valid = registry(json!({"targetCluster": {"clusterNames": ["m"]},
        "resourceSelectors": [{"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "team"}],
        "backendStore": {"openSearch": {"addresses": ["https://search:9200"]}}}));
    assert_eq!(paths(&super::resource_registry(&valid)), vec![]);
    let object = registry(json!({"targetCluster": {}, "resourceSelectors": [{"apiVersion": "a/b/c", "kind": "X"}]}));
    one(&super::resource_registry(&object), "spec.resourceSelectors[0].apiVersion", Invalid);
    let object = registry(
        json!({"targetCluster": {}, "resourceSelectors": [{"apiVersion": "v1", "kind": "Pod", "namespace": "Bad_NS"}]}),
    );
    one(&super::resource_registry(&object), "spec.resourceSelectors[0].namespace", Invalid);
    let object = registry(json!({"targetCluster": {}, "resourceSelectors": [],
        "backendStore": {"openSearch": {"addresses": ["search:9200"]}}}));
    one(&super::resource_registry(&object), "spec.backendStore.openSearch.addresses[0]", Invalid);
}
