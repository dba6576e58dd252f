//! Storage benchmark: create throughput, list latency (watch cache vs backend) and watch fan-out delay.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU32, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use bytes::Bytes;
use flotilla_apiserver::storage::{
    EmbeddedOptions, EmbeddedStore, EtcdOptions, EtcdStore, ListRequest, SharedStore,
    cache::{CacheEvent, WatchCache, WatchCacheConfig, WatchStart},
};
use flotilla_testkit::etcd::EtcdProcess;
use futures::StreamExt;
use hdrhistogram::Histogram;

/// Sizes of the storage benchmark.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Objects created per throughput round and listed by the list benchmark.
    #[arg(long, default_value_t = 10_000)]
    objects: usize,
    /// Size of each object's value in bytes.
    #[arg(long, default_value_t = 1024)]
    object_size: usize,
    /// Concurrent writers in the throughput rounds.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Throughput rounds per contender (the median is reported).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Timed lists per contender (the median is reported).
    #[arg(long, default_value_t = 30)]
    lists: usize,
    /// Concurrent watchers on one resource.
    #[arg(long, default_value_t = 1000)]
    watchers: usize,
    /// Events per second written while the watchers listen.
    #[arg(long, default_value_t = 1000)]
    events_per_second: u64,
    /// Use this etcd (e.g. one tuned differently) instead of starting one; `--watchers 0` skips the watch part.
    #[arg(long)]
    etcd_endpoint: Option<String>,
    /// How long the watch benchmark writes.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    watch_duration: Duration,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let (endpoint, options, _started_etcd) = match &args.etcd_endpoint {
        Some(endpoint) => {
            let options = EtcdOptions {
                endpoints: vec![endpoint.clone()],
                tls: None,
                request_timeout: flotilla_apiserver::storage::DEFAULT_REQUEST_TIMEOUT,
            };
            (endpoint.clone(), options, None)
        }
        None => {
            let etcd = EtcdProcess::start().await;
            (etcd.endpoint(), etcd.options(), Some(etcd))
        }
    };
    let etcd_store: SharedStore = Arc::new(EtcdStore::connect(options).await?);
    let raw = etcd_client::Client::connect([endpoint], None).await?;
    let dir = tempfile::tempdir()?;
    let embedded: SharedStore = Arc::new(EmbeddedStore::open(EmbeddedOptions::new(dir.path())).await?);
    let value = Bytes::from(vec![b'x'; args.object_size]);

    println!(
        "## create throughput: {} objects of {} B at concurrency {}",
        args.objects, args.object_size, args.concurrency
    );
    let mut rates: [Vec<f64>; 4] = Default::default();
    for round in 0..args.rounds {
        rates[0].push(raw_rate(&raw, RawWrite::Put, &format!("/bench/raw-{round}/"), &value, &args).await?);
        rates[1].push(raw_rate(&raw, RawWrite::CreateTxn, &format!("/bench/txn-{round}/"), &value, &args).await?);
        rates[2].push(create_rate(&etcd_store, &format!("/bench/store-{round}/"), &value, &args).await?);
        rates[3].push(create_rate(&embedded, &format!("/bench/embedded-{round}/"), &value, &args).await?);
        println!(
            "round {round}: raw put {:.0}/s, raw create txn {:.0}/s, Store on etcd {:.0}/s, embedded Store {:.0}/s",
            rates[0][round], rates[1][round], rates[2][round], rates[3][round]
        );
    }
    let [raw_put, raw_txn, store, embedded_rate] = rates.map(|r| median(&r));
    println!("median: raw etcd-client put  {raw_put:.0}/s");
    println!(
        "median: raw create txn       {raw_txn:.0}/s  ratio to raw put {:.2} (etcd's only-if-absent check)",
        raw_txn / raw_put
    );
    println!(
        "median: Store on etcd        {store:.0}/s  ratio to raw put {:.2} (target >= 0.8), to raw create txn {:.2}",
        store / raw_put,
        store / raw_txn
    );
    println!("median: embedded Store       {embedded_rate:.0}/s  ratio to Store on etcd {:.2}", embedded_rate / store);

    println!("\n## list of {} objects", args.objects);
    let prefix = "/bench/store-0/".to_string();
    let cache = WatchCache::start(etcd_store.clone(), prefix.clone(), WatchCacheConfig::default());
    cache.ready().await;
    let cache_times = time_lists(args.lists, || async {
        let list = cache.list(&prefix, 0).await?;
        Ok(list.items.len())
    })
    .await?;
    let etcd_times = time_lists(args.lists, || async {
        let list = etcd_store.list(ListRequest { prefix: prefix.clone(), ..Default::default() }).await?;
        Ok(list.items.len())
    })
    .await?;
    let embedded_prefix = "/bench/embedded-0/".to_string();
    let embedded_times = time_lists(args.lists, || async {
        let list = embedded.list(ListRequest { prefix: embedded_prefix.clone(), ..Default::default() }).await?;
        Ok(list.items.len())
    })
    .await?;
    let (cache_ms, etcd_ms, embedded_ms) = (median(&cache_times), median(&etcd_times), median(&embedded_times));
    println!("median: watch cache {cache_ms:.2} ms (target < 30 ms)");
    println!("median: etcd range  {etcd_ms:.2} ms  (cache is {:.0}x faster)", etcd_ms / cache_ms);
    println!("median: embedded    {embedded_ms:.2} ms");
    drop(cache);

    if args.watchers == 0 {
        return Ok(());
    }
    for (name, store) in [("etcd", &etcd_store), ("embedded", &embedded)] {
        println!(
            "\n## {} watchers on one resource, {} events/s for {:?}, {name} backend",
            args.watchers, args.events_per_second, args.watch_duration
        );
        watch_fan_out(store.clone(), &format!("/bench/watch-{name}/"), &args).await?;
    }
    Ok(())
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

