//! API benchmark: HTTPS create throughput vs the storage layer's, GET latency, LIST as JSON and as Table.

use std::{
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use bytes::Bytes;
use flotilla_apiserver::storage::{EtcdStore, SharedStore};
use flotilla_testkit::{etcd::EtcdProcess, server::ApiServer};
use hdrhistogram::Histogram;
use kube::client::Body;

/// kubectl's Accept header for `kubectl get` (Table, falling back to JSON).
const TABLE_ACCEPT: &str =
    "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
const NAMESPACE: &str = "bench";

/// Sizes of the API benchmark.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The `flotilla` binary to benchmark (a release build).
    #[arg(long)]
    flotilla: PathBuf,
    /// ConfigMaps created per throughput round (and listed afterwards).
    #[arg(long, default_value_t = 10_000)]
    objects: usize,
    /// Bytes of data in each ConfigMap.
    #[arg(long, default_value_t = 1024)]
    object_size: usize,
    /// Concurrent writers.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Throughput rounds per contender (median reported).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Sequential GETs timed.
    #[arg(long, default_value_t = 2000)]
    gets: usize,
    /// Timed LISTs per format (median reported).
    #[arg(long, default_value_t = 20)]
    lists: usize,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let etcd = EtcdProcess::start().await;
    let server = ApiServer::start_on_etcd(&args.flotilla, &etcd.endpoint(), &[]).await;
    let client = server.client().await;
    let store: SharedStore = Arc::new(EtcdStore::connect(etcd.options()).await?);
    post(&client, "/api/v1/namespaces", namespace_json()).await?;

    println!(
        "## create throughput: {} ConfigMaps with {} B of data at concurrency {}, etcd backend",
        args.objects, args.object_size, args.concurrency
    );
    let (mut http_rates, mut store_rates) = (Vec::new(), Vec::new());
    for round in 0..args.rounds {
        let http = timed_creates(&args, |i| {
            let client = client.clone();
            let body = configmap_json(&format!("r{round}-{i:06}"), args.object_size);
            async move { post(&client, &format!("/api/v1/namespaces/{NAMESPACE}/configmaps"), body).await }
        })
        .await?;
        let direct = timed_creates(&args, |i| {
            let store = store.clone();
            let body = configmap_json(&format!("r{round}-{i:06}"), args.object_size);
            async move {
                store.create(&format!("/bench-store/r{round}/{i:06}"), Bytes::from(body)).await?;
                Ok(())
            }
        })
        .await?;
        println!("round {round}: HTTPS POST {http:.0}/s, Store::create {direct:.0}/s");
        http_rates.push(http);
        store_rates.push(direct);
    }
    let (http, direct) = (median(&http_rates), median(&store_rates));
    println!("median: HTTPS POST {http:.0}/s, Store::create {direct:.0}/s, ratio {:.2} (target >= 0.5)", http / direct);

    println!("\n## GET of one ConfigMap, {} sequential requests", args.gets);
    let mut latency = Histogram::<u64>::new(3)?;
    let path = format!("/api/v1/namespaces/{NAMESPACE}/configmaps/r0-000000");
    for _ in 0..args.gets {
        let started = Instant::now();
        let (status, _) = get(&client, &path, "application/json").await?;
        latency.record(started.elapsed().as_micros() as u64)?;
        if status != 200 {
            bail!("GET {path} answered {status}");
        }
    }
    let ms = |micros: u64| micros as f64 / 1000.0;
    println!(
        "GET p50 {:.2} ms, p99 {:.2} ms (target p99 < 5 ms), max {:.2} ms",
        ms(latency.value_at_quantile(0.5)),
        ms(latency.value_at_quantile(0.99)),
        ms(latency.max())
    );

    // One round's worth of objects in a namespace of their own, so the list is exactly `objects` long.
    let list_namespace = "bench-list";
    post(&client, "/api/v1/namespaces", namespace_json().replace(NAMESPACE, list_namespace)).await?;
    timed_creates(&args, |i| {
        let client = client.clone();
        let body = configmap_json(&format!("l-{i:06}"), args.object_size);
        async move { post(&client, &format!("/api/v1/namespaces/{list_namespace}/configmaps"), body).await }
    })
    .await?;
    println!("\n## LIST of {} ConfigMaps ({} B each)", args.objects, args.object_size);
    let list_path = format!("/api/v1/namespaces/{list_namespace}/configmaps");
    for (name, accept, target) in [("JSON", "application/json", 150.0), ("Table", TABLE_ACCEPT, 300.0)] {
        let mut times = Vec::with_capacity(args.lists);
        let mut size = 0;
        for _ in 0..args.lists {
            let started = Instant::now();
            let (status, body) = get(&client, &list_path, accept).await?;
            times.push(started.elapsed().as_secs_f64() * 1000.0);
            if status != 200 {
                bail!("LIST answered {status}");
            }
            size = body.len();
        }
        println!("LIST as {name}: median {:.1} ms (target < {target} ms), {:.1} MB", median(&times), size as f64 / 1e6);
    }
    server.stop();
    Ok(())
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

fn namespace_json() -> String {
    format!(r#"{{"apiVersion":"v1","kind":"Namespace","metadata":{{"name":"{NAMESPACE}"}}}}"#)
}

fn configmap_json(name: &str, size: usize) -> String {
    let data = "x".repeat(size);
    format!(
        r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"{name}","labels":{{"bench":"api"}}}},"data":{{"payload":"{data}"}}}}"#
    )
}

/// Objects per second when `concurrency` tasks share `objects` calls of `create(i)`.
async fn timed_creates<F, Fut>(args: &Args, create: F) -> anyhow::Result<f64>
where
    F: Fn(usize) -> Fut + Send + Sync,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    let workers = (0..args.concurrency).map(|_| async {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= args.objects {
                return Ok::<_, anyhow::Error>(());
            }
            tokio::spawn(create(i)).await??;
        }
    });
    futures::future::try_join_all(workers).await?;
    Ok(args.objects as f64 / started.elapsed().as_secs_f64())
}

async fn post(client: &kube::Client, path: &str, body: String) -> anyhow::Result<()> {
    let request = http::Request::post(path)
        .header("Content-Type", "application/json")
        .header("Accept", "application/json")
        .body(Body::from(body.into_bytes()))?;
    let response = client.send(request).await.with_context(|| format!("POST {path}"))?;
    let status = response.status().as_u16();
    if status != 201 {
        let body = response.into_body().collect_bytes().await.unwrap_or_default();
        bail!("POST {path} answered {status}: {}", String::from_utf8_lossy(&body));
    }
    response.into_body().collect_bytes().await?;
    Ok(())
}

async fn get(client: &kube::Client, path: &str, accept: &str) -> anyhow::Result<(u16, Bytes)> {
    let request = http::Request::get(path).header("Accept", accept).body(Body::empty())?;
    let response = tokio::time::timeout(Duration::from_secs(60), client.send(request)).await??;
    let status = response.status().as_u16();
    Ok((status, response.into_body().collect_bytes().await?))
}
