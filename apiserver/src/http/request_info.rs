//! What a request is about: API group, version, namespace, resource, name, subresource, and the Kubernetes verb.

use http::Method;

use crate::server::metrics::RequestLabel;

/// The Kubernetes verb of a request (as authorization and audit name it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verb {
    /// GET of one object.
    Get,
    /// GET of a collection.
    List,
    /// GET of a collection with `watch=true`, or under the legacy `/watch/` prefix.
    Watch,
    /// POST.
    Create,
    /// PUT.
    Update,
    /// PATCH.
    Patch,
    /// DELETE of one object.
    Delete,
    /// DELETE of a collection.
    DeleteCollection,
    /// Any other method (e.g. `HEAD`, `OPTIONS`), lower-cased.
    Other(String),
}

impl Verb {
    /// The verb as Kubernetes spells it (`deletecollection`, ...).
    pub fn as_str(&self) -> &str {
        match self {
            Self::Get => "get",
            Self::List => "list",
            Self::Watch => "watch",
            Self::Create => "create",
            Self::Update => "update",
            Self::Patch => "patch",
            Self::Delete => "delete",
            Self::DeleteCollection => "deletecollection",
            Self::Other(method) => method,
        }
    }
}

/// A request for an object or a collection of a served (or unknown) resource.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResourceRequest {
    /// API group (`""` for `/api`).
    pub group: String,
    /// API version.
    pub version: String,
    /// The namespace in the path; for `/api/v1/namespaces/<name>` it is also `<name>`, as in kube-apiserver.
    pub namespace: Option<String>,
    /// Whether the resource segment came after `/namespaces/<ns>/`.
    pub namespaced_path: bool,
    /// Plural resource name.
    pub resource: String,
    /// Object name.
    pub name: Option<String>,
    /// Subresource, e.g. `status`.
    pub subresource: Option<String>,
    /// Whether path segments follow the subresource (only connect subresources such as `proxy` take them).
    pub extra_segments: bool,
    /// The path after the subresource as sent (percent-encoded, trailing slash kept): `/api/v1/nodes`, or `""`.
    pub subpath: String,
    /// Whether the request came under the legacy `/watch/` prefix.
    pub legacy_watch: bool,
}

/// What a request is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// `/api/<v>/...` or `/apis/<g>/<v>/...` naming a resource.
    Resource(ResourceRequest),
    /// Anything else: discovery, health, version, metrics, OpenAPI, unknown paths.
    NonResource,
}

/// A parsed request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestInfo {
    /// The Kubernetes verb.
    pub verb: Verb,
    /// What it is about.
    pub target: Target,
}

/// Subresources whose requests stream for as long as the client wants (kube-apiserver's long-running list).
const LONG_RUNNING: [&str; 5] = ["proxy", "attach", "exec", "log", "portforward"];

/// Namespace subresources that follow `/namespaces/<name>/` directly.
const NAMESPACE_SUBRESOURCES: [&str; 2] = ["status", "finalize"];

impl RequestInfo {
    /// Parses a request line the way kube-apiserver's request-info resolver does.
    pub fn parse(method: &Method, path: &str, query: &str) -> Self {
        let segments: Vec<String> = path.split('/').filter(|s| !s.is_empty()).map(percent_decode).collect();
        let non_resource = |method: &Method| Self { verb: http_verb(method), target: Target::NonResource };
        let (group, version, mut rest) = match segments.as_slice() {
            [api, version, rest @ ..] if api == "api" && !rest.is_empty() => (String::new(), version.clone(), rest),
            [apis, group, version, rest @ ..] if apis == "apis" && !rest.is_empty() => {
                (group.clone(), version.clone(), rest)
            }
            _ => return non_resource(method),
        };
        let mut request = ResourceRequest { group, version, ..Default::default() };
        if rest[0] == "watch" {
            request.legacy_watch = true;
            rest = &rest[1..];
        }
        if rest.first().is_some_and(|s| s == "namespaces") && rest.len() > 1 {
            request.namespace = Some(rest[1].clone());
            if rest.len() > 2 && !NAMESPACE_SUBRESOURCES.contains(&rest[2].as_str()) {
                request.namespaced_path = true;
                rest = &rest[2..];
            }
        }
        let Some(resource) = rest.first() else { return non_resource(method) };
        request.resource = resource.clone();
        request.name = rest.get(1).cloned();
        request.subresource = rest.get(2).cloned();
        request.extra_segments = rest.len() > 3;
        if request.subresource.is_some() {
            request.subpath = raw_after_segments(path, segments.len() - (rest.len() - 3)).to_string();
        }

        // HEAD is a GET as far as the verb goes, as in kube-apiserver.
        let verb = match *method {
            Method::GET | Method::HEAD if request.legacy_watch => Verb::Watch,
            Method::GET | Method::HEAD if request.name.is_some() => Verb::Get,
            Method::GET | Method::HEAD if query_flag(query, "watch") => Verb::Watch,
            Method::GET | Method::HEAD => Verb::List,
            Method::POST => Verb::Create,
            Method::PUT => Verb::Update,
            Method::PATCH => Verb::Patch,
            Method::DELETE if request.name.is_some() => Verb::Delete,
            Method::DELETE => Verb::DeleteCollection,
            ref other => Verb::Other(other.as_str().to_ascii_lowercase()),
        };
        Self { verb, target: Target::Resource(request) }
    }

