//! Connect-style subresources (`clusters/proxy`, `serviceaccounts/token`, ...): handlers that take the raw request.
//!
//! A registry serves a subresource for a group and plural (every served version of that resource gets it) once
//! given it with [`Registry::serve_connect`](super::Registry::serve_connect); the built-in ones (`clusters/proxy`,
//! `deployments/scale`, ...) it serves from the start. The HTTP dispatcher sends
//! `/<resource>/<name>/<subresource>[/<path>...]` requests to the handler whenever the registry serves the resource;
//! discovery lists the subresource with the kube verbs of its HTTP methods. Authorization has already seen `<resource>/<subresource>` with the method's verb (GET → get,
//! POST → create, PUT → update, PATCH → patch, DELETE → delete) before the handler runs.

use std::{future::Future, pin::Pin, sync::Arc};

use axum::{extract::Request, response::Response};
use http::Method;

use super::ResourceStore;
use crate::{
    auth::UserInfo,
    http::{ApiState, Verb},
    machinery::ApiError,
};

/// What a connect handler answers: a (possibly streaming) response, or an error sent as a `Status`.
pub type ConnectFuture = Pin<Box<dyn Future<Output = Result<Response, ApiError>> + Send>>;

/// A connect handler.
pub type ConnectHandler = fn(ConnectRequest) -> ConnectFuture;

/// The kind a subresource's discovery entry names as its response (`responseKind`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseKind {
    /// API group (`""` for core).
    pub group: String,
    /// Version.
    pub version: String,
    /// Kind, e.g. `ClusterProxyOptions`, `TokenRequest`.
    pub kind: String,
}

impl ResponseKind {
    /// A kind in `group`/`version`.
    pub fn new(group: &str, version: &str, kind: &str) -> Self {
        Self { group: group.into(), version: version.into(), kind: kind.into() }
    }
}

/// One connect subresource of a resource.
#[derive(Clone, Debug)]
pub struct Connect {
    /// The resource's API group.
    pub group: String,
    /// The resource's plural name.
    pub resource: String,
    /// The subresource name, e.g. `proxy`.
    pub subresource: String,
    /// The HTTP methods served (others are 405), e.g. `GET`, `POST`.
    pub methods: Vec<Method>,
    /// Whether path segments may follow the subresource (`clusters/<name>/proxy/<path>`); without, they are 404.
    pub subpath: bool,
    /// The kind discovery lists as its response.
    pub response_kind: ResponseKind,
    /// Serves a request.
    pub handler: ConnectHandler,
}

impl Connect {
    /// The kube verbs of the served methods as discovery lists them (sorted; `HEAD`/`OPTIONS` have none).
    pub fn verbs(&self) -> Vec<&'static str> {
        let mut verbs: Vec<&'static str> = self.methods.iter().filter_map(discovery_verb).collect();
        verbs.sort_unstable();
        verbs.dedup();
        verbs
    }
}

/// kube-apiserver's discovery name of a connect method.
fn discovery_verb(method: &Method) -> Option<&'static str> {
    match *method {
        Method::GET => Some("get"),
        Method::POST => Some("create"),
        Method::PUT => Some("update"),
        Method::PATCH => Some("patch"),
        Method::DELETE => Some("delete"),
        _ => None,
    }
}

/// One request for a connect subresource.
pub struct ConnectRequest {
    /// The server state.
    pub state: ApiState,
    /// The store of the resource the subresource belongs to (e.g. to read the named object).
    pub store: Arc<ResourceStore>,
    /// The namespace of the URL (namespaced resources only).
    pub namespace: Option<String>,
    /// The object name in the URL.
    pub name: String,
    /// The subresource name.
    pub subresource: String,
    /// The path after the subresource, as sent (still percent-encoded): `""` or `/api/v1/nodes`. A trailing slash
    /// is kept.
    pub path: String,
    /// The query string, as sent (without `?`).
    pub query: String,
    /// The Kubernetes verb authorization saw.
    pub verb: Verb,
    /// The authenticated (possibly impersonated) requestor.
    pub user: UserInfo,
    /// The request itself: method, headers and the (streaming) body.
    pub request: Request,
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::body::Body;
    use http::{Request, StatusCode};
    use http_body_util::BodyExt;
    use serde_json::{Value, json};
    use tower::ServiceExt;

