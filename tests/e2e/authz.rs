//! Authorization end to end: RBAC with kubectl auth can-i, 403s, bindings taking effect without restart, review APIs.

mod support;

use std::{path::PathBuf, process::Output, time::Duration};

use flotilla_testkit::{identity::kubectl_with, server::ApiServer};
use serde_json::json;
use support::{BackendKind, Flotilla, flotilla_binary};

on_both_backends!(
    can_i_answers_for_the_admin_and_for_alice_through_impersonation,
    a_user_without_a_binding_is_forbidden_until_a_role_binding_exists_and_again_after_it_is_deleted,
    edit_in_team_a_reaches_propagation_policies_there_only_and_never_member_secrets,
    can_i_list_shows_the_rules_of_the_namespace,
    anonymous_requests_reach_only_health_and_version,
    default_roles_exist_and_aggregate_newly_labelled_cluster_roles,
    a_namespace_admin_cannot_grant_more_than_they_hold,
    resource_names_limit_a_role_to_the_named_objects,
);

/// How long a binding change may take to reach decisions.
const PROPAGATION: Duration = Duration::from_secs(5);

/// A server enforcing RBAC, driven by kubectl as the admin (`system:masters`).
async fn rbac_server(kind: BackendKind) -> Flotilla {
    Flotilla { server: ApiServer::start_with(flotilla_binary(), kind, &["--authorization-mode=RBAC"]).await }
}

/// A kubeconfig for `user` in `groups` (a client certificate from the server's cluster CA).
fn kubeconfig_as(flotilla: &Flotilla, user: &str, groups: &[&str]) -> PathBuf {
    flotilla.server.kubeconfig_for(user, groups)
}

/// A kubeconfig without credentials (the anonymous user).
fn anonymous_kubeconfig(flotilla: &Flotilla) -> PathBuf {
    flotilla.server.kubeconfig_with("anonymous", None, None)
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).trim().to_string()
}

/// `kubectl auth can-i ...`'s answer (`yes`/`no`).
fn can_i(flotilla: &Flotilla, args: &[&str]) -> String {
    let mut all = vec!["auth", "can-i"];
    all.extend_from_slice(args);
    stdout(&flotilla.kubectl(&all))
}

async fn can_i_answers_for_the_admin_and_for_alice_through_impersonation(kind: BackendKind) {
    let flotilla = rbac_server(kind).await;
    assert_eq!(can_i(&flotilla, &["create", "pods"]), "yes");
    assert_eq!(can_i(&flotilla, &["delete", "clusters.cluster.karmada.io"]), "yes");
    assert_eq!(can_i(&flotilla, &["list", "pods", "--as=alice"]), "no");
    assert_eq!(can_i(&flotilla, &["get", "/healthz", "--as=alice"]), "yes");
    flotilla.ok(&["create", "rolebinding", "alice-view", "--clusterrole=view", "--user=alice", "-n", "default"]);
    flotilla
        .eventually(PROPAGATION, "alice may list pods", || can_i(&flotilla, &["list", "pods", "--as=alice"]) == "yes");
    assert_eq!(can_i(&flotilla, &["get", "secrets", "--as=alice"]), "no");
    assert_eq!(can_i(&flotilla, &["create", "pods", "--as=alice"]), "no");
    assert_eq!(can_i(&flotilla, &["list", "pods", "--as=alice", "-n", "kube-system"]), "no");
    assert_eq!(can_i(&flotilla, &["list", "pods", "--as=bob", "--as-group=system:masters"]), "yes");
}

async fn a_user_without_a_binding_is_forbidden_until_a_role_binding_exists_and_again_after_it_is_deleted(
    kind: BackendKind,
) {
    let flotilla = rbac_server(kind).await;
    let alice = kubeconfig_as(&flotilla, "alice", &["developers"]);
    let denied = kubectl_with(&alice, &["get", "pods", "-n", "default"]);
    assert!(!denied.status.success());
    assert_eq!(
        stderr(&denied),
        r#"Error from server (Forbidden): pods is forbidden: User "alice" cannot list resource "pods" in API group "" in the namespace "default""#
    );
    let whoami = stdout(&kubectl_with(&alice, &["auth", "can-i", "list", "pods"]));
    assert_eq!(whoami, "no");
    flotilla.ok(&["create", "rolebinding", "devs-view", "--clusterrole=view", "--group=developers", "-n", "default"]);
    flotilla.eventually(PROPAGATION, "the binding to take effect", || {
        kubectl_with(&alice, &["get", "pods", "-n", "default"]).status.success()
    });
    assert_eq!(stdout(&kubectl_with(&alice, &["auth", "can-i", "list", "pods"])), "yes");
    flotilla.ok(&["delete", "rolebinding", "devs-view", "-n", "default"]);
    flotilla.eventually(PROPAGATION, "the deletion to take effect", || {
        let output = kubectl_with(&alice, &["get", "pods", "-n", "default"]);
        !output.status.success() && stderr(&output).contains("Forbidden")
    });
    let named = kubectl_with(&alice, &["get", "configmap", "kube-root-ca", "-n", "kube-system"]);
    assert_eq!(
        stderr(&named),
        r#"Error from server (Forbidden): configmaps "kube-root-ca" is forbidden: User "alice" cannot get resource "configmaps" in API group "" in the namespace "kube-system""#
    );
}

