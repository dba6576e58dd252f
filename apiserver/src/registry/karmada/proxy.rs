//! `clusters/<name>/proxy/<path>`: requests forwarded to a member cluster as the caller, as Karmada's proxy does.
//!
//! The member is reached at `spec.apiEndpoint` with the impersonator token of `spec.impersonatorSecretRef`; the
//! caller's credentials and impersonation headers are dropped and `Impersonate-User`/`Impersonate-Group` name the
//! caller instead, so the member's RBAC decides for the caller. Bodies stream both ways (a watch keeps streaming).
//! `*` as the name fans a list out to every cluster (see [`fanout`]).

mod fanout;
mod target;

use axum::{body::Body, response::Response};
use http::{HeaderMap, HeaderValue, Method, header};
use serde_json::Value;

use super::super::subresource::{Connect, ConnectFuture, ConnectRequest, ResponseKind};
use crate::{
    auth::UserInfo,
    machinery::{ApiError, options::GetOptions},
};
pub use target::Target;

/// The name that stands for every cluster.
const ALL_CLUSTERS: &str = "*";

/// The groups every caller is in, which are never impersonated (the member adds them itself).
const SKIPPED_GROUPS: [&str; 2] = ["system:authenticated", "system:unauthenticated"];

/// Request headers that describe one hop, never forwarded (nor are the caller's credentials).
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// The `clusters/proxy` subresource, as Karmada's aggregated API server serves it.
pub fn connect() -> Connect {
    Connect {
        group: "cluster.karmada.io".into(),
        resource: "clusters".into(),
        subresource: "proxy".into(),
        methods: vec![
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::HEAD,
            Method::OPTIONS,
        ],
        subpath: true,
        response_kind: ResponseKind::new("cluster.karmada.io", "v1alpha1", "ClusterProxyOptions"),
        handler,
    }
}

fn handler(request: ConnectRequest) -> ConnectFuture {
    Box::pin(async move {
        if request.name == ALL_CLUSTERS {
            return fanout::serve(request).await;
        }
        let cluster = request.store.get(None, &request.name, &GetOptions::default()).await?;
        let target = target::resolve(&request.state, &cluster).await?;
        let path = request.path.clone();
        let query = request.query.clone();
        forward(&target, &request.user, &path, &query, request.request).await
    })
}

/// Sends `request` to `target`'s `path` and `query` as `user`, and streams the member's answer back.
pub(super) async fn forward(
    target: &Target,
    user: &UserInfo,
    path: &str,
    query: &str,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let mut outgoing = http::Request::new(body);
    *outgoing.method_mut() = parts.method;
    *outgoing.uri_mut() = target.url(path, query)?;
    *outgoing.headers_mut() = forwarded_headers(&parts.headers);
    impersonate(outgoing.headers_mut(), user, &target.token)?;
    let answer = target.client.request(outgoing).await.map_err(|error| unreachable(&target.cluster, &error))?;
    let (mut parts, body) = answer.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    Ok(Response::from_parts(parts, Body::new(body)))
}

/// The caller's headers without its credentials, impersonation or hop-by-hop headers (nor `Host`).
fn forwarded_headers(headers: &HeaderMap) -> HeaderMap {
    let mut forwarded = headers.clone();
    strip_hop_by_hop(&mut forwarded);
    forwarded.remove(header::AUTHORIZATION);
    forwarded.remove(header::HOST);
    let impersonation: Vec<_> =
        forwarded.keys().filter(|name| name.as_str().starts_with("impersonate-")).cloned().collect();
    for name in impersonation {
        forwarded.remove(name);
    }
    forwarded
}

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<String> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(',').map(|s| s.trim().to_ascii_lowercase()))
        .collect();
    for name in HOP_BY_HOP.iter().copied().chain(named.iter().map(String::as_str)) {
        headers.remove(name);
    }
}

/// Sets the impersonator's token and `Impersonate-User`/`Impersonate-Group` for `user` (Karmada impersonates
/// neither the uid nor extra attributes).
fn impersonate(headers: &mut HeaderMap, user: &UserInfo, token: &str) -> Result<(), ApiError> {
    let value = |text: &str| {
        HeaderValue::from_str(text).map_err(|_| ApiError::bad_request(format!("{text:?} cannot be sent as a header")))
    };
    headers.insert("impersonate-user", value(&user.name)?);
    for group in user.groups.iter().filter(|g| !SKIPPED_GROUPS.contains(&g.as_str())) {
        headers.append("impersonate-group", value(group)?);
    }
    headers.insert(header::AUTHORIZATION, value(&format!("bearer {token}"))?);
    Ok(())
}

/// 503 for a member that could not be reached (connection refused, TLS failure, ...).
fn unreachable(cluster: &str, error: &dyn std::error::Error) -> ApiError {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message = format!("{message}: {cause}");
        source = cause.source();
    }
    ApiError::unavailable(format!("error trying to reach cluster {cluster:?}: {message}"))
}

/// The `metadata.name` of an object.
fn object_name(object: &Value) -> &str {
    object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_callers_credentials_and_impersonation_never_reach_the_member() {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer caller"));
        headers.insert("impersonate-user", HeaderValue::from_static("root"));
        headers.insert("impersonate-extra-scopes", HeaderValue::from_static("all"));
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        headers.insert(header::CONNECTION, HeaderValue::from_static("x-hop"));
        headers.insert("x-hop", HeaderValue::from_static("1"));
        let mut forwarded = forwarded_headers(&headers);
        assert_eq!(forwarded.len(), 1, "{forwarded:?}");
        let user = UserInfo {
            name: "alice".into(),
            groups: vec!["dev".into(), "system:authenticated".into(), "ops".into()],
            ..UserInfo::default()
        };
        impersonate(&mut forwarded, &user, "secret").unwrap();
        assert_eq!(forwarded["impersonate-user"], "alice");
        let groups: Vec<&str> = forwarded.get_all("impersonate-group").iter().filter_map(|v| v.to_str().ok()).collect();
        assert_eq!(groups, ["dev", "ops"]);
        assert_eq!(forwarded[header::AUTHORIZATION], "bearer secret");
    }

    #[test]
    fn the_proxy_is_listed_with_the_verbs_of_its_methods() {
        assert_eq!(connect().verbs(), ["create", "delete", "get", "patch", "update"]);
    }
}
