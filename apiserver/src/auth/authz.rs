//! Authorization: the `--authorization-mode` chain (RBAC, Webhook, AlwaysAllow), first decisive answer wins.

use std::{path::PathBuf, time::Duration};

use super::{Attributes, Decision};
use crate::registry::Registry;

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
        #[derive(clap::Parser)]
        struct Defaults {
            #[command(flatten)]
            options: AuthorizationOptions,
        }
        <Defaults as clap::Parser>::parse_from(["flotilla"]).options
    }
}

/// Configuration problems of the authorizers.
#[derive(Debug, thiserror::Error)]
pub enum AuthzError {}

/// The authorizer chain built from [`AuthorizationOptions`].
#[derive(Debug, Default)]
pub struct AuthorizerChain {}

impl AuthorizerChain {
    /// Builds the chain; RBAC reads its objects from `registry`.
    ///
    /// # Errors
    /// A webhook kubeconfig that cannot be read.
    pub async fn new(options: &AuthorizationOptions, registry: &Registry) -> Result<Self, AuthzError> {
        let _ = (options, registry);
        Ok(Self {})
    }

    /// The first decisive answer of the chain. Not yet implemented: everything is allowed.
    pub async fn authorize(&self, attributes: &Attributes) -> Decision {
        let _ = attributes;
        Decision::Allow("authorization is not enforced yet".into())
    }
}
