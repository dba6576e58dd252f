//! Resource requests: scope and method checks, then each verb over the resource's generic store.

use std::sync::Arc;

use axum::{body::Body, extract::Request, response::Response};
use bytes::Bytes;
use http::{HeaderMap, StatusCode, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde_json::Value;

use super::{
    ApiState, RequestInfo, ResourceRequest, Verb,
    response::{self, Encoding},
    warnings, watch,
};
use crate::{
    auth::UserInfo,
    machinery::{
        ApiError, Object, fields,
        media::{self, Negotiated, Supported},
        options,
    },
    patch::PatchType,
    registry::{DeleteOutcome, RequestContext, ResourceInfo, ResourceStore, subresource},
};

/// The most of an oversized body read (and thrown away) so the client sees the 413 instead of a reset connection.
const DISCARD_LIMIT: usize = 64 * 1024 * 1024;

/// Serves a request for a resource path.
pub async fn serve(state: &ApiState, info: &RequestInfo, target: &ResourceRequest, request: Request) -> Response {
    match serve_checked(state, info, target, request).await {
        Ok(response) => response,
        Err(error) => response::error(&error),
    }
}

/// The namespace argument of store calls, or `None` when the path shape does not exist for this resource.
fn scope(info: &ResourceInfo, target: &ResourceRequest) -> Option<Option<String>> {
    match (info.namespaced, target.namespaced_path) {
        (true, true) => Some(target.namespace.clone()),
        // A namespaced resource outside a namespace: only its collection (list/watch across namespaces).
        (true, false) if target.name.is_none() => Some(None),
        (true, false) => None,
        (false, false) => Some(None),
        (false, true) => None,
    }
}

async fn serve_checked(
    state: &ApiState,
    request_info: &RequestInfo,
    target: &ResourceRequest,
    request: Request,
) -> Result<Response, ApiError> {
    let Some(store) = state.registry.lookup(&target.group, &target.version, &target.resource) else {
        return Ok(response::not_found());
    };
    let info = store.info().clone();
    if let Some(connect) =
        target.subresource.as_deref().and_then(|s| state.registry.connect(&info.group, &info.plural, s))
    {
        return serve_connect(state, request_info, target, store, &connect, request).await;
    }
    let Some(namespace) = scope(&info, target).filter(|_| !target.extra_segments) else {
        return Ok(response::not_found());
    };
    let subresource = target.subresource.as_deref();
    if subresource.is_some_and(|s| s != "status" || !info.status_subresource) {
        return Ok(response::not_found());
    }
    let verb = &request_info.verb;
    let allowed = match (subresource, target.name.is_some()) {
        (Some(_), _) => matches!(verb, Verb::Get | Verb::Update | Verb::Patch),
        (None, true) => matches!(verb, Verb::Get | Verb::Update | Verb::Patch | Verb::Delete | Verb::Watch),
        (None, false) => match verb {
            Verb::List | Verb::Watch => true,
            Verb::Create | Verb::DeleteCollection => !info.namespaced || target.namespaced_path,
            _ => false,
        },
    };
    if !allowed {
        return Err(ApiError::method_not_supported(&info.group_resource(), verb.as_str()));
    }

    let (parts, body) = request.into_parts();
    let query = parts.uri.query().unwrap_or("");
    let headers = &parts.headers;
    let call = Call {
        state,
        store,
        namespace: namespace.as_deref(),
        name: target.name.as_deref().unwrap_or_default(),
        subresource,
        query,
        headers,
        context: RequestContext::for_agent(header_str(headers, header::USER_AGENT)),
    };
    let result = match verb {
        Verb::Get => call.get().await,
        Verb::List => call.list().await,
        Verb::Watch => call.watch(request_info, target).await,
        Verb::Create => call.create(body).await,
        Verb::Update => call.update(body).await,
        Verb::Patch => call.patch(body).await,
        Verb::Delete => call.delete(body).await,
        Verb::DeleteCollection => call.delete_collection(body).await,
        Verb::Other(_) => Err(ApiError::method_not_supported(&info.group_resource(), verb.as_str())),
    };
    for warning in call.context.warnings.list() {
        warnings::warn(warning);
    }
    result
}

/// Hands a connect subresource request (`clusters/<name>/proxy/...`) to its registered handler, after the scope,
/// name, path and method checks.
async fn serve_connect(
    state: &ApiState,
    request_info: &RequestInfo,
    target: &ResourceRequest,
    store: Arc<ResourceStore>,
    connect: &subresource::Connect,
    request: Request,
) -> Result<Response, ApiError> {
    let info = store.info();
    let namespace = match scope(info, target) {
        Some(namespace) if target.name.is_some() && (connect.subpath || !target.extra_segments) => namespace,
        _ => return Ok(response::not_found()),
    };
    if !connect.methods.contains(request.method()) {
        return Err(ApiError::new(
            405,
            crate::machinery::StatusReason::MethodNotAllowed,
            "the server does not allow this method on the requested resource",
        ));
    }
    let user = request.extensions().get::<UserInfo>().cloned().unwrap_or_else(UserInfo::anonymous);
    let connect_request = subresource::ConnectRequest {
        state: state.clone(),
        namespace,
        name: target.name.clone().unwrap_or_default(),
        subresource: connect.subresource.clone(),
        path: target.subpath.clone(),
        query: request.uri().query().unwrap_or_default().to_string(),
        verb: request_info.verb.clone(),
        user,
        request,
        store,
    };
    (connect.handler)(connect_request).await
}

/// One resource request, parsed.
struct Call<'a> {
    state: &'a ApiState,
    store: Arc<ResourceStore>,
    namespace: Option<&'a str>,
    name: &'a str,
    subresource: Option<&'a str>,
    query: &'a str,
    headers: &'a HeaderMap,
    context: RequestContext,
}

