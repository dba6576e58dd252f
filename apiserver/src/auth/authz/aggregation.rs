//! The ClusterRole aggregation controller: fills aggregated ClusterRoles with the rules of those they select.

use std::{sync::Arc, time::Duration};

use k8s_openapi::api::rbac::v1::{ClusterRole, PolicyRule};
use serde_json::Value;

use super::{
    rbac::{Policy, RBAC_GROUP, RbacIndex},
    rules::{contains_rule, same_rule},
};
use crate::{
    machinery::{
        ApiError,
        labels::Selector,
        options::{GetOptions, WriteOptions},
    },
    registry::{ControllerTask, Registry, RequestContext},
};

/// The User-Agent (and field manager) of the controller's writes.
const AGENT: &str = "kube-controller-manager/clusterrole-aggregation-controller";

/// How soon a failed write is tried again.
const RETRY: Duration = Duration::from_secs(1);

/// Starts the controller over `index`; it runs until the task is dropped.
pub(super) fn start(registry: &Registry, index: Arc<RbacIndex>) -> ControllerTask {
    ControllerTask::spawn(run(registry.clone(), index))
}

async fn run(registry: Registry, index: Arc<RbacIndex>) {
    let mut changes = index.cluster_role_changes();
    loop {
        let policy = index.policy();
        let mut failed = false;
        for (name, rules) in pending(&policy) {
            if let Err(error) = write_rules(&registry, &name, &rules).await {
                tracing::debug!(clusterrole = %name, %error, "aggregating a ClusterRole failed; retrying");
                failed = true;
            }
        }
        if failed {
            tokio::select! {
                changed = changes.changed() => if changed.is_err() { return },
                () = tokio::time::sleep(RETRY) => {}
            }
        } else if changes.changed().await.is_err() {
            return;
        }
    }
}

/// The aggregated ClusterRoles whose rules differ from what their selectors gather: `(name, wanted rules)`.
pub fn pending(policy: &Policy) -> Vec<(String, Vec<PolicyRule>)> {
    let mut out = Vec::new();
    for ((_, name), role) in &policy.cluster_roles {
        let Some(wanted) = aggregated_rules(policy, name, role) else { continue };
        let current = role.rules.as_deref().unwrap_or_default();
        let same = current.len() == wanted.len() && current.iter().zip(&wanted).all(|(a, b)| same_rule(a, b));
        if !same {
            out.push((name.clone(), wanted));
        }
    }
    out
}

/// The rules an aggregated ClusterRole should have: those of every other ClusterRole one of its selectors matches,
/// in name order, without duplicates. `None` for a role without an aggregation rule.
pub fn aggregated_rules(policy: &Policy, name: &str, role: &ClusterRole) -> Option<Vec<PolicyRule>> {
    let selectors: Vec<Selector> = role
        .aggregation_rule
        .as_ref()?
        .cluster_role_selectors
        .iter()
        .flatten()
        .filter_map(|selector| {
            let value = serde_json::to_value(selector).ok()?;
            Selector::from_label_selector(&value, "aggregationRule").ok().flatten()
        })
        .collect();
    let mut rules: Vec<PolicyRule> = Vec::new();
    for ((_, other_name), other) in &policy.cluster_roles {
        if other_name == name {
            continue;
        }
        let labels = other.metadata.labels.clone().unwrap_or_default();
        if !selectors.iter().any(|s| s.matches(&labels)) {
            continue;
        }
        for rule in other.rules.iter().flatten() {
            if !contains_rule(&rules, rule) {
                rules.push(rule.clone());
            }
        }
    }
    Some(rules)
}

async fn write_rules(registry: &Registry, name: &str, rules: &[PolicyRule]) -> Result<(), ApiError> {
    let Some(store) = registry.lookup(RBAC_GROUP, "v1", "clusterroles") else { return Ok(()) };
    let mut object = match store.get(None, name, &GetOptions::default()).await {
        Ok(object) => object,
        Err(error) if error.code == 404 => return Ok(()),
        Err(error) => return Err(error),
    };
    let rules = serde_json::to_value(rules).unwrap_or(Value::Array(Vec::new()));
    if object.get("rules") == Some(&rules) {
        return Ok(());
    }
    let Some(fields) = object.as_object_mut() else { return Ok(()) };
    fields.insert("rules".into(), rules);
    let ctx = RequestContext::for_agent(AGENT);
    store.update(&ctx, None, name, object, None, &WriteOptions::default()).await.map(|_| ())
}
