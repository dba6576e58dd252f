//! `/openapi/v3` (the index), `/openapi/v3/<api|apis/g>/<v>` (one group-version's document) and `/openapi/v2`.

use axum::response::Response;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};

use super::response;
use crate::{
    machinery::{
        ApiError,
        media::{self, Supported},
    },
    openapi,
    registry::Registry,
};

/// Serves `/openapi/v3/<path>` (`path` empty for the index) as JSON with a quoted-hash `ETag` (304 on a matching
/// `If-None-Match`). A document requested with a stale `hash` redirects (301) to the current one; a current `hash`
/// makes the answer cacheable for good, as kube-apiserver does.
pub fn serve_v3(registry: &Registry, path: &str, query: &str, headers: &HeaderMap) -> Response {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    if let Err(error) = media::negotiate(accept, Supported::JSON, query) {
        return response::error(&error);
    }
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let (group, version) = match segments.as_slice() {
        [] => {
            let (json, hash) = openapi::root_json(registry);
            return document(json, &hash, headers, false);
        }
        ["api", version] => ("", *version),
        ["apis", group, version] => (*group, *version),
        _ => return response::not_found(),
    };
    let Some((json, hash)) = openapi::group_version_json(registry, group, version) else {
        return response::not_found();
    };
    let asked = form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "hash").map(|(_, v)| v.into_owned());
    match asked.filter(|h| !h.is_empty()) {
        Some(asked) if asked != hash => {
            let location = format!("/openapi/v3/{}?hash={hash}", openapi::group_version_path(group, version));
            let mut redirect = response::bytes(StatusCode::MOVED_PERMANENTLY, response::JSON, Vec::new());
            match HeaderValue::from_str(&location) {
                Ok(value) => {
                    redirect.headers_mut().insert(header::LOCATION, value);
                    redirect
                }
                Err(_) => response::error(&ApiError::internal("an unrepresentable OpenAPI location")),
            }
        }
        Some(_) => document(json, &hash, headers, true),
        None => document(json, &hash, headers, false),
    }
}

/// What `/openapi/v2` is served as, in kube-apiserver's order: JSON; gnostic's protobuf `openapi.v2.Document` under
/// its older name (what client-go's `OpenAPISchema` asks for: Go's MIME parser cannot read the `@`, so the answer
/// is labelled with the newer name) and its newer name.
const SWAGGER_MEDIA_TYPES: [&str; 3] = [
    "application/json",
    "application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
    "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
];

/// The `Content-Type` of `/openapi/v2` in protobuf.
const SWAGGER_PROTOBUF: &str = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

/// Serves `/openapi/v2`: JSON or protobuf as the `Accept` header prefers (406 when neither), with a quoted-hash
/// `ETag` and 304 on a matching `If-None-Match`.
pub fn serve_v2(registry: &Registry, headers: &HeaderMap) -> Response {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let Some(chosen) = media::preferred(accept, &SWAGGER_MEDIA_TYPES) else {
        return response::error(&media::not_acceptable(&SWAGGER_MEDIA_TYPES));
    };
    let swagger = openapi::swagger(registry);
    let (content_type, body) = if chosen == SWAGGER_MEDIA_TYPES[0] {
        (response::JSON, swagger.json.clone())
    } else {
        (SWAGGER_PROTOBUF, swagger.protobuf.clone())
    };
    let mut answer = tagged(content_type, body, &swagger.hash, headers);
    answer.headers_mut().insert(header::VARY, HeaderValue::from_static("Accept"));
    answer
}

/// `body` as `content_type` with the quoted `hash` as its `ETag`, or an empty 304 when `If-None-Match` names it.
fn tagged(content_type: &'static str, body: Bytes, hash: &str, headers: &HeaderMap) -> Response {
    let etag = format!("\"{hash}\"");
    let not_modified = headers.get(header::IF_NONE_MATCH).is_some_and(|v| v.as_bytes() == etag.as_bytes());
    let mut answer = if not_modified {
        response::bytes(StatusCode::NOT_MODIFIED, content_type, Vec::new())
    } else {
        response::bytes(StatusCode::OK, content_type, body)
    };
    if let Ok(value) = HeaderValue::from_str(&etag) {
        answer.headers_mut().insert(header::ETAG, value);
    }
    answer
}

fn document(json: Bytes, hash: &str, headers: &HeaderMap, immutable: bool) -> Response {
    let mut answer = tagged(response::JSON, json, hash, headers);
    let headers = answer.headers_mut();
    if immutable {
        headers.insert(header::VARY, HeaderValue::from_static("Accept"));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, immutable"));
    }
    answer
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::Value;

    use super::*;
    use crate::{
        registry::{ResourceInfo, Strategy},
        storage::{EmbeddedOptions, EmbeddedStore, KeySpace, SharedStore},
    };

    struct Plain(ResourceInfo);

    impl Strategy for Plain {
        fn info(&self) -> &ResourceInfo {
            &self.0
        }
    }

    async fn registry() -> (tempfile::TempDir, Registry) {
        let dir = tempfile::tempdir().unwrap();
        let store: SharedStore = Arc::new(EmbeddedStore::open(EmbeddedOptions::new(dir.path())).await.unwrap());
        let registry = Registry::new(store, KeySpace::default());
        registry.register(Arc::new(Plain(ResourceInfo::new("apps", "v1", "Deployment", "deployments", true))));
        registry.register(Arc::new(Plain(ResourceInfo::new("", "v1", "ConfigMap", "configmaps", true))));
        (dir, registry)
    }

    async fn json(response: Response) -> Value {
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn the_index_links_every_group_version_by_hash_and_the_link_serves_it_immutably() {
        let (_dir, registry) = registry().await;
        let index = json(serve_v3(&registry, "", "", &HeaderMap::new())).await;
        let url = index["paths"]["apis/apps/v1"]["serverRelativeURL"].as_str().unwrap().to_string();
        assert!(url.starts_with("/openapi/v3/apis/apps/v1?hash="), "{url}");
        assert!(index["paths"]["api/v1"].is_object());
        let (path, query) = url.trim_start_matches("/openapi/v3/").split_once('?').unwrap();
        let response = serve_v3(&registry, path, query, &HeaderMap::new());
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[header::CACHE_CONTROL], "public, immutable");
        let etag = response.headers()[header::ETAG].clone();
        let mut headers = HeaderMap::new();
        headers.insert(header::IF_NONE_MATCH, etag);
        assert_eq!(serve_v3(&registry, path, "", &headers).status(), StatusCode::NOT_MODIFIED);
    }

    #[tokio::test]
    async fn a_stale_hash_redirects_and_unknown_documents_are_404() {
        let (_dir, registry) = registry().await;
        let response = serve_v3(&registry, "apis/apps/v1", "hash=OLD", &HeaderMap::new());
        assert_eq!(response.status(), StatusCode::MOVED_PERMANENTLY);
        assert!(response.headers()[header::LOCATION].to_str().unwrap().starts_with("/openapi/v3/apis/apps/v1?hash="));
        assert_eq!(serve_v3(&registry, "apis/batch/v1", "", &HeaderMap::new()).status(), StatusCode::NOT_FOUND);
        assert_eq!(serve_v3(&registry, "apis/apps", "", &HeaderMap::new()).status(), StatusCode::NOT_FOUND);
        let mut protobuf = HeaderMap::new();
        protobuf.insert(
            header::ACCEPT,
            HeaderValue::from_static("application/com.github.proto-openapi.spec.v3@v1.0+protobuf"),
        );
        assert_eq!(serve_v3(&registry, "", "", &protobuf).status(), StatusCode::NOT_ACCEPTABLE);
    }
}
