//! Shared pieces of the end-to-end tests: a running `flotilla apiserver` per test and kubectl helpers.
#![allow(dead_code)] // each test binary uses a different part of this module

use std::{
    io::Write,
    path::Path,
    process::{Command, Output, Stdio},
    time::{Duration, Instant},
};

pub use flotilla_testkit::backends::BackendKind;
use flotilla_testkit::server::ApiServer;

/// Runs each listed async test once per backend, as `embedded::<name>` and `etcd::<name>`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::support::BackendKind::Embedded).await;
                }
            )*
        }
        mod etcd {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::support::BackendKind::Etcd).await;
                }
            )*
        }
    };
}

/// The binary under test, built by cargo for this test target.
pub fn flotilla_binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_flotilla"))
}

/// A running API server on `kind` storage, with kubectl pointed at it.
pub struct Flotilla {
    /// The server process and its files.
    pub server: ApiServer,
}

impl Flotilla {
    /// Starts `flotilla apiserver` on `kind` storage and waits until it is ready.
    pub async fn start(kind: BackendKind) -> Self {
        Self { server: ApiServer::start(flotilla_binary(), kind).await }
    }

    /// A kube-rs client for the server.
    pub async fn client(&self) -> kube::Client {
        self.server.client().await
    }

    /// Runs kubectl as `user` in `groups` (a client certificate of the cluster CA).
    pub fn kubectl_as_user(&self, user: &str, groups: &[&str], args: &[&str]) -> Output {
        self.server.kubectl_as_user(user, groups, args)
    }

    /// Runs kubectl with the server's kubeconfig (the admin: client certificate, group `system:masters`).
    pub fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_with_stdin(args, None)
    }

    /// Runs kubectl, feeding `stdin` when given.
    pub fn kubectl_with_stdin(&self, args: &[&str], stdin: Option<&str>) -> Output {
        kubectl_binary();
        let mut command = flotilla_testkit::kubectl_command(self.server.kubeconfig_path());
        command.args(args);
        command.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = command.spawn().expect("starting kubectl");
        if let Some(text) = stdin {
            child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("writing kubectl's stdin");
        }
        child.wait_with_output().expect("waiting for kubectl")
    }

    /// Runs kubectl and returns stdout; fails the test with kubectl's stderr when it fails.
    pub fn ok(&self, args: &[&str]) -> String {
        expect_success(args, self.kubectl(args))
    }

    /// Like [`Flotilla::ok`] with `stdin`.
    pub fn ok_with_stdin(&self, args: &[&str], stdin: &str) -> String {
        expect_success(args, self.kubectl_with_stdin(args, Some(stdin)))
    }

    /// Runs kubectl expecting failure; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let output = self.kubectl(args);
        let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        assert!(!output.status.success(), "kubectl {args:?} should fail; stdout:\n{stdout}");
        stderr.into_owned()
    }

    /// `kubectl ... -o json`, parsed.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = args.to_vec();
        all.extend(["-o", "json"]);
        let text = self.ok(&all);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("kubectl {all:?} printed invalid JSON ({e}):\n{text}"))
    }

    /// Creates a namespace (from a manifest, as `kubectl create -f` sends it) and returns its name.
    pub fn namespace(&self, name: &str) -> String {
        self.ok_with_stdin(
            &["create", "-f", "-"],
            &format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n"),
        );
        name.to_string()
    }

    /// Polls `check` until it returns true or `within` passes.
    pub fn eventually(&self, within: Duration, what: &str, mut check: impl FnMut() -> bool) {
        let deadline = Instant::now() + within;
        while !check() {
            assert!(Instant::now() < deadline, "timed out after {within:?} waiting for {what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn expect_success(args: &[&str], output: Output) -> String {
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "kubectl {args:?} failed ({}):\n{stderr}\nstdout:\n{stdout}", output.status);
    stdout.into_owned()
}

/// kubectl, which is on every machine of this project; a missing one fails with how to install it.
pub fn kubectl_binary() -> &'static str {
    let found = Command::new("kubectl").arg("version").arg("--client").output().is_ok_and(|o| o.status.success());
    assert!(found, "kubectl not found on PATH: install it (https://kubernetes.io/docs/tasks/tools/), then rerun");
    "kubectl"
}

/// The header cells of a kubectl table (first line), split on runs of two or more spaces.
pub fn header(table: &str) -> Vec<String> {
    table.lines().next().map(columns).unwrap_or_default()
}

/// The cells of the row starting with `first` (kubectl tables separate columns by at least two spaces... or more).
pub fn row(table: &str, first: &str) -> Vec<String> {
    table
        .lines()
        .skip(1)
        .map(columns)
        .find(|cells| cells.first().is_some_and(|c| c == first))
        .unwrap_or_else(|| panic!("no row {first:?} in:\n{table}"))
}

fn columns(line: &str) -> Vec<String> {
    line.split("  ").map(str::trim).filter(|c| !c.is_empty()).map(String::from).collect()
}
