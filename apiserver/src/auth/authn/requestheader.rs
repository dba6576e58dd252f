//! Front-proxy authentication: a proxy certificate from the requestheader CA vouches for `X-Remote-*` headers.

use std::collections::BTreeMap;

use http::HeaderMap;
use rustls::pki_types::CertificateDer;

use super::x509::{self, CaVerifier};
use crate::auth::UserInfo;

/// Where the front proxy puts the identity, and whom to believe.
#[derive(Clone, Debug)]
pub struct RequestHeaderConfig {
    /// The front-proxy CA; `None` when no requestheader CA is configured (the headers are then never trusted).
    pub ca: Option<CaVerifier>,
    /// Common names the proxy certificate may have (empty: any the CA signed).
    pub allowed_names: Vec<String>,
    /// Headers carrying the user name; the first non-empty one wins.
    pub username_headers: Vec<String>,
    /// Headers carrying the user's uid; the first non-empty one wins.
    pub uid_headers: Vec<String>,
    /// Headers carrying groups; every value of each is one group.
    pub group_headers: Vec<String>,
    /// Prefixes of headers carrying extra attributes.
    pub extra_prefixes: Vec<String>,
}

impl RequestHeaderConfig {
    /// The identity the proxy vouches for, `None` when the request is not from a trusted proxy or names no user.
    ///
    /// # Errors
    /// A client certificate the front-proxy CA does not vouch for, or whose CN is not allowed.
    pub fn authenticate(
        &self,
        headers: &HeaderMap,
        chain: &[CertificateDer<'static>],
    ) -> Result<Option<UserInfo>, String> {
        let Some(ca) = &self.ca else { return Ok(None) };
        let Some(leaf) = chain.first() else { return Ok(None) };
        ca.verify(chain)?;
        if !self.allowed_names.is_empty() {
            let (common_name, _) = x509::subject(leaf)?;
            if !self.allowed_names.contains(&common_name) {
                return Err(format!(
                    "the front-proxy client certificate's common name {common_name:?} is not among \
                     --requestheader-allowed-names"
                ));
            }
        }
        let Some(name) = first_value(headers, &self.username_headers) else { return Ok(None) };
        let uid = first_value(headers, &self.uid_headers).unwrap_or_default();
        let groups = self
            .group_headers
            .iter()
            .flat_map(|header| headers.get_all(header.as_str()).iter())
            .filter_map(|value| value.to_str().ok())
            .filter(|value| !value.is_empty())
            .map(str::to_string)
            .collect();
        Ok(Some(UserInfo { name, uid, groups, extra: extra(headers, &self.extra_prefixes) }))
    }

    /// Removes every header this configuration reads, so nothing later mistakes them for a trusted identity.
    pub fn strip(&self, headers: &mut HeaderMap) {
        for name in self.username_headers.iter().chain(&self.uid_headers).chain(&self.group_headers) {
            headers.remove(name.as_str());
        }
        let prefixed: Vec<_> = headers
            .keys()
            .filter(|name| self.extra_prefixes.iter().any(|prefix| has_prefix(name.as_str(), prefix)))
            .cloned()
            .collect();
        for name in prefixed {
            headers.remove(name);
        }
    }
}

/// The first non-empty value of the first of `names` that has one.
fn first_value(headers: &HeaderMap, names: &[String]) -> Option<String> {
    names
        .iter()
        .flat_map(|name| headers.get_all(name.as_str()).iter())
        .filter_map(|value| value.to_str().ok())
        .find(|value| !value.is_empty())
        .map(str::to_string)
}

/// Whether header `name` starts with `prefix`, ignoring case.
fn has_prefix(name: &str, prefix: &str) -> bool {
    name.len() > prefix.len()
        && name.is_char_boundary(prefix.len())
        && name[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// Extra attributes from headers `<prefix><key>`: the key lower-cased, then percent-decoded (as kube does, so keys
/// such as `example.com%2fteam` can carry characters header names cannot).
pub fn extra(headers: &HeaderMap, prefixes: &[String]) -> BTreeMap<String, Vec<String>> {
    let mut extra: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in headers {
        let Some(prefix) = prefixes.iter().find(|prefix| has_prefix(name.as_str(), prefix)) else { continue };
        let Ok(value) = value.to_str() else { continue };
        let key = unescape_key(&name.as_str()[prefix.len()..].to_ascii_lowercase());
        extra.entry(key).or_default().push(value.to_string());
    }
    extra
}

/// Percent-decodes an extra key; a key with a broken escape (or decoding to invalid UTF-8) is kept as it is.
pub fn unescape_key(key: &str) -> String {
    let bytes = key.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = bytes.get(index + 1..index + 3).and_then(|h| std::str::from_utf8(h).ok());
            match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                Some(byte) => {
                    out.push(byte);
                    index += 3;
                    continue;
                }
                None => return key.to_string(),
            }
        }
        out.push(bytes[index]);
        index += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| key.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(http::HeaderName::from_bytes(name.as_bytes()).unwrap(), value.parse().unwrap());
        }
        map
    }

    #[test]
    fn extra_keys_are_lower_cased_and_percent_decoded_and_values_accumulate() {
        let map = headers(&[
            ("X-Remote-Extra-Scopes", "a"),
            ("x-remote-extra-scopes", "b"),
            ("X-Remote-Extra-Example.com%2fTeam", "blue"),
            ("X-Remote-Extra-Bad%zz", "kept"),
            ("X-Remote-User", "alice"),
        ]);
        let extra = extra(&map, &["X-Remote-Extra-".to_string()]);
        assert_eq!(extra["scopes"], vec!["a", "b"]);
        assert_eq!(extra["example.com/team"], vec!["blue"]);
        assert_eq!(extra["bad%zz"], vec!["kept"]);
        assert_eq!(extra.len(), 3);
    }

    #[test]
    fn stripping_removes_user_group_and_every_extra_header() {
        let config = RequestHeaderConfig {
            ca: None,
            allowed_names: vec![],
            username_headers: vec!["X-Remote-User".into()],
            uid_headers: vec!["X-Remote-Uid".into()],
            group_headers: vec!["X-Remote-Group".into()],
            extra_prefixes: vec!["X-Remote-Extra-".into()],
        };
        let mut map = headers(&[
            ("X-Remote-User", "admin"),
            ("X-Remote-Group", "system:masters"),
            ("X-Remote-Extra-A", "1"),
            ("Accept", "application/json"),
        ]);
        config.strip(&mut map);
        assert_eq!(map.len(), 1, "{map:?}");
        assert!(config.authenticate(&map, &[]).unwrap().is_none());
    }
}
