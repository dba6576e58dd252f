//! Namespaces: the NamespaceLifecycle admission check, the namespace controller, and the namespaces made at start.

#[cfg(test)]
mod tests;

use std::{
    collections::{BTreeSet, HashSet},
    sync::{Arc, Weak},
    time::Duration,
};

use async_trait::async_trait;
use futures::StreamExt;
use serde_json::{Value, json};

use super::{
    Registry, RegistryInner, ResourceStore, WatchEventType,
    gc::ControllerTask,
    store::{Admission, AdmissionRequest, Operation, RequestContext, meta},
};
use crate::machinery::{
    ApiError, GroupResource, StatusReason,
    options::{DeleteOptions, GetOptions, ListOptions, PropagationPolicy, WriteOptions},
};

/// Namespaces that may never be deleted.
pub const IMMORTAL_NAMESPACES: [&str; 3] = ["default", "kube-system", "kube-public"];

/// Namespaces created at start when missing.
pub const DEFAULT_NAMESPACES: [&str; 4] = ["default", "kube-system", "kube-public", "kube-node-lease"];

/// The `spec.finalizers` entry the namespace controller removes once a namespace is empty.
pub const NAMESPACE_FINALIZER: &str = "kubernetes";

/// The User-Agent (and so field manager) of the namespace controller's writes.
const CONTROLLER_AGENT: &str = "kube-controller-manager/namespace-controller";

/// How often namespaces still holding content (objects waiting for finalizers) are looked at again.
const RETRY_INTERVAL: Duration = Duration::from_secs(1);

/// How long a controller waits before looking again for a resource that is not served (yet).
const IDLE_WAIT: Duration = Duration::from_secs(1);

/// The namespaces resource, when served.
pub(crate) fn namespaces_store(registry: &Registry) -> Option<Arc<ResourceStore>> {
    registry.lookup("", "v1", "namespaces")
}

fn namespaces_resource() -> GroupResource {
    GroupResource::new("", "namespaces")
}

/// 403 Forbidden about one object: `<resource> "<name>" is forbidden: <why>`.
fn forbidden(gr: &GroupResource, name: &str, why: &str) -> ApiError {
    let mut error = ApiError::new(403, StatusReason::Forbidden, format!("{gr} {name:?} is forbidden: {why}"));
    error.details = Some(json!({"name": name, "group": gr.group, "kind": gr.resource}));
    error
}

/// kube-apiserver's NamespaceLifecycle admission plugin: no content in missing or terminating namespaces, and the
/// immortal namespaces cannot be deleted.
pub struct NamespaceLifecycle {
    registry: Weak<RegistryInner>,
}

impl NamespaceLifecycle {
    /// The check for the registry `registry` points to (it only checks while `v1/namespaces` is served).
    pub(super) fn new(registry: Weak<RegistryInner>) -> Self {
        Self { registry }
    }
}

#[async_trait]
impl Admission for NamespaceLifecycle {
    fn name(&self) -> &str {
        "NamespaceLifecycle"
    }

    async fn admit(&self, request: &AdmissionRequest<'_>) -> Result<(), ApiError> {
        let is_namespace = request.resource.group.is_empty() && request.resource.kind == "Namespace";
        if is_namespace {
            if request.operation == Operation::Delete && IMMORTAL_NAMESPACES.contains(&request.name) {
                return Err(forbidden(&namespaces_resource(), request.name, "this namespace may not be deleted"));
            }
            return Ok(());
        }
        let Some(namespace) = request.namespace.filter(|ns| !ns.is_empty()) else { return Ok(()) };
        if request.operation != Operation::Create {
            return Ok(());
        }
        let Some(inner) = self.registry.upgrade() else { return Ok(()) };
        let Some(namespaces) = namespaces_store(&Registry { inner }) else { return Ok(()) };
        let cached = namespaces.get_cached(None, namespace).await;
        let found = match cached {
            Err(error) if error.code == 404 => namespaces.get(None, namespace, &GetOptions::default()).await?,
            other => other?,
        };
        if found.pointer("/status/phase").and_then(Value::as_str) != Some("Terminating") {
            return Ok(());
        }
        let name = match (request.name, request.object) {
            ("", Some(object)) if !meta::meta_str(object, "generateName").is_empty() => {
                meta::meta_str(object, "generateName")
            }
            ("", _) => "Unknown",
            (name, _) => name,
        };
        let mut error = forbidden(
            &request.resource.group_resource(),
            name,
            &format!("unable to create new content in namespace {namespace} because it is being terminated"),
        );
        if let Some(details) = error.details.as_mut() {
            details["causes"] = json!([{
                "reason": "NamespaceTerminating",
                "message": format!("namespace {namespace} is being terminated"),
                "field": "metadata.namespace",
            }]);
        }
        Err(error)
    }
}

