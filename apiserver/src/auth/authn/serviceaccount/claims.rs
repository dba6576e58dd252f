//! ServiceAccount JWT claims: the legacy Secret-based form and the bound (TokenRequest) form, signing and checking.

use std::collections::BTreeMap;

use base64::Engine as _;
use jsonwebtoken::{Header, Validation};
use serde::{Deserialize, Serialize};

use super::keys::{Signer, Verifier};

/// The issuer of legacy Secret-based tokens.
pub const LEGACY_ISSUER: &str = "kubernetes/serviceaccount";

/// How far `nbf`/`iat` of a bound token may be in the future (clock skew), as kube allows.
const LEEWAY_SECONDS: i64 = 60;

/// The claims of a ServiceAccount token, both forms (absent fields are omitted).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer.
    #[serde(default)]
    pub iss: String,
    /// `system:serviceaccount:<namespace>:<name>`.
    #[serde(default)]
    pub sub: String,
    /// Audiences (bound tokens).
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "one_or_many")]
    pub aud: Vec<String>,
    /// Expiry, seconds since the epoch (bound tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// Issued at (bound tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// Not before (bound tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// Token id (bound tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// The private claims of a bound token.
    #[serde(rename = "kubernetes.io", default, skip_serializing_if = "Option::is_none")]
    pub kubernetes: Option<BoundClaims>,
    /// Legacy: the namespace.
    #[serde(rename = "kubernetes.io/serviceaccount/namespace", default, skip_serializing_if = "Option::is_none")]
    pub legacy_namespace: Option<String>,
    /// Legacy: the token Secret's name.
    #[serde(rename = "kubernetes.io/serviceaccount/secret.name", default, skip_serializing_if = "Option::is_none")]
    pub legacy_secret_name: Option<String>,
    /// Legacy: the ServiceAccount's name.
    #[serde(
        rename = "kubernetes.io/serviceaccount/service-account.name",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub legacy_service_account_name: Option<String>,
    /// Legacy: the ServiceAccount's uid.
    #[serde(
        rename = "kubernetes.io/serviceaccount/service-account.uid",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub legacy_service_account_uid: Option<String>,
}

/// `aud` may be one string or a list.
fn one_or_many<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(one) => vec![one],
        OneOrMany::Many(many) => many,
    })
}

/// The `kubernetes.io` claim of a bound token.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoundClaims {
    /// The ServiceAccount's namespace.
    #[serde(default)]
    pub namespace: String,
    /// The ServiceAccount.
    #[serde(default)]
    pub serviceaccount: ObjectClaim,
    /// The Pod the token is bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<ObjectClaim>,
    /// The Secret the token is bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<ObjectClaim>,
    /// The Node the token is bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<ObjectClaim>,
}

/// A name and uid.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectClaim {
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Uid.
    #[serde(default)]
    pub uid: String,
}

/// `system:serviceaccount:<namespace>:<name>`.
pub fn username(namespace: &str, name: &str) -> String {
    format!("system:serviceaccount:{namespace}:{name}")
}

impl Claims {
    /// The claims of a legacy token kept in Secret `secret` for ServiceAccount `name` (uid `uid`) in `namespace`.
    pub fn legacy(namespace: &str, name: &str, uid: &str, secret: &str) -> Self {
        Self {
            iss: LEGACY_ISSUER.into(),
            sub: username(namespace, name),
            legacy_namespace: Some(namespace.into()),
            legacy_secret_name: Some(secret.into()),
            legacy_service_account_name: Some(name.into()),
            legacy_service_account_uid: Some(uid.into()),
            ..Self::default()
        }
    }

    /// Whether these are legacy claims.
    pub fn is_legacy(&self) -> bool {
        self.iss == LEGACY_ISSUER
    }

    /// The ServiceAccount's namespace, name and uid, whichever form.
    pub fn service_account(&self) -> Option<(&str, &str, &str)> {
        if self.is_legacy() {
            return Some((
                self.legacy_namespace.as_deref()?,
                self.legacy_service_account_name.as_deref()?,
                self.legacy_service_account_uid.as_deref()?,
            ));
        }
        let bound = self.kubernetes.as_ref()?;
        Some((&bound.namespace, &bound.serviceaccount.name, &bound.serviceaccount.uid))
    }

    /// Checks a bound token's time window and audience at `now` (seconds since the epoch).
    ///
    /// # Errors
    /// Expired, not yet valid, or meant for other audiences.
    pub fn check_bound(&self, now: i64, audiences: &[String]) -> Result<(), String> {
        let exp = self.exp.ok_or("the token has no expiry")?;
        if now >= exp {
            return Err("the token has expired".into());
        }
        if self.nbf.or(self.iat).is_some_and(|nbf| nbf > now + LEEWAY_SECONDS) {
            return Err("the token is not valid yet".into());
        }
        if !audiences.is_empty() && !self.aud.iter().any(|a| audiences.contains(a)) {
            return Err("the token's audiences are not accepted by this server".into());
        }
        Ok(())
    }
}

/// Signs `claims` into a compact JWT (with the key's `kid`).
///
/// # Errors
/// The key refused to sign.
pub fn sign(signer: &Signer, claims: &Claims) -> Result<String, String> {
    let mut header = Header::new(signer.algorithm);
    header.kid = Some(signer.kid.clone());
    jsonwebtoken::encode(&header, claims, &signer.key).map_err(|e| e.to_string())
}

/// The claims of `token` without checking its signature: only to decide whether it looks like ours (never trust).
pub fn peek(token: &str) -> Option<Claims> {
    let mut parts = token.split('.');
    let (_, payload, _, None) = (parts.next()?, parts.next()?, parts.next()?, parts.next()) else { return None };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The claims of `token` when one of `verifiers` vouches for its signature (time and audience are checked by the
/// caller).
///
/// # Errors
/// No key verifies it.
pub fn verify(verifiers: &[Verifier], token: &str) -> Result<Claims, String> {
    let header = jsonwebtoken::decode_header(token).map_err(|e| format!("malformed token: {e}"))?;
    let mut last = String::from("no key verifies the token's signature");
    for verifier in verifiers.iter().filter(|v| v.algorithm == header.alg) {
        if header.kid.as_ref().is_some_and(|kid| !kid.is_empty() && *kid != verifier.kid) {
            continue;
        }
        let mut validation = Validation::new(verifier.algorithm);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        match jsonwebtoken::decode::<Claims>(token, &verifier.key, &validation) {
            Ok(data) => return Ok(data.claims),
            Err(error) => last = format!("verifying the token: {error}"),
        }
    }
    Err(last)
}

/// The user's extra attributes for a bound token, as kube sets them.
pub fn bound_extra(claims: &Claims) -> BTreeMap<String, Vec<String>> {
    let mut extra = BTreeMap::new();
    if let Some(jti) = &claims.jti {
        extra.insert("authentication.kubernetes.io/credential-id".to_string(), vec![format!("JTI={jti}")]);
    }
    if let Some(bound) = &claims.kubernetes {
        if let Some(pod) = &bound.pod {
            extra.insert("authentication.kubernetes.io/pod-name".to_string(), vec![pod.name.clone()]);
            extra.insert("authentication.kubernetes.io/pod-uid".to_string(), vec![pod.uid.clone()]);
        }
        if let Some(node) = &bound.node {
            extra.insert("authentication.kubernetes.io/node-name".to_string(), vec![node.name.clone()]);
            extra.insert("authentication.kubernetes.io/node-uid".to_string(), vec![node.uid.clone()]);
        }
    }
    extra
}
