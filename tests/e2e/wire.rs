//! The HTTP wire contract kubectl, client-go and kube-rs rely on: exact codes, headers and JSON of the real server.

mod support;

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use flotilla_testkit::{etcd::EtcdProcess, server::ApiServer};
use http::{HeaderMap, Request};
use http_body_util::BodyExt;
use kube::client::Body;
use serde_json::{Value, json};
use support::{BackendKind, flotilla_binary};

on_both_backends!(
    aggregated_discovery_is_negotiated_cached_and_complete,
    metadata_and_table_views_serve_lists_gets_and_watches,
    lists_page_with_continue_tokens_and_refuse_impossible_resource_versions,
    compacted_history_expires_continue_tokens_and_watches,
    watches_stream_newline_delimited_events_with_selectors_and_initial_events,
    writes_follow_kubernetes_create_update_and_delete_semantics,
    the_status_subresource_keeps_spec_and_status_apart,
);

const JSON: &str = "application/json";
const DISCOVERY_V2: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";
const DISCOVERY_V2BETA1: &str = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList";
const METADATA_LIST: &str = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";
const METADATA: &str = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1";
const TABLE_V1: &str = "application/json;as=Table;v=v1;g=meta.k8s.io";
const TABLE_V1BETA1: &str = "application/json;as=Table;v=v1beta1;g=meta.k8s.io";
/// What `kubectl get` sends.
const KUBECTL_TABLE: &str =
    "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
/// How long a test waits for something the server does promptly.
const PROMPTLY: Duration = Duration::from_secs(10);

async fn start(kind: BackendKind) -> ApiServer {
    ApiServer::start(flotilla_binary(), kind).await
}

/// Raw HTTP against one server through kube-rs (TLS and credentials from the kubeconfig).
struct Wire {
    client: kube::Client,
}

/// A complete response.
struct Reply {
    code: u16,
    headers: HeaderMap,
    bytes: bytes::Bytes,
}

impl Reply {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
    }

    fn all(&self, name: &str) -> Vec<String> {
        self.headers.get_all(name).iter().map(|v| v.to_str().unwrap_or_default().to_string()).collect()
    }

    /// Asserts the status code and returns the body as JSON.
    fn expect(&self, code: u16) -> Value {
        assert_eq!(self.code, code, "HTTP status; body: {}", self.text());
        serde_json::from_slice(&self.bytes).unwrap_or_else(|e| panic!("a JSON body ({e}): {}", self.text()))
    }
}

/// Asserts a `metav1.Status` failure with `code` and `reason`; returns it.
fn failure(reply: &Reply, code: u16, reason: &str) -> Value {
    let status = reply.expect(code);
    assert_eq!(reply.header("content-type"), JSON, "{status}");
    assert_eq!((&status["kind"], &status["apiVersion"]), (&json!("Status"), &json!("v1")), "{status}");
    assert_eq!(
        (&status["status"], &status["code"], &status["reason"]),
        (&json!("Failure"), &json!(code), &json!(reason))
    );
    status
}

/// The causes of a Status as `(reason, field, message)`.
fn causes(status: &Value) -> Vec<(String, String, String)> {
    let causes = status["details"]["causes"].as_array().cloned().unwrap_or_default();
    let text = |c: &Value, k: &str| c[k].as_str().unwrap_or_default().to_string();
    causes.iter().map(|c| (text(c, "reason"), text(c, "field"), text(c, "message"))).collect()
}

impl Wire {
    /// A client for `server` (the harness's, which never retries 429/503/504 answers).
    async fn new(server: &ApiServer) -> Wire {
        Wire { client: server.client().await }
    }

