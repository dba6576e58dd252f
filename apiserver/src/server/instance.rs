//! One API server instance: storage, the registry with every built-in kind and controller, and a bound listener.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use tokio::task::JoinHandle;

use super::{
    Drain, Server, ServerError, ServerOptions, ServingCert, ShutdownRequests,
    metrics::{MeteredStore, Metrics},
};
use crate::{
    auth::{
        Auth, AuthError, AuthOptions,
        authn::serviceaccount::{self, ServiceAccountError, ServiceAccountTokens},
        authz::AuthorizationMode,
    },
    http::{self, ApiState},
    machinery::ApiError,
    registry::{ControllerTask, Registry, builtin, crd, karmada},
    storage::{Compactor, Revision, StorageOptions, StoreError},
};

/// The RBAC group, which an aggregated instance keeps only when `--authorization-mode` includes RBAC.
const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// How often creating the default namespaces is tried before start-up fails.
const NAMESPACE_ATTEMPTS: usize = 20;

/// Why an instance could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Storage could not be opened or read.
    #[error(transparent)]
    Storage(#[from] StoreError),
    /// The serving certificate or the port.
    #[error(transparent)]
    Server(#[from] ServerError),
    /// Authentication or authorization flags name unusable files.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The ServiceAccount token keys are unusable.
    #[error(transparent)]
    ServiceAccounts(#[from] crate::auth::authn::serviceaccount::ServiceAccountError),
    /// The default namespaces could not be created.
    #[error("creating the default namespaces: {0}")]
    Namespaces(ApiError),
}

/// Aborts a background task when dropped.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A started API server, listening but not yet serving; [`Instance::serve`] runs it.
pub struct Instance {
    server: Server,
    state: ApiState,
    backend: &'static str,
    revision: Revision,
    key_root: String,
    _controllers: Vec<ControllerTask>,
    _crds: Option<AbortOnDrop>,
    _compactor: Option<Compactor>,
}

impl std::fmt::Debug for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instance").field("server", &self.server).field("backend", &self.backend).finish_non_exhaustive()
    }
}

