//! End-to-end tests of `flotilla join`/`unjoin` and the cluster status controller, with real API servers as members.

mod support;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use flotilla_testkit::{membersim::MemberSimProcess, server::ApiServer};
use serde_json::Value;
use support::{BackendKind, flotilla_binary};

/// Short timings so health changes show within seconds.
const FAST: &[&str] = &[
    "--cluster-status-update-frequency",
    "1s",
    "--cluster-monitor-grace-period",
    "3s",
    "--cluster-success-threshold",
    "1s",
];

async fn server() -> ApiServer {
    ApiServer::start(flotilla_binary(), BackendKind::Embedded).await
}

fn flotilla(args: &[&str]) -> Output {
    Command::new(flotilla_binary()).args(args).stdin(Stdio::null()).output().expect("running flotilla")
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

fn join(control: &ApiServer, name: &str, member_kubeconfig: &Path, extra: &[&str]) -> Output {
    let kubeconfig = control.kubeconfig_path().to_string_lossy().into_owned();
    let member = member_kubeconfig.to_string_lossy().into_owned();
    let mut args = vec!["join", name, "--kubeconfig", &kubeconfig, "--cluster-kubeconfig", &member];
    args.extend_from_slice(extra);
    flotilla(&args)
}

fn get_json(server: &ApiServer, args: &[&str]) -> Option<Value> {
    let mut all = args.to_vec();
    all.extend(["-o", "json"]);
    let output = server.kubectl(&all);
    output.status.success().then(|| serde_json::from_slice(&output.stdout).ok()).flatten()
}

/// A `flotilla controllers` process, killed (SIGKILL) when dropped.
struct Controllers {
    child: Child,
    log: std::path::PathBuf,
}

impl Controllers {
    fn start(control: &ApiServer, extra: &[&str]) -> Controllers {
        let log = control.dir().join(format!("controllers-{}.log", fastrand_suffix()));
        let file = std::fs::File::create(&log).expect("creating the controllers log");
        let child = Command::new(flotilla_binary())
            .arg("controllers")
            .arg("--kubeconfig")
            .arg(control.kubeconfig_path())
            .args(FAST)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log file"))
            .stderr(file)
            .spawn()
            .expect("starting flotilla controllers");
        Controllers { child, log }
    }

    /// Whether `holder` (a Lease's `holderIdentity`, `<host>_<pid>`) is this process.
    fn holds(&self, holder: &str) -> bool {
        holder.ends_with(&format!("_{}", self.child.id()))
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Stops it as `kill <pid>` or a pod deletion does (SIGTERM) and waits for it to exit.
    fn terminate(&mut self) {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).expect("a pid"));
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let _ = self.child.wait();
    }
}

impl Drop for Controllers {
    fn drop(&mut self) {
        self.kill();
    }
}

fn fastrand_suffix() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default()
}

/// Polls `check` every 200 ms until it returns `Some`, or fails after `within` saying what it waited for.
async fn eventually<T>(within: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "{what} did not happen within {within:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn condition(cluster: &Value, type_: &str) -> Option<(String, String, String)> {
    cluster["status"]["conditions"].as_array()?.iter().find(|c| c["type"] == type_).map(|c| {
        let field = |k: &str| c[k].as_str().unwrap_or_default().to_owned();
        (field("status"), field("reason"), field("message"))
    })
}

