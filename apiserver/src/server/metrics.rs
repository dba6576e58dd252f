//! Prometheus metrics: requests by verb/resource/code, latency histograms, open watches, and storage latency.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use async_trait::async_trait;
use bytes::Bytes;
use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};

use crate::storage::{
    Deleted, KeyValue, ListRequest, ListResponse, Result as StoreResult, Revision, SharedStore, Store, WatchStream,
};

/// Content type of [`Metrics::encode`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Request latency buckets (seconds), as kube-apiserver's `apiserver_request_duration_seconds` uses.
const REQUEST_BUCKETS: [f64; 20] =
    [0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 15.0, 60.0];

/// Storage latency buckets (seconds).
const STORAGE_BUCKETS: [f64; 15] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 1.0, 2.0, 5.0, 15.0];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    verb: String,
    group: String,
    resource: String,
    subresource: String,
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResourceLabels {
    verb: String,
    group: String,
    resource: String,
    subresource: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StorageLabels {
    operation: String,
    backend: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn request_histogram() -> Histogram {
    Histogram::new(REQUEST_BUCKETS)
}

fn storage_histogram() -> Histogram {
    Histogram::new(STORAGE_BUCKETS)
}

/// Which request a sample is about: kube-apiserver's metric verb (`GET`, `LIST`, `WATCH`, `POST`, `PUT`, `PATCH`,
/// `APPLY`, `DELETE`, `DELETECOLLECTION`) and the resource (empty for non-resource paths).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestLabel {
    /// The metric verb.
    pub verb: String,
    /// API group.
    pub group: String,
    /// Plural resource.
    pub resource: String,
    /// Subresource, e.g. `status`.
    pub subresource: String,
}

/// Every metric the API server exports.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: HistogramFamily<ResourceLabels>,
    longrunning: Family<ResourceLabels, Gauge>,
    storage_durations: HistogramFamily<StorageLabels>,
    storage_errors: Family<StorageLabels, Counter>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// A fresh set of metrics, registered for [`Metrics::encode`].
    pub fn new() -> Arc<Self> {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "apiserver_request",
            "Counter of apiserver requests broken out by verb, group, resource, subresource and HTTP response code.",
            requests.clone(),
        );
        let durations = HistogramFamily::<ResourceLabels>::new_with_constructor(request_histogram);
        registry.register(
            "apiserver_request_duration_seconds",
            "Response latency distribution in seconds by verb, group, resource and subresource (watches excluded).",
            durations.clone(),
        );
        let longrunning = Family::<ResourceLabels, Gauge>::default();
        registry.register(
            "apiserver_longrunning_requests",
            "Gauge of open long-running requests (watches) by verb, group, resource and subresource.",
            longrunning.clone(),
        );
        let storage_durations = HistogramFamily::<StorageLabels>::new_with_constructor(storage_histogram);
        registry.register(
            "apiserver_storage_request_duration_seconds",
            "Storage request latency in seconds by operation and backend.",
            storage_durations.clone(),
        );
        let storage_errors = Family::<StorageLabels, Counter>::default();
        registry.register(
            "apiserver_storage_request_errors",
            "Counter of failed storage requests by operation and backend.",
            storage_errors.clone(),
        );
        Arc::new(Self { registry, requests, durations, longrunning, storage_durations, storage_errors })
    }

    /// Records one finished request; `elapsed` is `None` for watches (they only count).
    pub fn observe_request(&self, label: &RequestLabel, code: u16, elapsed: Option<Duration>) {
        self.requests
            .get_or_create(&RequestLabels {
                verb: label.verb.clone(),
                group: label.group.clone(),
                resource: label.resource.clone(),
                subresource: label.subresource.clone(),
                code: code.to_string(),
            })
            .inc();
        if let Some(elapsed) = elapsed {
            self.durations.get_or_create(&resource_labels(label)).observe(elapsed.as_secs_f64());
        }
    }

    /// Counts an open long-running request until the guard is dropped.
    pub fn longrunning(&self, label: &RequestLabel) -> LongRunningGuard {
        let gauge = self.longrunning.get_or_create(&resource_labels(label)).clone();
        gauge.inc();
        LongRunningGuard { gauge }
    }

    /// The latency histogram and error counter of one storage operation on one backend.
    fn storage_series(&self, operation: &str, backend: &str) -> StorageSeries {
        let labels = StorageLabels { operation: operation.to_string(), backend: backend.to_string() };
        StorageSeries {
            duration: self.storage_durations.get_or_create(&labels).clone(),
            errors: self.storage_errors.get_or_create(&labels).clone(),
        }
    }

    /// Everything in the OpenMetrics text format ([`CONTENT_TYPE`]).
    pub fn encode(&self) -> String {
        let mut text = String::new();
        if let Err(error) = prometheus_client::encoding::text::encode(&mut text, &self.registry) {
            tracing::warn!(%error, "encoding metrics");
        }
        text
    }
}

fn resource_labels(label: &RequestLabel) -> ResourceLabels {
    ResourceLabels {
        verb: label.verb.clone(),
        group: label.group.clone(),
        resource: label.resource.clone(),
        subresource: label.subresource.clone(),
    }
}

