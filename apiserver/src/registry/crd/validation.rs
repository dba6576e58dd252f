//! Validation of CustomResourceDefinitions with apiextensions-apiserver's messages.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::{
    machinery::{FieldError, Object},
    registry::builtin::{dns1035_label, dns1123_subdomain},
};

const COLUMN_TYPES: &[&str] = &["boolean", "date", "integer", "number", "string"];
const COLUMN_FORMATS: &[&str] = &["byte", "date", "date-time", "double", "float", "int32", "int64", "password"];
const APPROVAL_ANNOTATION: &str = "api-approved.kubernetes.io";

fn at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(value, |v, k| v.get(k)).filter(|v| !v.is_null())
}

fn text<'a>(value: &'a Value, path: &[&str]) -> &'a str {
    at(value, path).and_then(Value::as_str).unwrap_or_default()
}

fn list<'a>(value: &'a Value, path: &[&str]) -> &'a [Value] {
    at(value, path).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default()
}

fn label_errors(value: &str, path: &str, errors: &mut Vec<FieldError>, detail_prefix: &str) {
    let messages = dns1035_label(&value.to_lowercase());
    if !value.is_empty() && !messages.is_empty() {
        let detail = format!("{detail_prefix}{}", messages.join(","));
        errors.push(FieldError::invalid(path, value, detail));
    }
}

/// `ValidateCustomResourceDefinitionNames` at `path` (`spec.names` or `status.acceptedNames`).
fn names(names: &Value, path: &str, errors: &mut Vec<FieldError>) {
    for key in ["plural", "singular"] {
        let value = text(names, &[key]);
        if !value.is_empty() {
            let messages = dns1035_label(value);
            if !messages.is_empty() {
                errors.push(FieldError::invalid(format!("{path}.{key}"), value, messages.join(",")));
            }
        }
    }
    let mixed = "may have mixed case, but should otherwise match: ";
    label_errors(text(names, &["kind"]), &format!("{path}.kind"), errors, mixed);
    label_errors(text(names, &["listKind"]), &format!("{path}.listKind"), errors, mixed);
    for key in ["shortNames", "categories"] {
        for (i, item) in list(names, &[key]).iter().enumerate() {
            let item = item.as_str().unwrap_or_default();
            let messages = dns1035_label(item);
            if !messages.is_empty() {
                errors.push(FieldError::invalid(format!("{path}.{key}[{i}]"), item, messages.join(",")));
            }
        }
    }
    let kind = text(names, &["kind"]);
    if !kind.is_empty() && kind == text(names, &["listKind"]) {
        errors.push(FieldError::invalid(format!("{path}.listKind"), kind, "kind and listKind may not be the same"));
    }
}

fn simple_json_path(path: &str, field: &str, errors: &mut Vec<FieldError>) {
    if path.is_empty() {
        errors.push(FieldError::invalid(field, path, "must not be empty"));
    } else if !path.starts_with('.') {
        errors.push(FieldError::invalid(field, path, "must be a simple json path starting with ."));
    }
}

fn columns(version: &Value, base: &str, errors: &mut Vec<FieldError>) {
    for (i, column) in list(version, &["additionalPrinterColumns"]).iter().enumerate() {
        let here = format!("{base}.additionalPrinterColumns[{i}]");
        if text(column, &["name"]).is_empty() {
            errors.push(FieldError::required(format!("{here}.name"), ""));
        }
        let kind = text(column, &["type"]);
        let types = format!("must be one of {}", COLUMN_TYPES.join(","));
        if kind.is_empty() {
            errors.push(FieldError::required(format!("{here}.type"), types));
        } else if !COLUMN_TYPES.contains(&kind) {
            errors.push(FieldError::invalid(format!("{here}.type"), kind, types));
        }
        let format = text(column, &["format"]);
        if !format.is_empty() && !COLUMN_FORMATS.contains(&format) {
            let detail = format!("must be one of {}", COLUMN_FORMATS.join(","));
            errors.push(FieldError::invalid(format!("{here}.format"), format, detail));
        }
        let path = text(column, &["jsonPath"]);
        if path.is_empty() {
            errors.push(FieldError::required(format!("{here}.JSONPath"), ""));
        } else {
            simple_json_path(path, &format!("{here}.JSONPath"), errors);
        }
    }
}

