//! The request filter every request passes before it is served: authenticate, then authorize.

use axum::{
    extract::{Request, State},
    middleware::Next,
    response::Response,
};

use super::{Attributes, Decision, UserInfo};
use crate::{
    http::{ApiState, RequestInfo, Target, response},
    machinery::ApiError,
};

/// Authenticates the request (401 on bad credentials), authorizes it (403 unless allowed), then records the user
/// in the request's extensions for the handlers.
pub async fn filter(State(state): State<ApiState>, mut request: Request, next: Next) -> Response {
    let user = match state.auth.authenticator.authenticate(&mut request).await {
        Ok(user) => user,
        Err(error) => return response::error(&error),
    };
    let info = match request.extensions().get::<RequestInfo>() {
        Some(info) => info.clone(),
        None => RequestInfo::parse(request.method(), request.uri().path(), request.uri().query().unwrap_or("")),
    };
    let attributes = attributes(&info, &user, request.uri().path());
    match state.auth.authorizer.authorize(&attributes).await {
        Decision::Allow(_) => {}
        Decision::Deny(reason) | Decision::NoOpinion(reason) => {
            return response::error(&ApiError::forbidden(forbidden_message(&attributes, &reason)));
        }
    }
    request.extensions_mut().insert(user);
    next.run(request).await
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

/// kube-apiserver's 403 message: user, verb, resource (with group) and namespace, then the authorizer's reason.
pub fn forbidden_message(attributes: &Attributes, reason: &str) -> String {
    let user = &attributes.user.name;
    let verb = &attributes.verb;
    let mut message = if !attributes.resource_request {
        format!("forbidden: User \"{user}\" cannot {verb} path \"{}\"", attributes.path)
    } else {
        let mut resource = attributes.resource.clone();
        if !attributes.subresource.is_empty() {
            resource = format!("{resource}/{}", attributes.subresource);
        }
        let group = &attributes.api_group;
        let mut text = format!("User \"{user}\" cannot {verb} resource \"{resource}\" in API group \"{group}\"");
        if !attributes.namespace.is_empty() {
            text.push_str(&format!(" in the namespace \"{}\"", attributes.namespace));
        } else {
            text.push_str(" at the cluster scope");
        }
        let object =
            if attributes.name.is_empty() { resource.clone() } else { format!("{resource} \"{}\"", attributes.name) };
        let object =
            if group.is_empty() { object } else { object.replacen(&resource, &format!("{resource}.{group}"), 1) };
        format!("{object} is forbidden: {text}")
    };
    if !reason.is_empty() {
        message.push_str(&format!(": {reason}"));
    }
    message
}
