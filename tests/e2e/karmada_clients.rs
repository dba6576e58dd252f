//! Clients of the Karmada kinds: kube-rs typed APIs, both ResourceBinding versions, field selectors, kubectl output.

mod support;

use std::time::Duration;

use flotilla_apis::policy::PropagationPolicy;
use futures::{Stream, StreamExt};
use kube::{
    Api, Client, ResourceExt,
    api::{
        ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams, PostParams,
        WatchEvent, WatchParams,
    },
};
use serde_json::{Value, json};
use support::{BackendKind, Flotilla, header, row};

on_both_backends!(
    a_typed_client_creates_lists_and_watches_propagation_policies,
    a_binding_written_at_either_version_reads_at_the_other,
    a_watch_at_v1alpha1_sees_a_v1alpha2_write_converted,
    server_side_apply_at_v1alpha1_records_that_version_and_keeps_working,
    discovery_lists_both_work_versions_with_v1alpha2_preferred,
    kubectl_prints_policies_bindings_and_works_with_their_columns,
    only_metadata_fields_are_selectable_as_on_karmada,
    clusters_print_none_for_missing_optional_fields,
    every_corpus_manifest_reads_back_with_its_fields_unchanged,
);

const WAIT: Duration = Duration::from_secs(20);

fn policy(name: &str, priority: i64) -> PropagationPolicy {
    serde_json::from_value(json!({
        "apiVersion": "policy.karmada.io/v1alpha1",
        "kind": "PropagationPolicy",
        "metadata": {"name": name},
        "spec": {
            "resourceSelectors": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "nginx"}],
            "priority": priority,
            "placement": {"clusterAffinity": {"clusterNames": ["member1", "member2"]}}
        }
    }))
    .expect("a PropagationPolicy")
}

/// The next watch event other than a bookmark, failing after [`WAIT`].
async fn next_event<K, S>(stream: &mut S) -> WatchEvent<K>
where
    S: Stream<Item = kube::Result<WatchEvent<K>>> + Unpin,
{
    loop {
        let item = tokio::time::timeout(WAIT, stream.next()).await.expect("a watch event within the wait");
        match item.expect("the watch goes on").expect("a decodable watch event") {
            WatchEvent::Bookmark(_) => continue, // kube-rs asks for bookmarks
            event => return event,
        }
    }
}

async fn a_typed_client_creates_lists_and_watches_propagation_policies(kind: BackendKind) {
    let f = Flotilla::start(kind).await;
    let ns = f.namespace("typed");
    let policies: Api<PropagationPolicy> = Api::namespaced(f.client().await, &ns);
    let created = policies.create(&PostParams::default(), &policy("first", 1)).await.expect("create");
    assert_eq!(created.spec.priority, Some(1), "{created:?}");

    let list = policies.list(&ListParams::default()).await.expect("list");
    assert_eq!(list.items.iter().map(|p| p.name_any()).collect::<Vec<_>>(), ["first"]);
    let version = list.metadata.resource_version.expect("a list resourceVersion");

    let mut events = policies.watch(&WatchParams::default().timeout(30), &version).await.expect("watch").boxed();
    policies.create(&PostParams::default(), &policy("second", 2)).await.expect("create second");
    match next_event(&mut events).await {
        WatchEvent::Added(added) => {
            assert_eq!((added.name_any(), added.spec.priority), ("second".to_string(), Some(2)), "{added:?}");
        }
        other => panic!("expected ADDED, got {other:?}"),
    }
    let patch = Patch::Merge(json!({"spec": {"priority": 7}}));
    policies.patch("second", &PatchParams::default(), &patch).await.expect("patch");
    match next_event(&mut events).await {
        WatchEvent::Modified(modified) => assert_eq!(modified.spec.priority, Some(7), "{modified:?}"),
        other => panic!("expected MODIFIED, got {other:?}"),
    }
    // Karmada's webhook gives a new policy the policy controller's finalizer: the delete marks it deleting, and it
    // goes once the finalizer is removed.
    policies.delete("second", &DeleteParams::default()).await.expect("delete");
    match next_event(&mut events).await {
        WatchEvent::Modified(deleting) => assert!(deleting.metadata.deletion_timestamp.is_some(), "{deleting:?}"),
        other => panic!("expected MODIFIED with a deletionTimestamp, got {other:?}"),
    }
    let release = Patch::Merge(json!({"metadata": {"finalizers": null}}));
    policies.patch("second", &PatchParams::default(), &release).await.expect("remove the finalizer");
    match next_event(&mut events).await {
        WatchEvent::Deleted(deleted) => assert_eq!(deleted.name_any(), "second"),
        other => panic!("expected DELETED, got {other:?}"),
    }
}

