//! Aggregated and legacy discovery: negotiation, ETags, completeness.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use crate::support::BackendKind;
use serde_json::json;

use crate::client::*;

pub(crate) async fn aggregated_discovery_is_negotiated_cached_and_complete(kind: BackendKind) {
    let server = start(kind).await;
    let wire = Wire::new(&server).await;
    let clients = [
        ("client-go v0.28", format!("{DISCOVERY_V2BETA1},{JSON}"), DISCOVERY_V2BETA1, "apidiscovery.k8s.io/v2beta1"),
        (
            "client-go v0.32",
            format!("{DISCOVERY_V2},{DISCOVERY_V2BETA1},{JSON}"),
            DISCOVERY_V2,
            "apidiscovery.k8s.io/v2",
        ),
        ("client-go HEAD", format!("{DISCOVERY_V2},{JSON}"), DISCOVERY_V2, "apidiscovery.k8s.io/v2"),
    ];
    let mut etags: BTreeMap<(&str, &str), String> = BTreeMap::new();
    for root in ["/apis", "/api"] {
        for (client, accept, content_type, api_version) in &clients {
            let what = format!("{client}: GET {root}");
            let reply = wire.get_as(root, accept).await;
            let document = reply.expect(200);
            assert_eq!(reply.header("content-type"), *content_type, "{what}");
            assert_eq!(reply.header("vary"), "Accept", "{what}");
            assert_eq!(reply.header("cache-control"), "public", "{what}");
            let etag = reply.header("etag").to_string();
            assert_etag(&etag);
            check_discovery_document(&document, api_version, root == "/api");
            if root == "/api" {
                let configmaps = discovered(&document, "", "configmaps").expect("configmaps in /api");
                assert_eq!(configmaps["responseKind"], json!({"group": "", "version": "v1", "kind": "ConfigMap"}));
                assert_eq!(discovered(&document, "", "namespaces").expect("namespaces")["scope"], "Cluster");
            } else {
                let deployments = discovered(&document, "apps", "deployments").expect("apps/deployments in /apis");
                assert_eq!(
                    deployments["responseKind"],
                    json!({"group": "apps", "version": "v1", "kind": "Deployment"})
                );
                assert_eq!(
                    (&deployments["scope"], &deployments["singularResource"]),
                    (&json!("Namespaced"), &json!("deployment"))
                );
                for group in ["batch", "apiextensions.k8s.io", "coordination.k8s.io", "rbac.authorization.k8s.io"] {
                    assert!(
                        document["items"].as_array().into_iter().flatten().any(|g| g["metadata"]["name"] == group),
                        "{group}"
                    );
                }
            }
            if let Some(earlier) = etags.insert((root, content_type), etag.clone()) {
                assert_eq!(earlier, etag, "{what}: the same document has the same ETag");
            }
            let cached = wire.request("GET", root, &[("Accept", accept), ("If-None-Match", &etag)], None).await;
            assert_eq!(cached.code, 304, "{what} with If-None-Match: {}", cached.text());
            assert!(cached.bytes.is_empty(), "{what}: a 304 has no body");
            assert_eq!((cached.header("etag"), cached.header("vary")), (etag.as_str(), "Accept"), "{what}");
            let other = wire.request("GET", root, &[("Accept", accept), ("If-None-Match", "\"0\"")], None).await;
            assert_eq!(other.code, 200, "{what}: another ETag gets the document");
        }
        assert_ne!(etags[&(root, DISCOVERY_V2)], etags[&(root, DISCOVERY_V2BETA1)], "v2 and v2beta1 differ");

        // Anything else is legacy discovery; an Accept nothing can satisfy is 406.
        for accept in [None, Some(JSON), Some("*/*")] {
            let headers: Vec<(&str, &str)> = accept.iter().map(|a| ("Accept", *a)).collect();
            let reply = wire.request("GET", root, &headers, None).await;
            let legacy = reply.expect(200);
            assert_eq!(reply.header("content-type"), JSON, "{root} with Accept {accept:?}");
            if root == "/api" {
                assert_eq!((&legacy["kind"], &legacy["versions"]), (&json!("APIVersions"), &json!(["v1"])));
            } else {
                assert_eq!((&legacy["kind"], &legacy["apiVersion"]), (&json!("APIGroupList"), &json!("v1")));
                let apps = legacy["groups"].as_array().into_iter().flatten().find(|g| g["name"] == "apps");
                assert_eq!(apps.expect("apps")["preferredVersion"]["groupVersion"], "apps/v1");
            }
        }
        for accept in ["application/xml", "application/json;g=apidiscovery.k8s.io;v=v3;as=APIGroupDiscoveryList"] {
            failure(&wire.get_as(root, accept).await, 406, "NotAcceptable");
        }
    }

    // A new CRD changes the document and its ETag; the old ETag no longer gets a 304.
    wire.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", &widget_crd()).await.expect(201);
    let old = &etags[&("/apis", DISCOVERY_V2)];
    let deadline = Instant::now() + Duration::from_secs(20);
    let (reply, document) = loop {
        let reply = wire.request("GET", "/apis", &[("Accept", DISCOVERY_V2), ("If-None-Match", old)], None).await;
        if reply.code == 200 {
            let document = reply.expect(200);
            if discovered(&document, "example.flotilla.dev", "widgets").is_some() {
                break (reply, document);
            }
        }
        assert!(Instant::now() < deadline, "the widgets resource never appeared in aggregated discovery");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_ne!(reply.header("etag"), old.as_str());
    check_discovery_document(&document, "apidiscovery.k8s.io/v2", false);
    let widgets = discovered(&document, "example.flotilla.dev", "widgets").expect("widgets");
    let widget_kind = json!({"group": "example.flotilla.dev", "version": "v1", "kind": "Widget"});
    assert_eq!(widgets["responseKind"], widget_kind);
    assert_eq!((&widgets["singularResource"], &widgets["shortNames"]), (&json!("widget"), &json!(["wd"])));
    let status = json!([{"subresource": "status", "responseKind": widget_kind, "verbs": ["get", "patch", "update"]}]);
    assert_eq!(widgets["subresources"], status);
    let legacy = wire.get("/apis/example.flotilla.dev/v1").await.expect(200);
    let listed: Vec<&str> =
        legacy["resources"].as_array().into_iter().flatten().filter_map(|r| r["name"].as_str()).collect();
    assert_eq!(listed, ["widgets", "widgets/status"]);
}
