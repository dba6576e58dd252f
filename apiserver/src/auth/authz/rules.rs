//! RBAC rule and subject matching, with the semantics of Kubernetes' `rbac/v1` evaluation helpers.

use k8s_openapi::api::rbac::v1::{PolicyRule, Subject};

use crate::auth::{Attributes, UserInfo};

/// The wildcard that matches every verb, group, resource or non-resource URL.
const ALL: &str = "*";

/// The user-name prefix of service accounts (`system:serviceaccount:<namespace>:<name>`).
pub const SERVICE_ACCOUNT_PREFIX: &str = "system:serviceaccount:";

fn list(values: &Option<Vec<String>>) -> &[String] {
    values.as_deref().unwrap_or_default()
}

/// Whether the rule names `verb` (or `*`).
pub fn verb_matches(rule: &PolicyRule, verb: &str) -> bool {
    rule.verbs.iter().any(|v| v == ALL || v == verb)
}

/// Whether the rule names the API group (or `*`).
pub fn api_group_matches(rule: &PolicyRule, group: &str) -> bool {
    list(&rule.api_groups).iter().any(|g| g == ALL || g == group)
}

/// Whether the rule names the resource: `*`, the exact `resource` or `resource/subresource`, or `*/subresource`.
pub fn resource_matches(rule: &PolicyRule, combined: &str, subresource: &str) -> bool {
    list(&rule.resources).iter().any(|r| {
        r == ALL
            || r == combined
            || (!subresource.is_empty() && r.strip_prefix("*/").is_some_and(|sub| sub == subresource))
    })
}

/// Whether the rule allows the object name: any name when the rule lists none, else only a listed name (so a
/// request without a name, such as create or list, never matches a rule with `resourceNames`).
pub fn resource_name_matches(rule: &PolicyRule, name: &str) -> bool {
    let names = list(&rule.resource_names);
    names.is_empty() || names.iter().any(|n| n == name)
}

/// Whether the rule names the path: `*`, the exact path, or a prefix ending in `*`.
pub fn non_resource_url_matches(rule: &PolicyRule, path: &str) -> bool {
    list(&rule.non_resource_urls)
        .iter()
        .any(|url| url == ALL || url == path || url.strip_suffix('*').is_some_and(|prefix| path.starts_with(prefix)))
}

/// Whether the rule allows the request.
pub fn rule_allows(attributes: &Attributes, rule: &PolicyRule) -> bool {
    if !verb_matches(rule, &attributes.verb) {
        return false;
    }
    if !attributes.resource_request {
        return non_resource_url_matches(rule, &attributes.path);
    }
    let combined = if attributes.subresource.is_empty() {
        attributes.resource.clone()
    } else {
        format!("{}/{}", attributes.resource, attributes.subresource)
    };
    api_group_matches(rule, &attributes.api_group)
        && resource_matches(rule, &combined, &attributes.subresource)
        && resource_name_matches(rule, &attributes.name)
}

/// The user name of service account `name` in `namespace`.
pub fn service_account_user(namespace: &str, name: &str) -> String {
    format!("{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}")
}

/// Whether `subject` of a binding in `binding_namespace` ("" for a ClusterRoleBinding) is `user`. A ServiceAccount
/// subject without a namespace means one in the binding's namespace.
pub fn subject_applies(user: &UserInfo, subject: &Subject, binding_namespace: &str) -> bool {
    match subject.kind.as_str() {
        "User" => user.name == subject.name,
        "Group" => user.in_group(&subject.name),
        "ServiceAccount" => {
            let namespace = subject.namespace.as_deref().filter(|ns| !ns.is_empty()).unwrap_or(binding_namespace);
            if namespace.is_empty() {
                return false;
            }
            user.name
                .strip_prefix(SERVICE_ACCOUNT_PREFIX)
                .and_then(|rest| rest.split_once(':'))
                .is_some_and(|(ns, name)| ns == namespace && name == subject.name)
        }
        _ => false,
    }
}

/// Whether `rules` already holds a rule equal to `rule` (nil and empty lists count as equal).
pub fn contains_rule(rules: &[PolicyRule], rule: &PolicyRule) -> bool {
    rules.iter().any(|r| same_rule(r, rule))
}

/// Rule equality as Kubernetes' semantic comparison sees it: absent and empty lists are the same.
pub fn same_rule(a: &PolicyRule, b: &PolicyRule) -> bool {
    a.verbs == b.verbs
        && list(&a.api_groups) == list(&b.api_groups)
        && list(&a.resources) == list(&b.resources)
        && list(&a.resource_names) == list(&b.resource_names)
        && list(&a.non_resource_urls) == list(&b.non_resource_urls)
}

