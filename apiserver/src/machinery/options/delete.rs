//! `DeleteOptions` from a JSON/YAML body or from the query string, validated as kube-apiserver does.

use serde::Deserialize;

use super::{DeleteOptions, PropagationPolicy, Query, invalid_options, validate_dry_run};
use crate::machinery::{ApiError, FieldError, media::yaml_to_json};

/// The wire form of `DeleteOptions`; `kind`/`apiVersion` are optional, unknown fields are ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Body {
    kind: Option<String>,
    api_version: Option<String>,
    grace_period_seconds: Option<i64>,
    preconditions: Option<Preconditions>,
    orphan_dependents: Option<bool>,
    propagation_policy: Option<String>,
    dry_run: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Preconditions {
    uid: Option<String>,
    resource_version: Option<String>,
}

/// Options of delete and deletecollection: from `body` when it is non-empty (JSON, or YAML), otherwise from the
/// query string (`gracePeriodSeconds`, `propagationPolicy`, `orphanDependents`, `dryRun`, and `uid` /
/// `resourceVersion` as preconditions).
///
/// # Errors
/// 400 for a body that does not decode as `DeleteOptions` or a malformed `gracePeriodSeconds`; 422 `DeleteOptions`
/// Invalid for an unknown `propagationPolicy`, `propagationPolicy` together with `orphanDependents`, or a `dryRun`
/// other than `All`.
pub fn delete_options(query: &str, body: Option<&[u8]>) -> Result<DeleteOptions, ApiError> {
    let raw = match body.filter(|b| !b.iter().all(u8::is_ascii_whitespace)) {
        Some(bytes) => decode_body(bytes)?,
        None => from_query(&Query::parse(query))?,
    };
    let mut errors = Vec::new();
    if let (Some(policy), Some(_)) = (&raw.propagation_policy, raw.orphan_dependents) {
        errors.push(FieldError::invalid(
            "propagationPolicy",
            policy.as_str(),
            "orphanDependents and deletionPropagation cannot be both set",
        ));
    }
    let propagation_policy = match raw.propagation_policy.as_deref() {
        None => None,
        Some("Orphan") => Some(PropagationPolicy::Orphan),
        Some("Background") => Some(PropagationPolicy::Background),
        Some("Foreground") => Some(PropagationPolicy::Foreground),
        Some(other) => {
            errors.push(FieldError::not_supported(
                "propagationPolicy",
                other,
                &["Foreground", "Background", "Orphan", "nil"],
            ));
            None
        }
    };
    let dry_run: Vec<&str> = raw.dry_run.iter().flatten().map(String::as_str).collect();
    errors.extend(validate_dry_run(&dry_run));
    if !errors.is_empty() {
        return Err(invalid_options("DeleteOptions", &errors));
    }
    let preconditions = raw.preconditions.unwrap_or_default();
    Ok(DeleteOptions {
        grace_period_seconds: raw.grace_period_seconds,
        precondition_uid: preconditions.uid,
        precondition_resource_version: preconditions.resource_version,
        propagation_policy,
        orphan_dependents: raw.orphan_dependents,
        dry_run: !dry_run.is_empty(),
    })
}

fn decode_body(bytes: &[u8]) -> Result<Body, ApiError> {
    let body: Body = match serde_json::from_slice(bytes) {
        // client-go typed clients send DeleteOptions as protobuf (`k8s\0...`), which no JSON or YAML body starts with.
        Err(_) if crate::protobuf::has_magic(bytes) => {
            let value = crate::protobuf::decode(bytes, Some("DeleteOptions"))?;
            serde_json::from_value(value).map_err(|e| ApiError::bad_request(e.to_string()))?
        }
        Ok(body) => body,
        Err(json_error) if json_error.is_syntax() || json_error.is_eof() => {
            // Not JSON at all: kube-apiserver also takes YAML bodies.
            let value = yaml_to_json(bytes).map_err(|_| ApiError::bad_request(json_error.to_string()))?;
            serde_json::from_value(value).map_err(|e| ApiError::bad_request(e.to_string()))?
        }
        Err(error) => return Err(ApiError::bad_request(error.to_string())),
    };
    if let Some(kind) = body.kind.as_deref().filter(|k| !k.is_empty() && *k != "DeleteOptions") {
        let version = body.api_version.as_deref().unwrap_or("meta.k8s.io/v1");
        return Err(ApiError::bad_request(format!(
            "no kind {kind:?} is registered for version {version:?}; expected DeleteOptions"
        )));
    }
    Ok(body)
}

fn from_query(query: &Query) -> Result<Body, ApiError> {
    let uid = query.first("uid").filter(|v| !v.is_empty()).map(str::to_string);
    let resource_version = query.first("resourceVersion").filter(|v| !v.is_empty()).map(str::to_string);
    let dry_run = query.all("dryRun");
    Ok(Body {
        kind: None,
        api_version: None,
        grace_period_seconds: query.int("gracePeriodSeconds")?,
        preconditions: (uid.is_some() || resource_version.is_some()).then_some(Preconditions { uid, resource_version }),
        orphan_dependents: query.bool("orphanDependents"),
        propagation_policy: query.first("propagationPolicy").map(str::to_string),
        dry_run: (!dry_run.is_empty()).then(|| dry_run.into_iter().map(str::to_string).collect()),
    })
}
