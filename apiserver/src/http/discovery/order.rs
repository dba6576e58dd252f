//! Discovery order: built-in groups by kube-apiserver's priority, versions GA before beta before alpha.

use std::cmp::Ordering;

/// Built-in groups in kube-aggregator's priority order (core first); other groups follow by name.
const GROUP_PRIORITY: [&str; 21] = [
    "",
    "apiregistration.k8s.io",
    "apps",
    "events.k8s.io",
    "authentication.k8s.io",
    "authorization.k8s.io",
    "autoscaling",
    "batch",
    "certificates.k8s.io",
    "networking.k8s.io",
    "policy",
    "rbac.authorization.k8s.io",
    "storage.k8s.io",
    "admissionregistration.k8s.io",
    "apiextensions.k8s.io",
    "scheduling.k8s.io",
    "coordination.k8s.io",
    "node.k8s.io",
    "discovery.k8s.io",
    "flowcontrol.apiserver.k8s.io",
    "resource.k8s.io",
];

/// The rank of a group: its index among built-ins, or after all of them.
pub fn group_rank(group: &str) -> usize {
    GROUP_PRIORITY.iter().position(|g| *g == group).unwrap_or(GROUP_PRIORITY.len())
}

/// Stability of a Kubernetes-style version: GA, beta, alpha, or not Kubernetes-style.
fn parse(version: &str) -> Option<(u64, u8, u64)> {
    let rest = version.strip_prefix('v')?;
    let digits = rest.chars().take_while(char::is_ascii_digit).count();
    let major: u64 = rest[..digits].parse().ok()?;
    let rest = &rest[digits..];
    if rest.is_empty() {
        return Some((major, 2, 0));
    }
    let (stability, number) = if let Some(n) = rest.strip_prefix("beta") {
        (1, n)
    } else if let Some(n) = rest.strip_prefix("alpha") {
        (0, n)
    } else {
        return None;
    };
    let minor: u64 = if number.is_empty() { 0 } else { number.parse().ok()? };
    Some((major, stability, minor))
}

/// Orders versions most preferred first: GA > beta > alpha, higher numbers first, then other names alphabetically.
pub fn version_cmp(a: &str, b: &str) -> Ordering {
    match (parse(a), parse(b)) {
        (Some((major_a, stability_a, minor_a)), Some((major_b, stability_b, minor_b))) => {
            stability_b.cmp(&stability_a).then(major_b.cmp(&major_a)).then(minor_b.cmp(&minor_a))
        }
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.cmp(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_sort_like_kubernetes() {
        let mut versions = vec!["v1alpha1", "foo", "v1beta1", "v2", "v1", "v2beta3", "v1beta2", "bar", "v10alpha1"];
        versions.sort_by(|a, b| version_cmp(a, b));
        assert_eq!(versions, vec!["v2", "v1", "v2beta3", "v1beta2", "v1beta1", "v10alpha1", "v1alpha1", "bar", "foo"]);
    }

    #[test]
    fn core_and_built_in_groups_come_before_custom_groups() {
        assert!(group_rank("") < group_rank("apps"));
        assert!(group_rank("apps") < group_rank("batch"));
        assert!(group_rank("apiextensions.k8s.io") < group_rank("cluster.karmada.io"));
        assert_eq!(group_rank("a.example.com"), group_rank("z.example.com"));
    }
}
