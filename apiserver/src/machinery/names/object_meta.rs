//! `ObjectMeta` validation on create and update, with kube-apiserver's field paths and messages.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::{NameValidator, is_label_key, is_label_value, name_is_dns_label};
use crate::machinery::{FieldError, Object};

/// Largest total size of all annotation keys and values.
const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;
/// Longest `fieldManager` / `managedFields[].manager`.
pub(crate) const FIELD_MANAGER_MAX_LENGTH: usize = 128;
/// Longest `managedFields[].subresource`.
const MAX_SUBRESOURCE_NAME_LENGTH: usize = 256;
const IMMUTABLE: &str = "field is immutable";

fn metadata(object: &Object) -> &Map<String, Value> {
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    object.get("metadata").and_then(Value::as_object).unwrap_or_else(|| EMPTY.get_or_init(Map::new))
}

fn string_at<'a>(meta: &'a Map<String, Value>, key: &str) -> &'a str {
    meta.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// Validates `metadata` of a new object (after `generateName` was turned into a name), as
/// `ValidateObjectMetaAccessor`: name or generateName, namespace iff `namespaced`, generation, labels, annotations,
/// ownerReferences, finalizers and managedFields. Paths start at `metadata.`.
pub fn validate_object_meta(object: &Object, namespaced: bool, name_validator: NameValidator) -> Vec<FieldError> {
    let meta = metadata(object);
    let mut errors = Vec::new();
    let generate_name = string_at(meta, "generateName");
    if !generate_name.is_empty() {
        for message in name_validator(generate_name, true) {
            errors.push(FieldError::invalid("metadata.generateName", generate_name, message));
        }
    }
    let name = string_at(meta, "name");
    if name.is_empty() {
        errors.push(FieldError::required("metadata.name", "name or generateName is required"));
    } else {
        for message in name_validator(name, false) {
            errors.push(FieldError::invalid("metadata.name", name, message));
        }
    }
    let namespace = string_at(meta, "namespace");
    if namespaced {
        if namespace.is_empty() {
            errors.push(FieldError::required("metadata.namespace", ""));
        } else {
            for message in name_is_dns_label(namespace, false) {
                errors.push(FieldError::invalid("metadata.namespace", namespace, message));
            }
        }
    } else if !namespace.is_empty() {
        errors.push(FieldError::forbidden("metadata.namespace", "not allowed on this type"));
    }
    errors.extend(validate_common(meta));
    errors.extend(validate_finalizers(meta.get("finalizers"), "metadata.finalizers"));
    errors
}

/// Validates `metadata` of an update against the stored object, as `ValidateObjectMetaAccessorUpdate`: no new
/// finalizers while deleting, `resourceVersion` present, generation not decremented, immutable identity fields
/// (name, namespace, uid, creationTimestamp, deletionTimestamp, deletionGracePeriodSeconds), labels, annotations,
/// ownerReferences and managedFields.
pub fn validate_object_meta_update(object: &Object, old: &Object) -> Vec<FieldError> {
    let meta = metadata(object);
    let old_meta = metadata(old);
    let mut errors = Vec::new();
    if !old_meta.get("deletionTimestamp").unwrap_or(&Value::Null).is_null() {
        let old_finalizers: BTreeSet<&str> = strings_of(old_meta.get("finalizers")).collect();
        let extra: BTreeSet<&str> =
            strings_of(meta.get("finalizers")).filter(|f| !old_finalizers.contains(f)).collect();
        if !extra.is_empty() {
            let listed: Vec<String> = extra.iter().map(|f| format!("{f:?}")).collect();
            errors.push(FieldError::forbidden(
                "metadata.finalizers",
                format!(
                    "no new finalizers can be added if the object is being deleted, found new finalizers []string{{{}}}",
                    listed.join(", ")
                ),
            ));
        }
    }
    if string_at(meta, "resourceVersion").is_empty() {
        errors.push(FieldError::invalid("metadata.resourceVersion", "", "must be specified for an update"));
    }
    let generation = meta.get("generation").and_then(Value::as_i64).unwrap_or(0);
    let old_generation = old_meta.get("generation").and_then(Value::as_i64).unwrap_or(0);
    if generation < old_generation {
        errors.push(FieldError::invalid("metadata.generation", generation, "must not be decremented"));
    }
    for (key, zero) in [
        ("name", Value::from("")),
        ("namespace", Value::from("")),
        ("uid", Value::from("")),
        ("creationTimestamp", Value::Null),
        ("deletionTimestamp", Value::Null),
        ("deletionGracePeriodSeconds", Value::Null),
    ] {
        let new_value = meta.get(key).filter(|v| !v.is_null()).unwrap_or(&zero);
        let old_value = old_meta.get(key).filter(|v| !v.is_null()).unwrap_or(&zero);
        if new_value != old_value {
            errors.push(FieldError::invalid(format!("metadata.{key}"), new_value.clone(), IMMUTABLE));
        }
    }
    errors.extend(validate_common(meta));
    errors
}