    use super::*;
    use crate::{
        http::router,
        registry::{Registry, ResourceInfo, Strategy},
        server::{Drain, ServerOptions, metrics::Metrics},
        storage::{EmbeddedOptions, EmbeddedStore, KeySpace, SharedStore},
    };

    struct Plain(ResourceInfo);

    impl Strategy for Plain {
        fn info(&self) -> &ResourceInfo {
            &self.0
        }
    }

    /// Answers with what it was given, the body included.
    fn echo(request: ConnectRequest) -> ConnectFuture {
        Box::pin(async move {
            let method = request.request.method().to_string();
            let body = request.request.into_body().collect().await.map_err(ApiError::internal)?.to_bytes();
            let answer = json!({
                "namespace": request.namespace, "name": request.name, "subresource": request.subresource,
                "path": request.path, "query": request.query, "verb": request.verb.as_str(), "method": method,
                "user": request.user.name, "body": String::from_utf8_lossy(&body),
            });
            Ok(Response::new(Body::from(answer.to_string())))
        })
    }

    async fn send(state: &ApiState, method: &str, uri: &str) -> (StatusCode, Value) {
        let request = Request::builder().method(method).uri(uri).body(Body::from("payload")).unwrap();
        let response = router(state.clone()).oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    #[tokio::test]
    async fn a_registered_subresource_gets_the_raw_request_and_is_listed_in_discovery() {
        let dir = tempfile::tempdir().unwrap();
        let store: SharedStore = Arc::new(EmbeddedStore::open(EmbeddedOptions::new(dir.path())).await.unwrap());
        let registry = Registry::new(store, KeySpace::default());
        registry.serve_connect(Connect {
            group: "subresource.test.flotilla.dev".into(),
            resource: "gizmos".into(),
            subresource: "echo".into(),
            methods: vec![Method::GET, Method::POST, Method::HEAD],
            subpath: true,
            response_kind: ResponseKind::new("subresource.test.flotilla.dev", "v1", "EchoOptions"),
            handler: echo,
        });
        let info = ResourceInfo::new("subresource.test.flotilla.dev", "v1", "Gizmo", "gizmos", true);
        let resource = registry.register(Arc::new(Plain(info)));
        tokio::time::timeout(Duration::from_secs(5), async {
            while !resource.is_ready() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .unwrap();
        let state = ApiState::new(registry, Metrics::new(), Drain::new(), &ServerOptions::default());
        let base = "/apis/subresource.test.flotilla.dev/v1/namespaces/a/gizmos";

        let (status, answer) = send(&state, "POST", &format!("{base}/g1/echo/x/y%2Fz/?q=1")).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(
            (&answer["namespace"], &answer["name"], &answer["path"], &answer["query"]),
            (&json!("a"), &json!("g1"), &json!("/x/y%2Fz/"), &json!("q=1"))
        );
        assert_eq!(
            (&answer["verb"], &answer["method"], &answer["body"]),
            (&json!("create"), &json!("POST"), &json!("payload"))
        );

        assert_eq!(send(&state, "DELETE", &format!("{base}/g1/echo")).await.0, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(
            send(&state, "GET", "/apis/subresource.test.flotilla.dev/v1/gizmos/g1/echo").await.0,
            StatusCode::NOT_FOUND
        );

        let (_, discovery) = send(&state, "GET", "/apis/subresource.test.flotilla.dev/v1").await;
        let listed = discovery["resources"].as_array().unwrap().iter().find(|r| r["name"] == "gizmos/echo").cloned();
        let listed = listed.unwrap_or_else(|| panic!("gizmos/echo not listed: {discovery}"));
        assert_eq!(listed["verbs"], json!(["create", "get"]));
        assert_eq!((&listed["kind"], &listed["namespaced"]), (&json!("EchoOptions"), &json!(true)));
    }
}
