//! The storage conformance suite: every test runs unchanged on the embedded store and on a real etcd.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
    time::{Duration, Instant},
};

use bytes::Bytes;
use flotilla_apiserver::storage::{
    EventKind, ListRequest, Revision, SharedStore, StoreError, WatchMessage, WatchStream,
};
use flotilla_testkit::backends::{BackendKind, TestStore};
use futures::StreamExt;
use tokio::sync::Mutex;

/// Runs each listed test once per backend, as `embedded::<name>` and `etcd::<name>`.
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(flotilla_testkit::backends::BackendKind::Embedded).await;
                }
            )*
        }
        mod etcd {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(flotilla_testkit::backends::BackendKind::Etcd).await;
                }
            )*
        }
    };
}

conformance!(
    created_objects_read_back_with_their_revisions,
    creating_an_existing_key_is_already_exists,
    stale_updates_and_deletes_are_conflicts_naming_the_current_revision,
    updates_and_deletes_of_missing_keys_are_not_found,
    of_many_racing_creates_of_one_key_exactly_one_wins,
    concurrent_compare_and_swap_loses_no_update,
    list_pages_at_one_revision_are_stable_under_concurrent_writes,
    lists_at_an_old_revision_see_the_past_and_future_revisions_are_refused,
    a_watch_from_r_sees_every_change_after_r_exactly_once_in_order,
    a_watch_from_the_past_replays_history_with_previous_values,
    a_watch_only_sees_its_prefix,
    an_idle_watch_hears_progress_past_other_writes,
    compacted_revisions_are_refused_for_reads_and_watches,
    every_acknowledged_write_survives_an_abrupt_restart,
);

fn bytes(text: impl Into<String>) -> Bytes {
    Bytes::from(text.into())
}

async fn collect_events(
    watch: &mut WatchStream,
    count: usize,
    within: Duration,
) -> Vec<flotilla_apiserver::storage::Event> {
    let deadline = Instant::now() + within;
    let mut events = Vec::new();
    while events.len() < count {
        let remaining = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(remaining, watch.next()).await {
            Ok(Some(Ok(WatchMessage::Events(batch)))) => events.extend(batch),
            Ok(Some(Ok(WatchMessage::Progress(_)))) => {}
            Ok(Some(Err(error))) => panic!("watch failed after {} of {count} events: {error}", events.len()),
            Ok(None) => panic!("watch ended after {} of {count} events", events.len()),
            Err(_) => panic!("only {} of {count} events arrived within {within:?}", events.len()),
        }
    }
    events
}

/// Asserts that nothing more arrives on the watch for a short while (progress messages aside).
async fn assert_quiet(watch: &mut WatchStream) {
    let deadline = Instant::now() + Duration::from_millis(300);
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(remaining, watch.next()).await {
            Err(_) => return,
            Ok(Some(Ok(WatchMessage::Progress(_)))) => {}
            Ok(other) => panic!("expected no further events, got {other:?}"),
        }
    }
}

async fn created_objects_read_back_with_their_revisions(kind: BackendKind) {
    let ts = TestStore::isolated(kind).await;
    let store = ts.store();
    let key = ts.key("core/configmaps/default/app");

    let created = store.create(&key, bytes("v1")).await.unwrap();
    assert!(created > 0);
    let kv = store.get(&key).await.unwrap().expect("the created key");
    assert_eq!((kv.value.as_ref(), kv.create_revision, kv.mod_revision), (b"v1".as_ref(), created, created));
    assert!(store.current_revision().await.unwrap() >= created);

    let updated = store.update(&key, bytes("v2"), created).await.unwrap();
    assert!(updated > created, "an update gets a newer revision");
    let kv = store.get(&key).await.unwrap().expect("the updated key");
    assert_eq!((kv.value.as_ref(), kv.create_revision, kv.mod_revision), (b"v2".as_ref(), created, updated));

    let deleted = store.delete(&key, Some(updated)).await.unwrap();
    assert!(deleted.revision > updated);
    assert_eq!((deleted.prev.value.as_ref(), deleted.prev.mod_revision), (b"v2".as_ref(), updated));
    assert_eq!(store.get(&key).await.unwrap(), None);

    let recreated = store.create(&key, bytes("v3")).await.unwrap();
    let kv = store.get(&key).await.unwrap().expect("the re-created key");
    assert_eq!(kv.create_revision, recreated, "a re-created key starts a new life");
}

