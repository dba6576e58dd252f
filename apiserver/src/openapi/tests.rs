//! OpenAPI documents (v3 per group-version, Swagger 2.0) as `kubectl explain`, `kubectl apply` and `--validate` read them.

use std::sync::{Arc, OnceLock};

use k8s_openapi::api::{apps::v1::Deployment, core::v1::Namespace};
use serde_json::{Value, json};

use super::*;
use crate::{
    patch::MergeSchema,
    registry::{ResourceInfo, Strategy},
    schema::KindSchema,
    storage::{EmbeddedOptions, EmbeddedStore, KeySpace, SharedStore},
};

struct Kind {
    info: ResourceInfo,
    schema: Option<Arc<KindSchema>>,
    strategic: bool,
}

impl Strategy for Kind {
    fn info(&self) -> &ResourceInfo {
        &self.info
    }

    fn kind_schema(&self) -> Option<Arc<KindSchema>> {
        self.schema.clone()
    }

    fn merge_schema(&self) -> Option<&MergeSchema> {
        static MERGE: OnceLock<MergeSchema> = OnceLock::new();
        self.strategic.then(|| MERGE.get_or_init(MergeSchema::default))
    }
}

fn widget_schema() -> Arc<KindSchema> {
    let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "description": "What the widget is.",
        "properties": {"size": {"type": "integer", "description": "How big."}}}}});
    Arc::new(KindSchema::from_crd("example.com", "v1", "Widget", &schema).unwrap_or_else(|e| panic!("{e}")))
}

async fn registry() -> (tempfile::TempDir, Registry) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store = EmbeddedStore::open(EmbeddedOptions::new(dir.path())).await.unwrap_or_else(|e| panic!("{e}"));
    let store: SharedStore = Arc::new(store);
    let registry = Registry::new(store, KeySpace::default());
    registry.register(Arc::new(Kind {
        info: ResourceInfo::new("", "v1", "Namespace", "namespaces", false).with_status(),
        schema: Some(KindSchema::builtin::<Namespace>()),
        strategic: true,
    }));
    registry.register(Arc::new(Kind {
        info: ResourceInfo::new("apps", "v1", "Deployment", "deployments", true).with_status(),
        schema: Some(KindSchema::builtin::<Deployment>()),
        strategic: true,
    }));
    registry.register(Arc::new(Kind {
        info: ResourceInfo::new("example.com", "v1", "Widget", "widgets", true),
        schema: Some(widget_schema()),
        strategic: false,
    }));
    (dir, registry)
}

fn document(registry: &Registry, group: &str, version: &str) -> Value {
    group_version(registry, group, version).map(|(doc, _)| doc).unwrap_or_else(|| panic!("no {group}/{version}"))
}

#[tokio::test]
async fn the_root_lists_every_group_version_with_a_hashed_url() {
    let (_dir, registry) = registry().await;
    let root = root(&registry);
    let (json, root_hash) = root_json(&registry);
    assert_eq!(serde_json::from_slice::<Value>(&json).ok(), Some(root.clone()));
    assert_eq!(root_hash.len(), 128);
    let paths = root["paths"].as_object().cloned().unwrap_or_default();
    assert_eq!(paths.keys().collect::<Vec<_>>(), vec!["api/v1", "apis/apps/v1", "apis/example.com/v1"]);
    let (_, hash) = group_version(&registry, "apps", "v1").unwrap_or_default();
    assert_eq!(hash.len(), 128);
    assert!(hash.chars().all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()));
    assert_eq!(paths["apis/apps/v1"]["serverRelativeURL"], format!("/openapi/v3/apis/apps/v1?hash={hash}"));
    assert!(group_version(&registry, "apps", "v2").is_none());
}

#[tokio::test]
async fn documents_and_hashes_follow_the_served_resources() {
    let (_dir, registry) = registry().await;
    let before = root(&registry);
    let (bytes, hash) = group_version_json(&registry, "example.com", "v1").unwrap_or_default();
    assert_eq!(serde_json::from_slice::<Value>(&bytes).ok(), Some(document(&registry, "example.com", "v1")));
    assert_eq!(root(&registry), before);
    registry.register(Arc::new(Kind {
        info: ResourceInfo::new("example.com", "v1", "Gadget", "gadgets", false),
        schema: None,
        strategic: false,
    }));
    let (_, changed) = group_version(&registry, "example.com", "v1").unwrap_or_default();
    assert_ne!(hash, changed);
    assert!(document(&registry, "example.com", "v1")["paths"]["/apis/example.com/v1/gadgets/{name}"].is_object());
    registry.unregister("example.com", "v1", "gadgets");
    registry.unregister("example.com", "v1", "widgets");
    assert!(root(&registry)["paths"].get("apis/example.com/v1").is_none());
    assert!(group_version(&registry, "example.com", "v1").is_none());
}

