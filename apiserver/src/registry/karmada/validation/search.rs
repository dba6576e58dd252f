//! The ResourceRegistry rules of karmada-search: target cluster, resource selectors and OpenSearch addresses.

use serde_json::Value;

use super::{placement::cluster_affinity, schema_errors};
use crate::machinery::{FieldError, names::is_dns1123_label};

/// A ResourceRegistry: its schema, then `ValidateResourceRegistrySpec`.
pub(in crate::registry::karmada) fn resource_registry(object: &Value) -> Vec<FieldError> {
    let mut errors = schema_errors("search.karmada.io", "ResourceRegistry", object);
    if !errors.is_empty() {
        return errors;
    }
    let Some(spec) = object.get("spec").and_then(Value::as_object) else { return errors };
    if let Some(target) = spec.get("targetCluster").and_then(Value::as_object) {
        cluster_affinity(target, "spec.targetCluster", &mut errors);
    }
    let selectors = spec.get("resourceSelectors").and_then(Value::as_array);
    for (index, selector) in selectors.into_iter().flatten().enumerate() {
        let path = format!("spec.resourceSelectors[{index}]");
        let api_version = selector.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
        if api_version.matches('/').count() > 1 {
            let message = format!("unexpected GroupVersion string: {api_version}");
            errors.push(FieldError::invalid(format!("{path}.apiVersion"), api_version, message));
        }
        let namespace = selector.get("namespace").and_then(Value::as_str).unwrap_or_default();
        if !namespace.is_empty() {
            for problem in is_dns1123_label(namespace) {
                errors.push(FieldError::invalid(format!("{path}.namespace"), namespace, problem));
            }
        }
    }
    let addresses = object.pointer("/spec/backendStore/openSearch/addresses").and_then(Value::as_array);
    for (index, address) in addresses.into_iter().flatten().enumerate() {
        let address = address.as_str().unwrap_or_default();
        let (scheme, rest) = address.split_once("://").unwrap_or(("", address));
        let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if !matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https") || host.is_empty() {
            errors.push(FieldError::invalid(
                format!("spec.backendStore.openSearch.addresses[{index}]"),
                address,
                "must be a valid http or https URL with non-empty scheme and host",
            ));
        }
    }
    errors
}

/// A ResourceRegistry update: validated as on create.
pub(in crate::registry::karmada) fn resource_registry_update(object: &Value, old: &Value) -> Vec<FieldError> {
    let _ = old;
    resource_registry(object)
}
