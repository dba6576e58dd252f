//! Tests of the embedded store's tricky parts: group checks, compaction, reopening, watch catch-up and progress.

use std::{sync::Arc, time::Duration};

use bytes::Bytes;
use futures::StreamExt;
use tempfile::TempDir;

use super::{
    EmbeddedOptions, EmbeddedStore,
    record::{DecodeError, Record},
    state::State,
    writer::{Outcome, WriteOp, plan_writes},
};
use crate::storage::{
    Deleted, Event, EventKind, KeyValue, ListRequest, Revision, Store, StoreError, WatchMessage, WatchStream,
};

fn value(text: &str) -> Bytes {
    Bytes::copy_from_slice(text.as_bytes())
}

fn kv(key: &str, text: &str, create_revision: Revision, mod_revision: Revision) -> KeyValue {
    KeyValue { key: key.into(), value: value(text), create_revision, mod_revision }
}

async fn open(dir: &TempDir) -> EmbeddedStore {
    open_with(EmbeddedOptions::new(dir.path())).await
}

async fn open_with(options: EmbeddedOptions) -> EmbeddedStore {
    match EmbeddedStore::open(options).await {
        Ok(store) => store,
        Err(error) => panic!("opening the store failed: {error}"),
    }
}

fn temp_dir() -> TempDir {
    tempfile::tempdir().expect("a temporary directory")
}

/// The next message, failing the test if none comes within five seconds.
async fn next(watch: &mut WatchStream) -> Result<WatchMessage, StoreError> {
    match tokio::time::timeout(Duration::from_secs(5), watch.next()).await {
        Ok(Some(message)) => message,
        Ok(None) => panic!("the watch ended"),
        Err(_) => panic!("no watch message within five seconds"),
    }
}

/// Whether the watch stays silent for a short while.
async fn stays_silent(watch: &mut WatchStream) -> bool {
    tokio::time::timeout(Duration::from_millis(150), watch.next()).await.is_err()
}

/// Events from the watch until one at `last` (progress messages are skipped).
async fn events_until(watch: &mut WatchStream, last: Revision) -> Vec<Event> {
    let mut events: Vec<Event> = Vec::new();
    while events.last().is_none_or(|event| event.revision() < last) {
        match next(watch).await {
            Ok(WatchMessage::Events(batch)) => events.extend(batch),
            Ok(WatchMessage::Progress(_)) => {}
            Err(error) => panic!("the watch failed: {error}"),
        }
    }
    events
}

fn list_all(prefix: &str, revision: Revision) -> ListRequest {
    ListRequest { prefix: prefix.into(), revision, ..ListRequest::default() }
}

#[test]
fn writes_in_one_group_see_the_effects_of_earlier_writes_in_the_group() {
    let mut state = State::new(0, 0);
    state.insert(Arc::new(Record::put("a".into(), value("a1"), 2, 2, 0)));
    let ops = [
        WriteOp::Create { key: "b".into(), value: value("b1") },
        WriteOp::Create { key: "b".into(), value: value("b-again") },
        WriteOp::Update { key: "b".into(), value: value("b2"), expected: 3 },
        WriteOp::Delete { key: "a".into(), expected: Some(2) },
        WriteOp::Create { key: "a".into(), value: value("a-new") },
        WriteOp::Update { key: "a".into(), value: value("stale"), expected: 2 },
        WriteOp::Delete { key: "c".into(), expected: None },
        WriteOp::Update { key: "b".into(), value: value("b3"), expected: 4 },
    ];
    let plans = plan_writes(&state, &ops);
    let outcomes: Vec<_> = plans.iter().map(|plan| plan.clone().map(|plan| plan.outcome)).collect();
    assert_eq!(
        outcomes,
        vec![
            Ok(Outcome::Written(3)),
            Err(StoreError::AlreadyExists { key: "b".into() }),
            Ok(Outcome::Written(4)),
            Ok(Outcome::Deleted(Deleted { prev: kv("a", "a1", 2, 2), revision: 5 })),
            Ok(Outcome::Written(6)),
            Err(StoreError::Conflict { key: "a".into(), current_revision: 6 }),
            Err(StoreError::NotFound { key: "c".into() }),
            Ok(Outcome::Written(7)),
        ]
    );
    let records: Vec<&Record> = plans.iter().filter_map(|plan| plan.as_ref().ok()).map(|p| &*p.record).collect();
    assert_eq!(*records[1], Record::put("b".into(), value("b2"), 4, 3, 3));
    assert_eq!(*records[2], Record::tombstone("a".into(), 5, 2));
    assert_eq!(*records[3], Record::put("a".into(), value("a-new"), 6, 6, 0));
    assert_eq!(*records[4], Record::put("b".into(), value("b3"), 7, 3, 4));
}

