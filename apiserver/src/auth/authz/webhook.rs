//! The `Webhook` authorizer: SubjectAccessReviews sent to a host cluster, answers cached for a while.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use k8s_openapi::api::authorization::v1::{
    NonResourceAttributes, ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use kube::api::{Api, PostParams};
use parking_lot::Mutex;

use super::{AuthorizationOptions, AuthzError};
use crate::auth::{Attributes, Decision, authn::host};

/// Cached answers are dropped when the cache grows past this many requests.
const CACHE_LIMIT: usize = 8192;

/// Asks a host cluster (`--authorization-kubeconfig`) whether requests are allowed.
pub struct WebhookAuthorizer {
    client: kube::Client,
    allowed_ttl: Duration,
    denied_ttl: Duration,
    cache: Mutex<HashMap<String, (Instant, Decision)>>,
}

impl std::fmt::Debug for WebhookAuthorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookAuthorizer")
            .field("allowed_ttl", &self.allowed_ttl)
            .field("denied_ttl", &self.denied_ttl)
            .finish_non_exhaustive()
    }
}

/// The SubjectAccessReview spec kube-apiserver's webhook authorizer sends for `attributes`.
pub fn review_spec(attributes: &Attributes) -> SubjectAccessReviewSpec {
    let user = &attributes.user;
    let some = |text: &str| (!text.is_empty()).then(|| text.to_string());
    let mut spec = SubjectAccessReviewSpec {
        user: some(&user.name),
        uid: some(&user.uid),
        groups: (!user.groups.is_empty()).then(|| user.groups.clone()),
        extra: (!user.extra.is_empty()).then(|| user.extra.clone().into_iter().collect()),
        ..SubjectAccessReviewSpec::default()
    };
    if attributes.resource_request {
        spec.resource_attributes = Some(ResourceAttributes {
            namespace: some(&attributes.namespace),
            verb: some(&attributes.verb),
            group: some(&attributes.api_group),
            version: some(&attributes.api_version),
            resource: some(&attributes.resource),
            subresource: some(&attributes.subresource),
            name: some(&attributes.name),
            ..ResourceAttributes::default()
        });
    } else {
        spec.non_resource_attributes =
            Some(NonResourceAttributes { path: some(&attributes.path), verb: some(&attributes.verb) });
    }
    spec
}

impl WebhookAuthorizer {
    /// A webhook authorizer from the flags.
    ///
    /// # Errors
    /// No kubeconfig given, or one that cannot be read.
    pub async fn new(options: &AuthorizationOptions) -> Result<Self, AuthzError> {
        let Some(path) = options.authorization_kubeconfig.as_deref() else {
            return Err(AuthzError::WebhookWithoutKubeconfig);
        };
        let client = host::client(path)
            .await
            .map_err(|error| AuthzError::Kubeconfig { path: path.to_path_buf(), message: error.to_string() })?;
        Ok(Self {
            client,
            allowed_ttl: options.authorization_webhook_cache_authorized_ttl,
            denied_ttl: options.authorization_webhook_cache_unauthorized_ttl,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The host cluster's answer: allowed, denied, or no opinion; a failed review is an error (not cached).
    pub async fn authorize(&self, attributes: &Attributes) -> Decision {
        let spec = review_spec(attributes);
        let key = serde_json::to_string(&spec).unwrap_or_default();
        if let Some((at, decision)) = self.cache.lock().get(&key) {
            let ttl = if matches!(decision, Decision::Allow(_)) { self.allowed_ttl } else { self.denied_ttl };
            if at.elapsed() < ttl {
                return decision.clone();
            }
        }
        let review = SubjectAccessReview { spec, ..SubjectAccessReview::default() };
        let api: Api<SubjectAccessReview> = Api::all(self.client.clone());
        let answer = match api.create(&PostParams::default(), &review).await {
            Ok(answer) => answer,
            Err(error) => {
                tracing::warn!(%error, "the authorization webhook could not be reached");
                return Decision::Error(format!("webhook authorizer: {error}"));
            }
        };
        let status = answer.status.unwrap_or_default();
        let reason = status.reason.unwrap_or_default();
        let decision = if status.allowed {
            Decision::Allow(reason)
        } else if status.denied == Some(true) {
            Decision::Deny(reason)
        } else {
            Decision::NoOpinion(reason)
        };
        let mut cache = self.cache.lock();
        if cache.len() >= CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(key, (Instant::now(), decision.clone()));
        decision
    }
}
