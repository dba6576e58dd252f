//! `flotilla up` with simulated members: joined, Ready, not Ready when one stops, Ready again, restartable.

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Command, Output, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use nix::{sys::signal::Signal, unistd::Pid};
use serde_json::Value;

/// How long the members may take to be Ready after `up` starts (the promise).
const READY_WITHIN: Duration = Duration::from_secs(30);

/// A running `flotilla up` and the lines it printed until it was ready.
struct Up {
    child: Child,
    output: String,
}

impl Up {
    /// Starts `flotilla up` on a free port with fast status intervals and waits for `press Ctrl-C`.
    fn start(dir: &Path) -> Up {
        let mut child = Command::new(env!("CARGO_BIN_EXE_flotilla"))
            .args(["up", "--data-dir", dir.to_str().unwrap(), "--port", "0"])
            .args(["--cluster-status-update-frequency", "1s", "--cluster-monitor-grace-period", "3s"])
            .args(["--cluster-success-threshold", "1s"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting flotilla up");
        let stdout = child.stdout.take().expect("stdout");
        let (lines_tx, lines_rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if lines_tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut output = String::new();
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines_rx.recv_timeout(left) {
                Ok(line) => {
                    output.push_str(&line);
                    output.push('\n');
                    if line.contains("press Ctrl-C") {
                        break;
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    panic!("flotilla up did not become ready within 120 s:\n{output}");
                }
            }
        }
        Up { child, output }
    }

    /// The member control endpoint `up` printed.
    fn control(&self) -> String {
        let line =
            self.output.lines().find(|l| l.contains("member control endpoint")).expect("a control endpoint line");
        line.split_whitespace().find(|w| w.starts_with("http://")).expect("its URL").to_string()
    }

    /// SIGTERM, then asserts a clean exit.
    fn stop(mut self) {
        nix::sys::signal::kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM).expect("sending SIGTERM");
        let status = self.child.wait().expect("waiting for flotilla up");
        assert!(status.success(), "flotilla up exited with {status} after SIGTERM");
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn kubectl(kubeconfig: &Path, args: &[&str]) -> Output {
    flotilla_testkit::kubectl_command(kubeconfig)
        .args(args)
        .output()
        .expect("kubectl is not installed: ./hack/setup.sh or https://kubernetes.io/docs/tasks/tools/")
}

fn ok(kubeconfig: &Path, args: &[&str]) -> String {
    let output = kubectl(kubeconfig, args);
    assert!(output.status.success(), "kubectl {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `Ready` status and reason and the taint keys of a Cluster.
fn readiness(kubeconfig: &Path, name: &str) -> (String, String, Vec<String>) {
    let cluster: Value = serde_json::from_str(&ok(kubeconfig, &["get", "cluster", name, "-o", "json"])).unwrap();
    let conditions = cluster["status"]["conditions"].as_array().cloned().unwrap_or_default();
    let ready = conditions.iter().find(|c| c["type"] == "Ready").cloned().unwrap_or_default();
    let taints = cluster["spec"]["taints"].as_array().cloned().unwrap_or_default();
    let keys = taints.iter().filter_map(|t| t["key"].as_str().map(str::to_string)).collect();
    (ready["status"].as_str().unwrap_or("").into(), ready["reason"].as_str().unwrap_or("").into(), keys)
}

fn eventually(within: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !check() {
        assert!(Instant::now() < deadline, "{what} did not happen within {within:?}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// What the seeds do with client-go's dynamic client, with kube-rs: list `cluster.karmada.io/v1alpha1` clusters as
/// untyped objects; each name with whether its Ready condition is True.
fn dynamic_cluster_list(kubeconfig: &Path) -> Vec<(String, bool)> {
    use kube::{
        api::{Api, ApiResource, DynamicObject, ListParams},
        config::{KubeConfigOptions, Kubeconfig},
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    runtime.block_on(async {
        let config = Kubeconfig::read_from(kubeconfig).expect("the kubeconfig up wrote");
        let options = KubeConfigOptions { context: Some("flotilla".into()), ..KubeConfigOptions::default() };
        let config = kube::Config::from_custom_kubeconfig(config, &options).await.expect("its flotilla context");
        let client = kube::Client::try_from(config).expect("a client");
        let resource = ApiResource {
            group: "cluster.karmada.io".into(),
            version: "v1alpha1".into(),
            api_version: "cluster.karmada.io/v1alpha1".into(),
            kind: "Cluster".into(),
            plural: "clusters".into(),
        };
        let clusters: Api<DynamicObject> = Api::all_with(client, &resource);
        let list = clusters.list(&ListParams::default()).await.expect("listing clusters dynamically");
        list.items
            .iter()
            .map(|cluster| {
                let conditions = cluster.data["status"]["conditions"].as_array().cloned().unwrap_or_default();
                let ready = conditions.iter().any(|c| c["type"] == "Ready" && c["status"] == "True");
                (cluster.metadata.name.clone().unwrap_or_default(), ready)
            })
            .collect()
    })
}

/// POST on the member control endpoint `up` printed (`http://host:port`); asserts 200.
fn post(endpoint: &str, path: &str) {
    let address = endpoint.trim_start_matches("http://");
    assert_eq!(flotilla_testkit::membersim::control_request(address, "POST", path), 200, "POST {path}");
}

#[test]
fn up_joins_three_simulated_members_that_follow_their_health_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let up = Up::start(dir.path());
    let kubeconfig = dir.path().join("kubeconfig");
    eventually(READY_WITHIN.saturating_sub(started.elapsed()), "three Ready members", || {
        ["member1", "member2", "member3"].iter().all(|m| readiness(&kubeconfig, m).0 == "True")
    });
    let table = ok(&kubeconfig, &["get", "clusters", "-o", "wide"]);
    let rows: Vec<&str> = table.lines().skip(1).collect();
    assert_eq!(rows.len(), 3, "{table}");
    for row in rows {
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(&cells[1..4], ["v1.31.0", "Push", "True"], "{table}");
        assert!(cells[8].starts_with("https://127.0.0.1:"), "API-ENDPOINT: {table}");
    }
    assert!(table.contains("eu-west-1a") && table.contains("us-east-1"), "zones and regions: {table}");
    let listed = dynamic_cluster_list(&kubeconfig);
    assert_eq!(listed, [("member1".to_string(), true), ("member2".to_string(), true), ("member3".to_string(), true)]);
    let nodes = ok(&kubeconfig, &["--context", "member2", "get", "nodes", "-o", "name"]);
    assert_eq!(nodes.lines().count(), 3, "{nodes}");
    let proxied =
        ok(&kubeconfig, &["get", "--raw", "/apis/cluster.karmada.io/v1alpha1/clusters/member1/proxy/api/v1/nodes"]);
    assert!(proxied.contains("member1-node-1"), "{proxied}");

    post(&up.control(), "/clusters/member2/stop");
    eventually(Duration::from_secs(20), "member2 turning NotReady", || {
        let (status, reason, taints) = readiness(&kubeconfig, "member2");
        status == "False"
            && reason == "ClusterNotReachable"
            && taints.iter().any(|t| t == "cluster.karmada.io/not-ready")
    });
    assert_eq!(readiness(&kubeconfig, "member1").0, "True", "the other members are not affected");
    post(&up.control(), "/clusters/member2/start");
    eventually(Duration::from_secs(20), "member2 Ready again without its taint", || {
        let (status, _, taints) = readiness(&kubeconfig, "member2");
        status == "True" && taints.is_empty()
    });
    ok(&kubeconfig, &["create", "namespace", "kept"]);
    up.stop();

    let again = Up::start(dir.path());
    assert!(again.output.contains("registered by an earlier run"), "{}", again.output);
    assert!(ok(&kubeconfig, &["get", "namespace", "kept", "-o", "name"]).contains("namespace/kept"), "data reused");
    eventually(Duration::from_secs(30), "the new members Ready", || {
        ["member1", "member2", "member3"].iter().all(|m| readiness(&kubeconfig, m).0 == "True")
    });
    again.stop();
}
