//! Tests of the built-in kinds' tables: the columns and cells kubectl prints for each kind.

use jiff::SignedDuration;
use serde_json::{Value, json};

use super::{created, default_headers, headers, now, strategy};
use crate::{registry::Strategy, registry::builtin::human_duration};

#[test]
fn human_durations_read_like_kubectl_ages() {
    let cases = [
        (0, "0s"),
        (-1, "0s"),
        (-5, "<invalid>"),
        (59, "59s"),
        (119, "119s"),
        (120, "2m"),
        (330, "5m30s"),
        (600, "10m"),
        (179 * 60, "179m"),
        (3 * 3600 + 60, "3h1m"),
        (8 * 3600, "8h"),
        (47 * 3600, "47h"),
        (50 * 3600, "2d2h"),
        (7 * 86400, "7d"),
        (9 * 86400, "9d"),
        (800 * 86400, "2y70d"),
        (3000 * 86400, "8y"),
    ];
    for (seconds, text) in cases {
        assert_eq!(human_duration(SignedDuration::from_secs(seconds)), text, "{seconds}s");
    }
}

#[test]
fn deployments_print_ready_up_to_date_available_and_wide_containers_images_selector() {
    let strategy = strategy("apps", "Deployment");
    assert_eq!(
        headers(&strategy),
        ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"]
    );
    assert_eq!(default_headers(&strategy), ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]);
    assert_eq!(strategy.table_columns()[0].format, "name");
    let deployment = json!({
        "metadata": {"name": "web", "creationTimestamp": created(SignedDuration::from_secs(300))},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web", "tier": "front"},
                 "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod", "dev"]}]},
                 "template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.25"},
                                                      {"name": "sidecar", "image": "busybox"}]}}},
        "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}
    });
    assert_eq!(
        strategy.table_cells_at(&deployment, now()),
        [
            json!("web"),
            json!("2/3"),
            json!(3),
            json!(2),
            json!("5m"),
            json!("nginx,sidecar"),
            json!("nginx:1.25,busybox"),
            json!("app=web,env in (dev,prod),tier=front")
        ]
    );
}

