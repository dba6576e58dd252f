//! Pods and the workloads that template them: creation-time adjustments and validation with kube's messages.

use serde_json::{Value, json};

use super::{
    object::{at, existing_mut, has, int_at, list_at, map_at, object_mut, selector_string, str_at},
    validation::{
        IMMUTABLE, NEGATIVE, label_selector, non_negative, pod_spec, pod_template, regex_error, selector_is_empty,
        selector_selects_template,
    },
};
use crate::machinery::FieldError;

const TEMPLATE: &[&str] = &["spec", "template"];

/// `qos.GetPodQOS`: BestEffort without requests or limits, Guaranteed when every container's CPU and memory
/// requests equal its limits, Burstable otherwise.
fn qos_class(pod: &Value) -> &'static str {
    let containers: Vec<&Value> =
        ["containers", "initContainers"].iter().flat_map(|key| list_at(pod, &["spec", key])).collect();
    let quantity = |c: &Value, kind: &str, resource: &str| at(c, &["resources", kind, resource]).cloned();
    let tracked = ["cpu", "memory"];
    let any = containers
        .iter()
        .any(|c| tracked.iter().any(|r| quantity(c, "requests", r).is_some() || quantity(c, "limits", r).is_some()));
    if !any {
        return "BestEffort";
    }
    let guaranteed = containers.iter().all(|c| {
        tracked.iter().all(|r| {
            let limit = quantity(c, "limits", r);
            limit.is_some() && quantity(c, "requests", r).is_none_or(|request| Some(request) == limit)
        })
    });
    if guaranteed { "Guaranteed" } else { "Burstable" }
}

/// Pods start Pending with their QoS class; whatever status was sent is dropped.
pub(crate) fn pod_prepare_create(pod: &mut Value) {
    let qos = qos_class(pod);
    if let Some(map) = pod.as_object_mut() {
        map.insert("status".into(), json!({"phase": "Pending", "qosClass": qos}));
    }
}

/// `ValidatePod`.
pub(crate) fn validate_pod(pod: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    errors.extend(pod_spec(at(pod, &["spec"]).unwrap_or(&json!({})), "spec"));
    errors
}

/// `ValidatePodUpdate`: only images, the active deadline, added tolerations and scheduling gates may change.
pub(crate) fn validate_pod_update(pod: &Value, old: &Value) -> Vec<FieldError> {
    let mut errors = validate_pod(pod);
    let (Some(new_spec), Some(old_spec)) = (at(pod, &["spec"]), at(old, &["spec"])) else { return errors };
    let mut comparable = new_spec.clone();
    for key in ["containers", "initContainers"] {
        let old_images: Vec<Value> = list_at(old_spec, &[key]).iter().map(|c| c["image"].clone()).collect();
        if let Some(containers) = comparable.get_mut(key).and_then(Value::as_array_mut)
            && containers.len() == old_images.len()
        {
            for (container, image) in containers.iter_mut().zip(old_images) {
                if let Some(container) = container.as_object_mut() {
                    container.insert("image".into(), image);
                }
            }
        }
    }
    for key in ["activeDeadlineSeconds", "tolerations", "schedulingGates", "terminationGracePeriodSeconds"] {
        if let Some(map) = comparable.as_object_mut() {
            match old_spec.get(key) {
                Some(value) => map.insert(key.to_string(), value.clone()),
                None => map.remove(key),
            };
        }
    }
    if &comparable != old_spec {
        errors.push(FieldError::forbidden(
            "spec",
            "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,\
             `spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),\
             `spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
        ));
    }
    errors
}

/// Replicated pod templates must restart always and have no active deadline.
fn replicated_template(object: &Value, errors: &mut Vec<FieldError>, what: &str) {
    let restart = str_at(object, &["spec", "template", "spec", "restartPolicy"]);
    if restart != "Always" {
        errors.push(FieldError::not_supported("spec.template.spec.restartPolicy", restart, &["Always"]));
    }
    if let Some(deadline) = at(object, &["spec", "template", "spec", "activeDeadlineSeconds"]).filter(|d| !d.is_null())
    {
        if what == "daemonset" {
            let detail = "activeDeadlineSeconds must be nil for daemons";
            errors.push(FieldError::invalid("spec.template.spec.activeDeadlineSeconds", deadline.clone(), detail));
        } else {
            let detail = "activeDeadlineSeconds in ReplicaSet is not Supported";
            errors.push(FieldError::forbidden("spec.template.spec.activeDeadlineSeconds", detail));
        }
    }
}

