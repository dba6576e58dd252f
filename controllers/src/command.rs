//! `flotilla controllers`: its options, and running the controllers under leader election.

use std::path::PathBuf;
use std::time::Duration;

use crate::cluster_status::{self, StatusOptions};
use crate::leader::{Elector, LeaderElection, LeaderError, default_identity};
use crate::member::{self, MemberError};

/// Why the controllers stopped.
#[derive(Debug, thiserror::Error)]
pub enum ControllersError {
    /// The kubeconfig could not be used.
    #[error(transparent)]
    Kubeconfig(#[from] MemberError),
    /// Leadership was lost: the process exits so that a restart rejoins the election.
    #[error(transparent)]
    Leader(#[from] LeaderError),
}

/// Options of `flotilla controllers`.
#[derive(clap::Args, Debug, Clone)]
pub struct ControllersArgs {
    /// Kubeconfig of the control plane (Flotilla).
    #[arg(long)]
    pub kubeconfig: PathBuf,
    /// Context of `--kubeconfig` (default: its current context).
    #[arg(long)]
    pub context: Option<String>,
    /// How often each member cluster's health and status are collected.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub cluster_status_update_frequency: Duration,
    /// How long a cluster that stopped answering may keep its Ready condition before it turns False.
    #[arg(long, default_value = "40s", value_parser = humantime::parse_duration)]
    pub cluster_monitor_grace_period: Duration,
    /// How long a failing cluster must keep failing before Ready turns False (default: the grace period).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub cluster_failure_threshold: Option<Duration>,
    /// How long a recovered cluster must stay healthy before Ready turns True again.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub cluster_success_threshold: Duration,
    /// Elect a leader through a Lease so that only one process runs the controllers.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub leader_elect: bool,
    /// Namespace of the leader election Lease.
    #[arg(long, default_value = "karmada-system")]
    pub leader_elect_resource_namespace: String,
    /// Name of the leader election Lease.
    #[arg(long, default_value = "flotilla-controllers")]
    pub leader_elect_resource_name: String,
    /// How long other processes wait, after the leader's last renewal, before taking over.
    #[arg(long, default_value = "15s", value_parser = humantime::parse_duration)]
    pub leader_elect_lease_duration: Duration,
    /// How long the leader keeps trying to renew before it gives up leadership (and exits).
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub leader_elect_renew_deadline: Duration,
    /// How often candidates try to acquire the lease and the leader renews it.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    pub leader_elect_retry_period: Duration,
}

impl ControllersArgs {
    /// Runs the controllers (after winning the election) until Ctrl-C / SIGTERM or lost leadership.
    pub async fn run(self) -> Result<(), ControllersError> {
        let config = member::client_from_kubeconfig(&self.kubeconfig, self.context.as_deref()).await?;
        let client = config.client;
        let options = StatusOptions {
            update_frequency: self.cluster_status_update_frequency,
            success_threshold: self.cluster_success_threshold,
            failure_threshold: self.cluster_failure_threshold.unwrap_or(self.cluster_monitor_grace_period),
        };
        let mut elector = self.leader_elect.then(|| {
            Elector::new(
                client.clone(),
                LeaderElection {
                    namespace: self.leader_elect_resource_namespace.clone(),
                    name: self.leader_elect_resource_name.clone(),
                    identity: default_identity(),
                    lease_duration: self.leader_elect_lease_duration,
                    renew_deadline: self.leader_elect_renew_deadline,
                    retry_period: self.leader_elect_retry_period,
                },
            )
        });
        let shutdown = shutdown_signal();
        tokio::pin!(shutdown);
        if let Some(elector) = elector.as_mut() {
            tokio::select! {
                () = elector.acquire() => {}
                () = &mut shutdown => return Ok(()),
            }
        }
        tracing::info!(endpoint = %config.endpoint, "starting controllers: cluster-status, cluster taints");
        let controllers = cluster_status::run(client, options);
        let result = match elector.as_mut() {
            Some(elector) => {
                tokio::select! {
                    () = controllers => Ok(()),
                    lost = elector.hold() => Err(ControllersError::Leader(lost)),
                    () = &mut shutdown => Ok(()),
                }
            }
            None => {
                tokio::select! {
                    () = controllers => Ok(()),
                    () = &mut shutdown => Ok(()),
                }
            }
        };
        if result.is_ok()
            && let Some(elector) = elector.as_mut()
        {
            elector.release().await;
        }
        result
    }
}

async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
