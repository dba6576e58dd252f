//! Tests of the built-in kinds through the generic store over the embedded store.

use std::{sync::Arc, time::Duration};

use serde_json::{Value, json};

use super::register_all;
use crate::{
    machinery::{
        fields,
        options::{DeleteOptions, ListOptions, WriteOptions},
    },
    registry::{DeleteOutcome, Registry, RequestContext, ResourceStore},
    storage::{EmbeddedOptions, EmbeddedStore, KeySpace, SharedStore},
};

async fn registry(store: &SharedStore) -> Registry {
    let registry = Registry::new(store.clone(), KeySpace::default());
    register_all(&registry);
    for resource in registry.resources() {
        resource.ready().await;
    }
    registry
}

async fn open(dir: &tempfile::TempDir) -> SharedStore {
    Arc::new(
        EmbeddedStore::open(EmbeddedOptions::new(dir.path())).await.unwrap_or_else(|e| panic!("the store opens: {e}")),
    )
}

fn resource(registry: &Registry, group: &str, plural: &str) -> Arc<ResourceStore> {
    let version = "v1";
    registry.lookup(group, version, plural).unwrap_or_else(|| panic!("{plural} is served"))
}

fn ctx() -> RequestContext {
    RequestContext::for_agent("kubectl/v1.31.0")
}

async fn create(store: &ResourceStore, namespace: Option<&str>, object: Value) -> Result<Value, String> {
    store.create(&ctx(), namespace, object, &WriteOptions::default()).await.map_err(|e| e.message)
}

async fn with_default_namespace(registry: &Registry) {
    let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}});
    let created = create(&resource(registry, "", "namespaces"), None, namespace).await;
    assert!(created.is_ok(), "{created:?}");
}

fn service(name: &str, cluster_ip: Option<&str>) -> Value {
    let mut service = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
                             "spec": {"selector": {"app": name}, "ports": [{"port": 80}]}});
    if let Some(ip) = cluster_ip {
        service["spec"]["clusterIP"] = json!(ip);
    }
    service
}

#[tokio::test]
async fn a_created_deployment_is_stored_with_defaults_and_an_empty_status() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let registry = registry(&open(&dir).await).await;
    with_default_namespace(&registry).await;
    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}},
                 "spec": {"containers": [{"name": "nginx", "image": "nginx:1.25"}]}}},
        "status": {"replicas": 9}});
    let stored = create(&resource(&registry, "apps", "deployments"), Some("default"), deployment).await;
    let stored = stored.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stored["spec"]["replicas"], 1);
    assert_eq!(stored["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"], "IfNotPresent");
    assert_eq!(stored["status"], json!({}));
    assert_eq!(stored["metadata"]["generation"], 1);

    let invalid = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "bad"},
                         "spec": {"template": {"spec": {"containers": [{"name": "nginx", "image": "nginx"}]}}}});
    let error = resource(&registry, "apps", "deployments")
        .create(&ctx(), Some("default"), invalid, &WriteOptions::default())
        .await
        .err();
    assert_eq!(error.as_ref().map(|e| e.code), Some(422));
    assert_eq!(
        error.map(|e| e.message).unwrap_or_default(),
        "Deployment.apps \"bad\" is invalid: spec.selector: Required value"
    );
}

#[tokio::test]
async fn services_keep_unique_cluster_ips_across_restarts() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store = open(&dir).await;
    let first = registry(&store).await;
    with_default_namespace(&first).await;
    let services = resource(&first, "", "services");
    let a = create(&services, Some("default"), service("a", None)).await.unwrap_or_else(|e| panic!("{e}"));
    let b = create(&services, Some("default"), service("b", None)).await.unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(a["spec"]["clusterIP"], b["spec"]["clusterIP"]);
    assert_eq!(a["spec"]["ports"][0], json!({"port": 80, "protocol": "TCP", "targetPort": 80}));
    let taken = a["spec"]["clusterIP"].as_str().unwrap_or_default().to_string();

    let restarted = registry(&store).await;
    let services = resource(&restarted, "", "services");
    let mut result = Err(String::new());
    for _ in 0..100 {
        result = create(&services, Some("default"), service("copy", Some(&taken))).await;
        if result.is_err() {
            break;
        }
        let _ = services.delete(&ctx(), Some("default"), "copy", &DeleteOptions::default()).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        result.err().unwrap_or_default(),
        format!(
            "Service \"copy\" is invalid: spec.clusterIPs: Invalid value: [\"{taken}\"]: failed to allocate IP {taken}: provided IP is already allocated"
        )
    );
}

#[tokio::test]
async fn deleting_a_namespace_leaves_it_terminating() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let registry = registry(&open(&dir).await).await;
    let namespaces = resource(&registry, "", "namespaces");
    let created =
        create(&namespaces, None, json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}}))
            .await;
    let created = created.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(created["status"], json!({"phase": "Active"}));
    assert_eq!(created["spec"]["finalizers"], json!(["kubernetes"]));
    assert_eq!(created["metadata"]["labels"]["kubernetes.io/metadata.name"], "team-a");
    match namespaces.delete(&ctx(), None, "team-a", &DeleteOptions::default()).await {
        Ok(DeleteOutcome::Pending(namespace)) => {
            assert_eq!(namespace["status"]["phase"], "Terminating");
            assert!(namespace["metadata"]["deletionTimestamp"].is_string());
        }
        other => panic!("expected the namespace to stay terminating, got {other:?}"),
    }
}

#[tokio::test]
async fn events_can_be_selected_by_the_object_they_are_about() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let registry = registry(&open(&dir).await).await;
    with_default_namespace(&registry).await;
    let events = resource(&registry, "", "events");
    for (name, involved) in [("e1", "web"), ("e2", "api"), ("e3", "web")] {
        let event = json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": name},
                           "involvedObject": {"kind": "Deployment", "name": involved, "namespace": "default"},
                           "reason": "ScalingReplicaSet", "type": "Normal", "source": {"component": "deployment-controller"}});
        create(&events, Some("default"), event).await.unwrap_or_else(|e| panic!("{e}"));
    }
    let selector =
        fields::Selector::parse("involvedObject.name=web,involvedObject.kind=Deployment,source=deployment-controller");
    let options =
        ListOptions { field_selector: selector.unwrap_or_else(|e| panic!("{}", e.message)), ..ListOptions::default() };
    let list = events.list(Some("default"), &options).await.unwrap_or_else(|e| panic!("{}", e.message));
    let names: Vec<&str> = list.items.iter().filter_map(|e| e["metadata"]["name"].as_str()).collect();
    assert_eq!(names, ["e1", "e3"]);
}