fn subresources(version: &Value, base: &str, errors: &mut Vec<FieldError>) {
    let Some(scale) = at(version, &["subresources", "scale"]) else { return };
    let here = format!("{base}.subresources.scale");
    let checks = [("specReplicasPath", ".spec."), ("statusReplicasPath", ".status.")];
    for (key, prefix) in checks {
        let path = text(scale, &[key]);
        if path.is_empty() {
            errors.push(FieldError::required(format!("{here}.{key}"), ""));
        } else if !path.starts_with(prefix) {
            let detail = format!("should be a json path under {}", prefix.trim_end_matches('.'));
            errors.push(FieldError::invalid(format!("{here}.{key}"), path, detail));
        }
    }
    let selector = text(scale, &["labelSelectorPath"]);
    if !selector.is_empty() && !selector.starts_with(".spec.") && !selector.starts_with(".status.") {
        let detail = "should be a json path under either .spec or .status";
        errors.push(FieldError::invalid(format!("{here}.labelSelectorPath"), selector, detail));
    }
}

fn schema(version: &Value, base: &str, errors: &mut Vec<FieldError>) {
    let path = format!("{base}.schema.openAPIV3Schema");
    let Some(schema) = at(version, &["schema", "openAPIV3Schema"]) else {
        errors.push(FieldError::required(path, ""));
        return;
    };
    if !schema.is_object() {
        errors.push(FieldError::invalid(path, schema.clone(), "must be an object"));
        return;
    }
    match text(schema, &["type"]) {
        "" => errors.push(FieldError::required(format!("{path}.type"), "must not be empty at the root")),
        "object" => {}
        other => errors.push(FieldError::invalid(format!("{path}.type"), other, "must be object at the root")),
    }
}

fn conversion(spec: &Value, errors: &mut Vec<FieldError>) {
    let Some(conversion) = at(spec, &["conversion"]) else { return };
    match text(conversion, &["strategy"]) {
        "" => errors.push(FieldError::required("spec.conversion.strategy", "")),
        "None" => {
            if at(conversion, &["webhook"]).is_some() {
                let detail = "should not be set when strategy is not set to Webhook";
                errors.push(FieldError::forbidden("spec.conversion.webhook", detail));
            }
        }
        "Webhook" => {
            let Some(config) = at(conversion, &["webhook", "clientConfig"]) else {
                let detail = "required when strategy is set to Webhook";
                errors.push(FieldError::required("spec.conversion.webhook", detail));
                return;
            };
            if at(config, &["url"]).is_some() == at(config, &["service"]).is_some() {
                let detail = "exactly one of url or service is required";
                errors.push(FieldError::required("spec.conversion.webhook.clientConfig", detail));
            }
            let versions = list(conversion, &["webhook", "conversionReviewVersions"]);
            if versions.is_empty() {
                errors.push(FieldError::required("spec.conversion.webhook.conversionReviewVersions", ""));
            } else if !versions.iter().any(|v| matches!(v.as_str(), Some("v1" | "v1beta1"))) {
                let detail = "must include at least one of v1, v1beta1";
                errors.push(FieldError::invalid(
                    "spec.conversion.webhook.conversionReviewVersions",
                    json!(versions),
                    detail,
                ));
            }
        }
        other => errors.push(FieldError::not_supported("spec.conversion.strategy", other, &["None", "Webhook"])),
    }
}

/// Groups reserved for the Kubernetes project, which need an API approval annotation.
fn is_protected(group: &str) -> bool {
    ["k8s.io", "kubernetes.io"].iter().any(|domain| group == *domain || group.ends_with(&format!(".{domain}")))
}

fn approval(object: &Object, errors: &mut Vec<FieldError>) {
    if !is_protected(text(object, &["spec", "group"])) {
        return;
    }
    let path = format!("metadata.annotations[{APPROVAL_ANNOTATION}]");
    match at(object, &["metadata", "annotations", APPROVAL_ANNOTATION]).and_then(Value::as_str) {
        None => errors.push(FieldError::required(
            path,
            format!(
                "protected groups must have approval annotation {APPROVAL_ANNOTATION:?}, see https://github.com/kubernetes/enhancements/pull/1111"
            ),
        )),
        Some(value) if value.starts_with("unapproved") || value.starts_with("https://") || value.starts_with("http://") => {}
        Some(value) => errors.push(FieldError::invalid(
            path,
            value,
            format!("protected groups must have approval annotation {APPROVAL_ANNOTATION:?} with either a URL or a reason starting with \"unapproved\", see https://github.com/kubernetes/enhancements/pull/1111"),
        )),
    }
}

