//! Clients for member clusters: from a Cluster and its Secret, or from a kubeconfig file and context.

use std::path::Path;
use std::time::Duration;

use base64::Engine;
use flotilla_apis::cluster::v1alpha1::{Cluster, SECRET_CA_DATA_KEY, SECRET_TOKEN_KEY};
use k8s_openapi::api::core::v1::Secret;
use kube::config::{KubeConfigOptions, Kubeconfig};

/// Why no client could be built.
#[derive(Debug, thiserror::Error)]
pub enum MemberError {
    /// The Cluster has no `spec.apiEndpoint`, or it is not a URL.
    #[error("cluster {cluster}: invalid apiEndpoint {endpoint:?}")]
    Endpoint {
        /// Cluster name.
        cluster: String,
        /// What `spec.apiEndpoint` holds.
        endpoint: String,
    },
    /// The Cluster names no Secret, or the Secret lacks `token`.
    #[error("cluster {cluster}: {problem}")]
    Credentials {
        /// Cluster name.
        cluster: String,
        /// What is missing.
        problem: String,
    },
    /// `caBundle` is not PEM.
    #[error("cluster {cluster}: caBundle is not a PEM certificate bundle")]
    CaBundle {
        /// Cluster name.
        cluster: String,
    },
    /// The kubeconfig has no such context.
    #[error("kubeconfig {path}: context {context:?} not found")]
    NoContext {
        /// Its path.
        path: String,
        /// The context asked for.
        context: String,
    },
    /// The kubeconfig could not be read or used.
    #[error("kubeconfig {path}: {source}")]
    Kubeconfig {
        /// Its path.
        path: String,
        /// What went wrong.
        #[source]
        source: kube::config::KubeconfigError,
    },
    /// kube-rs refused the configuration.
    #[error("building a client: {0}")]
    Client(#[from] kube::Error),
}

/// Timeouts for talking to members: short, so one unreachable member never stalls a round of probes.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// See [`CONNECT_TIMEOUT`].
pub const READ_TIMEOUT: Duration = Duration::from_secs(15);

/// Bytes of a Secret key (`data` wins over `stringData`).
pub fn secret_value(secret: &Secret, key: &str) -> Option<Vec<u8>> {
    secret
        .data
        .as_ref()
        .and_then(|d| d.get(key))
        .map(|b| b.0.clone())
        .or_else(|| secret.string_data.as_ref().and_then(|d| d.get(key)).map(|s| s.as_bytes().to_vec()))
}

/// DER certificates of a PEM bundle.
pub fn pem_certificates(pem: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut ders = Vec::new();
    for block in x509_parser::pem::Pem::iter_from_buffer(pem) {
        let block = block.ok()?;
        if block.label == "CERTIFICATE" {
            ders.push(block.contents);
        }
    }
    (!ders.is_empty()).then_some(ders)
}

/// A client for the member described by `cluster`, authenticating with the `token` of `secret` and trusting its
/// `caBundle` (or anything, with `insecureSkipTLSVerification`).
pub fn client_for_cluster(cluster: &Cluster, secret: &Secret) -> Result<kube::Client, MemberError> {
    let name = cluster.metadata.name.clone().unwrap_or_default();
    let endpoint = cluster.spec.api_endpoint.clone().unwrap_or_default();
    let url: http::Uri = endpoint
        .parse()
        .ok()
        .filter(|u: &http::Uri| u.scheme().is_some() && u.host().is_some())
        .ok_or_else(|| MemberError::Endpoint { cluster: name.clone(), endpoint: endpoint.clone() })?;
    let token = secret_value(secret, SECRET_TOKEN_KEY)
        .and_then(|t| String::from_utf8(t).ok())
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| MemberError::Credentials {
            cluster: name.clone(),
            problem: format!("secret has no {SECRET_TOKEN_KEY:?}"),
        })?;
    let mut config = kube::Config::new(url);
    config.auth_info.token = Some(token.trim().to_owned().into());
    config.accept_invalid_certs = cluster.spec.insecure_skip_tls_verification.unwrap_or(false);
    if !config.accept_invalid_certs
        && let Some(ca) = secret_value(secret, SECRET_CA_DATA_KEY).filter(|c| !c.is_empty())
    {
        // Karmada stores the PEM itself; tolerate a second base64 layer too.
        let pem = if ca.starts_with(b"-----") {
            ca
        } else {
            base64::engine::general_purpose::STANDARD.decode(&ca).unwrap_or(ca)
        };
        config.root_cert = Some(pem_certificates(&pem).ok_or(MemberError::CaBundle { cluster: name })?);
    }
    finish(config)
}

/// A client from a kubeconfig file, with `context` (or its current context).
pub async fn client_from_kubeconfig(path: &Path, context: Option<&str>) -> Result<ClientConfig, MemberError> {
    let wrap = |source| MemberError::Kubeconfig { path: path.display().to_string(), source };
    let kubeconfig = Kubeconfig::read_from(path).map_err(wrap)?;
    let options = KubeConfigOptions { context: context.map(str::to_owned), ..KubeConfigOptions::default() };
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options).await.map_err(|error| match error {
        kube::config::KubeconfigError::LoadContext(context) => {
            MemberError::NoContext { path: path.display().to_string(), context }
        }
        other => wrap(other),
    })?;
    let endpoint = config.cluster_url.to_string().trim_end_matches('/').to_owned();
    let insecure = config.accept_invalid_certs;
    let ca_pem = ca_pem_of(path, context);
    Ok(ClientConfig { client: finish(config)?, endpoint, insecure, ca_pem })
}

/// A client with where it points, for `join`.
pub struct ClientConfig {
    /// The client.
    pub client: kube::Client,
    /// The server URL from the kubeconfig.
    pub endpoint: String,
    /// Whether the kubeconfig skips TLS verification.
    pub insecure: bool,
    /// The CA bundle (PEM) of the kubeconfig's cluster, when it names one.
    pub ca_pem: Option<Vec<u8>>,
}

fn finish(mut config: kube::Config) -> Result<kube::Client, MemberError> {
    config.connect_timeout = Some(CONNECT_TIMEOUT);
    config.read_timeout = Some(READ_TIMEOUT);
    config.default_retry = false;
    Ok(kube::Client::try_from(config)?)
}

/// The PEM CA of the kubeconfig cluster that `context` (or the current context) uses.
fn ca_pem_of(path: &Path, context: Option<&str>) -> Option<Vec<u8>> {
    let kubeconfig = Kubeconfig::read_from(path).ok()?;
    let context_name = context.map(str::to_owned).or(kubeconfig.current_context.clone())?;
    let cluster_name = kubeconfig
        .contexts
        .iter()
        .find(|c| c.name == context_name)
        .and_then(|c| c.context.as_ref())
        .map(|c| c.cluster.clone())?;
    let cluster = kubeconfig.clusters.iter().find(|c| c.name == cluster_name)?.cluster.as_ref()?;
    if let Some(data) = &cluster.certificate_authority_data {
        return base64::engine::general_purpose::STANDARD.decode(data.trim()).ok();
    }
    let file = cluster.certificate_authority.as_ref()?;
    let file = Path::new(file);
    let file = if file.is_relative() { path.parent().map(|p| p.join(file))? } else { file.to_path_buf() };
    std::fs::read(file).ok()
}
