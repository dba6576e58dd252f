//! Steps every write shares: type checks, namespaces, field managers, schema checks and the 422 for failed validation.

use serde_json::Value;

use super::{RequestContext, ResourceStore, meta};
use crate::machinery::{ApiError, FieldError, Object, options::FieldValidation};

/// Checks (and defaults) `apiVersion` and `kind` as kube-apiserver's decoder does for the resource's endpoint, and
/// the types of the common metadata fields.
///
/// # Errors
/// 400 BadRequest for a body that is not an object, another API version or another kind.
pub(super) fn check_type_meta(store: &ResourceStore, object: &mut Object) -> Result<(), ApiError> {
    let info = store.info();
    let expected_version = info.api_version();
    let Some(map) = object.as_object_mut() else {
        let what = match object {
            Value::Array(_) => "array",
            Value::String(_) => "string",
            Value::Number(_) => "number",
            Value::Bool(_) => "bool",
            _ => "null",
        };
        return Err(ApiError::bad_request(format!(
            "the object provided is unrecognized (must be of type {}): couldn't get version/kind; json parse error: \
             json: cannot unmarshal {what} into Go value of type struct {{ APIVersion string \
             \"json:\\\"apiVersion,omitempty\\\"\"; Kind string \"json:\\\"kind,omitempty\\\"\" }}",
            info.kind
        )));
    };
    let api_version = match map.get("apiVersion") {
        None | Some(Value::Null) => expected_version.clone(),
        Some(Value::String(text)) if text.is_empty() => expected_version.clone(),
        Some(Value::String(text)) => text.clone(),
        Some(_) => {
            return Err(ApiError::bad_request(format!(
                "the object provided is unrecognized (must be of type {}): couldn't get version/kind; json parse \
                 error: json: cannot unmarshal non-string into Go struct field .apiVersion of type string",
                info.kind
            )));
        }
    };
    let kind = match map.get("kind") {
        None | Some(Value::Null) => info.kind.clone(),
        Some(Value::String(text)) if text.is_empty() => info.kind.clone(),
        Some(Value::String(text)) => text.clone(),
        Some(_) => {
            return Err(ApiError::bad_request(format!(
                "the object provided is unrecognized (must be of type {}): couldn't get version/kind; json parse \
                 error: json: cannot unmarshal non-string into Go struct field .kind of type string",
                info.kind
            )));
        }
    };
    if api_version != expected_version {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({api_version}) does not match the expected API version ({expected_version})"
        )));
    }
    if kind != info.kind {
        let version = api_version.rsplit('/').next().unwrap_or_default();
        return Err(ApiError::bad_request(format!(
            "{kind} in version {version:?} cannot be handled as a {expected}: converting ({version}.{kind}) to \
             ({version}.{expected}): unknown conversion",
            expected = info.kind
        )));
    }
    map.insert("apiVersion".into(), Value::String(api_version));
    map.insert("kind".into(), Value::String(kind));
    meta::check_types(object, &info.kind, &info.version)
}

/// Clears what only the server sets on a new object (`WipeObjectMetaSystemFields`).
pub(super) fn wipe_system_fields(object: &mut Object) {
    let metadata = meta::metadata_mut(object);
    for field in ["creationTimestamp", "uid", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"] {
        metadata.remove(field);
    }
}

/// Makes `metadata.namespace` agree with the request (`EnsureObjectNamespaceMatchesRequestNamespace`): filled in when
/// empty, cleared for cluster-scoped resources.
///
/// # Errors
/// 400 when the object names another namespace than the request.
pub(super) fn ensure_namespace(
    store: &ResourceStore,
    object: &mut Object,
    namespace: Option<&str>,
) -> Result<(), ApiError> {
    let expected = store.scope(namespace).unwrap_or_default();
    let current = meta::namespace(object).to_string();
    if current == expected {
        return Ok(());
    }
    if current.is_empty() {
        meta::set_meta(object, "namespace", Value::String(expected.to_string()));
        return Ok(());
    }
    if expected.is_empty() {
        if store.info().namespaced {
            // A namespaced object addressed without a namespace (only internal callers do this): keep the body's.
            return Ok(());
        }
        meta::set_meta(object, "namespace", Value::Null);
        return Ok(());
    }
    Err(ApiError::bad_request("the namespace of the provided object does not match the namespace sent on the request"))
}

/// The field manager of a write: the explicit one, else the User-Agent up to its first `/` (printable characters
/// only, at most 128 bytes), as kube-apiserver defaults it.
pub(super) fn field_manager(ctx: &RequestContext, explicit: Option<&str>) -> String {
    if let Some(manager) = explicit.filter(|m| !m.is_empty()) {
        return manager.to_string();
    }
    let prefix = ctx.user_agent.split('/').next().unwrap_or_default();
    let mut manager = String::new();
    for c in prefix.chars().filter(|c| !c.is_control()) {
        if manager.len() + c.len_utf8() > 128 {
            break;
        }
        manager.push(c);
    }
    manager
}

/// Prunes and checks `object` against the kind's schema as `fieldValidation` asks; warnings go to `ctx`.
///
/// # Errors
/// 400 for unknown fields under `Strict`.
pub(super) fn check_schema(
    store: &ResourceStore,
    ctx: &RequestContext,
    object: &mut Object,
    validation: FieldValidation,
) -> Result<(), ApiError> {
    let Some(schema) = store.strategy().kind_schema() else { return Ok(()) };
    for warning in crate::schema::validate(object, &schema, validation, None)? {
        ctx.warnings.add(warning);
    }
    Ok(())
}

/// Records the write of `manager` in `metadata.managedFields` (operation `Update`).
pub(super) fn track_update(
    store: &ResourceStore,
    old: Option<&Object>,
    object: &mut Object,
    manager: &str,
    subresource: Option<&str>,
) {
    crate::patch::track_update(old, object, manager, subresource, store.strategy().merge_schema(), &meta::now());
}

/// 422 Invalid for `errors` about the object named `name`, qualified by the kind and group.
pub(super) fn invalid(store: &ResourceStore, name: &str, errors: &[FieldError]) -> ApiError {
    let info = store.info();
    ApiError::invalid(&info.kind, &info.group, name, errors)
}

/// Strategy validation plus ObjectMeta validation of a new object.
pub(super) fn validate_create(store: &ResourceStore, object: &Object) -> Vec<FieldError> {
    let strategy = store.strategy();
    let mut errors = strategy.validate(object);
    errors.extend(crate::machinery::names::validate_object_meta(
        object,
        store.info().namespaced,
        strategy.name_validator(),
    ));
    errors
}

/// Strategy validation plus ObjectMeta validation of an update.
pub(super) fn validate_update(store: &ResourceStore, object: &Object, old: &Object) -> Vec<FieldError> {
    let mut errors = store.strategy().validate_update(object, old);
    errors.extend(crate::machinery::names::validate_object_meta_update(object, old));
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_field_manager_is_the_user_agent_product() {
        let ctx = RequestContext::for_agent("kubectl/v1.31.0 (linux/amd64) kubernetes/abc");
        assert_eq!(field_manager(&ctx, None), "kubectl");
        assert_eq!(field_manager(&ctx, Some("helm")), "helm");
        assert_eq!(field_manager(&RequestContext::for_agent(&"x".repeat(300)), None).len(), 128);
    }
}
