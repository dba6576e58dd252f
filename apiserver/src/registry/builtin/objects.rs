//! Namespaces, ConfigMaps, Secrets, claims, ingresses, RBAC objects and leases: adjustments and validation.

use base64::Engine;
use serde_json::{Value, json};

use super::{
    object::{at, has, list_at, map_at, str_at},
    validation::{IMMUTABLE, NEGATIVE, config_key, label_selector, port_name, port_number, qualified_name},
};
use crate::machinery::FieldError;

/// The most data a ConfigMap or Secret may hold.
const MAX_DATA_SIZE: usize = 1024 * 1024;

/// Namespaces start Active with the `kubernetes` finalizer.
pub(crate) fn namespace_prepare_create(object: &mut Value) {
    if let Some(map) = object.as_object_mut() {
        map.insert("status".into(), json!({"phase": "Active"}));
        let spec = map.entry("spec").or_insert_with(|| json!({}));
        if !spec.is_object() {
            *spec = json!({});
        }
        spec["finalizers"] = json!(["kubernetes"]);
    }
}

/// A namespace's finalizers change only through `/finalize`; its status only through `/status`.
pub(crate) fn namespace_prepare_update(object: &mut Value, old: &Value) {
    if let Some(map) = object.as_object_mut() {
        let mut spec = map.get("spec").cloned().filter(Value::is_object).unwrap_or_else(|| json!({}));
        match at(old, &["spec", "finalizers"]) {
            Some(finalizers) => spec["finalizers"] = finalizers.clone(),
            None => {
                if let Some(spec) = spec.as_object_mut() {
                    spec.remove("finalizers");
                }
            }
        }
        map.insert("spec".into(), spec);
    }
}

/// The first DELETE of a namespace only moves it to Terminating; it goes once its `spec.finalizers` are empty.
pub(crate) fn namespace_prepare_delete(object: &mut Value) -> bool {
    if !has(object, &["metadata", "deletionTimestamp"]) {
        if let Some(map) = object.as_object_mut() {
            let status = map.entry("status").or_insert_with(|| json!({}));
            if !status.is_object() {
                *status = json!({});
            }
            status["phase"] = json!("Terminating");
        }
        return true;
    }
    !list_at(object, &["spec", "finalizers"]).is_empty()
}

/// `ValidateNamespace`.
pub(crate) fn validate_namespace(object: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (i, finalizer) in list_at(object, &["spec", "finalizers"]).iter().enumerate() {
        let finalizer = finalizer.as_str().unwrap_or_default();
        let path = format!("spec.finalizers[{i}]");
        errors.extend(qualified_name(finalizer).into_iter().map(|m| FieldError::invalid(path.clone(), finalizer, m)));
    }
    errors
}

fn data_keys(object: &Value, field: &str, errors: &mut Vec<FieldError>) {
    for key in map_at(object, &[field]).into_iter().flat_map(|m| m.keys()) {
        let path = format!("{field}[{key}]");
        errors.extend(config_key(key).into_iter().map(|m| FieldError::invalid(path.clone(), key.as_str(), m)));
    }
}

fn too_long(path: &str) -> FieldError {
    FieldError::too_long(path, MAX_DATA_SIZE)
}

/// `ValidateConfigMap`.
pub(crate) fn validate_config_map(object: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    data_keys(object, "data", &mut errors);
    let binary = map_at(object, &["binaryData"]);
    for key in map_at(object, &["data"]).into_iter().flat_map(|m| m.keys()) {
        if binary.is_some_and(|b| b.contains_key(key)) {
            let detail = "duplicate of key present in binaryData";
            errors.push(FieldError::invalid(format!("data[{key}]"), key.as_str(), detail));
        }
    }
    data_keys(object, "binaryData", &mut errors);
    let size: usize =
        map_at(object, &["data"]).into_iter().flatten().map(|(_, v)| v.as_str().map_or(0, str::len)).sum::<usize>()
            + binary.into_iter().flatten().map(|(_, v)| decoded_len(v)).sum::<usize>();
    if size > MAX_DATA_SIZE {
        errors.push(too_long(""));
    }
    errors
}

fn decoded_len(value: &Value) -> usize {
    let text = value.as_str().unwrap_or_default();
    base64::engine::general_purpose::STANDARD.decode(text).map_or(text.len(), |bytes| bytes.len())
}

