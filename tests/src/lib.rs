//! Test harness shared by Flotilla's integration tests and benchmarks: real etcd processes, test stores, the binary.

pub mod backends;
pub mod etcd;
pub mod identity;
pub mod membersim;
pub mod ports;
pub mod server;

/// `kubectl --kubeconfig <kubeconfig>` with its own discovery cache beside the kubeconfig: kubectl caches discovery
/// per `host:port` for hours, and a later test's server on a reused port must not be served an earlier server's.
pub fn kubectl_command(kubeconfig: &std::path::Path) -> std::process::Command {
    let name = kubeconfig.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let cache = kubeconfig.with_file_name(format!(".kube-cache-{name}"));
    let mut command = std::process::Command::new("kubectl");
    command.arg("--kubeconfig").arg(kubeconfig).arg("--cache-dir").arg(cache);
    command
}
