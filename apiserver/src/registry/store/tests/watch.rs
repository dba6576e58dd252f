//! Watch semantics: initial state, starting revisions, selector transitions, bookmarks, 410s and timeouts.

use std::time::Duration;

use futures::StreamExt;
use serde_json::json;

use super::{label_selector, rv};
use crate::{
    machinery::options::{DeleteOptions, GetOptions, ListOptions, ResourceVersionMatch, WriteOptions},
    registry::{
        Registry, WatchEventType,
        store::testing::{Harness, configmap, configmaps, create, ctx, next_event},
    },
    storage::KeySpace,
};

fn name(event: &crate::registry::WatchEvent) -> &str {
    event.object["metadata"]["name"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn a_watch_from_zero_sends_the_current_objects_then_changes() {
    let h = Harness::new(vec![configmaps()]).await;
    let cms = h.resource("configmaps");
    create(&cms, Some("ns"), configmap("ns", "a", json!({}))).await;
    let options = ListOptions { resource_version: "0".into(), ..ListOptions::default() };
    let mut watch = cms.watch(None, &options).await.unwrap();
    let first = next_event(&mut watch).await;
    assert_eq!((first.type_, name(&first)), (WatchEventType::Added, "a"));
    assert_eq!(first.object["kind"], "ConfigMap");
    assert_eq!(first.object["apiVersion"], "v1");
    create(&cms, Some("ns"), configmap("ns", "b", json!({}))).await;
    let second = next_event(&mut watch).await;
    assert_eq!((second.type_, name(&second)), (WatchEventType::Added, "b"));
}

#[tokio::test]
async fn a_watch_from_a_revision_sends_only_later_changes() {
    let h = Harness::new(vec![configmaps()]).await;
    let cms = h.resource("configmaps");
    let a = create(&cms, Some("ns"), configmap("ns", "a", json!({}))).await;
    let mut changed = a.clone();
    changed["data"] = json!({"k": "2"});
    cms.update(&ctx(), Some("ns"), "a", changed, None, &WriteOptions::default()).await.unwrap();
    let options = ListOptions { resource_version: rv(&a).to_string(), ..ListOptions::default() };
    let mut watch = cms.watch(Some("ns"), &options).await.unwrap();
    let modified = next_event(&mut watch).await;
    assert_eq!((modified.type_, name(&modified)), (WatchEventType::Modified, "a"));
    let deleted = cms.delete(&ctx(), Some("ns"), "a", &DeleteOptions::default()).await.unwrap();
    let event = next_event(&mut watch).await;
    assert_eq!(event.type_, WatchEventType::Deleted);
    assert_eq!(event.object["metadata"]["resourceVersion"], deleted.object()["metadata"]["resourceVersion"]);
    assert_eq!(event.object["data"], json!({"k": "2"}), "a deletion carries the last state");
}

#[tokio::test]
async fn objects_entering_or_leaving_a_selection_are_added_or_deleted() {
    let h = Harness::new(vec![configmaps()]).await;
    let cms = h.resource("configmaps");
    let a = create(&cms, Some("ns"), configmap("ns", "a", json!({"app": "db"}))).await;
    let options = ListOptions {
        resource_version: rv(&a).to_string(),
        label_selector: label_selector("app=web"),
        ..ListOptions::default()
    };
    let mut watch = cms.watch(None, &options).await.unwrap();
    let mut object = a;
    for (app, expected) in
        [("web", WatchEventType::Added), ("web", WatchEventType::Modified), ("db", WatchEventType::Deleted)]
    {
        object["metadata"]["labels"] = json!({"app": app, "step": format!("{expected:?}").to_lowercase()});
        object = cms.update(&ctx(), Some("ns"), "a", object, None, &WriteOptions::default()).await.unwrap().0;
        let event = next_event(&mut watch).await;
        assert_eq!(event.type_, expected);
        assert_eq!(event.object["metadata"]["resourceVersion"], object["metadata"]["resourceVersion"]);
    }
    create(&cms, Some("ns"), configmap("ns", "quiet", json!({"app": "db"}))).await;
    create(&cms, Some("ns"), configmap("ns", "loud", json!({"app": "web"}))).await;
    let event = next_event(&mut watch).await;
    assert_eq!((event.type_, name(&event)), (WatchEventType::Added, "loud"));
}

#[tokio::test]
async fn bookmarks_come_only_when_allowed_and_end_the_initial_events() {
    let h = Harness::new(vec![configmaps()]).await;
    let cms = h.resource("configmaps");
    create(&cms, Some("ns"), configmap("ns", "a", json!({}))).await;
    let options = ListOptions {
        send_initial_events: Some(true),
        resource_version_match: Some(ResourceVersionMatch::NotOlderThan),
        allow_watch_bookmarks: true,
        ..ListOptions::default()
    };
    let mut watch = cms.watch(None, &options).await.unwrap();
    assert_eq!(next_event(&mut watch).await.type_, WatchEventType::Added);
    let end = next_event(&mut watch).await;
    assert_eq!(end.type_, WatchEventType::Bookmark);
    assert_eq!(end.object["kind"], "ConfigMap");
    assert_eq!(end.object["apiVersion"], "v1");
    assert_eq!(end.object["metadata"]["annotations"], json!({"k8s.io/initial-events-end": "true"}));
    assert!(end.object["metadata"]["resourceVersion"].is_string());
    let quiet = ListOptions { resource_version: "0".into(), ..ListOptions::default() };
    let mut quiet = cms.watch(None, &quiet).await.unwrap();
    assert_eq!(next_event(&mut quiet).await.type_, WatchEventType::Added);
    create(&cms, Some("ns"), configmap("ns", "b", json!({}))).await;
    assert_eq!(next_event(&mut quiet).await.type_, WatchEventType::Added, "no bookmark in between");
}

#[tokio::test]
async fn a_watch_from_a_compacted_revision_ends_with_one_expired_error() {
    let h = Harness::new(vec![configmaps()]).await;
    let cms = h.resource("configmaps");
    let a = create(&cms, Some("ns"), configmap("ns", "a", json!({}))).await;
    for i in 0..3 {
        create(&cms, Some("ns"), configmap("ns", &format!("x{i}"), json!({}))).await;
    }
    let current = h.store.current_revision().await.unwrap();
    h.store.compact(current).await.unwrap();
    // A fresh cache (as after a restart) has no history before the compaction, so storage must answer.
    let restarted = Registry::new(h.store.clone(), KeySpace::default()).register(configmaps());
    restarted.ready().await;
    let options = ListOptions { resource_version: (rv(&a) - 1).to_string(), ..ListOptions::default() };
    let mut watch = restarted.watch(None, &options).await.unwrap();
    let error = next_event(&mut watch).await;
    assert_eq!(error.type_, WatchEventType::Error);
    assert_eq!(error.object["kind"], "Status");
    assert_eq!(error.object["code"], 410);
    assert_eq!(error.object["reason"], "Expired");
    assert!(tokio::time::timeout(Duration::from_secs(5), watch.next()).await.unwrap().is_none());
}

#[tokio::test]
async fn a_watch_ends_at_its_timeout() {
    let h = Harness::new(vec![configmaps()]).await;
    let cms = h.resource("configmaps");
    let options = ListOptions { timeout_seconds: Some(1), resource_version: "0".into(), ..ListOptions::default() };
    let mut watch = cms.watch(None, &options).await.unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(5), watch.next()).await;
    assert!(matches!(ended, Ok(None)), "the stream ends after timeoutSeconds");
}

#[tokio::test]
async fn reads_from_any_revision_still_see_this_servers_own_writes() {
    let h = Harness::new(vec![configmaps()]).await;
    let cms = h.resource("configmaps");
    let any = ListOptions { resource_version: "0".into(), ..ListOptions::default() };
    let streamed = ListOptions {
        resource_version: "0".into(),
        send_initial_events: Some(true),
        resource_version_match: Some(ResourceVersionMatch::NotOlderThan),
        ..ListOptions::default()
    };
    let get_any = GetOptions { resource_version: "0".into() };
    for i in 0..100 {
        // Each read comes straight after its own create, so no earlier read has waited for the cache already.
        let got = format!("got-{i}");
        create(&cms, Some("ns"), configmap("ns", &got, json!({}))).await;
        cms.get(Some("ns"), &got, &get_any).await.expect("a get at resourceVersion=0 right after the create");

        let listed = format!("listed-{i}");
        create(&cms, Some("ns"), configmap("ns", &listed, json!({}))).await;
        let list = cms.list(Some("ns"), &any).await.unwrap();
        assert_eq!(list.items.len(), 3 * i + 2, "a list at resourceVersion=0 right after creating {listed}");

        let watched = format!("watched-{i}");
        create(&cms, Some("ns"), configmap("ns", &watched, json!({}))).await;
        let mut watch = cms.watch(Some("ns"), &streamed).await.unwrap();
        let mut names = Vec::new();
        for _ in 0..3 * (i + 1) {
            names.push(name(&next_event(&mut watch).await).to_string());
        }
        assert!(names.contains(&watched), "the initial events right after creating {watched}: {names:?}");
    }
}
