//! ServiceAccount tokens: signing keys, the JWT authenticator (legacy Secret tokens and bound tokens), TokenRequest.

pub mod claims;
pub mod keys;
pub mod tokenrequest;

#[cfg(test)]
mod tests;

use std::{
    io,
    path::{Path, PathBuf},
    sync::Arc,
};

use base64::Engine as _;
use serde_json::Value;

use self::{
    claims::{BoundClaims, Claims, ObjectClaim},
    keys::{Signer, Verifier},
};
use crate::{
    auth::{Auth, UserInfo},
    registry::{ControllerTask, Registry},
};

/// The issuer kube-apiserver uses when none is configured.
pub const DEFAULT_ISSUER: &str = "https://kubernetes.default.svc.cluster.local";
/// The group of every ServiceAccount.
pub const ALL_SERVICE_ACCOUNTS_GROUP: &str = "system:serviceaccounts";
/// The Secret type of legacy ServiceAccount tokens.
pub const TOKEN_SECRET_TYPE: &str = "kubernetes.io/service-account-token";
/// The annotation naming a token Secret's ServiceAccount.
pub const SERVICE_ACCOUNT_NAME_ANNOTATION: &str = "kubernetes.io/service-account.name";
/// The annotation holding a token Secret's ServiceAccount uid.
pub const SERVICE_ACCOUNT_UID_ANNOTATION: &str = "kubernetes.io/service-account.uid";

/// ServiceAccount token flags of `flotilla apiserver` (kube-apiserver's names).
#[derive(clap::Args, Clone, Debug, Default, PartialEq, Eq)]
pub struct ServiceAccountOptions {
    /// PEM files of public keys (or private keys, whose public half is used) verifying ServiceAccount tokens; by
    /// default the signing key's public key.
    #[arg(long = "service-account-key-file")]
    pub key_files: Vec<PathBuf>,
    /// The PKCS#8 private key (ECDSA P-256/P-384 or RSA, PEM) signing ServiceAccount tokens; by default `sa.key`
    /// beside the serving certificate (`--cert-dir`), generated on first start.
    #[arg(long = "service-account-signing-key-file")]
    pub signing_key_file: Option<PathBuf>,
    /// The `iss` of the tokens TokenRequest issues (default `https://kubernetes.default.svc.cluster.local`); tokens
    /// from any listed issuer are accepted.
    #[arg(long = "service-account-issuer")]
    pub issuers: Vec<String>,
    /// Audiences a bound token must name one of; by default the first issuer.
    #[arg(long = "api-audiences", value_delimiter = ',')]
    pub api_audiences: Vec<String>,
}

/// Unusable ServiceAccount key files.
#[derive(Debug, thiserror::Error)]
pub enum ServiceAccountError {
    /// A file could not be read.
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
    /// A generated key could not be written.
    #[error("writing the generated ServiceAccount key {path} (in --cert-dir): {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A key is unusable.
    #[error("the ServiceAccount key {origin} is unusable: {reason}")]
    Key {
        /// The file and flag.
        origin: String,
        /// What is wrong.
        reason: String,
    },
}

/// The token keys and settings of one server: what signs, what verifies, the issuer, the accepted audiences and
/// the CA bundle put into token Secrets.
#[derive(Debug)]
pub struct ServiceAccountTokens {
    signer: Option<Signer>,
    verifiers: Vec<Verifier>,
    issuers: Vec<String>,
    audiences: Vec<String>,
    ca_pem: String,
}

impl ServiceAccountTokens {
    /// Loads the keys the flags name; without `--service-account-signing-key-file`, the `sa.key`/`sa.pub` pair in
    /// `generated_dir` (created on first use). `ca_pem` is the bundle token Secrets carry as `ca.crt`.
    ///
    /// # Errors
    /// Unreadable or unusable key files; a generated pair that cannot be written.
    pub fn load(
        options: &ServiceAccountOptions,
        generated_dir: &Path,
        ca_pem: String,
    ) -> Result<Self, ServiceAccountError> {
        let (signer, own) = match &options.signing_key_file {
            Some(path) => keys::load_signer(path)?,
            None if options.key_files.is_empty() => keys::load_or_generate(generated_dir)?,
            None => {
                let mut verifiers = Vec::new();
                for path in &options.key_files {
                    verifiers.extend(keys::load_verifiers(path)?);
                }
                tracing::warn!("no --service-account-signing-key-file: ServiceAccount tokens are verified, not issued");
                return Ok(Self::new(None, verifiers, options, ca_pem));
            }
        };
        let mut verifiers = Vec::new();
        for path in &options.key_files {
            verifiers.extend(keys::load_verifiers(path)?);
        }
        if verifiers.is_empty() {
            verifiers.push(own);
        }
        Ok(Self::new(Some(signer), verifiers, options, ca_pem))
    }