/// Objects marked `immutable: true` keep their data, and stay immutable.
fn immutable_data(object: &Value, old: &Value, fields: &[&str], errors: &mut Vec<FieldError>) {
    if at(old, &["immutable"]).and_then(Value::as_bool) != Some(true) {
        return;
    }
    let detail = "field is immutable when `immutable` is set";
    if at(object, &["immutable"]) != at(old, &["immutable"]) {
        errors.push(FieldError::forbidden("immutable", detail));
    }
    for field in fields {
        let differs =
            map_at(object, &[field]).filter(|m| !m.is_empty()) != map_at(old, &[field]).filter(|m| !m.is_empty());
        if differs {
            errors.push(FieldError::forbidden(*field, detail));
        }
    }
}

/// ConfigMap updates respect `immutable`.
pub(crate) fn validate_config_map_update(object: &Value, old: &Value) -> Vec<FieldError> {
    let mut errors = validate_config_map(object);
    immutable_data(object, old, &["data", "binaryData"], &mut errors);
    errors
}

/// `ValidateSecret`: keys, base64 values, size, and the keys each well-known type requires.
pub(crate) fn validate_secret(object: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    data_keys(object, "data", &mut errors);
    let data = map_at(object, &["data"]);
    let mut size = 0;
    for (key, value) in data.into_iter().flatten() {
        match value.as_str().map(|text| base64::engine::general_purpose::STANDARD.decode(text)) {
            Some(Ok(bytes)) => size += bytes.len(),
            _ => errors.push(FieldError::invalid(
                format!("data[{key}]"),
                "<secret contents redacted>",
                "illegal base64 data",
            )),
        }
    }
    if size > MAX_DATA_SIZE {
        errors.push(too_long("data"));
    }
    let present = |key: &str| data.is_some_and(|d| d.contains_key(key));
    let required = |key: &str| FieldError::required(format!("data[{key}]"), "");
    match str_at(object, &["type"]) {
        "kubernetes.io/service-account-token"
            if str_at(object, &["metadata", "annotations", "kubernetes.io/service-account.name"]).is_empty() =>
        {
            errors.push(FieldError::required("metadata.annotations[kubernetes.io/service-account.name]", ""));
        }
        "kubernetes.io/dockercfg" if !present(".dockercfg") => errors.push(required(".dockercfg")),
        "kubernetes.io/dockerconfigjson" if !present(".dockerconfigjson") => errors.push(required(".dockerconfigjson")),
        "kubernetes.io/basic-auth" if !present("username") && !present("password") => {
            errors.push(required("username"));
            errors.push(required("password"));
        }
        "kubernetes.io/ssh-auth" if !present("ssh-privatekey") => errors.push(required("ssh-privatekey")),
        "kubernetes.io/tls" => {
            for key in ["tls.crt", "tls.key"] {
                if !present(key) {
                    errors.push(required(key));
                }
            }
        }
        _ => {}
    }
    errors
}

/// Secret updates keep their type and respect `immutable`.
pub(crate) fn validate_secret_update(object: &Value, old: &Value) -> Vec<FieldError> {
    let mut errors = validate_secret(object);
    if str_at(object, &["type"]) != str_at(old, &["type"]) {
        errors.push(FieldError::invalid("type", str_at(object, &["type"]), IMMUTABLE));
    }
    immutable_data(object, old, &["data"], &mut errors);
    errors
}

/// Claims start Pending.
pub(crate) fn claim_prepare_create(object: &mut Value) {
    if let Some(map) = object.as_object_mut() {
        map.insert("status".into(), json!({"phase": "Pending"}));
    }
}

/// `ValidatePersistentVolumeClaim`.
pub(crate) fn validate_claim(object: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let modes = list_at(object, &["spec", "accessModes"]);
    if modes.is_empty() {
        errors.push(FieldError::required("spec.accessModes", "at least 1 access mode is required"));
    }
    let supported = &["ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"];
    for mode in modes {
        let mode = mode.as_str().unwrap_or_default();
        if !supported.contains(&mode) {
            errors.push(FieldError::not_supported("spec.accessModes", mode, supported));
        }
    }
    errors.extend(label_selector(at(object, &["spec", "selector"]), "spec.selector"));
    let from_source = has(object, &["spec", "dataSource"]) || has(object, &["spec", "dataSourceRef"]);
    if !has(object, &["spec", "resources", "requests", "storage"]) && !from_source {
        errors.push(FieldError::required("spec.resources[storage]", ""));
    }
    let mode = str_at(object, &["spec", "volumeMode"]);
    if !mode.is_empty() && mode != "Block" && mode != "Filesystem" {
        errors.push(FieldError::not_supported("spec.volumeMode", mode, &["Block", "Filesystem"]));
    }
    errors
}