/// One rule per verb × group × resource (× name), or per verb × non-resource URL, as kube breaks rules down to
/// check coverage.
pub fn break_down(rule: &PolicyRule) -> Vec<PolicyRule> {
    let one = |value: &String| Some(vec![value.clone()]);
    let mut atoms = Vec::new();
    for group in list(&rule.api_groups) {
        for resource in list(&rule.resources) {
            for verb in &rule.verbs {
                let atom = PolicyRule {
                    api_groups: one(group),
                    resources: one(resource),
                    verbs: vec![verb.clone()],
                    ..PolicyRule::default()
                };
                let names = list(&rule.resource_names);
                if names.is_empty() {
                    atoms.push(atom);
                } else {
                    atoms.extend(names.iter().map(|name| PolicyRule { resource_names: one(name), ..atom.clone() }));
                }
            }
        }
    }
    for url in list(&rule.non_resource_urls) {
        for verb in &rule.verbs {
            atoms.push(PolicyRule { non_resource_urls: one(url), verbs: vec![verb.clone()], ..PolicyRule::default() });
        }
    }
    atoms
}

fn has_all(set: &[String], wanted: &[String]) -> bool {
    wanted.iter().all(|w| set.contains(w))
}

fn resources_cover(set: &[String], wanted: &[String]) -> bool {
    if set.iter().any(|r| r == ALL) || has_all(set, wanted) {
        return true;
    }
    wanted.iter().all(|path| {
        set.contains(path)
            || path.split_once('/').is_some_and(|(_, sub)| set.iter().any(|r| r.strip_prefix("*/") == Some(sub)))
    })
}

fn urls_cover(set: &[String], wanted: &[String]) -> bool {
    wanted.iter().all(|url| {
        set.iter().any(|owner| {
            owner == ALL || owner == url || owner.strip_suffix('*').is_some_and(|prefix| url.starts_with(prefix))
        })
    })
}

/// Whether `owner` grants everything `sub` does (kube's `ruleCovers`).
pub fn rule_covers(owner: &PolicyRule, sub: &PolicyRule) -> bool {
    let verbs = owner.verbs.iter().any(|v| v == ALL) || has_all(&owner.verbs, &sub.verbs);
    let groups =
        list(&owner.api_groups).iter().any(|g| g == ALL) || has_all(list(&owner.api_groups), list(&sub.api_groups));
    let (owner_names, sub_names) = (list(&owner.resource_names), list(&sub.resource_names));
    let names = owner_names.is_empty() || (!sub_names.is_empty() && has_all(owner_names, sub_names));
    verbs
        && groups
        && names
        && resources_cover(list(&owner.resources), list(&sub.resources))
        && urls_cover(list(&owner.non_resource_urls), list(&sub.non_resource_urls))
}

/// The parts of `wanted` that `owned` does not grant (empty when it covers them all).
pub fn uncovered(owned: &[PolicyRule], wanted: &[PolicyRule]) -> Vec<PolicyRule> {
    wanted.iter().flat_map(break_down).filter(|atom| !owned.iter().any(|owner| rule_covers(owner, atom))).collect()
}

/// kube's compact rendering of a rule: `{APIGroups:["apps"], Resources:["deployments"], Verbs:["get" "list"]}`.
pub fn compact_string(rule: &PolicyRule) -> String {
    let quoted = |values: &[String]| {
        let items: Vec<String> = values.iter().map(|v| format!("{v:?}")).collect();
        format!("[{}]", items.join(" "))
    };
    let mut parts = Vec::new();
    for (label, values) in [
        ("APIGroups", list(&rule.api_groups)),
        ("Resources", list(&rule.resources)),
        ("NonResourceURLs", list(&rule.non_resource_urls)),
        ("ResourceNames", list(&rule.resource_names)),
        ("Verbs", rule.verbs.as_slice()),
    ] {
        if !values.is_empty() {
            parts.push(format!("{label}:{}", quoted(values)));
        }
    }
    format!("{{{}}}", parts.join(", "))
}

/// Merges atomic rules that differ only in their verb (kube's `CompactRules`), keeping first-seen order.
pub fn compact(atoms: &[PolicyRule]) -> Vec<PolicyRule> {
    let mut merged: Vec<PolicyRule> = Vec::new();
    for atom in atoms {
        let mergeable = list(&atom.resource_names).is_empty() && list(&atom.non_resource_urls).is_empty();
        let same = merged.iter_mut().find(|m| {
            mergeable
                && list(&m.resource_names).is_empty()
                && list(&m.non_resource_urls).is_empty()
                && m.api_groups == atom.api_groups
                && m.resources == atom.resources
        });
        match same {
            Some(rule) => {
                for verb in &atom.verbs {
                    if !rule.verbs.contains(verb) {
                        rule.verbs.push(verb.clone());
                    }
                }
            }
            None => merged.push(atom.clone()),
        }
    }
    merged
}