    /// Keys from PEM text (tests and embedders): `signing_pem` a PKCS#8 private key whose public key verifies.
    ///
    /// # Errors
    /// An unusable key.
    pub fn from_pem(
        signing_pem: &str,
        options: &ServiceAccountOptions,
        ca_pem: String,
    ) -> Result<Self, ServiceAccountError> {
        let (signer, verifier) = keys::signer_from_pem(signing_pem.as_bytes(), "the given signing key")?;
        Ok(Self::new(Some(signer), vec![verifier], options, ca_pem))
    }

    fn new(signer: Option<Signer>, verifiers: Vec<Verifier>, options: &ServiceAccountOptions, ca_pem: String) -> Self {
        let issuers =
            if options.issuers.is_empty() { vec![DEFAULT_ISSUER.to_string()] } else { options.issuers.clone() };
        let audiences =
            if options.api_audiences.is_empty() { vec![issuers[0].clone()] } else { options.api_audiences.clone() };
        Self { signer, verifiers, issuers, audiences, ca_pem }
    }

    /// The issuer of bound tokens.
    pub fn issuer(&self) -> &str {
        self.issuers.first().map_or(DEFAULT_ISSUER, String::as_str)
    }

    /// The audiences a bound token must name one of (and the default of a TokenRequest).
    pub fn audiences(&self) -> &[String] {
        &self.audiences
    }

    /// The CA bundle token Secrets carry.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    fn signer(&self) -> Result<&Signer, String> {
        self.signer.as_ref().ok_or_else(|| "no --service-account-signing-key-file: tokens cannot be issued".to_string())
    }

    /// A signed legacy token for Secret `secret` of ServiceAccount `name` (uid `uid`) in `namespace`.
    ///
    /// # Errors
    /// No signing key, or signing failed.
    pub fn legacy_token(&self, namespace: &str, name: &str, uid: &str, secret: &str) -> Result<String, String> {
        claims::sign(self.signer()?, &Claims::legacy(namespace, name, uid, secret))
    }

    /// A signed bound token valid from `now` for `seconds`, for `audiences`, optionally bound to an object
    /// (`("Pod" | "Secret" | "Node", name, uid)`).
    ///
    /// # Errors
    /// No signing key, or signing failed.
    pub fn bound_token(
        &self,
        service_account: (&str, &str, &str),
        audiences: Vec<String>,
        now: i64,
        seconds: i64,
        bound: Option<(&str, &str, &str)>,
    ) -> Result<String, String> {
        let (namespace, name, uid) = service_account;
        let mut private = BoundClaims {
            namespace: namespace.into(),
            serviceaccount: ObjectClaim { name: name.into(), uid: uid.into() },
            ..BoundClaims::default()
        };
        if let Some((kind, name, uid)) = bound {
            let object = Some(ObjectClaim { name: name.into(), uid: uid.into() });
            match kind {
                "Pod" => private.pod = object,
                "Secret" => private.secret = object,
                "Node" => private.node = object,
                _ => return Err(format!("cannot bind a token to a {kind}")),
            }
        }
        let claims = Claims {
            iss: self.issuer().into(),
            sub: claims::username(namespace, name),
            aud: audiences,
            exp: Some(now + seconds),
            iat: Some(now),
            nbf: Some(now),
            jti: Some(uuid::Uuid::new_v4().to_string()),
            kubernetes: Some(private),
            ..Claims::default()
        };
        claims::sign(self.signer()?, &claims)
    }

    /// The verified claims of `token` if it is one of ours (right issuer, a key of ours signed it, and for bound
    /// tokens the time window and audience hold at `now`); `Ok(None)` when it is not a ServiceAccount token of
    /// this server at all.
    ///
    /// # Errors
    /// It claims to be ours but is not valid.
    pub fn verify(&self, token: &str, now: i64) -> Result<Option<Claims>, String> {
        let Some(unverified) = claims::peek(token) else { return Ok(None) };
        if !unverified.is_legacy() && !self.issuers.contains(&unverified.iss) {
            return Ok(None);
        }
        let claims = claims::verify(&self.verifiers, token)?;
        if claims.service_account().is_none() {
            return Err("the token does not name a ServiceAccount".into());
        }
        if !claims.is_legacy() {
            claims.check_bound(now, &self.audiences)?;
        }
        Ok(Some(claims))
    }
}