#[test]
fn a_row_decodes_to_the_record_it_was_encoded_from() {
    let put = Record::put("/registry/x".into(), value("{\"a\":1}"), 9, 4, 7);
    assert_eq!(Record::decode(9, &put.encode()), Ok(put));
    let tombstone = Record::tombstone("/registry/ünï".into(), 12, 9);
    assert_eq!(Record::decode(12, &tombstone.encode()), Ok(tombstone));
}

#[test]
fn a_damaged_or_unknown_row_is_rejected() {
    let mut row = Record::put("k".into(), value("v"), 3, 3, 0).encode();
    assert_eq!(Record::decode(3, &row[..10]), Err(DecodeError::Truncated(10)));
    row[0] = 99;
    assert_eq!(Record::decode(3, &row), Err(DecodeError::UnknownVersion(99)));
}

#[tokio::test]
async fn a_fresh_store_is_at_revision_one_and_the_first_write_gets_revision_two() {
    let dir = temp_dir();
    let store = open(&dir).await;
    assert_eq!(store.backend(), "embedded");
    assert_eq!(store.current_revision().await, Ok(1));
    let listed = store.list(list_all("", 0)).await.expect("list");
    assert_eq!((listed.items.len(), listed.revision), (0, 1));
    assert_eq!(store.create("/a", value("1")).await, Ok(2));
    assert_eq!(store.get("/a").await, Ok(Some(kv("/a", "1", 2, 2))));
}

#[tokio::test]
async fn stale_updates_and_deletes_are_conflicts_and_missing_keys_are_not_found() {
    let dir = temp_dir();
    let store = open(&dir).await;
    let created = store.create("/k", value("1")).await.expect("create");
    let updated = store.update("/k", value("2"), created).await.expect("update");
    let conflict = StoreError::Conflict { key: "/k".into(), current_revision: updated };
    assert_eq!(store.update("/k", value("3"), created).await, Err(conflict.clone()));
    assert_eq!(store.delete("/k", Some(created)).await, Err(conflict));
    assert_eq!(store.create("/k", value("x")).await, Err(StoreError::AlreadyExists { key: "/k".into() }));
    let deleted = store.delete("/k", Some(updated)).await.expect("delete");
    assert_eq!(deleted, Deleted { prev: kv("/k", "2", created, updated), revision: updated + 1 });
    assert_eq!(store.update("/k", value("4"), updated).await, Err(StoreError::NotFound { key: "/k".into() }));
    assert_eq!(store.delete("/k", None).await, Err(StoreError::NotFound { key: "/k".into() }));
    assert_eq!(store.current_revision().await, Ok(updated + 1), "failed writes consume no revision");
}

#[tokio::test]
async fn concurrent_creates_of_one_key_have_exactly_one_winner() {
    let dir = temp_dir();
    let store = open(&dir).await;
    let tasks: Vec<_> = (0..16)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move { store.create("/race", value(&n.to_string())).await })
        })
        .collect();
    let mut won = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(_) => won += 1,
            Err(StoreError::AlreadyExists { .. }) => {}
            Err(error) => panic!("unexpected error {error}"),
        }
    }
    assert_eq!(won, 1);
    assert_eq!(store.current_revision().await, Ok(2));
}

