//! Tests of the CRD kind, custom resource strategies and the CRD controller (the last against the embedded store).

use std::{sync::Arc, time::Duration};

use jiff::Timestamp;
use serde_json::{Value, json};

use super::{CLEANUP_FINALIZER, CustomResourceStrategy};
use crate::{
    machinery::{
        FieldError,
        options::{DeleteOptions, GetOptions, ListOptions, WriteOptions},
    },
    registry::{DeleteOutcome, Registry, RequestContext, ResourceStore, Strategy, builtin},
    storage::{EmbeddedOptions, EmbeddedStore, KeySpace, SharedStore},
};

fn widget_crd() -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "kind": "Widget", "shortNames": ["wd"], "categories": ["all"]},
            "versions": [
                {"name": "v1", "served": true, "storage": true,
                 "subresources": {"status": {}},
                 "selectableFields": [{"jsonPath": ".spec.color"}],
                 "additionalPrinterColumns": [
                    {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
                    {"name": "Ready", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status"},
                    {"name": "Color", "type": "string", "jsonPath": ".spec.color", "priority": 1},
                    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}],
                 "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "properties": {
                        "replicas": {"type": "integer", "default": 1, "minimum": 0},
                        "color": {"type": "string"}}},
                    "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}}},
                {"name": "v1beta1", "served": true, "storage": false,
                 "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}
            ]
        }
    })
}

fn messages(errors: &[FieldError]) -> Vec<String> {
    errors.iter().map(ToString::to_string).collect()
}

fn crd_strategy() -> builtin::BuiltinStrategy {
    builtin::BuiltinStrategy::of("apiextensions.k8s.io", "CustomResourceDefinition")
        .unwrap_or_else(|| panic!("CRDs are a built-in kind"))
}

/// A CRD as the store writes it: defaulted and prepared.
fn created_crd() -> Value {
    let strategy = crd_strategy();
    let mut crd = widget_crd();
    strategy.default(&mut crd);
    strategy.prepare_for_create(&mut crd);
    crd
}

