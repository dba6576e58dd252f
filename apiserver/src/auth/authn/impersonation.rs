//! Impersonation (`Impersonate-User`, `-Group`, `-Uid`, `-Extra-*`; kubectl `--as`), each part authorized.

use std::collections::BTreeMap;

use http::{HeaderMap, HeaderName};

use super::requestheader::unescape_key;
use crate::{
    auth::{ANONYMOUS_USER, AUTHENTICATED_GROUP, Attributes, Decision, UNAUTHENTICATED_GROUP, UserInfo, authz},
    machinery::ApiError,
};

/// The user to act as.
pub const USER_HEADER: &str = "impersonate-user";
/// A group to act in (repeatable).
pub const GROUP_HEADER: &str = "impersonate-group";
/// The uid to act with.
pub const UID_HEADER: &str = "impersonate-uid";
/// Prefix of headers naming extra attributes (`Impersonate-Extra-<key>`).
pub const EXTRA_PREFIX: &str = "impersonate-extra-";

/// The prefix of service account user names.
const SERVICE_ACCOUNT_PREFIX: &str = "system:serviceaccount:";
/// The API group of uids and user extras.
const AUTHENTICATION_GROUP: &str = "authentication.k8s.io";

/// The identity `requestor` asks to act as, when the request carries impersonation headers: every requested user,
/// group, uid and extra value must be allowed by the `impersonate` verb, else 403 with kube-apiserver's message.
/// The headers are removed from the request.
///
/// # Errors
/// 403 for a part the requestor may not impersonate; 500 (as kube-apiserver answers) for groups, extras or a uid
/// without a user.
pub async fn impersonate(
    authorizer: &authz::AuthorizerChain,
    requestor: UserInfo,
    headers: &mut HeaderMap,
) -> Result<UserInfo, ApiError> {
    let (checks, user) = requested(&requestor, headers)?;
    let Some(user) = user else { return Ok(requestor) };
    for attributes in &checks {
        match authorizer.authorize(attributes).await {
            Decision::Allow(_) => {}
            Decision::Deny(reason) | Decision::NoOpinion(reason) => {
                return Err(crate::auth::filter::forbidden_error(attributes, &reason));
            }
            Decision::Error(error) => return Err(ApiError::internal(error)),
        }
    }
    remove_headers(headers);
    Ok(user)
}

/// The authorization checks and the resulting user of the request's impersonation headers (`None` without any).
fn requested(requestor: &UserInfo, headers: &HeaderMap) -> Result<(Vec<Attributes>, Option<UserInfo>), ApiError> {
    let check = |resource: &str, api_group: &str, namespace: &str, name: &str, subresource: &str| Attributes {
        user: requestor.clone(),
        verb: "impersonate".into(),
        resource_request: true,
        namespace: namespace.into(),
        api_group: api_group.into(),
        resource: resource.into(),
        subresource: subresource.into(),
        name: name.into(),
        ..Attributes::default()
    };
    let value = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).filter(|v| !v.is_empty());
    let mut checks = Vec::new();
    let requested_user = value(USER_HEADER);
    let mut service_account_namespace = None;
    if let Some(name) = requested_user {
        match split_service_account(name) {
            Some((namespace, account)) => {
                service_account_namespace = Some(namespace);
                checks.push(check("serviceaccounts", "", namespace, account, ""));
            }
            None => checks.push(check("users", "", "", name, "")),
        }
    }
    let mut groups: Vec<String> = Vec::new();
    for group in headers.get_all(GROUP_HEADER).iter().filter_map(|v| v.to_str().ok()) {
        checks.push(check("groups", "", "", group, ""));
        groups.push(group.to_string());
    }
    let mut extra: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in headers {
        let Some(key) = name.as_str().strip_prefix(EXTRA_PREFIX) else { continue };
        let key = unescape_key(&key.to_ascii_lowercase());
        let Ok(value) = value.to_str() else { continue };
        checks.push(check("userextras", AUTHENTICATION_GROUP, "", value, &key));
        extra.entry(key).or_default().push(value.to_string());
    }
    let uid = value(UID_HEADER).unwrap_or_default().to_string();
    if !uid.is_empty() {
        checks.push(check("uids", AUTHENTICATION_GROUP, "", &uid, ""));
    }
    let Some(name) = requested_user else {
        if checks.is_empty() {
            return Ok((checks, None));
        }
        let asked: Vec<String> = checks.iter().map(|c| format!("{} {:?}", c.resource, c.name)).collect();
        return Err(ApiError::internal(format!("requested [{}] without impersonating a user", asked.join(", "))));
    };
    if let Some(namespace) = service_account_namespace
        && groups.is_empty()
    {
        groups = vec!["system:serviceaccounts".into(), format!("system:serviceaccounts:{namespace}")];
    }
    if name != ANONYMOUS_USER {
        if !groups.iter().any(|g| g == AUTHENTICATED_GROUP || g == UNAUTHENTICATED_GROUP) {
            groups.push(AUTHENTICATED_GROUP.into());
        }
    } else if !groups.iter().any(|g| g == UNAUTHENTICATED_GROUP) {
        groups.push(UNAUTHENTICATED_GROUP.into());
    }
    Ok((checks, Some(UserInfo { name: name.to_string(), uid, groups, extra })))
}

