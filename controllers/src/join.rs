//! `flotilla join` / `flotilla unjoin`: register a member in Push mode (as `karmadactl join` does) and undo it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use flotilla_apis::cluster::v1alpha1::{
    Cluster, ClusterSpec, ClusterSyncMode, LocalSecretReference, SECRET_CA_DATA_KEY, SECRET_TOKEN_KEY,
};
use flotilla_apis::work::v1alpha1::Work;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Namespace, Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use serde::{Serialize, de::DeserializeOwned};

use crate::member::{self, MemberError};

/// Namespace, in both the control plane and the member, holding the credentials join creates.
pub const CLUSTER_NAMESPACE: &str = "karmada-cluster";
/// Name of the member's ServiceAccount (and its ClusterRole/Binding) the proxy impersonates users with.
pub const IMPERSONATOR: &str = "karmada-impersonator";
/// Label put on every object join creates.
pub const SYSTEM_LABEL: (&str, &str) = ("karmada.io/system", "true");
/// How long join waits for the member's token controller to fill a ServiceAccount token Secret.
pub const TOKEN_WAIT: Duration = Duration::from_secs(30);

/// Why join or unjoin failed.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    /// The cluster name is not a DNS label of at most 48 characters.
    #[error("invalid cluster name {0:?}: must be a lowercase DNS label (a-z, 0-9, '-') of at most 48 characters")]
    InvalidName(String),
    /// `--labels` is not `key=value,...`.
    #[error("invalid --labels entry {0:?}: expected key=value")]
    InvalidLabel(String),
    /// A kubeconfig could not be read, or lacks the context.
    #[error(transparent)]
    Kubeconfig(#[from] MemberError),
    /// The member cluster did not answer.
    #[error("member cluster at {endpoint} is unreachable: {source}")]
    Unreachable {
        /// Its API endpoint.
        endpoint: String,
        /// What happened.
        #[source]
        source: kube::Error,
    },
    /// The control plane did not answer or refused a request.
    #[error("control plane: {action}: {source}")]
    ControlPlane {
        /// What was being done.
        action: String,
        /// What happened.
        #[source]
        source: kube::Error,
    },
    /// The member refused a request.
    #[error("member cluster at {endpoint}: {action}: {source}")]
    Member {
        /// Its API endpoint.
        endpoint: String,
        /// What was being done.
        action: String,
        /// What happened.
        #[source]
        source: kube::Error,
    },
    /// The name belongs to another cluster, or this cluster is registered under another name.
    #[error("{0}")]
    Taken(String),
    /// The member's token controller did not fill the ServiceAccount token in time.
    #[error(
        "member cluster at {endpoint}: secret {namespace}/{name} got no token within {TOKEN_WAIT:?} (is the member's token controller running?)"
    )]
    NoToken {
        /// Its API endpoint.
        endpoint: String,
        /// Secret namespace.
        namespace: String,
        /// Secret name.
        name: String,
    },
    /// unjoin of a cluster that does not exist.
    #[error("no cluster object {0} found in the control plane")]
    NotFound(String),
}

/// Options of `flotilla join`.
#[derive(clap::Args, Debug, Clone)]
pub struct JoinArgs {
    /// Name of the cluster in the control plane.
    pub name: String,
    /// Kubeconfig of the control plane (Flotilla).
    #[arg(long)]
    pub kubeconfig: PathBuf,
    /// Context of `--kubeconfig` (default: its current context).
    #[arg(long)]
    pub context: Option<String>,
    /// Kubeconfig of the member cluster.
    #[arg(long)]
    pub cluster_kubeconfig: PathBuf,
    /// Context of `--cluster-kubeconfig` (default: its current context).
    #[arg(long)]
    pub cluster_context: Option<String>,
    /// Cloud provider of the member (`spec.provider`).
    #[arg(long)]
    pub cluster_provider: Option<String>,
    /// Region of the member (`spec.region`).
    #[arg(long)]
    pub cluster_region: Option<String>,
    /// Zones of the member (`spec.zones`), comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub cluster_zones: Vec<String>,
    /// Labels of the Cluster object, `key=value,...`.
    #[arg(long, value_delimiter = ',')]
    pub labels: Vec<String>,
}

