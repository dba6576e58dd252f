//! The `flotilla` binary: one command-line entry point for every role (API server, controllers, all-in-one, tools).

mod cli;
mod up;

use clap::Parser;

/// mimalloc: the API server allocates many short-lived JSON values per request; glibc's allocator spent about a
/// third of the server's CPU time on them in the API benchmark (docs/BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = cli::Cli::parse();
    cli::init_logging(cli.log_level.as_deref());
    cli.command.run().await
}