impl Call<'_> {
    fn info(&self) -> &ResourceInfo {
        self.store.info()
    }

    /// Negotiates the response; `is_list` for list-shaped answers.
    fn negotiate(&self, supported: Supported, is_list: Option<bool>) -> Result<Negotiated, ApiError> {
        let negotiated = media::negotiate(self.header(header::ACCEPT), supported, self.query)?;
        if let Some(is_list) = is_list {
            negotiated.check_list(is_list)?;
        }
        Ok(negotiated)
    }

    fn header(&self, name: header::HeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn encoding(&self, negotiated: &Negotiated) -> Encoding {
        Encoding::of(negotiated, &self.context.user_agent)
    }

    fn respond_object(&self, status: StatusCode, negotiated: &Negotiated, object: &Object) -> Response {
        response::object(status, negotiated, self.encoding(negotiated), self.store.strategy().as_ref(), object)
    }

    /// The field manager of a non-apply write: `fieldManager`, else the User-Agent's program name.
    fn default_manager(&self, manager: Option<String>) -> Option<String> {
        let manager = options::field_manager_or_user_agent(manager.as_deref(), &self.context.user_agent);
        (!manager.is_empty()).then_some(manager)
    }

    async fn get(&self) -> Result<Response, ApiError> {
        let negotiated = self.negotiate(Supported::OBJECTS, Some(false))?;
        let object = self.store.get(self.namespace, self.name, &options::get_options(self.query)?).await?;
        Ok(self.respond_object(StatusCode::OK, &negotiated, &object))
    }

    async fn list(&self) -> Result<Response, ApiError> {
        let negotiated = self.negotiate(Supported::OBJECTS, Some(true))?;
        let options = options::list_options(self.query)?;
        let list = self.store.list(self.namespace, &options).await?;
        let strategy = self.store.strategy().as_ref();
        Ok(response::list(StatusCode::OK, &negotiated, self.encoding(&negotiated), strategy, &list))
    }

    async fn watch(&self, request_info: &RequestInfo, target: &ResourceRequest) -> Result<Response, ApiError> {
        let negotiated = self.negotiate(Supported::WATCH, None)?;
        let mut options =
            if target.legacy_watch { options::watch_options(self.query)? } else { options::list_options(self.query)? };
        options.watch = true;
        if let Some(name) = target.name.as_deref() {
            match options.field_selector.required_value("metadata.name") {
                Some(selected) if selected != name => {
                    return Err(ApiError::bad_request("fieldSelector metadata.name doesn't match requested name"));
                }
                Some(_) => {}
                None => options
                    .field_selector
                    .requirements
                    .push(fields::Requirement::Equals("metadata.name".into(), name.into())),
            }
        }
        let events = self.store.watch(self.namespace, &options).await?;
        let guard = self.state.metrics.longrunning(&request_info.metric_label(false));
        let encoder = watch::WatchEncoder::new(Arc::clone(&self.store), negotiated.target);
        let deadline = watch::deadline(options.timeout_seconds);
        Ok(watch::respond(events, encoder, deadline, self.state.drain.clone(), guard))
    }

    /// Decodes a create or update body as an object of this resource's type.
    async fn object_body(&self, body: Body) -> Result<Object, ApiError> {
        let body = read_body(body, self.headers, self.state.max_body_bytes).await?;
        let mut object = media::decode_body_as(self.header(header::CONTENT_TYPE), &body, &self.info().kind)?;
        check_type(&mut object, self.info())?;
        Ok(object)
    }

    async fn create(&self, body: Body) -> Result<Response, ApiError> {
        let negotiated = self.negotiate(Supported::OBJECTS, Some(false))?;
        let mut options = options::create_options(self.query)?;
        options.field_manager = self.default_manager(options.field_manager);
        let mut object = self.object_body(body).await?;
        ensure_namespace(&mut object, self.namespace)?;
        let created = self.store.create(&self.context, self.namespace, object, &options).await?;
        Ok(self.respond_object(StatusCode::CREATED, &negotiated, &created))
    }

    async fn update(&self, body: Body) -> Result<Response, ApiError> {
        let negotiated = self.negotiate(Supported::OBJECTS, Some(false))?;
        let mut options = options::update_options(self.query)?;
        options.field_manager = self.default_manager(options.field_manager);
        let mut object = self.object_body(body).await?;
        check_name(&object, self.name, self.namespace)?;
        ensure_namespace(&mut object, self.namespace)?;
        let (object, created) =
            self.store.update(&self.context, self.namespace, self.name, object, self.subresource, &options).await?;
        let status = if created { StatusCode::CREATED } else { StatusCode::OK };
        Ok(self.respond_object(status, &negotiated, &object))
    }

    async fn patch(&self, body: Body) -> Result<Response, ApiError> {
        let negotiated = self.negotiate(Supported::OBJECTS, Some(false))?;
        let content_type = self.header(header::CONTENT_TYPE).unwrap_or_default();
        let smp = self.store.strategy().merge_schema().is_some();
        let patch_type = PatchType::from_content_type(content_type)
            .filter(|t| *t != PatchType::StrategicMerge || smp)
            .ok_or_else(|| unsupported_patch(smp))?;
        let mut options = options::patch_options(self.query, patch_type == PatchType::Apply)?;
        if patch_type != PatchType::Apply {
            options.field_manager = self.default_manager(options.field_manager);
        }
        let body = read_body(body, self.headers, self.state.max_body_bytes).await?;
        let (object, created) = self
            .store
            .patch(&self.context, self.namespace, self.name, patch_type, &body, self.subresource, &options)
            .await?;
        let status = if created { StatusCode::CREATED } else { StatusCode::OK };
        Ok(self.respond_object(status, &negotiated, &object))
    }

    async fn delete(&self, body: Body) -> Result<Response, ApiError> {
        let negotiated = self.negotiate(Supported::OBJECTS, Some(false))?;
        let body = read_body(body, self.headers, self.state.max_body_bytes).await?;
        let options = options::delete_options(self.query, Some(&body))?;
        let accepted = options.orphan_dependents == Some(false);
        match self.store.delete(&self.context, self.namespace, self.name, &options).await? {
            DeleteOutcome::Deleted(object) => {
                let status = response::delete_success(self.info(), &object);
                Ok(response::value(StatusCode::OK, self.encoding(&negotiated), &status))
            }
            DeleteOutcome::Pending(object) => {
                let status = if accepted { StatusCode::ACCEPTED } else { StatusCode::OK };
                Ok(self.respond_object(status, &negotiated, &object))
            }
        }
    }

    async fn delete_collection(&self, body: Body) -> Result<Response, ApiError> {
        let negotiated = self.negotiate(Supported::OBJECTS, Some(true))?;
        let body = read_body(body, self.headers, self.state.max_body_bytes).await?;
        // `resourceVersion` here is the list's, not a delete precondition.
        let delete_query: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(
                form_urlencoded::parse(self.query.as_bytes()).filter(|(k, _)| k != "resourceVersion" && k != "uid"),
            )
            .finish();
        let options = options::delete_options(&delete_query, Some(&body))?;
        let list = options::list_options(self.query)?;
        let deleted = self.store.delete_collection(&self.context, self.namespace, &list, &options).await?;
        let strategy = self.store.strategy().as_ref();
        Ok(response::list(StatusCode::OK, &negotiated, self.encoding(&negotiated), strategy, &deleted))
    }
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> &str {
    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

/// 415 for a patch Content-Type this resource does not take, listing those it does.
fn unsupported_patch(strategic: bool) -> ApiError {
    let mut accepted =
        vec!["application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"];
    if strategic {
        accepted.push("application/strategic-merge-patch+json");
    }
    ApiError::new(
        415,
        crate::machinery::StatusReason::UnsupportedMediaType,
        format!(
            "the body of the request was in an unknown format - accepted media types include: {}",
            accepted.join(", ")
        ),
    )
}

/// Reads the whole body, refusing (413) more than `limit` bytes (by its `Content-Length` before reading, when given).
pub(crate) async fn read_body(body: Body, headers: &HeaderMap, limit: usize) -> Result<Bytes, ApiError> {
    let too_large = || ApiError::too_large(format!("Request entity too large: limit is {limit}"));
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        discard(body).await;
        return Err(too_large());
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<LengthLimitError>() => Err(too_large()),
        Err(error) => Err(ApiError::bad_request(format!("reading the request body: {error}"))),
    }
}

/// The body of a create-only endpoint (the review APIs, TokenRequest) decoded as `kind`, with the request's parts
/// and the encoding its `Accept` header asks the answer in (JSON or YAML).
pub(crate) async fn create_only_body(
    request: Request,
    limit: usize,
    kind: &str,
) -> Result<(http::request::Parts, Encoding, Object), ApiError> {
    let (parts, body) = request.into_parts();
    let header = |name: header::HeaderName| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let supported = Supported { yaml: true, ..Supported::JSON };
    let negotiated = media::negotiate(header(header::ACCEPT), supported, parts.uri.query().unwrap_or(""))?;
    let encoding = Encoding::of(&negotiated, header(header::USER_AGENT).unwrap_or_default());
    let body = read_body(body, &parts.headers, limit).await?;
    let object = media::decode_body_as(header(header::CONTENT_TYPE), &body, kind)?;
    Ok((parts, encoding, object))
}

/// Reads and drops up to [`DISCARD_LIMIT`] bytes of a refused body, so HTTP/1.1 clients still writing it read the
/// answer instead of a connection reset.
async fn discard(body: Body) {
    let _ = Limited::new(body, DISCARD_LIMIT).collect().await;
}

/// Fills a missing `apiVersion`/`kind` from the endpoint and refuses (400) ones that name something else, and a
/// body that is not an object.
pub(crate) fn check_type(object: &mut Object, info: &ResourceInfo) -> Result<(), ApiError> {
    if !object.is_object() {
        return Err(ApiError::bad_request(format!("the body of a {} must be an object", info.kind)));
    }
    let expected_version = info.api_version();
    match object.get("apiVersion") {
        None | Some(Value::Null) => object["apiVersion"] = Value::String(expected_version.clone()),
        Some(Value::String(version)) if version.is_empty() => object["apiVersion"] = expected_version.clone().into(),
        Some(Value::String(version)) if *version == expected_version => {}
        Some(Value::String(version)) => {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({version}) does not match the expected API version ({expected_version})"
            )));
        }
        Some(other) => return Err(ApiError::bad_request(format!("apiVersion must be a string, not {other}"))),
    }
    match object.get("kind") {
        None | Some(Value::Null) => object["kind"] = Value::String(info.kind.clone()),
        Some(Value::String(kind)) if kind.is_empty() => object["kind"] = info.kind.clone().into(),
        Some(Value::String(kind)) if *kind == info.kind => {}
        Some(Value::String(kind)) => {
            return Err(ApiError::bad_request(format!(
                "{kind} in version \"{}\" cannot be handled as a {}: the kind of the object does not match the resource",
                info.version, info.kind
            )));
        }
        Some(other) => return Err(ApiError::bad_request(format!("kind must be a string, not {other}"))),
    }
    Ok(())
}