/// Selector required, valid and non-empty, and matching the template; then the template itself.
fn selected_template(object: &Value, what: &str, errors: &mut Vec<FieldError>) {
    let selector = at(object, &["spec", "selector"]).filter(|s| !s.is_null());
    match selector {
        None => {
            errors.push(FieldError::required("spec.selector", ""));
            selector_selects_template(object, TEMPLATE, errors);
        }
        Some(selector) => {
            errors.extend(label_selector(Some(selector), "spec.selector"));
            if selector_is_empty(selector) {
                let detail = format!("empty selector is invalid for {what}");
                errors.push(FieldError::invalid("spec.selector", selector.clone(), detail));
            }
            if selector_string(Some(selector)).is_err() {
                errors.push(FieldError::invalid("spec.selector", selector.clone(), "invalid label selector"));
            } else {
                selector_selects_template(object, TEMPLATE, errors);
            }
        }
    }
    errors.extend(pod_template(object, TEMPLATE));
}

/// An `intOrString` that must be a non-negative integer or a percentage; its value (percent or count).
fn int_or_percent(object: &Value, path: &[&str], errors: &mut Vec<FieldError>) -> Option<i64> {
    match at(object, path)? {
        Value::String(text) => {
            let number = text.strip_suffix('%').filter(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
            match number.and_then(|n| n.parse::<i64>().ok()) {
                Some(percent) => {
                    if percent > 100 && path.last() == Some(&"maxUnavailable") {
                        errors.push(FieldError::invalid(
                            path.join("."),
                            text.as_str(),
                            "must not be greater than 100%",
                        ));
                    }
                    Some(percent)
                }
                None => {
                    let message = "a valid percent string must be a numeric string followed by an ending '%'";
                    let detail = regex_error(message, "[0-9]+%", &["1%", "93%"]);
                    errors.push(FieldError::invalid(path.join("."), text.as_str(), detail));
                    None
                }
            }
        }
        Value::Number(n) => {
            let value = n.as_i64().unwrap_or(-1);
            if value < 0 {
                errors.push(FieldError::invalid(path.join("."), value, NEGATIVE));
            }
            Some(value)
        }
        _ => None,
    }
}

fn rolling_update(object: &Value, strategy: &str, types: &[&str], errors: &mut Vec<FieldError>) {
    let kind = str_at(object, &["spec", strategy, "type"]);
    if !types.contains(&kind) {
        errors.push(FieldError::not_supported(format!("spec.{strategy}.type"), kind, types));
    }
    if kind != "RollingUpdate" && has(object, &["spec", strategy, "rollingUpdate"]) {
        let detail = format!("may not be specified when strategy `type` is '{kind}'");
        errors.push(FieldError::forbidden(format!("spec.{strategy}.rollingUpdate"), detail));
        return;
    }
    let unavailable = int_or_percent(object, &["spec", strategy, "rollingUpdate", "maxUnavailable"], errors);
    let surge = int_or_percent(object, &["spec", strategy, "rollingUpdate", "maxSurge"], errors);
    if kind == "RollingUpdate" && unavailable == Some(0) && surge.unwrap_or(0) == 0 {
        let value = at(object, &["spec", strategy, "rollingUpdate", "maxUnavailable"]).cloned().unwrap_or(json!(0));
        let detail = "may not be 0 when `maxSurge` is 0";
        errors.push(FieldError::invalid(format!("spec.{strategy}.rollingUpdate.maxUnavailable"), value, detail));
    }
}

/// `ValidateDeployment`.
pub(crate) fn validate_deployment(object: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    non_negative(object, &["spec", "replicas"], &mut errors);
    if at(object, &["spec", "selector"]).is_none_or(Value::is_null) {
        errors.push(FieldError::required("spec.selector", ""));
        return errors;
    }
    selected_template(object, "deployment", &mut errors);
    replicated_template(object, &mut errors, "deployment");
    rolling_update(object, "strategy", &["Recreate", "RollingUpdate"], &mut errors);
    non_negative(object, &["spec", "minReadySeconds"], &mut errors);
    non_negative(object, &["spec", "revisionHistoryLimit"], &mut errors);
    if let Some(deadline) = at(object, &["spec", "progressDeadlineSeconds"]).and_then(Value::as_i64) {
        if deadline < 0 {
            errors.push(FieldError::invalid("spec.progressDeadlineSeconds", deadline, NEGATIVE));
        }
        if deadline <= int_at(object, &["spec", "minReadySeconds"]) {
            let detail = "must be greater than minReadySeconds";
            errors.push(FieldError::invalid("spec.progressDeadlineSeconds", deadline, detail));
        }
    }
    errors
}

fn immutable(object: &Value, old: &Value, path: &[&str], errors: &mut Vec<FieldError>) {
    let new_value = at(object, path).filter(|v| !v.is_null());
    if new_value != at(old, path).filter(|v| !v.is_null()) {
        errors.push(FieldError::invalid(path.join("."), new_value.cloned().unwrap_or(Value::Null), IMMUTABLE));
    }
}

/// Updates of apps/v1 workloads may not change the selector.
pub(crate) fn validate_deployment_update(object: &Value, old: &Value) -> Vec<FieldError> {
    let mut errors = validate_deployment(object);
    immutable(object, old, &["spec", "selector"], &mut errors);
    errors
}

/// `ValidateReplicaSet`.
pub(crate) fn validate_replica_set(object: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    non_negative(object, &["spec", "replicas"], &mut errors);
    non_negative(object, &["spec", "minReadySeconds"], &mut errors);
    selected_template(object, "deployment", &mut errors);
    replicated_template(object, &mut errors, "replicaset");
    errors
}

/// ReplicaSet updates keep their selector.
pub(crate) fn validate_replica_set_update(object: &Value, old: &Value) -> Vec<FieldError> {
    let mut errors = validate_replica_set(object);
    immutable(object, old, &["spec", "selector"], &mut errors);
    errors
}

/// `ValidateStatefulSet`.
pub(crate) fn validate_stateful_set(object: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let policy = str_at(object, &["spec", "podManagementPolicy"]);
    if !matches!(policy, "OrderedReady" | "Parallel") {
        let detail = "must be 'OrderedReady' or 'Parallel'";
        errors.push(FieldError::invalid("spec.podManagementPolicy", policy, detail));
    }
    let update = str_at(object, &["spec", "updateStrategy", "type"]);
    if !matches!(update, "RollingUpdate" | "OnDelete") {
        let allowed = &["OnDelete", "RollingUpdate"];
        errors.push(FieldError::not_supported("spec.updateStrategy.type", update, allowed));
    }
    non_negative(object, &["spec", "updateStrategy", "rollingUpdate", "partition"], &mut errors);
    non_negative(object, &["spec", "replicas"], &mut errors);
    non_negative(object, &["spec", "minReadySeconds"], &mut errors);
    selected_template(object, "statefulset", &mut errors);
    let restart = str_at(object, &["spec", "template", "spec", "restartPolicy"]);
    if restart != "Always" {
        errors.push(FieldError::not_supported("spec.template.spec.restartPolicy", restart, &["Always"]));
    }
    errors
}

/// StatefulSet updates may change only replicas, ordinals, template, update strategy and a few more fields.
pub(crate) fn validate_stateful_set_update(object: &Value, old: &Value) -> Vec<FieldError> {
    let mut errors = validate_stateful_set(object);
    let mutable = [
        "replicas",
        "ordinals",
        "template",
        "updateStrategy",
        "persistentVolumeClaimRetentionPolicy",
        "minReadySeconds",
        "revisionHistoryLimit",
    ];
    let strip = |object: &Value| {
        let mut spec = at(object, &["spec"]).cloned().unwrap_or(json!({}));
        if let Some(map) = spec.as_object_mut() {
            mutable.iter().for_each(|key| {
                map.remove(*key);
            });
        }
        spec
    };
    if strip(object) != strip(old) {
        errors.push(FieldError::forbidden(
            "spec",
            "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', \
             'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
        ));
    }
    errors
}

/// `ValidateDaemonSet`.
pub(crate) fn validate_daemon_set(object: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let selector = at(object, &["spec", "selector"]).filter(|s| !s.is_null());
    errors.extend(label_selector(selector, "spec.selector"));
    selector_selects_template(object, TEMPLATE, &mut errors);
    if let Some(selector) = selector.filter(|s| selector_is_empty(s)) {
        errors.push(FieldError::invalid("spec.selector", selector.clone(), "empty selector is invalid for daemonset"));
    }
    errors.extend(pod_template(object, TEMPLATE));
    replicated_template(object, &mut errors, "daemonset");
    rolling_update(object, "updateStrategy", &["OnDelete", "RollingUpdate"], &mut errors);
    non_negative(object, &["spec", "minReadySeconds"], &mut errors);
    non_negative(object, &["spec", "revisionHistoryLimit"], &mut errors);
    errors
}

/// DaemonSet updates keep their selector.
pub(crate) fn validate_daemon_set_update(object: &Value, old: &Value) -> Vec<FieldError> {
    let mut errors = validate_daemon_set(object);
    immutable(object, old, &["spec", "selector"], &mut errors);
    errors
}

const JOB_NAME_LABELS: [&str; 2] = ["job-name", "batch.kubernetes.io/job-name"];
const CONTROLLER_UID_LABELS: [&str; 2] = ["controller-uid", "batch.kubernetes.io/controller-uid"];

fn manual_selector(object: &Value) -> bool {
    at(object, &["spec", "manualSelector"]).and_then(Value::as_bool).unwrap_or(false)
}

/// Jobs start with an empty status and, unless `manualSelector` is set, a selector generated from their uid with
/// the matching `job-name` and `controller-uid` template labels.
pub(crate) fn job_prepare_create(job: &mut Value) {
    if let Some(map) = job.as_object_mut() {
        map.insert("status".into(), json!({}));
    }
    let (name, uid) = (str_at(job, &["metadata", "name"]).to_string(), str_at(job, &["metadata", "uid"]).to_string());
    if manual_selector(job) || uid.is_empty() || existing_mut(job, &["spec"]).is_none() {
        return;
    }
    if let Some(labels) = object_mut(job, &["spec", "template", "metadata", "labels"]) {
        for key in JOB_NAME_LABELS {
            labels.entry(key).or_insert_with(|| json!(name));
        }
        for key in CONTROLLER_UID_LABELS {
            labels.entry(key).or_insert_with(|| json!(uid));
        }
    }
    if let Some(match_labels) = object_mut(job, &["spec", "selector", "matchLabels"]) {
        match_labels.entry(CONTROLLER_UID_LABELS[1]).or_insert_with(|| json!(uid));
    }
}

fn job_spec(object: &Value, base: &[&str], errors: &mut Vec<FieldError>) {
    for field in ["parallelism", "completions", "activeDeadlineSeconds", "backoffLimit", "ttlSecondsAfterFinished"] {
        let mut path = base.to_vec();
        path.push(field);
        non_negative(object, &path, errors);
    }
    let mut template = base.to_vec();
    template.push("template");
    errors.extend(pod_template(object, &template));
    let mut restart_path = template.clone();
    restart_path.extend(["spec", "restartPolicy"]);
    let restart = str_at(object, &restart_path);
    if restart != "OnFailure" && restart != "Never" {
        errors.push(FieldError::not_supported(restart_path.join("."), restart, &["OnFailure", "Never"]));
    }
    let mut mode_path = base.to_vec();
    mode_path.push("completionMode");
    let mode = str_at(object, &mode_path);
    if !mode.is_empty() && mode != "NonIndexed" && mode != "Indexed" {
        errors.push(FieldError::not_supported(mode_path.join("."), mode, &["NonIndexed", "Indexed"]));
    }
}

/// `ValidateJob`.
pub(crate) fn validate_job(object: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    job_spec(object, &["spec"], &mut errors);
    let selector = at(object, &["spec", "selector"]).filter(|s| !s.is_null());
    match selector {
        None => {
            errors.push(FieldError::required("spec.selector", ""));
            selector_selects_template(object, TEMPLATE, &mut errors);
        }
        Some(selector) => {
            errors.extend(label_selector(Some(selector), "spec.selector"));
            selector_selects_template(object, TEMPLATE, &mut errors);
            let uid = str_at(object, &["metadata", "uid"]);
            let generated = map_at(selector, &["matchLabels"])
                .and_then(|m| m.get(CONTROLLER_UID_LABELS[1]))
                .and_then(Value::as_str);
            if !manual_selector(object) && !uid.is_empty() && generated != Some(uid) {
                errors.push(FieldError::invalid("spec.selector", selector.clone(), "`selector` not auto-generated"));
            }
        }
    }
    errors
}

/// Job updates keep their selector and pod template.
pub(crate) fn validate_job_update(object: &Value, old: &Value) -> Vec<FieldError> {
    let mut errors = validate_job(object);
    immutable(object, old, &["spec", "selector"], &mut errors);
    immutable(object, old, &["spec", "template"], &mut errors);
    errors
}

/// Workloads whose status has non-optional counters start with those at 0.
pub(crate) fn initial_status(object: &mut Value, counters: &[&str]) {
    if let Some(map) = object.as_object_mut() {
        let status: serde_json::Map<String, Value> = counters.iter().map(|c| (c.to_string(), json!(0))).collect();
        map.insert("status".into(), Value::Object(status));
    }
}

/// Deployments and CronJobs start with an empty status.
pub(crate) fn empty_status(object: &mut Value) {
    if let Some(map) = object.as_object_mut() {
        map.insert("status".into(), json!({}));
    }
}

/// `ValidateCronJob`.
pub(crate) fn validate_cron_job(object: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let name = str_at(object, &["metadata", "name"]);
    if name.len() > 52 {
        errors.push(FieldError::invalid("metadata.name", name, "must be no more than 52 characters"));
    }
    let schedule = str_at(object, &["spec", "schedule"]);
    if schedule.is_empty() {
        errors.push(FieldError::required("spec.schedule", ""));
    } else if schedule.contains("TZ") {
        let detail = "cannot use TZ or CRON_TZ in schedule, use timeZone field instead";
        errors.push(FieldError::invalid("spec.schedule", schedule, detail));
    } else if let Err(detail) = super::cron::parse(schedule) {
        errors.push(FieldError::invalid("spec.schedule", schedule, detail));
    }
    let policy = str_at(object, &["spec", "concurrencyPolicy"]);
    if !["Allow", "Forbid", "Replace"].contains(&policy) {
        errors.push(FieldError::not_supported("spec.concurrencyPolicy", policy, &["Allow", "Forbid", "Replace"]));
    }
    for field in ["startingDeadlineSeconds", "successfulJobsHistoryLimit", "failedJobsHistoryLimit"] {
        non_negative(object, &["spec", field], &mut errors);
    }
    job_spec(object, &["spec", "jobTemplate", "spec"], &mut errors);
    if let Some(selector) = at(object, &["spec", "jobTemplate", "spec", "selector"]).filter(|s| !s.is_null()) {
        let detail = "`selector` will be auto-generated";
        errors.push(FieldError::invalid("spec.jobTemplate.spec.selector", selector.clone(), detail));
    }
    if at(object, &["spec", "jobTemplate", "spec", "manualSelector"]).and_then(Value::as_bool) == Some(true) {
        errors.push(FieldError::not_supported("spec.jobTemplate.spec.manualSelector", true, &["nil", "false"]));
    }
    errors
}