/// Decrements `apiserver_longrunning_requests` when dropped.
#[derive(Debug)]
pub struct LongRunningGuard {
    gauge: Gauge,
}

impl Drop for LongRunningGuard {
    fn drop(&mut self) {
        self.gauge.dec();
    }
}

/// The series of one storage operation (handles share the registered metrics).
#[derive(Clone)]
struct StorageSeries {
    duration: Histogram,
    errors: Counter,
}

/// The storage operations, in [`MeteredStore`]'s series order.
const OPERATIONS: [&str; 8] = ["get", "list", "create", "update", "delete", "current_revision", "compact", "watch"];

/// A [`Store`] that times every call into `apiserver_storage_request_duration_seconds` and counts failures.
pub struct MeteredStore {
    inner: SharedStore,
    series: [StorageSeries; 8],
}

impl MeteredStore {
    /// Wraps `inner`, recording into `metrics`.
    pub fn wrap(inner: SharedStore, metrics: Arc<Metrics>) -> SharedStore {
        let backend = inner.backend();
        let series = OPERATIONS.map(|operation| metrics.storage_series(operation, backend));
        Arc::new(Self { inner, series })
    }

    async fn timed<T>(&self, operation: usize, call: impl Future<Output = StoreResult<T>>) -> StoreResult<T> {
        let started = Instant::now();
        let result = call.await;
        let series = &self.series[operation];
        series.duration.observe(started.elapsed().as_secs_f64());
        if result.is_err() {
            series.errors.inc();
        }
        result
    }
}

#[async_trait]
impl Store for MeteredStore {
    async fn get(&self, key: &str) -> StoreResult<Option<KeyValue>> {
        self.timed(0, self.inner.get(key)).await
    }

    async fn list(&self, request: ListRequest) -> StoreResult<ListResponse> {
        self.timed(1, self.inner.list(request)).await
    }

    async fn create(&self, key: &str, value: Bytes) -> StoreResult<Revision> {
        self.timed(2, self.inner.create(key, value)).await
    }

    async fn update(&self, key: &str, value: Bytes, expected: Revision) -> StoreResult<Revision> {
        self.timed(3, self.inner.update(key, value, expected)).await
    }

    async fn delete(&self, key: &str, expected: Option<Revision>) -> StoreResult<Deleted> {
        self.timed(4, self.inner.delete(key, expected)).await
    }

    async fn current_revision(&self) -> StoreResult<Revision> {
        self.timed(5, self.inner.current_revision()).await
    }

    async fn compact(&self, revision: Revision) -> StoreResult<()> {
        self.timed(6, self.inner.compact(revision)).await
    }

    async fn watch(&self, prefix: &str, after: Revision) -> StoreResult<WatchStream> {
        self.timed(7, self.inner.watch(prefix, after)).await
    }

    fn backend(&self) -> &'static str {
        self.inner.backend()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{EmbeddedOptions, EmbeddedStore};

    #[test]
    fn requests_are_counted_by_verb_resource_and_code() {
        let metrics = Metrics::new();
        let label = RequestLabel {
            verb: "LIST".into(),
            group: "apps".into(),
            resource: "deployments".into(),
            ..Default::default()
        };
        metrics.observe_request(&label, 200, Some(Duration::from_millis(3)));
        metrics.observe_request(&label, 200, Some(Duration::from_millis(4)));
        let text = metrics.encode();
        assert!(
            text.contains(
                r#"apiserver_request_total{verb="LIST",group="apps",resource="deployments",subresource="",code="200"} 2"#
            ),
            "{text}"
        );
        assert!(text.contains("apiserver_request_duration_seconds_bucket{"), "{text}");
    }

    #[test]
    fn open_watches_are_a_gauge_that_falls_when_they_end() {
        let metrics = Metrics::new();
        let label = RequestLabel { verb: "WATCH".into(), resource: "configmaps".into(), ..Default::default() };
        let guard = metrics.longrunning(&label);
        assert!(metrics.encode().contains(
            r#"apiserver_longrunning_requests{verb="WATCH",group="",resource="configmaps",subresource=""} 1"#
        ));
        drop(guard);
        assert!(metrics.encode().contains(
            r#"apiserver_longrunning_requests{verb="WATCH",group="",resource="configmaps",subresource=""} 0"#
        ));
    }

    #[tokio::test]
    async fn every_storage_call_is_timed_by_operation_and_backend() {
        let dir = tempfile::tempdir().unwrap();
        let inner: SharedStore = Arc::new(EmbeddedStore::open(EmbeddedOptions::new(dir.path())).await.unwrap());
        let metrics = Metrics::new();
        let store = MeteredStore::wrap(inner, metrics.clone());
        store.create("/registry/x", Bytes::from_static(b"{}")).await.unwrap();
        assert!(store.create("/registry/x", Bytes::from_static(b"{}")).await.is_err());
        store.get("/registry/x").await.unwrap();
        let text = metrics.encode();
        assert!(
            text.contains(
                r#"apiserver_storage_request_duration_seconds_count{operation="create",backend="embedded"} 2"#
            ),
            "{text}"
        );
        assert!(text.contains(r#"apiserver_storage_request_errors_total{operation="create",backend="embedded"} 1"#));
        assert!(text.contains(r#"operation="get""#));
    }
}
