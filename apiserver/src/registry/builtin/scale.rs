//! The `scale` subresource of Deployments, ReplicaSets and StatefulSets: `autoscaling/v1` Scale over `spec.replicas`.

use http::{Method, StatusCode, header};
use serde_json::{Value, json};

use crate::{
    http::response::{self, Encoding},
    machinery::{
        ApiError, FieldError, Object, StatusReason,
        labels::Selector,
        media,
        options::{GetOptions, WriteOptions},
    },
    patch::{self, PatchType},
    registry::{
        RequestContext,
        subresource::{Connect, ConnectFuture, ConnectRequest, ResponseKind},
    },
};

/// How often a scale write retries when the object changed under it (and the client named no resourceVersion).
const CONFLICT_RETRIES: usize = 5;

/// The `scale` subresource of `group`/`resource` (a kind with `spec.replicas`, `spec.selector`, `status.replicas`).
pub fn connect(group: &str, resource: &str) -> Connect {
    Connect {
        group: group.into(),
        resource: resource.into(),
        subresource: "scale".into(),
        methods: vec![Method::GET, Method::PUT, Method::PATCH],
        subpath: false,
        response_kind: ResponseKind::new("autoscaling", "v1", "Scale"),
        handler: serve,
    }
}

fn serve(request: ConnectRequest) -> ConnectFuture {
    Box::pin(async move {
        let scale = match *request.request.method() {
            Method::GET => {
                let options = GetOptions::default();
                scale_of(&request.store.get(request.namespace.as_deref(), &request.name, &options).await?)
            }
            _ => write(request).await?,
        };
        Ok(response::value(StatusCode::OK, Encoding::JSON, &scale))
    })
}

/// The Scale of a workload object.
fn scale_of(object: &Object) -> Value {
    let metadata = &object["metadata"];
    let mut meta = json!({"name": metadata["name"], "uid": metadata["uid"], "resourceVersion": metadata["resourceVersion"],
        "creationTimestamp": metadata["creationTimestamp"]});
    if let Some(namespace) = metadata.get("namespace") {
        meta["namespace"] = namespace.clone();
    }
    let mut status = json!({"replicas": object.pointer("/status/replicas").and_then(Value::as_i64).unwrap_or(0)});
    let selector = object.pointer("/spec/selector").map(|s| Selector::from_label_selector(s, "spec.selector"));
    if let Some(Ok(Some(selector))) = selector
        && !selector.is_empty()
    {
        status["selector"] = json!(selector.to_string());
    }
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": meta,
        "spec": {"replicas": object.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1)},
        "status": status,
    })
}

/// PUT or PATCH: the new Scale's `spec.replicas` written to the object, retried on conflicts when the client gave
/// no `resourceVersion` (as kube-apiserver's scale update does).
async fn write(request: ConnectRequest) -> Result<Value, ApiError> {
    let ConnectRequest { store, namespace, name, user, request, state, .. } = request;
    let (parts, body) = request.into_parts();
    let content_type = parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_string);
    let body = crate::http::read_body(body, &parts.headers, state.max_body_bytes).await?;
    let patch_type = match parts.method {
        Method::PATCH => {
            let found = content_type.as_deref().and_then(PatchType::from_content_type);
            match found {
                // A Scale has no lists, so a strategic merge patch is a merge patch.
                Some(PatchType::StrategicMerge | PatchType::Merge) => Some(PatchType::Merge),
                Some(PatchType::Json) => Some(PatchType::Json),
                _ => {
                    return Err(ApiError::new(
                        415,
                        StatusReason::UnsupportedMediaType,
                        "the body of the request was in an unknown format - accepted media types include: \
                         application/json-patch+json, application/merge-patch+json, \
                         application/strategic-merge-patch+json",
                    ));
                }
            }
        }
        _ => None,
    };
    let posted = match patch_type {
        None => Some(media::decode_body_as(content_type.as_deref(), &body, "Scale")?),
        Some(_) => None,
    };
    let ctx = RequestContext { user: user.name.clone(), ..RequestContext::for_agent(user_agent(&parts.headers)) };
    let mut attempt = 0;
    loop {
        attempt += 1;
        let current = store.get(namespace.as_deref(), &name, &GetOptions::default()).await?;
        let scale = scale_of(&current);
        let wanted = match (&posted, patch_type) {
            (Some(posted), _) => posted.clone(),
            (None, Some(patch_type)) => patch::patch(&scale, patch_type, &body, None)?,
            (None, None) => scale.clone(),
        };
        let replicas = replicas(&wanted)?;
        let precondition =
            wanted.pointer("/metadata/resourceVersion").and_then(Value::as_str).filter(|v| !v.is_empty());
        let mut updated = current.clone();
        updated["spec"]["replicas"] = json!(replicas);
        if let Some(version) = precondition {
            updated["metadata"]["resourceVersion"] = json!(version);
        }
        match store.update(&ctx, namespace.as_deref(), &name, updated, None, &WriteOptions::default()).await {
            Ok((object, _)) => return Ok(scale_of(&object)),
            Err(error) if error.code == 409 && precondition.is_none() && attempt < CONFLICT_RETRIES => continue,
            Err(error) => return Err(error),
        }
    }
}

/// `spec.replicas` of a posted or patched Scale: required, an integer ≥ 0.
fn replicas(scale: &Value) -> Result<i64, ApiError> {
    let invalid = |error: FieldError| ApiError::invalid("Scale", "autoscaling", "", &[error]);
    match scale.pointer("/spec/replicas") {
        Some(value) => match value.as_i64() {
            Some(n) if n >= 0 => Ok(n),
            Some(n) => Err(invalid(FieldError::invalid("spec.replicas", n, "must be greater than or equal to 0"))),
            None => Err(invalid(FieldError::invalid("spec.replicas", value.clone(), "must be an integer"))),
        },
        None => Err(invalid(FieldError::required("spec.replicas", ""))),
    }
}

fn user_agent(headers: &http::HeaderMap) -> &str {
    headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deployment_reads_as_its_scale() {
        let deployment = json!({
            "metadata": {"name": "web", "namespace": "ns", "uid": "u", "resourceVersion": "7", "creationTimestamp": "t"},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}},
            "status": {"replicas": 2},
        });
        let scale = scale_of(&deployment);
        assert_eq!(scale["spec"], json!({"replicas": 3}));
        assert_eq!(scale["status"], json!({"replicas": 2, "selector": "app=web"}));
        assert_eq!(scale["metadata"]["namespace"], "ns");
        assert_eq!(scale["metadata"]["resourceVersion"], "7");
    }

    #[test]
    fn negative_or_missing_replicas_are_invalid() {
        assert_eq!(replicas(&json!({"spec": {"replicas": 4}})).ok(), Some(4));
        assert_eq!(replicas(&json!({"spec": {"replicas": -1}})).map_err(|e| e.code), Err(422));
        assert_eq!(replicas(&json!({"spec": {}})).map_err(|e| e.code), Err(422));
    }
}
