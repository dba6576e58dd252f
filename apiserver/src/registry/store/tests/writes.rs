//! Update and delete semantics: optimistic concurrency, no-op updates, the status split, finalizers, propagation.

use serde_json::json;

use super::{label_selector, names, rv};
use crate::{
    machinery::options::{DeleteOptions, GetOptions, ListOptions, PropagationPolicy, WriteOptions},
    registry::store::{
        DeleteOutcome,
        testing::{Harness, clusters, configmap, configmaps, create, ctx, widgets},
    },
};

#[tokio::test]
async fn updates_need_the_current_resource_version() {
    let h = Harness::new(vec![configmaps(), clusters()]).await;
    let cms = h.resource("configmaps");
    let created = create(&cms, Some("ns"), configmap("ns", "a", json!({}))).await;
    let mut changed = created.clone();
    changed["data"] = json!({"k": "v2"});
    let (updated, was_created) =
        cms.update(&ctx(), Some("ns"), "a", changed.clone(), None, &WriteOptions::default()).await.unwrap();
    assert!(!was_created);
    assert!(rv(&updated) > rv(&created));
    assert_eq!(updated["metadata"]["uid"], created["metadata"]["uid"]);
    assert_eq!(updated["metadata"]["creationTimestamp"], created["metadata"]["creationTimestamp"]);
    let stale = cms.update(&ctx(), Some("ns"), "a", changed.clone(), None, &WriteOptions::default()).await;
    let stale = stale.unwrap_err();
    assert_eq!(stale.code, 409);
    assert_eq!(
        stale.message,
        "Operation cannot be fulfilled on configmaps \"a\": the object has been modified; please apply your changes \
         to the latest version and try again"
    );
    changed["metadata"].as_object_mut().unwrap().remove("resourceVersion");
    let missing = cms.update(&ctx(), Some("ns"), "a", changed, None, &WriteOptions::default()).await.unwrap_err();
    assert_eq!(missing.code, 422);
    assert_eq!(
        missing.message,
        "configmaps \"a\" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update"
    );
    let clusters = h.resource("clusters");
    create(&clusters, None, json!({"metadata": {"name": "m"}, "spec": {"x": 1}})).await;
    let body = json!({"metadata": {"name": "m"}, "spec": {"x": 2}});
    let (unconditional, _) = clusters.update(&ctx(), None, "m", body, None, &WriteOptions::default()).await.unwrap();
    assert_eq!(unconditional["spec"]["x"], 2);
    let options = WriteOptions::default();
    let mut other_uid = updated.clone();
    other_uid["metadata"]["uid"] = json!("another");
    let error = cms.update(&ctx(), Some("ns"), "a", other_uid, None, &options).await.unwrap_err();
    assert_eq!(error.code, 409);
    let expected = format!(
        "Operation cannot be fulfilled on configmaps \"a\": Precondition failed: UID in precondition: another, UID in \
         object meta: {}",
        updated["metadata"]["uid"].as_str().unwrap_or_default()
    );
    assert_eq!(error.message, expected);
    let gone = cms.update(&ctx(), Some("ns"), "zz", configmap("ns", "zz", json!({})), None, &options).await;
    assert_eq!(gone.unwrap_err().code, 404);
    let renamed = cms.update(&ctx(), Some("ns"), "a", configmap("ns", "b", json!({})), None, &options).await;
    let renamed = renamed.unwrap_err();
    assert_eq!(
        (renamed.code, renamed.message.as_str()),
        (400, "the name of the object (b) does not match the name on the URL (a)")
    );
}

#[tokio::test]
async fn a_no_op_update_writes_nothing() {
    let h = Harness::new(vec![configmaps()]).await;
    let cms = h.resource("configmaps");
    let created = create(&cms, Some("ns"), configmap("ns", "a", json!({}))).await;
    let before = h.store.current_revision().await.unwrap();
    let (same, _) = cms.update(&ctx(), Some("ns"), "a", created.clone(), None, &WriteOptions::default()).await.unwrap();
    assert_eq!(same["metadata"]["resourceVersion"], created["metadata"]["resourceVersion"]);
    assert_eq!(h.store.current_revision().await.unwrap(), before);
}

