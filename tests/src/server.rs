//! The real `flotilla apiserver` for end-to-end tests: temporary state, a free port, a kubeconfig, kubectl, kube-rs.

use std::{
    fs::File,
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use flotilla_apiserver::server::kubeconfig;
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

/// A running `flotilla apiserver` process with its own storage (a temporary embedded store, or a unique prefix on
/// the shared test etcd), certificate directory, kubeconfig and log file. Killed (log printed when the test is
/// failing) when dropped; [`ApiServer::stop`] stops it cleanly instead.
pub struct ApiServer {
    child: Option<Child>,
    dir: TempDir,
    backend: BackendKind,
    url: String,
    ca_pem: String,
    kubeconfig: PathBuf,
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
        let dir = tempfile::tempdir().expect("creating the server's temporary directory");
        let log = File::create(dir.path().join("apiserver.log")).expect("creating the server's log file");
        let mut command = Command::new(binary);
        command
            .arg("apiserver")
            .args(["--bind-address", "127.0.0.1", "--secure-port", "0"])
            .arg("--cert-dir")
            .arg(dir.path().join("certs"));
        match backend {
            BackendKind::Embedded => {
                command.arg("--data-dir").arg(dir.path().join("data"));
            }
            BackendKind::Etcd => {
                let etcd = shared_etcd().await;
                command.args(["--etcd-servers", &etcd.endpoint(), "--etcd-prefix", &unique_prefix()]);
            }
        }
        command.args(extra).env("RUST_LOG", std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()));
        let stderr = log.try_clone().expect("duplicating the log file handle");
        command.stdin(Stdio::null()).stdout(Stdio::from(log)).stderr(Stdio::from(stderr));
        let child = command.spawn().unwrap_or_else(|e| panic!("starting {}: {e}", binary.display()));
        let mut server = ApiServer {
            child: Some(child),
            kubeconfig: dir.path().join("kubeconfig"),
            dir,
            backend,
            url: String::new(),
            ca_pem: String::new(),
        };
        server.url = server.wait_for_address();
        server.ca_pem = std::fs::read_to_string(server.dir.path().join("certs/apiserver.crt"))
            .unwrap_or_else(|e| server.fail(&format!("reading the generated serving certificate: {e}")));
        std::fs::write(&server.kubeconfig, kubeconfig::kubeconfig(&server.url, &server.ca_pem))
            .unwrap_or_else(|e| server.fail(&format!("writing the kubeconfig: {e}")));
        server.wait_until_ready().await;
        server
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

    /// The kubeconfig pointing at this server.
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    /// The serving certificate (self-signed, so also the CA clients trust).
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
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
        let mut command = Command::new("kubectl");
        command.arg("--kubeconfig").arg(&self.kubeconfig).args(args).stdin(Stdio::null());
        match command.output() {
            Ok(output) => output,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => panic!(
                "kubectl is not installed: install it (see https://kubernetes.io/docs/tasks/tools/) so that \
                 `kubectl` is on PATH, then rerun"
            ),
            Err(error) => panic!("running kubectl {args:?}: {error}"),
        }
    }

    /// A kube-rs client for this server (rustls, trusting its certificate).
    ///
    /// # Panics
    /// When the kubeconfig cannot be read as a client configuration.
    pub async fn client(&self) -> kube::Client {
        let text = std::fs::read_to_string(&self.kubeconfig).expect("reading the kubeconfig");
        let kubeconfig = kube::config::Kubeconfig::from_yaml(&text).expect("parsing the kubeconfig");
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default())
            .await
            .expect("a client configuration from the kubeconfig");
        kube::Client::try_from(config).expect("building a kube-rs client")
    }

    /// Sends SIGTERM and asserts the server drains and exits successfully.
    ///
    /// # Panics
    /// When it exits unsuccessfully or not within 40 s (its log is printed).
    pub fn stop(mut self) {
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
