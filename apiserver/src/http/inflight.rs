//! Max-in-flight limits: excess concurrent requests get 429 with Retry-After, as kube-apiserver's filter answers.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::request_info::{RequestInfo, Verb};
use crate::machinery::ApiError;

/// Paths that are never limited, so probes keep answering under load.
const EXEMPT_PATHS: [&str; 3] = ["/healthz", "/livez", "/readyz"];

/// Concurrency limits for read-only and mutating requests; long-running requests (watches) are not counted.
#[derive(Clone, Debug)]
pub struct InflightLimits {
    read_only: Option<Arc<Semaphore>>,
    mutating: Option<Arc<Semaphore>>,
}

impl InflightLimits {
    /// At most `read_only` and `mutating` requests at once; 0 means unlimited.
    pub fn new(read_only: usize, mutating: usize) -> Self {
        let limit = |n: usize| (n > 0).then(|| Arc::new(Semaphore::new(n)));
        Self { read_only: limit(read_only), mutating: limit(mutating) }
    }

    /// A permit to hold while serving the request (`None` when it is not limited), or the 429 to answer.
    ///
    /// # Errors
    /// 429 TooManyRequests with `retryAfterSeconds: 1` when the request's pool is full.
    pub fn admit(&self, info: &RequestInfo, path: &str) -> Result<Option<OwnedSemaphorePermit>, ApiError> {
        if info.is_long_running() || EXEMPT_PATHS.iter().any(|p| path == *p || path.starts_with(&format!("{p}/"))) {
            return Ok(None);
        }
        let mutating =
            matches!(info.verb, Verb::Create | Verb::Update | Verb::Patch | Verb::Delete | Verb::DeleteCollection);
        let Some(pool) = (if mutating { &self.mutating } else { &self.read_only }) else { return Ok(None) };
        match Arc::clone(pool).try_acquire_owned() {
            Ok(permit) => Ok(Some(permit)),
            Err(_) => Err(ApiError::too_many_requests("Too many requests, please try again later.", 1)),
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::Method;

    use super::*;

    fn request(method: Method, path: &str, query: &str) -> RequestInfo {
        RequestInfo::parse(&method, path, query)
    }

    #[test]
    fn a_full_pool_answers_429_with_retry_after_and_frees_up_when_a_request_ends() {
        let limits = InflightLimits::new(1, 1);
        let get = request(Method::GET, "/api/v1/namespaces/default/configmaps/a", "");
        let held = limits.admit(&get, "/api/v1/namespaces/default/configmaps/a").unwrap();
        assert!(held.is_some());
        let error = limits.admit(&get, "/api/v1/namespaces/default/configmaps/a").unwrap_err();
        let status = error.to_status();
        assert_eq!((status["code"].as_u64(), status["reason"].as_str()), (Some(429), Some("TooManyRequests")));
        assert_eq!(status["details"]["retryAfterSeconds"], 1);
        drop(held);
        assert!(limits.admit(&get, "/api/v1/namespaces/default/configmaps/a").unwrap().is_some());
    }

    #[test]
    fn reads_and_writes_have_separate_pools() {
        let limits = InflightLimits::new(1, 1);
        let path = "/api/v1/namespaces/default/configmaps";
        let _read = limits.admit(&request(Method::GET, path, ""), path).unwrap();
        assert!(limits.admit(&request(Method::POST, path, ""), path).unwrap().is_some(), "a write still gets in");
    }

    #[test]
    fn watches_and_health_probes_are_never_limited() {
        let limits = InflightLimits::new(1, 1);
        let path = "/api/v1/namespaces/default/configmaps";
        let _held = limits.admit(&request(Method::GET, path, ""), path).unwrap();
        assert!(limits.admit(&request(Method::GET, path, "watch=true"), path).unwrap().is_none());
        assert!(limits.admit(&request(Method::GET, "/readyz", ""), "/readyz").unwrap().is_none());
    }

    #[test]
    fn zero_means_unlimited() {
        let limits = InflightLimits::new(0, 0);
        let path = "/api/v1/namespaces";
        let held: Vec<_> = (0..1000).map(|_| limits.admit(&request(Method::GET, path, ""), path).unwrap()).collect();
        assert!(held.iter().all(Option::is_none));
    }
}
