//! The ServiceAccount controllers: a `default` ServiceAccount in every namespace, and token Secrets filled in.

use std::{
    sync::{Arc, Weak},
    time::Duration,
};

use base64::Engine as _;
use futures::StreamExt;
use serde_json::{Value, json};

use super::{Registry, RegistryInner, ResourceStore, WatchEventType, gc::ControllerTask, store::RequestContext};
use crate::{
    auth::authn::serviceaccount::{
        SERVICE_ACCOUNT_NAME_ANNOTATION, SERVICE_ACCOUNT_UID_ANNOTATION, ServiceAccountTokens, TOKEN_SECRET_TYPE,
    },
    machinery::{
        ApiError, Object,
        options::{DeleteOptions, ListOptions, WriteOptions},
    },
};

/// The ServiceAccount every namespace gets.
pub const DEFAULT_SERVICE_ACCOUNT: &str = "default";

/// The User-Agent (and so field manager) of the controllers' writes.
const CONTROLLER_AGENT: &str = "kube-controller-manager/tokens-controller";

/// How long the controller waits before watching again after a failure (or while a resource is not served).
const RETRY_WAIT: Duration = Duration::from_secs(1);

/// How often a write losing a race is tried again.
const ATTEMPTS: usize = 5;

impl Registry {
    /// Starts the ServiceAccount and token controllers (kube-controller-manager's `serviceaccount` and
    /// `serviceaccount-token`): every namespace gets a `default` ServiceAccount (recreated when deleted); every
    /// `kubernetes.io/service-account-token` Secret gets its ServiceAccount's uid annotation and `data.token` (a
    /// legacy token signed by `tokens`), `data.ca.crt` and `data.namespace`; a token Secret whose ServiceAccount
    /// does not exist (or was replaced) is deleted, and so are a deleted ServiceAccount's token Secrets. Runs
    /// until the returned task is dropped.
    pub fn start_serviceaccounts_controller(&self, tokens: Arc<ServiceAccountTokens>) -> ControllerTask {
        ControllerTask::spawn(run(Arc::downgrade(&self.inner), tokens))
    }
}

fn stores(registry: &Registry) -> Option<(Arc<ResourceStore>, Arc<ResourceStore>, Arc<ResourceStore>)> {
    Some((
        registry.lookup("", "v1", "namespaces")?,
        registry.lookup("", "v1", "serviceaccounts")?,
        registry.lookup("", "v1", "secrets")?,
    ))
}

async fn run(registry: Weak<RegistryInner>, tokens: Arc<ServiceAccountTokens>) {
    loop {
        let Some(inner) = registry.upgrade() else { return };
        let Some((namespaces, accounts, secrets)) = stores(&Registry { inner }) else {
            tokio::time::sleep(RETRY_WAIT).await;
            continue;
        };
        let options = ListOptions { timeout_seconds: Some(600), ..ListOptions::default() };
        let watches = futures::try_join!(
            namespaces.watch(None, &options),
            accounts.watch(None, &options),
            secrets.watch(None, &options)
        );
        let (mut namespace_events, mut account_events, mut secret_events) = match watches {
            Ok(watches) => watches,
            Err(error) => {
                tracing::warn!(%error, "the ServiceAccount controller cannot watch");
                tokio::time::sleep(RETRY_WAIT).await;
                continue;
            }
        };
        let sync = Sync { namespaces, accounts, secrets, tokens: Arc::clone(&tokens) };
        loop {
            let outcome = tokio::select! {
                event = namespace_events.next() => match event {
                    None => break,
                    Some(event) if event.type_ == WatchEventType::Added || event.type_ == WatchEventType::Modified => {
                        sync.ensure_default(name_of(&event.object)).await
                    }
                    Some(_) => Ok(()),
                },
                event = account_events.next() => match event {
                    None => break,
                    Some(event) if event.type_ == WatchEventType::Deleted => sync.account_deleted(&event.object).await,
                    Some(_) => Ok(()),
                },
                event = secret_events.next() => match event {
                    None => break,
                    Some(event) if event.type_ == WatchEventType::Added || event.type_ == WatchEventType::Modified => {
                        sync.secret(&event.object).await
                    }
                    Some(_) => Ok(()),
                },
            };
            if let Err(error) = outcome {
                tracing::warn!(%error, "the ServiceAccount controller could not sync an object");
            }
        }
    }
}

