//! The watch cache on both real backends: lists, freshness, replay, delegation, fan-out, bookmarks and resets.

use std::{
    collections::BTreeMap,
    sync::Arc,
    time::{Duration, Instant},
};

use async_trait::async_trait;
use bytes::Bytes;
use flotilla_apiserver::storage::{
    CacheError, CacheEvent, CacheWatch, Deleted, Event, EventKind, KeyValue, ListRequest, ListResponse, Revision,
    SharedStore, Store, StoreError, WatchCache, WatchCacheConfig, WatchStart, WatchStream,
};
use flotilla_testkit::backends::{BackendKind, TestStore};
use futures::StreamExt;

/// Runs each listed test once per backend, as `embedded::<name>` and `etcd::<name>`.
macro_rules! on_both_backends {
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

on_both_backends!(
    a_cached_list_equals_the_store_list,
    a_read_needing_a_newer_revision_waits_for_the_cache,
    a_read_newer_than_anything_under_the_prefix_reads_through_to_the_store,
    a_watcher_from_a_revision_in_the_history_sees_every_later_change_once_in_order,
    a_watcher_from_before_the_history_is_served_by_the_store,
    a_watcher_from_before_the_compacted_revision_is_told_so,
    a_watcher_from_a_revision_newer_than_the_cache_skips_changes_up_to_it,
    watchers_started_during_a_stream_of_writes_miss_nothing_and_repeat_nothing,
    an_initial_state_watch_sends_every_object_then_follows_changes,
    bookmarks_carry_the_latest_revision,
    a_watcher_that_does_not_read_is_closed_while_a_reader_keeps_receiving_everything,
    lists_and_watches_of_a_namespace_see_only_that_namespace,
    a_broken_upstream_watch_resets_watchers_and_the_cache_recovers,
    dropping_the_last_handle_stops_the_cache_and_ends_its_watches,
);

/// How long anything that should happen may take on a loaded machine.
const WAIT: Duration = Duration::from_secs(15);

fn bytes(text: impl Into<String>) -> Bytes {
    Bytes::from(text.into())
}

fn config() -> WatchCacheConfig {
    WatchCacheConfig { freshness_wait: Duration::from_secs(5), ..WatchCacheConfig::default() }
}

async fn started(store: SharedStore, prefix: &str, config: WatchCacheConfig) -> WatchCache {
    let cache = WatchCache::start(store, prefix, config);
    tokio::time::timeout(WAIT, cache.ready()).await.expect("the cache became ready");
    cache
}

/// One change as a watcher should see it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Change {
    kind: EventKind,
    key: String,
    revision: Revision,
    value: Bytes,
    prev_revision: Option<Revision>,
}

impl Change {
    fn of(event: &Event) -> Self {
        Self {
            kind: event.kind,
            key: event.kv.key.clone(),
            revision: event.revision(),
            value: event.kv.value.clone(),
            prev_revision: event.prev.as_ref().map(|prev| prev.mod_revision),
        }
    }
}

/// Writes through the store and remembers every change, to compare with what watchers see.
struct Writer {
    store: SharedStore,
    current: BTreeMap<String, Revision>,
    changes: Vec<Change>,
}

impl Writer {
    fn new(store: &SharedStore) -> Self {
        Self { store: store.clone(), current: BTreeMap::new(), changes: Vec::new() }
    }

    /// Creates `key`, or updates it when this writer created it before.
    async fn put(&mut self, key: &str, value: &str) -> Revision {
        let prev = self.current.get(key).copied();
        let revision = match prev {
            None => self.store.create(key, bytes(value)).await.unwrap(),
            Some(expected) => self.store.update(key, bytes(value), expected).await.unwrap(),
        };
        self.current.insert(key.to_string(), revision);
        let kind = if prev.is_some() { EventKind::Updated } else { EventKind::Created };
        self.changes.push(Change { kind, key: key.to_string(), revision, value: bytes(value), prev_revision: prev });
        revision
    }

