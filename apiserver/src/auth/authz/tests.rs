//! Unit tests of rule matching, subjects, the chain, aggregation, the bootstrap policy and the reviews.

use k8s_openapi::api::rbac::v1::{PolicyRule, Subject};
use serde_json::{Value, json};

use super::{
    AuthorizationMode, AuthorizerChain, aggregation, bootstrap,
    rbac::Policy,
    review,
    rules::{rule_allows, subject_applies},
};
use crate::auth::{Attributes, Decision, UserInfo};

fn user(name: &str, groups: &[&str]) -> UserInfo {
    UserInfo { name: name.into(), groups: groups.iter().map(|g| (*g).to_string()).collect(), ..UserInfo::default() }
}

fn request(who: &UserInfo, verb: &str, namespace: &str, group: &str, resource: &str, name: &str) -> Attributes {
    let (resource, subresource) = resource.split_once('/').unwrap_or((resource, ""));
    Attributes {
        user: who.clone(),
        verb: verb.into(),
        resource_request: true,
        namespace: namespace.into(),
        api_group: group.into(),
        api_version: "v1".into(),
        resource: resource.into(),
        subresource: subresource.into(),
        name: name.into(),
        path: String::new(),
    }
}

fn path_request(who: &UserInfo, verb: &str, path: &str) -> Attributes {
    Attributes { user: who.clone(), verb: verb.into(), path: path.into(), ..Attributes::default() }
}

fn policy_rule(value: Value) -> PolicyRule {
    serde_json::from_value(value).unwrap_or_default()
}

fn alice() -> UserInfo {
    user("alice", &["system:authenticated"])
}

#[test]
fn a_wildcard_rule_matches_every_verb_group_and_resource() {
    let rule = policy_rule(json!({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}));
    assert!(rule_allows(&request(&alice(), "deletecollection", "a", "apps", "deployments/scale", ""), &rule));
    assert!(!rule_allows(&path_request(&alice(), "get", "/healthz"), &rule));
}

#[test]
fn a_rule_for_a_resource_does_not_cover_its_subresources() {
    let rule = policy_rule(json!({"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}));
    assert!(rule_allows(&request(&alice(), "get", "a", "", "pods", "p"), &rule));
    assert!(!rule_allows(&request(&alice(), "get", "a", "", "pods/log", "p"), &rule));
    assert!(!rule_allows(&request(&alice(), "list", "a", "", "pods", ""), &rule));
    assert!(!rule_allows(&request(&alice(), "get", "a", "apps", "pods", "p"), &rule));
}

#[test]
fn a_star_slash_subresource_rule_matches_that_subresource_of_any_resource() {
    let rule =
        policy_rule(json!({"verbs": ["get"], "apiGroups": ["cluster.karmada.io", ""], "resources": ["*/proxy"]}));
    assert!(rule_allows(&request(&alice(), "get", "", "cluster.karmada.io", "clusters/proxy", "m1"), &rule));
    assert!(rule_allows(&request(&alice(), "get", "a", "", "services/proxy", "s"), &rule));
    assert!(!rule_allows(&request(&alice(), "get", "", "cluster.karmada.io", "clusters", "m1"), &rule));
    assert!(!rule_allows(&request(&alice(), "get", "", "cluster.karmada.io", "clusters/status", "m1"), &rule));
}

#[test]
fn resource_names_only_match_requests_that_name_an_object() {
    let rule = policy_rule(json!({
        "verbs": ["get", "list", "create"], "apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["one"]
    }));
    assert!(rule_allows(&request(&alice(), "get", "a", "", "configmaps", "one"), &rule));
    assert!(!rule_allows(&request(&alice(), "get", "a", "", "configmaps", "two"), &rule));
    assert!(!rule_allows(&request(&alice(), "list", "a", "", "configmaps", ""), &rule));
    assert!(!rule_allows(&request(&alice(), "create", "a", "", "configmaps", ""), &rule));
}

#[test]
fn non_resource_urls_match_exactly_or_by_a_trailing_star() {
    let rule = policy_rule(json!({"verbs": ["get"], "nonResourceURLs": ["/apis/*", "/version"]}));
    assert!(rule_allows(&path_request(&alice(), "get", "/apis/apps/v1"), &rule));
    assert!(rule_allows(&path_request(&alice(), "get", "/version"), &rule));
    assert!(!rule_allows(&path_request(&alice(), "get", "/version/x"), &rule));
    assert!(!rule_allows(&path_request(&alice(), "post", "/version"), &rule));
    assert!(!rule_allows(&request(&alice(), "get", "", "", "apis", ""), &rule));
}

#[test]
fn service_account_subjects_match_their_user_name_and_default_to_the_binding_namespace() {
    let sa = user("system:serviceaccount:team-a:builder", &[]);
    let subject = Subject { kind: "ServiceAccount".into(), name: "builder".into(), ..Subject::default() };
    assert!(subject_applies(&sa, &subject, "team-a"));
    assert!(!subject_applies(&sa, &subject, "team-b"));
    assert!(!subject_applies(&sa, &subject, ""));
    let qualified = Subject { namespace: Some("team-a".into()), ..subject };
    assert!(subject_applies(&sa, &qualified, "team-b"));
    let group = Subject { kind: "Group".into(), name: "devs".into(), ..Subject::default() };
    assert!(subject_applies(&user("bob", &["devs"]), &group, ""));
    assert!(!subject_applies(&user("devs", &[]), &group, ""));
}

fn role_binding(namespace: &str, name: &str, role_kind: &str, role: &str, subject: Value) -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": name, "namespace": namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
        "subjects": [subject],
    })
}

