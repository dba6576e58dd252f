//! Authentication: front-proxy request headers, client certificates, bearer tokens, anonymous; then impersonation.

pub mod host;
pub mod impersonation;
pub mod requestheader;
pub mod serviceaccount;
pub mod token;
pub mod x509;

use std::{io, path::PathBuf, sync::Arc, time::Duration};

use axum::extract::Request;
use http::{HeaderMap, header};
use parking_lot::RwLock;
use rustls::pki_types::CertificateDer;

use self::{
    host::{HostAuthentication, TokenWebhook},
    requestheader::RequestHeaderConfig,
    serviceaccount::{ServiceAccountAuthenticator, ServiceAccountOptions},
    token::TokenFile,
    x509::CaVerifier,
};
use super::{AUTHENTICATED_GROUP, UNAUTHENTICATED_GROUP, UserInfo};
use crate::{machinery::ApiError, server::PeerCertificates};

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
    /// Headers carrying the user's uid, first non-empty wins (none by default).
    #[arg(long = "requestheader-uid-headers", value_delimiter = ',')]
    pub requestheader_uid_headers: Vec<String>,
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
    /// ServiceAccount token keys, issuer and audiences.
    #[command(flatten)]
    pub service_accounts: ServiceAccountOptions,
}

impl Default for AuthenticationOptions {
    fn default() -> Self {
        crate::server::flags::defaults(&[])
    }
}

/// Configuration problems of the authenticators (unreadable CA or token files, ...).
#[derive(Debug, thiserror::Error)]
pub enum AuthnError {
    /// A file named by a flag could not be read.
    #[error("reading {path} (set by {flag}): {source}")]
    Read {
        /// The flag.
        flag: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A CA bundle holds no usable certificate.
    #[error("{origin} holds no usable CA certificate: {reason}")]
    CaBundle {
        /// The flag and file, or the ConfigMap key.
        origin: String,
        /// What is wrong.
        reason: String,
    },
    /// The static token file is malformed.
    #[error("the token file {path} (set by --token-auth-file) is malformed: {reason}")]
    TokenFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The host cluster's kubeconfig is unusable.
    #[error("the host cluster kubeconfig {path} (set by --authentication-kubeconfig) is unusable: {reason}")]
    HostKubeconfig {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The host's `kube-system/extension-apiserver-authentication` ConfigMap could not be read or parsed.
    #[error(
        "reading kube-system/extension-apiserver-authentication from the host cluster (--authentication-kubeconfig; \
         give the --requestheader-* flags instead to skip it): {0}"
    )]
    HostConfigMap(String),
}

/// The certificate authenticators: the front proxy's request headers and client certificates.
#[derive(Clone, Debug)]
pub struct CertificateAuthn {
    /// Front-proxy CA, allowed names and header names.
    pub requestheader: RequestHeaderConfig,
    /// The client CA.
    pub client_ca: Option<CaVerifier>,
}

impl CertificateAuthn {
    /// These settings with what the flags left open filled from the host's published settings: the requestheader CA
    /// (and with it the header and allowed names) unless `keep_requestheader`, the client CA unless
    /// `keep_client_ca`.
    ///
    /// # Errors
    /// A published CA bundle that does not parse.
    pub fn with_host_settings(
        &self,
        published: &HostAuthentication,
        keep_requestheader: bool,
        keep_client_ca: bool,
    ) -> Result<Self, AuthnError> {
        let source = |key: &str| format!("{key} of kube-system/extension-apiserver-authentication");
        let mut filled = self.clone();
        if !keep_requestheader && let Some(pem) = &published.requestheader_ca {
            let requestheader = &mut filled.requestheader;
            requestheader.ca = Some(CaVerifier::from_pem(pem.as_bytes(), &source("requestheader-client-ca-file"))?);
            requestheader.allowed_names = published.allowed_names.clone();
            let or_flag = |published: &[String], flag: &[String]| {
                if published.is_empty() { flag.to_vec() } else { published.to_vec() }
            };
            requestheader.username_headers = or_flag(&published.username_headers, &requestheader.username_headers);
            requestheader.uid_headers = or_flag(&published.uid_headers, &requestheader.uid_headers);
            requestheader.group_headers = or_flag(&published.group_headers, &requestheader.group_headers);
            requestheader.extra_prefixes = or_flag(&published.extra_prefixes, &requestheader.extra_prefixes);
        }
        if !keep_client_ca && let Some(pem) = &published.client_ca {
            filled.client_ca = Some(CaVerifier::from_pem(pem.as_bytes(), &source("client-ca-file"))?);
        }
        Ok(filled)
    }
}

