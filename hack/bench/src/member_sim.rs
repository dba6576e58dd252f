//! Memory of `flotilla member-sim`: many simulated clusters, each with many one-replica Deployments made through the
//! API, until every one reports a ready replica; then the process's resident memory.

use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use kube::client::Body;

/// Options of `flotilla-bench member-sim`.
#[derive(clap::Args)]
pub struct Args {
    /// The `flotilla` binary.
    #[arg(long)]
    flotilla: PathBuf,
    /// Simulated clusters.
    #[arg(long, default_value_t = 100)]
    clusters: usize,
    /// Deployments (one replica each) per cluster.
    #[arg(long, default_value_t = 1000)]
    deployments: usize,
    /// Nodes per cluster (110 pods each).
    #[arg(long, default_value_t = 10)]
    nodes: usize,
    /// Concurrent creates per cluster.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
}

/// Stops the simulator when dropped.
struct Process(std::process::Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `VmRSS` and `VmHWM` of a process, in MiB.
fn memory(pid: u32) -> anyhow::Result<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| {
        status
            .lines()
            .find(|line| line.starts_with(name))
            .and_then(|line| line.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .map_or(0, |kb| kb / 1024)
    };
    Ok((field("VmRSS:"), field("VmHWM:")))
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let kubeconfig_path = dir.path().join("members.kubeconfig");
    let started = Instant::now();
    let mut child = Command::new(&args.flotilla)
        .args(["member-sim", "--base-port", "0", "--clusters", &args.clusters.to_string()])
        .args(["--nodes-per-cluster", &args.nodes.to_string(), "--kubeconfig-out"])
        .arg(&kubeconfig_path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("starting flotilla member-sim")?;
    let stdout = child.stdout.take().context("stdout")?;
    let process = Process(child);
    let pid = process.0.id();
    for line in BufReader::new(stdout).lines() {
        if line?.contains("clusters running") {
            break;
        }
    }
    let (idle_rss, _) = memory(pid)?;
    println!(
        "# member-sim: {} clusters x {} nodes started in {:.1} s; RSS {} MiB idle",
        args.clusters,
        args.nodes,
        started.elapsed().as_secs_f64(),
        idle_rss
    );
    let text = std::fs::read_to_string(&kubeconfig_path)?;
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&text)?;
    let mut clients = Vec::new();
    for n in 1..=args.clusters {
        let options = kube::config::KubeConfigOptions { context: Some(format!("member{n}")), ..Default::default() };
        let config = kube::Config::from_custom_kubeconfig(kubeconfig.clone(), &options).await?;
        clients.push(kube::Client::try_from(config)?);
    }
    let creating = Instant::now();
    let mut tasks = Vec::new();
    for client in &clients {
        let next = Arc::new(AtomicUsize::new(0));
        for _ in 0..args.concurrency {
            let (client, next, total) = (client.clone(), Arc::clone(&next), args.deployments);
            tasks.push(tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        return Ok::<_, anyhow::Error>(());
                    }
                    create(&client, i).await?;
                }
            }));
        }
    }
    for task in tasks {
        task.await??;
    }
    let created = creating.elapsed();
    println!(
        "created {} Deployments in {:.1} s ({:.0}/s)",
        args.clusters * args.deployments,
        created.as_secs_f64(),
        (args.clusters * args.deployments) as f64 / created.as_secs_f64()
    );
    let deadline = Instant::now() + Duration::from_secs(1800);
    loop {
        let mut ready = 0;
        for client in &clients {
            ready += ready_deployments(client).await?;
        }
        if ready == args.clusters * args.deployments {
            break;
        }
        if Instant::now() > deadline {
            bail!("only {ready} Deployments ready after 30 minutes");
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let settled = creating.elapsed();
    let (rss, peak) = memory(pid)?;
    println!("every Deployment ready {:.1} s after the first create", settled.as_secs_f64());
    println!(
        "RSS {rss} MiB ({:.2} GiB), peak {peak} MiB, for {} clusters x {} Deployments (+ as many ReplicaSets and Pods)",
        rss as f64 / 1024.0,
        args.clusters,
        args.deployments
    );
    // The simulated clusters compact every 15 s, keeping one interval of history: two rounds drop the writes above.
    tokio::time::sleep(Duration::from_secs(35)).await;
    let (rss, _) = memory(pid)?;
    println!("RSS {rss} MiB ({:.2} GiB) 35 s later, after compaction", rss as f64 / 1024.0);
    Ok(())
}

async fn create(client: &kube::Client, i: usize) -> anyhow::Result<()> {
    let body = format!(
        r#"{{"apiVersion":"apps/v1","kind":"Deployment","metadata":{{"name":"app-{i}"}},"spec":{{"replicas":1,
        "selector":{{"matchLabels":{{"app":"app-{i}"}}}},"template":{{"metadata":{{"labels":{{"app":"app-{i}"}}}},
        "spec":{{"containers":[{{"name":"app","image":"nginx:1.27","resources":{{"requests":{{"cpu":"10m",
        "memory":"16Mi"}}}}}}]}}}}}}}}"#
    );
    let path = "/apis/apps/v1/namespaces/default/deployments";
    let request =
        http::Request::post(path).header("Content-Type", "application/json").body(Body::from(body.into_bytes()))?;
    let response = client.send(request).await.with_context(|| format!("POST {path}"))?;
    let status = response.status().as_u16();
    let body = response.into_body().collect_bytes().await.unwrap_or_default();
    if status != 201 && status != 409 {
        bail!("POST {path} answered {status}: {}", String::from_utf8_lossy(&body));
    }
    Ok(())
}

/// How many Deployments of the cluster report a ready replica.
async fn ready_deployments(client: &kube::Client) -> anyhow::Result<usize> {
    let request = http::Request::get("/apis/apps/v1/namespaces/default/deployments")
        .header("Accept", "application/json")
        .body(Body::empty())?;
    let response = client.send(request).await?;
    let body = response.into_body().collect_bytes().await?;
    let list: serde_json::Value = serde_json::from_slice(&body)?;
    Ok(list["items"]
        .as_array()
        .map_or(0, |items| items.iter().filter(|d| d["status"]["readyReplicas"].as_i64() == Some(1)).count()))
}