const PROPAGATION_POLICY: &str = r#"apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata:
  name: nginx
spec:
  resourceSelectors:
  - apiVersion: apps/v1
    kind: Deployment
    name: nginx
  placement:
    clusterAffinity:
      clusterNames: [member1]
"#;

async fn edit_in_team_a_reaches_propagation_policies_there_only_and_never_member_secrets(kind: BackendKind) {
    let flotilla = rbac_server(kind).await;
    for namespace in ["team-a", "team-b", "karmada-cluster"] {
        flotilla.namespace(namespace);
    }
    flotilla.ok(&["create", "secret", "generic", "member1", "--from-literal=token=abc", "-n", "karmada-cluster"]);
    flotilla.ok(&["create", "rolebinding", "alice-edit", "--clusterrole=edit", "--user=alice", "-n", "team-a"]);
    let alice = kubeconfig_as(&flotilla, "alice", &[]);
    let apply = |namespace: &str| {
        let path = flotilla.server.dir().join("pp.yaml");
        std::fs::write(&path, PROPAGATION_POLICY).expect("writing the manifest");
        kubectl_with(&alice, &["create", "-n", namespace, "-f", path.to_str().unwrap_or_default()])
    };
    flotilla.eventually(PROPAGATION, "alice may create in team-a", || apply("team-a").status.success());
    let elsewhere = apply("team-b");
    assert!(stderr(&elsewhere).contains(
        r#"propagationpolicies.policy.karmada.io is forbidden: User "alice" cannot create resource "propagationpolicies" in API group "policy.karmada.io" in the namespace "team-b""#
    ), "{}", stderr(&elsewhere));
    let secret = kubectl_with(&alice, &["get", "secret", "member1", "-n", "karmada-cluster"]);
    assert_eq!(
        stderr(&secret),
        r#"Error from server (Forbidden): secrets "member1" is forbidden: User "alice" cannot get resource "secrets" in API group "" in the namespace "karmada-cluster""#
    );
    assert!(kubectl_with(&alice, &["get", "secrets", "-n", "team-a"]).status.success());
    assert!(!kubectl_with(&alice, &["get", "clusters"]).status.success());
}

