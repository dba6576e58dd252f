//! The cluster proxy: `clusters/<name>/proxy/...` forwarded to member clusters with impersonation.

mod support;

use std::{
    path::Path,
    time::{Duration, Instant},
};

use base64::Engine as _;
use flotilla_testkit::{
    identity::{RawAnswer, kubectl_with},
    server::ApiServer,
};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use support::{BackendKind, Flotilla, flotilla_binary};

const PROXY: &str = "/apis/cluster.karmada.io/v1alpha1/clusters";
/// The impersonator's static token on every test member.
const IMPERSONATOR_TOKEN: &str = "impersonator-token-0123456789";

/// A member cluster: a second API server whose `karmada-impersonator` (a static token) may impersonate users and
/// groups and read nodes, as `karmada join` sets a member up. The directory holds its token file.
async fn member() -> (ApiServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let tokens = dir.path().join("tokens.csv");
    std::fs::write(&tokens, format!("{IMPERSONATOR_TOKEN},karmada-impersonator,uid-impersonator,\n")).unwrap();
    let server = ApiServer::start_with(
        flotilla_binary(),
        BackendKind::Embedded,
        &["--token-auth-file", tokens.to_str().unwrap()],
    )
    .await;
    apply(
        &server,
        &json!({"apiVersion": "v1", "kind": "List", "items": [
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
             "metadata": {"name": "karmada-impersonator"},
             "rules": [
                {"apiGroups": [""], "resources": ["users", "groups"], "verbs": ["impersonate"]},
                {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch"]}]},
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
             "metadata": {"name": "karmada-impersonator"},
             "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "karmada-impersonator"},
             "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "karmada-impersonator"}]}
        ]}),
    );
    (server, dir)
}

/// `kubectl apply -f` of `manifest` (an object, or a `List` applied as one document per item) on `server` as its
/// admin.
fn apply(server: &ApiServer, manifest: &Value) {
    let path = server.dir().join(format!("manifest-{}.yaml", unique_suffix()));
    let documents: Vec<String> = match manifest["items"].as_array() {
        Some(items) => items.iter().map(Value::to_string).collect(),
        None => vec![manifest.to_string()],
    };
    std::fs::write(&path, documents.join("\n---\n")).unwrap();
    let output = server.kubectl(&["apply", "-f", path.to_str().unwrap()]);
    assert!(output.status.success(), "apply failed: {}", String::from_utf8_lossy(&output.stderr));
}

fn unique_suffix() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
}

fn node(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {"test": "proxy"}}})
}

/// Registers `member` in Flotilla as Cluster `name`, with its secrets in `karmada-cluster` as `join` writes them.
fn join(flotilla: &ApiServer, name: &str, member: &ApiServer) {
    let b64 = |text: &str| base64::engine::general_purpose::STANDARD.encode(text);
    let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "karmada-cluster"}});
    apply(
        flotilla,
        &json!({"apiVersion": "v1", "kind": "List", "items": [
            namespace,
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": "karmada-cluster"},
             "data": {"token": b64("not-used-by-the-proxy"), "caBundle": b64(member.ca_pem())}},
            {"apiVersion": "v1", "kind": "Secret",
             "metadata": {"name": format!("{name}-impersonator"), "namespace": "karmada-cluster"},
             "data": {"token": b64(IMPERSONATOR_TOKEN)}},
            {"apiVersion": "cluster.karmada.io/v1alpha1", "kind": "Cluster", "metadata": {"name": name},
             "spec": {"syncMode": "Push", "apiEndpoint": member.url(),
                      "secretRef": {"namespace": "karmada-cluster", "name": name},
                      "impersonatorSecretRef": {"namespace": "karmada-cluster", "name": format!("{name}-impersonator")}}}
        ]}),
    );
}

/// `kubectl get --raw <path>` with `kubeconfig`: stdout on success, stderr on failure.
fn get_raw(kubeconfig: &Path, path: &str) -> Result<String, String> {
    let output = kubectl_with(kubeconfig, &["get", "--raw", path]);
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    if output.status.success() { Ok(stdout.into_owned()) } else { Err(stderr.into_owned()) }
}

fn names(list: &Value) -> Vec<String> {
    let mut names: Vec<String> = list["items"]
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .filter_map(|item| item["metadata"]["name"].as_str().map(String::from))
        .collect();
    names.sort();
    names
}

