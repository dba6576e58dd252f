//! kube-rs against the real binary on both backends: discovery, dynamic CRUD, watchers, server-side apply.

mod support;

use std::time::Duration;

use futures::StreamExt;
use kube::{
    Api, Client, ResourceExt,
    api::{ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams, PostParams},
    discovery::{Discovery, Scope},
    runtime::{WatchStreamExt, watcher},
};
use std::sync::Arc;

use flotilla_apiserver::storage::{EmbeddedOptions, EmbeddedStore, EtcdOptions, EtcdStore, SharedStore};
use flotilla_testkit::{
    etcd::EtcdProcess,
    server::{ApiServer, Storage},
};
use serde_json::json;
use support::{BackendKind, Flotilla};

on_both_backends!(
    discovery_finds_every_served_group_and_kind,
    dynamic_objects_go_through_create_get_list_replace_patch_delete,
    a_stale_replace_is_a_conflict,
    the_watcher_reaches_init_done_and_sees_later_changes,
    the_streaming_list_watcher_reaches_init_done,
    server_side_apply_creates_updates_and_records_the_manager,
    a_watcher_relists_when_its_resource_version_was_compacted,
);

fn configmaps(client: &Client, namespace: &str) -> Api<DynamicObject> {
    let resource = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("", "v1", "ConfigMap"), "configmaps");
    Api::namespaced_with(client.clone(), namespace, &resource)
}

fn configmap(name: &str, data: serde_json::Value) -> DynamicObject {
    serde_json::from_value(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}))
        .expect("a ConfigMap as a DynamicObject")
}

async fn discovery_finds_every_served_group_and_kind(kind: BackendKind) {
    let f = Flotilla::start(kind).await;
    let discovery = Discovery::new(f.client().await).run().await.expect("kube-rs discovery");
    for group in [
        "",
        "apps",
        "batch",
        "networking.k8s.io",
        "rbac.authorization.k8s.io",
        "coordination.k8s.io",
        "apiextensions.k8s.io",
    ] {
        assert!(discovery.has_group(group), "group {group:?} is discovered");
    }
    let (resource, capabilities) =
        discovery.resolve_gvk(&GroupVersionKind::gvk("apps", "v1", "Deployment")).expect("Deployments are discovered");
    assert_eq!(resource.plural, "deployments");
    assert_eq!(capabilities.scope, Scope::Namespaced);
    assert!(capabilities.subresources.iter().any(|(sub, _)| sub.plural == "status"), "{capabilities:?}");
    let (namespaces, capabilities) =
        discovery.resolve_gvk(&GroupVersionKind::gvk("", "v1", "Namespace")).expect("Namespaces are discovered");
    assert_eq!((namespaces.plural.as_str(), capabilities.scope), ("namespaces", Scope::Cluster));
}

async fn dynamic_objects_go_through_create_get_list_replace_patch_delete(kind: BackendKind) {
    let f = Flotilla::start(kind).await;
    f.namespace("dynamic");
    let api = configmaps(&f.client().await, "dynamic");

    let created = api.create(&PostParams::default(), &configmap("cfg", json!({"a": "1"}))).await.expect("create");
    assert_eq!(created.metadata.namespace.as_deref(), Some("dynamic"));
    let first_rv = created.resource_version().expect("a resourceVersion");
    assert!(created.uid().is_some());

    let got = api.get("cfg").await.expect("get");
    assert_eq!(got.data["data"]["a"], "1");
    let listed = api.list(&ListParams::default()).await.expect("list");
    assert!(listed.metadata.resource_version.is_some(), "lists carry a resourceVersion");
    assert_eq!(listed.items.iter().map(|o| o.name_any()).collect::<Vec<_>>(), ["cfg"]);

    let mut changed = got.clone();
    changed.data["data"]["a"] = json!("2");
    let replaced = api.replace("cfg", &PostParams::default(), &changed).await.expect("replace");
    assert_ne!(replaced.resource_version().as_deref(), Some(first_rv.as_str()));

    let patched = api
        .patch("cfg", &PatchParams::default(), &Patch::Merge(json!({"data": {"b": "3"}})))
        .await
        .expect("merge patch");
    assert_eq!((patched.data["data"]["a"].clone(), patched.data["data"]["b"].clone()), (json!("2"), json!("3")));

    api.delete("cfg", &DeleteParams::default()).await.expect("delete");
    let error = api.get("cfg").await.expect_err("deleted");
    assert!(matches!(error, kube::Error::Api(ref status) if status.code == 404), "{error:?}");
}

