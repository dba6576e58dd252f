//! The `flotilla member-sim` command line and its run loop.

use std::{collections::BTreeMap, path::PathBuf, sync::Arc};

use flotilla_apiserver::server::ShutdownRequests;

use crate::{ClusterSpec, NodeShape, SimError, SimulatedCluster, control, kubeconfig, write_private};

/// The text after `flotilla member-sim --help`'s options: the control endpoint's API.
const CONTROL_HELP: &str = "\
Fault control (with --control-port, plain HTTP on 127.0.0.1):
  GET    /clusters                             every cluster's URL, listening state and faults
  POST   /clusters/<name>/stop                 close that cluster's listener (its data stays)
  POST   /clusters/<name>/start                reopen it
  POST   /clusters/<name>/latency?ms=200       add latency to every request; DELETE clears it
  POST   /clusters/<name>/errors?status=503    answer every request with that status; DELETE clears it
Example: curl -X POST http://127.0.0.1:7400/clusters/member2/stop";

/// Options of `flotilla member-sim`: N simulated clusters (KWOK-style) in one process.
#[derive(clap::Args, Debug, Clone)]
#[command(after_help = CONTROL_HELP)]
pub struct MemberSimArgs {
    /// How many clusters (`member1`..`memberN`).
    #[arg(long, default_value_t = 3)]
    pub clusters: usize,
    /// HTTPS port of `member1` on 127.0.0.1; `memberI` listens on base-port + I - 1 (0 picks free ports).
    #[arg(long = "base-port", default_value_t = 7001)]
    pub base_port: u16,
    /// Where to write the kubeconfig (contexts `member1`..`memberN`, admin client certificates embedded, mode 0600).
    #[arg(long = "kubeconfig-out")]
    pub kubeconfig_out: PathBuf,
    /// Nodes per cluster.
    #[arg(long = "nodes-per-cluster", default_value_t = 3)]
    pub nodes_per_cluster: usize,
    /// CPU capacity of each node.
    #[arg(long = "node-cpu", default_value = "32")]
    pub node_cpu: String,
    /// Memory capacity of each node.
    #[arg(long = "node-memory", default_value = "128Gi")]
    pub node_memory: String,
    /// Pod capacity of each node.
    #[arg(long = "node-pods", default_value_t = 110)]
    pub node_pods: u32,
    /// Kubernetes version the clusters report (`/version`, kubelet versions).
    #[arg(long = "kubernetes-version", default_value = "v1.31.0")]
    pub kubernetes_version: String,
    /// Region of the nodes (`topology.kubernetes.io/region`): `REGION` for every cluster or `CLUSTER=REGION`;
    /// repeatable.
    #[arg(long)]
    pub region: Vec<String>,
    /// Zone of the nodes (`topology.kubernetes.io/zone`): `ZONE` or `CLUSTER=ZONE`; repeatable.
    #[arg(long)]
    pub zone: Vec<String>,
    /// Extra node labels: `KEY=VALUE[,KEY=VALUE]` for every cluster or `CLUSTER:KEY=VALUE[,...]`; repeatable.
    #[arg(long)]
    pub labels: Vec<String>,
    /// Directory for each cluster's certificates (a temporary one, removed at exit, when not given).
    #[arg(long = "state-dir")]
    pub state_dir: Option<PathBuf>,
    /// Port of the fault-control endpoint on 127.0.0.1 (0 picks a free one; off when not given).
    #[arg(long = "control-port")]
    pub control_port: Option<u16>,
}

/// `CLUSTER=VALUE` or `VALUE` (every cluster) into the value per cluster.
fn per_cluster(flag: &'static str, values: &[String], names: &[String]) -> Result<BTreeMap<String, String>, SimError> {
    let mut out = BTreeMap::new();
    for value in values {
        match value.split_once('=') {
            Some((cluster, value)) => {
                if !names.iter().any(|name| name == cluster) {
                    return Err(SimError::Usage { flag, message: format!("there is no cluster named {cluster:?}") });
                }
                out.insert(cluster.to_string(), value.to_string());
            }
            None => {
                for name in names {
                    out.entry(name.clone()).or_insert_with(|| value.clone());
                }
            }
        }
    }
    Ok(out)
}

