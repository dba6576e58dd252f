//! The default roles and bindings made at start (kube's bootstrap policy plus Karmada's groups) and their upkeep.

use std::time::Duration;

use k8s_openapi::api::rbac::v1::{PolicyRule, Subject};
use serde_json::{Map, Value, json};

use super::{rbac::RBAC_GROUP, rules::contains_rule};
use crate::{
    machinery::{
        ApiError,
        options::{GetOptions, WriteOptions},
    },
    registry::{Registry, RequestContext},
};

/// The label every default object carries.
pub const BOOTSTRAP_LABEL: (&str, &str) = ("kubernetes.io/bootstrapping", "rbac-defaults");
/// The annotation that lets start-up add missing rules and subjects to a default object.
pub const AUTOUPDATE_ANNOTATION: &str = "rbac.authorization.kubernetes.io/autoupdate";

const READ: &[&str] = &["get", "list", "watch"];
const WRITE: &[&str] = &["create", "delete", "deletecollection", "patch", "update"];
const READ_WRITE: &[&str] = &["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"];

const AGGREGATE_TO_ADMIN: &str = "rbac.authorization.k8s.io/aggregate-to-admin";
const AGGREGATE_TO_EDIT: &str = "rbac.authorization.k8s.io/aggregate-to-edit";
const AGGREGATE_TO_VIEW: &str = "rbac.authorization.k8s.io/aggregate-to-view";

/// How often creating the defaults is tried while storage is unavailable.
const ATTEMPTS: usize = 20;

fn rule(verbs: &[&str], groups: &[&str], resources: &[&str]) -> Value {
    json!({"verbs": verbs, "apiGroups": groups, "resources": resources})
}

fn named_rule(verbs: &[&str], groups: &[&str], resources: &[&str], names: &[&str]) -> Value {
    json!({"verbs": verbs, "apiGroups": groups, "resources": resources, "resourceNames": names})
}

fn url_rule(verbs: &[&str], urls: &[&str]) -> Value {
    json!({"verbs": verbs, "nonResourceURLs": urls})
}

fn metadata(name: &str, namespace: Option<&str>, labels: &[(&str, &str)]) -> Value {
    let mut all: Map<String, Value> = labels.iter().map(|(k, v)| ((*k).to_string(), json!(v))).collect();
    all.insert(BOOTSTRAP_LABEL.0.into(), json!(BOOTSTRAP_LABEL.1));
    let mut meta = json!({"name": name, "labels": all, "annotations": {AUTOUPDATE_ANNOTATION: "true"}});
    if let Some(namespace) = namespace {
        meta["namespace"] = json!(namespace);
    }
    meta
}

fn cluster_role(name: &str, labels: &[(&str, &str)], rules: Vec<Value>) -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": metadata(name, None, labels),
        "rules": rules,
    })
}

/// A ClusterRole whose rules the aggregation controller gathers from ClusterRoles labelled `selector_label`.
fn aggregated_role(name: &str, labels: &[(&str, &str)], selector_label: &str) -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": metadata(name, None, labels),
        "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {selector_label: "true"}}]},
        "rules": [],
    })
}

fn group_subject(name: &str) -> Value {
    json!({"apiGroup": RBAC_GROUP, "kind": "Group", "name": name})
}

fn cluster_role_binding(role: &str, subjects: Vec<Value>) -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": metadata(role, None, &[]),
        "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": role},
        "subjects": subjects,
    })
}