/// Options of `flotilla unjoin`.
#[derive(clap::Args, Debug, Clone)]
pub struct UnjoinArgs {
    /// Name of the cluster in the control plane.
    pub name: String,
    /// Kubeconfig of the control plane (Flotilla).
    #[arg(long)]
    pub kubeconfig: PathBuf,
    /// Context of `--kubeconfig` (default: its current context).
    #[arg(long)]
    pub context: Option<String>,
    /// Kubeconfig of the member cluster; when given, the member-side objects join created are removed too.
    #[arg(long)]
    pub cluster_kubeconfig: Option<PathBuf>,
    /// Context of `--cluster-kubeconfig` (default: its current context).
    #[arg(long)]
    pub cluster_context: Option<String>,
}

/// `karmada-<name>`: the member ServiceAccount join creates for the control plane.
pub fn service_account_name(cluster: &str) -> String {
    format!("karmada-{cluster}")
}

/// `karmada-controller-manager:<service account>`: its ClusterRole and ClusterRoleBinding.
pub fn role_name(service_account: &str) -> String {
    format!("karmada-controller-manager:{service_account}")
}

/// `<cluster>-impersonator`: the control-plane Secret holding the impersonator token.
pub fn impersonator_secret_name(cluster: &str) -> String {
    format!("{cluster}-impersonator")
}

/// `karmada-es-<cluster>`: the execution namespace holding the cluster's Works.
pub fn execution_namespace(cluster: &str) -> String {
    format!("karmada-es-{cluster}")
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 48
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

fn labels() -> BTreeMap<String, String> {
    BTreeMap::from([(SYSTEM_LABEL.0.to_owned(), SYSTEM_LABEL.1.to_owned())])
}

fn meta(namespace: Option<&str>, name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: namespace.map(str::to_owned),
        labels: Some(labels()),
        ..ObjectMeta::default()
    }
}

fn is_status(error: &kube::Error, code: u16) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == code)
}

/// Talks to one side (member or control plane) and labels its errors.
struct Side {
    client: kube::Client,
    endpoint: String,
    member: bool,
}

impl Side {
    fn error(&self, action: String, source: kube::Error) -> JoinError {
        if self.member {
            JoinError::Member { endpoint: self.endpoint.clone(), action, source }
        } else {
            JoinError::ControlPlane { action, source }
        }
    }

    fn api<K>(&self, namespace: &str) -> Api<K>
    where
        K: kube::Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>,
    {
        Api::namespaced(self.client.clone(), namespace)
    }

    /// Creates `object` unless an object of that name exists; returns what is stored.
    async fn ensure<K>(&self, api: &Api<K>, object: &K) -> Result<K, JoinError>
    where
        K: kube::Resource + Clone + Serialize + DeserializeOwned + std::fmt::Debug,
    {
        let name = object.meta().name.clone().unwrap_or_default();
        let what = || format!("creating {name}");
        match api.create(&PostParams::default(), object).await {
            Ok(created) => Ok(created),
            Err(error) if is_status(&error, 409) => api.get(&name).await.map_err(|e| self.error(what(), e)),
            Err(error) => Err(self.error(what(), error)),
        }
    }

    /// Deletes an object, treating "not found" as done.
    async fn delete<K>(&self, api: &Api<K>, name: &str) -> Result<(), JoinError>
    where
        K: kube::Resource + Clone + DeserializeOwned + std::fmt::Debug,
    {
        match api.delete(name, &DeleteParams::default()).await {
            Ok(_) => Ok(()),
            Err(error) if is_status(&error, 404) => Ok(()),
            Err(error) => Err(self.error(format!("deleting {name}"), error)),
        }
    }
}

async fn connect(path: &std::path::Path, context: Option<&str>, member: bool) -> Result<Side, JoinError> {
    let config = member::client_from_kubeconfig(path, context).await?;
    Ok(Side { client: config.client, endpoint: config.endpoint, member })
}

