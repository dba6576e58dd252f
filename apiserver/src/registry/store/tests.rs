//! Tests of the generic store against the real embedded store: create, get, list, update and delete semantics.

mod patches;
mod watch;
mod writes;

use serde_json::{Value, json};

use super::testing::{Harness, configmap, configmaps, create, ctx, namespaces, widgets};
use crate::machinery::{
    fields, labels,
    options::{DeleteOptions, GetOptions, ListOptions, ResourceVersionMatch, WriteOptions},
};

pub(super) fn rv(object: &Value) -> i64 {
    object["metadata"]["resourceVersion"].as_str().and_then(|rv| rv.parse().ok()).unwrap_or(0)
}

pub(super) fn names(list: &super::ObjectList) -> Vec<String> {
    list.items.iter().map(|item| item["metadata"]["name"].as_str().unwrap_or_default().to_string()).collect()
}

pub(super) fn label_selector(text: &str) -> labels::Selector {
    labels::Selector::parse(text).expect("a valid label selector")
}

pub(super) fn field_selector(text: &str) -> fields::Selector {
    fields::Selector::parse(text).expect("a valid field selector")
}

#[tokio::test]
async fn creating_fills_uid_timestamp_generation_and_resource_version() {
    let h = Harness::new(vec![configmaps()]).await;
    let cms = h.resource("configmaps");
    let created = create(&cms, Some("default"), json!({"metadata": {"name": "a"}, "data": {"x": "1"}})).await;
    assert_eq!(created["apiVersion"], "v1");
    assert_eq!(created["kind"], "ConfigMap");
    assert_eq!(created["metadata"]["namespace"], "default");
    assert_eq!(created["metadata"]["generation"], 1);
    assert_eq!(created["metadata"]["uid"].as_str().map(str::len), Some(36));
    assert!(created["metadata"]["creationTimestamp"].as_str().is_some_and(|t| t.ends_with('Z')));
    assert!(rv(&created) > 0);
    let stored = h.store.get("/registry/core/configmaps/default/a").await.unwrap().unwrap();
    let stored: Value = serde_json::from_slice(&stored.value).unwrap();
    assert!(stored["metadata"].get("resourceVersion").is_none(), "the stored object carries no resourceVersion");
    let fetched = cms.get(Some("default"), "a", &GetOptions::default()).await.unwrap();
    assert_eq!(fetched, created);
}

#[tokio::test]
async fn system_fields_sent_by_the_client_are_replaced() {
    let h = Harness::new(vec![configmaps()]).await;
    let cms = h.resource("configmaps");
    let body =
        json!({"metadata": {"name": "a", "uid": "mine", "creationTimestamp": "2000-01-01T00:00:00Z", "generation": 9}});
    let created = create(&cms, Some("default"), body).await;
    assert_ne!(created["metadata"]["uid"], "mine");
    assert_ne!(created["metadata"]["creationTimestamp"], "2000-01-01T00:00:00Z");
    assert_eq!(created["metadata"]["generation"], 1);
}

#[tokio::test]
async fn creating_another_kind_or_api_version_is_a_bad_request() {
    let h = Harness::new(vec![configmaps()]).await;
    let cms = h.resource("configmaps");
    let wrong_version = json!({"apiVersion": "apps/v1", "kind": "ConfigMap", "metadata": {"name": "a"}});
    let error = cms.create(&ctx(), Some("default"), wrong_version, &WriteOptions::default()).await.unwrap_err();
    assert_eq!(error.code, 400);
    assert_eq!(error.message, "the API version in the data (apps/v1) does not match the expected API version (v1)");
    let wrong_kind = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "a"}});
    let error = cms.create(&ctx(), Some("default"), wrong_kind, &WriteOptions::default()).await.unwrap_err();
    assert_eq!(error.code, 400);
    assert!(
        error.message.starts_with("Secret in version \"v1\" cannot be handled as a ConfigMap"),
        "{}",
        error.message
    );
    let error = cms.create(&ctx(), Some("default"), json!([1, 2]), &WriteOptions::default()).await.unwrap_err();
    assert_eq!(error.code, 400);
    let bad_labels = json!({"metadata": {"name": "a", "labels": {"x": 1}}});
    let error = cms.create(&ctx(), Some("default"), bad_labels, &WriteOptions::default()).await.unwrap_err();
    assert_eq!(error.code, 400);
    assert!(cms.list(None, &ListOptions::default()).await.unwrap().items.is_empty(), "nothing was stored");
}