/// A ResourceBinding at v1alpha2 with fields v1alpha1 has (replica needs, clusters) and one it lacks (placement).
fn binding_v1alpha2(name: &str) -> String {
    format!(
        "apiVersion: work.karmada.io/v1alpha2
kind: ResourceBinding
metadata:
  name: {name}
spec:
  resource: {{apiVersion: apps/v1, kind: Deployment, namespace: default, name: nginx, resourceVersion: \"7\"}}
  replicaRequirements: {{resourceRequest: {{cpu: 100m, memory: 128Mi}}}}
  replicas: 3
  clusters: [{{name: member1, replicas: 2}}, {{name: member2, replicas: 1}}]
  placement: {{clusterAffinity: {{clusterNames: [member1, member2]}}}}
"
    )
}

fn bindings_at(client: Client, ns: &str, version: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("work.karmada.io", version, "ResourceBinding");
    Api::namespaced_with(client, ns, &ApiResource::from_gvk_with_plural(&gvk, "resourcebindings"))
}

async fn a_binding_written_at_either_version_reads_at_the_other(kind: BackendKind) {
    let f = Flotilla::start(kind).await;
    let ns = f.namespace("bindings");
    f.ok_with_stdin(&["apply", "-n", &ns, "-f", "-"], &binding_v1alpha2("newer"));

    let old = f.json(&["get", "resourcebindings.v1alpha1.work.karmada.io", "newer", "-n", &ns]);
    assert_eq!(old["apiVersion"], "work.karmada.io/v1alpha1", "{old}");
    assert_eq!(
        old["spec"],
        json!({
            "resource": {"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "default", "name": "nginx",
                         "resourceVersion": "7", "resourcePerReplicas": {"cpu": "100m", "memory": "128Mi"},
                         "replicas": 3},
            "clusters": [{"name": "member1", "replicas": 2}, {"name": "member2", "replicas": 1}]
        }),
        "placement has no v1alpha1 counterpart and is not shown: {old}"
    );
    let client = f.client().await;
    let dynamic = bindings_at(client.clone(), &ns, "v1alpha1").get("newer").await.expect("get at v1alpha1");
    assert_eq!(dynamic.types.map(|t| t.api_version).as_deref(), Some("work.karmada.io/v1alpha1"));
    assert_eq!(dynamic.data["spec"]["resource"]["replicas"], 3);
    let listed = f.json(&["get", "resourcebindings.v1alpha1.work.karmada.io", "-n", &ns]);
    assert_eq!(listed["items"][0]["spec"]["resource"]["replicas"], 3, "{listed}");

    let older: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "work.karmada.io/v1alpha1", "kind": "ResourceBinding",
        "metadata": {"name": "older"},
        "spec": {
            "resource": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "replicas": 4,
                         "resourcePerReplicas": {"cpu": "250m"}},
            "clusters": [{"name": "member1", "replicas": 4}]
        }
    }))
    .expect("a v1alpha1 binding");
    bindings_at(client.clone(), &ns, "v1alpha1").create(&PostParams::default(), &older).await.expect("create");
    let newer = f.json(&["get", "rb", "older", "-n", &ns]);
    assert_eq!(newer["apiVersion"], "work.karmada.io/v1alpha2", "{newer}");
    assert_eq!(newer["spec"]["replicas"], 4, "{newer}");
    assert_eq!(newer["spec"]["replicaRequirements"], json!({"resourceRequest": {"cpu": "250m"}}), "{newer}");
    assert_eq!(newer["spec"]["clusters"], json!([{"name": "member1", "replicas": 4}]), "{newer}");
    assert!(newer["spec"]["resource"].get("replicas").is_none(), "{newer}");
    assert_eq!(newer["spec"]["conflictResolution"], "Abort", "the v1alpha2 CRD default: {newer}");
    let typed = bindings_at(client, &ns, "v1alpha2").get("older").await.expect("get at v1alpha2");
    assert_eq!(typed.data["spec"]["replicas"], 4);

    // A v1alpha1 write keeps nothing v1alpha1 cannot express, as with Karmada's conversion webhook.
    let patch: [&str; 6] = ["patch", "resourcebindings.v1alpha1.work.karmada.io", "newer", "-n", &ns, "--type=merge"];
    f.ok(&[&patch[..], &["-p", r#"{"spec":{"resource":{"replicas":5}}}"#]].concat());
    let after = f.json(&["get", "rb", "newer", "-n", &ns]);
    assert_eq!(after["spec"]["replicas"], 5, "{after}");
    assert!(after["spec"].get("placement").is_none(), "{after}");
}

async fn a_watch_at_v1alpha1_sees_a_v1alpha2_write_converted(kind: BackendKind) {
    let f = Flotilla::start(kind).await;
    let ns = f.namespace("watched");
    let old = bindings_at(f.client().await, &ns, "v1alpha1");
    let version = old.list(&ListParams::default()).await.expect("list").metadata.resource_version.expect("rv");
    let mut events = old.watch(&WatchParams::default().timeout(30), &version).await.expect("watch").boxed();
    f.ok_with_stdin(&["apply", "-n", &ns, "-f", "-"], &binding_v1alpha2("seen"));
    match next_event(&mut events).await {
        WatchEvent::Added(added) => {
            assert_eq!(added.types.map(|t| t.api_version).as_deref(), Some("work.karmada.io/v1alpha1"));
            assert_eq!(added.data["spec"]["resource"]["resourcePerReplicas"]["cpu"], "100m", "{:?}", added.data);
            assert!(added.data["spec"].get("placement").is_none(), "{:?}", added.data);
        }
        other => panic!("expected ADDED, got {other:?}"),
    }
    f.ok(&["delete", "rb", "seen", "-n", &ns]);
    match next_event(&mut events).await {
        WatchEvent::Deleted(deleted) => {
            assert_eq!(deleted.types.map(|t| t.api_version).as_deref(), Some("work.karmada.io/v1alpha1"));
        }
        other => panic!("expected DELETED, got {other:?}"),
    }
}

async fn server_side_apply_at_v1alpha1_records_that_version_and_keeps_working(kind: BackendKind) {
    let f = Flotilla::start(kind).await;
    let ns = f.namespace("applied");
    let manifest = |replicas: u32| {
        format!(
            "apiVersion: work.karmada.io/v1alpha1
kind: ResourceBinding
metadata:
  name: ssa
spec:
  resource: {{apiVersion: apps/v1, kind: Deployment, name: web, replicas: {replicas}}}
"
        )
    };
    f.ok_with_stdin(&["apply", "--server-side", "-n", &ns, "-f", "-"], &manifest(2));
    f.ok_with_stdin(&["apply", "--server-side", "-n", &ns, "-f", "-"], &manifest(6));
    let old = f.json(&["get", "resourcebindings.v1alpha1.work.karmada.io", "ssa", "-n", &ns, "--show-managed-fields"]);
    let managers = old["metadata"]["managedFields"].as_array().cloned().unwrap_or_default();
    let applied = managers.iter().find(|m| m["operation"] == "Apply").unwrap_or_else(|| panic!("{old}"));
    assert_eq!(applied["apiVersion"], "work.karmada.io/v1alpha1", "{old}");
    assert_eq!(applied["manager"], "kubectl", "{old}");
    assert!(applied["fieldsV1"]["f:spec"]["f:resource"].get("f:replicas").is_some(), "{old}");
    let newer = f.json(&["get", "rb", "ssa", "-n", &ns]);
    assert_eq!(newer["spec"]["replicas"], 6, "{newer}");
}

async fn discovery_lists_both_work_versions_with_v1alpha2_preferred(kind: BackendKind) {
    let f = Flotilla::start(kind).await;
    let group: Value = serde_json::from_str(&f.ok(&["get", "--raw", "/apis/work.karmada.io"])).expect("JSON");
    let versions: Vec<&str> =
        group["versions"].as_array().into_iter().flatten().filter_map(|v| v["version"].as_str()).collect();
    assert_eq!(versions, ["v1alpha2", "v1alpha1"], "{group}");
    assert_eq!(group["preferredVersion"]["version"], "v1alpha2", "{group}");

    let old: Value = serde_json::from_str(&f.ok(&["get", "--raw", "/apis/work.karmada.io/v1alpha1"])).expect("JSON");
    let names: Vec<&str> =
        old["resources"].as_array().into_iter().flatten().filter_map(|r| r["name"].as_str()).collect();
    for name in ["clusterresourcebindings", "resourcebindings", "resourcebindings/status", "works"] {
        assert!(names.contains(&name), "{name} missing from {old}");
    }
    let versions = f.ok(&["api-versions"]);
    assert!(versions.contains("work.karmada.io/v1alpha1") && versions.contains("work.karmada.io/v1alpha2"));

    let request = http::Request::get("/apis")
        .header("Accept", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList")
        .body(Vec::new())
        .expect("a request");
    let text = f.client().await.request_text(request).await.expect("aggregated discovery");
    let document: Value = serde_json::from_str(&text).expect("JSON");
    let work = document["items"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|g| g["metadata"]["name"] == "work.karmada.io")
        .unwrap_or_else(|| panic!("no work.karmada.io in {document}"));
    let versions: Vec<&str> =
        work["versions"].as_array().into_iter().flatten().filter_map(|v| v["version"].as_str()).collect();
    assert_eq!(versions, ["v1alpha2", "v1alpha1"], "{work}");
    let old = &work["versions"][1]["resources"];
    let bindings = old.as_array().into_iter().flatten().find(|r| r["resource"] == "resourcebindings");
    assert_eq!(bindings.map(|r| r["shortNames"].clone()), Some(json!(["rb"])), "{work}");
}

const WORK: &str = "apiVersion: work.karmada.io/v1alpha1
kind: Work
metadata:
  name: nginx-work
spec:
  workload:
    manifests:
    - apiVersion: apps/v1
      kind: Deployment
      metadata: {name: nginx}
";

const OVERRIDE: &str = "apiVersion: policy.karmada.io/v1alpha1
kind: OverridePolicy
metadata:
  name: nginx-op
spec:
  resourceSelectors: [{apiVersion: apps/v1, kind: Deployment, name: nginx}]
  overrideRules:
  - overriders:
      labelsOverrider: [{operator: add, value: {team: a}}]
";

/// kubectl's output for several kinds: one table per kind, separated by blank lines.
fn tables(output: &str) -> Vec<&str> {
    output.split("\n\n").filter(|t| !t.trim().is_empty()).collect()
}

/// The table whose rows name objects of `resource` (`propagationpolicy.policy.karmada.io/...`).
fn table_of<'a>(output: &'a str, resource: &str) -> &'a str {
    let prefix = format!("{resource}/");
    tables(output).into_iter().find(|t| t.contains(&prefix)).unwrap_or_else(|| panic!("no {resource} in:\n{output}"))
}

async fn kubectl_prints_policies_bindings_and_works_with_their_columns(kind: BackendKind) {
    let f = Flotilla::start(kind).await;
    let ns = f.namespace("printed");
    let pp = serde_json::to_string(&policy("nginx-pp", 3)).expect("JSON");
    f.ok_with_stdin(&["apply", "-n", &ns, "-f", "-"], &pp);
    f.ok_with_stdin(&["apply", "-n", &ns, "-f", "-"], OVERRIDE);
    f.ok_with_stdin(&["apply", "-n", &ns, "-f", "-"], &binding_v1alpha2("nginx-deployment"));
    f.ok_with_stdin(&["apply", "-n", &ns, "-f", "-"], WORK);

    let output = f.ok(&["get", "pp,op,rb,works", "-A"]);
    let pp = table_of(&output, "propagationpolicy.policy.karmada.io");
    assert_eq!(header(pp), ["NAMESPACE", "NAME", "CONFLICT-RESOLUTION", "PRIORITY", "AGE"], "{output}");
    let cells = row(pp, &ns);
    assert_eq!(cells[1..4], ["propagationpolicy.policy.karmada.io/nginx-pp", "Abort", "3"], "{output}");
    let op = table_of(&output, "overridepolicy.policy.karmada.io");
    assert_eq!(header(op), ["NAMESPACE", "NAME", "AGE"], "{output}");
    assert_eq!(row(op, &ns)[1], "overridepolicy.policy.karmada.io/nginx-op", "{output}");
    let rb = table_of(&output, "resourcebinding.work.karmada.io");
    assert_eq!(header(rb), ["NAMESPACE", "NAME", "SCHEDULED", "FULLYAPPLIED", "AGE"], "{output}");
    // No status yet: SCHEDULED and FULLYAPPLIED are blank, as kubectl prints a CRD column without a value.
    let cells = row(rb, &ns);
    assert_eq!((cells.len(), cells[1].as_str()), (3, "resourcebinding.work.karmada.io/nginx-deployment"), "{output}");
    let works = table_of(&output, "work.work.karmada.io");
    assert_eq!(header(works), ["NAMESPACE", "NAME", "WORKLOAD-KIND", "APPLIED", "AGE"], "{output}");
    assert_eq!(row(works, &ns)[1..3], ["work.work.karmada.io/nginx-work", "Deployment"], "{output}");

    // The v1alpha1 bindings print the same columns.
    let old = f.ok(&["get", "resourcebindings.v1alpha1.work.karmada.io", "-n", &ns]);
    assert_eq!(header(&old), ["NAME", "SCHEDULED", "FULLYAPPLIED", "AGE"], "{old}");
    row(&old, "nginx-deployment");

    let everything = f.ok(&["get", "karmada-io", "-A"]);
    for name in [
        "propagationpolicy.policy.karmada.io/nginx-pp",
        "overridepolicy.policy.karmada.io/nginx-op",
        "resourcebinding.work.karmada.io/nginx-deployment",
        "work.work.karmada.io/nginx-work",
    ] {
        assert!(everything.contains(name), "{name} missing from:\n{everything}");
    }
    let bindings = table_of(&everything, "resourcebinding.work.karmada.io");
    assert_eq!(header(bindings), ["NAMESPACE", "NAME", "SCHEDULED", "FULLYAPPLIED", "AGE"], "{everything}");
}

async fn only_metadata_fields_are_selectable_as_on_karmada(kind: BackendKind) {
    let f = Flotilla::start(kind).await;
    let ns = f.namespace("selected");
    for name in ["a", "b"] {
        let pp = serde_json::to_string(&policy(name, 1)).expect("JSON");
        f.ok_with_stdin(&["apply", "-n", &ns, "-f", "-"], &pp);
    }
    let one = f.ok(&["get", "pp", "-A", "--field-selector", "metadata.name=b", "-o", "name"]);
    assert_eq!(one.trim(), "propagationpolicy.policy.karmada.io/b");
    let here = f.ok(&["get", "pp", "-A", "--field-selector", &format!("metadata.namespace={ns}"), "-o", "name"]);
    assert_eq!(here.lines().count(), 2, "{here}");

    let refused = f.fails(&["get", "pp", "-A", "--field-selector", "spec.priority=1"]);
    assert!(refused.contains("field label not supported: spec.priority"), "{refused}");
    assert!(refused.contains("BadRequest"), "{refused}");
    // Cluster-scoped custom resources have no namespace field (kube-apiserver refuses it for them)...
    let refused = f.fails(&["get", "cpp", "--field-selector", "metadata.namespace=default"]);
    assert!(refused.contains("field label not supported: metadata.namespace"), "{refused}");
    let refused = f.fails(&["get", "rb", "-A", "--field-selector", "spec.resource.name=nginx"]);
    assert!(refused.contains("field label not supported: spec.resource.name"), "{refused}");
    // ...while karmada-aggregated-apiserver's Cluster selects on both ObjectMeta fields.
    f.ok_with_stdin(&["apply", "-f", "-"], CLUSTER);
    let clusters = f.ok(&["get", "clusters", "--field-selector", "metadata.namespace=,metadata.name=member1"]);
    row(&clusters, "member1");
    let refused = f.fails(&["get", "clusters", "--field-selector", "spec.syncMode=Push"]);
    assert!(refused.contains("field label not supported: spec.syncMode"), "{refused}");
}

const CLUSTER: &str = "apiVersion: cluster.karmada.io/v1alpha1
kind: Cluster
metadata:
  name: member1
spec:
  syncMode: Pull
  apiEndpoint: https://172.18.0.4:6443
";

async fn clusters_print_none_for_missing_optional_fields(kind: BackendKind) {
    let f = Flotilla::start(kind).await;
    f.ok_with_stdin(&["apply", "-f", "-"], CLUSTER);
    let wide = f.ok(&["get", "clusters", "-o", "wide"]);
    let cells = row(&wide, "member1");
    // NAME VERSION(empty) MODE READY AGE ZONES REGION PROVIDER API-ENDPOINT PROXY-URL, as Karmada's printer fills them.
    assert_eq!(cells[1..3], ["Pull", "Unknown"], "{wide}");
    assert_eq!(cells[4..], ["<none>", "<none>", "<none>", "https://172.18.0.4:6443", "<none>"], "{wide}");
}

/// Every object of the YAML corpus under `apis/src/*/testdata`, Lists expanded, with the file it came from.
fn corpus() -> Vec<(String, Value)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("apis/src");
    let mut files: Vec<_> = std::fs::read_dir(&root)
        .expect("apis/src")
        .filter_map(|entry| std::fs::read_dir(entry.ok()?.path().join("testdata")).ok())
        .flatten()
        .filter_map(|entry| Some(entry.ok()?.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no corpus under {}", root.display());
    let mut objects = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).expect("a corpus file");
        for document in text.split("\n---\n").filter(|d| d.lines().any(|l| l.starts_with("kind:"))) {
            let value: Value = serde_yaml::from_str(document).expect("YAML");
            let file = path.display().to_string();
            match value["kind"].as_str() {
                Some(kind) if kind.ends_with("List") => {
                    for mut item in value["items"].as_array().cloned().unwrap_or_default() {
                        item.as_object_mut()
                            .expect("an item")
                            .entry("apiVersion")
                            .or_insert(value["apiVersion"].clone());
                        let item_kind = json!(kind.trim_end_matches("List"));
                        item.as_object_mut().expect("an item").entry("kind").or_insert(item_kind);
                        objects.push((file.clone(), item));
                    }
                }
                Some(_) => objects.push((file, value)),
                None => {}
            }
        }
    }
    objects
}

