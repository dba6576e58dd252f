//! Compacted history: expired continue tokens and watches.

use std::time::{Duration, Instant};

use crate::support::{BackendKind, flotilla_binary};
use flotilla_testkit::{etcd::EtcdProcess, server::ApiServer};
use serde_json::json;

use crate::client::*;

pub(crate) async fn compacted_history_expires_continue_tokens_and_watches(kind: BackendKind) {
    // Compaction is store-wide, so on etcd this server gets an etcd of its own.
    let etcd = match kind {
        BackendKind::Etcd => Some(EtcdProcess::start().await),
        BackendKind::Embedded => None,
    };
    let compacting = ["--compaction-interval", "1s"];
    let mut server = match &etcd {
        Some(etcd) => ApiServer::start_on_etcd(flotilla_binary(), &etcd.endpoint(), &compacting).await,
        None => ApiServer::start_with(flotilla_binary(), kind, &compacting).await,
    };
    let wire = Wire::new(&server).await;
    wire.namespace("history").await;
    let cms = "/api/v1/namespaces/history/configmaps";
    for name in ["c-1", "c-2", "c-3", "c-4"] {
        wire.post(cms, &configmap(name, json!({}), json!({}))).await.expect(201);
    }
    let first = wire.get(&format!("{cms}?limit=2")).await.expect(200);
    let (token, old) = (continue_token(&first), rv(&first));

    // History moves on and the compactor removes the first page's revision and the next one: a list at either is
    // 410, and so is the first page's continue token, which comes back with a fresh one.
    for name in ["b-later-1", "b-later-2"] {
        wire.post(cms, &configmap(name, json!({}), json!({}))).await.expect(201);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let exact = |revision: u64| format!("{cms}?resourceVersion={revision}&resourceVersionMatch=Exact");
    let expired = loop {
        let reply = wire.get(&exact(old + 1)).await;
        if reply.code != 200 {
            break reply;
        }
        assert!(Instant::now() < deadline, "revision {} was not compacted within 30 s", old + 1);
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    for reply in [expired, wire.get(&exact(old)).await] {
        let message = failure(&reply, 410, "Expired")["message"].as_str().unwrap_or_default().to_string();
        assert_eq!(message, "The resourceVersion for the provided list is too old.");
    }
    let status = failure(&wire.get(&format!("{cms}?limit=2&continue={token}")).await, 410, "Expired");
    let message = status["message"].as_str().unwrap_or_default();
    assert!(message.contains("too old to display a consistent list result"), "{message}");
    let fresh = continue_token(&status);
    assert_ne!(fresh, token);
    let rest = wire.get(&format!("{cms}?limit=2&continue={fresh}")).await.expect(200);
    assert_eq!(names(&rest), ["c-3", "c-4"], "the fresh token continues after the last key served");
    assert!(rv(&rest) > old + 1, "{rest}");

    // After a restart the watch caches start at the current revision; a watch from the compacted one gets
    // HTTP 200, then one ERROR event carrying a 410 Expired Status, then the end of the stream.
    server.halt();
    server.resume().await;
    let wire = Wire::new(&server).await;
    let mut watch = wire.watch(&format!("{cms}?watch=true&resourceVersion={old}"), JSON).await;
    let event = watch.event().await;
    assert_eq!(event["type"], "ERROR", "{event}");
    let status = &event["object"];
    assert_eq!(
        (&status["kind"], &status["apiVersion"], &status["status"]),
        (&json!("Status"), &json!("v1"), &json!("Failure"))
    );
    assert_eq!((&status["code"], &status["reason"]), (&json!(410), &json!("Expired")), "{status}");
    assert!(status["message"].as_str().unwrap_or_default().contains("too old resource version"), "{status}");
    assert!(matches!(watch.next(PROMPTLY).await, Next::End), "the watch ends after its ERROR event");
    drop(etcd);
}

// ---------------------------------------------------------------------------------------------------------------
// 4b. Watch.
