//! The PropagationPolicy and ClusterPropagationPolicy webhooks' rules, on create and on update.

use serde_json::{Map, Value};

use super::{placement::placement, schema_errors};
use crate::{
    machinery::{FieldError, names::is_label_key},
    registry::karmada::defaults::{CPP_PERMANENT_ID, PP_PERMANENT_ID},
};

const GROUP: &str = "policy.karmada.io";

/// A PropagationPolicy: schema, permanent id, spec (selectors must stay in the policy's namespace).
pub(in crate::registry::karmada) fn propagation_policy(object: &Value) -> Vec<FieldError> {
    let namespace = object.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or_default();
    policy("PropagationPolicy", PP_PERMANENT_ID, namespace, object)
}

/// A ClusterPropagationPolicy: schema, permanent id, spec.
pub(in crate::registry::karmada) fn cluster_propagation_policy(object: &Value) -> Vec<FieldError> {
    policy("ClusterPropagationPolicy", CPP_PERMANENT_ID, "", object)
}

/// A PropagationPolicy update: `schedulerName` and the permanent id are immutable, then as on create.
pub(in crate::registry::karmada) fn propagation_policy_update(object: &Value, old: &Value) -> Vec<FieldError> {
    update(object, old, PP_PERMANENT_ID, propagation_policy)
}

/// A ClusterPropagationPolicy update: as [`propagation_policy_update`].
pub(in crate::registry::karmada) fn cluster_propagation_policy_update(object: &Value, old: &Value) -> Vec<FieldError> {
    update(object, old, CPP_PERMANENT_ID, cluster_propagation_policy)
}

fn label<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object.pointer("/metadata/labels").and_then(|l| l.get(key)).and_then(Value::as_str)
}

fn update(object: &Value, old: &Value, id: &str, validate: fn(&Value) -> Vec<FieldError>) -> Vec<FieldError> {
    let scheduler = |o: &Value| o.pointer("/spec/schedulerName").and_then(Value::as_str).map(str::to_string);
    let mut errors = Vec::new();
    if scheduler(object) != scheduler(old) {
        errors.push(FieldError::forbidden("spec.schedulerName", "the schedulerName should not be updated"));
    }
    if label(object, id) != label(old, id) {
        errors.push(FieldError::forbidden(
            format!("metadata.labels[{id}]"),
            format!("label {id} is immutable, it can only be set by the system during creation"),
        ));
    }
    if !errors.is_empty() {
        return errors;
    }
    validate(object)
}

fn policy(kind: &str, id: &str, namespace: &str, object: &Value) -> Vec<FieldError> {
    let errors = schema_errors(GROUP, kind, object);
    if !errors.is_empty() {
        return errors;
    }
    if label(object, id).is_none() {
        return vec![FieldError::required(
            format!("metadata.labels[{id}]"),
            format!("label {id} is required, it should be set by the mutating admission webhook during creation"),
        )];
    }
    let Some(spec) = object.get("spec").and_then(Value::as_object) else { return errors };
    propagation_spec(spec, namespace)
}

/// `ValidatePropagationSpec`: placement, failover, selectors, suspension.
pub(super) fn propagation_spec(spec: &Map<String, Value>, namespace: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Some(found) = spec.get("placement").and_then(Value::as_object) {
        placement(found, "spec.placement", &mut errors);
    }
    let failover = spec.get("failover").and_then(Value::as_object);
    let application = failover.and_then(|f| f.get("application")).and_then(Value::as_object);
    let propagate_deps = spec.get("propagateDeps").and_then(Value::as_bool).unwrap_or_default();
    if application.is_some() && !propagate_deps {
        errors.push(FieldError::invalid(
            "spec.propagateDeps",
            propagate_deps,
            "application failover is set, propagateDeps must be true",
        ));
    }
    if let Some(application) = application {
        application_failover(application, "spec.failover.application", &mut errors);
    }
    let cluster = failover.and_then(|f| f.get("cluster")).and_then(Value::as_object);
    if let Some(preservation) = cluster.and_then(|c| c.get("statePreservation")).and_then(Value::as_object) {
        state_preservation(preservation, "spec.failover.cluster.statePreservation", &mut errors);
    }
    selector_namespaces(spec, namespace, "spec.resourceSelectors", &mut errors);
    if spec.get("preemption").and_then(Value::as_str) == Some("Always") {
        for (index, selector) in selectors(spec) {
            let name = selector.get("name").and_then(Value::as_str).unwrap_or_default();
            if name.is_empty() {
                errors.push(FieldError::invalid(
                    format!("spec.resourceSelectors[{index}].name"),
                    name,
                    "name cannot be empty if preemption is Always, the empty name may cause unexpected resources \
                     preemption",
                ));
            }
        }
    }
    if let Some(suspension) = spec.get("suspension").and_then(Value::as_object) {
        let dispatching = suspension.get("dispatching").and_then(Value::as_bool) == Some(true);
        let on_clusters = suspension
            .get("dispatchingOnClusters")
            .and_then(|d| d.get("clusterNames"))
            .and_then(Value::as_array)
            .is_some_and(|names| !names.is_empty());
        if dispatching && on_clusters {
            errors.push(FieldError::invalid(
                "spec.suspension.suspension",
                Value::Object(suspension.clone()),
                "suspension dispatching cannot co-exist with dispatchingOnClusters.clusterNames",
            ));
        }
    }
    errors
}