    /// The resource request, if this is one.
    pub fn resource(&self) -> Option<&ResourceRequest> {
        match &self.target {
            Target::Resource(resource) => Some(resource),
            Target::NonResource => None,
        }
    }

    /// Whether the request streams (a watch, or a connect subresource such as `proxy`, `exec`, `log`): exempt
    /// from the request timeout, counted as long-running, as kube-apiserver's long-running check sees it.
    pub fn is_long_running(&self) -> bool {
        self.verb == Verb::Watch
            || self.resource().and_then(|r| r.subresource.as_deref()).is_some_and(|s| LONG_RUNNING.contains(&s))
    }

    /// The labels of this request in `apiserver_request_*` metrics; `apply` tells a server-side apply PATCH.
    pub fn metric_label(&self, apply: bool) -> RequestLabel {
        let verb = match &self.verb {
            Verb::Get => "GET",
            Verb::List => "LIST",
            Verb::Watch => "WATCH",
            Verb::Create => "POST",
            Verb::Update => "PUT",
            Verb::Patch if apply => "APPLY",
            Verb::Patch => "PATCH",
            Verb::Delete => "DELETE",
            Verb::DeleteCollection => "DELETECOLLECTION",
            Verb::Other(method) => return self.label_with(method.to_ascii_uppercase()),
        };
        self.label_with(verb.to_string())
    }

    fn label_with(&self, verb: String) -> RequestLabel {
        match self.resource() {
            Some(resource) => RequestLabel {
                verb,
                group: resource.group.clone(),
                resource: resource.resource.clone(),
                subresource: resource.subresource.clone().unwrap_or_default(),
            },
            None => RequestLabel { verb, ..Default::default() },
        }
    }
}

/// The rest of `path` after its first `skip` non-empty segments, as sent (`""` when nothing follows).
fn raw_after_segments(path: &str, skip: usize) -> &str {
    let mut rest = path;
    for _ in 0..skip {
        rest = rest.trim_start_matches('/');
        rest = rest.find('/').map_or("", |at| &rest[at..]);
    }
    rest
}

fn http_verb(method: &Method) -> Verb {
    match *method {
        Method::GET | Method::HEAD => Verb::Get,
        Method::POST => Verb::Create,
        Method::PUT => Verb::Update,
        Method::PATCH => Verb::Patch,
        Method::DELETE => Verb::Delete,
        ref other => Verb::Other(other.as_str().to_ascii_lowercase()),
    }
}

/// Whether the query sets `name` to a true value as Go's `strconv.ParseBool` reads it.
pub fn query_flag(query: &str, name: &str) -> bool {
    form_urlencoded::parse(query.as_bytes())
        .filter(|(key, _)| key == name)
        .last()
        .is_some_and(|(_, value)| matches!(value.as_ref(), "1" | "t" | "T" | "true" | "TRUE" | "True"))
}

