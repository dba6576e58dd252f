//! Karmada's defaulting and validation through the API server: defaults filled in, invalid manifests refused with 422 and field paths.

mod support;

use std::path::Path;

use kube::client::Body;
use serde_json::{Value, json};
use support::{BackendKind, Flotilla};

on_both_backends!(the_seed_and_walkthrough_policies_apply_unchanged_and_read_back_with_karmadas_defaults);

mod single {
    use super::{BackendKind, every_invalid_manifest_is_refused_with_its_field_path_and_nothing_is_stored};
    use super::{a_cluster_reads_back_with_its_default_resource_models, updates_that_break_a_rule_are_refused};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn invalid_manifests_are_refused_with_422_and_their_field_paths() {
        every_invalid_manifest_is_refused_with_its_field_path_and_nothing_is_stored(BackendKind::Embedded).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn updates_breaking_a_rule_or_an_immutable_field_are_refused_with_422() {
        updates_that_break_a_rule_are_refused(BackendKind::Embedded).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_new_cluster_gets_karmadas_default_resource_models() {
        a_cluster_reads_back_with_its_default_resource_models(BackendKind::Embedded).await;
    }
}

/// The PropagationPolicy and OverridePolicy of the multi-cluster-practice seed, verbatim.
const SEED: &str = include_str!("fixtures/seed-karmada-policies.yaml");

/// The two PropagationPolicies of the migration walkthrough (karmada-migration-walkthrough.md), re-indented.
const WALKTHROUGH: &str = "apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata:
  name: migrate-pp
spec:
  conflictResolution: Overwrite
  placement:
    clusterAffinity:
      clusterNames:
      - member1
  priority: 0
  resourceSelectors:
  - apiVersion: apps/v1
    kind: Deployment
  - apiVersion: v1
    kind: Service
  schedulerName: default-scheduler
---
apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata:
  name: nginx-pp
spec:
  conflictResolution: Overwrite
  placement:
    clusterAffinity:
      clusterNames:
      - member1
      - member2 ## propagate to more clusters other than member1
  priority: 10 ## priority greater than above PropagationPolicy (10 > 0)
  preemption: Always ## preemption should equal to Always
  resourceSelectors:
  - apiVersion: apps/v1
    kind: Deployment
    name: nginx-deploy
  - apiVersion: v1
    kind: Service
    name: nginx-svc
  schedulerName: default-scheduler
";

const PP_ID: &str = "propagationpolicy.karmada.io/permanent-id";

fn permanent_id(object: &Value) -> String {
    object["metadata"]["labels"][PP_ID].as_str().unwrap_or_default().to_string()
}

async fn the_seed_and_walkthrough_policies_apply_unchanged_and_read_back_with_karmadas_defaults(kind: BackendKind) {
    let f = Flotilla::start(kind).await;
    let ns = f.namespace("seeds");
    f.ok_with_stdin(&["apply", "-n", &ns, "-f", "-"], SEED);
    let applied = f.ok_with_stdin(&["apply", "-n", &ns, "-f", "-"], WALKTHROUGH);
    assert!(applied.contains("propagationpolicy.policy.karmada.io/nginx-pp created"), "{applied}");

    let seed = f.json(&["get", "pp", "nginx-propagation", "-n", &ns]);
    let spec = &seed["spec"];
    assert_eq!(spec["conflictResolution"], "Abort", "{seed}");
    assert_eq!(spec["preemption"], "Never", "{seed}");
    assert_eq!(spec["priority"], 0, "{seed}");
    assert_eq!(spec["schedulerName"], "default-scheduler", "{seed}");
    assert_eq!(
        spec["resourceSelectors"][0],
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "nginx", "namespace": ns})
    );
    assert_eq!(spec["placement"]["replicaScheduling"]["replicaDivisionPreference"], "Weighted", "{seed}");
    assert_eq!(spec["placement"]["replicaScheduling"]["weightPreference"]["staticWeightList"][1]["weight"], 1);
    assert_eq!(permanent_id(&seed).len(), 36, "a UUID permanent id: {seed}");
    assert_eq!(seed["metadata"]["finalizers"], json!(["karmada.io/propagation-policy-controller"]), "{seed}");

    let op = f.json(&["get", "op", "nginx-op", "-n", &ns]);
    assert_eq!(op["spec"]["resourceSelectors"][0]["namespace"], ns.as_str(), "{op}");
    assert_eq!(op["spec"]["overriders"], json!({}), "{op}");
    assert_eq!(op["spec"]["overrideRules"][1]["overriders"]["annotationsOverrider"][2]["value"]["emma"], "sophia");
    assert_eq!(op["metadata"].get("finalizers"), None, "{op}");

