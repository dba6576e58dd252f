//! API errors and their `metav1.Status` form, with the codes, reasons and messages kube-apiserver uses.

use std::fmt;

use serde_json::{Value, json};

use crate::storage::StoreError;

/// A resource type and its group, printed as kube-apiserver does: `deployments.apps`, `configmaps`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupResource {
    /// API group; empty for the core group.
    pub group: String,
    /// Plural resource name, e.g. `clusters`.
    pub resource: String,
}

impl GroupResource {
    /// A group and resource.
    pub fn new(group: impl Into<String>, resource: impl Into<String>) -> Self {
        Self { group: group.into(), resource: resource.into() }
    }
}

impl fmt::Display for GroupResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.group.is_empty() {
            write!(f, "{}", self.resource)
        } else {
            write!(f, "{}.{}", self.resource, self.group)
        }
    }
}

/// `metav1.StatusReason` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StatusReason {
    /// 400.
    BadRequest,
    /// 401.
    Unauthorized,
    /// 403.
    Forbidden,
    /// 404.
    NotFound,
    /// 405.
    MethodNotAllowed,
    /// 406.
    NotAcceptable,
    /// 409 on create.
    AlreadyExists,
    /// 409 on a stale update or failed precondition.
    Conflict,
    /// 410.
    Expired,
    /// 413.
    RequestEntityTooLarge,
    /// 415.
    UnsupportedMediaType,
    /// 422.
    Invalid,
    /// 429.
    TooManyRequests,
    /// 500.
    InternalError,
    /// 500 (the server gave up on a request).
    ServerTimeout,
    /// 503.
    ServiceUnavailable,
    /// 504.
    Timeout,
    /// No reason: errors kube-apiserver does not classify (it answers them with code 500 and omits `reason`).
    Unknown,
}

impl StatusReason {
    /// The wire form, e.g. `NotFound`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadRequest => "BadRequest",
            Self::Unauthorized => "Unauthorized",
            Self::Forbidden => "Forbidden",
            Self::NotFound => "NotFound",
            Self::MethodNotAllowed => "MethodNotAllowed",
            Self::NotAcceptable => "NotAcceptable",
            Self::AlreadyExists => "AlreadyExists",
            Self::Conflict => "Conflict",
            Self::Expired => "Expired",
            Self::RequestEntityTooLarge => "RequestEntityTooLarge",
            Self::UnsupportedMediaType => "UnsupportedMediaType",
            Self::Invalid => "Invalid",
            Self::TooManyRequests => "TooManyRequests",
            Self::InternalError => "InternalError",
            Self::ServerTimeout => "ServerTimeout",
            Self::ServiceUnavailable => "ServiceUnavailable",
            Self::Timeout => "Timeout",
            Self::Unknown => "",
        }
    }
}

/// The kinds of `field.Error` in Kubernetes validation, with their cause reasons and message words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FieldErrorKind {
    /// A required field is missing.
    Required,
    /// The value is not valid.
    Invalid,
    /// The value has the wrong type (printed as "Invalid value", with its own cause reason).
    TypeInvalid,
    /// The value is not one of the allowed values.
    NotSupported,
    /// The field may not be set (or changed).
    Forbidden,
    /// The value duplicates another.
    Duplicate,
    /// The value is too long.
    TooLong,
    /// The list has too many items.
    TooMany,
    /// A referenced item does not exist.
    NotFound,
}

impl FieldErrorKind {
    /// `StatusCause.reason`, e.g. `FieldValueInvalid`.
    pub fn cause_reason(self) -> &'static str {
        match self {
            Self::Required => "FieldValueRequired",
            Self::Invalid => "FieldValueInvalid",
            Self::TypeInvalid => "FieldValueTypeInvalid",
            Self::NotSupported => "FieldValueNotSupported",
            Self::Forbidden => "FieldValueForbidden",
            Self::Duplicate => "FieldValueDuplicate",
            Self::TooLong => "FieldValueTooLong",
            Self::TooMany => "FieldValueTooMany",
            Self::NotFound => "FieldValueNotFound",
        }
    }

    fn words(self) -> &'static str {
        match self {
            Self::Required => "Required value",
            Self::Invalid | Self::TypeInvalid => "Invalid value",
            Self::NotSupported => "Unsupported value",
            Self::Forbidden => "Forbidden",
            Self::Duplicate => "Duplicate value",
            Self::TooLong => "Too long",
            Self::TooMany => "Too many",
            Self::NotFound => "Not found",
        }
    }

    fn shows_value(self) -> bool {
        matches!(
            self,
            Self::Invalid | Self::TypeInvalid | Self::NotSupported | Self::Duplicate | Self::NotFound | Self::TooMany
        )
    }
}

