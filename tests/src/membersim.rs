//! A `flotilla member-sim` process for end-to-end tests: its kubeconfig (contexts `member1..N`) and fault endpoint.

use std::{
    io::{BufRead, BufReader, Read, Write},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
};

/// A running `flotilla member-sim` on free ports, stopped (SIGTERM) when dropped.
pub struct MemberSimProcess {
    child: Child,
    kubeconfig: PathBuf,
    control: String,
    _dir: tempfile::TempDir,
}

impl MemberSimProcess {
    /// Starts `binary member-sim <flags>` with free ports, a temporary state directory and kubeconfig, and waits for
    /// its "clusters running" line.
    ///
    /// # Panics
    /// When it does not start or prints no control endpoint.
    pub fn start(binary: &Path, flags: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let kubeconfig = dir.path().join("members.kubeconfig");
        let mut child = Command::new(binary)
            .args(["member-sim", "--base-port", "0", "--control-port", "0"])
            .args(flags)
            .arg("--kubeconfig-out")
            .arg(&kubeconfig)
            .arg("--state-dir")
            .arg(dir.path().join("state"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("flotilla member-sim starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut control = String::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.expect("a line of output");
            if let Some(address) = line.strip_prefix("member-sim: control endpoint http://") {
                control = address.to_string();
            }
            if line.contains("clusters running") {
                break;
            }
        }
        assert!(!control.is_empty(), "member-sim printed its control endpoint");
        Self { child, kubeconfig, control, _dir: dir }
    }

    /// The kubeconfig it wrote.
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// `method path` on the control endpoint, e.g. `POST /clusters/member2/stop`; the status code.
    ///
    /// # Panics
    /// When the endpoint does not answer.
    pub fn control(&self, method: &str, path: &str) -> u16 {
        control_request(&self.control, method, path)
    }
}

/// `method path` on a member-sim control endpoint at `address` (`host:port`, plain HTTP/1.1); the status code.
///
/// # Panics
/// When the endpoint does not answer.
pub fn control_request(address: &str, method: &str, path: &str) -> u16 {
    let mut stream = std::net::TcpStream::connect(address).expect("the control endpoint accepts");
    let request =
        format!("{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).expect("request sent");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("answer read");
    answer.split_whitespace().nth(1).and_then(|code| code.parse().ok()).unwrap_or(0)
}

impl Drop for MemberSimProcess {
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGTERM);
        }
        let _ = self.child.wait();
    }
}
