//! A `flotilla apiserver` started with the files of `flotilla certs init`, for the certificate and deploy tests.
#![allow(dead_code)] // each test binary uses a different part of this module

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    time::{Duration, Instant},
};

use flotilla_certs::{Files, InitOptions, IssuedCert};
use nix::{
    sys::signal::{Signal, kill},
    unistd::Pid,
};
use tempfile::TempDir;

/// The line the binary prints once it listens.
const SERVING: &str = "serving the Kubernetes API on ";
/// How long the server may take to listen and to become ready.
const START_WITHIN: Duration = Duration::from_secs(60);

/// The binary under test.
pub fn flotilla_binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_flotilla"))
}

/// Runs `flotilla <args>` to completion.
pub fn flotilla(args: &[&str]) -> Output {
    Command::new(flotilla_binary()).args(args).stdin(Stdio::null()).output().expect("running flotilla")
}

/// `flotilla certs init` into a fresh temporary directory (through the library, as the binary does).
pub fn init_certs(hosts: &[&str]) -> (TempDir, Files) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let options = InitOptions {
        dir: dir.path().join("certs"),
        hosts: hosts.iter().map(|h| (*h).to_owned()).collect(),
        server: None,
    };
    let report = flotilla_certs::init(&options).expect("flotilla certs init");
    (dir, report.files)
}

/// A running server over an embedded store, logging to a file; killed when dropped.
pub struct CertServer {
    child: Option<Child>,
    dir: TempDir,
    /// `https://127.0.0.1:<port>`.
    pub url: String,
    /// The files it serves with.
    pub files: Files,
}

impl CertServer {
    /// Starts `flotilla apiserver` on 127.0.0.1 with `files`' serving certificate and client CA, plus `extra`
    /// arguments, `RUST_LOG=<log_level>`, and waits until `/readyz` answers over verified TLS.
    pub fn start(files: &Files, extra: &[&str], log_level: &str) -> CertServer {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let log = std::fs::File::create(dir.path().join("apiserver.log")).expect("creating the log file");
        let stderr = log.try_clone().expect("duplicating the log file handle");
        let child = Command::new(flotilla_binary())
            .arg("apiserver")
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .args(["--bind-address", "127.0.0.1", "--secure-port", "0"])
            .arg("--tls-cert-file")
            .arg(&files.serving_cert)
            .arg("--tls-private-key-file")
            .arg(&files.serving_key)
            .arg("--client-ca-file")
            .arg(&files.ca_cert)
            .args(extra)
            .env("RUST_LOG", log_level)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(stderr))
            .spawn()
            .expect("starting flotilla apiserver");
        let mut server = CertServer { child: Some(child), dir, url: String::new(), files: files.clone() };
        server.url = server.wait_for_address();
        server.wait_until_ready();
        server
    }

    /// Everything the server has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("apiserver.log")).unwrap_or_default()
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.url.rsplit(':').next().and_then(|p| p.parse().ok()).expect("a port in the URL")
    }

    /// Writes a kubeconfig for this server (CA embedded) with the given credentials; returns its path.
    pub fn kubeconfig(&self, name: &str, client: Option<&IssuedCert>, token: Option<&str>) -> PathBuf {
        let ca = std::fs::read_to_string(&self.files.ca_cert).expect("reading ca.crt");
        let path = self.dir.path().join(format!("{name}.kubeconfig"));
        std::fs::write(&path, flotilla_certs::kubeconfig(&self.url, &ca, name, client, token))
            .expect("writing a kubeconfig");
        path
    }

    /// A kubeconfig with the admin client certificate of `flotilla certs init`.
    pub fn admin_kubeconfig(&self) -> PathBuf {
        let admin = IssuedCert {
            cert_pem: std::fs::read_to_string(&self.files.admin_cert).expect("reading admin.crt"),
            key_pem: std::fs::read_to_string(&self.files.admin_key).expect("reading admin.key"),
        };
        self.kubeconfig("admin", Some(&admin), None)
    }

    fn wait_for_address(&mut self) -> String {
        let deadline = Instant::now() + START_WITHIN;
        loop {
            if let Some(url) = self.log().lines().find_map(|line| line.split_once(SERVING)).map(|(_, rest)| rest) {
                return url.split_whitespace().next().unwrap_or_default().to_string();
            }
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("flotilla apiserver exited with {status} before listening; log:\n{}", self.log());
            }
            assert!(Instant::now() < deadline, "flotilla apiserver did not listen within a minute:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn wait_until_ready(&self) {
        let kubeconfig = self.admin_kubeconfig();
        let deadline = Instant::now() + START_WITHIN;
        loop {
            let output = kubectl(&kubeconfig, &["get", "--raw", "/readyz"]);
            if output.status.success() && String::from_utf8_lossy(&output.stdout).trim() == "ok" {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "flotilla apiserver was not ready within a minute: {}\nlog:\n{}",
                String::from_utf8_lossy(&output.stderr),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for CertServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(20);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
            if std::thread::panicking() {
                eprintln!("--- flotilla apiserver log ---\n{}", self.log());
            }
        }
    }
}

/// Runs `kubectl --kubeconfig <kubeconfig> <args>`; a missing kubectl fails the test saying how to install it.
pub fn kubectl(kubeconfig: &Path, args: &[&str]) -> Output {
    match flotilla_testkit::kubectl_command(kubeconfig).args(args).stdin(Stdio::null()).output() {
        Ok(output) => output,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            panic!("kubectl is not installed: see ./hack/setup.sh (https://kubernetes.io/docs/tasks/tools/)")
        }
        Err(error) => panic!("running kubectl {args:?}: {error}"),
    }
}

/// stdout and stderr of a finished command, for messages.
pub fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}
