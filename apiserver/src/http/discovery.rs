//! Discovery built from the registry: legacy `/api`, `/apis[/<g>[/<v>]]` and aggregated v2/v2beta1 with ETags.

mod aggregated;
mod order;

use std::collections::BTreeMap;

use axum::response::Response;
use http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

pub use aggregated::{AggregatedVersion, Root, serve_aggregated};
pub use order::{group_rank, version_cmp};

use super::response::{self, Encoding};
use crate::{
    machinery::{
        ApiError,
        media::{self, Negotiated, Supported, Target},
    },
    registry::{Registry, ResourceInfo},
};

/// The verbs of every served resource.
pub const RESOURCE_VERBS: [&str; 8] =
    ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];
/// The verbs of a `/status` subresource.
pub const STATUS_VERBS: [&str; 3] = ["get", "patch", "update"];

/// The served resources of one group, by version in preference order.
#[derive(Debug, Default)]
pub struct GroupResources {
    /// The group (`""` for core).
    pub name: String,
    /// `(version, resources)`, most preferred version first.
    pub versions: Vec<(String, Vec<ResourceInfo>)>,
}

/// Every served group, in discovery order (core first, then built-in groups by priority, then others by name).
pub fn groups(registry: &Registry) -> Vec<GroupResources> {
    let mut by_group: BTreeMap<String, BTreeMap<String, Vec<ResourceInfo>>> = BTreeMap::new();
    let served = registry.resources().into_iter().map(|resource| resource.info().clone());
    for info in served.chain(registry.reviews().iter().map(|r| r.info.clone())) {
        by_group.entry(info.group.clone()).or_default().entry(info.version.clone()).or_default().push(info);
    }
    let mut groups: Vec<GroupResources> = by_group
        .into_iter()
        .map(|(name, versions)| {
            let mut versions: Vec<(String, Vec<ResourceInfo>)> = versions.into_iter().collect();
            versions.sort_by(|a, b| version_cmp(&a.0, &b.0));
            for (_, resources) in &mut versions {
                resources.sort_by(|a, b| a.plural.cmp(&b.plural));
            }
            GroupResources { name, versions }
        })
        .collect();
    groups.sort_by(|a, b| group_rank(&a.name).cmp(&group_rank(&b.name)).then_with(|| a.name.cmp(&b.name)));
    groups
}

/// Negotiates a discovery request; `root` for `/api` and `/apis` (which also serve aggregated discovery).
fn negotiate_discovery(headers: &HeaderMap, query: &str, root: bool) -> Result<Negotiated, ApiError> {
    let supported = if root { Supported::DISCOVERY_ROOT } else { Supported::JSON };
    media::negotiate(header(headers, http::header::ACCEPT), supported, query)
}

fn encoding(negotiated: &Negotiated, headers: &HeaderMap) -> Encoding {
    Encoding::of(negotiated, header(headers, http::header::USER_AGENT).unwrap_or_default())
}

fn aggregated_version(target: Target) -> Option<AggregatedVersion> {
    match target {
        Target::DiscoveryV2 => Some(AggregatedVersion::V2),
        Target::DiscoveryV2Beta1 => Some(AggregatedVersion::V2beta1),
        _ => None,
    }
}

/// `GET /api`.
pub fn serve_core_root(registry: &Registry, query: &str, headers: &HeaderMap) -> Response {
    let negotiated = match negotiate_discovery(headers, query, true) {
        Ok(negotiated) => negotiated,
        Err(error) => return response::error(&error),
    };
    match aggregated_version(negotiated.target) {
        Some(version) => serve_aggregated(registry, Root::Core, version, headers),
        None => {
            let versions: Vec<String> = groups(registry)
                .into_iter()
                .filter(|g| g.name.is_empty())
                .flat_map(|g| g.versions.into_iter().map(|(v, _)| v))
                .collect();
            let body = json!({
                "kind": "APIVersions",
                "versions": versions,
                "serverAddressByClientCIDRs": server_addresses(headers),
            });
            response::value(StatusCode::OK, encoding(&negotiated, headers), &body)
        }
    }
}

