//! Leader election through a `coordination.k8s.io/v1` Lease, with client-go's lease/renew/retry semantics.

use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, PostParams};
use kube::runtime::{WatchStreamExt, watcher};

/// Why leadership could not be held.
#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    /// The lease was not renewed within the renew deadline: another process may lead now.
    #[error("leader election lost: lease {namespace}/{name} not renewed within {deadline:?}")]
    Lost {
        /// Lease namespace.
        namespace: String,
        /// Lease name.
        name: String,
        /// The renew deadline.
        deadline: Duration,
    },
}

/// How to elect a leader.
#[derive(Clone, Debug)]
pub struct LeaderElection {
    /// Lease namespace.
    pub namespace: String,
    /// Lease name.
    pub name: String,
    /// Who we are (`hostname_pid` by default).
    pub identity: String,
    /// How long non-leaders wait after the last observed renewal before taking over.
    pub lease_duration: Duration,
    /// How long the leader keeps trying to renew before giving up leadership.
    pub renew_deadline: Duration,
    /// How often candidates try to acquire and the leader renews.
    pub retry_period: Duration,
}

/// The default identity: `<hostname>_<pid>`.
pub fn default_identity() -> String {
    let host = hostname::get().ok().and_then(|h| h.into_string().ok()).unwrap_or_else(|| "localhost".to_owned());
    format!("{host}_{}", std::process::id())
}

/// The leader elector: remembers the lease record it last saw and when it changed (client-go's observed time,
/// so clock skew between processes does not matter).
pub struct Elector {
    api: Api<Lease>,
    config: LeaderElection,
    observed: Option<(LeaseSpec, Instant)>,
}

fn now() -> MicroTime {
    MicroTime(jiff::Timestamp::now())
}

/// How long the lease of `record` lasts after a renewal.
fn lease_duration(record: &LeaseSpec) -> Duration {
    Duration::from_secs(u64::try_from(record.lease_duration_seconds.unwrap_or(0)).unwrap_or(0))
}

fn seconds(duration: Duration) -> i32 {
    i32::try_from(duration.as_secs().max(1)).unwrap_or(i32::MAX)
}

impl Elector {
    /// An elector over the Lease of `config` in the control plane reached by `client`.
    pub fn new(client: kube::Client, config: LeaderElection) -> Self {
        Elector { api: Api::namespaced(client.clone(), &config.namespace), config, observed: None }
    }

    /// Creates the lease namespace when it is missing (ignoring refusals: creating the Lease will report them).
    async fn ensure_namespace(&self) {
        let namespaces: Api<Namespace> = Api::all(self.api.clone().into_client());
        let namespace = Namespace {
            metadata: ObjectMeta { name: Some(self.config.namespace.clone()), ..ObjectMeta::default() },
            ..Namespace::default()
        };
        if let Err(error) = namespaces.create(&PostParams::default(), &namespace).await
            && !matches!(&error, kube::Error::Api(s) if s.code == 409)
        {
            tracing::debug!(%error, "creating the leader election namespace");
        }
    }

    /// Waits until this process holds the lease. Besides trying every retry period, as client-go does, a candidate
    /// watches the Lease: it sees each renewal when it happens (so the lease expires, by its own clock, exactly one
    /// lease duration after the holder's last renewal, not up to a retry period later) and tries again the moment
    /// the lease expires or is released. A killed leader is thus replaced within one lease duration.
    pub async fn acquire(&mut self) {
        self.ensure_namespace().await;
        tracing::info!(lease = %format!("{}/{}", self.config.namespace, self.config.name), identity = %self.config.identity, "attempting to acquire leader lease");
        let changes = watcher(
            self.api.clone(),
            watcher::Config::default().fields(&format!("metadata.name={}", self.config.name)),
        )
        .default_backoff();
        tokio::pin!(changes);
        loop {
            // After a failed attempt only the retry period: the lease may look free while the server is away.
            let failed = match self.try_acquire_or_renew().await {
                Ok(true) => {
                    tracing::info!(identity = %self.config.identity, "successfully acquired lease");
                    return;
                }
                Ok(false) => false,
                Err(error) => {
                    tracing::warn!(%error, "error retrieving or updating the leader lease");
                    true
                }
            };
            let retry = tokio::time::Instant::now() + self.config.retry_period;
            loop {
                let expiry = self.expiry().filter(|_| !failed);
                let wake = expiry.map_or(retry, |expiry| retry.min(expiry.into()));
                tokio::select! {
                    () = tokio::time::sleep_until(wake) => break,
                    change = changes.next() => match change {
                        Some(Ok(watcher::Event::Apply(lease) | watcher::Event::InitApply(lease))) => {
                            self.observe(lease.spec.unwrap_or_default());
                        }
                        Some(Ok(watcher::Event::Delete(_))) => self.observed = None,
                        Some(Ok(_)) => {}
                        Some(Err(error)) => tracing::debug!(%error, "watching the leader lease"),
                        None => {
                            tokio::time::sleep_until(wake).await;
                            break;
                        }
                    },
                }
            }
        }
    }