#[test]
fn new_crds_are_established_with_their_names_accepted() {
    let crd = created_crd();
    assert_eq!(crd["spec"]["names"]["singular"], "widget");
    assert_eq!(crd["spec"]["names"]["listKind"], "WidgetList");
    assert_eq!(crd["spec"]["conversion"], json!({"strategy": "None"}));
    let status = &crd["status"];
    assert_eq!(
        status["acceptedNames"],
        json!({"plural": "widgets", "singular": "widget", "shortNames": ["wd"], "kind": "Widget",
               "listKind": "WidgetList", "categories": ["all"]})
    );
    assert_eq!(status["storedVersions"], json!(["v1"]));
    let conditions: Vec<(&str, &str, &str)> = status["conditions"]
        .as_array()
        .map(|c| {
            c.iter()
                .map(|c| {
                    (
                        c["type"].as_str().unwrap_or(""),
                        c["status"].as_str().unwrap_or(""),
                        c["reason"].as_str().unwrap_or(""),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(conditions, [("NamesAccepted", "True", "NoConflicts"), ("Established", "True", "InitialNamesAccepted")]);
    assert!(status["conditions"][1]["lastTransitionTime"].as_str().is_some_and(|t| t.ends_with('Z')));
    assert_eq!(messages(&crd_strategy().validate(&crd)), Vec::<String>::new());
}

#[test]
fn crds_are_validated_with_apiextensions_messages() {
    let strategy = crd_strategy();
    let check = |change: fn(&mut Value)| {
        let mut crd = widget_crd();
        change(&mut crd);
        strategy.default(&mut crd);
        strategy.prepare_for_create(&mut crd);
        messages(&strategy.validate(&crd))
    };
    assert_eq!(
        check(|crd| crd["metadata"]["name"] = json!("gadgets.example.com")),
        ["metadata.name: Invalid value: \"gadgets.example.com\": must be spec.names.plural+\".\"+spec.group"]
    );
    assert_eq!(
        check(|crd| {
            crd["metadata"]["name"] = json!("widgets.example");
            crd["spec"]["group"] = json!("example");
        }),
        ["spec.group: Invalid value: \"example\": should be a domain with at least one dot"]
    );
    assert_eq!(
        check(|crd| crd["spec"]["scope"] = json!("Global")),
        ["spec.scope: Unsupported value: \"Global\": supported values: \"Cluster\", \"Namespaced\""]
    );
    let two_storage = check(|crd| crd["spec"]["versions"][1]["storage"] = json!(true));
    assert_eq!(two_storage.len(), 1);
    assert!(two_storage[0].starts_with("spec.versions: Invalid value: "));
    assert!(two_storage[0].ends_with(": must have exactly one version marked as storage version"));
    assert_eq!(
        check(|crd| crd["spec"]["versions"][1]["schema"] = Value::Null),
        ["spec.versions[1].schema.openAPIV3Schema: Required value"]
    );
    assert_eq!(
        check(|crd| crd["spec"]["versions"][0]["additionalPrinterColumns"][0]["type"] = json!("float")),
        [
            "spec.versions[0].additionalPrinterColumns[0].type: Invalid value: \"float\": must be one of boolean,date,integer,number,string"
        ]
    );
    assert_eq!(
        check(|crd| crd["spec"]["names"]["listKind"] = json!("Widget")),
        ["spec.names.listKind: Invalid value: \"Widget\": kind and listKind may not be the same"]
    );
    let protected = check(|crd| {
        crd["metadata"]["name"] = json!("widgets.x-k8s.io");
        crd["spec"]["group"] = json!("x-k8s.io");
    });
    assert_eq!(protected, Vec::<String>::new(), "x-k8s.io is not a protected group");
    let protected = check(|crd| {
        crd["metadata"]["name"] = json!("widgets.apps.k8s.io");
        crd["spec"]["group"] = json!("apps.k8s.io");
    });
    assert!(protected[0].starts_with("metadata.annotations[api-approved.kubernetes.io]: Required value"));
}

#[test]
fn crd_updates_keep_group_plural_and_stored_versions() {
    let strategy = crd_strategy();
    let old = created_crd();
    let mut renamed = old.clone();
    renamed["spec"]["group"] = json!("example.org");
    renamed["metadata"]["name"] = json!("widgets.example.org");
    strategy.prepare_for_update(&mut renamed, &old);
    assert!(
        messages(&strategy.validate_update(&renamed, &old))
            .contains(&"spec.group: Invalid value: \"example.org\": field is immutable".to_string())
    );

    let mut dropped = old.clone();
    dropped["spec"]["versions"] = json!([dropped["spec"]["versions"][1].clone()]);
    dropped["spec"]["versions"][0]["storage"] = json!(true);
    strategy.prepare_for_update(&mut dropped, &old);
    assert_eq!(dropped["status"]["storedVersions"], json!(["v1", "v1beta1"]));
    let errors = messages(&strategy.validate_update(&dropped, &old));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("status.storedVersions[0]: Invalid value: \"v1\": missing from spec.versions; v1 was")
    );
}

#[test]
fn deleting_a_crd_first_marks_it_for_cleanup() {
    let strategy = crd_strategy();
    let mut crd = created_crd();
    assert!(strategy.prepare_for_delete(&mut crd));
    assert_eq!(crd["metadata"]["finalizers"], json!([CLEANUP_FINALIZER]));
    let terminating =
        crd["status"]["conditions"].as_array().and_then(|c| c.iter().find(|c| c["type"] == "Terminating"));
    assert_eq!(terminating.map(|c| c["reason"].clone()), Some(json!("InstanceDeletionPending")));
    crd["metadata"]["deletionTimestamp"] = json!("2024-05-01T12:00:00Z");
    assert!(!strategy.prepare_for_delete(&mut crd), "later deletes leave it to the finalizer");
}

#[test]
fn custom_resources_are_described_by_their_crd() {
    let crd = created_crd();
    let v1 = CustomResourceStrategy::from_crd(&crd, "v1").unwrap_or_else(|e| panic!("{e}"));
    let info = v1.info();
    assert_eq!((info.group.as_str(), info.version.as_str(), info.kind.as_str()), ("example.com", "v1", "Widget"));
    assert_eq!(
        (info.plural.as_str(), info.singular.as_str(), info.list_kind.as_str()),
        ("widgets", "widget", "WidgetList")
    );
    assert!(info.namespaced && info.status_subresource);
    assert_eq!(info.short_names, ["wd"]);
    assert_eq!(info.categories, ["all"]);
    assert_eq!(info.storage.to_string(), "widgets.example.com");
    assert!(!v1.allow_unconditional_update(), "custom resources need a resourceVersion on PUT");
    assert!(v1.merge_schema().is_none(), "no strategic merge for custom resources");
    assert!(v1.schema().is_some());

    let v1beta1 = CustomResourceStrategy::from_crd(&crd, "v1beta1").unwrap_or_else(|e| panic!("{e}"));
    assert!(!v1beta1.info().status_subresource);
    let columns: Vec<(String, String)> = v1beta1.table_columns().into_iter().map(|c| (c.name, c.type_)).collect();
    assert_eq!(columns, [("Name".to_string(), "string".to_string()), ("Age".to_string(), "date".to_string())]);
    assert!(CustomResourceStrategy::from_crd(&crd, "v2").is_err());
}

#[test]
fn printer_columns_come_from_additional_printer_columns() {
    let strategy = CustomResourceStrategy::from_crd(&created_crd(), "v1").unwrap_or_else(|e| panic!("{e}"));
    let columns = strategy.table_columns();
    let headers: Vec<(&str, i32)> = columns.iter().map(|c| (c.name.as_str(), c.priority)).collect();
    assert_eq!(headers, [("Name", 0), ("Replicas", 0), ("Ready", 0), ("Color", 1), ("Age", 0)]);
    assert_eq!(columns[0].format, "name");
    assert_eq!(columns[1].description, "Custom resource definition column (in JSONPath format): .spec.replicas");
    let now: Timestamp = "2024-05-01T12:00:00Z".parse().unwrap_or(Timestamp::UNIX_EPOCH);
    let widget = json!({"metadata": {"name": "w1", "creationTimestamp": "2024-05-01T11:00:00Z"},
                        "spec": {"replicas": 3, "color": "red"},
                        "status": {"conditions": [{"type": "Synced", "status": "False"}, {"type": "Ready", "status": "True"}]}});
    assert_eq!(
        strategy.table_cells_at(&widget, now),
        [json!("w1"), json!(3), json!("True"), json!("red"), json!("60m")]
    );
    let bare = json!({"metadata": {"name": "w2", "creationTimestamp": "yesterday"}, "spec": {"replicas": "many"}});
    assert_eq!(
        strategy.table_cells_at(&bare, now),
        [json!("w2"), Value::Null, Value::Null, Value::Null, json!("<invalid>")]
    );
}

#[test]
fn selectable_fields_defaults_and_schema_validation_apply_to_custom_resources() {
    let strategy = CustomResourceStrategy::from_crd(&created_crd(), "v1").unwrap_or_else(|e| panic!("{e}"));
    let widget = json!({"spec": {"color": "blue"}});
    assert_eq!(strategy.field_value(&widget, "spec.color").as_deref(), Some("blue"));
    assert_eq!(strategy.field_value(&json!({}), "spec.color").as_deref(), Some(""));
    assert_eq!(strategy.field_value(&widget, "spec.replicas"), None);

    let mut defaulted =
        json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {}});
    strategy.default(&mut defaulted);
    assert_eq!(defaulted["spec"]["replicas"], 1);
    let invalid =
        json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"replicas": -2}});
    let errors = messages(&strategy.validate(&invalid));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("spec.replicas: Invalid value: -2"), "{errors:?}");
}

