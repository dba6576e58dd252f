//! Command-line interface of the `flotilla` binary: one subcommand per role.

use std::{
    io::Write,
    net::{IpAddr, Ipv4Addr},
    os::unix::fs::OpenOptionsExt,
    path::{Path, PathBuf},
};

use anyhow::Context;
use clap::{Parser, Subcommand};
use flotilla_apiserver::{
    auth::AuthOptions,
    server::{Instance, ServerOptions, ShutdownRequests, kubeconfig},
    storage::StorageOptions,
};

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
    /// All-in-one for a laptop or CI: the API server on 127.0.0.1 with its state in `.flotilla/`, and a kubeconfig.
    Up(UpArgs),
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
}

/// Options of `flotilla up`.
#[derive(clap::Args, Debug)]
pub struct UpArgs {
    /// Directory for all of Flotilla's local state: the embedded store in `<dir>/data`, the serving certificate in
    /// `<dir>/certs`, and `<dir>/kubeconfig`.
    #[arg(long = "data-dir", default_value = ".flotilla")]
    data_dir: PathBuf,
    /// HTTPS port on 127.0.0.1 (`0` picks a free one).
    #[arg(long, default_value_t = 6443)]
    port: u16,
}

impl Command {
    /// Runs the chosen role until it finishes or is interrupted.
    pub async fn run(self) -> anyhow::Result<()> {
        match self {
            Command::Apiserver(args) => run_apiserver(&args.storage, &args.server, &args.auth, None).await,
            Command::Up(args) => {
                let storage = StorageOptions::embedded(args.data_dir.join("data"));
                println!("flotilla up: opening the embedded store in {}", storage.data_dir.display());
                let server = ServerOptions {
                    bind_address: IpAddr::V4(Ipv4Addr::LOCALHOST),
                    secure_port: args.port,
                    cert_dir: args.data_dir.join("certs"),
                    ..ServerOptions::default()
                };
                run_apiserver(&storage, &server, &AuthOptions::default(), Some(&args.data_dir.join("kubeconfig"))).await
            }
        }
    }
}

/// Starts the API server, optionally writes a kubeconfig for it, and serves until Ctrl-C or SIGTERM.
async fn run_apiserver(
    storage: &StorageOptions,
    server: &ServerOptions,
    auth: &AuthOptions,
    kubeconfig_path: Option<&Path>,
) -> anyhow::Result<()> {
    let shutdown = ShutdownRequests::from_signals().context("installing the Ctrl-C and SIGTERM handlers")?;
    let instance = Instance::start(storage, server, auth).await.context("starting the API server")?;
    println!(
        "storage ready: {} backend at revision {}, keys under {}",
        instance.backend(),
        instance.start_revision(),
        instance.key_root()
    );
    let cert = instance.cert();
    let origin = if cert.generated { "generated self-signed" } else { "loaded" };
    println!("serving the Kubernetes API on {} ({origin} certificate {})", instance.url(), cert.cert_file.display());
    if let Some(path) = kubeconfig_path {
        write_private(path, &kubeconfig::kubeconfig(&instance.url(), &cert.cert_pem))
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
}