    async fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: Option<(&str, &Value)>) -> Reply {
        let response = self.open(method, path, headers, body).await;
        let (parts, body) = response.into_parts();
        let bytes = body.collect_bytes().await.unwrap_or_else(|e| panic!("reading {method} {path}: {e}"));
        Reply { code: parts.status.as_u16(), headers: parts.headers, bytes }
    }

    async fn open(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<(&str, &Value)>,
    ) -> http::Response<Body> {
        let mut request = Request::builder().method(method).uri(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let body = match body {
            Some((content_type, value)) => {
                request = request.header("Content-Type", content_type);
                Body::from(serde_json::to_vec(value).expect("JSON"))
            }
            None => Body::empty(),
        };
        let request = request.body(body).expect("a valid request");
        self.client.send(request).await.unwrap_or_else(|e| panic!("sending {method} {path}: {e}"))
    }

    async fn get(&self, path: &str) -> Reply {
        self.request("GET", path, &[("Accept", JSON)], None).await
    }

    async fn get_as(&self, path: &str, accept: &str) -> Reply {
        self.request("GET", path, &[("Accept", accept)], None).await
    }

    async fn post(&self, path: &str, body: &Value) -> Reply {
        self.request("POST", path, &[("Accept", JSON)], Some((JSON, body))).await
    }

    async fn put(&self, path: &str, body: &Value) -> Reply {
        self.request("PUT", path, &[("Accept", JSON)], Some((JSON, body))).await
    }

    async fn patch(&self, path: &str, body: &Value) -> Reply {
        self.request("PATCH", path, &[("Accept", JSON)], Some(("application/merge-patch+json", body))).await
    }

    async fn delete(&self, path: &str, options: Option<&Value>) -> Reply {
        self.request("DELETE", path, &[("Accept", JSON)], options.map(|o| (JSON, o))).await
    }

    async fn namespace(&self, name: &str) {
        let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
        self.post("/api/v1/namespaces", &namespace).await.expect(201);
    }

    /// Opens a watch (`path` carries `watch=true`) and asserts its 200 and `Content-Type: application/json`.
    async fn watch(&self, path: &str, accept: &str) -> Watch {
        let response = self.open("GET", path, &[("Accept", accept)], None).await;
        let (parts, body) = response.into_parts();
        if parts.status != 200 {
            let bytes = body.collect_bytes().await.unwrap_or_default();
            panic!("watch {path}: HTTP {}: {}", parts.status, String::from_utf8_lossy(&bytes));
        }
        assert_eq!(parts.headers.get("content-type").map(|v| v.as_bytes()), Some(JSON.as_bytes()), "{path}");
        Watch { body, buffer: Vec::new(), ended: false }
    }

    /// Polls `path` until it answers 200 (a resource that is about to be served).
    async fn until_served(&self, path: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.get(path).await.code != 200 {
            assert!(Instant::now() < deadline, "{path} was not served within 20 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A watch response read one newline-terminated event at a time.
struct Watch {
    body: Body,
    buffer: Vec<u8>,
    ended: bool,
}

/// What a watch produced next.
enum Next {
    Event(Value),
    End,
    Quiet,
}

impl Watch {
    /// The next event: exactly one compact JSON object `{"type", "object"}` on a line of its own.
    async fn next(&mut self, within: Duration) -> Next {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(at) = self.buffer.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buffer.drain(..=at).collect();
                let line = &line[..line.len() - 1];
                let text = String::from_utf8_lossy(line);
                let event: Value = serde_json::from_slice(line)
                    .unwrap_or_else(|e| panic!("a line that is not one JSON event ({e}): {text}"));
                let mut keys: Vec<&str> =
                    event.as_object().map(|o| o.keys().map(String::as_str).collect()).unwrap_or_default();
                keys.sort_unstable();
                assert_eq!(keys, ["object", "type"], "a watch event: {text}");
                let object = &event["object"];
                for field in ["kind", "apiVersion"] {
                    assert!(object[field].as_str().is_some_and(|s| !s.is_empty()), "{field} on every object: {text}");
                }
                return Next::Event(event);
            }
            if self.ended {
                assert!(self.buffer.is_empty(), "the stream ended inside an event: {:?}", self.buffer);
                return Next::End;
            }
            match tokio::time::timeout_at(deadline, self.body.frame()).await {
                Err(_) => return Next::Quiet,
                Ok(None) => self.ended = true,
                Ok(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        self.buffer.extend_from_slice(&data);
                    }
                }
                Ok(Some(Err(error))) => panic!("the watch stream failed: {error}"),
            }
        }
    }

    /// The next event, which must come promptly.
    async fn event(&mut self) -> Value {
        match self.next(PROMPTLY).await {
            Next::Event(event) => event,
            Next::End => panic!("the watch ended where an event was expected"),
            Next::Quiet => panic!("no watch event within {PROMPTLY:?}"),
        }
    }

    /// The next event that is not a periodic BOOKMARK.
    async fn change(&mut self) -> Value {
        loop {
            let event = self.event().await;
            if event["type"] != "BOOKMARK" {
                return event;
            }
        }
    }

    /// `"<TYPE> <name>"` of the next `n` changes.
    async fn changes(&mut self, n: usize) -> Vec<String> {
        let mut seen = Vec::new();
        for _ in 0..n {
            seen.push(summary(&self.change().await));
        }
        seen
    }
}

fn summary(event: &Value) -> String {
    format!("{} {}", event["type"].as_str().unwrap_or_default(), name(&event["object"]))
}

fn name(object: &Value) -> &str {
    object["metadata"]["name"].as_str().unwrap_or_default()
}

fn names(list: &Value) -> Vec<&str> {
    list["items"].as_array().map(|items| items.iter().map(name).collect()).unwrap_or_default()
}

/// `metadata.resourceVersion` as a number.
fn rv(object: &Value) -> u64 {
    let text = object["metadata"]["resourceVersion"].as_str().unwrap_or_else(|| panic!("a resourceVersion: {object}"));
    text.parse().unwrap_or_else(|_| panic!("a decimal resourceVersion: {text:?}"))
}

/// `metadata.continue`, which must be set.
fn continue_token(list: &Value) -> String {
    let token = list["metadata"]["continue"].as_str().unwrap_or_default();
    assert!(!token.is_empty(), "a continue token: {list}");
    encode(token)
}

/// Asserts the last page of a list: no continue token, no remainingItemCount.
fn assert_complete(list: &Value) {
    assert!(list["metadata"]["continue"].as_str().unwrap_or_default().is_empty(), "{list}");
    assert!(list["metadata"]["remainingItemCount"].is_null(), "{list}");
}

/// Percent-encodes a query value.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn configmap(name: &str, labels: Value, data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels}, "data": data})
}

