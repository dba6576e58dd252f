//! Command-line interface of the `flotilla` binary: one subcommand per role.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use flotilla_apiserver::storage::{Compactor, SharedStore, StorageOptions};

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
    /// Run the API server's storage engine on etcd (`--etcd-servers`) or the embedded store (`--data-dir`).
    Apiserver(ApiserverArgs),
    /// All-in-one for a laptop or CI: the embedded store in `.flotilla/` and everything built so far.
    Up(UpArgs),
}

/// Options of `flotilla apiserver`.
#[derive(clap::Args, Debug)]
pub struct ApiserverArgs {
    #[command(flatten)]
    storage: StorageOptions,
}

/// Options of `flotilla up`.
#[derive(clap::Args, Debug)]
pub struct UpArgs {
    /// Directory for all of Flotilla's local state (the embedded store lives in `<dir>/data`).
    #[arg(long = "data-dir", default_value = ".flotilla")]
    data_dir: PathBuf,
}

impl Command {
    /// Runs the chosen role until it finishes or is interrupted.
    pub async fn run(self) -> anyhow::Result<()> {
        match self {
            Command::Apiserver(args) => run_storage(&args.storage).await,
            Command::Up(args) => {
                let storage = StorageOptions::embedded(args.data_dir.join("data"));
                println!("flotilla up: opening the embedded store in {}", storage.data_dir.display());
                run_storage(&storage).await
            }
        }
    }
}

/// Opens storage, keeps it compacted, and waits for Ctrl-C or SIGTERM.
async fn run_storage(options: &StorageOptions) -> anyhow::Result<()> {
    let shutdown = shutdown_signal().context("installing the Ctrl-C and SIGTERM handlers")?;
    let store: SharedStore = options.open().await.context("opening storage")?;
    let revision = store.current_revision().await.context("reading the current revision")?;
    println!(
        "storage ready: {} backend at revision {revision}, keys under {}",
        store.backend(),
        options.key_space().root()
    );
    let _compactor =
        (!options.compaction_interval.is_zero()).then(|| Compactor::start(store.clone(), options.compaction_interval));
    println!("the HTTP API is not built yet; press Ctrl-C to stop");
    shutdown.await;
    println!("stopping");
    Ok(())
}

/// Resolves on the first Ctrl-C or SIGTERM; the handlers are installed before this returns.
fn shutdown_signal() -> std::io::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}

/// Installs the tracing subscriber: `--log-level`, else `RUST_LOG`, else `info`.
pub fn init_logging(level: Option<&str>) {
    let filter = level
        .map(tracing_subscriber::EnvFilter::new)
        .or_else(|| tracing_subscriber::EnvFilter::try_from_default_env().ok())
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}
