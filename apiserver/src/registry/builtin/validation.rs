//! Validation shared by the built-in kinds: name formats, labels and selectors, and pod specs, with kube's messages.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::object::{at, int_at, list_at, map_at, selector_matches, str_at, string_map};
use crate::machinery::{FieldError, FieldErrorKind};

/// The machinery's checks under the names this module's callers use (apimachinery's `IsDNS1123Label`, ...).
pub(crate) use crate::machinery::names::{
    is_dns1123_label as dns1123_label, is_dns1123_subdomain as dns1123_subdomain, is_label_key as qualified_name,
    is_label_value as label_value,
};

const DNS1035_LABEL_FMT: &str = "[a-z]([-a-z0-9]*[a-z0-9])?";
const DNS1035_LABEL_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character";
const CONFIG_KEY_FMT: &str = "[-._a-zA-Z0-9]+";
const CONFIG_KEY_MSG: &str = "a valid config key must consist of alphanumeric characters, '-', '_' or '.'";
/// `must be greater than or equal to 0`.
pub(crate) const NEGATIVE: &str = "must be greater than or equal to 0";
/// `field is immutable`.
pub(crate) const IMMUTABLE: &str = "field is immutable";

/// `validation.RegexError`.
pub(crate) fn regex_error(message: &str, format: &str, examples: &[&str]) -> String {
    if examples.is_empty() {
        return format!("{message} (regex used for validation is '{format}')");
    }
    let examples: Vec<String> = examples.iter().map(|e| format!("'{e}', ")).collect();
    format!("{message} (e.g. {}regex used for validation is '{format}')", examples.join(" or "))
}

fn max_len(limit: usize) -> String {
    format!("must be no more than {limit} characters")
}

fn is_lower_alnum(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

fn matches_label(value: &str, first: fn(char) -> bool) -> bool {
    let (Some(head), Some(tail)) = (value.chars().next(), value.chars().last()) else { return false };
    first(head) && is_lower_alnum(tail) && value.chars().all(|c| is_lower_alnum(c) || c == '-')
}

/// `IsDNS1035Label`.
pub(crate) fn dns1035_label(value: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if value.len() > 63 {
        errors.push(max_len(63));
    }
    if !matches_label(value, |c| c.is_ascii_lowercase()) {
        errors.push(regex_error(DNS1035_LABEL_MSG, DNS1035_LABEL_FMT, &["my-name", "abc-123"]));
    }
    errors
}

/// `ValidatePathSegmentName`.
pub(crate) fn path_segment(value: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if value == "." || value == ".." {
        errors.push(format!("may not be '{value}'"));
    }
    for forbidden in ["/", "%"] {
        if value.contains(forbidden) {
            errors.push(format!("may not contain '{forbidden}'"));
        }
    }
    errors
}

/// `ValidateNameFunc` masking a trailing dash of a `generateName` prefix.
fn masked(name: &str, prefix: bool) -> String {
    match name.strip_suffix('-') {
        Some(rest) if prefix && !rest.is_empty() => format!("{rest}a"),
        _ => name.to_string(),
    }
}

/// Names of Services: DNS-1035 labels.
pub(crate) fn name_is_dns1035_label(name: &str, prefix: bool) -> Vec<String> {
    dns1035_label(&masked(name, prefix))
}

/// Names of RBAC objects: any path segment (`system:controller:x` is fine).
pub(crate) fn name_is_path_segment(name: &str, prefix: bool) -> Vec<String> {
    let mut errors = if prefix { Vec::new() } else { path_segment(name) };
    if prefix {
        for forbidden in ["/", "%"] {
            if name.contains(forbidden) {
                errors.push(format!("may not contain '{forbidden}'"));
            }
        }
    }
    errors
}

fn is_label_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'
}