fn name_of(object: &Object) -> &str {
    object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default()
}

fn namespace_of(object: &Object) -> &str {
    object.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or_default()
}

fn uid_of(object: &Object) -> &str {
    object.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or_default()
}

fn annotation<'a>(object: &'a Object, key: &str) -> Option<&'a str> {
    object.pointer("/metadata/annotations").and_then(|a| a.get(key)).and_then(Value::as_str)
}

fn is_deleting(object: &Object) -> bool {
    object.pointer("/metadata/deletionTimestamp").is_some_and(|v| !v.is_null())
}

/// Whether `secret` is a ServiceAccount token Secret.
fn is_token_secret(secret: &Object) -> bool {
    secret.get("type").and_then(Value::as_str) == Some(TOKEN_SECRET_TYPE)
}

/// What one pass works with.
struct Sync {
    namespaces: Arc<ResourceStore>,
    accounts: Arc<ResourceStore>,
    secrets: Arc<ResourceStore>,
    tokens: Arc<ServiceAccountTokens>,
}

impl Sync {
    fn context() -> RequestContext {
        RequestContext::for_agent(CONTROLLER_AGENT)
    }

    /// Creates `default` in `namespace` unless it exists or the namespace is going away.
    async fn ensure_default(&self, namespace: &str) -> Result<(), ApiError> {
        if namespace.is_empty() {
            return Ok(());
        }
        match self.namespaces.get_cached(None, namespace).await {
            Ok(found) if !is_deleting(&found) => {}
            Ok(_) => return Ok(()),
            Err(error) if error.code == 404 => return Ok(()),
            Err(error) => return Err(error),
        }
        match self.accounts.get_cached(Some(namespace), DEFAULT_SERVICE_ACCOUNT).await {
            Ok(_) => return Ok(()),
            Err(error) if error.code == 404 => {}
            Err(error) => return Err(error),
        }
        let account = json!({
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": DEFAULT_SERVICE_ACCOUNT, "namespace": namespace},
        });
        match self.accounts.create(&Self::context(), Some(namespace), account, &WriteOptions::default()).await {
            // Already there, or the namespace began terminating meanwhile.
            Err(error) if error.code == 409 || error.code == 403 => Ok(()),
            other => other.map(drop),
        }
    }

    /// A ServiceAccount is gone: recreate `default`, delete its token Secrets.
    async fn account_deleted(&self, account: &Object) -> Result<(), ApiError> {
        let (namespace, name, uid) = (namespace_of(account), name_of(account), uid_of(account));
        let listed = self.secrets.list(Some(namespace), &ListOptions::default()).await?;
        for secret in &listed.items {
            let theirs = is_token_secret(secret)
                && annotation(secret, SERVICE_ACCOUNT_NAME_ANNOTATION) == Some(name)
                && annotation(secret, SERVICE_ACCOUNT_UID_ANNOTATION).is_none_or(|u| u.is_empty() || u == uid);
            if theirs {
                self.delete_secret(secret).await?;
            }
        }
        if name == DEFAULT_SERVICE_ACCOUNT {
            self.ensure_default(namespace).await?;
        }
        Ok(())
    }

    async fn delete_secret(&self, secret: &Object) -> Result<(), ApiError> {
        let options = DeleteOptions { precondition_uid: Some(uid_of(secret).to_string()), ..DeleteOptions::default() };
        let namespace = namespace_of(secret);
        match self.secrets.delete(&Self::context(), Some(namespace), name_of(secret), &options).await {
            Err(error) if error.code == 404 || error.code == 409 => Ok(()),
            other => other.map(drop),
        }
    }

