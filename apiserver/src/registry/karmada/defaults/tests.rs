//! Tests of Karmada's defaulting, field by field.

use serde_json::{Value, json};

use super::{
    CPP_PERMANENT_ID, CRB_PERMANENT_ID, PP_PERMANENT_ID, RB_PERMANENT_ID, WORK_PERMANENT_ID, cluster,
    cluster_propagation_policy, cluster_resource_binding, override_policy, propagation_policy, resource_binding, work,
};

fn defaulted(f: fn(&mut Value), mut object: Value) -> Value {
    f(&mut object);
    object
}

fn pp(spec: Value) -> Value {
    json!({"apiVersion": "policy.karmada.io/v1alpha1", "kind": "PropagationPolicy",
           "metadata": {"name": "p", "namespace": "team"}, "spec": spec})
}

fn at<'a>(object: &'a Value, pointer: &str) -> &'a Value {
    object.pointer(pointer).unwrap_or(&Value::Null)
}

#[test]
fn a_new_propagation_policy_gets_crd_defaults_a_permanent_id_and_the_finalizer() {
    let object =
        defaulted(propagation_policy, pp(json!({"resourceSelectors": [{"apiVersion": "v1", "kind": "Service"}]})));
    assert_eq!(at(&object, "/spec/conflictResolution"), "Abort");
    assert_eq!(at(&object, "/spec/preemption"), "Never");
    assert_eq!(at(&object, "/spec/priority"), 0);
    assert_eq!(at(&object, "/spec/schedulerName"), "default-scheduler");
    assert_eq!(at(&object, "/spec/placement"), &json!({}));
    assert_eq!(at(&object, "/spec/resourceSelectors/0/namespace"), "team");
    let id = at(&object, "/metadata/labels").get(PP_PERMANENT_ID).and_then(Value::as_str).unwrap_or_default();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    assert_eq!(at(&object, "/metadata/finalizers"), &json!(["karmada.io/propagation-policy-controller"]));
}

#[test]
fn a_permanent_id_sent_on_create_is_replaced_for_policies_but_kept_for_bindings() {
    let mut object = pp(json!({"resourceSelectors": [{"apiVersion": "v1", "kind": "Service"}]}));
    object["metadata"]["labels"] = json!({PP_PERMANENT_ID: "mine"});
    let object = defaulted(propagation_policy, object);
    assert_ne!(at(&object, "/metadata/labels").get(PP_PERMANENT_ID), Some(&json!("mine")));
    let binding = defaulted(
        resource_binding,
        json!({"metadata": {"name": "b", "namespace": "n", "labels": {RB_PERMANENT_ID: "mine"}}, "spec": {}}),
    );
    assert_eq!(at(&binding, "/metadata/labels").get(RB_PERMANENT_ID), Some(&json!("mine")));
}

#[test]
fn explicit_values_are_kept_and_an_existing_selector_namespace_is_not_replaced() {
    let object = defaulted(
        propagation_policy,
        pp(json!({"resourceSelectors": [{"apiVersion": "v1", "kind": "Service", "namespace": "other"}],
                  "conflictResolution": "Overwrite", "priority": 7, "preemption": "Always", "schedulerName": "mine"})),
    );
    assert_eq!(at(&object, "/spec/conflictResolution"), "Overwrite");
    assert_eq!(at(&object, "/spec/priority"), 7);
    assert_eq!(at(&object, "/spec/preemption"), "Always");
    assert_eq!(at(&object, "/spec/schedulerName"), "mine");
    assert_eq!(at(&object, "/spec/resourceSelectors/0/namespace"), "other");
}

#[test]
fn an_update_keeps_the_permanent_id_and_adds_no_finalizer() {
    let mut object = pp(json!({"resourceSelectors": [{"apiVersion": "v1", "kind": "Service"}]}));
    object["metadata"]["resourceVersion"] = json!("12");
    object["metadata"]["labels"] = json!({PP_PERMANENT_ID: "kept"});
    let object = defaulted(propagation_policy, object);
    assert_eq!(at(&object, "/metadata/labels"), &json!({PP_PERMANENT_ID: "kept"}));
    assert_eq!(at(&object, "/metadata/finalizers"), &Value::Null);
    assert_eq!(at(&object, "/spec/conflictResolution"), "Abort", "CRD defaults apply on update too");
}

#[test]
fn divided_scheduling_without_a_preference_becomes_weighted_and_an_empty_type_is_divided() {
    let object = defaulted(propagation_policy, pp(json!({"placement": {"replicaScheduling": {}}})));
    assert_eq!(at(&object, "/spec/placement/replicaScheduling/replicaSchedulingType"), "Divided");
    assert_eq!(at(&object, "/spec/placement/replicaScheduling/replicaDivisionPreference"), "Weighted");
    let object = defaulted(
        propagation_policy,
        pp(json!({"placement": {"replicaScheduling": {"replicaSchedulingType": "Duplicated"}}})),
    );
    assert_eq!(at(&object, "/spec/placement/replicaScheduling/replicaDivisionPreference"), &Value::Null);
    let object = defaulted(
        propagation_policy,
        pp(json!({"placement": {"replicaScheduling": {"replicaDivisionPreference": "Aggregated"}}})),
    );
    assert_eq!(at(&object, "/spec/placement/replicaScheduling/replicaDivisionPreference"), "Aggregated");
}

