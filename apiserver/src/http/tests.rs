//! The router end to end without a socket: paths, methods, limits, timeouts, tables, watches, warnings, metrics.

use std::{sync::Arc, time::Duration};

use axum::{body::Body, routing::get};
use http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::*;
use crate::{
    registry::{ResourceInfo, Strategy},
    storage::{EmbeddedOptions, EmbeddedStore, KeySpace, SharedStore},
};

struct Plain(ResourceInfo);

impl Strategy for Plain {
    fn info(&self) -> &ResourceInfo {
        &self.0
    }
}

const TABLE: &str =
    "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";

struct Fixture {
    _dir: tempfile::TempDir,
    state: ApiState,
}

impl Fixture {
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store: SharedStore = Arc::new(EmbeddedStore::open(EmbeddedOptions::new(dir.path())).await.unwrap());
        let registry = Registry::new(store, KeySpace::default());
        registry.register(Arc::new(Plain(ResourceInfo::new("", "v1", "Widget", "widgets", true))));
        registry.register(Arc::new(Plain(ResourceInfo::new("", "v1", "Gadget", "gadgets", false).with_status())));
        for resource in registry.resources() {
            tokio::time::timeout(Duration::from_secs(5), async {
                while !resource.is_ready() {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            })
            .await
            .unwrap();
        }
        let options = ServerOptions { max_request_body_bytes: 1024, ..ServerOptions::default() };
        let state = ApiState::new(registry, Metrics::new(), Drain::new(), &options);
        Self { _dir: dir, state }
    }

    async fn send(&self, request: Request<Body>) -> Response {
        router(self.state.clone()).oneshot(request).await.unwrap()
    }

    async fn call(&self, method: &str, uri: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = Request::builder().method(method).uri(uri).header(header::USER_AGENT, "tester/1.0");
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        let body = body.map(|b| Body::from(b.to_string())).unwrap_or_else(Body::empty);
        let response = self.send(request.body(body).unwrap()).await;
        json_of(response).await
    }
}

