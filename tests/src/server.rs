//! The real `flotilla apiserver` for end-to-end tests: temporary state, a free port, a kubeconfig, kubectl, kube-rs.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use nix::{
    sys::signal::{Signal, kill},
    unistd::Pid,
};
use tempfile::TempDir;

use crate::{backends::BackendKind, etcd::shared_etcd};

/// How long the server may take to print its address and then to become ready.
const START_WITHIN: Duration = Duration::from_secs(60);
/// How long the server may take to exit after SIGTERM.
const STOP_WITHIN: Duration = Duration::from_secs(40);
/// The line the binary prints once it listens.
const SERVING: &str = "serving the Kubernetes API on ";
/// How many lines of the server's log a failing test prints.
const LOG_TAIL: usize = 80;
/// The only common name a front-proxy client certificate may have (`--requestheader-allowed-names`).
pub const FRONT_PROXY_CLIENT: &str = "front-proxy-client";

/// Where a test server keeps its objects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Storage {
    /// The embedded store in this directory.
    Embedded(PathBuf),
    /// etcd at `endpoint`, keys under `prefix`.
    Etcd {
        /// e.g. `http://127.0.0.1:2379`.
        endpoint: String,
        /// The `--etcd-prefix`.
        prefix: String,
    },
}

/// A running `flotilla apiserver` process with its own storage (a temporary embedded store, or a unique prefix on
/// the shared test etcd), certificate directory, kubeconfig and log file. Killed (log printed when the test is
/// failing) when dropped; [`ApiServer::stop`] stops it cleanly instead.
pub struct ApiServer {
    child: Option<Child>,
    dir: TempDir,
    binary: PathBuf,
    backend: BackendKind,
    storage: Storage,
    extra: Vec<String>,
    /// Whether the front-proxy flags are left out, so the server reads them from its host cluster.
    delegated: bool,
    url: String,
    ca_pem: String,
    kubeconfig: PathBuf,
    pki: flotilla_certs::Files,
}

