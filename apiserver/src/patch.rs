//! Patches: JSON patch, JSON merge patch, strategic merge patch, and server-side apply with managedFields.

mod apply;
mod builtin;
mod fieldset;
mod managed;
mod schema;
mod strategic;
mod typed;

use serde_json::{Map, Value, json};

pub use apply::{apply, apply_subresource, track_update};
pub use schema::MergeSchema;

use crate::machinery::{ApiError, Object, StatusReason};

/// The patch formats kube-apiserver accepts, by `Content-Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchType {
    /// `application/json-patch+json` (RFC 6902).
    Json,
    /// `application/merge-patch+json` (RFC 7386).
    Merge,
    /// `application/strategic-merge-patch+json` (built-in kinds only).
    StrategicMerge,
    /// `application/apply-patch+yaml` (server-side apply; the body is YAML or JSON).
    Apply,
}

impl PatchType {
    /// The patch type of a `Content-Type` header value (parameters ignored).
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        match content_type.split(';').next().unwrap_or_default().trim() {
            "application/json-patch+json" => Some(Self::Json),
            "application/merge-patch+json" => Some(Self::Merge),
            "application/strategic-merge-patch+json" => Some(Self::StrategicMerge),
            "application/apply-patch+yaml" | "application/apply-patch+cbor" => Some(Self::Apply),
            _ => None,
        }
    }
}

/// The most operations a JSON patch may have.
const MAX_JSON_PATCH_OPERATIONS: usize = 10_000;

/// The most bytes `copy` operations of one JSON patch may duplicate (kube-apiserver's `JSONPatchMaxCopyBytes`).
const MAX_JSON_PATCH_COPY_BYTES: usize = 3 * 1024 * 1024;

/// kube-apiserver's 422 for a patch that does not apply: its generic message, not the patch library's.
fn unprocessable() -> ApiError {
    let mut error =
        ApiError::new(422, StatusReason::Invalid, "the server rejected our request due to an error in our request");
    error.details = Some(json!({}));
    error
}

/// kube-apiserver's 422 when the patched document is not an object it can decode.
fn not_an_object(patched: &Value) -> ApiError {
    let detail = match patched {
        Value::Array(_) => "cannot restore struct from: slice",
        Value::Null => "Object 'Kind' is missing in 'null'",
        _ => "cannot restore struct from: scalar",
    };
    ApiError::invalid("", "", "", &[crate::machinery::FieldError::invalid("patch", patched.to_string(), detail)])
}

/// Applies a patch of `patch_type` to `current` (server-side apply is [`apply`], not this).
///
/// - `Json` (RFC 6902): at most 10000 operations (413 beyond). A body that is not a JSON array of objects is
///   400; an operation that fails (a `test` that does not match, a missing path, an unknown `op`) is 422
///   `Invalid` with kube-apiserver's generic message.
/// - `Merge` (RFC 7386): a body that is not JSON, or is `null` or a scalar, is 400 `Invalid JSON Patch`; an
///   array replaces the object and is then 422.
/// - `StrategicMerge`: needs a built-in kind's `schema` (415 without one or with one from
///   [`MergeSchema::from_openapi`], as for custom resources). The body must be a JSON
///   object (400 otherwise). Lists merge by the schema's merge keys; `$patch: replace|delete|merge`,
///   `$retainKeys`, `$deleteFromPrimitiveList/<list>`, `$setElementOrder/<list>` and `null` (delete) are
///   honoured. Malformed directives are 400, lists of lists and `$retainKeys` mismatches 422, anything else
///   kube-apiserver does not classify is 500 without a reason (e.g. an item missing its merge key).
///
/// The caller checks the result (kind, apiVersion, name, validation) and records managedFields with
/// [`track_update`].
///
/// # Errors
/// 400 for a malformed patch, 422 for a patch that cannot apply (e.g. a failed `test` op), 415 for strategic merge
/// on a kind without a merge schema.
pub fn patch(
    current: &Object,
    patch_type: PatchType,
    body: &[u8],
    schema: Option<&MergeSchema>,
) -> Result<Object, ApiError> {
    match patch_type {
        PatchType::Json => json_patch(current, body),
        PatchType::Merge => merge_patch(current, body),
        PatchType::StrategicMerge => {
            let schema = schema.filter(|s| s.supports_strategic_merge()).ok_or_else(|| {
                ApiError::new(
                    415,
                    StatusReason::UnsupportedMediaType,
                    "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
                )
            })?;
            strategic_merge_patch(current, body, schema)
        }
        PatchType::Apply => Err(ApiError::internal("server-side apply patches are applied with patch::apply")),
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Array(_) => "array",
        Value::Object(_) => "object",
        Value::String(_) => "string",
        Value::Bool(_) => "bool",
        Value::Null => "null",
        Value::Number(_) => "number",
    }
}

