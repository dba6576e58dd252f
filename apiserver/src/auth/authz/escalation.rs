//! RBAC escalation prevention: roles and bindings may only grant what their writer holds (or may escalate/bind).

use std::{future::Future, sync::Arc};

use async_trait::async_trait;
use k8s_openapi::api::rbac::v1::{PolicyRule, RoleRef};
use serde_json::{Value, json};

use super::{
    Authorizer, decide,
    rbac::{RBAC_GROUP, RbacIndex},
    rules::{compact, compact_string, uncovered},
};
use crate::{
    auth::{Attributes, Decision, MASTERS_GROUP, UserInfo},
    machinery::{ApiError, StatusReason},
    registry::{Admission, AdmissionRequest, Operation},
};

tokio::task_local! {
    /// The user whose request is being served (set by the request filter around the handler).
    static REQUESTOR: UserInfo;
}

/// Runs `future` (a request's handler) as `user`, so that admission checks can see who writes.
pub async fn with_requestor<F: Future>(user: UserInfo, future: F) -> F::Output {
    REQUESTOR.scope(user, future).await
}

/// The user of the request being served; `None` for the server's own writes (bootstrap, controllers).
fn requestor() -> Option<UserInfo> {
    REQUESTOR.try_with(Clone::clone).ok()
}

/// The admission check that refuses RBAC writes granting more than their writer holds.
pub struct EscalationCheck {
    authorizers: Arc<Vec<Authorizer>>,
    index: Arc<RbacIndex>,
}

impl EscalationCheck {
    /// A check deciding `escalate`/`bind` with `authorizers` and reading held rules from `index`.
    pub(super) fn new(authorizers: Arc<Vec<Authorizer>>, index: Arc<RbacIndex>) -> Self {
        Self { authorizers, index }
    }

    async fn allowed(&self, user: &UserInfo, verb: &str, resource: &str, name: &str, namespace: &str) -> bool {
        let attributes = Attributes {
            user: user.clone(),
            verb: verb.into(),
            resource_request: true,
            namespace: namespace.into(),
            api_group: RBAC_GROUP.into(),
            api_version: "v1".into(),
            resource: resource.into(),
            name: name.into(),
            ..Attributes::default()
        };
        matches!(decide(&self.authorizers, &attributes).await, Decision::Allow(_))
    }

    /// Ok when `user` holds every rule of `wanted` in `namespace`, else kube's message listing what is missing.
    fn confirm_no_escalation(&self, user: &UserInfo, namespace: &str, wanted: &[PolicyRule]) -> Result<(), String> {
        let (owned, errors) = self.index.policy().rules_for(user, namespace);
        let missing = uncovered(&owned, wanted);
        if missing.is_empty() {
            return Ok(());
        }
        let mut lines: Vec<String> = compact(&missing).iter().map(compact_string).collect();
        lines.sort();
        lines.dedup();
        let groups: Vec<String> = user.groups.iter().map(|g| format!("{g:?}")).collect();
        let mut message = format!(
            "user {:?} (groups=[{}]) is attempting to grant RBAC permissions not currently held:\n{}",
            user.name,
            groups.join(" "),
            lines.join("\n")
        );
        if !errors.is_empty() {
            message.push_str(&format!("; resolution errors: [{}]", errors.join(" ")));
        }
        Err(message)
    }
}

fn forbidden(resource: &str, name: &str, why: &str) -> ApiError {
    let mut error =
        ApiError::new(403, StatusReason::Forbidden, format!("{resource}.{RBAC_GROUP} {name:?} is forbidden: {why}"));
    error.details = Some(json!({"name": name, "group": RBAC_GROUP, "kind": resource}));
    error
}

fn parse<T: serde::de::DeserializeOwned + Default>(object: &Value, field: &str) -> T {
    object.get(field).cloned().and_then(|value| serde_json::from_value(value).ok()).unwrap_or_default()
}

/// Every verb on everything: what setting an `aggregationRule` requires.
fn full_authority() -> Vec<PolicyRule> {
    let all = || Some(vec!["*".to_string()]);
    vec![
        PolicyRule { verbs: vec!["*".into()], api_groups: all(), resources: all(), ..PolicyRule::default() },
        PolicyRule { verbs: vec!["*".into()], non_resource_urls: all(), ..PolicyRule::default() },
    ]
}

#[async_trait]
impl Admission for EscalationCheck {
    fn name(&self) -> &str {
        "RBACEscalationPrevention"
    }

    async fn admit(&self, request: &AdmissionRequest<'_>) -> Result<(), ApiError> {
        if request.resource.group != RBAC_GROUP
            || request.operation == Operation::Delete
            || request.subresource.is_some()
        {
            return Ok(());
        }
        let (Some(user), Some(object)) = (requestor(), request.object) else { return Ok(()) };
        if user.in_group(MASTERS_GROUP) {
            return Ok(());
        }
        let namespace = request.namespace.unwrap_or_default();
        let plural = request.resource.plural.as_str();
        let name = request.name;
        match request.resource.kind.as_str() {
            "Role" | "ClusterRole" => {
                if self.allowed(&user, "escalate", plural, name, namespace).await {
                    return Ok(());
                }
                let rules: Vec<PolicyRule> = parse(object, "rules");
                self.confirm_no_escalation(&user, namespace, &rules).map_err(|why| forbidden(plural, name, &why))?;
                if object.get("aggregationRule").is_some_and(|rule| !rule.is_null())
                    && self.confirm_no_escalation(&user, namespace, &full_authority()).is_err()
                {
                    return Err(forbidden(
                        plural,
                        name,
                        "must have cluster-admin privileges to use the aggregationRule",
                    ));
                }
                Ok(())
            }
            "RoleBinding" | "ClusterRoleBinding" => {
                let role_ref: RoleRef = parse(object, "roleRef");
                let role_plural = if role_ref.kind == "ClusterRole" { "clusterroles" } else { "roles" };
                if self.allowed(&user, "bind", role_plural, &role_ref.name, namespace).await {
                    return Ok(());
                }
                let policy = self.index.policy();
                let rules = policy.role_rules(&role_ref, namespace).map_err(|why| forbidden(plural, name, &why))?;
                self.confirm_no_escalation(&user, namespace, rules).map_err(|why| forbidden(plural, name, &why))
            }
            _ => Ok(()),
        }
    }
}
