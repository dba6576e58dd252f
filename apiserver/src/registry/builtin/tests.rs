//! Tests of the built-in kinds: discovery names, selectable fields, defaults, hooks and validation.

mod printing;

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use super::{BuiltinStrategy, KINDS};
use crate::{
    machinery::{ApiError, FieldError},
    registry::Strategy,
};

fn strategy(group: &str, kind: &str) -> BuiltinStrategy {
    BuiltinStrategy::of(group, kind).unwrap_or_else(|| panic!("{group}/{kind} is a built-in kind"))
}

fn now() -> Timestamp {
    "2024-05-01T12:00:00Z".parse().unwrap_or(Timestamp::UNIX_EPOCH)
}

/// A creation timestamp `ago` before [`now`].
fn created(ago: SignedDuration) -> String {
    (now() - ago).strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn headers(strategy: &BuiltinStrategy) -> Vec<String> {
    strategy.table_columns().iter().map(|c| c.name.to_uppercase()).collect()
}

fn default_headers(strategy: &BuiltinStrategy) -> Vec<String> {
    strategy.table_columns().iter().filter(|c| c.priority == 0).map(|c| c.name.to_uppercase()).collect()
}

fn messages(errors: &[FieldError]) -> Vec<String> {
    errors.iter().map(ToString::to_string).collect()
}

/// Runs defaults then validation, as the store does on create.
fn create_errors(strategy: &BuiltinStrategy, mut object: Value) -> Vec<String> {
    strategy.default(&mut object);
    strategy.prepare_for_create(&mut object);
    messages(&strategy.validate(&object))
}

/// Group, plural, singular, namespaced, short names, categories, `/status`.
type Discovery =
    (&'static str, &'static str, &'static str, bool, &'static [&'static str], &'static [&'static str], bool);

#[test]
fn discovery_names_match_kube_apiserver() {
    let expected: &[Discovery] = &[
        ("", "namespaces", "namespace", false, &["ns"], &[], true),
        ("", "configmaps", "configmap", true, &["cm"], &[], false),
        ("", "secrets", "secret", true, &[], &[], false),
        ("", "services", "service", true, &["svc"], &["all"], true),
        ("", "serviceaccounts", "serviceaccount", true, &["sa"], &[], false),
        ("", "events", "event", true, &["ev"], &[], false),
        ("", "persistentvolumeclaims", "persistentvolumeclaim", true, &["pvc"], &[], true),
        ("", "pods", "pod", true, &["po"], &["all"], true),
        ("", "nodes", "node", false, &["no"], &[], true),
        ("apps", "deployments", "deployment", true, &["deploy"], &["all"], true),
        ("apps", "statefulsets", "statefulset", true, &["sts"], &["all"], true),
        ("apps", "daemonsets", "daemonset", true, &["ds"], &["all"], true),
        ("apps", "replicasets", "replicaset", true, &["rs"], &["all"], true),
        ("batch", "jobs", "job", true, &[], &["all"], true),
        ("batch", "cronjobs", "cronjob", true, &["cj"], &["all"], true),
        ("networking.k8s.io", "ingresses", "ingress", true, &["ing"], &[], true),
        ("rbac.authorization.k8s.io", "roles", "role", true, &[], &[], false),
        ("rbac.authorization.k8s.io", "rolebindings", "rolebinding", true, &[], &[], false),
        ("rbac.authorization.k8s.io", "clusterroles", "clusterrole", false, &[], &[], false),
        ("rbac.authorization.k8s.io", "clusterrolebindings", "clusterrolebinding", false, &[], &[], false),
        ("coordination.k8s.io", "leases", "lease", true, &[], &[], false),
        (
            "apiextensions.k8s.io",
            "customresourcedefinitions",
            "customresourcedefinition",
            false,
            &["crd", "crds"],
            &["api-extensions"],
            true,
        ),
    ];
    assert_eq!(KINDS.len(), expected.len());
    for (group, plural, singular, namespaced, short, categories, status) in expected {
        let kind = KINDS.iter().find(|k| k.group == *group && k.plural == *plural);
        let info = kind.map(|k| k.info()).unwrap_or_else(|| panic!("{plural} is served"));
        assert_eq!(info.singular, *singular, "{plural}");
        assert_eq!(info.namespaced, *namespaced, "{plural}");
        assert_eq!(info.short_names, short.to_vec(), "{plural}");
        assert_eq!(info.categories, categories.to_vec(), "{plural}");
        assert_eq!(info.status_subresource, *status, "{plural}");
        assert_eq!(info.list_kind, format!("{}List", info.kind));
    }
}

#[test]
fn every_builtin_allows_unconditional_updates_except_crds() {
    for kind in KINDS {
        let strategy = strategy(kind.group, kind.kind);
        assert_eq!(strategy.allow_unconditional_update(), kind.kind != "CustomResourceDefinition", "{}", kind.kind);
    }
}

#[test]
fn a_put_creates_missing_objects_only_where_kube_allows_it() {
    let creating: Vec<&str> =
        KINDS.iter().filter(|k| strategy(k.group, k.kind).allow_create_on_update()).map(|k| k.plural).collect();
    assert_eq!(
        creating,
        [
            "services",
            "serviceaccounts",
            "events",
            "roles",
            "rolebindings",
            "clusterroles",
            "clusterrolebindings",
            "leases"
        ]
    );
}

#[test]
fn every_builtin_has_a_schema_and_a_merge_schema() {
    for kind in KINDS {
        let strategy = strategy(kind.group, kind.kind);
        assert!(strategy.schema().is_some_and(|s| s.is_object()), "{} has a schema", kind.kind);
        assert!(strategy.merge_schema().is_some(), "{} has a merge schema", kind.kind);
    }
}

#[test]
fn selectable_fields_cover_what_kubectl_and_controllers_select_on() {
    let event = strategy("", "Event");
    let object = json!({"involvedObject": {"kind": "Pod", "name": "web-1", "namespace": "default", "uid": "u-1"},
                        "reason": "Pulled", "type": "Normal", "reportingComponent": "kubelet"});
    let value = |field: &str| event.field_value(&object, field);
    assert_eq!(value("involvedObject.kind").as_deref(), Some("Pod"));
    assert_eq!(value("involvedObject.name").as_deref(), Some("web-1"));
    assert_eq!(value("involvedObject.namespace").as_deref(), Some("default"));
    assert_eq!(value("involvedObject.uid").as_deref(), Some("u-1"));
    assert_eq!(value("involvedObject.fieldPath").as_deref(), Some(""));
    assert_eq!(value("reason").as_deref(), Some("Pulled"));
    assert_eq!(value("type").as_deref(), Some("Normal"));
    assert_eq!(value("source").as_deref(), Some("kubelet"));
    assert_eq!(value("reportingComponent").as_deref(), Some("kubelet"));
    assert_eq!(value("spec.nodeName"), None);

    let pod = strategy("", "Pod");
    let object = json!({"spec": {"nodeName": "n1", "restartPolicy": "Always", "schedulerName": "default-scheduler",
                                 "serviceAccountName": "sa"},
                        "status": {"phase": "Running", "podIP": "10.0.0.1", "nominatedNodeName": "n2"}});
    let value = |field: &str| pod.field_value(&object, field);
    assert_eq!(value("spec.nodeName").as_deref(), Some("n1"));
    assert_eq!(value("spec.restartPolicy").as_deref(), Some("Always"));
    assert_eq!(value("spec.schedulerName").as_deref(), Some("default-scheduler"));
    assert_eq!(value("spec.serviceAccountName").as_deref(), Some("sa"));
    assert_eq!(value("spec.hostNetwork").as_deref(), Some("false"));
    assert_eq!(value("status.phase").as_deref(), Some("Running"));
    assert_eq!(value("status.podIP").as_deref(), Some("10.0.0.1"));
    assert_eq!(value("status.nominatedNodeName").as_deref(), Some("n2"));
    assert_eq!(value("spec.containers"), None);

    let empty = json!({});
    let cases = [
        ("", "Secret", "type", ""),
        ("", "Namespace", "status.phase", ""),
        ("", "Node", "spec.unschedulable", "false"),
        ("apps", "ReplicaSet", "status.replicas", "0"),
        ("batch", "Job", "status.successful", "0"),
        ("", "Service", "spec.clusterIP", ""),
        ("", "Service", "spec.type", ""),
    ];
    for (group, kind, field, value) in cases {
        assert_eq!(strategy(group, kind).field_value(&empty, field).as_deref(), Some(value), "{kind} {field}");
    }
    assert_eq!(strategy("", "ConfigMap").field_value(&empty, "data"), None);
    assert_eq!(strategy("apps", "Deployment").field_value(&empty, "spec.replicas"), None);
}

#[test]
fn deployments_get_kube_apiserver_defaults() {
    let strategy = strategy("apps", "Deployment");
    let mut deployment = json!({"spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {
        "metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [
            {"name": "a", "image": "nginx"},
            {"name": "b", "image": "nginx:1.25", "ports": [{"containerPort": 80}],
             "readinessProbe": {"httpGet": {"port": 80}}},
            {"name": "c", "image": "registry:5000/app@sha256:abc"},
            {"name": "d", "image": "nginx:latest"}]}}}});
    strategy.default(&mut deployment);
    let spec = &deployment["spec"];
    assert_eq!(spec["replicas"], 1);
    assert_eq!(spec["revisionHistoryLimit"], 10);
    assert_eq!(spec["progressDeadlineSeconds"], 600);
    assert_eq!(
        spec["strategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
    );
    let pod = &spec["template"]["spec"];
    assert_eq!(pod["restartPolicy"], "Always");
    assert_eq!(pod["dnsPolicy"], "ClusterFirst");
    assert_eq!(pod["schedulerName"], "default-scheduler");
    assert_eq!(pod["terminationGracePeriodSeconds"], 30);
    assert_eq!(pod["securityContext"], json!({}));
    assert_eq!(pod.get("enableServiceLinks"), None);
    let containers = &pod["containers"];
    let policies: Vec<&Value> = (0..4).map(|i| &containers[i]["imagePullPolicy"]).collect();
    assert_eq!(policies, [&json!("Always"), &json!("IfNotPresent"), &json!("IfNotPresent"), &json!("Always")]);
    assert_eq!(containers[0]["terminationMessagePath"], "/dev/termination-log");
    assert_eq!(containers[0]["terminationMessagePolicy"], "File");
    assert_eq!(containers[0]["resources"], json!({}));
    assert_eq!(containers[1]["ports"][0]["protocol"], "TCP");
    assert_eq!(
        containers[1]["readinessProbe"],
        json!({"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"}, "timeoutSeconds": 1, "periodSeconds": 10,
               "successThreshold": 1, "failureThreshold": 3})
    );
    let again = deployment.clone();
    strategy.default(&mut deployment);
    assert_eq!(deployment, again, "defaulting twice changes nothing");
}

