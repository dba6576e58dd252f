//! Delegation to a host cluster (`--authentication-kubeconfig`): TokenReview for unknown bearer tokens, with a
//! short cache, and the `kube-system/extension-apiserver-authentication` ConfigMap's settings, followed.

use std::{
    collections::{BTreeMap, HashMap},
    path::Path,
    sync::{Arc, Weak},
    time::{Duration, Instant},
};

use k8s_openapi::api::{
    authentication::v1::{TokenReview, TokenReviewSpec},
    core::v1::ConfigMap,
};
use kube::api::{Api, PostParams};
use parking_lot::{Mutex, RwLock};
use sha2::{Digest, Sha256};

use super::{AuthnError, CertificateAuthn};
use crate::auth::UserInfo;

/// Namespace and name of the ConfigMap kube-apiserver publishes its client authentication settings in.
pub const AUTHENTICATION_CONFIGMAP: (&str, &str) = ("kube-system", "extension-apiserver-authentication");

/// How often the host's ConfigMap is read again for changed settings.
const CONFIGMAP_CHECK_INTERVAL: Duration = Duration::from_secs(10);

/// Cached answers are dropped when the cache grows past this many tokens.
const CACHE_LIMIT: usize = 4096;

/// A kube-rs client for the cluster of `kubeconfig`.
///
/// # Errors
/// An unreadable or unusable kubeconfig.
pub async fn client(kubeconfig: &Path) -> Result<kube::Client, AuthnError> {
    let bad = |reason: String| AuthnError::HostKubeconfig { path: kubeconfig.to_path_buf(), reason };
    let parsed = kube::config::Kubeconfig::read_from(kubeconfig).map_err(|e| bad(e.to_string()))?;
    let config = kube::Config::from_custom_kubeconfig(parsed, &kube::config::KubeConfigOptions::default())
        .await
        .map_err(|e| bad(e.to_string()))?;
    kube::Client::try_from(config).map_err(|e| bad(e.to_string()))
}

/// What the host said about one token.
type Verdict = Result<Option<UserInfo>, String>;

/// Bearer tokens checked by the host's TokenReview API; answers (also failures) cached for the TTL.
pub struct TokenWebhook {
    client: kube::Client,
    ttl: Duration,
    cache: Mutex<HashMap<[u8; 32], (Instant, Verdict)>>,
}

impl std::fmt::Debug for TokenWebhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenWebhook").field("ttl", &self.ttl).finish_non_exhaustive()
    }
}

impl TokenWebhook {
    /// A webhook over `client` caching answers for `ttl`.
    pub fn new(client: kube::Client, ttl: Duration) -> Self {
        Self { client, ttl, cache: Mutex::new(HashMap::new()) }
    }

    /// The user the host authenticates `token` as, `None` when it does not.
    ///
    /// # Errors
    /// The host could not be asked, or answered with an error.
    pub async fn authenticate(&self, token: &str) -> Verdict {
        // Keyed by a digest so the cache holds no credentials.
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some((at, verdict)) = self.cache.lock().get(&key)
            && at.elapsed() < self.ttl
        {
            return verdict.clone();
        }
        let verdict = self.ask(token).await;
        let mut cache = self.cache.lock();
        if cache.len() >= CACHE_LIMIT {
            let ttl = self.ttl;
            cache.retain(|_, (at, _)| at.elapsed() < ttl);
            if cache.len() >= CACHE_LIMIT {
                cache.clear();
            }
        }
        cache.insert(key, (Instant::now(), verdict.clone()));
        verdict
    }

    async fn ask(&self, token: &str) -> Verdict {
        let review = TokenReview {
            spec: TokenReviewSpec { token: token.to_string(), ..TokenReviewSpec::default() },
            ..TokenReview::default()
        };
        let api: Api<TokenReview> = Api::all(self.client.clone());
        let answer = api
            .create(&PostParams::default(), &review)
            .await
            .map_err(|e| format!("asking the host cluster's TokenReview API: {e}"))?;
        let status = answer.status.unwrap_or_default();
        if let Some(error) = status.error.filter(|e| !e.is_empty()) {
            return Err(error);
        }
        if status.authenticated != Some(true) {
            return Ok(None);
        }
        let user = status.user.unwrap_or_default();
        Ok(Some(UserInfo {
            name: user.username.unwrap_or_default(),
            uid: user.uid.unwrap_or_default(),
            groups: user.groups.unwrap_or_default(),
            extra: user.extra.unwrap_or_default().into_iter().collect::<BTreeMap<_, _>>(),
        }))
    }
}