/// Objects per second when `concurrency` tasks share the work of creating `objects` keys.
async fn create_rate(store: &SharedStore, prefix: &str, value: &Bytes, args: &Args) -> anyhow::Result<f64> {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..args.concurrency)
        .map(|_| {
            let (store, next, value, prefix, objects) =
                (store.clone(), next.clone(), value.clone(), prefix.to_string(), args.objects);
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= objects {
                        return Ok::<_, anyhow::Error>(());
                    }
                    store.create(&format!("{prefix}obj-{i:06}"), value.clone()).await?;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    Ok(args.objects as f64 / started.elapsed().as_secs_f64())
}

/// What the raw etcd-client contender sends.
#[derive(Clone, Copy)]
enum RawWrite {
    /// A plain put.
    Put,
    /// The create transaction the Store sends (`If ModRevision(key)=0 Then Put`).
    CreateTxn,
}

/// The same as [`create_rate`] with etcd-client directly (no abstraction).
async fn raw_rate(
    client: &etcd_client::Client,
    write: RawWrite,
    prefix: &str,
    value: &Bytes,
    args: &Args,
) -> anyhow::Result<f64> {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..args.concurrency)
        .map(|_| {
            let (mut client, next, value, prefix, objects) =
                (client.kv_client(), next.clone(), value.to_vec(), prefix.to_string(), args.objects);
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= objects {
                        return Ok::<_, anyhow::Error>(());
                    }
                    let key = format!("{prefix}obj-{i:06}");
                    match write {
                        RawWrite::Put => drop(client.put(key, value.clone(), None).await?),
                        RawWrite::CreateTxn => {
                            let txn = etcd_client::Txn::new()
                                .when([etcd_client::Compare::mod_revision(
                                    key.clone(),
                                    etcd_client::CompareOp::Equal,
                                    0,
                                )])
                                .and_then([etcd_client::TxnOp::put(key, value.clone(), None)]);
                            drop(client.txn(txn).await?);
                        }
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    Ok(args.objects as f64 / started.elapsed().as_secs_f64())
}

/// Milliseconds per list; checks every list returned the same number of items.
async fn time_lists<F, Fut>(count: usize, list: F) -> anyhow::Result<Vec<f64>>
where
    F: Fn() -> Fut,
    Fut: Future<Output = anyhow::Result<usize>>,
{
    let expected = list().await?;
    let mut times = Vec::with_capacity(count);
    for _ in 0..count {
        let started = Instant::now();
        let items = list().await?;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        if items != expected {
            bail!("a list returned {items} items, the first {expected}");
        }
    }
    Ok(times)
}

/// Starts the watchers, writes at a steady rate, and reports delivery delay percentiles measured two ways:
/// from the moment the write was sent (includes the backend's commit latency) and from the moment its commit was
/// acknowledged to the writer (the watch path alone; 0 when the event arrived before the acknowledgement).
async fn watch_fan_out(store: SharedStore, prefix: &str, args: &Args) -> anyhow::Result<()> {
    let total = (args.events_per_second as f64 * args.watch_duration.as_secs_f64()) as usize;
    let epoch = Instant::now();
    let now_micros = move || epoch.elapsed().as_micros() as u32;
    let sent_at: Arc<Vec<AtomicU32>> = Arc::new((0..total).map(|_| AtomicU32::new(0)).collect());
    let acked_at: Arc<Vec<AtomicU32>> = Arc::new((0..total).map(|_| AtomicU32::new(0)).collect());
    let cache = WatchCache::start(store.clone(), prefix.to_string(), WatchCacheConfig::default());
    cache.ready().await;
    let start = cache.revision();

    let mut watchers = Vec::with_capacity(args.watchers);
    for _ in 0..args.watchers {
        let mut watch = cache.watch(prefix, WatchStart::After(start)).await?;
        watchers.push(tokio::spawn(async move {
            // Receipt time of each sequence number; compared with send and ack times after the run.
            let mut received_at = vec![0u32; total];
            let mut received = 0usize;
            while received < total {
                match watch.next().await {
                    Some(Ok(CacheEvent::Event(event))) => {
                        let seq = sequence_of(&event.kv.value).context("value without a sequence number")?;
                        received_at[seq] = now_micros();
                        received += 1;
                    }
                    Some(Ok(_)) => {}
                    Some(Err(error)) => bail!("watcher closed after {received} of {total} events: {error}"),
                    None => bail!("watch ended after {received} of {total} events"),
                }
            }
            Ok(received_at)
        }));
    }

    let payload = vec![b'x'; args.object_size.saturating_sub(16)];
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / args.events_per_second as f64));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut writes = Vec::with_capacity(total);
    for seq in 0..total {
        ticker.tick().await;
        let mut value = format!("{seq:015} ").into_bytes();
        value.extend_from_slice(&payload);
        let (store, sent_at, acked_at, key) =
            (store.clone(), sent_at.clone(), acked_at.clone(), format!("{prefix}obj-{seq:06}"));
        writes.push(tokio::spawn(async move {
            sent_at[seq].store(now_micros(), Ordering::Release);
            let result = store.create(&key, Bytes::from(value)).await;
            acked_at[seq].store(now_micros(), Ordering::Release);
            result
        }));
    }
    for write in writes {
        write.await??;
    }
    let (mut from_send, mut from_ack) = (Histogram::<u64>::new(3)?, Histogram::<u64>::new(3)?);
    let mut failed = Vec::new();
    for watcher in watchers {
        match tokio::time::timeout(Duration::from_secs(60), watcher).await {
            Ok(Ok(Ok(received_at))) => {
                for (seq, received) in received_at.iter().enumerate() {
                    let (sent, acked) = (sent_at[seq].load(Ordering::Acquire), acked_at[seq].load(Ordering::Acquire));
                    from_send.record(u64::from(received.saturating_sub(sent)))?;
                    from_ack.record(u64::from(received.saturating_sub(acked)))?;
                }
            }
            Ok(Ok(Err(error))) => failed.push(error.to_string()),
            Ok(Err(join)) => failed.push(join.to_string()),
            Err(_) => failed.push("no complete delivery within 60 s".into()),
        }
    }
    let ms = |micros: u64| micros as f64 / 1000.0;
    println!("deliveries {} (expected {}), watchers failed {}", from_send.len(), total * args.watchers, failed.len());
    for (name, delays) in [("from write sent", &from_send), ("from commit acknowledged", &from_ack)] {
        println!(
            "delay {name}: p50 {:.2} ms, p99 {:.2} ms (target < 50 ms), max {:.2} ms",
            ms(delays.value_at_quantile(0.5)),
            ms(delays.value_at_quantile(0.99)),
            ms(delays.max())
        );
    }
    if let Some(first) = failed.first() {
        println!("first watcher failure: {first}");
    }
    Ok(())
}

fn sequence_of(value: &[u8]) -> Option<usize> {
    std::str::from_utf8(value.get(..15)?).ok()?.parse().ok()
}
