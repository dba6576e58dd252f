//! The CRD controller: serves every served version of each CRD, and cleans up custom resources on deletion.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
    time::Duration,
};

use futures::StreamExt;
use parking_lot::Mutex;
use serde_json::Value;
use tokio::task::JoinHandle;

use super::{
    custom::CustomResourceStrategy,
    definition::{CLEANUP_FINALIZER, set_condition, terminating_condition},
};
use crate::{
    machinery::{
        ApiError, Object,
        options::{DeleteOptions, GetOptions, ListOptions, WriteOptions},
    },
    registry::{Registry, RequestContext, ResourceKey, ResourceStore, WatchEventType},
};

/// The User-Agent (and field manager) of the controller's writes.
const AGENT: &str = "flotilla-crd-controller";
/// How long the controller waits before retrying after a failure, and between checks for remaining instances.
const RETRY: Duration = Duration::from_millis(500);

/// What the controller serves for one CRD.
struct Served {
    /// The CRD's spec when its versions were registered; a different spec re-registers them.
    spec: Value,
    /// The resources registered for it.
    resources: Vec<ResourceKey>,
}

struct Controller {
    registry: Registry,
    served: Mutex<BTreeMap<String, Served>>,
    cleaning: Mutex<BTreeSet<String>>,
}

fn text<'a>(value: &'a Value, path: &[&str]) -> &'a str {
    path.iter().try_fold(value, |v, k| v.get(k)).and_then(Value::as_str).unwrap_or_default()
}

fn crd_name(crd: &Value) -> &str {
    text(crd, &["metadata", "name"])
}