    /// Fills (or deletes) one token Secret.
    async fn secret(&self, secret: &Object) -> Result<(), ApiError> {
        if !is_token_secret(secret) || is_deleting(secret) {
            return Ok(());
        }
        let Some(account_name) = annotation(secret, SERVICE_ACCOUNT_NAME_ANNOTATION).filter(|n| !n.is_empty()) else {
            return Ok(());
        };
        let (namespace, name) = (namespace_of(secret), name_of(secret));
        let account = match self.accounts.get_cached(Some(namespace), account_name).await {
            Ok(account) => account,
            Err(error) if error.code == 404 => {
                tracing::info!(
                    namespace,
                    secret = name,
                    account_name,
                    "deleting a token Secret of a missing ServiceAccount"
                );
                return self.delete_secret(secret).await;
            }
            Err(error) => return Err(error),
        };
        let account_uid = uid_of(&account).to_string();
        if annotation(secret, SERVICE_ACCOUNT_UID_ANNOTATION).is_some_and(|uid| !uid.is_empty() && uid != account_uid) {
            tracing::info!(
                namespace,
                secret = name,
                account_name,
                "deleting a token Secret of a replaced ServiceAccount"
            );
            return self.delete_secret(secret).await;
        }
        let mut current = secret.clone();
        for _ in 0..ATTEMPTS {
            let Some(updated) = self.filled(&current, namespace, account_name, &account_uid)? else { return Ok(()) };
            match self
                .secrets
                .update(&Self::context(), Some(namespace), name, updated, None, &WriteOptions::default())
                .await
            {
                Ok(_) => return Ok(()),
                Err(error) if error.code == 409 => match self.secrets.get_cached(Some(namespace), name).await {
                    Ok(fresh) if !is_deleting(&fresh) => current = fresh,
                    Ok(_) => return Ok(()),
                    Err(error) if error.code == 404 => return Ok(()),
                    Err(error) => return Err(error),
                },
                Err(error) if error.code == 404 => return Ok(()),
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }

    /// `secret` with what the token controller maintains filled in; `None` when nothing is missing.
    fn filled(
        &self,
        secret: &Object,
        namespace: &str,
        account_name: &str,
        account_uid: &str,
    ) -> Result<Option<Object>, ApiError> {
        let encode = |text: &str| base64::engine::general_purpose::STANDARD.encode(text);
        let data = |key: &str| secret.pointer("/data").and_then(|d| d.get(key)).and_then(Value::as_str);
        let needs_uid = annotation(secret, SERVICE_ACCOUNT_UID_ANNOTATION).is_none_or(str::is_empty);
        let needs_token = data("token").is_none_or(str::is_empty);
        let ca = encode(self.tokens.ca_pem());
        let needs_ca = !self.tokens.ca_pem().is_empty() && data("ca.crt") != Some(ca.as_str());
        let namespace_data = encode(namespace);
        let needs_namespace = data("namespace") != Some(namespace_data.as_str());
        if !(needs_uid || needs_token || needs_ca || needs_namespace) {
            return Ok(None);
        }
        let mut updated = secret.clone();
        if needs_uid {
            let metadata = &mut updated["metadata"];
            if !metadata.get("annotations").is_some_and(Value::is_object) {
                metadata["annotations"] = json!({});
            }
            metadata["annotations"][SERVICE_ACCOUNT_UID_ANNOTATION] = json!(account_uid);
        }
        if !updated.get("data").is_some_and(Value::is_object) {
            updated["data"] = json!({});
        }
        if needs_token {
            let token = self
                .tokens
                .legacy_token(namespace, account_name, account_uid, name_of(secret))
                .map_err(ApiError::internal)?;
            updated["data"]["token"] = json!(encode(&token));
        }
        if needs_ca {
            updated["data"]["ca.crt"] = json!(ca);
        }
        if needs_namespace {
            updated["data"]["namespace"] = json!(namespace_data);
        }
        Ok(Some(updated))
    }
}