async fn can_i_list_shows_the_rules_of_the_namespace(kind: BackendKind) {
    let flotilla = rbac_server(kind).await;
    flotilla.namespace("team-a");
    flotilla.ok(&["create", "rolebinding", "alice-edit", "--clusterrole=edit", "--user=alice", "-n", "team-a"]);
    flotilla.eventually(PROPAGATION, "the binding to take effect", || {
        can_i(&flotilla, &["create", "propagationpolicies.policy.karmada.io", "--as=alice", "-n", "team-a"]) == "yes"
    });
    let listed = flotilla.ok(&["auth", "can-i", "--list", "--as=alice", "-n", "team-a"]);
    assert!(listed.contains("propagationpolicies.policy.karmada.io"), "{listed}");
    assert!(listed.contains("selfsubjectaccessreviews.authorization.k8s.io"), "{listed}");
    assert!(listed.contains("[/healthz]"), "{listed}");
    let elsewhere = flotilla.ok(&["auth", "can-i", "--list", "--as=alice", "-n", "team-b"]);
    assert!(!elsewhere.contains("propagationpolicies.policy.karmada.io"), "{elsewhere}");
    let review = json!({
        "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
        "spec": {"user": "alice", "resourceAttributes": {"namespace": "team-a", "verb": "delete", "group": "policy.karmada.io", "resource": "propagationpolicies"}}
    });
    // A kind without PATCH is validated by kubectl itself, against the served /openapi/v2.
    let answer = flotilla.ok_with_stdin(&["create", "-f", "-", "-o", "json"], &review.to_string());
    let answer: serde_json::Value = serde_json::from_str(&answer).expect("a JSON review");
    assert_eq!(answer["status"]["allowed"], json!(true), "{answer}");
    let explained = flotilla.ok(&["explain", "subjectaccessreview.spec.resourceAttributes"]);
    assert!(explained.contains("KIND:       SubjectAccessReview") && explained.contains("namespace"), "{explained}");
    assert_eq!(
        answer["status"]["reason"],
        json!(r#"RBAC: allowed by RoleBinding "alice-edit/team-a" of ClusterRole "edit" to User "alice""#)
    );
}

async fn anonymous_requests_reach_only_health_and_version(kind: BackendKind) {
    let flotilla = rbac_server(kind).await;
    let anonymous = anonymous_kubeconfig(&flotilla);
    for path in ["/healthz", "/livez", "/readyz", "/version"] {
        let output = kubectl_with(&anonymous, &["get", "--raw", path]);
        assert!(output.status.success(), "{path}: {}", stderr(&output));
    }
    let api = kubectl_with(&anonymous, &["get", "--raw", "/api"]);
    assert_eq!(
        stderr(&api),
        r#"Error from server (Forbidden): forbidden: User "system:anonymous" cannot get path "/api""#
    );
    let pods = kubectl_with(&anonymous, &["get", "--raw", "/api/v1/namespaces/default/pods"]);
    assert!(stderr(&pods).contains(r#"User "system:anonymous" cannot list resource "pods""#), "{}", stderr(&pods));
}

async fn default_roles_exist_and_aggregate_newly_labelled_cluster_roles(kind: BackendKind) {
    let flotilla = rbac_server(kind).await;
    let admin = flotilla.json(&["get", "clusterrole", "cluster-admin"]);
    assert_eq!(admin["metadata"]["labels"]["kubernetes.io/bootstrapping"], "rbac-defaults");
    assert_eq!(admin["metadata"]["annotations"]["rbac.authorization.kubernetes.io/autoupdate"], "true");
    let public = flotilla.json(&["get", "clusterrolebinding", "system:public-info-viewer"]);
    let subjects: Vec<&str> =
        public["subjects"].as_array().into_iter().flatten().filter_map(|s| s["name"].as_str()).collect();
    assert_eq!(subjects, ["system:authenticated", "system:unauthenticated"]);
    let reader = flotilla.json(&["get", "role", "extension-apiserver-authentication-reader", "-n", "kube-system"]);
    assert_eq!(reader["rules"][0]["resourceNames"], json!(["extension-apiserver-authentication"]));
    flotilla.eventually(PROPAGATION, "view to be aggregated", || {
        let view = flotilla.json(&["get", "clusterrole", "view"]);
        view["rules"].to_string().contains("propagationpolicies")
    });
    let crontabs = r#"apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: crontabs-view
  labels:
    rbac.authorization.k8s.io/aggregate-to-view: "true"
rules:
- apiGroups: [stable.example.com]
  resources: [crontabs]
  verbs: [get, list, watch]
"#;
    flotilla.ok_with_stdin(&["create", "-f", "-"], crontabs);
    for role in ["view", "edit", "admin"] {
        flotilla.eventually(PROPAGATION, &format!("{role} to include crontabs"), || {
            flotilla.json(&["get", "clusterrole", role])["rules"].to_string().contains("crontabs")
        });
    }
    flotilla.ok(&["delete", "clusterrole", "crontabs-view"]);
    flotilla.eventually(PROPAGATION, "view to drop crontabs", || {
        !flotilla.json(&["get", "clusterrole", "view"])["rules"].to_string().contains("crontabs")
    });
}

async fn a_namespace_admin_cannot_grant_more_than_they_hold(kind: BackendKind) {
    let flotilla = rbac_server(kind).await;
    flotilla.namespace("team-a");
    flotilla.ok(&["create", "rolebinding", "alice-admin", "--clusterrole=admin", "--user=alice", "-n", "team-a"]);
    let alice = kubeconfig_as(&flotilla, "alice", &[]);
    flotilla.eventually(PROPAGATION, "alice to be admin in team-a", || {
        kubectl_with(&alice, &["get", "rolebindings", "-n", "team-a"]).status.success()
    });
    let edit = ["create", "rolebinding", "bob-edit", "--clusterrole=edit", "--user=bob", "-n", "team-a"];
    let granted = kubectl_with(&alice, &edit);
    assert!(granted.status.success(), "{}", stderr(&granted));
    let root = ["create", "rolebinding", "bob-root", "--clusterrole=cluster-admin", "--user=bob", "-n", "team-a"];
    let escalated = kubectl_with(&alice, &root);
    assert!(
        stderr(&escalated).starts_with(
            r#"error: failed to create rolebinding: rolebindings.rbac.authorization.k8s.io "bob-root" is forbidden: user "alice" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:"#
        ),
        "{}",
        stderr(&escalated)
    );
    let role =
        ["create", "role", "everything", "--verb=get,list,create", "--resource=configmaps,secrets", "-n", "team-a"];
    assert!(kubectl_with(&alice, &role).status.success());
    let role = ["create", "role", "nodes", "--verb=get", "--resource=nodes", "-n", "team-a"];
    let escalated = kubectl_with(&alice, &role);
    assert!(
        stderr(&escalated).contains(r#"{APIGroups:[""], Resources:["nodes"], Verbs:["get"]}"#),
        "{}",
        stderr(&escalated)
    );
    assert!(flotilla.kubectl(&root).status.success(), "the admin may grant anything");
}

async fn resource_names_limit_a_role_to_the_named_objects(kind: BackendKind) {
    let flotilla = rbac_server(kind).await;
    for name in ["one", "two"] {
        flotilla.ok(&["create", "configmap", name, "-n", "default"]);
    }
    flotilla.ok(&[
        "create",
        "role",
        "just-one",
        "--verb=get,list,watch",
        "--resource=configmaps",
        "--resource-name=one",
    ]);
    flotilla.ok(&["create", "rolebinding", "alice-one", "--role=just-one", "--user=alice"]);
    let alice = kubeconfig_as(&flotilla, "alice", &[]);
    flotilla.eventually(PROPAGATION, "alice to read configmap one", || {
        kubectl_with(&alice, &["get", "configmap", "one"]).status.success()
    });
    assert!(!kubectl_with(&alice, &["get", "configmap", "two"]).status.success());
    let all = kubectl_with(&alice, &["get", "configmaps"]);
    assert!(stderr(&all).contains(r#"User "alice" cannot list resource "configmaps""#), "{}", stderr(&all));
    let selected = kubectl_with(
        &alice,
        &["get", "--raw", "/api/v1/namespaces/default/configmaps?fieldSelector=metadata.name%3Done"],
    );
    assert!(selected.status.success(), "{}", stderr(&selected));
    let other = kubectl_with(
        &alice,
        &["get", "--raw", "/api/v1/namespaces/default/configmaps?fieldSelector=metadata.name%3Dtwo"],
    );
    assert!(!other.status.success());
}

/// A Flotilla server in `Webhook` mode asks a second Flotilla server (the "host cluster") whose RBAC decides.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_mode_asks_the_host_cluster_with_subject_access_reviews() {
    let host = rbac_server(BackendKind::Embedded).await;
    let host_kubeconfig = host.server.kubeconfig_path().to_string_lossy().to_string();
    let front = Flotilla {
        server: ApiServer::start_with(
            flotilla_binary(),
            BackendKind::Embedded,
            &[
                "--authorization-mode=Webhook",
                "--authorization-kubeconfig",
                &host_kubeconfig,
                "--authorization-webhook-cache-unauthorized-ttl=0s",
            ],
        )
        .await,
    };
    let alice = kubeconfig_as(&front, "alice", &[]);
    let denied = kubectl_with(&alice, &["get", "configmaps", "-n", "default"]);
    assert_eq!(
        stderr(&denied),
        r#"Error from server (Forbidden): configmaps is forbidden: User "alice" cannot list resource "configmaps" in API group "" in the namespace "default""#
    );
    host.ok(&["create", "rolebinding", "alice-view", "--clusterrole=view", "--user=alice", "-n", "default"]);
    host.eventually(PROPAGATION, "the host to allow alice", || {
        kubectl_with(&alice, &["get", "configmaps", "-n", "default"]).status.success()
    });
    assert!(!kubectl_with(&alice, &["get", "secrets", "-n", "default"]).status.success());
    assert_eq!(can_i(&front, &["list", "configmaps", "--as=alice", "-n", "default"]), "yes");
    let listed = front.kubectl(&["auth", "can-i", "--list", "--as=alice"]);
    assert_eq!(
        stderr(&listed),
        "Warning: the list may be incomplete: webhook authorizer does not support user rule resolution"
    );
    // With the host gone nobody can decide: kube-apiserver answers 500, not 403 (the request may be allowed).
    let Flotilla { server: mut host } = host;
    host.halt();
    let failed = kubectl_with(&alice, &["get", "secrets", "-n", "default"]);
    assert!(stderr(&failed).contains("Error from server (InternalError)"), "{}", stderr(&failed));
    assert!(stderr(&failed).contains("webhook authorizer"), "{}", stderr(&failed));
}