/// The host's client authentication settings, as kube-apiserver publishes them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostAuthentication {
    /// `client-ca-file` (PEM).
    pub client_ca: Option<String>,
    /// `requestheader-client-ca-file` (PEM).
    pub requestheader_ca: Option<String>,
    /// `requestheader-allowed-names`.
    pub allowed_names: Vec<String>,
    /// `requestheader-username-headers`.
    pub username_headers: Vec<String>,
    /// `requestheader-uid-headers`.
    pub uid_headers: Vec<String>,
    /// `requestheader-group-headers`.
    pub group_headers: Vec<String>,
    /// `requestheader-extra-headers-prefix`.
    pub extra_prefixes: Vec<String>,
}

/// The `data` of `kube-system/extension-apiserver-authentication` on the host.
///
/// # Errors
/// The ConfigMap cannot be read.
pub async fn authentication_configmap_data(client: kube::Client) -> Result<BTreeMap<String, String>, AuthnError> {
    let (namespace, name) = AUTHENTICATION_CONFIGMAP;
    let api: Api<ConfigMap> = Api::namespaced(client, namespace);
    let configmap = api.get(name).await.map_err(|e| AuthnError::HostConfigMap(e.to_string()))?;
    Ok(configmap.data.unwrap_or_default())
}

/// Keeps `current` in step with the host's ConfigMap: every [`CONFIGMAP_CHECK_INTERVAL`] the ConfigMap is read
/// again and, when its data changed from `seen`, `from_flags` filled from its settings (see
/// [`CertificateAuthn::with_host_settings`]) replaces the certificate authenticators, as kube's delegating
/// authentication follows it. A ConfigMap that cannot be read or whose settings are not usable leaves the last good
/// settings in place, with a warning. Stops with the authenticator.
pub fn follow_configmap(
    client: kube::Client,
    from_flags: CertificateAuthn,
    (keep_requestheader, keep_client_ca): (bool, bool),
    mut seen: BTreeMap<String, String>,
    current: Weak<RwLock<Arc<CertificateAuthn>>>,
) {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(CONFIGMAP_CHECK_INTERVAL).await;
            if current.strong_count() == 0 {
                return;
            }
            let data = match authentication_configmap_data(client.clone()).await {
                Ok(data) => data,
                Err(error) => {
                    tracing::warn!(%error, "keeping the host's authentication settings read before");
                    continue;
                }
            };
            if data == seen {
                continue;
            }
            let filled = parse_configmap(&data)
                .and_then(|published| from_flags.with_host_settings(&published, keep_requestheader, keep_client_ca));
            seen = data;
            match filled {
                Ok(filled) => {
                    let Some(current) = current.upgrade() else { return };
                    *current.write() = Arc::new(filled);
                    tracing::info!("loaded the host's changed authentication settings");
                }
                Err(error) => tracing::warn!(
                    %error,
                    "the host's changed authentication settings are not usable; keeping the settings read before"
                ),
            }
        }
    });
}

/// The settings of the ConfigMap's `data`.
///
/// # Errors
/// A list-valued key that is not a JSON array of strings.
pub fn parse_configmap(data: &BTreeMap<String, String>) -> Result<HostAuthentication, AuthnError> {
    let list = |key: &str| -> Result<Vec<String>, AuthnError> {
        match data.get(key).map(|v| v.trim()).filter(|v| !v.is_empty()) {
            None => Ok(Vec::new()),
            Some(value) => serde_json::from_str(value)
                .map_err(|e| AuthnError::HostConfigMap(format!("{key} is not a JSON list of strings: {e}"))),
        }
    };
    let text = |key: &str| data.get(key).filter(|v| !v.trim().is_empty()).cloned();
    Ok(HostAuthentication {
        client_ca: text("client-ca-file"),
        requestheader_ca: text("requestheader-client-ca-file"),
        allowed_names: list("requestheader-allowed-names")?,
        username_headers: list("requestheader-username-headers")?,
        uid_headers: list("requestheader-uid-headers")?,
        group_headers: list("requestheader-group-headers")?,
        extra_prefixes: list("requestheader-extra-headers-prefix")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configmaps_list_keys_are_json_arrays() {
        let data: BTreeMap<String, String> = [
            ("requestheader-allowed-names", r#"["front-proxy-client"]"#),
            ("requestheader-username-headers", r#"["X-Remote-User"]"#),
            ("requestheader-group-headers", r#"["X-Remote-Group"]"#),
            ("requestheader-extra-headers-prefix", r#"["X-Remote-Extra-"]"#),
            ("requestheader-client-ca-file", "PEM"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let parsed = parse_configmap(&data).unwrap();
        assert_eq!(parsed.allowed_names, vec!["front-proxy-client"]);
        assert_eq!(parsed.requestheader_ca.as_deref(), Some("PEM"));
        assert_eq!(parsed.client_ca, None);
        let bad: BTreeMap<String, String> =
            [("requestheader-allowed-names".to_string(), "front-proxy-client".to_string())].into_iter().collect();
        assert!(parse_configmap(&bad).is_err());
    }
}
