//! The Karmada kinds (`cluster`, `policy`, `work`, `search.karmada.io`) as one table of data, each served by a [`KarmadaStrategy`].

mod conversion;
mod defaults;
pub mod proxy;
mod structural;
#[cfg(test)]
mod tests;
mod validation;

use std::sync::Arc;

use flotilla_apis::{
    cluster::v1alpha1::Cluster,
    policy::{ClusterOverridePolicy, ClusterPropagationPolicy, OverridePolicy, PropagationPolicy},
    search::ResourceRegistry,
    work::{v1alpha1, v1alpha1::Work, v1alpha2::ClusterResourceBinding, v1alpha2::ResourceBinding},
};
use jiff::Timestamp;
use serde_json::{Value, json};

use super::{
    Registry, ResourceInfo, Strategy,
    builtin::{
        object::{at, str_at as text},
        printers::{Column, NAME, col, wide},
    },
};
use crate::{
    machinery::{ApiError, FieldError, table::ColumnDefinition},
    schema::KindSchema,
};

/// The category every Karmada kind is in, so `kubectl get karmada-io` lists them all.
const CATEGORY: &str = "karmada-io";

/// The AGE column of the CRD-backed kinds (a `date` printer column of `.metadata.creationTimestamp`).
const CRD_AGE: Column =
    col("AGE", "date", "Custom resource definition column (in JSONPath format): .metadata.creationTimestamp");

/// One Karmada kind: everything that differs between kinds, as data and plain functions.
pub(crate) struct Kind {
    pub(crate) group: &'static str,
    pub(crate) version: &'static str,
    pub(crate) kind: &'static str,
    pub(crate) plural: &'static str,
    pub(crate) namespaced: bool,
    pub(crate) short_names: &'static [&'static str],
    pub(crate) status: bool,
    unconditional_update: bool,
    columns: &'static [Column],
    cells: fn(&Value, Timestamp) -> Vec<Value>,
    schema: fn() -> Arc<KindSchema>,
    /// Karmada's mutating webhook for this kind (see [`defaults`]).
    defaults: fn(&mut Value),
    /// Karmada's validating webhook for a new object (see [`validation`]).
    validate: fn(&Value) -> Vec<FieldError>,
    /// Karmada's validating webhook for an update (new, old), including immutable fields.
    validate_update: fn(&Value, &Value) -> Vec<FieldError>,
    /// Served by karmada-aggregated-apiserver (Cluster) rather than as a CRD. Field selectors: every Karmada kind
    /// selects on `metadata.name` only, plus `metadata.namespace` when namespaced or aggregated (Karmada declares no
    /// CRD `selectableFields`, and its Cluster strategy selects on ObjectMeta fields only).
    aggregated: bool,
    /// The version objects are stored at when it is not `version` (an older version served by conversion).
    storage_version: Option<&'static str>,
    /// Converts an object to the given `apiVersion` of the same kind (see [`conversion`]).
    convert: fn(Value, &str) -> Result<Value, ApiError>,
}

impl Kind {
    /// The served resource's description.
    pub(crate) fn info(&self) -> ResourceInfo {
        let mut info = ResourceInfo::new(self.group, self.version, self.kind, self.plural, self.namespaced)
            .short_names(self.short_names)
            .categories(&[CATEGORY]);
        info.status_subresource = self.status;
        info
    }
}

/// kubectl's AGE cell.
fn age(object: &Value, now: Timestamp) -> Value {
    json!(super::builtin::object::age(object, now))
}

fn name(object: &Value) -> Value {
    json!(text(object, &["metadata", "name"]))
}

/// A CRD printer column of type `string`: the value as kubectl's JSONPath prints it, `null` when missing.
fn printed(value: Option<&Value>) -> Value {
    match value {
        None | Some(Value::Null) => Value::Null,
        Some(Value::String(text)) => json!(text),
        Some(other) => json!(other.to_string()),
    }
}

/// `.status.conditions[?(@.type=="<kind>")].status`: the status of the first condition of that type.
fn condition(object: &Value, kind: &str) -> Value {
    let conditions = at(object, &["status", "conditions"]).and_then(Value::as_array);
    let found = conditions.into_iter().flatten().find(|c| c.get("type").and_then(Value::as_str) == Some(kind));
    printed(found.and_then(|c| c.get("status")))
}

