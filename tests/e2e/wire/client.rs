//! The wire tests' raw HTTP client, watch reader, media types and JSON helpers.

use std::time::{Duration, Instant};

use crate::support::{BackendKind, flotilla_binary};
use flotilla_testkit::server::ApiServer;
use http::{HeaderMap, Request};
use http_body_util::BodyExt;
use kube::client::Body;
use serde_json::{Value, json};

pub(crate) const JSON: &str = "application/json";
pub(crate) const DISCOVERY_V2: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";
pub(crate) const DISCOVERY_V2BETA1: &str = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList";
pub(crate) const METADATA_LIST: &str = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";
pub(crate) const METADATA: &str = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1";
pub(crate) const TABLE_V1: &str = "application/json;as=Table;v=v1;g=meta.k8s.io";
pub(crate) const TABLE_V1BETA1: &str = "application/json;as=Table;v=v1beta1;g=meta.k8s.io";
/// What `kubectl get` sends.
pub(crate) const KUBECTL_TABLE: &str =
    "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
/// How long a test waits for something the server does promptly.
pub(crate) const PROMPTLY: Duration = Duration::from_secs(10);

pub(crate) async fn start(kind: BackendKind) -> ApiServer {
    ApiServer::start(flotilla_binary(), kind).await
}

/// Raw HTTP against one server through kube-rs (TLS and credentials from the kubeconfig).
pub(crate) struct Wire {
    pub(crate) client: kube::Client,
}

/// A complete response.
pub(crate) struct Reply {
    pub(crate) code: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) bytes: bytes::Bytes,
}

impl Reply {
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    pub(crate) fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
    }

    pub(crate) fn all(&self, name: &str) -> Vec<String> {
        self.headers.get_all(name).iter().map(|v| v.to_str().unwrap_or_default().to_string()).collect()
    }

    /// Asserts the status code and returns the body as JSON.
    pub(crate) fn expect(&self, code: u16) -> Value {
        assert_eq!(self.code, code, "HTTP status; body: {}", self.text());
        serde_json::from_slice(&self.bytes).unwrap_or_else(|e| panic!("a JSON body ({e}): {}", self.text()))
    }
}