/// `--labels` into the labels per cluster.
fn labels_per_cluster(
    values: &[String],
    names: &[String],
) -> Result<BTreeMap<String, BTreeMap<String, String>>, SimError> {
    let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for value in values {
        let (targets, pairs): (Vec<String>, &str) = match value.split_once(':') {
            Some((cluster, pairs)) if !cluster.contains('=') => {
                if !names.iter().any(|name| name == cluster) {
                    let message = format!("there is no cluster named {cluster:?}");
                    return Err(SimError::Usage { flag: "--labels", message });
                }
                (vec![cluster.to_string()], pairs)
            }
            _ => (names.to_vec(), value.as_str()),
        };
        for pair in pairs.split(',').filter(|pair| !pair.is_empty()) {
            let Some((key, label)) = pair.split_once('=') else {
                return Err(SimError::Usage { flag: "--labels", message: format!("{pair:?} is not KEY=VALUE") });
            };
            for target in &targets {
                out.entry(target.clone()).or_default().insert(key.to_string(), label.to_string());
            }
        }
    }
    Ok(out)
}

impl MemberSimArgs {
    /// The clusters these options describe, with their files under `dir`.
    ///
    /// # Errors
    /// Malformed per-cluster flags or a port range past 65535.
    pub fn specs(&self, dir: &std::path::Path) -> Result<Vec<ClusterSpec>, SimError> {
        let names: Vec<String> = (1..=self.clusters).map(|n| format!("member{n}")).collect();
        let regions = per_cluster("--region", &self.region, &names)?;
        let zones = per_cluster("--zone", &self.zone, &names)?;
        let mut labels = labels_per_cluster(&self.labels, &names)?;
        let shape = NodeShape {
            count: self.nodes_per_cluster,
            cpu: self.node_cpu.clone(),
            memory: self.node_memory.clone(),
            pods: self.node_pods,
            kubelet_version: self.kubernetes_version.clone(),
        };
        for (flag, text) in [("--node-cpu", &self.node_cpu), ("--node-memory", &self.node_memory)] {
            if crate::logic::parse_quantity(text, 1).is_none() {
                return Err(SimError::Usage { flag, message: format!("{text:?} is not a quantity") });
            }
        }
        names
            .iter()
            .enumerate()
            .map(|(index, name)| {
                let port = if self.base_port == 0 {
                    0
                } else {
                    u16::try_from(usize::from(self.base_port) + index).map_err(|_| SimError::Usage {
                        flag: "--base-port",
                        message: format!("{} clusters from port {} go past 65535", self.clusters, self.base_port),
                    })?
                };
                let mut node_labels = labels.remove(name).unwrap_or_default();
                if let Some(region) = regions.get(name) {
                    node_labels.insert("topology.kubernetes.io/region".into(), region.clone());
                }
                if let Some(zone) = zones.get(name) {
                    node_labels.insert("topology.kubernetes.io/zone".into(), zone.clone());
                }
                Ok(ClusterSpec {
                    name: name.clone(),
                    index,
                    port,
                    kubernetes_version: self.kubernetes_version.clone(),
                    nodes: shape.clone(),
                    node_labels,
                    dir: dir.join(name),
                })
            })
            .collect()
    }