/// The name in an update's body must be the one in the URL, and its namespace (if any) the URL's.
fn check_name(object: &Object, name: &str, namespace: Option<&str>) -> Result<(), ApiError> {
    let object_name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
    if object_name != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({object_name}) does not match the name on the URL ({name})"
        )));
    }
    let object_namespace = object.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or_default();
    if let Some(namespace) = namespace
        && !object_namespace.is_empty()
        && object_namespace != namespace
    {
        return Err(ApiError::bad_request(format!(
            "the namespace of the object ({object_namespace}) does not match the namespace on the request ({namespace})"
        )));
    }
    Ok(())
}

/// Sets an unset namespace from the request, clears it for cluster-scoped resources, refuses a different one (400).
fn ensure_namespace(object: &mut Object, namespace: Option<&str>) -> Result<(), ApiError> {
    let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) else {
        if let (Some(namespace), Some(map)) = (namespace, object.as_object_mut())
            && !map.contains_key("metadata")
        {
            map.insert("metadata".into(), serde_json::json!({"namespace": namespace}));
        }
        return Ok(());
    };
    let requested = namespace.unwrap_or_default();
    let current = metadata.get("namespace").and_then(Value::as_str).unwrap_or_default();
    if current == requested {
        return Ok(());
    }
    if current.is_empty() {
        metadata.insert("namespace".into(), requested.into());
    } else if requested.is_empty() {
        metadata.remove("namespace");
    } else {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn deployments() -> ResourceInfo {
        ResourceInfo::new("apps", "v1", "Deployment", "deployments", true)
    }

    #[test]
    fn a_body_without_type_gets_the_endpoints_type_and_a_wrong_one_is_refused() {
        let mut object = json!({"metadata": {"name": "web"}});
        check_type(&mut object, &deployments()).unwrap();
        assert_eq!((object["apiVersion"].as_str(), object["kind"].as_str()), (Some("apps/v1"), Some("Deployment")));
        let error = check_type(&mut json!({"apiVersion": "apps/v1beta1"}), &deployments()).unwrap_err();
        assert_eq!(error.code, 400);
        assert_eq!(
            error.message,
            "the API version in the data (apps/v1beta1) does not match the expected API version (apps/v1)"
        );
        let error =
            check_type(&mut json!({"apiVersion": "apps/v1", "kind": "StatefulSet"}), &deployments()).unwrap_err();
        assert_eq!(error.code, 400);
        assert!(check_type(&mut json!({"kind": 7}), &deployments()).is_err());
    }

    #[test]
    fn an_update_body_must_name_the_object_in_the_url() {
        let object = json!({"metadata": {"name": "a", "namespace": "x"}});
        assert!(check_name(&object, "a", Some("x")).is_ok());
        let error = check_name(&object, "b", Some("x")).unwrap_err();
        assert_eq!(error.message, "the name of the object (a) does not match the name on the URL (b)");
        assert_eq!(check_name(&object, "a", Some("y")).unwrap_err().code, 400);
    }

    #[test]
    fn the_request_namespace_fills_or_must_match_the_objects() {
        let mut object = json!({"metadata": {"name": "a"}});
        ensure_namespace(&mut object, Some("web")).unwrap();
        assert_eq!(object["metadata"]["namespace"], "web");
        let mut other = json!({"metadata": {"name": "a", "namespace": "db"}});
        let error = ensure_namespace(&mut other, Some("web")).unwrap_err();
        assert_eq!(
            error.message,
            "the namespace of the provided object does not match the namespace sent on the request"
        );
        let mut cluster = json!({"metadata": {"name": "a", "namespace": "db"}});
        ensure_namespace(&mut cluster, None).unwrap();
        assert!(cluster["metadata"].get("namespace").is_none());
        let mut bare = json!({});
        ensure_namespace(&mut bare, Some("web")).unwrap();
        assert_eq!(bare["metadata"]["namespace"], "web");
    }

    #[tokio::test]
    async fn bodies_over_the_limit_are_413() {
        let mut headers = HeaderMap::new();
        let error = read_body(Body::from(vec![b'x'; 2048]), &headers, 1024).await.unwrap_err();
        assert_eq!((error.code, error.message.as_str()), (413, "Request entity too large: limit is 1024"));
        headers.insert(header::CONTENT_LENGTH, "4096".parse().unwrap());
        assert_eq!(read_body(Body::from(vec![b'x'; 4096]), &headers, 1024).await.unwrap_err().code, 413);
        assert_eq!(read_body(Body::from("{}"), &HeaderMap::new(), 1024).await.unwrap(), Bytes::from_static(b"{}"));
    }
}