#[tokio::test]
async fn reads_outside_the_retained_history_fail() {
    let dir = temp_dir();
    let store = open(&dir).await;
    store.create("/a", value("1")).await.expect("create");
    assert_eq!(
        store.list(list_all("/", 3)).await.map(|r| r.revision),
        Err(StoreError::FutureRevision { requested: 3, current: 2 })
    );
    assert_eq!(store.compact(3).await, Err(StoreError::FutureRevision { requested: 3, current: 2 }));
    store.compact(2).await.expect("compact");
    assert_eq!(store.compact(2).await, Err(StoreError::Compacted { requested: 2, compacted: 2 }));
    assert_eq!(
        store.list(list_all("/", 1)).await.map(|r| r.revision),
        Err(StoreError::Compacted { requested: 1, compacted: 2 })
    );
}

#[tokio::test]
async fn a_paginated_list_at_a_fixed_revision_ignores_later_writes() {
    let dir = temp_dir();
    let store = open(&dir).await;
    for n in 0..5 {
        store.create(&format!("/p/{n}"), value("v")).await.expect("create");
    }
    store.create("/q/outside", value("v")).await.expect("create");
    let first = store.list(ListRequest { prefix: "/p/".into(), limit: 2, ..ListRequest::default() }).await;
    let first = first.expect("first page");
    assert_eq!((first.items.len(), first.remaining), (2, 3));
    store.delete("/p/3", None).await.expect("delete");
    store.create("/p/21", value("later")).await.expect("create");
    let second =
        ListRequest { prefix: "/p/".into(), revision: first.revision, start_key: first.next_start_key(), limit: 2 };
    let second = store.list(second).await.expect("second page");
    let keys: Vec<_> = second.items.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!((keys, second.remaining, second.revision), (vec!["/p/2", "/p/3"], 1, first.revision));
    let now = store.list(list_all("/p/", 0)).await.expect("list now");
    let keys: Vec<_> = now.items.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(keys, vec!["/p/0", "/p/1", "/p/2", "/p/21", "/p/4"]);
}

/// Writes: k1 2,3; k2 4, deleted 5; k3 6,7; k4 8, deleted 9; k1 10.
async fn compaction_history(store: &EmbeddedStore) {
    let k1 = store.create("/k1", value("a")).await.expect("k1");
    store.update("/k1", value("b"), k1).await.expect("k1 update");
    store.create("/k2", value("a")).await.expect("k2");
    store.delete("/k2", None).await.expect("k2 delete");
    let k3 = store.create("/k3", value("a")).await.expect("k3");
    store.update("/k3", value("b"), k3).await.expect("k3 update");
    store.create("/k4", value("a")).await.expect("k4");
    store.delete("/k4", None).await.expect("k4 delete");
    store.update("/k1", value("c"), 3).await.expect("k1 second update");
}

#[tokio::test]
async fn compaction_keeps_each_keys_newest_older_version_and_every_later_row() {
    let dir = temp_dir();
    let store = open(&dir).await;
    compaction_history(&store).await;
    store.compact(7).await.expect("compact");
    // k1@2 is superseded, k2 is gone entirely, k3@6 stays as the previous value of the change at 7.
    assert_eq!(store.inner.state.read().retained_revisions(), vec![3, 6, 7, 8, 9, 10]);
    let at_seven = store.list(list_all("/", 7)).await.expect("list at 7");
    assert_eq!(at_seven.items, vec![kv("/k1", "b", 2, 3), kv("/k3", "b", 6, 7)]);
    assert_eq!(store.get("/k1").await, Ok(Some(kv("/k1", "c", 2, 10))));
    let mut watch = store.watch("/", 6).await.expect("watch");
    let events = events_until(&mut watch, 10).await;
    let revisions: Vec<_> = events.iter().map(Event::revision).collect();
    assert_eq!(revisions, vec![7, 8, 9, 10]);
    assert_eq!(events[0].prev.as_deref(), Some(&kv("/k3", "a", 6, 6)));
    assert_eq!(events[2].kind, EventKind::Deleted);
    assert_eq!(events[3].prev.as_deref(), Some(&kv("/k1", "b", 2, 3)));
    let mut too_old = store.watch("/", 5).await.expect("watch");
    assert_eq!(next(&mut too_old).await, Err(StoreError::Compacted { requested: 6, compacted: 7 }));
    assert!(too_old.next().await.is_none(), "the stream ends after its error");

    // Older than 10, each key keeps only its newest live version (k1@3 is the previous value of the change at 10);
    // the deletion at 9 and k4 go.
    store.compact(10).await.expect("compact again");
    assert_eq!(store.inner.state.read().retained_revisions(), vec![3, 7, 10]);
    drop(store);
    let reopened = open(&dir).await;
    assert_eq!(reopened.inner.state.read().retained_revisions(), vec![3, 7, 10]);
    assert_eq!(reopened.current_revision().await, Ok(10));
    assert_eq!(
        reopened.list(list_all("/", 9)).await.map(|r| r.revision),
        Err(StoreError::Compacted { requested: 9, compacted: 10 })
    );
}

