//! `/healthz`, `/livez` and `/readyz` with kube-apiserver's output: `ok`, `?verbose`, `?exclude=`, per-check paths.

use std::{collections::BTreeSet, fmt::Write, time::Duration};

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use super::shutdown::Drain;
use crate::registry::Registry;

/// How long the storage check waits for the backend.
const STORAGE_CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// The three health endpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// `/healthz`: ping, storage, watch caches.
    Healthz,
    /// `/livez`: ping, storage.
    Livez,
    /// `/readyz`: ping, storage, watch caches, and not shutting down.
    Readyz,
}

impl Endpoint {
    /// The endpoint's name as it appears in `<name> check passed`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Healthz => "healthz",
            Self::Livez => "livez",
            Self::Readyz => "readyz",
        }
    }

    fn checks(self) -> &'static [Check] {
        match self {
            Self::Healthz => &[Check::Ping, Check::Storage, Check::WatchCaches],
            Self::Livez => &[Check::Ping, Check::Storage],
            Self::Readyz => &[Check::Ping, Check::Storage, Check::WatchCaches, Check::Shutdown],
        }
    }
}

/// One named check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Check {
    Ping,
    Storage,
    WatchCaches,
    Shutdown,
}

impl Check {
    fn name(self) -> &'static str {
        match self {
            Self::Ping => "ping",
            Self::Storage => "storage",
            Self::WatchCaches => "watch-caches",
            Self::Shutdown => "shutdown",
        }
    }

    async fn run(self, registry: &Registry, drain: &Drain) -> Result<(), String> {
        match self {
            Self::Ping => Ok(()),
            Self::Storage => {
                match tokio::time::timeout(STORAGE_CHECK_TIMEOUT, registry.storage().current_revision()).await {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(error)) => Err(error.to_string()),
                    Err(_) => Err(format!("storage did not answer within {STORAGE_CHECK_TIMEOUT:?}")),
                }
            }
            Self::WatchCaches => {
                let waiting: Vec<String> = registry
                    .resources()
                    .iter()
                    .filter(|r| !r.is_ready())
                    .map(|r| r.info().group_resource().to_string())
                    .collect();
                if waiting.is_empty() {
                    Ok(())
                } else {
                    Err(format!("watch caches not synced: {}", waiting.join(", ")))
                }
            }
            Self::Shutdown => {
                if drain.is_draining() {
                    Err("process is shutting down".into())
                } else {
                    Ok(())
                }
            }
        }
    }
}

/// Serves `/<endpoint>` (all checks) or `/<endpoint>/<check>` (one check) for a query string.
pub async fn serve(
    endpoint: Endpoint,
    single: Option<&str>,
    query: &str,
    registry: &Registry,
    drain: &Drain,
) -> Response {
    match single {
        Some(name) => match endpoint.checks().iter().find(|c| c.name() == name) {
            Some(check) => match check.run(registry, drain).await {
                Ok(()) => text(StatusCode::OK, "ok".into()),
                Err(error) => text(StatusCode::INTERNAL_SERVER_ERROR, format!("internal server error: {error}\n")),
            },
            None => text(StatusCode::NOT_FOUND, "404 page not found\n".into()),
        },
        None => {
            let (status, body) = report(endpoint, query, registry, drain).await;
            text(status, body)
        }
    }
}

/// Runs every check of `endpoint` not excluded by the query and renders kube-apiserver's report.
async fn report(endpoint: Endpoint, query: &str, registry: &Registry, drain: &Drain) -> (StatusCode, String) {
    let mut excluded = BTreeSet::new();
    let mut verbose = false;
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "exclude" => {
                excluded.insert(value.into_owned());
            }
            "verbose" => verbose = true,
            _ => {}
        }
    }
    let mut unknown = excluded.clone();
    let mut lines = String::new();
    let mut failed = Vec::new();
    for check in endpoint.checks() {
        let name = check.name();
        if excluded.contains(name) {
            unknown.remove(name);
            let _ = writeln!(lines, "[+]{name} excluded: ok");
            continue;
        }
        match check.run(registry, drain).await {
            Ok(()) => {
                let _ = writeln!(lines, "[+]{name} ok");
            }
            Err(error) => {
                tracing::info!(check = name, endpoint = endpoint.name(), %error, "health check failed");
                let _ = writeln!(lines, "[-]{name} failed: reason withheld");
                failed.push(name);
            }
        }
    }
    if !unknown.is_empty() {
        let quoted: Vec<String> = unknown.iter().map(|name| format!("{name:?}")).collect();
        let _ = writeln!(lines, "warn: some health checks cannot be excluded: no matches for {}", quoted.join(","));
    }
    if !failed.is_empty() {
        return (StatusCode::INTERNAL_SERVER_ERROR, format!("{lines}{} check failed\n", endpoint.name()));
    }
    if !verbose {
        return (StatusCode::OK, "ok".into());
    }
    (StatusCode::OK, format!("{lines}{} check passed\n", endpoint.name()))
}

fn text(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::storage::{EmbeddedOptions, EmbeddedStore, KeySpace, SharedStore};

    async fn registry() -> (tempfile::TempDir, Registry) {
        let dir = tempfile::tempdir().unwrap();
        let store: SharedStore = Arc::new(EmbeddedStore::open(EmbeddedOptions::new(dir.path())).await.unwrap());
        (dir, Registry::new(store, KeySpace::default()))
    }

    #[tokio::test]
    async fn a_healthy_server_answers_ok_or_every_check_when_verbose() {
        let (_dir, registry) = registry().await;
        let drain = Drain::new();
        assert_eq!(report(Endpoint::Readyz, "", &registry, &drain).await, (StatusCode::OK, "ok".into()));
        let (status, body) = report(Endpoint::Readyz, "verbose", &registry, &drain).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            body, "[+]ping ok\n[+]storage ok\n[+]watch-caches ok\n[+]shutdown ok\nreadyz check passed\n",
            "{body}"
        );
    }

    #[tokio::test]
    async fn a_draining_server_is_not_ready_but_still_live() {
        let (_dir, registry) = registry().await;
        let drain = Drain::new();
        drain.start();
        let (status, body) = report(Endpoint::Readyz, "", &registry, &drain).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(body.contains("[-]shutdown failed: reason withheld\n"), "{body}");
        assert!(body.ends_with("readyz check failed\n"), "{body}");
        assert_eq!(report(Endpoint::Livez, "", &registry, &drain).await.0, StatusCode::OK);
    }

    #[tokio::test]
    async fn excluded_checks_are_reported_and_unknown_exclusions_warned_about() {
        let (_dir, registry) = registry().await;
        let drain = Drain::new();
        drain.start();
        let (status, body) = report(Endpoint::Readyz, "verbose&exclude=shutdown&exclude=nope", &registry, &drain).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body.contains("[+]shutdown excluded: ok\n"), "{body}");
        assert!(body.contains("warn: some health checks cannot be excluded: no matches for \"nope\"\n"), "{body}");
    }
}