/// One validation failure at a field path such as `spec.placement.clusterAffinity.clusterNames[0]`.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldError {
    /// What is wrong.
    pub kind: FieldErrorKind,
    /// The field path.
    pub field: String,
    /// The offending value, shown in the message for the kinds that show values.
    pub value: Option<Value>,
    /// A human explanation, e.g. `must be greater than or equal to 1`.
    pub detail: String,
}

impl FieldError {
    /// A required field is missing.
    pub fn required(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self { kind: FieldErrorKind::Required, field: field.into(), value: None, detail: detail.into() }
    }

    /// The value is not valid.
    pub fn invalid(field: impl Into<String>, value: impl Into<Value>, detail: impl Into<String>) -> Self {
        Self { kind: FieldErrorKind::Invalid, field: field.into(), value: Some(value.into()), detail: detail.into() }
    }

    /// The value is not one of `allowed`.
    pub fn not_supported(field: impl Into<String>, value: impl Into<Value>, allowed: &[&str]) -> Self {
        let quoted: Vec<String> = allowed.iter().map(|v| format!("{v:?}")).collect();
        Self {
            kind: FieldErrorKind::NotSupported,
            field: field.into(),
            value: Some(value.into()),
            detail: format!("supported values: {}", quoted.join(", ")),
        }
    }

    /// The field may not be set or changed.
    pub fn forbidden(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self { kind: FieldErrorKind::Forbidden, field: field.into(), value: None, detail: detail.into() }
    }

    /// The value is longer than `max_bytes` (the value itself is not shown).
    pub fn too_long(field: impl Into<String>, max_bytes: usize) -> Self {
        let unit = if max_bytes == 1 { "byte" } else { "bytes" };
        Self {
            kind: FieldErrorKind::TooLong,
            field: field.into(),
            value: None,
            detail: format!("may not be more than {max_bytes} {unit}"),
        }
    }

    /// The value has the wrong type (e.g. a string where an integer belongs).
    pub fn type_invalid(field: impl Into<String>, value: impl Into<Value>, detail: impl Into<String>) -> Self {
        Self {
            kind: FieldErrorKind::TypeInvalid,
            field: field.into(),
            value: Some(value.into()),
            detail: detail.into(),
        }
    }

    /// The list has `actual` items (shown when known), more than `max`.
    pub fn too_many(field: impl Into<String>, actual: Option<usize>, max: usize) -> Self {
        let unit = if max == 1 { "item" } else { "items" };
        Self {
            kind: FieldErrorKind::TooMany,
            field: field.into(),
            value: actual.map(Value::from),
            detail: format!("must have at most {max} {unit}"),
        }
    }

    /// The value duplicates another item.
    pub fn duplicate(field: impl Into<String>, value: impl Into<Value>) -> Self {
        Self { kind: FieldErrorKind::Duplicate, field: field.into(), value: Some(value.into()), detail: String::new() }
    }

    /// The body of the message, without the field path: `Invalid value: -1: must be ...`.
    pub fn body(&self) -> String {
        let mut text = self.kind.words().to_string();
        if let Some(value) = self.value.as_ref().filter(|_| self.kind.shows_value()) {
            text.push_str(": ");
            text.push_str(&value.to_string());
        }
        if !self.detail.is_empty() {
            text.push_str(": ");
            text.push_str(&self.detail);
        }
        text
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.body())
    }
}

/// A failed API request, rendered as a `metav1.Status`.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// HTTP status code.
    pub code: u16,
    /// Machine-readable reason.
    pub reason: StatusReason,
    /// Human-readable message.
    pub message: String,
    /// `details`, when the error is about one object.
    pub details: Option<Value>,
    /// `details.retryAfterSeconds`, also sent as a `Retry-After` header.
    pub retry_after_seconds: Option<u32>,
    /// `metadata.continue` of the Status: a fresh token for a 410 on a compacted continue token.
    pub continue_token: Option<String>,
}

