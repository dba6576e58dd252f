//! ServiceAccount tokens: claims, signature, expiry and audience checks, and revocation against a real registry.

use std::{sync::Arc, time::Duration};

use base64::Engine as _;
use serde_json::{Value, json};

use super::{
    ServiceAccountAuthenticator, ServiceAccountOptions, ServiceAccountTokens, keys::generate_pair, now_seconds,
    tokenrequest,
};
use crate::{
    machinery::options::{DeleteOptions, ListOptions, WriteOptions},
    registry::{Registry, RequestContext, builtin},
    storage::{EmbeddedStore, KeySpace, SharedStore},
};

fn tokens_with(options: &ServiceAccountOptions) -> ServiceAccountTokens {
    let (key, _) = generate_pair().unwrap();
    ServiceAccountTokens::from_pem(&key, options, "CA PEM".into()).unwrap()
}

fn tokens() -> ServiceAccountTokens {
    tokens_with(&ServiceAccountOptions::default())
}

fn payload(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

#[test]
fn a_legacy_token_carries_the_claims_kube_puts_in_it() {
    let tokens = tokens();
    let token = tokens.legacy_token("team", "robot", "uid-1", "robot-token").unwrap();
    assert_eq!(
        payload(&token),
        json!({
            "iss": "kubernetes/serviceaccount",
            "sub": "system:serviceaccount:team:robot",
            "kubernetes.io/serviceaccount/namespace": "team",
            "kubernetes.io/serviceaccount/secret.name": "robot-token",
            "kubernetes.io/serviceaccount/service-account.name": "robot",
            "kubernetes.io/serviceaccount/service-account.uid": "uid-1",
        })
    );
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::ES256);
    assert!(header.kid.is_some_and(|kid| !kid.is_empty()));
    let claims = tokens.verify(&token, now_seconds()).unwrap().unwrap();
    assert_eq!(claims.service_account(), Some(("team", "robot", "uid-1")));
}

#[test]
fn a_bound_token_names_its_issuer_audience_lifetime_and_account() {
    let tokens = tokens();
    let now = now_seconds();
    let token = tokens.bound_token(("team", "robot", "uid-1"), vec!["api".into()], now, 3600, None).unwrap();
    let claims = payload(&token);
    assert_eq!(claims["iss"], super::DEFAULT_ISSUER);
    assert_eq!(claims["aud"], json!(["api"]));
    assert_eq!(claims["exp"], json!(now + 3600));
    assert_eq!(claims["kubernetes.io"]["serviceaccount"], json!({"name": "robot", "uid": "uid-1"}));
    assert_eq!(claims["sub"], "system:serviceaccount:team:robot");
}

#[test]
fn a_token_signed_by_another_key_is_refused() {
    let (ours, theirs) = (tokens(), tokens());
    let legacy = theirs.legacy_token("team", "robot", "uid-1", "robot-token").unwrap();
    assert!(ours.verify(&legacy, now_seconds()).is_err());
    let audiences = ours.audiences().to_vec();
    let bound = theirs.bound_token(("team", "robot", "uid-1"), audiences, now_seconds(), 3600, None).unwrap();
    assert!(ours.verify(&bound, now_seconds()).is_err());
    let genuine = ours.legacy_token("team", "robot", "uid-1", "robot-token").unwrap();
    let mut claims = payload(&genuine);
    claims["kubernetes.io/serviceaccount/service-account.name"] = json!("admin");
    let forged_payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims.to_string());
    let parts: Vec<&str> = genuine.split('.').collect();
    let forged = format!("{}.{forged_payload}.{}", parts[0], parts[2]);
    assert!(ours.verify(&forged, now_seconds()).is_err(), "a changed payload no longer matches its signature");
}

#[test]
fn an_expired_bound_token_is_refused() {
    let tokens = tokens();
    let issued = now_seconds() - 7200;
    let audiences = tokens.audiences().to_vec();
    let token = tokens.bound_token(("team", "robot", "uid-1"), audiences, issued, 3600, None).unwrap();
    let error = tokens.verify(&token, now_seconds()).unwrap_err();
    assert!(error.contains("expired"), "{error}");
    assert!(tokens.verify(&token, issued + 10).unwrap().is_some());
}

