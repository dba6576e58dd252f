//! Table columns and (always wide) row cells of the built-in kinds, as kube-apiserver's printers send them.

use jiff::Timestamp;
use serde_json::{Value, json};

use super::object::{
    age, at, bool_at, condition_status, format_label_selector, format_labels, has, int_at, list_at, map_at,
    selector_string, since, str_at, time_at,
};
use crate::machinery::table::ColumnDefinition;

/// One column: header, type, description, wide-only.
pub(crate) struct Column {
    name: &'static str,
    type_: &'static str,
    description: &'static str,
    wide: bool,
}

impl Column {
    /// The `columnDefinitions` entry.
    pub(crate) fn definition(&self) -> ColumnDefinition {
        let mut definition = ColumnDefinition::new(self.name, self.type_, self.description);
        if self.name == "Name" {
            definition = definition.with_format("name");
        }
        if self.wide { definition.wide() } else { definition }
    }
}

/// The columns and the row function of one kind. kube-apiserver always generates the wide form and kubectl hides
/// columns of priority 1, so every row has one cell per column; durations (AGE) are rendered when the table is.
pub(crate) struct Printer {
    /// Every column, wide ones included.
    pub(crate) columns: &'static [Column],
    /// One cell per column.
    pub(crate) cells: fn(&Value, Timestamp) -> Vec<Value>,
}

pub(crate) const fn col(name: &'static str, type_: &'static str, description: &'static str) -> Column {
    Column { name, type_, description, wide: false }
}

pub(crate) const fn wide(name: &'static str, type_: &'static str, description: &'static str) -> Column {
    Column { name, type_, description, wide: true }
}

pub(crate) const NAME: Column =
    col("Name", "string", "The object's unique name within its namespace (or the cluster).");
const AGE: Column = col("Age", "string", "How long ago the object was created.");
const CONTAINERS: Column = wide("Containers", "string", "Names of the containers in the pod template.");
const IMAGES: Column = wide("Images", "string", "Images of the containers in the pod template.");
const SELECTOR: Column = wide("Selector", "string", "The label selector of the pods this object manages.");

fn name(object: &Value) -> Value {
    json!(str_at(object, &["metadata", "name"]))
}

/// `layoutContainerCells`: container names and images, comma-separated.
fn container_cells(pod_spec: Option<&Value>) -> (Value, Value) {
    let containers = pod_spec.map(|spec| list_at(spec, &["containers"])).unwrap_or_default();
    let names: Vec<&str> = containers.iter().map(|c| str_at(c, &["name"])).collect();
    let images: Vec<&str> = containers.iter().map(|c| str_at(c, &["image"])).collect();
    (json!(names.join(",")), json!(images.join(",")))
}

fn template_spec(object: &Value) -> Option<&Value> {
    at(object, &["spec", "template", "spec"])
}

pub(crate) static NAMESPACE: Printer = Printer {
    columns: &[NAME, col("Status", "string", "Whether the namespace is Active or Terminating."), AGE],
    cells: |o, now| vec![name(o), json!(str_at(o, &["status", "phase"])), json!(age(o, now))],
};

pub(crate) static CONFIG_MAP: Printer = Printer {
    columns: &[NAME, col("Data", "string", "The number of data and binaryData entries."), AGE],
    cells: |o, now| {
        let count = map_at(o, &["data"]).map_or(0, |m| m.len()) + map_at(o, &["binaryData"]).map_or(0, |m| m.len());
        vec![name(o), json!(count), json!(age(o, now))]
    },
};

pub(crate) static SECRET: Printer = Printer {
    columns: &[
        NAME,
        col("Type", "string", "The secret's type, e.g. Opaque."),
        col("Data", "string", "The number of data entries."),
        AGE,
    ],
    cells: |o, now| {
        let count = map_at(o, &["data"]).map_or(0, |m| m.len());
        vec![name(o), json!(str_at(o, &["type"])), json!(count), json!(age(o, now))]
    },
};

pub(crate) static SERVICE_ACCOUNT: Printer = Printer {
    columns: &[NAME, col("Secrets", "string", "The number of secrets the service account references."), AGE],
    cells: |o, now| vec![name(o), json!(list_at(o, &["secrets"]).len()), json!(age(o, now))],
};

