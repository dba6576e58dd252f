//! Aggregated discovery (`APIGroupDiscoveryList` v2 and v2beta1) with its exact Content-Type, ETag and 304.

use axum::response::Response;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use parking_lot::Mutex;
use serde_json::{Value, json};
use sha2::{Digest, Sha512};

use super::{GroupResources, RESOURCE_VERBS, STATUS_VERBS};
use crate::{
    http::response,
    registry::{Registry, ResourceInfo},
};

/// Content-Type of v2 aggregated discovery.
pub const V2_CONTENT_TYPE: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";
/// Content-Type of v2beta1 aggregated discovery.
pub const V2BETA1_CONTENT_TYPE: &str = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList";

/// `apidiscovery.k8s.io` version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AggregatedVersion {
    /// `v2`.
    V2,
    /// `v2beta1`.
    V2beta1,
}

impl AggregatedVersion {
    fn api_version(self) -> &'static str {
        match self {
            Self::V2 => "apidiscovery.k8s.io/v2",
            Self::V2beta1 => "apidiscovery.k8s.io/v2beta1",
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Self::V2 => V2_CONTENT_TYPE,
            Self::V2beta1 => V2BETA1_CONTENT_TYPE,
        }
    }
}

/// The `APIGroupDiscoveryList` of `groups`, served by `registry`.
pub fn document(registry: &Registry, groups: &[GroupResources], version: AggregatedVersion) -> Value {
    let items: Vec<Value> = groups
        .iter()
        .map(|group| {
            let versions: Vec<Value> = group
                .versions
                .iter()
                .map(|(version, resources)| {
                    json!({
                        "version": version,
                        "resources": resources.iter().map(|info| resource(registry, info)).collect::<Vec<_>>(),
                        "freshness": "Current",
                    })
                })
                .collect();
            let metadata = if group.name.is_empty() { json!({}) } else { json!({"name": group.name}) };
            json!({"metadata": metadata, "versions": versions})
        })
        .collect();
    json!({"kind": "APIGroupDiscoveryList", "apiVersion": version.api_version(), "metadata": {}, "items": items})
}

fn resource(registry: &Registry, info: &ResourceInfo) -> Value {
    let response_kind = json!({"group": info.group, "version": info.version, "kind": info.kind});
    let mut resource = json!({
        "resource": info.plural,
        "responseKind": response_kind,
        "scope": if info.namespaced { "Namespaced" } else { "Cluster" },
        "singularResource": info.singular,
        "verbs": crate::auth::reviews::verbs(registry, info, &RESOURCE_VERBS),
    });
    if !info.short_names.is_empty() {
        resource["shortNames"] = json!(info.short_names);
    }
    if !info.categories.is_empty() {
        resource["categories"] = json!(info.categories);
    }
    let mut subresources = Vec::new();
    if info.status_subresource {
        subresources.push(json!({"subresource": "status", "responseKind": response_kind, "verbs": STATUS_VERBS}));
    }
    for connect in registry.connects(info) {
        let kind = &connect.response_kind;
        subresources.push(json!({
            "subresource": connect.subresource,
            "responseKind": {"group": kind.group, "version": kind.version, "kind": kind.kind},
            "verbs": connect.verbs(),
        }));
    }
    if !subresources.is_empty() {
        resource["subresources"] = json!(subresources);
    }
    resource
}

/// Which discovery root a document is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Root {
    /// `/api`: the core group.
    Core,
    /// `/apis`: every named group.
    Named,
}

/// A serialized document and its quoted ETag.
type Rendered = (Bytes, String);

/// Documents kept per (registry generation, root, version); old generations are evicted first.
const CACHED_DOCUMENTS: usize = 16;

/// The document of `root` in `version` for `registry`'s current state (cached by its generation).
fn rendered(registry: &Registry, root: Root, version: AggregatedVersion) -> Rendered {
    static CACHE: Mutex<Vec<(u64, Root, AggregatedVersion, Rendered)>> = Mutex::new(Vec::new());
    let generation = registry.generation();
    if let Some((.., found)) = CACHE.lock().iter().find(|(g, r, v, _)| (*g, *r, *v) == (generation, root, version)) {
        return found.clone();
    }
    let in_root = |group: &GroupResources| group.name.is_empty() == (root == Root::Core);
    let groups: Vec<GroupResources> = super::groups(registry).into_iter().filter(in_root).collect();
    let body = Bytes::from(response::serialize_json(&document(registry, &groups, version)));
    let etag = format!("\"{}\"", hex_upper(&Sha512::digest(&body)));
    let mut cache = CACHE.lock();
    if cache.len() >= CACHED_DOCUMENTS {
        cache.remove(0);
    }
    cache.push((generation, root, version, (body.clone(), etag.clone())));
    (body, etag)
}

/// Serves aggregated discovery of `root` for `registry`: ETag (quoted upper-case hex SHA-512 of the body),
/// `Vary: Accept`, `Cache-Control: public`, and 304 when `If-None-Match` carries the same ETag.
pub fn serve_aggregated(registry: &Registry, root: Root, version: AggregatedVersion, headers: &HeaderMap) -> Response {
    let (body, etag) = rendered(registry, root, version);
    let not_modified = headers.get(header::IF_NONE_MATCH).is_some_and(|value| value.as_bytes() == etag.as_bytes());
    let mut response = if not_modified {
        response::bytes(StatusCode::NOT_MODIFIED, version.content_type(), Vec::new())
    } else {
        response::bytes(StatusCode::OK, version.content_type(), body)
    };
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    headers.insert(header::VARY, HeaderValue::from_static("Accept"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public"));
    response
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}
