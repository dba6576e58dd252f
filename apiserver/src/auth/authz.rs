//! Authorization: the `--authorization-mode` chain (RBAC, Webhook, AlwaysAllow), first decisive answer wins.

mod aggregation;
pub mod bootstrap;
pub mod escalation;
pub mod rbac;
pub mod review;
pub mod rules;
#[cfg(test)]
mod tests;
mod webhook;

use std::{path::PathBuf, sync::Arc, time::Duration};

use k8s_openapi::api::rbac::v1::PolicyRule;

use super::{Attributes, Decision, MASTERS_GROUP, UserInfo};
use crate::registry::{ControllerTask, Registry};
use rbac::RbacIndex;

/// How long start-up waits for the RBAC index to load before serving.
const SYNC_WAIT: Duration = Duration::from_secs(30);

/// An authorization mode of `--authorization-mode`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthorizationMode {
    /// Kubernetes RBAC over the Roles and bindings stored in Flotilla.
    #[value(name = "RBAC")]
    Rbac,
    /// SubjectAccessReview against a host cluster (`--authorization-kubeconfig`).
    #[value(name = "Webhook")]
    Webhook,
    /// Everything is allowed (only when named explicitly).
    #[value(name = "AlwaysAllow")]
    AlwaysAllow,
    /// Everything is denied.
    #[value(name = "AlwaysDeny")]
    AlwaysDeny,
}

/// Authorization flags of `flotilla apiserver`.
#[derive(clap::Args, Clone, Debug, PartialEq, Eq)]
pub struct AuthorizationOptions {
    /// Authorizers asked in order; the first that allows or denies decides.
    #[arg(long = "authorization-mode", value_delimiter = ',', default_value = "RBAC")]
    pub authorization_mode: Vec<AuthorizationMode>,
    /// Kubeconfig of the host cluster the `Webhook` mode sends SubjectAccessReviews to.
    #[arg(long = "authorization-kubeconfig")]
    pub authorization_kubeconfig: Option<PathBuf>,
    /// How long allowed webhook answers are cached.
    #[arg(long = "authorization-webhook-cache-authorized-ttl", default_value = "10s", value_parser = humantime::parse_duration)]
    pub authorization_webhook_cache_authorized_ttl: Duration,
    /// How long denied webhook answers are cached.
    #[arg(long = "authorization-webhook-cache-unauthorized-ttl", default_value = "10s", value_parser = humantime::parse_duration)]
    pub authorization_webhook_cache_unauthorized_ttl: Duration,
}

impl Default for AuthorizationOptions {
    fn default() -> Self {
        crate::server::flags::defaults(&[])
    }
}

/// Configuration problems of the authorizers.
#[derive(Debug, thiserror::Error)]
pub enum AuthzError {
    /// `Webhook` without `--authorization-kubeconfig`.
    #[error("--authorization-mode=Webhook needs --authorization-kubeconfig")]
    WebhookWithoutKubeconfig,
    /// The webhook kubeconfig could not be used.
    #[error("--authorization-kubeconfig {path}: {message}")]
    Kubeconfig {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
}

/// One authorizer of the chain.
#[derive(Debug)]
enum Authorizer {
    Rbac(Arc<RbacIndex>),
    Webhook(webhook::WebhookAuthorizer),
    AlwaysAllow,
    AlwaysDeny,
}

/// The rules a user has, as a SelfSubjectRulesReview reports them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UserRules {
    /// Rules with resources.
    pub resource_rules: Vec<PolicyRule>,
    /// Rules with non-resource URLs.
    pub non_resource_rules: Vec<PolicyRule>,
    /// Whether some authorizer could not list what it allows.
    pub incomplete: bool,
    /// Errors met while collecting the rules.
    pub evaluation_error: String,
}

/// The authorizer chain built from [`AuthorizationOptions`].
#[derive(Debug)]
pub struct AuthorizerChain {
    authorizers: Arc<Vec<Authorizer>>,
    _tasks: Vec<ControllerTask>,
}

impl Default for AuthorizerChain {
    /// A chain that allows everything.
    fn default() -> Self {
        Self { authorizers: Arc::new(vec![Authorizer::AlwaysAllow]), _tasks: Vec::new() }
    }
}

