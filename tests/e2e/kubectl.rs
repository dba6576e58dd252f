//! kubectl against the real binary on both storage backends: what a Kubernetes user types, and what they expect.

mod support;

use std::{
    io::{BufRead, BufReader},
    process::Stdio,
    sync::mpsc,
    time::Duration,
};

use support::{BackendKind, Flotilla, header, row};

on_both_backends!(
    api_resources_lists_the_built_in_kinds,
    get_prints_tables_wide_yaml_and_filters,
    get_watch_prints_later_changes,
    apply_twice_then_changed_is_created_unchanged_configured,
    server_side_apply_tracks_managers_and_reports_conflicts,
    patch_of_every_type_changes_what_it_says,
    label_annotate_and_replace_behave_as_on_kubernetes,
    describe_shows_the_events_of_an_object,
    delete_waits_and_cascades_as_asked,
    wait_for_conditions_and_deletion,
    explain_reads_the_served_schema,
    dry_run_server_validates_without_storing,
    raw_metrics_are_prometheus_text,
    the_seed_manifests_apply_unchanged,
    a_custom_resource_definition_serves_its_kind_until_deleted,
    deleting_a_namespace_removes_its_contents,
    unknown_fields_are_refused_or_warned_about_as_kubectl_validate_asks,
    scale_changes_replicas_through_the_scale_subresource,
    create_only_kinds_are_validated_by_kubectl_against_openapi_v2,
);

const DEPLOYMENT: &str = include_str!("fixtures/seed-nginx-deployment.yaml");
const DEPLOYMENTS_AND_SERVICES: &str = include_str!("fixtures/seed-deployments-and-services.yaml");

async fn api_resources_lists_the_built_in_kinds(kind: BackendKind) {
    let f = Flotilla::start(kind).await;
    let table = f.ok(&["api-resources"]);
    assert_eq!(header(&table), ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]);
    assert_eq!(row(&table, "deployments"), ["deployments", "deploy", "apps/v1", "true", "Deployment"]);
    assert_eq!(row(&table, "namespaces"), ["namespaces", "ns", "v1", "false", "Namespace"]);
    assert_eq!(row(&table, "configmaps"), ["configmaps", "cm", "v1", "true", "ConfigMap"]);
    for resource in ["cronjobs", "ingresses", "leases", "clusterroles", "customresourcedefinitions", "events"] {
        row(&table, resource);
    }
    let namespaced = f.ok(&["api-resources", "--namespaced=false", "-o", "name"]);
    assert!(namespaced.lines().any(|l| l == "namespaces"), "{namespaced}");
    assert!(!namespaced.lines().any(|l| l == "configmaps"), "{namespaced}");
}

