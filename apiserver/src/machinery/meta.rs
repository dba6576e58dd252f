//! Typed accessors and mutators over an object's `metadata`, Kubernetes timestamps, and PartialObjectMetadata.

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::{Object, media::MetaVersion};

/// One `metadata.ownerReferences` entry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OwnerReference {
    /// `apiVersion` of the owner, e.g. `apps/v1`.
    pub api_version: String,
    /// `kind` of the owner.
    pub kind: String,
    /// `name` of the owner (same namespace as the dependent, or cluster-scoped).
    pub name: String,
    /// `uid` of the owner.
    pub uid: String,
    /// `controller`: this owner manages the dependent.
    pub controller: bool,
    /// `blockOwnerDeletion`: foreground deletion of the owner waits for this dependent.
    pub block_owner_deletion: bool,
}

impl OwnerReference {
    /// The wire form.
    pub fn to_value(&self) -> Value {
        let mut value = json!({"apiVersion": self.api_version, "kind": self.kind, "name": self.name, "uid": self.uid});
        if self.controller {
            value["controller"] = Value::Bool(true);
        }
        if self.block_owner_deletion {
            value["blockOwnerDeletion"] = Value::Bool(true);
        }
        value
    }
}

fn meta(object: &Object) -> Option<&Map<String, Value>> {
    object.get("metadata").and_then(Value::as_object)
}

fn meta_str<'a>(object: &'a Object, key: &str) -> &'a str {
    meta(object).and_then(|m| m.get(key)).and_then(Value::as_str).unwrap_or_default()
}

fn string_map(value: Option<&Value>) -> BTreeMap<String, String> {
    value
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
        .collect()
}

/// `metadata.name` (`""` when absent).
pub fn name(object: &Object) -> &str {
    meta_str(object, "name")
}

/// `metadata.generateName` (`""` when absent).
pub fn generate_name(object: &Object) -> &str {
    meta_str(object, "generateName")
}

/// `metadata.namespace` (`""` when absent or cluster-scoped).
pub fn namespace(object: &Object) -> &str {
    meta_str(object, "namespace")
}

/// `metadata.uid` (`""` when absent).
pub fn uid(object: &Object) -> &str {
    meta_str(object, "uid")
}

/// `metadata.resourceVersion` (`""` when absent).
pub fn resource_version(object: &Object) -> &str {
    meta_str(object, "resourceVersion")
}

/// `metadata.creationTimestamp`, when set.
pub fn creation_timestamp(object: &Object) -> Option<&str> {
    Some(meta_str(object, "creationTimestamp")).filter(|t| !t.is_empty())
}

/// `metadata.deletionTimestamp`, when the object is being deleted.
pub fn deletion_timestamp(object: &Object) -> Option<&str> {
    Some(meta_str(object, "deletionTimestamp")).filter(|t| !t.is_empty())
}

/// `metadata.generation` (0 when absent).
pub fn generation(object: &Object) -> i64 {
    meta(object).and_then(|m| m.get("generation")).and_then(Value::as_i64).unwrap_or(0)
}

/// `metadata.labels` (non-string values skipped).
pub fn labels(object: &Object) -> BTreeMap<String, String> {
    string_map(meta(object).and_then(|m| m.get("labels")))
}

/// `metadata.annotations` (non-string values skipped).
pub fn annotations(object: &Object) -> BTreeMap<String, String> {
    string_map(meta(object).and_then(|m| m.get("annotations")))
}

