//! Authentication: front-proxy request headers, client certificates, bearer tokens, anonymous; then impersonation.

use std::{path::PathBuf, time::Duration};

use axum::extract::Request;

use super::UserInfo;
use crate::machinery::ApiError;

/// Authentication flags of `flotilla apiserver` (kube-apiserver's names and defaults).
#[derive(clap::Args, Clone, Debug, PartialEq, Eq)]
pub struct AuthenticationOptions {
    /// CA bundle (PEM) verifying client certificates; the certificate's CN is the user, its O entries the groups.
    #[arg(long = "client-ca-file")]
    pub client_ca_file: Option<PathBuf>,
    /// CA bundle (PEM) verifying the front proxy's client certificate before trusting `X-Remote-*` headers.
    #[arg(long = "requestheader-client-ca-file")]
    pub requestheader_client_ca_file: Option<PathBuf>,
    /// Common names allowed for front-proxy client certificates (empty = any signed by the front-proxy CA).
    #[arg(long = "requestheader-allowed-names", value_delimiter = ',')]
    pub requestheader_allowed_names: Vec<String>,
    /// Headers carrying the user name, first non-empty wins.
    #[arg(long = "requestheader-username-headers", value_delimiter = ',', default_value = "X-Remote-User")]
    pub requestheader_username_headers: Vec<String>,
    /// Headers carrying the user's groups.
    #[arg(long = "requestheader-group-headers", value_delimiter = ',', default_value = "X-Remote-Group")]
    pub requestheader_group_headers: Vec<String>,
    /// Header prefixes carrying extra attributes (`X-Remote-Extra-<key>`).
    #[arg(long = "requestheader-extra-headers-prefix", value_delimiter = ',', default_value = "X-Remote-Extra-")]
    pub requestheader_extra_headers_prefix: Vec<String>,
    /// Static bearer tokens: CSV lines `token,user,uid[,"group1,group2"]` as kube-apiserver reads them.
    #[arg(long = "token-auth-file")]
    pub token_auth_file: Option<PathBuf>,
    /// Kubeconfig of a host cluster whose TokenReview API checks bearer tokens no other authenticator knows; in
    /// `--aggregated` mode also where the requestheader settings are read from.
    #[arg(long = "authentication-kubeconfig")]
    pub authentication_kubeconfig: Option<PathBuf>,
    /// How long TokenReview answers are cached.
    #[arg(long = "authentication-token-webhook-cache-ttl", default_value = "10s", value_parser = humantime::parse_duration)]
    pub authentication_token_webhook_cache_ttl: Duration,
    /// Whether requests without credentials are served as `system:anonymous` (else 401).
    #[arg(long = "anonymous-auth", default_value_t = true, action = clap::ArgAction::Set)]
    pub anonymous_auth: bool,
}

impl Default for AuthenticationOptions {
    fn default() -> Self {
        #[derive(clap::Parser)]
        struct Defaults {
            #[command(flatten)]
            options: AuthenticationOptions,
        }
        <Defaults as clap::Parser>::parse_from(["flotilla"]).options
    }
}

/// Configuration problems of the authenticators (unreadable CA or token files, ...).
#[derive(Debug, thiserror::Error)]
pub enum AuthnError {}

/// The authenticator chain built from [`AuthenticationOptions`].
#[derive(Debug, Default)]
pub struct Authenticator {}

impl Authenticator {
    /// Builds the chain.
    ///
    /// # Errors
    /// Files named by the options that cannot be read or parsed.
    pub async fn new(options: &AuthenticationOptions) -> Result<Self, AuthnError> {
        let _ = options;
        Ok(Self {})
    }

    /// Who sent `request` (after impersonation); strips front-proxy headers it did not trust. Not yet implemented:
    /// everyone is anonymous.
    ///
    /// # Errors
    /// 401 for credentials that are present but invalid; 403 for a forbidden impersonation.
    pub async fn authenticate(&self, request: &mut Request) -> Result<UserInfo, ApiError> {
        let _ = request;
        Ok(UserInfo::anonymous())
    }
}