/// `IsConfigMapKey`: keys of config maps and secrets.
pub(crate) fn config_key(key: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if key.len() > 253 {
        errors.push(max_len(253));
    }
    if key.is_empty() || !key.chars().all(is_label_char) {
        errors.push(regex_error(CONFIG_KEY_MSG, CONFIG_KEY_FMT, &["key.name", "KEY_NAME", "key-name"]));
    }
    match key {
        "." => errors.push("must not be '.'".to_string()),
        ".." => errors.push("must not be '..'".to_string()),
        _ if key.starts_with("..") => errors.push("must not start with '..'".to_string()),
        _ => {}
    }
    errors
}

/// `IsValidPortNum`.
pub(crate) fn port_number(port: i64) -> Vec<String> {
    if (1..=65535).contains(&port) { Vec::new() } else { vec!["must be between 1 and 65535, inclusive".to_string()] }
}

/// `IsValidPortName`.
pub(crate) fn port_name(port: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if port.len() > 15 {
        errors.push("must be no more than 15 characters".to_string());
    }
    if port.is_empty() || !port.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
        errors.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".to_string());
    }
    if !port.chars().any(|c| c.is_ascii_lowercase()) {
        errors.push("must contain at least one letter (a-z)".to_string());
    }
    if port.contains("--") {
        errors.push("must not contain consecutive hyphens".to_string());
    }
    if port.starts_with('-') || port.ends_with('-') {
        errors.push("must not begin or end with a hyphen".to_string());
    }
    errors
}

/// A port given as a number or a name (`targetPort`, probe ports).
pub(crate) fn port_number_or_name(value: Option<&Value>, path: &str) -> Vec<FieldError> {
    match value {
        Some(Value::Number(n)) => {
            let number = n.as_i64().unwrap_or(-1);
            port_number(number).into_iter().map(|m| FieldError::invalid(path, number, m)).collect()
        }
        Some(Value::String(name)) => {
            port_name(name).into_iter().map(|m| FieldError::invalid(path, name.as_str(), m)).collect()
        }
        _ => Vec::new(),
    }
}

/// A `Not found` field error (a reference to something that does not exist).
pub(crate) fn not_found(field: impl Into<String>, value: impl Into<Value>) -> FieldError {
    FieldError { kind: FieldErrorKind::NotFound, field: field.into(), value: Some(value.into()), detail: String::new() }
}

/// A non-negative integer field.
pub(crate) fn non_negative(object: &Value, path: &[&str], errors: &mut Vec<FieldError>) {
    if let Some(value) = at(object, path).and_then(Value::as_i64).filter(|v| *v < 0) {
        errors.push(FieldError::invalid(path.join("."), value, NEGATIVE));
    }
}

/// `ValidateLabels`: keys and values of a label map at `path`.
pub(crate) fn labels(value: Option<&Value>, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (key, value) in map_at_value(value) {
        errors.extend(qualified_name(key).into_iter().map(|m| FieldError::invalid(path, key.as_str(), m)));
        let text = value.as_str().unwrap_or_default();
        errors.extend(label_value(text).into_iter().map(|m| FieldError::invalid(path, text, m)));
    }
    errors
}

fn map_at_value(value: Option<&Value>) -> impl Iterator<Item = (&String, &Value)> {
    value.and_then(Value::as_object).into_iter().flatten()
}