/// Registers the member: credentials in the member, their copies and the Cluster in the control plane.
pub async fn join(args: &JoinArgs) -> Result<(), JoinError> {
    if !valid_name(&args.name) {
        return Err(JoinError::InvalidName(args.name.clone()));
    }
    let mut cluster_labels = BTreeMap::new();
    for entry in args.labels.iter().filter(|l| !l.is_empty()) {
        let (key, value) = entry.split_once('=').ok_or_else(|| JoinError::InvalidLabel(entry.clone()))?;
        cluster_labels.insert(key.trim().to_owned(), value.trim().to_owned());
    }
    let flotilla = connect(&args.kubeconfig, args.context.as_deref(), false).await?;
    let member_config =
        member::client_from_kubeconfig(&args.cluster_kubeconfig, args.cluster_context.as_deref()).await?;
    let member = Side { client: member_config.client.clone(), endpoint: member_config.endpoint.clone(), member: true };
    let name = args.name.as_str();

    // The cluster ID is the UID of the member's kube-system namespace, as karmadactl records it.
    let namespaces: Api<Namespace> = Api::all(member.client.clone());
    let id = match namespaces.get("kube-system").await {
        Ok(ns) => ns.metadata.uid.unwrap_or_default(),
        Err(kube::Error::Api(status)) => {
            return Err(member.error("reading namespace kube-system".into(), kube::Error::Api(status)));
        }
        Err(source) => return Err(JoinError::Unreachable { endpoint: member.endpoint.clone(), source }),
    };

    let clusters: Api<Cluster> = Api::all(flotilla.client.clone());
    let existing =
        clusters.list(&ListParams::default()).await.map_err(|e| flotilla.error("listing clusters".into(), e))?;
    for cluster in &existing.items {
        let other = cluster.metadata.name.as_deref().unwrap_or_default();
        let other_id = cluster.spec.id.as_deref().unwrap_or_default();
        if other == name && other_id != id {
            return Err(JoinError::Taken(format!(
                "the cluster name {name} is already taken by another cluster (ID {other_id}; this one is {id})"
            )));
        }
        if other != name && other_id == id {
            return Err(JoinError::Taken(format!(
                "the cluster ID {id} has already been registered as cluster {other}"
            )));
        }
    }

    let (token_secret, impersonator_secret) = member_credentials(&member, name).await?;
    let ca = member::secret_value(&token_secret, "ca.crt")
        .filter(|ca| !ca.is_empty())
        .or(member_config.ca_pem.clone())
        .unwrap_or_default();
    let token = member::secret_value(&token_secret, SECRET_TOKEN_KEY).unwrap_or_default();
    let impersonator_token = member::secret_value(&impersonator_secret, SECRET_TOKEN_KEY).unwrap_or_default();

    // control plane
    let namespace = Namespace { metadata: meta(None, CLUSTER_NAMESPACE), ..Namespace::default() };
    flotilla.ensure(&Api::all(flotilla.client.clone()), &namespace).await?;
    let secrets: Api<Secret> = flotilla.api(CLUSTER_NAMESPACE);
    let impersonator_name = impersonator_secret_name(name);
    put_secret(&flotilla, &secrets, &impersonator_name, BTreeMap::from([(SECRET_TOKEN_KEY, impersonator_token)]))
        .await?;
    put_secret(&flotilla, &secrets, name, BTreeMap::from([(SECRET_CA_DATA_KEY, ca), (SECRET_TOKEN_KEY, token)]))
        .await?;

    let desired = Cluster {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            labels: (!cluster_labels.is_empty()).then_some(cluster_labels),
            ..ObjectMeta::default()
        },
        spec: ClusterSpec {
            id: Some(id),
            sync_mode: ClusterSyncMode::Push,
            api_endpoint: Some(member.endpoint.clone()),
            secret_ref: Some(LocalSecretReference { namespace: CLUSTER_NAMESPACE.into(), name: name.into() }),
            impersonator_secret_ref: Some(LocalSecretReference {
                namespace: CLUSTER_NAMESPACE.into(),
                name: impersonator_name.clone(),
            }),
            insecure_skip_tls_verification: member_config.insecure.then_some(true),
            provider: args.cluster_provider.clone(),
            region: args.cluster_region.clone(),
            zones: (!args.cluster_zones.is_empty()).then(|| args.cluster_zones.clone()),
            ..ClusterSpec::default()
        },
        status: None,
    };
    let cluster = match existing.items.into_iter().find(|c| c.metadata.name.as_deref() == Some(name)) {
        None => clusters
            .create(&PostParams::default(), &desired)
            .await
            .map_err(|e| flotilla.error(format!("creating cluster {name}"), e))?,
        Some(mut current) => {
            let mut wanted = current.clone();
            // only the fields join sets; the rest (defaults, taints, resource models) stays as stored
            let spec = &mut wanted.spec;
            let from = desired.spec.clone();
            spec.id = from.id;
            spec.sync_mode = from.sync_mode;
            spec.api_endpoint = from.api_endpoint;
            spec.secret_ref = from.secret_ref;
            spec.impersonator_secret_ref = from.impersonator_secret_ref;
            spec.insecure_skip_tls_verification = from.insecure_skip_tls_verification;
            if from.provider.is_some() {
                spec.provider = from.provider;
            }
            if from.region.is_some() {
                spec.region = from.region;
            }
            if from.zones.is_some() {
                spec.zones = from.zones;
            }
            if let Some(labels) = &desired.metadata.labels {
                wanted.metadata.labels.get_or_insert_with(BTreeMap::new).extend(labels.clone());
            }
            if wanted != current {
                current = clusters
                    .replace(name, &PostParams::default(), &wanted)
                    .await
                    .map_err(|e| flotilla.error(format!("updating cluster {name}"), e))?;
            }
            current
        }
    };
    // The Secrets belong to the Cluster: deleting it collects them.
    let owner = OwnerReference {
        api_version: "cluster.karmada.io/v1alpha1".into(),
        kind: "Cluster".into(),
        name: name.into(),
        uid: cluster.metadata.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    };
    for secret_name in [name, impersonator_name.as_str()] {
        let mut secret =
            secrets.get(secret_name).await.map_err(|e| flotilla.error(format!("reading secret {secret_name}"), e))?;
        if secret.metadata.owner_references.as_deref() != Some(std::slice::from_ref(&owner)) {
            secret.metadata.owner_references = Some(vec![owner.clone()]);
            secrets
                .replace(secret_name, &PostParams::default(), &secret)
                .await
                .map_err(|e| flotilla.error(format!("updating secret {secret_name}"), e))?;
        }
    }
    println!("cluster({name}) is joined successfully");
    Ok(())
}

