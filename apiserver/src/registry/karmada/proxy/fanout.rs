//! `clusters/*/proxy/<path>`: one request answered from every cluster, as Karmada's `*` proxy does.
//!
//! A collection GET is sent (as the caller) to every cluster and the lists that come back 200 are merged: the first
//! list's metadata and every list's items, in cluster-name order. A request naming an object first asks every
//! cluster for it; exactly one having it gets the request itself, several are a 409, none a 404. Any other request
//! on a collection is a 405. A path that is not a resource path is served by Flotilla itself, as the caller.

use axum::{body::Body, extract::Request, response::Response};
use bytes::Bytes;
use futures::future::join_all;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt as _;

use super::{Target, forward, impersonate, object_name, target};
use crate::{
    auth::UserInfo,
    http::{RequestInfo, ResourceRequest, Target as PathTarget, Verb},
    machinery::{ApiError, Object, options},
    registry::subresource::ConnectRequest,
};

/// Largest member answer read while merging lists.
const MAX_ANSWER_BYTES: usize = 512 * 1024 * 1024;

pub(super) async fn serve(request: ConnectRequest) -> Result<Response, ApiError> {
    let method = request.request.method().clone();
    let info = RequestInfo::parse(&method, &request.path, &request.query);
    let PathTarget::Resource(resource) = &info.target else {
        return serve_locally(request).await;
    };
    let clusters = request.store.list(None, &options::list_options("")?).await?;
    let mut targets = Vec::new();
    for cluster in &clusters.items {
        // Clusters that cannot be reached this way are left out, as Karmada leaves them out.
        match target::resolve(&request.state, cluster).await {
            Ok(target) => targets.push(target),
            Err(error) => tracing::debug!(cluster = object_name(cluster), %error, "left out of the * proxy"),
        }
    }
    if resource.name.is_some() {
        return named(request, resource, targets).await;
    }
    if info.verb != Verb::List {
        return Ok(text(
            StatusCode::METHOD_NOT_ALLOWED,
            &format!("Request verb {} is not support", info.verb.as_str()),
        ));
    }
    let answers = join_all(targets.iter().map(|t| get(t, &request.user, &request.path, &request.query))).await;
    let mut merged: Option<(Object, HeaderMap)> = None;
    for (target, answer) in targets.iter().zip(answers) {
        let Some((headers, body)) = answer else { continue };
        let list: Object = match serde_json::from_slice(&body) {
            Ok(list) => list,
            Err(error) => {
                tracing::debug!(cluster = %target.cluster, %error, "an answer of the * proxy is not a list");
                continue;
            }
        };
        match &mut merged {
            None => merged = Some((list, headers)),
            Some((first, _)) => {
                let items = list.get("items").and_then(Value::as_array).cloned().unwrap_or_default();
                if let Some(all) = first.get_mut("items").and_then(Value::as_array_mut) {
                    all.extend(items);
                } else if let Some(map) = first.as_object_mut() {
                    map.insert("items".into(), Value::Array(items));
                }
            }
        }
    }
    let Some((list, headers)) = merged else { return Ok(text(StatusCode::NOT_FOUND, "not found")) };
    let body = serde_json::to_vec(&list).map_err(ApiError::internal)?;
    let mut response = Response::new(Body::from(body));
    for (name, value) in &headers {
        if name != header::CONTENT_LENGTH && name != header::CONTENT_TYPE && !super::HOP_BY_HOP.contains(&name.as_str())
        {
            response.headers_mut().insert(name, value.clone());
        }
    }
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
}

/// A request naming one object: sent to the one cluster that has it.
async fn named(
    request: ConnectRequest,
    resource: &ResourceRequest,
    targets: Vec<Target>,
) -> Result<Response, ApiError> {
    let probe = object_path(resource);
    let answers = join_all(targets.iter().map(|t| get(t, &request.user, &probe, ""))).await;
    let mut having: Vec<&Target> = targets.iter().zip(answers).filter(|(_, a)| a.is_some()).map(|(t, _)| t).collect();
    match having.len() {
        0 => Ok(text(StatusCode::NOT_FOUND, "resource not found or don't have permission to get it")),
        1 => {
            let target = having.remove(0);
            forward(target, &request.user, &request.path, &request.query, request.request).await
        }
        _ => {
            let names: Vec<&str> = having.iter().map(|t| t.cluster.as_str()).collect();
            let message = format!("conflict resource, exist in more than one cluster: {}", names.join(","));
            Ok(text(StatusCode::CONFLICT, &message))
        }
    }
}

