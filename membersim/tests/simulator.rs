//! The workload simulator inside one simulated cluster, driven through its registry: rollouts, StatefulSets,
//! DaemonSets, Jobs and freed capacity.

use std::time::{Duration, Instant};

use flotilla_apiserver::{
    machinery::options::{GetOptions, ListOptions, WriteOptions},
    registry::{Registry, RequestContext},
};
use flotilla_membersim::{ClusterSpec, NodeShape, SimulatedCluster};
use serde_json::{Value, json};

async fn cluster(dir: &tempfile::TempDir) -> SimulatedCluster {
    let spec = ClusterSpec {
        name: "member1".into(),
        index: 0,
        port: 0,
        kubernetes_version: "v1.31.0".into(),
        nodes: NodeShape {
            count: 2,
            cpu: "4".into(),
            memory: "8Gi".into(),
            pods: 110,
            kubelet_version: "v1.31.0".into(),
        },
        node_labels: Default::default(),
        dir: dir.path().join("member1"),
    };
    SimulatedCluster::start(&spec).await.unwrap_or_else(|error| panic!("the cluster starts: {error}"))
}

fn ctx() -> RequestContext {
    RequestContext::for_agent("test")
}

async fn create(registry: &Registry, group: &str, plural: &str, object: Value) {
    let store = registry.lookup(group, "v1", plural).expect("served");
    store.create(&ctx(), Some("default"), object, &WriteOptions::default()).await.expect("created");
}

async fn get(registry: &Registry, group: &str, plural: &str, name: &str) -> Value {
    let store = registry.lookup(group, "v1", plural).expect("served");
    store.get(Some("default"), name, &GetOptions::default()).await.expect("found")
}

async fn pods(registry: &Registry) -> Vec<Value> {
    let store = registry.lookup("", "v1", "pods").expect("served");
    let list = store.list(Some("default"), &ListOptions::default()).await.expect("listed");
    list.items.iter().map(|pod| (**pod).clone()).collect()
}