async fn get_prints_tables_wide_yaml_and_filters(kind: BackendKind) {
    let f = Flotilla::start(kind).await;
    let ns = f.namespace("tables");
    f.ok_with_stdin(&["apply", "-n", &ns, "-f", "-"], DEPLOYMENT);
    for (name, tier) in [("a", "front"), ("b", "front"), ("c", "back"), ("d", "back"), ("e", "back")] {
        f.ok(&["create", "configmap", name, "-n", &ns, "--from-literal=k=v"]);
        f.ok(&["label", "configmap", name, "-n", &ns, &format!("tier={tier}")]);
    }

    let table = f.ok(&["get", "deployments", "-n", &ns]);
    assert_eq!(header(&table), ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]);
    assert_eq!(row(&table, "nginx")[1], "0/2", "no pods run in control-plane mode: {table}");
    let wide = f.ok(&["get", "deployments", "-n", &ns, "-o", "wide"]);
    assert_eq!(header(&wide), ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"]);
    assert_eq!(row(&wide, "nginx")[5..], ["nginx", "nginx", "app=nginx"]);

    let yaml = f.ok(&["get", "deployment", "nginx", "-n", &ns, "-o", "yaml"]);
    let object: serde_json::Value = serde_yaml::from_str(&yaml).expect("kubectl printed YAML");
    assert_eq!(object["kind"], "Deployment");
    assert_eq!(object["apiVersion"], "apps/v1");
    assert!(object["metadata"]["uid"].as_str().is_some_and(|u| u.len() == 36), "{yaml}");
    assert!(object["metadata"]["resourceVersion"].as_str().is_some_and(|rv| rv.parse::<u64>().is_ok()), "{yaml}");
    assert_eq!(object["spec"]["replicas"], 2);
    assert_eq!(object["spec"]["strategy"]["type"], "RollingUpdate", "defaults are filled in: {yaml}");

    let names = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["get", "configmaps", "-n", &ns, "-o", "name"];
        all.extend(args);
        let mut names: Vec<String> = f.ok(&all).lines().map(String::from).collect();
        names.sort();
        names
    };
    assert_eq!(names(&["-l", "tier=front"]), ["configmap/a", "configmap/b"]);
    assert_eq!(names(&["-l", "tier in (back),tier!=front"]), ["configmap/c", "configmap/d", "configmap/e"]);
    assert!(names(&["-l", "!tier"]).is_empty(), "every configmap here has a tier");
    assert_eq!(names(&["--field-selector", "metadata.name=c"]), ["configmap/c"]);
    assert_eq!(names(&["--field-selector", "metadata.name!=c", "-l", "tier=back"]), ["configmap/d", "configmap/e"]);
    assert_eq!(names(&["--chunk-size", "2", "-l", "tier"]).len(), 5, "paged lists return every item");
    let error = f.fails(&["get", "configmaps", "-n", &ns, "--field-selector", "data.k=v"]);
    assert!(error.contains("field label not supported"), "{error}");

    let all = f.ok(&["get", "configmaps", "-A", "-l", "tier"]);
    assert_eq!(header(&all), ["NAMESPACE", "NAME", "DATA", "AGE"]);
    assert_eq!(row(&all, &ns)[..3], [ns.clone(), "a".into(), "1".into()]);
}

async fn get_watch_prints_later_changes(kind: BackendKind) {
    let f = Flotilla::start(kind).await;
    let ns = f.namespace("watching");
    f.ok(&["create", "configmap", "first", "-n", &ns]);
    support::kubectl_binary();
    let mut child = flotilla_testkit::kubectl_command(f.server.kubeconfig_path())
        .args(["get", "configmaps", "-n", &ns, "-w", "--output-watch-events"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting kubectl get -w");
    let (lines, received) = mpsc::channel();
    let stdout = child.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                return;
            }
        }
    });
    let wait_for = |needle: &str| loop {
        match received.recv_timeout(Duration::from_secs(15)) {
            Ok(line) if line.contains(needle) => return line,
            Ok(_) => {}
            Err(_) => panic!("kubectl get -w never printed a line with {needle:?}"),
        }
    };
    wait_for("first");
    f.ok(&["create", "configmap", "second", "-n", &ns, "--from-literal=a=b"]);
    assert!(wait_for("second").starts_with("ADDED"));
    f.ok(&["label", "configmap", "second", "-n", &ns, "x=y"]);
    assert!(wait_for("second").starts_with("MODIFIED"));
    f.ok(&["delete", "configmap", "second", "-n", &ns]);
    assert!(wait_for("second").starts_with("DELETED"));
    let _ = child.kill();
    let _ = child.wait();
}