/// What kubectl explain's template does: find the GVK on an operation of the resource's paths, then the
/// component schema carrying that GVK.
fn explain_schema<'a>(document: &'a Value, path: &str, kind: &str) -> &'a Value {
    let gvk = document["paths"][path]["get"]["x-kubernetes-group-version-kind"].clone();
    assert_eq!(gvk["kind"], kind);
    let schemas = document["components"]["schemas"].as_object().unwrap_or_else(|| panic!("no schemas"));
    schemas
        .values()
        .find(|s| s["x-kubernetes-group-version-kind"].as_array().is_some_and(|all| all.contains(&gvk)))
        .unwrap_or_else(|| panic!("no schema with {gvk}"))
}

fn resolve<'a>(document: &'a Value, schema: &'a Value) -> &'a Value {
    let reference = schema["$ref"].as_str().or_else(|| schema["allOf"][0]["$ref"].as_str());
    match reference.and_then(|r| r.strip_prefix("#/components/schemas/")) {
        Some(name) => &document["components"]["schemas"][name],
        None => schema,
    }
}

#[tokio::test]
async fn kubectl_explain_finds_deployment_spec_replicas() {
    let (_dir, registry) = registry().await;
    let document = document(&registry, "apps", "v1");
    let deployment = explain_schema(&document, "/apis/apps/v1/namespaces/{namespace}/deployments", "Deployment");
    let spec = resolve(&document, &deployment["properties"]["spec"]);
    assert_eq!(spec["properties"]["replicas"]["type"], "integer");
    assert!(spec["properties"]["replicas"]["description"].as_str().is_some_and(|d| d.contains("desired pods")));
    let max_surge = &resolve(
        &document,
        &resolve(&document, &spec["properties"]["strategy"])["properties"]["rollingUpdate"],
    )["properties"]["maxSurge"];
    assert_eq!(max_surge["allOf"][0]["$ref"], "#/components/schemas/io.k8s.apimachinery.pkg.util.intstr.IntOrString");
}

#[tokio::test]
async fn kubectl_explain_finds_a_custom_resources_spec() {
    let (_dir, registry) = registry().await;
    let document = document(&registry, "example.com", "v1");
    let widget = explain_schema(&document, "/apis/example.com/v1/namespaces/{namespace}/widgets", "Widget");
    assert_eq!(widget["properties"]["spec"]["properties"]["size"]["description"], "How big.");
    let meta = resolve(&document, &widget["properties"]["metadata"]);
    assert!(meta["properties"]["name"].is_object());
}

fn patch_operation<'a>(document: &'a Value, path: &str) -> &'a Value {
    &document["paths"][path]["patch"]
}

#[tokio::test]
async fn strategic_merge_patch_is_advertised_only_where_it_is_implemented() {
    let (_dir, registry) = registry().await;
    let apps = document(&registry, "apps", "v1");
    let deployment = patch_operation(&apps, "/apis/apps/v1/namespaces/{namespace}/deployments/{name}");
    assert!(deployment["requestBody"]["content"]["application/strategic-merge-patch+json"].is_object());
    let custom = document(&registry, "example.com", "v1");
    let widget = patch_operation(&custom, "/apis/example.com/v1/namespaces/{namespace}/widgets/{name}");
    let types = widget["requestBody"]["content"].as_object().map(|c| c.keys().cloned().collect::<Vec<_>>());
    assert_eq!(
        types,
        Some(vec![
            "application/apply-patch+yaml".to_string(),
            "application/json-patch+json".to_string(),
            "application/merge-patch+json".to_string()
        ])
    );
}

#[tokio::test]
async fn every_patch_operation_declares_field_validation_for_validate_strict() {
    let (_dir, registry) = registry().await;
    for (group, version) in [("", "v1"), ("apps", "v1"), ("example.com", "v1")] {
        let document = document(&registry, group, version);
        let paths = document["paths"].as_object().cloned().unwrap_or_default();
        let patches: Vec<&Value> = paths.values().filter_map(|p| p.get("patch")).collect();
        assert!(!patches.is_empty());
        for patch in patches {
            let names: Vec<&str> =
                patch["parameters"].as_array().into_iter().flatten().filter_map(|p| p["name"].as_str()).collect();
            for wanted in ["fieldValidation", "dryRun", "fieldManager", "force"] {
                assert!(names.contains(&wanted), "{wanted} missing in {}", patch["operationId"]);
            }
            assert_eq!(patch["x-kubernetes-action"], "patch");
            assert!(patch["x-kubernetes-group-version-kind"].is_object());
        }
    }
}

