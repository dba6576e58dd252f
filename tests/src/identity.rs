//! Acting as someone else against a test server: client certificates, tokens, raw requests with chosen headers.

use std::{
    path::{Path, PathBuf},
    process::{Output, Stdio},
    sync::atomic::{AtomicU64, Ordering},
};

use flotilla_certs::{Authority, IssuedCert};
use http_body_util::BodyExt;

use crate::server::ApiServer;

/// What the server answered a raw request: status, headers and body text.
#[derive(Debug)]
pub struct RawAnswer {
    /// The HTTP status code.
    pub status: u16,
    /// The response headers.
    pub headers: http::HeaderMap,
    /// The body as text.
    pub body: String,
}

impl RawAnswer {
    /// The body parsed as JSON.
    ///
    /// # Panics
    /// When it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

impl ApiServer {
    /// A client certificate for `user` in `groups`, signed by the server's client CA.
    ///
    /// # Panics
    /// When the CA cannot be read or the certificate not issued.
    pub fn issue_client(&self, user: &str, groups: &[&str]) -> IssuedCert {
        let authority = Authority::load(&self.pki().ca_cert, &self.pki().ca_key).expect("loading the cluster CA");
        authority.issue_client(user, groups).expect("issuing a client certificate")
    }

    /// The front proxy's client certificate (CN `front-proxy-client`, signed by the front-proxy CA), as a
    /// kube-aggregator presents it.
    ///
    /// # Panics
    /// When the files cannot be read.
    pub fn front_proxy_client(&self) -> IssuedCert {
        IssuedCert {
            cert_pem: std::fs::read_to_string(&self.pki().front_proxy_client_cert).expect("reading the proxy cert"),
            key_pem: std::fs::read_to_string(&self.pki().front_proxy_client_key).expect("reading the proxy key"),
        }
    }

    /// A kubeconfig reaching this server as `user` in `groups` (a client certificate from the cluster CA).
    pub fn kubeconfig_for(&self, user: &str, groups: &[&str]) -> PathBuf {
        let cert = self.issue_client(user, groups);
        self.kubeconfig_with(user, Some(&cert), None)
    }

    /// A kubeconfig reaching this server with `client` and/or the bearer `token` (neither: anonymous), written to
    /// a new file in the server's directory.
    ///
    /// # Panics
    /// When the file cannot be written.
    pub fn kubeconfig_with(&self, user: &str, client: Option<&IssuedCert>, token: Option<&str>) -> PathBuf {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = self.dir().join(format!("kubeconfig-{}", NEXT.fetch_add(1, Ordering::Relaxed)));
        let text = flotilla_certs::kubeconfig(self.url(), self.ca_pem(), user, client, token);
        std::fs::write(&path, text).expect("writing a kubeconfig");
        path
    }

    /// A kube-rs client acting as `user` in `groups` (client certificate).
    pub async fn client_for(&self, user: &str, groups: &[&str]) -> kube::Client {
        self.client_from(&self.kubeconfig_for(user, groups)).await
    }

    /// Runs kubectl as `user` in `groups` (client certificate) with no input.
    pub fn kubectl_as_user(&self, user: &str, groups: &[&str], args: &[&str]) -> Output {
        kubectl_with(&self.kubeconfig_for(user, groups), args)
    }

    /// Sends `request` through a client from `kubeconfig` exactly as given (headers included) and returns the
    /// answer whatever its status.
    ///
    /// # Panics
    /// When the server cannot be reached.
    pub async fn raw_request(&self, kubeconfig: &Path, request: http::Request<Vec<u8>>) -> RawAnswer {
        let client = self.client_from(kubeconfig).await;
        let (parts, body) = request.into_parts();
        let request = http::Request::from_parts(parts, kube::client::Body::from(body));
        let response = client.send(request).await.expect("sending a request");
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.expect("reading the answer").to_bytes();
        RawAnswer {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body: String::from_utf8_lossy(&bytes).into(),
        }
    }
}

/// Runs `kubectl --kubeconfig <kubeconfig> <args>` with no input.
///
/// # Panics
/// When kubectl is not installed (the message says how to install it).
pub fn kubectl_with(kubeconfig: &Path, args: &[&str]) -> Output {
    let mut command = crate::kubectl_command(kubeconfig);
    command.args(args).stdin(Stdio::null());
    match command.output() {
        Ok(output) => output,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            panic!("kubectl is not installed: run ./hack/setup.sh (or install kubectl) so that `kubectl` is on PATH")
        }
        Err(error) => panic!("running kubectl {args:?}: {error}"),
    }
}