#[test]
fn other_kinds_get_their_defaults() {
    let mut service = json!({"spec": {"ports": [{"port": 80}, {"port": 53, "targetPort": "dns", "protocol": "UDP"}]}});
    strategy("", "Service").default(&mut service);
    assert_eq!(service["spec"]["type"], "ClusterIP");
    assert_eq!(service["spec"]["sessionAffinity"], "None");
    assert_eq!(service["spec"]["internalTrafficPolicy"], "Cluster");
    assert_eq!(service["spec"]["ports"][0], json!({"port": 80, "protocol": "TCP", "targetPort": 80}));
    assert_eq!(service["spec"]["ports"][1]["targetPort"], "dns");

    let mut node_port = json!({"spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}});
    strategy("", "Service").default(&mut node_port);
    assert_eq!(node_port["spec"]["externalTrafficPolicy"], "Cluster");
    assert_eq!(node_port["spec"]["allocateLoadBalancerNodePorts"], true);

    let mut secret = json!({"metadata": {"name": "s"}, "data": {"a": "eA=="}, "stringData": {"b": "hello"}});
    strategy("", "Secret").default(&mut secret);
    assert_eq!(secret["type"], "Opaque");
    assert_eq!(secret["data"], json!({"a": "eA==", "b": "aGVsbG8="}));
    assert_eq!(secret.get("stringData"), None);

    let mut namespace = json!({"metadata": {"name": "team-a", "labels": {"kubernetes.io/metadata.name": "other"}}});
    strategy("", "Namespace").default(&mut namespace);
    assert_eq!(namespace["metadata"]["labels"]["kubernetes.io/metadata.name"], "team-a");

    let mut pod =
        json!({"spec": {"containers": [{"name": "a", "image": "x:1", "resources": {"limits": {"cpu": "1"}}}]}});
    strategy("", "Pod").default(&mut pod);
    assert_eq!(pod["spec"]["enableServiceLinks"], true);
    assert_eq!(pod["spec"]["containers"][0]["resources"]["requests"], json!({"cpu": "1"}));

    let mut job = json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "x"}]}}}});
    strategy("batch", "Job").default(&mut job);
    let spec = &job["spec"];
    assert_eq!((spec["completions"].clone(), spec["parallelism"].clone()), (json!(1), json!(1)));
    assert_eq!((spec["backoffLimit"].clone(), spec["completionMode"].clone()), (json!(6), json!("NonIndexed")));
    assert_eq!(
        (spec["suspend"].clone(), spec["podReplacementPolicy"].clone()),
        (json!(false), json!("TerminatingOrFailed"))
    );

    let mut cron = json!({"spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {"spec": {}}}}}});
    strategy("batch", "CronJob").default(&mut cron);
    assert_eq!(cron["spec"]["concurrencyPolicy"], "Allow");
    assert_eq!(cron["spec"]["successfulJobsHistoryLimit"], 3);
    assert_eq!(cron["spec"]["failedJobsHistoryLimit"], 1);
    assert_eq!(cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"], "Always");

    let mut sts = json!({"spec": {"volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {}}]}});
    strategy("apps", "StatefulSet").default(&mut sts);
    assert_eq!(sts["spec"]["podManagementPolicy"], "OrderedReady");
    assert_eq!(sts["spec"]["updateStrategy"], json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}));
    assert_eq!(sts["spec"]["volumeClaimTemplates"][0]["spec"]["volumeMode"], "Filesystem");

    let mut ds = json!({"spec": {}});
    strategy("apps", "DaemonSet").default(&mut ds);
    assert_eq!(
        ds["spec"]["updateStrategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}})
    );

    let mut binding = json!({"subjects": [{"kind": "User", "name": "a"}, {"kind": "ServiceAccount", "name": "b"}]});
    strategy("rbac.authorization.k8s.io", "RoleBinding").default(&mut binding);
    assert_eq!(binding["subjects"][0]["apiGroup"], "rbac.authorization.k8s.io");
    assert_eq!(binding["subjects"][1].get("apiGroup"), None);
}

fn deployment(labels: Value, selector: Value) -> Value {
    json!({"metadata": {"name": "web"}, "spec": {"selector": selector,
           "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "nginx", "image": "nginx"}]}}}})
}

#[test]
fn deployments_need_a_selector_matching_their_template() {
    let strategy = strategy("apps", "Deployment");
    assert_eq!(
        create_errors(&strategy, deployment(json!({"app": "web"}), json!({"matchLabels": {"app": "web"}}))),
        Vec::<String>::new()
    );
    assert_eq!(
        create_errors(&strategy, deployment(json!({"app": "web"}), Value::Null)),
        ["spec.selector: Required value"]
    );
    assert_eq!(
        create_errors(&strategy, deployment(json!({"app": "web"}), json!({}))),
        ["spec.selector: Invalid value: {}: empty selector is invalid for deployment"]
    );
    assert_eq!(
        create_errors(&strategy, deployment(json!({"app": "api"}), json!({"matchLabels": {"app": "web"}}))),
        [
            "spec.template.metadata.labels: Invalid value: {\"app\":\"api\"}: `selector` does not match template `labels`"
        ]
    );
    let mut negative = deployment(json!({"app": "web"}), json!({"matchLabels": {"app": "web"}}));
    negative["spec"]["replicas"] = json!(-1);
    negative["spec"]["template"]["spec"]["restartPolicy"] = json!("Never");
    negative["spec"]["template"]["spec"]["containers"] = json!([{"name": "Bad_Name"}, {"image": "x"}]);
    let errors = create_errors(&strategy, negative);
    assert_eq!(errors[0], "spec.replicas: Invalid value: -1: must be greater than or equal to 0");
    assert!(errors.contains(&"spec.template.spec.containers[0].image: Required value".to_string()), "{errors:?}");
    assert!(errors.contains(&"spec.template.spec.containers[1].name: Required value".to_string()), "{errors:?}");
    assert!(errors.iter().any(|e| e.starts_with(
        "spec.template.spec.containers[0].name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 label"
    )));
    assert!(errors.contains(
        &"spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\"".to_string()
    ));
}

#[test]
fn the_selector_of_a_deployment_cannot_change() {
    let strategy = strategy("apps", "Deployment");
    let mut old = deployment(json!({"app": "web", "v": "1"}), json!({"matchLabels": {"app": "web"}}));
    strategy.default(&mut old);
    let mut new = deployment(json!({"app": "web", "v": "1"}), json!({"matchLabels": {"v": "1"}}));
    strategy.default(&mut new);
    assert_eq!(
        messages(&strategy.validate_update(&new, &old)),
        ["spec.selector: Invalid value: {\"matchLabels\":{\"v\":\"1\"}}: field is immutable"]
    );
}

#[test]
fn invalid_objects_read_like_kube_apiserver_errors() {
    let strategy = strategy("apps", "Deployment");
    let mut object = deployment(json!({"app": "web"}), Value::Null);
    strategy.default(&mut object);
    let error = ApiError::invalid("Deployment", "apps", "web", &strategy.validate(&object));
    assert_eq!(error.code, 422);
    assert_eq!(error.message, "Deployment.apps \"web\" is invalid: spec.selector: Required value");
}

#[test]
fn services_need_valid_ports() {
    let strategy = strategy("", "Service");
    let service = |spec: Value| json!({"metadata": {"name": "web", "namespace": "default"}, "spec": spec});
    assert_eq!(create_errors(&strategy, service(json!({"ports": [{"port": 80}]}))), Vec::<String>::new());
    assert_eq!(create_errors(&strategy, service(json!({}))), ["spec.ports: Required value"]);
    assert_eq!(create_errors(&strategy, service(json!({"clusterIP": "None"}))), Vec::<String>::new());
    assert_eq!(
        create_errors(&strategy, service(json!({"ports": [{"port": 0}]}))),
        [
            "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
            "spec.ports[0].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive"
        ]
    );
    assert_eq!(
        create_errors(
            &strategy,
            service(json!({"ports": [{"port": 80}, {"name": "b", "port": 81, "protocol": "HTTP"}]}))
        ),
        [
            "spec.ports[0].name: Required value",
            "spec.ports[1].protocol: Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\""
        ]
    );
    assert_eq!(
        create_errors(&strategy, service(json!({"type": "Magic", "ports": [{"port": 80}]}))),
        [
            "spec.type: Unsupported value: \"Magic\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\""
        ]
    );
    assert_eq!(
        create_errors(&strategy, service(json!({"type": "ExternalName"}))),
        ["spec.externalName: Required value"]
    );
    assert_eq!(
        create_errors(&strategy, service(json!({"ports": [{"port": 80, "nodePort": 30080}]}))),
        ["spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"]
    );
}

#[test]
fn names_follow_each_kinds_rule() {
    let check = |group: &str, kind: &str, name: &str| strategy(group, kind).name_validator()(name, false);
    assert_eq!(check("", "Namespace", "team.a"), ["must not contain dots"]);
    assert!(check("", "Namespace", "Team").iter().any(|m| m.starts_with("a lowercase RFC 1123 label")));
    assert_eq!(check("", "ConfigMap", "team.a"), Vec::<String>::new());
    assert!(check("", "Service", "1web").iter().any(|m| m.starts_with("a DNS-1035 label")));
    assert_eq!(check("rbac.authorization.k8s.io", "ClusterRole", "system:controller:x"), Vec::<String>::new());
    assert_eq!(check("rbac.authorization.k8s.io", "Role", "a/b"), ["may not contain '/'"]);
    assert!(!check("", "Service", "web-").is_empty());
    assert_eq!(strategy("", "Service").name_validator()("web-", true), Vec::<String>::new());
}

#[test]
fn config_maps_and_secrets_check_their_keys_and_types() {
    let config_map = strategy("", "ConfigMap");
    let object =
        json!({"metadata": {"name": "c"}, "data": {"bad key": "x", "dup": "y"}, "binaryData": {"dup": "eQ=="}});
    assert_eq!(
        messages(&config_map.validate(&object)),
        [
            "data[bad key]: Invalid value: \"bad key\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
            "data[dup]: Invalid value: \"dup\": duplicate of key present in binaryData"
        ]
    );
    let old = json!({"metadata": {"name": "c"}, "immutable": true, "data": {"a": "1"}});
    let changed = json!({"metadata": {"name": "c"}, "immutable": true, "data": {"a": "2"}});
    assert_eq!(
        messages(&config_map.validate_update(&changed, &old)),
        ["data: Forbidden: field is immutable when `immutable` is set"]
    );

    let secret = strategy("", "Secret");
    let tls = json!({"metadata": {"name": "s"}, "type": "kubernetes.io/tls", "data": {"tls.crt": "eA=="}});
    assert_eq!(messages(&secret.validate(&tls)), ["data[tls.key]: Required value"]);
    let changed = json!({"metadata": {"name": "s"}, "type": "Opaque", "data": {"tls.crt": "eA=="}});
    assert_eq!(
        messages(&secret.validate_update(&changed, &tls)),
        ["type: Invalid value: \"Opaque\": field is immutable"]
    );
}

#[test]
fn jobs_and_cron_jobs_check_restart_policy_and_schedule() {
    let job = strategy("batch", "Job");
    let mut object = json!({"metadata": {"name": "pi", "uid": "1234"},
                            "spec": {"template": {"spec": {"containers": [{"name": "pi", "image": "perl"}]}}}});
    job.default(&mut object);
    job.prepare_for_create(&mut object);
    assert_eq!(object["spec"]["selector"], json!({"matchLabels": {"batch.kubernetes.io/controller-uid": "1234"}}));
    assert_eq!(
        object["spec"]["template"]["metadata"]["labels"],
        json!({"batch.kubernetes.io/controller-uid": "1234", "batch.kubernetes.io/job-name": "pi",
               "controller-uid": "1234", "job-name": "pi"})
    );
    assert_eq!(object["status"], json!({}));
    assert_eq!(
        messages(&job.validate(&object)),
        ["spec.template.spec.restartPolicy: Unsupported value: \"Always\": supported values: \"OnFailure\", \"Never\""]
    );
    object["spec"]["template"]["spec"]["restartPolicy"] = json!("Never");
    assert_eq!(messages(&job.validate(&object)), Vec::<String>::new());

    let cron = strategy("batch", "CronJob");
    let object = json!({"metadata": {"name": "nightly"}, "spec": {"schedule": "0 25 * * *",
                        "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "OnFailure",
                        "containers": [{"name": "c", "image": "busybox"}]}}}}}});
    assert_eq!(
        create_errors(&cron, object),
        ["spec.schedule: Invalid value: \"0 25 * * *\": end of range (25) above maximum (23): 25"]
    );
}

#[test]
fn ingresses_rbac_and_leases_check_what_users_get_wrong() {
    let ingress = strategy("networking.k8s.io", "Ingress");
    let object = json!({"metadata": {"name": "web"}, "spec": {"rules": [{"host": "a.example.com", "http": {"paths": [
        {"path": "/", "backend": {"service": {"name": "web", "port": {"number": 80}}}},
        {"path": "api", "pathType": "Prefix", "backend": {"service": {"name": "api"}}}]}}]}});
    assert_eq!(
        messages(&ingress.validate(&object)),
        [
            "spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified",
            "spec.rules[0].http.paths[1].path: Invalid value: \"api\": must be an absolute path",
            "spec.rules[0].http.paths[1].backend: Required value: port name or number is required"
        ]
    );

    let binding = strategy("rbac.authorization.k8s.io", "ClusterRoleBinding");
    let mut object = json!({"metadata": {"name": "b"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
                            "subjects": [{"kind": "ServiceAccount", "name": "sa"}, {"kind": "Robot", "name": "r2"}]});
    binding.default(&mut object);
    assert_eq!(
        messages(&binding.validate(&object)),
        [
            "roleRef.kind: Unsupported value: \"Role\": supported values: \"ClusterRole\"",
            "subjects[0].namespace: Required value",
            "subjects[1].kind: Unsupported value: \"Robot\": supported values: \"ServiceAccount\", \"User\", \"Group\""
        ]
    );
    let role = strategy("rbac.authorization.k8s.io", "Role");
    let object = json!({"metadata": {"name": "r"}, "rules": [{"apiGroups": [""], "resources": ["pods"]}]});
    assert_eq!(
        messages(&role.validate(&object)),
        ["rules[0].verbs: Required value: verbs must contain at least one value"]
    );

    let lease = strategy("coordination.k8s.io", "Lease");
    let object = json!({"metadata": {"name": "l"}, "spec": {"leaseDurationSeconds": 0}});
    assert_eq!(
        messages(&lease.validate(&object)),
        ["spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"]
    );
}

#[test]
fn namespaces_start_active_and_terminate_before_they_go() {
    let strategy = strategy("", "Namespace");
    let mut namespace =
        json!({"metadata": {"name": "team-a"}, "spec": {"finalizers": ["other"]}, "status": {"phase": "Gone"}});
    strategy.prepare_for_create(&mut namespace);
    assert_eq!(namespace["status"], json!({"phase": "Active"}));
    assert_eq!(namespace["spec"]["finalizers"], json!(["kubernetes"]));

    let mut updated = namespace.clone();
    updated["spec"]["finalizers"] = json!([]);
    strategy.prepare_for_update(&mut updated, &namespace);
    assert_eq!(updated["spec"]["finalizers"], json!(["kubernetes"]), "finalizers change only through /finalize");

    let mut deleting = namespace.clone();
    assert!(strategy.prepare_for_delete(&mut deleting), "the first delete keeps the namespace");
    assert_eq!(deleting["status"]["phase"], "Terminating");
    deleting["metadata"]["deletionTimestamp"] = json!("2024-05-01T12:00:00Z");
    assert!(strategy.prepare_for_delete(&mut deleting), "kept while spec.finalizers remain");
    deleting["spec"]["finalizers"] = json!([]);
    assert!(!strategy.prepare_for_delete(&mut deleting), "goes once finalized");
}

#[test]
fn pods_start_pending_with_their_qos_class_and_only_images_may_change() {
    let strategy = strategy("", "Pod");
    let guaranteed = json!({"cpu": "1", "memory": "1Gi"});
    let mut pod = json!({"metadata": {"name": "p"}, "spec": {"containers": [
        {"name": "a", "image": "x", "resources": {"limits": guaranteed}}]}, "status": {"phase": "Running"}});
    strategy.default(&mut pod);
    strategy.prepare_for_create(&mut pod);
    assert_eq!(pod["status"], json!({"phase": "Pending", "qosClass": "Guaranteed"}));
    let mut best_effort = json!({"spec": {"containers": [{"name": "a", "image": "x"}]}});
    strategy.prepare_for_create(&mut best_effort);
    assert_eq!(best_effort["status"]["qosClass"], "BestEffort");

    let mut new_image = pod.clone();
    new_image["spec"]["containers"][0]["image"] = json!("y");
    assert_eq!(messages(&strategy.validate_update(&new_image, &pod)), Vec::<String>::new());
    let mut new_node = pod.clone();
    new_node["spec"]["nodeName"] = json!("n2");
    let errors = messages(&strategy.validate_update(&new_node, &pod));
    assert!(
        errors.len() == 1 && errors[0].starts_with("spec: Forbidden: pod updates may not change fields"),
        "{errors:?}"
    );
}

#[test]
fn services_get_unique_cluster_ips_and_node_ports() {
    let allocator = super::services::Allocator::default();
    let service = |name: &str, spec: Value| json!({"metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}")}, "spec": spec});
    let prepared = |mut object: Value| {
        super::defaults::service(&mut object);
        allocator.prepare_create(&mut object);
        object
    };
    let mut seen = std::collections::BTreeSet::new();
    for i in 0..50 {
        let object = prepared(service(&format!("s{i}"), json!({"type": "ClusterIP", "ports": [{"port": 80}]})));
        let ip: std::net::Ipv4Addr =
            object["spec"]["clusterIP"].as_str().unwrap_or_default().parse().unwrap_or(std::net::Ipv4Addr::UNSPECIFIED);
        assert!(ip.octets()[0] == 10 && (96..112).contains(&ip.octets()[1]), "{ip} is in 10.96.0.0/12");
        assert_eq!(object["spec"]["clusterIPs"], json!([ip.to_string()]));
        assert_eq!(object["spec"]["ipFamilies"], json!(["IPv4"]));
        assert_eq!(object["spec"]["ipFamilyPolicy"], "SingleStack");
        assert_eq!(object["status"], json!({"loadBalancer": {}}));
        assert!(seen.insert(ip), "{ip} was handed out twice");
        assert_eq!(messages(&allocator.validate(&object)), Vec::<String>::new());
    }

    let taken = seen.iter().next().map(ToString::to_string).unwrap_or_default();
    let copycat =
        prepared(service("copycat", json!({"type": "ClusterIP", "clusterIP": taken, "ports": [{"port": 80}]})));
    assert_eq!(
        messages(&allocator.validate(&copycat)),
        [format!(
            "spec.clusterIPs: Invalid value: [\"{taken}\"]: failed to allocate IP {taken}: provided IP is already allocated"
        )]
    );
    let outside =
        prepared(service("outside", json!({"type": "ClusterIP", "clusterIP": "192.168.0.1", "ports": [{"port": 80}]})));
    assert!(messages(&allocator.validate(&outside))[0].ends_with("The range of valid IPs is 10.96.0.0/12"));

    let node_port = prepared(service("np", json!({"type": "NodePort", "ports": [{"port": 80, "protocol": "TCP"}]})));
    let port = node_port["spec"]["ports"][0]["nodePort"].as_i64().unwrap_or_default();
    assert!((30000..=32767).contains(&port), "{port}");

    let headless = prepared(service("h", json!({"type": "ClusterIP", "clusterIP": "None", "selector": {"app": "db"}})));
    assert_eq!(headless["spec"]["clusterIPs"], json!(["None"]));
    assert_eq!(headless["spec"]["ipFamilyPolicy"], "SingleStack");

    let mut reapplied = node_port.clone();
    if let Some(spec) = reapplied["spec"].as_object_mut() {
        spec.remove("clusterIP");
        spec.remove("clusterIPs");
    }
    if let Some(port) = reapplied["spec"]["ports"][0].as_object_mut() {
        port.remove("nodePort");
    }
    allocator.prepare_update(&mut reapplied, &node_port);
    assert_eq!(reapplied["spec"]["clusterIP"], node_port["spec"]["clusterIP"], "the cluster IP is kept");
    assert_eq!(reapplied["spec"]["ports"][0]["nodePort"], port, "the node port is kept");
    assert_eq!(messages(&allocator.validate_update(&reapplied, &node_port)), Vec::<String>::new());
    let mut moved = node_port.clone();
    moved["spec"]["clusterIP"] = json!("10.96.0.77");
    moved["spec"]["clusterIPs"] = json!(["10.96.0.77"]);
    assert!(
        messages(&allocator.validate_update(&moved, &node_port))
            .contains(&"spec.clusterIPs[0]: Invalid value: \"10.96.0.77\": may not change once set".to_string())
    );
}

fn workload(selector: Value) -> Value {
    json!({"metadata": {"name": "w"}, "spec": {"selector": selector, "serviceName": "w",
           "template": {"metadata": {"labels": {"app": "w"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}}})
}

#[test]
fn stateful_sets_daemon_sets_and_replica_sets_need_matching_selectors() {
    let selector = json!({"matchLabels": {"app": "w"}});
    for kind in ["StatefulSet", "DaemonSet", "ReplicaSet"] {
        let strategy = strategy("apps", kind);
        assert_eq!(create_errors(&strategy, workload(selector.clone())), Vec::<String>::new(), "{kind}");
        let mismatch = create_errors(&strategy, workload(json!({"matchLabels": {"app": "other"}})));
        assert_eq!(
            mismatch,
            [
                "spec.template.metadata.labels: Invalid value: {\"app\":\"w\"}: `selector` does not match template `labels`"
            ],
            "{kind}"
        );
    }
    let empty = create_errors(&strategy("apps", "StatefulSet"), workload(json!({})));
    assert_eq!(empty, ["spec.selector: Invalid value: {}: empty selector is invalid for statefulset"]);
    let empty = create_errors(&strategy("apps", "DaemonSet"), workload(json!({})));
    assert_eq!(empty, ["spec.selector: Invalid value: {}: empty selector is invalid for daemonset"]);
    let bad_operator = create_errors(
        &strategy("apps", "ReplicaSet"),
        workload(json!({"matchLabels": {"app": "w"}, "matchExpressions": [{"key": "tier", "operator": "Near"}]})),
    );
    assert_eq!(
        bad_operator,
        [
            "spec.selector.matchExpressions[0].operator: Invalid value: \"Near\": not a valid selector operator",
            "spec.selector: Invalid value: {\"matchExpressions\":[{\"key\":\"tier\",\"operator\":\"Near\"}],\"matchLabels\":{\"app\":\"w\"}}: invalid label selector"
        ]
    );

    let sts = strategy("apps", "StatefulSet");
    let mut old = workload(selector.clone());
    sts.default(&mut old);
    let mut scaled = old.clone();
    scaled["spec"]["replicas"] = json!(5);
    assert_eq!(messages(&sts.validate_update(&scaled, &old)), Vec::<String>::new());
    let mut renamed = old.clone();
    renamed["spec"]["serviceName"] = json!("other");
    let errors = messages(&sts.validate_update(&renamed, &old));
    assert!(errors.len() == 1 && errors[0].starts_with("spec: Forbidden: updates to statefulset spec"), "{errors:?}");
}

#[test]
fn claims_namespaces_and_service_accounts_are_checked() {
    let claim = strategy("", "PersistentVolumeClaim");
    let object = json!({"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteSometimes"]}});
    assert_eq!(
        create_errors(&claim, object),
        [
            "spec.accessModes: Unsupported value: \"ReadWriteSometimes\": supported values: \"ReadOnlyMany\", \"ReadWriteMany\", \"ReadWriteOnce\", \"ReadWriteOncePod\"",
            "spec.resources[storage]: Required value"
        ]
    );
    let mut bound = json!({"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"],
                           "resources": {"requests": {"storage": "1Gi"}}}});
    claim.default(&mut bound);
    claim.prepare_for_create(&mut bound);
    assert_eq!(bound["status"], json!({"phase": "Pending"}));
    assert_eq!(bound["spec"]["volumeMode"], "Filesystem");
    let mut grown = bound.clone();
    grown["spec"]["resources"]["requests"]["storage"] = json!("2Gi");
    assert_eq!(messages(&claim.validate_update(&grown, &bound)), Vec::<String>::new());
    let mut remoded = bound.clone();
    remoded["spec"]["accessModes"] = json!(["ReadWriteMany"]);
    assert_eq!(
        messages(&claim.validate_update(&remoded, &bound)),
        [
            "spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims"
        ]
    );

    let namespace = strategy("", "Namespace");
    let object = json!({"metadata": {"name": "ns"}, "spec": {"finalizers": ["a/b/c"]}});
    assert!(
        messages(&namespace.validate(&object))[0]
            .starts_with("spec.finalizers[0]: Invalid value: \"a/b/c\": a valid label key")
    );

    let account = strategy("", "ServiceAccount");
    assert_eq!(
        messages(&account.validate(&json!({"metadata": {"name": "sa"}, "imagePullSecrets": [{}]}))),
        ["imagePullSecrets[0].name: Required value"]
    );
    let object = json!({"metadata": {"name": "sa"}, "secrets": [{"name": "a"}, {"name": "b"}]});
    assert_eq!(account.table_cells(&object)[..2], [json!("sa"), json!(2)]);
}