#[test]
fn a_bound_token_for_another_audience_is_refused() {
    let tokens = tokens_with(&ServiceAccountOptions { api_audiences: vec!["flotilla".into()], ..Default::default() });
    let now = now_seconds();
    let token = tokens.bound_token(("team", "robot", "uid-1"), vec!["vault".into()], now, 3600, None).unwrap();
    let error = tokens.verify(&token, now).unwrap_err();
    assert!(error.contains("audiences"), "{error}");
    let token = tokens.bound_token(("team", "robot", "uid-1"), vec!["flotilla".into()], now, 3600, None).unwrap();
    assert!(tokens.verify(&token, now).unwrap().is_some());
}

#[test]
fn tokens_of_other_issuers_and_non_jwts_are_left_to_other_authenticators() {
    let ours = tokens();
    let other = tokens_with(&ServiceAccountOptions { issuers: vec!["https://elsewhere".into()], ..Default::default() });
    let token = other.bound_token(("team", "robot", "uid-1"), vec!["x".into()], now_seconds(), 3600, None).unwrap();
    assert_eq!(ours.verify(&token, now_seconds()), Ok(None));
    assert_eq!(ours.verify("s3cret-static-token", now_seconds()), Ok(None));
}

#[test]
fn a_token_request_shorter_than_ten_minutes_is_invalid_and_defaults_apply() {
    let audiences = vec!["default-audience".to_string()];
    let short =
        json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 60}});
    let error = tokenrequest::parse(&short, "robot", &audiences).unwrap_err();
    assert_eq!(error.code, 422);
    assert!(error.message.contains("less than 10 minutes"), "{}", error.message);
    let spec = tokenrequest::parse(&json!({"spec": {}}), "robot", &audiences).unwrap();
    assert_eq!((spec.audiences, spec.seconds, spec.bound), (audiences, 3600, None));
}

/// A registry with every built-in kind over an in-memory store, the default namespaces made.
async fn registry() -> Registry {
    let store: SharedStore = Arc::new(EmbeddedStore::in_memory().unwrap());
    let registry = Registry::new(store, KeySpace::new("/registry"));
    builtin::register_all(&registry);
    for resource in registry.resources() {
        resource.ready().await;
    }
    registry.ensure_default_namespaces().await.unwrap();
    registry
}

/// Polls `check` for up to five seconds.
async fn eventually<T, F: AsyncFnMut() -> Option<T>>(what: &str, mut check: F) -> T {
    for _ in 0..100 {
        if let Some(found) = check().await {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn a_legacy_token_is_revoked_when_its_secret_is_deleted() {
    let registry = registry().await;
    let tokens = Arc::new(tokens());
    let _controller = registry.start_serviceaccounts_controller(Arc::clone(&tokens));
    let authenticator = ServiceAccountAuthenticator::new(tokens, registry.clone());
    let ctx = RequestContext::for_agent("test");
    let accounts = registry.lookup("", "v1", "serviceaccounts").unwrap();
    let secrets = registry.lookup("", "v1", "secrets").unwrap();
    let account = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "robot"}});
    let account = accounts.create(&ctx, Some("default"), account, &WriteOptions::default()).await.unwrap();
    let secret = json!({
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
        "metadata": {"name": "robot-token", "annotations": {"kubernetes.io/service-account.name": "robot"}},
    });
    secrets.create(&ctx, Some("default"), secret, &WriteOptions::default()).await.unwrap();
    let filled = eventually("the token Secret to be filled", async || {
        let secret = secrets.get_cached(Some("default"), "robot-token").await.ok()?;
        secret.pointer("/data/token").is_some().then_some(secret)
    })
    .await;
    assert_eq!(
        filled["metadata"]["annotations"]["kubernetes.io/service-account.uid"], account["metadata"]["uid"],
        "the Secret records the ServiceAccount's uid"
    );
    let decode = |key: &str| {
        let data = filled["data"][key].as_str().unwrap();
        String::from_utf8(base64::engine::general_purpose::STANDARD.decode(data).unwrap()).unwrap()
    };
    assert_eq!((decode("namespace").as_str(), decode("ca.crt").as_str()), ("default", "CA PEM"));
    let token = decode("token");
    let user = authenticator.authenticate(&token).await.unwrap().unwrap();
    assert_eq!(user.name, "system:serviceaccount:default:robot");
    assert_eq!(user.uid, account["metadata"]["uid"].as_str().unwrap());
    assert_eq!(user.groups, vec!["system:serviceaccounts", "system:serviceaccounts:default"]);

    secrets.delete(&ctx, Some("default"), "robot-token", &DeleteOptions::default()).await.unwrap();
    let error = authenticator.authenticate(&token).await.unwrap_err();
    assert!(error.contains("robot-token"), "{error}");
}