/// A registry serving the built-in kinds over a fresh embedded store, with the `default` namespace.
struct Harness {
    registry: Registry,
    _dir: tempfile::TempDir,
}

async fn harness() -> Harness {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("a temporary directory: {e}"));
    let store: SharedStore = Arc::new(
        EmbeddedStore::open(EmbeddedOptions::new(dir.path())).await.unwrap_or_else(|e| panic!("the store opens: {e}")),
    );
    let registry = Registry::new(store, KeySpace::default());
    builtin::register_all(&registry);
    for resource in registry.resources() {
        resource.ready().await;
    }
    let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}});
    create(&resource(&registry, "", "v1", "namespaces"), None, namespace).await;
    Harness { registry, _dir: dir }
}

fn resource(registry: &Registry, group: &str, version: &str, plural: &str) -> Arc<ResourceStore> {
    registry.lookup(group, version, plural).unwrap_or_else(|| panic!("{plural} is served"))
}

fn ctx() -> RequestContext {
    RequestContext::for_agent("kubectl/v1.31.0")
}

async fn create(store: &ResourceStore, namespace: Option<&str>, object: Value) -> Value {
    store
        .create(&ctx(), namespace, object, &WriteOptions::default())
        .await
        .unwrap_or_else(|e| panic!("create failed: {}", e.message))
}