fn cluster_cells(o: &Value, now: Timestamp) -> Vec<Value> {
    let ready = match condition(o, "Ready") {
        Value::Null => json!("Unknown"),
        status => status,
    };
    let zones: Vec<&str> =
        at(o, &["spec", "zones"]).and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    vec![
        name(o),
        json!(text(o, &["status", "kubernetesVersion"])),
        json!(text(o, &["spec", "syncMode"])),
        ready,
        age(o, now),
        optional(&zones.join(",")),
        optional(text(o, &["spec", "region"])),
        optional(text(o, &["spec", "provider"])),
        json!(text(o, &["spec", "apiEndpoint"])),
        optional(text(o, &["spec", "proxyURL"])),
    ]
}

/// Karmada's cluster printer shows an empty optional field as `<none>`.
fn optional(value: &str) -> Value {
    json!(if value.is_empty() { "<none>" } else { value })
}

const CLUSTER_COLUMNS: &[Column] = &[
    NAME,
    col("Version", "string", "The Kubernetes version of the member cluster."),
    col("Mode", "string", "How the member cluster syncs: Push or Pull."),
    col("Ready", "string", "The status of the cluster's Ready condition."),
    col("Age", "string", "How long ago the object was created."),
    wide("Zones", "string", "The zones the member cluster is in."),
    wide("Region", "string", "The region the member cluster is in."),
    wide("Provider", "string", "The cloud provider of the member cluster."),
    wide("API-Endpoint", "string", "The API endpoint of the member cluster."),
    wide("Proxy-URL", "string", "The proxy the member cluster is reached through."),
];

const POLICY_COLUMNS: &[Column] = &[
    NAME,
    col(
        "CONFLICT-RESOLUTION",
        "string",
        "Custom resource definition column (in JSONPath format): .spec.conflictResolution",
    ),
    col("PRIORITY", "string", "Custom resource definition column (in JSONPath format): .spec.priority"),
    CRD_AGE,
];

fn policy_cells(o: &Value, now: Timestamp) -> Vec<Value> {
    vec![name(o), printed(at(o, &["spec", "conflictResolution"])), printed(at(o, &["spec", "priority"])), age(o, now)]
}

const BINDING_COLUMNS: &[Column] = &[
    NAME,
    col(
        "SCHEDULED",
        "string",
        "Custom resource definition column (in JSONPath format): .status.conditions[?(@.type==\"Scheduled\")].status",
    ),
    col(
        "FULLYAPPLIED",
        "string",
        "Custom resource definition column (in JSONPath format): .status.conditions[?(@.type==\"FullyApplied\")].status",
    ),
    CRD_AGE,
];

fn binding_cells(o: &Value, now: Timestamp) -> Vec<Value> {
    vec![name(o), condition(o, "Scheduled"), condition(o, "FullyApplied"), age(o, now)]
}

const WORK_COLUMNS: &[Column] = &[
    NAME,
    col(
        "WORKLOAD-KIND",
        "string",
        "Custom resource definition column (in JSONPath format): .spec.workload.manifests[*].kind",
    ),
    col(
        "APPLIED",
        "string",
        "Custom resource definition column (in JSONPath format): .status.conditions[?(@.type==\"Applied\")].status",
    ),
    CRD_AGE,
];

/// `.spec.workload.manifests[*].kind`: kube-apiserver prints the first match only.
fn work_cells(o: &Value, now: Timestamp) -> Vec<Value> {
    let manifests = at(o, &["spec", "workload", "manifests"]).and_then(Value::as_array);
    let kind = manifests.into_iter().flatten().find_map(|m| m.get("kind"));
    vec![name(o), printed(kind), condition(o, "Applied"), age(o, now)]
}

/// The default columns kube-apiserver prints for a CRD without printer columns.
const PLAIN_COLUMNS: &[Column] = &[NAME, col("Age", "date", "How long ago the object was created.")];

fn plain_cells(o: &Value, now: Timestamp) -> Vec<Value> {
    vec![name(o), age(o, now)]
}

