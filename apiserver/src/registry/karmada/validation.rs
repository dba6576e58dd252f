//! Karmada's validation, per kind: the CRD schema (with the constraints its kubebuilder markers add), then the
//! validating webhook (policies, bindings) or the aggregated API server's rules (Cluster), as field errors.

mod cluster;
mod crd;
mod overrides;
mod placement;
mod propagation;
mod search;
#[cfg(test)]
mod tests;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, OnceLock},
};

use serde_json::Value;

use super::{KINDS, structural};
use crate::{machinery::FieldError, schema::KindSchema};

pub(super) use cluster::{cluster, cluster_update};
pub(super) use overrides::{cluster_override_policy, override_policy};
pub(super) use propagation::{
    cluster_propagation_policy, cluster_propagation_policy_update, propagation_policy, propagation_policy_update,
};
pub(super) use search::{resource_registry, resource_registry_update};

/// No rules.
pub(super) fn none(object: &Value) -> Vec<FieldError> {
    let _ = object;
    Vec::new()
}

/// No rules on update.
pub(super) fn none_on_update(object: &Value, old: &Value) -> Vec<FieldError> {
    let _ = old;
    none(object)
}

/// A Work: its CRD schema.
pub(super) fn work(object: &Value) -> Vec<FieldError> {
    schema_errors("work.karmada.io", "Work", object)
}

/// A Work update: its CRD schema.
pub(super) fn work_update(object: &Value, old: &Value) -> Vec<FieldError> {
    let _ = old;
    work(object)
}

/// A ResourceBinding: its CRD schema, then the webhook's check of the dependencies annotation.
pub(super) fn resource_binding(object: &Value) -> Vec<FieldError> {
    binding("ResourceBinding", object)
}

/// A ResourceBinding update: as on create.
pub(super) fn resource_binding_update(object: &Value, old: &Value) -> Vec<FieldError> {
    let _ = old;
    resource_binding(object)
}

/// A ClusterResourceBinding: its CRD schema (Karmada has no validating webhook for it).
pub(super) fn cluster_resource_binding(object: &Value) -> Vec<FieldError> {
    schema_errors("work.karmada.io", "ClusterResourceBinding", object)
}

/// A ClusterResourceBinding update: its CRD schema.
pub(super) fn cluster_resource_binding_update(object: &Value, old: &Value) -> Vec<FieldError> {
    let _ = old;
    cluster_resource_binding(object)
}

/// The annotation a binding lists the objects its resource depends on in, as JSON.
const DEPENDENCIES_ANNOTATION: &str = "resourcebinding.karmada.io/dependencies";

fn binding(kind: &str, object: &Value) -> Vec<FieldError> {
    let errors = schema_errors("work.karmada.io", kind, object);
    if !errors.is_empty() {
        return errors;
    }
    let annotation = object.pointer("/metadata/annotations").and_then(|a| a.get(DEPENDENCIES_ANNOTATION));
    let Some(text) = annotation.and_then(Value::as_str) else { return errors };
    let parsed: Result<Option<Vec<Value>>, _> = serde_json::from_str(text);
    let valid = parsed.is_ok_and(|items| items.iter().flatten().all(Value::is_object));
    if valid {
        return errors;
    }
    vec![FieldError::invalid(
        format!("metadata.annotations.{DEPENDENCIES_ANNOTATION}"),
        text,
        "annotation value must be a valid JSON",
    )]
}

/// The errors of `object` against the CRD schema of `group`/`kind`: types, enums, required fields and the
/// constraints of Karmada's kubebuilder markers (see [`crd`]).
pub(super) fn schema_errors(group: &str, kind: &str, object: &Value) -> Vec<FieldError> {
    let version = object.get("apiVersion").and_then(Value::as_str).and_then(|v| v.rsplit('/').next());
    match schema(group, version.unwrap_or_default(), kind) {
        Some(schema) => crate::schema::validate_values(object, &schema),
        None => Vec::new(),
    }
}

type SchemaCache = Mutex<HashMap<(String, String, String), Option<Arc<KindSchema>>>>;

/// The validation schema of one served Karmada kind and version (the first served version when `version` is not
/// served), built once.
fn schema(group: &str, version: &str, kind: &str) -> Option<Arc<KindSchema>> {
    static CACHE: OnceLock<SchemaCache> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let key = (group.to_string(), version.to_string(), kind.to_string());
    if let Ok(cache) = cache.lock()
        && let Some(found) = cache.get(&key)
    {
        return found.clone();
    }
    let entry =
        KINDS.iter().filter(|k| k.group == group && k.kind == kind).min_by_key(|k| k.version != version).and_then(
            |k| {
                let served = structural::kind_schema((k.schema)());
                crd::with_markers(&served, group, kind).map(Arc::new)
            },
        );
    if let Ok(mut cache) = cache.lock() {
        cache.insert(key, entry.clone());
    }
    entry
}
