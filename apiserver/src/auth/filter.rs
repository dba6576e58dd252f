//! The request filter every request passes before it is served: authenticate, then authorize.

use axum::{
    extract::{Request, State},
    middleware::Next,
    response::Response,
};

use super::{Attributes, Decision, UserInfo, authn::impersonation};
use crate::{
    http::{ApiState, RequestInfo, Target, response},
    machinery::ApiError,
};

/// Authenticates the request (401 on bad credentials), applies impersonation (403 unless allowed), authorizes it
/// (403 unless allowed), then records the user in the request's extensions for the handlers.
pub async fn filter(State(state): State<ApiState>, mut request: Request, next: Next) -> Response {
    let user = match state.auth.authenticator.authenticate(&mut request).await {
        Ok(user) => user,
        Err(error) => return response::error(&error),
    };
    let user = match impersonation::impersonate(&state.auth.authorizer, user, request.headers_mut()).await {
        Ok(user) => user,
        Err(error) => return response::error(&error),
    };
    let info = match request.extensions().get::<RequestInfo>() {
        Some(info) => info.clone(),
        None => RequestInfo::parse(request.method(), request.uri().path(), request.uri().query().unwrap_or("")),
    };
    let mut attributes = attributes(&info, &user, request.uri().path());
    name_from_field_selector(&mut attributes, request.uri().query().unwrap_or(""));
    match state.auth.authorizer.authorize(&attributes).await {
        Decision::Allow(_) => {}
        Decision::Deny(reason) | Decision::NoOpinion(reason) => {
            return response::error(&forbidden_error(&attributes, &reason));
        }
        Decision::Error(error) => return response::error(&ApiError::internal(error)),
    }
    request.extensions_mut().insert(user.clone());
    super::authz::escalation::with_requestor(user, next.run(request)).await
}

/// The authorization attributes of a parsed request.
pub fn attributes(info: &RequestInfo, user: &UserInfo, path: &str) -> Attributes {
    let mut attributes = Attributes {
        user: user.clone(),
        verb: info.verb.as_str().to_string(),
        path: path.into(),
        ..Default::default()
    };
    if let Target::Resource(target) = &info.target {
        attributes.resource_request = true;
        attributes.namespace = target.namespace.clone().unwrap_or_default();
        attributes.api_group = target.group.clone();
        attributes.api_version = target.version.clone();
        attributes.resource = target.resource.clone();
        attributes.subresource = target.subresource.clone().unwrap_or_default();
        attributes.name = target.name.clone().unwrap_or_default();
    }
    attributes
}

/// A list or watch selecting one object by `fieldSelector=metadata.name=<name>` is about that object, as kube's
/// request info sees it (so RBAC `resourceNames` apply to `kubectl get <kind> <name> --watch`).
fn name_from_field_selector(attributes: &mut Attributes, query: &str) {
    if !attributes.resource_request
        || !attributes.name.is_empty()
        || !matches!(attributes.verb.as_str(), "list" | "watch")
    {
        return;
    }
    let Ok(options) = crate::machinery::options::list_options(query) else { return };
    let Some(name) = options.field_selector.required_value("metadata.name") else { return };
    let valid = !name.is_empty() && name != "." && name != ".." && !name.contains('/') && !name.contains('%');
    if valid {
        attributes.name = name.to_string();
    }
}

/// kube-apiserver's 403: `<resource>[.<group>] ["<name>"] is forbidden: <message>` for resource requests (the
/// subresource only in the message), `forbidden: <message>` for paths; details name group, resource and object.
pub fn forbidden_error(attributes: &Attributes, reason: &str) -> ApiError {
    let message = forbidden_message(attributes, reason);
    let mut error = ApiError::forbidden(message);
    let mut details = serde_json::Map::new();
    if !attributes.name.is_empty() {
        details.insert("name".into(), attributes.name.clone().into());
    }
    if attributes.resource_request {
        if !attributes.api_group.is_empty() {
            details.insert("group".into(), attributes.api_group.clone().into());
        }
        details.insert("kind".into(), attributes.resource.clone().into());
    }
    error.details = Some(serde_json::Value::Object(details));
    error
}

/// kube-apiserver's 403 message: user, verb, resource (with group) and namespace, then the authorizer's reason.
pub fn forbidden_message(attributes: &Attributes, reason: &str) -> String {
    let user = &attributes.user.name;
    let verb = &attributes.verb;
    let mut why = if !attributes.resource_request {
        format!("User {user:?} cannot {verb} path {:?}", attributes.path)
    } else {
        let mut resource = attributes.resource.clone();
        if !attributes.subresource.is_empty() {
            resource = format!("{resource}/{}", attributes.subresource);
        }
        let group = &attributes.api_group;
        let scope = if attributes.namespace.is_empty() {
            "at the cluster scope".to_string()
        } else {
            format!("in the namespace {:?}", attributes.namespace)
        };
        format!("User {user:?} cannot {verb} resource {resource:?} in API group {group:?} {scope}")
    };
    if !reason.is_empty() {
        why.push_str(&format!(": {reason}"));
    }
    if !attributes.resource_request {
        return format!("forbidden: {why}");
    }
    let qualified = if attributes.api_group.is_empty() {
        attributes.resource.clone()
    } else {
        format!("{}.{}", attributes.resource, attributes.api_group)
    };
    if attributes.name.is_empty() {
        format!("{qualified} is forbidden: {why}")
    } else {
        format!("{qualified} {:?} is forbidden: {why}", attributes.name)
    }
}
