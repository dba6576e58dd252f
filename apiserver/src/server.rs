//! The HTTPS server: TLS checked before binding, hyper (h2 and http/1.1) serving the API router, graceful drain.

pub mod flags;
pub mod health;
mod instance;
pub mod kubeconfig;
pub mod metrics;
pub mod shutdown;
pub mod tls;
pub mod version;

use std::{
    io,
    net::{IpAddr, SocketAddr},
    path::PathBuf,
    sync::Arc,
    time::Duration,
};

use axum::Router;
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::{conn::auto, graceful::GracefulShutdown},
    service::TowerToHyperService,
};
use tokio::{
    io::AsyncWriteExt,
    net::{TcpListener, TcpStream},
};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

pub use instance::{Instance, StartError};
pub use shutdown::{Drain, ShutdownRequests, ShutdownTrigger};
pub use tls::{CertSource, PeerCertificates, ServingCert, TlsError};

/// The answer to a plain-HTTP request on the HTTPS port (what Go's servers send).
const PLAIN_HTTP_ANSWER: &[u8] = b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";

/// How long a client may take to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Serving options of `flotilla apiserver`.
#[derive(clap::Args, Clone, Debug, PartialEq, Eq)]
pub struct ServerOptions {
    /// Address to listen on for HTTPS.
    #[arg(long = "bind-address", default_value = "0.0.0.0")]
    pub bind_address: IpAddr,
    /// Port to listen on for HTTPS (`0` picks a free port).
    #[arg(long = "secure-port", default_value_t = 6443)]
    pub secure_port: u16,
    /// Directory of the generated self-signed serving certificate (`apiserver.crt`/`apiserver.key`), created on
    /// first start when `--tls-cert-file` is not given.
    #[arg(long = "cert-dir", default_value = ".flotilla/certs")]
    pub cert_dir: PathBuf,
    /// Serving certificate (PEM, chain allowed) instead of the generated one.
    #[arg(long = "tls-cert-file", requires = "tls_private_key_file")]
    pub tls_cert_file: Option<PathBuf>,
    /// Private key (PEM) of `--tls-cert-file`.
    #[arg(long = "tls-private-key-file", requires = "tls_cert_file")]
    pub tls_private_key_file: Option<PathBuf>,
    /// Extra DNS names or IPs for a generated certificate (besides localhost, 127.0.0.1, ::1 and the host name).
    #[arg(long = "tls-sans", value_delimiter = ',')]
    pub tls_sans: Vec<String>,
    /// How long a non-watch request may take before it fails with 504.
    #[arg(id = "server_request_timeout", long = "request-timeout", default_value = "60s", value_parser = humantime::parse_duration)]
    pub request_timeout: Duration,
    /// How long in-flight requests may finish after SIGTERM before the server stops anyway.
    #[arg(long = "shutdown-grace", default_value = "30s", value_parser = humantime::parse_duration)]
    pub shutdown_grace: Duration,
    /// How long an HTTP/1.1 client may take to send the request headers.
    #[arg(long = "header-read-timeout", default_value = "10s", value_parser = humantime::parse_duration)]
    pub header_read_timeout: Duration,
    /// Largest request body accepted; larger ones get 413.
    #[arg(long = "max-request-body-bytes", default_value_t = 3 * 1024 * 1024)]
    pub max_request_body_bytes: usize,
    /// Most non-mutating requests served at once (watches excluded); more get 429. 0 = unlimited.
    #[arg(long = "max-requests-inflight", default_value_t = 400)]
    pub max_requests_inflight: usize,
    /// Most mutating requests served at once; more get 429. 0 = unlimited.
    #[arg(long = "max-mutating-requests-inflight", default_value_t = 200)]
    pub max_mutating_requests_inflight: usize,
}

impl Default for ServerOptions {
    fn default() -> Self {
        flags::defaults(&[])
    }
}

impl ServerOptions {
    /// Where the serving certificate comes from.
    pub fn cert_source(&self) -> CertSource {
        match (&self.tls_cert_file, &self.tls_private_key_file) {
            (Some(cert), Some(key)) => CertSource::Files { cert: cert.clone(), key: key.clone() },
            _ => CertSource::Generated { dir: self.cert_dir.clone(), sans: tls::default_sans(&self.tls_sans) },
        }
    }
}

/// Everything that stops the server from starting.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The serving certificate is unusable.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The address could not be bound.
    #[error("listening on {address} (set by --bind-address and --secure-port; --port of flotilla up): {source}")]
    Bind {
        /// The address.
        address: SocketAddr,
        /// Why.
        #[source]
        source: io::Error,
    },
}

/// A bound HTTPS listener with a validated serving certificate, ready to serve.
pub struct Server {
    listener: TcpListener,
    local_addr: SocketAddr,
    cert: ServingCert,
    options: ServerOptions,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("local_addr", &self.local_addr).finish_non_exhaustive()
    }
}