/// Where `input` is not contained in `output` (every field and list item present with the same value), if anywhere.
fn not_contained(input: &Value, output: &Value, path: &str) -> Option<String> {
    match (input, output) {
        (Value::Object(a), Value::Object(b)) => a.iter().find_map(|(key, value)| match b.get(key) {
            Some(found) => not_contained(value, found, &format!("{path}.{key}")),
            None => Some(format!("{path}.{key} is missing")),
        }),
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            a.iter().zip(b).enumerate().find_map(|(i, (x, y))| not_contained(x, y, &format!("{path}[{i}]")))
        }
        (Value::Number(a), Value::Number(b)) if a.as_f64() == b.as_f64() => None,
        (a, b) if a == b => None,
        (a, b) => Some(format!("{path}: sent {a}, read back {b}")),
    }
}

async fn every_corpus_manifest_reads_back_with_its_fields_unchanged(kind: BackendKind) {
    let f = Flotilla::start(kind).await;
    let objects = corpus();
    let mut namespaces: Vec<&str> = objects.iter().filter_map(|(_, o)| o["metadata"]["namespace"].as_str()).collect();
    namespaces.sort_unstable();
    namespaces.dedup();
    for ns in namespaces.into_iter().filter(|ns| *ns != "default") {
        f.namespace(ns);
    }
    let mut failures = Vec::new();
    for (file, object) in &objects {
        let (api_version, kind) = (object["apiVersion"].as_str().unwrap_or(""), object["kind"].as_str().unwrap_or(""));
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let resource = format!("{}.{version}.{group}", kind.to_lowercase());
        let mut target = vec![resource.as_str(), name];
        if let Some(ns) = object["metadata"]["namespace"].as_str() {
            target.extend(["-n", ns]);
        }
        let manifest = serde_json::to_string(object).expect("JSON");
        let output = f.kubectl_with_stdin(&["apply", "-f", "-"], Some(&manifest));
        if !output.status.success() {
            failures.push(format!("{file}: {kind} {name} refused: {}", String::from_utf8_lossy(&output.stderr)));
            continue;
        }
        let read = f.json(&[&["get"][..], &target[..]].concat());
        // Kinds with a /status subresource drop `status` on create, as kube-apiserver does.
        let mut sent = object.clone();
        // Karmada's mutating webhook assigns a fresh permanent id on every create, whatever was sent.
        if let Some(labels) = sent.pointer_mut("/metadata/labels").and_then(Value::as_object_mut) {
            labels.retain(|key, _| !key.ends_with(".karmada.io/permanent-id"));
        }
        if read.get("status").is_none()
            && let Some(map) = sent.as_object_mut()
        {
            map.remove("status");
        }
        if let Some(difference) = not_contained(&sent, &read, "") {
            failures.push(format!("{file}: {kind} {name}: {difference}"));
        }
        f.ok(&[&["delete", "--wait=false"][..], &target[..]].concat());
    }
    assert!(
        failures.is_empty(),
        "{} of {} corpus objects differ:\n{}",
        failures.len(),
        objects.len(),
        failures.join("\n")
    );
}
