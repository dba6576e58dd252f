//! Discovery documents and negotiation as kubectl, client-go, kube-rs and kube-aggregator request them.

use std::sync::Arc;

use http::{HeaderMap, HeaderValue, header};
use serde_json::{Value, json};

use super::*;
use crate::{
    registry::Strategy,
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
    for info in [
        ResourceInfo::new("", "v1", "Namespace", "namespaces", false).short_names(&["ns"]).with_status(),
        ResourceInfo::new("", "v1", "ConfigMap", "configmaps", true).short_names(&["cm"]),
        ResourceInfo::new("apps", "v1", "Deployment", "deployments", true)
            .short_names(&["deploy"])
            .categories(&["all"])
            .with_status(),
        ResourceInfo::new("cluster.karmada.io", "v1alpha1", "Cluster", "clusters", false).with_status(),
        ResourceInfo::new("cluster.karmada.io", "v1", "Cluster", "clusters", false),
    ] {
        registry.register(Arc::new(Plain(info)));
    }
    (dir, registry)
}

fn accept(value: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(header::ACCEPT, HeaderValue::from_str(value).unwrap());
    headers
}

async fn body(response: Response) -> (StatusCode, HeaderMap, Value) {
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    let value = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap() };
    (status, headers, value)
}

const CLIENT_GO_0_32: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
const CLIENT_GO_0_28: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";

#[tokio::test]
async fn client_go_gets_aggregated_v2_with_the_exact_content_type_and_an_etag() {
    let (_dir, registry) = registry().await;
    let (status, headers, doc) = body(serve_groups_root(&registry, "", &accept(CLIENT_GO_0_32))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList");
    assert_eq!(headers[header::VARY], "Accept");
    let etag = headers[header::ETAG].to_str().unwrap().to_string();
    assert!(etag.starts_with('"') && etag.ends_with('"') && etag.len() == 130, "{etag}");
    assert_eq!(doc["kind"], "APIGroupDiscoveryList");
    assert_eq!(doc["apiVersion"], "apidiscovery.k8s.io/v2");
    let names: Vec<&str> =
        doc["items"].as_array().unwrap().iter().map(|g| g["metadata"]["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["apps", "cluster.karmada.io"]);
    let deployments = &doc["items"][0]["versions"][0]["resources"][0];
    assert_eq!(
        deployments,
        &json!({"resource": "deployments", "responseKind": {"group": "apps", "version": "v1", "kind": "Deployment"},
                "scope": "Namespaced", "singularResource": "deployment",
                "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
                "shortNames": ["deploy"], "categories": ["all"],
                "subresources": [{"subresource": "status", "responseKind": {"group": "apps", "version": "v1", "kind": "Deployment"},
                                  "verbs": ["get", "patch", "update"]},
                                 {"subresource": "scale", "responseKind": {"group": "autoscaling", "version": "v1", "kind": "Scale"},
                                  "verbs": ["get", "patch", "update"]}]})
    );
    let versions: Vec<&str> =
        doc["items"][1]["versions"].as_array().unwrap().iter().map(|v| v["version"].as_str().unwrap()).collect();
    assert_eq!(versions, vec!["v1", "v1alpha1"], "preferred version first");

    let mut again = accept(CLIENT_GO_0_32);
    again.insert(header::IF_NONE_MATCH, HeaderValue::from_str(&etag).unwrap());
    let (status, headers, _) = body(serve_groups_root(&registry, "", &again)).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert_eq!(headers[header::ETAG].to_str().unwrap(), etag);
}

#[tokio::test]
async fn old_clients_get_v2beta1_and_plain_json_gets_the_legacy_group_list() {
    let (_dir, registry) = registry().await;
    let (_, headers, doc) = body(serve_groups_root(&registry, "", &accept(CLIENT_GO_0_28))).await;
    assert_eq!(
        headers[header::CONTENT_TYPE],
        "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
    );
    assert_eq!(doc["apiVersion"], "apidiscovery.k8s.io/v2beta1");
    let (status, headers, doc) = body(serve_groups_root(&registry, "", &accept("application/json"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    assert_eq!(doc["kind"], "APIGroupList");
    assert_eq!(doc["groups"][1]["preferredVersion"], json!({"groupVersion": "cluster.karmada.io/v1", "version": "v1"}));
}

#[tokio::test]
async fn only_an_unservable_accept_header_is_406() {
    let (_dir, registry) = registry().await;
    let only_v3 = "application/json;g=apidiscovery.k8s.io;v=v3;as=APIGroupDiscoveryList";
    let (status, _, doc) = body(serve_groups_root(&registry, "", &accept(only_v3))).await;
    assert_eq!(status, StatusCode::NOT_ACCEPTABLE);
    assert_eq!(doc["reason"], "NotAcceptable");
    let (status, _, _) = body(serve_groups_root(&registry, "", &accept(&format!("{only_v3},*/*")))).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn the_core_group_is_served_on_api_in_both_forms() {
    let (_dir, registry) = registry().await;
    let mut headers = HeaderMap::new();
    headers.insert(header::HOST, HeaderValue::from_static("127.0.0.1:6443"));
    let (_, _, doc) = body(serve_core_root(&registry, "", &headers)).await;
    assert_eq!(doc["kind"], "APIVersions");
    assert_eq!(doc["versions"], json!(["v1"]));
    assert_eq!(doc["serverAddressByClientCIDRs"][0]["serverAddress"], "127.0.0.1:6443");
    let (_, headers, doc) = body(serve_core_root(&registry, "", &accept(CLIENT_GO_0_32))).await;
    assert_eq!(headers[header::CONTENT_TYPE], "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList");
    assert_eq!(doc["items"].as_array().unwrap().len(), 1);
    let resources = &doc["items"][0]["versions"][0]["resources"];
    assert_eq!(resources[0]["resource"], "configmaps");
    assert_eq!(resources[1]["scope"], "Cluster");
}

#[tokio::test]
async fn legacy_group_version_lists_resources_and_their_status_subresources() {
    let (_dir, registry) = registry().await;
    let (status, _, doc) = body(serve_group_version(&registry, "", "v1", "", &HeaderMap::new())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["groupVersion"], "v1");
    let names: Vec<&str> = doc["resources"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["configmaps", "namespaces", "namespaces/status"]);
    assert_eq!(doc["resources"][0]["shortNames"], json!(["cm"]));
    assert_eq!(doc["resources"][2]["verbs"], json!(["get", "patch", "update"]));
    let (_, _, group) = body(serve_group(&registry, "apps", "", &HeaderMap::new())).await;
    assert_eq!(group["kind"], "APIGroup");
    assert_eq!(group["preferredVersion"]["groupVersion"], "apps/v1");
    assert_eq!(body(serve_group(&registry, "nope", "", &HeaderMap::new())).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        body(serve_group_version(&registry, "apps", "v9", "", &HeaderMap::new())).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_newly_served_resource_appears_with_a_new_etag() {
    let (_dir, registry) = registry().await;
    let (_, before, _) = body(serve_groups_root(&registry, "", &accept(CLIENT_GO_0_32))).await;
    registry.register(Arc::new(Plain(ResourceInfo::new("example.com", "v1", "Widget", "widgets", true))));
    let (_, after, doc) = body(serve_groups_root(&registry, "", &accept(CLIENT_GO_0_32))).await;
    assert_ne!(before[header::ETAG], after[header::ETAG]);
    let names: Vec<&str> =
        doc["items"].as_array().unwrap().iter().map(|g| g["metadata"]["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"example.com"), "{names:?}");
}