#[tokio::test]
async fn operations_name_their_action_and_are_named_like_kube_apiservers() {
    let (_dir, registry) = registry().await;
    let apps = document(&registry, "apps", "v1");
    let collection = &apps["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments"];
    assert_eq!(collection["get"]["operationId"], "listAppsV1NamespacedDeployment");
    assert_eq!(collection["post"]["operationId"], "createAppsV1NamespacedDeployment");
    assert_eq!(collection["post"]["x-kubernetes-action"], "post");
    assert_eq!(collection["delete"]["x-kubernetes-action"], "deletecollection");
    let status = &apps["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/status"];
    assert_eq!(status["put"]["operationId"], "replaceAppsV1NamespacedDeploymentStatus");
    assert_eq!(
        apps["paths"]["/apis/apps/v1/deployments"]["get"]["operationId"],
        "listAppsV1DeploymentForAllNamespaces"
    );
    let core = document(&registry, "", "v1");
    assert_eq!(core["paths"]["/api/v1/namespaces/{name}"]["get"]["operationId"], "readCoreV1Namespace");
    let list = &apps["components"]["schemas"]["io.k8s.api.apps.v1.DeploymentList"];
    assert_eq!(list["x-kubernetes-group-version-kind"][0]["kind"], "DeploymentList");
    assert_eq!(core["openapi"], "3.0.0");
}

/// The fields of one protobuf message, numbered, in order (length-delimited values only, as bytes).
fn fields(message: &[u8]) -> Vec<(u32, Vec<u8>)> {
    let mut reader = crate::protobuf::wire::Reader::new(message);
    let mut out = Vec::new();
    while let Some((number, value)) = reader.next_field().unwrap_or_else(|e| panic!("{e}")) {
        if let crate::protobuf::wire::Value::Len(bytes) = value {
            out.push((number, bytes.to_vec()));
        }
    }
    out
}

#[tokio::test]
async fn swagger_2_carries_every_definition_and_operation_with_2_0_references() {
    let (_dir, registry) = registry().await;
    let swagger = swagger(&registry);
    let text = String::from_utf8(swagger.json.to_vec()).unwrap_or_default();
    assert!(!text.contains("#/components/"), "every reference points into definitions");
    let document: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(document["swagger"], "2.0");

    let deployment = &document["definitions"]["io.k8s.api.apps.v1.Deployment"];
    assert_eq!(
        deployment["x-kubernetes-group-version-kind"],
        json!([{"group": "apps", "version": "v1", "kind": "Deployment"}])
    );
    let metadata = &deployment["properties"]["metadata"];
    assert_eq!(metadata["$ref"], "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "{metadata}");
    assert!(metadata.get("allOf").is_none(), "a lone allOf reference is folded into $ref: {metadata}");
    let required = deployment["required"].as_array().cloned().unwrap_or_default();
    assert!(!required.contains(&json!("metadata")), "metadata is optional, as Kubernetes publishes it: {required:?}");

    let patch = &document["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
    assert_eq!(patch["x-kubernetes-group-version-kind"]["kind"], "Deployment");
    let parameters = patch["parameters"].as_array().cloned().unwrap_or_default();
    assert!(
        parameters.iter().any(|p| p["name"] == "fieldValidation" && p["in"] == "query" && p["type"] == "string"),
        "kubectl looks for fieldValidation on PATCH: {parameters:?}"
    );
    let body = parameters.iter().find(|p| p["in"] == "body").unwrap_or_else(|| panic!("no body: {parameters:?}"));
    assert_eq!(body["schema"]["$ref"], "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Patch");
    assert!(patch["consumes"].as_array().is_some_and(|c| c.contains(&json!("application/apply-patch+yaml"))));
    assert_eq!(patch["responses"]["200"]["schema"]["$ref"], "#/definitions/io.k8s.api.apps.v1.Deployment");

    // The protobuf says the same: `swagger` (1), one `definitions` (9) entry per definition, one `paths` (8) entry
    // per path, each definition's name first.
    let document_fields = fields(&swagger.protobuf);
    assert!(document_fields.contains(&(1, b"2.0".to_vec())));
    let definitions = document_fields.iter().find(|(n, _)| *n == 9).map(|(_, b)| fields(b)).unwrap_or_default();
    assert_eq!(definitions.len(), document["definitions"].as_object().map_or(0, |d| d.len()));
    let names: Vec<String> = definitions
        .iter()
        .map(|(_, entry)| String::from_utf8(fields(entry)[0].1.clone()).unwrap_or_default())
        .collect();
    assert!(names.contains(&"io.k8s.api.apps.v1.Deployment".to_string()), "{names:?}");
    let paths = document_fields.iter().find(|(n, _)| *n == 8).map(|(_, b)| fields(b)).unwrap_or_default();
    assert_eq!(paths.iter().filter(|(n, _)| *n == 2).count(), document["paths"].as_object().map_or(0, |p| p.len()));
}
