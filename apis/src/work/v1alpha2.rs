//! `work.karmada.io/v1alpha2`: `ResourceBinding` and `ClusterResourceBinding`, the scheduler's input and output.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{NodeSelector, Toleration};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use super::v1alpha1::ResourceHealth;
use crate::policy::{ConflictResolution, FailoverBehavior, Placement, PurgeMode, SuspendClusters};

/// Condition type: the scheduler has placed the binding.
pub const CONDITION_SCHEDULED: &str = "Scheduled";
/// Condition type: the resource was applied to every target cluster.
pub const CONDITION_FULLY_APPLIED: &str = "FullyApplied";
/// `Scheduled` reason: scheduling succeeded.
pub const BINDING_REASON_SUCCESS: &str = "Success";
/// `Scheduled` reason: the scheduler hit an internal error.
pub const BINDING_REASON_SCHEDULER_ERROR: &str = "SchedulerError";
/// `Scheduled` reason: no cluster passed the filters.
pub const BINDING_REASON_NO_CLUSTER_FIT: &str = "NoClusterFit";
/// `Scheduled` reason: the replicas could not be placed.
pub const BINDING_REASON_UNSCHEDULABLE: &str = "Unschedulable";
/// `Scheduled` reason: a federated resource quota would be exceeded.
pub const BINDING_REASON_QUOTA_EXCEEDED: &str = "QuotaExceeded";

crate::kind::karmada_kind! {
    /// Ties a namespaced resource template to its propagation rules and records where the scheduler placed it.
    kind ResourceBinding, list ResourceBindingList {
        group: "work.karmada.io",
        version: "v1alpha2",
        plural: "resourcebindings",
        scope: NamespaceResourceScope,
        spec("The bound resource, its placement rules and the scheduling result."): ResourceBindingSpec,
        status("Scheduling progress and per-cluster status."): ResourceBindingStatus,
    }
}

crate::kind::karmada_kind! {
    /// Ties a cluster-scoped resource template to its propagation rules and records where the scheduler placed it.
    kind ClusterResourceBinding, list ClusterResourceBindingList {
        group: "work.karmada.io",
        version: "v1alpha2",
        plural: "clusterresourcebindings",
        scope: ClusterResourceScope,
        spec("The bound resource, its placement rules and the scheduling result."): ResourceBindingSpec,
        status("Scheduling progress and per-cluster status."): ResourceBindingStatus,
    }
}

/// The bound resource, the rules for placing it, and the placement chosen.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceBindingSpec {
    /// The resource template being propagated.
    pub resource: ObjectReference,
    /// Whether resources the template depends on (ConfigMaps, Secrets, ...) follow it to the same clusters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub propagate_deps: Option<bool>,
    /// What one replica needs, used to estimate how many replicas each cluster can take.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica_requirements: Option<ReplicaRequirements>,
    /// Number of replicas the resource declares.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// Named parts of a multi-component workload, each with its own replicas and needs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub components: Option<Vec<Component>>,
    /// Clusters chosen by the scheduler, with their replica shares.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clusters: Option<Vec<TargetCluster>>,
    /// Placement rules copied from the policy that matched the resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<Placement>,
    /// Clusters the resource is being moved away from, kept until the move completes or times out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graceful_eviction_tasks: Option<Vec<GracefulEvictionTask>>,
    /// Bindings that depend on this one, and the clusters they were placed in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_by: Option<Vec<BindingSnapshot>>,
    /// Scheduler responsible for this binding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler_name: Option<String>,
    /// Failover behaviour copied from the policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failover: Option<FailoverBehavior>,
    /// What to do when the resource already exists in a member cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conflict_resolution: Option<ConflictResolution>,
    /// When set later than the last scheduling time, asks the scheduler to place the binding again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reschedule_triggered_at: Option<Time>,
    /// Pauses scheduling or dispatching of the binding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspension: Option<Suspension>,
    /// When true, deleting the binding leaves the resources in the member clusters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preserve_resources_on_deletion: Option<bool>,
    /// Position of the binding in the scheduling queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_priority: Option<SchedulePriority>,
    /// Affinity groups the workload belongs to, for placing related workloads together or apart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload_affinity_groups: Option<WorkloadAffinityGroups>,
}

/// Points at the resource template of a binding.
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
    /// UID of the resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// Resource version of the template that was bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_version: Option<String>,
}