async fn a_stale_replace_is_a_conflict(kind: BackendKind) {
    let f = Flotilla::start(kind).await;
    f.namespace("conflicts");
    let api = configmaps(&f.client().await, "conflicts");
    let created = api.create(&PostParams::default(), &configmap("cfg", json!({"a": "1"}))).await.expect("create");
    let mut first = created.clone();
    first.data["data"]["a"] = json!("first");
    api.replace("cfg", &PostParams::default(), &first).await.expect("first replace");
    let mut second = created;
    second.data["data"]["a"] = json!("second");
    let error = api.replace("cfg", &PostParams::default(), &second).await.expect_err("stale");
    match error {
        kube::Error::Api(status) => {
            assert_eq!((status.code, status.reason.as_str()), (409, "Conflict"));
            assert!(status.message.contains("the object has been modified"), "{}", status.message);
        }
        other => panic!("expected a 409, got {other:?}"),
    }
}

/// Collects watcher events until `done` says stop, failing after `within`.
async fn watch_until<S, E>(
    stream: &mut S,
    within: Duration,
    done: impl FnMut(&watcher::Event<DynamicObject>) -> bool,
) -> Vec<String>
where
    S: futures::Stream<Item = Result<watcher::Event<DynamicObject>, E>> + Unpin,
    E: std::fmt::Debug,
{
    watch_until_tolerating(stream, within, false, done).await
}

/// [`watch_until`], optionally skipping watcher errors (while a server is down for a while).
async fn watch_until_tolerating<S, E>(
    stream: &mut S,
    within: Duration,
    tolerate_errors: bool,
    mut done: impl FnMut(&watcher::Event<DynamicObject>) -> bool,
) -> Vec<String>
where
    S: futures::Stream<Item = Result<watcher::Event<DynamicObject>, E>> + Unpin,
    E: std::fmt::Debug,
{
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let next = tokio::time::timeout_at(deadline, stream.next())
            .await
            .unwrap_or_else(|_| panic!("watcher stalled; saw {seen:?}"))
            .expect("the watcher stream does not end");
        let event = match next {
            Ok(event) => event,
            Err(_) if tolerate_errors => continue,
            Err(error) => panic!("watcher error {error:?}; saw {seen:?}"),
        };
        seen.push(match &event {
            watcher::Event::Init => "Init".to_string(),
            watcher::Event::InitApply(o) => format!("InitApply {}", o.name_any()),
            watcher::Event::InitDone => "InitDone".to_string(),
            watcher::Event::Apply(o) => format!("Apply {}", o.name_any()),
            watcher::Event::Delete(o) => format!("Delete {}", o.name_any()),
        });
        if done(&event) {
            return seen;
        }
    }
}

async fn the_watcher_reaches_init_done_and_sees_later_changes(kind: BackendKind) {
    let f = Flotilla::start(kind).await;
    f.namespace("watched");
    let api = configmaps(&f.client().await, "watched");
    api.create(&PostParams::default(), &configmap("before", json!({}))).await.expect("create");
    let mut stream = watcher(api.clone(), watcher::Config::default()).boxed();
    let seen = watch_until(&mut stream, Duration::from_secs(15), |e| matches!(e, watcher::Event::InitDone)).await;
    assert_eq!(seen, ["Init", "InitApply before", "InitDone"]);

    api.create(&PostParams::default(), &configmap("after", json!({}))).await.expect("create");
    let seen = watch_until(
        &mut stream,
        Duration::from_secs(15),
        |e| matches!(e, watcher::Event::Apply(o) if o.name_any() == "after"),
    )
    .await;
    assert_eq!(seen, ["Apply after"]);
    api.delete("after", &DeleteParams::default()).await.expect("delete");
    let seen = watch_until(&mut stream, Duration::from_secs(15), |e| matches!(e, watcher::Event::Delete(_))).await;
    assert_eq!(seen, ["Delete after"]);
}

