//! `flotilla up`: the API server, the controllers and simulated member clusters, joined, on one laptop.

use std::{
    net::{IpAddr, Ipv4Addr},
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context;
use flotilla_apis::cluster::v1alpha1::Cluster;
use flotilla_apiserver::{
    auth::{AuthOptions, authz::AuthorizationMode},
    server::{Instance, ServerOptions, ShutdownRequests, flags},
    storage::StorageOptions,
};
use flotilla_certs::{Files, InitOptions, InitReport};
use flotilla_controllers::{
    command::ControllersArgs,
    join::{self, JoinArgs, UnjoinArgs},
};
use flotilla_membersim::{MemberSimArgs, SimulatedCluster, control, kubeconfig::Entry};
use kube::api::{Api, ListParams};

/// Where the simulated members say they are (region, zone), in turn, so placement by region has something to use.
const PLACES: [(&str, &str); 3] =
    [("eu-west-1", "eu-west-1a"), ("us-east-1", "us-east-1a"), ("ap-southeast-1", "ap-southeast-1a")];

/// The region and zone of the `index`th member (0-based).
fn place(index: usize) -> (&'static str, &'static str) {
    PLACES[index % PLACES.len()]
}

/// How long `up` waits for every member to report Ready before saying so and going on anyway.
const READY_WITHIN: Duration = Duration::from_secs(60);

/// Options of `flotilla up`.
#[derive(clap::Args, Debug)]
pub struct UpArgs {
    /// Directory for all of Flotilla's local state: the embedded store in `<dir>/data`, the certificates of
    /// `flotilla certs init` in `<dir>/certs`, the simulated members' files in `<dir>/members`, and the
    /// kubeconfig `<dir>/kubeconfig` (contexts `flotilla` and `member1..N`).
    #[arg(long = "data-dir", default_value = ".flotilla")]
    data_dir: PathBuf,
    /// HTTPS port on 127.0.0.1 (`0` picks a free one).
    #[arg(long, default_value_t = 6443)]
    port: u16,
    /// How many simulated member clusters to start and join (`member1..N`; 0 for none).
    #[arg(long, default_value_t = 3)]
    members: usize,
    /// First HTTPS port of the simulated members (one each, counting up; `0` picks free ones).
    #[arg(long = "member-base-port", default_value_t = 0)]
    member_base_port: u16,
    /// Port of the members' fault-injection endpoint on 127.0.0.1 (`POST /clusters/<name>/stop|start`, ...; see
    /// `flotilla member-sim --help`); `0` picks a free one.
    #[arg(long = "member-control-port", default_value_t = 0)]
    member_control_port: u16,
    /// How often the controllers collect each member's health and status.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    cluster_status_update_frequency: Duration,
    /// How long a member that stopped answering keeps Ready before it turns False.
    #[arg(long, default_value = "40s", value_parser = humantime::parse_duration)]
    cluster_monitor_grace_period: Duration,
    /// How long a recovered member must stay healthy before Ready turns True again.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    cluster_success_threshold: Duration,
}

/// Runs everything until Ctrl-C or SIGTERM, then stops it all.
///
/// # Errors
/// Certificates that cannot be prepared, a port in use, a member that cannot start or be joined.
pub async fn run(args: &UpArgs) -> anyhow::Result<()> {
    let files = prepare_certificates(args)?;
    let storage = StorageOptions::embedded(args.data_dir.join("data"));
    println!("flotilla up: opening the embedded store in {}", storage.data_dir.display());
    let shutdown = ShutdownRequests::from_signals().context("installing the Ctrl-C and SIGTERM handlers")?;
    let instance = Instance::start(&storage, &serving_options(args, &files), &auth_options(&files))
        .await
        .context("starting the API server")?;
    crate::cli::print_started(&instance);
    let flotilla = Entry {
        name: flotilla_certs::CONTEXT.to_string(),
        server: instance.url(),
        ca_pem: read_file(&files.ca_cert)?,
        cert_pem: read_file(&files.admin_cert)?,
        key_pem: read_file(&files.admin_key)?,
    };
    let server = tokio::spawn(instance.serve(shutdown));

    let members = start_members(args).await?;
    let mut entries = vec![flotilla];
    entries.extend(members.iter().map(Entry::of));
    let kubeconfig = args.data_dir.join("kubeconfig");
    flotilla_membersim::write_private(&kubeconfig, &flotilla_membersim::kubeconfig::render(&entries))
        .with_context(|| format!("writing the kubeconfig {}", kubeconfig.display()))?;
    let kubeconfig = std::path::absolute(&kubeconfig).unwrap_or(kubeconfig);
    println!("flotilla up: wrote {} (contexts flotilla, member1..member{})", kubeconfig.display(), members.len());

    let members = Arc::new(members);
    let _control = if members.is_empty() {
        None
    } else {
        let (address, task) = control::serve(args.member_control_port, Arc::clone(&members))
            .await
            .with_context(|| format!("binding the member control port {}", args.member_control_port))?;
        println!("flotilla up: member control endpoint http://{address} (POST /clusters/<name>/stop|start)");
        Some(AbortOnDrop(task))
    };
    for (index, member) in members.iter().enumerate() {
        join_member(&kubeconfig, member.name(), place(index)).await?;
    }
    let controllers = tokio::spawn(controllers_args(args, &kubeconfig).run());
    let _controllers = AbortOnDrop(tokio::spawn(async move {
        if let Ok(Err(error)) = controllers.await {
            eprintln!("flotilla up: the controllers stopped: {error}");
        }
    }));
    if !members.is_empty() {
        wait_until_ready(&kubeconfig, members.len()).await;
    }
    println!("flotilla up: ready; try:");
    println!("  export KUBECONFIG={}", kubeconfig.display());
    println!("  kubectl get clusters -o wide");
    println!("  kubectl --context member1 get nodes");
    println!("press Ctrl-C to stop");
    server.await.context("the API server task")?;
    println!("flotilla up: stopping");
    Ok(())
}

/// `flotilla certs init` in `<data-dir>/certs`, printing what it did.
fn prepare_certificates(args: &UpArgs) -> anyhow::Result<Files> {
    let dir = args.data_dir.join("certs");
    let server = (args.port != 0).then(|| format!("https://127.0.0.1:{}", args.port));
    let report = flotilla_certs::init(&InitOptions { dir: dir.clone(), hosts: Vec::new(), server })
        .with_context(|| format!("preparing certificates in {}", dir.display()))?;
    println!("flotilla up: certificates in {}", dir.display());
    print_report(&report);
    Ok(report.files)
}

/// Prints what `flotilla certs init` did, one line per file.
pub fn print_report(report: &InitReport) {
    for path in &report.created {
        println!("created {}", path.display());
    }
    for path in &report.reused {
        println!("reused  {}", path.display());
    }
    for expiring in &report.expiring {
        let at = humantime::format_rfc3339_seconds(expiring.not_after);
        let what = if expiring.renewed { "renewed" } else { "renew it before then" };
        println!("expiring {} (not after {at}; {what})", expiring.path.display());
    }
}

/// HTTPS on 127.0.0.1 with the serving certificate of `certs init`.
fn serving_options(args: &UpArgs, files: &Files) -> ServerOptions {
    ServerOptions {
        bind_address: IpAddr::V4(Ipv4Addr::LOCALHOST),
        secure_port: args.port,
        cert_dir: args.data_dir.join("certs"),
        tls_cert_file: Some(files.serving_cert.clone()),
        tls_private_key_file: Some(files.serving_key.clone()),
        ..ServerOptions::default()
    }
}

/// Client certificates (the admin's), the front proxy, ServiceAccount tokens, and RBAC.
fn auth_options(files: &Files) -> AuthOptions {
    let mut auth = AuthOptions::default();
    auth.authentication.client_ca_file = Some(files.ca_cert.clone());
    auth.authentication.requestheader_client_ca_file = Some(files.front_proxy_ca_cert.clone());
    auth.authentication.requestheader_allowed_names = vec![flotilla_certs::FRONT_PROXY_CLIENT.to_owned()];
    auth.authorization.authorization_mode = vec![AuthorizationMode::Rbac];
    auth.authentication.service_accounts.signing_key_file = Some(files.sa_key.clone());
    auth.authentication.service_accounts.key_files = vec![files.sa_pub.clone()];
    auth
}

/// Starts `member1..N` (their state lives in memory: each run starts them afresh).
async fn start_members(args: &UpArgs) -> anyhow::Result<Vec<SimulatedCluster>> {
    let mut sim: MemberSimArgs = flags::defaults(&["--kubeconfig-out", "unused"]);
    sim.clusters = args.members;
    sim.base_port = args.member_base_port;
    for index in 0..args.members {
        let (region, zone) = place(index);
        sim.region.push(format!("member{}={region}", index + 1));
        sim.zone.push(format!("member{}={zone}", index + 1));
    }
    let specs = sim.specs(&args.data_dir.join("members"))?;
    let mut members = Vec::with_capacity(specs.len());
    for spec in &specs {
        let member = SimulatedCluster::start(spec).await?;
        println!("flotilla up: simulated {} on {} ({} nodes)", member.name(), member.url(), spec.nodes.count);
        members.push(member);
    }
    Ok(members)
}

/// Joins a simulated member in Push mode. A member of an earlier run is a different cluster (simulated members
/// keep no state), so its old registration is removed first.
async fn join_member(kubeconfig: &Path, name: &str, (region, zone): (&str, &str)) -> anyhow::Result<()> {
    let context = Some(flotilla_certs::CONTEXT.to_string());
    let unjoin = UnjoinArgs {
        name: name.to_string(),
        kubeconfig: kubeconfig.to_path_buf(),
        context: context.clone(),
        cluster_kubeconfig: None,
        cluster_context: None,
    };
    if registered(kubeconfig, name).await {
        println!("flotilla up: {name} was registered by an earlier run; registering the new one");
        join::unjoin(&unjoin).await.with_context(|| format!("removing the earlier registration of {name}"))?;
    }
    let args = JoinArgs {
        name: name.to_string(),
        kubeconfig: kubeconfig.to_path_buf(),
        context,
        cluster_kubeconfig: kubeconfig.to_path_buf(),
        cluster_context: Some(name.to_string()),
        cluster_provider: Some("flotilla-member-sim".into()),
        cluster_region: Some(region.to_string()),
        cluster_zones: vec![zone.to_string()],
        labels: Vec::new(),
    };
    join::join(&args).await.with_context(|| format!("joining {name}"))?;
    println!("flotilla up: joined {name}");
    Ok(())
}

/// Whether a Cluster `name` exists in Flotilla.
async fn registered(kubeconfig: &Path, name: &str) -> bool {
    match client(kubeconfig).await {
        Ok(client) => Api::<Cluster>::all(client).get_opt(name).await.ok().flatten().is_some(),
        Err(_) => false,
    }
}

/// A kube-rs client for Flotilla through the written kubeconfig.
async fn client(kubeconfig: &Path) -> anyhow::Result<kube::Client> {
    let text = read_file(kubeconfig)?;
    let config = kube::config::Kubeconfig::from_yaml(&text).context("parsing the kubeconfig")?;
    let options = kube::config::KubeConfigOptions {
        context: Some(flotilla_certs::CONTEXT.to_string()),
        ..kube::config::KubeConfigOptions::default()
    };
    let config = kube::Config::from_custom_kubeconfig(config, &options).await.context("the flotilla context")?;
    kube::Client::try_from(config).context("building a client")
}

/// The controllers' flags: the `up` intervals, leader election as in production.
fn controllers_args(args: &UpArgs, kubeconfig: &Path) -> ControllersArgs {
    let mut controllers: ControllersArgs = flags::defaults(&["--kubeconfig", "unused"]);
    controllers.kubeconfig = kubeconfig.to_path_buf();
    controllers.context = Some(flotilla_certs::CONTEXT.to_string());
    controllers.cluster_status_update_frequency = args.cluster_status_update_frequency;
    controllers.cluster_monitor_grace_period = args.cluster_monitor_grace_period;
    controllers.cluster_success_threshold = args.cluster_success_threshold;
    controllers
}

/// Prints progress until `count` Clusters report Ready (or [`READY_WITHIN`] passes).
async fn wait_until_ready(kubeconfig: &Path, count: usize) {
    let started = Instant::now();
    let Ok(client) = client(kubeconfig).await else { return };
    let clusters: Api<Cluster> = Api::all(client);
    let mut last = usize::MAX;
    while started.elapsed() < READY_WITHIN {
        let ready = clusters
            .list(&ListParams::default())
            .await
            .map(|list| list.items.iter().filter(|cluster| is_ready(cluster)).count());
        let ready = ready.unwrap_or(0);
        if ready != last {
            println!("flotilla up: {ready}/{count} members Ready");
            last = ready;
        }
        if ready >= count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    println!("flotilla up: not every member is Ready after {READY_WITHIN:?}; see `kubectl get clusters`");
}

fn is_ready(cluster: &Cluster) -> bool {
    let conditions = cluster.status.as_ref().and_then(|status| status.conditions.as_ref());
    conditions.into_iter().flatten().any(|c| c.type_ == "Ready" && c.status == "True")
}

/// Reads a text file, naming it on failure.
fn read_file(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