async fn apply_twice_then_changed_is_created_unchanged_configured(kind: BackendKind) {
    let f = Flotilla::start(kind).await;
    let ns = f.namespace("client-side-apply");
    let out = f.ok_with_stdin(&["apply", "-n", &ns, "-f", "-"], DEPLOYMENT);
    assert_eq!(out.trim(), "deployment.apps/nginx created");
    let out = f.ok_with_stdin(&["apply", "-n", &ns, "-f", "-"], DEPLOYMENT);
    assert_eq!(out.trim(), "deployment.apps/nginx unchanged");
    let changed = DEPLOYMENT.replace("replicas: 2", "replicas: 3").replace("- image: nginx", "- image: nginx:1.27");
    let out = f.ok_with_stdin(&["apply", "-n", &ns, "-f", "-"], &changed);
    assert_eq!(out.trim(), "deployment.apps/nginx configured");
    let object = f.json(&["get", "deployment", "nginx", "-n", &ns]);
    assert_eq!(object["spec"]["replicas"], 3);
    assert_eq!(object["spec"]["template"]["spec"]["containers"][0]["image"], "nginx:1.27");
    assert_eq!(object["spec"]["template"]["spec"]["containers"].as_array().map(Vec::len), Some(1));
    assert!(object["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"].is_string());
    assert_eq!(object["metadata"]["generation"], 2, "one spec change since creation");
}

async fn server_side_apply_tracks_managers_and_reports_conflicts(kind: BackendKind) {
    let f = Flotilla::start(kind).await;
    let ns = f.namespace("server-side-apply");
    let out = f.ok_with_stdin(&["apply", "--server-side", "-n", &ns, "-f", "-"], DEPLOYMENT);
    assert_eq!(out.trim(), "deployment.apps/nginx serverside-applied");
    let object = f.json(&["get", "deployment", "nginx", "-n", &ns, "--show-managed-fields"]);
    let managers = object["metadata"]["managedFields"].as_array().expect("managedFields").clone();
    let kubectl = managers.iter().find(|m| m["manager"] == "kubectl").expect("kubectl's entry");
    assert_eq!(kubectl["operation"], "Apply");
    assert!(kubectl["fieldsV1"]["f:spec"]["f:replicas"].is_object(), "{kubectl}");

    let scaled = DEPLOYMENT.replace("replicas: 2", "replicas: 5");
    let error = f
        .kubectl_with_stdin(
            &["apply", "--server-side", "--field-manager", "other", "-n", &ns, "-f", "-"],
            Some(&scaled),
        )
        .stderr;
    let error = String::from_utf8_lossy(&error);
    assert!(error.contains("conflict") && error.contains(".spec.replicas"), "{error}");
    f.ok_with_stdin(
        &["apply", "--server-side", "--force-conflicts", "--field-manager", "other", "-n", &ns, "-f", "-"],
        &scaled,
    );
    assert_eq!(f.json(&["get", "deployment", "nginx", "-n", &ns])["spec"]["replicas"], 5);
}

async fn patch_of_every_type_changes_what_it_says(kind: BackendKind) {
    let f = Flotilla::start(kind).await;
    let ns = f.namespace("patches");
    f.ok_with_stdin(&["apply", "-n", &ns, "-f", "-"], DEPLOYMENT);
    let strategic = r#"{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.25"},{"name":"sidecar","image":"busybox"}]}}}}"#;
    f.ok(&["patch", "deployment", "nginx", "-n", &ns, "-p", strategic]);
    let containers =
        f.json(&["get", "deployment", "nginx", "-n", &ns])["spec"]["template"]["spec"]["containers"].clone();
    assert_eq!(containers.as_array().map(Vec::len), Some(2), "strategic merge merges containers by name: {containers}");
    assert_eq!(containers[0]["image"], "nginx:1.25");

    f.ok(&[
        "patch",
        "deployment",
        "nginx",
        "-n",
        &ns,
        "--type",
        "merge",
        "-p",
        r#"{"metadata":{"labels":{"patched":"merge"}}}"#,
    ]);
    f.ok(&[
        "patch",
        "deployment",
        "nginx",
        "-n",
        &ns,
        "--type",
        "json",
        "-p",
        r#"[{"op":"replace","path":"/spec/replicas","value":4}]"#,
    ]);
    let object = f.json(&["get", "deployment", "nginx", "-n", &ns]);
    assert_eq!(object["metadata"]["labels"]["patched"], "merge");
    assert_eq!(object["metadata"]["labels"]["app"], "nginx", "a merge patch keeps other labels");
    assert_eq!(object["spec"]["replicas"], 4);

    let error = f.fails(&[
        "patch",
        "deployment",
        "nginx",
        "-n",
        &ns,
        "--type",
        "json",
        "-p",
        r#"[{"op":"test","path":"/spec/replicas","value":9}]"#,
    ]);
    assert!(!error.is_empty());
    assert_eq!(
        f.json(&["get", "deployment", "nginx", "-n", &ns])["spec"]["replicas"],
        4,
        "a failed patch changes nothing"
    );
}

