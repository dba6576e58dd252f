//! The OverridePolicy and ClusterOverridePolicy webhooks' rules (`ValidateOverrideSpec`).

use serde_json::{Map, Value};

use super::{placement::cluster_affinity, propagation::selector_namespaces, schema_errors};
use crate::machinery::{
    FieldError,
    names::{validate_annotations, validate_labels},
};

const GROUP: &str = "policy.karmada.io";

/// An OverridePolicy: schema, then the spec; selectors must stay in the policy's namespace.
pub(in crate::registry::karmada) fn override_policy(object: &Value) -> Vec<FieldError> {
    let namespace = object.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or_default();
    policy("OverridePolicy", namespace, object)
}

/// A ClusterOverridePolicy: schema, then the spec.
pub(in crate::registry::karmada) fn cluster_override_policy(object: &Value) -> Vec<FieldError> {
    policy("ClusterOverridePolicy", "", object)
}

fn policy(kind: &str, namespace: &str, object: &Value) -> Vec<FieldError> {
    let errors = schema_errors(GROUP, kind, object);
    if !errors.is_empty() {
        return errors;
    }
    let Some(spec) = object.get("spec").and_then(Value::as_object) else { return errors };
    override_spec(spec, namespace)
}

/// The deprecated top-level `overriders` count as set when any list but `fieldOverrider` has items.
fn overriders_set(overriders: Option<&Value>) -> bool {
    let Some(overriders) = overriders.and_then(Value::as_object) else { return false };
    ["plaintext", "imageOverrider", "commandOverrider", "argsOverrider", "labelsOverrider", "annotationsOverrider"]
        .iter()
        .any(|key| overriders.get(*key).and_then(Value::as_array).is_some_and(|list| !list.is_empty()))
}

fn override_spec(spec: &Map<String, Value>, namespace: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let target = spec.get("targetCluster").filter(|v| !v.is_null());
    let rules = spec.get("overrideRules").filter(|v| !v.is_null());
    if let Some(target) = target.and_then(Value::as_object) {
        cluster_affinity(target, "spec.targetCluster", &mut errors);
    }
    if let (Some(target), Some(_)) = (target, rules) {
        errors.push(FieldError::invalid(
            "spec.targetCluster",
            target.clone(),
            "overrideRules and targetCluster can't co-exist",
        ));
    }
    if overriders_set(spec.get("overriders")) && rules.is_some() {
        errors.push(FieldError::invalid(
            "spec.overriders",
            spec.get("overriders").cloned().unwrap_or_default(),
            "overrideRules and overriders can't co-exist",
        ));
    }
    for (index, rule) in rules.and_then(Value::as_array).into_iter().flatten().enumerate() {
        let Some(rule) = rule.as_object() else { continue };
        override_rule(rule, &format!("spec.overrideRules[{index}]"), &mut errors);
    }
    selector_namespaces(spec, namespace, "spec.resourceSelectors", &mut errors);
    errors
}

fn list<'a>(map: Option<&'a Map<String, Value>>, key: &str) -> impl Iterator<Item = (usize, &'a Map<String, Value>)> {
    let items = map.and_then(|m| m.get(key)).and_then(Value::as_array);
    items.into_iter().flatten().enumerate().filter_map(|(i, v)| Some((i, v.as_object()?)))
}

fn text<'a>(map: &'a Map<String, Value>, key: &str) -> &'a str {
    map.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn override_rule(rule: &Map<String, Value>, path: &str, errors: &mut Vec<FieldError>) {
    let overriders = rule.get("overriders").and_then(Value::as_object);
    let base = format!("{path}.overriders");
    for (index, item) in list(overriders, "annotationsOverrider") {
        if let Some(value) = item.get("value") {
            errors.extend(validate_annotations(value, &format!("{base}.annotationsOverrider[{index}].value")));
        }
    }
    for (index, item) in list(overriders, "labelsOverrider") {
        if let Some(value) = item.get("value") {
            errors.extend(validate_labels(value, &format!("{base}.labelsOverrider[{index}].value")));
        }
    }
    for (index, item) in list(overriders, "imageOverrider") {
        if let Some(predicate) = item.get("predicate").and_then(Value::as_object) {
            let pointer = text(predicate, "path");
            if let Some(message) = pointer_problem(pointer) {
                errors.push(FieldError::invalid(
                    format!("{base}.imageOverrider[{index}].predicate.path"),
                    pointer,
                    message,
                ));
            }
        }
    }
    for (index, item) in list(overriders, "fieldOverrider") {
        let item_path = format!("{base}.fieldOverrider[{index}]");
        let has = |key: &str| item.get(key).and_then(Value::as_array).is_some_and(|l| !l.is_empty());
        if has("yaml") && has("json") {
            errors.push(FieldError::invalid(
                &item_path,
                Value::Object(item.clone()),
                "FieldOverrider has both YAML and JSON set. Only one is allowed",
            ));
        }
        if !has("yaml") && !has("json") {
            errors.push(FieldError::required(&item_path, "FieldOverrider must have either JSON or YAML set"));
        }
        let field_path = text(item, "fieldPath");
        if let Some(message) = pointer_problem(field_path) {
            errors.push(FieldError::invalid(format!("{item_path}.fieldPath"), field_path, message));
        }
        for format in ["json", "yaml"] {
            for (patch_index, patch) in list(Some(item), format) {
                patch_operation(patch, &format!("{item_path}.{format}[{patch_index}]"), errors);
            }
        }
    }
    if let Some(target) = rule.get("targetCluster").and_then(Value::as_object) {
        cluster_affinity(target, &format!("{path}.targetCluster"), errors);
    }
}

/// A JSON or YAML patch operation: a JSON-pointer `subPath`; a value for add/replace and none for remove.
fn patch_operation(patch: &Map<String, Value>, path: &str, errors: &mut Vec<FieldError>) {
    let sub_path = text(patch, "subPath");
    if let Some(message) = pointer_problem(sub_path) {
        errors.push(FieldError::invalid(format!("{path}.subPath"), sub_path, message));
    }
    let value = patch.get("value");
    let has_value = value.is_some_and(|v| !v.is_null());
    match text(patch, "operator") {
        "add" | "replace" if !has_value => {
            errors.push(FieldError::invalid(
                format!("{path}.value"),
                Value::Null,
                "value is required for add or replace operation",
            ));
        }
        "remove" if has_value => {
            errors.push(FieldError::invalid(
                format!("{path}.value"),
                value.cloned().unwrap_or_default(),
                "value is not allowed for remove operation",
            ));
        }
        _ => {}
    }
}

/// Why `pointer` is not a JSON pointer (RFC 6901): it must be empty or start with `/`.
fn pointer_problem(pointer: &str) -> Option<&'static str> {
    (!pointer.is_empty() && !pointer.starts_with('/')).then_some("JSON pointer must be empty or start with a \"/")
}