#[tokio::test]
async fn a_dry_run_update_changes_nothing() {
    let h = Harness::new(vec![configmaps()]).await;
    let cms = h.resource("configmaps");
    let created = create(&cms, Some("ns"), configmap("ns", "a", json!({}))).await;
    let mut changed = created.clone();
    changed["data"] = json!({"k": "dry"});
    let dry = WriteOptions { dry_run: true, ..WriteOptions::default() };
    let (answer, _) = cms.update(&ctx(), Some("ns"), "a", changed, None, &dry).await.unwrap();
    assert_eq!(answer["data"]["k"], "dry");
    assert_eq!(cms.get(Some("ns"), "a", &GetOptions::default()).await.unwrap(), created);
}

#[tokio::test]
async fn generation_moves_only_when_the_spec_does_and_status_is_split() {
    let h = Harness::new(vec![widgets()]).await;
    let widgets = h.resource("widgets");
    let body = json!({
        "apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
        "spec": {"size": 1}, "status": {"ready": true},
    });
    let created = create(&widgets, Some("ns"), body).await;
    assert!(created.get("status").is_none(), "status is not set on create with a status subresource");
    let mut relabeled = created.clone();
    relabeled["metadata"]["labels"] = json!({"a": "b"});
    let (relabeled, _) =
        widgets.update(&ctx(), Some("ns"), "w", relabeled, None, &WriteOptions::default()).await.unwrap();
    assert_eq!(relabeled["metadata"]["generation"], 1);
    let mut status = relabeled.clone();
    status["status"] = json!({"ready": true});
    status["spec"] = json!({"size": 100});
    status["metadata"]["labels"] = json!({"a": "changed"});
    let (status, _) =
        widgets.update(&ctx(), Some("ns"), "w", status, Some("status"), &WriteOptions::default()).await.unwrap();
    assert_eq!(status["status"], json!({"ready": true}));
    assert_eq!(status["spec"], json!({"size": 1}), "a status write keeps the spec");
    assert_eq!(status["metadata"]["labels"], json!({"a": "b"}), "and the labels");
    assert_eq!(status["metadata"]["generation"], 1);
    let mut spec = status.clone();
    spec["spec"] = json!({"size": 2});
    spec["status"] = json!({"ready": false});
    let (spec, _) = widgets.update(&ctx(), Some("ns"), "w", spec, None, &WriteOptions::default()).await.unwrap();
    assert_eq!(spec["metadata"]["generation"], 2);
    assert_eq!(spec["status"], json!({"ready": true}), "a main write keeps the status");
    let error = widgets.update(&ctx(), Some("ns"), "w", spec, Some("scale"), &WriteOptions::default()).await;
    assert_eq!(error.unwrap_err().code, 404);
}

#[tokio::test]
async fn deleting_returns_the_last_state_at_the_deletion_revision() {
    let h = Harness::new(vec![configmaps()]).await;
    let cms = h.resource("configmaps");
    let created = create(&cms, Some("ns"), configmap("ns", "a", json!({}))).await;
    let outcome = cms.delete(&ctx(), Some("ns"), "a", &DeleteOptions::default()).await.unwrap();
    let DeleteOutcome::Deleted(last) = outcome else { panic!("deleted at once") };
    assert_eq!(last["metadata"]["uid"], created["metadata"]["uid"]);
    assert!(rv(&last) > rv(&created));
    assert_eq!(cms.delete(&ctx(), Some("ns"), "a", &DeleteOptions::default()).await.unwrap_err().code, 404);
}

#[tokio::test]
async fn delete_preconditions_must_match() {
    let h = Harness::new(vec![configmaps()]).await;
    let cms = h.resource("configmaps");
    create(&cms, Some("ns"), configmap("ns", "a", json!({}))).await;
    let options = DeleteOptions { precondition_uid: Some("other".into()), ..DeleteOptions::default() };
    let error = cms.delete(&ctx(), Some("ns"), "a", &options).await.unwrap_err();
    assert_eq!(error.code, 409);
    assert!(
        error
            .message
            .starts_with("Operation cannot be fulfilled on ConfigMap \"a\": the UID in the precondition (other)"),
        "{}",
        error.message
    );
    let options = DeleteOptions { precondition_resource_version: Some("1".into()), ..DeleteOptions::default() };
    assert_eq!(cms.delete(&ctx(), Some("ns"), "a", &options).await.unwrap_err().code, 409);
    let both = DeleteOptions {
        orphan_dependents: Some(true),
        propagation_policy: Some(PropagationPolicy::Background),
        ..DeleteOptions::default()
    };
    assert_eq!(cms.delete(&ctx(), Some("ns"), "a", &both).await.unwrap_err().code, 422);
}

