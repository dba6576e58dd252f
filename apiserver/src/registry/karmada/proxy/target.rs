//! Where and how to reach a member cluster: endpoint, impersonator token, TLS trust, one cached client per cluster.

use std::{
    collections::HashMap,
    future::Future,
    pin::Pin,
    sync::{Arc, LazyLock},
    task::{Context, Poll},
};

use axum::body::Body;
use base64::Engine as _;
use http::{HeaderMap, HeaderName, HeaderValue, Uri};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::{
    client::legacy::{
        Client,
        connect::{HttpConnector, proxy::Tunnel},
    },
    rt::{TokioExecutor, TokioIo},
};
use parking_lot::Mutex;
use rustls::{
    ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
    client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier},
    crypto::CryptoProvider,
    pki_types::{CertificateDer, ServerName, UnixTime, pem::PemObject},
};
use serde_json::Value;
use tokio::net::TcpStream;

use crate::{
    http::ApiState,
    machinery::{ApiError, Object, options::GetOptions},
};

/// The client every request to one member goes through.
pub type MemberClient = Client<HttpsConnector<Dialer>, Body>;

/// A member cluster, ready to be sent requests.
pub struct Target {
    /// The cluster's name.
    pub cluster: String,
    /// `spec.apiEndpoint`, parsed.
    pub endpoint: Uri,
    /// The impersonator's bearer token.
    pub token: String,
    /// The cached client.
    pub client: MemberClient,
}

impl Target {
    /// The member URL of `path` (as sent, percent-encoded) and `query`: the endpoint's path joined with `path`,
    /// without a trailing slash, as Karmada's `path.Join` gives it.
    pub fn url(&self, path: &str, query: &str) -> Result<Uri, ApiError> {
        let base = self.endpoint.path().trim_end_matches('/');
        let mut joined = format!("{base}{}", if path.is_empty() || path.starts_with('/') { "" } else { "/" });
        joined.push_str(path);
        let mut joined = joined.trim_end_matches('/').to_string();
        if joined.is_empty() {
            joined.push('/');
        }
        if !query.is_empty() {
            joined = format!("{joined}?{query}");
        }
        let mut parts = self.endpoint.clone().into_parts();
        parts.path_and_query = Some(joined.parse().map_err(|e| ApiError::bad_request(format!("invalid path: {e}")))?);
        Uri::from_parts(parts).map_err(|e| ApiError::bad_request(format!("invalid path: {e}")))
    }
}

/// What a cached client was built from; a change of any of it builds a new one.
#[derive(Clone, PartialEq, Eq)]
struct Fingerprint(Vec<String>);

static CLIENTS: LazyLock<Mutex<HashMap<String, (Fingerprint, MemberClient)>>> = LazyLock::new(Mutex::default);