async fn label_annotate_and_replace_behave_as_on_kubernetes(kind: BackendKind) {
    let f = Flotilla::start(kind).await;
    let ns = f.namespace("metadata");
    f.ok(&["create", "configmap", "settings", "-n", &ns, "--from-literal=color=blue"]);
    assert_eq!(f.ok(&["label", "configmap", "settings", "-n", &ns, "team=a"]).trim(), "configmap/settings labeled");
    let error = f.fails(&["label", "configmap", "settings", "-n", &ns, "team=b"]);
    assert!(error.contains("already has a value (a)"), "{error}");
    f.ok(&["label", "configmap", "settings", "-n", &ns, "team=b", "--overwrite"]);
    f.ok(&["annotate", "configmap", "settings", "-n", &ns, "note=hello"]);
    let object = f.json(&["get", "configmap", "settings", "-n", &ns]);
    assert_eq!(object["metadata"]["labels"]["team"], "b");
    assert_eq!(object["metadata"]["annotations"]["note"], "hello");
    f.ok(&["label", "configmap", "settings", "-n", &ns, "team-"]);
    assert!(f.json(&["get", "configmap", "settings", "-n", &ns])["metadata"]["labels"]["team"].is_null());

    // The edit-equivalent: read, change, replace; a stale copy is refused.
    let current = f.ok(&["get", "configmap", "settings", "-n", &ns, "-o", "yaml"]);
    let edited = current.replace("color: blue", "color: green");
    assert_eq!(f.ok_with_stdin(&["replace", "-f", "-"], &edited).trim(), "configmap/settings replaced");
    assert_eq!(f.json(&["get", "configmap", "settings", "-n", &ns])["data"]["color"], "green");
    let stale = current.replace("color: blue", "color: red");
    let error =
        String::from_utf8_lossy(&f.kubectl_with_stdin(&["replace", "-f", "-"], Some(&stale)).stderr).into_owned();
    assert!(error.contains("the object has been modified"), "{error}");
}

async fn describe_shows_the_events_of_an_object(kind: BackendKind) {
    let f = Flotilla::start(kind).await;
    let ns = f.namespace("describing");
    f.ok_with_stdin(&["apply", "-n", &ns, "-f", "-"], DEPLOYMENT);
    let uid = f.json(&["get", "deployment", "nginx", "-n", &ns])["metadata"]["uid"].as_str().unwrap().to_string();
    let event = format!(
        "apiVersion: v1\nkind: Event\nmetadata:\n  name: nginx.1\n  namespace: {ns}\ninvolvedObject:\n  apiVersion: apps/v1\n  kind: Deployment\n  name: nginx\n  namespace: {ns}\n  uid: {uid}\nreason: ScalingReplicaSet\nmessage: Scaled up replica set nginx-abc to 2\ntype: Normal\nsource:\n  component: deployment-controller\ncount: 1\nfirstTimestamp: \"2026-01-01T00:00:00Z\"\nlastTimestamp: \"2026-01-01T00:00:00Z\"\n"
    );
    f.ok_with_stdin(&["create", "-f", "-"], &event);
    let other =
        event.replace("nginx.1", "other.1").replace("name: nginx\n", "name: other\n").replace("Scaled up", "Unrelated");
    f.ok_with_stdin(&["create", "-f", "-"], &other);
    let described = f.ok(&["describe", "deployment", "nginx", "-n", &ns]);
    assert!(described.contains("Name:                   nginx") || described.contains("Name:"), "{described}");
    assert!(described.contains("Replicas:"), "{described}");
    assert!(described.contains("Events:"), "{described}");
    assert!(described.contains("Scaled up replica set nginx-abc to 2"), "{described}");
    assert!(!described.contains("Unrelated"), "only this object's events: {described}");
}

