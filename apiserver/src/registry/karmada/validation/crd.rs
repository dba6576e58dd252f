//! The constraints Karmada's CRDs carry beyond what the Rust types' schemas say (kubebuilder markers: required,
//! minimum, lengths, item counts, patterns), added to the served schema for value validation.

use serde_json::{Map, Value, json};

use crate::schema::KindSchema;

/// `metav1.Condition`'s `reason` pattern.
const REASON_PATTERN: &str = "^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$";
/// `metav1.Condition`'s `type` pattern (a qualified name).
const CONDITION_TYPE_PATTERN: &str =
    "^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$";

/// One marker: where (property names, `[]` for array items) and what (keyword and value).
type Marker = (&'static [&'static str], &'static str, fn() -> Value);

const PLACEMENT_MARKERS: &[Marker] = &[
    (&["placement", "clusterAffinities", "[]"], "required", || json!(["affinityName"])),
    (&["placement", "clusterAffinities", "[]", "affinityName"], "minLength", || json!(1)),
    (&["placement", "clusterAffinities", "[]", "affinityName"], "maxLength", || json!(32)),
    (&["placement", "clusterAffinities", "[]", "overflowAffinities", "[]", "affinityName"], "minLength", || json!(1)),
    (&["placement", "clusterAffinities", "[]", "overflowAffinities", "[]", "affinityName"], "maxLength", || json!(32)),
    (&["placement", "replicaScheduling", "weightPreference", "staticWeightList", "[]", "weight"], "minimum", || {
        json!(1)
    }),
];

const CONDITION_MARKERS: &[Marker] = &[
    (&["conditions", "[]", "message"], "maxLength", || json!(32768)),
    (&["conditions", "[]", "observedGeneration"], "minimum", || json!(0)),
    (&["conditions", "[]", "reason"], "minLength", || json!(1)),
    (&["conditions", "[]", "reason"], "maxLength", || json!(1024)),
    (&["conditions", "[]", "reason"], "pattern", || json!(REASON_PATTERN)),
    (&["conditions", "[]", "type"], "maxLength", || json!(316)),
    (&["conditions", "[]", "type"], "pattern", || json!(CONDITION_TYPE_PATTERN)),
];

const BINDING_MARKERS: &[Marker] = &[
    (&["components", "[]", "name"], "maxLength", || json!(32)),
    (&["gracefulEvictionTasks", "[]", "message"], "maxLength", || json!(1024)),
    (&["gracefulEvictionTasks", "[]", "reason"], "minLength", || json!(1)),
    (&["gracefulEvictionTasks", "[]", "reason"], "maxLength", || json!(32)),
    (&["gracefulEvictionTasks", "[]", "reason"], "pattern", || json!(REASON_PATTERN)),
];

const PROPAGATION_MARKERS: &[Marker] =
    &[(&[], "required", || json!(["resourceSelectors"])), (&["resourceSelectors"], "minItems", || json!(1))];

/// `served` with Karmada's CRD markers for `kind` added; `None` when the schema cannot be rebuilt.
pub(super) fn with_markers(served: &KindSchema, group: &str, kind: &str) -> Option<KindSchema> {
    let mut root = served.schema().clone();
    let map = root.as_object_mut()?;
    if let Some(Value::Object(properties)) = map.get_mut("properties") {
        for key in ["apiVersion", "kind", "metadata"] {
            properties.remove(key);
        }
    }
    let mut spec: Vec<&[Marker]> = Vec::new();
    let mut status: Vec<&[Marker]> = Vec::new();
    match kind {
        "PropagationPolicy" | "ClusterPropagationPolicy" => spec.extend([PROPAGATION_MARKERS, PLACEMENT_MARKERS]),
        "ResourceBinding" | "ClusterResourceBinding" => {
            spec.extend([BINDING_MARKERS, PLACEMENT_MARKERS]);
            status.push(CONDITION_MARKERS);
        }
        "Work" => status.push(CONDITION_MARKERS),
        _ => {}
    }
    if matches!(kind, "PropagationPolicy" | "ClusterPropagationPolicy" | "OverridePolicy" | "ClusterOverridePolicy") {
        add_required(map, "spec");
    }
    for (section, markers) in [("spec", spec), ("status", status)] {
        let Some(node) = map.get_mut("properties").and_then(|p| p.get_mut(section)).and_then(Value::as_object_mut)
        else {
            continue;
        };
        for (path, keyword, value) in markers.into_iter().flatten() {
            if let Some(target) = descend(node, path) {
                if *keyword == "required" {
                    for field in value().as_array().into_iter().flatten().filter_map(Value::as_str) {
                        add_required(target, field);
                    }
                } else {
                    target.insert((*keyword).to_string(), value());
                }
            }
        }
    }
    KindSchema::from_crd(group, served.version(), served.kind(), &root).ok()
}

fn add_required(node: &mut Map<String, Value>, field: &str) {
    let required = node.entry("required").or_insert_with(|| json!([]));
    if let Some(list) = required.as_array_mut()
        && !list.iter().any(|r| r == field)
    {
        list.push(json!(field));
    }
}

/// The schema node at `path` below `node`, when the schema has it.
fn descend<'a>(node: &'a mut Map<String, Value>, path: &[&str]) -> Option<&'a mut Map<String, Value>> {
    let mut current = node;
    for step in path {
        let next = if *step == "[]" {
            current.get_mut("items")
        } else {
            current.get_mut("properties").and_then(|p| p.get_mut(*step))
        };
        current = next?.as_object_mut()?;
    }
    Some(current)
}