#[test]
fn spread_constraints_default_to_cluster_and_at_least_one_group() {
    let object = defaulted(
        propagation_policy,
        pp(json!({"placement": {"spreadConstraints": [
            {"maxGroups": 2}, {"spreadByLabel": "team", "minGroups": 0}, {"spreadByField": "region", "minGroups": 3}
        ]}})),
    );
    let constraints = at(&object, "/spec/placement/spreadConstraints");
    assert_eq!(constraints[0], json!({"spreadByField": "cluster", "minGroups": 1, "maxGroups": 2}));
    assert_eq!(constraints[1], json!({"spreadByLabel": "team", "minGroups": 1}));
    assert_eq!(constraints[2], json!({"spreadByField": "region", "minGroups": 3}));
}

#[test]
fn a_service_import_selector_turns_on_propagate_deps() {
    let object = defaulted(
        propagation_policy,
        pp(json!({"resourceSelectors": [{"apiVersion": "multicluster.x-k8s.io/v1alpha1", "kind": "ServiceImport"}]})),
    );
    assert_eq!(at(&object, "/spec/propagateDeps"), true);
    let object =
        defaulted(propagation_policy, pp(json!({"resourceSelectors": [{"apiVersion": "v1", "kind": "Service"}]})));
    assert_eq!(at(&object, "/spec/propagateDeps"), &Value::Null);
}

#[test]
fn application_failover_defaults_to_graceful_purge_after_600_seconds_and_300_seconds_toleration() {
    let object = defaulted(
        propagation_policy,
        pp(json!({"failover": {"application": {"decisionConditions": {}}, "cluster": {}}})),
    );
    let application = at(&object, "/spec/failover/application");
    assert_eq!(application["purgeMode"], "Gracefully");
    assert_eq!(application["gracePeriodSeconds"], 600);
    assert_eq!(application["decisionConditions"]["tolerationSeconds"], 300);
    assert_eq!(at(&object, "/spec/failover/cluster/purgeMode"), "Gracefully");
    let object = defaulted(
        propagation_policy,
        pp(json!({"failover": {"application": {"decisionConditions": {}, "purgeMode": "Directly"}}})),
    );
    assert_eq!(at(&object, "/spec/failover/application/gracePeriodSeconds"), &Value::Null);
}

#[test]
fn a_cluster_propagation_policy_gets_its_own_id_and_finalizer_and_keeps_selectors_without_namespace() {
    let object = defaulted(
        cluster_propagation_policy,
        json!({"metadata": {"name": "c"}, "spec": {"resourceSelectors": [{"apiVersion": "v1", "kind": "Namespace"}]}}),
    );
    assert!(at(&object, "/metadata/labels").get(CPP_PERMANENT_ID).is_some());
    assert_eq!(at(&object, "/metadata/finalizers"), &json!(["karmada.io/cluster-propagation-policy-controller"]));
    assert_eq!(at(&object, "/spec/resourceSelectors/0/namespace"), &Value::Null);
    assert_eq!(at(&object, "/spec/preemption"), "Never");
}

#[test]
fn an_override_policy_gets_selector_namespaces_and_empty_overriders_only() {
    let object = defaulted(
        override_policy,
        json!({"metadata": {"name": "o", "namespace": "team"},
               "spec": {"resourceSelectors": [{"apiVersion": "v1", "kind": "Service"}]}}),
    );
    assert_eq!(at(&object, "/spec/resourceSelectors/0/namespace"), "team");
    assert_eq!(at(&object, "/spec/overriders"), &json!({}));
    assert_eq!(at(&object, "/metadata/labels"), &Value::Null);
    assert_eq!(at(&object, "/metadata/finalizers"), &Value::Null);
}

#[test]
fn bindings_get_a_permanent_id_on_create_only_and_their_crd_defaults() {
    let object = defaulted(
        resource_binding,
        json!({"metadata": {"name": "b", "namespace": "n"},
               "spec": {"placement": {"replicaScheduling": {}}, "schedulePriority": {}}}),
    );
    assert!(at(&object, "/metadata/labels").get(RB_PERMANENT_ID).is_some());
    assert_eq!(at(&object, "/spec/conflictResolution"), "Abort");
    assert_eq!(at(&object, "/spec/placement/replicaScheduling/replicaSchedulingType"), "Divided");
    assert_eq!(at(&object, "/spec/placement/replicaScheduling/replicaDivisionPreference"), &Value::Null);
    assert_eq!(at(&object, "/spec/schedulePriority/priority"), 0);
    let update =
        defaulted(cluster_resource_binding, json!({"metadata": {"name": "b", "resourceVersion": "3"}, "spec": {}}));
    assert_eq!(at(&update, "/metadata/labels"), &Value::Null);
    let create = defaulted(cluster_resource_binding, json!({"metadata": {"name": "b"}, "spec": {}}));
    assert!(at(&create, "/metadata/labels").get(CRB_PERMANENT_ID).is_some());
}