    async fn delete(&mut self, key: &str) -> Revision {
        let prev = self.current.remove(key).expect("deleting a key this writer wrote");
        let Deleted { revision, .. } = self.store.delete(key, Some(prev)).await.unwrap();
        self.changes.push(Change {
            kind: EventKind::Deleted,
            key: key.to_string(),
            revision,
            value: Bytes::new(),
            prev_revision: Some(prev),
        });
        revision
    }

    /// The changes after `after` under `prefix`, in order.
    fn after(&self, after: Revision, prefix: &str) -> Vec<Change> {
        self.changes.iter().filter(|c| c.revision > after && c.key.starts_with(prefix)).cloned().collect()
    }

    /// Keys and their revisions as of `revision` under `prefix`.
    fn state_at(&self, revision: Revision, prefix: &str) -> BTreeMap<String, Revision> {
        let mut state = BTreeMap::new();
        for change in self.changes.iter().filter(|c| c.revision <= revision && c.key.starts_with(prefix)) {
            match change.kind {
                EventKind::Deleted => state.remove(&change.key),
                _ => state.insert(change.key.clone(), change.revision),
            };
        }
        state
    }
}

/// The next `count` changes on `watch`, skipping bookmarks; panics on errors, the end, or a timeout.
async fn next_changes(watch: &mut CacheWatch, count: usize) -> Vec<Change> {
    let deadline = Instant::now() + WAIT;
    let mut changes = Vec::new();
    while changes.len() < count {
        let remaining = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(remaining, watch.next()).await {
            Ok(Some(Ok(CacheEvent::Event(event)))) => changes.push(Change::of(&event)),
            Ok(Some(Ok(CacheEvent::Bookmark(_) | CacheEvent::InitialStateDone(_)))) => {}
            Ok(Some(Err(error))) => panic!("the watch failed after {} of {count} changes: {error}", changes.len()),
            Ok(None) => panic!("the watch ended after {} of {count} changes", changes.len()),
            Err(_) => panic!("only {} of {count} changes arrived within {WAIT:?}: {changes:?}", changes.len()),
        }
    }
    changes
}

/// The first item on `watch` that is not a bookmark.
async fn next_non_bookmark(watch: &mut CacheWatch) -> Option<Result<CacheEvent, CacheError>> {
    loop {
        match tokio::time::timeout(WAIT, watch.next()).await.expect("the watch answered in time") {
            Some(Ok(CacheEvent::Bookmark(_))) => {}
            other => return other,
        }
    }
}

/// Asserts that nothing but bookmarks arrives for a short while.
async fn assert_no_more_changes(watch: &mut CacheWatch) {
    let deadline = Instant::now() + Duration::from_millis(300);
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(remaining, watch.next()).await {
            Err(_) => return,
            Ok(Some(Ok(CacheEvent::Bookmark(_)))) => {}
            Ok(other) => panic!("expected nothing more, got {other:?}"),
        }
    }
}

async fn store_list(store: &SharedStore, prefix: &str, revision: Revision) -> Vec<KeyValue> {
    let request = ListRequest { prefix: prefix.to_string(), revision, ..Default::default() };
    store.list(request).await.unwrap().items
}

fn owned(items: &[Arc<KeyValue>]) -> Vec<KeyValue> {
    items.iter().map(|kv| (**kv).clone()).collect()
}