/// Claim specs are immutable after creation except requested resources, the attributes class and binding.
pub(crate) fn validate_claim_update(object: &Value, old: &Value) -> Vec<FieldError> {
    let mut errors = validate_claim(object);
    let strip = |object: &Value| {
        let mut spec = at(object, &["spec"]).cloned().unwrap_or(json!({}));
        if let Some(map) = spec.as_object_mut() {
            map.remove("volumeAttributesClassName");
            if let Some(resources) = map.get_mut("resources").and_then(Value::as_object_mut) {
                resources.remove("requests");
            }
            if str_at(old, &["spec", "volumeName"]).is_empty() {
                map.remove("volumeName");
            }
        }
        spec
    };
    if strip(object) != strip(old) {
        let detail =
            "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims";
        errors.push(FieldError::forbidden("spec", detail));
    }
    errors
}

/// Ingresses start with an empty load balancer status.
pub(crate) fn ingress_prepare_create(object: &mut Value) {
    if let Some(map) = object.as_object_mut() {
        map.insert("status".into(), json!({"loadBalancer": {}}));
    }
}

fn ingress_backend(backend: &Value, path: &str, errors: &mut Vec<FieldError>) {
    match (has(backend, &["resource"]), has(backend, &["service"])) {
        (true, true) => errors.push(FieldError::invalid(path, "", "cannot set both resource and service backends")),
        (true, false) => {
            if str_at(backend, &["resource", "kind"]).is_empty() {
                errors.push(FieldError::required(format!("{path}.resource.kind"), ""));
            }
            if str_at(backend, &["resource", "name"]).is_empty() {
                errors.push(FieldError::required(format!("{path}.resource.name"), ""));
            }
        }
        (false, true) => {
            let service = str_at(backend, &["service", "name"]);
            let name_path = format!("{path}.service.name");
            if service.is_empty() {
                errors.push(FieldError::required(name_path, ""));
            } else {
                let messages = super::validation::dns1035_label(service);
                errors.extend(messages.into_iter().map(|m| FieldError::invalid(name_path.clone(), service, m)));
            }
            let port_name_value = str_at(backend, &["service", "port", "name"]);
            let number = at(backend, &["service", "port", "number"]).and_then(Value::as_i64).unwrap_or(0);
            match (port_name_value.is_empty(), number == 0) {
                (false, false) => errors.push(FieldError::invalid(path, "", "cannot set both port name & port number")),
                (false, true) => errors.extend(
                    port_name(port_name_value)
                        .into_iter()
                        .map(|m| FieldError::invalid(format!("{path}.service.port.name"), port_name_value, m)),
                ),
                (true, false) => errors.extend(
                    port_number(number)
                        .into_iter()
                        .map(|m| FieldError::invalid(format!("{path}.service.port.number"), number, m)),
                ),
                (true, true) => errors.push(FieldError::required(path, "port name or number is required")),
            }
        }
        (false, false) => errors.push(FieldError::invalid(path, "", "resource or service backend is required")),
    }
}

fn ingress_path(path: &Value, here: &str, errors: &mut Vec<FieldError>) {
    let value = str_at(path, &["path"]);
    match at(path, &["pathType"]).and_then(Value::as_str) {
        None => {
            errors.push(FieldError::required(format!("{here}.pathType"), "pathType must be specified"));
            return;
        }
        Some("Exact" | "Prefix") => {
            if !value.starts_with('/') {
                errors.push(FieldError::invalid(format!("{here}.path"), value, "must be an absolute path"));
            }
            for sequence in ["//", "/./", "/../", "%2f", "%2F"] {
                if value.contains(sequence) {
                    errors.push(FieldError::invalid(
                        format!("{here}.path"),
                        value,
                        format!("must not contain '{sequence}'"),
                    ));
                }
            }
            for suffix in ["/..", "/."] {
                if value.ends_with(suffix) {
                    errors.push(FieldError::invalid(
                        format!("{here}.path"),
                        value,
                        format!("cannot end with '{suffix}'"),
                    ));
                }
            }
        }
        Some("ImplementationSpecific") => {
            if !value.is_empty() && !value.starts_with('/') {
                errors.push(FieldError::invalid(format!("{here}.path"), value, "must be an absolute path"));
            }
        }
        Some(other) => {
            let supported = &["Exact", "ImplementationSpecific", "Prefix"];
            errors.push(FieldError::not_supported(format!("{here}.pathType"), other, supported));
        }
    }
    ingress_backend(at(path, &["backend"]).unwrap_or(&json!({})), &format!("{here}.backend"), errors);
}