async fn get(server: &ApiServer, kubeconfig: &Path, path: &str) -> RawAnswer {
    server.raw_request(kubeconfig, http::Request::get(path).body(Vec::new()).unwrap()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_is_reached_through_the_proxy_as_the_caller() {
    let (member, _tokens) = member().await;
    apply(&member, &node("worker-1"));
    let flotilla = Flotilla::start(BackendKind::Embedded).await;
    join(&flotilla.server, "member1", &member);
    let admin = flotilla.server.kubeconfig_path().to_path_buf();

    // The admin lists the member's nodes.
    let nodes = get_raw(&admin, &format!("{PROXY}/member1/proxy/api/v1/nodes")).expect("listing through the proxy");
    let nodes: Value = serde_json::from_str(&nodes).unwrap();
    assert_eq!(names(&nodes), ["worker-1"]);

    // alice may not use the proxy until RBAC allows clusters/proxy.
    let alice = flotilla.server.kubeconfig_for("alice", &["developers"]);
    let refused = get_raw(&alice, &format!("{PROXY}/member1/proxy/api/v1/nodes")).unwrap_err();
    assert!(
        refused.contains(
            "clusters.cluster.karmada.io \"member1\" is forbidden: User \"alice\" cannot get resource \
             \"clusters/proxy\" in API group \"cluster.karmada.io\" at the cluster scope"
        ),
        "{refused}"
    );
    apply(
        &flotilla.server,
        &json!({"apiVersion": "v1", "kind": "List", "items": [
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "cluster-proxy"},
             "rules": [{"apiGroups": ["cluster.karmada.io"], "resources": ["clusters/proxy"],
                        "verbs": ["get", "create"]}]},
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
             "metadata": {"name": "alice-cluster-proxy"},
             "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-proxy"},
             "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"}]}
        ]}),
    );

    // The member sees alice (and her groups), not the impersonator, so its own RBAC decides for her.
    let whoami = http::Request::post(format!("{PROXY}/member1/proxy/apis/authentication.k8s.io/v1/selfsubjectreviews"))
        .header("Content-Type", "application/json")
        .body(json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}).to_string().into_bytes())
        .unwrap();
    let answer = flotilla.server.raw_request(&alice, whoami).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    let user = &answer.json()["status"]["userInfo"];
    assert_eq!(user["username"], "alice", "{user}");
    let groups: Vec<&str> = user["groups"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(groups.contains(&"developers"), "{user}");
    let denied = get(&flotilla.server, &alice, &format!("{PROXY}/member1/proxy/api/v1/nodes")).await;
    assert_eq!(denied.status, 403, "{}", denied.body);
    let message = denied.json()["message"].as_str().unwrap_or_default().to_string();
    assert!(message.contains("User \"alice\" cannot list resource \"nodes\""), "{message}");

    // An unknown cluster is a 404 naming it.
    let unknown = get(&flotilla.server, &admin, &format!("{PROXY}/nowhere/proxy/api/v1/nodes")).await;
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    assert_eq!(unknown.json()["message"], "clusters.cluster.karmada.io \"nowhere\" not found");

    // Discovery lists the subresource with the verbs of a connect subresource.
    let discovery: Value =
        serde_json::from_str(&get_raw(&admin, "/apis/cluster.karmada.io/v1alpha1").unwrap()).unwrap();
    let proxy = discovery["resources"].as_array().unwrap().iter().find(|r| r["name"] == "clusters/proxy").cloned();
    let proxy = proxy.unwrap_or_else(|| panic!("clusters/proxy not in discovery: {discovery}"));
    assert_eq!(proxy["verbs"], json!(["create", "delete", "get", "patch", "update"]));
    assert_eq!(proxy["kind"], "ClusterProxyOptions");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_through_the_proxy_streams_events_created_afterwards() {
    let (member, _tokens) = member().await;
    let flotilla = Flotilla::start(BackendKind::Embedded).await;
    join(&flotilla.server, "member1", &member);
    let client = flotilla.client().await;
    let list =
        get(&flotilla.server, flotilla.server.kubeconfig_path(), &format!("{PROXY}/member1/proxy/api/v1/nodes")).await;
    assert_eq!(list.status, 200, "{}", list.body);
    let version = list.json()["metadata"]["resourceVersion"].as_str().unwrap_or_default().to_string();
    let watch = http::Request::get(format!(
        "{PROXY}/member1/proxy/api/v1/nodes?watch=true&resourceVersion={version}&timeoutSeconds=60"
    ))
    .body(kube::client::Body::empty())
    .unwrap();
    let response = client.send(watch).await.expect("starting a watch through the proxy");
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();

    apply(&member, &node("late-node"));
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = String::new();
    while !seen.contains("late-node") {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, body.frame()).await {
            Ok(Some(Ok(frame))) => {
                if let Ok(data) = frame.into_data() {
                    seen.push_str(&String::from_utf8_lossy(&data));
                }
            }
            Ok(other) => panic!("the watch ended early ({:?}) after: {seen}", other.map(|r| r.map(|_| ()))),
            Err(_) => panic!("no ADDED event for late-node within 30 s; got: {seen}"),
        }
    }
    let event: Value = serde_json::from_str(seen.lines().find(|l| l.contains("late-node")).unwrap()).unwrap();
    assert_eq!(event["type"], "ADDED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_star_cluster_fans_lists_out_and_a_stopped_member_is_unavailable() {
    let (member1, _tokens1) = member().await;
    let (mut member2, _tokens2) = member().await;
    apply(&member1, &node("only-in-1"));
    apply(&member2, &node("only-in-2"));
    for member in [&member1, &member2] {
        apply(member, &node("everywhere"));
    }
    let flotilla = Flotilla::start(BackendKind::Embedded).await;
    join(&flotilla.server, "member1", &member1);
    join(&flotilla.server, "member2", &member2);
    let admin = flotilla.server.kubeconfig_path().to_path_buf();

    // A list through `*` merges every member's items.
    let merged: Value =
        serde_json::from_str(&get_raw(&admin, &format!("{PROXY}/*/proxy/api/v1/nodes")).expect("a merged list"))
            .unwrap();
    assert_eq!(names(&merged), ["everywhere", "everywhere", "only-in-1", "only-in-2"]);
    assert_eq!(merged["kind"], "NodeList");

    // A named object goes to the one member that has it; one in several members is ambiguous.
    let one = get(&flotilla.server, &admin, &format!("{PROXY}/*/proxy/api/v1/nodes/only-in-2")).await;
    assert_eq!((one.status, one.json()["metadata"]["name"].clone()), (200, json!("only-in-2")), "{}", one.body);
    let ambiguous = get(&flotilla.server, &admin, &format!("{PROXY}/*/proxy/api/v1/nodes/everywhere")).await;
    assert_eq!(ambiguous.status, 409, "{}", ambiguous.body);
    assert!(ambiguous.body.contains("exist in more than one cluster: member1,member2"), "{}", ambiguous.body);
    let missing = get(&flotilla.server, &admin, &format!("{PROXY}/*/proxy/api/v1/nodes/nowhere")).await;
    assert_eq!(missing.status, 404, "{}", missing.body);

    // A path that is not a resource is Flotilla's own, answered for the caller.
    let version: Value =
        serde_json::from_str(&get_raw(&admin, &format!("{PROXY}/*/proxy/version")).expect("/version")).unwrap();
    assert!(version["gitVersion"].is_string(), "{version}");

    // A stopped member is a 503 naming it; `*` lists what the others have.
    member2.halt();
    let down = get(&flotilla.server, &admin, &format!("{PROXY}/member2/proxy/api/v1/nodes")).await;
    assert_eq!(down.status, 503, "{}", down.body);
    let message = down.json()["message"].as_str().unwrap_or_default().to_string();
    assert!(message.contains("\"member2\""), "{message}");
    let merged: Value =
        serde_json::from_str(&get_raw(&admin, &format!("{PROXY}/*/proxy/api/v1/nodes")).expect("a merged list"))
            .unwrap();
    assert_eq!(names(&merged), ["everywhere", "only-in-1"]);
}

/// A minimal HTTP CONNECT proxy on 127.0.0.1: each tunnel it opens is reported as its request head.
async fn connect_proxy() -> (String, tokio::sync::mpsc::UnboundedReceiver<String>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binding the proxy");
    let address = listener.local_addr().unwrap();
    let (report, reports) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let report = report.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if client.read(&mut byte).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                let target = head.split_whitespace().nth(1).unwrap_or_default().to_string();
                let _ = report.send(head);
                let Ok(mut upstream) = tokio::net::TcpStream::connect(target).await else { return };
                let _ = client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").await;
                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
            });
        }
    });
    (format!("http://{address}"), reports)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_given_a_proxy_url_is_reached_through_it_with_its_proxy_headers() {
    let (member, _tokens) = member().await;
    apply(&member, &node("behind-proxy"));
    let flotilla = Flotilla::start(BackendKind::Embedded).await;
    join(&flotilla.server, "member1", &member);
    let (proxy_url, mut tunnels) = connect_proxy().await;
    let admin = flotilla.server.kubeconfig_path().to_path_buf();
    get_raw(&admin, &format!("{PROXY}/member1/proxy/api/v1/nodes")).expect("listing directly");
    assert!(tunnels.try_recv().is_err(), "no proxy URL yet, no tunnel");

    // Changing the Cluster replaces its cached client.
    apply(
        &flotilla.server,
        &json!({"apiVersion": "cluster.karmada.io/v1alpha1", "kind": "Cluster", "metadata": {"name": "member1"},
                "spec": {"syncMode": "Push", "apiEndpoint": member.url(), "proxyURL": proxy_url,
                         "proxyHeader": {"X-Proxy-Team": "fleet"},
                         "secretRef": {"namespace": "karmada-cluster", "name": "member1"},
                         "impersonatorSecretRef": {"namespace": "karmada-cluster", "name": "member1-impersonator"}}}),
    );
    let nodes = get_raw(&admin, &format!("{PROXY}/member1/proxy/api/v1/nodes")).expect("listing through the proxy");
    assert_eq!(names(&serde_json::from_str(&nodes).unwrap()), ["behind-proxy"]);
    let head = tunnels.try_recv().expect("the request went through the proxy URL");
    let port = member.port();
    assert!(head.starts_with(&format!("CONNECT 127.0.0.1:{port} HTTP/1.1")), "{head}");
    assert!(head.to_ascii_lowercase().contains("x-proxy-team: fleet"), "{head}");
}