impl AuthorizerChain {
    /// Builds the chain; RBAC reads its objects from `registry`. Creates the default roles and bindings and starts
    /// the ClusterRole aggregation controller.
    ///
    /// # Errors
    /// A webhook kubeconfig that cannot be read.
    pub async fn new(options: &AuthorizationOptions, registry: &Registry) -> Result<Self, AuthzError> {
        let modes = options.authorization_mode.clone();
        let mut tasks = Vec::new();
        let serves_rbac = registry.lookup(rbac::RBAC_GROUP, "v1", "clusterroles").is_some();
        let index = if serves_rbac {
            bootstrap::ensure(registry).await;
            let (index, followers) = RbacIndex::follow(registry);
            tasks.extend(followers);
            tasks.push(aggregation::start(registry, index.clone()));
            index
        } else {
            RbacIndex::fixed(rbac::Policy::default())
        };
        let mut authorizers = Vec::new();
        for mode in modes {
            authorizers.push(match mode {
                AuthorizationMode::Rbac => Authorizer::Rbac(index.clone()),
                AuthorizationMode::Webhook => Authorizer::Webhook(webhook::WebhookAuthorizer::new(options).await?),
                AuthorizationMode::AlwaysAllow => Authorizer::AlwaysAllow,
                AuthorizationMode::AlwaysDeny => Authorizer::AlwaysDeny,
            });
        }
        let authorizers = Arc::new(authorizers);
        if serves_rbac {
            registry.admission().push(Arc::new(escalation::EscalationCheck::new(authorizers.clone(), index.clone())));
        }
        let enforces_rbac = authorizers.iter().any(|a| matches!(a, Authorizer::Rbac(_)));
        if enforces_rbac && !index.wait_synced(SYNC_WAIT).await {
            tracing::warn!("the RBAC objects did not load in time; requests may be denied until they do");
        }
        Ok(Self { authorizers, _tasks: tasks })
    }

    /// A chain of the given authorizers over a fixed RBAC policy (for tests).
    pub fn fixed(modes: &[AuthorizationMode], policy: rbac::Policy) -> Self {
        let index = RbacIndex::fixed(policy);
        let authorizers = modes
            .iter()
            .filter_map(|mode| match mode {
                AuthorizationMode::Rbac => Some(Authorizer::Rbac(index.clone())),
                AuthorizationMode::Webhook => None,
                AuthorizationMode::AlwaysAllow => Some(Authorizer::AlwaysAllow),
                AuthorizationMode::AlwaysDeny => Some(Authorizer::AlwaysDeny),
            })
            .collect();
        Self { authorizers: Arc::new(authorizers), _tasks: Vec::new() }
    }

    /// The first decisive answer: members of `system:masters` are always allowed; then each authorizer in order,
    /// the first Allow or Deny deciding. When none decides, the reasons given are joined (one per line).
    pub async fn authorize(&self, attributes: &Attributes) -> Decision {
        decide(&self.authorizers, attributes).await
    }

    /// Every rule `user` has in `namespace`, as the authorizers can list them (RBAC lists its rules, AlwaysAllow
    /// everything, AlwaysDeny nothing; a webhook cannot, which makes the answer incomplete).
    pub fn rules_for(&self, user: &UserInfo, namespace: &str) -> UserRules {
        let mut answer = UserRules::default();
        let mut errors = Vec::new();
        for authorizer in self.authorizers.iter() {
            match authorizer {
                Authorizer::Rbac(index) => {
                    let (rules, found) = index.policy().rules_for(user, namespace);
                    for rule in rules {
                        if rule.resources.as_ref().is_some_and(|r| !r.is_empty()) {
                            answer.resource_rules.push(rule);
                        } else if rule.non_resource_urls.as_ref().is_some_and(|u| !u.is_empty()) {
                            answer.non_resource_rules.push(rule);
                        }
                    }
                    errors.extend(found);
                }
                Authorizer::Webhook(_) => {
                    answer.incomplete = true;
                    errors.push("webhook authorizer does not support user rule resolution".into());
                }
                Authorizer::AlwaysAllow => {
                    let all = || Some(vec!["*".to_string()]);
                    answer.resource_rules.push(PolicyRule {
                        verbs: vec!["*".into()],
                        api_groups: all(),
                        resources: all(),
                        ..PolicyRule::default()
                    });
                    answer.non_resource_rules.push(PolicyRule {
                        verbs: vec!["*".into()],
                        non_resource_urls: all(),
                        ..PolicyRule::default()
                    });
                }
                Authorizer::AlwaysDeny => {}
            }
        }
        if !errors.is_empty() {
            answer.evaluation_error = match errors.as_slice() {
                [one] => one.clone(),
                many => format!("[{}]", many.join(", ")),
            };
        }
        answer
    }
}

/// The first decisive answer of `authorizers`: members of `system:masters` are always allowed; then each
/// authorizer in order, the first Allow or Deny deciding. When none decides, the reasons given are joined (one per
/// line).
async fn decide(authorizers: &[Authorizer], attributes: &Attributes) -> Decision {
    if attributes.user.in_group(MASTERS_GROUP) {
        return Decision::Allow(String::new());
    }
    let mut reasons = Vec::new();
    let mut errors = Vec::new();
    for authorizer in authorizers {
        let decision = match authorizer {
            Authorizer::Rbac(index) => index.policy().authorize(attributes),
            Authorizer::Webhook(webhook) => webhook.authorize(attributes).await,
            Authorizer::AlwaysAllow => Decision::Allow(String::new()),
            Authorizer::AlwaysDeny => Decision::Deny("Everything is forbidden.".into()),
        };
        match decision {
            Decision::NoOpinion(reason) => {
                if !reason.is_empty() {
                    reasons.push(reason);
                }
            }
            Decision::Error(error) => errors.push(error),
            decisive => return decisive,
        }
    }
    if errors.is_empty() { Decision::NoOpinion(reasons.join("\n")) } else { Decision::Error(errors.join("\n")) }
}