/// The default ClusterRoles.
pub fn cluster_roles() -> Vec<Value> {
    vec![
        cluster_role("cluster-admin", &[], vec![rule(&["*"], &["*"], &["*"]), url_rule(&["*"], &["*"])]),
        cluster_role(
            "system:discovery",
            &[],
            vec![url_rule(
                &["get"],
                &[
                    "/api",
                    "/api/*",
                    "/apis",
                    "/apis/*",
                    "/healthz",
                    "/livez",
                    "/openapi",
                    "/openapi/*",
                    "/readyz",
                    "/version",
                    "/version/",
                ],
            )],
        ),
        cluster_role(
            "system:public-info-viewer",
            &[],
            vec![url_rule(&["get"], &["/healthz", "/livez", "/readyz", "/version", "/version/"])],
        ),
        cluster_role(
            "system:monitoring",
            &[],
            vec![url_rule(
                &["get"],
                &["/healthz", "/healthz/*", "/livez", "/livez/*", "/metrics", "/metrics/slis", "/readyz", "/readyz/*"],
            )],
        ),
        cluster_role(
            "system:basic-user",
            &[],
            vec![
                rule(&["create"], &["authorization.k8s.io"], &["selfsubjectaccessreviews", "selfsubjectrulesreviews"]),
                rule(&["create"], &["authentication.k8s.io"], &["selfsubjectreviews"]),
            ],
        ),
        cluster_role(
            "system:auth-delegator",
            &[],
            vec![
                rule(&["create"], &["authentication.k8s.io"], &["tokenreviews"]),
                rule(&["create"], &["authorization.k8s.io"], &["subjectaccessreviews"]),
            ],
        ),
        cluster_role("system:kube-aggregator", &[], vec![rule(READ, &[""], &["endpoints", "services"])]),
        aggregated_role("admin", &[], AGGREGATE_TO_ADMIN),
        aggregated_role("edit", &[(AGGREGATE_TO_ADMIN, "true")], AGGREGATE_TO_EDIT),
        aggregated_role("view", &[(AGGREGATE_TO_EDIT, "true")], AGGREGATE_TO_VIEW),
        cluster_role(
            "system:aggregate-to-admin",
            &[(AGGREGATE_TO_ADMIN, "true")],
            vec![
                rule(&["create"], &["authorization.k8s.io"], &["localsubjectaccessreviews"]),
                rule(READ_WRITE, &[RBAC_GROUP], &["rolebindings", "roles"]),
            ],
        ),
        cluster_role("system:aggregate-to-edit", &[(AGGREGATE_TO_EDIT, "true")], edit_rules()),
        cluster_role("system:aggregate-to-view", &[(AGGREGATE_TO_VIEW, "true")], view_rules()),
        cluster_role(
            "system:karmada:aggregate-to-edit",
            &[(AGGREGATE_TO_EDIT, "true")],
            vec![rule(WRITE, &["policy.karmada.io"], &["overridepolicies", "propagationpolicies"])],
        ),
        cluster_role(
            "system:karmada:aggregate-to-view",
            &[(AGGREGATE_TO_VIEW, "true")],
            vec![
                rule(
                    READ,
                    &["policy.karmada.io"],
                    &[
                        "clusteroverridepolicies",
                        "clusterpropagationpolicies",
                        "overridepolicies",
                        "propagationpolicies",
                    ],
                ),
                rule(
                    READ,
                    &["work.karmada.io"],
                    &[
                        "clusterresourcebindings",
                        "resourcebindings",
                        "resourcebindings/status",
                        "works",
                        "works/status",
                    ],
                ),
                rule(READ, &["cluster.karmada.io"], &["clusters", "clusters/status"]),
                rule(READ, &["search.karmada.io"], &["resourceregistries", "resourceregistries/status"]),
            ],
        ),
    ]
}

/// What `edit` adds to `view` for the built-in groups (Kubernetes' `system:aggregate-to-edit`).
fn edit_rules() -> Vec<Value> {
    vec![
        rule(READ, &[""], &["pods/attach", "pods/exec", "pods/portforward", "pods/proxy", "secrets", "services/proxy"]),
        rule(&["impersonate"], &[""], &["serviceaccounts"]),
        rule(WRITE, &[""], &["pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy"]),
        rule(&["create"], &[""], &["pods/eviction"]),
        rule(
            WRITE,
            &[""],
            &[
                "configmaps",
                "events",
                "persistentvolumeclaims",
                "replicationcontrollers",
                "replicationcontrollers/scale",
                "secrets",
                "serviceaccounts",
                "services",
                "services/proxy",
            ],
        ),
        rule(&["create"], &[""], &["serviceaccounts/token"]),
        rule(
            WRITE,
            &["apps"],
            &[
                "daemonsets",
                "deployments",
                "deployments/rollback",
                "deployments/scale",
                "replicasets",
                "replicasets/scale",
                "statefulsets",
                "statefulsets/scale",
            ],
        ),
        rule(WRITE, &["autoscaling"], &["horizontalpodautoscalers"]),
        rule(WRITE, &["batch"], &["cronjobs", "jobs"]),
        rule(WRITE, &["policy"], &["poddisruptionbudgets"]),
        rule(WRITE, &["networking.k8s.io"], &["ingresses", "networkpolicies"]),
        rule(WRITE, &["coordination.k8s.io"], &["leases"]),
    ]
}