/// `GET /apis`.
pub fn serve_groups_root(registry: &Registry, query: &str, headers: &HeaderMap) -> Response {
    let negotiated = match negotiate_discovery(headers, query, true) {
        Ok(negotiated) => negotiated,
        Err(error) => return response::error(&error),
    };
    match aggregated_version(negotiated.target) {
        Some(version) => serve_aggregated(registry, Root::Named, version, headers),
        None => {
            let groups: Vec<Value> =
                groups(registry).iter().filter(|g| !g.name.is_empty()).map(|g| api_group(g, None)).collect();
            let body = json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups});
            response::value(StatusCode::OK, encoding(&negotiated, headers), &body)
        }
    }
}

/// `GET /apis/<group>`.
pub fn serve_group(registry: &Registry, group: &str, query: &str, headers: &HeaderMap) -> Response {
    let encoding = match negotiate_discovery(headers, query, false) {
        Ok(negotiated) => encoding(&negotiated, headers),
        Err(error) => return response::error(&error),
    };
    match groups(registry).iter().find(|g| g.name == group && !group.is_empty()) {
        Some(found) => {
            let body = api_group(found, Some(("APIGroup", "v1")));
            response::value(StatusCode::OK, encoding, &body)
        }
        None => response::not_found(),
    }
}

/// `GET /api/<version>` (group `""`) or `GET /apis/<group>/<version>`.
pub fn serve_group_version(
    registry: &Registry,
    group: &str,
    version: &str,
    query: &str,
    headers: &HeaderMap,
) -> Response {
    let encoding = match negotiate_discovery(headers, query, false) {
        Ok(negotiated) => encoding(&negotiated, headers),
        Err(error) => return response::error(&error),
    };
    let found = groups(registry)
        .into_iter()
        .find(|g| g.name == group)
        .and_then(|g| g.versions.into_iter().find(|(v, _)| v == version));
    let Some((_, resources)) = found else { return response::not_found() };
    let group_version = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
    let mut list = Vec::new();
    for info in &resources {
        let mut resource = json!({
            "name": info.plural,
            "singularName": info.singular,
            "namespaced": info.namespaced,
            "kind": info.kind,
            "verbs": crate::auth::reviews::verbs(registry, info, &RESOURCE_VERBS),
        });
        if !info.short_names.is_empty() {
            resource["shortNames"] = json!(info.short_names);
        }
        if !info.categories.is_empty() {
            resource["categories"] = json!(info.categories);
        }
        list.push(resource);
        if info.status_subresource {
            list.push(json!({
                "name": format!("{}/status", info.plural),
                "singularName": "",
                "namespaced": info.namespaced,
                "kind": info.kind,
                "verbs": STATUS_VERBS,
            }));
        }
        for connect in registry.connects(info) {
            let kind = &connect.response_kind;
            let mut entry = json!({
                "name": format!("{}/{}", info.plural, connect.subresource),
                "singularName": "",
                "namespaced": info.namespaced,
                "kind": kind.kind,
                "verbs": connect.verbs(),
            });
            if (kind.group.as_str(), kind.version.as_str()) != (group, version) {
                entry["group"] = json!(kind.group);
                entry["version"] = json!(kind.version);
            }
            list.push(entry);
        }
    }
    let body = json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": list});
    response::value(StatusCode::OK, encoding, &body)
}

/// An `APIGroup` (with `kind`/`apiVersion` when `type_meta` is given, as the top-level object of `/apis/<g>`).
fn api_group(group: &GroupResources, type_meta: Option<(&str, &str)>) -> Value {
    let versions: Vec<Value> = group
        .versions
        .iter()
        .map(|(version, _)| json!({"groupVersion": format!("{}/{version}", group.name), "version": version}))
        .collect();
    let mut body = json!({
        "name": group.name,
        "versions": versions,
        "preferredVersion": versions.first().cloned().unwrap_or_else(|| json!({})),
    });
    if let Some((kind, api_version)) = type_meta {
        body["kind"] = json!(kind);
        body["apiVersion"] = json!(api_version);
    }
    body
}

fn server_addresses(headers: &HeaderMap) -> Value {
    match header(headers, http::header::HOST).filter(|h| !h.is_empty()) {
        Some(host) => json!([{"clientCIDR": "0.0.0.0/0", "serverAddress": host}]),
        None => json!([]),
    }
}

fn header(headers: &HeaderMap, name: http::header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

#[cfg(test)]
mod tests;