#[tokio::test]
async fn the_namespace_in_the_body_must_match_the_path() {
    let h = Harness::new(vec![configmaps(), super::testing::clusters()]).await;
    let cms = h.resource("configmaps");
    let error = cms.create(&ctx(), Some("a"), configmap("b", "x", json!({})), &WriteOptions::default()).await;
    let error = error.unwrap_err();
    assert_eq!(error.code, 400);
    assert_eq!(error.message, "the namespace of the provided object does not match the namespace sent on the request");
    let cluster = create(&h.resource("clusters"), None, json!({"metadata": {"name": "m1", "namespace": "x"}})).await;
    assert!(cluster["metadata"].get("namespace").is_none(), "cluster-scoped objects have no namespace");
}

#[tokio::test]
async fn generate_name_picks_a_fresh_name_each_time() {
    let h = Harness::new(vec![configmaps()]).await;
    let cms = h.resource("configmaps");
    let body = json!({"metadata": {"generateName": "web-"}});
    let first = create(&cms, Some("default"), body.clone()).await;
    let second = create(&cms, Some("default"), body).await;
    let name = first["metadata"]["name"].as_str().unwrap_or_default();
    assert!(name.starts_with("web-") && name.len() == 9, "{name}");
    assert_ne!(first["metadata"]["name"], second["metadata"]["name"]);
}

#[tokio::test]
async fn creating_an_existing_name_conflicts() {
    let h = Harness::new(vec![configmaps()]).await;
    let cms = h.resource("configmaps");
    create(&cms, Some("default"), configmap("default", "a", json!({}))).await;
    let error = cms
        .create(&ctx(), Some("default"), configmap("default", "a", json!({})), &WriteOptions::default())
        .await
        .unwrap_err();
    assert_eq!((error.code, error.reason.as_str()), (409, "AlreadyExists"));
    assert_eq!(error.message, "configmaps \"a\" already exists");
}

#[tokio::test]
async fn invalid_objects_are_refused_with_one_cause_per_problem() {
    let h = Harness::new(vec![widgets()]).await;
    let widgets = h.resource("widgets");
    let body = json!({
        "apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "Bad_Name"}, "spec": {"size": -1},
    });
    let error = widgets.create(&ctx(), Some("default"), body, &WriteOptions::default()).await.unwrap_err();
    assert_eq!(error.code, 422);
    assert!(error.message.starts_with("Widget.example.com \"Bad_Name\" is invalid: ["), "{}", error.message);
    let causes = error.details.as_ref().and_then(|d| d["causes"].as_array()).cloned().unwrap_or_default();
    let fields: Vec<&str> = causes.iter().filter_map(|c| c["field"].as_str()).collect();
    assert_eq!(fields, ["spec.size", "metadata.name"]);
}

#[tokio::test]
async fn a_dry_run_create_validates_and_checks_existence_but_stores_nothing() {
    let h = Harness::new(vec![configmaps()]).await;
    let cms = h.resource("configmaps");
    let dry = WriteOptions { dry_run: true, ..WriteOptions::default() };
    let created = cms.create(&ctx(), Some("default"), configmap("default", "a", json!({})), &dry).await.unwrap();
    assert_eq!(created["metadata"]["name"], "a");
    assert!(created["metadata"]["uid"].is_string());
    let error = cms.get(Some("default"), "a", &GetOptions::default()).await.unwrap_err();
    assert_eq!(error.code, 404);
    create(&cms, Some("default"), configmap("default", "a", json!({}))).await;
    let error = cms.create(&ctx(), Some("default"), configmap("default", "a", json!({})), &dry).await.unwrap_err();
    assert_eq!(error.code, 409);
}

#[tokio::test]
async fn content_needs_an_existing_namespace_that_is_not_terminating() {
    let h = Harness::new(vec![configmaps(), namespaces()]).await;
    let cms = h.resource("configmaps");
    let error = cms
        .create(&ctx(), Some("nowhere"), configmap("nowhere", "a", json!({})), &WriteOptions::default())
        .await
        .unwrap_err();
    assert_eq!((error.code, error.message.as_str()), (404, "namespaces \"nowhere\" not found"));
    let namespaces = h.resource("namespaces");
    create(&namespaces, None, json!({"metadata": {"name": "team"}})).await;
    create(&cms, Some("team"), configmap("team", "a", json!({}))).await;
    let pending = namespaces.delete(&ctx(), None, "team", &DeleteOptions::default()).await.unwrap();
    assert!(matches!(&pending, super::DeleteOutcome::Pending(ns) if ns["status"]["phase"] == "Terminating"));
    let error = cms
        .create(&ctx(), Some("team"), configmap("team", "b", json!({})), &WriteOptions::default())
        .await
        .unwrap_err();
    assert_eq!(error.code, 403);
    assert_eq!(
        error.message,
        "configmaps \"b\" is forbidden: unable to create new content in namespace team because it is being terminated"
    );
    assert_eq!(error.details.as_ref().map(|d| d["causes"][0]["reason"].clone()), Some(json!("NamespaceTerminating")));
    create(&namespaces, None, json!({"metadata": {"name": "default"}})).await;
    let error = namespaces.delete(&ctx(), None, "default", &DeleteOptions::default()).await.unwrap_err();
    assert_eq!(
        (error.code, error.message.as_str()),
        (403, "namespaces \"default\" is forbidden: this namespace may not be deleted")
    );
}

