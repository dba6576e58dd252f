//! Storage key layout: `<prefix>/<group>/<resource>/[<namespace>/]<name>`, the core group written `core`.

/// Builds keys under one configurable prefix (default `/registry`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeySpace {
    prefix: String,
}

/// The name the key layout uses for the core (`""`) API group.
pub const CORE_GROUP_SEGMENT: &str = "core";

impl Default for KeySpace {
    fn default() -> Self {
        Self::new("/registry")
    }
}

impl KeySpace {
    /// A key space rooted at `prefix`; a missing leading `/` is added and trailing ones are dropped.
    pub fn new(prefix: &str) -> Self {
        let trimmed = prefix.trim_end_matches('/');
        let prefix = if trimmed.starts_with('/') { trimmed.to_string() } else { format!("/{trimmed}") };
        Self { prefix }
    }

    /// The prefix without a trailing slash, e.g. `/registry`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The prefix every key of this key space starts with, e.g. `/registry/`.
    pub fn root(&self) -> String {
        format!("{}/", self.prefix)
    }

    /// Every object of one resource, e.g. `/registry/apps/deployments/`.
    pub fn resource_prefix(&self, group: &str, resource: &str) -> String {
        let group = if group.is_empty() { CORE_GROUP_SEGMENT } else { group };
        format!("{}/{group}/{resource}/", self.prefix)
    }

    /// Every object of one namespaced resource in one namespace, e.g. `/registry/apps/deployments/default/`.
    pub fn namespace_prefix(&self, group: &str, resource: &str, namespace: &str) -> String {
        format!("{}{namespace}/", self.resource_prefix(group, resource))
    }

    /// One object's key; `namespace` is `None` for cluster-scoped resources.
    pub fn object_key(&self, group: &str, resource: &str, namespace: Option<&str>, name: &str) -> String {
        match namespace {
            Some(namespace) => format!("{}{name}", self.namespace_prefix(group, resource, namespace)),
            None => format!("{}{name}", self.resource_prefix(group, resource)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaced_objects_live_under_group_resource_and_namespace() {
        let keys = KeySpace::default();
        assert_eq!(
            keys.object_key("policy.karmada.io", "propagationpolicies", Some("default"), "nginx"),
            "/registry/policy.karmada.io/propagationpolicies/default/nginx"
        );
    }

    #[test]
    fn cluster_scoped_objects_have_no_namespace_segment() {
        let keys = KeySpace::default();
        assert_eq!(
            keys.object_key("cluster.karmada.io", "clusters", None, "member1"),
            "/registry/cluster.karmada.io/clusters/member1"
        );
    }

    #[test]
    fn the_core_group_is_written_core() {
        let keys = KeySpace::default();
        assert_eq!(
            keys.object_key("", "configmaps", Some("kube-system"), "x"),
            "/registry/core/configmaps/kube-system/x"
        );
    }

    #[test]
    fn prefixes_are_normalised() {
        assert_eq!(KeySpace::new("flotilla/").root(), "/flotilla/");
        assert_eq!(KeySpace::new("/a/b//").prefix(), "/a/b");
    }
}