// ---------------------------------------------------------------------------------------------------------------
// 1. Discovery.

/// The resource `plural` of `group` in an `APIGroupDiscoveryList`.
fn discovered<'a>(document: &'a Value, group: &str, plural: &str) -> Option<&'a Value> {
    let items = document["items"].as_array()?;
    let group = items.iter().find(|g| g["metadata"]["name"].as_str().unwrap_or_default() == group)?;
    group["versions"][0]["resources"].as_array()?.iter().find(|r| r["resource"] == plural)
}

/// Shape checks every client-go version relies on: names, scope, verbs and a non-empty `responseKind` everywhere.
fn check_discovery_document(document: &Value, api_version: &str, core: bool) {
    assert_eq!(document["kind"], "APIGroupDiscoveryList");
    assert_eq!(document["apiVersion"], api_version);
    let items = document["items"].as_array().expect("items");
    if core {
        assert_eq!(items.len(), 1, "/api holds only the core group: {document}");
    }
    let response_kind = |owner: &Value, what: &str| {
        let kind = &owner["responseKind"];
        assert!(kind["group"].is_string(), "{what}: responseKind.group: {owner}");
        for field in ["version", "kind"] {
            assert!(kind[field].as_str().is_some_and(|s| !s.is_empty()), "{what}: responseKind.{field}: {owner}");
        }
    };
    for group in items {
        let group_name = group["metadata"]["name"].as_str().unwrap_or_default();
        assert_eq!(group_name.is_empty(), core, "group names: {group}");
        let versions = group["versions"].as_array().expect("versions");
        assert!(!versions.is_empty(), "{group}");
        for version in versions {
            assert_eq!(version["freshness"], "Current", "{version}");
            for resource in version["resources"].as_array().expect("resources") {
                let plural = resource["resource"].as_str().unwrap_or_default();
                let what = format!("{group_name}/{plural}");
                assert!(!plural.is_empty(), "{resource}");
                response_kind(resource, &what);
                assert!(["Namespaced", "Cluster"].contains(&resource["scope"].as_str().unwrap_or_default()), "{what}");
                assert!(resource["verbs"].as_array().is_some_and(|v| !v.is_empty()), "{what}");
                for sub in resource["subresources"].as_array().into_iter().flatten() {
                    assert!(sub["subresource"].as_str().is_some_and(|s| !s.is_empty()), "{what}: {sub}");
                    response_kind(sub, &format!("{what}/{}", sub["subresource"]));
                    assert!(sub["verbs"].as_array().is_some_and(|v| !v.is_empty()), "{what}: {sub}");
                }
            }
        }
    }
}

fn assert_etag(etag: &str) {
    let hex = etag.strip_prefix('"').and_then(|e| e.strip_suffix('"')).unwrap_or_default();
    assert!(
        hex.len() == 128 && hex.chars().all(|c| c.is_ascii_digit() || ('A'..='F').contains(&c)),
        "a quoted upper-case hex SHA-512 ETag: {etag:?}"
    );
}

async fn aggregated_discovery_is_negotiated_cached_and_complete(kind: BackendKind) {
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

fn widget_crd() -> Value {
    let properties = json!({
        "spec": {"type": "object", "properties": {"size": {"type": "integer"}}},
        "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}},
    });
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.flotilla.dev"},
        "spec": {
            "group": "example.flotilla.dev",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"]},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {"type": "object", "properties": properties}},
            }],
        },
    })
}