impl Server {
    /// Loads (or generates) the serving certificate, then binds the port.
    ///
    /// # Errors
    /// A TLS problem (checked first, so nothing listens with a bad certificate) or a port that cannot be bound.
    pub async fn bind(options: &ServerOptions) -> Result<Self, ServerError> {
        let cert = ServingCert::load(&options.cert_source())?;
        Self::bind_with(options, cert).await
    }

    /// Binds the port for serving with an already loaded certificate.
    ///
    /// # Errors
    /// A port that cannot be bound.
    pub async fn bind_with(options: &ServerOptions, cert: ServingCert) -> Result<Self, ServerError> {
        let address = SocketAddr::new(options.bind_address, options.secure_port);
        let listener = TcpListener::bind(address).await.map_err(|source| ServerError::Bind { address, source })?;
        let local_addr = listener.local_addr().map_err(|source| ServerError::Bind { address, source })?;
        Ok(Self { listener, local_addr, cert, options: options.clone() })
    }

    /// The bound address (with the real port when `--secure-port 0` was given).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The serving certificate.
    pub fn cert(&self) -> &ServingCert {
        &self.cert
    }

    /// Serves `app` until the first shutdown request; then stops accepting, sets `drain` (readiness fails, watches
    /// end) and waits up to `--shutdown-grace` for in-flight requests. A second request stops at once.
    pub async fn serve(self, app: Router, drain: Drain, mut shutdown: ShutdownRequests) {
        let acceptor = TlsAcceptor::from(Arc::clone(&self.cert.config));
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder.http1().timer(TokioTimer::new()).header_read_timeout(self.options.header_read_timeout);
        builder.http2().timer(TokioTimer::new()).keep_alive_interval(Duration::from_secs(30));
        let builder = Arc::new(builder);
        let graceful = GracefulShutdown::new();
        loop {
            tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let connection = serve_connection(stream, acceptor.clone(), Arc::clone(&builder), app.clone());
                        let watcher = graceful.watcher();
                        tokio::spawn(async move {
                            if let Err(error) = connection(watcher).await {
                                tracing::debug!(%peer, %error, "connection ended with an error");
                            }
                        });
                    }
                    Err(error) => {
                        // Usually out of file descriptors; back off instead of spinning.
                        tracing::warn!(%error, "accepting a connection");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                () = shutdown.requested() => break,
            }
        }
        drop(self.listener);
        drain.start();
        tracing::info!(connections = graceful.count(), grace = ?self.options.shutdown_grace, "draining");
        tokio::select! {
            () = graceful.shutdown() => tracing::info!("every connection finished"),
            () = tokio::time::sleep(self.options.shutdown_grace) => {
                tracing::warn!("the shutdown grace period ended with requests still in flight; stopping anyway");
            }
            () = shutdown.requested() => tracing::warn!("a second shutdown request: stopping at once"),
        }
    }
}

type ConnectionFuture = std::pin::Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// Handshakes and serves one connection, watched by `watcher` for graceful shutdown.
fn serve_connection(
    stream: TcpStream,
    acceptor: TlsAcceptor,
    builder: Arc<auto::Builder<TokioExecutor>>,
    app: Router,
) -> impl FnOnce(hyper_util::server::graceful::Watcher) -> ConnectionFuture {
    move |watcher| {
        Box::pin(async move {
            let _ = stream.set_nodelay(true);
            let handshake = async {
                if is_plain_http(&stream).await {
                    let mut stream = stream;
                    let _ = stream.write_all(PLAIN_HTTP_ANSWER).await;
                    let _ = stream.shutdown().await;
                    return Err("a plain HTTP request on the HTTPS port".to_string());
                }
                acceptor.accept(stream).await.map_err(|e| format!("TLS handshake: {e}"))
            };
            let tls = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake)
                .await
                .map_err(|_| "TLS handshake timed out".to_string())??;
            let peer =
                tls.get_ref().1.peer_certificates().filter(|chain| !chain.is_empty()).map(|chain| {
                    PeerCertificates(chain.iter().map(|c| c.clone().into_owned()).collect::<Vec<_>>().into())
                });
            let service =
                TowerToHyperService::new(app.map_request(move |mut request: hyper::Request<hyper::body::Incoming>| {
                    if let Some(peer) = &peer {
                        request.extensions_mut().insert(peer.clone());
                    }
                    request
                }));
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(tls), service).into_owned();
            watcher.watch(connection).await.map_err(|e| e.to_string())
        })
    }
}

/// Whether the client's first byte looks like an HTTP method rather than a TLS record (0x16).
async fn is_plain_http(stream: &TcpStream) -> bool {
    let mut first = [0u8; 1];
    matches!(stream.peek(&mut first).await, Ok(1) if first[0].is_ascii_uppercase())
}
