//! `search.karmada.io/v1alpha1`: ResourceRegistry, which tells the search component which resources of which member clusters to cache.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{kind::karmada_kind, policy::ClusterAffinity};

#[cfg(test)]
mod tests;

karmada_kind! {
    /// Names member clusters and resource types whose objects the search component caches and serves.
    kind ResourceRegistry, list ResourceRegistryList {
        group: "search.karmada.io",
        version: "v1alpha1",
        plural: "resourceregistries",
        scope: ClusterResourceScope,
        spec("Which clusters and resource types to cache, and where to store them."): ResourceRegistrySpec,
        status("What the search component last observed for this registry."): ResourceRegistryStatus,
    }
}

/// The clusters and resource types a registry covers.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceRegistrySpec {
    /// The member clusters whose resources are cached.
    #[serde(default)]
    pub target_cluster: ClusterAffinity,

    /// The resource types to cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_selectors: Option<Vec<ResourceSelector>>,

    /// An external store for the cached objects. Absent means they are kept in memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend_store: Option<BackendStoreConfig>,
}

/// A resource type to cache, optionally limited to one namespace.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceSelector {
    /// The API version of the resources, such as `apps/v1`.
    pub api_version: String,

    /// The kind of the resources, such as `Deployment`.
    pub kind: String,

    /// The namespace to cache from. Absent means every namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// Where cached objects are stored.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackendStoreConfig {
    /// Store them in OpenSearch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_search: Option<OpenSearchConfig>,
}

/// How to reach an OpenSearch cluster.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OpenSearchConfig {
    /// The OpenSearch endpoints, such as `https://opensearch.example:9200`.
    #[serde(default)]
    pub addresses: Vec<String>,

    /// The Secret holding the `userName` and `password` to log in with.
    #[serde(default)]
    pub secret_ref: LocalSecretReference,
}

/// Names a Secret on the control plane.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LocalSecretReference {
    /// The namespace of the Secret.
    pub namespace: String,

    /// The name of the Secret.
    pub name: String,
}

/// What the search component last observed for a registry.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceRegistryStatus {
    /// The latest observations of the registry's state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<Condition>>,
}
