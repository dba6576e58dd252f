//! Benchmark programs behind hack/bench/*.sh; each prints medians and ratios measured side by side in one run.

mod api;
mod member_sim;
mod storage;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "Flotilla benchmarks; results belong in docs/BENCHMARKS.md")]
struct Cli {
    #[command(subcommand)]
    bench: Bench,
}

#[derive(Subcommand)]
enum Bench {
    /// Storage engine: create throughput (Store on etcd vs raw etcd-client vs embedded), lists, watch fan-out.
    Storage(storage::Args),
    /// API server: HTTPS create throughput vs the storage layer's, GET latency, LIST as JSON and as Table.
    Api(api::Args),
    /// `flotilla member-sim` memory: N clusters x M one-replica Deployments made through the API, all ready.
    MemberSim(member_sim::Args),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().bench {
        Bench::Storage(args) => storage::run(args).await,
        Bench::Api(args) => api::run(args).await,
        Bench::MemberSim(args) => member_sim::run(args).await,
    }
}