/// `metadata.finalizers`, in order.
pub fn finalizers(object: &Object) -> Vec<String> {
    meta(object)
        .and_then(|m| m.get("finalizers"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|f| f.as_str().map(str::to_string))
        .collect()
}

/// `metadata.ownerReferences`, in order (missing fields read as empty/false).
pub fn owner_references(object: &Object) -> Vec<OwnerReference> {
    let field =
        |reference: &Value, key: &str| reference.get(key).and_then(Value::as_str).unwrap_or_default().to_string();
    let flag = |reference: &Value, key: &str| reference.get(key).and_then(Value::as_bool).unwrap_or(false);
    meta(object)
        .and_then(|m| m.get("ownerReferences"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|r| OwnerReference {
            api_version: field(r, "apiVersion"),
            kind: field(r, "kind"),
            name: field(r, "name"),
            uid: field(r, "uid"),
            controller: flag(r, "controller"),
            block_owner_deletion: flag(r, "blockOwnerDeletion"),
        })
        .collect()
}

/// `apiVersion` (`""` when absent).
pub fn api_version(object: &Object) -> &str {
    object.get("apiVersion").and_then(Value::as_str).unwrap_or_default()
}

/// `kind` (`""` when absent).
pub fn kind(object: &Object) -> &str {
    object.get("kind").and_then(Value::as_str).unwrap_or_default()
}

/// `metadata` for writing, created when absent or not a map; `None` only when `object` itself is not a map.
pub fn metadata_mut(object: &mut Object) -> Option<&mut Map<String, Value>> {
    let map = object.as_object_mut()?;
    let metadata = map.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
    if !metadata.is_object() {
        *metadata = Value::Object(Map::new());
    }
    metadata.as_object_mut()
}

/// Sets `metadata.<key>`, or removes it for `Value::Null`.
pub fn set_field(object: &mut Object, key: &str, value: Value) {
    if let Some(metadata) = metadata_mut(object) {
        if value.is_null() {
            metadata.remove(key);
        } else {
            metadata.insert(key.to_string(), value);
        }
    }
}

/// Sets `metadata.name`.
pub fn set_name(object: &mut Object, name: &str) {
    set_field(object, "name", Value::from(name));
}

/// Sets `metadata.namespace`, or removes it for `""`.
pub fn set_namespace(object: &mut Object, namespace: &str) {
    set_field(object, "namespace", if namespace.is_empty() { Value::Null } else { Value::from(namespace) });
}

/// Sets `metadata.uid`.
pub fn set_uid(object: &mut Object, uid: &str) {
    set_field(object, "uid", Value::from(uid));
}

/// Sets `metadata.resourceVersion`, or removes it for `""` (objects are stored without one).
pub fn set_resource_version(object: &mut Object, resource_version: &str) {
    let value = if resource_version.is_empty() { Value::Null } else { Value::from(resource_version) };
    set_field(object, "resourceVersion", value);
}

/// Sets `metadata.generation`.
pub fn set_generation(object: &mut Object, generation: i64) {
    set_field(object, "generation", Value::from(generation));
}

/// Sets `metadata.creationTimestamp`.
pub fn set_creation_timestamp(object: &mut Object, timestamp: &str) {
    set_field(object, "creationTimestamp", Value::from(timestamp));
}

/// Sets `metadata.deletionTimestamp`, or removes it for `None`.
pub fn set_deletion_timestamp(object: &mut Object, timestamp: Option<&str>) {
    set_field(object, "deletionTimestamp", timestamp.map_or(Value::Null, Value::from));
}

/// Replaces `metadata.finalizers` (removed when empty, as kube-apiserver omits an empty list).
pub fn set_finalizers(object: &mut Object, finalizers: &[String]) {
    let value = if finalizers.is_empty() { Value::Null } else { Value::from(finalizers.to_vec()) };
    set_field(object, "finalizers", value);
}

/// Replaces `metadata.ownerReferences` (removed when empty).
pub fn set_owner_references(object: &mut Object, references: &[OwnerReference]) {
    let value = if references.is_empty() {
        Value::Null
    } else {
        Value::Array(references.iter().map(OwnerReference::to_value).collect())
    };
    set_field(object, "ownerReferences", value);
}

/// Sets one annotation, or removes it for `None` (the map goes when it becomes empty).
pub fn set_annotation(object: &mut Object, key: &str, value: Option<&str>) {
    let Some(metadata) = metadata_mut(object) else { return };
    let annotations = metadata.entry("annotations").or_insert_with(|| Value::Object(Map::new()));
    if !annotations.is_object() {
        *annotations = Value::Object(Map::new());
    }
    if let Some(map) = annotations.as_object_mut() {
        match value {
            Some(value) => {
                map.insert(key.to_string(), Value::from(value));
            }
            None => {
                map.remove(key);
            }
        }
        if map.is_empty() {
            metadata.remove("annotations");
        }
    }
}

/// The current time as Kubernetes writes timestamps: UTC, whole seconds, e.g. `2026-11-23T17:00:00Z`.
pub fn now() -> String {
    format_time(jiff::Timestamp::now())
}

/// A timestamp in Kubernetes' format (UTC, whole seconds, `Z`).
pub fn format_time(timestamp: jiff::Timestamp) -> String {
    timestamp.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Parses an RFC 3339 timestamp such as `metadata.creationTimestamp`.
pub fn parse_time(text: &str) -> Option<jiff::Timestamp> {
    text.parse().ok()
}

/// The `meta.k8s.io/v1` `PartialObjectMetadata` of `object`: its kind and apiVersion replaced, all of its metadata.
pub fn partial_object_metadata(object: &Object) -> Object {
    partial_object_metadata_in(object, MetaVersion::V1)
}

/// [`partial_object_metadata`] in `version` (v1 or v1beta1).
pub fn partial_object_metadata_in(object: &Object, version: MetaVersion) -> Object {
    let metadata = object.get("metadata").filter(|m| m.is_object()).cloned().unwrap_or_else(|| json!({}));
    json!({"kind": "PartialObjectMetadata", "apiVersion": version.api_version(), "metadata": metadata})
}

/// A `PartialObjectMetadataList` of `items` with the list's `resourceVersion`, `continue` and
/// `remainingItemCount` (empty or absent values are omitted, as in `ListMeta`).
pub fn partial_object_metadata_list(
    items: &[Object],
    resource_version: &str,
    continue_token: Option<&str>,
    remaining_item_count: Option<i64>,
    version: MetaVersion,
) -> Object {
    let mut list_meta = Map::new();
    if !resource_version.is_empty() {
        list_meta.insert("resourceVersion".into(), Value::from(resource_version));
    }
    if let Some(token) = continue_token.filter(|t| !t.is_empty()) {
        list_meta.insert("continue".into(), Value::from(token));
    }
    if let Some(count) = remaining_item_count {
        list_meta.insert("remainingItemCount".into(), Value::from(count));
    }
    let items: Vec<Value> = items.iter().map(|item| partial_object_metadata_in(item, version)).collect();
    json!({
        "kind": "PartialObjectMetadataList",
        "apiVersion": version.api_version(),
        "metadata": list_meta,
        "items": items,
    })
}

/// Why `metadata` cannot be read as an `ObjectMeta` (a field of the wrong type), worded as Go's JSON decoder;
/// `None` when it can. kube-apiserver answers such bodies with 400 BadRequest.
pub fn metadata_type_error(object: &Object) -> Option<String> {
    let metadata = match object.get("metadata") {
        None | Some(Value::Null) => return None,
        Some(Value::Object(map)) => map,
        Some(other) => {
            return Some(format!(
                "json: cannot unmarshal {} into Go struct field Object.metadata of type v1.ObjectMeta",
                go_type(other)
            ));
        }
    };
    for (key, value) in metadata {
        if value.is_null() {
            continue;
        }
        let expected = match key.as_str() {
            "name" | "generateName" | "namespace" | "selfLink" | "uid" | "resourceVersion" | "creationTimestamp"
            | "deletionTimestamp" => ("string", value.is_string()),
            "generation" | "deletionGracePeriodSeconds" => ("int64", value.is_i64()),
            "labels" | "annotations" => (
                "map[string]string",
                value.as_object().is_some_and(|m| m.values().all(|v| v.is_string() || v.is_null())),
            ),
            "finalizers" => {
                ("[]string", value.as_array().is_some_and(|a| a.iter().all(|v| v.is_string() || v.is_null())))
            }
            "ownerReferences" => ("[]v1.OwnerReference", value.as_array().is_some_and(|a| a.iter().all(is_map))),
            "managedFields" => ("[]v1.ManagedFieldsEntry", value.as_array().is_some_and(|a| a.iter().all(is_map))),
            _ => continue,
        };
        if !expected.1 {
            let found = offending(value);
            return Some(format!(
                "json: cannot unmarshal {} into Go struct field ObjectMeta.metadata.{key} of type {}",
                go_type(found),
                expected.0
            ));
        }
    }
    None
}

fn is_map(value: &Value) -> bool {
    value.is_object() || value.is_null()
}

/// The innermost value of the wrong type, as Go reports it (the element, not the container).
fn offending(value: &Value) -> &Value {
    let inner = match value {
        Value::Object(map) => map.values().find(|v| !v.is_string() && !v.is_null()),
        Value::Array(items) => items.iter().find(|v| !v.is_string() && !v.is_object() && !v.is_null()),
        _ => None,
    };
    inner.unwrap_or(value)
}

fn go_type(value: &Value) -> &'static str {
    match value {
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) | Value::Null => "object",
    }
}
