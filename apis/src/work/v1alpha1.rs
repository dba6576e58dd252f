//! `work.karmada.io/v1alpha1`: `Work` (the per-cluster manifests) and the older `ResourceBinding` shapes.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Condition type: the manifests were applied to the member cluster.
pub const WORK_APPLIED: &str = "Applied";
/// Condition type: the applied resources are rolling out.
pub const WORK_PROGRESSING: &str = "Progressing";
/// Condition type: the applied resources are available.
pub const WORK_AVAILABLE: &str = "Available";
/// Condition type: the applied resources failed to reach their desired state.
pub const WORK_DEGRADED: &str = "Degraded";
/// Condition type: whether the Work is being dispatched to its cluster.
pub const WORK_DISPATCHING: &str = "Dispatching";

crate::kind::karmada_kind! {
    /// The resources to create in one member cluster; it lives in that cluster's execution namespace.
    kind Work, list WorkList {
        group: "work.karmada.io",
        version: "v1alpha1",
        plural: "works",
        scope: NamespaceResourceScope,
        spec("The manifests and how to dispatch them."): WorkSpec,
        status("The result of applying the manifests."): WorkStatus,
    }
}

/// What a Work carries and how it is dispatched.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkSpec {
    /// The manifests to apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<WorkloadTemplate>,
    /// While true, changes to the Work are not applied to the member cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend_dispatching: Option<bool>,
    /// When true, deleting the Work leaves the resources in the member cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preserve_resources_on_deletion: Option<bool>,
}

/// The manifests of a Work.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadTemplate {
    /// Complete Kubernetes objects, each applied as-is to the member cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifests: Option<Vec<RawExtension>>,
}

/// The result of applying a Work.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkStatus {
    /// Observations such as `Applied`, `Progressing`, `Available`, `Degraded` and `Dispatching`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<Condition>>,
    /// The status each manifest has in the member cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest_statuses: Option<Vec<ManifestStatus>>,
}

/// The observed state of one applied manifest.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ManifestStatus {
    /// Which manifest this is.
    pub identifier: ResourceIdentifier,
    /// The resource's `status` as the member cluster reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<RawExtension>,
    /// Health of the resource as judged by its health interpreter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<ResourceHealth>,
}

/// Identifies one manifest of a Work and the resource it became.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceIdentifier {
    /// Position of the manifest in `spec.workload.manifests`.
    pub ordinal: i64,
    /// API group of the resource; empty for the core group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// API version of the resource.
    pub version: String,
    /// Kind of the resource.
    pub kind: String,
    /// Plural resource name.
    pub resource: String,
    /// Namespace of the resource; empty when cluster-scoped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Name of the resource.
    pub name: String,
}

/// Whether a resource is healthy in a member cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ResourceHealth {
    /// The resource is healthy.
    Healthy,
    /// The resource is not healthy.
    Unhealthy,
    /// Health could not be determined.
    Unknown,
}

crate::kind::karmada_kind! {
    /// The first binding shape: a resource and the clusters it goes to. Superseded by v1alpha2, the stored version.
    kind ResourceBinding, list ResourceBindingList {
        group: "work.karmada.io",
        version: "v1alpha1",
        plural: "resourcebindings",
        scope: NamespaceResourceScope,
        spec("The bound resource and its target clusters."): ResourceBindingSpec,
        status("Per-cluster status of the bound resource."): ResourceBindingStatus,
    }
}

crate::kind::karmada_kind! {
    /// The first binding shape for a cluster-scoped resource. Superseded by v1alpha2, the stored version.
    kind ClusterResourceBinding, list ClusterResourceBindingList {
        group: "work.karmada.io",
        version: "v1alpha1",
        plural: "clusterresourcebindings",
        scope: ClusterResourceScope,
        spec("The bound resource and its target clusters."): ResourceBindingSpec,
        status("Per-cluster status of the bound resource."): ResourceBindingStatus,
    }
}

/// The bound resource and where it goes (v1alpha1).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceBindingSpec {
    /// The resource template being propagated.
    pub resource: ObjectReference,
    /// Clusters chosen by the scheduler, with their replica shares.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clusters: Option<Vec<TargetCluster>>,
}

/// Points at the resource template of a v1alpha1 binding, with its replica needs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ObjectReference {
    /// API version of the resource.
    pub api_version: String,
    /// Kind of the resource.
    pub kind: String,
    /// Namespace of the resource; empty when cluster-scoped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Name of the resource.
    pub name: String,
    /// Resource version of the template that was bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_version: Option<String>,
    /// Resources one replica requests.
    #[serde(default, rename = "resourcePerReplicas", skip_serializing_if = "Option::is_none")]
    pub replica_resource_requirements: Option<BTreeMap<String, Quantity>>,
    /// Number of replicas the resource declares.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
}

/// A cluster chosen for the resource (v1alpha1).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TargetCluster {
    /// Name of the cluster.
    pub name: String,
    /// Replicas assigned to that cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
}

/// Conditions and per-cluster status of a v1alpha1 binding.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceBindingStatus {
    /// Observations of the binding's state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<Condition>>,
    /// Status of the resource in each target cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregated_status: Option<Vec<AggregatedStatusItem>>,
}

/// Status of the bound resource in one cluster (v1alpha1).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AggregatedStatusItem {
    /// Name of the cluster.
    pub cluster_name: String,
    /// The resource's `status` in that cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<RawExtension>,
    /// Whether the resource was applied to that cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied: Option<bool>,
    /// Why applying failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_message: Option<String>,
}