async fn json_of(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

fn widget(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Widget", "metadata": {"name": name}, "spec": {"size": 1}})
}

#[tokio::test]
async fn paths_that_name_nothing_served_are_404_statuses() {
    let f = Fixture::new().await;
    for uri in [
        "/api/v1/nothings",
        "/apis/example.com/v1/widgets",
        "/api/v1/widgets/x",
        "/api/v1/namespaces/a/gadgets",
        "/api/v1/namespaces/a/widgets/x/scale",
        "/api/v1/namespaces/a/widgets/x/status",
        "/api/v1/namespaces/a/widgets/x/status/extra",
        "/nowhere",
    ] {
        let (status, body) = f.call("GET", uri, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(body["reason"], "NotFound", "{uri}");
    }
}

#[tokio::test]
async fn methods_a_path_does_not_take_are_405_statuses() {
    let f = Fixture::new().await;
    for (method, uri) in [
        ("POST", "/api/v1/namespaces/a/widgets/x"),
        ("PUT", "/api/v1/namespaces/a/widgets"),
        ("POST", "/api/v1/widgets"),
        ("DELETE", "/api/v1/widgets"),
        ("DELETE", "/api/v1/gadgets/g/status"),
        ("POST", "/apis"),
    ] {
        let (status, body) = f.call(method, uri, None).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {uri}");
        assert_eq!(body["reason"], "MethodNotAllowed", "{method} {uri}");
    }
}

#[tokio::test]
async fn objects_are_created_read_listed_and_deleted_with_kubernetes_codes() {
    let f = Fixture::new().await;
    let (status, created) = f.call("POST", "/api/v1/namespaces/a/widgets", Some(widget("w1"))).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["metadata"]["namespace"], "a", "the namespace comes from the path");
    let (status, got) = f.call("GET", "/api/v1/namespaces/a/widgets/w1", None).await;
    assert_eq!((status, &got["metadata"]["name"]), (StatusCode::OK, &json!("w1")));
    let (status, list) = f.call("GET", "/api/v1/widgets", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((list["kind"].as_str(), list["apiVersion"].as_str()), (Some("WidgetList"), Some("v1")));
    assert_eq!(list["items"][0]["metadata"]["name"], "w1");
    assert!(list["metadata"]["resourceVersion"].is_string());

    let (status, error) = f.call("PUT", "/api/v1/namespaces/a/widgets/other", Some(got.clone())).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["message"], "the name of the object (w1) does not match the name on the URL (other)");
    let (status, error) = f.call("POST", "/api/v1/namespaces/b/widgets", Some(created.clone())).await;
    assert_eq!((status, error["reason"].as_str()), (StatusCode::BAD_REQUEST, Some("BadRequest")));

    let (status, deleted) = f.call("DELETE", "/api/v1/namespaces/a/widgets/w1", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(deleted["status"], "Success");
    assert_eq!(deleted["details"]["name"], "w1");
    assert_eq!(deleted["details"]["kind"], "widgets");
    let (status, _) = f.call("GET", "/api/v1/namespaces/a/widgets/w1", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn kubectl_gets_tables_and_metadata_clients_get_partial_metadata() {
    let f = Fixture::new().await;
    f.call("POST", "/api/v1/namespaces/a/widgets", Some(widget("w1"))).await;
    let request = Request::get("/api/v1/namespaces/a/widgets").header(header::ACCEPT, TABLE).body(Body::empty());
    let (status, table) = json_of(f.send(request.unwrap()).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(table["kind"], "Table");
    assert_eq!(table["columnDefinitions"][0]["name"], "Name");
    assert_eq!(table["rows"][0]["cells"][0], "w1");
    assert_eq!(table["rows"][0]["object"]["kind"], "PartialObjectMetadata");
    let accept = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";
    let request = Request::get("/api/v1/widgets").header(header::ACCEPT, accept).body(Body::empty());
    let (_, list) = json_of(f.send(request.unwrap()).await).await;
    assert_eq!(list["kind"], "PartialObjectMetadataList");
    assert!(list["items"][0].get("spec").is_none());
    let request = Request::get("/api/v1/widgets").header(header::ACCEPT, "application/yaml").body(Body::empty());
    let response = f.send(request.unwrap()).await;
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/yaml");
    let request = Request::get("/api/v1/widgets").header(header::ACCEPT, "text/html").body(Body::empty());
    assert_eq!(f.send(request.unwrap()).await.status(), StatusCode::NOT_ACCEPTABLE);
}

#[tokio::test]
async fn a_table_watch_sends_column_definitions_only_with_the_first_event() {
    let f = Fixture::new().await;
    let request = Request::get("/api/v1/namespaces/a/widgets?watch=true&timeoutSeconds=5")
        .header(header::ACCEPT, TABLE)
        .body(Body::empty())
        .unwrap();
    let response = f.send(request).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    let mut body = response.into_body();
    f.call("POST", "/api/v1/namespaces/a/widgets", Some(widget("w1"))).await;
    f.call("POST", "/api/v1/namespaces/a/widgets", Some(widget("w2"))).await;
    let mut lines = Vec::new();
    while lines.len() < 2 {
        let frame = tokio::time::timeout(Duration::from_secs(5), body.frame()).await.unwrap().unwrap().unwrap();
        let data = frame.into_data().unwrap();
        let text = String::from_utf8(data.to_vec()).unwrap();
        assert!(text.ends_with('\n'), "one event per line: {text}");
        lines.extend(text.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()));
    }
    assert_eq!(lines[0]["type"], "ADDED");
    assert_eq!(lines[0]["object"]["kind"], "Table");
    assert_eq!(lines[0]["object"]["columnDefinitions"][0]["name"], "Name");
    assert_eq!(lines[0]["object"]["rows"][0]["cells"][0], "w1");
    assert_eq!(lines[1]["object"]["columnDefinitions"], json!([]));
    assert_eq!(lines[1]["object"]["rows"][0]["cells"][0], "w2");
}

#[tokio::test]
async fn a_draining_server_ends_watches() {
    let f = Fixture::new().await;
    let request = Request::get("/api/v1/widgets?watch=1").body(Body::empty()).unwrap();
    let response = f.send(request).await;
    let reader = tokio::spawn(async move { response.into_body().collect().await.map(|c| c.to_bytes().len()) });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!reader.is_finished());
    f.state.drain.start();
    let result = tokio::time::timeout(Duration::from_secs(5), reader).await.expect("the watch ended").unwrap();
    assert!(result.is_ok());
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused_with_413() {
    let f = Fixture::new().await;
    let big = json!({"metadata": {"name": "big"}, "data": "x".repeat(4096)});
    let (status, body) = f.call("POST", "/api/v1/namespaces/a/widgets", Some(big)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["message"], "Request entity too large: limit is 1024");
}

#[tokio::test]
async fn slow_requests_time_out_with_504_and_warnings_become_headers() {
    let f = Fixture::new().await;
    let slow = Router::new()
        .route(
            "/slow",
            get(|| async {
                warnings::warn("careful");
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        )
        .route(
            "/warned",
            get(|| async {
                warnings::warn("unknown field \"spec.x\"");
                "fine"
            }),
        )
        .layer(middleware::from_fn_with_state(f.state.clone(), observe))
        .with_state(f.state.clone());
    let request = Request::get("/slow?timeout=50ms").body(Body::empty()).unwrap();
    let (status, body) = json_of(slow.clone().oneshot(request).await.unwrap()).await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(body["reason"], "Timeout");
    assert_eq!(body["message"], "Timeout: request did not complete within the allotted timeout");
    let response = slow.oneshot(Request::get("/warned").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(response.headers()[header::WARNING], r#"299 - "unknown field \"spec.x\"""#);
}

#[tokio::test]
async fn health_version_and_metrics_are_served() {
    let f = Fixture::new().await;
    let response = f.send(Request::get("/readyz").body(Body::empty()).unwrap()).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.into_body().collect().await.unwrap().to_bytes(), "ok");
    let response = f.send(Request::get("/healthz/storage").body(Body::empty()).unwrap()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let (status, version) = f.call("GET", "/version", None).await;
    assert_eq!((status, version["major"].as_str()), (StatusCode::OK, Some("1")));
    f.call("GET", "/api/v1/widgets", None).await;
    let response = f.send(Request::get("/metrics").body(Body::empty()).unwrap()).await;
    let text = String::from_utf8(response.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    assert!(
        text.contains(
            r#"apiserver_request_total{verb="LIST",group="",resource="widgets",subresource="",code="200"} 1"#
        ),
        "{text}"
    );
    assert!(text.contains("apiserver_request_duration_seconds_bucket{"), "{text}");
    f.call("GET", "/apis/random.example/v1/things-1234", None).await;
    let response = f.send(Request::get("/metrics").body(Body::empty()).unwrap()).await;
    let text = String::from_utf8(response.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    assert!(!text.contains("things-1234"), "unknown paths do not become label values: {text}");
}

#[tokio::test]
async fn openapi_v2_is_json_or_protobuf_as_asked_with_an_etag() {
    let f = Fixture::new().await;
    let (status, document) = f.call("GET", "/openapi/v2", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(document["swagger"], "2.0");
    let ask = |accept: &'static str, etag: Option<String>| {
        let mut request = Request::get("/openapi/v2").header(header::ACCEPT, accept);
        if let Some(etag) = etag {
            request = request.header(header::IF_NONE_MATCH, etag);
        }
        f.send(request.body(Body::empty()).unwrap())
    };
    // client-go's OpenAPISchema asks with the older name and reads the answer's type with Go's MIME parser.
    let protobuf = ask("application/com.github.proto-openapi.spec.v2@v1.0+protobuf", None).await;
    assert_eq!(protobuf.status(), StatusCode::OK);
    assert_eq!(protobuf.headers()[header::CONTENT_TYPE], "application/com.github.proto-openapi.spec.v2.v1.0+protobuf");
    let etag = protobuf.headers()[header::ETAG].to_str().unwrap().to_string();
    let body = protobuf.into_body().collect().await.unwrap().to_bytes();
    let mut reader = crate::protobuf::wire::Reader::new(&body);
    let mut swagger = None;
    while let Some((number, value)) = reader.next_field().unwrap() {
        if let (1, crate::protobuf::wire::Value::Len(text)) = (number, value) {
            swagger = Some(text.to_vec());
        }
    }
    assert_eq!(swagger.as_deref(), Some(&b"2.0"[..]), "field 1 of openapi.v2.Document is the swagger version");
    let cached = ask("application/com.github.proto-openapi.spec.v2.v1.0+protobuf", Some(etag)).await;
    assert_eq!(cached.status(), StatusCode::NOT_MODIFIED);
    let preferred =
        ask("application/com.github.proto-openapi.spec.v2@v1.0+protobuf;q=0.5, application/json", None).await;
    assert_eq!(preferred.headers()[header::CONTENT_TYPE], "application/json");
    let refused = ask("text/html", None).await;
    assert_eq!(refused.status(), StatusCode::NOT_ACCEPTABLE);
}