/// `view` for the built-in groups (Kubernetes' `system:aggregate-to-view`): no Secrets.
fn view_rules() -> Vec<Value> {
    vec![
        rule(
            READ,
            &[""],
            &[
                "configmaps",
                "endpoints",
                "persistentvolumeclaims",
                "persistentvolumeclaims/status",
                "pods",
                "replicationcontrollers",
                "replicationcontrollers/scale",
                "serviceaccounts",
                "services",
                "services/status",
            ],
        ),
        rule(
            READ,
            &[""],
            &[
                "bindings",
                "events",
                "limitranges",
                "namespaces/status",
                "pods/log",
                "pods/status",
                "replicationcontrollers/status",
                "resourcequotas",
                "resourcequotas/status",
            ],
        ),
        rule(READ, &[""], &["namespaces"]),
        rule(READ, &["discovery.k8s.io"], &["endpointslices"]),
        rule(
            READ,
            &["apps"],
            &[
                "controllerrevisions",
                "daemonsets",
                "daemonsets/status",
                "deployments",
                "deployments/scale",
                "deployments/status",
                "replicasets",
                "replicasets/scale",
                "replicasets/status",
                "statefulsets",
                "statefulsets/scale",
                "statefulsets/status",
            ],
        ),
        rule(READ, &["autoscaling"], &["horizontalpodautoscalers", "horizontalpodautoscalers/status"]),
        rule(READ, &["batch"], &["cronjobs", "cronjobs/status", "jobs", "jobs/status"]),
        rule(READ, &["policy"], &["poddisruptionbudgets", "poddisruptionbudgets/status"]),
        rule(READ, &["networking.k8s.io"], &["ingresses", "ingresses/status", "networkpolicies"]),
        rule(READ, &["coordination.k8s.io"], &["leases"]),
    ]
}

/// The default ClusterRoleBindings.
pub fn cluster_role_bindings() -> Vec<Value> {
    vec![
        cluster_role_binding("cluster-admin", vec![group_subject(crate::auth::MASTERS_GROUP)]),
        cluster_role_binding("system:discovery", vec![group_subject(crate::auth::AUTHENTICATED_GROUP)]),
        cluster_role_binding("system:basic-user", vec![group_subject(crate::auth::AUTHENTICATED_GROUP)]),
        cluster_role_binding(
            "system:public-info-viewer",
            vec![group_subject(crate::auth::AUTHENTICATED_GROUP), group_subject(crate::auth::UNAUTHENTICATED_GROUP)],
        ),
        cluster_role_binding("system:monitoring", vec![group_subject("system:monitoring")]),
    ]
}

/// The default namespaced Roles (in `kube-system`).
pub fn roles() -> Vec<Value> {
    vec![json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": metadata("extension-apiserver-authentication-reader", Some("kube-system"), &[]),
        "rules": [named_rule(READ, &[""], &["configmaps"], &["extension-apiserver-authentication"])],
    })]
}

/// Every default object, roles before bindings.
pub fn objects() -> Vec<Value> {
    let mut all = cluster_roles();
    all.extend(roles());
    all.extend(cluster_role_bindings());
    all
}

