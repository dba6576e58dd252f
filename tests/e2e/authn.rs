//! Authentication end to end: client certificates, tokens, front-proxy headers, anonymous, impersonation, whoami.

mod support;

use std::path::{Path, PathBuf};

use flotilla_certs::{Authority, CA_VALIDITY};
use flotilla_testkit::{
    identity::{RawAnswer, kubectl_with},
    server::{ApiServer, FRONT_PROXY_CLIENT},
};
use serde_json::{Value, json};
use support::{BackendKind, flotilla_binary};

const WHOAMI: &str = "/apis/authentication.k8s.io/v1/selfsubjectreviews";
const TOKEN_REVIEWS: &str = "/apis/authentication.k8s.io/v1/tokenreviews";

/// A token file with one user, written next to the test.
fn token_file(dir: &Path) -> PathBuf {
    let path = dir.join("tokens.csv");
    std::fs::write(&path, "s3cret-token,carol,uid-carol,\"devs,ops\"\n").expect("writing the token file");
    path
}

async fn server_with(extra: &[&str]) -> ApiServer {
    ApiServer::start_with(flotilla_binary(), BackendKind::Embedded, extra).await
}

/// A `POST` of an empty SelfSubjectReview with `headers`.
fn whoami_request(headers: &[(&str, &str)]) -> http::Request<Vec<u8>> {
    let mut builder = http::Request::post(WHOAMI).header("Content-Type", "application/json");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let body = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"});
    builder.body(serde_json::to_vec(&body).unwrap()).unwrap()
}

/// Who the server took the requester for: the user of a SelfSubjectReview answer, or the user a 403 names.
/// `None` for a 401.
fn identity(answer: &RawAnswer) -> Option<String> {
    match answer.status {
        201 => Some(answer.json()["status"]["userInfo"]["username"].as_str().unwrap_or_default().to_string()),
        401 => {
            assert_eq!(answer.json()["reason"], "Unauthorized", "{}", answer.body);
            None
        }
        403 => {
            let message = answer.json()["message"].as_str().unwrap_or_default().to_string();
            let user = message.split("User \"").nth(1).and_then(|rest| rest.split('"').next());
            Some(user.unwrap_or_else(|| panic!("a 403 naming no user: {message}")).to_string())
        }
        other => panic!("unexpected answer {other}: {}", answer.body),
    }
}

fn user_info(answer: &RawAnswer) -> Value {
    assert_eq!(answer.status, 201, "whoami failed: {}", answer.body);
    answer.json()["status"]["userInfo"].clone()
}