/// `ValidateLabelSelector`: match labels and expressions of a selector at `path`.
pub(crate) fn label_selector(selector: Option<&Value>, path: &str) -> Vec<FieldError> {
    let Some(selector) = selector.filter(|s| !s.is_null()) else { return Vec::new() };
    let mut errors = labels(at(selector, &["matchLabels"]), &format!("{path}.matchLabels"));
    for (i, expression) in list_at(selector, &["matchExpressions"]).iter().enumerate() {
        let here = format!("{path}.matchExpressions[{i}]");
        let values = list_at(expression, &["values"]);
        match str_at(expression, &["operator"]) {
            "In" | "NotIn" if values.is_empty() => errors.push(FieldError::required(
                format!("{here}.values"),
                "must be specified when `operator` is 'In' or 'NotIn'",
            )),
            "Exists" | "DoesNotExist" if !values.is_empty() => errors.push(FieldError::forbidden(
                format!("{here}.values"),
                "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            )),
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            other => {
                errors.push(FieldError::invalid(format!("{here}.operator"), other, "not a valid selector operator"))
            }
        }
        let key = str_at(expression, &["key"]);
        errors.extend(qualified_name(key).into_iter().map(|m| FieldError::invalid(format!("{here}.key"), key, m)));
    }
    errors
}

/// Whether a selector has neither match labels nor expressions.
pub(crate) fn selector_is_empty(selector: &Value) -> bool {
    map_at(selector, &["matchLabels"]).is_none_or(|m| m.is_empty())
        && list_at(selector, &["matchExpressions"]).is_empty()
}

/// Template labels must be selected by the workload's selector.
pub(crate) fn selector_selects_template(object: &Value, template: &[&str], errors: &mut Vec<FieldError>) {
    let mut labels_path = template.to_vec();
    labels_path.extend(["metadata", "labels"]);
    let labels = at(object, &labels_path);
    let selected = at(object, &["spec", "selector"])
        .filter(|s| !s.is_null())
        .is_some_and(|selector| selector_is_empty(selector) || selector_matches(selector, &string_map(labels)));
    if !selected {
        errors.push(FieldError::invalid(
            labels_path.join("."),
            labels.cloned().unwrap_or(json!({})),
            "`selector` does not match template `labels`",
        ));
    }
}

fn container_errors(container: &Value, here: &str, volumes: &BTreeSet<&str>, errors: &mut Vec<FieldError>) {
    let image = str_at(container, &["image"]);
    if image.is_empty() {
        errors.push(FieldError::required(format!("{here}.image"), ""));
    } else if image.trim() != image {
        errors.push(FieldError::invalid(
            format!("{here}.image"),
            image,
            "must not have leading or trailing whitespace",
        ));
    }
    let mut port_names = BTreeSet::new();
    for (p, port) in list_at(container, &["ports"]).iter().enumerate() {
        let at_port = format!("{here}.ports[{p}]");
        let number = int_at(port, &["containerPort"]);
        errors.extend(
            port_number(number).into_iter().map(|m| FieldError::invalid(format!("{at_port}.containerPort"), number, m)),
        );
        if let Some(host_port) = port.get("hostPort").and_then(Value::as_i64).filter(|p| *p != 0) {
            errors.extend(
                port_number(host_port)
                    .into_iter()
                    .map(|m| FieldError::invalid(format!("{at_port}.hostPort"), host_port, m)),
            );
        }
        let name = str_at(port, &["name"]);
        if !name.is_empty() {
            errors.extend(port_name(name).into_iter().map(|m| FieldError::invalid(format!("{at_port}.name"), name, m)));
            if !port_names.insert(name) {
                errors.push(FieldError::duplicate(format!("{at_port}.name"), name));
            }
        }
        let protocol = str_at(port, &["protocol"]);
        if !["SCTP", "TCP", "UDP"].contains(&protocol) {
            errors.push(FieldError::not_supported(format!("{at_port}.protocol"), protocol, &["SCTP", "TCP", "UDP"]));
        }
    }
    for (e, env) in list_at(container, &["env"]).iter().enumerate() {
        if str_at(env, &["name"]).is_empty() {
            errors.push(FieldError::required(format!("{here}.env[{e}].name"), ""));
        }
    }
    for (m, mount) in list_at(container, &["volumeMounts"]).iter().enumerate() {
        let volume = str_at(mount, &["name"]);
        if volume.is_empty() {
            errors.push(FieldError::required(format!("{here}.volumeMounts[{m}].name"), ""));
        } else if !volumes.contains(volume) {
            errors.push(not_found(format!("{here}.volumeMounts[{m}].name"), volume));
        }
        if str_at(mount, &["mountPath"]).is_empty() {
            errors.push(FieldError::required(format!("{here}.volumeMounts[{m}].mountPath"), ""));
        }
    }
    let policy = str_at(container, &["imagePullPolicy"]);
    if !["Always", "IfNotPresent", "Never"].contains(&policy) {
        let allowed = &["Always", "IfNotPresent", "Never"];
        errors.push(FieldError::not_supported(format!("{here}.imagePullPolicy"), policy, allowed));
    }
    let message_policy = str_at(container, &["terminationMessagePolicy"]);
    if !["File", "FallbackToLogsOnError"].contains(&message_policy) {
        let allowed = &["File", "FallbackToLogsOnError"];
        errors.push(FieldError::not_supported(format!("{here}.terminationMessagePolicy"), message_policy, allowed));
    }
}

/// `ValidatePodSpec` (the parts users meet): containers, volumes, ports, restart and DNS policies. `path` is the
/// spec's own path, e.g. `spec` or `spec.template.spec`.
pub(crate) fn pod_spec(spec: &Value, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut volumes = BTreeSet::new();
    for (i, volume) in list_at(spec, &["volumes"]).iter().enumerate() {
        let here = format!("{path}.volumes[{i}].name");
        let name = str_at(volume, &["name"]);
        if name.is_empty() {
            errors.push(FieldError::required(here, ""));
        } else {
            errors.extend(dns1123_label(name).into_iter().map(|m| FieldError::invalid(here.clone(), name, m)));
            if !volumes.insert(name) {
                errors.push(FieldError::duplicate(here, name));
            }
        }
    }
    let mut names = BTreeSet::new();
    for key in ["initContainers", "containers"] {
        let containers = list_at(spec, &[key]);
        if key == "containers" && containers.is_empty() {
            errors.push(FieldError::required(format!("{path}.containers"), ""));
        }
        for (i, container) in containers.iter().enumerate() {
            let here = format!("{path}.{key}[{i}]");
            let name = str_at(container, &["name"]);
            if name.is_empty() {
                errors.push(FieldError::required(format!("{here}.name"), ""));
            } else {
                errors.extend(
                    dns1123_label(name).into_iter().map(|m| FieldError::invalid(format!("{here}.name"), name, m)),
                );
                if !names.insert(name) {
                    errors.push(FieldError::duplicate(format!("{here}.name"), name));
                }
            }
            container_errors(container, &here, &volumes, &mut errors);
        }
    }
    let restart = str_at(spec, &["restartPolicy"]);
    if !["Always", "OnFailure", "Never"].contains(&restart) {
        let allowed = &["Always", "OnFailure", "Never"];
        errors.push(FieldError::not_supported(format!("{path}.restartPolicy"), restart, allowed));
    }
    let dns = str_at(spec, &["dnsPolicy"]);
    let dns_policies = &["ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"];
    if !dns_policies.contains(&dns) {
        errors.push(FieldError::not_supported(format!("{path}.dnsPolicy"), dns, dns_policies));
    }
    if let Some(grace) = spec.get("terminationGracePeriodSeconds").and_then(Value::as_i64).filter(|g| *g < 0) {
        errors.push(FieldError::invalid(format!("{path}.terminationGracePeriodSeconds"), grace, NEGATIVE));
    }
    if let Some(deadline) = spec.get("activeDeadlineSeconds").and_then(Value::as_i64).filter(|d| *d <= 0) {
        let detail = "must be between 1 and 2147483647, inclusive";
        errors.push(FieldError::invalid(format!("{path}.activeDeadlineSeconds"), deadline, detail));
    }
    errors
}

/// `ValidatePodTemplateSpec` at `template` (e.g. `["spec", "template"]`): template labels and the pod spec.
pub(crate) fn pod_template(object: &Value, template: &[&str]) -> Vec<FieldError> {
    let base = template.join(".");
    let mut labels_path = template.to_vec();
    labels_path.extend(["metadata", "labels"]);
    let mut errors = labels(at(object, &labels_path), &format!("{base}.metadata.labels"));
    let mut spec_path = template.to_vec();
    spec_path.push("spec");
    let empty = json!({});
    errors.extend(pod_spec(at(object, &spec_path).unwrap_or(&empty), &format!("{base}.spec")));
    errors
}
