//! The HTTPS listener of a simulated cluster, closed and reopened on demand (open connections are cut on close).

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::Router;
use flotilla_apiserver::server::PeerCertificates;
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::conn::auto,
    service::TowerToHyperService,
};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::watch,
    task::{JoinHandle, JoinSet},
};
use tokio_rustls::{TlsAcceptor, rustls::ServerConfig};
use tower::ServiceExt;

/// How long a client may take to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a reopening waits between attempts to bind a port that is still busy.
const REBIND_WAIT: Duration = Duration::from_millis(100);

/// The task accepting connections; dropping it closes the port and every connection.
pub(crate) struct ListenerTask {
    task: JoinHandle<()>,
    local_addr: SocketAddr,
}

impl Drop for ListenerTask {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ListenerTask {
    /// Binds `address` and serves `router` over TLS while `listening` is true.
    pub(crate) async fn start(
        address: SocketAddr,
        config: Arc<ServerConfig>,
        router: Router,
        listening: watch::Receiver<bool>,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(address).await?;
        let local_addr = listener.local_addr()?;
        let task = tokio::spawn(run(listener, local_addr, TlsAcceptor::from(config), router, listening));
        Ok(Self { task, local_addr })
    }

    /// The bound address (the real port when 0 was asked for).
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }
}

async fn run(
    first: TcpListener,
    address: SocketAddr,
    acceptor: TlsAcceptor,
    router: Router,
    mut listening: watch::Receiver<bool>,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(Duration::from_secs(10));
    builder.http2().timer(TokioTimer::new()).keep_alive_interval(Duration::from_secs(30));
    let builder = Arc::new(builder);
    let mut listener = Some(first);
    loop {
        let bound = match listener.take() {
            Some(listener) => listener,
            None => {
                if listening.wait_for(|open| *open).await.is_err() {
                    return;
                }
                match TcpListener::bind(address).await {
                    Ok(listener) => listener,
                    Err(error) => {
                        tracing::debug!(%address, %error, "reopening the listener; retrying");
                        tokio::time::sleep(REBIND_WAIT).await;
                        continue;
                    }
                }
            }
        };
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                accepted = bound.accept() => match accepted {
                    Ok((stream, _)) => {
                        connections.spawn(serve(stream, acceptor.clone(), Arc::clone(&builder), router.clone()));
                    }
                    Err(error) => {
                        tracing::warn!(%error, "accepting a connection");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
                changed = listening.changed() => {
                    if changed.is_err() || !*listening.borrow_and_update() {
                        break;
                    }
                }
            }
        }
        drop(bound);
        connections.abort_all();
        tracing::info!(%address, "listener closed");
    }
}

/// Handshakes and serves one connection, handing the client's certificates to the authenticators.
async fn serve(stream: TcpStream, acceptor: TlsAcceptor, builder: Arc<auto::Builder<TokioExecutor>>, app: Router) {
    let _ = stream.set_nodelay(true);
    let Ok(Ok(tls)) = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await else { return };
    let peer = tls
        .get_ref()
        .1
        .peer_certificates()
        .filter(|chain| !chain.is_empty())
        .map(|chain| PeerCertificates(chain.iter().map(|c| c.clone().into_owned()).collect::<Vec<_>>().into()));
    let service =
        TowerToHyperService::new(app.map_request(move |mut request: hyper::Request<hyper::body::Incoming>| {
            if let Some(peer) = &peer {
                request.extensions_mut().insert(peer.clone());
            }
            request
        }));
    let _ = builder.serve_connection_with_upgrades(TokioIo::new(tls), service).await;
}
