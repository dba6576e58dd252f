//! The `flotilla` binary: one command-line entry point for every role (API server, controllers, all-in-one, tools).

mod cli;

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = cli::Cli::parse();
    cli::init_logging(cli.log_level.as_deref());
    cli.command.run().await
}
