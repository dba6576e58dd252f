//! One simulated member cluster: an in-memory API server with its own CA, client-certificate authentication, RBAC,
//! nodes and workload simulator, on an HTTPS listener that can be stopped, slowed down or made to fail.

mod listener;

use std::{
    collections::BTreeMap,
    net::{Ipv4Addr, SocketAddr},
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicU16, AtomicU64, Ordering},
    },
    time::Duration,
};

use axum::{
    extract::{Request, State},
    http::{Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use flotilla_apiserver::{
    auth::{
        Auth, AuthOptions,
        authn::serviceaccount::{self, ServiceAccountTokens},
        reviews,
    },
    http::{self, ApiState},
    machinery::{ApiError, StatusReason},
    registry::{ControllerTask, Registry, StoreTuning, builtin, crd},
    server::{CertSource, Drain, ServerOptions, ServingCert, metrics::Metrics, version},
    storage::{Compactor, EmbeddedStore, KeySpace, SharedStore, WatchCacheConfig},
};
use flotilla_certs::{Authority, IssuedCert};
use serde_json::Value;
use tokio::sync::watch;

use crate::{
    SimError,
    nodes::{self, NodeShape},
    sim::{self, SimulatorTask},
};

/// How often each cluster's store is compacted (keeping one interval of history): often, since every old version
/// costs memory and clients of a simulated cluster cope with `410 Gone` by listing again.
const COMPACTION_INTERVAL: Duration = Duration::from_secs(15);

/// The user of the admin client certificate.
pub const ADMIN_USER: &str = "admin";
/// The group of the admin client certificate.
pub const ADMIN_GROUP: &str = "system:masters";

/// What one simulated cluster is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterSpec {
    /// Its name (`member1`, ...), also its kubeconfig context, cluster and user names.
    pub name: String,
    /// Its position (0-based), used to give its nodes distinct addresses.
    pub index: usize,
    /// The HTTPS port on 127.0.0.1 (0 picks a free one).
    pub port: u16,
    /// `gitVersion` of `/version` and the kubelet version of its nodes, e.g. `v1.31.0`.
    pub kubernetes_version: String,
    /// Its nodes.
    pub nodes: NodeShape,
    /// Labels every node gets besides the standard ones (region and zone topology labels included).
    pub node_labels: BTreeMap<String, String>,
    /// Where its certificate files go.
    pub dir: PathBuf,
}

/// Faults injected into every request of a cluster.
#[derive(Debug, Default)]
pub struct Faults {
    /// Added to every request.
    latency_ms: AtomicU64,
    /// When non-zero, every request is answered with this status code.
    error_status: AtomicU16,
}

impl Faults {
    /// Adds `ms` milliseconds to every request (0 clears it).
    pub fn set_latency(&self, ms: u64) {
        self.latency_ms.store(ms, Ordering::Relaxed);
    }

    /// Answers every request with `status` (`None` clears it).
    pub fn set_error(&self, status: Option<u16>) {
        self.error_status.store(status.unwrap_or(0), Ordering::Relaxed);
    }

    /// The added latency in milliseconds.
    pub fn latency(&self) -> u64 {
        self.latency_ms.load(Ordering::Relaxed)
    }

    /// The forced status code, if any.
    pub fn error(&self) -> Option<u16> {
        Some(self.error_status.load(Ordering::Relaxed)).filter(|status| *status != 0)
    }
}

/// What the fault and version layer needs.
#[derive(Debug)]
struct Layer {
    faults: Arc<Faults>,
    version: Value,
}

/// A running simulated cluster; dropping it stops it.
pub struct SimulatedCluster {
    name: String,
    url: String,
    ca_pem: String,
    admin: IssuedCert,
    faults: Arc<Faults>,
    listening: watch::Sender<bool>,
    registry: Registry,
    _listener: listener::ListenerTask,
    _simulator: SimulatorTask,
    _controllers: Vec<ControllerTask>,
    _crds: AbortOnDrop,
    _compactor: Compactor,
}

impl std::fmt::Debug for SimulatedCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimulatedCluster").field("name", &self.name).field("url", &self.url).finish_non_exhaustive()
    }
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl SimulatedCluster {
    /// Generates the cluster's CA and certificates (in `spec.dir`), starts its store, registry, controllers, nodes
    /// and simulator, and binds its port.
    ///
    /// # Errors
    /// Certificate, file, storage or port problems, named with the cluster.
    pub async fn start(spec: &ClusterSpec) -> Result<Self, SimError> {
        let fail = |what: &str, error: &dyn std::fmt::Display| SimError::Cluster {
            cluster: spec.name.clone(),
            message: format!("{what}: {error}"),
        };
        std::fs::create_dir_all(&spec.dir).map_err(|e| fail("creating its directory", &e))?;
        let ca = Authority::generate(&format!("{}-ca", spec.name), flotilla_certs::CA_VALIDITY)
            .map_err(|e| fail("generating its CA", &e))?;
        let hosts = vec!["localhost".to_string(), "127.0.0.1".to_string(), "::1".to_string()];
        let serving = ca.issue_serving(&hosts).map_err(|e| fail("issuing its serving certificate", &e))?;
        let admin =
            ca.issue_client(ADMIN_USER, &[ADMIN_GROUP]).map_err(|e| fail("issuing its admin certificate", &e))?;
        let write = |file: &str, text: &str| {
            let path = spec.dir.join(file);
            crate::write_private(&path, text).map(|()| path).map_err(|e| fail(&format!("writing {file}"), &e))
        };
        let ca_file = write("ca.crt", ca.cert_pem())?;
        let cert_file = write("apiserver.crt", &serving.cert_pem)?;
        let key_file = write("apiserver.key", &serving.key_pem)?;
        let cert = ServingCert::load(&CertSource::Files { cert: cert_file, key: key_file })
            .map_err(|e| fail("loading its serving certificate", &e))?;

        let store = EmbeddedStore::in_memory().map_err(|e| fail("starting its store", &e))?;
        let store: SharedStore = Arc::new(store);
        let registry = Registry::tuned(Arc::clone(&store), KeySpace::new("/registry"), light_caches());
        builtin::register_all(&registry);
        let crds = AbortOnDrop(crd::start(&registry));
        let mut controllers = registry.start_controllers();
        registry.ensure_default_namespaces().await.map_err(|e| fail("creating the default namespaces", &e))?;
        nodes::ensure_nodes(&registry, &spec.name, spec.index, &spec.nodes, &spec.node_labels)
            .await
            .map_err(|e| fail("creating its nodes", &e))?;
        let simulator = sim::start(&registry).map_err(|e| fail("starting its simulator", &e))?;
        let compactor = Compactor::start(Arc::clone(&store), COMPACTION_INTERVAL);

        let mut auth_options = AuthOptions::default();
        auth_options.authentication.client_ca_file = Some(ca_file);
        let mut auth = Auth::new(&auth_options, &registry).await.map_err(|e| fail("setting up authentication", &e))?;
        // ServiceAccount tokens as a real cluster issues them: `sa.key` in its directory, token Secrets filled in,
        // TokenRequest, and tokens authenticated (and revoked) against its own storage.
        let tokens = ServiceAccountTokens::load(
            &auth_options.authentication.service_accounts,
            &spec.dir,
            ca.cert_pem().to_string(),
        )
        .map_err(|e| fail("loading its ServiceAccount signing key", &e))?;
        controllers.push(serviceaccount::enable(&mut auth, &registry, Arc::new(tokens)));
        reviews::serve_on(&registry);
        let server_options = ServerOptions {
            bind_address: Ipv4Addr::LOCALHOST.into(),
            secure_port: spec.port,
            ..ServerOptions::default()
        };
        let state =
            ApiState::new(registry.clone(), Metrics::new(), Drain::new(), &server_options).with_auth(Arc::new(auth));
        let faults = Arc::new(Faults::default());
        let layer = Arc::new(Layer { faults: Arc::clone(&faults), version: version_info(&spec.kubernetes_version) });
        let router = http::router(state).layer(axum::middleware::from_fn_with_state(layer, inject));
        let address = SocketAddr::new(server_options.bind_address, spec.port);
        let (listening, listening_rx) = watch::channel(true);
        let listener = listener::ListenerTask::start(address, Arc::clone(&cert.config), router, listening_rx)
            .await
            .map_err(|e| fail(&format!("listening on {address}"), &e))?;
        let url = format!("https://{}", listener.local_addr());
        Ok(Self {
            name: spec.name.clone(),
            url,
            ca_pem: ca.cert_pem().to_string(),
            admin,
            faults,
            listening,
            registry,
            _listener: listener,
            _simulator: simulator,
            _controllers: controllers,
            _crds: crds,
            _compactor: compactor,
        })
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its HTTPS URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Its CA certificate (PEM).
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Its admin client certificate (CN `admin`, O `system:masters`).
    pub fn admin(&self) -> &IssuedCert {
        &self.admin
    }

    /// Its registry, for in-process use.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Its fault switches.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Closes (`false`) or reopens (`true`) its listener; the data stays.
    pub fn set_listening(&self, listening: bool) {
        self.listening.send_replace(listening);
    }

    /// Whether its listener is open.
    pub fn is_listening(&self) -> bool {
        *self.listening.borrow()
    }
}

/// `version.Info` with `gitVersion` (and major/minor) taken from `kubernetes_version`.
pub fn version_info(kubernetes_version: &str) -> Value {
    let mut info = version::info();
    let trimmed = kubernetes_version.trim_start_matches('v');
    let mut parts = trimmed.split(['.', '-', '+']);
    let major = parts.next().unwrap_or("1");
    let minor = parts.next().unwrap_or("0");
    info["major"] = Value::from(major);
    info["minor"] = Value::from(minor);
    info["gitVersion"] = Value::from(format!("v{trimmed}"));
    info
}

/// Applies the cluster's faults and answers `/version` with its own Kubernetes version.
async fn inject(State(layer): State<Arc<Layer>>, request: Request, next: Next) -> Response {
    let latency = layer.faults.latency();
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    if let Some(status) = layer.faults.error() {
        let reason = match status {
            429 => StatusReason::TooManyRequests,
            503 => StatusReason::ServiceUnavailable,
            504 => StatusReason::Timeout,
            _ => StatusReason::InternalError,
        };
        let error = ApiError::new(status, reason, format!("injected by flotilla member-sim: status {status}"));
        let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return (code, axum::Json(error.to_status())).into_response();
    }
    if request.uri().path() == "/version" && request.method() == Method::GET {
        return axum::Json(layer.version.clone()).into_response();
    }
    next.run(request).await
}

/// Caches sized for many clusters in one process: a short watch history (watchers further behind relist, as they
/// would after a kube-apiserver restart) and no decoded-object cache (lists parse stored JSON each time).
fn light_caches() -> StoreTuning {
    let watch_cache = WatchCacheConfig { history_capacity: 1_000, ..WatchCacheConfig::default() };
    StoreTuning { watch_cache, decoded_objects: 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_reports_the_simulated_kubernetes_release() {
        let info = version_info("v1.31.0");
        assert_eq!(
            (info["gitVersion"].as_str(), info["major"].as_str(), info["minor"].as_str()),
            (Some("v1.31.0"), Some("1"), Some("31"))
        );
        assert!(info["platform"].is_string());
    }

    #[test]
    fn faults_are_set_and_cleared() {
        let faults = Faults::default();
        faults.set_latency(200);
        faults.set_error(Some(503));
        assert_eq!((faults.latency(), faults.error()), (200, Some(503)));
        faults.set_error(None);
        assert_eq!(faults.error(), None);
    }
}