#[tokio::test]
async fn finalizers_hold_a_deleted_object_until_the_last_one_is_removed() {
    let h = Harness::new(vec![configmaps()]).await;
    let cms = h.resource("configmaps");
    let mut body = configmap("ns", "a", json!({}));
    body["metadata"]["finalizers"] = json!(["example.com/hold"]);
    create(&cms, Some("ns"), body).await;
    let pending = cms.delete(&ctx(), Some("ns"), "a", &DeleteOptions::default()).await.unwrap();
    let DeleteOutcome::Pending(pending) = pending else { panic!("finalizers keep the object") };
    assert!(pending["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(pending["metadata"]["deletionGracePeriodSeconds"], 0);
    assert_eq!(pending["metadata"]["generation"], 2);
    let again = cms.delete(&ctx(), Some("ns"), "a", &DeleteOptions::default()).await.unwrap();
    assert_eq!(again, DeleteOutcome::Pending(pending.clone()), "a second delete changes nothing");
    let mut adding = pending.clone();
    adding["metadata"]["finalizers"] = json!(["example.com/hold", "example.com/more"]);
    let error = cms.update(&ctx(), Some("ns"), "a", adding, None, &WriteOptions::default()).await.unwrap_err();
    assert_eq!(error.code, 422);
    let mut released = pending;
    released["metadata"]["finalizers"] = json!([]);
    cms.update(&ctx(), Some("ns"), "a", released, None, &WriteOptions::default()).await.unwrap();
    assert_eq!(cms.get(Some("ns"), "a", &GetOptions::default()).await.unwrap_err().code, 404);
}

#[tokio::test]
async fn propagation_policies_add_the_garbage_collector_finalizers() {
    let h = Harness::new(vec![configmaps()]).await;
    let cms = h.resource("configmaps");
    for (name, policy, finalizer) in
        [("fg", PropagationPolicy::Foreground, "foregroundDeletion"), ("orphan", PropagationPolicy::Orphan, "orphan")]
    {
        create(&cms, Some("ns"), configmap("ns", name, json!({}))).await;
        let options = DeleteOptions { propagation_policy: Some(policy), ..DeleteOptions::default() };
        let outcome = cms.delete(&ctx(), Some("ns"), name, &options).await.unwrap();
        let DeleteOutcome::Pending(object) = outcome else { panic!("{name} waits for the garbage collector") };
        assert_eq!(object["metadata"]["finalizers"], json!([finalizer]));
    }
    create(&cms, Some("ns"), configmap("ns", "bg", json!({}))).await;
    let options = DeleteOptions { propagation_policy: Some(PropagationPolicy::Background), ..DeleteOptions::default() };
    assert!(matches!(cms.delete(&ctx(), Some("ns"), "bg", &options).await.unwrap(), DeleteOutcome::Deleted(_)));
}

#[tokio::test]
async fn a_dry_run_delete_keeps_the_object() {
    let h = Harness::new(vec![configmaps()]).await;
    let cms = h.resource("configmaps");
    create(&cms, Some("ns"), configmap("ns", "a", json!({}))).await;
    let options = DeleteOptions { dry_run: true, ..DeleteOptions::default() };
    assert!(matches!(cms.delete(&ctx(), Some("ns"), "a", &options).await.unwrap(), DeleteOutcome::Deleted(_)));
    assert!(cms.get(Some("ns"), "a", &GetOptions::default()).await.is_ok());
}

#[tokio::test]
async fn delete_collection_deletes_what_the_selector_selects() {
    let h = Harness::new(vec![configmaps()]).await;
    let cms = h.resource("configmaps");
    for (ns, name, app) in [("a", "one", "web"), ("a", "two", "db"), ("b", "three", "web")] {
        create(&cms, Some(ns), configmap(ns, name, json!({"app": app}))).await;
    }
    let web = ListOptions { label_selector: label_selector("app=web"), ..ListOptions::default() };
    let deleted = cms.delete_collection(&ctx(), None, &web, &DeleteOptions::default()).await.unwrap();
    assert_eq!(names(&deleted), ["one", "three"]);
    assert_eq!(names(&cms.list(None, &ListOptions::default()).await.unwrap()), ["two"]);
}