/// `ValidateIngress`.
pub(crate) fn validate_ingress(object: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let rules = list_at(object, &["spec", "rules"]);
    if rules.is_empty() && !has(object, &["spec", "defaultBackend"]) {
        let detail = "either `defaultBackend` or `rules` must be specified";
        errors.push(FieldError::invalid("spec", json!(rules), detail));
    }
    if let Some(backend) = at(object, &["spec", "defaultBackend"]).filter(|b| !b.is_null()) {
        ingress_backend(backend, "spec.defaultBackend", &mut errors);
    }
    for (r, rule) in rules.iter().enumerate() {
        let host = str_at(rule, &["host"]);
        if !host.is_empty() {
            let bare = host.strip_prefix("*.").unwrap_or(host);
            for message in super::validation::dns1123_subdomain(bare) {
                errors.push(FieldError::invalid(format!("spec.rules[{r}].host"), host, message));
            }
        }
        if let Some(http) = at(rule, &["http"]).filter(|h| !h.is_null()) {
            let paths = list_at(http, &["paths"]);
            if paths.is_empty() {
                errors.push(FieldError::required(format!("spec.rules[{r}].http.paths"), ""));
            }
            for (p, path) in paths.iter().enumerate() {
                ingress_path(path, &format!("spec.rules[{r}].http.paths[{p}]"), &mut errors);
            }
        }
    }
    if let Some(class) = at(object, &["spec", "ingressClassName"]).and_then(Value::as_str) {
        let messages = super::validation::dns1123_subdomain(class);
        errors.extend(messages.into_iter().map(|m| FieldError::invalid("spec.ingressClassName", class, m)));
    }
    errors
}

fn policy_rules(object: &Value, namespaced: bool, errors: &mut Vec<FieldError>) {
    for (i, rule) in list_at(object, &["rules"]).iter().enumerate() {
        let here = format!("rules[{i}]");
        if list_at(rule, &["verbs"]).is_empty() {
            errors.push(FieldError::required(format!("{here}.verbs"), "verbs must contain at least one value"));
        }
        let urls = list_at(rule, &["nonResourceURLs"]);
        if !urls.is_empty() {
            if namespaced {
                let detail = "namespaced rules cannot apply to non-resource URLs";
                errors.push(FieldError::invalid(format!("{here}.nonResourceURLs"), json!(urls), detail));
            }
            let resourceful =
                ["apiGroups", "resources", "resourceNames"].iter().any(|f| !list_at(rule, &[f]).is_empty());
            if resourceful {
                let detail = "rules cannot apply to both regular resources and non-resource URLs";
                errors.push(FieldError::invalid(format!("{here}.nonResourceURLs"), json!(urls), detail));
            }
            continue;
        }
        if list_at(rule, &["apiGroups"]).is_empty() {
            let detail = "resource rules must supply at least one api group";
            errors.push(FieldError::required(format!("{here}.apiGroups"), detail));
        }
        if list_at(rule, &["resources"]).is_empty() {
            let detail = "resource rules must supply at least one resource";
            errors.push(FieldError::required(format!("{here}.resources"), detail));
        }
    }
}

/// `ValidateRole`.
pub(crate) fn validate_role(object: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    policy_rules(object, true, &mut errors);
    errors
}

/// `ValidateClusterRole` (aggregated roles may leave rules empty).
pub(crate) fn validate_cluster_role(object: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    policy_rules(object, false, &mut errors);
    errors
}

