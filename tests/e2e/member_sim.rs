//! `flotilla member-sim`: simulated clusters reached with kubectl through the kubeconfig it writes, workloads that
//! get running pods, and the fault-control endpoint.

use std::{
    os::unix::fs::PermissionsExt,
    path::Path,
    process::{Command, Output, Stdio},
    time::{Duration, Instant},
};

use flotilla_testkit::membersim::MemberSimProcess;

/// A running `flotilla member-sim`; stopped with SIGTERM when dropped.
struct MemberSim {
    process: MemberSimProcess,
}

impl MemberSim {
    /// Starts `--clusters 2` with two 4-CPU nodes each and waits for its "running" line.
    fn start() -> Self {
        let flags = ["--clusters", "2", "--nodes-per-cluster", "2", "--node-cpu", "4", "--node-memory", "16Gi"];
        let more = ["--node-pods", "110", "--region", "member1=eu-west-1", "--zone", "member1=eu-west-1a"];
        Self {
            process: MemberSimProcess::start(
                Path::new(env!("CARGO_BIN_EXE_flotilla")),
                &[&flags[..], &more[..]].concat(),
            ),
        }
    }

    fn kubectl(&self, context: &str, args: &[&str]) -> Output {
        let output = flotilla_testkit::kubectl_command(self.process.kubeconfig())
            .args(["--context", context, "--request-timeout", "5s"])
            .args(args)
            .output();
        match output {
            Ok(output) => output,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                panic!(
                    "kubectl is not installed: run ./hack/setup.sh (or install kubectl) so that `kubectl` is on PATH"
                )
            }
            Err(error) => panic!("running kubectl: {error}"),
        }
    }

    /// kubectl that must succeed; its stdout.
    fn ok(&self, context: &str, args: &[&str]) -> String {
        let output = self.kubectl(context, args);
        assert!(output.status.success(), "kubectl {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn apply(&self, context: &str, manifest: &str) {
        let mut child = flotilla_testkit::kubectl_command(self.process.kubeconfig())
            .args(["--context", context, "apply", "-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("kubectl apply starts (./hack/setup.sh installs kubectl)");
        std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), manifest.as_bytes()).expect("manifest");
        assert!(child.wait().expect("kubectl apply").success(), "kubectl apply of {manifest}");
    }

    /// Waits up to ten seconds for a jsonpath of an object to read `want`.
    fn wait_for(&self, context: &str, object: &str, jsonpath: &str, want: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut last = String::new();
        while Instant::now() < deadline {
            last = self.ok(context, &["get", object, "-o", &format!("jsonpath={jsonpath}")]);
            if last == want {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("{object} {jsonpath} is {last:?}, not {want:?}, after ten seconds");
    }
}

fn deployment(name: &str, replicas: u32, cpu: &str) -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: default}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers:
      - name: app
        image: nginx:1.27
        resources: {{requests: {{cpu: \"{cpu}\", memory: 64Mi}}}}
"
    )
}

#[test]
fn each_simulated_cluster_has_ready_nodes_with_topology_and_its_kubernetes_version() {
    let sim = MemberSim::start();
    let mode = std::fs::metadata(sim.process.kubeconfig()).expect("the kubeconfig exists").permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the kubeconfig holds private keys");
    for context in ["member1", "member2"] {
        let nodes = sim.ok(context, &["get", "nodes", "--no-headers"]);
        let lines: Vec<&str> = nodes.lines().collect();
        assert_eq!(lines.len(), 2, "{nodes}");
        assert!(lines.iter().all(|line| line.split_whitespace().nth(1) == Some("Ready")), "{nodes}");
        let version = sim.ok(context, &["get", "--raw", "/version"]);
        assert!(
            version.contains("\"gitVersion\": \"v1.31.0\"") || version.contains("\"gitVersion\":\"v1.31.0\""),
            "{version}"
        );
    }
    let region = sim
        .ok("member1", &["get", "nodes", "-o", "jsonpath={.items[0].metadata.labels.topology\\.kubernetes\\.io/zone}"]);
    assert_eq!(region, "eu-west-1a");
    let allocatable = sim.ok("member2", &["get", "nodes", "-o", "jsonpath={.items[0].status.allocatable.cpu}"]);
    assert_eq!(allocatable, "4");
}

#[test]
fn a_deployment_gets_ready_pods_and_follows_scaling() {
    let sim = MemberSim::start();
    sim.apply("member1", &deployment("web", 3, "100m"));
    sim.wait_for("member1", "deployment/web", "{.status.readyReplicas}", "3");
    sim.wait_for("member1", "deployment/web", "{.status.conditions[?(@.type==\"Available\")].status}", "True");
    let pods = sim.ok("member1", &["get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].status.phase}"]);
    assert_eq!(pods, "Running Running Running");
    sim.ok("member1", &["patch", "deployment", "web", "-p", "{\"spec\":{\"replicas\":5}}"]);
    sim.wait_for("member1", "deployment/web", "{.status.readyReplicas}", "5");
    sim.wait_for("member1", "deployment/web", "{.status.updatedReplicas}", "5");
    let member2 = sim.ok("member2", &["get", "pods", "-A", "--no-headers"]);
    assert!(member2.trim().is_empty(), "the clusters are independent: {member2}");
}

#[test]
fn a_deployment_too_large_for_the_nodes_leaves_pods_pending_as_unschedulable() {
    let sim = MemberSim::start();
    // Two nodes of 4 CPUs take two 3-CPU pods; the other two stay Pending.
    sim.apply("member1", &deployment("big", 4, "3"));
    sim.wait_for("member1", "deployment/big", "{.status.readyReplicas}", "2");
    let pending = sim.ok(
        "member1",
        &[
            "get",
            "pods",
            "-l",
            "app=big",
            "--field-selector",
            "status.phase=Pending",
            "-o",
            "jsonpath={.items[*].status.conditions[0].reason}",
        ],
    );
    assert_eq!(pending, "Unschedulable Unschedulable");
    sim.wait_for("member1", "deployment/big", "{.status.conditions[?(@.type==\"Available\")].status}", "False");
}

#[test]
fn a_stopped_cluster_refuses_connections_until_it_is_started_again() {
    let sim = MemberSim::start();
    assert_eq!(sim.process.control("POST", "/clusters/member2/stop"), 200);
    let refused = sim.kubectl("member2", &["get", "nodes"]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("refused"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    sim.ok("member1", &["get", "nodes"]);
    assert_eq!(sim.process.control("POST", "/clusters/member2/start"), 200);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !sim.kubectl("member2", &["get", "nodes"]).status.success() {
        assert!(Instant::now() < deadline, "member2 serves again after start");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(sim.process.control("POST", "/clusters/member2/errors?status=503"), 200);
    let failing = sim.kubectl("member2", &["get", "nodes"]);
    assert!(String::from_utf8_lossy(&failing.stderr).contains("ServiceUnavailable"));
    assert_eq!(sim.process.control("DELETE", "/clusters/member2/errors"), 200);
    sim.ok("member2", &["get", "nodes"]);
    assert_eq!(sim.process.control("POST", "/clusters/member9/stop"), 404);
}

/// Runs kubectl against `context`'s server with only the bearer `token` (no client certificate).
fn kubectl_with_token(sim: &MemberSim, context: &str, token: &str, args: &[&str]) -> Output {
    let view = sim.ok(context, &["config", "view", "--raw", "--minify", "-o", "json"]);
    let view: serde_json::Value = serde_json::from_str(&view).expect("kubectl config view prints JSON");
    let cluster = &view["clusters"][0]["cluster"];
    let ca = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        cluster["certificate-authority-data"].as_str().unwrap_or_default(),
    )
    .expect("the CA is base64");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (ca_file, empty) = (dir.path().join("ca.crt"), dir.path().join("empty.kubeconfig"));
    std::fs::write(&ca_file, ca).expect("writing the CA");
    std::fs::write(&empty, "").expect("writing an empty kubeconfig");
    Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&empty)
        .arg(format!("--server={}", cluster["server"].as_str().unwrap_or_default()))
        .arg(format!("--certificate-authority={}", ca_file.display()))
        .arg(format!("--token={token}"))
        .args(args)
        .output()
        .expect("kubectl runs (./hack/setup.sh installs it)")
}

#[test]
fn a_simulated_cluster_fills_token_secrets_whose_tokens_it_alone_accepts_until_revoked() {
    let sim = MemberSim::start();
    sim.apply(
        "member1",
        "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: joiner, namespace: default}\n---\napiVersion: v1\n\
         kind: Secret\nmetadata:\n  name: joiner-token\n  namespace: default\n  annotations: \
         {kubernetes.io/service-account.name: joiner}\ntype: kubernetes.io/service-account-token\n",
    );
    sim.wait_for("member1", "secret/joiner-token", "{.data.namespace}", "ZGVmYXVsdA==");
    let data = sim.ok("member1", &["get", "secret", "joiner-token", "-o", "jsonpath={.data.token}"]);
    let token = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, data.trim()).expect("base64");
    let token = String::from_utf8(token).expect("a JWT is text");
    let whoami = ["auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"];
    let answer = kubectl_with_token(&sim, "member1", &token, &whoami);
    assert_eq!(String::from_utf8_lossy(&answer.stdout), "system:serviceaccount:default:joiner");
    let elsewhere = kubectl_with_token(&sim, "member2", &token, &whoami);
    assert!(!elsewhere.status.success(), "member2 does not accept member1's token");
    sim.ok("member1", &["delete", "secret", "joiner-token"]);
    let revoked = kubectl_with_token(&sim, "member1", &token, &whoami);
    assert!(String::from_utf8_lossy(&revoked.stderr).contains("Unauthorized"), "deleting the Secret revokes the token");
    let issued = sim.ok("member1", &["create", "token", "joiner"]);
    let answer = kubectl_with_token(&sim, "member1", issued.trim(), &whoami);
    assert_eq!(String::from_utf8_lossy(&answer.stdout), "system:serviceaccount:default:joiner");
}
