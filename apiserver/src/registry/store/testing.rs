//! Test support: small strategies (ConfigMap, Widget with status, Cluster, Namespace) over a real embedded store.

use std::{sync::Arc, time::Duration};

use futures::StreamExt;
use serde_json::{Value, json};
use tempfile::TempDir;

use super::{RequestContext, ResourceStore, WatchEvent, WatchStream};
use crate::{
    machinery::{FieldError, Object, names, options::WriteOptions},
    registry::{Registry, ResourceInfo, Strategy},
    storage::{EmbeddedOptions, EmbeddedStore, KeySpace, SharedStore},
};

/// A test kind.
pub(crate) struct TestKind {
    info: ResourceInfo,
    unconditional: bool,
    namespace: bool,
}

impl Strategy for TestKind {
    fn info(&self) -> &ResourceInfo {
        &self.info
    }

    fn default(&self, object: &mut Object) {
        if self.namespace && object.pointer("/spec/finalizers").is_none() {
            object["spec"] = json!({"finalizers": ["kubernetes"]});
        }
    }

    fn prepare_for_create(&self, object: &mut Object) {
        if self.namespace {
            object["status"] = json!({"phase": "Active"});
        }
    }

    fn prepare_for_update(&self, object: &mut Object, old: &Object) {
        if self.namespace {
            object["spec"] = old["spec"].clone();
        }
    }

    fn validate(&self, object: &Object) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if let Some(size) = object.pointer("/spec/size").and_then(Value::as_i64)
            && size < 0
        {
            errors.push(FieldError::invalid("spec.size", size, "must be greater than or equal to 0"));
        }
        errors
    }

    fn allow_unconditional_update(&self) -> bool {
        self.unconditional
    }

    fn name_validator(&self) -> names::NameValidator {
        if self.namespace { names::name_is_dns_label } else { names::name_is_dns_subdomain }
    }

    fn prepare_for_delete(&self, object: &mut Object) -> bool {
        if !self.namespace {
            return false;
        }
        object["status"] = json!({"phase": "Terminating"});
        object.pointer("/spec/finalizers").and_then(Value::as_array).is_some_and(|f| !f.is_empty())
    }

    fn field_value(&self, object: &Object, field: &str) -> Option<String> {
        (field == "spec.color" && self.info.kind == "Widget")
            .then(|| object.pointer("/spec/color").and_then(Value::as_str).unwrap_or_default().to_string())
    }
}

/// `v1` ConfigMaps: namespaced, no status, conditional updates only.
pub(crate) fn configmaps() -> Arc<dyn Strategy> {
    Arc::new(TestKind {
        info: ResourceInfo::new("", "v1", "ConfigMap", "configmaps", true),
        unconditional: false,
        namespace: false,
    })
}

/// `example.com/v1` Widgets: namespaced, with a status subresource and a `spec.color` field selector.
pub(crate) fn widgets() -> Arc<dyn Strategy> {
    Arc::new(TestKind {
        info: ResourceInfo::new("example.com", "v1", "Widget", "widgets", true).with_status(),
        unconditional: false,
        namespace: false,
    })
}

/// `example.com/v1` Clusters: cluster-scoped, unconditional updates allowed.
pub(crate) fn clusters() -> Arc<dyn Strategy> {
    Arc::new(TestKind {
        info: ResourceInfo::new("example.com", "v1", "Cluster", "clusters", false),
        unconditional: true,
        namespace: false,
    })
}

/// `v1` Namespaces: cluster-scoped, kept while `spec.finalizers` is non-empty.
pub(crate) fn namespaces() -> Arc<dyn Strategy> {
    Arc::new(TestKind {
        info: ResourceInfo::new("", "v1", "Namespace", "namespaces", false).with_status(),
        unconditional: true,
        namespace: true,
    })
}

/// A registry over a fresh embedded store.
pub(crate) struct Harness {
    pub(crate) store: SharedStore,
    pub(crate) registry: Registry,
    _dir: TempDir,
}

impl Harness {
    /// A registry serving `kinds`, every watch cache loaded.
    pub(crate) async fn new(kinds: Vec<Arc<dyn Strategy>>) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store: SharedStore =
            Arc::new(EmbeddedStore::open(EmbeddedOptions::new(dir.path())).await.expect("the embedded store opens"));
        let registry = Registry::new(store.clone(), KeySpace::default());
        for kind in kinds {
            registry.register(kind).ready().await;
        }
        Self { store, registry, _dir: dir }
    }

    /// The store of the resource named `plural`.
    pub(crate) fn resource(&self, plural: &str) -> Arc<ResourceStore> {
        self.registry
            .resources()
            .into_iter()
            .find(|r| r.info().plural == plural)
            .unwrap_or_else(|| panic!("{plural} is not served"))
    }
}

/// A request context as kubectl's.
pub(crate) fn ctx() -> RequestContext {
    RequestContext::for_agent("kubectl/v1.31.0 (linux/amd64) kubernetes/abc")
}

/// Creates `object`, failing the test on error.
pub(crate) async fn create(store: &ResourceStore, namespace: Option<&str>, object: Value) -> Object {
    match store.create(&ctx(), namespace, object, &WriteOptions::default()).await {
        Ok(created) => created,
        Err(error) => panic!("create failed: {}", error.message),
    }
}

/// A ConfigMap named `name` in `namespace` with `labels`.
pub(crate) fn configmap(namespace: &str, name: &str, labels: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "data": {"k": "v"},
    })
}

/// The next watch event within five seconds.
pub(crate) async fn next_event(watch: &mut WatchStream) -> WatchEvent {
    match tokio::time::timeout(Duration::from_secs(5), watch.next()).await {
        Ok(Some(event)) => event,
        Ok(None) => panic!("the watch ended"),
        Err(_) => panic!("no watch event within five seconds"),
    }
}

/// Polls `check` until it holds, for up to ten seconds.
pub(crate) async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    for _ in 0..200 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting until {what}");
}