async fn creating_an_existing_key_is_already_exists(kind: BackendKind) {
    let ts = TestStore::isolated(kind).await;
    let key = ts.key("a");
    let revision = ts.store().create(&key, bytes("first")).await.unwrap();
    let error = ts.store().create(&key, bytes("second")).await.unwrap_err();
    assert_eq!(error, StoreError::AlreadyExists { key: key.clone() });
    let kv = ts.store().get(&key).await.unwrap().unwrap();
    assert_eq!((kv.value.as_ref(), kv.mod_revision), (b"first".as_ref(), revision), "nothing was overwritten");
}

async fn stale_updates_and_deletes_are_conflicts_naming_the_current_revision(kind: BackendKind) {
    let ts = TestStore::isolated(kind).await;
    let store = ts.store();
    let key = ts.key("a");
    let first = store.create(&key, bytes("1")).await.unwrap();
    let second = store.update(&key, bytes("2"), first).await.unwrap();

    let error = store.update(&key, bytes("stale"), first).await.unwrap_err();
    assert_eq!(error, StoreError::Conflict { key: key.clone(), current_revision: second });
    let error = store.delete(&key, Some(first)).await.unwrap_err();
    assert_eq!(error, StoreError::Conflict { key: key.clone(), current_revision: second });

    let kv = store.get(&key).await.unwrap().unwrap();
    assert_eq!((kv.value.as_ref(), kv.mod_revision), (b"2".as_ref(), second), "failed CAS changed nothing");
    let deleted = store.delete(&key, None).await.unwrap();
    assert_eq!(deleted.prev.mod_revision, second, "an unconditional delete removes whatever is there");
}

async fn updates_and_deletes_of_missing_keys_are_not_found(kind: BackendKind) {
    let ts = TestStore::isolated(kind).await;
    let key = ts.key("missing");
    let not_found = StoreError::NotFound { key: key.clone() };
    assert_eq!(ts.store().update(&key, bytes("x"), 1).await.unwrap_err(), not_found);
    assert_eq!(ts.store().delete(&key, Some(1)).await.unwrap_err(), not_found);
    assert_eq!(ts.store().delete(&key, None).await.unwrap_err(), not_found);
    assert_eq!(ts.store().get(&key).await.unwrap(), None);
}

async fn of_many_racing_creates_of_one_key_exactly_one_wins(kind: BackendKind) {
    let ts = TestStore::isolated(kind).await;
    let key = ts.key("contended");
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let (store, key) = (ts.store().clone(), key.clone());
            tokio::spawn(async move { (i, store.create(&key, bytes(format!("writer-{i}"))).await) })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            (i, Ok(revision)) => winners.push((i, revision)),
            (_, Err(StoreError::AlreadyExists { .. })) => {}
            (_, Err(other)) => panic!("a racing create failed with {other}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one create wins: {winners:?}");
    let (winner, revision) = winners[0];
    let kv = ts.store().get(&key).await.unwrap().unwrap();
    assert_eq!((kv.value, kv.mod_revision), (bytes(format!("writer-{winner}")), revision));
}