/// The template of every CRD-backed policy entry.
const POLICY: Kind = Kind {
    group: "policy.karmada.io",
    version: "v1alpha1",
    kind: "",
    plural: "",
    namespaced: true,
    short_names: &[],
    status: false,
    unconditional_update: false,
    columns: PLAIN_COLUMNS,
    cells: plain_cells,
    schema: KindSchema::builtin::<PropagationPolicy>,
    defaults: defaults::none,
    validate: validation::none,
    validate_update: validation::none_on_update,
    aggregated: false,
    storage_version: None,
    convert: conversion::none,
};

/// Every Karmada kind, in registration order.
pub(crate) static KINDS: &[Kind] = &[
    Kind {
        group: "cluster.karmada.io",
        kind: "Cluster",
        plural: "clusters",
        namespaced: false,
        aggregated: true,
        status: true,
        unconditional_update: true,
        columns: CLUSTER_COLUMNS,
        cells: cluster_cells,
        schema: KindSchema::builtin::<Cluster>,
        defaults: defaults::cluster,
        validate: validation::cluster,
        validate_update: validation::cluster_update,
        ..POLICY
    },
    Kind {
        kind: "PropagationPolicy",
        plural: "propagationpolicies",
        short_names: &["pp"],
        columns: POLICY_COLUMNS,
        cells: policy_cells,
        schema: KindSchema::builtin::<PropagationPolicy>,
        defaults: defaults::propagation_policy,
        validate: validation::propagation_policy,
        validate_update: validation::propagation_policy_update,
        ..POLICY
    },
    Kind {
        kind: "ClusterPropagationPolicy",
        plural: "clusterpropagationpolicies",
        namespaced: false,
        short_names: &["cpp"],
        columns: POLICY_COLUMNS,
        cells: policy_cells,
        schema: KindSchema::builtin::<ClusterPropagationPolicy>,
        defaults: defaults::cluster_propagation_policy,
        validate: validation::cluster_propagation_policy,
        validate_update: validation::cluster_propagation_policy_update,
        ..POLICY
    },
    Kind {
        kind: "OverridePolicy",
        plural: "overridepolicies",
        short_names: &["op"],
        schema: KindSchema::builtin::<OverridePolicy>,
        defaults: defaults::override_policy,
        validate: validation::override_policy,
        validate_update: |object, _| validation::override_policy(object),
        ..POLICY
    },
    Kind {
        kind: "ClusterOverridePolicy",
        plural: "clusteroverridepolicies",
        namespaced: false,
        short_names: &["cop"],
        schema: KindSchema::builtin::<ClusterOverridePolicy>,
        defaults: defaults::none,
        validate: validation::cluster_override_policy,
        validate_update: |object, _| validation::cluster_override_policy(object),
        ..POLICY
    },
    Kind {
        group: "work.karmada.io",
        kind: "Work",
        plural: "works",
        short_names: &["wk"],
        status: true,
        columns: WORK_COLUMNS,
        cells: work_cells,
        schema: KindSchema::builtin::<Work>,
        defaults: defaults::work,
        validate: validation::work,
        validate_update: validation::work_update,
        ..POLICY
    },
    Kind {
        group: "work.karmada.io",
        version: "v1alpha2",
        kind: "ResourceBinding",
        plural: "resourcebindings",
        short_names: &["rb"],
        status: true,
        columns: BINDING_COLUMNS,
        cells: binding_cells,
        schema: KindSchema::builtin::<ResourceBinding>,
        defaults: defaults::resource_binding,
        validate: validation::resource_binding,
        validate_update: validation::resource_binding_update,
        ..POLICY
    },
    Kind {
        group: "work.karmada.io",
        version: "v1alpha2",
        kind: "ClusterResourceBinding",
        plural: "clusterresourcebindings",
        namespaced: false,
        short_names: &["crb"],
        status: true,
        columns: BINDING_COLUMNS,
        cells: binding_cells,
        schema: KindSchema::builtin::<ClusterResourceBinding>,
        defaults: defaults::cluster_resource_binding,
        validate: validation::cluster_resource_binding,
        validate_update: validation::cluster_resource_binding_update,
        ..POLICY
    },
    Kind {
        group: "work.karmada.io",
        kind: "ResourceBinding",
        plural: "resourcebindings",
        short_names: &["rb"],
        status: true,
        columns: BINDING_COLUMNS,
        cells: binding_cells,
        schema: KindSchema::builtin::<v1alpha1::ResourceBinding>,
        // Karmada's binding webhooks and CRD defaults are those of v1alpha2; v1alpha1 has none of its own.
        defaults: defaults::none,
        validate: validation::none,
        validate_update: validation::none_on_update,
        storage_version: Some("v1alpha2"),
        convert: conversion::binding,
        ..POLICY
    },
    Kind {
        group: "work.karmada.io",
        kind: "ClusterResourceBinding",
        plural: "clusterresourcebindings",
        namespaced: false,
        short_names: &["crb"],
        status: true,
        columns: BINDING_COLUMNS,
        cells: binding_cells,
        schema: KindSchema::builtin::<v1alpha1::ClusterResourceBinding>,
        // Karmada's binding webhooks and CRD defaults are those of v1alpha2; v1alpha1 has none of its own.
        defaults: defaults::none,
        validate: validation::none,
        validate_update: validation::none_on_update,
        storage_version: Some("v1alpha2"),
        convert: conversion::binding,
        ..POLICY
    },
    Kind {
        group: "search.karmada.io",
        kind: "ResourceRegistry",
        plural: "resourceregistries",
        namespaced: false,
        status: true,
        schema: KindSchema::builtin::<ResourceRegistry>,
        defaults: defaults::none,
        validate: validation::resource_registry,
        validate_update: validation::resource_registry_update,
        ..POLICY
    },
];

