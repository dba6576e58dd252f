//! Karmada's defaulting, per kind: the CRD schema defaults, the mutating webhooks and the Cluster REST strategy.

mod cluster;
mod policy;
#[cfg(test)]
mod tests;
mod work;

use serde_json::{Map, Value, json};

use crate::registry::builtin::object::object_mut;

pub(super) use cluster::cluster;
pub(super) use policy::{binding_spec, cluster_propagation_policy, override_policy, propagation_policy};
pub(super) use work::work;

/// The label the PropagationPolicy webhook stamps on a new policy.
pub(crate) const PP_PERMANENT_ID: &str = "propagationpolicy.karmada.io/permanent-id";
/// The label the ClusterPropagationPolicy webhook stamps on a new policy.
pub(crate) const CPP_PERMANENT_ID: &str = "clusterpropagationpolicy.karmada.io/permanent-id";
/// The label the ResourceBinding webhook stamps on a binding that has none.
pub(crate) const RB_PERMANENT_ID: &str = "resourcebinding.karmada.io/permanent-id";
/// The label the ClusterResourceBinding webhook stamps on a binding that has none.
pub(crate) const CRB_PERMANENT_ID: &str = "clusterresourcebinding.karmada.io/permanent-id";
/// The label the Work webhook stamps on a Work and on each of its manifests.
pub(crate) const WORK_PERMANENT_ID: &str = "work.karmada.io/permanent-id";

/// No defaults.
pub(super) fn none(object: &mut Value) {
    let _ = object;
}

/// ResourceBinding: its CRD defaults; on create a permanent id when it has none.
pub(super) fn resource_binding(object: &mut Value) {
    binding(object, RB_PERMANENT_ID);
}

/// ClusterResourceBinding: its CRD defaults; on create a permanent id when it has none.
pub(super) fn cluster_resource_binding(object: &mut Value) {
    binding(object, CRB_PERMANENT_ID);
}

fn binding(object: &mut Value, id: &str) {
    if is_create(object) {
        ensure_permanent_id(object, id);
    }
    if let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut) {
        policy::binding_spec(spec);
    }
}

/// Whether the write being defaulted creates the object. The store has already set `metadata.resourceVersion` on
/// every update (and refuses a create that carries one) by the time defaulting runs.
pub(super) fn is_create(object: &Value) -> bool {
    object.pointer("/metadata/resourceVersion").and_then(Value::as_str).is_none_or(str::is_empty)
}

/// Sets label `key` to a fresh UUID unless it already has a non-empty value.
pub(super) fn ensure_permanent_id(object: &mut Value, key: &str) {
    let present = object.pointer("/metadata/labels").and_then(|l| l.get(key)).and_then(Value::as_str);
    if present.is_none_or(str::is_empty) {
        set_permanent_id(object, key);
    }
}

/// Sets label `key` to a fresh UUID, replacing any value the client sent (the policy webhooks do this on create).
pub(super) fn set_permanent_id(object: &mut Value, key: &str) {
    if let Some(labels) = object_mut(object, &["metadata", "labels"]) {
        labels.insert(key.to_string(), json!(uuid::Uuid::new_v4().to_string()));
    }
}

/// Appends `finalizer` to `metadata.finalizers` unless it is there.
pub(super) fn add_finalizer(object: &mut Value, finalizer: &str) {
    let Some(metadata) = object_mut(object, &["metadata"]) else { return };
    let entry = metadata.entry("finalizers").or_insert_with(|| json!([]));
    if entry.is_null() {
        *entry = json!([]);
    }
    if let Some(finalizers) = entry.as_array_mut()
        && !finalizers.iter().any(|f| f == finalizer)
    {
        finalizers.push(json!(finalizer));
    }
}

/// The object at `key` in `map` when it is one.
pub(super) fn child<'a>(map: &'a mut Map<String, Value>, key: &str) -> Option<&'a mut Map<String, Value>> {
    map.get_mut(key).and_then(Value::as_object_mut)
}