fn binding(object: &Value, namespaced: bool) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let group = str_at(object, &["roleRef", "apiGroup"]);
    if group != "rbac.authorization.k8s.io" {
        errors.push(FieldError::not_supported("roleRef.apiGroup", group, &["rbac.authorization.k8s.io"]));
    }
    let kind = str_at(object, &["roleRef", "kind"]);
    let kinds: &[&str] = if namespaced { &["Role", "ClusterRole"] } else { &["ClusterRole"] };
    if !kinds.contains(&kind) {
        errors.push(FieldError::not_supported("roleRef.kind", kind, kinds));
    }
    let role = str_at(object, &["roleRef", "name"]);
    if role.is_empty() {
        errors.push(FieldError::required("roleRef.name", ""));
    } else {
        let messages = super::validation::path_segment(role);
        errors.extend(messages.into_iter().map(|m| FieldError::invalid("roleRef.name", role, m)));
    }
    for (i, subject) in list_at(object, &["subjects"]).iter().enumerate() {
        let here = format!("subjects[{i}]");
        let subject_name = str_at(subject, &["name"]);
        if subject_name.is_empty() {
            errors.push(FieldError::required(format!("{here}.name"), ""));
        }
        let api_group = str_at(subject, &["apiGroup"]);
        match str_at(subject, &["kind"]) {
            "ServiceAccount" => {
                if !subject_name.is_empty() {
                    let messages = super::validation::dns1123_subdomain(subject_name);
                    errors.extend(
                        messages.into_iter().map(|m| FieldError::invalid(format!("{here}.name"), subject_name, m)),
                    );
                }
                if !api_group.is_empty() {
                    errors.push(FieldError::not_supported(format!("{here}.apiGroup"), api_group, &[""]));
                }
                if !namespaced && str_at(subject, &["namespace"]).is_empty() {
                    errors.push(FieldError::required(format!("{here}.namespace"), ""));
                }
            }
            "User" | "Group" if api_group != "rbac.authorization.k8s.io" => {
                let supported = &["rbac.authorization.k8s.io"];
                errors.push(FieldError::not_supported(format!("{here}.apiGroup"), api_group, supported));
            }
            "User" | "Group" => {}
            other => {
                let supported = &["ServiceAccount", "User", "Group"];
                errors.push(FieldError::not_supported(format!("{here}.kind"), other, supported));
            }
        }
    }
    errors
}

/// `ValidateRoleBinding`.
pub(crate) fn validate_role_binding(object: &Value) -> Vec<FieldError> {
    binding(object, true)
}

/// `ValidateClusterRoleBinding`.
pub(crate) fn validate_cluster_role_binding(object: &Value) -> Vec<FieldError> {
    binding(object, false)
}

fn role_ref_unchanged(object: &Value, old: &Value, errors: &mut Vec<FieldError>) {
    if at(object, &["roleRef"]) != at(old, &["roleRef"]) {
        errors.push(FieldError::invalid(
            "roleRef",
            at(object, &["roleRef"]).cloned().unwrap_or_default(),
            "cannot change roleRef",
        ));
    }
}

/// RoleBinding updates keep their roleRef.
pub(crate) fn validate_role_binding_update(object: &Value, old: &Value) -> Vec<FieldError> {
    let mut errors = validate_role_binding(object);
    role_ref_unchanged(object, old, &mut errors);
    errors
}

/// ClusterRoleBinding updates keep their roleRef.
pub(crate) fn validate_cluster_role_binding_update(object: &Value, old: &Value) -> Vec<FieldError> {
    let mut errors = validate_cluster_role_binding(object);
    role_ref_unchanged(object, old, &mut errors);
    errors
}

/// `ValidateLease`.
pub(crate) fn validate_lease(object: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Some(duration) = at(object, &["spec", "leaseDurationSeconds"]).and_then(Value::as_i64).filter(|d| *d <= 0) {
        errors.push(FieldError::invalid("spec.leaseDurationSeconds", duration, "must be greater than 0"));
    }
    if let Some(transitions) = at(object, &["spec", "leaseTransitions"]).and_then(Value::as_i64).filter(|t| *t < 0) {
        errors.push(FieldError::invalid("spec.leaseTransitions", transitions, NEGATIVE));
    }
    errors
}

/// `ValidateServiceAccount`: a name, and secret references that name something.
pub(crate) fn validate_service_account(object: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (i, secret) in list_at(object, &["imagePullSecrets"]).iter().enumerate() {
        if str_at(secret, &["name"]).is_empty() {
            errors.push(FieldError::required(format!("imagePullSecrets[{i}].name"), ""));
        }
    }
    errors
}