fn json_patch(current: &Object, body: &[u8]) -> Result<Object, ApiError> {
    let operations = match serde_json::from_slice::<Value>(body).map_err(|e| ApiError::bad_request(e.to_string()))? {
        Value::Array(operations) => operations,
        Value::Null => Vec::new(),
        other => {
            return Err(ApiError::bad_request(format!(
                "json: cannot unmarshal {} into Go value of type jsonpatch.Patch",
                json_kind(&other)
            )));
        }
    };
    if operations.len() > MAX_JSON_PATCH_OPERATIONS {
        return Err(ApiError::too_large(format!(
            "The allowed maximum operations in a JSON patch is {MAX_JSON_PATCH_OPERATIONS}, got {}",
            operations.len()
        )));
    }
    let operations: Vec<json_patch::PatchOperation> =
        operations.into_iter().map(serde_json::from_value).collect::<Result<_, _>>().map_err(|_| unprocessable())?;
    let mut patched = current.clone();
    let mut copied = 0usize;
    for operation in &operations {
        if let json_patch::PatchOperation::Copy(copy) = operation {
            copied += patched.pointer(copy.from.as_str()).map_or(0, |v| serde_json::to_vec(v).map_or(0, |b| b.len()));
            if copied > MAX_JSON_PATCH_COPY_BYTES {
                return Err(unprocessable());
            }
        }
        json_patch::patch_unsafe(&mut patched, std::slice::from_ref(operation)).map_err(|_| unprocessable())?;
    }
    if !patched.is_object() {
        return Err(not_an_object(&patched));
    }
    Ok(patched)
}

fn merge_patch(current: &Object, body: &[u8]) -> Result<Object, ApiError> {
    let invalid = || ApiError::bad_request("Invalid JSON Patch");
    let patch: Value = serde_json::from_slice(body).map_err(|_| invalid())?;
    match &patch {
        Value::Object(_) => {
            let mut patched = current.clone();
            json_patch::merge(&mut patched, &patch);
            Ok(patched)
        }
        Value::Array(_) => Err(not_an_object(&patch)),
        _ => Err(invalid()),
    }
}

fn strategic_merge_patch(current: &Object, body: &[u8], schema: &MergeSchema) -> Result<Object, ApiError> {
    let patch: Value = serde_json::from_slice(body).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let patch = match patch {
        Value::Object(map) => map,
        Value::Null => Map::new(),
        other => {
            return Err(ApiError::bad_request(format!(
                "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                json_kind(&other)
            )));
        }
    };
    let Value::Object(original) = current.clone() else {
        return Err(ApiError::bad_request("invalid JSON document"));
    };
    match strategic::apply(original, patch, schema) {
        Ok(patched) => Ok(Value::Object(patched)),
        Err(strategic::SmpError::BadRequest(message)) => Err(ApiError::bad_request(message)),
        Err(strategic::SmpError::Invalid(_)) => Err(unprocessable()),
        Err(strategic::SmpError::Other(message)) => Err(ApiError::new(500, StatusReason::Unknown, message)),
    }
}

/// Deeper flow nesting than this (`[[[...`) is refused before parsing: the YAML parser is quadratic in it, and
/// anything nested beyond 128 levels fails to decode anyway.
const MAX_FLOW_DEPTH: usize = 1000;

/// The deepest nesting of `[`/`{` in `text`, counting brackets inside strings too (an overestimate is safe).
fn flow_depth(text: &str) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    for byte in text.bytes() {
        match byte {
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// Decodes a server-side apply body (`application/apply-patch+yaml`: YAML or JSON) into an object.
///
/// # Errors
/// 400 `error decoding patch: ...` when it is neither, or not a map.
pub fn parse_apply_body(body: &[u8]) -> Result<Object, ApiError> {
    let decode = |message: String| ApiError::bad_request(format!("error decoding patch: {message}"));
    let text = std::str::from_utf8(body).map_err(|e| decode(e.to_string()))?;
    if flow_depth(text) > MAX_FLOW_DEPTH {
        return Err(decode("error converting YAML to JSON: recursion limit exceeded".to_string()));
    }
    let value: Value = serde_yaml::from_str(text).map_err(|e| decode(format!("error converting YAML to JSON: {e}")))?;
    match value {
        Value::Object(_) => Ok(value),
        Value::Null => Ok(Value::Object(Map::new())),
        other => Err(decode(format!(
            "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
            json_kind(&other)
        ))),
    }
}

#[cfg(test)]
mod tests;
