//! Defaults kube-apiserver fills into built-in objects on every write (the `SetDefaults_*` functions of the API).

use base64::Engine;
use serde_json::{Map, Value, json};

use super::object::{default_field, each_item, existing_mut, object_mut, str_at};

/// `imagePullPolicy` for an image: `Always` for `:latest` or no tag, `IfNotPresent` otherwise (digests included).
pub(crate) fn pull_policy(image: &str) -> &'static str {
    let (name, digest) = match image.split_once('@') {
        Some((name, _)) => (name, true),
        None => (image, false),
    };
    let last_segment = name.rsplit('/').next().unwrap_or(name);
    match last_segment.split_once(':') {
        Some((_, "latest")) => "Always",
        Some(_) => "IfNotPresent",
        None if digest => "IfNotPresent",
        None => "Always",
    }
}

fn probe_defaults(probe: &mut Map<String, Value>) {
    default_field(probe, "timeoutSeconds", json!(1));
    default_field(probe, "periodSeconds", json!(10));
    default_field(probe, "successThreshold", json!(1));
    default_field(probe, "failureThreshold", json!(3));
    if let Some(get) = probe.get_mut("httpGet").and_then(Value::as_object_mut) {
        if get.get("path").and_then(Value::as_str).is_none_or(str::is_empty) {
            get.insert("path".into(), json!("/"));
        }
        default_field(get, "scheme", json!("HTTP"));
    }
}

fn env_defaults(container: &mut Map<String, Value>) {
    each_item(container, "env", |env| {
        if let Some(field_ref) = env.get_mut("valueFrom").and_then(|v| v.get_mut("fieldRef"))
            && let Some(field_ref) = field_ref.as_object_mut()
        {
            default_field(field_ref, "apiVersion", json!("v1"));
        }
    });
}

/// `SetDefaults_Container` and what it implies for ports, probes and env.
fn container_defaults(container: &mut Map<String, Value>, host_network: bool) {
    let image = container.get("image").and_then(Value::as_str).unwrap_or_default().to_string();
    if container.get("imagePullPolicy").and_then(Value::as_str).is_none_or(str::is_empty) {
        container.insert("imagePullPolicy".into(), json!(pull_policy(&image)));
    }
    default_field(container, "terminationMessagePath", json!("/dev/termination-log"));
    default_field(container, "terminationMessagePolicy", json!("File"));
    default_field(container, "resources", json!({}));
    each_item(container, "ports", |port| {
        default_field(port, "protocol", json!("TCP"));
        if host_network && let Some(container_port) = port.get("containerPort").cloned() {
            default_field(port, "hostPort", container_port);
        }
    });
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(probe) = container.get_mut(probe).and_then(Value::as_object_mut) {
            probe_defaults(probe);
        }
    }
    env_defaults(container);
}

/// The source kinds a volume may have; a volume with none of them becomes an `emptyDir`.
const VOLUME_SOURCES: &[&str] = &[
    "hostPath",
    "emptyDir",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "secret",
    "nfs",
    "iscsi",
    "glusterfs",
    "persistentVolumeClaim",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "downwardAPI",
    "fc",
    "azureFile",
    "configMap",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "projected",
    "portworxVolume",
    "scaleIO",
    "storageos",
    "csi",
    "ephemeral",
    "image",
];

fn volume_defaults(volume: &mut Map<String, Value>) {
    if !VOLUME_SOURCES.iter().any(|source| volume.get(*source).is_some_and(|v| !v.is_null())) {
        volume.insert("emptyDir".into(), json!({}));
    }
    for source in ["secret", "configMap", "downwardAPI", "projected"] {
        if let Some(source) = volume.get_mut(source).and_then(Value::as_object_mut) {
            default_field(source, "defaultMode", json!(420));
        }
    }
    if let Some(host_path) = volume.get_mut("hostPath").and_then(Value::as_object_mut) {
        default_field(host_path, "type", json!(""));
    }
}

/// `SetDefaults_PodSpec` and the defaults of everything inside a pod spec (containers, volumes, probes).
pub(crate) fn pod_spec(spec: &mut Map<String, Value>) {
    default_field(spec, "restartPolicy", json!("Always"));
    default_field(spec, "dnsPolicy", json!("ClusterFirst"));
    default_field(spec, "schedulerName", json!("default-scheduler"));
    default_field(spec, "terminationGracePeriodSeconds", json!(30));
    default_field(spec, "securityContext", json!({}));
    let host_network = spec.get("hostNetwork").and_then(Value::as_bool).unwrap_or(false);
    for key in ["containers", "initContainers"] {
        each_item(spec, key, |container| container_defaults(container, host_network));
    }
    each_item(spec, "volumes", volume_defaults);
}

/// Defaults of the pod template at `spec.template` (workload controllers).
pub(crate) fn template_at(object: &mut Value, path: &[&str]) {
    if let Some(spec) = existing_mut(object, path) {
        pod_spec(spec);
    }
}

