//! Patches: JSON patch, JSON merge patch, strategic merge patch, and server-side apply with managedFields.

use crate::machinery::{ApiError, Object};

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

/// How the lists of one kind merge, by field path: atomic, set, or map keyed by fields (`containers` by `name`).
/// Built from the Kubernetes merge keys of built-in kinds, or from `x-kubernetes-list-*` in a CRD schema.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MergeSchema {}

/// Applies a patch of `patch_type` to `current` (server-side apply is [`apply`], not this).
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
    let _ = (current, patch_type, body, schema);
    Err(ApiError::internal("patches are being written"))
}