/// Asserts a `metav1.Status` failure with `code` and `reason`; returns it.
pub(crate) fn failure(reply: &Reply, code: u16, reason: &str) -> Value {
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
pub(crate) fn causes(status: &Value) -> Vec<(String, String, String)> {
    let causes = status["details"]["causes"].as_array().cloned().unwrap_or_default();
    let text = |c: &Value, k: &str| c[k].as_str().unwrap_or_default().to_string();
    causes.iter().map(|c| (text(c, "reason"), text(c, "field"), text(c, "message"))).collect()
}

impl Wire {
    /// A client for `server` (the harness's, which never retries 429/503/504 answers).
    pub(crate) async fn new(server: &ApiServer) -> Wire {
        Wire { client: server.client().await }
    }

    pub(crate) async fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<(&str, &Value)>,
    ) -> Reply {
        let response = self.open(method, path, headers, body).await;
        let (parts, body) = response.into_parts();
        let bytes = body.collect_bytes().await.unwrap_or_else(|e| panic!("reading {method} {path}: {e}"));
        Reply { code: parts.status.as_u16(), headers: parts.headers, bytes }
    }

    pub(crate) async fn open(
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

    pub(crate) async fn get(&self, path: &str) -> Reply {
        self.request("GET", path, &[("Accept", JSON)], None).await
    }

    pub(crate) async fn get_as(&self, path: &str, accept: &str) -> Reply {
        self.request("GET", path, &[("Accept", accept)], None).await
    }

    pub(crate) async fn post(&self, path: &str, body: &Value) -> Reply {
        self.request("POST", path, &[("Accept", JSON)], Some((JSON, body))).await
    }

    pub(crate) async fn put(&self, path: &str, body: &Value) -> Reply {
        self.request("PUT", path, &[("Accept", JSON)], Some((JSON, body))).await
    }

    pub(crate) async fn patch(&self, path: &str, body: &Value) -> Reply {
        self.request("PATCH", path, &[("Accept", JSON)], Some(("application/merge-patch+json", body))).await
    }

    pub(crate) async fn delete(&self, path: &str, options: Option<&Value>) -> Reply {
        self.request("DELETE", path, &[("Accept", JSON)], options.map(|o| (JSON, o))).await
    }

    pub(crate) async fn namespace(&self, name: &str) {
        let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
        self.post("/api/v1/namespaces", &namespace).await.expect(201);
    }

    /// Opens a watch (`path` carries `watch=true`) and asserts its 200 and `Content-Type: application/json`.
    pub(crate) async fn watch(&self, path: &str, accept: &str) -> Watch {
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
    pub(crate) async fn until_served(&self, path: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.get(path).await.code != 200 {
            assert!(Instant::now() < deadline, "{path} was not served within 20 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A watch response read one newline-terminated event at a time.
pub(crate) struct Watch {
    pub(crate) body: Body,
    pub(crate) buffer: Vec<u8>,
    pub(crate) ended: bool,
}

/// What a watch produced next.
pub(crate) enum Next {
    Event(Value),
    End,
    Quiet,
}

impl Watch {
    /// The next event: exactly one compact JSON object `{"type", "object"}` on a line of its own.
    pub(crate) async fn next(&mut self, within: Duration) -> Next {
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
    pub(crate) async fn event(&mut self) -> Value {
        match self.next(PROMPTLY).await {
            Next::Event(event) => event,
            Next::End => panic!("the watch ended where an event was expected"),
            Next::Quiet => panic!("no watch event within {PROMPTLY:?}"),
        }
    }

    /// The next event that is not a periodic BOOKMARK.
    pub(crate) async fn change(&mut self) -> Value {
        loop {
            let event = self.event().await;
            if event["type"] != "BOOKMARK" {
                return event;
            }
        }
    }

    /// `"<TYPE> <name>"` of the next `n` changes.
    pub(crate) async fn changes(&mut self, n: usize) -> Vec<String> {
        let mut seen = Vec::new();
        for _ in 0..n {
            seen.push(summary(&self.change().await));
        }
        seen
    }
}

pub(crate) fn summary(event: &Value) -> String {
    format!("{} {}", event["type"].as_str().unwrap_or_default(), name(&event["object"]))
}

pub(crate) fn name(object: &Value) -> &str {
    object["metadata"]["name"].as_str().unwrap_or_default()
}

pub(crate) fn names(list: &Value) -> Vec<&str> {
    list["items"].as_array().map(|items| items.iter().map(name).collect()).unwrap_or_default()
}

/// `metadata.resourceVersion` as a number.
pub(crate) fn rv(object: &Value) -> u64 {
    let text = object["metadata"]["resourceVersion"].as_str().unwrap_or_else(|| panic!("a resourceVersion: {object}"));
    text.parse().unwrap_or_else(|_| panic!("a decimal resourceVersion: {text:?}"))
}

/// `metadata.continue`, which must be set.
pub(crate) fn continue_token(list: &Value) -> String {
    let token = list["metadata"]["continue"].as_str().unwrap_or_default();
    assert!(!token.is_empty(), "a continue token: {list}");
    encode(token)
}

/// Asserts the last page of a list: no continue token, no remainingItemCount.
pub(crate) fn assert_complete(list: &Value) {
    assert!(list["metadata"]["continue"].as_str().unwrap_or_default().is_empty(), "{list}");
    assert!(list["metadata"]["remainingItemCount"].is_null(), "{list}");
}

/// Percent-encodes a query value.
pub(crate) fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub(crate) fn configmap(name: &str, labels: Value, data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels}, "data": data})
}

// ---------------------------------------------------------------------------------------------------------------
// 1. Discovery.

/// The resource `plural` of `group` in an `APIGroupDiscoveryList`.
pub(crate) fn discovered<'a>(document: &'a Value, group: &str, plural: &str) -> Option<&'a Value> {
    let items = document["items"].as_array()?;
    let group = items.iter().find(|g| g["metadata"]["name"].as_str().unwrap_or_default() == group)?;
    group["versions"][0]["resources"].as_array()?.iter().find(|r| r["resource"] == plural)
}

/// Shape checks every client-go version relies on: names, scope, verbs and a non-empty `responseKind` everywhere.
pub(crate) fn check_discovery_document(document: &Value, api_version: &str, core: bool) {
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

pub(crate) fn assert_etag(etag: &str) {
    let hex = etag.strip_prefix('"').and_then(|e| e.strip_suffix('"')).unwrap_or_default();
    assert!(
        hex.len() == 128 && hex.chars().all(|c| c.is_ascii_digit() || ('A'..='F').contains(&c)),
        "a quoted upper-case hex SHA-512 ETag: {etag:?}"
    );
}

pub(crate) fn widget_crd() -> Value {
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