/// Polls `check` every 20 ms until it holds or `within` passes; returns whether it held.
async fn eventually(within: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < deadline {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    check()
}

#[tokio::test]
async fn creating_a_crd_serves_its_resource_within_a_second_and_deleting_it_removes_everything() {
    let h = harness().await;
    let controller = super::start(&h.registry);
    let crds = resource(&h.registry, "apiextensions.k8s.io", "v1", "customresourcedefinitions");
    let created = create(&crds, None, widget_crd()).await;
    assert_eq!(created["status"]["acceptedNames"]["kind"], "Widget");

    let served = eventually(Duration::from_secs(1), || {
        h.registry.lookup("example.com", "v1", "widgets").is_some()
            && h.registry.lookup("example.com", "v1beta1", "widgets").is_some()
    })
    .await;
    assert!(served, "both served versions are served within a second");
    let widgets = resource(&h.registry, "example.com", "v1", "widgets");
    widgets.ready().await;
    let widget =
        json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w1"}, "spec": {"color": "red"}});
    let widget = create(&widgets, Some("default"), widget).await;
    assert_eq!(widget["spec"]["replicas"], 1, "schema defaults apply");
    let mut unconditional = widget.clone();
    unconditional["metadata"]["resourceVersion"] = Value::Null;
    let error = widgets.update(&ctx(), Some("default"), "w1", unconditional, None, &WriteOptions::default()).await;
    assert_eq!(error.map(|_| ()).map_err(|e| e.code), Err(422), "custom resources need a resourceVersion on PUT");

    let deleted = crds.delete(&ctx(), None, "widgets.example.com", &DeleteOptions::default()).await;
    assert!(matches!(deleted, Ok(DeleteOutcome::Pending(_))), "the CRD waits for its cleanup finalizer");
    let gone =
        eventually(Duration::from_secs(10), || h.registry.lookup("example.com", "v1", "widgets").is_none()).await;
    assert!(gone, "the resource is no longer served once the CRD is gone");
    let crd = crds.get(None, "widgets.example.com", &GetOptions::default()).await;
    assert_eq!(crd.map(|_| ()).map_err(|e| e.code), Err(404));
    let remaining = widgets.list(None, &ListOptions::default()).await.map(|list| list.items.len());
    assert_eq!(remaining.ok(), Some(0), "the custom resources were deleted first");
    controller.abort();
}

#[tokio::test]
async fn changing_a_crd_reserves_it_with_the_new_columns() {
    let h = harness().await;
    let controller = super::start(&h.registry);
    let crds = resource(&h.registry, "apiextensions.k8s.io", "v1", "customresourcedefinitions");
    let created = create(&crds, None, widget_crd()).await;
    assert!(eventually(Duration::from_secs(1), || h.registry.lookup("example.com", "v1", "widgets").is_some()).await);

    let mut changed = created.clone();
    changed["spec"]["versions"][0]["additionalPrinterColumns"] =
        json!([{"name": "Color", "type": "string", "jsonPath": ".spec.color"}]);
    changed["spec"]["versions"][1]["served"] = json!(false);
    crds.update(&ctx(), None, "widgets.example.com", changed, None, &WriteOptions::default())
        .await
        .unwrap_or_else(|e| panic!("update failed: {}", e.message));
    let reserved = eventually(Duration::from_secs(1), || {
        let columns = h.registry.lookup("example.com", "v1", "widgets").map(|r| r.strategy().table_columns().len());
        columns == Some(2) && h.registry.lookup("example.com", "v1beta1", "widgets").is_none()
    })
    .await;
    assert!(reserved, "the new printer columns are served and the unserved version is gone");
    controller.abort();
}

#[test]
fn malformed_crds_and_custom_resources_never_panic() {
    let mut odd = widget_crd();
    odd["spec"]["versions"][0]["additionalPrinterColumns"] =
        json!([{"name": 1, "type": [], "jsonPath": "{.spec[}"}, 7]);
    odd["spec"]["versions"][0]["selectableFields"] = json!([{"jsonPath": 5}, "x"]);
    odd["spec"]["versions"][0]["schema"] = json!({"openAPIV3Schema": "not an object"});
    assert!(CustomResourceStrategy::from_crd(&odd, "v1").is_err(), "a non-object schema cannot be served");
    odd["spec"]["versions"][0]["schema"] = Value::Null;
    let strategy = CustomResourceStrategy::from_crd(&odd, "v1").unwrap_or_else(|e| panic!("{e}"));
    for object in [json!(null), json!([1]), json!({"spec": {"color": [1, 2]}, "metadata": {"creationTimestamp": 5}})] {
        let mut object = object;
        strategy.default(&mut object);
        let _ = strategy.validate(&object);
        let _ = strategy.table_cells(&object);
        let _ = strategy.field_value(&object, "spec.color");
    }
    let crds = crd_strategy();
    for shape in [json!(null), json!({"spec": []}), json!({"spec": {"names": 1, "versions": {}, "conversion": 2}})] {
        let mut object = shape.clone();
        crds.default(&mut object);
        crds.prepare_for_create(&mut object);
        let _ = crds.validate(&object);
        crds.prepare_for_update(&mut object, &shape);
        let _ = crds.validate_update(&object, &shape);
        let _ = crds.prepare_for_delete(&mut object);
    }
}