impl Instance {
    /// The API groups an aggregated instance (`flotilla apiserver --aggregated`) serves: Karmada's.
    pub const AGGREGATED_GROUPS: [&'static str; 4] =
        ["cluster.karmada.io", "policy.karmada.io", "work.karmada.io", "search.karmada.io"];

    /// Opens storage, serves every built-in kind, starts the CRD, namespace and garbage-collector controllers,
    /// creates the default namespaces, loads (or generates) the serving certificate and binds the port.
    ///
    /// # Errors
    /// Storage that cannot be reached, an unusable certificate (naming the flag to fix), a port in use.
    pub async fn start(
        storage: &StorageOptions,
        options: &ServerOptions,
        auth: &AuthOptions,
    ) -> Result<Self, StartError> {
        Self::start_in(storage, options, auth, false).await
    }

    /// As [`Instance::start`], but serving only the Karmada groups ([`Instance::AGGREGATED_GROUPS`]), as an API
    /// server behind a host cluster's kube-aggregator: no built-in kinds (namespaces, RBAC, CRDs and the reviews
    /// live in the host), no CRD controller, no default namespaces. Discovery, OpenAPI, health, readiness and
    /// `/version` stay. When `--authorization-mode` includes RBAC, the RBAC kinds stay too, since that authorizer
    /// reads its bindings from this instance's storage.
    ///
    /// # Errors
    /// As [`Instance::start`].
    pub async fn start_aggregated(
        storage: &StorageOptions,
        options: &ServerOptions,
        auth: &AuthOptions,
    ) -> Result<Self, StartError> {
        Self::start_in(storage, options, auth, true).await
    }

    async fn start_in(
        storage: &StorageOptions,
        options: &ServerOptions,
        auth: &AuthOptions,
        aggregated: bool,
    ) -> Result<Self, StartError> {
        let metrics = Metrics::new();
        let store = storage.open().await?;
        let backend = store.backend();
        let revision = store.current_revision().await?;
        let cert = ServingCert::load(&options.cert_source()).map_err(ServerError::from)?;
        let store = MeteredStore::wrap(store, Arc::clone(&metrics));
        let keys = storage.key_space();
        let key_root = keys.root();
        let registry = Registry::new(store.clone(), keys);
        builtin::register_all(&registry);
        karmada::register_all(&registry);
        let crds = if aggregated {
            let keep_rbac = auth.authorization.authorization_mode.contains(&AuthorizationMode::Rbac);
            keep_only_aggregated_groups(&registry, keep_rbac);
            None
        } else {
            Some(AbortOnDrop(crd::start(&registry)))
        };
        let mut controllers = registry.start_controllers();
        ensure_default_namespaces(&registry).await?;
        let compactor = (!storage.compaction_interval.is_zero())
            .then(|| Compactor::start(store.clone(), storage.compaction_interval));
        let server = Server::bind_with(options, cert).await?;
        let service_accounts =
            (!aggregated).then(|| service_account_tokens(auth, options, server.cert())).transpose()?;
        let mut auth = Auth::new(auth, &registry).await?;
        if let Some(tokens) = service_accounts {
            controllers.push(serviceaccount::enable(&mut auth, &registry, Arc::new(tokens)));
        }
        if !aggregated {
            // An aggregated instance serves only Karmada's groups: its host answers the identity and access reviews.
            crate::auth::reviews::serve_on(&registry);
        }
        let state = ApiState::new(registry, metrics, Drain::new(), options).with_auth(Arc::new(auth));
        Ok(Self {
            server,
            state,
            backend,
            revision,
            key_root,
            _controllers: controllers,
            _crds: crds,
            _compactor: compactor,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// The URL clients on this machine use: the bound address, with loopback for an unspecified one.
    pub fn url(&self) -> String {
        let address = self.local_addr();
        let ip = match address.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        format!("https://{}", SocketAddr::new(ip, address.port()))
    }

    /// The serving certificate.
    pub fn cert(&self) -> &ServingCert {
        self.server.cert()
    }

    /// The served resources.
    pub fn registry(&self) -> &Registry {
        &self.state.registry
    }

    /// The storage backend's name (`etcd`, `embedded`).
    pub fn backend(&self) -> &'static str {
        self.backend
    }

    /// The storage revision at start.
    pub fn start_revision(&self) -> Revision {
        self.revision
    }

    /// The prefix every stored key starts with, e.g. `/registry/`.
    pub fn key_root(&self) -> &str {
        &self.key_root
    }

    /// Serves until the first shutdown request, then drains (see [`Server::serve`]) and stops the controllers.
    pub async fn serve(self, shutdown: ShutdownRequests) {
        let router = http::router(self.state.clone());
        self.server.serve(router, self.state.drain.clone(), shutdown).await;
    }
}

/// Stops serving every resource outside [`Instance::AGGREGATED_GROUPS`] (and the RBAC group when `keep_rbac`).
fn keep_only_aggregated_groups(registry: &Registry, keep_rbac: bool) {
    for resource in registry.resources() {
        let info = resource.info();
        let kept =
            Instance::AGGREGATED_GROUPS.contains(&info.group.as_str()) || (keep_rbac && info.group == RBAC_GROUP);
        if !kept {
            registry.unregister(&info.group, &info.version, &info.plural);
        }
    }
}

/// The ServiceAccount token keys: the flags' files, else `sa.key`/`sa.pub` beside the serving certificate (in
/// `--cert-dir`, or the directory of `--tls-cert-file`), generated on first start. Token Secrets carry the
/// `--client-ca-file` bundle as `ca.crt`, or else the serving certificate.
fn service_account_tokens(
    auth: &AuthOptions,
    options: &ServerOptions,
    cert: &ServingCert,
) -> Result<ServiceAccountTokens, ServiceAccountError> {
    let authentication = &auth.authentication;
    let dir = match &options.tls_cert_file {
        Some(file) => file.parent().map(std::path::Path::to_path_buf).unwrap_or_default(),
        None => options.cert_dir.clone(),
    };
    let ca_pem = match &authentication.client_ca_file {
        Some(path) => std::fs::read_to_string(path).map_err(|source| ServiceAccountError::Read {
            flag: "--client-ca-file",
            path: path.clone(),
            source,
        })?,
        None => cert.cert_pem.clone(),
    };
    ServiceAccountTokens::load(&authentication.service_accounts, &dir, ca_pem)
}

/// Creates the default namespaces, retrying while storage is briefly unavailable.
async fn ensure_default_namespaces(registry: &Registry) -> Result<(), StartError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match registry.ensure_default_namespaces().await {
            Ok(()) => return Ok(()),
            Err(error) if error.code >= 500 && attempt < NAMESPACE_ATTEMPTS => {
                tracing::debug!(%error, attempt, "creating the default namespaces");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(error) => return Err(StartError::Namespaces(error)),
        }
    }
}