async fn delete_waits_and_cascades_as_asked(kind: BackendKind) {
    let f = Flotilla::start(kind).await;
    let ns = f.namespace("cascades");
    let owned_replicaset = |owner: &str| -> String {
        let uid = f.json(&["get", "deployment", owner, "-n", &ns])["metadata"]["uid"].as_str().unwrap().to_string();
        let rs = format!(
            "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata:\n  name: {owner}-rs\n  namespace: {ns}\n  ownerReferences:\n  - apiVersion: apps/v1\n    kind: Deployment\n    name: {owner}\n    uid: {uid}\n    controller: true\n    blockOwnerDeletion: true\nspec:\n  replicas: 1\n  selector:\n    matchLabels:\n      app: nginx\n  template:\n    metadata:\n      labels:\n        app: nginx\n    spec:\n      containers:\n      - name: nginx\n        image: nginx\n"
        );
        f.ok_with_stdin(&["create", "-f", "-"], &rs);
        format!("{owner}-rs")
    };
    let exists = |resource: &str, name: &str| f.kubectl(&["get", resource, name, "-n", &ns]).status.success();

    for (owner, cascade) in [("orphaning", "orphan"), ("foreground", "foreground"), ("background", "background")] {
        let deployment = DEPLOYMENT.replace("name: nginx\n  labels", &format!("name: {owner}\n  labels"));
        f.ok_with_stdin(&["apply", "-n", &ns, "-f", "-"], &deployment);
        let rs = owned_replicaset(owner);
        f.ok(&["delete", "deployment", owner, "-n", &ns, &format!("--cascade={cascade}"), "--wait", "--timeout=30s"]);
        assert!(!exists("deployment", owner), "--wait returns after the {cascade} delete finished");
        if cascade == "orphan" {
            assert!(exists("replicaset", &rs), "orphaned dependents stay");
            let refs = f.json(&["get", "replicaset", &rs, "-n", &ns])["metadata"]["ownerReferences"].clone();
            assert!(refs.as_array().is_none_or(Vec::is_empty), "the owner reference is removed: {refs}");
        } else if cascade == "foreground" {
            assert!(!exists("replicaset", &rs), "foreground deletion removes dependents before the owner");
        } else {
            f.eventually(Duration::from_secs(20), "the garbage collector to remove the dependent", || {
                !exists("replicaset", &rs)
            });
        }
    }
}

async fn wait_for_conditions_and_deletion(kind: BackendKind) {
    let f = Flotilla::start(kind).await;
    let ns = f.namespace("waiting");
    f.ok(&["create", "configmap", "flag", "-n", &ns, "--from-literal=state=on"]);
    f.ok(&["wait", "--for=jsonpath={.data.state}=on", "configmap/flag", "-n", &ns, "--timeout=20s"]);
    f.ok(&["delete", "configmap", "flag", "-n", &ns, "--wait=false"]);
    f.ok(&["wait", "--for=delete", "configmap/flag", "-n", &ns, "--timeout=20s"]);
    f.ok_with_stdin(&["apply", "-f", "-"], &widget_crd());
    f.ok(&["wait", "--for=condition=Established", "crd/widgets.example.flotilla.dev", "--timeout=20s"]);
}