fn user_subject(name: &str) -> Value {
    json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": name})
}

/// The bootstrap policy with `admin`, `edit` and `view` aggregated, plus `extra` objects.
fn bootstrapped(extra: &[Value]) -> Policy {
    let mut objects = bootstrap::objects();
    objects.extend_from_slice(extra);
    let mut policy = Policy::from_objects(&objects);
    for _ in 0..3 {
        for (name, rules) in aggregation::pending(&policy) {
            let mut role = (*policy.cluster_roles[&(String::new(), name.clone())]).clone();
            role.rules = Some(rules);
            policy.cluster_roles.insert((String::new(), name), std::sync::Arc::new(role));
        }
    }
    policy
}

#[test]
fn a_role_binding_to_a_cluster_role_grants_it_only_in_the_binding_namespace() {
    let policy = bootstrapped(&[role_binding("team-a", "alice-edit", "ClusterRole", "edit", user_subject("alice"))]);
    let alice = alice();
    let pp = |ns: &str, verb: &str| request(&alice, verb, ns, "policy.karmada.io", "propagationpolicies", "");
    assert!(matches!(policy.authorize(&pp("team-a", "create")), Decision::Allow(_)));
    assert!(matches!(policy.authorize(&pp("team-b", "create")), Decision::NoOpinion(_)));
    assert!(matches!(policy.authorize(&pp("", "list")), Decision::NoOpinion(_)));
    let secret = |ns: &str| request(&alice, "get", ns, "", "secrets", "member1");
    assert!(matches!(policy.authorize(&secret("team-a")), Decision::Allow(_)));
    assert!(matches!(policy.authorize(&secret("karmada-cluster")), Decision::NoOpinion(_)));
}

#[test]
fn view_does_not_read_secrets_and_admin_manages_roles() {
    let policy = bootstrapped(&[
        role_binding("team-a", "v", "ClusterRole", "view", user_subject("viewer")),
        role_binding("team-a", "a", "ClusterRole", "admin", user_subject("boss")),
    ]);
    let viewer = user("viewer", &[]);
    let boss = user("boss", &[]);
    assert!(matches!(policy.authorize(&request(&viewer, "get", "team-a", "", "pods", "p")), Decision::Allow(_)));
    assert!(matches!(policy.authorize(&request(&viewer, "get", "team-a", "", "secrets", "s")), Decision::NoOpinion(_)));
    let pp = request(&viewer, "list", "team-a", "policy.karmada.io", "propagationpolicies", "");
    assert!(matches!(policy.authorize(&pp), Decision::Allow(_)));
    let roles = request(&boss, "create", "team-a", "rbac.authorization.k8s.io", "rolebindings", "");
    assert!(matches!(policy.authorize(&roles), Decision::Allow(_)));
    let pp = request(&boss, "delete", "team-a", "policy.karmada.io", "propagationpolicies", "x");
    assert!(matches!(policy.authorize(&pp), Decision::Allow(_)));
}