#[tokio::test]
async fn a_deletion_at_the_compaction_revision_is_still_delivered_to_a_watch_starting_there() {
    let dir = temp_dir();
    let store = open(&dir).await;
    let created = store.create("/gone", value("last words")).await.expect("create");
    let deleted = store.delete("/gone", None).await.expect("delete").revision;
    store.compact(deleted).await.expect("compact");
    assert_eq!(store.list(list_all("/", deleted)).await.map(|r| r.items), Ok(vec![]));
    let mut watch = store.watch("/", deleted - 1).await.expect("watch");
    let events = events_until(&mut watch, deleted).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, EventKind::Deleted);
    assert_eq!(events[0].prev.as_deref(), Some(&kv("/gone", "last words", created, created)));
}

#[tokio::test]
async fn reopening_rebuilds_the_same_state() {
    let dir = temp_dir();
    let store = open(&dir).await;
    for round in 0..4 {
        for n in 0..12 {
            let key = format!("/r/{n}");
            match store.get(&key).await.expect("get") {
                None => store.create(&key, value(&format!("{round}"))).await.map(|_| ()),
                Some(_) if (n + round) % 3 == 0 => store.delete(&key, None).await.map(|_| ()),
                Some(current) => store.update(&key, value(&format!("{round}")), current.mod_revision).await.map(|_| ()),
            }
            .expect("write");
        }
        if round == 1 {
            let middle = store.current_revision().await.expect("revision") - 5;
            store.compact(middle).await.expect("compact");
        }
    }
    let snapshot = |store: &EmbeddedStore| {
        let state = store.inner.state.read();
        let (current, compacted) = (state.current(), state.compacted());
        let lists: Vec<_> = (compacted..=current).map(|rev| state.list(&list_all("/", rev))).collect();
        (current, compacted, state.retained_revisions(), lists)
    };
    let before = snapshot(&store);
    drop(store);
    let reopened = open(&dir).await;
    assert_eq!(snapshot(&reopened), before);
    let next_revision = reopened.create("/after-reopen", value("x")).await.expect("create");
    assert_eq!(next_revision, before.0 + 1);
}

#[tokio::test]
async fn a_second_open_of_an_open_directory_fails_naming_the_path() {
    let dir = temp_dir();
    let store = open(&dir).await;
    match EmbeddedStore::open(EmbeddedOptions::new(dir.path())).await {
        Err(StoreError::Unavailable(message)) => {
            assert!(message.contains(&dir.path().display().to_string()), "{message}");
        }
        other => panic!("expected Unavailable, got {:?}", other.map(|_| ())),
    }
    drop(store);
    let reopened = open(&dir).await;
    assert_eq!(reopened.current_revision().await, Ok(1));
}

#[tokio::test]
async fn opening_creates_missing_parent_directories() {
    let dir = temp_dir();
    let store = open_with(EmbeddedOptions::new(dir.path().join("a/b/c"))).await;
    assert_eq!(store.create("/x", value("1")).await, Ok(2));
}