fn selectors(spec: &Map<String, Value>) -> impl Iterator<Item = (usize, &Map<String, Value>)> {
    let list = spec.get("resourceSelectors").and_then(Value::as_array);
    list.into_iter().flatten().enumerate().filter_map(|(i, v)| Some((i, v.as_object()?)))
}

/// In a namespaced policy every selector must name the policy's namespace.
pub(super) fn selector_namespaces(
    spec: &Map<String, Value>,
    namespace: &str,
    path: &str,
    errors: &mut Vec<FieldError>,
) {
    if namespace.is_empty() {
        return;
    }
    for (index, selector) in selectors(spec) {
        let found = selector.get("namespace").and_then(Value::as_str).unwrap_or_default();
        if found != namespace {
            errors.push(FieldError::invalid(
                format!("{path}[{index}].namespace"),
                found,
                "namespace of resource selector must be the same as the namespace of the policy",
            ));
        }
    }
}

fn application_failover(application: &Map<String, Value>, path: &str, errors: &mut Vec<FieldError>) {
    let toleration = application.pointer_i64("decisionConditions", "tolerationSeconds");
    if let Some(seconds) = toleration.filter(|s| *s < 0) {
        errors.push(FieldError::invalid(
            format!("{path}.decisionConditions.tolerationSeconds"),
            seconds,
            "must be greater than or equal to 0",
        ));
    }
    let gracefully = application.get("purgeMode").and_then(Value::as_str) == Some("Gracefully");
    let grace = application.get("gracePeriodSeconds").filter(|v| !v.is_null());
    let grace_path = format!("{path}.gracePeriodSeconds");
    match (gracefully, grace) {
        (false, Some(value)) => {
            errors.push(FieldError::invalid(
                &grace_path,
                value.clone(),
                "only takes effect when purgeMode is gracefully",
            ));
        }
        (true, None) => {
            errors.push(FieldError::invalid(
                &grace_path,
                Value::Null,
                "should not be empty when purgeMode is gracefully",
            ));
        }
        _ => {}
    }
    if let Some(seconds) = grace.and_then(Value::as_i64).filter(|s| *s <= 0) {
        errors.push(FieldError::invalid(&grace_path, seconds, "must be greater than 0"));
    }
    if let Some(preservation) = application.get("statePreservation").and_then(Value::as_object) {
        state_preservation(preservation, &format!("{path}.statePreservation"), errors);
    }
}

/// Each rule's `aliasLabelName` must be a valid label key.
fn state_preservation(preservation: &Map<String, Value>, path: &str, errors: &mut Vec<FieldError>) {
    let rules = preservation.get("rules").and_then(Value::as_array);
    for (index, rule) in rules.into_iter().flatten().enumerate() {
        let name = rule.get("aliasLabelName").and_then(Value::as_str).unwrap_or_default();
        for message in is_label_key(name) {
            errors.push(FieldError::invalid(format!("{path}.rules[{index}].aliasLabelName"), name, message));
        }
    }
}

trait PointerI64 {
    fn pointer_i64(&self, a: &str, b: &str) -> Option<i64>;
}

impl PointerI64 for Map<String, Value> {
    fn pointer_i64(&self, a: &str, b: &str) -> Option<i64> {
        self.get(a)?.get(b)?.as_i64()
    }
}