async fn explain_reads_the_served_schema(kind: BackendKind) {
    let f = Flotilla::start(kind).await;
    let explained = f.ok(&["explain", "deployment.spec.replicas"]);
    assert!(explained.contains("GROUP:      apps") || explained.contains("apps"), "{explained}");
    assert!(explained.contains("replicas") && explained.contains("<integer>"), "{explained}");
    assert!(explained.to_lowercase().contains("number of desired pods"), "{explained}");
    f.ok_with_stdin(&["apply", "-f", "-"], &widget_crd());
    f.ok(&["wait", "--for=condition=Established", "crd/widgets.example.flotilla.dev", "--timeout=20s"]);
    let widget = f.ok(&["explain", "widgets.spec"]);
    assert!(widget.contains("size") && widget.contains("<integer>"), "{widget}");
    let error = f.fails(&["explain", "deployment.spec.nosuchfield"]);
    assert!(error.contains("nosuchfield"), "{error}");
}

async fn dry_run_server_validates_without_storing(kind: BackendKind) {
    let f = Flotilla::start(kind).await;
    let ns = f.namespace("dry-runs");
    let out =
        f.ok(&["create", "configmap", "ghost", "-n", &ns, "--from-literal=a=b", "--dry-run=server", "-o", "json"]);
    let object: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(object["metadata"]["name"], "ghost");
    assert!(object["metadata"]["uid"].is_string(), "the server filled it in as for a real create: {object}");
    let error = f.fails(&["get", "configmap", "ghost", "-n", &ns]);
    assert!(error.contains("NotFound") || error.contains("not found"), "{error}");
    let invalid = DEPLOYMENT.replace("replicas: 2", "replicas: -1");
    let error = String::from_utf8_lossy(
        &f.kubectl_with_stdin(&["create", "--dry-run=server", "-n", &ns, "-f", "-"], Some(&invalid)).stderr,
    )
    .into_owned();
    assert!(error.contains("spec.replicas"), "validation runs on dry runs: {error}");
}

async fn raw_metrics_are_prometheus_text(kind: BackendKind) {
    let f = Flotilla::start(kind).await;
    f.ok(&["get", "namespaces"]);
    let metrics = f.ok(&["get", "--raw", "/metrics"]);
    // OpenMetrics text (served as application/openmetrics-text): the family is typed without `_total`.
    assert!(metrics.contains("# TYPE apiserver_request counter"), "{metrics}");
    assert!(metrics.trim_end().ends_with("# EOF"), "{metrics}");
    assert!(
        metrics.lines().any(|l| l.starts_with("apiserver_request_total{") && l.contains("resource=\"namespaces\"")),
        "{metrics}"
    );
    assert!(metrics.contains("apiserver_request_duration_seconds_bucket"), "{metrics}");
}

async fn the_seed_manifests_apply_unchanged(kind: BackendKind) {
    let f = Flotilla::start(kind).await;
    let ns = f.namespace("seeds");
    let out = f.ok_with_stdin(&["apply", "-n", &ns, "-f", "-"], DEPLOYMENTS_AND_SERVICES);
    assert_eq!(out.lines().collect::<Vec<_>>(), ["deployment.apps/nginx-deploy created", "service/nginx-svc created"]);
    let services = f.ok(&["get", "services", "-n", &ns]);
    assert_eq!(header(&services), ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]);
    let svc = row(&services, "nginx-svc");
    assert_eq!(svc[1], "NodePort");
    assert!(svc[2].starts_with("10."), "a cluster IP was allocated: {services}");
    assert_eq!(svc[4], "80:30000/TCP");
    let out = f.ok_with_stdin(&["apply", "-n", &ns, "-f", "-"], DEPLOYMENT);
    assert_eq!(out.trim(), "deployment.apps/nginx created");
}

fn widget_crd() -> String {
    r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.flotilla.dev
spec:
  group: example.flotilla.dev
  scope: Namespaced
  names:
    plural: widgets
    singular: widget
    kind: Widget
    shortNames: [wd]
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
    additionalPrinterColumns:
    - name: Size
      type: integer
      jsonPath: .spec.size
    - name: Age
      type: date
      jsonPath: .metadata.creationTimestamp
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            description: What the widget should be.
            properties:
              size:
                type: integer
                minimum: 1
                description: How big the widget is.
          status:
            type: object
            properties:
              ready:
                type: boolean
"#
    .to_string()
}

