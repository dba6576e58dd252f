//! The webhook's rules for a placement: affinities, spread constraints, workload affinity and tolerations.

use std::collections::HashSet;

use serde_json::{Map, Value};

use crate::machinery::{FieldError, names::is_label_key};

fn text<'a>(map: &'a Map<String, Value>, key: &str) -> &'a str {
    map.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn present(map: &Map<String, Value>, key: &str) -> bool {
    map.get(key).is_some_and(|v| !v.is_null())
}

fn items<'a>(map: &'a Map<String, Value>, key: &str) -> impl Iterator<Item = (usize, &'a Map<String, Value>)> {
    let list = map.get(key).and_then(Value::as_array);
    list.into_iter().flatten().enumerate().filter_map(|(i, v)| Some((i, v.as_object()?)))
}

/// Validates `placement` found at `path` (e.g. `spec.placement`).
pub(super) fn placement(placement: &Map<String, Value>, path: &str, errors: &mut Vec<FieldError>) {
    if present(placement, "clusterAffinity") && present(placement, "clusterAffinities") {
        errors.push(FieldError::invalid(
            path,
            Value::Object(placement.clone()),
            "clusterAffinities cannot co-exist with clusterAffinity",
        ));
    }
    let overflow_allowed = overflow_allowed(placement.get("replicaScheduling"));
    for (index, term) in items(placement, "clusterAffinities") {
        if present(term, "overflowAffinities") && !overflow_allowed {
            errors.push(FieldError::invalid(
                format!("{path}.clusterAffinities[{index}].overflowAffinities"),
                term.get("overflowAffinities").cloned().unwrap_or_default(),
                "overflowAffinities can only be used together with dynamic weight or aggregated scheduling",
            ));
        }
    }
    if let Some(affinity) = placement.get("clusterAffinity").and_then(Value::as_object) {
        cluster_affinity(affinity, &format!("{path}.clusterAffinity"), errors);
    }
    cluster_affinities(placement, &format!("{path}.clusterAffinities"), errors);
    spread_constraints(placement, &format!("{path}.spreadConstraints"), errors);
    if let Some(workload) = placement.get("workloadAffinity").and_then(Value::as_object) {
        workload_affinity(workload, &format!("{path}.workloadAffinity"), errors);
    }
    for (index, toleration) in items(placement, "clusterTolerations") {
        let operator = text(toleration, "operator");
        if operator == "Lt" || operator == "Gt" {
            errors.push(FieldError::not_supported(
                format!("{path}.clusterTolerations[{index}].operator"),
                operator,
                &["", "Exists", "Equal"],
            ));
        }
    }
}

/// Overflow affinities need dynamic weights or aggregated division of `Divided` replicas.
fn overflow_allowed(scheduling: Option<&Value>) -> bool {
    let Some(scheduling) = scheduling.and_then(Value::as_object) else { return false };
    if text(scheduling, "replicaSchedulingType") != "Divided" {
        return false;
    }
    match text(scheduling, "replicaDivisionPreference") {
        "Aggregated" => true,
        "Weighted" => scheduling
            .get("weightPreference")
            .and_then(|w| w.get("dynamicWeight"))
            .and_then(Value::as_str)
            .is_some_and(|d| !d.is_empty()),
        _ => false,
    }
}

/// A cluster affinity's field selector may only use `provider`, `region` and `zone` with `In` or `NotIn`; the
/// first offending expression is reported at `<path>.fieldSelector`.
pub(super) fn cluster_affinity(affinity: &Map<String, Value>, path: &str, errors: &mut Vec<FieldError>) {
    let Some(selector) = affinity.get("fieldSelector").filter(|v| !v.is_null()) else { return };
    let expressions = selector.get("matchExpressions").and_then(Value::as_array);
    for expression in expressions.into_iter().flatten() {
        let key = expression.get("key").and_then(Value::as_str).unwrap_or_default();
        let operator = expression.get("operator").and_then(Value::as_str).unwrap_or_default();
        let problem = if !matches!(key, "provider" | "region" | "zone") {
            format!("unsupported key {key:?}, must be provider, region, or zone")
        } else if !matches!(operator, "In" | "NotIn") {
            format!("unsupported operator {operator:?}, must be In or NotIn")
        } else {
            continue;
        };
        errors.push(FieldError::invalid(format!("{path}.fieldSelector"), selector.clone(), problem));
        return;
    }
}