/// The object's own path (prefix, group, version, namespace, resource, name, and a subresource other than `exec`
/// or `log`), which tells whether a cluster has it.
fn object_path(resource: &ResourceRequest) -> String {
    let mut parts =
        vec![if resource.group.is_empty() { "api".to_string() } else { format!("apis/{}", resource.group) }];
    parts.push(resource.version.clone());
    if resource.namespaced_path
        && let Some(namespace) = &resource.namespace
    {
        parts.extend(["namespaces".to_string(), namespace.clone()]);
    }
    parts.push(resource.resource.clone());
    parts.extend(resource.name.clone());
    if let Some(subresource) = resource.subresource.as_deref().filter(|s| *s != "exec" && *s != "log") {
        parts.push(subresource.to_string());
    }
    let encoded: Vec<String> = parts.iter().map(|p| p.split('/').map(escape).collect::<Vec<_>>().join("/")).collect();
    format!("/{}", encoded.join("/"))
}

/// Percent-encodes what may not stand in a path segment.
fn escape(segment: &str) -> String {
    let mut out = String::new();
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~:@!$&'()*+,;=".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A GET of `path` on `target` as `user`: its headers and body when it answered 200.
async fn get(target: &Target, user: &UserInfo, path: &str, query: &str) -> Option<(HeaderMap, Bytes)> {
    let mut request = http::Request::new(Body::empty());
    *request.uri_mut() = target.url(path, query).ok()?;
    request.headers_mut().insert(header::ACCEPT, HeaderValue::from_static("application/json"));
    impersonate(request.headers_mut(), user, &target.token).ok()?;
    let answer = match target.client.request(request).await {
        Ok(answer) => answer,
        Err(error) => {
            tracing::debug!(cluster = %target.cluster, %error, "the * proxy could not reach a cluster");
            return None;
        }
    };
    if answer.status() != StatusCode::OK {
        return None;
    }
    let (parts, body) = answer.into_parts();
    let body = http_body_util::Limited::new(body, MAX_ANSWER_BYTES).collect().await.ok()?.to_bytes();
    Some((parts.headers, body))
}

/// A path that is not a resource: Flotilla answers it itself, for the caller (same credentials).
async fn serve_locally(request: ConnectRequest) -> Result<Response, ApiError> {
    let (mut parts, body) = request.request.into_parts();
    let path = if request.path.is_empty() { "/" } else { request.path.as_str() };
    let uri = if request.query.is_empty() { path.to_string() } else { format!("{path}?{}", request.query) };
    parts.uri = uri.parse().map_err(|e| ApiError::bad_request(format!("invalid path: {e}")))?;
    parts.extensions.remove::<RequestInfo>();
    parts.extensions.remove::<UserInfo>();
    let router = crate::http::router(request.state.clone());
    match router.oneshot(Request::from_parts(parts, body)).await {
        Ok(response) => Ok(response),
        Err(never) => match never {},
    }
}

/// A plain-text answer, as Karmada's proxy writes its own errors.
fn text(status: StatusCode, message: &str) -> Response {
    let mut response = Response::new(Body::from(format!("{message}\n")));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    response
}

#[cfg(test)]
mod tests {
    use http::Method;

    use super::*;

    fn resource(path: &str) -> ResourceRequest {
        RequestInfo::parse(&Method::GET, path, "").resource().cloned().expect("a resource path")
    }

    #[test]
    fn an_object_is_probed_at_its_own_path_without_exec_or_log() {
        assert_eq!(object_path(&resource("/api/v1/namespaces/a/pods/web/log")), "/api/v1/namespaces/a/pods/web");
        assert_eq!(
            object_path(&resource("/apis/apps/v1/namespaces/a/deployments/web/status")),
            "/apis/apps/v1/namespaces/a/deployments/web/status"
        );
        assert_eq!(object_path(&resource("/api/v1/nodes/n%201")), "/api/v1/nodes/n%201");
    }
}
