//! Encoding answers: objects and lists as JSON, YAML, Tables or partial metadata; errors as `Status`.

use std::borrow::Borrow;

use axum::{
    body::Body,
    response::{IntoResponse, Response},
};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;
use serde_json::{Value, json};

use super::table::{list_metadata, object_metadata, partial_metadata, partial_metadata_list, table};
use crate::{
    machinery::{
        ApiError, Object,
        media::{Format, Negotiated, Target},
    },
    registry::{ObjectList, ResourceInfo, Strategy},
};

/// `application/json`.
pub const JSON: &str = "application/json";
/// `application/yaml`.
pub const YAML: &str = "application/yaml";

/// An error as a `Status` body with its code, and `Retry-After` when it carries `retryAfterSeconds`.
pub fn error(error: &ApiError) -> Response {
    let status = StatusCode::from_u16(error.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = bytes(status, JSON, serialize_json(&error.to_status()));
    if let Some(seconds) = error.retry_after_seconds {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

/// kube-apiserver's answer for a path that names nothing it serves.
pub fn not_found() -> Response {
    let status = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "the server could not find the requested resource", "reason": "NotFound",
        "details": {}, "code": 404,
    });
    bytes(StatusCode::NOT_FOUND, JSON, serialize_json(&status))
}

/// A body with a content type.
pub fn bytes(status: StatusCode, content_type: &'static str, body: impl Into<Body>) -> Response {
    let mut response = (status, body.into()).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// Compact JSON of anything serializable (a failure to serialize becomes `null`, which cannot happen for JSON values).
pub fn serialize_json<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_else(|_| b"null".to_vec())
}

/// How to encode a response: JSON or YAML, pretty or compact.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Encoding {
    /// JSON or YAML.
    pub format: Format,
    /// Indented JSON (`?pretty=true`, or a curl/wget/browser User-Agent as kube-apiserver does).
    pub pretty: bool,
}

impl Encoding {
    /// Compact JSON.
    pub const JSON: Self = Self { format: Format::Json, pretty: false };

    /// The encoding `negotiated` for a client with `user_agent`.
    pub fn of(negotiated: &Negotiated, user_agent: &str) -> Self {
        let pretty_agent = ["curl", "Wget", "Mozilla/5.0"].iter().any(|agent| user_agent.starts_with(agent));
        Self { format: negotiated.format, pretty: negotiated.pretty || pretty_agent }
    }
}

/// `value` in `encoding`.
pub fn value(status: StatusCode, encoding: Encoding, value: &impl Serialize) -> Response {
    match encoding.format {
        Format::Yaml => match serde_yaml::to_string(value) {
            Ok(text) => bytes(status, YAML, text),
            Err(e) => error(&ApiError::internal(format!("encoding YAML: {e}"))),
        },
        Format::Json if encoding.pretty => {
            let mut body = serde_json::to_vec_pretty(value).unwrap_or_else(|_| b"null".to_vec());
            body.push(b'\n');
            bytes(status, JSON, body)
        }
        Format::Json => bytes(status, JSON, serialize_json(value)),
    }
}

/// One object as `negotiated` (the object, a one-row Table, or its `PartialObjectMetadata`).
pub fn object(
    status: StatusCode,
    negotiated: &Negotiated,
    encoding: Encoding,
    strategy: &dyn Strategy,
    object: &Object,
) -> Response {
    match negotiated.target {
        Target::Table { version, include_object } => {
            let table =
                table(strategy, std::iter::once(object), object_metadata(object), version, include_object, true);
            value(status, encoding, &table)
        }
        Target::PartialObjectMetadata(version) | Target::PartialObjectMetadataList(version) => {
            value(status, encoding, &partial_metadata(object, version))
        }
        Target::Object | Target::DiscoveryV2 | Target::DiscoveryV2Beta1 => value(status, encoding, object),
    }
}

/// The wire form of a list, borrowing its items.
#[derive(Serialize)]
struct ListBody<'a> {
    kind: &'a str,
    #[serde(rename = "apiVersion")]
    api_version: &'a str,
    metadata: Value,
    items: Items<'a>,
}

/// List items (owned or shared with the store's cache), serialized as a plain array.
struct Items<'a>(Vec<&'a Object>);

impl Serialize for Items<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter())
    }
}

/// The items of `list` as plain references.
fn items(list: &ObjectList) -> Vec<&Object> {
    list.items.iter().map(|item| -> &Object { item.borrow() }).collect()
}

/// A list as `negotiated` (the list, a Table, or a `PartialObjectMetadataList`).
pub fn list(
    status: StatusCode,
    negotiated: &Negotiated,
    encoding: Encoding,
    strategy: &dyn Strategy,
    list: &ObjectList,
) -> Response {
    let metadata = list_metadata(&list.resource_version, list.continue_token.as_deref(), list.remaining_item_count);
    match negotiated.target {
        Target::Table { version, include_object } => {
            value(status, encoding, &table(strategy, items(list), metadata, version, include_object, true))
        }
        Target::PartialObjectMetadata(version) | Target::PartialObjectMetadataList(version) => {
            value(status, encoding, &partial_metadata_list(items(list), metadata, version))
        }
        Target::Object | Target::DiscoveryV2 | Target::DiscoveryV2Beta1 => {
            let info: &ResourceInfo = strategy.info();
            let api_version = info.api_version();
            let body =
                ListBody { kind: &info.list_kind, api_version: &api_version, metadata, items: Items(items(list)) };
            value(status, encoding, &body)
        }
    }
}

/// The `Status` kube-apiserver answers a completed delete with when it does not return the object.
pub fn delete_success(info: &ResourceInfo, object: &Object) -> Value {
    let name = object.pointer("/metadata/name").cloned().unwrap_or(Value::String(String::new()));
    let mut details = json!({"name": name, "group": info.group, "kind": info.plural});
    if let Some(uid) = object.pointer("/metadata/uid") {
        details["uid"] = uid.clone();
    }
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn errors_are_status_bodies_with_retry_after() {
        let response = error(&ApiError::unavailable("storage is unavailable"));
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        assert_eq!(response.headers()[header::CONTENT_TYPE], JSON);
        let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        let status: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(status["reason"], "ServiceUnavailable");
    }

    #[tokio::test]
    async fn unknown_paths_get_kube_apiservers_not_found() {
        let response = not_found();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        let status: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(status["message"], "the server could not find the requested resource");
        assert_eq!(status["details"], json!({}));
    }

    #[test]
    fn a_completed_delete_reports_name_group_resource_and_uid() {
        let info = ResourceInfo::new("apps", "v1", "Deployment", "deployments", true);
        let status = delete_success(&info, &json!({"metadata": {"name": "web", "uid": "u-1"}}));
        assert_eq!(
            status,
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                   "details": {"name": "web", "group": "apps", "kind": "deployments", "uid": "u-1"}})
        );
    }
}
