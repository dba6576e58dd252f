//! Create-only resources that are answered, never stored: the identity and access review APIs.
//!
//! A registry answers a review kind once given it with [`Registry::serve_review`] (its [`ResourceInfo`] and a
//! handler turning the decoded request object into the answered one); [`serve_on`] gives it all of them (an
//! aggregated instance does not: its host answers them). Discovery lists the reviews with the single verb `create`;
//! the HTTP dispatcher sends their requests to [`serve`].

use std::{future::Future, pin::Pin, sync::Arc};

use axum::{extract::Request, response::Response};
use http::StatusCode;
use k8s_openapi::api::authentication::v1 as authentication;
use serde_json::{Value, json};

use super::UserInfo;
use crate::{
    http::{ApiState, RequestInfo, ResourceRequest, Verb, check_type, create_only_body, response},
    machinery::{ApiError, Object},
    registry::{Registry, ResourceInfo},
    schema::KindSchema,
};

/// What a review handler answers: the object with its `status` filled in.
pub type ReviewFuture<'a> = Pin<Box<dyn Future<Output = Result<Object, ApiError>> + Send + 'a>>;

/// A review handler: the server state, the request's context, and the decoded object (its `apiVersion` and
/// `kind` already checked) to the answered object.
pub type ReviewHandler = for<'a> fn(&'a ApiState, &'a ReviewRequest, Object) -> ReviewFuture<'a>;

/// Who asks, and where.
#[derive(Clone, Debug)]
pub struct ReviewRequest {
    /// The authenticated (possibly impersonated) requestor.
    pub user: UserInfo,
    /// The namespace of the URL, for namespaced reviews (`LocalSubjectAccessReview`).
    pub namespace: Option<String>,
}

/// A served, never stored, create-only resource.
#[derive(Clone, Debug)]
pub struct VirtualResource {
    /// Names and scope, as discovery shows them.
    pub info: ResourceInfo,
    /// Answers a create.
    pub handler: ReviewHandler,
    /// The kind's OpenAPI schema (for `/openapi/v3` and so kubectl's client-side validation knows the kind).
    pub schema: fn() -> Arc<KindSchema>,
}

/// The verbs discovery lists for a virtual resource.
pub const VERBS: [&str; 1] = ["create"];