/// The strategy of one Karmada kind: its schema prunes and checks writes, then Karmada's webhooks default and validate.
pub struct KarmadaStrategy {
    kind: &'static Kind,
    info: ResourceInfo,
    schema: Arc<KindSchema>,
}

impl KarmadaStrategy {
    /// The strategy of the Karmada kind `kind` of `group`, for tools and tests.
    pub fn of(group: &str, kind: &str) -> Option<Self> {
        KINDS.iter().find(|k| k.group == group && k.kind == kind).map(Self::new)
    }

    fn new(kind: &'static Kind) -> Self {
        Self { kind, info: kind.info(), schema: structural::kind_schema((kind.schema)()) }
    }

    /// Table cells at a given time (the AGE columns are durations until `now`).
    pub fn table_cells_at(&self, object: &Value, now: Timestamp) -> Vec<Value> {
        (self.kind.cells)(object, now)
    }
}

impl Strategy for KarmadaStrategy {
    fn info(&self) -> &ResourceInfo {
        &self.info
    }

    fn allow_unconditional_update(&self) -> bool {
        self.kind.unconditional_update
    }

    fn default(&self, object: &mut Value) {
        (self.kind.defaults)(object);
    }

    fn validate(&self, object: &Value) -> Vec<FieldError> {
        (self.kind.validate)(object)
    }

    fn validate_update(&self, object: &Value, old: &Value) -> Vec<FieldError> {
        (self.kind.validate_update)(object, old)
    }

    fn namespace_is_selectable(&self) -> bool {
        self.kind.namespaced || self.kind.aggregated
    }

    fn table_columns(&self) -> Vec<ColumnDefinition> {
        self.kind.columns.iter().map(Column::definition).collect()
    }

    fn table_cells(&self, object: &Value) -> Vec<Value> {
        self.table_cells_at(object, Timestamp::now())
    }

    fn schema(&self) -> Option<Value> {
        Some(self.schema.schema().clone())
    }

    fn kind_schema(&self) -> Option<Arc<KindSchema>> {
        Some(Arc::clone(&self.schema))
    }

    fn storage_version(&self) -> &str {
        self.kind.storage_version.unwrap_or(self.kind.version)
    }

    fn convert(&self, object: Value, to_version: &str) -> Result<Value, ApiError> {
        (self.kind.convert)(object, &format!("{}/{to_version}", self.kind.group))
    }
}

/// Serves every Karmada kind.
pub fn register_all(registry: &Registry) {
    for kind in KINDS {
        registry.register(Arc::new(KarmadaStrategy::new(kind)));
    }
}