// ---------------------------------------------------------------------------------------------------------------
// 2. PartialObjectMetadata and Table.

/// Asserts a `PartialObjectMetadata` of `meta.k8s.io/<version>` named `expected`, without the object's data.
fn assert_partial(object: &Value, version: &str, expected: &str) {
    assert_eq!(object["kind"], "PartialObjectMetadata", "{object}");
    assert_eq!(object["apiVersion"], format!("meta.k8s.io/{version}"), "{object}");
    assert_eq!(name(object), expected, "{object}");
    assert!(object["metadata"]["uid"].is_string() && object["metadata"]["resourceVersion"].is_string(), "{object}");
    assert!(object.get("data").is_none(), "metadata only: {object}");
}

/// Asserts a Table of `meta.k8s.io/<version>` with column definitions and rows for `rows` (first cell = name).
fn assert_table(table: &Value, version: &str, rows: &[&str]) {
    assert_eq!((&table["kind"], &table["apiVersion"]), (&json!("Table"), &json!(format!("meta.k8s.io/{version}"))));
    let columns = table["columnDefinitions"].as_array().expect("columnDefinitions");
    assert_eq!(
        (&columns[0]["name"], &columns[0]["type"], &columns[0]["format"]),
        (&json!("Name"), &json!("string"), &json!("name"))
    );
    for column in columns {
        for field in ["name", "type", "format", "description", "priority"] {
            assert!(column.get(field).is_some(), "{field} in every column: {column}");
        }
    }
    let cells: Vec<&str> =
        table["rows"].as_array().expect("rows").iter().map(|r| r["cells"][0].as_str().unwrap_or_default()).collect();
    assert_eq!(cells, rows, "{table}");
    for row in table["rows"].as_array().into_iter().flatten() {
        assert_eq!(row["cells"].as_array().map(Vec::len), Some(columns.len()), "one cell per column: {row}");
    }
}

async fn metadata_and_table_views_serve_lists_gets_and_watches(kind: BackendKind) {
    let server = start(kind).await;
    let wire = Wire::new(&server).await;
    wire.namespace("views").await;
    let cms = "/api/v1/namespaces/views/configmaps";
    for name in ["a", "b"] {
        wire.post(cms, &configmap(name, json!({"app": "web"}), json!({"key": "value"}))).await.expect(201);
    }

    // Metadata-only clients (client-go's metadata client, kube-rs `Api::list_metadata`).
    let reply = wire.get_as(cms, METADATA_LIST).await;
    let list = reply.expect(200);
    assert_eq!(reply.header("content-type"), JSON);
    assert_eq!((&list["kind"], &list["apiVersion"]), (&json!("PartialObjectMetadataList"), &json!("meta.k8s.io/v1")));
    rv(&list);
    assert_eq!(names(&list), ["a", "b"]);
    for (item, expected) in list["items"].as_array().expect("items").iter().zip(["a", "b"]) {
        assert_partial(item, "v1", expected);
        assert_eq!(item["metadata"]["labels"]["app"], "web");
    }
    let reply = wire.get_as(&format!("{cms}/a"), METADATA).await;
    assert_partial(&reply.expect(200), "v1", "a");
    assert_eq!(reply.header("content-type"), JSON);
    failure(&wire.get_as(cms, METADATA).await, 406, "NotAcceptable");
    failure(&wire.get_as(&format!("{cms}/a"), METADATA_LIST).await, 406, "NotAcceptable");

    // Tables, v1 and v1beta1, for lists and gets; includeObject chooses what each row carries.
    for (accept, version) in [(TABLE_V1, "v1"), (TABLE_V1BETA1, "v1beta1"), (KUBECTL_TABLE, "v1")] {
        let reply = wire.get_as(cms, accept).await;
        let table = reply.expect(200);
        assert_eq!(reply.header("content-type"), JSON, "{accept}");
        assert_table(&table, version, &["a", "b"]);
        rv(&table);
        for (row, expected) in table["rows"].as_array().expect("rows").iter().zip(["a", "b"]) {
            assert_partial(&row["object"], version, expected);
        }
        let one = wire.get_as(&format!("{cms}/b"), accept).await.expect(200);
        assert_table(&one, version, &["b"]);
        assert_partial(&one["rows"][0]["object"], version, "b");
    }
    let full = wire.get_as(&format!("{cms}?includeObject=Object"), KUBECTL_TABLE).await.expect(200);
    assert_table(&full, "v1", &["a", "b"]);
    for row in full["rows"].as_array().expect("rows") {
        let object = &row["object"];
        assert_eq!(
            (&object["kind"], &object["apiVersion"], &object["data"]),
            (&json!("ConfigMap"), &json!("v1"), &json!({"key": "value"}))
        );
    }
    let bare = wire.get_as(&format!("{cms}/a?includeObject=None"), TABLE_V1).await.expect(200);
    assert_table(&bare, "v1", &["a"]);
    assert!(bare["rows"][0].get("object").is_none_or(Value::is_null), "no object with includeObject=None: {bare}");
    let page = wire.get_as(&format!("{cms}?limit=1"), KUBECTL_TABLE).await.expect(200);
    assert_table(&page, "v1", &["a"]);
    continue_token(&page);
    assert_eq!(page["metadata"]["remainingItemCount"], 1, "{page}");

    // Watches: metadata-only events, and Tables whose first event alone carries the column definitions.
    let from = rv(&wire.get(cms).await.expect(200));
    let mut metadata = wire.watch(&format!("{cms}?watch=true&resourceVersion={from}"), METADATA).await;
    let mut tables = wire.watch(&format!("{cms}?watch=true&resourceVersion={from}"), KUBECTL_TABLE).await;
    wire.post(cms, &configmap("c", json!({}), json!({"key": "value"}))).await.expect(201);
    wire.patch(&format!("{cms}/c"), &json!({"data": {"key": "changed"}})).await.expect(200);
    for expected in ["ADDED", "MODIFIED"] {
        let event = metadata.change().await;
        assert_eq!(event["type"], expected);
        assert_partial(&event["object"], "v1", "c");
    }
    let first = tables.change().await;
    assert_eq!(first["type"], "ADDED");
    assert_table(&first["object"], "v1", &["c"]);
    assert_partial(&first["object"]["rows"][0]["object"], "v1", "c");
    let second = tables.change().await;
    assert_eq!(second["type"], "MODIFIED");
    let table = &second["object"];
    assert_eq!((&table["kind"], &table["apiVersion"]), (&json!("Table"), &json!("meta.k8s.io/v1")));
    let columns = &table["columnDefinitions"];
    assert!(
        columns.is_null() || columns.as_array().is_some_and(Vec::is_empty),
        "rows only after the first event: {table}"
    );
    assert_eq!(table["rows"].as_array().map(Vec::len), Some(1), "{table}");
    assert_eq!(table["rows"][0]["cells"][0], "c");
}