impl ApiError {
    /// An error with no details.
    pub fn new(code: u16, reason: StatusReason, message: impl Into<String>) -> Self {
        Self { code, reason, message: message.into(), details: None, retry_after_seconds: None, continue_token: None }
    }

    fn with_details(mut self, gr: &GroupResource, name: &str) -> Self {
        self.details = Some(json!({"name": name, "group": gr.group, "kind": gr.resource}));
        self
    }

    /// Adds `metadata.continue` (kube-apiserver's 410 for a compacted continue token carries a fresh token).
    pub fn with_continue(mut self, token: impl Into<String>) -> Self {
        self.continue_token = Some(token.into());
        self
    }

    /// Adds `details.retryAfterSeconds` (and the `Retry-After` header).
    pub fn retry_after(mut self, seconds: u32) -> Self {
        self.retry_after_seconds = Some(seconds);
        self
    }

    /// 400 BadRequest.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, StatusReason::BadRequest, message)
    }

    /// 401 Unauthorized.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(401, StatusReason::Unauthorized, message)
    }

    /// 403 Forbidden, worded as kube-apiserver's authorizer denials are by the caller.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, StatusReason::Forbidden, message)
    }

    /// 404 `<resource> "<name>" not found`.
    pub fn not_found(gr: &GroupResource, name: &str) -> Self {
        Self::new(404, StatusReason::NotFound, format!("{gr} {name:?} not found")).with_details(gr, name)
    }

    /// 404 for a path that names no served resource.
    pub fn no_such_path(message: impl Into<String>) -> Self {
        Self::new(404, StatusReason::NotFound, message)
    }

    /// 405 `<verb> is not supported on resources of kind "<resource>"`-style refusal.
    pub fn method_not_supported(gr: &GroupResource, action: &str) -> Self {
        Self::new(405, StatusReason::MethodNotAllowed, format!("{action} is not supported on resources of kind {gr:?}"))
            .with_gr_only(gr)
    }

    fn with_gr_only(mut self, gr: &GroupResource) -> Self {
        self.details = Some(json!({"group": gr.group, "kind": gr.resource}));
        self
    }

    /// 406 when no acceptable media type can be produced.
    pub fn not_acceptable(supported: &[&str]) -> Self {
        Self::new(
            406,
            StatusReason::NotAcceptable,
            format!("only the following media types are accepted: {}", supported.join(", ")),
        )
    }

    /// 409 AlreadyExists: `<resource> "<name>" already exists`.
    pub fn already_exists(gr: &GroupResource, name: &str) -> Self {
        Self::new(409, StatusReason::AlreadyExists, format!("{gr} {name:?} already exists")).with_details(gr, name)
    }

    /// 409 Conflict: `Operation cannot be fulfilled on <resource> "<name>": <why>`.
    pub fn conflict(gr: &GroupResource, name: &str, why: &str) -> Self {
        Self::new(409, StatusReason::Conflict, format!("Operation cannot be fulfilled on {gr} {name:?}: {why}"))
            .with_details(gr, name)
    }

    /// 409 Conflict for a stale resourceVersion, with kube-apiserver's exact wording.
    pub fn stale(gr: &GroupResource, name: &str) -> Self {
        Self::conflict(
            gr,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// 410 Expired (a compacted resourceVersion or continue token).
    pub fn expired(message: impl Into<String>) -> Self {
        Self::new(410, StatusReason::Expired, message)
    }

    /// 413 RequestEntityTooLarge.
    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(413, StatusReason::RequestEntityTooLarge, message)
    }

    /// 415 UnsupportedMediaType.
    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(
            415,
            StatusReason::UnsupportedMediaType,
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml; got {content_type:?}"
            ),
        )
    }

    /// 422 Invalid: `<Kind>.<group> "<name>" is invalid: <errors>`, one cause per field error.
    pub fn invalid(kind: &str, group: &str, name: &str, errors: &[FieldError]) -> Self {
        let qualified = if group.is_empty() { kind.to_string() } else { format!("{kind}.{group}") };
        let summary = match errors {
            [one] => one.to_string(),
            many => format!("[{}]", many.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")),
        };
        let causes: Vec<Value> = errors
            .iter()
            .map(|e| json!({"reason": e.kind.cause_reason(), "message": e.body(), "field": e.field}))
            .collect();
        let mut error = Self::new(422, StatusReason::Invalid, format!("{qualified} {name:?} is invalid: {summary}"));
        error.details = Some(json!({"name": name, "group": group, "kind": kind, "causes": causes}));
        error
    }

    /// 429 TooManyRequests.
    pub fn too_many_requests(message: impl Into<String>, retry_after: u32) -> Self {
        Self::new(429, StatusReason::TooManyRequests, message).retry_after(retry_after)
    }

    /// 500 InternalError: `Internal error occurred: <message>`.
    pub fn internal(message: impl fmt::Display) -> Self {
        Self::new(500, StatusReason::InternalError, format!("Internal error occurred: {message}"))
    }

    /// 503 ServiceUnavailable with `Retry-After`.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(503, StatusReason::ServiceUnavailable, message).retry_after(1)
    }

    /// 504 Timeout.
    pub fn timeout(message: impl fmt::Display, retry_after: u32) -> Self {
        Self::new(504, StatusReason::Timeout, format!("Timeout: {message}")).retry_after(retry_after)
    }

    /// 504 for a resourceVersion newer than the server has, with the `ResourceVersionTooLarge` cause.
    pub fn resource_version_too_large(requested: i64, current: i64) -> Self {
        let mut error = Self::timeout(format!("Too large resource version: {requested}, current: {current}"), 1);
        error.details =
            Some(json!({"causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}]}));
        error
    }

    /// Maps a storage failure about `name` of `gr` to the error kube-apiserver would return.
    pub fn from_store(error: StoreError, gr: &GroupResource, name: &str) -> Self {
        match error {
            StoreError::NotFound { .. } => Self::not_found(gr, name),
            StoreError::AlreadyExists { .. } => Self::already_exists(gr, name),
            StoreError::Conflict { .. } => Self::stale(gr, name),
            StoreError::Compacted { requested, compacted } => {
                Self::expired(format!("too old resource version: {requested} ({compacted})"))
            }
            StoreError::FutureRevision { requested, current } => Self::resource_version_too_large(requested, current),
            StoreError::Unavailable(message) => Self::unavailable(format!("storage is unavailable: {message}")),
            StoreError::Internal(message) => Self::internal(message),
        }
    }

    /// The `metav1.Status` object.
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason.as_str(),
            "code": self.code,
        });
        if self.reason == StatusReason::Unknown
            && let Some(map) = status.as_object_mut()
        {
            map.remove("reason");
        }
        let mut details = self.details.clone();
        if let Some(seconds) = self.retry_after_seconds {
            let details = details.get_or_insert_with(|| json!({}));
            details["retryAfterSeconds"] = json!(seconds);
        }
        if let Some(details) = details {
            status["details"] = details;
        }
        if let Some(token) = &self.continue_token {
            status["metadata"] = json!({"continue": token});
        }
        status
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_reads_like_kube_apiserver() {
        let error = ApiError::not_found(&GroupResource::new("cluster.karmada.io", "clusters"), "x");
        assert_eq!(
            error.to_status(),
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                   "message": "clusters.cluster.karmada.io \"x\" not found", "reason": "NotFound",
                   "details": {"name": "x", "group": "cluster.karmada.io", "kind": "clusters"}, "code": 404})
        );
    }

    #[test]
    fn invalid_lists_every_field_error_as_a_cause() {
        let errors = [
            FieldError::invalid("spec.replicas", -1, "must be greater than or equal to 0"),
            FieldError::required("spec.selector", ""),
        ];
        let status = ApiError::invalid("Deployment", "apps", "web", &errors).to_status();
        assert_eq!(
            status["message"],
            "Deployment.apps \"web\" is invalid: [spec.replicas: Invalid value: -1: must be greater than or equal to 0, spec.selector: Required value]"
        );
        assert_eq!(status["code"], 422);
        assert_eq!(status["details"]["causes"][0]["reason"], "FieldValueInvalid");
        assert_eq!(status["details"]["causes"][0]["field"], "spec.replicas");
        assert_eq!(status["details"]["causes"][1]["message"], "Required value");
    }

    #[test]
    fn core_resources_print_without_a_group() {
        assert_eq!(GroupResource::new("", "configmaps").to_string(), "configmaps");
    }

    #[test]
    fn retry_after_is_part_of_the_details() {
        let status = ApiError::unavailable("storage is unavailable").to_status();
        assert_eq!(status["details"]["retryAfterSeconds"], 1);
        assert_eq!(status["code"], 503);
    }
}