pub(crate) static SERVICE: Printer = Printer {
    columns: &[
        NAME,
        col("Type", "string", "How the service is exposed: ClusterIP, NodePort, LoadBalancer or ExternalName."),
        col("Cluster-IP", "string", "The service's virtual IP inside the cluster."),
        col("External-IP", "string", "Addresses the service is reachable at from outside the cluster."),
        col("Port(s)", "string", "The service's ports, with node ports where allocated."),
        AGE,
        wide("Selector", "string", "The labels of the pods the service routes to."),
    ],
    cells: service_cells,
};

fn service_cells(o: &Value, now: Timestamp) -> Vec<Value> {
    let cluster_ip = list_at(o, &["spec", "clusterIPs"]).first().and_then(Value::as_str).unwrap_or("<none>");
    let ports: Vec<String> = list_at(o, &["spec", "ports"])
        .iter()
        .map(|p| {
            let (port, protocol, node_port) =
                (int_at(p, &["port"]), str_at(p, &["protocol"]), int_at(p, &["nodePort"]));
            if node_port > 0 { format!("{port}:{node_port}/{protocol}") } else { format!("{port}/{protocol}") }
        })
        .collect();
    let ports = if ports.is_empty() { "<none>".to_string() } else { ports.join(",") };
    vec![
        name(o),
        json!(str_at(o, &["spec", "type"])),
        json!(cluster_ip),
        json!(service_external_ip(o)),
        json!(ports),
        json!(age(o, now)),
        json!(format_labels(at(o, &["spec", "selector"]))),
    ]
}

/// Load-balancer ingress points (IP, else hostname), sorted and unique.
fn load_balancer_addresses(ingress: &[Value]) -> Vec<String> {
    let mut addresses: Vec<String> = ingress
        .iter()
        .filter_map(|i| {
            let ip = str_at(i, &["ip"]);
            let host = str_at(i, &["hostname"]);
            if !ip.is_empty() {
                Some(ip.to_string())
            } else if !host.is_empty() {
                Some(host.to_string())
            } else {
                None
            }
        })
        .collect();
    addresses.sort();
    addresses.dedup();
    addresses
}

fn service_external_ip(o: &Value) -> String {
    let external: Vec<&str> = list_at(o, &["spec", "externalIPs"]).iter().filter_map(Value::as_str).collect();
    match str_at(o, &["spec", "type"]) {
        "ClusterIP" | "NodePort" if !external.is_empty() => external.join(","),
        "ClusterIP" | "NodePort" => "<none>".to_string(),
        "LoadBalancer" => {
            let mut all = load_balancer_addresses(list_at(o, &["status", "loadBalancer", "ingress"]));
            if all.is_empty() && external.is_empty() {
                return "<pending>".to_string();
            }
            all.extend(external.iter().map(|s| s.to_string()));
            all.join(",")
        }
        "ExternalName" => str_at(o, &["spec", "externalName"]).to_string(),
        _ => "<unknown>".to_string(),
    }
}

pub(crate) static EVENT: Printer = Printer {
    columns: &[
        col("Last Seen", "string", "How long ago the event was last observed."),
        col("Type", "string", "Normal or Warning."),
        col("Reason", "string", "Why the event happened, in one word."),
        col("Object", "string", "The object the event is about."),
        wide("Subobject", "string", "The part of the object the event is about."),
        wide("Source", "string", "The component that reported the event."),
        col("Message", "string", "What happened."),
        wide("First Seen", "string", "How long ago the event was first observed."),
        wide("Count", "string", "How many times the event was observed."),
        Column { wide: true, ..NAME },
    ],
    cells: event_cells,
};