/// `SetDefaults_Pod`: the pod spec defaults, service links, and requests copied from limits.
pub(crate) fn pod(object: &mut Value) {
    let Some(spec) = existing_mut(object, &["spec"]) else { return };
    pod_spec(spec);
    default_field(spec, "enableServiceLinks", json!(true));
    for key in ["containers", "initContainers"] {
        each_item(spec, key, |container| {
            let Some(resources) = container.get_mut("resources").and_then(Value::as_object_mut) else { return };
            let Some(limits) = resources.get("limits").and_then(Value::as_object).cloned() else { return };
            if let Some(requests) = object_mut_in(resources, "requests") {
                for (name, quantity) in limits {
                    requests.entry(name).or_insert(quantity);
                }
            }
        });
    }
}

fn object_mut_in<'a>(map: &'a mut Map<String, Value>, key: &str) -> Option<&'a mut Map<String, Value>> {
    let entry = map.entry(key.to_string()).or_insert(Value::Null);
    if entry.is_null() {
        *entry = Value::Object(Map::new());
    }
    entry.as_object_mut()
}

/// `SetDefaults_Namespace`: the `kubernetes.io/metadata.name` label always carries the namespace's name.
pub(crate) fn namespace(object: &mut Value) {
    let name = str_at(object, &["metadata", "name"]).to_string();
    if name.is_empty() {
        return;
    }
    if let Some(labels) = object_mut(object, &["metadata", "labels"]) {
        labels.insert("kubernetes.io/metadata.name".into(), json!(name));
    }
}

/// `SetDefaults_Secret` plus the v1 conversion that folds `stringData` into `data`.
pub(crate) fn secret(object: &mut Value) {
    let Some(map) = object.as_object_mut() else { return };
    default_field(map, "type", json!("Opaque"));
    let Some(Value::Object(string_data)) = map.remove("stringData") else { return };
    let Some(data) = object_mut_in(map, "data") else { return };
    for (key, value) in string_data {
        if let Some(text) = value.as_str() {
            data.insert(key, json!(base64::engine::general_purpose::STANDARD.encode(text)));
        }
    }
}

/// `SetDefaults_PersistentVolumeClaimSpec`.
pub(crate) fn persistent_volume_claim(object: &mut Value) {
    if let Some(spec) = existing_mut(object, &["spec"]) {
        default_field(spec, "volumeMode", json!("Filesystem"));
    }
}

/// `SetDefaults_Service`: type, session affinity, port protocols and target ports, traffic policies.
pub(crate) fn service(object: &mut Value) {
    let Some(spec) = existing_mut(object, &["spec"]) else { return };
    default_field(spec, "type", json!("ClusterIP"));
    default_field(spec, "sessionAffinity", json!("None"));
    match spec.get("sessionAffinity").and_then(Value::as_str) {
        Some("None") => {
            spec.remove("sessionAffinityConfig");
        }
        Some("ClientIP") => {
            if let Some(config) =
                object_mut_in(spec, "sessionAffinityConfig").and_then(|c| object_mut_in(c, "clientIP"))
            {
                default_field(config, "timeoutSeconds", json!(10800));
            }
        }
        _ => {}
    }
    each_item(spec, "ports", |port| {
        default_field(port, "protocol", json!("TCP"));
        let unset = match port.get("targetPort") {
            None | Some(Value::Null) => true,
            Some(Value::Number(n)) => n.as_i64() == Some(0),
            Some(Value::String(s)) => s.is_empty(),
            Some(_) => false,
        };
        if unset && let Some(number) = port.get("port").cloned() {
            port.insert("targetPort".into(), number);
        }
    });
    let kind = spec.get("type").and_then(Value::as_str).unwrap_or_default().to_string();
    let has_external_ips = spec.get("externalIPs").and_then(Value::as_array).is_some_and(|ips| !ips.is_empty());
    let externally_accessible =
        kind == "LoadBalancer" || kind == "NodePort" || (kind == "ClusterIP" && has_external_ips);
    if externally_accessible {
        default_field(spec, "externalTrafficPolicy", json!("Cluster"));
    }
    if matches!(kind.as_str(), "ClusterIP" | "NodePort" | "LoadBalancer") {
        default_field(spec, "internalTrafficPolicy", json!("Cluster"));
    }
    if kind == "LoadBalancer" {
        default_field(spec, "allocateLoadBalancerNodePorts", json!(true));
    }
}

/// `SetDefaults_Deployment`.
pub(crate) fn deployment(object: &mut Value) {
    if let Some(spec) = existing_mut(object, &["spec"]) {
        default_field(spec, "replicas", json!(1));
        default_field(spec, "revisionHistoryLimit", json!(10));
        default_field(spec, "progressDeadlineSeconds", json!(600));
        if let Some(strategy) = object_mut_in(spec, "strategy") {
            default_field(strategy, "type", json!("RollingUpdate"));
            if strategy.get("type").and_then(Value::as_str) == Some("RollingUpdate")
                && let Some(rolling) = object_mut_in(strategy, "rollingUpdate")
            {
                default_field(rolling, "maxUnavailable", json!("25%"));
                default_field(rolling, "maxSurge", json!("25%"));
            }
        }
    }
    template_at(object, &["spec", "template", "spec"]);
}