    let migrate = f.json(&["get", "pp", "migrate-pp", "-n", &ns]);
    assert_eq!(migrate["spec"]["conflictResolution"], "Overwrite", "{migrate}");
    assert_eq!(migrate["spec"]["preemption"], "Never", "{migrate}");
    assert_eq!(
        migrate["spec"]["resourceSelectors"][1],
        json!({"apiVersion": "v1", "kind": "Service", "namespace": ns})
    );
    let nginx = f.json(&["get", "pp", "nginx-pp", "-n", &ns]);
    assert_eq!(nginx["spec"]["priority"], 10, "{nginx}");
    assert_eq!(nginx["spec"]["preemption"], "Always", "{nginx}");
    assert_eq!(nginx["spec"]["placement"]["clusterAffinity"]["clusterNames"], json!(["member1", "member2"]));

    // Applying the same manifests again keeps the defaults and the permanent id. (kubectl reports the policies as
    // configured, as it does against Karmada: the selector lists on the server carry the defaulted namespace.)
    f.ok_with_stdin(&["apply", "-n", &ns, "-f", "-"], WALKTHROUGH);
    let reapplied = f.json(&["get", "pp", "nginx-pp", "-n", &ns]);
    assert_eq!(permanent_id(&reapplied), permanent_id(&nginx));
    assert_eq!(reapplied["spec"], nginx["spec"]);
    assert_eq!(reapplied["metadata"]["finalizers"], nginx["metadata"]["finalizers"]);

    // Server-side apply gets the same defaults, and applying again keeps them.
    let ssa = f.namespace("server-side");
    for _ in 0..2 {
        f.ok_with_stdin(&["apply", "--server-side", "-n", &ssa, "-f", "-"], WALKTHROUGH);
    }
    let applied = f.json(&["get", "pp", "migrate-pp", "-n", &ssa]);
    assert_eq!(applied["spec"]["preemption"], "Never", "{applied}");
    assert_eq!(applied["spec"]["resourceSelectors"][0]["namespace"], ssa.as_str(), "{applied}");
    assert_eq!(permanent_id(&applied).len(), 36, "{applied}");
}

/// The API path of the collection a manifest is created in, and whether it is namespaced.
fn collection(object: &Value, namespace: &str) -> (String, bool) {
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    let (plural, namespaced) = match object["kind"].as_str().unwrap_or_default() {
        "PropagationPolicy" => ("propagationpolicies", true),
        "ClusterPropagationPolicy" => ("clusterpropagationpolicies", false),
        "OverridePolicy" => ("overridepolicies", true),
        "ClusterOverridePolicy" => ("clusteroverridepolicies", false),
        "ResourceBinding" => ("resourcebindings", true),
        "ClusterResourceBinding" => ("clusterresourcebindings", false),
        "ResourceRegistry" => ("resourceregistries", false),
        "Cluster" => ("clusters", false),
        other => panic!("no collection for kind {other}"),
    };
    let scope = if namespaced { format!("namespaces/{namespace}/") } else { String::new() };
    (format!("/apis/{api_version}/{scope}{plural}"), namespaced)
}