    /// Remembers `record` as last seen now, unless it is what was seen before.
    fn observe(&mut self, record: LeaseSpec) {
        if self.observed.as_ref().is_none_or(|(seen, _)| *seen != record) {
            self.observed = Some((record, Instant::now()));
        }
    }

    /// When the lease last seen may be taken: now when it is free or this process's already, else when it expires by
    /// this process's clock (one lease duration after its record last changed). `None` before any record was seen.
    fn expiry(&self) -> Option<Instant> {
        let (record, observed_at) = self.observed.as_ref()?;
        let holder = record.holder_identity.as_deref().filter(|h| !h.is_empty());
        if holder.is_none_or(|h| h == self.config.identity) {
            return Some(Instant::now());
        }
        Some(*observed_at + lease_duration(record))
    }

    /// Renews the lease every retry period; returns when it could not be renewed within the renew deadline.
    pub async fn hold(&mut self) -> LeaderError {
        let mut last_renewed = Instant::now();
        loop {
            tokio::time::sleep(self.config.retry_period).await;
            match self.try_acquire_or_renew().await {
                Ok(true) => last_renewed = Instant::now(),
                Ok(false) => {
                    return self.lost();
                }
                Err(error) => tracing::warn!(%error, "renewing the leader lease"),
            }
            if last_renewed.elapsed() > self.config.renew_deadline {
                return self.lost();
            }
        }
    }

    fn lost(&self) -> LeaderError {
        LeaderError::Lost {
            namespace: self.config.namespace.clone(),
            name: self.config.name.clone(),
            deadline: self.config.renew_deadline,
        }
    }

    /// Gives the lease up (on a clean shutdown) so another process need not wait for it to expire.
    pub async fn release(&mut self) {
        let Ok(Some(mut lease)) = self.api.get_opt(&self.config.name).await else { return };
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        if spec.holder_identity.as_deref() != Some(self.config.identity.as_str()) {
            return;
        }
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        spec.renew_time = Some(now());
        if let Err(error) = self.api.replace(&self.config.name, &PostParams::default(), &lease).await {
            tracing::warn!(%error, "releasing the leader lease");
        }
    }

    /// One round of client-go's `tryAcquireOrRenew`: true when this process holds the lease afterwards.
    async fn try_acquire_or_renew(&mut self) -> Result<bool, kube::Error> {
        let me = self.config.identity.clone();
        let configured_duration = self.config.lease_duration;
        let desired = |previous: Option<&LeaseSpec>| {
            let stamp = now();
            let same_holder = previous.and_then(|p| p.holder_identity.as_deref()) == Some(me.as_str());
            LeaseSpec {
                holder_identity: Some(me.clone()),
                lease_duration_seconds: Some(seconds(configured_duration)),
                acquire_time: if same_holder {
                    previous.and_then(|p| p.acquire_time.clone())
                } else {
                    Some(stamp.clone())
                },
                renew_time: Some(stamp),
                lease_transitions: match previous {
                    None => Some(0),
                    Some(p) if same_holder => p.lease_transitions,
                    Some(p) => Some(p.lease_transitions.unwrap_or(0) + 1),
                },
                ..previous.cloned().unwrap_or_default()
            }
        };
        let Some(mut lease) = self.api.get_opt(&self.config.name).await? else {
            let spec = desired(None);
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.config.name.clone()),
                    namespace: Some(self.config.namespace.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(spec.clone()),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => {
                    self.observed = Some((spec, Instant::now()));
                    Ok(true)
                }
                Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
                Err(error) => Err(error),
            };
        };
        let record = lease.spec.clone().unwrap_or_default();
        self.observe(record.clone());
        if self.expiry().is_some_and(|expiry| expiry > Instant::now()) {
            // Another process holds it and it has not expired by this process's clock.
            return Ok(false);
        }
        let spec = desired(Some(&record));
        lease.spec = Some(spec.clone());
        match self.api.replace(&self.config.name, &PostParams::default(), &lease).await {
            Ok(_) => {
                self.observed = Some((spec, Instant::now()));
                Ok(true)
            }
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
            Err(error) => Err(error),
        }
    }
}
