//! Who is asking and whether they may: authentication, impersonation and authorization of every request.

pub mod authn;
pub mod authz;
mod filter;
pub mod reviews;

pub use filter::filter;

use std::collections::BTreeMap;

/// The group every authenticated user is in.
pub const AUTHENTICATED_GROUP: &str = "system:authenticated";
/// The group of the anonymous user.
pub const UNAUTHENTICATED_GROUP: &str = "system:unauthenticated";
/// The anonymous user's name.
pub const ANONYMOUS_USER: &str = "system:anonymous";
/// The group whose members are always allowed everything (kube-apiserver's superuser group).
pub const MASTERS_GROUP: &str = "system:masters";

/// An authenticated identity, as Kubernetes' `user.Info`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserInfo {
    /// The user name (`CN` of a client certificate, the user of a token, `X-Remote-User`).
    pub name: String,
    /// A unique id, when the authenticator knows one.
    pub uid: String,
    /// Groups, including `system:authenticated` for every authenticated user.
    pub groups: Vec<String>,
    /// Extra attributes (e.g. `authentication.kubernetes.io/credential-id`).
    pub extra: BTreeMap<String, Vec<String>>,
}

impl UserInfo {
    /// The anonymous user (`system:anonymous`, group `system:unauthenticated`).
    pub fn anonymous() -> Self {
        Self { name: ANONYMOUS_USER.into(), groups: vec![UNAUTHENTICATED_GROUP.into()], ..Self::default() }
    }

    /// Whether the user is in `group`.
    pub fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }
}

/// What a request wants to do, as Kubernetes' `authorizer.Attributes`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Attributes {
    /// Who asks.
    pub user: UserInfo,
    /// The verb: `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`, `impersonate`,
    /// ...; for non-resource requests the lower-case HTTP method (`get`, `post`, ...).
    pub verb: String,
    /// Whether this is a resource request (else a non-resource path such as `/healthz`).
    pub resource_request: bool,
    /// The namespace ("" for cluster-scoped resources and for lists across namespaces).
    pub namespace: String,
    /// The API group ("" for the core group).
    pub api_group: String,
    /// The API version.
    pub api_version: String,
    /// The resource (plural), e.g. `propagationpolicies`.
    pub resource: String,
    /// The subresource, e.g. `status`, `proxy`.
    pub subresource: String,
    /// The object name ("" for collections).
    pub name: String,
    /// The request path (used for non-resource requests).
    pub path: String,
}

/// An authorizer's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Allowed; the reason says by what.
    Allow(String),
    /// Denied outright; later authorizers are not asked.
    Deny(String),
    /// Neither; later authorizers are asked, and if none allows, the request is forbidden.
    NoOpinion(String),
    /// No authorizer decided and at least one could not answer (e.g. an unreachable webhook): kube-apiserver
    /// answers 500 rather than 403, since the request may well have been allowed.
    Error(String),
}

/// Every authentication and authorization flag of `flotilla apiserver`.
#[derive(clap::Args, Clone, Debug, Default, PartialEq, Eq)]
pub struct AuthOptions {
    /// How requests are authenticated.
    #[command(flatten)]
    pub authentication: authn::AuthenticationOptions,
    /// How requests are authorized.
    #[command(flatten)]
    pub authorization: authz::AuthorizationOptions,
}

/// Configuration problems of authentication or authorization.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// An authenticator could not be built.
    #[error(transparent)]
    Authentication(#[from] authn::AuthnError),
    /// An authorizer could not be built.
    #[error(transparent)]
    Authorization(#[from] authz::AuthzError),
}

/// The authenticator and authorizer chains every request passes.
#[derive(Debug, Default)]
pub struct Auth {
    /// Who is asking.
    pub authenticator: authn::Authenticator,
    /// May they.
    pub authorizer: authz::AuthorizerChain,
}

impl Auth {
    /// Both chains from the flags; RBAC reads its objects from `registry`.
    ///
    /// # Errors
    /// Unreadable files or kubeconfigs named by the flags.
    pub async fn new(options: &AuthOptions, registry: &crate::registry::Registry) -> Result<Self, AuthError> {
        Ok(Self {
            authenticator: authn::Authenticator::new(&options.authentication).await?,
            authorizer: authz::AuthorizerChain::new(&options.authorization, registry).await?,
        })
    }
}