// ---------------------------------------------------------------------------------------------------------------
// 3. Lists.

async fn lists_page_with_continue_tokens_and_refuse_impossible_resource_versions(kind: BackendKind) {
    let server = start(kind).await;
    let wire = Wire::new(&server).await;
    wire.namespace("pages").await;
    let cms = "/api/v1/namespaces/pages/configmaps";
    for i in 1..=5 {
        wire.post(cms, &configmap(&format!("cm-{i}"), json!({"page": "yes"}), json!({"v": "1"}))).await.expect(201);
    }

    let first = wire.get(&format!("{cms}?limit=2")).await.expect(200);
    assert_eq!((&first["kind"], &first["apiVersion"]), (&json!("ConfigMapList"), &json!("v1")));
    assert_eq!(names(&first), ["cm-1", "cm-2"]);
    assert_eq!(first["metadata"]["remainingItemCount"], 3, "{first}");
    let token = continue_token(&first);
    let snapshot = rv(&first);

    // Later pages read the first page's snapshot: changes made in between do not show.
    wire.delete(&format!("{cms}/cm-4"), None).await.expect(200);
    wire.patch(&format!("{cms}/cm-3"), &json!({"data": {"v": "2"}})).await.expect(200);
    let second = wire.get(&format!("{cms}?limit=2&continue={token}")).await.expect(200);
    assert_eq!(names(&second), ["cm-3", "cm-4"]);
    assert_eq!(second["items"][0]["data"]["v"], "1", "the snapshot's cm-3");
    assert_eq!((rv(&second), &second["metadata"]["remainingItemCount"]), (snapshot, &json!(1)), "{second}");
    let third = wire.get(&format!("{cms}?limit=2&continue={}", continue_token(&second))).await.expect(200);
    assert_eq!(names(&third), ["cm-5"]);
    assert_eq!(rv(&third), snapshot);
    assert_complete(&third);
    let now = wire.get(cms).await.expect(200);
    assert_eq!(names(&now), ["cm-1", "cm-2", "cm-3", "cm-5"]);
    assert_complete(&now);
    assert!(rv(&now) > snapshot);

    // remainingItemCount is only known without selectors.
    let selected = wire.get(&format!("{cms}?limit=1&labelSelector=page%3Dyes")).await.expect(200);
    assert_eq!(names(&selected), ["cm-1"]);
    continue_token(&selected);
    assert!(selected["metadata"]["remainingItemCount"].is_null(), "{selected}");

    // A resourceVersion the store has not reached: 504 with the cause client-go's reflector relists on.
    for path in [format!("{cms}?resourceVersion=999999999"), format!("{cms}/cm-1?resourceVersion=999999999")] {
        let reply = wire.get(&path).await;
        let status = failure(&reply, 504, "Timeout");
        let message = status["message"].as_str().unwrap_or_default();
        assert!(message.starts_with("Timeout: Too large resource version: 999999999, current: "), "{path}: {message}");
        assert_eq!(causes(&status).first().map(|c| c.0.as_str()), Some("ResourceVersionTooLarge"), "{status}");
        let retry = status["details"]["retryAfterSeconds"].as_u64().expect("retryAfterSeconds");
        assert_eq!(reply.header("retry-after"), retry.to_string(), "{path}");
    }

    // Invalid ListOptions: 422.
    let both = format!("{cms}?limit=2&resourceVersion={snapshot}&resourceVersionMatch=NotOlderThan&continue={token}");
    let status = failure(&wire.get(&both).await, 422, "Invalid");
    assert_eq!(
        (&status["details"]["group"], &status["details"]["kind"]),
        (&json!("meta.k8s.io"), &json!("ListOptions"))
    );
    let found = causes(&status);
    assert!(
        found.iter().any(|(reason, field, message)| reason == "FieldValueForbidden"
            && field == "resourceVersionMatch"
            && message.contains("continue")),
        "{status}"
    );
    let status = failure(&wire.get(&format!("{cms}?resourceVersionMatch=NotOlderThan")).await, 422, "Invalid");
    assert!(causes(&status).iter().any(|(_, field, _)| field == "resourceVersionMatch"), "{status}");
    failure(&wire.get(&format!("{cms}?limit=2&continue=not-a-token")).await, 400, "BadRequest");
}

