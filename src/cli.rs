//! Command-line interface of the `flotilla` binary: one subcommand per role.

use std::{
    io::Write,
    os::unix::fs::OpenOptionsExt,
    path::{Path, PathBuf},
};

use anyhow::Context;
use clap::{Parser, Subcommand};
use flotilla_apiserver::{
    auth::AuthOptions,
    server::{Instance, ServerOptions, ShutdownRequests},
    storage::StorageOptions,
};
use flotilla_certs::InitOptions;

/// Flotilla: a Karmada-compatible multi-cluster control plane.
#[derive(Parser, Debug)]
#[command(name = "flotilla", version, about)]
pub struct Cli {
    /// Log filter, e.g. `info` or `flotilla_apiserver=debug` (default: `info`, or `RUST_LOG`).
    #[arg(long, global = true)]
    pub log_level: Option<String>,
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The roles of the binary.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the Kubernetes-compatible API server (HTTPS) on etcd (`--etcd-servers`) or the embedded store.
    Apiserver(Box<ApiserverArgs>),
    /// All-in-one for a laptop or CI: the API server on 127.0.0.1 with its state in `.flotilla/`, certificates,
    /// RBAC, and an admin kubeconfig.
    Up(crate::up::UpArgs),
    /// Certificates for a secured API server.
    #[command(subcommand)]
    Certs(CertsCommand),
    /// Simulated member clusters for tests and demos: N in-memory API servers with nodes and a workload simulator.
    MemberSim(flotilla_membersim::MemberSimArgs),
    /// Run the controllers (cluster status and taints) under Lease leader election.
    Controllers(flotilla_controllers::command::ControllersArgs),
    /// Register a member cluster in Push mode, as `karmadactl join` does.
    Join(flotilla_controllers::join::JoinArgs),
    /// Remove a member cluster registered with `join` (its Works, Cluster, Secrets, and member-side objects).
    Unjoin(flotilla_controllers::join::UnjoinArgs),
}

/// `flotilla certs ...`.
#[derive(Subcommand, Debug)]
pub enum CertsCommand {
    /// Create (or reuse, when still valid) a cluster CA, the serving certificate, a front-proxy CA and client
    /// certificate, and an admin client certificate with its kubeconfig, all in one directory (mode 0600).
    Init(CertsInitArgs),
}

/// Options of `flotilla certs init`.
#[derive(clap::Args, Debug)]
pub struct CertsInitArgs {
    /// Directory for the files (created when missing).
    #[arg(long, default_value = ".flotilla/certs")]
    dir: PathBuf,
    /// DNS names and IP addresses the serving certificate covers, besides localhost, 127.0.0.1 and ::1.
    #[arg(long, value_delimiter = ',')]
    hosts: Vec<String>,
    /// Server URL in `admin.kubeconfig` (default `https://<first host, or 127.0.0.1>:6443`).
    #[arg(long)]
    server: Option<String>,
}

/// Options of `flotilla apiserver`.
#[derive(clap::Args, Debug)]
pub struct ApiserverArgs {
    #[command(flatten)]
    storage: StorageOptions,
    #[command(flatten)]
    server: ServerOptions,
    #[command(flatten)]
    auth: AuthOptions,
    /// Run as an aggregated API server behind a host cluster's kube-aggregator: serve only the Karmada groups
    /// (cluster, policy, work, search.karmada.io), plus discovery, OpenAPI, health and version.
    #[arg(long)]
    aggregated: bool,
}

impl Command {
    /// Runs the chosen role until it finishes or is interrupted.
    pub async fn run(self) -> anyhow::Result<()> {
        match self {
            Command::Apiserver(args) => {
                let mode = if args.aggregated { Mode::Aggregated } else { Mode::ControlPlane };
                run_apiserver(&args.storage, &args.server, &args.auth, mode, None).await
            }
            Command::Up(args) => crate::up::run(&args).await,
            Command::MemberSim(args) => Ok(args.run().await?),
            Command::Controllers(args) => Ok(args.run().await?),
            Command::Join(args) => Ok(flotilla_controllers::join::join(&args).await?),
            Command::Unjoin(args) => Ok(flotilla_controllers::join::unjoin(&args).await?),
            Command::Certs(CertsCommand::Init(args)) => {
                let options = InitOptions { dir: args.dir, hosts: args.hosts, server: args.server };
                let report = flotilla_certs::init(&options)
                    .with_context(|| format!("preparing certificates in {}", options.dir.display()))?;
                crate::up::print_report(&report);
                Ok(())
            }
        }
    }
}

