//! The etcd test harness and the etcd backend against real etcd processes: outages, TLS, and core semantics.

use std::time::{Duration, Instant};

use bytes::Bytes;
use flotilla_apiserver::storage::{
    EtcdOptions, EtcdStore, EtcdTls, Event, EventKind, ListRequest, Store, StoreError, WatchMessage, WatchStream,
};
use flotilla_testkit::etcd::{EtcdProcess, shared_etcd};
use futures::StreamExt;

/// Outages must be reported well before this (the request timeout is 5 s).
const UNAVAILABLE_WITHIN: Duration = Duration::from_secs(10);

async fn store_for(etcd: &EtcdProcess) -> EtcdStore {
    EtcdStore::connect(etcd.options()).await.unwrap_or_else(|e| panic!("connecting to {}: {e}", etcd.endpoint()))
}

fn value(text: &str) -> Bytes {
    Bytes::copy_from_slice(text.as_bytes())
}

/// The next message of `watch`, failing the test after 10 s.
async fn next(watch: &mut WatchStream) -> Option<Result<WatchMessage, StoreError>> {
    tokio::time::timeout(Duration::from_secs(10), watch.next()).await.expect("a watch message within 10 s")
}

/// The next `count` events of `watch`, skipping progress notifications.
async fn events(watch: &mut WatchStream, count: usize) -> Vec<Event> {
    let mut events = Vec::new();
    while events.len() < count {
        match next(watch).await {
            Some(Ok(WatchMessage::Events(batch))) => events.extend(batch),
            Some(Ok(WatchMessage::Progress(_))) => {}
            other => panic!("expected events, got {other:?}"),
        }
    }
    assert_eq!(events.len(), count, "more events than expected: {events:?}");
    events
}

/// Runs `call` and checks it fails with `Unavailable` within [`UNAVAILABLE_WITHIN`].
async fn assert_unavailable<T>(what: &str, call: impl Future<Output = Result<T, StoreError>>) {
    let started = Instant::now();
    let result = call.await;
    let took = started.elapsed();
    match result {
        Err(StoreError::Unavailable(_)) => {}
        Err(other) => panic!("{what}: expected Unavailable, got {other:?}"),
        Ok(_) => panic!("{what}: expected Unavailable, but it succeeded"),
    }
    assert!(took < UNAVAILABLE_WITHIN, "{what} took {took:?} to report the outage");
}

#[tokio::test]
async fn the_shared_etcd_is_one_process_that_answers_reads_and_writes() {
    let etcd = shared_etcd().await;
    assert!(std::ptr::eq(etcd, shared_etcd().await), "every caller gets the same etcd");
    let store = store_for(etcd).await;
    let revision = store.create("/harness/shared/a", value("one")).await.expect("create");
    let stored = store.get("/harness/shared/a").await.expect("get").expect("the key exists");
    assert_eq!((stored.value, stored.mod_revision, stored.create_revision), (value("one"), revision, revision));
    assert!(store.current_revision().await.expect("current revision") >= revision);
    assert_eq!(store.backend(), "etcd");
}

#[tokio::test]
async fn a_killed_etcd_is_unavailable_within_the_timeout_and_the_same_store_works_after_a_restart() {
    let mut etcd = EtcdProcess::start().await;
    let store = store_for(&etcd).await;
    let written = store.create("/harness/outage/kept", value("durable")).await.expect("create");
    let mut watch = store.watch("/harness/outage/", written).await.expect("watch");

    etcd.kill();
    assert_unavailable("get", store.get("/harness/outage/kept")).await;
    assert_unavailable("create", store.create("/harness/outage/new", value("x"))).await;
    assert_unavailable("list", store.list(ListRequest { prefix: "/harness/outage/".into(), ..Default::default() }))
        .await;
    assert_unavailable("watch", store.watch("/harness/outage/", written)).await;
    let started = Instant::now();
    loop {
        match next(&mut watch).await {
            Some(Ok(WatchMessage::Progress(_))) => continue,
            Some(Err(StoreError::Unavailable(_))) => break,
            other => panic!("a watch on a killed etcd must end with Unavailable, got {other:?}"),
        }
    }
    assert!(started.elapsed() < UNAVAILABLE_WITHIN, "the watch noticed the outage after {:?}", started.elapsed());
    assert!(next(&mut watch).await.is_none(), "a watch ends after its error");

    etcd.restart().await;
    let kept = store.get("/harness/outage/kept").await.expect("get after restart").expect("the write survived");
    assert_eq!((kept.value, kept.mod_revision), (value("durable"), written));
    let mut watch = store.watch("/harness/outage/", written).await.expect("watch after restart");
    let revision = store.create("/harness/outage/new", value("after")).await.expect("create after restart");
    let seen = events(&mut watch, 1).await;
    assert_eq!((seen[0].kind, seen[0].revision()), (EventKind::Created, revision));
}