async fn post(client: &kube::Client, path: &str, body: &Value) -> (u16, Value) {
    let request = http::Request::builder()
        .method("POST")
        .uri(path)
        .header("Accept", "application/json")
        .header("Content-Type", "application/json")
        .body(Body::from(serde_json::to_vec(body).unwrap_or_default()))
        .expect("a request");
    let response = client.send(request).await.expect("a response");
    let code = response.status().as_u16();
    let bytes = response.into_body().collect_bytes().await.expect("a body");
    (code, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// The `field:` and `reason:` a fixture's first comment line names.
fn expectation(text: &str) -> (String, String) {
    let comment = text.lines().next().unwrap_or_default();
    let part = |key: &str| {
        comment.split(';').find_map(|p| p.trim().strip_prefix(key)).map(|v| v.trim().to_string()).unwrap_or_default()
    };
    (part("field:"), part("reason:"))
}

async fn every_invalid_manifest_is_refused_with_its_field_path_and_nothing_is_stored(kind: BackendKind) {
    let f = Flotilla::start(kind).await;
    let ns = f.namespace("invalid");
    let client = f.client().await;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/fixtures/karmada-invalid");
    let mut files: Vec<_> =
        std::fs::read_dir(&dir).expect("the invalid fixtures").flatten().map(|e| e.path()).collect();
    files.sort();
    assert!(files.len() >= 20, "one fixture per rule in {dir:?}");
    for file in files {
        let text = std::fs::read_to_string(&file).expect("a fixture");
        let (field, reason) = expectation(&text);
        assert!(!field.is_empty() && !reason.is_empty(), "{file:?} names its field and reason");
        let object: Value = serde_yaml::from_str(&text).expect("YAML");
        let (path, namespaced) = collection(&object, &ns);
        let (code, status) = post(&client, &path, &object).await;
        assert_eq!(code, 422, "{file:?}: {status}");
        assert_eq!(status["reason"], "Invalid", "{file:?}: {status}");
        let causes = status["details"]["causes"].as_array().cloned().unwrap_or_default();
        assert!(
            causes.iter().any(|c| c["field"] == field.as_str() && c["reason"] == reason.as_str()),
            "{file:?}: expected {reason} at {field}; got {status}"
        );

        let file_name = file.to_string_lossy().to_string();
        let mut apply = vec!["apply", "-f", file_name.as_str()];
        if namespaced {
            apply.extend(["-n", ns.as_str()]);
        }
        let stderr = f.fails(&apply);
        assert!(stderr.contains("is invalid") && stderr.contains(&field), "{file:?}: {stderr}");
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        let get = f.kubectl(&["get", &format!("{}/{name}", path.rsplit('/').next().unwrap_or_default()), "-n", &ns]);
        assert!(!get.status.success(), "{file:?}: {name} was stored");
        assert!(String::from_utf8_lossy(&get.stderr).contains("NotFound"), "{file:?}");
    }
}

/// An edit of a stored policy, the field it breaks and the cause reason expected there.
type Case = (fn(&mut Value), &'static str, &'static str);

async fn updates_that_break_a_rule_are_refused(kind: BackendKind) {
    let f = Flotilla::start(kind).await;
    let ns = f.namespace("updates");
    f.ok_with_stdin(&["apply", "-n", &ns, "-f", "-"], SEED);
    let client = f.client().await;
    let original = f.json(&["get", "pp", "nginx-propagation", "-n", &ns]);
    let path = format!("/apis/policy.karmada.io/v1alpha1/namespaces/{ns}/propagationpolicies/nginx-propagation");

    let refused = |mut object: Value, change: fn(&mut Value)| {
        change(&mut object);
        object
    };
    let cases: [Case; 4] = [
        (|o| o["spec"]["schedulerName"] = json!("other-scheduler"), "spec.schedulerName", "FieldValueForbidden"),
        (
            |o| o["metadata"]["labels"][PP_ID] = json!("0000"),
            "metadata.labels[propagationpolicy.karmada.io/permanent-id]",
            "FieldValueForbidden",
        ),
        (
            |o| {
                o["spec"]["placement"]["replicaScheduling"]["weightPreference"]["staticWeightList"][0]["weight"] =
                    json!(0)
            },
            "spec.placement.replicaScheduling.weightPreference.staticWeightList[0].weight",
            "FieldValueInvalid",
        ),
        (|o| o["spec"]["preemption"] = json!("Sometimes"), "spec.preemption", "FieldValueNotSupported"),
    ];
    for (change, field, reason) in cases {
        let body = refused(original.clone(), change);
        let request = http::Request::builder()
            .method("PUT")
            .uri(&path)
            .header("Accept", "application/json")
            .header("Content-Type", "application/json")
            .body(Body::from(serde_json::to_vec(&body).unwrap_or_default()))
            .expect("a request");
        let response = client.send(request).await.expect("a response");
        let code = response.status().as_u16();
        let bytes = response.into_body().collect_bytes().await.expect("a body");
        let status: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        assert_eq!(code, 422, "{field}: {status}");
        let causes = status["details"]["causes"].as_array().cloned().unwrap_or_default();
        assert!(causes.iter().any(|c| c["field"] == field && c["reason"] == reason), "{field}: {status}");
    }
    let stderr = f.fails(&[
        "patch",
        "pp",
        "nginx-propagation",
        "-n",
        &ns,
        "--type=merge",
        "-p",
        r#"{"spec":{"placement":{"clusterAffinities":[{"affinityName":"a"}]}}}"#,
    ]);
    assert!(stderr.contains("clusterAffinities cannot co-exist with clusterAffinity"), "{stderr}");

    let after = f.json(&["get", "pp", "nginx-propagation", "-n", &ns]);
    assert_eq!(after["metadata"]["resourceVersion"], original["metadata"]["resourceVersion"], "nothing was written");
    f.ok(&["patch", "pp", "nginx-propagation", "-n", &ns, "--type=merge", "-p", r#"{"spec":{"priority":5}}"#]);
    let patched = f.json(&["get", "pp", "nginx-propagation", "-n", &ns]);
    assert_eq!(patched["spec"]["priority"], 5);
    assert_eq!(permanent_id(&patched), permanent_id(&original), "the permanent id survives updates");
    assert_eq!(patched["metadata"]["finalizers"], original["metadata"]["finalizers"]);
}

async fn a_cluster_reads_back_with_its_default_resource_models(kind: BackendKind) {
    let f = Flotilla::start(kind).await;
    f.ok_with_stdin(
        &["apply", "-f", "-"],
        "apiVersion: cluster.karmada.io/v1alpha1\nkind: Cluster\nmetadata:\n  name: member1\nspec:\n  syncMode: Pull\n  zone: z1\n",
    );
    let cluster = f.json(&["get", "cluster", "member1"]);
    let models = cluster["spec"]["resourceModels"].as_array().cloned().unwrap_or_default();
    assert_eq!(models.len(), 9, "{cluster}");
    assert_eq!(models[1]["ranges"][1], json!({"name": "memory", "min": "4Gi", "max": "16Gi"}), "{cluster}");
    assert_eq!(cluster["spec"]["zones"], json!(["z1"]), "{cluster}");
    assert_eq!(cluster["spec"].get("zone"), None, "{cluster}");
}
