//! Defaults of the policy kinds: their CRD schema defaults, then what Karmada's policy webhooks fill in.

use serde_json::{Map, Value, json};

use super::{CPP_PERMANENT_ID, PP_PERMANENT_ID, add_finalizer, child, is_create, set_permanent_id};
use crate::registry::builtin::object::{default_field, each_item, existing_mut};

/// The finalizer the PropagationPolicy webhook adds on create.
pub(crate) const PP_FINALIZER: &str = "karmada.io/propagation-policy-controller";
/// The finalizer the ClusterPropagationPolicy webhook adds on create.
pub(crate) const CPP_FINALIZER: &str = "karmada.io/cluster-propagation-policy-controller";

/// PropagationPolicy: CRD defaults, selector namespaces, placement defaults; on create a new permanent id (a value
/// sent by the client is replaced) and the finalizer.
pub(crate) fn propagation_policy(object: &mut Value) {
    let create = is_create(object);
    let namespace = object.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or_default().to_string();
    if let Some(spec) = existing_mut(object, &["spec"]) {
        propagation_spec(spec);
        selector_namespaces(spec, &namespace);
    }
    if create {
        set_permanent_id(object, PP_PERMANENT_ID);
        add_finalizer(object, PP_FINALIZER);
    }
}

/// ClusterPropagationPolicy: as [`propagation_policy`] without the selector namespaces.
pub(crate) fn cluster_propagation_policy(object: &mut Value) {
    let create = is_create(object);
    if let Some(spec) = existing_mut(object, &["spec"]) {
        propagation_spec(spec);
    }
    if create {
        set_permanent_id(object, CPP_PERMANENT_ID);
        add_finalizer(object, CPP_FINALIZER);
    }
}

/// OverridePolicy: selector namespaces, and the deprecated `overriders` the webhook always writes back (empty).
pub(crate) fn override_policy(object: &mut Value) {
    let namespace = object.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or_default().to_string();
    if let Some(spec) = existing_mut(object, &["spec"]) {
        selector_namespaces(spec, &namespace);
        default_field(spec, "overriders", json!({}));
    }
}

/// Each resource selector without a namespace gets the policy's.
fn selector_namespaces(spec: &mut Map<String, Value>, namespace: &str) {
    if namespace.is_empty() {
        return;
    }
    each_item(spec, "resourceSelectors", |selector| {
        let empty = selector.get("namespace").and_then(Value::as_str).is_none_or(str::is_empty);
        if empty {
            selector.insert("namespace".into(), json!(namespace));
        }
    });
}

/// The CRD defaults of a binding's spec (the policy fields it copies keep their CRD defaults).
pub(crate) fn binding_spec(spec: &mut Map<String, Value>) {
    default_field(spec, "conflictResolution", json!("Abort"));
    failover_defaults(spec);
    if let Some(scheduling) = child(spec, "placement").and_then(|p| child(p, "replicaScheduling")) {
        default_field(scheduling, "replicaSchedulingType", json!("Divided"));
    }
    if let Some(priority) = child(spec, "schedulePriority") {
        default_field(priority, "priority", json!(0));
    }
}

fn failover_defaults(spec: &mut Map<String, Value>) {
    if let Some(failover) = child(spec, "failover") {
        if let Some(application) = child(failover, "application") {
            default_field(application, "purgeMode", json!("Gracefully"));
            if let Some(conditions) = child(application, "decisionConditions") {
                default_field(conditions, "tolerationSeconds", json!(300));
            }
        }
        if let Some(cluster) = child(failover, "cluster") {
            default_field(cluster, "purgeMode", json!("Gracefully"));
        }
    }
}

/// The CRD defaults and webhook defaults of a PropagationSpec (shared by both propagation policy kinds).
pub(crate) fn propagation_spec(spec: &mut Map<String, Value>) {
    // CRD schema defaults (applied while decoding, before the webhook runs).
    default_field(spec, "conflictResolution", json!("Abort"));
    default_field(spec, "preemption", json!("Never"));
    default_field(spec, "priority", json!(0));
    default_field(spec, "schedulerName", json!("default-scheduler"));
    failover_defaults(spec);
    // The webhook decodes into Go structs and writes them back: `placement` is a struct, so it always appears.
    let Some(placement) = object_mut_in(spec, "placement") else { return };
    if let Some(scheduling) = child(placement, "replicaScheduling") {
        default_field(scheduling, "replicaSchedulingType", json!("Divided"));
        let divided = scheduling.get("replicaSchedulingType").and_then(Value::as_str) == Some("Divided");
        let no_preference =
            scheduling.get("replicaDivisionPreference").and_then(Value::as_str).is_none_or(str::is_empty);
        if divided && no_preference {
            scheduling.insert("replicaDivisionPreference".into(), json!("Weighted"));
        }
    }
    each_item(placement, "spreadConstraints", spread_constraint);
    if contains_service_import(spec) {
        spec.insert("propagateDeps".into(), json!(true));
    }
    if let Some(application) = child(spec, "failover").and_then(|f| child(f, "application")) {
        let gracefully = application.get("purgeMode").and_then(Value::as_str) == Some("Gracefully");
        if gracefully && application.get("gracePeriodSeconds").is_none_or(Value::is_null) {
            application.insert("gracePeriodSeconds".into(), json!(600));
        }
    }
}

/// The object at `key` of `map`, created when missing or null.
fn object_mut_in<'a>(map: &'a mut Map<String, Value>, key: &str) -> Option<&'a mut Map<String, Value>> {
    let entry = map.entry(key.to_string()).or_insert(Value::Null);
    if entry.is_null() {
        *entry = json!({});
    }
    entry.as_object_mut()
}

/// A constraint naming neither a field nor a label spreads by cluster; a missing or zero `minGroups` is 1.
fn spread_constraint(constraint: &mut Map<String, Value>) {
    let empty = |key: &str| constraint.get(key).and_then(Value::as_str).is_none_or(str::is_empty);
    if empty("spreadByLabel") && empty("spreadByField") {
        constraint.insert("spreadByField".into(), json!("cluster"));
    }
    let min_groups = constraint.get("minGroups");
    if min_groups.is_none_or(|m| m.is_null() || m.as_i64() == Some(0)) {
        constraint.insert("minGroups".into(), json!(1));
    }
}

/// Whether a selector picks multi-cluster ServiceImports (their policies always propagate dependencies).
fn contains_service_import(spec: &Map<String, Value>) -> bool {
    let selectors = spec.get("resourceSelectors").and_then(Value::as_array);
    selectors.into_iter().flatten().any(|s| {
        s.get("kind").and_then(Value::as_str) == Some("ServiceImport")
            && s.get("apiVersion").and_then(Value::as_str) == Some("multicluster.x-k8s.io/v1alpha1")
    })
}