/// Generation, labels, annotations, ownerReferences and managedFields (shared by create and update).
fn validate_common(meta: &Map<String, Value>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Some(generation) = meta.get("generation").and_then(Value::as_i64).filter(|g| *g < 0) {
        errors.push(FieldError::invalid("metadata.generation", generation, "must be greater than or equal to 0"));
    }
    if let Some(labels) = meta.get("labels") {
        errors.extend(validate_labels(labels, "metadata.labels"));
    }
    if let Some(annotations) = meta.get("annotations") {
        errors.extend(validate_annotations(annotations, "metadata.annotations"));
    }
    errors.extend(validate_owner_references(meta.get("ownerReferences"), "metadata.ownerReferences"));
    errors.extend(validate_managed_fields(meta.get("managedFields"), "metadata.managedFields"));
    errors
}

fn strings_of(value: Option<&Value>) -> impl Iterator<Item = &str> {
    value.and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str)
}

/// Validates a label map (`ValidateLabels`): every key a qualified name, every value a label value; errors carry
/// `path` itself (not the key) as kube-apiserver reports them.
pub fn validate_labels(labels: &Value, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let Some(labels) = labels.as_object() else {
        if !labels.is_null() {
            errors.push(FieldError::invalid(path, labels.clone(), "must be a map of string keys to string values"));
        }
        return errors;
    };
    for (key, value) in labels {
        for message in is_label_key(key) {
            errors.push(FieldError::invalid(path, key.as_str(), message));
        }
        match value.as_str() {
            Some(value) => {
                for message in is_label_value(value) {
                    errors.push(FieldError::invalid(path, value, message));
                }
            }
            None if value.is_null() => {}
            None => errors.push(FieldError::invalid(path, value.clone(), "must be a string")),
        }
    }
    errors
}

/// Validates annotations (`ValidateAnnotations`): keys are qualified names ignoring case, and all keys and values
/// together take at most 256 KiB.
pub fn validate_annotations(annotations: &Value, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let Some(annotations) = annotations.as_object() else {
        if !annotations.is_null() {
            errors.push(FieldError::invalid(
                path,
                annotations.clone(),
                "must be a map of string keys to string values",
            ));
        }
        return errors;
    };
    let mut total = 0usize;
    for (key, value) in annotations {
        for message in is_label_key(&key.to_lowercase()) {
            errors.push(FieldError::invalid(path, key.as_str(), message));
        }
        match value.as_str() {
            Some(value) => total = total.saturating_add(key.len()).saturating_add(value.len()),
            None if value.is_null() => total = total.saturating_add(key.len()),
            None => errors.push(FieldError::invalid(path, value.clone(), "must be a string")),
        }
    }
    if total > TOTAL_ANNOTATION_SIZE_LIMIT {
        errors.push(FieldError::too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT));
    }
    errors
}