/// `ValidateCustomResourceDefinition`.
pub(crate) fn validate(object: &Object) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let spec = at(object, &["spec"]).cloned().unwrap_or_else(|| json!({}));
    let group = text(&spec, &["group"]);
    let plural = text(&spec, &["names", "plural"]);
    let name = text(object, &["metadata", "name"]);
    if !name.is_empty() && name != format!("{plural}.{group}") {
        errors.push(FieldError::invalid("metadata.name", name, "must be spec.names.plural+\".\"+spec.group"));
    }
    if group.is_empty() {
        errors.push(FieldError::required("spec.group", ""));
    } else if let messages @ [_, ..] = dns1123_subdomain(group).as_slice() {
        errors.push(FieldError::invalid("spec.group", group, messages.join(",")));
    } else if !group.contains('.') {
        errors.push(FieldError::invalid("spec.group", group, "should be a domain with at least one dot"));
    }
    match text(&spec, &["scope"]) {
        "" => errors.push(FieldError::required("spec.scope", "")),
        "Cluster" | "Namespaced" => {}
        other => errors.push(FieldError::not_supported("spec.scope", other, &["Cluster", "Namespaced"])),
    }
    let versions = list(&spec, &["versions"]);
    let mut seen = BTreeSet::new();
    let mut unique = true;
    for (i, version) in versions.iter().enumerate() {
        let base = format!("spec.versions[{i}]");
        let version_name = text(version, &["name"]);
        unique &= seen.insert(version_name);
        let messages = dns1035_label(version_name);
        if !messages.is_empty() {
            errors.push(FieldError::invalid(format!("{base}.name"), version_name, messages.join(",")));
        }
        schema(version, &base, &mut errors);
        subresources(version, &base, &mut errors);
        columns(version, &base, &mut errors);
    }
    if !unique {
        errors.push(FieldError::invalid("spec.versions", json!(versions), "must contain unique version names"));
    }
    let storage = versions.iter().filter(|v| at(v, &["storage"]).and_then(Value::as_bool) == Some(true)).count();
    if storage != 1 {
        let detail = "must have exactly one version marked as storage version";
        errors.push(FieldError::invalid("spec.versions", json!(versions), detail));
    }
    let names_value = at(&spec, &["names"]).cloned().unwrap_or_else(|| json!({}));
    for key in ["plural", "singular", "kind", "listKind"] {
        if text(&names_value, &[key]).is_empty() {
            errors.push(FieldError::required(format!("spec.names.{key}"), ""));
        }
    }
    names(&names_value, "spec.names", &mut errors);
    if at(&spec, &["preserveUnknownFields"]).and_then(Value::as_bool) == Some(true) {
        let detail =
            "cannot set to true, set x-kubernetes-preserve-unknown-fields to true in spec.versions[*].schema instead";
        errors.push(FieldError::invalid("spec.preserveUnknownFields", true, detail));
    }
    conversion(&spec, &mut errors);
    approval(object, &mut errors);
    errors
}

/// `ValidateCustomResourceDefinitionUpdate`: group and plural never change; scope and kind not once established;
/// every stored version stays in `spec.versions`.
pub(crate) fn validate_update(object: &Object, old: &Object) -> Vec<FieldError> {
    let mut errors = validate(object);
    let established = list(old, &["status", "conditions"])
        .iter()
        .any(|c| text(c, &["type"]) == "Established" && text(c, &["status"]) == "True");
    let mut immutable: Vec<(&str, &[&str])> =
        vec![("spec.group", &["spec", "group"]), ("spec.names.plural", &["spec", "names", "plural"])];
    if established {
        immutable.push(("spec.scope", &["spec", "scope"]));
        immutable.push(("spec.names.kind", &["spec", "names", "kind"]));
    }
    for (field, path) in immutable {
        let new = text(object, path);
        if new != text(old, path) {
            errors.push(FieldError::invalid(field, new, "field is immutable"));
        }
    }
    let served: BTreeSet<&str> = list(object, &["spec", "versions"]).iter().map(|v| text(v, &["name"])).collect();
    for (i, stored) in list(object, &["status", "storedVersions"]).iter().enumerate() {
        let stored = stored.as_str().unwrap_or_default();
        if !served.contains(stored) {
            let detail = format!(
                "missing from spec.versions; {stored} was previously a storage version, and must remain in spec.versions until a storage migration ensures no data remains persisted in {stored} and removes {stored} from status.storedVersions"
            );
            errors.push(FieldError::invalid(format!("status.storedVersions[{i}]"), stored, detail));
        }
    }
    errors
}