/// The authenticator chain built from [`AuthenticationOptions`], in kube-apiserver's order: front proxy, client
/// certificate, bearer token (static file, then the host's TokenReview), anonymous.
#[derive(Debug)]
pub struct Authenticator {
    /// Swapped whole when the host publishes new settings (see [`host::follow_configmap`]).
    certificates: Arc<RwLock<Arc<CertificateAuthn>>>,
    tokens: Option<TokenFile>,
    service_accounts: Option<ServiceAccountAuthenticator>,
    webhook: Option<TokenWebhook>,
    anonymous: bool,
}

impl Default for Authenticator {
    /// Everyone anonymous: no CA, no tokens.
    fn default() -> Self {
        let requestheader = RequestHeaderConfig {
            ca: None,
            allowed_names: Vec::new(),
            username_headers: Vec::new(),
            uid_headers: Vec::new(),
            group_headers: Vec::new(),
            extra_prefixes: Vec::new(),
        };
        Self {
            certificates: Arc::new(RwLock::new(Arc::new(CertificateAuthn { requestheader, client_ca: None }))),
            tokens: None,
            service_accounts: None,
            webhook: None,
            anonymous: true,
        }
    }
}

/// The message of the 401 a request with failing or missing credentials gets.
const UNAUTHORIZED: &str = "Unauthorized";
/// The error of a bearer token no token authenticator knows.
const INVALID_BEARER_TOKEN: &str = "invalid bearer token";

impl Authenticator {
    /// Builds the chain. With `--authentication-kubeconfig`, bearer tokens nobody else knows are sent to the host's
    /// TokenReview API, and when `--requestheader-client-ca-file` (or `--client-ca-file`) is not given, the host's
    /// `kube-system/extension-apiserver-authentication` ConfigMap provides it, as kube's delegating authentication
    /// does. Both are followed: CA files (see [`CaVerifier::from_file`]) and the ConfigMap (see
    /// [`host::follow_configmap`]) are looked at again every ten seconds.
    ///
    /// # Errors
    /// Files named by the options that cannot be read or parsed; an unreachable host or missing ConfigMap.
    pub async fn new(options: &AuthenticationOptions) -> Result<Self, AuthnError> {
        let read_ca = |path: &PathBuf, flag: &'static str| CaVerifier::from_file(path, flag);
        let client_ca = options.client_ca_file.as_ref().map(|p| read_ca(p, "--client-ca-file")).transpose()?;
        let requestheader = RequestHeaderConfig {
            ca: options
                .requestheader_client_ca_file
                .as_ref()
                .map(|p| read_ca(p, "--requestheader-client-ca-file"))
                .transpose()?,
            allowed_names: options.requestheader_allowed_names.clone(),
            username_headers: options.requestheader_username_headers.clone(),
            uid_headers: options.requestheader_uid_headers.clone(),
            group_headers: options.requestheader_group_headers.clone(),
            extra_prefixes: options.requestheader_extra_headers_prefix.clone(),
        };
        let tokens = options.token_auth_file.as_deref().map(TokenFile::load).transpose()?;
        let from_flags = CertificateAuthn { requestheader, client_ca };
        let certificates = Arc::new(RwLock::new(Arc::new(from_flags.clone())));
        let mut webhook = None;
        if let Some(kubeconfig) = &options.authentication_kubeconfig {
            let client = host::client(kubeconfig).await?;
            let keep = (options.requestheader_client_ca_file.is_some(), options.client_ca_file.is_some());
            if keep != (true, true) {
                let data = host::authentication_configmap_data(client.clone()).await?;
                let published = host::parse_configmap(&data)?;
                *certificates.write() = Arc::new(from_flags.with_host_settings(&published, keep.0, keep.1)?);
                host::follow_configmap(client.clone(), from_flags, keep, data, Arc::downgrade(&certificates));
            }
            webhook = Some(TokenWebhook::new(client, options.authentication_token_webhook_cache_ttl));
        }
        Ok(Self { certificates, tokens, service_accounts: None, webhook, anonymous: options.anonymous_auth })
    }

    /// Accepts ServiceAccount tokens (after the token file, before the host's TokenReview).
    pub fn set_service_accounts(&mut self, authenticator: ServiceAccountAuthenticator) {
        self.service_accounts = Some(authenticator);
    }