/// The cluster `name`'s target, from the Cluster object and its secrets: the endpoint, the impersonator token
/// (`spec.impersonatorSecretRef`, required as Karmada requires it), and TLS trust (`caBundle` of `spec.secretRef`,
/// system roots without one, nothing checked with `spec.insecureSkipTLSVerification`).
///
/// # Errors
/// 404 when a referenced secret is missing; 500 (as Karmada) for a cluster without endpoint or impersonator.
pub async fn resolve(state: &ApiState, cluster: &Object) -> Result<Target, ApiError> {
    let name = cluster.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_string();
    let spec = cluster.get("spec").cloned().unwrap_or(Value::Null);
    let text = |field: &str| spec.get(field).and_then(Value::as_str).unwrap_or_default().to_string();
    let insecure = spec.get("insecureSkipTLSVerification").and_then(Value::as_bool).unwrap_or(false);
    let mut fingerprint = vec![
        text("apiEndpoint"),
        text("proxyURL"),
        insecure.to_string(),
        spec.get("proxyHeader").map(Value::to_string).unwrap_or_default(),
        cluster.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or_default().to_string(),
    ];

    let ca_secret = match spec.get("secretRef") {
        Some(reference) if !reference.is_null() => Some(secret(state, reference).await?),
        _ => None,
    };
    let ca_bundle = ca_secret.as_ref().map(|s| secret_data(s, "caBundle").unwrap_or_default());
    fingerprint.push(ca_bundle.as_ref().map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default());

    let endpoint_text = text("apiEndpoint");
    if endpoint_text.is_empty() {
        return Err(ApiError::internal(format!("API endpoint of cluster {name} should not be empty")));
    }
    let endpoint: Uri = endpoint_text
        .parse()
        .map_err(|e| ApiError::internal(format!("failed to parse api endpoint {endpoint_text}: {e}")))?;
    let Some(reference) = spec.get("impersonatorSecretRef").filter(|r| !r.is_null()) else {
        return Err(ApiError::internal(format!("the impersonatorSecretRef of cluster {name} is nil")));
    };
    let impersonator = secret(state, reference).await?;
    let Some(token) = secret_data(&impersonator, "token") else {
        return Err(ApiError::internal(format!(
            "failed to get impresonateToken for cluster {name}: the impresonate token of cluster {name} is empty"
        )));
    };
    let token = String::from_utf8_lossy(&token).trim().to_string();

    let fingerprint = Fingerprint(fingerprint);
    let cached = CLIENTS.lock().get(&name).filter(|(f, _)| *f == fingerprint).map(|(_, c)| c.clone());
    let client = match cached {
        Some(client) => client,
        None => {
            let proxy = Some(text("proxyURL")).filter(|p| !p.is_empty());
            let client = build_client(ca_bundle.as_deref(), insecure, proxy.as_deref(), spec.get("proxyHeader"))
                .map_err(|e| ApiError::internal(format!("building the client of cluster {name}: {e}")))?;
            CLIENTS.lock().insert(name.clone(), (fingerprint, client.clone()));
            client
        }
    };
    Ok(Target { cluster: name, endpoint, token, client })
}

/// The Secret a `{namespace, name}` reference names.
async fn secret(state: &ApiState, reference: &Value) -> Result<Object, ApiError> {
    let namespace = reference.get("namespace").and_then(Value::as_str).unwrap_or_default();
    let name = reference.get("name").and_then(Value::as_str).unwrap_or_default();
    let Some(secrets) = state.registry.lookup("", "v1", "secrets") else {
        return Err(ApiError::internal("secrets are not served"));
    };
    secrets.get(Some(namespace), name, &GetOptions::default()).await
}

/// A decoded `data` entry of a Secret.
fn secret_data(secret: &Object, key: &str) -> Option<Vec<u8>> {
    let encoded = secret.get("data")?.get(key)?.as_str()?;
    base64::engine::general_purpose::STANDARD.decode(encoded).ok()
}

/// Why a client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The `spec.proxyURL` is not a URL.
    #[error("failed to parse url of proxy url {0}: {1}")]
    ProxyUrl(String, String),
    /// The system's root certificates could not be read.
    #[error("reading the system root certificates: {0}")]
    Roots(String),
    /// rustls refused the configuration.
    #[error("{0}")]
    Tls(#[from] rustls::Error),
}