#[test]
fn pods_print_readiness_status_and_restarts_with_the_last_restart_age() {
    let strategy = strategy("", "Pod");
    assert_eq!(
        headers(&strategy),
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED NODE", "READINESS GATES"]
    );
    let pod = json!({
        "metadata": {"name": "web-1", "creationTimestamp": created(SignedDuration::from_hours(26))},
        "spec": {"nodeName": "member1", "containers": [{"name": "a"}, {"name": "b"}]},
        "status": {"phase": "Running", "podIPs": [{"ip": "10.0.0.7"}], "containerStatuses": [
            {"name": "a", "ready": true, "restartCount": 2, "state": {"running": {}},
             "lastState": {"terminated": {"finishedAt": created(SignedDuration::from_mins(3))}}},
            {"name": "b", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}
    });
    assert_eq!(
        strategy.table_cells_at(&pod, now()),
        [
            json!("web-1"),
            json!("1/2"),
            json!("CrashLoopBackOff"),
            json!("2 (3m ago)"),
            json!("26h"),
            json!("10.0.0.7"),
            json!("member1"),
            json!("<none>"),
            json!("<none>")
        ]
    );
    let pending = json!({"metadata": {"name": "p", "deletionTimestamp": created(SignedDuration::ZERO)},
                         "spec": {"containers": [{"name": "a"}]}, "status": {"phase": "Pending"}});
    let cells = strategy.table_cells_at(&pending, now());
    assert_eq!(cells[1..4], [json!("0/1"), json!("Terminating"), json!("0")]);
    assert_eq!(cells[4], json!("<unknown>"));
    assert_eq!(cells[5], json!("<none>"));
}

#[test]
fn services_print_type_cluster_ip_external_ip_and_ports() {
    let strategy = strategy("", "Service");
    assert_eq!(headers(&strategy), ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE", "SELECTOR"]);
    let service = |spec: Value, status: Value| {
        json!({"metadata": {"name": "web", "creationTimestamp": created(SignedDuration::from_secs(45))},
               "spec": spec, "status": status})
    };
    let cluster_ip = service(
        json!({"type": "ClusterIP", "clusterIPs": ["10.96.12.4"], "selector": {"app": "web"},
               "ports": [{"port": 80, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}]}),
        json!({}),
    );
    assert_eq!(
        strategy.table_cells_at(&cluster_ip, now()),
        [
            json!("web"),
            json!("ClusterIP"),
            json!("10.96.12.4"),
            json!("<none>"),
            json!("80/TCP,53/UDP"),
            json!("45s"),
            json!("app=web")
        ]
    );
    let balancer = service(
        json!({"type": "LoadBalancer", "clusterIPs": ["10.96.0.9"], "ports": [{"port": 443, "nodePort": 31000, "protocol": "TCP"}]}),
        json!({"loadBalancer": {}}),
    );
    let cells = strategy.table_cells_at(&balancer, now());
    assert_eq!(cells[3..5], [json!("<pending>"), json!("443:31000/TCP")]);
    assert_eq!(cells[6], json!("<none>"));
    let external = service(json!({"type": "ExternalName", "externalName": "db.example.com"}), json!({}));
    let cells = strategy.table_cells_at(&external, now());
    assert_eq!(cells[2..5], [json!("<none>"), json!("db.example.com"), json!("<none>")]);
}

#[test]
fn config_maps_secrets_and_namespaces_print_their_counts_types_and_phases() {
    let config_map = strategy("", "ConfigMap");
    assert_eq!(headers(&config_map), ["NAME", "DATA", "AGE"]);
    let object = json!({"metadata": {"name": "cfg", "creationTimestamp": created(SignedDuration::from_hours(50))},
                        "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}});
    assert_eq!(config_map.table_cells_at(&object, now()), [json!("cfg"), json!(3), json!("2d2h")]);

    let secret = strategy("", "Secret");
    assert_eq!(headers(&secret), ["NAME", "TYPE", "DATA", "AGE"]);
    let object =
        json!({"metadata": {"name": "s"}, "type": "kubernetes.io/tls", "data": {"tls.crt": "", "tls.key": ""}});
    assert_eq!(
        secret.table_cells_at(&object, now()),
        [json!("s"), json!("kubernetes.io/tls"), json!(2), json!("<unknown>")]
    );

    let namespace = strategy("", "Namespace");
    assert_eq!(headers(&namespace), ["NAME", "STATUS", "AGE"]);
    let object = json!({"metadata": {"name": "prod", "creationTimestamp": created(SignedDuration::from_hours(24 * 400))},
                        "status": {"phase": "Terminating"}});
    assert_eq!(namespace.table_cells_at(&object, now()), [json!("prod"), json!("Terminating"), json!("400d")]);
}

#[test]
fn events_print_last_seen_type_reason_object_message_and_wide_details() {
    let strategy = strategy("", "Event");
    assert_eq!(
        headers(&strategy),
        ["LAST SEEN", "TYPE", "REASON", "OBJECT", "SUBOBJECT", "SOURCE", "MESSAGE", "FIRST SEEN", "COUNT", "NAME"]
    );
    assert_eq!(default_headers(&strategy), ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]);
    let event = json!({
        "metadata": {"name": "web.17a"},
        "involvedObject": {"kind": "Deployment", "name": "web", "fieldPath": "spec"},
        "reason": "ScalingReplicaSet", "type": "Normal", "message": " Scaled up to 3 \n",
        "firstTimestamp": created(SignedDuration::from_mins(20)), "lastTimestamp": created(SignedDuration::from_secs(30)),
        "count": 4, "source": {"component": "deployment-controller"}
    });
    assert_eq!(
        strategy.table_cells_at(&event, now()),
        [
            json!("30s"),
            json!("Normal"),
            json!("ScalingReplicaSet"),
            json!("deployment/web"),
            json!("spec"),
            json!("deployment-controller"),
            json!("Scaled up to 3"),
            json!("20m"),
            json!(4),
            json!("web.17a")
        ]
    );
    let new_style = json!({"metadata": {"name": "e"}, "involvedObject": {"kind": "Node"},
                           "eventTime": created(SignedDuration::from_secs(10)), "reportingComponent": "kubelet",
                           "reportingInstance": "node-1"});
    let cells = strategy.table_cells_at(&new_style, now());
    assert_eq!(cells[0], json!("10s"));
    assert_eq!(cells[3], json!("node"));
    assert_eq!(cells[5], json!("kubelet, node-1"));
    assert_eq!(cells[8], json!(1));
}

#[test]
fn workloads_print_their_replica_counts() {
    let sts = strategy("apps", "StatefulSet");
    assert_eq!(headers(&sts), ["NAME", "READY", "AGE", "CONTAINERS", "IMAGES"]);
    let object = json!({"metadata": {"name": "db"}, "spec": {"replicas": 3}, "status": {"readyReplicas": 1}});
    assert_eq!(sts.table_cells_at(&object, now())[1], json!("1/3"));

    let rs = strategy("apps", "ReplicaSet");
    assert_eq!(headers(&rs), ["NAME", "DESIRED", "CURRENT", "READY", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"]);
    let object =
        json!({"metadata": {"name": "web-5d"}, "spec": {"replicas": 2, "selector": {}}, "status": {"replicas": 2}});
    assert_eq!(rs.table_cells_at(&object, now())[1..4], [json!(2), json!(2), json!(0)]);
    assert_eq!(rs.table_cells_at(&object, now())[7], json!("<none>"));

    let ds = strategy("apps", "DaemonSet");
    assert_eq!(
        headers(&ds),
        [
            "NAME",
            "DESIRED",
            "CURRENT",
            "READY",
            "UP-TO-DATE",
            "AVAILABLE",
            "NODE SELECTOR",
            "AGE",
            "CONTAINERS",
            "IMAGES",
            "SELECTOR"
        ]
    );
    let object = json!({"metadata": {"name": "agent"},
                        "spec": {"template": {"spec": {"nodeSelector": {"kubernetes.io/os": "linux"}}}},
                        "status": {"desiredNumberScheduled": 3, "numberReady": 3}});
    let cells = ds.table_cells_at(&object, now());
    assert_eq!(cells[1..7], [json!(3), json!(0), json!(3), json!(0), json!(0), json!("kubernetes.io/os=linux")]);
}

#[test]
fn jobs_print_status_completions_and_duration() {
    let strategy = strategy("batch", "Job");
    assert_eq!(
        headers(&strategy),
        ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"]
    );
    let done = json!({"metadata": {"name": "pi"}, "spec": {"completions": 1, "parallelism": 1,
                      "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "u1"}}},
                      "status": {"succeeded": 1, "startTime": created(SignedDuration::from_secs(40)),
                                 "completionTime": created(SignedDuration::from_secs(30)),
                                 "conditions": [{"type": "Complete", "status": "True"}]}});
    let cells = strategy.table_cells_at(&done, now());
    assert_eq!(cells[1..4], [json!("Complete"), json!("1/1"), json!("10s")]);
    assert_eq!(cells[7], json!("batch.kubernetes.io/controller-uid=u1"));
    let running = json!({"metadata": {"name": "w"}, "spec": {"parallelism": 3},
                         "status": {"startTime": created(SignedDuration::from_secs(90))}});
    assert_eq!(strategy.table_cells_at(&running, now())[1..4], [json!("Running"), json!("0/1 of 3"), json!("90s")]);
    let fresh = json!({"metadata": {"name": "x"}, "spec": {"completions": 5}});
    assert_eq!(strategy.table_cells_at(&fresh, now())[1..4], [json!("Running"), json!("0/5"), json!("")]);
}

#[test]
fn cron_jobs_print_schedule_timezone_suspend_active_and_last_schedule() {
    let strategy = strategy("batch", "CronJob");
    assert_eq!(
        headers(&strategy),
        [
            "NAME",
            "SCHEDULE",
            "TIMEZONE",
            "SUSPEND",
            "ACTIVE",
            "LAST SCHEDULE",
            "AGE",
            "CONTAINERS",
            "IMAGES",
            "SELECTOR"
        ]
    );
    let object = json!({"metadata": {"name": "nightly"}, "spec": {"schedule": "0 2 * * *", "suspend": false,
                        "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}},
                        "status": {"active": [{"name": "nightly-1"}]}});
    assert_eq!(
        strategy.table_cells_at(&object, now()),
        [
            json!("nightly"),
            json!("0 2 * * *"),
            json!("<none>"),
            json!("False"),
            json!(1),
            json!("<none>"),
            json!("<unknown>"),
            json!("c"),
            json!("busybox"),
            json!("<none>")
        ]
    );
}

#[test]
fn nodes_ingresses_claims_bindings_and_leases_print_like_kubectl() {
    let node = strategy("", "Node");
    assert_eq!(
        headers(&node),
        [
            "NAME",
            "STATUS",
            "ROLES",
            "AGE",
            "VERSION",
            "INTERNAL-IP",
            "EXTERNAL-IP",
            "OS-IMAGE",
            "KERNEL-VERSION",
            "CONTAINER-RUNTIME"
        ]
    );
    let object = json!({"metadata": {"name": "n1", "labels": {"node-role.kubernetes.io/control-plane": ""}},
                        "spec": {"unschedulable": true},
                        "status": {"conditions": [{"type": "Ready", "status": "True"}], "nodeInfo": {"kubeletVersion": "v1.31.0"},
                                   "addresses": [{"type": "InternalIP", "address": "172.18.0.2"}]}});
    let cells = node.table_cells_at(&object, now());
    assert_eq!(cells[1..3], [json!("Ready,SchedulingDisabled"), json!("control-plane")]);
    assert_eq!(cells[4..7], [json!("v1.31.0"), json!("172.18.0.2"), json!("<none>")]);
    assert_eq!(cells[7], json!("<unknown>"));

    let ingress = strategy("networking.k8s.io", "Ingress");
    assert_eq!(headers(&ingress), ["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"]);
    let object = json!({"metadata": {"name": "web"}, "spec": {"ingressClassName": "nginx", "tls": [{}],
                        "rules": [{"host": "a.example.com"}, {"host": "b.example.com"}, {}, {"host": "c"}, {"host": "d"}]},
                        "status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}, {"hostname": "lb.example.com"}]}}});
    let cells = ingress.table_cells_at(&object, now());
    assert_eq!(
        cells[1..5],
        [
            json!("nginx"),
            json!("a.example.com,b.example.com,c + 2 more..."),
            json!("1.2.3.4,lb.example.com"),
            json!("80, 443")
        ]
    );

    let claim = strategy("", "PersistentVolumeClaim");
    assert_eq!(
        headers(&claim),
        [
            "NAME",
            "STATUS",
            "VOLUME",
            "CAPACITY",
            "ACCESS MODES",
            "STORAGECLASS",
            "VOLUMEATTRIBUTESCLASS",
            "AGE",
            "VOLUMEMODE"
        ]
    );
    let object = json!({"metadata": {"name": "data"}, "spec": {"volumeName": "pv-1", "storageClassName": "standard",
                        "volumeMode": "Filesystem"},
                        "status": {"phase": "Bound", "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteMany", "ReadWriteOnce"]}});
    let cells = claim.table_cells_at(&object, now());
    assert_eq!(
        cells[1..7],
        [json!("Bound"), json!("pv-1"), json!("1Gi"), json!("RWO,RWX"), json!("standard"), json!("<unset>")]
    );

    let binding = strategy("rbac.authorization.k8s.io", "ClusterRoleBinding");
    assert_eq!(headers(&binding), ["NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS"]);
    let object = json!({"metadata": {"name": "admins"}, "roleRef": {"kind": "ClusterRole", "name": "cluster-admin"},
                        "subjects": [{"kind": "User", "name": "alice"}, {"kind": "User", "name": "bob"},
                                     {"kind": "ServiceAccount", "name": "ctl", "namespace": "kube-system"}]});
    let cells = binding.table_cells_at(&object, now());
    assert_eq!(
        cells[1..6],
        [
            json!("ClusterRole/cluster-admin"),
            json!("<unknown>"),
            json!("alice, bob"),
            json!(""),
            json!("kube-system/ctl")
        ]
    );

    let lease = strategy("coordination.k8s.io", "Lease");
    assert_eq!(headers(&lease), ["NAME", "HOLDER", "AGE"]);
    let object = json!({"metadata": {"name": "l"}, "spec": {"holderIdentity": "member1"}});
    assert_eq!(lease.table_cells_at(&object, now())[1], json!("member1"));
}

#[test]
fn roles_cluster_roles_and_crds_print_name_and_creation_time() {
    for (group, kind) in [
        ("rbac.authorization.k8s.io", "Role"),
        ("rbac.authorization.k8s.io", "ClusterRole"),
        ("apiextensions.k8s.io", "CustomResourceDefinition"),
    ] {
        let strategy = strategy(group, kind);
        assert_eq!(headers(&strategy), ["NAME", "CREATED AT"], "{kind}");
        let object = json!({"metadata": {"name": "x", "creationTimestamp": "2024-01-02T03:04:05Z"}});
        assert_eq!(strategy.table_cells(&object), [json!("x"), json!("2024-01-02T03:04:05Z")], "{kind}");
    }
}

#[test]
fn initializing_pods_show_their_init_progress_and_sidecars_count_as_containers() {
    let strategy = strategy("", "Pod");
    let pod = |init_statuses: Value, conditions: Value| {
        json!({"metadata": {"name": "p"},
               "spec": {"initContainers": [{"name": "setup"}, {"name": "proxy", "restartPolicy": "Always"}],
                        "containers": [{"name": "app"}]},
               "status": {"phase": "Pending", "conditions": conditions, "initContainerStatuses": init_statuses,
                          "containerStatuses": [{"name": "app", "ready": false, "restartCount": 0,
                                                 "state": {"waiting": {"reason": "PodInitializing"}}}]}})
    };
    let waiting = pod(
        json!([{"name": "setup", "restartCount": 1, "state": {"running": {}},
                "lastState": {"terminated": {"finishedAt": created(SignedDuration::from_secs(30))}}},
               {"name": "proxy", "restartCount": 0, "state": {"waiting": {}}}]),
        json!([]),
    );
    let cells = strategy.table_cells_at(&waiting, now());
    assert_eq!(cells[1..4], [json!("0/2"), json!("Init:0/2"), json!("1 (30s ago)")]);
    let crashed = pod(
        json!([{"name": "setup", "restartCount": 3, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]),
        json!([]),
    );
    assert_eq!(strategy.table_cells_at(&crashed, now())[2], json!("Init:CrashLoopBackOff"));
    let started = pod(
        json!([{"name": "setup", "restartCount": 0, "state": {"terminated": {"exitCode": 0}}},
               {"name": "proxy", "restartCount": 2, "started": true, "ready": true, "state": {"running": {}}}]),
        json!([{"type": "Initialized", "status": "True"}]),
    );
    let cells = strategy.table_cells_at(&started, now());
    assert_eq!(cells[1..4], [json!("1/2"), json!("PodInitializing"), json!("2")]);
}