/// Writes a control-plane Secret with exactly `data`, leaving it untouched when it already holds that.
async fn put_secret(
    side: &Side,
    secrets: &Api<Secret>,
    name: &str,
    data: BTreeMap<&str, Vec<u8>>,
) -> Result<(), JoinError> {
    let data: BTreeMap<String, ByteString> = data.into_iter().map(|(k, v)| (k.to_owned(), ByteString(v))).collect();
    let wanted =
        Secret { metadata: meta(Some(CLUSTER_NAMESPACE), name), data: Some(data.clone()), ..Secret::default() };
    let mut stored = side.ensure(secrets, &wanted).await?;
    if stored.data.as_ref() != Some(&data) {
        stored.data = Some(data);
        secrets
            .replace(name, &PostParams::default(), &stored)
            .await
            .map_err(|e| side.error(format!("updating secret {name}"), e))?;
    }
    Ok(())
}

/// In the member: the namespace, the impersonator identity and the control plane's identity with full access;
/// returns their token Secrets once the member's token controller has filled them.
async fn member_credentials(member: &Side, name: &str) -> Result<(Secret, Secret), JoinError> {
    let namespace = Namespace { metadata: meta(None, CLUSTER_NAMESPACE), ..Namespace::default() };
    member.ensure(&Api::all(member.client.clone()), &namespace).await?;

    let impersonator = ensure_identity(
        member,
        IMPERSONATOR,
        IMPERSONATOR,
        vec![
            rule(&[""], &["users", "groups", "serviceaccounts"], &["impersonate"]),
            rule(&["authentication.k8s.io"], &["userextras/*", "uids"], &["impersonate"]),
        ],
    )
    .await?;
    let account = service_account_name(name);
    let all = PolicyRule {
        api_groups: Some(vec!["*".into()]),
        resources: Some(vec!["*".into()]),
        verbs: vec!["*".into()],
        ..PolicyRule::default()
    };
    let non_resource =
        PolicyRule { non_resource_urls: Some(vec!["*".into()]), verbs: vec!["get".into()], ..PolicyRule::default() };
    let token = ensure_identity(member, &account, &role_name(&account), vec![all, non_resource]).await?;
    Ok((token, impersonator))
}

fn rule(groups: &[&str], resources: &[&str], verbs: &[&str]) -> PolicyRule {
    let owned = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    PolicyRule {
        api_groups: Some(owned(groups)),
        resources: Some(owned(resources)),
        verbs: owned(verbs),
        ..PolicyRule::default()
    }
}

/// A ServiceAccount in `karmada-cluster` bound to a ClusterRole with `rules`, and its filled token Secret.
async fn ensure_identity(
    member: &Side,
    account: &str,
    role: &str,
    rules: Vec<PolicyRule>,
) -> Result<Secret, JoinError> {
    let sa = ServiceAccount { metadata: meta(Some(CLUSTER_NAMESPACE), account), ..ServiceAccount::default() };
    member.ensure(&member.api(CLUSTER_NAMESPACE), &sa).await?;
    let cluster_role = ClusterRole { metadata: meta(None, role), rules: Some(rules), ..ClusterRole::default() };
    member.ensure(&Api::all(member.client.clone()), &cluster_role).await?;
    let binding = ClusterRoleBinding {
        metadata: meta(None, role),
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "ClusterRole".into(),
            name: role.into(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name: account.into(),
            namespace: Some(CLUSTER_NAMESPACE.into()),
            api_group: None,
        }]),
    };
    member.ensure(&Api::all(member.client.clone()), &binding).await?;
    wait_for_token(member, account).await
}