async fn a_custom_resource_definition_serves_its_kind_until_deleted(kind: BackendKind) {
    let f = Flotilla::start(kind).await;
    let ns = f.namespace("custom");
    f.ok_with_stdin(&["apply", "-f", "-"], &widget_crd());
    f.ok(&["wait", "--for=condition=Established", "crd/widgets.example.flotilla.dev", "--timeout=20s"]);
    let widget = "apiVersion: example.flotilla.dev/v1\nkind: Widget\nmetadata:\n  name: w1\nspec:\n  size: 3\n";
    f.eventually(Duration::from_secs(10), "the widget resource to be served", || {
        f.kubectl_with_stdin(&["apply", "-n", &ns, "-f", "-"], Some(widget)).status.success()
    });
    let table = f.ok(&["get", "wd", "-n", &ns]);
    assert_eq!(header(&table), ["NAME", "SIZE", "AGE"]);
    assert_eq!(row(&table, "w1")[1], "3");
    let error = String::from_utf8_lossy(
        &f.kubectl_with_stdin(&["apply", "-n", &ns, "-f", "-"], Some(&widget.replace("size: 3", "size: 0"))).stderr,
    )
    .into_owned();
    assert!(error.contains("spec.size"), "the CRD schema is enforced: {error}");
    let resources = f.ok(&["api-resources", "--api-group", "example.flotilla.dev"]);
    assert_eq!(row(&resources, "widgets"), ["widgets", "wd", "example.flotilla.dev/v1", "true", "Widget"]);

    f.ok(&["delete", "crd", "widgets.example.flotilla.dev", "--wait", "--timeout=30s"]);
    f.eventually(Duration::from_secs(10), "the widget resource to stop being served", || {
        let error = String::from_utf8_lossy(&f.kubectl(&["get", "widgets", "-n", &ns]).stderr).into_owned();
        error.contains("doesn't have a resource type")
            || error.contains("the server could not find the requested resource")
    });
}

async fn deleting_a_namespace_removes_its_contents(kind: BackendKind) {
    let f = Flotilla::start(kind).await;
    let namespaces = f.ok(&["get", "namespaces"]);
    assert_eq!(row(&namespaces, "default")[1], "Active");
    row(&namespaces, "kube-system");
    let ns = f.namespace("doomed");
    f.ok(&["create", "configmap", "inside", "-n", &ns]);
    f.ok_with_stdin(&["apply", "-n", &ns, "-f", "-"], DEPLOYMENT);
    f.ok(&["delete", "namespace", &ns, "--wait", "--timeout=30s"]);
    let error = f.fails(&["get", "namespace", &ns]);
    assert!(error.contains("not found"), "{error}");
    let leftovers = f.ok(&[
        "get",
        "configmaps,deployments",
        "-A",
        "--field-selector",
        &format!("metadata.namespace={ns}"),
        "-o",
        "name",
    ]);
    assert!(leftovers.trim().is_empty(), "the namespace's contents are gone: {leftovers}");
    let error = f.fails(&["create", "configmap", "late", "-n", &ns]);
    assert!(error.contains("not found"), "{error}");
}