fn taint_keys(cluster: &Value) -> Vec<String> {
    cluster["spec"]["taints"]
        .as_array()
        .map(|ts| ts.iter().filter_map(|t| t["key"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

/// One Ready node (8 CPUs, 32Gi, 110 Pods) in `member`, a Pod scheduled on it and a Pending one.
fn add_node_and_pods(member: &ApiServer) {
    let run = |args: &[&str]| {
        let output = member.kubectl(args);
        assert!(output.status.success(), "kubectl {args:?}: {}", text(&output));
    };
    let manifests = member.dir().join("workload.yaml");
    let pod = |name: &str, node: &str, cpu: &str, memory: &str| {
        format!(
            "---\napiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: default}}\nspec:\n  {node}\n  \
             containers:\n  - name: app\n    image: nginx\n    resources: {{requests: {{cpu: '{cpu}'{memory}}}}}\n"
        )
    };
    let text = format!(
        "apiVersion: v1\nkind: Node\nmetadata: {{name: node1}}\n{}{}",
        pod("running", "nodeName: node1", "1500m", ", memory: 1Gi"),
        pod("pending", "restartPolicy: Always", "2", ""),
    );
    std::fs::write(&manifests, text).expect("writing manifests");
    run(&["apply", "-f", &manifests.to_string_lossy()]);
    let status = r#"{"status":{"allocatable":{"cpu":"8","memory":"32Gi","pods":"110"},"capacity":{"cpu":"8","memory":"32Gi","pods":"110"},"conditions":[{"type":"Ready","status":"True","reason":"KubeletReady","message":"ready"}]}}"#;
    run(&["patch", "node", "node1", "--subresource=status", "--type=merge", "-p", status]);
}

/// Where a joined member says it runs, and a label.
const PLACEMENT_FLAGS: &[&str] = &[
    "--cluster-provider",
    "simcloud",
    "--cluster-region",
    "eu-west",
    "--cluster-zones",
    "a,b",
    "--labels",
    "tier=gold",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_joined_member_is_registered_reported_ready_and_unjoined() {
    let control = server().await;
    let member = server().await;
    let output = join(&control, "member1", member.kubeconfig_path(), PLACEMENT_FLAGS);
    assert!(output.status.success(), "join failed: {}", text(&output));
    assert!(text(&output).contains("cluster(member1) is joined successfully"));

    let cluster = get_json(&control, &["get", "cluster", "member1"]).expect("the Cluster exists");
    assert_eq!(cluster["spec"]["syncMode"], "Push");
    assert_eq!(cluster["spec"]["apiEndpoint"], member.url());
    assert_eq!(cluster["spec"]["secretRef"]["name"], "member1");
    assert_eq!(cluster["spec"]["impersonatorSecretRef"]["name"], "member1-impersonator");
    assert_eq!(cluster["spec"]["zones"], serde_json::json!(["a", "b"]));
    assert_eq!(cluster["metadata"]["labels"]["tier"], "gold");
    let member_ns = get_json(&member, &["get", "namespace", "kube-system"]).expect("member kube-system");
    assert_eq!(cluster["spec"]["id"], member_ns["metadata"]["uid"]);
    let secret = get_json(&control, &["-n", "karmada-cluster", "get", "secret", "member1"]).expect("the Secret");
    assert!(secret["data"]["token"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(secret["data"]["caBundle"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(get_json(&control, &["-n", "karmada-cluster", "get", "secret", "member1-impersonator"]).is_some());
    assert!(get_json(&member, &["-n", "karmada-cluster", "get", "serviceaccount", "karmada-member1"]).is_some());
    assert!(get_json(&member, &["get", "clusterrolebinding", "karmada-controller-manager:karmada-member1"]).is_some());

    // joining the same cluster again changes nothing
    let version = cluster["metadata"]["resourceVersion"].clone();
    let again = join(&control, "member1", member.kubeconfig_path(), PLACEMENT_FLAGS);
    assert!(again.status.success(), "a second join failed: {}", text(&again));
    let cluster = get_json(&control, &["get", "cluster", "member1"]).expect("the Cluster exists");
    assert_eq!(cluster["metadata"]["resourceVersion"], version, "a repeated join rewrote the Cluster");

    // another cluster cannot take the name
    let other = server().await;
    let taken = join(&control, "member1", other.kubeconfig_path(), &[]);
    assert!(!taken.status.success());
    assert!(text(&taken).contains("already taken"), "{}", text(&taken));

    add_node_and_pods(&member);
    let _controllers = Controllers::start(&control, &[]);
    let row = eventually(Duration::from_secs(30), "member1 listed Ready with its version", || {
        let output = control.kubectl(&["get", "clusters", "-o", "wide", "--no-headers"]);
        let line = String::from_utf8_lossy(&output.stdout).lines().find(|l| l.starts_with("member1 "))?.to_owned();
        let cells: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
        (cells.get(3).map(String::as_str) == Some("True") && cells[1].starts_with('v')).then_some(cells)
    })
    .await;
    assert_eq!(row[2], "Push");
    assert_eq!(&row[5..9], ["a,b", "eu-west", "simcloud", member.url()]);
    let cluster = get_json(&control, &["get", "cluster", "member1"]).expect("the Cluster exists");
    assert_eq!(
        condition(&cluster, "Ready"),
        Some(("True".into(), "ClusterReady".into(), "cluster is healthy and ready to accept workloads".into()))
    );
    assert_eq!(condition(&cluster, "CompleteAPIEnablements").map(|c| c.1), Some("Complete".into()));
    let apis = cluster["status"]["apiEnablements"].as_array().expect("apiEnablements");
    assert!(apis.iter().any(|a| a["groupVersion"] == "apps/v1"));
    assert_eq!(cluster["status"]["nodeSummary"], serde_json::json!({"totalNum": 1, "readyNum": 1}));
    let resources = &cluster["status"]["resourceSummary"];
    assert_eq!(resources["allocatable"], serde_json::json!({"cpu": "8", "memory": "32Gi", "pods": "110"}));
    assert_eq!(resources["allocated"], serde_json::json!({"cpu": "1500m", "memory": "1Gi", "pods": "1"}));
    assert_eq!(resources["allocating"], serde_json::json!({"cpu": "2", "pods": "1"}));
    assert!(taint_keys(&cluster).is_empty());
    // nothing changes on the member, so the controller stops writing
    let version = cluster["metadata"]["resourceVersion"].clone();
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let cluster = get_json(&control, &["get", "cluster", "member1"]).expect("the Cluster exists");
    assert_eq!(cluster["metadata"]["resourceVersion"], version, "an unchanged status was written again");

    // a Work for the cluster goes first on unjoin
    let work = control.dir().join("work.yaml");
    std::fs::write(
        &work,
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: karmada-es-member1}\n---\n\
         apiVersion: work.karmada.io/v1alpha1\nkind: Work\nmetadata: {name: config, namespace: karmada-es-member1}\n\
         spec:\n  workload:\n    manifests:\n    - {apiVersion: v1, kind: ConfigMap, metadata: {name: config, namespace: default}}\n",
    )
    .expect("writing the Work");
    let output = control.kubectl(&["apply", "-f", &work.to_string_lossy()]);
    assert!(output.status.success(), "creating a Work: {}", text(&output));

    let kubeconfig = control.kubeconfig_path().to_string_lossy().into_owned();
    let member_kubeconfig = member.kubeconfig_path().to_string_lossy().into_owned();
    let output =
        flotilla(&["unjoin", "member1", "--kubeconfig", &kubeconfig, "--cluster-kubeconfig", &member_kubeconfig]);
    assert!(output.status.success(), "unjoin failed: {}", text(&output));
    assert!(get_json(&control, &["get", "cluster", "member1"]).is_none());
    assert!(get_json(&control, &["-n", "karmada-es-member1", "get", "work", "config"]).is_none());
    assert!(get_json(&control, &["-n", "karmada-cluster", "get", "secret", "member1"]).is_none());
    assert!(get_json(&control, &["-n", "karmada-cluster", "get", "secret", "member1-impersonator"]).is_none());
    assert!(get_json(&member, &["-n", "karmada-cluster", "get", "serviceaccount", "karmada-member1"]).is_none());
    assert!(get_json(&member, &["get", "clusterrolebinding", "karmada-controller-manager:karmada-member1"]).is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_explains_an_unreachable_member_a_bad_kubeconfig_and_a_missing_context() {
    let control = server().await;
    let mut member = server().await;
    let url = member.url().to_owned();
    member.halt();
    let output = join(&control, "gone", member.kubeconfig_path(), &[]);
    assert!(!output.status.success());
    assert!(text(&output).contains(&format!("member cluster at {url} is unreachable")), "{}", text(&output));

    let bad = control.dir().join("not-a-kubeconfig");
    std::fs::write(&bad, "this: [is not").expect("writing a file");
    let output = join(&control, "bad", &bad, &[]);
    assert!(!output.status.success());
    assert!(text(&output).contains(&bad.display().to_string()), "{}", text(&output));

    member.resume().await;
    let output = join(&control, "ctx", member.kubeconfig_path(), &["--cluster-context", "no-such-context"]);
    assert!(!output.status.success());
    assert!(text(&output).contains("context \"no-such-context\" not found"), "{}", text(&output));
    assert!(get_json(&control, &["get", "cluster", "ctx"]).is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_member_turns_not_ready_and_tainted_then_recovers() {
    let control = server().await;
    let mut member = server().await;
    let output = join(&control, "member1", member.kubeconfig_path(), &[]);
    assert!(output.status.success(), "join failed: {}", text(&output));
    let controllers = Controllers::start(&control, &[]);
    let ready = |status: &'static str| {
        let control = &control;
        move || {
            let cluster = get_json(control, &["get", "cluster", "member1"])?;
            (condition(&cluster, "Ready")?.0 == status).then_some(cluster)
        }
    };
    let cluster = eventually(Duration::from_secs(30), "Ready=True", ready("True")).await;
    assert!(taint_keys(&cluster).is_empty(), "{}", controllers.log());

    member.halt();
    let cluster = eventually(Duration::from_secs(20), "Ready=False after the member stopped", ready("False")).await;
    let (_, reason, message) = condition(&cluster, "Ready").expect("Ready");
    assert_eq!((reason.as_str(), message.as_str()), ("ClusterNotReachable", "cluster is not reachable"));
    eventually(Duration::from_secs(10), "the not-ready taint", || {
        let cluster = get_json(&control, &["get", "cluster", "member1"])?;
        let taints = cluster["spec"]["taints"].as_array()?.clone();
        taints.iter().any(|t| t["key"] == "cluster.karmada.io/not-ready" && t["effect"] == "NoSchedule").then_some(())
    })
    .await;

    member.resume().await;
    eventually(Duration::from_secs(30), "Ready=True again without taints", || {
        let cluster = ready("True")()?;
        taint_keys(&cluster).is_empty().then_some(())
    })
    .await;
}

/// Who holds the controllers' Lease in `control`.
fn lease_holder(control: &ApiServer) -> Option<String> {
    let lease = get_json(control, &["-n", "karmada-system", "get", "lease", "flotilla-controllers"])?;
    lease["spec"]["holderIdentity"].as_str().map(str::to_owned)
}

/// Two `flotilla controllers` with the default election flags: the first leading, the second started after it.
async fn leader_and_standby(control: &ApiServer) -> (Controllers, Controllers) {
    let first = Controllers::start(control, &[]);
    eventually(Duration::from_secs(20), "the first process leading", || {
        lease_holder(control).filter(|holder| first.holds(holder))
    })
    .await;
    (first, Controllers::start(control, &[]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_controllers_process_takes_over_within_the_default_15s_lease_when_the_leader_is_killed() {
    let control = server().await;
    let member = server().await;
    let (mut first, second) = leader_and_standby(&control).await;
    // The kill comes at an arbitrary point of the leader's 2 s renew cycle.
    let phase = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() % 2000;
    tokio::time::sleep(Duration::from_secs(3) + Duration::from_millis(u64::try_from(phase).unwrap_or(0))).await;

    let killed = jiff::Timestamp::now();
    first.kill();
    let output = join(&control, "member1", member.kubeconfig_path(), &[]);
    assert!(output.status.success(), "join failed: {}", text(&output));
    eventually(Duration::from_secs(25), "the second process leading", || {
        lease_holder(&control).filter(|holder| second.holds(holder))
    })
    .await;
    // The leader renewed at most one 2 s retry period before it was killed, and the lease lasts 15 s from the
    // renewal the second process saw (through its watch, as it happened): it takes over 13 to 15 s after the kill,
    // never before the lease expired. (Polling every retry period instead, it would take up to 17 s.)
    let lease = get_json(&control, &["-n", "karmada-system", "get", "lease", "flotilla-controllers"]).expect("lease");
    let acquired: jiff::Timestamp = lease["spec"]["acquireTime"].as_str().expect("acquireTime").parse().unwrap();
    let took = u64::try_from(acquired.as_millisecond() - killed.as_millisecond()).map(Duration::from_millis);
    let took = took.unwrap_or_else(|_| panic!("the lease was taken over at {acquired}, before the kill at {killed}"));
    eprintln!("the second process took over {took:?} after the leader was killed");
    assert!(took >= Duration::from_secs(12), "took over {took:?} after the kill, before the 15 s lease expired");
    assert!(took < Duration::from_millis(15_500), "took over {took:?} after the kill; the lease lasts 15 s");
    assert_eq!(lease["spec"]["leaseTransitions"], 1);
    eventually(Duration::from_secs(15), "the second process reporting the new member Ready", || {
        let cluster = get_json(&control, &["get", "cluster", "member1"])?;
        (condition(&cluster, "Ready")?.0 == "True").then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_stopped_with_sigterm_hands_the_default_lease_over_at_once() {
    let control = server().await;
    let (mut first, second) = leader_and_standby(&control).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(lease_holder(&control).is_some_and(|holder| first.holds(&holder)), "the second process waits");

    let stopped = Instant::now();
    first.terminate();
    // Without releasing the lease, the 15 s lease would keep the second process waiting 13 to 17 s.
    eventually(Duration::from_secs(8), "the second process leading soon after SIGTERM", || {
        lease_holder(&control).filter(|holder| second.holds(holder))
    })
    .await;
    assert!(stopped.elapsed() < Duration::from_secs(15), "took over {:?} after SIGTERM", stopped.elapsed());
    assert!(first.log().contains("successfully acquired lease"), "{}", first.log());
}

/// A running `flotilla member-sim --clusters 2` (two 4-CPU, 16Gi nodes each); SIGTERM when dropped.
/// Two simulated members with two 4-CPU nodes each.
fn member_sim() -> MemberSimProcess {
    let flags = ["--clusters", "2", "--nodes-per-cluster", "2", "--node-cpu", "4", "--node-memory", "16Gi"];
    MemberSimProcess::start(flotilla_binary(), &[&flags[..], &["--node-pods", "110"][..]].concat())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulated_members_join_report_their_nodes_and_recover_from_a_stop() {
    let control = server().await;
    let sim = member_sim();
    for name in ["member1", "member2"] {
        let output = join(&control, name, sim.kubeconfig(), &["--cluster-context", name]);
        assert!(output.status.success(), "join {name} failed: {}", text(&output));
    }
    let controllers = Controllers::start(&control, &[]);
    let ready = |name: &'static str, status: &'static str| {
        let control = &control;
        move || {
            let cluster = get_json(control, &["get", "cluster", name])?;
            (condition(&cluster, "Ready")?.0 == status).then_some(cluster)
        }
    };
    for name in ["member1", "member2"] {
        let cluster = eventually(Duration::from_secs(30), "a simulated member Ready", ready(name, "True")).await;
        assert_eq!(cluster["status"]["nodeSummary"], serde_json::json!({"totalNum": 2, "readyNum": 2}));
        let allocatable = &cluster["status"]["resourceSummary"]["allocatable"];
        assert_eq!((&allocatable["cpu"], &allocatable["memory"]), (&"8".into(), &"32Gi".into()), "{cluster}");
    }

    assert_eq!(sim.control("POST", "/clusters/member2/stop"), 200);
    let cluster = eventually(Duration::from_secs(20), "member2 Ready=False", ready("member2", "False")).await;
    assert_eq!(condition(&cluster, "Ready").map(|c| c.1), Some("ClusterNotReachable".into()), "{}", controllers.log());
    eventually(Duration::from_secs(10), "member2 tainted not-ready", || {
        let cluster = get_json(&control, &["get", "cluster", "member2"])?;
        taint_keys(&cluster).contains(&"cluster.karmada.io/not-ready".to_owned()).then_some(())
    })
    .await;
    let member1 = get_json(&control, &["get", "cluster", "member1"]).expect("member1");
    assert_eq!(condition(&member1, "Ready").map(|c| c.0), Some("True".into()), "member1 is unaffected");

    assert_eq!(sim.control("POST", "/clusters/member2/start"), 200);
    eventually(Duration::from_secs(30), "member2 Ready again without taints", || {
        let cluster = ready("member2", "True")()?;
        taint_keys(&cluster).is_empty().then_some(())
    })
    .await;
}
