//! The Cluster rules of Karmada's aggregated API server: name, sync mode, endpoints, location, taints, models.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::schema_errors;
use crate::machinery::{
    FieldError,
    names::{is_dns1123_label, is_dns1123_subdomain, is_label_key, is_label_value},
};

/// Cluster names become part of execution namespace names (`karmada-es-<name>`), so they are kept short.
const NAME_MAX_LENGTH: usize = 48;

/// A Cluster: its schema, then `ValidateCluster`.
pub(in crate::registry::karmada) fn cluster(object: &Value) -> Vec<FieldError> {
    // The aggregated server checks syncMode itself (Required and NotSupported, values sorted), not by schema.
    let mut errors: Vec<FieldError> =
        schema_errors("cluster.karmada.io", "Cluster", object).into_iter().filter(|e| e.field != SYNC_MODE).collect();
    let mode = object.pointer("/spec/syncMode").and_then(Value::as_str).unwrap_or_default();
    if mode.is_empty() {
        errors.push(FieldError::required(SYNC_MODE, ""));
    }
    if !matches!(mode, "Push" | "Pull") {
        errors.push(FieldError::not_supported(SYNC_MODE, mode, &["Pull", "Push"]));
    }
    if errors.iter().any(|e| e.field != SYNC_MODE) {
        return errors;
    }
    errors.extend(name(object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default()));
    if let Some(spec) = object.get("spec").and_then(Value::as_object) {
        self::spec(spec, &mut errors);
    }
    errors
}

const SYNC_MODE: &str = "spec.syncMode";

/// A Cluster update: validated as a whole, as on create (ObjectMeta immutability is checked by the store).
pub(in crate::registry::karmada) fn cluster_update(object: &Value, old: &Value) -> Vec<FieldError> {
    let _ = old;
    cluster(object)
}

/// At most 48 characters and a DNS-1123 label. A name that is not even a DNS subdomain is already reported by
/// the generic ObjectMeta check.
fn name(name: &str) -> Vec<FieldError> {
    if name.is_empty() || !is_dns1123_subdomain(name).is_empty() {
        return Vec::new();
    }
    let problems = if name.len() > NAME_MAX_LENGTH {
        vec![format!("must be no more than {NAME_MAX_LENGTH} characters")]
    } else {
        is_dns1123_label(name)
    };
    problems.into_iter().map(|p| FieldError::invalid("metadata.name", name, p)).collect()
}

fn text<'a>(map: &'a Map<String, Value>, key: &str) -> &'a str {
    map.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn spec(spec: &Map<String, Value>, errors: &mut Vec<FieldError>) {
    let endpoint = text(spec, "apiEndpoint");
    if !endpoint.is_empty() {
        api_endpoint(endpoint, errors);
    }
    for reference in ["secretRef", "impersonatorSecretRef"] {
        if let Some(secret) = spec.get(reference).and_then(Value::as_object) {
            for key in ["namespace", "name"] {
                if text(secret, key).is_empty() {
                    errors.push(FieldError::required(format!("spec.{reference}.{key}"), ""));
                }
            }
        }
    }
    let proxy = text(spec, "proxyURL");
    if !proxy.is_empty() {
        let scheme = Url::parse(proxy).scheme;
        if !matches!(scheme.as_str(), "http" | "https" | "socks5") {
            errors.push(FieldError::invalid(
                "spec.proxyURL",
                proxy,
                format!("unsupported scheme {scheme:?}, must be http, https, or socks5"),
            ));
        }
    }
    location(spec, errors);
    taints(spec, errors);
    resource_models(spec, errors);
}

/// What Go's `url.Parse` yields for the parts the checks look at.
struct Url {
    scheme: String,
    host: String,
    user: Option<String>,
    query: String,
    fragment: String,
}

impl Url {
    fn parse(text: &str) -> Self {
        let (rest, fragment) = text.split_once('#').unwrap_or((text, ""));
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut scheme = String::new();
        let mut rest = rest;
        if let Some((candidate, after)) = rest.split_once(':') {
            let valid = candidate.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && candidate.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
            if valid {
                scheme = candidate.to_ascii_lowercase();
                rest = after;
            }
        }
        let mut host = String::new();
        let mut user = None;
        if let Some(after) = rest.strip_prefix("//") {
            let authority = after.split('/').next().unwrap_or_default();
            match authority.rsplit_once('@') {
                Some((info, h)) => {
                    user = Some(info.to_string());
                    host = h.to_string();
                }
                None => host = authority.to_string(),
            }
        }
        Self { scheme, host, user, query: query.to_string(), fragment: fragment.to_string() }
    }
}

fn api_endpoint(endpoint: &str, errors: &mut Vec<FieldError>) {
    const FORM: &str = "; desired format: hostname, hostname:port, IP or IP:port";
    let path = "spec.apiEndpoint";
    let url = Url::parse(endpoint);
    if url.scheme.is_empty() && endpoint.split('/').next().is_some_and(|first| first.contains(':')) {
        let message = format!(
            "apiEndpoint must be a valid URL: parse {endpoint:?}: first path segment in URL cannot contain colon{FORM}"
        );
        errors.push(FieldError::invalid(path, endpoint, message));
        return;
    }
    if url.host.is_empty() {
        errors.push(FieldError::invalid(path, "", format!("host must be provided{FORM}")));
    }
    if let Some(user) = url.user {
        errors.push(FieldError::invalid(path, user, "user information is not permitted in the URL"));
    }
    if !url.fragment.is_empty() {
        errors.push(FieldError::invalid(path, url.fragment, "fragments are not permitted in the URL"));
    }
    if !url.query.is_empty() {
        errors.push(FieldError::invalid(path, url.query, "query parameters are not permitted in the URL"));
    }
}