fn build_client(
    ca_bundle: Option<&[u8]>,
    insecure: bool,
    proxy: Option<&str>,
    proxy_header: Option<&Value>,
) -> Result<MemberClient, ClientError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    match ca_bundle {
        // Certificates that do not parse are skipped, as Go's AppendCertsFromPEM does.
        Some(pem) => {
            for cert in CertificateDer::pem_slice_iter(pem).flatten() {
                let _ = roots.add(cert);
            }
        }
        None => {
            let native = rustls_native_certs::load_native_certs();
            if native.certs.is_empty() && !native.errors.is_empty() {
                return Err(ClientError::Roots(format!("{:?}", native.errors)));
            }
            roots.add_parsable_certificates(native.certs);
        }
    }
    // Karmada talks TLS 1.3 to members.
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&[&rustls::version::TLS13])?;
    let config = if insecure {
        builder.dangerous().with_custom_certificate_verifier(Arc::new(NoVerification(provider))).with_no_client_auth()
    } else {
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    let dialer = match proxy {
        None => Dialer::Direct(http),
        Some(url) => {
            let uri: Uri =
                url.parse().map_err(|e: http::uri::InvalidUri| ClientError::ProxyUrl(url.into(), e.to_string()))?;
            let mut tunnel = Tunnel::new(uri, http);
            let headers = proxy_headers(proxy_header);
            if !headers.is_empty() {
                tunnel = tunnel.with_headers(headers);
            }
            Dialer::Tunnel(tunnel)
        }
    };
    let https =
        HttpsConnectorBuilder::new().with_tls_config(config).https_or_http().enable_http1().wrap_connector(dialer);
    Ok(Client::builder(TokioExecutor::new()).build(https))
}

/// `spec.proxyHeader`: each value split on commas, as Karmada does.
fn proxy_headers(value: Option<&Value>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (key, values) in value.and_then(Value::as_object).into_iter().flatten() {
        let (Ok(name), Some(values)) = (HeaderName::try_from(key.as_str()), values.as_str()) else { continue };
        for value in values.split(',') {
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.append(name.clone(), value);
            }
        }
    }
    headers
}

/// Connects to a member directly or through `spec.proxyURL` (HTTP CONNECT).
#[derive(Clone, Debug)]
pub enum Dialer {
    /// Straight to the member.
    Direct(HttpConnector),
    /// Through an HTTP proxy.
    Tunnel(Tunnel<HttpConnector>),
}

type DialFuture = Pin<Box<dyn Future<Output = Result<TokioIo<TcpStream>, BoxError>> + Send>>;
type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl tower::Service<Uri> for Dialer {
    type Response = TokioIo<TcpStream>;
    type Error = BoxError;
    type Future = DialFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        match self {
            Self::Direct(http) => http.poll_ready(cx).map_err(Into::into),
            Self::Tunnel(tunnel) => tunnel.poll_ready(cx).map_err(Into::into),
        }
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        match self {
            Self::Direct(http) => {
                let connecting = http.call(dst);
                Box::pin(async move { connecting.await.map_err(Into::into) })
            }
            Self::Tunnel(tunnel) => {
                let connecting = tunnel.call(dst);
                Box::pin(async move { connecting.await.map_err(Into::into) })
            }
        }
    }
}

/// `spec.insecureSkipTLSVerification`: any server certificate is accepted (signatures are still checked).
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(endpoint: &str) -> Target {
        let client = build_client(Some(b""), false, None, None).expect("a client");
        Target { cluster: "m".into(), endpoint: endpoint.parse().expect("uri"), token: String::new(), client }
    }

    #[test]
    fn the_proxied_path_joins_the_endpoint_path_as_karmada_does() {
        let url = |endpoint: &str, path: &str, query: &str| target(endpoint).url(path, query).unwrap().to_string();
        assert_eq!(url("https://10.0.0.1:6443", "/api/v1/nodes", ""), "https://10.0.0.1:6443/api/v1/nodes");
        assert_eq!(
            url("https://m:6443/base/", "/api/v1/nodes/", "watch=true"),
            "https://m:6443/base/api/v1/nodes?watch=true"
        );
        assert_eq!(url("https://m:6443", "", ""), "https://m:6443/");
        assert_eq!(url("https://m", "/api/v1/namespaces/a%2Fb", ""), "https://m/api/v1/namespaces/a%2Fb");
    }

    #[test]
    fn proxy_headers_split_their_values_on_commas() {
        let headers = proxy_headers(Some(&serde_json::json!({"X-Team": "a,b", "bad header": "x"})));
        let values: Vec<&str> = headers.get_all("x-team").iter().filter_map(|v| v.to_str().ok()).collect();
        assert_eq!(values, ["a", "b"]);
        assert_eq!(headers.len(), 2);
    }
}