/// Waits up to ten seconds for `check` to hold.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(Instant::now() < deadline, "{what} within ten seconds");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn template(app: &str, image: &str, cpu: &str) -> Value {
    json!({"metadata": {"labels": {"app": app}}, "spec": {"containers": [{"name": "c", "image": image,
        "resources": {"requests": {"cpu": cpu}}}]}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_template_change_rolls_out_a_new_replica_set_and_scales_the_old_one_to_zero() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cluster = cluster(&dir).await;
    let registry = cluster.registry().clone();
    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": template("web", "nginx:1", "100m")}});
    create(&registry, "apps", "deployments", deployment).await;
    eventually("2 ready replicas", || async {
        get(&registry, "apps", "deployments", "web").await["status"]["readyReplicas"] == 2
    })
    .await;
    let mut changed = get(&registry, "apps", "deployments", "web").await;
    changed["spec"]["template"] = template("web", "nginx:2", "100m");
    let store = registry.lookup("apps", "v1", "deployments").expect("served");
    store.update(&ctx(), Some("default"), "web", changed, None, &WriteOptions::default()).await.expect("updated");
    eventually("the rollout finishes", || async {
        let status = get(&registry, "apps", "deployments", "web").await["status"].clone();
        status["updatedReplicas"] == 2 && status["replicas"] == 2 && status["observedGeneration"] == 2
    })
    .await;
    let images: Vec<Value> =
        pods(&registry).await.iter().map(|pod| pod["spec"]["containers"][0]["image"].clone()).collect();
    assert_eq!(images, vec![json!("nginx:2"), json!("nginx:2")]);
    let sets = registry.lookup("apps", "v1", "replicasets").expect("served");
    let sets = sets.list(Some("default"), &ListOptions::default()).await.expect("listed");
    let mut desired: Vec<i64> = sets.items.iter().map(|set| set["spec"]["replicas"].as_i64().unwrap_or(-1)).collect();
    desired.sort_unstable();
    assert_eq!(desired, vec![0, 2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stateful_sets_daemon_sets_and_jobs_get_their_pods_and_status() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cluster = cluster(&dir).await;
    let registry = cluster.registry().clone();
    create(
        &registry,
        "apps",
        "statefulsets",
        json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "db"}, "spec": {"replicas": 3, "serviceName": "db",
        "selector": {"matchLabels": {"app": "db"}}, "template": template("db", "postgres", "100m")}}),
    )
    .await;
    create(
        &registry,
        "apps",
        "daemonsets",
        json!({"apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": "agent"}, "spec": {"selector": {"matchLabels": {"app": "agent"}},
        "template": template("agent", "agent", "10m")}}),
    )
    .await;
    let mut job_template = template("pi", "perl", "10m");
    job_template["spec"]["restartPolicy"] = json!("Never");
    create(
        &registry,
        "batch",
        "jobs",
        json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "pi"},
        "spec": {"completions": 3, "parallelism": 1, "template": job_template}}),
    )
    .await;
    eventually("the StatefulSet is ready", || async {
        get(&registry, "apps", "statefulsets", "db").await["status"]["readyReplicas"] == 3
    })
    .await;
    eventually("the DaemonSet covers both nodes", || async {
        get(&registry, "apps", "daemonsets", "agent").await["status"]["numberReady"] == 2
    })
    .await;
    eventually("the Job completes", || async {
        let job = get(&registry, "batch", "jobs", "pi").await;
        job["status"]["succeeded"] == 3
            && job["status"]["conditions"]
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c["type"] == "Complete" && c["status"] == "True"))
    })
    .await;
    let all = pods(&registry).await;
    let names: Vec<&str> =
        all.iter().filter_map(|pod| pod["metadata"]["name"].as_str()).filter(|n| n.starts_with("db-")).collect();
    assert_eq!(names, vec!["db-0", "db-1", "db-2"]);
    let agent_nodes: std::collections::BTreeSet<&str> = all
        .iter()
        .filter(|pod| pod["metadata"]["labels"]["app"] == "agent")
        .filter_map(|pod| pod["spec"]["nodeName"].as_str())
        .collect();
    assert_eq!(agent_nodes.len(), 2, "one agent per node");
    let mut scaled = get(&registry, "apps", "statefulsets", "db").await;
    scaled["spec"]["replicas"] = json!(1);
    let store = registry.lookup("apps", "v1", "statefulsets").expect("served");
    store.update(&ctx(), Some("default"), "db", scaled, None, &WriteOptions::default()).await.expect("scaled");
    eventually("the StatefulSet keeps only ordinal 0", || async {
        let names: Vec<String> = pods(&registry)
            .await
            .iter()
            .filter_map(|p| p["metadata"]["name"].as_str().map(str::to_string))
            .filter(|n| n.starts_with("db-"))
            .collect();
        names == ["db-0"]
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_pods_are_placed_once_capacity_is_freed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cluster = cluster(&dir).await;
    let registry = cluster.registry().clone();
    // Two 4-CPU nodes: two 3-CPU pods run, the third waits.
    create(
        &registry,
        "apps",
        "deployments",
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "big"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "big"}}, "template": template("big", "x", "3")}}),
    )
    .await;
    eventually("two run and one is pending", || async {
        let phases: Vec<Value> = pods(&registry).await.iter().map(|p| p["status"]["phase"].clone()).collect();
        phases.iter().filter(|p| **p == "Running").count() == 2
            && phases.iter().filter(|p| **p == "Pending").count() == 1
    })
    .await;
    create(&registry, "apps", "deployments", json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "small"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "small"}}, "template": template("small", "x", "3")}}))
    .await;
    eventually("the new deployment's pod waits too", || async {
        get(&registry, "apps", "deployments", "small").await["status"]["replicas"] == 1
    })
    .await;
    let store = registry.lookup("apps", "v1", "deployments").expect("served");
    store.delete(&ctx(), Some("default"), "big", &Default::default()).await.expect("deleted");
    eventually("the waiting pod runs once the big one is gone", || async {
        get(&registry, "apps", "deployments", "small").await["status"]["readyReplicas"] == 1
    })
    .await;
}