fn event_cells(o: &Value, now: Timestamp) -> Vec<Value> {
    let first = match time_at(o, &["firstTimestamp"]) {
        Some(first) => since(Some(first), now),
        None => since(time_at(o, &["eventTime"]), now),
    };
    let mut last = match time_at(o, &["lastTimestamp"]) {
        Some(last) => since(Some(last), now),
        None => first.clone(),
    };
    let mut count = int_at(o, &["count"]);
    if has(o, &["series"]) {
        last = since(time_at(o, &["series", "lastObservedTime"]), now);
        count = int_at(o, &["series", "count"]);
    } else if count == 0 {
        count = 1;
    }
    let kind = str_at(o, &["involvedObject", "kind"]).to_lowercase();
    let involved = str_at(o, &["involvedObject", "name"]);
    let target = if involved.is_empty() { kind } else { format!("{kind}/{involved}") };
    let first_non_empty = |a: &str, b: &str| if a.is_empty() { b.to_string() } else { a.to_string() };
    let component = first_non_empty(str_at(o, &["source", "component"]), str_at(o, &["reportingComponent"]));
    let instance = first_non_empty(str_at(o, &["source", "host"]), str_at(o, &["reportingInstance"]));
    let source = if instance.is_empty() { component } else { format!("{component}, {instance}") };
    vec![
        json!(last),
        json!(str_at(o, &["type"])),
        json!(str_at(o, &["reason"])),
        json!(target),
        json!(str_at(o, &["involvedObject", "fieldPath"])),
        json!(source),
        json!(str_at(o, &["message"]).trim()),
        json!(first),
        json!(count),
        name(o),
    ]
}

/// kubectl's short access-mode names in their fixed order.
fn access_modes(modes: &[Value]) -> String {
    [("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"), ("ReadWriteMany", "RWX"), ("ReadWriteOncePod", "RWOP")]
        .iter()
        .filter(|(mode, _)| modes.iter().any(|m| m.as_str() == Some(mode)))
        .map(|(_, short)| *short)
        .collect::<Vec<_>>()
        .join(",")
}

