//! List continue tokens in kube-apiserver's format: base64url of `{"v":"meta.k8s.io/v1","rv":N,"start":"key\u0000"}`.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};

use super::ApiError;

/// The only token version kube-apiserver encodes.
const TOKEN_VERSION: &str = "meta.k8s.io/v1";

/// The revision of a token that continues at the latest state (after the original revision was compacted).
pub const INCONSISTENT_REVISION: i64 = -1;

const INCONSISTENT_CONTINUE: &str = "The provided continue parameter is too old to display a consistent list \
result. You can start a new list without the continue parameter, or use the continue token in this response to \
retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - \
objects that were created, modified, or deleted between the time the first chunk was returned and now may show up \
in the list.";

#[derive(Serialize, Deserialize)]
struct Wire {
    #[serde(rename = "v", default)]
    version: String,
    #[serde(rename = "rv", default)]
    resource_version: i64,
    #[serde(rename = "start", default)]
    start: String,
}

/// A decoded continue token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContinueToken {
    /// The revision the list is served at; [`INCONSISTENT_REVISION`] = the latest.
    pub resource_version: i64,
    /// Where the next page starts: the storage key after the list's key prefix, usually the last returned key
    /// followed by `\0`.
    pub start: String,
}

impl ContinueToken {
    /// The token for the page after `last_key` (a full storage key under `key_prefix`) at `resource_version`.
    ///
    /// # Errors
    /// 500 when `last_key` is not under `key_prefix` (a bug in the caller).
    pub fn after(last_key: &str, key_prefix: &str, resource_version: i64) -> Result<Self, ApiError> {
        let start = last_key
            .strip_prefix(key_prefix)
            .filter(|_| !key_prefix.is_empty())
            .ok_or_else(|| ApiError::internal("unable to encode next field: the key and key prefix do not match"))?;
        Ok(Self { resource_version, start: format!("{start}\0") })
    }

    /// The opaque string for `metadata.continue`.
    pub fn encode(&self) -> String {
        let wire =
            Wire { version: TOKEN_VERSION.into(), resource_version: self.resource_version, start: self.start.clone() };
        // Serializing a struct of a string, an integer and a string cannot fail.
        let json = serde_json::to_vec(&wire).unwrap_or_default();
        URL_SAFE_NO_PAD.encode(json)
    }

    /// Decodes a `continue` parameter.
    ///
    /// # Errors
    /// 400 `invalid continue token: continue key is not valid: ...` for anything kube-apiserver would refuse: bad
    /// base64 or JSON, another version, revision 0, an empty start, or a start key that escapes the prefix.
    pub fn decode(token: &str) -> Result<Self, ApiError> {
        let invalid = |why: String| ApiError::bad_request(format!("invalid continue token: {why}"));
        let bytes = URL_SAFE_NO_PAD
            .decode(token)
            .map_err(|e| invalid(format!("continue key is not valid: {}", base64_message(&e))))?;
        let wire: Wire =
            serde_json::from_slice(&bytes).map_err(|e| invalid(format!("continue key is not valid: {e}")))?;
        if wire.version != TOKEN_VERSION {
            return Err(invalid(format!(
                "continue key is not valid: server does not recognize this encoded version {}",
                wire.version
            )));
        }
        if wire.resource_version == 0 {
            return Err(invalid(
                "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)".into(),
            ));
        }
        if wire.start.is_empty() {
            return Err(invalid("continue key is not valid: encoded start key empty (version meta.k8s.io/v1)".into()));
        }
        let rooted = if wire.start.starts_with('/') { wire.start.clone() } else { format!("/{}", wire.start) };
        if clean_path(&rooted) != rooted {
            return Err(invalid(format!("continue key is not valid: {}", wire.start)));
        }
        let start = rooted.get(1..).unwrap_or_default().to_string();
        Ok(Self { resource_version: wire.resource_version, start })
    }

    /// Whether the token continues at the latest state rather than a fixed revision.
    pub fn is_inconsistent(&self) -> bool {
        self.resource_version < 0
    }

    /// The full storage key the next page starts at.
    pub fn start_key(&self, key_prefix: &str) -> String {
        format!("{key_prefix}{}", self.start)
    }

    /// The same position at the latest state: what a 410 answer carries when this token's revision was compacted.
    pub fn inconsistent(&self) -> Self {
        Self { resource_version: INCONSISTENT_REVISION, start: self.start.clone() }
    }

    /// The 410 Expired answer for a continue token whose revision was compacted: the message kube-apiserver uses
    /// and, in the Status's `metadata.continue`, a token continuing from the same key at the latest state.
    pub fn expired_error(&self) -> ApiError {
        ApiError::expired(INCONSISTENT_CONTINUE).with_continue(self.inconsistent().encode())
    }
}

/// Decodes `continue` for a list whose keys live under `key_prefix`, also refusing an explicit resourceVersion
/// (other than `"0"`) alongside it, as kube-apiserver's storage does.
///
/// # Errors
/// 400 for an invalid token or `specifying resource version is not allowed when using continue`.
pub fn decode_for_list(token: &str, resource_version: &str) -> Result<ContinueToken, ApiError> {
    let decoded = ContinueToken::decode(token)?;
    if !resource_version.is_empty() && resource_version != "0" {
        return Err(ApiError::bad_request("specifying resource version is not allowed when using continue"));
    }
    Ok(decoded)
}