#[tokio::test]
async fn a_tls_etcd_serves_a_client_with_a_certificate_and_refuses_one_without() {
    let etcd = EtcdProcess::start_tls().await;
    assert!(etcd.endpoint().starts_with("https://127.0.0.1:"), "{}", etcd.endpoint());
    let store = store_for(&etcd).await;
    let revision = store.create("/harness/tls/a", value("secret")).await.expect("create over TLS");
    assert_eq!(store.get("/harness/tls/a").await.expect("get").map(|kv| kv.mod_revision), Some(revision));

    let ca_only = etcd.client_tls().map(|tls| EtcdTls { cert_file: None, key_file: None, ..tls });
    let options = EtcdOptions { tls: ca_only, ..etcd.options() };
    assert_unavailable("connect without a client certificate", EtcdStore::connect(options)).await;
}

#[tokio::test]
async fn connecting_where_no_etcd_listens_is_unavailable_and_names_the_endpoint() {
    let endpoint = format!("http://127.0.0.1:{}", flotilla_testkit::ports::free_port());
    let options = EtcdOptions { endpoints: vec![endpoint.clone()], tls: None, request_timeout: Duration::from_secs(1) };
    let started = Instant::now();
    let result = EtcdStore::connect(options).await;
    assert!(started.elapsed() < Duration::from_secs(3), "connect took {:?}", started.elapsed());
    match result {
        Err(StoreError::Unavailable(message)) => assert!(message.contains(&endpoint), "{message}"),
        Err(other) => panic!("expected Unavailable, got {other:?}"),
        Ok(_) => panic!("connected to an endpoint where nothing listens"),
    }
}

#[tokio::test]
async fn create_is_only_if_absent_and_update_and_delete_compare_the_revision() {
    let store = store_for(shared_etcd().await).await;
    let key = "/harness/cas/a";
    let created = store.create(key, value("1")).await.expect("create");
    let again = store.create(key, value("2")).await;
    assert_eq!(again, Err(StoreError::AlreadyExists { key: key.into() }));

    let updated = store.update(key, value("2"), created).await.expect("update at the current revision");
    assert!(updated > created);
    let stale = store.update(key, value("3"), created).await;
    assert_eq!(stale, Err(StoreError::Conflict { key: key.into(), current_revision: updated }));
    let missing = store.update("/harness/cas/missing", value("3"), 0).await;
    assert_eq!(missing, Err(StoreError::NotFound { key: "/harness/cas/missing".into() }));
    let existing_at_zero = store.update(key, value("3"), 0).await;
    assert_eq!(existing_at_zero, Err(StoreError::Conflict { key: key.into(), current_revision: updated }));

    let stale_delete = store.delete(key, Some(created)).await;
    assert_eq!(stale_delete, Err(StoreError::Conflict { key: key.into(), current_revision: updated }));
    let deleted = store.delete(key, Some(updated)).await.expect("delete at the current revision");
    assert_eq!((deleted.prev.value, deleted.prev.mod_revision), (value("2"), updated));
    assert!(deleted.revision > updated);
    assert_eq!(store.delete(key, None).await, Err(StoreError::NotFound { key: key.into() }));
    assert_eq!(store.get(key).await, Ok(None));

    let recreated = store.create(key, value("again")).await.expect("create after delete");
    let unconditional = store.delete(key, None).await.expect("unconditional delete");
    assert_eq!(unconditional.prev.create_revision, recreated);
}

#[tokio::test]
async fn a_list_pages_through_a_prefix_at_one_revision() {
    let store = store_for(shared_etcd().await).await;
    for name in ["a", "b", "c", "d", "e"] {
        store.create(&format!("/harness/list/{name}"), value(name)).await.expect("create");
    }
    store.create("/harness/listx", value("outside the prefix")).await.expect("create");
    let first = store
        .list(ListRequest { prefix: "/harness/list/".into(), limit: 2, ..Default::default() })
        .await
        .expect("first page");
    assert_eq!(
        first.items.iter().map(|kv| kv.key.as_str()).collect::<Vec<_>>(),
        ["/harness/list/a", "/harness/list/b"]
    );
    assert_eq!(first.remaining, 3);

    store.create("/harness/list/bb", value("written after the first page")).await.expect("create");
    let mut keys: Vec<String> = first.items.iter().map(|kv| kv.key.clone()).collect();
    let mut page = first.clone();
    while let Some(start_key) = page.next_start_key() {
        page = store
            .list(ListRequest {
                prefix: "/harness/list/".into(),
                revision: first.revision,
                start_key: Some(start_key),
                limit: 2,
            })
            .await
            .expect("next page");
        assert_eq!(page.revision, first.revision, "later pages are served at the first page's revision");
        keys.extend(page.items.iter().map(|kv| kv.key.clone()));
    }
    assert_eq!(keys, ["a", "b", "c", "d", "e"].map(|name| format!("/harness/list/{name}")));

    let latest = store.list(ListRequest { prefix: "/harness/list/".into(), ..Default::default() }).await.expect("list");
    assert_eq!((latest.items.len(), latest.remaining), (6, 0));
    assert!(latest.revision > first.revision);
    let future = store
        .list(ListRequest { prefix: "/harness/list/".into(), revision: latest.revision + 1000, ..Default::default() })
        .await;
    assert!(
        matches!(future, Err(StoreError::FutureRevision { requested, current }) if requested == latest.revision + 1000 && current >= latest.revision),
        "{future:?}"
    );
}