async fn unknown_fields_are_refused_or_warned_about_as_kubectl_validate_asks(kind: BackendKind) {
    let f = Flotilla::start(kind).await;
    let ns = f.namespace("validation");
    let typo = DEPLOYMENT.replace("  replicas: 2", "  replicas: 2\n  replicaz: 3");
    // kubectl's default is --validate=strict, which the server enforces (fieldValidation=Strict).
    let error = String::from_utf8_lossy(&f.kubectl_with_stdin(&["apply", "-n", &ns, "-f", "-"], Some(&typo)).stderr)
        .into_owned();
    assert!(error.contains(r#"unknown field "spec.replicaz""#), "{error}");
    assert!(!f.kubectl(&["get", "deployment", "nginx", "-n", &ns]).status.success(), "nothing was stored");
    let warned = f.kubectl_with_stdin(&["apply", "--validate=warn", "-n", &ns, "-f", "-"], Some(&typo));
    assert!(warned.status.success(), "{}", String::from_utf8_lossy(&warned.stderr));
    assert!(
        String::from_utf8_lossy(&warned.stderr).contains(r#"unknown field "spec.replicaz""#),
        "a warning is printed"
    );
    let stored = f.json(&["get", "deployment", "nginx", "-n", &ns]);
    assert!(stored["spec"].get("replicaz").is_none(), "unknown fields are dropped: {stored}");
}

/// Kinds without PATCH (the review APIs) cannot be validated by the server's `fieldValidation`, so kubectl validates
/// them itself against `/openapi/v2` (fetched as gnostic protobuf), as with kube-apiserver.
async fn create_only_kinds_are_validated_by_kubectl_against_openapi_v2(kind: BackendKind) {
    let f = Flotilla::start(kind).await;
    let review = "apiVersion: authorization.k8s.io/v1\nkind: SelfSubjectAccessReview\nspec:\n  resourceAttributes:\n    \
                  group: policy.karmada.io\n    resource: propagationpolicies\n    verb: create\n    namespace: default\n";
    let answer: serde_json::Value =
        serde_json::from_str(&f.ok_with_stdin(&["create", "-o", "json", "-f", "-"], review))
            .expect("a SelfSubjectAccessReview answer");
    assert_eq!(answer["status"]["allowed"], true, "{answer}");

    let typo = review.replace("  resourceAttributes:", "  resourceAtributes:");
    let refused = f.kubectl_with_stdin(&["create", "-o", "json", "-f", "-"], Some(&typo));
    let error = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "kubectl refuses the typo before sending it");
    assert!(
        error.contains(
            r#"unknown field "resourceAtributes" in io.k8s.api.authorization.v1.SelfSubjectAccessReviewSpec"#
        ),
        "{error}"
    );
    let explained = f.ok(&["explain", "propagationpolicy.spec.placement", "--output=plaintext-openapiv2"]);
    assert!(explained.contains("clusterAffinity") && explained.contains("<Object>"), "{explained}");
}

async fn scale_changes_replicas_through_the_scale_subresource(kind: BackendKind) {
    let f = Flotilla::start(kind).await;
    f.ok(&["create", "deployment", "web", "--image=nginx", "--replicas=2"]);
    assert_eq!(f.ok(&["scale", "deployment", "web", "--replicas=5"]).trim(), "deployment.apps/web scaled");
    assert_eq!(f.ok(&["get", "deployment", "web", "-o", "jsonpath={.spec.replicas}"]).trim(), "5");
    let scale = f.ok(&["get", "--raw", "/apis/apps/v1/namespaces/default/deployments/web/scale"]);
    let scale: serde_json::Value = serde_json::from_str(&scale).expect("a JSON Scale");
    assert_eq!(
        (&scale["kind"], &scale["apiVersion"]),
        (&serde_json::json!("Scale"), &serde_json::json!("autoscaling/v1"))
    );
    assert_eq!(scale["spec"]["replicas"], 5);
    assert_eq!(scale["status"]["selector"], "app=web");
    // --current-replicas is a precondition kubectl checks against the Scale it reads.
    f.ok(&["scale", "deployment", "web", "--current-replicas=5", "--replicas=1"]);
    let refused = f.kubectl(&["scale", "deployment", "web", "--current-replicas=9", "--replicas=3"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("Expected replicas to be 9, was 1"));
    assert_eq!(f.ok(&["get", "deployment", "web", "-o", "jsonpath={.spec.replicas}"]).trim(), "1");
    let negative = f.kubectl(&["scale", "deployment", "web", "--replicas=-1"]);
    assert!(!negative.status.success());
}