/// Go's `base64.CorruptInputError` wording.
fn base64_message(error: &base64::DecodeError) -> String {
    let offset = match error {
        base64::DecodeError::InvalidByte(offset, _) | base64::DecodeError::InvalidLastSymbol(offset, _) => *offset,
        base64::DecodeError::InvalidLength(length) => *length,
        base64::DecodeError::InvalidPadding => 0,
    };
    format!("illegal base64 data at input byte {offset}")
}

/// Go's `path.Clean` for a rooted path: collapse `//`, drop `.`, resolve `..`, no trailing slash.
fn clean_path(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_base64url_json_in_kubes_format() {
        let token = ContinueToken::after("/registry/core/configmaps/default/web", "/registry/core/configmaps/", 42)
            .unwrap()
            .encode();
        let json = URL_SAFE_NO_PAD.decode(&token).unwrap();
        assert_eq!(String::from_utf8(json).unwrap(), r#"{"v":"meta.k8s.io/v1","rv":42,"start":"default/web\u0000"}"#);
        assert!(!token.contains('=') && !token.contains('+') && !token.contains('/'));
    }

    #[test]
    fn a_token_decodes_to_the_key_after_the_last_item() {
        let prefix = "/registry/core/configmaps/";
        let token = ContinueToken::after("/registry/core/configmaps/default/web", prefix, 42).unwrap();
        let decoded = ContinueToken::decode(&token.encode()).unwrap();
        assert_eq!(decoded, token);
        assert_eq!(decoded.start_key(prefix), "/registry/core/configmaps/default/web\0");
        assert!(!decoded.is_inconsistent());
    }

    #[test]
    fn a_token_minted_by_kube_apiserver_is_understood() {
        // {"v":"meta.k8s.io/v1","rv":7,"start":"kube-system/coredns\u0000"} as kube-apiserver encodes it.
        let token = URL_SAFE_NO_PAD.encode(br#"{"v":"meta.k8s.io/v1","rv":7,"start":"kube-system/coredns\u0000"}"#);
        let decoded = ContinueToken::decode(&token).unwrap();
        assert_eq!(decoded.resource_version, 7);
        assert_eq!(decoded.start, "kube-system/coredns\0");
    }

    fn decode_error(json: &str) -> String {
        ContinueToken::decode(&URL_SAFE_NO_PAD.encode(json)).unwrap_err().message
    }

    #[test]
    fn malformed_tokens_are_bad_requests_with_kubes_messages() {
        let error = ContinueToken::decode("not base64!").unwrap_err();
        assert_eq!(error.code, 400);
        assert_eq!(
            error.message,
            "invalid continue token: continue key is not valid: illegal base64 data at input byte 3"
        );
        assert!(decode_error("{").starts_with("invalid continue token: continue key is not valid: "));
        assert_eq!(
            decode_error(r#"{"v":"meta.k8s.io/v2","rv":1,"start":"a"}"#),
            "invalid continue token: continue key is not valid: server does not recognize this encoded version meta.k8s.io/v2"
        );
        assert_eq!(
            decode_error(r#"{"v":"meta.k8s.io/v1","rv":0,"start":"a"}"#),
            "invalid continue token: continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)"
        );
        assert_eq!(
            decode_error(r#"{"v":"meta.k8s.io/v1","rv":3,"start":""}"#),
            "invalid continue token: continue key is not valid: encoded start key empty (version meta.k8s.io/v1)"
        );
    }

    #[test]
    fn a_start_key_may_not_climb_out_of_the_resource_prefix() {
        assert_eq!(
            decode_error(r#"{"v":"meta.k8s.io/v1","rv":3,"start":"../secrets/x"}"#),
            "invalid continue token: continue key is not valid: ../secrets/x"
        );
        assert!(
            ContinueToken::decode(&URL_SAFE_NO_PAD.encode(r#"{"v":"meta.k8s.io/v1","rv":3,"start":"a//b"}"#)).is_err()
        );
        let absolute = URL_SAFE_NO_PAD.encode(r#"{"v":"meta.k8s.io/v1","rv":3,"start":"/ns/a\u0000"}"#);
        assert_eq!(ContinueToken::decode(&absolute).unwrap().start, "ns/a\0");
    }

    #[test]
    fn a_compacted_token_expires_with_a_fresh_inconsistent_token() {
        let token = ContinueToken { resource_version: 9, start: "default/web\0".into() };
        let error = token.expired_error();
        assert_eq!(error.code, 410);
        let status = error.to_status();
        assert_eq!(status["reason"], "Expired");
        assert!(status["message"].as_str().unwrap().starts_with("The provided continue parameter is too old"));
        let fresh = ContinueToken::decode(status["metadata"]["continue"].as_str().unwrap()).unwrap();
        assert_eq!(fresh.resource_version, INCONSISTENT_REVISION);
        assert!(fresh.is_inconsistent());
        assert_eq!(fresh.start, "default/web\0");
    }

    #[test]
    fn a_resource_version_with_continue_is_refused_unless_it_is_zero() {
        let token = ContinueToken { resource_version: 9, start: "a\0".into() }.encode();
        assert!(decode_for_list(&token, "").is_ok());
        assert!(decode_for_list(&token, "0").is_ok());
        let error = decode_for_list(&token, "5").unwrap_err();
        assert_eq!(
            (error.code, error.message.as_str()),
            (400, "specifying resource version is not allowed when using continue")
        );
    }

    #[test]
    fn a_key_outside_the_prefix_cannot_make_a_token() {
        assert_eq!(ContinueToken::after("/other/x", "/registry/", 1).unwrap_err().code, 500);
    }
}
