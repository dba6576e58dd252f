//! Defaults of a Cluster, as Karmada's aggregated API server fills them in (its REST strategy and canonicalization).

use serde_json::{Map, Value, json};

use super::is_create;
use crate::machinery::meta;

/// The largest resource quantity, the open upper end of the last resource model grade.
const MAX_QUANTITY: &str = "9223372036854775807";

/// The resource models of a new cluster that names none (the CustomizedClusterResourceModeling gate, on by
/// default): nine grades of CPU cores and memory, each range `[min, max)`.
const DEFAULT_MODELS: [(&str, &str, &str, &str); 9] = [
    ("0", "1", "0", "4Gi"),
    ("1", "2", "4Gi", "16Gi"),
    ("2", "4", "16Gi", "32Gi"),
    ("4", "8", "32Gi", "64Gi"),
    ("8", "16", "64Gi", "128Gi"),
    ("16", "32", "128Gi", "256Gi"),
    ("32", "64", "256Gi", "512Gi"),
    ("64", "128", "512Gi", "1Ti"),
    ("128", MAX_QUANTITY, "1Ti", MAX_QUANTITY),
];

/// Cluster: default or standardized resource models, the deprecated `zone` moved into `zones`, and a `timeAdded`
/// on NoExecute taints.
pub(crate) fn cluster(object: &mut Value) {
    let create = is_create(object);
    let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut) else { return };
    let models = spec.get("resourceModels").and_then(Value::as_array).map_or(0, Vec::len);
    if models == 0 && create {
        spec.insert("resourceModels".into(), default_models());
    } else if models > 0 {
        standardize_models(spec);
    }
    let zone = spec.get("zone").and_then(Value::as_str).unwrap_or_default().to_string();
    let zones = spec.get("zones").and_then(Value::as_array).map_or(0, Vec::len);
    if !zone.is_empty() && zones == 0 {
        spec.insert("zones".into(), json!([zone]));
        spec.remove("zone");
    }
    if let Some(taints) = spec.get_mut("taints").and_then(Value::as_array_mut) {
        for taint in taints.iter_mut().filter_map(Value::as_object_mut) {
            let no_execute = taint.get("effect").and_then(Value::as_str) == Some("NoExecute");
            if no_execute && taint.get("timeAdded").is_none_or(Value::is_null) {
                taint.insert("timeAdded".into(), json!(meta::now()));
            }
        }
    }
}

fn default_models() -> Value {
    let grades = DEFAULT_MODELS.iter().enumerate().map(|(grade, (cpu_min, cpu_max, memory_min, memory_max))| {
        json!({"grade": grade, "ranges": [
            {"name": "cpu", "min": cpu_min, "max": cpu_max},
            {"name": "memory", "min": memory_min, "max": memory_max},
        ]})
    });
    Value::Array(grades.collect())
}

/// Sorts the models by grade; the first grade's ranges start at 0 and the last grade's are open-ended.
fn standardize_models(spec: &mut Map<String, Value>) {
    let Some(models) = spec.get_mut("resourceModels").and_then(Value::as_array_mut) else { return };
    models.sort_by_key(|m| m.get("grade").and_then(Value::as_u64).unwrap_or_default());
    let set_all = |model: Option<&mut Value>, key: &str, value: &str| {
        let Some(model) = model.and_then(Value::as_object_mut) else { return };
        let Some(ranges) = model.get_mut("ranges").and_then(Value::as_array_mut) else { return };
        for range in ranges.iter_mut().filter_map(Value::as_object_mut) {
            range.insert(key.into(), json!(value));
        }
    };
    set_all(models.first_mut(), "min", "0");
    set_all(models.last_mut(), "max", MAX_QUANTITY);
}
