//! Namespaces against a real registry: the default namespaces, and deletion emptying a namespace first.

use serde_json::json;

use crate::{
    machinery::options::{DeleteOptions, GetOptions, ListOptions, WriteOptions},
    registry::{
        DEFAULT_NAMESPACES, DeleteOutcome,
        store::testing::{Harness, configmap, configmaps, create, ctx, eventually, namespaces},
    },
};

#[tokio::test]
async fn the_default_namespaces_exist_after_start() {
    let h = Harness::new(vec![namespaces()]).await;
    h.registry.ensure_default_namespaces().await.unwrap();
    h.registry.ensure_default_namespaces().await.unwrap();
    let list = h.resource("namespaces").list(None, &ListOptions::default()).await.unwrap();
    let mut names: Vec<&str> = list.items.iter().filter_map(|ns| ns["metadata"]["name"].as_str()).collect();
    names.sort_unstable();
    let mut expected = DEFAULT_NAMESPACES.to_vec();
    expected.sort_unstable();
    assert_eq!(names, expected);
    assert!(list.items.iter().all(|ns| ns["status"]["phase"] == "Active"));
}

#[tokio::test]
async fn deleting_a_namespace_removes_its_content_then_the_namespace() {
    let h = Harness::new(vec![namespaces(), configmaps()]).await;
    let _controller = h.registry.start_namespace_controller();
    let (nss, cms) = (h.resource("namespaces"), h.resource("configmaps"));
    create(&nss, None, json!({"metadata": {"name": "team"}})).await;
    create(&nss, None, json!({"metadata": {"name": "other"}})).await;
    create(&cms, Some("team"), configmap("team", "a", json!({}))).await;
    let mut held = configmap("team", "held", json!({}));
    held["metadata"]["finalizers"] = json!(["example.com/hold"]);
    create(&cms, Some("team"), held).await;
    create(&cms, Some("other"), configmap("other", "kept", json!({}))).await;
    let outcome = nss.delete(&ctx(), None, "team", &DeleteOptions::default()).await.unwrap();
    assert!(matches!(outcome, DeleteOutcome::Pending(ns) if ns["status"]["phase"] == "Terminating"));
    eventually("the free content is gone", || async {
        cms.get(Some("team"), "a", &GetOptions::default()).await.is_err()
    })
    .await;
    assert!(nss.get(None, "team", &GetOptions::default()).await.is_ok(), "held content keeps the namespace");
    let mut release = cms.get(Some("team"), "held", &GetOptions::default()).await.unwrap();
    release["metadata"]["finalizers"] = json!([]);
    cms.update(&ctx(), Some("team"), "held", release, None, &WriteOptions::default()).await.unwrap();
    eventually("the namespace is gone", || async { nss.get(None, "team", &GetOptions::default()).await.is_err() })
        .await;
    assert!(cms.get(Some("other"), "kept", &GetOptions::default()).await.is_ok());
}