#[test]
fn malformed_objects_never_panic_any_hook() {
    let shapes = [
        json!(null),
        json!([]),
        json!("text"),
        json!({"metadata": 5, "spec": "x", "status": []}),
        json!({"metadata": {"name": 7, "labels": [1]}, "data": [1], "stringData": {"a": 1}, "type": 3}),
        json!({"spec": {"containers": [1, "x", null], "ports": ["80", 80, {"port": "x"}], "template": 5,
                        "selector": [], "replicas": "many", "type": "LoadBalancer", "clusterIP": 4,
                        "rules": [{"http": {"paths": [7]}}], "versions": [{"name": 1}], "names": []},
               "roleRef": "x", "subjects": [1], "rules": [[]], "involvedObject": 1}),
        json!({"spec": {"template": {"spec": {"containers": [{"ports": [1], "env": [2], "volumeMounts": [3]}],
                        "volumes": [4], "initContainers": {}}, "metadata": {"labels": {"a": 1}}},
                        "jobTemplate": [], "strategy": {"rollingUpdate": {"maxUnavailable": "x%"}}}}),
    ];
    for kind in KINDS {
        let strategy = strategy(kind.group, kind.kind);
        for shape in &shapes {
            let mut object = shape.clone();
            strategy.default(&mut object);
            strategy.prepare_for_create(&mut object);
            let _ = strategy.validate(&object);
            let _ = strategy.table_cells(&object);
            for field in ["status.phase", "spec.nodeName", "involvedObject.name", "source"] {
                let _ = strategy.field_value(&object, field);
            }
            let mut updated = shape.clone();
            strategy.default(&mut updated);
            strategy.prepare_for_update(&mut updated, &object);
            let _ = strategy.validate_update(&updated, &object);
            let _ = strategy.validate_update(&object, shape);
            let _ = strategy.prepare_for_delete(&mut updated);
        }
    }
    let allocator = super::services::Allocator::default();
    for shape in &shapes {
        let mut object = shape.clone();
        allocator.prepare_create(&mut object);
        allocator.prepare_update(&mut object, shape);
        let _ = allocator.validate(&object);
        let _ = allocator.validate_update(&object, shape);
    }
}