#[test]
fn the_allow_reason_names_the_binding_role_and_subject() {
    let policy = bootstrapped(&[role_binding("team-a", "alice-edit", "ClusterRole", "edit", user_subject("alice"))]);
    let decision = policy.authorize(&request(&alice(), "get", "team-a", "", "configmaps", "c"));
    assert_eq!(
        decision,
        Decision::Allow(
            r#"RBAC: allowed by RoleBinding "alice-edit/team-a" of ClusterRole "edit" to User "alice""#.into()
        )
    );
}

#[test]
fn a_binding_to_a_missing_role_is_reported_in_the_reason() {
    let policy = Policy::from_objects(&[role_binding("a", "b", "Role", "ghost", user_subject("alice"))]);
    let decision = policy.authorize(&request(&alice(), "get", "a", "", "pods", "p"));
    assert_eq!(decision, Decision::NoOpinion(r#"RBAC: role.rbac.authorization.k8s.io "ghost" not found"#.into()));
}

#[test]
fn anonymous_users_reach_only_the_public_paths() {
    let policy = bootstrapped(&[]);
    let anonymous = UserInfo::anonymous();
    for path in ["/healthz", "/livez", "/readyz", "/version"] {
        assert!(matches!(policy.authorize(&path_request(&anonymous, "get", path)), Decision::Allow(_)), "{path}");
    }
    assert!(matches!(policy.authorize(&path_request(&anonymous, "get", "/api")), Decision::NoOpinion(_)));
    let authenticated = alice();
    assert!(matches!(policy.authorize(&path_request(&authenticated, "get", "/apis/apps/v1")), Decision::Allow(_)));
    let ssar = request(&authenticated, "create", "", "authorization.k8s.io", "selfsubjectaccessreviews", "");
    assert!(matches!(policy.authorize(&ssar), Decision::Allow(_)));
}

#[tokio::test]
async fn the_chain_lets_masters_through_and_stops_at_the_first_decisive_answer() {
    let policy = bootstrapped(&[]);
    let deny_first =
        AuthorizerChain::fixed(&[AuthorizationMode::AlwaysDeny, AuthorizationMode::AlwaysAllow], policy.clone());
    let root = user("root", &["system:masters"]);
    assert!(matches!(deny_first.authorize(&request(&root, "delete", "a", "", "pods", "p")).await, Decision::Allow(_)));
    assert_eq!(
        deny_first.authorize(&request(&alice(), "get", "a", "", "pods", "p")).await,
        Decision::Deny("Everything is forbidden.".into())
    );
    let rbac_then_allow =
        AuthorizerChain::fixed(&[AuthorizationMode::Rbac, AuthorizationMode::AlwaysAllow], policy.clone());
    assert!(matches!(
        rbac_then_allow.authorize(&request(&alice(), "get", "a", "", "pods", "p")).await,
        Decision::Allow(_)
    ));
    let rbac = AuthorizerChain::fixed(&[AuthorizationMode::Rbac], policy);
    assert_eq!(
        rbac.authorize(&request(&alice(), "get", "a", "", "pods", "p")).await,
        Decision::NoOpinion(String::new())
    );
}

#[test]
fn aggregation_gathers_the_rules_of_matching_roles_in_name_order_without_duplicates() {
    let role = |name: &str, labels: Value, rules: Value| {
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
               "metadata": {"name": name, "labels": labels}, "rules": rules})
    };
    let read = json!({"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]});
    let write = json!({"verbs": ["create"], "apiGroups": [""], "resources": ["pods"]});
    let policy = Policy::from_objects(&[
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "sum"},
               "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"to-sum": "true"}}]}}),
        role("b", json!({"to-sum": "true"}), json!([write.clone(), read.clone()])),
        role("a", json!({"to-sum": "true"}), json!([read.clone()])),
        role("c", json!({"other": "true"}), json!([{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}])),
    ]);
    let pending = aggregation::pending(&policy);
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].0, "sum");
    assert_eq!(pending[0].1, vec![policy_rule(read), policy_rule(write)]);
}