fn kubectl_json(kubeconfig: &Path, args: &[&str]) -> Value {
    let output = kubectl_with(kubeconfig, args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "kubectl {args:?} failed: {stderr}");
    serde_json::from_slice(&output.stdout).expect("kubectl printed JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_auth_whoami_shows_the_admin_of_the_client_certificate() {
    let server = server_with(&[]).await;
    let review = kubectl_json(server.kubeconfig_path(), &["auth", "whoami", "-o", "json"]);
    assert_eq!(review["kind"], "SelfSubjectReview");
    assert_eq!(review["status"]["userInfo"]["username"], "admin");
    assert_eq!(review["status"]["userInfo"]["groups"], json!(["system:masters", "system:authenticated"]));
    let table =
        String::from_utf8_lossy(&kubectl_with(server.kubeconfig_path(), &["auth", "whoami"]).stdout).into_owned();
    assert!(table.contains("Username") && table.contains("admin"), "{table}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_review_apis_are_discovered_with_only_the_create_verb() {
    let server = server_with(&[]).await;
    let output =
        kubectl_with(server.kubeconfig_path(), &["api-resources", "--api-group=authentication.k8s.io", "-o", "wide"]);
    let table = String::from_utf8_lossy(&output.stdout).into_owned();
    for name in ["selfsubjectreviews", "tokenreviews"] {
        let line = table.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("no {name} in:\n{table}"));
        assert_eq!(line.split_whitespace().nth(4), Some("create"), "{line}");
    }
    let legacy = server
        .raw_request(
            server.kubeconfig_path(),
            http::Request::get("/apis/authentication.k8s.io/v1").body(vec![]).unwrap(),
        )
        .await;
    let verbs: Vec<Value> = legacy.json()["resources"].as_array().unwrap().iter().map(|r| r["verbs"].clone()).collect();
    assert!(verbs.iter().all(|v| *v == json!(["create"])), "{}", legacy.body);
    let get = server.raw_request(server.kubeconfig_path(), http::Request::get(WHOAMI).body(vec![]).unwrap()).await;
    assert_eq!(get.status, 405, "{}", get.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_user_is_its_cn_in_its_organizations() {
    let server = server_with(&[]).await;
    let kubeconfig = server.kubeconfig_for("dora", &["team-a", "team-b"]);
    let info = user_info(&server.raw_request(&kubeconfig, whoami_request(&[])).await);
    assert_eq!(info["username"], "dora");
    assert_eq!(info["groups"], json!(["team-a", "team-b", "system:authenticated"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_static_token_authenticates_its_user_and_an_unknown_token_is_401() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = token_file(dir.path());
    let server = server_with(&["--token-auth-file", tokens.to_str().unwrap()]).await;
    let kubeconfig = server.kubeconfig_with("carol", None, Some("s3cret-token"));
    let info = user_info(&server.raw_request(&kubeconfig, whoami_request(&[])).await);
    assert_eq!(
        info,
        json!({"username": "carol", "uid": "uid-carol", "groups": ["devs", "ops", "system:authenticated"]})
    );

    // A presented but unknown token never falls back to anonymous.
    let wrong = server.kubeconfig_with("mallory", None, Some("not-a-token"));
    let answer = server.raw_request(&wrong, whoami_request(&[])).await;
    assert_eq!(answer.status, 401, "{}", answer.body);
    assert_eq!(
        answer.json(),
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": "Unauthorized",
               "reason": "Unauthorized", "code": 401})
    );
    let log = server.log();
    assert!(!log.contains("s3cret-token") && !log.contains("not-a-token"), "a token reached the log:\n{log}");
    let output = kubectl_with(&wrong, &["get", "namespaces"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("Unauthorized") || stderr.contains("provide credentials"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_token_file_stops_the_server_from_starting() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens.csv");
    std::fs::write(&tokens, "only-a-token,and-a-user\n").unwrap();
    let output = std::process::Command::new(flotilla_binary())
        .args(["apiserver", "--secure-port", "0", "--data-dir"])
        .arg(dir.path().join("data"))
        .arg("--cert-dir")
        .arg(dir.path().join("certs"))
        .arg("--token-auth-file")
        .arg(&tokens)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--token-auth-file") && stderr.contains("line 1"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_aggregators_request_shape_is_served_as_the_identity_it_names() {
    let server = server_with(&[]).await;
    let proxy = server.kubeconfig_with(FRONT_PROXY_CLIENT, Some(&server.front_proxy_client()), None);
    let request = whoami_request(&[
        ("X-Remote-User", "alice"),
        ("X-Remote-Group", "g1"),
        ("X-Remote-Group", "g2"),
        ("X-Remote-Extra-Foo", "bar"),
        ("X-Remote-Extra-Example.com%2fTeam", "blue"),
    ]);
    let info = user_info(&server.raw_request(&proxy, request).await);
    assert_eq!(
        info,
        json!({"username": "alice", "groups": ["g1", "g2", "system:authenticated"],
               "extra": {"foo": ["bar"], "example.com/team": ["blue"]}})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_front_proxy_headers_are_never_believed() {
    let server = server_with(&[]).await;
    let forged = [("X-Remote-User", "admin"), ("X-Remote-Group", "system:masters")];

    // No client certificate: the headers are ignored, the request is anonymous.
    let anonymous = server.kubeconfig_with("nobody", None, None);
    let answer = server.raw_request(&anonymous, whoami_request(&forged)).await;
    assert_eq!(identity(&answer).as_deref(), Some("system:anonymous"), "{}", answer.body);

    // A client certificate of the cluster CA: its own user, not the header's.
    let dora = server.kubeconfig_for("dora", &[]);
    let answer = server.raw_request(&dora, whoami_request(&forged)).await;
    assert_eq!(identity(&answer).as_deref(), Some("dora"), "{}", answer.body);

    // A certificate from a CA the server does not know, even with the allowed CN: 401.
    let stranger = Authority::generate("stranger-ca", CA_VALIDITY).unwrap();
    let cert = stranger.issue_client(FRONT_PROXY_CLIENT, &[]).unwrap();
    let wrong_ca = server.kubeconfig_with("stranger", Some(&cert), None);
    let answer = server.raw_request(&wrong_ca, whoami_request(&forged)).await;
    assert_eq!(identity(&answer), None, "{}", answer.body);

    // The front-proxy CA, but a common name not in --requestheader-allowed-names: 401.
    let front_proxy_ca = Authority::load(&server.pki().front_proxy_ca_cert, &server.pki().front_proxy_ca_key).unwrap();
    let cert = front_proxy_ca.issue_client("intruder", &[]).unwrap();
    let intruder = server.kubeconfig_with("intruder", Some(&cert), None);
    let answer = server.raw_request(&intruder, whoami_request(&forged)).await;
    assert_eq!(identity(&answer), None, "{}", answer.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_client_ca_file_is_trusted_without_a_restart() {
    let server = server_with(&[]).await;
    let who = |kubeconfig: PathBuf| {
        let server = &server;
        async move { identity(&server.raw_request(&kubeconfig, whoami_request(&[])).await) }
    };
    let next_ca = Authority::generate("next-client-ca", CA_VALIDITY).unwrap();
    let erin = server.kubeconfig_with("erin", Some(&next_ca.issue_client("erin", &[]).unwrap()), None);
    let dora = server.kubeconfig_for("dora", &[]);
    assert_eq!(who(erin.clone()).await, None, "a CA the server does not trust yet");

    // Rotation, step one: the file names both CAs.
    let ca_file = &server.pki().ca_cert;
    let current = std::fs::read_to_string(ca_file).unwrap();
    std::fs::write(ca_file, format!("{current}{}", next_ca.cert_pem())).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while who(erin.clone()).await.is_none() {
        assert!(std::time::Instant::now() < deadline, "the new CA was not trusted within 30 s");
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    assert_eq!(who(dora.clone()).await.as_deref(), Some("dora"), "the old CA is still trusted");

    // Step two: only the new CA.
    std::fs::write(ca_file, next_ca.cert_pem()).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while who(dora.clone()).await.is_some() {
        assert!(std::time::Instant::now() < deadline, "the old CA was still trusted after 30 s");
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    assert_eq!(who(erin).await.as_deref(), Some("erin"));
    assert!(server.log().contains("loaded a changed CA bundle"), "{}", server.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_anonymous_auth_a_request_without_credentials_is_401() {
    let server = server_with(&["--anonymous-auth=false"]).await;
    let anonymous = server.kubeconfig_with("nobody", None, None);
    let answer = server.raw_request(&anonymous, whoami_request(&[("X-Remote-User", "admin")])).await;
    assert_eq!(answer.status, 401, "{}", answer.body);
    assert_eq!(answer.json()["reason"], "Unauthorized");
    let version = server.raw_request(&anonymous, http::Request::get("/version").body(vec![]).unwrap()).await;
    assert_eq!(version.status, 401);
    let info = user_info(&server.raw_request(server.kubeconfig_path(), whoami_request(&[])).await);
    assert_eq!(info["username"], "admin");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_may_impersonate_and_whoami_shows_the_impersonated_user() {
    let server = server_with(&[]).await;
    let review = kubectl_json(
        server.kubeconfig_path(),
        &["auth", "whoami", "--as=alice", "--as-group=g", "--as-uid=u-1", "-o", "json"],
    );
    assert_eq!(
        review["status"]["userInfo"],
        json!({"username": "alice", "uid": "u-1", "groups": ["g", "system:authenticated"]})
    );
    let request = whoami_request(&[("Impersonate-User", "bob"), ("Impersonate-Extra-Scopes", "read")]);
    let info = user_info(&server.raw_request(server.kubeconfig_path(), request).await);
    assert_eq!(info, json!({"username": "bob", "groups": ["system:authenticated"], "extra": {"scopes": ["read"]}}));
    let groups_only = server.raw_request(server.kubeconfig_path(), whoami_request(&[("Impersonate-Group", "g")])).await;
    assert_eq!(groups_only.status, 500, "{}", groups_only.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_reviews_answer_for_valid_and_invalid_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = token_file(dir.path());
    let server = server_with(&["--token-auth-file", tokens.to_str().unwrap()]).await;
    let review = |token: &str| {
        let body = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}});
        http::Request::post(TOKEN_REVIEWS)
            .header("Content-Type", "application/json")
            .body(serde_json::to_vec(&body).unwrap())
            .unwrap()
    };
    let valid = server.raw_request(server.kubeconfig_path(), review("s3cret-token")).await;
    assert_eq!(valid.status, 201, "{}", valid.body);
    let status = &valid.json()["status"];
    assert_eq!(status["authenticated"], true);
    assert_eq!(
        status["user"],
        json!({"username": "carol", "uid": "uid-carol", "groups": ["devs", "ops", "system:authenticated"]})
    );
    let invalid = server.raw_request(server.kubeconfig_path(), review("nope")).await;
    assert_eq!(invalid.status, 201, "{}", invalid.body);
    let status = &invalid.json()["status"];
    assert_eq!(status["authenticated"], Value::Null);
    assert_eq!(status["error"], "invalid bearer token");
    let empty = server.raw_request(server.kubeconfig_path(), review("")).await;
    assert_eq!(empty.status, 400, "{}", empty.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delegating_server_takes_front_proxy_settings_and_tokens_from_its_host() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = token_file(dir.path());
    let host = server_with(&["--token-auth-file", tokens.to_str().unwrap()]).await;
    let aggregator_ca = Authority::generate("host-front-proxy-ca", CA_VALIDITY).unwrap();
    let ca_file = dir.path().join("front-proxy-ca.crt");
    std::fs::write(&ca_file, aggregator_ca.cert_pem()).unwrap();
    let from_file = format!("--from-file=requestheader-client-ca-file={}", ca_file.display());
    let output = kubectl_with(
        host.kubeconfig_path(),
        &[
            "create",
            "configmap",
            "extension-apiserver-authentication",
            "-n",
            "kube-system",
            &from_file,
            r#"--from-literal=requestheader-allowed-names=["aggregator"]"#,
            r#"--from-literal=requestheader-username-headers=["X-Flotilla-User"]"#,
            r#"--from-literal=requestheader-group-headers=["X-Flotilla-Group"]"#,
            r#"--from-literal=requestheader-extra-headers-prefix=["X-Flotilla-Extra-"]"#,
        ],
    );
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));

    let server = ApiServer::start_delegating(flotilla_binary(), host.kubeconfig_path(), &[]).await;
    let proxy_cert = aggregator_ca.issue_client("aggregator", &[]).unwrap();
    let proxy = server.kubeconfig_with("aggregator", Some(&proxy_cert), None);
    let request = whoami_request(&[("X-Flotilla-User", "zed"), ("X-Flotilla-Group", "z"), ("X-Flotilla-Extra-A", "1")]);
    let info = user_info(&server.raw_request(&proxy, request).await);
    assert_eq!(info, json!({"username": "zed", "groups": ["z", "system:authenticated"], "extra": {"a": ["1"]}}));

    // The host's names, not the defaults: X-Remote-User names nobody here, so the proxy's certificate is all
    // that is left, and the cluster CA does not vouch for it.
    let answer = server.raw_request(&proxy, whoami_request(&[("X-Remote-User", "zed")])).await;
    assert_eq!(identity(&answer), None, "{}", answer.body);
    // The local front-proxy CA is not trusted any more.
    let local_proxy = server.kubeconfig_with(FRONT_PROXY_CLIENT, Some(&server.front_proxy_client()), None);
    let answer = server.raw_request(&local_proxy, whoami_request(&[("X-Flotilla-User", "zed")])).await;
    assert_eq!(identity(&answer), None, "{}", answer.body);

    // A token only the host knows is checked by the host's TokenReview API.
    let carol = server.kubeconfig_with("carol", None, Some("s3cret-token"));
    let info = user_info(&server.raw_request(&carol, whoami_request(&[])).await);
    assert_eq!(info["username"], "carol");
    let stranger = server.kubeconfig_with("mallory", None, Some("unknown"));
    assert_eq!(server.raw_request(&stranger, whoami_request(&[])).await.status, 401);
}

/// Sets the front-proxy keys of the host's `kube-system/extension-apiserver-authentication` (a merge patch).
fn patch_host_front_proxy_settings(host: &ApiServer, data: Value) {
    let patch = json!({ "data": data }).to_string();
    let output = kubectl_with(
        host.kubeconfig_path(),
        &[
            "patch",
            "configmap",
            "extension-apiserver-authentication",
            "-n",
            "kube-system",
            "--type=merge",
            "-p",
            &patch,
        ],
    );
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}

/// Asks `who` with `headers` until the server answers with `expected` (a user, or `None` for 401), for 30 s.
async fn until_identity(server: &ApiServer, who: &Path, headers: &[(&str, &str)], expected: Option<&str>, what: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let answer = server.raw_request(who, whoami_request(headers)).await;
        if identity(&answer).as_deref() == expected {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "{what} within 30 s: {}", answer.body);
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delegating_server_follows_changes_of_the_hosts_authentication_configmap() {
    let host = server_with(&[]).await;
    let first_ca = Authority::generate("first-front-proxy-ca", CA_VALIDITY).unwrap();
    let output = kubectl_with(
        host.kubeconfig_path(),
        &["create", "configmap", "extension-apiserver-authentication", "-n", "kube-system"],
    );
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    patch_host_front_proxy_settings(
        &host,
        json!({
            "requestheader-client-ca-file": first_ca.cert_pem(),
            "requestheader-allowed-names": r#"["aggregator"]"#,
            "requestheader-username-headers": r#"["X-First-User"]"#,
        }),
    );
    let server = ApiServer::start_delegating(flotilla_binary(), host.kubeconfig_path(), &[]).await;
    let first_proxy =
        server.kubeconfig_with("aggregator", Some(&first_ca.issue_client("aggregator", &[]).unwrap()), None);
    let answer = server.raw_request(&first_proxy, whoami_request(&[("X-First-User", "zed")])).await;
    assert_eq!(identity(&answer).as_deref(), Some("zed"), "{}", answer.body);

    // The host rotates its front-proxy CA, renames the proxy and the user header: no restart needed.
    let second_ca = Authority::generate("second-front-proxy-ca", CA_VALIDITY).unwrap();
    patch_host_front_proxy_settings(
        &host,
        json!({
            "requestheader-client-ca-file": second_ca.cert_pem(),
            "requestheader-allowed-names": r#"["aggregator-2"]"#,
            "requestheader-username-headers": r#"["X-Second-User"]"#,
        }),
    );
    let second_proxy =
        server.kubeconfig_with("aggregator-2", Some(&second_ca.issue_client("aggregator-2", &[]).unwrap()), None);
    until_identity(&server, &second_proxy, &[("X-Second-User", "ann")], Some("ann"), "the new front proxy trusted")
        .await;
    let answer = server.raw_request(&first_proxy, whoami_request(&[("X-First-User", "zed")])).await;
    assert_eq!(identity(&answer), None, "the old front proxy is not trusted any more: {}", answer.body);

    // A broken publication keeps the last good settings.
    patch_host_front_proxy_settings(&host, json!({ "requestheader-allowed-names": "aggregator-3" }));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !server.log().contains("the host's changed authentication settings are not usable") {
        assert!(std::time::Instant::now() < deadline, "the broken ConfigMap was not noticed within 30 s");
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    let answer = server.raw_request(&second_proxy, whoami_request(&[("X-Second-User", "ann")])).await;
    assert_eq!(identity(&answer).as_deref(), Some("ann"), "{}", answer.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_protobuf_self_subject_review_as_client_go_sends_it_is_answered_in_json() {
    let server = server_with(&[]).await;
    // An empty SelfSubjectReview in Kubernetes protobuf (the protobuf decoder's fixture), as typed clients send it.
    let body = include_bytes!("../../apiserver/src/protobuf/testdata/ssr.pb").to_vec();
    let request = http::Request::post(WHOAMI)
        .header("Content-Type", "application/vnd.kubernetes.protobuf")
        .header("Accept", "application/vnd.kubernetes.protobuf, application/json")
        .body(body)
        .unwrap();
    let answer = server.raw_request(server.kubeconfig_path(), request).await;
    assert_eq!(answer.headers["content-type"], "application/json");
    assert_eq!(user_info(&answer)["username"], "admin");
    assert_eq!(answer.json()["kind"], "SelfSubjectReview");
}