/// `SetDefaults_StatefulSet`, with the defaults of its volume claim templates.
pub(crate) fn stateful_set(object: &mut Value) {
    if let Some(spec) = existing_mut(object, &["spec"]) {
        default_field(spec, "replicas", json!(1));
        default_field(spec, "podManagementPolicy", json!("OrderedReady"));
        default_field(spec, "revisionHistoryLimit", json!(10));
        if let Some(strategy) = object_mut_in(spec, "updateStrategy") {
            default_field(strategy, "type", json!("RollingUpdate"));
            if strategy.get("type").and_then(Value::as_str) == Some("RollingUpdate")
                && let Some(rolling) = object_mut_in(strategy, "rollingUpdate")
            {
                default_field(rolling, "partition", json!(0));
            }
        }
        if let Some(policy) = object_mut_in(spec, "persistentVolumeClaimRetentionPolicy") {
            default_field(policy, "whenDeleted", json!("Retain"));
            default_field(policy, "whenScaled", json!("Retain"));
        }
        each_item(spec, "volumeClaimTemplates", |claim| {
            if let Some(claim_spec) = claim.get_mut("spec").and_then(Value::as_object_mut) {
                default_field(claim_spec, "volumeMode", json!("Filesystem"));
            }
            if let Some(status) = object_mut_in(claim, "status") {
                default_field(status, "phase", json!("Pending"));
            }
        });
    }
    template_at(object, &["spec", "template", "spec"]);
}

/// `SetDefaults_DaemonSet`.
pub(crate) fn daemon_set(object: &mut Value) {
    if let Some(spec) = existing_mut(object, &["spec"]) {
        default_field(spec, "revisionHistoryLimit", json!(10));
        if let Some(strategy) = object_mut_in(spec, "updateStrategy") {
            default_field(strategy, "type", json!("RollingUpdate"));
            if strategy.get("type").and_then(Value::as_str) == Some("RollingUpdate")
                && let Some(rolling) = object_mut_in(strategy, "rollingUpdate")
            {
                default_field(rolling, "maxUnavailable", json!(1));
                default_field(rolling, "maxSurge", json!(0));
            }
        }
    }
    template_at(object, &["spec", "template", "spec"]);
}

/// `SetDefaults_ReplicaSet`.
pub(crate) fn replica_set(object: &mut Value) {
    if let Some(spec) = existing_mut(object, &["spec"]) {
        default_field(spec, "replicas", json!(1));
    }
    template_at(object, &["spec", "template", "spec"]);
}

/// `SetDefaults_Job`: completions and parallelism, backoff limit, completion mode, suspend, pod replacement.
pub(crate) fn job(object: &mut Value) {
    if let Some(spec) = existing_mut(object, &["spec"]) {
        let completions_set = spec.get("completions").is_some_and(|v| !v.is_null());
        let parallelism_set = spec.get("parallelism").is_some_and(|v| !v.is_null());
        if !completions_set && !parallelism_set {
            spec.insert("completions".into(), json!(1));
        }
        default_field(spec, "parallelism", json!(1));
        default_field(spec, "backoffLimit", json!(6));
        default_field(spec, "completionMode", json!("NonIndexed"));
        default_field(spec, "suspend", json!(false));
        let failure_policy = spec.get("podFailurePolicy").is_some_and(|v| !v.is_null());
        let replacement = if failure_policy { "Failed" } else { "TerminatingOrFailed" };
        default_field(spec, "podReplacementPolicy", json!(replacement));
    }
    template_at(object, &["spec", "template", "spec"]);
}

/// `SetDefaults_CronJob` (the job template's pod spec gets pod defaults too).
pub(crate) fn cron_job(object: &mut Value) {
    if let Some(spec) = existing_mut(object, &["spec"]) {
        default_field(spec, "concurrencyPolicy", json!("Allow"));
        default_field(spec, "suspend", json!(false));
        default_field(spec, "successfulJobsHistoryLimit", json!(3));
        default_field(spec, "failedJobsHistoryLimit", json!(1));
    }
    template_at(object, &["spec", "jobTemplate", "spec", "template", "spec"]);
}

/// `SetDefaults_Subject` of RBAC bindings: users and groups belong to the RBAC group, service accounts to core.
pub(crate) fn role_binding(object: &mut Value) {
    let Some(map) = object.as_object_mut() else { return };
    each_item(map, "subjects", |subject| {
        let unset = subject.get("apiGroup").and_then(Value::as_str).is_none_or(str::is_empty);
        if unset && matches!(subject.get("kind").and_then(Value::as_str), Some("User" | "Group")) {
            subject.insert("apiGroup".into(), json!("rbac.authorization.k8s.io"));
        }
    });
}

/// No defaults.
pub(crate) fn none(_object: &mut Value) {}
