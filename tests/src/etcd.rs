//! Real etcd processes for tests and benchmarks: plain or mutual-TLS, killable and restartable on the same data.

use std::{
    io::{BufRead, BufReader, Write},
    path::{Path, PathBuf},
    process::{Child, ChildStdin, Command, Stdio},
    time::{Duration, Instant},
};

use etcd_client::{Certificate, Client, ConnectOptions, Identity, TlsOptions};
use flotilla_apiserver::storage::{DEFAULT_REQUEST_TIMEOUT, EtcdOptions, EtcdTls};
use nix::{
    sys::signal::{Signal, kill},
    unistd::Pid,
};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};
use tempfile::TempDir;
use tokio::sync::OnceCell;

/// How long etcd may take to answer its first request after being started.
const HEALTHY_WITHIN: Duration = Duration::from_secs(20);
/// How many times a start is retried on fresh ports when etcd cannot bind its ports.
const START_ATTEMPTS: usize = 5;
/// Name of the single cluster member.
const MEMBER: &str = "flotilla-test";

/// Runs etcd in the background, prints its pid and waits on stdin. A line on stdin means "the test process stops
/// etcd itself"; end of input without a line means the test process died, so etcd is killed and its temporary
/// directory removed (statics holding an `EtcdProcess` are never dropped).
const WRAPPER: &str = r#"
dir="$1"; log="$2"; shift 2
"$@" >>"$log" 2>&1 </dev/null &
pid=$!
echo "$pid"
if read -r _stop; then
    kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
else
    kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$dir"
fi
"#;

/// A single-member etcd cluster on loopback ports with its data in a temporary directory.
pub struct EtcdProcess {
    dir: TempDir,
    client_port: u16,
    peer_port: u16,
    tls: Option<TlsFiles>,
    running: Option<Running>,
}

/// The `sh` wrapper around one etcd run.
struct Running {
    wrapper: Child,
    stdin: ChildStdin,
    etcd: Pid,
}

/// Certificates written for a TLS etcd.
struct TlsFiles {
    ca: PathBuf,
    server_cert: PathBuf,
    server_key: PathBuf,
    client_cert: PathBuf,
    client_key: PathBuf,
}

/// Why a started etcd did not become healthy.
enum StartFailure {
    /// etcd exited; `bind` tells whether it could not bind its ports.
    Exited { bind: bool },
    /// etcd kept running but did not answer in time.
    NoAnswer,
}

impl EtcdProcess {
    /// Starts etcd over plain HTTP on free loopback ports.
    ///
    /// # Panics
    /// When etcd is not installed or does not become healthy (the message has the tail of etcd's log).
    pub async fn start() -> EtcdProcess {
        Self::launch(false).await
    }

    /// Starts etcd over HTTPS requiring client certificates (`--client-cert-auth`), with freshly generated certs.
    ///
    /// # Panics
    /// As [`EtcdProcess::start`].
    pub async fn start_tls() -> EtcdProcess {
        Self::launch(true).await
    }