#[test]
fn bootstrap_reconciliation_adds_missing_rules_only_to_autoupdated_objects() {
    let wanted = bootstrap::cluster_roles().into_iter().find(|r| r["metadata"]["name"] == "system:discovery");
    let Some(wanted) = wanted else { panic!("system:discovery is a default role") };
    let mut trimmed = wanted.clone();
    trimmed["rules"] = json!([{"verbs": ["get"], "nonResourceURLs": ["/custom"]}]);
    let Some(updated) = bootstrap::reconcile(&trimmed, &wanted) else { panic!("missing rules are added") };
    assert_eq!(updated["rules"].as_array().map(Vec::len), Some(2));
    assert_eq!(updated["rules"][0]["nonResourceURLs"], json!(["/custom"]));
    assert!(bootstrap::reconcile(&updated, &wanted).is_none());
    let mut frozen = trimmed.clone();
    frozen["metadata"]["annotations"][bootstrap::AUTOUPDATE_ANNOTATION] = json!("false");
    assert!(bootstrap::reconcile(&frozen, &wanted).is_none());
}

#[test]
fn every_default_object_carries_the_bootstrap_label_and_autoupdate_annotation() {
    for object in bootstrap::objects() {
        assert_eq!(object["metadata"]["labels"]["kubernetes.io/bootstrapping"], "rbac-defaults", "{object}");
        assert_eq!(object["metadata"]["annotations"][bootstrap::AUTOUPDATE_ANNOTATION], "true", "{object}");
    }
}

#[tokio::test]
async fn access_reviews_answer_for_the_named_or_requesting_user() {
    let chain = AuthorizerChain::fixed(
        &[AuthorizationMode::Rbac],
        bootstrapped(&[role_binding("team-a", "e", "ClusterRole", "edit", user_subject("alice"))]),
    );
    let spec = |ns: &str| {
        let attributes =
            json!({"namespace": ns, "verb": "create", "group": "policy.karmada.io", "resource": "propagationpolicies"});
        json!({"resourceAttributes": attributes})
    };
    let sar = json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                     "spec": {"user": "alice", "resourceAttributes": spec("team-a")["resourceAttributes"]}});
    let answered = review::subject_access_review(&chain, sar).await;
    assert_eq!(answered.ok().map(|r| r["status"]["allowed"].clone()), Some(json!(true)));
    let ssar =
        json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview", "spec": spec("team-b")});
    let answered = review::self_subject_access_review(&chain, &alice(), ssar).await;
    assert_eq!(answered.ok().map(|r| r["status"]["allowed"].clone()), Some(json!(false)));
    let local = json!({"spec": {"user": "alice", "resourceAttributes": spec("team-b")["resourceAttributes"]}});
    let mismatch = review::local_subject_access_review(&chain, "team-a", local).await;
    assert_eq!(mismatch.err().map(|e| e.code), Some(400));
    let empty = review::subject_access_review(&chain, json!({"spec": {"user": "alice"}})).await;
    assert_eq!(empty.err().map(|e| e.code), Some(422));
}

#[test]
fn a_rules_review_lists_the_rules_of_the_namespace() {
    let chain = AuthorizerChain::fixed(
        &[AuthorizationMode::Rbac],
        bootstrapped(&[role_binding("team-a", "e", "ClusterRole", "edit", user_subject("alice"))]),
    );
    let review = |ns: &str| json!({"kind": "SelfSubjectRulesReview", "spec": {"namespace": ns}});
    let Ok(in_a) = review::self_subject_rules_review(&chain, &alice(), review("team-a")) else { panic!("answered") };
    let Ok(in_b) = review::self_subject_rules_review(&chain, &alice(), review("team-b")) else { panic!("answered") };
    let count = |r: &Value| r["status"]["resourceRules"].as_array().map(Vec::len).unwrap_or_default();
    assert!(count(&in_a) > count(&in_b));
    assert_eq!(in_a["status"]["incomplete"], json!(false));
    assert!(in_b["status"]["nonResourceRules"].as_array().is_some_and(|r| !r.is_empty()));
    let missing = review::self_subject_rules_review(&chain, &alice(), review(""));
    assert_eq!(missing.err().map(|e| e.code), Some(400));
}