async fn concurrent_compare_and_swap_loses_no_update(kind: BackendKind) {
    let ts = TestStore::isolated(kind).await;
    let key = ts.key("counter");
    ts.store().create(&key, bytes("0")).await.unwrap();
    let (tasks, increments) = (8, 10);
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let (store, key) = (ts.store().clone(), key.clone());
            tokio::spawn(async move {
                for _ in 0..increments {
                    loop {
                        let kv = store.get(&key).await.unwrap().unwrap();
                        let value: u64 = std::str::from_utf8(&kv.value).unwrap().parse().unwrap();
                        match store.update(&key, bytes((value + 1).to_string()), kv.mod_revision).await {
                            Ok(_) => break,
                            Err(StoreError::Conflict { .. }) => continue,
                            Err(other) => panic!("CAS failed with {other}"),
                        }
                    }
                }
            })
        })
        .collect();
    for handle in handles {
        handle.await.unwrap();
    }
    let kv = ts.store().get(&key).await.unwrap().unwrap();
    assert_eq!(kv.value, bytes((tasks * increments).to_string()));
}

async fn list_pages_at_one_revision_are_stable_under_concurrent_writes(kind: BackendKind) {
    let ts = TestStore::isolated(kind).await;
    let prefix = ts.keys().resource_prefix("apps", "deployments");
    let mut expected = BTreeMap::new();
    for i in 0..200 {
        let key = format!("{prefix}ns-{}/app-{i:03}", i % 4);
        let revision = ts.store().create(&key, bytes(format!("original-{i}"))).await.unwrap();
        expected.insert(key, (bytes(format!("original-{i}")), revision));
    }

    // The first page fixes the revision; it is read before any writer starts, so the expected map is that snapshot.
    let first = ts.store().list(ListRequest { prefix: prefix.clone(), limit: 25, ..Default::default() }).await.unwrap();
    assert_eq!(first.items.len(), 25);
    assert_eq!(first.remaining, 175);
    let revision = first.revision;

    // Writers keep changing the same prefix while the later pages are read.
    let stop = Arc::new(tokio::sync::Notify::new());
    let writer = {
        let (store, keys, prefix, stop) =
            (ts.store().clone(), expected.keys().cloned().collect::<Vec<_>>(), prefix.clone(), stop.clone());
        tokio::spawn(async move {
            let mut round = 0usize;
            loop {
                let key = &keys[round * 7 % keys.len()];
                let write = async {
                    match round % 3 {
                        0 => {
                            if let Some(kv) = store.get(key).await.unwrap() {
                                let _ = store.update(key, bytes(format!("changed-{round}")), kv.mod_revision).await;
                            }
                        }
                        1 => {
                            let _ = store.delete(key, None).await;
                        }
                        _ => {
                            let _ = store.create(&format!("{prefix}ns-9/new-{round}"), bytes("new")).await;
                        }
                    }
                };
                tokio::select! {
                    _ = write => {}
                    _ = stop.notified() => return round,
                }
                round += 1;
            }
        })
    };

    let mut seen = BTreeMap::new();
    let mut page = first;
    loop {
        for kv in &page.items {
            assert!(
                seen.insert(kv.key.clone(), (kv.value.clone(), kv.mod_revision)).is_none(),
                "{} listed twice",
                kv.key
            );
        }
        let Some(start_key) = page.next_start_key() else { break };
        tokio::time::sleep(Duration::from_millis(5)).await;
        page = ts
            .store()
            .list(ListRequest { prefix: prefix.clone(), revision, start_key: Some(start_key), limit: 25 })
            .await
            .unwrap();
        assert_eq!(page.revision, revision, "every page is served at the first page's revision");
    }
    stop.notify_one();
    let rounds = writer.await.unwrap();
    assert!(rounds > 0, "the concurrent writer made changes while paging");
    assert_eq!(seen, expected, "the pages together are exactly the snapshot at the first page's revision");
}

