//! Round-trip tests for `search.karmada.io` ResourceRegistry.

use k8s_openapi::{ListableResource, Resource};

use super::*;
use crate::policy::tests::{documents, round_trip};

#[test]
fn resource_registries_round_trip() {
    let docs = documents(include_str!("testdata/resource-registry.yaml"));
    assert_eq!(docs.len(), 3);
    for doc in &docs {
        match doc["kind"].as_str().unwrap() {
            "ResourceRegistry" => round_trip::<ResourceRegistry>(doc),
            "ResourceRegistryList" => round_trip::<ResourceRegistryList>(doc),
            other => panic!("unexpected kind {other}"),
        }
    }
    let rr: ResourceRegistry = serde_json::from_value(docs[0].clone()).unwrap();
    let conditions = rr.status.unwrap().conditions.unwrap();
    assert_eq!(conditions[0].type_, "Ready");
    let store = rr.spec.backend_store.unwrap().open_search.unwrap();
    assert_eq!(store.secret_ref.name, "opensearch-credentials");
}

#[test]
fn resource_constants() {
    assert_eq!(ResourceRegistry::API_VERSION, "search.karmada.io/v1alpha1");
    assert_eq!(ResourceRegistry::URL_PATH_SEGMENT, "resourceregistries");
    assert_eq!(ResourceRegistry::LIST_KIND, "ResourceRegistryList");
    fn cluster<T: Resource<Scope = k8s_openapi::ClusterResourceScope>>() {}
    cluster::<ResourceRegistry>();
    let json = serde_json::to_value(ResourceRegistry::default()).unwrap();
    assert_eq!(json["kind"], "ResourceRegistry");
    assert!(json.get("status").is_none());
    let text = serde_json::to_string(&schemars::schema_for!(ResourceRegistry)).unwrap();
    assert!(text.contains("backendStore") && text.contains("conditions"));
}