fn validate_owner_references(references: Option<&Value>, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let Some(list) = references.and_then(Value::as_array) else {
        return errors;
    };
    let mut first_controller: Option<String> = None;
    for (index, reference) in list.iter().enumerate() {
        let at = format!("{path}[{index}]");
        let field = |key: &str| reference.get(key).and_then(Value::as_str).unwrap_or_default();
        let api_version = field("apiVersion");
        let (group, version, parsed) = parse_group_version(api_version);
        if api_version.is_empty() {
            errors.push(FieldError::required(format!("{at}.apiVersion"), "must not be empty"));
        } else if !parsed || version.is_empty() {
            errors.push(FieldError::invalid(
                format!("{at}.apiVersion"),
                api_version,
                "must be <group>/<version> or <version>",
            ));
        }
        for key in ["kind", "name", "uid"] {
            if field(key).is_empty() {
                errors.push(FieldError::required(format!("{at}.{key}"), "must not be empty"));
            }
        }
        if group.is_empty() && version == "v1" && field("kind") == "Event" {
            errors.push(FieldError::invalid(
                at.clone(),
                reference.clone(),
                "/v1, Kind=Event is disallowed from being an owner",
            ));
        }
        if reference.get("controller").and_then(Value::as_bool) == Some(true) {
            let current = format!("{}/{}", field("kind"), field("name"));
            match &first_controller {
                Some(first) => errors.push(FieldError::invalid(
                    path,
                    Value::Array(list.clone()),
                    format!(
                        "Only one reference can have Controller set to true. Found \"true\" in references for {first} and {current}"
                    ),
                )),
                None => first_controller = Some(current),
            }
        }
    }
    errors
}

/// `schema.ParseGroupVersion`: `(group, version, ok)`.
fn parse_group_version(text: &str) -> (&str, &str, bool) {
    if text.is_empty() || text == "/" {
        return ("", "", true);
    }
    match text.matches('/').count() {
        0 => ("", text, true),
        1 => text.split_once('/').map_or(("", "", false), |(g, v)| (g, v, true)),
        _ => ("", "", false),
    }
}

/// Validates finalizer names (qualified names) and that `orphan` and `foregroundDeletion` are not both present.
fn validate_finalizers(finalizers: Option<&Value>, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut orphan = false;
    let mut foreground = false;
    for finalizer in strings_of(finalizers) {
        for message in is_label_key(finalizer) {
            errors.push(FieldError::invalid(path, finalizer, message));
        }
        orphan |= finalizer == "orphan";
        foreground |= finalizer == "foregroundDeletion";
    }
    if orphan && foreground {
        let list = finalizers.cloned().unwrap_or(Value::Null);
        errors.push(FieldError::invalid(path, list, "finalizer orphan and foregroundDeletion cannot be both set"));
    }
    errors
}

fn validate_managed_fields(entries: Option<&Value>, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (index, entry) in entries.and_then(Value::as_array).into_iter().flatten().enumerate() {
        let at = format!("{path}[{index}]");
        let field = |key: &str| entry.get(key).and_then(Value::as_str).unwrap_or_default();
        match field("operation") {
            "" => errors.push(FieldError::required(format!("{at}.operation"), "must not be empty")),
            "Apply" | "Update" => {}
            other => errors.push(FieldError::not_supported(format!("{at}.operation"), other, &["Apply", "Update"])),
        }
        let fields_type = field("fieldsType");
        if !fields_type.is_empty() && fields_type != "FieldsV1" {
            errors.push(FieldError::invalid(format!("{at}.fieldsType"), fields_type, "must be `FieldsV1`"));
        }
        errors.extend(validate_field_manager(field("manager"), &format!("{at}.manager")));
        if field("subresource").len() > MAX_SUBRESOURCE_NAME_LENGTH {
            errors.push(FieldError::too_long(format!("{at}.subresource"), MAX_SUBRESOURCE_NAME_LENGTH));
        }
    }
    errors
}

/// Validates a field manager name: at most 128 bytes, printable characters only (`ValidateFieldManager`).
pub fn validate_field_manager(manager: &str, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if manager.len() > FIELD_MANAGER_MAX_LENGTH {
        errors.push(FieldError::too_long(path, FIELD_MANAGER_MAX_LENGTH));
    }
    for (position, c) in manager.char_indices() {
        if !is_printable(c) {
            errors.push(FieldError::invalid(
                path,
                manager,
                format!("invalid character U+{:04X} (at position {position})", u32::from(c)),
            ));
        }
    }
    errors
}

/// An approximation of Go's `unicode.IsPrint`: no control or format characters, no separators but the ASCII
/// space, no private-use characters.
pub(crate) fn is_printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    let format = matches!(
        u32::from(c),
        0xAD | 0x600..=0x605 | 0x61C | 0x6DD | 0x70F | 0x180E | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064
            | 0x2066..=0x206F | 0xFEFF | 0xFFF9..=0xFFFB | 0xE000..=0xF8FF | 0xF0000..=0x10FFFF
    );
    !(c.is_control() || c.is_whitespace() || format)
}