async fn a_cached_list_equals_the_store_list(kind: BackendKind) {
    let ts = TestStore::isolated(kind).await;
    let prefix = ts.keys().resource_prefix("apps", "deployments");
    // More objects than one page of the reflector's list.
    let writes = futures::stream::iter(0..1_200)
        .map(|i| {
            let (store, key) = (ts.store().clone(), format!("{prefix}ns{}/d{i:04}", i % 3));
            async move { store.create(&key, bytes(format!("{{\"i\":{i}}}"))).await.unwrap() }
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>();
    writes.await;
    ts.store().create(&ts.keys().object_key("apps", "deploymentsx", Some("ns0"), "other"), bytes("x")).await.unwrap();

    let cache = started(ts.store().clone(), &prefix, config()).await;
    let cached = cache.list(&prefix, 0).await.unwrap();
    assert_eq!(cached.items.len(), 1_200);
    assert_eq!(owned(&cached.items), store_list(ts.store(), &prefix, cached.revision).await);

    let mut writer = Writer::new(ts.store());
    let key = format!("{prefix}ns0/extra");
    writer.put(&key, "1").await;
    writer.put(&key, "2").await;
    let deleted = writer.delete(&key).await;
    let d1 = format!("{prefix}ns1/d0001");
    let d1_revision = ts.store().get(&d1).await.unwrap().expect("a written object").mod_revision;
    let updated = ts.store().update(&d1, bytes("new"), d1_revision).await.unwrap();
    let cached = cache.list(&prefix, updated.max(deleted)).await.unwrap();
    assert_eq!(owned(&cached.items), store_list(ts.store(), &prefix, cached.revision).await);

    let one = cache.get(&d1, updated).await.unwrap().expect("the object");
    assert_eq!((one.value.clone(), one.mod_revision), (bytes("new"), updated));
    assert_eq!(cache.get(&key, deleted).await.unwrap(), None, "a deleted object is gone");
}

async fn a_read_needing_a_newer_revision_waits_for_the_cache(kind: BackendKind) {
    let ts = TestStore::isolated(kind).await;
    let prefix = ts.keys().resource_prefix("", "configmaps");
    let cache = started(ts.store().clone(), &prefix, config()).await;
    for i in 0..20 {
        let key = format!("{prefix}default/c{i}");
        let revision = ts.store().create(&key, bytes(format!("{i}"))).await.unwrap();
        // Asked right after the write: the cache may not have it yet and must catch up first.
        let list = cache.list(&prefix, revision).await.unwrap();
        assert!(list.revision >= revision, "a list at {} was asked for {revision}", list.revision);
        assert_eq!(list.items.len(), i + 1);
        let got = cache.get(&key, revision).await.unwrap().expect("the object just written");
        assert_eq!(got.mod_revision, revision);
    }
}

async fn a_read_newer_than_anything_under_the_prefix_reads_through_to_the_store(kind: BackendKind) {
    let ts = TestStore::isolated(kind).await;
    let prefix = ts.keys().resource_prefix("", "secrets");
    let config = WatchCacheConfig { freshness_wait: Duration::from_millis(200), ..WatchCacheConfig::default() };
    let cache = started(ts.store().clone(), &prefix, config).await;
    let mine = ts.store().create(&format!("{prefix}default/s"), bytes("s")).await.unwrap();
    // A write elsewhere moves the store's revision without any event under the cache's prefix.
    let elsewhere = ts.store().create(&ts.key("core/configmaps/default/c"), bytes("c")).await.unwrap();

    let list = cache.list(&prefix, elsewhere).await.unwrap();
    assert!(list.revision >= elsewhere, "the list is at least as new as asked: {} < {elsewhere}", list.revision);
    assert_eq!(list.items.iter().map(|kv| kv.mod_revision).collect::<Vec<_>>(), vec![mine]);

    let future = elsewhere + 1_000_000;
    let error = cache.list(&prefix, future).await.unwrap_err();
    assert!(
        matches!(error, CacheError::Store(StoreError::FutureRevision { requested, .. }) if requested == future),
        "a revision the store has not reached is refused: {error:?}"
    );
}

async fn a_watcher_from_a_revision_in_the_history_sees_every_later_change_once_in_order(kind: BackendKind) {
    let ts = TestStore::isolated(kind).await;
    let prefix = ts.keys().resource_prefix("apps", "deployments");
    let cache = started(ts.store().clone(), &prefix, config()).await;
    let mut writer = Writer::new(ts.store());
    let (a, b) = (format!("{prefix}ns/a"), format!("{prefix}ns/b"));
    writer.put(&a, "a1").await;
    let start = writer.put(&b, "b1").await;
    writer.put(&a, "a2").await;
    writer.delete(&b).await;
    writer.put(&b, "b2").await;
    let last = writer.put(&a, "a3").await;
    cache.list(&prefix, last).await.unwrap();

    let mut watch = cache.watch(&prefix, WatchStart::After(start)).await.unwrap();
    assert!(!watch.is_delegated(), "a start inside the history is served from the cache");
    writer.delete(&a).await;
    writer.put(&a, "a4").await;
    let expected = writer.after(start, &prefix);
    assert_eq!(next_changes(&mut watch, expected.len()).await, expected);
    assert_no_more_changes(&mut watch).await;
}

async fn a_watcher_from_before_the_history_is_served_by_the_store(kind: BackendKind) {
    let ts = TestStore::isolated(kind).await;
    let prefix = ts.keys().resource_prefix("apps", "deployments");
    let config = WatchCacheConfig { history_capacity: 5, ..config() };
    let cache = started(ts.store().clone(), &prefix, config).await;
    let mut writer = Writer::new(ts.store());
    let start = writer.put(&format!("{prefix}ns/a"), "0").await;
    let mut last = start;
    for i in 1..20 {
        last = writer.put(&format!("{prefix}ns/{}", ["a", "b", "c"][i % 3]), &format!("{i}")).await;
    }
    cache.list(&prefix, last).await.unwrap();

    let mut watch = cache.watch(&prefix, WatchStart::After(start)).await.unwrap();
    assert!(watch.is_delegated(), "a start older than 5 events of history goes to the store");
    writer.put(&format!("{prefix}ns/a"), "live").await;
    let expected = writer.after(start, &prefix);
    assert_eq!(expected.len(), 20);
    assert_eq!(next_changes(&mut watch, expected.len()).await, expected);
    assert_no_more_changes(&mut watch).await;
}

async fn a_watcher_from_before_the_compacted_revision_is_told_so(kind: BackendKind) {
    let ts = TestStore::dedicated(kind).await;
    let prefix = ts.keys().resource_prefix("apps", "deployments");
    let cache = started(ts.store().clone(), &prefix, WatchCacheConfig { history_capacity: 2, ..config() }).await;
    let mut writer = Writer::new(ts.store());
    let first = writer.put(&format!("{prefix}ns/a"), "1").await;
    for i in 2..6 {
        writer.put(&format!("{prefix}ns/a"), &format!("{i}")).await;
    }
    let current = ts.store().current_revision().await.unwrap();
    // The cache must have seen every write first: compacting under its own lagging upstream watch would reset it
    // (a different, also correct, answer than the one this test is about).
    cache.list(&prefix, current).await.unwrap();
    ts.store().compact(current).await.unwrap();

    let mut watch = cache.watch(&prefix, WatchStart::After(first)).await.unwrap();
    let item = next_non_bookmark(&mut watch).await;
    assert!(
        matches!(item, Some(Err(CacheError::Store(StoreError::Compacted { .. })))),
        "a watch from before the compacted revision is refused: {item:?}"
    );
    assert!(watch.next().await.is_none(), "the watch ends after its error");
}

async fn a_watcher_from_a_revision_newer_than_the_cache_skips_changes_up_to_it(kind: BackendKind) {
    let ts = TestStore::dedicated(kind).await;
    let prefix = ts.keys().resource_prefix("apps", "deployments");
    let cache = started(ts.store().clone(), &prefix, config()).await;
    let mut writer = Writer::new(ts.store());
    let now = writer.put(&format!("{prefix}ns/a"), "0").await;
    cache.list(&prefix, now).await.unwrap();

    // Nobody else writes to this store: the next writes get revisions now+1, now+2, ...
    let mut watch = cache.watch(&prefix, WatchStart::After(now + 2)).await.unwrap();
    for i in 1..=4 {
        let revision = writer.put(&format!("{prefix}ns/a"), &format!("{i}")).await;
        assert_eq!(revision, now + i, "revisions on a store of its own are consecutive");
    }
    let expected = writer.after(now + 2, &prefix);
    assert_eq!(expected.len(), 2);
    assert_eq!(next_changes(&mut watch, 2).await, expected);
    assert_no_more_changes(&mut watch).await;
}

async fn watchers_started_during_a_stream_of_writes_miss_nothing_and_repeat_nothing(kind: BackendKind) {
    let ts = TestStore::isolated(kind).await;
    let prefix = ts.keys().resource_prefix("apps", "deployments");
    let cache = started(ts.store().clone(), &prefix, config()).await;
    let store = ts.store().clone();
    let keys: Vec<String> = (0..8).map(|i| format!("{prefix}ns/k{i}")).collect();
    let writing = tokio::spawn(async move {
        let mut writer = Writer::new(&store);
        for i in 0..240 {
            let key = &keys[i % keys.len()];
            if i % 7 == 6 && writer.current.contains_key(key) {
                writer.delete(key).await;
            } else {
                writer.put(key, &format!("{i}")).await;
            }
        }
        writer
    });

    let mut from_revision = Vec::new();
    let mut initial_states = Vec::new();
    while !writing.is_finished() {
        let revision = cache.revision();
        from_revision.push((revision, cache.watch(&prefix, WatchStart::After(revision)).await.unwrap()));
        initial_states.push(cache.watch(&prefix, WatchStart::InitialState).await.unwrap());
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
    let writer = writing.await.unwrap();
    assert!(from_revision.len() >= 3, "watchers started while writing: {}", from_revision.len());

    for (start, mut watch) in from_revision {
        assert!(!watch.is_delegated());
        let expected = writer.after(start, &prefix);
        assert_eq!(next_changes(&mut watch, expected.len()).await, expected, "watch after {start}");
        assert_no_more_changes(&mut watch).await;
    }
    for mut watch in initial_states {
        let mut objects = BTreeMap::new();
        let at = loop {
            match tokio::time::timeout(WAIT, watch.next()).await.unwrap() {
                Some(Ok(CacheEvent::Event(event))) => {
                    assert_eq!(event.kind, EventKind::Created);
                    objects.insert(event.kv.key.clone(), event.revision());
                }
                Some(Ok(CacheEvent::InitialStateDone(revision))) => break revision,
                other => panic!("expected the initial state, got {other:?}"),
            }
        };
        assert_eq!(objects, writer.state_at(at, &prefix), "the initial state at {at}");
        let expected = writer.after(at, &prefix);
        assert_eq!(next_changes(&mut watch, expected.len()).await, expected, "changes after the initial state at {at}");
        assert_no_more_changes(&mut watch).await;
    }
}

async fn an_initial_state_watch_sends_every_object_then_follows_changes(kind: BackendKind) {
    let ts = TestStore::isolated(kind).await;
    let prefix = ts.keys().resource_prefix("", "configmaps");
    let mut writer = Writer::new(ts.store());
    for name in ["ns2/x", "ns1/b", "ns1/a", "ns2/y", "ns1/c"] {
        writer.put(&format!("{prefix}{name}"), name).await;
    }
    writer.delete(&format!("{prefix}ns1/c")).await;
    let cache = started(ts.store().clone(), &prefix, config()).await;

    let mut watch = cache.watch(&prefix, WatchStart::InitialState).await.unwrap();
    let mut initial = Vec::new();
    let done = loop {
        match next_non_bookmark(&mut watch).await {
            Some(Ok(CacheEvent::Event(event))) => initial.push(event),
            Some(Ok(CacheEvent::InitialStateDone(revision))) => break revision,
            other => panic!("expected the initial state, got {other:?}"),
        }
    };
    let keys: Vec<_> = initial.iter().map(|event| event.kv.key.strip_prefix(&prefix).unwrap().to_string()).collect();
    assert_eq!(keys, ["ns1/a", "ns1/b", "ns2/x", "ns2/y"], "every object, in key order");
    assert!(initial.iter().all(|event| event.kind == EventKind::Created && event.prev.is_none()));
    assert!(done >= writer.changes.last().unwrap().revision, "the initial state is complete up to the last write");

    writer.put(&format!("{prefix}ns1/a"), "changed").await;
    let expected = writer.after(done, &prefix);
    assert_eq!(next_changes(&mut watch, 1).await, expected);
}

async fn bookmarks_carry_the_latest_revision(kind: BackendKind) {
    let ts = TestStore::isolated(kind).await;
    let prefix = ts.keys().resource_prefix("", "configmaps");
    let config = WatchCacheConfig { bookmark_interval: Duration::from_millis(100), ..config() };
    let cache = started(ts.store().clone(), &prefix, config).await;
    let mut watch = cache.watch(&prefix, WatchStart::After(0)).await.unwrap();
    let written = ts.store().create(&format!("{prefix}ns/a"), bytes("a")).await.unwrap();

    let deadline = Instant::now() + WAIT;
    let (mut seen_event, mut last_bookmark) = (false, 0);
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(remaining, watch.next()).await {
            Ok(Some(Ok(CacheEvent::Event(event)))) => {
                assert_eq!(event.revision(), written);
                seen_event = true;
            }
            Ok(Some(Ok(CacheEvent::Bookmark(revision)))) => {
                assert!(revision >= last_bookmark, "bookmarks never go backwards: {revision} after {last_bookmark}");
                last_bookmark = revision;
                if revision >= written {
                    assert!(seen_event, "a bookmark at {revision} came before the change at {written}");
                    break;
                }
            }
            other => panic!("expected a bookmark at {written} or later, got {other:?}"),
        }
    }
    assert!(cache.revision() >= last_bookmark);
}

async fn a_watcher_that_does_not_read_is_closed_while_a_reader_keeps_receiving_everything(kind: BackendKind) {
    let ts = TestStore::isolated(kind).await;
    let prefix = ts.keys().resource_prefix("", "configmaps");
    let config = WatchCacheConfig { watcher_buffer: 32, ..config() };
    let cache = started(ts.store().clone(), &prefix, config).await;
    let start = cache.revision();
    let mut stalled = cache.watch(&prefix, WatchStart::After(start)).await.unwrap();
    let mut reading = cache.watch(&prefix, WatchStart::After(start)).await.unwrap();

    // Writes in bursts of 8, each read by the reader before the next, so only the stalled watcher falls behind.
    let mut writer = Writer::new(ts.store());
    let mut received = Vec::new();
    for burst in 0..20 {
        for i in 0..8 {
            writer.put(&format!("{prefix}ns/k{i}"), &format!("{burst}")).await;
        }
        received.extend(next_changes(&mut reading, 8).await);
    }
    assert_eq!(received, writer.after(start, &prefix), "the reading watcher got everything");

    let mut drained = Vec::new();
    let error = loop {
        match tokio::time::timeout(WAIT, stalled.next()).await.unwrap() {
            Some(Ok(CacheEvent::Event(event))) => drained.push(Change::of(&event)),
            Some(Ok(CacheEvent::Bookmark(_))) => {}
            Some(Err(error)) => break error,
            other => panic!("expected the stalled watcher to be closed, got {other:?}"),
        }
    };
    assert_eq!(error, CacheError::WatcherTooSlow);
    assert!(drained.len() <= 32, "a closed watcher yields only what it had queued: {}", drained.len());
    assert_eq!(drained, writer.after(start, &prefix)[..drained.len()], "what it had queued came in order");
    assert!(stalled.next().await.is_none(), "the watch ends after its error");
}

async fn lists_and_watches_of_a_namespace_see_only_that_namespace(kind: BackendKind) {
    let ts = TestStore::isolated(kind).await;
    let prefix = ts.keys().resource_prefix("apps", "deployments");
    let ns1 = ts.keys().namespace_prefix("apps", "deployments", "ns1");
    let mut writer = Writer::new(ts.store());
    for name in ["ns1/a", "ns10/a", "ns2/a", "ns1/b"] {
        writer.put(&format!("{prefix}{name}"), name).await;
    }
    let cache = started(ts.store().clone(), &prefix, config()).await;

    let list = cache.list(&ns1, 0).await.unwrap();
    let names: Vec<_> = list.items.iter().map(|kv| kv.key.strip_prefix(&prefix).unwrap()).collect();
    assert_eq!(names, ["ns1/a", "ns1/b"]);

    let start = cache.revision();
    let mut watch = cache.watch(&ns1, WatchStart::After(start)).await.unwrap();
    let mut initial = cache.watch(&ns1, WatchStart::InitialState).await.unwrap();
    for name in ["ns2/a", "ns10/a", "ns1/a", "ns1/c"] {
        writer.put(&format!("{prefix}{name}"), "changed").await;
    }
    let expected = writer.after(start, &ns1);
    assert_eq!(expected.len(), 2);
    assert_eq!(next_changes(&mut watch, 2).await, expected);
    assert_no_more_changes(&mut watch).await;
    assert_eq!(next_changes(&mut initial, 4).await.len(), 4, "two objects of ns1, then its two changes");
    assert_no_more_changes(&mut initial).await;

    let outside = ts.keys().resource_prefix("apps", "replicasets");
    assert!(matches!(cache.list(&outside, 0).await, Err(CacheError::OutsidePrefix { .. })));
    assert!(matches!(cache.watch(&outside, WatchStart::After(0)).await, Err(CacheError::OutsidePrefix { .. })));
}

async fn a_broken_upstream_watch_resets_watchers_and_the_cache_recovers(kind: BackendKind) {
    let ts = TestStore::dedicated(kind).await;
    let prefix = ts.keys().resource_prefix("", "configmaps");
    let cutter = Arc::new(CompactingCutter::new(ts.store().clone()));
    let cache = started(cutter.clone(), &prefix, config()).await;
    let mut writer = Writer::new(ts.store());
    let before = writer.put(&format!("{prefix}ns/a"), "1").await;
    let mut watch = cache.watch(&prefix, WatchStart::After(before)).await.unwrap();
    writer.put(&format!("{prefix}ns/a"), "2").await;
    writer.put(&format!("{prefix}ns/a"), "3").await;
    assert_eq!(next_changes(&mut watch, 2).await, writer.after(before, &prefix));

    // Compacts past `before + 1`, which a watch after `before` would need.
    cutter.compact_and_cut().await;
    assert_eq!(next_non_bookmark(&mut watch).await, Some(Err(CacheError::CacheReset)));
    assert!(watch.next().await.is_none(), "the watch ends after its error");

    tokio::time::timeout(WAIT, cache.ready()).await.expect("the cache re-listed");
    let after_reset = writer.put(&format!("{prefix}ns/b"), "1").await;
    let list = cache.list(&prefix, after_reset).await.unwrap();
    assert_eq!(owned(&list.items), store_list(ts.store(), &prefix, list.revision).await);
    assert_eq!(list.items.len(), 2);

    let mut again = cache.watch(&prefix, WatchStart::After(after_reset)).await.unwrap();
    assert!(!again.is_delegated(), "the recovered cache serves watches itself");
    writer.delete(&format!("{prefix}ns/a")).await;
    assert_eq!(next_changes(&mut again, 1).await, writer.after(after_reset, &prefix));

    let mut too_old = cache.watch(&prefix, WatchStart::After(before)).await.unwrap();
    let item = next_non_bookmark(&mut too_old).await;
    assert!(
        matches!(item, Some(Err(CacheError::Store(StoreError::Compacted { .. })))),
        "history lost to the compaction is reported: {item:?}"
    );
}

async fn dropping_the_last_handle_stops_the_cache_and_ends_its_watches(kind: BackendKind) {
    let ts = TestStore::isolated(kind).await;
    let prefix = ts.keys().resource_prefix("", "configmaps");
    let cache = started(ts.store().clone(), &prefix, config()).await;
    let other_handle = cache.clone();
    let mut watch = cache.watch(&prefix, WatchStart::After(0)).await.unwrap();
    drop(cache);
    let created = ts.store().create(&format!("{prefix}ns/a"), bytes("a")).await.unwrap();
    assert_eq!(next_changes(&mut watch, 1).await[0].revision, created, "a remaining handle keeps the cache going");
    drop(other_handle);
    assert_eq!(next_non_bookmark(&mut watch).await, Some(Err(CacheError::Stopped)));
}

/// etcd only: a real outage breaks the cache's upstream watch; the cache resets its watchers and comes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_etcd_restart_resets_watchers_and_the_cache_recovers() {
    let mut ts = TestStore::dedicated(BackendKind::Etcd).await;
    let prefix = ts.keys().resource_prefix("", "configmaps");
    let cache = started(ts.store().clone(), &prefix, config()).await;
    let mut writer = Writer::new(ts.store());
    let first = writer.put(&format!("{prefix}ns/a"), "1").await;
    let mut watch = cache.watch(&prefix, WatchStart::After(first)).await.unwrap();

    ts.etcd_process().kill();
    assert_eq!(next_non_bookmark(&mut watch).await, Some(Err(CacheError::CacheReset)));
    assert!(!cache.is_ready(), "the cache is not ready while etcd is down");
    ts.etcd_process().restart().await;

    tokio::time::timeout(Duration::from_secs(30), cache.ready()).await.expect("the cache came back after etcd did");
    let start = cache.revision();
    let mut again = cache.watch(&prefix, WatchStart::After(start)).await.unwrap();
    writer.put(&format!("{prefix}ns/a"), "2").await;
    assert_eq!(next_changes(&mut again, 1).await, writer.after(start, &prefix));
    let list = cache.list(&prefix, writer.changes.last().unwrap().revision).await.unwrap();
    assert_eq!(owned(&list.items), store_list(ts.store(), &prefix, list.revision).await);
}

/// A real store whose watches can be broken on demand the way compaction breaks a lagging watch: the store is
/// compacted to its current revision and every open watch ends with `Compacted`.
struct CompactingCutter {
    inner: SharedStore,
    cuts: tokio::sync::watch::Sender<u64>,
}

impl CompactingCutter {
    fn new(inner: SharedStore) -> Self {
        Self { inner, cuts: tokio::sync::watch::channel(0).0 }
    }

    async fn compact_and_cut(&self) {
        let current = self.inner.current_revision().await.unwrap();
        self.inner.compact(current).await.unwrap();
        self.cuts.send_modify(|cuts| *cuts += 1);
    }
}

#[async_trait]
impl Store for CompactingCutter {
    async fn get(&self, key: &str) -> Result<Option<KeyValue>, StoreError> {
        self.inner.get(key).await
    }
    async fn list(&self, request: ListRequest) -> Result<ListResponse, StoreError> {
        self.inner.list(request).await
    }
    async fn create(&self, key: &str, value: Bytes) -> Result<Revision, StoreError> {
        self.inner.create(key, value).await
    }
    async fn update(&self, key: &str, value: Bytes, expected: Revision) -> Result<Revision, StoreError> {
        self.inner.update(key, value, expected).await
    }
    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<Deleted, StoreError> {
        self.inner.delete(key, expected).await
    }
    async fn current_revision(&self) -> Result<Revision, StoreError> {
        self.inner.current_revision().await
    }
    async fn compact(&self, revision: Revision) -> Result<(), StoreError> {
        self.inner.compact(revision).await
    }
    async fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream, StoreError> {
        let stream = self.inner.watch(prefix, after).await?;
        let mut cuts = self.cuts.subscribe();
        cuts.mark_unchanged();
        let cut = async move {
            let _ = cuts.changed().await;
        };
        let inner = self.inner.clone();
        let compacted = futures::stream::once(async move {
            let current = inner.current_revision().await.unwrap_or(after);
            Err(StoreError::Compacted { requested: after + 1, compacted: current })
        });
        Ok(Box::pin(stream.take_until(cut).chain(compacted)))
    }
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }
}