fn served_versions(crd: &Value) -> Vec<String> {
    crd.get("spec")
        .and_then(|s| s.get("versions"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|v| v.get("served").and_then(Value::as_bool) == Some(true))
        .map(|v| text(v, &["name"]).to_string())
        .collect()
}

fn storage_version(crd: &Value) -> Option<String> {
    crd.get("spec")?
        .get("versions")?
        .as_array()?
        .iter()
        .find(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        .map(|v| text(v, &["name"]).to_string())
}

fn is_cleaning(crd: &Value) -> bool {
    let deleting = crd.get("metadata").and_then(|m| m.get("deletionTimestamp")).is_some_and(|t| !t.is_null());
    let finalized = crd
        .get("metadata")
        .and_then(|m| m.get("finalizers"))
        .and_then(Value::as_array)
        .is_some_and(|f| f.iter().any(|f| f.as_str() == Some(CLEANUP_FINALIZER)));
    deleting && finalized
}

impl Controller {
    /// Serves (or re-serves, when its spec changed) every served version of `crd`.
    fn reconcile(self: &Arc<Self>, crd: &Value) {
        let name = crd_name(crd).to_string();
        let spec = crd.get("spec").cloned().unwrap_or(Value::Null);
        let unchanged = self.served.lock().get(&name).is_some_and(|served| served.spec == spec);
        if !unchanged {
            let group = text(crd, &["spec", "group"]).to_string();
            let plural = text(crd, &["spec", "names", "plural"]).to_string();
            let mut resources = Vec::new();
            for version in served_versions(crd) {
                match CustomResourceStrategy::from_crd(crd, &version) {
                    Ok(strategy) => {
                        self.registry.register(Arc::new(strategy));
                        resources.push((group.clone(), version, plural.clone()));
                    }
                    Err(error) => tracing::warn!(crd = %name, %version, %error, "cannot serve custom resource version"),
                }
            }
            let previous = self.served.lock().insert(name.clone(), Served { spec, resources: resources.clone() });
            for stale in previous.map(|p| p.resources).unwrap_or_default() {
                if !resources.contains(&stale) {
                    self.registry.unregister(&stale.0, &stale.1, &stale.2);
                }
            }
        }
        if is_cleaning(crd) && self.cleaning.lock().insert(name.clone()) {
            let controller = Arc::clone(self);
            tokio::spawn(async move {
                controller.clean_up(&name).await;
                controller.cleaning.lock().remove(&name);
            });
        }
    }

    /// Stops serving a CRD that no longer exists.
    fn forget(&self, name: &str) {
        if let Some(served) = self.served.lock().remove(name) {
            for (group, version, plural) in served.resources {
                self.registry.unregister(&group, &version, &plural);
            }
        }
    }

    /// Stops serving CRDs that are not in `present`.
    fn forget_all_but(&self, present: &BTreeSet<String>) {
        let gone: Vec<String> = self.served.lock().keys().filter(|n| !present.contains(*n)).cloned().collect();
        gone.iter().for_each(|name| self.forget(name));
    }

    fn definitions(&self) -> Option<Arc<ResourceStore>> {
        self.registry.lookup("apiextensions.k8s.io", "v1", "customresourcedefinitions")
    }

    /// Deletes every instance of a terminating CRD, then removes its cleanup finalizer.
    async fn clean_up(&self, name: &str) {
        let ctx = RequestContext::for_agent(AGENT);
        loop {
            let Some(definitions) = self.definitions() else { return };
            let crd = match definitions.get(None, name, &GetOptions::default()).await {
                Ok(crd) if is_cleaning(&crd) => crd,
                Ok(_) => return,
                Err(error) if error.code == 404 => return,
                Err(_) => {
                    tokio::time::sleep(RETRY).await;
                    continue;
                }
            };
            match self.delete_instances(&crd).await {
                Ok(true) => {}
                Ok(false) => {
                    let message = "CustomResource deletion is in progress";
                    let condition = terminating_condition("InstanceDeletionInProgress", message);
                    let _ = write_status(&definitions, &ctx, &crd, condition).await;
                    tokio::time::sleep(RETRY).await;
                    continue;
                }
                Err(error) => {
                    let message = format!("could not issue all deletes: {}", error.message);
                    let condition = terminating_condition("InstanceDeletionFailed", &message);
                    let _ = write_status(&definitions, &ctx, &crd, condition).await;
                    tokio::time::sleep(RETRY).await;
                    continue;
                }
            }
            let completed = terminating_condition("InstanceDeletionCompleted", "removed all instances");
            let crd = match write_status(&definitions, &ctx, &crd, completed).await {
                Ok(crd) => crd,
                Err(_) => {
                    tokio::time::sleep(RETRY).await;
                    continue;
                }
            };
            let mut finalized = crd.clone();
            if let Some(finalizers) =
                finalized.get_mut("metadata").and_then(|m| m.get_mut("finalizers")).and_then(Value::as_array_mut)
            {
                finalizers.retain(|f| f.as_str() != Some(CLEANUP_FINALIZER));
            }
            match definitions.update(&ctx, None, name, finalized, None, &WriteOptions::default()).await {
                Ok(_) => return,
                Err(error) if error.code == 404 => return,
                Err(_) => tokio::time::sleep(RETRY).await,
            }
        }
    }

    /// Deletes the CRD's custom resources; `true` once none remain.
    async fn delete_instances(&self, crd: &Value) -> Result<bool, ApiError> {
        let group = text(crd, &["spec", "group"]);
        let plural = text(crd, &["spec", "names", "plural"]);
        let Some(version) = storage_version(crd).or_else(|| served_versions(crd).into_iter().next()) else {
            return Ok(true);
        };
        let Some(resources) = self.registry.lookup(group, &version, plural) else { return Ok(true) };
        let ctx = RequestContext::for_agent(AGENT);
        resources.delete_collection(&ctx, None, &ListOptions::default(), &DeleteOptions::default()).await?;
        let remaining = resources.list(None, &ListOptions { limit: 1, ..ListOptions::default() }).await?;
        Ok(remaining.items.is_empty())
    }
}

/// Records `condition` on the CRD through its `/status` subresource; returns the written CRD.
async fn write_status(
    definitions: &ResourceStore,
    ctx: &RequestContext,
    crd: &Object,
    condition: Value,
) -> Result<Object, ApiError> {
    let mut updated = crd.clone();
    set_condition(&mut updated, condition);
    let name = crd_name(crd).to_string();
    definitions.update(ctx, None, &name, updated, Some("status"), &WriteOptions::default()).await.map(|(crd, _)| crd)
}

/// One pass: list the CRDs, serve them, then follow their changes until the watch ends.
async fn run_once(controller: &Arc<Controller>) -> Result<(), ApiError> {
    let Some(definitions) = controller.definitions() else {
        return Err(ApiError::unavailable("customresourcedefinitions are not served yet"));
    };
    let list = definitions.list(None, &ListOptions::default()).await?;
    let present: BTreeSet<String> = list.items.iter().map(|crd| crd_name(crd).to_string()).collect();
    controller.forget_all_but(&present);
    list.items.iter().for_each(|crd| controller.reconcile(crd));
    let options = ListOptions {
        resource_version: list.resource_version,
        watch: true,
        allow_watch_bookmarks: true,
        ..ListOptions::default()
    };
    let mut events = definitions.watch(None, &options).await?;
    while let Some(event) = events.next().await {
        match event.type_ {
            WatchEventType::Added | WatchEventType::Modified => controller.reconcile(&event.object),
            WatchEventType::Deleted => controller.forget(crd_name(&event.object)),
            WatchEventType::Bookmark => {}
            WatchEventType::Error => break,
        }
    }
    Ok(())
}

/// Starts the CRD controller: every CustomResourceDefinition's served versions become served resources (within
/// moments of the CRD's creation), change with it, and stop being served when it is deleted. Runs until aborted.
pub fn start(registry: &Registry) -> JoinHandle<()> {
    let controller = Arc::new(Controller {
        registry: registry.clone(),
        served: Mutex::new(BTreeMap::new()),
        cleaning: Mutex::new(BTreeSet::new()),
    });
    tokio::spawn(async move {
        loop {
            if let Err(error) = run_once(&controller).await {
                tracing::debug!(%error, "CRD controller relisting");
                tokio::time::sleep(RETRY).await;
            }
        }
    })
}