    /// Starts the clusters, writes the kubeconfig, serves the control endpoint, and runs until SIGINT/SIGTERM.
    ///
    /// # Errors
    /// Bad flags, a cluster that cannot start, an unwritable kubeconfig.
    pub async fn run(self) -> Result<(), SimError> {
        let temp;
        let dir = match &self.state_dir {
            Some(dir) => dir.clone(),
            None => {
                temp = tempfile::tempdir()
                    .map_err(|source| SimError::Io { what: "creating a temporary state directory".into(), source })?;
                temp.path().to_path_buf()
            }
        };
        let mut shutdown = ShutdownRequests::from_signals()
            .map_err(|source| SimError::Io { what: "installing signal handlers".into(), source })?;
        let specs = self.specs(&dir)?;
        let mut clusters = Vec::with_capacity(specs.len());
        for spec in &specs {
            let cluster = SimulatedCluster::start(spec).await?;
            println!("member-sim: {} ready at {} ({} nodes)", cluster.name(), cluster.url(), spec.nodes.count);
            clusters.push(cluster);
        }
        let entries: Vec<_> = clusters.iter().map(kubeconfig::Entry::of).collect();
        if let Some(parent) = self.kubeconfig_out.parent().filter(|parent| !parent.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|source| SimError::Io { what: format!("creating {}", parent.display()), source })?;
        }
        write_private(&self.kubeconfig_out, &kubeconfig::render(&entries))
            .map_err(|source| SimError::Io { what: format!("writing {}", self.kubeconfig_out.display()), source })?;
        println!(
            "member-sim: kubeconfig {} (contexts member1..member{})",
            self.kubeconfig_out.display(),
            clusters.len()
        );
        let clusters = Arc::new(clusters);
        let _control = match self.control_port {
            Some(port) => {
                let (address, task) = control::serve(port, Arc::clone(&clusters))
                    .await
                    .map_err(|source| SimError::Io { what: format!("binding the control port {port}"), source })?;
                println!("member-sim: control endpoint http://{address}");
                Some(AbortOnDrop(task))
            }
            None => None,
        };
        println!("member-sim: {} clusters running; Ctrl-C stops", clusters.len());
        shutdown.requested().await;
        println!("member-sim: stopping");
        drop(clusters);
        Ok(())
    }
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: MemberSimArgs,
    }

    fn parse(extra: &[&str]) -> MemberSimArgs {
        let mut argv = vec!["member-sim", "--kubeconfig-out", "k", "--clusters", "2", "--base-port", "7100"];
        argv.extend_from_slice(extra);
        Cli::parse_from(argv).args
    }

    #[test]
    fn each_cluster_gets_its_port_region_zone_and_labels() {
        let args = parse(&[
            "--region",
            "member1=eu-west-1",
            "--region",
            "us-east-1",
            "--zone",
            "member2=b",
            "--labels",
            "tier=gold",
            "--labels",
            "member2:env=prod,team=a",
        ]);
        let specs = args.specs(std::path::Path::new("/tmp/x")).expect("specs");
        assert_eq!((specs[0].port, specs[1].port), (7100, 7101));
        assert_eq!(specs[0].node_labels.get("topology.kubernetes.io/region").map(String::as_str), Some("eu-west-1"));
        assert_eq!(specs[1].node_labels.get("topology.kubernetes.io/region").map(String::as_str), Some("us-east-1"));
        assert_eq!(specs[1].node_labels.get("topology.kubernetes.io/zone").map(String::as_str), Some("b"));
        assert!(!specs[0].node_labels.contains_key("topology.kubernetes.io/zone"));
        assert_eq!(specs[0].node_labels.get("tier").map(String::as_str), Some("gold"));
        assert_eq!(specs[1].node_labels.get("env").map(String::as_str), Some("prod"));
        assert_eq!(specs[1].dir, std::path::Path::new("/tmp/x/member2"));
    }

    #[test]
    fn a_flag_naming_an_unknown_cluster_is_refused() {
        let error = parse(&["--region", "member9=x"]).specs(std::path::Path::new("/tmp")).expect_err("unknown");
        assert!(error.to_string().contains("member9"), "{error}");
        let error = parse(&["--node-memory", "lots"]).specs(std::path::Path::new("/tmp")).expect_err("bad quantity");
        assert!(error.to_string().starts_with("--node-memory"), "{error}");
    }
}
