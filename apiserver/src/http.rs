//! The Kubernetes HTTP API: routing, verbs over the registry, negotiation, watch streams, discovery, health.

pub mod discovery;
mod handlers;
pub mod inflight;
pub mod openapi;
pub mod request_info;
pub mod response;
pub mod table;
pub mod warnings;
pub mod watch;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::Body,
    extract::{Request, State},
    middleware::{self, Next},
    response::Response,
};
use http::{HeaderValue, Method, StatusCode, header};

pub(crate) use handlers::{check_type, create_only_body, read_body};
pub use request_info::{RequestInfo, ResourceRequest, Target, Verb};

use crate::{
    machinery::{ApiError, StatusReason},
    registry::Registry,
    server::{
        Drain, ServerOptions, health,
        metrics::{self, Metrics},
        version,
    },
};

/// Everything a request handler needs; cheap to clone.
#[derive(Clone)]
pub struct ApiState {
    /// The served resources.
    pub registry: Registry,
    /// Metrics to record into and to serve on `/metrics`.
    pub metrics: Arc<Metrics>,
    /// Set when the server drains: watches end, readiness fails.
    pub drain: Drain,
    /// Timeout of non-watch requests.
    pub request_timeout: Duration,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Max-in-flight limits (429 when exceeded).
    pub inflight: inflight::InflightLimits,
    /// Authentication and authorization of every request.
    pub auth: Arc<crate::auth::Auth>,
}

impl ApiState {
    /// The same state with these authentication and authorization chains.
    pub fn with_auth(mut self, auth: Arc<crate::auth::Auth>) -> Self {
        self.auth = auth;
        self
    }

    /// State for `registry` with the limits of `options`, allowing everything (see [`ApiState::with_auth`]).
    pub fn new(registry: Registry, metrics: Arc<Metrics>, drain: Drain, options: &ServerOptions) -> Self {
        Self {
            registry,
            metrics,
            drain,
            request_timeout: options.request_timeout,
            max_body_bytes: options.max_request_body_bytes,
            inflight: inflight::InflightLimits::new(
                options.max_requests_inflight,
                options.max_mutating_requests_inflight,
            ),
            auth: Arc::default(),
        }
    }
}

/// The whole API as a router: resources, discovery, OpenAPI, health, version and metrics.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .fallback(dispatch)
        .layer(middleware::from_fn_with_state(state.clone(), crate::auth::filter))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// Parses the request info, applies the request timeout (not to watches), collects warnings, records metrics.
async fn observe(State(state): State<ApiState>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let info = RequestInfo::parse(request.method(), request.uri().path(), request.uri().query().unwrap_or(""));
    if !request.headers().contains_key(header::HOST)
        && let Some(authority) = request.uri().authority().and_then(|a| HeaderValue::from_str(a.as_str()).ok())
    {
        request.headers_mut().insert(header::HOST, authority);
    }
    let apply = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/apply-patch"));
    let mut label = info.metric_label(apply);
    // Only served resources become label values, so arbitrary paths cannot grow the metric families.
    let served = info.resource().and_then(|r| state.registry.lookup(&r.group, &r.version, &r.resource));
    if let Some(store) = served {
        if label.subresource != "status" || !store.info().status_subresource {
            label.subresource.clear();
        }
    } else {
        label.group.clear();
        label.resource.clear();
        label.subresource.clear();
    }
    let long_running = info.is_long_running();
    let timeout = request_timeout(request.uri().query().unwrap_or(""))
        .map_or(state.request_timeout, |asked| asked.min(state.request_timeout));
    let permit = match state.inflight.admit(&info, request.uri().path()) {
        Ok(permit) => permit,
        Err(error) => {
            let response = response::error(&error);
            state.metrics.observe_request(&label, response.status().as_u16(), Some(started.elapsed()));
            return response;
        }
    };
    request.extensions_mut().insert(info);
    let (mut response, warnings) = warnings::collect(async {
        let _permit = permit;
        if long_running {
            return next.run(request).await;
        }
        match tokio::time::timeout(timeout, next.run(request)).await {
            Ok(response) => response,
            Err(_) => response::error(&ApiError::new(
                504,
                StatusReason::Timeout,
                "Timeout: request did not complete within the allotted timeout",
            )),
        }
    })
    .await;
    warnings::add_headers(response.headers_mut(), &warnings);
    state.metrics.observe_request(&label, response.status().as_u16(), (!long_running).then(|| started.elapsed()));
    response
}

/// `timeout` of a non-watch request (a Go duration such as `30s`); unparsable values are ignored as kube does.
fn request_timeout(query: &str) -> Option<Duration> {
    form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == "timeout")
        .and_then(|(_, value)| humantime::parse_duration(&value).ok())
        .filter(|timeout| !timeout.is_zero())
}

/// Routes a request by its path.
async fn dispatch(State(state): State<ApiState>, request: Request) -> Response {
    let info = match request.extensions().get::<RequestInfo>() {
        Some(info) => info.clone(),
        None => RequestInfo::parse(request.method(), request.uri().path(), request.uri().query().unwrap_or("")),
    };
    match &info.target {
        Target::Resource(target) => match state.registry.review(&target.group, &target.version, &target.resource) {
            Some(review) => crate::auth::reviews::serve(&state, &info, target, &review, request).await,
            None => handlers::serve(&state, &info, target, request).await,
        },
        Target::NonResource => non_resource(&state, request).await,
    }
}

async fn non_resource(state: &ApiState, request: Request) -> Response {
    let path = request.uri().path().trim_end_matches('/').to_string();
    let query = request.uri().query().unwrap_or("").to_string();
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let headers = request.headers();
    let readable = matches!(*request.method(), Method::GET | Method::HEAD);
    let health = |name: &str| match name {
        "healthz" => Some(health::Endpoint::Healthz),
        "livez" => Some(health::Endpoint::Livez),
        "readyz" => Some(health::Endpoint::Readyz),
        _ => None,
    };
    if let Some(endpoint) = segments.first().and_then(|s| health(s))
        && segments.len() <= 2
    {
        return health::serve(endpoint, segments.get(1).copied(), &query, &state.registry, &state.drain).await;
    }
    let known = matches!(segments.as_slice(), ["version"] | ["metrics"] | ["api", ..] | ["apis", ..] | ["openapi", ..]);
    if !known {
        return response::not_found();
    }
    if !readable {
        return response::error(&ApiError::new(
            405,
            StatusReason::MethodNotAllowed,
            "the server does not allow this method on the requested resource",
        ));
    }
    match segments.as_slice() {
        ["version"] => response::value(StatusCode::OK, response::Encoding::JSON, &version::info()),
        ["metrics"] => response::bytes(StatusCode::OK, metrics::CONTENT_TYPE, Body::from(state.metrics.encode())),
        ["api"] => discovery::serve_core_root(&state.registry, &query, headers),
        ["api", version] => discovery::serve_group_version(&state.registry, "", version, &query, headers),
        ["apis"] => discovery::serve_groups_root(&state.registry, &query, headers),
        ["apis", group] => discovery::serve_group(&state.registry, group, &query, headers),
        ["apis", group, version] => discovery::serve_group_version(&state.registry, group, version, &query, headers),
        ["openapi", "v2"] => openapi::serve_v2(&state.registry, headers),
        ["openapi", "v3", rest @ ..] => openapi::serve_v3(&state.registry, &rest.join("/"), &query, headers),
        _ => response::not_found(),
    }
}

#[cfg(test)]
mod tests;
