//! `cluster.karmada.io/v1alpha1`: `Cluster` (cluster-scoped, with a status subresource) and its supporting types.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Taint;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// API group of these types.
pub const GROUP: &str = "cluster.karmada.io";
/// API version of these types.
pub const VERSION: &str = "v1alpha1";

/// Condition type: the control plane can reach the member cluster and it reports healthy.
pub const CLUSTER_CONDITION_READY: &str = "Ready";
/// Condition type: the list of APIs the member cluster serves was collected in full.
pub const CLUSTER_CONDITION_COMPLETE_API_ENABLEMENTS: &str = "CompleteAPIEnablements";
/// Key, in the Secret named by `secretRef`/`impersonatorSecretRef`, that holds the bearer token.
pub const SECRET_TOKEN_KEY: &str = "token";
/// Key, in the Secret named by `secretRef`, that holds the CA certificate bundle.
pub const SECRET_CA_DATA_KEY: &str = "caBundle";
/// Taint key put on a cluster whose Ready condition is False.
pub const TAINT_CLUSTER_NOT_READY: &str = "cluster.karmada.io/not-ready";
/// Taint key put on a cluster whose Ready condition is Unknown (it cannot be reached).
pub const TAINT_CLUSTER_UNREACHABLE: &str = "cluster.karmada.io/unreachable";
/// Taint key marking a cluster that must not receive new workloads.
pub const TAINT_CLUSTER_UNSCHEDULABLE: &str = "cluster.karmada.io/unschedulable";

crate::kind::karmada_kind! {
    /// A member cluster registered with the control plane: how to reach it and what state it is in.
    kind Cluster, list ClusterList {
        group: "cluster.karmada.io",
        version: "v1alpha1",
        plural: "clusters",
        scope: ClusterResourceScope,
        spec("How the control plane talks to the cluster and what it describes about it."): ClusterSpec,
        status("What the control plane last observed about the cluster."): ClusterStatus,
    }
}

/// How the control plane connects to a member cluster, and where the cluster sits.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterSpec {
    /// A unique identifier of the cluster, normally taken from its `cluster.clusterset.k8s.io` ClusterProperty or
    /// the UID of its kube-system namespace. Set at registration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Whether the control plane pushes resources to the cluster itself (`Push`) or an agent running in the cluster
    /// pulls them (`Pull`).
    pub sync_mode: ClusterSyncMode,
    /// URL of the member cluster's Kubernetes API server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_endpoint: Option<String>,
    /// Secret in the control plane holding the credentials (`token`, `caBundle`) used to talk to the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalSecretReference>,
    /// Secret in the control plane holding the token of the account used to impersonate users on the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impersonator_secret_ref: Option<LocalSecretReference>,
    /// Skip verification of the cluster API server's TLS certificate. Insecure; for testing only.
    #[serde(default, rename = "insecureSkipTLSVerification", skip_serializing_if = "Option::is_none")]
    pub insecure_skip_tls_verification: Option<bool>,
    /// Proxy URL (http, https or socks5) through which the cluster's API server is reached.
    #[serde(default, rename = "proxyURL", skip_serializing_if = "Option::is_none")]
    pub proxy_url: Option<String>,
    /// Extra HTTP headers sent to the proxy; several values for one header are separated by commas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_header: Option<BTreeMap<String, String>>,
    /// Name of the cloud provider hosting the cluster, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// Region the cluster runs in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Zone the cluster runs in. Deprecated: use `zones`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// Zones the cluster spans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zones: Option<Vec<String>>,
    /// Taints on the cluster; workloads are scheduled here only if their placement tolerates them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taints: Option<Vec<Taint>>,
    /// Grades that bucket the cluster's nodes by capacity, used to estimate how many replicas fit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_models: Option<Vec<ResourceModel>>,
}

/// How resources reach a member cluster.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ClusterSyncMode {
    /// The control plane writes to the member cluster's API server directly.
    #[default]
    Push,
    /// An agent inside the member cluster fetches its work from the control plane.
    Pull,
}

/// Names a Secret in the control plane.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LocalSecretReference {
    /// Namespace of the Secret.
    pub namespace: String,
    /// Name of the Secret.
    pub name: String,
}

/// One grade of node capacity: a node belongs to it when every listed resource falls within its range.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceModel {
    /// Rank of the grade; higher grades describe larger nodes.
    pub grade: u64,
    /// Resource ranges that define the grade.
    pub ranges: Vec<ResourceModelRange>,
}

/// A half-open interval `[min, max)` of one resource.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceModelRange {
    /// Resource name: `cpu`, `memory`, `storage` or `ephemeral-storage`.
    pub name: String,
    /// Lower bound, inclusive.
    pub min: Quantity,
    /// Upper bound, exclusive.
    pub max: Quantity,
}

/// What the control plane last observed about a member cluster.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterStatus {
    /// Kubernetes version the member cluster reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes_version: Option<String>,
    /// API groups/versions and resources the member cluster serves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_enablements: Option<Vec<APIEnablement>>,
    /// Observations of the cluster's state, such as `Ready` and `CompleteAPIEnablements`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<Condition>>,
    /// Node counts of the member cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_summary: Option<NodeSummary>,
    /// Resource totals of the member cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_summary: Option<ResourceSummary>,
    /// Remedies currently applied to the cluster (for example traffic control).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remedy_actions: Option<Vec<String>>,
}

/// The resources served by one API group/version of a member cluster.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct APIEnablement {
    /// The group/version, such as `apps/v1`.
    pub group_version: String,
    /// Resources served under that group/version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Vec<APIResource>>,
}

/// One resource served by a member cluster.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct APIResource {
    /// Plural resource name, such as `deployments`.
    pub name: String,
    /// Kind of the resource, such as `Deployment`.
    pub kind: String,
}

/// Node counts of a member cluster.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeSummary {
    /// Number of nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_num: Option<i32>,
    /// Number of nodes that are Ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_num: Option<i32>,
}

/// Resource totals of a member cluster, by resource name.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceSummary {
    /// Sum of the allocatable resources of all nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocatable: Option<BTreeMap<String, Quantity>>,
    /// Resources requested by pods that are not scheduled yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocating: Option<BTreeMap<String, Quantity>>,
    /// Resources requested by pods already scheduled to nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocated: Option<BTreeMap<String, Quantity>>,
    /// How many nodes fall into each grade of `spec.resourceModels`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocatable_modelings: Option<Vec<AllocatableModeling>>,
}

/// Number of nodes in one resource-model grade.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AllocatableModeling {
    /// The grade, matching `spec.resourceModels[].grade`.
    pub grade: u64,
    /// Number of nodes in that grade.
    pub count: i64,
}

/// Options of a request to the `clusters/{name}/proxy` subresource.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterProxyOptions {
    /// Path to forward to the member cluster's API server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}