async fn the_streaming_list_watcher_reaches_init_done(kind: BackendKind) {
    let f = Flotilla::start(kind).await;
    f.namespace("streamed");
    let api = configmaps(&f.client().await, "streamed");
    for name in ["one", "two"] {
        api.create(&PostParams::default(), &configmap(name, json!({}))).await.expect("create");
    }
    let config = watcher::Config::default().streaming_lists();
    let mut stream = watcher(api.clone(), config).default_backoff().boxed();
    let seen = watch_until(&mut stream, Duration::from_secs(15), |e| matches!(e, watcher::Event::InitDone)).await;
    assert_eq!(
        seen,
        ["Init", "InitApply one", "InitApply two", "InitDone"],
        "sendInitialEvents ends with the initial-events-end bookmark"
    );
    api.create(&PostParams::default(), &configmap("three", json!({}))).await.expect("create");
    let seen = watch_until(&mut stream, Duration::from_secs(15), |e| matches!(e, watcher::Event::Apply(_))).await;
    assert_eq!(seen, ["Apply three"]);
}

async fn server_side_apply_creates_updates_and_records_the_manager(kind: BackendKind) {
    let f = Flotilla::start(kind).await;
    f.namespace("applied");
    let api = configmaps(&f.client().await, "applied");
    let params = PatchParams::apply("flotilla-e2e").force();
    let applied =
        api.patch("cfg", &params, &Patch::Apply(configmap("cfg", json!({"a": "1"})))).await.expect("apply creates");
    assert_eq!(applied.data["data"]["a"], "1");
    let applied =
        api.patch("cfg", &params, &Patch::Apply(configmap("cfg", json!({"b": "2"})))).await.expect("apply updates");
    assert_eq!(applied.data["data"], json!({"b": "2"}), "a field the manager stopped applying is removed");
    let managers: Vec<_> = applied.managed_fields().iter().map(|m| (m.manager.clone(), m.operation.clone())).collect();
    assert!(managers.contains(&(Some("flotilla-e2e".into()), Some("Apply".into()))), "{managers:?}");

    let all: Vec<_> =
        api.list(&ListParams::default()).await.expect("list").items.into_iter().map(|o| o.name_any()).collect();
    assert_eq!(all, ["cfg"]);
}

async fn a_watcher_relists_when_its_resource_version_was_compacted(kind: BackendKind) {
    // Compaction is store-wide, so the etcd variant gets an etcd of its own.
    let etcd = match kind {
        BackendKind::Etcd => Some(EtcdProcess::start().await),
        BackendKind::Embedded => None,
    };
    let mut server = match &etcd {
        Some(etcd) => ApiServer::start_on_etcd(support::flotilla_binary(), &etcd.endpoint(), &[]).await,
        None => ApiServer::start(support::flotilla_binary(), kind).await,
    };
    let f = Flotilla { server };
    f.namespace("compacted");
    let api = configmaps(&f.client().await, "compacted");
    api.create(&PostParams::default(), &configmap("before", json!({}))).await.expect("create");
    let mut stream = watcher(api.clone(), watcher::Config::default()).default_backoff().boxed();
    let seen = watch_until(&mut stream, Duration::from_secs(15), |e| matches!(e, watcher::Event::InitDone)).await;
    assert_eq!(seen, ["Init", "InitApply before", "InitDone"]);

    // While the server is down, history moves on and is compacted past everything the watcher has seen.
    server = f.server;
    server.halt();
    let store: SharedStore = match server.storage() {
        Storage::Embedded(dir) => Arc::new(EmbeddedStore::open(EmbeddedOptions::new(dir)).await.expect("open")),
        Storage::Etcd { endpoint, .. } => {
            let options =
                EtcdOptions { endpoints: vec![endpoint.clone()], tls: None, request_timeout: Duration::from_secs(5) };
            Arc::new(EtcdStore::connect(options).await.expect("connect"))
        }
    };
    for bump in ["/compaction-test/a", "/compaction-test/b"] {
        store.create(bump, bytes::Bytes::from_static(b"x")).await.expect("a write");
    }
    store.compact(store.current_revision().await.expect("revision")).await.expect("compaction");
    drop(store);
    server.resume().await;

    // The watcher's next watch starts from a compacted resourceVersion: 410 Expired, then a fresh list.
    let seen =
        watch_until_tolerating(&mut stream, Duration::from_secs(60), true, |e| matches!(e, watcher::Event::InitDone))
            .await;
    assert_eq!(seen[seen.len() - 3..], ["Init", "InitApply before", "InitDone"], "the watcher listed again: {seen:?}");
    api.create(&PostParams::default(), &configmap("after", json!({}))).await.expect("create after the relist");
    let seen = watch_until(&mut stream, Duration::from_secs(15), |e| matches!(e, watcher::Event::Apply(_))).await;
    assert_eq!(seen, ["Apply after"]);
}
