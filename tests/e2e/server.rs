//! The HTTPS server as clients meet it: health, version, TLS versions and ALPN, limits, unknown paths, kubectl.

use std::{sync::Arc, time::Duration};

use flotilla_testkit::{backends::BackendKind, server::ApiServer};
use http::{Request, StatusCode};
use kube::client::Body;
use rustls::pki_types::pem::PemObject;
use serde_json::Value;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

async fn start(backend: BackendKind) -> ApiServer {
    ApiServer::start(std::path::Path::new(env!("CARGO_BIN_EXE_flotilla")), backend).await
}

/// Sends a raw request; returns the status and the body parsed as JSON (`Null` when it is not JSON).
async fn send(server: &ApiServer, request: Request<Body>) -> (StatusCode, Value) {
    let response = server.client().await.send(request).await.expect("sending the request");
    let status = response.status();
    let bytes = response.into_body().collect_bytes().await.expect("reading the response body");
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

async fn get_text(server: &ApiServer, path: &str) -> String {
    let request = Request::get(path).body(Vec::new()).unwrap();
    server.client().await.request_text(request).await.unwrap_or_else(|e| panic!("GET {path}: {e}"))
}

fn kubectl_ok(server: &ApiServer, args: &[&str]) -> String {
    let output = server.kubectl(args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "kubectl {args:?} failed: {stderr}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A TLS 1.1 ClientHello (no `supported_versions` extension) with TLS 1.0/1.1 cipher suites.
fn tls11_client_hello() -> Vec<u8> {
    let mut body = vec![0x03, 0x02];
    body.extend([7u8; 32]);
    body.push(0);
    let suites: [u8; 8] = [0xc0, 0x13, 0xc0, 0x09, 0x00, 0x2f, 0x00, 0x35];
    body.extend((suites.len() as u16).to_be_bytes());
    body.extend(suites);
    body.extend([1, 0]);
    let extensions: [u8; 14] = [0x00, 0x0a, 0x00, 0x04, 0x00, 0x02, 0x00, 0x17, 0x00, 0x0b, 0x00, 0x02, 0x01, 0x00];
    body.extend((extensions.len() as u16).to_be_bytes());
    body.extend(extensions);
    let mut handshake = vec![0x01, 0, 0, 0];
    handshake[1..4].copy_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    handshake.extend(body);
    let mut record = vec![0x16, 0x03, 0x01];
    record.extend((handshake.len() as u16).to_be_bytes());
    record.extend(handshake);
    record
}

/// The first bytes the server answers `hello` with (empty when it just closes).
async fn answer_to(server: &ApiServer, hello: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(("127.0.0.1", server.port())).await.expect("connecting");
    stream.write_all(hello).await.expect("writing");
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    answer
}

/// A TLS connection offering only `versions` and `alpn`.
async fn connect_tls(
    server: &ApiServer,
    versions: &[&'static rustls::SupportedProtocolVersion],
    alpn: &[&[u8]],
) -> tokio_rustls::client::TlsStream<TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(server.ca_pem().as_bytes()) {
        roots.add(cert.expect("a PEM certificate")).expect("a usable CA certificate");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(("127.0.0.1", server.port())).await.expect("connecting");
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("a server name");
    connector.connect(name, tcp).await.expect("a TLS handshake the server accepts")
}

/// The negotiated protocol version and ALPN protocol of a handshake offering only `versions`.
async fn handshake(
    server: &ApiServer,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> (rustls::ProtocolVersion, Option<Vec<u8>>) {
    let tls = connect_tls(server, versions, &[b"h2", b"http/1.1"]).await;
    let (_, session) = tls.get_ref();
    (session.protocol_version().expect("a negotiated version"), session.alpn_protocol().map(<[u8]>::to_vec))
}

async fn serves_kubernetes_clients_over_tls_only(backend: BackendKind) {
    let server = start(backend).await;

    assert_eq!(get_text(&server, "/readyz").await, "ok");
    let verbose = get_text(&server, "/readyz?verbose").await;
    for check in ["[+]ping ok", "[+]storage ok", "[+]watch-caches ok", "readyz check passed"] {
        assert!(verbose.contains(check), "{check} in:\n{verbose}");
    }
    assert_eq!(get_text(&server, "/livez").await, "ok");

    let version = server.client().await.apiserver_version().await.expect("GET /version");
    assert_eq!(version.major, "1");
    assert!(version.git_version.starts_with("v1."), "{}", version.git_version);

    let (tls13, alpn) = handshake(&server, &[&rustls::version::TLS13]).await;
    assert_eq!(tls13, rustls::ProtocolVersion::TLSv1_3);
    assert_eq!(alpn.as_deref(), Some(&b"h2"[..]), "h2 is offered first");
    let (tls12, _) = handshake(&server, &[&rustls::version::TLS12]).await;
    assert_eq!(tls12, rustls::ProtocolVersion::TLSv1_2);
    let answer = answer_to(&server, &tls11_client_hello()).await;
    assert_ne!(answer.first(), Some(&0x16), "TLS 1.1 must not get a ServerHello: {answer:?}");
    if answer.first() == Some(&0x15) {
        assert_eq!(answer.get(5), Some(&2), "a fatal alert (handshake_failure or protocol_version): {answer:?}");
    }

    let plain = answer_to(&server, b"GET /readyz HTTP/1.1\r\nHost: localhost\r\n\r\n").await;
    let plain = String::from_utf8_lossy(&plain);
    assert!(plain.starts_with("HTTP/1.0 400 Bad Request"), "plain HTTP is refused: {plain}");
    assert!(plain.contains("Client sent an HTTP request to an HTTPS server"), "{plain}");

    let huge = vec![b' '; 4 * 1024 * 1024];
    let request = Request::post("/api/v1/namespaces/default/configmaps")
        .header("content-type", "application/json")
        .body(Body::from(huge))
        .unwrap();
    let (status, body) = send(&server, request).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["reason"], "RequestEntityTooLarge");
    assert_eq!(body["message"], "Request entity too large: limit is 3145728");

    for path in ["/apis/example.com/v1/widgets", "/api/v1/nonexistents", "/apis/apps/v1/namespaces/default/widgets/x"] {
        let (status, body) = send(&server, Request::get(path).body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(body["kind"], "Status", "{path}");
        assert_eq!(body["message"], "the server could not find the requested resource", "{path}");
    }

    for discovery in [
        kube::Discovery::new(server.client().await).run().await.expect("legacy discovery with kube-rs"),
        kube::Discovery::new(server.client().await).run_aggregated().await.expect("aggregated discovery with kube-rs"),
    ] {
        assert!(discovery.has_group("apps") && discovery.has_group(""), "kube-rs discovers the core group and apps");
        let apps = discovery.get("apps").expect("the apps group");
        assert!(apps.recommended_resources().iter().any(|(r, _)| r.plural == "deployments"), "deployments in apps");
    }

    let resources = kubectl_ok(&server, &["api-resources"]);
    for resource in ["configmaps", "namespaces", "deployments", "customresourcedefinitions", "leases"] {
        assert!(resources.lines().any(|l| l.starts_with(&format!("{resource} "))), "{resource} in:\n{resources}");
    }
    let namespaces = kubectl_ok(&server, &["get", "ns"]);
    for namespace in ["default", "kube-system"] {
        assert!(namespaces.lines().any(|l| l.starts_with(&format!("{namespace} "))), "{namespace} in:\n{namespaces}");
    }

    let metrics = get_text(&server, "/metrics").await;
    assert!(
        metrics.contains(r#"apiserver_request_total{verb="GET",group="",resource="",subresource="",code="200"}"#),
        "{metrics}"
    );
    assert!(metrics.contains("apiserver_storage_request_duration_seconds_bucket"), "{metrics}");

    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_serves_kubernetes_clients_over_tls_only_on_the_embedded_store() {
    serves_kubernetes_clients_over_tls_only(BackendKind::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_serves_kubernetes_clients_over_tls_only_on_etcd() {
    serves_kubernetes_clients_over_tls_only(BackendKind::Etcd).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_open_watches_and_the_server_exits_cleanly() {
    let server = start(BackendKind::Embedded).await;
    let client = server.client().await;
    let request = Request::get("/api/v1/namespaces?watch=true").body(Body::empty()).unwrap();
    let response = client.send(request).await.expect("starting a watch");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/json");
    let reader = tokio::spawn(async move { response.into_body().collect_bytes().await.map(|b| b.len()) });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!reader.is_finished(), "the watch stays open while the server runs");
    let stopped = tokio::task::spawn_blocking(move || server.stop());
    let read = tokio::time::timeout(Duration::from_secs(10), reader)
        .await
        .expect("the watch ends when the server drains")
        .expect("the reader task");
    assert!(read.is_ok(), "the watch ended cleanly: {read:?}");
    stopped.await.expect("the server stopped cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_finishes_its_headers_is_disconnected() {
    let binary = std::path::Path::new(env!("CARGO_BIN_EXE_flotilla"));
    let server = ApiServer::start_with(binary, BackendKind::Embedded, &["--header-read-timeout", "1s"]).await;
    let mut tls = connect_tls(&server, &[&rustls::version::TLS13], &[b"http/1.1"]).await;
    tls.write_all(b"GET /readyz HTTP/1.1\r\nHost: localhost\r\n").await.expect("writing half a request");
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), tls.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the server closed the connection after its header-read timeout");
    assert!(!String::from_utf8_lossy(&answer).contains("ok"), "nothing was served: {answer:?}");
    server.stop();
}