#[test]
fn the_forbidden_message_reads_as_kube_apiservers() {
    let alice = user("alice", &[]);
    let message = |a: &Attributes| crate::auth::filter::forbidden_message(a, "");
    assert_eq!(
        message(&request(&alice, "list", "default", "", "pods", "")),
        r#"pods is forbidden: User "alice" cannot list resource "pods" in API group "" in the namespace "default""#
    );
    assert_eq!(
        message(&request(&alice, "get", "", "cluster.karmada.io", "clusters/proxy", "m1")),
        r#"clusters.cluster.karmada.io "m1" is forbidden: User "alice" cannot get resource "clusters/proxy" in API group "cluster.karmada.io" at the cluster scope"#
    );
    assert_eq!(
        message(&path_request(&UserInfo::anonymous(), "get", "/api")),
        r#"forbidden: User "system:anonymous" cannot get path "/api""#
    );
}

#[test]
fn coverage_breaks_rules_down_and_honours_wildcards_subresources_and_names() {
    use super::rules::{compact, compact_string, uncovered};
    let owned = [
        policy_rule(json!({"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods", "*/status"]})),
        policy_rule(
            json!({"verbs": ["*"], "apiGroups": ["apps"], "resources": ["deployments"], "resourceNames": ["web"]}),
        ),
        policy_rule(json!({"verbs": ["get"], "nonResourceURLs": ["/apis/*"]})),
    ];
    let covered = [
        policy_rule(json!({"verbs": ["get"], "apiGroups": [""], "resources": ["pods", "pods/status"]})),
        policy_rule(
            json!({"verbs": ["delete"], "apiGroups": ["apps"], "resources": ["deployments"], "resourceNames": ["web"]}),
        ),
        policy_rule(json!({"verbs": ["get"], "nonResourceURLs": ["/apis/apps"]})),
    ];
    assert!(uncovered(&owned, &covered).is_empty());
    let wanted = [
        policy_rule(json!({"verbs": ["get", "create", "delete"], "apiGroups": [""], "resources": ["pods"]})),
        policy_rule(json!({"verbs": ["get"], "apiGroups": ["apps"], "resources": ["deployments"]})),
    ];
    let missing: Vec<String> = compact(&uncovered(&owned, &wanted)).iter().map(compact_string).collect();
    assert_eq!(
        missing,
        [
            r#"{APIGroups:[""], Resources:["pods"], Verbs:["create" "delete"]}"#,
            r#"{APIGroups:["apps"], Resources:["deployments"], Verbs:["get"]}"#,
        ]
    );
}

#[test]
fn the_webhook_sends_the_users_identity_and_the_request_as_kube_does() {
    let mut who = user("alice", &["devs", "system:authenticated"]);
    who.extra.insert("scopes".into(), vec!["a".into()]);
    let spec =
        super::webhook::review_spec(&request(&who, "get", "team-a", "cluster.karmada.io", "clusters/proxy", "m1"));
    let value = serde_json::to_value(&spec).unwrap_or_default();
    assert_eq!(
        value,
        json!({
            "user": "alice", "groups": ["devs", "system:authenticated"], "extra": {"scopes": ["a"]},
            "resourceAttributes": {"namespace": "team-a", "verb": "get", "group": "cluster.karmada.io", "version": "v1",
                                   "resource": "clusters", "subresource": "proxy", "name": "m1"}
        })
    );
    let spec = super::webhook::review_spec(&path_request(&who, "get", "/healthz"));
    assert_eq!(
        serde_json::to_value(&spec).unwrap_or_default()["nonResourceAttributes"],
        json!({"path": "/healthz", "verb": "get"})
    );
}
