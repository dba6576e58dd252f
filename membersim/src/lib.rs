//! `flotilla member-sim`: simulated member clusters (in-memory API servers with nodes and a workload simulator).

pub mod args;
pub mod cluster;
pub mod control;
pub mod kubeconfig;
pub mod logic;
pub mod nodes;
pub mod sim;

use std::{io::Write, os::unix::fs::OpenOptionsExt, path::Path};

pub use args::MemberSimArgs;
pub use cluster::{ClusterSpec, Faults, SimulatedCluster};
pub use nodes::NodeShape;

/// Why the simulated clusters could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A command-line value is malformed.
    #[error("{flag}: {message}")]
    Usage {
        /// The flag.
        flag: &'static str,
        /// What is wrong.
        message: String,
    },
    /// One cluster could not start.
    #[error("cluster {cluster}: {message}")]
    Cluster {
        /// The cluster.
        cluster: String,
        /// What failed.
        message: String,
    },
    /// A file could not be written or a port bound.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
}

/// Writes `text` to `path` readable by its owner only (0600), replacing it.
///
/// # Errors
/// The file system's.
pub fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    file.write_all(text.as_bytes())?;
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
}
