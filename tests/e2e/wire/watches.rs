//! The watch stream: framing, selectors, timeouts and initial events.

use std::time::{Duration, Instant};

use crate::support::BackendKind;
use serde_json::json;

use crate::client::*;

pub(crate) async fn watches_stream_newline_delimited_events_with_selectors_and_initial_events(kind: BackendKind) {
    let server = start(kind).await;
    let wire = Wire::new(&server).await;
    wire.namespace("watched").await;
    let cms = "/api/v1/namespaces/watched/configmaps";

    // timeoutSeconds ends the stream; it runs while the rest of the test goes on.
    let mut short = wire.watch(&format!("{cms}?watch=true&timeoutSeconds=2"), JSON).await;
    let timed = tokio::spawn(async move {
        let started = Instant::now();
        loop {
            match short.next(Duration::from_secs(20)).await {
                Next::End => return started.elapsed(),
                Next::Quiet => panic!("the timeoutSeconds=2 watch was still open after 20 s"),
                Next::Event(_) => {}
            }
        }
    });

    wire.post(cms, &configmap("w-1", json!({"app": "web"}), json!({}))).await.expect(201);
    let from = rv(&wire.get(cms).await.expect(200));
    let mut everything = wire.watch(&format!("{cms}?watch=true&resourceVersion={from}"), JSON).await;
    let mut web = wire.watch(&format!("{cms}?watch=true&resourceVersion={from}&labelSelector=app%3Dweb"), JSON).await;

    // ADDED, MODIFIED, DELETED, each with the object's kind, apiVersion and the revision of the change.
    let created = wire.post(cms, &configmap("w-2", json!({"app": "db"}), json!({}))).await.expect(201);
    let modified = wire.patch(&format!("{cms}/w-2"), &json!({"data": {"k": "v"}})).await.expect(200);
    wire.delete(&format!("{cms}/w-2"), None).await.expect(200);
    let events = [everything.change().await, everything.change().await, everything.change().await];
    assert_eq!(events.iter().map(summary).collect::<Vec<_>>(), ["ADDED w-2", "MODIFIED w-2", "DELETED w-2"]);
    for event in &events {
        assert_eq!((&event["object"]["kind"], &event["object"]["apiVersion"]), (&json!("ConfigMap"), &json!("v1")));
    }
    assert_eq!((rv(&events[0]["object"]), rv(&events[1]["object"])), (rv(&created), rv(&modified)));
    assert!(rv(&events[2]["object"]) > rv(&modified), "DELETED carries the deletion's revision");

    // A selector watch sees an object leave (DELETED) and come back (ADDED); changes outside it are not sent.
    let w3 = format!("{cms}/w-3");
    wire.post(cms, &configmap("w-3", json!({"app": "web"}), json!({}))).await.expect(201);
    let away = wire.patch(&w3, &json!({"metadata": {"labels": {"app": "db"}}})).await.expect(200);
    wire.patch(&w3, &json!({"data": {"while": "away"}})).await.expect(200);
    let back = wire.patch(&w3, &json!({"metadata": {"labels": {"app": "web"}}})).await.expect(200);
    let added = web.change().await;
    assert_eq!(summary(&added), "ADDED w-3");
    let left = web.change().await;
    assert_eq!(summary(&left), "DELETED w-3");
    assert_eq!(rv(&left["object"]), rv(&away), "DELETED carries the revision of the relabel");
    assert_eq!(left["object"]["metadata"]["labels"]["app"], "web", "DELETED carries the last matching state");
    let returned = web.change().await;
    assert_eq!(summary(&returned), "ADDED w-3");
    assert_eq!((rv(&returned["object"]), &returned["object"]["data"]), (rv(&back), &json!({"while": "away"})));
    assert_eq!(everything.changes(4).await, ["ADDED w-3", "MODIFIED w-3", "MODIFIED w-3", "MODIFIED w-3"]);

    // Watch-list (client-go's WatchListClient, kube-rs streaming lists): the current objects as ADDED events, then a
    // BOOKMARK marking the end of the initial events, then live changes.
    let mut later = 0;
    for resource_version in ["", "&resourceVersion=0"] {
        let query = format!(
            "{cms}?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true\
             {resource_version}"
        );
        let mut initial = wire.watch(&query, JSON).await;
        let mut seen = Vec::new();
        let bookmark = loop {
            let event = initial.event().await;
            match event["type"].as_str() {
                Some("ADDED") => seen.push((name(&event["object"]).to_string(), rv(&event["object"]))),
                Some("BOOKMARK") => break event,
                _ => panic!("{query}: only ADDED events before the initial-events-end bookmark: {event}"),
            }
        };
        seen.sort();
        assert_eq!(seen.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(), ["w-1", "w-3"], "{query}");
        let object = &bookmark["object"];
        assert_eq!((&object["kind"], &object["apiVersion"]), (&json!("ConfigMap"), &json!("v1")), "{bookmark}");
        assert_eq!(object["metadata"]["annotations"]["k8s.io/initial-events-end"], "true", "{bookmark}");
        assert!(seen.iter().all(|(_, revision)| *revision <= rv(object)), "{bookmark} after {seen:?}");
        later += 1;
        let name = format!("later-{later}");
        wire.post(cms, &configmap(&name, json!({}), json!({}))).await.expect(201);
        assert_eq!(summary(&initial.change().await), format!("ADDED {name}"));
        wire.delete(&format!("{cms}/{name}"), None).await.expect(200);
        // Seen on this cache-fed watch, the deletion is in the watch cache, which a `resourceVersion=0` list may serve
        // (any freshness is allowed there): the next round must not list the object again.
        assert_eq!(summary(&initial.change().await), format!("DELETED {name}"));
    }

    // Watch options that cannot work together: 422 before any event.
    for query in ["sendInitialEvents=true", "resourceVersionMatch=NotOlderThan&resourceVersion=0"] {
        let status = failure(&wire.get(&format!("{cms}?watch=true&{query}")).await, 422, "Invalid");
        assert!(causes(&status).iter().any(|(_, field, _)| field == "resourceVersionMatch"), "{query}: {status}");
    }

    let elapsed = timed.await.expect("the timeoutSeconds watch reader");
    assert!(elapsed >= Duration::from_millis(1500) && elapsed < PROMPTLY, "timeoutSeconds=2 ended after {elapsed:?}");
}

// ---------------------------------------------------------------------------------------------------------------
// 5a. Writes.
