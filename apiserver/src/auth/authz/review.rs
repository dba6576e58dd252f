//! The access review APIs (self/local/subject access reviews, self rules reviews) answered by the chain.

use std::collections::BTreeMap;

use k8s_openapi::api::{
    authorization::v1::{self as authorization, NonResourceRule, ResourceRule},
    rbac::v1::PolicyRule,
};
use serde_json::{Value, json};

use super::AuthorizerChain;
use crate::{
    auth::{Attributes, Decision, UserInfo, reviews::VirtualResource},
    machinery::{ApiError, FieldError},
    registry::{Registry, ResourceInfo},
    schema::KindSchema,
};

/// The API group of the review kinds.
pub const AUTHORIZATION_GROUP: &str = "authorization.k8s.io";

fn text(value: &Value, pointer: &str) -> String {
    value.pointer(pointer).and_then(Value::as_str).unwrap_or_default().to_string()
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value.and_then(Value::as_array).into_iter().flatten().filter_map(|v| v.as_str().map(str::to_string)).collect()
}

/// The errors of a review's `spec` (exactly one of resource/non-resource attributes; for SubjectAccessReviews
/// also a user or group).
fn validate_spec(spec: &Value, needs_subject: bool) -> Vec<FieldError> {
    let resource = spec.get("resourceAttributes").filter(|v| !v.is_null());
    let non_resource = spec.get("nonResourceAttributes").filter(|v| !v.is_null());
    let mut errors = Vec::new();
    match (resource, non_resource) {
        (Some(_), Some(other)) => errors.push(FieldError::invalid(
            "spec.nonResourceAttributes",
            other.clone(),
            "cannot be specified in combination with resourceAttributes",
        )),
        (None, None) => errors.push(FieldError::invalid(
            "spec.resourceAttributes",
            Value::Null,
            "exactly one of nonResourceAttributes or resourceAttributes must be specified",
        )),
        _ => {}
    }
    if needs_subject && text(spec, "/user").is_empty() && strings(spec.get("groups")).is_empty() {
        errors.push(FieldError::invalid("spec.user", "", "at least one of user or group must be specified"));
    }
    errors
}

/// The authorization attributes a review's `spec` describes for `user`.
pub fn spec_attributes(spec: &Value, user: UserInfo) -> Attributes {
    let mut attributes = Attributes { user, ..Attributes::default() };
    if let Some(resource) = spec.get("resourceAttributes").filter(|v| v.is_object()) {
        attributes.resource_request = true;
        attributes.verb = text(resource, "/verb");
        attributes.namespace = text(resource, "/namespace");
        attributes.api_group = text(resource, "/group");
        attributes.api_version = text(resource, "/version");
        attributes.resource = text(resource, "/resource");
        attributes.subresource = text(resource, "/subresource");
        attributes.name = text(resource, "/name");
    } else if let Some(non_resource) = spec.get("nonResourceAttributes") {
        attributes.verb = text(non_resource, "/verb");
        attributes.path = text(non_resource, "/path");
    }
    attributes
}

/// The user a SubjectAccessReview's spec names.
fn spec_user(spec: &Value) -> UserInfo {
    let extra = spec
        .get("extra")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(key, values)| (key.clone(), strings(Some(values))))
        .collect::<BTreeMap<_, _>>();
    UserInfo { name: text(spec, "/user"), uid: text(spec, "/uid"), groups: strings(spec.get("groups")), extra }
}

/// The review answered: the posted object with `status` set from the chain's decision.
async fn answer(chain: &AuthorizerChain, mut review: Value, attributes: &Attributes) -> Value {
    let status = match chain.authorize(attributes).await {
        Decision::Allow(reason) => json!({"allowed": true, "reason": reason}),
        Decision::Deny(reason) => json!({"allowed": false, "denied": true, "reason": reason}),
        Decision::NoOpinion(reason) => json!({"allowed": false, "reason": reason}),
        Decision::Error(error) => json!({"allowed": false, "evaluationError": error}),
    };
    let status = strip_empty(status);
    if let Some(fields) = review.as_object_mut() {
        fields.insert("status".into(), status);
        fields.entry("metadata").or_insert_with(|| json!({"creationTimestamp": null}));
    }
    review
}

/// Drops empty-string fields (Kubernetes omits them).
fn strip_empty(mut value: Value) -> Value {
    if let Some(fields) = value.as_object_mut() {
        fields.retain(|_, v| v.as_str() != Some(""));
    }
    value
}

fn spec_of(review: &Value) -> Value {
    review.get("spec").cloned().unwrap_or_else(|| json!({}))
}

/// `POST /apis/authorization.k8s.io/v1/subjectaccessreviews`: may the user in `spec` do what `spec` says?
///
/// # Errors
/// 422 for a spec without attributes or without a subject.
pub async fn subject_access_review(chain: &AuthorizerChain, review: Value) -> Result<Value, ApiError> {
    let spec = spec_of(&review);
    let errors = validate_spec(&spec, true);
    if !errors.is_empty() {
        return Err(ApiError::invalid("SubjectAccessReview", AUTHORIZATION_GROUP, "", &errors));
    }
    let attributes = spec_attributes(&spec, spec_user(&spec));
    Ok(answer(chain, review, &attributes).await)
}

