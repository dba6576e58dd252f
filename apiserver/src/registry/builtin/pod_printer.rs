//! The Pod row: READY, STATUS and RESTARTS derived from container statuses the way kube-apiserver's printer does.

use jiff::Timestamp;
use serde_json::{Value, json};

use super::object::{age, at, bool_at, has, int_at, list_at, since, str_at, time_at};

/// Container-state bookkeeping while walking a pod's statuses.
#[derive(Default)]
struct Tally {
    ready: usize,
    restarts: i64,
    last_restart: Option<Timestamp>,
}

impl Tally {
    /// Counts a container's restarts and remembers when its last run ended.
    fn restarted(&mut self, status: &Value) {
        self.restarts += int_at(status, &["restartCount"]);
        if let Some(finished) = time_at(status, &["lastState", "terminated", "finishedAt"]) {
            self.last_restart = Some(self.last_restart.map_or(finished, |last| last.max(finished)));
        }
    }
}

fn terminated_reason(terminated: &Value, prefix: &str) -> String {
    match str_at(terminated, &["reason"]) {
        "" => match int_at(terminated, &["signal"]) {
            0 => format!("{prefix}ExitCode:{}", int_at(terminated, &["exitCode"])),
            signal => format!("{prefix}Signal:{signal}"),
        },
        reason => format!("{prefix}{reason}"),
    }
}

fn condition_true(pod: &Value, kind: &str) -> bool {
    list_at(pod, &["status", "conditions"])
        .iter()
        .any(|c| str_at(c, &["type"]) == kind && str_at(c, &["status"]) == "True")
}

/// The cells of one pod row (NAME READY STATUS RESTARTS AGE IP NODE NOMINATED-NODE READINESS-GATES).
pub(crate) fn pod_cells(pod: &Value, now: Timestamp) -> Vec<Value> {
    let init_specs = list_at(pod, &["spec", "initContainers"]);
    let is_sidecar = |name: &str| {
        init_specs.iter().any(|c| str_at(c, &["name"]) == name && str_at(c, &["restartPolicy"]) == "Always")
    };
    let sidecars = init_specs.iter().filter(|c| str_at(c, &["restartPolicy"]) == "Always").count();
    let total = list_at(pod, &["spec", "containers"]).len() + sidecars;

    let mut reason = match str_at(pod, &["status", "reason"]) {
        "" => str_at(pod, &["status", "phase"]).to_string(),
        reason => reason.to_string(),
    };
    if list_at(pod, &["status", "conditions"])
        .iter()
        .any(|c| str_at(c, &["type"]) == "PodScheduled" && str_at(c, &["reason"]) == "SchedulingGated")
    {
        reason = "SchedulingGated".to_string();
    }

    let mut tally = Tally::default();
    let mut sidecars_tally = Tally::default();
    let mut initializing = false;
    let init_statuses = list_at(pod, &["status", "initContainerStatuses"]);
    for (index, status) in init_statuses.iter().enumerate() {
        tally.restarted(status);
        let sidecar = is_sidecar(str_at(status, &["name"]));
        if sidecar {
            sidecars_tally.restarted(status);
        }
        let state = at(status, &["state"]).cloned().unwrap_or(Value::Null);
        let terminated = at(&state, &["terminated"]).filter(|t| !t.is_null());
        if terminated.is_some_and(|t| int_at(t, &["exitCode"]) == 0) {
            continue;
        }
        if sidecar && bool_at(status, &["started"]) {
            if bool_at(status, &["ready"]) {
                tally.ready += 1;
            }
            continue;
        }
        initializing = true;
        let waiting = str_at(&state, &["waiting", "reason"]);
        reason = if let Some(terminated) = terminated {
            terminated_reason(terminated, "Init:")
        } else if !waiting.is_empty() && waiting != "PodInitializing" {
            format!("Init:{waiting}")
        } else {
            format!("Init:{index}/{}", init_specs.len())
        };
        break;
    }

    if !initializing || condition_true(pod, "Initialized") {
        tally.restarts = sidecars_tally.restarts;
        tally.last_restart = sidecars_tally.last_restart;
        let mut running = false;
        for status in list_at(pod, &["status", "containerStatuses"]).iter().rev() {
            tally.restarted(status);
            let state = at(status, &["state"]).cloned().unwrap_or(Value::Null);
            let waiting = str_at(&state, &["waiting", "reason"]);
            let terminated = at(&state, &["terminated"]).filter(|t| !t.is_null());
            if !waiting.is_empty() {
                reason = waiting.to_string();
            } else if let Some(terminated) = terminated {
                reason = terminated_reason(terminated, "");
            } else if bool_at(status, &["ready"]) && has(&state, &["running"]) {
                running = true;
                tally.ready += 1;
            }
        }
        if reason == "Completed" && running {
            reason = if condition_true(pod, "Ready") { "Running" } else { "NotReady" }.to_string();
        }
    }

    if has(pod, &["metadata", "deletionTimestamp"]) {
        let phase = str_at(pod, &["status", "phase"]);
        if str_at(pod, &["status", "reason"]) == "NodeLost" {
            reason = "Unknown".to_string();
        } else if phase != "Failed" && phase != "Succeeded" {
            reason = "Terminating".to_string();
        }
    }

    let restarts = match tally.last_restart {
        Some(last) if tally.restarts != 0 => format!("{} ({} ago)", tally.restarts, since(Some(last), now)),
        _ => tally.restarts.to_string(),
    };
    let or_none = |text: &str| if text.is_empty() { "<none>".to_string() } else { text.to_string() };
    let pod_ip = match list_at(pod, &["status", "podIPs"]).first().map(|ip| str_at(ip, &["ip"])) {
        Some(ip) if !ip.is_empty() => ip,
        _ => str_at(pod, &["status", "podIP"]),
    };
    let gates = list_at(pod, &["spec", "readinessGates"]);
    let readiness_gates = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let met = gates.iter().filter(|gate| condition_true(pod, str_at(gate, &["conditionType"]))).count();
        format!("{met}/{}", gates.len())
    };
    vec![
        json!(str_at(pod, &["metadata", "name"])),
        json!(format!("{}/{total}", tally.ready)),
        json!(reason),
        json!(restarts),
        json!(age(pod, now)),
        json!(or_none(pod_ip)),
        json!(or_none(str_at(pod, &["spec", "nodeName"]))),
        json!(or_none(str_at(pod, &["status", "nominatedNodeName"]))),
        json!(readiness_gates),
    ]
}