// ---------------------------------------------------------------------------------------------------------------
// 4a. Compaction.

async fn compacted_history_expires_continue_tokens_and_watches(kind: BackendKind) {
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

async fn watches_stream_newline_delimited_events_with_selectors_and_initial_events(kind: BackendKind) {
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

async fn writes_follow_kubernetes_create_update_and_delete_semantics(kind: BackendKind) {
    let server = start(kind).await;
    let wire = Wire::new(&server).await;
    wire.namespace("writes").await;
    let cms = "/api/v1/namespaces/writes/configmaps";
    let at = |name: &str| format!("{cms}/{name}");

    // generateName: the prefix plus five characters of the alphabet Kubernetes uses.
    let mut generated = Vec::new();
    for _ in 0..2 {
        let body = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "gen-"}});
        let object = wire.post(cms, &body).await.expect(201);
        let name = name(&object).to_string();
        let suffix = name.strip_prefix("gen-").unwrap_or_else(|| panic!("{name} starts with the prefix"));
        assert!(suffix.len() == 5 && suffix.chars().all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)), "{name}");
        assert_eq!(object["metadata"]["generateName"], "gen-");
        assert!(object["metadata"]["uid"].is_string() && object["metadata"]["creationTimestamp"].is_string());
        wire.get(&at(&name)).await.expect(200);
        generated.push(name);
    }
    assert_ne!(generated[0], generated[1]);

    // fieldValidation: Strict refuses unknown fields, Warn (the default) and Ignore drop them.
    let with_unknown = |name: &str| {
        let metadata = json!({"name": name, "alsoBogus": 2});
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": {}, "bogus": 1})
    };
    let strict = wire.post(&format!("{cms}?fieldValidation=Strict"), &with_unknown("strict")).await;
    let message = failure(&strict, 400, "BadRequest")["message"].as_str().unwrap_or_default().to_string();
    let unknown = r#"strict decoding error: unknown field "bogus", unknown field "metadata.alsoBogus""#;
    assert_eq!(message, format!(r#"ConfigMap in version "v1" cannot be handled as a ConfigMap: {unknown}"#));
    failure(&wire.get(&at("strict")).await, 404, "NotFound");
    for (query, name) in [("?fieldValidation=Warn", "warned"), ("", "defaulted")] {
        let reply = wire.post(&format!("{cms}{query}"), &with_unknown(name)).await;
        let object = reply.expect(201);
        let mut warnings = reply.all("warning");
        warnings.sort();
        assert_eq!(
            warnings,
            [r#"299 - "unknown field \"bogus\"""#, r#"299 - "unknown field \"metadata.alsoBogus\"""#],
            "{query}"
        );
        assert!(object.get("bogus").is_none() && object["metadata"].get("alsoBogus").is_none(), "{object}");
    }
    let ignored = wire.post(&format!("{cms}?fieldValidation=Ignore"), &with_unknown("ignored")).await;
    let object = ignored.expect(201);
    assert!(ignored.all("warning").is_empty() && object.get("bogus").is_none(), "{object}");

    // dryRun=All runs everything and stores nothing.
    let dry =
        wire.post(&format!("{cms}?dryRun=All"), &configmap("dry", json!({}), json!({"k": "v"}))).await.expect(201);
    assert_eq!((name(&dry), &dry["data"]), ("dry", &json!({"k": "v"})));
    failure(&wire.get(&at("dry")).await, 404, "NotFound");
    let kept = wire.post(cms, &configmap("kept", json!({}), json!({"k": "v"}))).await.expect(201);
    let mut changed = kept.clone();
    changed["data"]["k"] = json!("dry");
    let dry = wire.put(&format!("{}?dryRun=All", at("kept")), &changed).await.expect(200);
    assert_eq!(dry["data"]["k"], "dry");
    wire.delete(&format!("{}?dryRun=All", at("kept")), None).await.expect(200);
    let still = wire.get(&at("kept")).await.expect(200);
    assert_eq!((&still["data"]["k"], rv(&still)), (&json!("v"), rv(&kept)), "dry runs changed nothing");

    // A PUT or patch that changes nothing is not written: the resourceVersion stays.
    let same = wire.put(&at("kept"), &kept).await.expect(200);
    assert_eq!(rv(&same), rv(&kept), "no-op PUT");
    let same = wire.patch(&at("kept"), &json!({"data": {"k": "v"}})).await.expect(200);
    assert_eq!(rv(&same), rv(&kept), "no-op patch");

    // DeleteOptions preconditions (in the body, as client-go sends them): a mismatch is 409 and deletes nothing.
    let uid = kept["metadata"]["uid"].as_str().expect("uid").to_string();
    let options =
        |preconditions: Value| json!({"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": preconditions});
    let zero = "00000000-0000-0000-0000-000000000000";
    let mismatches = [
        (
            json!({"uid": zero}),
            format!(
                "the UID in the precondition ({zero}) does not match the UID in record ({uid}). \
                 The object might have been deleted and then recreated"
            ),
        ),
        (
            json!({"resourceVersion": "1"}),
            format!(
                "the ResourceVersion in the precondition (1) does not match the ResourceVersion in record ({}). \
                 The object might have been modified",
                rv(&kept)
            ),
        ),
    ];
    for (wrong, why) in mismatches {
        let reply = wire.delete(&at("kept"), Some(&options(wrong))).await;
        let message = failure(&reply, 409, "Conflict")["message"].as_str().unwrap_or_default().to_string();
        assert_eq!(message, format!("Operation cannot be fulfilled on ConfigMap \"kept\": {why}"));
    }
    wire.get(&at("kept")).await.expect(200);
    let right = options(json!({"uid": uid, "resourceVersion": kept["metadata"]["resourceVersion"]}));
    let deleted = wire.delete(&at("kept"), Some(&right)).await.expect(200);
    if deleted["kind"] == "Status" {
        assert_eq!((&deleted["status"], &deleted["details"]["name"]), (&json!("Success"), &json!("kept")), "{deleted}");
    }
    failure(&wire.get(&at("kept")).await, 404, "NotFound");

    // Finalizers: delete marks the object; removing the last finalizer deletes it.
    let mut held = configmap("held", json!({}), json!({}));
    held["metadata"]["finalizers"] = json!(["example.flotilla.dev/hold"]);
    wire.post(cms, &held).await.expect(201);
    let marked = wire.delete(&at("held"), None).await.expect(200);
    assert_eq!(marked["kind"], "ConfigMap", "the object is returned while finalizers remain: {marked}");
    assert!(marked["metadata"]["deletionTimestamp"].is_string(), "{marked}");
    assert_eq!(marked["metadata"]["deletionGracePeriodSeconds"], 0, "{marked}");
    let still = wire.get(&at("held")).await.expect(200);
    assert_eq!(still["metadata"]["deletionTimestamp"], marked["metadata"]["deletionTimestamp"]);
    wire.patch(&at("held"), &json!({"metadata": {"finalizers": null}})).await.expect(200);
    failure(&wire.get(&at("held")).await, 404, "NotFound");

    // deletecollection with a label selector deletes exactly the matching objects and returns them.
    for (name, sweep) in [("sweep-1", "yes"), ("sweep-2", "yes"), ("sweep-3", "no")] {
        wire.post(cms, &configmap(name, json!({"sweep": sweep}), json!({}))).await.expect(201);
    }
    let swept = wire.delete(&format!("{cms}?labelSelector=sweep%3Dyes"), None).await.expect(200);
    assert_eq!((&swept["kind"], &swept["apiVersion"]), (&json!("ConfigMapList"), &json!("v1")), "{swept}");
    let mut gone = names(&swept);
    gone.sort_unstable();
    assert_eq!(gone, ["sweep-1", "sweep-2"]);
    let left = wire.get(&format!("{cms}?labelSelector=sweep")).await.expect(200);
    assert_eq!(names(&left), ["sweep-3"]);
}

// ---------------------------------------------------------------------------------------------------------------
// 5b. The status subresource.

async fn the_status_subresource_keeps_spec_and_status_apart(kind: BackendKind) {
    let server = start(kind).await;
    let wire = Wire::new(&server).await;
    wire.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", &widget_crd()).await.expect(201);
    wire.namespace("status").await;
    let widgets = "/apis/example.flotilla.dev/v1/namespaces/status/widgets";
    wire.until_served(widgets).await;
    let (main, status) = (format!("{widgets}/w"), format!("{widgets}/w/status"));

    // Fields the schema does not declare: refused under Strict, dropped otherwise.
    let mut unknown = json!({
        "apiVersion": "example.flotilla.dev/v1", "kind": "Widget", "metadata": {"name": "odd"},
        "spec": {"size": 1, "color": "red"},
    });
    let message = failure(&wire.post(&format!("{widgets}?fieldValidation=Strict"), &unknown).await, 400, "BadRequest")
        ["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        message,
        r#"Widget in version "v1" cannot be handled as a Widget: strict decoding error: unknown field "spec.color""#
    );
    unknown["metadata"]["name"] = json!("pruned");
    let reply = wire.post(&format!("{widgets}?fieldValidation=Warn"), &unknown).await;
    assert_eq!(reply.expect(201)["spec"], json!({"size": 1}), "unknown fields are pruned");
    assert_eq!(reply.all("warning"), [r#"299 - "unknown field \"spec.color\"""#]);

    // Create ignores status and sets generation 1.
    let widget = json!({
        "apiVersion": "example.flotilla.dev/v1", "kind": "Widget", "metadata": {"name": "w"},
        "spec": {"size": 1}, "status": {"ready": true},
    });
    let created = wire.post(widgets, &widget).await.expect(201);
    assert_eq!(created["metadata"]["generation"], 1);
    assert!(created.get("status").is_none_or(Value::is_null), "status is not set on create: {created}");

    // A /status update changes only status; generation stays.
    let mut update = created.clone();
    update["status"] = json!({"ready": true});
    update["spec"]["size"] = json!(99);
    let updated = wire.put(&status, &update).await.expect(200);
    assert_eq!((&updated["spec"], &updated["status"]), (&json!({"size": 1}), &json!({"ready": true})), "{updated}");
    assert_eq!(updated["metadata"]["generation"], 1);
    assert!(rv(&updated) > rv(&created));

    // A main update keeps status; a spec change bumps generation, a metadata-only change does not.
    let mut update = updated.clone();
    update["spec"]["size"] = json!(2);
    update["status"]["ready"] = json!(false);
    let updated = wire.put(&main, &update).await.expect(200);
    assert_eq!((&updated["spec"], &updated["status"]), (&json!({"size": 2}), &json!({"ready": true})), "{updated}");
    assert_eq!(updated["metadata"]["generation"], 2);
    let labelled = wire.patch(&main, &json!({"metadata": {"labels": {"tier": "gold"}}})).await.expect(200);
    assert_eq!(
        (&labelled["metadata"]["generation"], &labelled["metadata"]["labels"]["tier"]),
        (&json!(2), &json!("gold"))
    );
    let status_only = wire.patch(&main, &json!({"status": {"ready": false}})).await.expect(200);
    assert_eq!((rv(&status_only), &status_only["status"]), (rv(&labelled), &json!({"ready": true})), "a no-op");

    // A /status patch changes status; GET /status returns the whole object.
    let patched = wire.patch(&status, &json!({"status": {"ready": false}, "spec": {"size": 7}})).await.expect(200);
    assert_eq!((&patched["spec"], &patched["status"]), (&json!({"size": 2}), &json!({"ready": false})), "{patched}");
    assert_eq!(patched["metadata"]["generation"], 2);
    let whole = wire.get(&status).await.expect(200);
    assert_eq!(
        (&whole["kind"], &whole["spec"], &whole["status"]),
        (&json!("Widget"), &json!({"size": 2}), &json!({"ready": false}))
    );
}
