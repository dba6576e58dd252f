//! What a served resource is: names, scope, verbs and subresources, as discovery and the router need them.

use crate::machinery::GroupResource;

/// Static description of one served resource at one version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceInfo {
    /// API group (`""` for core).
    pub group: String,
    /// Version, e.g. `v1alpha1`.
    pub version: String,
    /// Kind, e.g. `Cluster`.
    pub kind: String,
    /// List kind, e.g. `ClusterList`.
    pub list_kind: String,
    /// Plural resource name, e.g. `clusters`.
    pub plural: String,
    /// Singular name, e.g. `cluster`.
    pub singular: String,
    /// Namespaced (true) or cluster-scoped.
    pub namespaced: bool,
    /// Short names, e.g. `["pp"]`.
    pub short_names: Vec<String>,
    /// Categories, e.g. `["all"]` or `["karmada-io"]`.
    pub categories: Vec<String>,
    /// Whether a `/status` subresource splits status writes from spec writes.
    pub status_subresource: bool,
    /// The group and resource objects are stored under (`<prefix>/<group>/<resource>/...`); usually the same.
    pub storage: GroupResource,
}

impl ResourceInfo {
    /// A resource whose list kind is `<Kind>List`, singular is the lower-cased kind, stored under its own name.
    pub fn new(group: &str, version: &str, kind: &str, plural: &str, namespaced: bool) -> Self {
        Self {
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
            list_kind: format!("{kind}List"),
            plural: plural.into(),
            singular: kind.to_lowercase(),
            namespaced,
            short_names: Vec::new(),
            categories: Vec::new(),
            status_subresource: false,
            storage: GroupResource::new(group, plural),
        }
    }

    /// With short names.
    pub fn short_names(mut self, names: &[&str]) -> Self {
        self.short_names = names.iter().map(|s| s.to_string()).collect();
        self
    }

    /// With categories.
    pub fn categories(mut self, categories: &[&str]) -> Self {
        self.categories = categories.iter().map(|s| s.to_string()).collect();
        self
    }

    /// With a `/status` subresource.
    pub fn with_status(mut self) -> Self {
        self.status_subresource = true;
        self
    }

    /// `apiVersion` of its objects: `v1` or `apps/v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() { self.version.clone() } else { format!("{}/{}", self.group, self.version) }
    }

    /// The group and resource, for error messages.
    pub fn group_resource(&self) -> GroupResource {
        GroupResource::new(&self.group, &self.plural)
    }
}