fn unique_prefix() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("/e2e{}-{}-{nanos}/registry", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

impl ApiServer {
    /// Starts `binary apiserver` on `backend` on 127.0.0.1 and a free port, and waits until `/readyz` answers `ok`.
    ///
    /// # Panics
    /// When the server does not start or become ready within a minute (its log is printed).
    pub async fn start(binary: &Path, backend: BackendKind) -> ApiServer {
        Self::start_with(binary, backend, &[]).await
    }

    /// [`ApiServer::start`] with extra command-line arguments (e.g. `--request-timeout`).
    ///
    /// # Panics
    /// As [`ApiServer::start`].
    pub async fn start_with(binary: &Path, backend: BackendKind, extra: &[&str]) -> ApiServer {
        let storage = match backend {
            BackendKind::Embedded => None,
            BackendKind::Etcd => {
                Some(Storage::Etcd { endpoint: shared_etcd().await.endpoint(), prefix: unique_prefix() })
            }
        };
        Self::launch(binary, storage, extra).await
    }

    /// Starts a server on etcd at `endpoint` (e.g. a dedicated [`crate::etcd::EtcdProcess`]) under a fresh prefix.
    ///
    /// # Panics
    /// As [`ApiServer::start`].
    pub async fn start_on_etcd(binary: &Path, endpoint: &str, extra: &[&str]) -> ApiServer {
        Self::launch(binary, Some(Storage::Etcd { endpoint: endpoint.into(), prefix: unique_prefix() }), extra).await
    }

    /// Starts a server (embedded storage) delegating to the host cluster of `host_kubeconfig`
    /// (`--authentication-kubeconfig`): no `--requestheader-*` flags, so it reads them from the host's
    /// `kube-system/extension-apiserver-authentication` ConfigMap, and bearer tokens it does not know go to the host's
    /// TokenReview API. Its own kubeconfig is still the admin's.
    ///
    /// # Panics
    /// As [`ApiServer::start`].
    pub async fn start_delegating(binary: &Path, host_kubeconfig: &Path, extra: &[&str]) -> ApiServer {
        let host = host_kubeconfig.to_string_lossy().into_owned();
        let mut all = vec!["--authentication-kubeconfig", host.as_str()];
        all.extend_from_slice(extra);
        Self::launch_as(binary, None, &all, true).await
    }

    async fn launch(binary: &Path, storage: Option<Storage>, extra: &[&str]) -> ApiServer {
        Self::launch_as(binary, storage, extra, false).await
    }

    async fn launch_as(binary: &Path, storage: Option<Storage>, extra: &[&str], delegated: bool) -> ApiServer {
        let dir = tempfile::tempdir().expect("creating the server's temporary directory");
        let init = flotilla_certs::InitOptions { dir: dir.path().join("pki"), ..Default::default() };
        let pki = flotilla_certs::init(&init).expect("creating the test server's certificates").files;
        let storage = storage.unwrap_or_else(|| Storage::Embedded(dir.path().join("data")));
        let backend = match storage {
            Storage::Embedded(_) => BackendKind::Embedded,
            Storage::Etcd { .. } => BackendKind::Etcd,
        };
        let mut server = ApiServer {
            child: None,
            kubeconfig: dir.path().join("kubeconfig"),
            dir,
            binary: binary.to_path_buf(),
            backend,
            storage,
            extra: extra.iter().map(|a| a.to_string()).collect(),
            delegated,
            url: String::new(),
            ca_pem: String::new(),
            pki,
        };
        server.spawn(0);
        server.url = server.wait_for_address();
        server.ca_pem = std::fs::read_to_string(&server.pki.ca_cert)
            .unwrap_or_else(|e| server.fail(&format!("reading the cluster CA: {e}")));
        let admin = flotilla_certs::IssuedCert {
            cert_pem: std::fs::read_to_string(&server.pki.admin_cert).expect("reading the admin certificate"),
            key_pem: std::fs::read_to_string(&server.pki.admin_key).expect("reading the admin key"),
        };
        std::fs::write(
            &server.kubeconfig,
            flotilla_certs::kubeconfig(&server.url, &server.ca_pem, "admin", Some(&admin), None),
        )
        .unwrap_or_else(|e| server.fail(&format!("writing the kubeconfig: {e}")));
        server.wait_until_ready().await;
        server
    }

    /// Starts the process on `port` (0 = any free port); its output is appended to the log.
    fn spawn(&mut self, port: u16) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("apiserver.log"))
            .expect("opening the server's log file");
        let mut command = Command::new(&self.binary);
        command
            .arg("apiserver")
            .args(["--bind-address", "127.0.0.1", "--secure-port", &port.to_string()])
            .arg("--cert-dir")
            .arg(self.dir.path().join("certs"))
            .arg("--tls-cert-file")
            .arg(&self.pki.serving_cert)
            .arg("--tls-private-key-file")
            .arg(&self.pki.serving_key)
            .arg("--client-ca-file")
            .arg(&self.pki.ca_cert);
        if !self.delegated {
            command
                .arg("--requestheader-client-ca-file")
                .arg(&self.pki.front_proxy_ca_cert)
                .args(["--requestheader-allowed-names", FRONT_PROXY_CLIENT]);
        }
        match &self.storage {
            Storage::Embedded(dir) => {
                command.arg("--data-dir").arg(dir);
            }
            Storage::Etcd { endpoint, prefix } => {
                command.args(["--etcd-servers", endpoint, "--etcd-prefix", prefix]);
            }
        }
        command.args(&self.extra).env("RUST_LOG", std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()));
        let stderr = log.try_clone().expect("duplicating the log file handle");
        command.stdin(Stdio::null()).stdout(Stdio::from(log)).stderr(Stdio::from(stderr));
        let child = command.spawn().unwrap_or_else(|e| panic!("starting {}: {e}", self.binary.display()));
        self.child = Some(child);
    }

    /// Where this server keeps its objects.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// Stops the process cleanly (SIGTERM) but keeps its storage, certificates and port for [`ApiServer::resume`].
    ///
    /// # Panics
    /// When it does not exit successfully within 40 s.
    pub fn halt(&mut self) {
        self.terminate();
    }

    /// Starts the process again after [`ApiServer::halt`] on the same port and storage, and waits until ready.
    ///
    /// # Panics
    /// As [`ApiServer::start`].
    pub async fn resume(&mut self) {
        let log_before = self.log().len();
        self.spawn(self.port());
        let deadline = Instant::now() + START_WITHIN;
        while !self.log()[log_before..].contains(SERVING) {
            if Instant::now() > deadline {
                self.fail("flotilla apiserver did not listen again within a minute");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.wait_until_ready().await;
    }

    fn wait_for_address(&mut self) -> String {
        let deadline = Instant::now() + START_WITHIN;
        loop {
            if let Some(url) = self.log().lines().find_map(|line| line.split_once(SERVING)).map(|(_, rest)| rest) {
                return url.split_whitespace().next().unwrap_or_default().to_string();
            }
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                self.fail(&format!("flotilla apiserver exited with {status} before listening"));
            }
            if Instant::now() > deadline {
                self.fail("flotilla apiserver did not start listening within a minute");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    async fn wait_until_ready(&self) {
        let client = self.client().await;
        let deadline = Instant::now() + START_WITHIN;
        loop {
            let request = http::Request::get("/readyz?verbose").body(Vec::new()).expect("a valid request");
            let last = match client.request_text(request).await {
                Ok(text) if text.contains("readyz check passed") => return,
                Ok(text) => text,
                Err(error) => error.to_string(),
            };
            if Instant::now() > deadline {
                self.fail(&format!("flotilla apiserver was not ready within a minute; last /readyz answer: {last}"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `https://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.url.rsplit(':').next().and_then(|p| p.parse().ok()).unwrap_or(0)
    }

    /// The storage backend the server runs on.
    pub fn backend(&self) -> BackendKind {
        self.backend
    }

    /// The kubeconfig pointing at this server, as the admin (client certificate `admin`, group `system:masters`).
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    /// The cluster CA (PEM): it signed the serving certificate, and client certificates (`--client-ca-file`).
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The server's certificate files (`flotilla certs init` in its temporary directory): cluster CA, serving
    /// certificate, front-proxy CA and client certificate, admin certificate and kubeconfig.
    pub fn pki(&self) -> &flotilla_certs::Files {
        &self.pki
    }

    /// The server's temporary directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Everything the server has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("apiserver.log")).unwrap_or_default()
    }

    /// Runs `kubectl --kubeconfig <this server's> <args>` with no input.
    ///
    /// # Panics
    /// When kubectl is not installed (the message says how to install it).
    pub fn kubectl(&self, args: &[&str]) -> Output {
        let mut command = crate::kubectl_command(&self.kubeconfig);
        command.args(args).stdin(Stdio::null());
        match command.output() {
            Ok(output) => output,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => panic!(
                "kubectl is not installed: install it (see https://kubernetes.io/docs/tasks/tools/) so that \
                 `kubectl` is on PATH, then rerun"
            ),
            Err(error) => panic!("running kubectl {args:?}: {error}"),
        }
    }

    /// A kube-rs client for this server (rustls, trusting its certificate, no automatic retries).
    ///
    /// # Panics
    /// When the kubeconfig cannot be read as a client configuration.
    pub async fn client(&self) -> kube::Client {
        self.client_from(&self.kubeconfig).await
    }

    /// A kube-rs client from `kubeconfig` (rustls, no automatic retries).
    ///
    /// # Panics
    /// When the kubeconfig cannot be read as a client configuration.
    pub async fn client_from(&self, kubeconfig: &Path) -> kube::Client {
        let text = std::fs::read_to_string(kubeconfig).expect("reading the kubeconfig");
        let kubeconfig = kube::config::Kubeconfig::from_yaml(&text).expect("parsing the kubeconfig");
        let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default())
            .await
            .expect("a client configuration from the kubeconfig");
        // Tests must see 429/503/504 answers as they are, not kube-rs's retries of them.
        config.default_retry = false;
        kube::Client::try_from(config).expect("building a kube-rs client")
    }

    /// Sends SIGTERM and asserts the server drains and exits successfully.
    ///
    /// # Panics
    /// When it exits unsuccessfully or not within 40 s (its log is printed).
    pub fn stop(mut self) {
        self.terminate();
    }

    fn terminate(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
        let deadline = Instant::now() + STOP_WITHIN;
        let status = loop {
            if let Some(status) = child.try_wait().expect("waiting for flotilla apiserver") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                self.fail("flotilla apiserver did not exit within 40 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        if !status.success() {
            self.fail(&format!("flotilla apiserver exited with {status} after SIGTERM"));
        }
    }

    /// Panics with `message` (dropping the server then prints the end of its log).
    fn fail(&self, message: &str) -> ! {
        panic!("{message} (server log: {})", self.dir.path().join("apiserver.log").display())
    }

    fn log_tail(&self) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(LOG_TAIL)..].join("\n")
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!("--- flotilla apiserver log ({}) ---\n{}", self.url, self.log_tail());
        }
    }
}