impl Registry {
    /// Creates `default`, `kube-system`, `kube-public` and `kube-node-lease` when they do not exist (a no-op while
    /// `v1/namespaces` is not served).
    ///
    /// # Errors
    /// Storage failures.
    pub async fn ensure_default_namespaces(&self) -> Result<(), ApiError> {
        let Some(namespaces) = namespaces_store(self) else { return Ok(()) };
        let ctx = RequestContext::for_agent("kube-apiserver");
        for name in DEFAULT_NAMESPACES {
            match namespaces.get(None, name, &GetOptions::default()).await {
                Ok(_) => continue,
                Err(error) if error.code == 404 => {}
                Err(error) => return Err(error),
            }
            let object = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
            match namespaces.create(&ctx, None, object, &WriteOptions::default()).await {
                Ok(_) => {}
                Err(error) if error.code == 409 => {}
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }

    /// Starts the namespace controller: for every namespace being deleted it deletes all namespaced objects in it
    /// (every served namespaced resource), waits until none are left, removes the `kubernetes` finalizer from
    /// `spec.finalizers` and deletes the namespace for good. Runs until the returned task is dropped.
    pub fn start_namespace_controller(&self) -> ControllerTask {
        let registry = Arc::downgrade(&self.inner);
        ControllerTask::spawn(run(registry))
    }
}

async fn run(registry: Weak<RegistryInner>) {
    loop {
        let Some(inner) = registry.upgrade() else { return };
        let Some(namespaces) = namespaces_store(&Registry { inner }) else {
            tokio::time::sleep(IDLE_WAIT).await;
            continue;
        };
        let options = ListOptions { timeout_seconds: Some(600), ..ListOptions::default() };
        let mut watch = match namespaces.watch(None, &options).await {
            Ok(watch) => watch,
            Err(error) => {
                tracing::warn!(%error, "namespace controller cannot watch namespaces");
                tokio::time::sleep(IDLE_WAIT).await;
                continue;
            }
        };
        drop(namespaces);
        let mut pending: BTreeSet<String> = BTreeSet::new();
        let mut retry = tokio::time::interval(RETRY_INTERVAL);
        loop {
            tokio::select! {
                event = watch.next() => {
                    let Some(event) = event else { break };
                    let deleting = matches!(event.type_, WatchEventType::Added | WatchEventType::Modified)
                        && meta::is_deleting(&event.object);
                    if !deleting {
                        continue;
                    }
                    let name = meta::name(&event.object).to_string();
                    let Some(inner) = registry.upgrade() else { return };
                    if !finalize(&Registry { inner }, &name).await {
                        pending.insert(name);
                    }
                }
                _ = retry.tick(), if !pending.is_empty() => {
                    let Some(inner) = registry.upgrade() else { return };
                    let registry = Registry { inner };
                    for name in std::mem::take(&mut pending) {
                        if !finalize(&registry, &name).await {
                            pending.insert(name);
                        }
                    }
                }
            }
        }
    }
}

/// One pass over a namespace being deleted; whether it is finished (gone, or not being deleted after all).
async fn finalize(registry: &Registry, name: &str) -> bool {
    match try_finalize(registry, name).await {
        Ok(done) => done,
        Err(error) => {
            tracing::warn!(namespace = name, %error, "namespace controller could not finish a namespace yet");
            false
        }
    }
}

async fn try_finalize(registry: &Registry, name: &str) -> Result<bool, ApiError> {
    let Some(namespaces) = namespaces_store(registry) else { return Ok(true) };
    let namespace = match namespaces.get(None, name, &GetOptions::default()).await {
        Ok(namespace) => namespace,
        Err(error) if error.code == 404 => return Ok(true),
        Err(error) => return Err(error),
    };
    if !meta::is_deleting(&namespace) {
        return Ok(true);
    }
    let ctx = RequestContext::for_agent(CONTROLLER_AGENT);
    let delete = DeleteOptions { propagation_policy: Some(PropagationPolicy::Background), ..DeleteOptions::default() };
    let mut seen = HashSet::new();
    let mut remaining = 0usize;
    for store in registry.resources() {
        let info = store.info();
        if !info.namespaced || !seen.insert(info.storage.clone()) {
            continue;
        }
        let deleted = store.delete_collection(&ctx, Some(name), &ListOptions::default(), &delete).await?;
        if !deleted.items.is_empty() {
            remaining += store.list(Some(name), &ListOptions::default()).await?.items.len();
        }
    }
    if remaining > 0 {
        tracing::debug!(namespace = name, remaining, "namespace still has content");
        return Ok(false);
    }
    super::store::mutate_stored(&namespaces, None, name, |object| {
        let Some(finalizers) = object.pointer_mut("/spec/finalizers").and_then(Value::as_array_mut) else {
            return false;
        };
        let before = finalizers.len();
        finalizers.retain(|f| f.as_str() != Some(NAMESPACE_FINALIZER));
        before != finalizers.len()
    })
    .await?;
    match namespaces.delete(&ctx, None, name, &DeleteOptions::default()).await {
        Ok(super::DeleteOutcome::Deleted(_)) => Ok(true),
        Ok(super::DeleteOutcome::Pending(_)) => Ok(false),
        Err(error) if error.code == 404 => Ok(true),
        Err(error) => Err(error),
    }
}