/// What one replica of the workload needs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplicaRequirements {
    /// Node constraints a replica carries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_claim: Option<NodeClaim>,
    /// Resources one replica requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_request: Option<BTreeMap<String, Quantity>>,
    /// Namespace of the workload, used for quota checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Priority class of the workload's pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<String>,
}

/// One named component of a multi-component workload.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Component {
    /// Name of the component, unique within the workload (at most 32 characters).
    #[schemars(length(max = 32))]
    pub name: String,
    /// Replicas of the component.
    pub replicas: i32,
    /// What one replica of the component needs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica_requirements: Option<ComponentReplicaRequirements>,
}

/// What one replica of a component needs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ComponentReplicaRequirements {
    /// Node constraints a replica carries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_claim: Option<NodeClaim>,
    /// Resources one replica requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_request: Option<BTreeMap<String, Quantity>>,
    /// Priority class of the component's pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<String>,
}

/// Node constraints of a replica, taken from its pod template.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeClaim {
    /// Required node affinity of the pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hard_node_affinity: Option<NodeSelector>,
    /// Node labels the pods require.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<BTreeMap<String, String>>,
    /// Node taints the pods tolerate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerations: Option<Vec<Toleration>>,
}

/// A cluster chosen for the resource.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TargetCluster {
    /// Name of the cluster.
    pub name: String,
    /// Replicas assigned to that cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// Per-component replicas assigned to that cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub components: Option<Vec<TargetComponent>>,
}

/// Replicas of one component assigned to a cluster.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TargetComponent {
    /// Name of the component.
    pub name: String,
    /// Replicas of it in the cluster.
    pub replicas: i32,
}

/// A cluster the resource is being removed from, and how.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GracefulEvictionTask {
    /// Cluster being evicted from.
    pub from_cluster: String,
    /// How the old copy is removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purge_mode: Option<PurgeMode>,
    /// Replicas the resource had in that cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// Machine-readable cause of the eviction (CamelCase, 1 to 32 characters).
    #[schemars(length(min = 1, max = 32), regex(pattern = r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"))]
    pub reason: String,
    /// Human-readable detail (at most 1024 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub message: Option<String>,
    /// Controller that started the eviction.
    pub producer: String,
    /// How long to wait before removing the old copy regardless of the replacement's health.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_period_seconds: Option<i32>,
    /// When true, the old copy is kept until the flag is cleared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppress_deletion: Option<bool>,
    /// Labels carrying state preserved from the old copy for its replacement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preserved_label_state: Option<BTreeMap<String, String>>,
    /// When the task was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_timestamp: Option<Time>,
    /// Clusters the resource was in before the failover began.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clusters_before_failover: Option<Vec<String>>,
}

/// A binding that depends on this one.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BindingSnapshot {
    /// Namespace of the dependent binding; empty for a ClusterResourceBinding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Name of the dependent binding.
    pub name: String,
    /// Clusters the dependent binding was placed in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clusters: Option<Vec<TargetCluster>>,
}

/// Pauses parts of a binding's lifecycle: the policy's dispatching switches plus one for scheduling.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Suspension {
    /// While true, changes are not dispatched to any member cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dispatching: Option<bool>,
    /// Clusters to which changes are not dispatched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dispatching_on_clusters: Option<SuspendClusters>,
    /// While true, the scheduler leaves the binding alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduling: Option<bool>,
}

/// Scheduling-queue priority of a binding.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SchedulePriority {
    /// Higher values are scheduled first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i32>,
}

/// Affinity groups the workload belongs to.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadAffinityGroups {
    /// Group whose members prefer the same clusters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity_group: Option<String>,
    /// Group whose members avoid each other's clusters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anti_affinity_group: Option<String>,
}

/// Scheduling progress and per-cluster status of a binding.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceBindingStatus {
    /// Generation of the binding the scheduler last handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler_observed_generation: Option<i64>,
    /// Name of the cluster-affinity term the scheduler last used.
    #[serde(default, rename = "schedulerObservingAffinityName", skip_serializing_if = "Option::is_none")]
    pub scheduler_observed_affinity_name: Option<String>,
    /// When the scheduler last placed the binding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_scheduled_time: Option<Time>,
    /// Observations such as `Scheduled` and `FullyApplied`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<Condition>>,
    /// Status of the resource in each target cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregated_status: Option<Vec<AggregatedStatusItem>>,
}

/// Status of the bound resource in one cluster.
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
    /// Health of the resource in that cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<ResourceHealth>,
}