/// A quantity as written (`1Gi`), or a bare number.
fn quantity(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

fn or_unset(text: &str) -> String {
    if text.is_empty() { "<unset>".to_string() } else { text.to_string() }
}

fn or_none(text: &str) -> String {
    if text.is_empty() { "<none>".to_string() } else { text.to_string() }
}

pub(crate) static PERSISTENT_VOLUME_CLAIM: Printer = Printer {
    columns: &[
        NAME,
        col("Status", "string", "Pending, Bound or Lost."),
        col("Volume", "string", "The volume bound to the claim."),
        col("Capacity", "string", "The storage the bound volume provides."),
        col("Access Modes", "string", "How the bound volume may be mounted."),
        col("StorageClass", "string", "The storage class of the claim."),
        col("VolumeAttributesClass", "string", "The volume attributes class of the claim."),
        AGE,
        wide("VolumeMode", "string", "Filesystem or Block."),
    ],
    cells: |o, now| {
        let phase =
            if has(o, &["metadata", "deletionTimestamp"]) { "Terminating" } else { str_at(o, &["status", "phase"]) };
        let volume = str_at(o, &["spec", "volumeName"]);
        let (capacity, modes) = if volume.is_empty() {
            (String::new(), String::new())
        } else {
            (quantity(at(o, &["status", "capacity", "storage"])), access_modes(list_at(o, &["status", "accessModes"])))
        };
        let class = match str_at(o, &["metadata", "annotations", "volume.beta.kubernetes.io/storage-class"]) {
            "" => str_at(o, &["spec", "storageClassName"]),
            annotated => annotated,
        };
        vec![
            name(o),
            json!(phase),
            json!(volume),
            json!(capacity),
            json!(modes),
            json!(class),
            json!(or_unset(str_at(o, &["spec", "volumeAttributesClassName"]))),
            json!(age(o, now)),
            json!(or_unset(str_at(o, &["spec", "volumeMode"]))),
        ]
    },
};

pub(crate) static POD: Printer = Printer {
    columns: &[
        NAME,
        col("Ready", "string", "Ready containers out of all containers."),
        col("Status", "string", "The pod's overall state."),
        col("Restarts", "string", "Container restarts, and how long ago the last one was."),
        AGE,
        wide("IP", "string", "The pod's IP address."),
        wide("Node", "string", "The node the pod is scheduled to."),
        wide("Nominated Node", "string", "The node the pod is nominated to after a preemption."),
        wide("Readiness Gates", "string", "Readiness gates that are met out of all of them."),
    ],
    cells: super::pod_printer::pod_cells,
};

pub(crate) static NODE: Printer = Printer {
    columns: &[
        NAME,
        col("Status", "string", "Ready, NotReady or Unknown, and whether scheduling is disabled."),
        col("Roles", "string", "The node's roles, from its node-role labels."),
        AGE,
        col("Version", "string", "The kubelet version."),
        wide("Internal-IP", "string", "The node's internal IP address."),
        wide("External-IP", "string", "The node's external IP address."),
        wide("OS-Image", "string", "The operating system image."),
        wide("Kernel-Version", "string", "The kernel version."),
        wide("Container-Runtime", "string", "The container runtime and its version."),
    ],
    cells: node_cells,
};

fn node_cells(o: &Value, now: Timestamp) -> Vec<Value> {
    let ready = list_at(o, &["status", "conditions"]).iter().find(|c| str_at(c, &["type"]) == "Ready");
    let mut status = match ready {
        None => vec!["Unknown"],
        Some(c) if str_at(c, &["status"]) == "True" => vec!["Ready"],
        Some(_) => vec!["NotReady"],
    };
    if bool_at(o, &["spec", "unschedulable"]) {
        status.push("SchedulingDisabled");
    }
    let mut roles: Vec<String> = map_at(o, &["metadata", "labels"])
        .into_iter()
        .flatten()
        .filter_map(|(key, value)| match key.strip_prefix("node-role.kubernetes.io/") {
            Some(role) if !role.is_empty() => Some(role.to_string()),
            Some(_) => None,
            None if key == "kubernetes.io/role" => value.as_str().filter(|v| !v.is_empty()).map(str::to_string),
            None => None,
        })
        .collect();
    roles.sort();
    roles.dedup();
    let address = |kind: &str| {
        list_at(o, &["status", "addresses"])
            .iter()
            .find(|a| str_at(a, &["type"]) == kind)
            .map_or("<none>".to_string(), |a| str_at(a, &["address"]).to_string())
    };
    let info = |field: &str| match str_at(o, &["status", "nodeInfo", field]) {
        "" => "<unknown>".to_string(),
        value => value.to_string(),
    };
    vec![
        name(o),
        json!(status.join(",")),
        json!(or_none(&roles.join(","))),
        json!(age(o, now)),
        json!(str_at(o, &["status", "nodeInfo", "kubeletVersion"])),
        json!(address("InternalIP")),
        json!(address("ExternalIP")),
        json!(info("osImage")),
        json!(info("kernelVersion")),
        json!(info("containerRuntimeVersion")),
    ]
}

pub(crate) static DEPLOYMENT: Printer = Printer {
    columns: &[
        NAME,
        col("Ready", "string", "Ready pods out of the desired number."),
        col("Up-to-date", "string", "Pods that run the latest pod template."),
        col("Available", "string", "Pods available to serve."),
        AGE,
        CONTAINERS,
        IMAGES,
        SELECTOR,
    ],
    cells: |o, now| {
        let (containers, images) = container_cells(template_spec(o));
        let selector = selector_string(at(o, &["spec", "selector"])).unwrap_or_else(|()| "<invalid>".to_string());
        vec![
            name(o),
            json!(format!("{}/{}", int_at(o, &["status", "readyReplicas"]), int_at(o, &["spec", "replicas"]))),
            json!(int_at(o, &["status", "updatedReplicas"])),
            json!(int_at(o, &["status", "availableReplicas"])),
            json!(age(o, now)),
            containers,
            images,
            json!(selector),
        ]
    },
};

pub(crate) static STATEFUL_SET: Printer = Printer {
    columns: &[NAME, col("Ready", "string", "Ready pods out of the desired number."), AGE, CONTAINERS, IMAGES],
    cells: |o, now| {
        let (containers, images) = container_cells(template_spec(o));
        vec![
            name(o),
            json!(format!("{}/{}", int_at(o, &["status", "readyReplicas"]), int_at(o, &["spec", "replicas"]))),
            json!(age(o, now)),
            containers,
            images,
        ]
    },
};

pub(crate) static REPLICA_SET: Printer = Printer {
    columns: &[
        NAME,
        col("Desired", "integer", "The desired number of pods."),
        col("Current", "integer", "The number of pods that exist."),
        col("Ready", "integer", "The number of ready pods."),
        AGE,
        CONTAINERS,
        IMAGES,
        SELECTOR,
    ],
    cells: |o, now| {
        let (containers, images) = container_cells(template_spec(o));
        vec![
            name(o),
            json!(int_at(o, &["spec", "replicas"])),
            json!(int_at(o, &["status", "replicas"])),
            json!(int_at(o, &["status", "readyReplicas"])),
            json!(age(o, now)),
            containers,
            images,
            json!(format_label_selector(at(o, &["spec", "selector"]))),
        ]
    },
};

pub(crate) static DAEMON_SET: Printer = Printer {
    columns: &[
        NAME,
        col("Desired", "integer", "Nodes that should run the daemon pod."),
        col("Current", "integer", "Nodes that run the daemon pod."),
        col("Ready", "integer", "Nodes whose daemon pod is ready."),
        col("Up-to-date", "integer", "Nodes that run the latest pod template."),
        col("Available", "integer", "Nodes whose daemon pod is available."),
        col("Node Selector", "string", "The labels of the nodes the pods run on."),
        AGE,
        CONTAINERS,
        IMAGES,
        SELECTOR,
    ],
    cells: |o, now| {
        let (containers, images) = container_cells(template_spec(o));
        let status = |field: &str| json!(int_at(o, &["status", field]));
        vec![
            name(o),
            status("desiredNumberScheduled"),
            status("currentNumberScheduled"),
            status("numberReady"),
            status("updatedNumberScheduled"),
            status("numberAvailable"),
            json!(format_labels(at(o, &["spec", "template", "spec", "nodeSelector"]))),
            json!(age(o, now)),
            containers,
            images,
            json!(format_label_selector(at(o, &["spec", "selector"]))),
        ]
    },
};

pub(crate) static JOB: Printer = Printer {
    columns: &[
        NAME,
        col("Status", "string", "Running, Complete, Failed, Suspended or Terminating."),
        col("Completions", "string", "Successful pods out of the required completions."),
        col("Duration", "string", "How long the job ran or has been running."),
        AGE,
        CONTAINERS,
        IMAGES,
        SELECTOR,
    ],
    cells: job_cells,
};

fn job_cells(o: &Value, now: Timestamp) -> Vec<Value> {
    let is = |kind: &str| condition_status(o, &["status", "conditions"], kind) == "True";
    let status = if is("Complete") {
        "Complete"
    } else if is("Failed") {
        "Failed"
    } else if has(o, &["metadata", "deletionTimestamp"]) {
        "Terminating"
    } else if is("Suspended") {
        "Suspended"
    } else if is("FailureTarget") {
        "FailureTarget"
    } else if is("SuccessCriteriaMet") {
        "SuccessCriteriaMet"
    } else {
        "Running"
    };
    let succeeded = int_at(o, &["status", "succeeded"]);
    let completions = if has(o, &["spec", "completions"]) {
        format!("{succeeded}/{}", int_at(o, &["spec", "completions"]))
    } else if int_at(o, &["spec", "parallelism"]) > 1 {
        format!("{succeeded}/1 of {}", int_at(o, &["spec", "parallelism"]))
    } else {
        format!("{succeeded}/1")
    };
    let duration = match (time_at(o, &["status", "startTime"]), time_at(o, &["status", "completionTime"])) {
        (None, _) => String::new(),
        (Some(start), None) => since(Some(start), now),
        (Some(start), Some(end)) => super::object::human_duration(end.duration_since(start)),
    };
    let (containers, images) = container_cells(template_spec(o));
    vec![
        name(o),
        json!(status),
        json!(completions),
        json!(duration),
        json!(age(o, now)),
        containers,
        images,
        json!(format_label_selector(at(o, &["spec", "selector"]))),
    ]
}

pub(crate) static CRON_JOB: Printer = Printer {
    columns: &[
        NAME,
        col("Schedule", "string", "The cron schedule."),
        col("Timezone", "string", "The time zone of the schedule."),
        col("Suspend", "boolean", "Whether new runs are suspended."),
        col("Active", "integer", "The number of running jobs."),
        col("Last Schedule", "string", "How long ago a job was last scheduled."),
        AGE,
        CONTAINERS,
        IMAGES,
        SELECTOR,
    ],
    cells: |o, now| {
        let suspend = match at(o, &["spec", "suspend"]).and_then(Value::as_bool) {
            Some(true) => "True",
            Some(false) => "False",
            None => "<unset>",
        };
        let last = if has(o, &["status", "lastScheduleTime"]) {
            since(time_at(o, &["status", "lastScheduleTime"]), now)
        } else {
            "<none>".to_string()
        };
        let (containers, images) = container_cells(at(o, &["spec", "jobTemplate", "spec", "template", "spec"]));
        vec![
            name(o),
            json!(str_at(o, &["spec", "schedule"])),
            json!(or_none(str_at(o, &["spec", "timeZone"]))),
            json!(suspend),
            json!(list_at(o, &["status", "active"]).len()),
            json!(last),
            json!(age(o, now)),
            containers,
            images,
            json!(format_label_selector(at(o, &["spec", "jobTemplate", "spec", "selector"]))),
        ]
    },
};

pub(crate) static INGRESS: Printer = Printer {
    columns: &[
        NAME,
        col("Class", "string", "The ingress class that handles the ingress."),
        col("Hosts", "string", "The hosts the rules match."),
        col("Address", "string", "The load balancer's addresses."),
        col("Ports", "string", "The ports the load balancer listens on."),
        AGE,
    ],
    cells: |o, now| {
        let rules = list_at(o, &["spec", "rules"]);
        let mut hosts = Vec::new();
        let mut more = false;
        for rule in rules {
            if hosts.len() == 3 {
                more = true;
            }
            let host = str_at(rule, &["host"]);
            if !more && !host.is_empty() {
                hosts.push(host);
            }
        }
        let hosts = match (hosts.is_empty(), more) {
            (true, _) => "*".to_string(),
            (false, true) => format!("{} + {} more...", hosts.join(","), rules.len() - 3),
            (false, false) => hosts.join(","),
        };
        let ports = if list_at(o, &["spec", "tls"]).is_empty() { "80" } else { "80, 443" };
        vec![
            name(o),
            json!(or_none(str_at(o, &["spec", "ingressClassName"]))),
            json!(hosts),
            json!(load_balancer_addresses(list_at(o, &["status", "loadBalancer", "ingress"])).join(",")),
            json!(ports),
            json!(age(o, now)),
        ]
    },
};

/// `SubjectsStrings`: users, groups and service accounts of a binding, each joined with `", "`.
fn binding_cells(o: &Value, now: Timestamp) -> Vec<Value> {
    let (mut users, mut groups, mut accounts) = (Vec::new(), Vec::new(), Vec::new());
    for subject in list_at(o, &["subjects"]) {
        let subject_name = str_at(subject, &["name"]);
        match str_at(subject, &["kind"]) {
            "ServiceAccount" => accounts.push(format!("{}/{subject_name}", str_at(subject, &["namespace"]))),
            "User" => users.push(subject_name.to_string()),
            "Group" => groups.push(subject_name.to_string()),
            _ => {}
        }
    }
    vec![
        name(o),
        json!(format!("{}/{}", str_at(o, &["roleRef", "kind"]), str_at(o, &["roleRef", "name"]))),
        json!(age(o, now)),
        json!(users.join(", ")),
        json!(groups.join(", ")),
        json!(accounts.join(", ")),
    ]
}

const BINDING_COLUMNS: &[Column] = &[
    NAME,
    col("Role", "string", "The role the binding grants."),
    AGE,
    wide("Users", "string", "Users the binding applies to."),
    wide("Groups", "string", "Groups the binding applies to."),
    wide("ServiceAccounts", "string", "Service accounts the binding applies to."),
];

pub(crate) static ROLE_BINDING: Printer = Printer { columns: BINDING_COLUMNS, cells: binding_cells };

pub(crate) static LEASE: Printer = Printer {
    columns: &[NAME, col("Holder", "string", "The identity holding the lease."), AGE],
    cells: |o, now| vec![name(o), json!(str_at(o, &["spec", "holderIdentity"])), json!(age(o, now))],
};