/// `provider`, `region`, `zone` and each of `zones` must be label values; `zone` and `zones` are exclusive.
fn location(spec: &Map<String, Value>, errors: &mut Vec<FieldError>) {
    for key in ["provider", "region"] {
        let value = text(spec, key);
        let problems = is_label_value(value);
        if !problems.is_empty() {
            errors.push(FieldError::invalid(format!("spec.{key}"), value, problems.join("; ")));
        }
    }
    let zone = text(spec, "zone");
    let zones: Vec<&str> =
        spec.get("zones").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    if !zone.is_empty() && !zones.is_empty() {
        errors.push(FieldError::type_invalid(
            "spec.spec",
            Value::Object(spec.clone()),
            "Zone and Zones cannot co-exist",
        ));
        return;
    }
    let (path, values) = if zone.is_empty() { ("spec.Zones", zones) } else { ("spec.Zone", vec![zone]) };
    for value in values {
        let problems = is_label_value(value);
        if !problems.is_empty() {
            errors.push(FieldError::invalid(path, value, problems.join("; ")));
        }
    }
}

/// Taints: a label-name key, a label value, effect `NoSchedule` or `NoExecute`, unique by key and effect.
fn taints(spec: &Map<String, Value>, errors: &mut Vec<FieldError>) {
    let mut seen = HashSet::new();
    let list = spec.get("taints").and_then(Value::as_array);
    for (index, taint) in list.into_iter().flatten().enumerate() {
        let Some(taint) = taint.as_object() else { continue };
        let path = format!("spec.taints[{index}]");
        let key = text(taint, "key");
        for problem in is_label_key(key) {
            errors.push(FieldError::invalid(format!("{path}.key"), key, problem));
        }
        let value = text(taint, "value");
        let problems = is_label_value(value);
        if !problems.is_empty() {
            errors.push(FieldError::invalid(format!("{path}.value"), value, problems.join(";")));
        }
        let effect = text(taint, "effect");
        if effect.is_empty() {
            errors.push(FieldError::required(format!("{path}.effect"), ""));
        }
        if !matches!(effect, "NoSchedule" | "NoExecute") {
            errors.push(FieldError::not_supported(format!("{path}.effect"), effect, &["NoSchedule", "NoExecute"]));
        }
        if !seen.insert((effect.to_string(), key.to_string())) {
            let mut duplicate = FieldError::duplicate(&path, Value::Object(taint.clone()));
            duplicate.detail = "taints must be unique by key and effect pair".to_string();
            errors.push(duplicate);
        }
    }
}

/// Resource models (already sorted and bounded by defaulting): distinct grades, the same resources in the same
/// order in every grade, contiguous `[min, max)` ranges. Only the first problem is reported.
fn resource_models(spec: &Map<String, Value>, errors: &mut Vec<FieldError>) {
    let Some(models) = spec.get("resourceModels").and_then(Value::as_array) else { return };
    if let Some(problem) = models_problem(models) {
        errors.push(FieldError::invalid("spec.resourceModels", Value::Array(models.clone()), problem));
    }
}

fn ranges(model: &Value) -> Vec<(&str, f64, f64)> {
    let list = model.get("ranges").and_then(Value::as_array);
    list.into_iter()
        .flatten()
        .map(|r| {
            let name = r.get("name").and_then(Value::as_str).unwrap_or_default();
            let quantity = |key: &str| r.get(key).map(quantity).unwrap_or_default();
            (name, quantity("min"), quantity("max"))
        })
        .collect()
}

/// A quantity's numeric value (suffixes of the Kubernetes quantity format), close enough to compare.
fn quantity(value: &Value) -> f64 {
    if let Some(number) = value.as_f64() {
        return number;
    }
    let text = value.as_str().unwrap_or_default();
    let suffixes: [(&str, f64); 16] = [
        ("Ki", 1024f64),
        ("Mi", 1024f64.powi(2)),
        ("Gi", 1024f64.powi(3)),
        ("Ti", 1024f64.powi(4)),
        ("Pi", 1024f64.powi(5)),
        ("Ei", 1024f64.powi(6)),
        ("n", 1e-9),
        ("u", 1e-6),
        ("m", 1e-3),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("E", 1e18),
        ("", 1.0),
    ];
    for (suffix, factor) in suffixes {
        if let Some(number) = text.strip_suffix(suffix).and_then(|n| n.parse::<f64>().ok()) {
            return number * factor;
        }
    }
    0.0
}

fn models_problem(models: &[Value]) -> Option<&'static str> {
    let grade = |m: &Value| m.get("grade").and_then(Value::as_u64);
    for (i, model) in models.iter().enumerate() {
        let current = ranges(model);
        let previous = i.checked_sub(1).and_then(|p| models.get(p));
        if let Some(previous) = previous {
            if grade(model) == grade(previous) {
                return Some("The grade of each models should not be the same");
            }
            if ranges(previous).len() != current.len() {
                return Some("The number of resource types should be the same");
            }
        }
        for (j, (name, min, max)) in current.iter().enumerate() {
            if max <= min {
                return Some("The max value of each resource must be greater than the min value");
            }
            match previous.map(ranges) {
                None if *min != 0.0 => return Some("The min value of each resource in the first model should be 0"),
                None => {}
                Some(before) => {
                    let (before_name, _, before_max) = before.get(j).copied().unwrap_or_default();
                    if before_name != *name {
                        return Some("The resource types of each models should be the same");
                    }
                    if before_max != *min {
                        return Some("Model intervals for resources must be contiguous and non-overlapping");
                    }
                }
            }
            if i + 1 == models.len() && *max < 9.2e18 {
                return Some("The max value of each resource in the last model should be MaxInt64");
            }
        }
    }
    None
}