/// `(namespace, name)` of a `system:serviceaccount:<namespace>:<name>` user name.
fn split_service_account(name: &str) -> Option<(&str, &str)> {
    let rest = name.strip_prefix(SERVICE_ACCOUNT_PREFIX)?;
    let (namespace, account) = rest.split_once(':')?;
    (!namespace.is_empty() && !account.is_empty() && !account.contains(':')).then_some((namespace, account))
}

/// Removes every impersonation header.
fn remove_headers(headers: &mut HeaderMap) {
    let names: Vec<HeaderName> = headers
        .keys()
        .filter(|name| {
            let name = name.as_str();
            name == USER_HEADER || name == GROUP_HEADER || name == UID_HEADER || name.starts_with(EXTRA_PREFIX)
        })
        .cloned()
        .collect();
    for name in names {
        headers.remove(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(HeaderName::from_bytes(name.as_bytes()).unwrap(), value.parse().unwrap());
        }
        map
    }

    fn admin() -> UserInfo {
        UserInfo { name: "admin".into(), groups: vec!["system:masters".into()], ..UserInfo::default() }
    }

    #[test]
    fn a_user_without_groups_is_authenticated_and_each_part_is_checked() {
        let map = headers(&[
            ("Impersonate-User", "alice"),
            ("Impersonate-Extra-Example.com%2fScopes", "read"),
            ("Impersonate-Uid", "u-1"),
        ]);
        let (checks, user) = requested(&admin(), &map).unwrap();
        let user = user.unwrap();
        assert_eq!(user.name, "alice");
        assert_eq!(user.groups, vec![AUTHENTICATED_GROUP]);
        assert_eq!(user.uid, "u-1");
        assert_eq!(user.extra["example.com/scopes"], vec!["read"]);
        let described: Vec<_> =
            checks.iter().map(|c| (c.resource.as_str(), c.api_group.as_str(), c.subresource.as_str())).collect();
        assert_eq!(
            described,
            vec![
                ("users", "", ""),
                ("userextras", "authentication.k8s.io", "example.com/scopes"),
                ("uids", "authentication.k8s.io", "")
            ]
        );
        assert!(checks.iter().all(|c| c.verb == "impersonate" && c.user.name == "admin"));
    }

    #[test]
    fn groups_are_kept_and_a_service_account_gets_its_groups() {
        let map = headers(&[("Impersonate-User", "bob"), ("Impersonate-Group", "g1"), ("Impersonate-Group", "g2")]);
        let user = requested(&admin(), &map).unwrap().1.unwrap();
        assert_eq!(user.groups, vec!["g1", "g2", AUTHENTICATED_GROUP]);
        let map = headers(&[("Impersonate-User", "system:serviceaccount:team:builder")]);
        let (checks, user) = requested(&admin(), &map).unwrap();
        assert_eq!((checks[0].resource.as_str(), checks[0].namespace.as_str()), ("serviceaccounts", "team"));
        assert_eq!(
            user.unwrap().groups,
            vec!["system:serviceaccounts", "system:serviceaccounts:team", AUTHENTICATED_GROUP]
        );
        let anonymous = requested(&admin(), &headers(&[("Impersonate-User", ANONYMOUS_USER)])).unwrap().1.unwrap();
        assert_eq!(anonymous.groups, vec![UNAUTHENTICATED_GROUP]);
    }

    #[test]
    fn groups_without_a_user_are_refused_and_no_headers_change_nothing() {
        let error = requested(&admin(), &headers(&[("Impersonate-Group", "g")])).unwrap_err();
        assert_eq!(error.code, 500);
        assert!(error.message.contains("without impersonating a user"), "{}", error.message);
        assert!(requested(&admin(), &HeaderMap::new()).unwrap().1.is_none());
    }
}