async fn lists_at_an_old_revision_see_the_past_and_future_revisions_are_refused(kind: BackendKind) {
    let ts = TestStore::isolated(kind).await;
    let prefix = ts.keys().root();
    let a = ts.key("a");
    let r1 = ts.store().create(&a, bytes("a1")).await.unwrap();
    let r2 = ts.store().create(&ts.key("b"), bytes("b1")).await.unwrap();
    ts.store().update(&a, bytes("a2"), r1).await.unwrap();
    ts.store().delete(&ts.key("b"), Some(r2)).await.unwrap();

    let past =
        ts.store().list(ListRequest { prefix: prefix.clone(), revision: r2, ..Default::default() }).await.unwrap();
    let past: Vec<_> = past.items.iter().map(|kv| (kv.key.clone(), kv.value.clone())).collect();
    assert_eq!(past, vec![(a.clone(), bytes("a1")), (ts.key("b"), bytes("b1"))]);

    let now = ts.store().list(ListRequest { prefix: prefix.clone(), ..Default::default() }).await.unwrap();
    let now: Vec<_> = now.items.iter().map(|kv| (kv.key.clone(), kv.value.clone())).collect();
    assert_eq!(now, vec![(a, bytes("a2"))]);

    let current = ts.store().current_revision().await.unwrap();
    let future = ts.store().list(ListRequest { prefix, revision: current + 1000, ..Default::default() }).await;
    assert!(matches!(future, Err(StoreError::FutureRevision { .. })), "a future revision is refused: {future:?}");
}

