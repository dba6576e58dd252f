//! OverridePolicy and ClusterOverridePolicy: per-cluster changes applied to resources as they are propagated.

use crate::kind::karmada_kind;
use std::collections::BTreeMap;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSON;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{ClusterAffinity, ResourceSelector};

karmada_kind! {
    /// Changes resources of its own namespace differently for each member cluster they are propagated to.
    kind OverridePolicy, list OverridePolicyList {
        group: "policy.karmada.io",
        version: "v1alpha1",
        plural: "overridepolicies",
        scope: NamespaceResourceScope,
        spec("Which resources to change, and how on which clusters."): OverrideSpec,
    }
}

karmada_kind! {
    /// Changes resources of any namespace, or cluster-scoped ones, differently for each member cluster they are
    /// propagated to.
    kind ClusterOverridePolicy, list ClusterOverridePolicyList {
        group: "policy.karmada.io",
        version: "v1alpha1",
        plural: "clusteroverridepolicies",
        scope: ClusterResourceScope,
        spec("Which resources to change, and how on which clusters."): OverrideSpec,
    }
}

/// The desired behaviour of an override policy.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OverrideSpec {
    /// The resources to change. Absent means every resource the policy can see.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_selectors: Option<Vec<ResourceSelector>>,

    /// Changes to make, each on its own set of clusters; applied in list order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub override_rules: Option<Vec<RuleWithCluster>>,

    /// Deprecated: use `overrideRules`. The clusters the top-level `overriders` apply to; absent means all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_cluster: Option<ClusterAffinity>,

    /// Deprecated: use `overrideRules`. Changes applied on the clusters of the top-level `targetCluster`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overriders: Option<Overriders>,
}

/// A set of changes and the clusters they apply to.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RuleWithCluster {
    /// The clusters this rule applies to. Absent means every cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_cluster: Option<ClusterAffinity>,

    /// The changes to make.
    #[serde(default)]
    pub overriders: Overriders,
}

/// The changes to make, by kind. Whatever the order here, they are applied as: image, command, args, labels,
/// annotations, field, plaintext.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Overriders {
    /// Raw JSON patch operations on the whole resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plaintext: Option<Vec<PlaintextOverrider>>,

    /// Changes to parts of container image references.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_overrider: Option<Vec<ImageOverrider>>,

    /// Changes to the command of named containers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_overrider: Option<Vec<CommandArgsOverrider>>,

    /// Changes to the arguments of named containers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args_overrider: Option<Vec<CommandArgsOverrider>>,

    /// Changes to the resource's labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels_overrider: Option<Vec<LabelAnnotationOverrider>>,

    /// Changes to the resource's annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations_overrider: Option<Vec<LabelAnnotationOverrider>>,

    /// Changes inside a field that holds an embedded JSON or YAML document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_overrider: Option<Vec<FieldOverrider>>,
}

/// The operation an overrider performs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum OverriderOperator {
    /// Add the value.
    #[default]
    #[serde(rename = "add")]
    Add,
    /// Remove the value.
    #[serde(rename = "remove")]
    Remove,
    /// Replace what is there with the value.
    #[serde(rename = "replace")]
    Replace,
}

/// A JSON patch operation on the whole resource.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlaintextOverrider {
    /// The JSON pointer (RFC 6901) of the field to change.
    pub path: String,

    /// `add`, `remove` or `replace`.
    pub operator: OverriderOperator,

    /// The value to add or replace with; ignored by `remove`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<JSON>,
}

/// Changes one part of container image references.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImageOverrider {
    /// Which image reference to change. Absent means the images of every container of a known workload kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicate: Option<ImagePredicate>,

    /// The part of the reference to change: `Registry`, `Repository` or `Tag`.
    pub component: ImageComponent,

    /// `add`, `remove` or `replace`.
    pub operator: OverriderOperator,

    /// The new text for the part; ignored by `remove`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// Locates an image reference in the resource.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImagePredicate {
    /// The JSON pointer of the image field, such as `/spec/template/spec/containers/0/image`.
    pub path: String,
}

/// A part of an image reference `registry/repository:tag`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ImageComponent {
    /// The registry host, such as `docker.io`.
    #[default]
    Registry,
    /// The repository path, such as `library/nginx`.
    Repository,
    /// The tag, such as `1.25`.
    Tag,
}

/// Changes the command or the arguments of one container.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommandArgsOverrider {
    /// The container to change.
    pub container_name: String,

    /// `add` (append) or `remove`.
    pub operator: OverriderOperator,

    /// The items to append or remove.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Vec<String>>,
}

/// Changes labels or annotations.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LabelAnnotationOverrider {
    /// `add`, `remove` or `replace`.
    pub operator: OverriderOperator,

    /// The keys and values to add, remove or replace.
    #[serde(default)]
    pub value: BTreeMap<String, String>,
}

/// Changes inside a string field that holds a JSON or YAML document, such as a ConfigMap entry.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FieldOverrider {
    /// The JSON pointer (RFC 6901) of the field holding the document.
    pub field_path: String,

    /// Operations on the field read as JSON. Cannot be combined with `yaml`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<Vec<JSONPatchOperation>>,

    /// Operations on the field read as YAML. Cannot be combined with `json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub yaml: Option<Vec<YAMLPatchOperation>>,
}

/// One operation inside an embedded JSON document.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[allow(clippy::upper_case_acronyms)]
pub struct JSONPatchOperation {
    /// The JSON pointer, inside the document, of the place to change.
    pub sub_path: String,

    /// `add`, `remove` or `replace`.
    pub operator: OverriderOperator,

    /// The value to add or replace with; ignored by `remove`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<JSON>,
}

/// One operation inside an embedded YAML document.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[allow(clippy::upper_case_acronyms)]
pub struct YAMLPatchOperation {
    /// The JSON pointer, inside the document, of the place to change.
    pub sub_path: String,

    /// `add`, `remove` or `replace`.
    pub operator: OverriderOperator,

    /// The value to add or replace with; ignored by `remove`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<JSON>,
}
