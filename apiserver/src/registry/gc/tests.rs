//! The garbage collector against a real registry: background, foreground and orphan deletions, missing owners.

use serde_json::{Value, json};

use crate::{
    machinery::{
        Object,
        options::{DeleteOptions, GetOptions, PropagationPolicy, WriteOptions},
    },
    registry::{
        DeleteOutcome, ResourceStore,
        store::testing::{Harness, configmap, configmaps, create, ctx, eventually, widgets},
    },
};

fn owner_ref(owner: &Object, block: bool) -> Value {
    json!({
        "apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"], "blockOwnerDeletion": block, "controller": true,
    })
}

fn widget(name: &str, owners: Vec<Value>) -> Value {
    json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": name, "ownerReferences": owners}})
}

async fn exists(store: &ResourceStore, name: &str) -> bool {
    store.get(Some("ns"), name, &GetOptions::default()).await.is_ok()
}

async fn delete(store: &ResourceStore, name: &str, policy: PropagationPolicy) -> DeleteOutcome {
    let options = DeleteOptions { propagation_policy: Some(policy), ..DeleteOptions::default() };
    store.delete(&ctx(), Some("ns"), name, &options).await.expect("the delete succeeds")
}

#[tokio::test]
async fn dependents_of_a_deleted_owner_are_collected_in_the_background() {
    let h = Harness::new(vec![configmaps(), widgets()]).await;
    let _gc = h.registry.start_garbage_collector();
    let (cms, widgets) = (h.resource("configmaps"), h.resource("widgets"));
    let owner = create(&cms, Some("ns"), configmap("ns", "owner", json!({}))).await;
    create(&widgets, Some("ns"), widget("child", vec![owner_ref(&owner, false)])).await;
    create(&widgets, Some("ns"), widget("free", vec![])).await;
    assert!(matches!(delete(&cms, "owner", PropagationPolicy::Background).await, DeleteOutcome::Deleted(_)));
    eventually("the dependent is gone", || async { !exists(&widgets, "child").await }).await;
    assert!(exists(&widgets, "free").await);
}

#[tokio::test]
async fn dependents_whose_owner_never_existed_are_collected() {
    let h = Harness::new(vec![configmaps(), widgets()]).await;
    let _gc = h.registry.start_garbage_collector();
    let widgets = h.resource("widgets");
    let ghost = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ghost", "uid": "0000"}});
    create(&widgets, Some("ns"), widget("orphaned", vec![owner_ref(&ghost, false)])).await;
    eventually("the dependent is gone", || async { !exists(&widgets, "orphaned").await }).await;
}

#[tokio::test]
async fn a_foreground_deletion_waits_for_blocking_dependents() {
    let h = Harness::new(vec![configmaps(), widgets()]).await;
    let (cms, widgets) = (h.resource("configmaps"), h.resource("widgets"));
    let owner = create(&cms, Some("ns"), configmap("ns", "owner", json!({}))).await;
    let mut child = widget("child", vec![owner_ref(&owner, true)]);
    child["metadata"]["finalizers"] = json!(["example.com/hold"]);
    create(&widgets, Some("ns"), child).await;
    let _gc = h.registry.start_garbage_collector();
    let DeleteOutcome::Pending(pending) = delete(&cms, "owner", PropagationPolicy::Foreground).await else {
        panic!("a foreground deletion waits")
    };
    assert_eq!(pending["metadata"]["finalizers"], json!(["foregroundDeletion"]));
    eventually("the dependent is being deleted", || async {
        widgets
            .get(Some("ns"), "child", &GetOptions::default())
            .await
            .is_ok_and(|w| w["metadata"]["deletionTimestamp"].is_string())
    })
    .await;
    assert!(exists(&cms, "owner").await, "the owner waits for its blocking dependent");
    let mut held = widgets.get(Some("ns"), "child", &GetOptions::default()).await.unwrap();
    held["metadata"]["finalizers"] = json!([]);
    widgets.update(&ctx(), Some("ns"), "child", held, None, &WriteOptions::default()).await.unwrap();
    eventually("the owner is gone", || async { !exists(&cms, "owner").await }).await;
}

#[tokio::test]
async fn an_orphaning_deletion_leaves_dependents_without_the_reference() {
    let h = Harness::new(vec![configmaps(), widgets()]).await;
    let _gc = h.registry.start_garbage_collector();
    let (cms, widgets) = (h.resource("configmaps"), h.resource("widgets"));
    let owner = create(&cms, Some("ns"), configmap("ns", "owner", json!({}))).await;
    let other = create(&cms, Some("ns"), configmap("ns", "other", json!({}))).await;
    let mut refs = vec![owner_ref(&owner, true), owner_ref(&other, false)];
    refs[1]["controller"] = json!(false);
    create(&widgets, Some("ns"), widget("child", refs)).await;
    assert!(matches!(delete(&cms, "owner", PropagationPolicy::Orphan).await, DeleteOutcome::Pending(_)));
    eventually("the owner is gone", || async { !exists(&cms, "owner").await }).await;
    // As in kube-controller-manager, the collector's graph may learn of a dependent created a moment before the
    // deletion only after the owner is gone; the dangling reference is then removed on its own (never the child).
    let owners = || async {
        let child = widgets.get(Some("ns"), "child", &GetOptions::default()).await.unwrap();
        child["metadata"]["ownerReferences"]
            .as_array()
            .map(|refs| refs.iter().filter_map(|r| r["name"].as_str().map(str::to_string)).collect::<Vec<_>>())
            .unwrap_or_default()
    };
    eventually("the child keeps only its other owner", || async { owners().await == ["other"] }).await;
}

#[tokio::test]
async fn a_dependent_with_a_live_owner_only_loses_the_dangling_reference() {
    let h = Harness::new(vec![configmaps(), widgets()]).await;
    let _gc = h.registry.start_garbage_collector();
    let (cms, widgets) = (h.resource("configmaps"), h.resource("widgets"));
    let owner = create(&cms, Some("ns"), configmap("ns", "owner", json!({}))).await;
    let ghost = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ghost", "uid": "0000"}});
    let mut refs = vec![owner_ref(&owner, false), owner_ref(&ghost, false)];
    refs[1]["controller"] = json!(false);
    create(&widgets, Some("ns"), widget("child", refs)).await;
    eventually("the dangling reference is removed", || async {
        widgets
            .get(Some("ns"), "child", &GetOptions::default())
            .await
            .is_ok_and(|w| w["metadata"]["ownerReferences"].as_array().is_some_and(|r| r.len() == 1))
    })
    .await;
}