/// Creates the ServiceAccount's token Secret (named after it) when missing and waits until it holds a token.
async fn wait_for_token(member: &Side, account: &str) -> Result<Secret, JoinError> {
    let secrets: Api<Secret> = member.api(CLUSTER_NAMESPACE);
    let mut metadata = meta(Some(CLUSTER_NAMESPACE), account);
    metadata.annotations =
        Some(BTreeMap::from([("kubernetes.io/service-account.name".to_owned(), account.to_owned())]));
    let wanted = Secret { metadata, type_: Some("kubernetes.io/service-account-token".into()), ..Secret::default() };
    let deadline = Instant::now() + TOKEN_WAIT;
    loop {
        let secret = member.ensure(&secrets, &wanted).await?;
        if member::secret_value(&secret, SECRET_TOKEN_KEY).is_some_and(|t| !t.is_empty()) {
            return Ok(secret);
        }
        if Instant::now() > deadline {
            return Err(JoinError::NoToken {
                endpoint: member.endpoint.clone(),
                namespace: CLUSTER_NAMESPACE.into(),
                name: account.into(),
            });
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Removes the cluster: its Works, the Cluster, the control-plane Secrets, and (with a member kubeconfig) the
/// member-side objects join created.
pub async fn unjoin(args: &UnjoinArgs) -> Result<(), JoinError> {
    let flotilla = connect(&args.kubeconfig, args.context.as_deref(), false).await?;
    let name = args.name.as_str();
    let clusters: Api<Cluster> = Api::all(flotilla.client.clone());
    let cluster = clusters.get_opt(name).await.map_err(|e| flotilla.error(format!("reading cluster {name}"), e))?;
    let Some(cluster) = cluster else { return Err(JoinError::NotFound(name.to_owned())) };
    if cluster.spec.sync_mode == ClusterSyncMode::Pull {
        return Err(JoinError::Taken(format!("cluster {name} is a Pull mode member cluster; it cannot be unjoined")));
    }
    let member = match &args.cluster_kubeconfig {
        Some(path) => Some(connect(path, args.cluster_context.as_deref(), true).await?),
        None => None,
    };

    let works: Api<Work> = flotilla.api(&execution_namespace(name));
    let listed = works.list(&ListParams::default()).await;
    match listed {
        Ok(list) => {
            for work in list.items {
                flotilla.delete(&works, work.metadata.name.as_deref().unwrap_or_default()).await?;
            }
        }
        Err(error) if is_status(&error, 404) => {}
        Err(error) => return Err(flotilla.error(format!("listing works of {name}"), error)),
    }
    flotilla.delete(&clusters, name).await?;
    let secrets: Api<Secret> = flotilla.api(CLUSTER_NAMESPACE);
    for secret in [cluster.spec.secret_ref, cluster.spec.impersonator_secret_ref].into_iter().flatten() {
        let secrets: Api<Secret> =
            if secret.namespace == CLUSTER_NAMESPACE { secrets.clone() } else { flotilla.api(&secret.namespace) };
        flotilla.delete(&secrets, &secret.name).await?;
    }

    if let Some(member) = member {
        let account = service_account_name(name);
        let role = role_name(&account);
        member.delete(&Api::<ClusterRoleBinding>::all(member.client.clone()), &role).await?;
        member.delete(&Api::<ClusterRole>::all(member.client.clone()), &role).await?;
        let member_secrets: Api<Secret> = member.api(CLUSTER_NAMESPACE);
        let accounts: Api<ServiceAccount> = member.api(CLUSTER_NAMESPACE);
        for account in [account.as_str(), IMPERSONATOR] {
            member.delete(&member_secrets, account).await?;
            member.delete(&accounts, account).await?;
        }
        member.delete(&Api::<ClusterRoleBinding>::all(member.client.clone()), IMPERSONATOR).await?;
        member.delete(&Api::<ClusterRole>::all(member.client.clone()), IMPERSONATOR).await?;
        member.delete(&Api::<Namespace>::all(member.client.clone()), CLUSTER_NAMESPACE).await?;
    }
    println!("cluster({name}) is unjoined successfully");
    Ok(())
}