/// `POST /apis/authorization.k8s.io/v1/namespaces/{namespace}/localsubjectaccessreviews`: a SubjectAccessReview
/// confined to `namespace`.
///
/// # Errors
/// 422 for an invalid spec (non-resource attributes are not allowed), 400 when the spec names another namespace.
pub async fn local_subject_access_review(
    chain: &AuthorizerChain,
    namespace: &str,
    review: Value,
) -> Result<Value, ApiError> {
    let spec = spec_of(&review);
    let mut errors = validate_spec(&spec, true);
    if let Some(other) = spec.get("nonResourceAttributes").filter(|v| !v.is_null()) {
        errors.push(FieldError::invalid(
            "spec.nonResourceAttributes",
            other.clone(),
            "disallowed on this kind of request",
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::invalid("LocalSubjectAccessReview", AUTHORIZATION_GROUP, "", &errors));
    }
    if text(&spec, "/resourceAttributes/namespace") != namespace {
        return Err(ApiError::bad_request(format!(
            "spec.resourceAttributes.namespace must match namespace: {namespace}"
        )));
    }
    let attributes = spec_attributes(&spec, spec_user(&spec));
    Ok(answer(chain, review, &attributes).await)
}

/// `POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews`: may the requesting `user` do what `spec` says
/// (`kubectl auth can-i`)?
///
/// # Errors
/// 422 for a spec without attributes.
pub async fn self_subject_access_review(
    chain: &AuthorizerChain,
    user: &UserInfo,
    review: Value,
) -> Result<Value, ApiError> {
    let spec = spec_of(&review);
    let errors = validate_spec(&spec, false);
    if !errors.is_empty() {
        return Err(ApiError::invalid("SelfSubjectAccessReview", AUTHORIZATION_GROUP, "", &errors));
    }
    let attributes = spec_attributes(&spec, user.clone());
    Ok(answer(chain, review, &attributes).await)
}

fn resource_rule(rule: &PolicyRule) -> ResourceRule {
    ResourceRule {
        verbs: rule.verbs.clone(),
        api_groups: rule.api_groups.clone(),
        resources: rule.resources.clone(),
        resource_names: rule.resource_names.clone(),
    }
}

fn non_resource_rule(rule: &PolicyRule) -> NonResourceRule {
    NonResourceRule { verbs: rule.verbs.clone(), non_resource_urls: rule.non_resource_urls.clone() }
}

/// `POST /apis/authorization.k8s.io/v1/selfsubjectrulesreviews`: what may the requesting `user` do in
/// `spec.namespace` (`kubectl auth can-i --list`)?
///
/// # Errors
/// 400 without a namespace.
pub fn self_subject_rules_review(
    chain: &AuthorizerChain,
    user: &UserInfo,
    mut review: Value,
) -> Result<Value, ApiError> {
    let namespace = text(&review, "/spec/namespace");
    if namespace.is_empty() {
        return Err(ApiError::bad_request("no namespace on request"));
    }
    let rules = chain.rules_for(user, &namespace);
    let resource_rules: Vec<ResourceRule> = rules.resource_rules.iter().map(resource_rule).collect();
    let non_resource_rules: Vec<NonResourceRule> = rules.non_resource_rules.iter().map(non_resource_rule).collect();
    let mut status = json!({
        "resourceRules": resource_rules,
        "nonResourceRules": non_resource_rules,
        "incomplete": rules.incomplete,
    });
    if !rules.evaluation_error.is_empty() {
        status["evaluationError"] = json!(rules.evaluation_error);
    }
    if let Some(fields) = review.as_object_mut() {
        fields.insert("status".into(), status);
        fields.entry("metadata").or_insert_with(|| json!({"creationTimestamp": null}));
    }
    Ok(review)
}

/// Serves the four `authorization.k8s.io/v1` review kinds on `registry`.
pub fn serve_on(registry: &Registry) {
    let info = |kind: &str, plural: &str, namespaced: bool| {
        ResourceInfo::new(AUTHORIZATION_GROUP, "v1", kind, plural, namespaced)
    };
    registry.serve_review(VirtualResource {
        info: info("SelfSubjectAccessReview", "selfsubjectaccessreviews", false),
        schema: KindSchema::builtin::<authorization::SelfSubjectAccessReview>,
        handler: |state, request, object| {
            Box::pin(self_subject_access_review(&state.auth.authorizer, &request.user, object))
        },
    });
    registry.serve_review(VirtualResource {
        info: info("SelfSubjectRulesReview", "selfsubjectrulesreviews", false),
        schema: KindSchema::builtin::<authorization::SelfSubjectRulesReview>,
        handler: |state, request, object| {
            Box::pin(async move { self_subject_rules_review(&state.auth.authorizer, &request.user, object) })
        },
    });
    registry.serve_review(VirtualResource {
        info: info("SubjectAccessReview", "subjectaccessreviews", false),
        schema: KindSchema::builtin::<authorization::SubjectAccessReview>,
        handler: |state, _, object| Box::pin(subject_access_review(&state.auth.authorizer, object)),
    });
    registry.serve_review(VirtualResource {
        info: info("LocalSubjectAccessReview", "localsubjectaccessreviews", true),
        schema: KindSchema::builtin::<authorization::LocalSubjectAccessReview>,
        handler: |state, request, object| {
            let namespace = request.namespace.as_deref().unwrap_or_default();
            Box::pin(local_subject_access_review(&state.auth.authorizer, namespace, object))
        },
    });
}
