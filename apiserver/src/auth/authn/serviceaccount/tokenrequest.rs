//! TokenRequest: `POST .../serviceaccounts/<name>/token` issues a bound token for the ServiceAccount.

use axum::response::Response;
use http::{Method, StatusCode};
use serde_json::{Value, json};

use super::now_seconds;
use crate::{
    http::response,
    machinery::{ApiError, FieldError, GroupResource, Object},
    registry::subresource::{Connect, ConnectRequest, ResponseKind},
};

/// The group and version of TokenRequest.
const API_VERSION: &str = "authentication.k8s.io/v1";
/// The default lifetime of a requested token: one hour.
pub const DEFAULT_EXPIRATION_SECONDS: i64 = 3600;
/// The shortest lifetime a TokenRequest may ask for: ten minutes.
pub const MIN_EXPIRATION_SECONDS: i64 = 600;
/// The longest lifetime a TokenRequest may ask for: 2^32 seconds.
const MAX_EXPIRATION_SECONDS: i64 = 1 << 32;

/// The `serviceaccounts/token` subresource (create only).
pub fn connect() -> Connect {
    Connect {
        group: String::new(),
        resource: "serviceaccounts".into(),
        subresource: "token".into(),
        methods: vec![Method::POST],
        subpath: false,
        response_kind: ResponseKind::new("authentication.k8s.io", "v1", "TokenRequest"),
        handler: |request| Box::pin(serve(request)),
    }
}

async fn serve(request: ConnectRequest) -> Result<Response, ApiError> {
    let ConnectRequest { state, store, namespace, name, request, .. } = request;
    let Some(authenticator) = state.auth.authenticator.service_accounts() else { return Ok(response::not_found()) };
    let tokens = authenticator.tokens().clone();
    let (_, encoding, request) = crate::http::create_only_body(request, state.max_body_bytes, "TokenRequest").await?;
    let namespace = namespace.unwrap_or_default();
    let account = store.get_cached(Some(&namespace), &name).await?;
    let uid = account.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or_default().to_string();
    let spec = parse(&request, &name, tokens.audiences())?;
    let bound = match &spec.bound {
        Some(reference) => Some(bound_object(&state, &namespace, reference).await?),
        None => None,
    };
    let now = now_seconds();
    let token = tokens
        .bound_token(
            (&namespace, &name, &uid),
            spec.audiences.clone(),
            now,
            spec.seconds,
            bound.as_ref().map(|(kind, name, uid)| (kind.as_str(), name.as_str(), uid.as_str())),
        )
        .map_err(ApiError::internal)?;
    let timestamp = |seconds: i64| {
        jiff::Timestamp::from_second(seconds).map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()).unwrap_or_default()
    };
    let mut spec_out = json!({"audiences": spec.audiences, "expirationSeconds": spec.seconds});
    if let Some(reference) = request.pointer("/spec/boundObjectRef").filter(|v| !v.is_null()) {
        let mut reference = reference.clone();
        if let Some((_, _, uid)) = &bound {
            reference["uid"] = json!(uid);
        }
        spec_out["boundObjectRef"] = reference;
    }
    let answer = json!({
        "apiVersion": API_VERSION,
        "kind": "TokenRequest",
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": timestamp(now)},
        "spec": spec_out,
        "status": {"token": token, "expirationTimestamp": timestamp(now + spec.seconds)},
    });
    Ok(response::value(StatusCode::CREATED, encoding, &answer))
}

/// A TokenRequest's spec, defaulted and checked.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Spec {
    pub audiences: Vec<String>,
    pub seconds: i64,
    /// `(kind, name, uid)`, the uid possibly empty.
    pub bound: Option<(String, String, String)>,
}

/// Reads and checks `spec` of a TokenRequest for ServiceAccount `name`; `audiences` default to the server's.
pub(super) fn parse(request: &Object, name: &str, audiences: &[String]) -> Result<Spec, ApiError> {
    let kind = request.get("kind").and_then(Value::as_str).unwrap_or("TokenRequest");
    let api_version = request.get("apiVersion").and_then(Value::as_str).unwrap_or(API_VERSION);
    if kind != "TokenRequest" || api_version != API_VERSION {
        return Err(ApiError::bad_request(format!(
            "the body of a token request must be a {API_VERSION} TokenRequest, not {api_version} {kind}"
        )));
    }
    let invalid = |errors: Vec<FieldError>| ApiError::invalid("TokenRequest", "authentication.k8s.io", name, &errors);
    let mut requested: Vec<String> = request
        .pointer("/spec/audiences")
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default();
    if requested.is_empty() {
        requested = audiences.to_vec();
    }
    let seconds = match request.pointer("/spec/expirationSeconds") {
        None | Some(Value::Null) => DEFAULT_EXPIRATION_SECONDS,
        Some(value) => value.as_i64().ok_or_else(|| {
            invalid(vec![FieldError::invalid("spec.expirationSeconds", value.clone(), "must be an integer")])
        })?,
    };
    if seconds < MIN_EXPIRATION_SECONDS {
        return Err(invalid(vec![FieldError::invalid(
            "spec.expirationSeconds",
            seconds,
            "may not specify a duration less than 10 minutes",
        )]));
    }
    if seconds > MAX_EXPIRATION_SECONDS {
        return Err(invalid(vec![FieldError::invalid(
            "spec.expirationSeconds",
            seconds,
            "may not specify a duration larger than 2^32 seconds",
        )]));
    }
    let bound = match request.pointer("/spec/boundObjectRef").filter(|v| !v.is_null()) {
        None => None,
        Some(reference) => {
            let field = |key: &str| reference.get(key).and_then(Value::as_str).unwrap_or_default().to_string();
            let kind = field("kind");
            if !matches!(kind.as_str(), "Pod" | "Secret" | "Node") {
                return Err(invalid(vec![FieldError::not_supported(
                    "spec.boundObjectRef.kind",
                    kind,
                    &["Pod", "Secret", "Node"],
                )]));
            }
            if field("apiVersion") != "v1" {
                return Err(invalid(vec![FieldError::invalid(
                    "spec.boundObjectRef.apiVersion",
                    field("apiVersion"),
                    "must be v1",
                )]));
            }
            if field("name").is_empty() {
                return Err(invalid(vec![FieldError::required("spec.boundObjectRef.name", "")]));
            }
            Some((kind, field("name"), field("uid")))
        }
    };
    Ok(Spec { audiences: requested, seconds, bound })
}

/// The bound object's kind, name and uid, read from storage (its uid must match a given one).
async fn bound_object(
    state: &crate::http::ApiState,
    namespace: &str,
    (kind, name, uid): &(String, String, String),
) -> Result<(String, String, String), ApiError> {
    let (plural, namespace) = match kind.as_str() {
        "Pod" => ("pods", Some(namespace)),
        "Secret" => ("secrets", Some(namespace)),
        _ => ("nodes", None),
    };
    let store = state
        .registry
        .lookup("", "v1", plural)
        .ok_or_else(|| ApiError::not_found(&GroupResource::new("", plural), name))?;
    let object = store.get_cached(namespace, name).await?;
    let found = object.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or_default().to_string();
    if !uid.is_empty() && *uid != found {
        let why = format!(
            "the UID in the bound object reference ({uid}) does not match the UID in record. The object might have \
             been deleted and then recreated"
        );
        return Err(ApiError::conflict(&GroupResource::new("", plural), name, &why));
    }
    Ok((kind.clone(), name.clone(), found))
}