/// Decodes `%XX` escapes of a path segment (invalid escapes stay as they are; invalid UTF-8 is replaced).
fn percent_decode(segment: &str) -> String {
    if !segment.contains('%') {
        return segment.to_string();
    }
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(high), Some(low)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((high * 16 + low) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(method: Method, path: &str) -> RequestInfo {
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        RequestInfo::parse(&method, path, query)
    }

    fn resource(info: &RequestInfo) -> &ResourceRequest {
        info.resource().expect("a resource request")
    }

    #[test]
    fn a_namespaced_object_path_names_group_version_namespace_resource_and_name() {
        let info = parse(Method::GET, "/apis/apps/v1/namespaces/web/deployments/front");
        assert_eq!(info.verb, Verb::Get);
        let r = resource(&info);
        assert_eq!((r.group.as_str(), r.version.as_str()), ("apps", "v1"));
        assert_eq!(r.namespace.as_deref(), Some("web"));
        assert!(r.namespaced_path);
        assert_eq!((r.resource.as_str(), r.name.as_deref()), ("deployments", Some("front")));
    }

    #[test]
    fn collections_are_listed_watched_created_and_deleted() {
        assert_eq!(parse(Method::GET, "/api/v1/configmaps").verb, Verb::List);
        assert_eq!(parse(Method::GET, "/api/v1/namespaces/a/configmaps?watch=true").verb, Verb::Watch);
        assert_eq!(parse(Method::GET, "/api/v1/namespaces/a/configmaps?watch=1").verb, Verb::Watch);
        assert_eq!(parse(Method::GET, "/api/v1/namespaces/a/configmaps?watch=false").verb, Verb::List);
        assert_eq!(parse(Method::POST, "/api/v1/namespaces/a/configmaps").verb, Verb::Create);
        assert_eq!(parse(Method::DELETE, "/api/v1/namespaces/a/configmaps").verb, Verb::DeleteCollection);
        assert_eq!(parse(Method::DELETE, "/api/v1/namespaces/a/configmaps/x").verb, Verb::Delete);
        assert_eq!(parse(Method::PUT, "/api/v1/namespaces/a/configmaps/x").verb, Verb::Update);
        assert_eq!(parse(Method::PATCH, "/api/v1/namespaces/a/configmaps/x").verb, Verb::Patch);
    }

    #[test]
    fn a_namespace_is_its_own_name_and_status_is_its_subresource() {
        let info = parse(Method::GET, "/api/v1/namespaces/kube-system");
        let r = resource(&info);
        assert_eq!(
            (r.resource.as_str(), r.name.as_deref(), r.namespace.as_deref()),
            ("namespaces", Some("kube-system"), Some("kube-system"))
        );
        assert!(!r.namespaced_path);
        let info = parse(Method::PUT, "/api/v1/namespaces/kube-system/status");
        let r = resource(&info);
        assert_eq!((r.resource.as_str(), r.subresource.as_deref()), ("namespaces", Some("status")));
        let info = parse(Method::GET, "/api/v1/namespaces");
        assert_eq!(info.verb, Verb::List);
        assert_eq!(resource(&info).namespace, None);
    }

    #[test]
    fn legacy_watch_paths_watch_collections_and_single_objects() {
        let info = parse(Method::GET, "/api/v1/watch/namespaces/a/configmaps/x");
        assert_eq!(info.verb, Verb::Watch);
        let r = resource(&info);
        assert!(r.legacy_watch);
        assert_eq!((r.resource.as_str(), r.name.as_deref()), ("configmaps", Some("x")));
        assert_eq!(parse(Method::GET, "/apis/apps/v1/watch/deployments").verb, Verb::Watch);
    }

    #[test]
    fn subresources_and_deeper_paths_are_recognised() {
        let info = parse(Method::PATCH, "/apis/apps/v1/namespaces/a/deployments/x/status");
        assert_eq!(resource(&info).subresource.as_deref(), Some("status"));
        assert!(!resource(&info).extra_segments);
        let info = parse(Method::GET, "/api/v1/namespaces/a/pods/x/proxy/some/path");
        assert!(resource(&info).extra_segments);
    }

    #[test]
    fn a_connect_request_keeps_the_path_after_its_subresource_as_sent() {
        let info =
            parse(Method::GET, "/apis/cluster.karmada.io/v1alpha1/clusters/m1/proxy/api/v1/namespaces/a%2Fb/pods/");
        let r = resource(&info);
        assert_eq!((r.name.as_deref(), r.subresource.as_deref()), (Some("m1"), Some("proxy")));
        assert_eq!(r.subpath, "/api/v1/namespaces/a%2Fb/pods/");
        assert_eq!(info.verb, Verb::Get);
        assert!(info.is_long_running());
        let info = parse(Method::POST, "/api/v1/namespaces/a/serviceaccounts/default/token");
        assert_eq!((info.verb.clone(), resource(&info).subpath.as_str()), (Verb::Create, ""));
        assert!(!info.is_long_running());
        assert_eq!(parse(Method::DELETE, "/apis/cluster.karmada.io/v1alpha1/clusters/m1/proxy/x").verb, Verb::Delete);
        assert_eq!(parse(Method::HEAD, "/apis/cluster.karmada.io/v1alpha1/clusters/m1/proxy/x").verb, Verb::Get);
    }

    #[test]
    fn discovery_and_other_paths_are_not_resource_requests() {
        for path in ["/api", "/api/v1", "/apis", "/apis/apps", "/apis/apps/v1", "/healthz", "/openapi/v3", "/"] {
            assert_eq!(parse(Method::GET, path).target, Target::NonResource, "{path}");
        }
    }

    #[test]
    fn escaped_path_segments_are_decoded() {
        let info = parse(Method::GET, "/apis/rbac.authorization.k8s.io/v1/clusterroles/system%3Aadmin");
        assert_eq!(resource(&info).name.as_deref(), Some("system:admin"));
        assert_eq!(percent_decode("bad%zz%4"), "bad%zz%4");
    }

    #[test]
    fn metric_labels_follow_kube_apiserver() {
        let info = parse(Method::PATCH, "/apis/apps/v1/namespaces/a/deployments/x/status");
        let label = info.metric_label(true);
        assert_eq!(
            (label.verb.as_str(), label.resource.as_str(), label.subresource.as_str()),
            ("APPLY", "deployments", "status")
        );
        assert_eq!(parse(Method::GET, "/api/v1/pods").metric_label(false).verb, "LIST");
        assert_eq!(parse(Method::GET, "/healthz").metric_label(false).resource, "");
    }
}