/// Creates the missing default objects and reconciles the auto-updated ones. Failures are logged (the server
/// still starts; the next start tries again).
pub async fn ensure(registry: &Registry) {
    for object in objects() {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match ensure_one(registry, &object).await {
                Ok(()) => break,
                Err(error) if (error.code >= 500 || error.code == 409) && attempt < ATTEMPTS => {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Err(error) => {
                    let name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
                    tracing::warn!(%name, %error, "could not create a default RBAC object");
                    if error.code >= 500 {
                        return;
                    }
                    break;
                }
            }
        }
    }
}

fn plural(kind: &str) -> &'static str {
    match kind {
        "ClusterRole" => "clusterroles",
        "Role" => "roles",
        "ClusterRoleBinding" => "clusterrolebindings",
        _ => "rolebindings",
    }
}

async fn ensure_one(registry: &Registry, wanted: &Value) -> Result<(), ApiError> {
    let kind = wanted.get("kind").and_then(Value::as_str).unwrap_or_default();
    let Some(store) = registry.lookup(RBAC_GROUP, "v1", plural(kind)) else { return Ok(()) };
    let namespace = wanted.pointer("/metadata/namespace").and_then(Value::as_str);
    let name = wanted.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
    let ctx = RequestContext::for_agent("kube-apiserver");
    let current = match store.get(namespace, name, &GetOptions::default()).await {
        Ok(current) => current,
        Err(error) if error.code == 404 => {
            return store.create(&ctx, namespace, wanted.clone(), &WriteOptions::default()).await.map(|_| ());
        }
        Err(error) => return Err(error),
    };
    let Some(updated) = reconcile(&current, wanted) else { return Ok(()) };
    store.update(&ctx, namespace, name, updated, None, &WriteOptions::default()).await.map(|_| ())
}

/// The object `current` becomes when reconciled with the default `wanted`, or `None` when nothing is added (or
/// the object is not marked for auto-update). Rules of aggregated roles are the aggregation controller's.
pub fn reconcile(current: &Value, wanted: &Value) -> Option<Value> {
    let autoupdate = current.pointer("/metadata/annotations").and_then(|a| a.get(AUTOUPDATE_ANNOTATION));
    if autoupdate.and_then(Value::as_str) != Some("true") {
        return None;
    }
    let mut updated = current.clone();
    let mut changed = false;
    for field in ["labels", "annotations"] {
        let Some(want) = wanted.pointer(&format!("/metadata/{field}")).and_then(Value::as_object) else { continue };
        let meta = updated.get_mut("metadata").and_then(Value::as_object_mut)?;
        let have = meta.entry(field).or_insert_with(|| json!({}));
        let Some(have) = have.as_object_mut() else { continue };
        for (key, value) in want {
            if !have.contains_key(key) {
                have.insert(key.clone(), value.clone());
                changed = true;
            }
        }
    }
    if wanted.get("aggregationRule").is_none() && wanted.get("rules").is_some() {
        changed |= add_missing::<PolicyRule>(&mut updated, wanted, "rules", contains_rule);
    }
    if wanted.get("subjects").is_some() {
        changed |= add_missing::<Subject>(&mut updated, wanted, "subjects", |have, subject| {
            have.iter().any(|s| s.kind == subject.kind && s.name == subject.name && s.namespace == subject.namespace)
        });
    }
    changed.then_some(updated)
}

/// Appends the entries of `wanted[field]` that `present` does not find in `object[field]`; whether any were.
fn add_missing<T: serde::de::DeserializeOwned + serde::Serialize>(
    object: &mut Value,
    wanted: &Value,
    field: &str,
    present: impl Fn(&[T], &T) -> bool,
) -> bool {
    let parse = |value: Option<&Value>| -> Vec<T> {
        value.cloned().and_then(|v| serde_json::from_value(v).ok()).unwrap_or_default()
    };
    let mut have: Vec<T> = parse(object.get(field));
    let mut changed = false;
    for item in parse(wanted.get(field)) {
        if !present(&have, &item) {
            have.push(item);
            changed = true;
        }
    }
    if changed && let (Some(fields), Ok(value)) = (object.as_object_mut(), serde_json::to_value(&have)) {
        fields.insert(field.into(), value);
    }
    changed
}