#[tokio::test]
async fn namespaces_get_a_default_account_and_orphan_token_secrets_are_deleted() {
    let registry = registry().await;
    let _controller = registry.start_serviceaccounts_controller(Arc::new(tokens()));
    let ctx = RequestContext::for_agent("test");
    let namespaces = registry.lookup("", "v1", "namespaces").unwrap();
    let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}});
    namespaces.create(&ctx, None, namespace, &WriteOptions::default()).await.unwrap();
    let accounts = registry.lookup("", "v1", "serviceaccounts").unwrap();
    for namespace in ["default", "kube-system", "team"] {
        eventually("a default ServiceAccount", async || accounts.get_cached(Some(namespace), "default").await.ok())
            .await;
    }
    let secrets = registry.lookup("", "v1", "secrets").unwrap();
    let orphan = json!({
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
        "metadata": {"name": "ghost-token", "annotations": {"kubernetes.io/service-account.name": "ghost"}},
    });
    secrets.create(&ctx, Some("team"), orphan, &WriteOptions::default()).await.unwrap();
    eventually("the orphan token Secret to be deleted", async || {
        let listed = secrets.list(Some("team"), &ListOptions::default()).await.ok()?;
        listed.items.is_empty().then_some(())
    })
    .await;
}

#[test]
fn key_files_sign_and_verify_and_a_generated_pair_is_reused() {
    let dir = tempfile::tempdir().unwrap();
    let generated = ServiceAccountTokens::load(&ServiceAccountOptions::default(), dir.path(), String::new()).unwrap();
    let again = ServiceAccountTokens::load(&ServiceAccountOptions::default(), dir.path(), String::new()).unwrap();
    let token = generated.legacy_token("team", "robot", "uid-1", "robot-token").unwrap();
    assert!(again.verify(&token, now_seconds()).unwrap().is_some(), "the second start reuses sa.key");

    let from_files = ServiceAccountOptions {
        signing_key_file: Some(dir.path().join(super::keys::GENERATED_SIGNING_KEY)),
        key_files: vec![dir.path().join(super::keys::GENERATED_PUBLIC_KEY)],
        ..ServiceAccountOptions::default()
    };
    let tokens = ServiceAccountTokens::load(&from_files, std::path::Path::new("/nonexistent"), String::new()).unwrap();
    assert!(tokens.verify(&token, now_seconds()).unwrap().is_some());

    let (other_key, other_public) = generate_pair().unwrap();
    std::fs::write(dir.path().join("other.pub"), other_public).unwrap();
    let verify_only =
        ServiceAccountOptions { key_files: vec![dir.path().join("other.pub")], ..ServiceAccountOptions::default() };
    let tokens = ServiceAccountTokens::load(&verify_only, dir.path(), String::new()).unwrap();
    assert!(tokens.verify(&token, now_seconds()).is_err(), "a key file of another key refuses our tokens");
    assert!(tokens.legacy_token("team", "robot", "uid-1", "robot-token").is_err(), "no signing key, no tokens");
    let other = ServiceAccountTokens::from_pem(&other_key, &ServiceAccountOptions::default(), String::new()).unwrap();
    let theirs = other.legacy_token("team", "robot", "uid-1", "robot-token").unwrap();
    assert!(tokens.verify(&theirs, now_seconds()).unwrap().is_some());

    std::fs::write(dir.path().join("garbage.pem"), "not a key").unwrap();
    let broken = ServiceAccountOptions {
        signing_key_file: Some(dir.path().join("garbage.pem")),
        ..ServiceAccountOptions::default()
    };
    let error = ServiceAccountTokens::load(&broken, dir.path(), String::new()).unwrap_err().to_string();
    assert!(error.contains("garbage.pem") && error.contains("--service-account-signing-key-file"), "{error}");
}