/// Seconds since the epoch.
pub fn now_seconds() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// Authenticates ServiceAccount tokens, checking against storage that what they name still exists.
#[derive(Clone)]
pub struct ServiceAccountAuthenticator {
    tokens: Arc<ServiceAccountTokens>,
    registry: Registry,
}

impl std::fmt::Debug for ServiceAccountAuthenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccountAuthenticator").field("tokens", &self.tokens).finish_non_exhaustive()
    }
}

impl ServiceAccountAuthenticator {
    /// Checks tokens with `tokens`' keys and `registry`'s ServiceAccounts, Secrets, Pods and Nodes.
    pub fn new(tokens: Arc<ServiceAccountTokens>, registry: Registry) -> Self {
        Self { tokens, registry }
    }

    /// The keys and settings.
    pub fn tokens(&self) -> &Arc<ServiceAccountTokens> {
        &self.tokens
    }

    /// The user of `token`, `Ok(None)` when it is no ServiceAccount token of this server.
    ///
    /// # Errors
    /// A token of ours that is invalid, expired, or whose ServiceAccount, Secret or bound object is gone.
    pub async fn authenticate(&self, token: &str) -> Result<Option<UserInfo>, String> {
        let Some(claims) = self.tokens.verify(token, now_seconds())? else { return Ok(None) };
        let Some((namespace, name, uid)) = claims.service_account() else {
            return Err("the token does not name a ServiceAccount".into());
        };
        let account = self.get("serviceaccounts", namespace, name).await?;
        if account.pointer("/metadata/uid").and_then(Value::as_str) != Some(uid) {
            return Err(format!("ServiceAccount {namespace}/{name} has been deleted (its uid differs)"));
        }
        if account.pointer("/metadata/deletionTimestamp").is_some_and(|v| !v.is_null()) {
            return Err(format!("ServiceAccount {namespace}/{name} is being deleted"));
        }
        let mut extra = Default::default();
        if claims.is_legacy() {
            let secret_name = claims.legacy_secret_name.as_deref().unwrap_or_default();
            let secret = self.get("secrets", namespace, secret_name).await?;
            let stored = secret
                .pointer("/data/token")
                .and_then(Value::as_str)
                .and_then(|data| base64::engine::general_purpose::STANDARD.decode(data).ok());
            if stored.as_deref() != Some(token.as_bytes()) {
                return Err(format!("the token Secret {namespace}/{secret_name} no longer holds this token"));
            }
            if secret.pointer("/metadata/deletionTimestamp").is_some_and(|v| !v.is_null()) {
                return Err(format!("the token Secret {namespace}/{secret_name} is being deleted"));
            }
        } else {
            if let Some(bound) = &claims.kubernetes {
                for (resource, object) in [("secrets", &bound.secret), ("pods", &bound.pod)] {
                    let Some(object) = object else { continue };
                    let found = self.get(resource, namespace, &object.name).await?;
                    if found.pointer("/metadata/uid").and_then(Value::as_str) != Some(object.uid.as_str()) {
                        return Err(format!(
                            "the {resource} {namespace}/{} the token is bound to is gone",
                            object.name
                        ));
                    }
                }
            }
            extra = claims::bound_extra(&claims);
        }
        Ok(Some(UserInfo {
            name: claims::username(namespace, name),
            uid: uid.to_string(),
            groups: vec![ALL_SERVICE_ACCOUNTS_GROUP.to_string(), format!("{ALL_SERVICE_ACCOUNTS_GROUP}:{namespace}")],
            extra,
        }))
    }

    async fn get(&self, resource: &str, namespace: &str, name: &str) -> Result<Value, String> {
        let store = self.registry.lookup("", "v1", resource).ok_or_else(|| format!("{resource} are not served"))?;
        store.get_cached(Some(namespace), name).await.map_err(|error| match error.code {
            404 => format!("{resource} {namespace}/{name} does not exist"),
            _ => format!("reading {resource} {namespace}/{name}: {}", error.message),
        })
    }
}

/// Turns ServiceAccount tokens on for a server: `auth` accepts them (TokenReview too) and TokenRequest issues
/// them, and the controller giving every namespace a `default` ServiceAccount and filling token Secrets runs until
/// the returned task is dropped.
pub fn enable(auth: &mut Auth, registry: &Registry, tokens: Arc<ServiceAccountTokens>) -> ControllerTask {
    auth.authenticator.set_service_accounts(ServiceAccountAuthenticator::new(Arc::clone(&tokens), registry.clone()));
    registry.serve_connect(tokenrequest::connect());
    registry.start_serviceaccounts_controller(tokens)
}
