//! Bad requests get the Kubernetes `Status` a client expects, nothing is stored, and the server keeps serving.

mod support;

use kube::client::Body;
use serde_json::{Value, json};
use support::{BackendKind, Flotilla};

on_both_backends!(malformed_and_mismatched_requests_are_refused_with_the_right_status);

/// Sends a raw request and returns the status code and the parsed body (a `Status` for errors).
async fn send(
    client: &kube::Client,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (u16, Value) {
    let mut request = http::Request::builder().method(method).uri(path).header("Accept", "application/json");
    if let Some(content_type) = content_type {
        request = request.header("Content-Type", content_type);
    }
    let response = client.send(request.body(Body::from(body)).expect("a request")).await.expect("a response");
    let code = response.status().as_u16();
    let bytes = response.into_body().collect_bytes().await.expect("a body");
    (code, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// Asserts a `metav1.Status` failure with `code` and `reason`, and returns its message.
fn status(response: (u16, Value), code: u16, reason: &str) -> String {
    let (got, body) = response;
    assert_eq!(got, code, "HTTP status; body: {body}");
    assert_eq!(body["kind"], "Status", "{body}");
    assert_eq!(body["apiVersion"], "v1", "{body}");
    assert_eq!(body["status"], "Failure", "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["reason"], reason, "{body}");
    body["message"].as_str().unwrap_or_default().to_string()
}

async fn malformed_and_mismatched_requests_are_refused_with_the_right_status(kind: BackendKind) {
    let f = Flotilla::start(kind).await;
    f.namespace("bad");
    f.ok(&["create", "configmap", "kept", "-n", "bad", "--from-literal=a=b"]);
    let client = f.client().await;
    let c = &client;
    let cms = "/api/v1/namespaces/bad/configmaps";
    let json = Some("application/json");
    let body = |v: Value| serde_json::to_vec(&v).expect("JSON");

    // Bodies that are not objects at all.
    status(send(c, "POST", cms, json, b"{\"apiVersion\": \"v1\", \"kind\":".to_vec()).await, 400, "BadRequest");
    status(send(c, "POST", cms, Some("application/yaml"), b"metadata: [unclosed".to_vec()).await, 400, "BadRequest");
    status(send(c, "POST", cms, json, b"[1, 2, 3]".to_vec()).await, 400, "BadRequest");
    status(send(c, "POST", cms, Some("text/plain"), b"hello".to_vec()).await, 415, "UnsupportedMediaType");

    // The wrong kind or version for the URL, and a name that disagrees with it.
    let secret = body(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}));
    status(send(c, "POST", cms, json, secret).await, 400, "BadRequest");
    let wrong_version = body(json!({"apiVersion": "apps/v2", "kind": "Deployment", "metadata": {"name": "d"}}));
    status(send(c, "POST", "/apis/apps/v1/namespaces/bad/deployments", json, wrong_version).await, 400, "BadRequest");
    let other_namespace =
        body(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "elsewhere"}}));
    status(send(c, "POST", cms, json, other_namespace).await, 400, "BadRequest");
    let renamed = body(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "other"}}));
    let message = status(send(c, "PUT", &format!("{cms}/kept"), json, renamed).await, 400, "BadRequest");
    assert!(message.contains("does not match"), "{message}");

    // Invalid objects: one cause per field.
    let invalid = body(
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Bad_Name", "labels": {"ok": "-bad-"}}}),
    );
    let (code, status_body) = send(c, "POST", cms, json, invalid).await;
    assert_eq!((code, status_body["reason"].as_str()), (422, Some("Invalid")), "{status_body}");
    let fields: Vec<_> =
        status_body["details"]["causes"].as_array().expect("causes").iter().map(|c| c["field"].clone()).collect();
    assert!(fields.contains(&json!("metadata.name")), "{status_body}");
    assert!(fields.iter().any(|f| f.as_str().is_some_and(|f| f.starts_with("metadata.labels"))), "{status_body}");

    // Selectors.
    status(send(c, "GET", &format!("{cms}?labelSelector=a%20in%20("), None, Vec::new()).await, 400, "BadRequest");
    status(send(c, "GET", &format!("{cms}?fieldSelector=spec.nothing%3Dx"), None, Vec::new()).await, 400, "BadRequest");

    // Patches.
    let kept = format!("{cms}/kept");
    status(
        send(c, "PATCH", &kept, Some("application/json-patch+json"), b"{\"op\": \"add\"}".to_vec()).await,
        400,
        "BadRequest",
    );
    status(
        send(c, "PATCH", &kept, Some("application/merge-patch+json"), b"{not json".to_vec()).await,
        400,
        "BadRequest",
    );
    status(
        send(c, "PATCH", &kept, Some("application/x-unknown-patch"), b"{}".to_vec()).await,
        415,
        "UnsupportedMediaType",
    );

    // Sizes, paths and methods.
    let huge = body(
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "huge"}, "data": {"x": "y".repeat(4 << 20)}}),
    );
    status(send(c, "POST", cms, json, huge).await, 413, "RequestEntityTooLarge");
    status(send(c, "GET", "/api/v1/namespaces/bad/nosuchthings", None, Vec::new()).await, 404, "NotFound");
    status(send(c, "GET", "/apis/nosuch.example.com/v1/things", None, Vec::new()).await, 404, "NotFound");
    status(send(c, "PUT", cms, json, b"{}".to_vec()).await, 405, "MethodNotAllowed");
    let (code, _) = {
        let request = http::Request::builder()
            .uri(cms)
            .header("Accept", "application/vnd.kubernetes.protobuf")
            .body(Body::from(Vec::new()))
            .expect("a request");
        let response = client.send(request).await.expect("a response");
        (response.status().as_u16(), ())
    };
    assert_eq!(code, 406, "nothing acceptable can be produced");

    // Nothing was stored, and the server still serves.
    let names: Vec<String> =
        f.ok(&["get", "configmaps", "-n", "bad", "-o", "name"]).lines().map(String::from).collect();
    assert_eq!(names, ["configmap/kept"]);
    assert_eq!(f.json(&["get", "configmap", "kept", "-n", "bad"])["data"]["a"], "b");
    assert_eq!(f.ok(&["get", "--raw", "/readyz"]).trim(), "ok");
}

/// etcd only: the embedded store cannot become unreachable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_etcd_is_down_requests_get_503_with_retry_after_and_recover_after() {
    let mut etcd = flotilla_testkit::etcd::EtcdProcess::start().await;
    let server = flotilla_testkit::server::ApiServer::start_on_etcd(
        support::flotilla_binary(),
        &etcd.endpoint(),
        &["--storage-request-timeout", "2s"],
    )
    .await;
    let f = Flotilla { server };
    f.ok(&["get", "namespace", "default"]);
    let client = f.client().await;

    etcd.kill();
    let request = http::Request::get("/api/v1/namespaces/default").body(Body::from(Vec::new())).expect("a request");
    let response = client.send(request).await.expect("a response");
    assert_eq!(response.status().as_u16(), 503);
    assert_eq!(response.headers().get("Retry-After").and_then(|v| v.to_str().ok()), Some("1"));
    let body: Value =
        serde_json::from_slice(&response.into_body().collect_bytes().await.expect("body")).expect("a Status");
    assert_eq!(body["reason"], "ServiceUnavailable", "{body}");
    assert_eq!(body["details"]["retryAfterSeconds"], 1, "{body}");

    etcd.restart().await;
    f.eventually(std::time::Duration::from_secs(30), "the server to reach etcd again", || {
        f.kubectl(&["get", "namespace", "default"]).status.success()
    });
}