    /// The ServiceAccount token authenticator, when enabled.
    pub fn service_accounts(&self) -> Option<&ServiceAccountAuthenticator> {
        self.service_accounts.as_ref()
    }

    /// Who sent `request`. On success the credentials (`Authorization`) and the front-proxy headers are removed
    /// from it, so nothing later can mistake them for an identity.
    ///
    /// # Errors
    /// 401 for credentials that are present but invalid (a client certificate no CA vouches for, an unknown
    /// bearer token), and for none at all under `--anonymous-auth=false`.
    pub async fn authenticate(&self, request: &mut Request) -> Result<UserInfo, ApiError> {
        let chain = request.extensions().get::<PeerCertificates>().map(|peer| Arc::clone(&peer.0));
        let chain: &[CertificateDer<'static>] = chain.as_deref().unwrap_or(&[]);
        let certificates = Arc::clone(&self.certificates.read());
        let (found, errors) = self.authenticate_parts(&certificates, request.headers(), chain).await;
        let headers = request.headers_mut();
        match found {
            Some(mut user) => {
                add_authenticated_group(&mut user);
                headers.remove(header::AUTHORIZATION);
                certificates.requestheader.strip(headers);
                Ok(user)
            }
            None if !errors.is_empty() => {
                tracing::debug!(?errors, "unable to authenticate the request");
                Err(ApiError::unauthorized(UNAUTHORIZED))
            }
            None if self.anonymous => {
                certificates.requestheader.strip(headers);
                Ok(UserInfo::anonymous())
            }
            None => Err(ApiError::unauthorized(UNAUTHORIZED)),
        }
    }

    /// The first authenticator's user, else every error met.
    async fn authenticate_parts(
        &self,
        certificates: &CertificateAuthn,
        headers: &HeaderMap,
        chain: &[CertificateDer<'static>],
    ) -> (Option<UserInfo>, Vec<String>) {
        let mut errors = Vec::new();
        match certificates.requestheader.authenticate(headers, chain) {
            Ok(Some(user)) => return (Some(user), errors),
            Ok(None) => {}
            Err(error) => errors.push(error),
        }
        if let Some(ca) = &certificates.client_ca {
            match x509::authenticate(ca, chain) {
                Ok(Some(user)) => return (Some(user), errors),
                Ok(None) => {}
                Err(error) => errors.push(error),
            }
        }
        if let Some(token) = token::bearer(headers) {
            match self.authenticate_token(&token).await {
                Ok(Some(user)) => return (Some(user), errors),
                Ok(None) => errors.push(INVALID_BEARER_TOKEN.into()),
                Err(error) => errors.push(error),
            }
        }
        (None, errors)
    }

    /// The user of a bearer token per the token file, ServiceAccount tokens, then the host's TokenReview; `None` when neither knows it.
    ///
    /// # Errors
    /// The host could not be asked.
    pub async fn authenticate_token(&self, token: &str) -> Result<Option<UserInfo>, String> {
        if let Some(user) = self.tokens.as_ref().and_then(|file| file.user(token)) {
            return Ok(Some(user));
        }
        // A ServiceAccount token that fails still lets the host try it, as kube's union of authenticators does.
        let mut refused = None;
        if let Some(service_accounts) = &self.service_accounts {
            match service_accounts.authenticate(token).await {
                Ok(Some(user)) => return Ok(Some(user)),
                Ok(None) => {}
                Err(error) => refused = Some(error),
            }
        }
        let found = match &self.webhook {
            Some(webhook) => webhook.authenticate(token).await?,
            None => None,
        };
        match (found, refused) {
            (None, Some(error)) => Err(error),
            (found, _) => Ok(found),
        }
    }

    /// What a TokenReview of `token` says: the user (with `system:authenticated`) or the error, as
    /// kube-apiserver's TokenReview answers.
    pub async fn review_token(&self, token: &str) -> Result<UserInfo, String> {
        match self.authenticate_token(token).await {
            Ok(Some(mut user)) => {
                add_authenticated_group(&mut user);
                Ok(user)
            }
            Ok(None) => Err(INVALID_BEARER_TOKEN.into()),
            Err(error) => Err(error),
        }
    }
}

/// Adds `system:authenticated` unless the user already is in it or in `system:unauthenticated`.
pub fn add_authenticated_group(user: &mut UserInfo) {
    if !user.in_group(AUTHENTICATED_GROUP) && !user.in_group(UNAUTHENTICATED_GROUP) {
        user.groups.push(AUTHENTICATED_GROUP.into());
    }
}

#[cfg(test)]
mod tests;