#[tokio::test]
async fn get_answers_not_found_with_the_resource_and_name() {
    let h = Harness::new(vec![widgets()]).await;
    let error = h.resource("widgets").get(Some("default"), "nope", &GetOptions::default()).await.unwrap_err();
    assert_eq!(error.to_status()["message"], "widgets.example.com \"nope\" not found");
    assert_eq!(error.to_status()["details"], json!({"name": "nope", "group": "example.com", "kind": "widgets"}));
}

#[tokio::test]
async fn lists_carry_the_revision_and_select_by_labels_and_fields() {
    let h = Harness::new(vec![configmaps()]).await;
    let cms = h.resource("configmaps");
    create(&cms, Some("a"), configmap("a", "one", json!({"app": "web"}))).await;
    create(&cms, Some("b"), configmap("b", "two", json!({"app": "db"}))).await;
    let last = create(&cms, Some("b"), configmap("b", "three", json!({"app": "web", "tier": "x"}))).await;
    let all = cms.list(None, &ListOptions::default()).await.unwrap();
    assert_eq!(names(&all), ["one", "three", "two"]);
    assert!(all.resource_version.parse::<i64>().unwrap() >= rv(&last));
    assert!(all.items.iter().all(|item| item["kind"] == "ConfigMap" && item["apiVersion"] == "v1"));
    assert_eq!(names(&cms.list(Some("b"), &ListOptions::default()).await.unwrap()), ["three", "two"]);
    let web = ListOptions { label_selector: label_selector("app=web,!tier"), ..ListOptions::default() };
    assert_eq!(names(&cms.list(None, &web).await.unwrap()), ["one"]);
    let by_field = ListOptions {
        field_selector: field_selector("metadata.namespace=b,metadata.name!=two"),
        ..ListOptions::default()
    };
    assert_eq!(names(&cms.list(None, &by_field).await.unwrap()), ["three"]);
    let unsupported = ListOptions { field_selector: field_selector("spec.color=red"), ..ListOptions::default() };
    let error = cms.list(None, &unsupported).await.unwrap_err();
    assert_eq!((error.code, error.message.as_str()), (400, "field label not supported: spec.color"));
}

#[tokio::test]
async fn kind_specific_fields_can_be_selected() {
    let h = Harness::new(vec![widgets()]).await;
    let widgets = h.resource("widgets");
    for (name, color) in [("a", "red"), ("b", "blue")] {
        let body = json!({
            "apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": name}, "spec": {"color": color},
        });
        create(&widgets, Some("ns"), body).await;
    }
    let red = ListOptions { field_selector: field_selector("spec.color=red"), ..ListOptions::default() };
    assert_eq!(names(&widgets.list(None, &red).await.unwrap()), ["a"]);
}

#[tokio::test]
async fn pages_cover_every_object_once_with_remaining_counts() {
    let h = Harness::new(vec![configmaps()]).await;
    let cms = h.resource("configmaps");
    for i in 0..7 {
        create(&cms, Some("ns"), configmap("ns", &format!("cm{i}"), json!({"even": (i % 2 == 0).to_string()}))).await;
    }
    let mut options = ListOptions { limit: 3, ..ListOptions::default() };
    let first = cms.list(None, &options).await.unwrap();
    assert_eq!(names(&first), ["cm0", "cm1", "cm2"]);
    assert_eq!(first.remaining_item_count, Some(4));
    // A write between pages does not show: every page is read at the first page's revision.
    create(&cms, Some("ns"), configmap("ns", "cm3a", json!({}))).await;
    options.continue_token = first.continue_token.clone().unwrap();
    let second = cms.list(None, &options).await.unwrap();
    assert_eq!(names(&second), ["cm3", "cm4", "cm5"]);
    assert_eq!(second.resource_version, first.resource_version);
    options.continue_token = second.continue_token.clone().unwrap();
    let third = cms.list(None, &options).await.unwrap();
    assert_eq!(names(&third), ["cm6"]);
    assert_eq!((third.continue_token.clone(), third.remaining_item_count), (None, None));
    let even = ListOptions { limit: 2, label_selector: label_selector("even=true"), ..ListOptions::default() };
    let page = cms.list(None, &even).await.unwrap();
    assert_eq!(names(&page), ["cm0", "cm2"]);
    assert_eq!(page.remaining_item_count, None, "never with a selector");
    let next = ListOptions { continue_token: page.continue_token.unwrap(), ..even };
    assert_eq!(names(&cms.list(None, &next).await.unwrap()), ["cm4", "cm6"]);
}