fn cluster_affinities(placement: &Map<String, Value>, path: &str, errors: &mut Vec<FieldError>) {
    let mut names = HashSet::new();
    for (index, term) in items(placement, "clusterAffinities") {
        let name = text(term, "affinityName");
        for message in is_label_key(name) {
            errors.push(FieldError::invalid(format!("{path}[{index}]"), name, message));
        }
        if !names.insert(name.to_string()) {
            errors.push(FieldError::invalid(
                path,
                placement.get("clusterAffinities").cloned().unwrap_or_default(),
                "each affinity term in a policy must have a unique name",
            ));
        }
        let term_path = format!("{path}[{index}]");
        cluster_affinity(term, &term_path, errors);
        overflow_affinities(term, &term_path, errors);
    }
}

fn overflow_affinities(term: &Map<String, Value>, path: &str, errors: &mut Vec<FieldError>) {
    let Some(overflow) = term.get("overflowAffinities").filter(|v| !v.is_null()) else { return };
    let list_empty = |key: &str| term.get(key).and_then(Value::as_array).is_none_or(Vec::is_empty);
    let empty = !present(term, "labelSelector")
        && !present(term, "fieldSelector")
        && list_empty("clusterNames")
        && list_empty("exclude");
    if empty {
        errors.push(FieldError::invalid(
            format!("{path}.overflowAffinities"),
            overflow.clone(),
            "overflowAffinities can only be used together with the inline ClusterAffinity",
        ));
    }
    let mut names: HashSet<String> = HashSet::from([text(term, "affinityName").to_string()]);
    for (index, affinity) in items(term, "overflowAffinities") {
        let item_path = format!("{path}.overflowAffinities[{index}]");
        let name = text(affinity, "affinityName");
        for message in is_label_key(name) {
            errors.push(FieldError::invalid(format!("{item_path}.affinityName"), name, message));
        }
        if !names.insert(name.to_string()) {
            errors.push(FieldError::invalid(
                format!("{item_path}.affinityName"),
                name,
                "overflow affinity name must be unique and must not duplicate the primary group's affinityName",
            ));
        }
        cluster_affinity(affinity, &item_path, errors);
    }
}

fn spread_constraints(placement: &Map<String, Value>, path: &str, errors: &mut Vec<FieldError>) {
    let all = placement.get("spreadConstraints").cloned().unwrap_or_default();
    let mut fields: Vec<(String, bool)> = Vec::new();
    for (index, constraint) in items(placement, "spreadConstraints") {
        let whole = || Value::Object(constraint.clone());
        let item = format!("{path}[{index}]");
        let by_field = text(constraint, "spreadByField");
        if !by_field.is_empty() && !text(constraint, "spreadByLabel").is_empty() {
            errors.push(FieldError::invalid(&item, whole(), "spreadByLabel should not co-exist with spreadByField"));
        }
        let min = constraint.get("minGroups").and_then(Value::as_i64).unwrap_or_default();
        let max = constraint.get("maxGroups").and_then(Value::as_i64).unwrap_or_default();
        if min < 0 {
            errors.push(FieldError::invalid(&item, whole(), "minGroups lower than 0 is not allowed"));
        }
        if max < 0 {
            errors.push(FieldError::invalid(&item, whole(), "maxGroups lower than 0 is not allowed"));
        }
        if max > 0 && max < min {
            errors.push(FieldError::invalid(&item, whole(), "maxGroups lower than minGroups is not allowed"));
        }
        if !by_field.is_empty() {
            match fields.iter_mut().find(|(field, _)| field == by_field) {
                Some((_, reported)) if !*reported => {
                    let message = format!("multiple {by_field} spread constraints are not allowed");
                    errors.push(FieldError::invalid(path, all.clone(), message));
                    *reported = true;
                }
                Some(_) => {}
                None => fields.push((by_field.to_string(), false)),
            }
        }
    }
    if !fields.is_empty() && !fields.iter().any(|(field, _)| field == "cluster") {
        errors.push(FieldError::invalid(
            path,
            all,
            "the cluster spread constraint must be enabled in one of the constraints in case of SpreadByField is enabled",
        ));
    }
}

fn workload_affinity(workload: &Map<String, Value>, path: &str, errors: &mut Vec<FieldError>) {
    let key = |term: &str| workload.get(term).and_then(|t| t.get("groupByLabelKey")).and_then(Value::as_str);
    for term in ["affinity", "antiAffinity"] {
        if present(workload, term) {
            let value = key(term).unwrap_or_default();
            for message in is_label_key(value) {
                errors.push(FieldError::invalid(format!("{path}.{term}.groupByLabelKey"), value, message));
            }
        }
    }
    if present(workload, "affinity") && present(workload, "antiAffinity") && key("affinity") == key("antiAffinity") {
        errors.push(FieldError::invalid(
            path,
            Value::Object(workload.clone()),
            "affinity and antiAffinity must not use the same groupByLabelKey",
        ));
    }
}