/// The verbs discovery lists for `info`: [`VERBS`] for a review kind `registry` serves, else `stored`.
pub fn verbs<'a>(registry: &Registry, info: &ResourceInfo, stored: &'a [&'a str]) -> &'a [&'a str] {
    if registry.is_review(info) { &VERBS } else { stored }
}

/// Serves the identity and access review APIs on `registry`: `authentication.k8s.io/v1` SelfSubjectReview and
/// TokenReview, and the four `authorization.k8s.io/v1` access reviews.
pub fn serve_on(registry: &Registry) {
    serve_authentication(registry);
    super::authz::review::serve_on(registry);
}

fn serve_authentication(registry: &Registry) {
    registry.serve_review(VirtualResource {
        info: ResourceInfo::new("authentication.k8s.io", "v1", "SelfSubjectReview", "selfsubjectreviews", false),
        handler: |_, request, object| Box::pin(async move { Ok(self_subject_review(&request.user, object)) }),
        schema: KindSchema::builtin::<authentication::SelfSubjectReview>,
    });
    registry.serve_review(VirtualResource {
        info: ResourceInfo::new("authentication.k8s.io", "v1", "TokenReview", "tokenreviews", false),
        handler: |state, _, object| Box::pin(token_review(state, object)),
        schema: KindSchema::builtin::<authentication::TokenReview>,
    });
}

/// A `authentication.k8s.io/v1` `UserInfo` (empty fields left out, as kube-apiserver does).
pub fn user_info(user: &UserInfo) -> Value {
    let mut info = json!({"username": user.name});
    if !user.uid.is_empty() {
        info["uid"] = json!(user.uid);
    }
    if !user.groups.is_empty() {
        info["groups"] = json!(user.groups);
    }
    if !user.extra.is_empty() {
        info["extra"] = json!(user.extra);
    }
    info
}

/// `kubectl auth whoami`: the requestor as the server sees it.
fn self_subject_review(user: &UserInfo, mut object: Object) -> Object {
    object["metadata"] =
        json!({"creationTimestamp": jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()});
    object["status"] = json!({"userInfo": user_info(user)});
    object
}

/// Authenticates `spec.token` with the bearer token authenticators.
async fn token_review(state: &ApiState, mut object: Object) -> Result<Object, ApiError> {
    let token = object.pointer("/spec/token").and_then(Value::as_str).unwrap_or_default().to_string();
    if token.is_empty() {
        return Err(ApiError::bad_request("token is required for TokenReview in authentication"));
    }
    let audiences = object.pointer("/spec/audiences").cloned().filter(|a| a.as_array().is_some_and(|a| !a.is_empty()));
    let status = match state.auth.authenticator.review_token(&token).await {
        Ok(user) => {
            let mut status = json!({"authenticated": true, "user": user_info(&user)});
            if let Some(audiences) = audiences {
                status["audiences"] = audiences;
            }
            status
        }
        Err(error) => json!({"user": {}, "error": error}),
    };
    object["status"] = status;
    if object.get("metadata").is_none_or(Value::is_null) {
        object["metadata"] = json!({"creationTimestamp": null});
    }
    Ok(object)
}

/// Serves a request for a virtual resource: only `create` on its collection, in its scope.
pub async fn serve(
    state: &ApiState,
    info: &RequestInfo,
    target: &ResourceRequest,
    resource: &VirtualResource,
    request: Request,
) -> Response {
    match serve_checked(state, info, target, resource, request).await {
        Ok(response) => response,
        Err(error) => response::error(&error),
    }
}

async fn serve_checked(
    state: &ApiState,
    info: &RequestInfo,
    target: &ResourceRequest,
    resource: &VirtualResource,
    request: Request,
) -> Result<Response, ApiError> {
    let described = &resource.info;
    let scoped = described.namespaced == target.namespaced_path;
    if !scoped || target.name.is_some() || target.subresource.is_some() || target.extra_segments {
        return Ok(response::not_found());
    }
    if info.verb != Verb::Create {
        return Err(ApiError::method_not_supported(&described.group_resource(), info.verb.as_str()));
    }
    let (parts, encoding, mut object) = create_only_body(request, state.max_body_bytes, &described.kind).await?;
    check_type(&mut object, described)?;
    let user = parts.extensions.get::<UserInfo>().cloned().unwrap_or_else(UserInfo::anonymous);
    let context = ReviewRequest { user, namespace: target.namespace.clone().filter(|_| described.namespaced) };
    let answered = (resource.handler)(state, &context, object).await?;
    Ok(response::value(StatusCode::CREATED, encoding, &answered))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn user_info_leaves_out_what_is_empty() {
        let user = UserInfo { name: "alice".into(), groups: vec!["g".into()], ..UserInfo::default() };
        assert_eq!(user_info(&user), json!({"username": "alice", "groups": ["g"]}));
        let extra = BTreeMap::from([("k".to_string(), vec!["v".to_string()])]);
        let user = UserInfo { name: "bob".into(), uid: "u".into(), groups: vec![], extra };
        assert_eq!(user_info(&user), json!({"username": "bob", "uid": "u", "extra": {"k": ["v"]}}));
    }

    #[tokio::test]
    async fn reviews_are_served_only_on_the_registries_given_them() {
        let registry = || async {
            let dir = tempfile::tempdir().unwrap();
            let options = crate::storage::EmbeddedOptions::new(dir.path());
            let store: crate::storage::SharedStore =
                Arc::new(crate::storage::EmbeddedStore::open(options).await.unwrap());
            (dir, Registry::new(store, crate::storage::KeySpace::default()))
        };
        let (_serving_dir, serving) = registry().await;
        let (_other_dir, other) = registry().await;
        assert!(serving.review("authentication.k8s.io", "v1", "selfsubjectreviews").is_none());
        let before = serving.generation();
        serve_on(&serving);
        assert_ne!(serving.generation(), before, "cached discovery and OpenAPI documents notice the reviews");
        let found = serving.review("authentication.k8s.io", "v1", "selfsubjectreviews").unwrap();
        assert_eq!(found.info.kind, "SelfSubjectReview");
        let plurals: Vec<String> = serving.reviews().iter().map(|r| r.info.plural.clone()).collect();
        assert_eq!(plurals.len(), 6, "{plurals:?}");
        assert!(plurals.contains(&"localsubjectaccessreviews".to_string()), "{plurals:?}");
        assert_eq!(verbs(&serving, &found.info, &["get", "list"]), &["create"]);
        assert_eq!(verbs(&other, &found.info, &["get", "list"]), &["get", "list"]);
        let stored = ResourceInfo::new("", "v1", "ConfigMap", "configmaps", true);
        assert_eq!(verbs(&serving, &stored, &["get"]), &["get"]);
        assert!(other.reviews().is_empty(), "another registry is not affected");
    }

    #[test]
    fn a_body_of_another_kind_is_refused() {
        let info = ResourceInfo::new("authentication.k8s.io", "v1", "TokenReview", "tokenreviews", false);
        let mut object = json!({});
        check_type(&mut object, &info).unwrap();
        assert_eq!(object["apiVersion"], "authentication.k8s.io/v1");
        assert_eq!(check_type(&mut json!({"kind": "Pod"}), &info).unwrap_err().code, 400);
        assert_eq!(check_type(&mut json!([]), &info).unwrap_err().code, 400);
    }
}
