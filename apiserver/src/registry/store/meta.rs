//! ObjectMeta on JSON objects: accessors, system fields (uid, timestamps), and the type checks decoding would make.

use serde_json::{Map, Value, json};

use crate::machinery::{ApiError, Object};

/// The standard finalizer the garbage collector handles for `propagationPolicy=Orphan`.
pub(crate) const FINALIZER_ORPHAN: &str = "orphan";
/// The standard finalizer the garbage collector handles for `propagationPolicy=Foreground`.
pub(crate) const FINALIZER_FOREGROUND: &str = "foregroundDeletion";

/// The machinery's readers, used by the store under these names.
pub(crate) use crate::machinery::meta::{finalizers, name, namespace, now, resource_version, uid};

/// `metadata` of `object`, if it is a map.
pub(crate) fn metadata(object: &Object) -> Option<&Map<String, Value>> {
    object.get("metadata").and_then(Value::as_object)
}

/// `metadata` of `object` as a mutable map, created when missing or not a map (and `object` made a map too).
pub(crate) fn metadata_mut(object: &mut Object) -> &mut Map<String, Value> {
    let metadata = ensure_map(object).entry("metadata").or_insert_with(|| json!({}));
    ensure_map(metadata)
}

/// `value` as a map, replacing it with an empty one when it is not a map.
pub(crate) fn ensure_map(value: &mut Value) -> &mut Map<String, Value> {
    if !value.is_object() {
        *value = Value::Object(Map::new());
    }
    match value {
        Value::Object(map) => map,
        _ => unreachable!("the value was just made a map"),
    }
}

/// A string field of `metadata` (`""` when absent or not a string).
pub(crate) fn meta_str<'a>(object: &'a Object, field: &str) -> &'a str {
    metadata(object).and_then(|m| m.get(field)).and_then(Value::as_str).unwrap_or_default()
}

/// An integer field of `metadata`.
pub(crate) fn meta_i64(object: &Object, field: &str) -> Option<i64> {
    metadata(object).and_then(|m| m.get(field)).and_then(Value::as_i64)
}

/// Sets (or, with `Value::Null`, removes) a field of `metadata`.
pub(crate) fn set_meta(object: &mut Object, field: &str, value: Value) {
    let metadata = metadata_mut(object);
    if value.is_null() {
        metadata.remove(field);
    } else {
        metadata.insert(field.to_string(), value);
    }
}

/// Replaces `metadata.finalizers` (removing the field when empty).
pub(crate) fn set_finalizers(object: &mut Object, finalizers: &[String]) {
    let value = if finalizers.is_empty() { Value::Null } else { json!(finalizers) };
    set_meta(object, "finalizers", value);
}

/// Whether `metadata.deletionTimestamp` is set.
pub(crate) fn is_deleting(object: &Object) -> bool {
    metadata(object).and_then(|m| m.get("deletionTimestamp")).is_some_and(|t| !t.is_null())
}

/// A new random (version 4) UID.
pub(crate) fn new_uid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Checks the types of the common metadata fields, as decoding into `ObjectMeta` would; drops `null` fields.
///
/// # Errors
/// 400 BadRequest worded as kube-apiserver's decoding failures: `<Kind> in version "<v>" cannot be handled as a ...`.
pub(crate) fn check_types(object: &mut Object, kind: &str, version: &str) -> Result<(), ApiError> {
    let fail = |what: &str| {
        ApiError::bad_request(format!("{kind} in version {version:?} cannot be handled as a {kind}: {what}"))
    };
    let Some(map) = object.as_object_mut() else {
        return Err(fail("json: cannot unmarshal non-object into Go value"));
    };
    let metadata = map.entry("metadata").or_insert_with(|| json!({}));
    if metadata.is_null() {
        *metadata = json!({});
    }
    let Some(metadata) = metadata.as_object_mut() else {
        return Err(fail(&format!(
            "json: cannot unmarshal {} into Go struct field .metadata of type v1.ObjectMeta",
            json_type(metadata)
        )));
    };
    metadata.retain(|_, value| !value.is_null());
    let wrong = |field: &str, value: &Value, want: &str| {
        fail(&format!(
            "json: cannot unmarshal {} into Go struct field ObjectMeta.metadata.{field} of type {want}",
            json_type(value)
        ))
    };
    for (field, value) in metadata.iter() {
        match field.as_str() {
            "name" | "generateName" | "namespace" | "uid" | "resourceVersion" | "selfLink" | "creationTimestamp"
            | "deletionTimestamp"
                if !value.is_string() =>
            {
                return Err(wrong(field, value, "string"));
            }
            "generation" | "deletionGracePeriodSeconds" if value.as_i64().is_none() => {
                return Err(wrong(field, value, "int64"));
            }
            "labels" | "annotations" => match value.as_object() {
                Some(entries) => {
                    if let Some(bad) = entries.values().find(|v| !v.is_string()) {
                        return Err(wrong(field, bad, "string"));
                    }
                }
                None => return Err(wrong(field, value, "map[string]string")),
            },
            "finalizers" => match value.as_array() {
                Some(items) => {
                    if let Some(bad) = items.iter().find(|v| !v.is_string()) {
                        return Err(wrong(field, bad, "string"));
                    }
                }
                None => return Err(wrong(field, value, "[]string")),
            },
            "ownerReferences" => check_owner_references(value)
                .map_err(|(sub, bad, want)| wrong(&format!("ownerReferences.{sub}"), bad, want))?,
            "managedFields" if !value.as_array().is_some_and(|items| items.iter().all(Value::is_object)) => {
                return Err(wrong(field, value, "[]v1.ManagedFieldsEntry"));
            }
            _ => {}
        }
    }
    Ok(())
}

fn check_owner_references(value: &Value) -> Result<(), (&'static str, &Value, &'static str)> {
    let Some(items) = value.as_array() else {
        return Err(("", value, "[]v1.OwnerReference"));
    };
    for item in items {
        let Some(reference) = item.as_object() else {
            return Err(("", item, "v1.OwnerReference"));
        };
        for (field, value) in reference {
            let ok = match field.as_str() {
                "apiVersion" | "kind" | "name" | "uid" => value.is_string(),
                "controller" | "blockOwnerDeletion" => value.is_boolean() || value.is_null(),
                _ => true,
            };
            if !ok {
                let (name, want) = match field.as_str() {
                    "apiVersion" => ("apiVersion", "string"),
                    "kind" => ("kind", "string"),
                    "name" => ("name", "string"),
                    "uid" => ("uid", "types.UID"),
                    "controller" => ("controller", "bool"),
                    _ => ("blockOwnerDeletion", "bool"),
                };
                return Err((name, value, want));
            }
        }
    }
    Ok(())
}

/// The JSON type name Go's decoder uses in its errors.
fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_have_whole_seconds_in_utc() {
        let now = now();
        assert_eq!(now.len(), 20, "{now}");
        assert!(now.ends_with('Z'));
    }

    #[test]
    fn wrongly_typed_metadata_is_a_bad_request() {
        let mut object = json!({"metadata": {"labels": {"a": 1}}});
        let error = check_types(&mut object, "ConfigMap", "v1").err().map(|e| (e.code, e.message));
        assert_eq!(
            error,
            Some((
                400,
                "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: json: cannot unmarshal number into Go \
                 struct field ObjectMeta.metadata.labels of type string"
                    .to_string()
            ))
        );
        let mut fine = json!({"metadata": {"name": "a", "uid": null}});
        assert!(check_types(&mut fine, "ConfigMap", "v1").is_ok());
        assert_eq!(fine, json!({"metadata": {"name": "a"}}));
    }
}
