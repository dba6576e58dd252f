//! The authenticator chain over real certificates: order, failures that are 401, anonymous, header stripping.

use std::sync::Arc;

use axum::body::Body;
use flotilla_certs::{Authority, CA_VALIDITY, IssuedCert};
use rustls::pki_types::{CertificateDer, pem::PemObject};

use super::*;

struct Pki {
    client_ca: Authority,
    proxy_ca: Authority,
}

fn pki() -> Pki {
    Pki {
        client_ca: Authority::generate("client-ca", CA_VALIDITY).unwrap(),
        proxy_ca: Authority::generate("proxy-ca", CA_VALIDITY).unwrap(),
    }
}

fn authenticator(pki: &Pki, anonymous: bool, tokens: &str) -> Authenticator {
    let defaults = AuthenticationOptions::default();
    let requestheader = RequestHeaderConfig {
        ca: Some(CaVerifier::from_pem(pki.proxy_ca.cert_pem().as_bytes(), "proxy").unwrap()),
        allowed_names: vec!["front-proxy-client".into()],
        username_headers: defaults.requestheader_username_headers,
        uid_headers: vec!["X-Remote-Uid".into()],
        group_headers: defaults.requestheader_group_headers,
        extra_prefixes: defaults.requestheader_extra_headers_prefix,
    };
    let client_ca = Some(CaVerifier::from_pem(pki.client_ca.cert_pem().as_bytes(), "client").unwrap());
    Authenticator {
        certificates: Arc::new(RwLock::new(Arc::new(CertificateAuthn { requestheader, client_ca }))),
        tokens: Some(TokenFile::parse(tokens).unwrap()),
        service_accounts: None,
        webhook: None,
        anonymous,
    }
}

fn request(cert: Option<&IssuedCert>, headers: &[(&str, &str)]) -> Request {
    let mut builder = http::Request::get("/api/v1/namespaces");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let mut request = builder.body(Body::empty()).unwrap();
    if let Some(cert) = cert {
        let chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(cert.cert_pem.as_bytes()).collect::<Result<_, _>>().unwrap();
        request.extensions_mut().insert(PeerCertificates(Arc::from(chain)));
    }
    request
}

#[tokio::test]
async fn a_client_certificate_is_its_cn_and_organization_and_the_proxy_headers_are_stripped() {
    let pki = pki();
    let chain = authenticator(&pki, true, "");
    let cert = pki.client_ca.issue_client("dora", &["team"]).unwrap();
    let mut forged = request(Some(&cert), &[("X-Remote-User", "admin"), ("X-Remote-Extra-Scopes", "all")]);
    let user = chain.authenticate(&mut forged).await.unwrap();
    assert_eq!(user.name, "dora");
    assert_eq!(user.groups, vec!["team", AUTHENTICATED_GROUP]);
    assert!(forged.headers().get("x-remote-user").is_none() && forged.headers().get("x-remote-extra-scopes").is_none());
}

#[tokio::test]
async fn the_front_proxy_is_believed_only_with_its_ca_and_an_allowed_name() {
    let pki = pki();
    let chain = authenticator(&pki, true, "");
    let headers = [
        ("X-Remote-User", "alice"),
        ("X-Remote-Uid", "u-1"),
        ("X-Remote-Group", "g1"),
        ("X-Remote-Group", "g2"),
        ("X-Remote-Extra-Foo", "bar"),
    ];
    let proxy = pki.proxy_ca.issue_client("front-proxy-client", &[]).unwrap();
    let user = chain.authenticate(&mut request(Some(&proxy), &headers)).await.unwrap();
    assert_eq!((user.name.as_str(), user.uid.as_str()), ("alice", "u-1"));
    assert_eq!(user.groups, vec!["g1", "g2", AUTHENTICATED_GROUP]);
    assert_eq!(user.extra["foo"], vec!["bar"]);

    let not_allowed = pki.proxy_ca.issue_client("intruder", &[]).unwrap();
    let error = chain.authenticate(&mut request(Some(&not_allowed), &headers)).await.unwrap_err();
    assert_eq!((error.code, error.message.as_str()), (401, "Unauthorized"));
    let stranger = Authority::generate("stranger", CA_VALIDITY).unwrap().issue_client("front-proxy-client", &[]);
    let error = chain.authenticate(&mut request(Some(&stranger.unwrap()), &headers)).await.unwrap_err();
    assert_eq!(error.code, 401);
    let anonymous = chain.authenticate(&mut request(None, &headers)).await.unwrap();
    assert_eq!(anonymous, UserInfo::anonymous());
}

#[tokio::test]
async fn an_unknown_token_is_401_even_with_anonymous_allowed_and_a_known_one_is_its_user() {
    let pki = pki();
    let chain = authenticator(&pki, true, "good,carol,c-1,\"system:authenticated,devs\"\n");
    let error = chain.authenticate(&mut request(None, &[("Authorization", "Bearer bad")])).await.unwrap_err();
    assert_eq!(error.code, 401);
    let mut good = request(None, &[("Authorization", "Bearer good")]);
    let user = chain.authenticate(&mut good).await.unwrap();
    assert_eq!(user.groups, vec![AUTHENTICATED_GROUP, "devs"], "system:authenticated is not added twice");
    assert!(good.headers().get(header::AUTHORIZATION).is_none(), "the credential is removed after use");
    assert_eq!(chain.review_token("bad").await.unwrap_err(), "invalid bearer token");
}

#[tokio::test]
async fn without_anonymous_auth_no_credentials_is_401() {
    let pki = pki();
    let chain = authenticator(&pki, false, "");
    assert_eq!(chain.authenticate(&mut request(None, &[])).await.unwrap_err().code, 401);
}

#[test]
fn a_remembered_verification_never_vouches_for_another_chain_or_an_expired_leaf() {
    let pki = pki();
    let verifier = CaVerifier::from_pem(pki.client_ca.cert_pem().as_bytes(), "client").unwrap();
    let der = |cert: &IssuedCert| -> Vec<CertificateDer<'static>> {
        CertificateDer::pem_slice_iter(cert.cert_pem.as_bytes()).collect::<Result<_, _>>().unwrap()
    };
    let good = der(&pki.client_ca.issue_client("dora", &[]).unwrap());
    assert!(verifier.verify(&good).is_ok());
    assert!(verifier.verify(&good).is_ok(), "verified again from memory");
    let stranger = der(&pki.proxy_ca.issue_client("dora", &[]).unwrap());
    assert!(verifier.verify(&stranger).is_err(), "a chain from another CA is refused");
    assert!(verifier.verify(&stranger).is_err(), "and refused again from memory");
    let short = der(&pki.client_ca.issue_client_valid_for("brief", &[], std::time::Duration::from_secs(1)).unwrap());
    assert!(verifier.verify(&short).is_ok());
    std::thread::sleep(std::time::Duration::from_millis(2100));
    assert!(verifier.verify(&short).is_err(), "remembered no longer than the leaf is valid");
}