async fn a_watch_from_r_sees_every_change_after_r_exactly_once_in_order(kind: BackendKind) {
    let ts = TestStore::isolated(kind).await;
    let prefix = ts.keys().root();
    ts.store().create(&ts.key("before"), bytes("x")).await.unwrap();
    let start = ts.store().current_revision().await.unwrap();
    let mut watch = ts.store().watch(&prefix, start).await.unwrap();

    // 8 writers, each creating, updating and deleting its own keys; every acknowledged revision is recorded.
    let acked = Arc::new(Mutex::new(BTreeMap::<Revision, (String, EventKind, Bytes)>::new()));
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let (store, acked, prefix) = (ts.store().clone(), acked.clone(), prefix.clone());
            tokio::spawn(async move {
                for i in 0..10 {
                    let key = format!("{prefix}w{w}/k{i}");
                    let value = bytes(format!("{w}-{i}-a"));
                    let r = store.create(&key, value.clone()).await.unwrap();
                    acked.lock().await.insert(r, (key.clone(), EventKind::Created, value));
                    let value = bytes(format!("{w}-{i}-b"));
                    let r = store.update(&key, value.clone(), r).await.unwrap();
                    acked.lock().await.insert(r, (key.clone(), EventKind::Updated, value));
                    if i % 2 == 0 {
                        let deleted = store.delete(&key, Some(r)).await.unwrap();
                        acked.lock().await.insert(deleted.revision, (key, EventKind::Deleted, Bytes::new()));
                    }
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    let acked = Arc::try_unwrap(acked).unwrap().into_inner();
    assert_eq!(acked.len(), 8 * 25);

    let events = collect_events(&mut watch, acked.len(), Duration::from_secs(20)).await;
    let revisions: Vec<_> = events.iter().map(|e| e.revision()).collect();
    assert!(revisions.windows(2).all(|w| w[0] < w[1]), "events arrive in strictly increasing revision order");
    let seen: BTreeMap<_, _> =
        events.iter().map(|e| (e.revision(), (e.kv.key.clone(), e.kind, e.kv.value.clone()))).collect();
    assert_eq!(seen, acked, "exactly the acknowledged changes, with their kinds and values");
    for event in events.iter().filter(|e| e.kind != EventKind::Created) {
        let prev = event.prev.as_ref().expect("updates and deletes carry the previous value");
        assert!(prev.value.ends_with(if event.kind == EventKind::Updated { b"-a" } else { b"-b" }));
    }
    assert_quiet(&mut watch).await;
}

async fn a_watch_from_the_past_replays_history_with_previous_values(kind: BackendKind) {
    let ts = TestStore::isolated(kind).await;
    let key = ts.key("a");
    let r1 = ts.store().create(&key, bytes("1")).await.unwrap();
    let r2 = ts.store().update(&key, bytes("2"), r1).await.unwrap();
    let deleted = ts.store().delete(&key, Some(r2)).await.unwrap();

    let mut watch = ts.store().watch(&ts.keys().root(), r1).await.unwrap();
    let events = collect_events(&mut watch, 2, Duration::from_secs(10)).await;
    assert_eq!(events[0].kind, EventKind::Updated);
    assert_eq!((events[0].revision(), events[0].kv.value.clone()), (r2, bytes("2")));
    assert_eq!(events[0].prev.as_ref().map(|p| p.value.clone()), Some(bytes("1")));
    assert_eq!((events[1].kind, events[1].revision()), (EventKind::Deleted, deleted.revision));
    assert_eq!(events[1].kv.key, key);
    assert_eq!(events[1].prev.as_ref().map(|p| p.value.clone()), Some(bytes("2")));
    assert_quiet(&mut watch).await;
}

async fn a_watch_only_sees_its_prefix(kind: BackendKind) {
    let ts = TestStore::isolated(kind).await;
    let deployments = ts.keys().resource_prefix("apps", "deployments");
    let start = ts.store().current_revision().await.unwrap();
    let mut watch = ts.store().watch(&deployments, start).await.unwrap();
    ts.store().create(&ts.keys().object_key("apps", "deploymentsx", Some("ns"), "a"), bytes("other")).await.unwrap();
    ts.store().create(&ts.keys().object_key("", "configmaps", Some("ns"), "a"), bytes("other")).await.unwrap();
    let mine =
        ts.store().create(&ts.keys().object_key("apps", "deployments", Some("ns"), "a"), bytes("mine")).await.unwrap();
    let events = collect_events(&mut watch, 1, Duration::from_secs(10)).await;
    assert_eq!((events[0].revision(), events[0].kv.value.clone()), (mine, bytes("mine")));
    assert_quiet(&mut watch).await;
}

async fn an_idle_watch_hears_progress_past_other_writes(kind: BackendKind) {
    let ts = TestStore::isolated(kind).await;
    let start = ts.store().current_revision().await.unwrap();
    let mut watch = ts.store().watch(&ts.key("idle/"), start).await.unwrap();
    let elsewhere = ts.store().create(&ts.key("busy/a"), bytes("x")).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(remaining, watch.next()).await {
            Ok(Some(Ok(WatchMessage::Progress(revision)))) if revision >= elsewhere => return,
            Ok(Some(Ok(WatchMessage::Progress(_)))) => {}
            other => panic!("expected progress past revision {elsewhere}, got {other:?}"),
        }
    }
}

async fn compacted_revisions_are_refused_for_reads_and_watches(kind: BackendKind) {
    let ts = TestStore::dedicated(kind).await;
    let store = ts.store();
    let key = ts.key("a");
    let r1 = store.create(&key, bytes("1")).await.unwrap();
    let r2 = store.update(&key, bytes("2"), r1).await.unwrap();
    let r3 = store.update(&key, bytes("3"), r2).await.unwrap();
    store.compact(r2).await.unwrap();

    let old = store.list(ListRequest { prefix: ts.keys().root(), revision: r1, ..Default::default() }).await;
    assert!(matches!(old, Err(StoreError::Compacted { .. })), "a read before the compacted revision fails: {old:?}");
    let at = store.list(ListRequest { prefix: ts.keys().root(), revision: r2, ..Default::default() }).await.unwrap();
    assert_eq!(at.items[0].value, bytes("2"), "the compacted revision itself stays readable");

    let mut too_old = store.watch(&ts.keys().root(), r1 - 1).await.unwrap();
    let first = tokio::time::timeout(Duration::from_secs(10), too_old.next()).await.expect("the watch answers");
    assert!(
        matches!(first, Some(Err(StoreError::Compacted { .. }))),
        "a watch from before compaction fails: {first:?}"
    );

    let mut from_compacted = store.watch(&ts.keys().root(), r2 - 1).await.unwrap();
    let events = collect_events(&mut from_compacted, 2, Duration::from_secs(10)).await;
    assert_eq!(events.iter().map(|e| e.revision()).collect::<Vec<_>>(), vec![r2, r3]);

    assert!(matches!(store.compact(r1).await, Err(StoreError::Compacted { .. })), "compacting twice is refused");
    let current = store.current_revision().await.unwrap();
    assert!(
        matches!(store.compact(current + 100).await, Err(StoreError::FutureRevision { .. })),
        "compacting the future is refused"
    );
    assert_eq!(store.get(&key).await.unwrap().unwrap().value, bytes("3"), "compaction keeps the latest state");
}

async fn every_acknowledged_write_survives_an_abrupt_restart(kind: BackendKind) {
    let mut ts = TestStore::dedicated(kind).await;
    let acked = Arc::new(Mutex::new(BTreeMap::<String, (Bytes, Revision)>::new()));
    let enough = Arc::new(tokio::sync::Notify::new());
    let writers: Vec<_> = (0..16)
        .map(|w| {
            let (store, acked, enough, prefix) = (ts.store().clone(), acked.clone(), enough.clone(), ts.keys().root());
            tokio::spawn(async move {
                for i in 0.. {
                    let (key, value) = (format!("{prefix}w{w}/k{i:05}"), bytes(format!("value-{w}-{i}")));
                    let Ok(revision) = store.create(&key, value.clone()).await else { return };
                    let mut acked = acked.lock().await;
                    acked.insert(key, (value, revision));
                    if acked.len() >= 300 {
                        enough.notify_one();
                    }
                }
            })
        })
        .collect();
    enough.notified().await;
    ts.interrupt();
    for writer in &writers {
        writer.abort();
    }
    for writer in writers {
        let _ = writer.await;
    }
    let acked: BTreeMap<_, _> = acked.lock().await.clone();
    ts.restart().await;

    let listed = ts.store().list(ListRequest { prefix: ts.keys().root(), ..Default::default() }).await.unwrap();
    let stored: BTreeMap<_, _> =
        listed.items.iter().map(|kv| (kv.key.clone(), (kv.value.clone(), kv.mod_revision))).collect();
    let lost: BTreeSet<_> = acked.keys().filter(|key| stored.get(*key) != acked.get(*key)).collect();
    assert!(lost.is_empty(), "{} of {} acknowledged writes were lost or changed: {lost:?}", lost.len(), acked.len());
    let newest_ack = acked.values().map(|(_, r)| *r).max().unwrap();
    assert!(listed.revision >= newest_ack, "the revision never goes backwards across a restart");
    let next = ts.store().create(&ts.key("after-restart"), bytes("x")).await.unwrap();
    assert!(next > listed.revision, "new writes continue after the old revisions");
}

/// etcd only: the embedded store has no server that can go away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_stopped_is_unavailable_within_the_timeout_then_recovers() {
    let mut ts = TestStore::dedicated(BackendKind::Etcd).await;
    let key = ts.key("a");
    let revision = ts.store().create(&key, bytes("1")).await.unwrap();
    let timeout = ts.etcd_process().options().request_timeout;

    ts.interrupt();
    for operation in ["get", "create", "list"] {
        let store: SharedStore = ts.store().clone();
        let started = Instant::now();
        let result = match operation {
            "get" => store.get(&key).await.map(|_| ()),
            "create" => store.create(&ts.key("b"), bytes("1")).await.map(|_| ()),
            _ => store.list(ListRequest { prefix: ts.keys().root(), ..Default::default() }).await.map(|_| ()),
        };
        let took = started.elapsed();
        assert!(matches!(result, Err(StoreError::Unavailable(_))), "{operation} on a stopped etcd: {result:?}");
        assert!(took <= timeout + Duration::from_secs(2), "{operation} answered after {took:?}, timeout {timeout:?}");
    }

    ts.etcd_process().restart().await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match ts.store().get(&key).await {
            Ok(Some(kv)) => {
                assert_eq!(kv.mod_revision, revision);
                break;
            }
            Ok(None) => panic!("the key written before the outage is gone"),
            Err(error) if Instant::now() < deadline => {
                let _ = error;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(error) => panic!("the same store did not recover within 30 s: {error}"),
        }
    }
    ts.store().update(&key, bytes("2"), revision).await.expect("writes work again after recovery");
}