#[test]
fn a_work_gets_a_permanent_id_and_its_manifests_are_pruned_and_labelled() {
    let object = defaulted(
        work,
        json!({"metadata": {"name": "w", "namespace": "karmada-es-member1"}, "spec": {"workload": {"manifests": [{
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "s", "uid": "x", "resourceVersion": "9", "generation": 2, "labels": {"app": "a"},
                         "annotations": {"note": "n"}, "finalizers": ["f"], "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"clusterIP": "10.0.0.1", "clusterIPs": ["10.0.0.1"], "ports": [{"port": 80}]},
            "status": {"loadBalancer": {}}
        }]}}}),
    );
    let id = at(&object, "/metadata/labels").get(WORK_PERMANENT_ID).cloned().unwrap_or_default();
    assert!(id.is_string());
    let manifest = at(&object, "/spec/workload/manifests/0");
    assert_eq!(
        manifest["metadata"],
        json!({"name": "s", "labels": {"app": "a", WORK_PERMANENT_ID: id},
               "annotations": {"note": "n",
                               "resourcetemplate.karmada.io/managed-annotations":
                                   "note,resourcetemplate.karmada.io/managed-annotations,resourcetemplate.karmada.io/managed-labels",
                               "resourcetemplate.karmada.io/managed-labels": "app,work.karmada.io/permanent-id"}})
    );
    assert_eq!(manifest["spec"], json!({"ports": [{"port": 80}]}));
    assert_eq!(manifest.get("status"), None);
}

#[test]
fn a_headless_service_keeps_cluster_ip_none_and_a_job_loses_generated_selector_labels() {
    let object = defaulted(
        work,
        json!({"metadata": {"name": "w"}, "spec": {"workload": {"manifests": [
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "h"}, "spec": {"clusterIP": "None"}},
            {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"}, "spec": {
                "ttlSecondsAfterFinished": 5,
                "selector": {"matchLabels": {"controller-uid": "u", "keep": "k"}},
                "template": {"metadata": {"labels": {"job-name": "j", "batch.kubernetes.io/controller-uid": "u", "keep": "k"}}}}}
        ]}}}),
    );
    assert_eq!(at(&object, "/spec/workload/manifests/0/spec/clusterIP"), "None");
    let job = at(&object, "/spec/workload/manifests/1/spec");
    assert_eq!(job.get("ttlSecondsAfterFinished"), None);
    assert_eq!(job["selector"]["matchLabels"], json!({"keep": "k"}));
    assert_eq!(job["template"]["metadata"]["labels"], json!({"keep": "k"}));
}

#[test]
fn a_new_cluster_gets_nine_resource_model_grades_and_zone_moves_into_zones() {
    let object = defaulted(
        cluster,
        json!({"metadata": {"name": "m"}, "spec": {"syncMode": "Push", "zone": "z1",
               "taints": [{"key": "k", "effect": "NoExecute"}, {"key": "s", "effect": "NoSchedule"}]}}),
    );
    let models = at(&object, "/spec/resourceModels").as_array().cloned().unwrap_or_default();
    assert_eq!(models.len(), 9);
    assert_eq!(
        models[0],
        json!({"grade": 0, "ranges": [{"name": "cpu", "min": "0", "max": "1"},
                                                        {"name": "memory", "min": "0", "max": "4Gi"}]})
    );
    assert_eq!(models[8]["ranges"][0]["max"], "9223372036854775807");
    assert_eq!(at(&object, "/spec/zones"), &json!(["z1"]));
    assert_eq!(at(&object, "/spec/zone"), &Value::Null);
    assert!(at(&object, "/spec/taints/0/timeAdded").is_string());
    assert_eq!(at(&object, "/spec/taints/1/timeAdded"), &Value::Null);
}

#[test]
fn given_cluster_models_are_sorted_and_bounded_and_an_update_adds_none() {
    let object = defaulted(
        cluster,
        json!({"metadata": {"name": "m"}, "spec": {"syncMode": "Push", "resourceModels": [
            {"grade": 1, "ranges": [{"name": "cpu", "min": "2", "max": "4"}]},
            {"grade": 0, "ranges": [{"name": "cpu", "min": "1", "max": "2"}]}]}}),
    );
    assert_eq!(
        at(&object, "/spec/resourceModels"),
        &json!([{"grade": 0, "ranges": [{"name": "cpu", "min": "0", "max": "2"}]},
                {"grade": 1, "ranges": [{"name": "cpu", "min": "2", "max": "9223372036854775807"}]}])
    );
    let update =
        defaulted(cluster, json!({"metadata": {"name": "m", "resourceVersion": "5"}, "spec": {"syncMode": "Push"}}));
    assert_eq!(at(&update, "/spec/resourceModels"), &Value::Null);
}