#[tokio::test]
async fn lists_from_the_cache_page_too() {
    let h = Harness::new(vec![configmaps()]).await;
    let cms = h.resource("configmaps");
    let mut last = json!({});
    for i in 0..5 {
        last = create(&cms, Some("ns"), configmap("ns", &format!("cm{i}"), json!({}))).await;
    }
    let options = ListOptions {
        limit: 2,
        resource_version: rv(&last).to_string(),
        resource_version_match: Some(ResourceVersionMatch::NotOlderThan),
        ..ListOptions::default()
    };
    let first = cms.list(None, &options).await.unwrap();
    assert_eq!(names(&first), ["cm0", "cm1"]);
    assert_eq!(first.remaining_item_count, Some(3));
    let rest = ListOptions { limit: 10, continue_token: first.continue_token.unwrap(), ..ListOptions::default() };
    assert_eq!(names(&cms.list(None, &rest).await.unwrap()), ["cm2", "cm3", "cm4"]);
}

#[tokio::test]
async fn an_exact_resource_version_lists_the_past() {
    let h = Harness::new(vec![configmaps()]).await;
    let cms = h.resource("configmaps");
    let first = create(&cms, Some("ns"), configmap("ns", "a", json!({}))).await;
    create(&cms, Some("ns"), configmap("ns", "b", json!({}))).await;
    let exact = ListOptions {
        resource_version: rv(&first).to_string(),
        resource_version_match: Some(ResourceVersionMatch::Exact),
        ..ListOptions::default()
    };
    let past = cms.list(None, &exact).await.unwrap();
    assert_eq!(names(&past), ["a"]);
    assert_eq!(past.resource_version, rv(&first).to_string());
}

#[tokio::test]
async fn compacted_continue_tokens_expire_with_a_fresh_token() {
    let h = Harness::new(vec![configmaps()]).await;
    let cms = h.resource("configmaps");
    for i in 0..3 {
        create(&cms, Some("ns"), configmap("ns", &format!("cm{i}"), json!({}))).await;
    }
    let first = cms.list(None, &ListOptions { limit: 1, ..ListOptions::default() }).await.unwrap();
    create(&cms, Some("ns"), configmap("ns", "late", json!({}))).await;
    let current = h.store.current_revision().await.unwrap();
    h.store.compact(current).await.unwrap();
    let continued = ListOptions { limit: 1, continue_token: first.continue_token.unwrap(), ..ListOptions::default() };
    let error = cms.list(None, &continued).await.unwrap_err();
    assert_eq!((error.code, error.reason.as_str()), (410, "Expired"));
    let fresh = error.to_status()["metadata"]["continue"].as_str().map(String::from).expect("a fresh token");
    let rest = cms.list(None, &ListOptions { continue_token: fresh, ..ListOptions::default() }).await.unwrap();
    assert_eq!(names(&rest), ["cm1", "cm2", "late"]);
    let exact = ListOptions {
        resource_version: "2".into(),
        resource_version_match: Some(ResourceVersionMatch::Exact),
        ..ListOptions::default()
    };
    assert_eq!(cms.list(None, &exact).await.unwrap_err().code, 410);
}

#[tokio::test]
async fn a_resource_version_from_the_future_is_too_large() {
    let h = Harness::new(vec![configmaps()]).await;
    let cms = h.resource("configmaps");
    let exact = ListOptions {
        resource_version: "999999".into(),
        resource_version_match: Some(ResourceVersionMatch::Exact),
        ..ListOptions::default()
    };
    let error = cms.list(None, &exact).await.unwrap_err();
    assert_eq!(error.code, 504);
    assert_eq!(error.to_status()["details"]["causes"][0]["reason"], "ResourceVersionTooLarge");
    let get = GetOptions { resource_version: "999999".into() };
    assert_eq!(cms.get(Some("ns"), "a", &get).await.unwrap_err().code, 504);
}

#[tokio::test]
async fn lists_share_decoded_objects_instead_of_parsing_again() {
    let h = Harness::new(vec![configmaps()]).await;
    let cms = h.resource("configmaps");
    let created = create(&cms, Some("ns"), configmap("ns", "a", json!({}))).await;
    let options = ListOptions { resource_version: rv(&created).to_string(), ..ListOptions::default() };
    let first = cms.list(None, &options).await.unwrap();
    let second = cms.list(None, &options).await.unwrap();
    assert!(std::sync::Arc::ptr_eq(&first.items[0], &second.items[0]));
}
