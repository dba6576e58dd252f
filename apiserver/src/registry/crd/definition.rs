//! The CustomResourceDefinition kind's hooks: defaults, status kept current, the cleanup finalizer, validation.

use jiff::Timestamp;
use serde_json::{Map, Value, json};

use super::validation;
use crate::machinery::{FieldError, Object};

/// The finalizer that keeps a deleted CRD until its custom resources are gone.
pub const CLEANUP_FINALIZER: &str = "customresourcecleanup.apiextensions.k8s.io";

fn now() -> String {
    Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn str_of<'a>(value: &'a Value, path: &[&str]) -> &'a str {
    path.iter().try_fold(value, |v, k| v.get(k)).and_then(Value::as_str).unwrap_or_default()
}

/// `SetDefaults_CustomResourceDefinitionSpec`: singular and list kind from the kind, conversion `None`, webhook
/// service port 443.
pub(crate) fn defaults(object: &mut Object) {
    let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut) else { return };
    if let Some(names) = spec.get_mut("names").and_then(Value::as_object_mut) {
        let kind = names.get("kind").and_then(Value::as_str).unwrap_or_default().to_string();
        if names.get("singular").and_then(Value::as_str).is_none_or(str::is_empty) {
            names.insert("singular".into(), json!(kind.to_lowercase()));
        }
        if names.get("listKind").and_then(Value::as_str).is_none_or(str::is_empty) && !kind.is_empty() {
            names.insert("listKind".into(), json!(format!("{kind}List")));
        }
    }
    match spec.get_mut("conversion") {
        Some(Value::Object(conversion)) => {
            if let Some(service) = conversion
                .get_mut("webhook")
                .and_then(|w| w.get_mut("clientConfig"))
                .and_then(|c| c.get_mut("service"))
                .and_then(Value::as_object_mut)
            {
                service.entry("port").or_insert(json!(443));
            }
        }
        _ => {
            spec.insert("conversion".into(), json!({"strategy": "None"}));
        }
    }
}

/// The names kube-apiserver accepts for the CRD: what its spec asks for.
fn accepted_names(object: &Object) -> Value {
    let names = object.get("spec").and_then(|s| s.get("names")).cloned().unwrap_or_else(|| json!({}));
    let mut accepted = Map::new();
    for key in ["plural", "singular", "shortNames", "kind", "listKind", "categories"] {
        match names.get(key) {
            Some(Value::String(text)) if text.is_empty() => {}
            Some(Value::Array(items)) if items.is_empty() => {}
            Some(value) if !value.is_null() => {
                accepted.insert(key.to_string(), value.clone());
            }
            _ => {}
        }
    }
    Value::Object(accepted)
}

/// Sets a condition, keeping its `lastTransitionTime` when its status does not change.
pub(crate) fn set_condition(object: &mut Object, condition: Value) {
    let Some(status) = status_mut(object) else { return };
    let conditions = status.entry("conditions").or_insert_with(|| json!([]));
    if !conditions.is_array() {
        *conditions = json!([]);
    }
    let Some(list) = conditions.as_array_mut() else { return };
    let kind = condition["type"].clone();
    let mut condition = condition;
    match list.iter_mut().find(|c| c["type"] == kind) {
        Some(existing) => {
            if existing["status"] == condition["status"] {
                condition["lastTransitionTime"] = existing["lastTransitionTime"].clone();
            }
            *existing = condition;
        }
        None => list.push(condition),
    }
}

fn status_mut(object: &mut Object) -> Option<&mut Map<String, Value>> {
    let map = object.as_object_mut()?;
    let status = map.entry("status").or_insert_with(|| json!({}));
    if !status.is_object() {
        *status = json!({});
    }
    status.as_object_mut()
}

fn condition(kind: &str, status: &str, reason: &str, message: &str) -> Value {
    json!({"type": kind, "status": status, "lastTransitionTime": now(), "reason": reason, "message": message})
}

/// What the naming and establishing controllers of kube-apiserver write, done at once: accepted names,
/// `NamesAccepted` and `Established`, and the storage version among the stored versions.
fn refresh_status(object: &mut Object) {
    let accepted = accepted_names(object);
    let storage = object
        .get("spec")
        .and_then(|s| s.get("versions"))
        .and_then(Value::as_array)
        .and_then(|versions| versions.iter().find(|v| v.get("storage").and_then(Value::as_bool) == Some(true)))
        .map(|v| str_of(v, &["name"]).to_string());
    if let Some(status) = status_mut(object) {
        status.insert("acceptedNames".into(), accepted);
        let stored = status.entry("storedVersions").or_insert_with(|| json!([]));
        if !stored.is_array() {
            *stored = json!([]);
        }
        if let (Some(storage), Some(list)) = (storage, stored.as_array_mut())
            && !list.iter().any(|v| v.as_str() == Some(storage.as_str()))
        {
            list.push(json!(storage));
        }
    }
    set_condition(object, condition("NamesAccepted", "True", "NoConflicts", "no conflicts found"));
    let established = condition("Established", "True", "InitialNamesAccepted", "the initial names have been accepted");
    set_condition(object, established);
}

/// A new CRD's status is computed, never taken from the request.
pub(crate) fn prepare_create(object: &mut Object) {
    if let Some(map) = object.as_object_mut() {
        map.insert("status".into(), json!({}));
    }
    refresh_status(object);
}

/// Updates keep the status current for the (possibly new) spec.
pub(crate) fn prepare_update(object: &mut Object, _old: &Object) {
    refresh_status(object);
}

/// The first DELETE marks the CRD Terminating and adds the cleanup finalizer: the CRD controller deletes every
/// custom resource, then removes the finalizer, and the CRD goes.
pub(crate) fn prepare_delete(object: &mut Object) -> bool {
    let deleting = object.get("metadata").and_then(|m| m.get("deletionTimestamp")).is_some_and(|t| !t.is_null());
    if deleting {
        return false;
    }
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        let finalizers = metadata.entry("finalizers").or_insert_with(|| json!([]));
        if !finalizers.is_array() {
            *finalizers = json!([]);
        }
        if let Some(list) = finalizers.as_array_mut()
            && !list.iter().any(|f| f.as_str() == Some(CLEANUP_FINALIZER))
        {
            list.push(json!(CLEANUP_FINALIZER));
        }
    }
    let message = "CustomResourceDefinition marked for deletion; CustomResource deletion will begin soon";
    set_condition(object, condition("Terminating", "True", "InstanceDeletionPending", message));
    true
}

/// The condition the controller records while and after deleting the custom resources.
pub(crate) fn terminating_condition(reason: &str, message: &str) -> Value {
    condition("Terminating", "True", reason, message)
}

/// `ValidateCustomResourceDefinition`.
pub(crate) fn validate(object: &Object) -> Vec<FieldError> {
    validation::validate(object)
}

/// `ValidateCustomResourceDefinitionUpdate`.
pub(crate) fn validate_update(object: &Object, old: &Object) -> Vec<FieldError> {
    validation::validate_update(object, old)
}