    /// The client URL, e.g. `http://127.0.0.1:43567`.
    pub fn endpoint(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.client_port)
    }

    /// The CA, client certificate and key a client needs (TLS only).
    pub fn client_tls(&self) -> Option<EtcdTls> {
        self.tls.as_ref().map(|tls| EtcdTls {
            ca_file: Some(tls.ca.clone()),
            cert_file: Some(tls.client_cert.clone()),
            key_file: Some(tls.client_key.clone()),
        })
    }

    /// Options for an `EtcdStore` talking to this etcd, with the default 5 s request timeout.
    pub fn options(&self) -> EtcdOptions {
        EtcdOptions {
            endpoints: vec![self.endpoint()],
            tls: self.client_tls(),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        }
    }

    /// Kills etcd with SIGKILL and waits until it has exited; its data stays for [`EtcdProcess::restart`].
    pub fn kill(&mut self) {
        let Some(mut running) = self.running.take() else {
            return;
        };
        // ESRCH only means etcd already died on its own.
        let _ = kill(running.etcd, Signal::SIGKILL);
        // A line tells the wrapper to keep the data directory; it reaps etcd and exits.
        let _ = running.stdin.write_all(b"stop\n");
        drop(running.stdin);
        let _ = running.wrapper.wait();
        while is_alive(running.etcd) {
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Starts etcd again on the same data directory and ports, and waits until it answers.
    ///
    /// # Panics
    /// When etcd does not become healthy again (the message has the tail of etcd's log).
    pub async fn restart(&mut self) {
        self.kill();
        let mut failure = StartFailure::NoAnswer;
        for _ in 0..START_ATTEMPTS {
            match self.run().await {
                Ok(()) => return,
                // The port may have been taken for a moment by some other test's client; try again.
                Err(StartFailure::Exited { bind: true }) => {
                    failure = StartFailure::Exited { bind: true };
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(other) => {
                    failure = other;
                    break;
                }
            }
        }
        self.fail("restart", failure);
    }

    async fn launch(tls: bool) -> EtcdProcess {
        // Fails early, with the setup hint, when etcd is not installed.
        etcd_binary();
        let dir = tempfile::Builder::new()
            .prefix("flotilla-etcd-")
            .tempdir()
            .unwrap_or_else(|error| panic!("creating a temporary directory for etcd: {error}"));
        let tls = tls.then(|| write_certificates(&dir.path().join("tls")));
        let mut process = EtcdProcess {
            dir,
            client_port: crate::ports::free_port(),
            peer_port: crate::ports::free_port(),
            tls,
            running: None,
        };
        let mut failure = StartFailure::NoAnswer;
        for _ in 0..START_ATTEMPTS {
            match process.run().await {
                Ok(()) => return process,
                Err(StartFailure::Exited { bind: true }) => {
                    failure = StartFailure::Exited { bind: true };
                    process.client_port = crate::ports::free_port();
                    process.peer_port = crate::ports::free_port();
                    // A failed first start may have left a half-initialised member behind.
                    let _ = std::fs::remove_dir_all(process.data_dir());
                }
                Err(other) => {
                    failure = other;
                    break;
                }
            }
        }
        process.fail("start", failure)
    }

    /// Spawns etcd through the wrapper and waits until it answers, or reports why not (etcd is stopped then).
    async fn run(&mut self) -> Result<(), StartFailure> {
        let log = self.log_file();
        let mut wrapper = Command::new("sh")
            .arg("-c")
            .arg(WRAPPER)
            .arg("flotilla-etcd-wrapper")
            .arg(self.dir.path())
            .arg(&log)
            .arg(etcd_binary())
            .args(self.flags())
            .env_clear()
            .envs(std::env::vars_os().filter(|(name, _)| !name.to_string_lossy().starts_with("ETCD_")))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|error| panic!("starting sh to run etcd: {error}"));
        let stdin = wrapper.stdin.take().unwrap_or_else(|| panic!("the etcd wrapper has no stdin pipe"));
        let stdout = wrapper.stdout.take().unwrap_or_else(|| panic!("the etcd wrapper has no stdout pipe"));
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .unwrap_or_else(|error| panic!("reading etcd's pid from its wrapper: {error}"));
        let pid: i32 = line.trim().parse().unwrap_or_else(|_| panic!("the etcd wrapper printed {line:?}, not a pid"));
        let etcd = Pid::from_raw(pid);
        self.running = Some(Running { wrapper, stdin, etcd });

        let deadline = Instant::now() + HEALTHY_WITHIN;
        while Instant::now() < deadline {
            if !is_alive(etcd) {
                let bind = self.log_tail(200).contains("address already in use");
                self.kill();
                return Err(StartFailure::Exited { bind });
            }
            if self.answers().await {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.kill();
        Err(StartFailure::NoAnswer)
    }

    /// Whether a real etcd round trip (a `status` call) works now.
    async fn answers(&self) -> bool {
        let mut options = ConnectOptions::new().with_connect_timeout(Duration::from_secs(1));
        if let Some(tls) = &self.tls {
            let read = |path: &Path| std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
            options = options.with_tls(
                TlsOptions::new()
                    .ca_certificate(Certificate::from_pem(read(&tls.ca)))
                    .identity(Identity::from_pem(read(&tls.client_cert), read(&tls.client_key))),
            );
        }
        let round_trip = async {
            let mut client = Client::connect([self.endpoint()], Some(options)).await.ok()?;
            client.status().await.ok()
        };
        matches!(tokio::time::timeout(Duration::from_secs(2), round_trip).await, Ok(Some(_)))
    }

    fn flags(&self) -> Vec<String> {
        let client_url = self.endpoint();
        let peer_url = format!("http://127.0.0.1:{}", self.peer_port);
        let mut flags = vec![
            format!("--name={MEMBER}"),
            format!("--data-dir={}", self.data_dir().display()),
            format!("--listen-client-urls={client_url}"),
            format!("--advertise-client-urls={client_url}"),
            format!("--listen-peer-urls={peer_url}"),
            format!("--initial-advertise-peer-urls={peer_url}"),
            format!("--initial-cluster={MEMBER}={peer_url}"),
            "--initial-cluster-state=new".to_owned(),
            format!("--initial-cluster-token={MEMBER}"),
            "--experimental-watch-progress-notify-interval=1s".to_owned(),
            "--logger=zap".to_owned(),
            "--log-outputs=stderr".to_owned(),
            "--log-level=error".to_owned(),
        ];
        if let Some(tls) = &self.tls {
            flags.extend([
                format!("--cert-file={}", tls.server_cert.display()),
                format!("--key-file={}", tls.server_key.display()),
                format!("--trusted-ca-file={}", tls.ca.display()),
                "--client-cert-auth".to_owned(),
            ]);
        }
        flags
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log_file(&self) -> PathBuf {
        self.dir.path().join("etcd.log")
    }

    /// The last `lines` lines of etcd's log.
    fn log_tail(&self, lines: usize) -> String {
        let log = std::fs::read_to_string(self.log_file()).unwrap_or_default();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    fn fail(&self, what: &str, failure: StartFailure) -> ! {
        let reason = match failure {
            StartFailure::Exited { bind: true } => "etcd could not bind its ports",
            StartFailure::Exited { bind: false } => "etcd exited",
            StartFailure::NoAnswer => "etcd did not answer within 20 s",
        };
        panic!(
            "etcd {what} failed on {} ({reason}); last lines of {}:\n{}",
            self.endpoint(),
            self.log_file().display(),
            self.log_tail(40)
        );
    }
}

impl Drop for EtcdProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One etcd per test process, started on first use and shared by every test in it (use distinct key prefixes).
pub async fn shared_etcd() -> &'static EtcdProcess {
    static SHARED: OnceCell<EtcdProcess> = OnceCell::const_new();
    SHARED.get_or_init(EtcdProcess::start).await
}

/// The etcd binary: `/usr/bin/etcd`, else `etcd` on `PATH`.
///
/// # Panics
/// When neither exists.
pub fn etcd_binary() -> PathBuf {
    let installed = PathBuf::from("/usr/bin/etcd");
    if installed.is_file() {
        return installed;
    }
    std::env::var_os("PATH")
        .and_then(|path| std::env::split_paths(&path).map(|dir| dir.join("etcd")).find(|candidate| candidate.is_file()))
        .unwrap_or_else(|| panic!("etcd not found: run ./hack/setup.sh (installs Debian's etcd-server)"))
}

/// Whether `pid` is a live process (zombies waiting to be reaped count as dead).
fn is_alive(pid: Pid) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state follows the command name, which is in parentheses and may itself contain them.
    let state = stat.rfind(')').and_then(|end| stat[end + 1..].trim_start().chars().next());
    !matches!(state, Some('Z' | 'X') | None)
}

/// Writes a CA, a server certificate for 127.0.0.1/localhost and a client certificate into `dir`.
fn write_certificates(dir: &Path) -> TlsFiles {
    std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
    let generate = || KeyPair::generate().unwrap_or_else(|e| panic!("generating a test key: {e}"));

    let ca_key = generate();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap_or_else(|e| panic!("CA params: {e}"));
    ca_params.distinguished_name.push(DnType::CommonName, "flotilla test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca_params.self_signed(&ca_key).unwrap_or_else(|e| panic!("signing the test CA: {e}"));
    let issuer = Issuer::new(ca_params, ca_key);

    let leaf = |name: &str, sans: Vec<String>, usage: ExtendedKeyUsagePurpose| {
        let key = generate();
        let mut params = CertificateParams::new(sans).unwrap_or_else(|e| panic!("{name} params: {e}"));
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        params.extended_key_usages = vec![usage];
        let cert = params.signed_by(&key, &issuer).unwrap_or_else(|e| panic!("signing the {name} certificate: {e}"));
        (cert.pem(), key.serialize_pem())
    };
    let (server_cert, server_key) =
        leaf("etcd", vec!["127.0.0.1".to_owned(), "localhost".to_owned()], ExtendedKeyUsagePurpose::ServerAuth);
    let (client_cert, client_key) = leaf("flotilla", Vec::new(), ExtendedKeyUsagePurpose::ClientAuth);

    let write = |file: &str, contents: &str| {
        let path = dir.join(file);
        std::fs::write(&path, contents).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        path
    };
    TlsFiles {
        ca: write("ca.pem", &ca_cert.pem()),
        server_cert: write("server.pem", &server_cert),
        server_key: write("server-key.pem", &server_key),
        client_cert: write("client.pem", &client_cert),
        client_key: write("client-key.pem", &client_key),
    }
}