#[tokio::test]
async fn a_watch_delivers_every_change_once_in_order_with_previous_values() {
    let dir = temp_dir();
    let store = open(&dir).await;
    let mut watch = store.watch("/w/", 1).await.expect("watch");
    let writers: Vec<_> = (0..8)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move {
                let key = format!("/w/{n}");
                let created = store.create(&key, value("1")).await?;
                let updated = store.update(&key, value("2"), created).await?;
                store.create(&format!("/other/{n}"), value("x")).await?;
                store.delete(&key, Some(updated)).await.map(|_| ())
            })
        })
        .collect();
    for writer in writers {
        writer.await.expect("task").expect("writes");
    }
    let last = store.current_revision().await.expect("revision");
    let mut events = Vec::new();
    let mut seen = 1;
    while seen < last {
        match next(&mut watch).await {
            Ok(WatchMessage::Events(batch)) => {
                seen = batch.last().map_or(seen, Event::revision);
                events.extend(batch);
            }
            Ok(WatchMessage::Progress(revision)) => seen = revision,
            Err(error) => panic!("watch failed: {error}"),
        }
    }
    assert_eq!(events.len(), 24);
    assert!(events.windows(2).all(|pair| pair[0].revision() < pair[1].revision()), "strictly increasing");
    for event in &events {
        match event.kind {
            EventKind::Created => assert_eq!(event.prev, None),
            EventKind::Updated => {
                let prev = event.prev.as_deref().expect("prev of an update");
                assert_eq!((prev.value.as_ref(), prev.mod_revision), (&b"1"[..], event.kv.create_revision));
            }
            EventKind::Deleted => {
                assert_eq!(event.prev.as_deref().map(|prev| prev.value.as_ref()), Some(&b"2"[..]));
                assert!(event.kv.value.is_empty());
            }
        }
    }
}

#[tokio::test]
async fn a_lagging_watcher_catches_up_from_memory_without_gaps_or_duplicates() {
    let dir = temp_dir();
    let mut options = EmbeddedOptions::new(dir.path());
    options.watch_buffer = 2;
    let store = open_with(options).await;
    let mut watch = store.watch("/", 1).await.expect("watch");
    store.create("/lag/00", value("v")).await.expect("create");
    let mut events = events_until(&mut watch, 2).await;
    // The watcher now follows live batches; it falls far behind its buffer of two.
    for n in 1..50 {
        store.create(&format!("/lag/{n:02}"), value("v")).await.expect("create");
    }
    events.extend(events_until(&mut watch, 51).await);
    let revisions: Vec<_> = events.iter().map(Event::revision).collect();
    assert_eq!(revisions, (2..=51).collect::<Vec<_>>());
    store.create("/lag/live", value("v")).await.expect("create");
    assert_eq!(events_until(&mut watch, 52).await.len(), 1);
}

#[tokio::test]
async fn a_watcher_that_lags_past_a_compaction_ends_with_compacted() {
    let dir = temp_dir();
    let mut options = EmbeddedOptions::new(dir.path());
    options.watch_buffer = 1;
    let store = open_with(options).await;
    let mut watch = store.watch("/", 1).await.expect("watch");
    let mut revision = store.create("/hot", value("0")).await.expect("create");
    assert_eq!(events_until(&mut watch, revision).await.len(), 1);
    for n in 1..10 {
        revision = store.update("/hot", value(&n.to_string()), revision).await.expect("update");
    }
    store.compact(revision).await.expect("compact");
    assert_eq!(next(&mut watch).await, Err(StoreError::Compacted { requested: 3, compacted: revision }));
}

#[tokio::test]
async fn progress_is_reported_once_for_a_run_of_unrelated_writes() {
    let dir = temp_dir();
    let store = open(&dir).await;
    let mut watch = store.watch("/a/", 1).await.expect("watch");
    for n in 0..10 {
        store.create(&format!("/b/{n}"), value("v")).await.expect("create");
    }
    assert_eq!(next(&mut watch).await, Ok(WatchMessage::Progress(11)));
    assert!(stays_silent(&mut watch).await);
    let mine = store.create("/a/mine", value("v")).await.expect("create");
    match next(&mut watch).await {
        Ok(WatchMessage::Events(events)) => assert_eq!(events.iter().map(Event::revision).collect::<Vec<_>>(), [mine]),
        other => panic!("expected the event, got {other:?}"),
    }
    assert!(stays_silent(&mut watch).await, "no progress when the last change was delivered");
    let unrelated = store.create("/b/late", value("v")).await.expect("create");
    assert_eq!(next(&mut watch).await, Ok(WatchMessage::Progress(unrelated)));
}

