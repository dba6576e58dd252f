//! PropagationPolicy and ClusterPropagationPolicy: which resource templates are propagated, and with what behaviour.

use crate::kind::karmada_kind;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Placement;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

karmada_kind! {
    /// Selects resource templates in its own namespace and says to which member clusters they are propagated.
    kind PropagationPolicy, list PropagationPolicyList {
        group: "policy.karmada.io",
        version: "v1alpha1",
        plural: "propagationpolicies",
        scope: NamespaceResourceScope,
        spec("What to propagate, where, and how."): PropagationSpec,
    }
}

karmada_kind! {
    /// Selects resource templates in any namespace, or cluster-scoped ones, and says to which member clusters they
    /// are propagated.
    kind ClusterPropagationPolicy, list ClusterPropagationPolicyList {
        group: "policy.karmada.io",
        version: "v1alpha1",
        plural: "clusterpropagationpolicies",
        scope: ClusterResourceScope,
        spec("What to propagate, where, and how."): PropagationSpec,
    }
}

/// The desired behaviour of a propagation policy.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PropagationSpec {
    /// The resource templates this policy applies to; at least one is required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub resource_selectors: Option<Vec<ResourceSelector>>,

    /// Deprecated: use `propagateDeps` instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub association: Option<bool>,

    /// When true, what the selected resources depend on (config maps, secrets, service accounts and so on) is
    /// propagated along with them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub propagate_deps: Option<bool>,

    /// Where the selected resources go.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<Placement>,

    /// Where several policies match one resource, the one with the highest priority wins. Defaults to 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i32>,

    /// Whether this policy may take resources over from a policy of lower priority. Defaults to `Never`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preemption: Option<PreemptionBehavior>,

    /// Names of the override policies the selected resources depend on; propagation waits for them to exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dependent_overrides: Option<Vec<String>>,

    /// The scheduler that places the selected resources. Defaults to `default-scheduler`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler_name: Option<String>,

    /// What happens when an application or a cluster fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failover: Option<FailoverBehavior>,

    /// What happens when a resource of the same name already exists in a member cluster. Defaults to `Abort`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conflict_resolution: Option<ConflictResolution>,

    /// When changes to this policy take effect. Absent means at once; `Lazy` means at the next change of each
    /// resource template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activation_preference: Option<ActivationPreference>,

    /// Pauses propagation of the selected resources, everywhere or on some clusters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspension: Option<Suspension>,

    /// When true, the propagated copies stay in the member clusters after the template is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preserve_resources_on_deletion: Option<bool>,

    /// Where the scheduling priority of the selected resources comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_priority: Option<SchedulePriority>,
}

/// Picks resource templates by type and then by name or labels.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceSelector {
    /// The API version of the target resources, such as `apps/v1`.
    pub api_version: String,

    /// The kind of the target resources, such as `Deployment`.
    pub kind: String,

    /// The namespace of the target resources. For a namespaced policy it is the policy's own namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,

    /// The name of the target resource. When set, `labelSelector` is ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,

    /// A label query over the target resources; used only when `name` is empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<LabelSelector>,
}

/// Whether a policy may take resources over from a lower-priority policy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum PreemptionBehavior {
    /// Take over resources already claimed by a policy of lower priority.
    Always,
    /// Leave resources already claimed by another policy alone.
    #[default]
    Never,
}

/// What happens when a resource with the same identity already exists in a member cluster.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ConflictResolution {
    /// Take the existing resource over and replace its content with the template's.
    Overwrite,
    /// Leave the existing resource alone and report the conflict.
    #[default]
    Abort,
}

/// When changes to a policy take effect.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ActivationPreference {
    /// Changes apply to each resource only when that resource template next changes.
    #[default]
    Lazy,
}

/// Pauses for propagation.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Suspension {
    /// When true, changes stop being dispatched to every member cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dispatching: Option<bool>,

    /// The member clusters to which changes stop being dispatched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dispatching_on_clusters: Option<SuspendClusters>,
}

/// A set of member clusters on which dispatching is paused.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SuspendClusters {
    /// The names of the paused clusters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_names: Option<Vec<String>>,
}

/// How the copy on a cluster that is being left is removed during failover.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum PurgeMode {
    /// Remove the old copy at once, before the new one is running.
    Directly,
    /// Remove the old copy once the new one is healthy, or after the grace period.
    #[default]
    Gracefully,
    /// Never remove the old copy automatically.
    Never,
}

/// Failover behaviour for application failures and for cluster failures.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FailoverBehavior {
    /// Moves the application away from a cluster where it stays unhealthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application: Option<ApplicationFailoverBehavior>,

    /// Moves the application away from a cluster that has failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterFailoverBehavior>,
}

/// Failover triggered by an unhealthy application.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationFailoverBehavior {
    /// When the application is judged failed.
    #[serde(default)]
    pub decision_conditions: DecisionConditions,

    /// How the copy on the failed cluster is removed. Defaults to `Gracefully`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purge_mode: Option<PurgeMode>,

    /// With `Gracefully`, the longest wait before the old copy is removed anyway, in seconds. Defaults to 600.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_period_seconds: Option<i32>,

    /// State to carry from the failed copy to its replacement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_preservation: Option<StatePreservation>,
}

/// Failover triggered by a failed cluster.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterFailoverBehavior {
    /// How the copy on the failed cluster is removed: `Directly` or `Gracefully`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purge_mode: Option<PurgeMode>,

    /// State to carry from the failed copy to its replacement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_preservation: Option<StatePreservation>,
}

/// Conditions under which an application counts as failed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DecisionConditions {
    /// How long, in seconds, the application must stay unhealthy before failover starts. Defaults to 300.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub toleration_seconds: Option<i32>,
}

/// State carried over to the replacement during failover.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatePreservation {
    /// Each rule copies one value from the failed copy's status into a label on the new copy.
    #[serde(default)]
    pub rules: Vec<StatePreservationRule>,
}

/// Copies one value from the failed copy's status into a label of its replacement.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatePreservationRule {
    /// The label that receives the value on the new copy.
    pub alias_label_name: String,

    /// A JSONPath, evaluated against the failed copy's status, that yields the value.
    pub json_path: String,
}

/// Where the scheduling priority of the selected resources comes from.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SchedulePriority {
    /// The kind of priority class `priorityClassName` names.
    pub priority_class_source: PriorityClassSource,

    /// The name of the priority class.
    pub priority_class_name: String,
}

/// The kind of object a scheduling priority is read from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum PriorityClassSource {
    /// A federated priority class defined on the control plane.
    FederatedPriorityClass,
    /// A Kubernetes `scheduling.k8s.io/v1` PriorityClass on the control plane.
    #[default]
    KubePriorityClass,
    /// The priority class named in the workload's pod template.
    PodPriorityClass,
}
