//! Defaults of a Work, as Karmada's Work webhook fills them in: its permanent id, and manifests cleaned of what
//! only the Karmada control plane's copy should carry.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::{WORK_PERMANENT_ID, ensure_permanent_id};

/// The manifest annotation listing the annotation keys Karmada manages on the member object.
const MANAGED_ANNOTATIONS: &str = "resourcetemplate.karmada.io/managed-annotations";
/// The manifest annotation listing the label keys Karmada manages on the member object.
const MANAGED_LABELS: &str = "resourcetemplate.karmada.io/managed-labels";

/// Metadata a member cluster fills in itself, dropped from every manifest.
const SERVER_METADATA: [&str; 10] = [
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
    "managedFields",
    "resourceVersion",
    "selfLink",
    "uid",
    "ownerReferences",
    "finalizers",
];

/// Work (create and update): a permanent id when it has none, and each manifest pruned and labelled.
pub(crate) fn work(object: &mut Value) {
    ensure_permanent_id(object, WORK_PERMANENT_ID);
    let id = object.pointer("/metadata/labels").and_then(|l| l.get(WORK_PERMANENT_ID)).cloned();
    let Some(manifests) = object.pointer_mut("/spec/workload/manifests").and_then(Value::as_array_mut) else {
        return;
    };
    for manifest in manifests.iter_mut().filter_map(Value::as_object_mut) {
        prune(manifest);
        record(manifest, id.as_ref());
    }
}

/// Drops what the member cluster generates (server metadata, status, and per-kind leftovers).
fn prune(manifest: &mut Map<String, Value>) {
    if let Some(metadata) = manifest.get_mut("metadata").and_then(Value::as_object_mut) {
        for key in SERVER_METADATA {
            metadata.remove(key);
        }
    }
    manifest.remove("status");
    let kind = manifest.get("kind").and_then(Value::as_str).unwrap_or_default().to_string();
    match kind.as_str() {
        "Deployment" => {
            remove_annotations(
                manifest,
                &["deployment.kubernetes.io/revision", "deployment.kubernetes.io/revision-history"],
            );
        }
        "Job" => job(manifest),
        "Secret" if manifest.get("type").and_then(Value::as_str) == Some("kubernetes.io/service-account-token") => {
            remove_annotations(manifest, &["kubernetes.io/service-account.uid"]);
            manifest.insert("data".into(), Value::Null);
        }
        "ServiceAccount" => service_account(manifest),
        "Service" => {
            if let Some(spec) = manifest.get_mut("spec").and_then(Value::as_object_mut)
                && spec.get("clusterIP").and_then(Value::as_str).is_some_and(|ip| ip != "None")
            {
                spec.remove("clusterIP");
                spec.remove("clusterIPs");
            }
        }
        "PersistentVolumeClaim" => {
            let selected = "volume.kubernetes.io/selected-node";
            let set = manifest
                .get("metadata")
                .and_then(|m| m.get("annotations"))
                .and_then(|a| a.get(selected))
                .and_then(Value::as_str);
            if set.is_some_and(|node| !node.is_empty()) {
                remove_annotations(manifest, &[selected]);
            }
        }
        _ => {}
    }
}

fn remove_annotations(manifest: &mut Map<String, Value>, keys: &[&str]) {
    if let Some(annotations) = manifest.pointer_mut_map("metadata", "annotations") {
        for key in keys {
            annotations.remove(*key);
        }
    }
}

/// A Job's generated selector labels go unless the selector is manual; `ttlSecondsAfterFinished` always goes.
fn job(manifest: &mut Map<String, Value>) {
    let Some(spec) = manifest.get_mut("spec").and_then(Value::as_object_mut) else { return };
    spec.remove("ttlSecondsAfterFinished");
    if spec.get("manualSelector").and_then(Value::as_bool) == Some(true) {
        return;
    }
    let controller = ["controller-uid", "batch.kubernetes.io/controller-uid"];
    if let Some(labels) = spec.pointer_mut_map("selector", "matchLabels") {
        for key in controller {
            labels.remove(key);
        }
    }
    if let Some(labels) =
        spec.get_mut("template").and_then(Value::as_object_mut).and_then(|t| t.pointer_mut_map("metadata", "labels"))
    {
        for key in controller.iter().chain(&["job-name", "batch.kubernetes.io/job-name"]) {
            labels.remove(*key);
        }
    }
}

/// A ServiceAccount loses the token secrets its member cluster generated (`<name>-token-*`).
fn service_account(manifest: &mut Map<String, Value>) {
    let name = manifest.get("metadata").and_then(|m| m.get("name")).and_then(Value::as_str).unwrap_or_default();
    let prefix = format!("{name}-token-");
    if let Some(secrets) = manifest.get_mut("secrets").and_then(Value::as_array_mut) {
        secrets.retain(|s| !s.get("name").and_then(Value::as_str).is_some_and(|n| n.starts_with(&prefix)));
    }
}

/// Stamps the Work's permanent id on the manifest and records the annotation and label keys it carries.
fn record(manifest: &mut Map<String, Value>, id: Option<&Value>) {
    let Some(metadata) = manifest.entry("metadata").or_insert_with(|| json!({})).as_object_mut() else { return };
    let annotations = metadata.entry("annotations").or_insert_with(|| json!({}));
    if annotations.is_null() {
        *annotations = json!({});
    }
    let mut keys: BTreeSet<String> = [MANAGED_ANNOTATIONS, MANAGED_LABELS].map(String::from).into();
    if let Some(annotations) = annotations.as_object() {
        keys.extend(annotations.keys().cloned());
    }
    set_annotation(metadata, MANAGED_ANNOTATIONS, &keys.into_iter().collect::<Vec<_>>().join(","));
    if let Some(id) = id {
        let labels = metadata.entry("labels").or_insert_with(|| json!({}));
        if labels.is_null() {
            *labels = json!({});
        }
        if let Some(labels) = labels.as_object_mut() {
            labels.insert(WORK_PERMANENT_ID.into(), id.clone());
        }
    }
    let labels: BTreeSet<String> =
        metadata.get("labels").and_then(Value::as_object).map(|l| l.keys().cloned().collect()).unwrap_or_default();
    set_annotation(metadata, MANAGED_LABELS, &labels.into_iter().collect::<Vec<_>>().join(","));
}

fn set_annotation(metadata: &mut Map<String, Value>, key: &str, value: &str) {
    if let Some(annotations) = metadata.get_mut("annotations").and_then(Value::as_object_mut) {
        annotations.insert(key.into(), json!(value));
    }
}

/// `map[a][b]` as an object, when it is one.
trait MapAt {
    fn pointer_mut_map(&mut self, a: &str, b: &str) -> Option<&mut Map<String, Value>>;
}

impl MapAt for Map<String, Value> {
    fn pointer_mut_map(&mut self, a: &str, b: &str) -> Option<&mut Map<String, Value>> {
        self.get_mut(a)?.as_object_mut()?.get_mut(b)?.as_object_mut()
    }
}