/// What the API server serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Every built-in kind and the Karmada groups.
    ControlPlane,
    /// Only the Karmada groups, behind a host cluster's aggregator.
    Aggregated,
}

/// Writes a kubeconfig for the server's URL.
type KubeconfigFor<'a> = (&'a Path, &'a dyn Fn(&str) -> String);

/// Starts the API server, optionally writes a kubeconfig for it, and serves until Ctrl-C or SIGTERM.
async fn run_apiserver(
    storage: &StorageOptions,
    server: &ServerOptions,
    auth: &AuthOptions,
    mode: Mode,
    kubeconfig_for: Option<KubeconfigFor<'_>>,
) -> anyhow::Result<()> {
    let shutdown = ShutdownRequests::from_signals().context("installing the Ctrl-C and SIGTERM handlers")?;
    let instance = match mode {
        Mode::ControlPlane => Instance::start(storage, server, auth).await,
        Mode::Aggregated => Instance::start_aggregated(storage, server, auth).await,
    }
    .context("starting the API server")?;
    print_started(&instance);
    if mode == Mode::Aggregated {
        println!("aggregated mode: serving only {}", Instance::AGGREGATED_GROUPS.join(", "));
    }
    if let Some((path, contents)) = kubeconfig_for {
        write_private(path, &contents(&instance.url()))
            .with_context(|| format!("writing the kubeconfig {}", path.display()))?;
        let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        println!("wrote {}", path.display());
        println!("try: export KUBECONFIG={}; kubectl get ns", path.display());
    }
    println!("ready; press Ctrl-C to stop");
    instance.serve(shutdown).await;
    println!("stopping");
    Ok(())
}

/// The lines saying where the started server keeps its data and serves.
pub fn print_started(instance: &Instance) {
    println!(
        "storage ready: {} backend at revision {}, keys under {}",
        instance.backend(),
        instance.start_revision(),
        instance.key_root()
    );
    let cert = instance.cert();
    let origin = if cert.generated { "generated self-signed" } else { "loaded" };
    println!("serving the Kubernetes API on {} ({origin} certificate {})", instance.url(), cert.cert_file.display());
}

/// Writes `contents` to `path`, readable only by the owner.
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    file.write_all(contents.as_bytes())
}

/// Installs the tracing subscriber: `--log-level`, else `RUST_LOG`, else `info`.
pub fn init_logging(level: Option<&str>) {
    let filter = level
        .map(tracing_subscriber::EnvFilter::new)
        .or_else(|| tracing_subscriber::EnvFilter::try_from_default_env().ok())
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn every_subcommand_has_consistent_flags() {
        Cli::command().debug_assert();
    }

    #[test]
    fn apiserver_takes_storage_and_serving_flags_together() {
        let cli = Cli::parse_from([
            "flotilla",
            "apiserver",
            "--etcd-servers",
            "http://127.0.0.1:2379",
            "--secure-port",
            "7443",
            "--request-timeout",
            "30s",
            "--storage-request-timeout",
            "2s",
        ]);
        let Command::Apiserver(args) = cli.command else { panic!("not apiserver") };
        assert_eq!(args.server.secure_port, 7443);
        assert_eq!(args.server.request_timeout, std::time::Duration::from_secs(30));
        assert_eq!(args.storage.request_timeout, std::time::Duration::from_secs(2));
    }

    #[test]
    fn certs_init_takes_a_directory_hosts_and_a_server() {
        let cli = Cli::parse_from(["flotilla", "certs", "init", "--dir", "/x", "--hosts", "a.example,10.0.0.1"]);
        let Command::Certs(CertsCommand::Init(args)) = cli.command else { panic!("not certs init") };
        assert_eq!(args.dir, PathBuf::from("/x"));
        assert_eq!(args.hosts, ["a.example", "10.0.0.1"]);
        assert_eq!(args.server, None);
    }

    #[test]
    fn apiserver_takes_aggregated() {
        let cli = Cli::parse_from(["flotilla", "apiserver", "--aggregated"]);
        let Command::Apiserver(args) = cli.command else { panic!("not apiserver") };
        assert!(args.aggregated);
    }
}
