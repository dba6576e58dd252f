//! Conversion between the served versions of a Karmada kind: ResourceBinding v1alpha1 ⇄ v1alpha2, field by field.

use serde_json::{Map, Value};

use crate::machinery::{ApiError, Object};

/// A kind served at one version only: a conversion only changes `apiVersion`.
pub(super) fn none(object: Object, api_version: &str) -> Result<Object, ApiError> {
    Ok(with_api_version(object, api_version))
}

/// ResourceBinding and ClusterResourceBinding: v1alpha1 ⇄ v1alpha2 (`api_version` is the target `group/version`).
///
/// Karmada's conversion webhook goes through v1alpha2 (the hub and storage version) and keeps nothing of a field
/// that has no counterpart in the other version: no annotations carry them. Reading a binding at v1alpha1 therefore
/// drops every v1alpha2-only field (placement, components, gracefulEvictionTasks, requiredBy, the scheduler's status
/// fields, per-cluster health, ...), and writing it back at v1alpha1 stores it without them, as Karmada does. The
/// output follows Go's JSON encoding of Karmada's types: zero values of `omitempty` fields are left out, and `spec`
/// and `status` are always present. Converted to v1alpha2, a binding gets that version's CRD defaults.
///
/// # Errors
/// 400 when either version is neither v1alpha1 nor v1alpha2.
pub(super) fn binding(object: Object, api_version: &str) -> Result<Object, ApiError> {
    let from = object.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
    let (from, to) = (version_of(from), version_of(api_version));
    let convert: fn(&Value) -> (Value, Value) = match (from, to) {
        _ if from == to => return Ok(with_api_version(object, api_version)),
        ("v1alpha1", "v1alpha2") => to_hub,
        ("v1alpha2", "v1alpha1") => from_hub,
        _ => {
            return Err(ApiError::bad_request(format!(
                "no conversion of ResourceBinding from version {from:?} to version {to:?}"
            )));
        }
    };
    let (mut spec, status) = convert(&object);
    if to == "v1alpha2"
        && let Some(spec) = spec.as_object_mut()
    {
        // The v1alpha2 CRD's defaults, which kube-apiserver applies to objects read from storage (a binding written
        // at v1alpha1 reads back at v1alpha2 with `conflictResolution: Abort`).
        super::defaults::binding_spec(spec);
    }
    let mut converted = Map::new();
    converted.insert("apiVersion".into(), Value::String(api_version.into()));
    if let Some(kind) = object.get("kind") {
        converted.insert("kind".into(), kind.clone());
    }
    if let Some(metadata) = object.get("metadata") {
        converted.insert("metadata".into(), metadata.clone());
    }
    converted.insert("spec".into(), spec);
    converted.insert("status".into(), status);
    Ok(Value::Object(converted))
}

fn version_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or(api_version, |(_, version)| version)
}

fn with_api_version(mut object: Object, api_version: &str) -> Object {
    if let Some(map) = object.as_object_mut() {
        map.insert("apiVersion".into(), Value::String(api_version.into()));
    }
    object
}

/// Builds Go-style JSON: `always` fields are written even when missing (as their zero value), `omitempty` ones only
/// when they hold a non-zero value.
#[derive(Default)]
struct Out(Map<String, Value>);

impl Out {
    /// A string field without `omitempty`: `""` when missing.
    fn always(mut self, name: &str, value: Option<&Value>) -> Self {
        self.0.insert(name.into(), value.cloned().unwrap_or_else(|| Value::String(String::new())));
        self
    }

    /// An `omitempty` field: left out when missing or Go's zero value (`""`, `0`, `false`, `[]`, `{}`, null).
    fn nonzero(mut self, name: &str, value: Option<&Value>) -> Self {
        if let Some(value) = value.filter(|v| !is_zero(v)) {
            self.0.insert(name.into(), value.clone());
        }
        self
    }

    /// An `omitempty` pointer field: left out only when missing or null.
    fn present(mut self, name: &str, value: Option<Value>) -> Self {
        if let Some(value) = value.filter(|v| !v.is_null()) {
            self.0.insert(name.into(), value);
        }
        self
    }

    fn done(self) -> Value {
        Value::Object(self.0)
    }
}

fn is_zero(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

fn get<'a>(value: Option<&'a Value>, name: &str) -> Option<&'a Value> {
    value.and_then(|v| v.get(name))
}

fn items(value: Option<&Value>) -> impl Iterator<Item = &Value> {
    value.and_then(Value::as_array).into_iter().flatten()
}

/// `[...]` of the mapped items, or `None` when there are none (an `omitempty` slice).
fn list(value: Option<&Value>, map: impl Fn(&Value) -> Value) -> Option<Value> {
    let mapped: Vec<Value> = items(value).map(map).collect();
    (!mapped.is_empty()).then_some(Value::Array(mapped))
}

/// The fields both versions' resource references have.
fn reference(resource: Option<&Value>) -> Out {
    Out::default()
        .always("apiVersion", get(resource, "apiVersion"))
        .always("kind", get(resource, "kind"))
        .nonzero("namespace", get(resource, "namespace"))
        .always("name", get(resource, "name"))
        .nonzero("resourceVersion", get(resource, "resourceVersion"))
}

/// A target cluster: its name and replicas (v1alpha2's per-component replicas have no v1alpha1 counterpart).
fn target_cluster(cluster: &Value) -> Value {
    Out::default().always("name", cluster.get("name")).nonzero("replicas", cluster.get("replicas")).done()
}