#[tokio::test]
async fn a_watch_from_the_current_revision_reports_only_new_changes() {
    let dir = temp_dir();
    let store = open(&dir).await;
    store.create("/old", value("v")).await.expect("create");
    let mut watch = store.watch("/", 2).await.expect("watch");
    assert!(stays_silent(&mut watch).await);
    let new = store.create("/new", value("v")).await.expect("create");
    let events = events_until(&mut watch, new).await;
    assert_eq!((events.len(), events[0].kind, events[0].kv.key.as_str()), (1, EventKind::Created, "/new"));
}

#[tokio::test]
async fn closing_the_store_ends_open_watches_with_unavailable() {
    let dir = temp_dir();
    let store = open(&dir).await;
    let mut watch = store.watch("/", 1).await.expect("watch");
    store.create("/x", value("v")).await.expect("create");
    drop(store);
    assert_eq!(events_until(&mut watch, 2).await.len(), 1, "committed changes are still delivered");
    assert!(matches!(next(&mut watch).await, Err(StoreError::Unavailable(_))));
    let reopened = open(&dir).await;
    assert_eq!(reopened.current_revision().await, Ok(2));
}

fn in_memory() -> EmbeddedStore {
    EmbeddedStore::in_memory().unwrap_or_else(|error| panic!("an in-memory store starts: {error}"))
}

#[tokio::test]
async fn an_in_memory_store_has_the_same_revisions_and_conflicts() {
    let store = in_memory();
    assert_eq!(store.current_revision().await, Ok(1));
    let created = store.create("/k", value("1")).await.expect("create");
    assert_eq!(created, 2);
    let updated = store.update("/k", value("2"), created).await.expect("update");
    assert_eq!(
        store.update("/k", value("3"), created).await,
        Err(StoreError::Conflict { key: "/k".into(), current_revision: updated })
    );
    assert_eq!(store.create("/k", value("x")).await, Err(StoreError::AlreadyExists { key: "/k".into() }));
    assert_eq!(store.get("/k").await, Ok(Some(kv("/k", "2", created, updated))));
    let old = store.list(list_all("/", created)).await.expect("list at the first revision");
    assert_eq!(old.items, vec![kv("/k", "1", 2, 2)]);
}

#[tokio::test]
async fn an_in_memory_store_compacts_and_watches_like_the_file_backed_one() {
    let store = in_memory();
    compaction_history(&store).await;
    store.compact(7).await.expect("compact");
    assert_eq!(store.inner.state.read().retained_revisions(), vec![3, 6, 7, 8, 9, 10]);
    let mut watch = store.watch("/", 6).await.expect("watch");
    let revisions: Vec<_> = events_until(&mut watch, 10).await.iter().map(Event::revision).collect();
    assert_eq!(revisions, vec![7, 8, 9, 10]);
    let mut too_old = store.watch("/", 5).await.expect("watch");
    assert_eq!(next(&mut too_old).await, Err(StoreError::Compacted { requested: 6, compacted: 7 }));
    let live = store.create("/live", value("v")).await.expect("create");
    assert_eq!(events_until(&mut watch, live).await.len(), 1);
}

#[tokio::test]
async fn in_memory_stores_are_independent_and_leave_no_file() {
    let first = in_memory();
    let second = in_memory();
    first.create("/only-in-first", value("v")).await.expect("create");
    assert_eq!(second.get("/only-in-first").await, Ok(None));
    assert_eq!(second.current_revision().await, Ok(1));
    assert!(first.inner.path.is_none(), "no database file");
}