#[tokio::test]
async fn a_watch_delivers_every_change_in_order_with_previous_values_and_reports_progress() {
    let store = store_for(shared_etcd().await).await;
    let key = "/harness/watch/a";
    let created = store.create(key, value("1")).await.expect("create");
    let updated = store.update(key, value("2"), created).await.expect("update");
    store.create("/harness/watchx", value("outside the prefix")).await.expect("create");
    let deleted = store.delete(key, Some(updated)).await.expect("delete");

    let mut watch = store.watch("/harness/watch/", created - 1).await.expect("watch");
    let seen = events(&mut watch, 3).await;
    assert_eq!(
        seen.iter().map(|e| (e.kind, e.revision())).collect::<Vec<_>>(),
        [(EventKind::Created, created), (EventKind::Updated, updated), (EventKind::Deleted, deleted.revision)]
    );
    assert_eq!(seen[0].prev, None);
    assert_eq!(seen[1].prev.as_ref().map(|kv| kv.value.clone()), Some(value("1")));
    assert_eq!(seen[2].prev.as_ref().map(|kv| (kv.value.clone(), kv.mod_revision)), Some((value("2"), updated)));
    assert_eq!((seen[2].kv.key.as_str(), seen[2].kv.value.is_empty()), (key, true));

    // Nothing more changes under the prefix: etcd's progress notifications (every second here) say so.
    let progress = match next(&mut watch).await {
        Some(Ok(WatchMessage::Progress(revision))) => revision,
        other => panic!("expected progress, got {other:?}"),
    };
    assert!(progress >= deleted.revision, "progress {progress} before the last delivered change");
}

#[tokio::test]
async fn compacted_history_is_refused_to_reads_watches_and_compactions() {
    let etcd = EtcdProcess::start().await;
    let store = store_for(&etcd).await;
    let first = store.create("/harness/compact/a", value("1")).await.expect("create");
    let second = store.update("/harness/compact/a", value("2"), first).await.expect("update");
    let third = store.update("/harness/compact/a", value("3"), second).await.expect("update");
    store.compact(second).await.expect("compact");

    let old =
        store.list(ListRequest { prefix: "/harness/compact/".into(), revision: first, ..Default::default() }).await;
    assert_eq!(old, Err(StoreError::Compacted { requested: first, compacted: second }));
    let kept = store
        .list(ListRequest { prefix: "/harness/compact/".into(), revision: second, ..Default::default() })
        .await
        .expect("the compacted revision itself stays readable");
    assert_eq!(kept.items[0].value, value("2"));

    let mut watch = store.watch("/harness/compact/", first - 1).await.expect("watch");
    assert_eq!(next(&mut watch).await, Some(Err(StoreError::Compacted { requested: first, compacted: second })));
    assert_eq!(next(&mut watch).await, None, "a compacted watch ends");
    let mut from_compacted = store.watch("/harness/compact/", second - 1).await.expect("watch");
    let seen = events(&mut from_compacted, 2).await;
    assert_eq!(seen.iter().map(Event::revision).collect::<Vec<_>>(), [second, third]);

    assert_eq!(store.compact(second).await, Err(StoreError::Compacted { requested: second, compacted: second }));
    let current = store.current_revision().await.expect("current revision");
    assert_eq!(store.compact(current + 10).await, Err(StoreError::FutureRevision { requested: current + 10, current }));
}

#[tokio::test]
async fn lists_and_watch_replays_larger_than_four_megabytes_arrive_whole() {
    let store = store_for(shared_etcd().await).await;
    let big = Bytes::from(vec![b'x'; 20 * 1024]);
    let mut first = 0;
    for index in 0..300 {
        let revision = store.create(&format!("/harness/big/{index:04}"), big.clone()).await.expect("create");
        if index == 0 {
            first = revision;
        }
    }
    let all = store.list(ListRequest { prefix: "/harness/big/".into(), ..Default::default() }).await.expect("list");
    assert_eq!(all.items.len(), 300);
    let mut watch = store.watch("/harness/big/", first - 1).await.expect("watch");
    assert_eq!(events(&mut watch, 300).await.len(), 300);
}

#[tokio::test]
async fn a_server_that_never_answers_is_unavailable_after_the_request_timeout() {
    // The kernel completes TCP handshakes for this listener, but nothing ever reads or answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("binding a silent listener");
    let endpoint = format!("http://{}", silent.local_addr().expect("local address"));
    let options = EtcdOptions { endpoints: vec![endpoint], tls: None, request_timeout: Duration::from_secs(1) };
    let started = Instant::now();
    let result = EtcdStore::connect(options).await;
    let took = started.elapsed();
    assert!(matches!(result, Err(StoreError::Unavailable(_))), "expected Unavailable, got {:?}", result.err());
    assert!(took >= Duration::from_millis(900) && took < Duration::from_secs(3), "connect gave up after {took:?}");
}