/// The status both versions share: conditions, and each cluster's status, applied flag and message.
fn status(status: Option<&Value>) -> Value {
    let aggregated = list(get(status, "aggregatedStatus"), |item| {
        Out::default()
            .always("clusterName", item.get("clusterName"))
            .present("status", item.get("status").cloned())
            .nonzero("applied", item.get("applied"))
            .nonzero("appliedMessage", item.get("appliedMessage"))
            .done()
    });
    Out::default().nonzero("conditions", get(status, "conditions")).present("aggregatedStatus", aggregated).done()
}

/// v1alpha1 → v1alpha2: the replica needs move from `spec.resource` to `spec.replicaRequirements`/`spec.replicas`.
fn to_hub(object: &Value) -> (Value, Value) {
    let spec = object.get("spec");
    let resource = get(spec, "resource");
    let requirements = get(resource, "resourcePerReplicas")
        .filter(|r| !r.is_null())
        .map(|request| Out::default().nonzero("resourceRequest", Some(request)).done());
    let spec = Out::default()
        .present("resource", Some(reference(resource).done()))
        .present("replicaRequirements", requirements)
        .nonzero("replicas", get(resource, "replicas"))
        .present("clusters", list(get(spec, "clusters"), target_cluster))
        .done();
    (spec, status(object.get("status")))
}

/// v1alpha2 → v1alpha1: everything without a v1alpha1 counterpart is dropped.
fn from_hub(object: &Value) -> (Value, Value) {
    let spec = object.get("spec");
    let request = get(get(spec, "replicaRequirements"), "resourceRequest");
    let resource = reference(get(spec, "resource"))
        .nonzero("resourcePerReplicas", request)
        .nonzero("replicas", get(spec, "replicas"))
        .done();
    let spec = Out::default()
        .present("resource", Some(resource))
        .present("clusters", list(get(spec, "clusters"), target_cluster))
        .done();
    (spec, status(object.get("status")))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const V1: &str = "work.karmada.io/v1alpha1";
    const V2: &str = "work.karmada.io/v1alpha2";

    fn v1alpha1() -> Value {
        json!({
            "apiVersion": V1, "kind": "ResourceBinding",
            "metadata": {"name": "nginx-deployment", "namespace": "default", "labels": {"a": "b"}},
            "spec": {
                "resource": {
                    "apiVersion": "apps/v1", "kind": "Deployment", "namespace": "default", "name": "nginx",
                    "resourceVersion": "42", "resourcePerReplicas": {"cpu": "100m", "memory": "128Mi"}, "replicas": 3
                },
                "clusters": [{"name": "member1", "replicas": 2}, {"name": "member2", "replicas": 1}]
            },
            "status": {
                "conditions": [{"type": "Scheduled", "status": "True", "reason": "Success", "message": "ok",
                                "lastTransitionTime": "2026-01-01T00:00:00Z"}],
                "aggregatedStatus": [{"clusterName": "member1", "status": {"readyReplicas": 2}, "applied": true}]
            }
        })
    }

    #[test]
    fn a_v1alpha1_binding_moves_its_replica_needs_to_v1alpha2_fields() {
        let hub = binding(v1alpha1(), V2).unwrap_or_default();
        assert_eq!(hub["apiVersion"], json!(V2));
        assert_eq!(hub["spec"]["replicaRequirements"], json!({"resourceRequest": {"cpu": "100m", "memory": "128Mi"}}));
        assert_eq!(hub["spec"]["replicas"], json!(3));
        assert_eq!(hub["spec"]["conflictResolution"], json!("Abort"), "the v1alpha2 CRD default");
        assert_eq!(
            hub["spec"]["resource"],
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "default", "name": "nginx",
                   "resourceVersion": "42"})
        );
        assert_eq!(hub["metadata"], v1alpha1()["metadata"]);
    }

    #[test]
    fn a_v1alpha1_binding_survives_a_round_trip_through_v1alpha2() {
        let back = binding(v1alpha1(), V2).and_then(|hub| binding(hub, V1)).unwrap_or_default();
        assert_eq!(back, v1alpha1());
    }

    #[test]
    fn v1alpha2_only_fields_are_dropped_at_v1alpha1_as_karmada_drops_them() {
        let mut hub = binding(v1alpha1(), V2).unwrap_or_default();
        hub["spec"]["placement"] = json!({"clusterAffinity": {"clusterNames": ["member1"]}});
        hub["spec"]["clusters"][0]["components"] = json!([{"name": "c", "replicas": 1}]);
        hub["status"]["schedulerObservedGeneration"] = json!(3);
        hub["status"]["aggregatedStatus"][0]["health"] = json!("Healthy");
        let old = binding(hub, V1).unwrap_or_default();
        assert_eq!(old, v1alpha1());
    }

    #[test]
    fn go_zero_values_are_left_out_and_spec_and_status_always_written() {
        let hub = json!({"apiVersion": V2, "kind": "ResourceBinding", "metadata": {"name": "a"},
                         "spec": {"resource": {"apiVersion": "v1", "kind": "ConfigMap", "name": "c"}, "replicas": 0}});
        let old = binding(hub, V1).unwrap_or_default();
        assert_eq!(old["spec"], json!({"resource": {"apiVersion": "v1", "kind": "ConfigMap", "name": "c"}}));
        assert_eq!(old["status"], json!({}));
    }

    #[test]
    fn unknown_versions_are_refused() {
        let object = json!({"apiVersion": "work.karmada.io/v9", "kind": "ResourceBinding"});
        assert_eq!(binding(object, V1).map_err(|e| e.code).err(), Some(400));
    }
}
