//! `Placement` and its parts: which member clusters a resource may land on and how its replicas are spread over them.

use k8s_openapi::api::core::v1::{NodeSelectorRequirement, Toleration};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Rules for choosing member clusters and for sharing replicas between them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Placement {
    /// A single filter that candidate clusters must pass. Cannot be combined with `clusterAffinities`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_affinity: Option<ClusterAffinity>,

    /// Several named cluster filters tried in order: the scheduler uses the first one that yields a placement and
    /// falls back to the next when it cannot. Cannot be combined with `clusterAffinity`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_affinities: Option<Vec<ClusterAffinityTerm>>,

    /// Tolerations that let the resource be placed on clusters carrying matching taints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_tolerations: Option<Vec<Toleration>>,

    /// Limits on how many groups of clusters (by cluster, region, zone, provider or a label) the resource is spread over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spread_constraints: Option<Vec<SpreadConstraint>>,

    /// How replicas of a workload are handed out: the same count to every cluster, or a share of the total to each.
    /// When absent the resource is duplicated to every selected cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica_scheduling: Option<ReplicaSchedulingStrategy>,

    /// Keeps workloads of one group together on the same clusters, or keeps them apart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload_affinity: Option<WorkloadAffinity>,
}

/// A filter over member clusters. A cluster passes only when it meets every condition that is set.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterAffinity {
    /// Clusters whose labels match this selector pass. Empty or absent matches every cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<LabelSelector>,

    /// Clusters whose `provider`, `region` or `zone` fields match these expressions pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_selector: Option<FieldSelector>,

    /// Clusters named here pass. Empty or absent lets every cluster through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_names: Option<Vec<String>>,

    /// Clusters named here are always filtered out.
    #[serde(default, rename = "exclude", skip_serializing_if = "Option::is_none")]
    pub exclude_clusters: Option<Vec<String>>,
}

/// Expressions matched against a cluster's own fields rather than its labels.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FieldSelector {
    /// Requirements over the keys `provider`, `region` and `zone`; all of them must hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_expressions: Option<Vec<NodeSelectorRequirement>>,
}

/// One named cluster filter in `clusterAffinities`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterAffinityTerm {
    /// A name for this filter, unique within the list (1 to 32 characters).
    #[schemars(length(min = 1, max = 32))]
    pub affinity_name: String,

    /// The filter itself; its fields sit directly beside `affinityName`.
    #[serde(flatten)]
    pub cluster_affinity: ClusterAffinity,

    /// Extra filters whose clusters take the replicas this term's clusters cannot hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overflow_affinities: Option<Vec<OverflowClusterAffinity>>,
}

/// A named filter for clusters that take replicas overflowing from the clusters of the enclosing term.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OverflowClusterAffinity {
    /// A name for this overflow filter (1 to 32 characters).
    #[schemars(length(min = 1, max = 32))]
    pub affinity_name: String,

    /// The filter itself; its fields sit directly beside `affinityName`.
    #[serde(flatten)]
    pub cluster_affinity: ClusterAffinity,
}

/// A cluster attribute that clusters can be grouped by when spreading.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum SpreadFieldValue {
    /// Each cluster is its own group.
    #[default]
    #[serde(rename = "cluster")]
    Cluster,
    /// Clusters are grouped by region.
    #[serde(rename = "region")]
    Region,
    /// Clusters are grouped by zone.
    #[serde(rename = "zone")]
    Zone,
    /// Clusters are grouped by cloud provider.
    #[serde(rename = "provider")]
    Provider,
}

/// Bounds on the number of cluster groups a resource is spread over.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SpreadConstraint {
    /// The cluster field to group by. Cannot be combined with `spreadByLabel`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spread_by_field: Option<SpreadFieldValue>,

    /// A cluster label whose values form the groups. Cannot be combined with `spreadByField`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spread_by_label: Option<String>,

    /// The most groups to use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_groups: Option<i64>,

    /// The fewest groups to use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_groups: Option<i64>,
}

/// Whether each cluster gets all the replicas or a share of them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ReplicaSchedulingType {
    /// Every selected cluster runs the full replica count of the template.
    Duplicated,
    /// The template's replica count is split between the selected clusters.
    #[default]
    Divided,
}

/// How `Divided` replicas are shared out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ReplicaDivisionPreference {
    /// Packs replicas onto as few clusters as their free capacity allows.
    Aggregated,
    /// Shares replicas in proportion to the weights in `weightPreference`.
    #[default]
    Weighted,
}

/// How the replicas of a workload are assigned to clusters.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplicaSchedulingStrategy {
    /// `Duplicated` or `Divided`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica_scheduling_type: Option<ReplicaSchedulingType>,

    /// For `Divided` only: `Aggregated` or `Weighted`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica_division_preference: Option<ReplicaDivisionPreference>,

    /// For `Weighted` only: the weights to divide by. When absent every cluster weighs the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight_preference: Option<ClusterPreferences>,
}

/// Weights for dividing replicas, either fixed per cluster or computed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterPreferences {
    /// Fixed weights for the clusters each entry matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub static_weight_list: Option<Vec<StaticClusterWeight>>,

    /// A factor the weights are computed from at scheduling time; takes precedence over `staticWeightList`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dynamic_weight: Option<DynamicWeightFactor>,
}

/// A fixed weight for the clusters matching a filter.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StaticClusterWeight {
    /// The clusters this weight applies to.
    pub target_cluster: ClusterAffinity,

    /// The weight, at least 1.
    #[schemars(range(min = 1))]
    pub weight: i64,
}

/// What dynamic weights are computed from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum DynamicWeightFactor {
    /// Each cluster weighs as many replicas as it can still fit.
    #[default]
    AvailableReplicas,
}

/// Co-location rules between workloads.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadAffinity {
    /// Workloads sharing a group value are placed on the same clusters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<WorkloadAffinityTerm>,

    /// Workloads sharing a group value are kept on different clusters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anti_affinity: Option<WorkloadAntiAffinityTerm>,
}

/// Groups workloads that should be placed together.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadAffinityTerm {
    /// The workload label whose value defines the group.
    pub group_by_label_key: String,
}

/// Groups workloads that should be kept apart.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadAntiAffinityTerm {
    /// The workload label whose value defines the group.
    pub group_by_label_key: String,
}
