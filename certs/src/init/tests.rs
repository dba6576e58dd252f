//! Tests of `init`: a fresh layout, reuse, renewal, reissue on change, and errors that name the broken file.

use std::os::unix::fs::PermissionsExt;

use super::*;

fn options(dir: &Path, hosts: &[&str]) -> InitOptions {
    InitOptions { dir: dir.to_owned(), hosts: hosts.iter().map(|h| (*h).to_owned()).collect(), server: None }
}

fn facts_of(path: &Path) -> pemfile::CertFacts {
    let pem = fs::read_to_string(path).unwrap();
    pemfile::facts(path, &pemfile::cert_der(path, &pem).unwrap()).unwrap()
}

fn all_files(files: &Files) -> Vec<PathBuf> {
    vec![
        files.ca_cert.clone(),
        files.ca_key.clone(),
        files.serving_cert.clone(),
        files.serving_key.clone(),
        files.front_proxy_ca_cert.clone(),
        files.front_proxy_ca_key.clone(),
        files.front_proxy_client_cert.clone(),
        files.front_proxy_client_key.clone(),
        files.admin_cert.clone(),
        files.admin_key.clone(),
        files.admin_kubeconfig.clone(),
        files.sa_key.clone(),
        files.sa_pub.clone(),
    ]
}

#[test]
fn a_fresh_directory_gets_every_file_private_to_its_owner() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("certs");
    let report = init(&options(&dir, &["flotilla.example.com"])).unwrap();
    let mut created = report.created.clone();
    created.sort();
    let mut expected = all_files(&report.files);
    expected.sort();
    assert_eq!(created, expected);
    assert!(report.reused.is_empty() && report.expiring.is_empty());
    for file in all_files(&report.files) {
        assert_eq!(fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600, "{}", file.display());
    }
    assert_eq!(fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
}

#[test]
fn a_second_run_reuses_every_file_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    let first = init(&options(tmp.path(), &["10.1.2.3"])).unwrap();
    let before: Vec<String> = all_files(&first.files).iter().map(|f| fs::read_to_string(f).unwrap()).collect();
    let second = init(&options(tmp.path(), &["10.1.2.3"])).unwrap();
    assert!(second.created.is_empty(), "recreated {:?}", second.created);
    assert_eq!(second.reused.len(), 13);
    let after: Vec<String> = all_files(&second.files).iter().map(|f| fs::read_to_string(f).unwrap()).collect();
    assert_eq!(before, after);
}

#[test]
fn the_service_account_signing_key_is_p256_and_its_public_key_is_beside_it() {
    let tmp = tempfile::tempdir().unwrap();
    let files = init(&options(tmp.path(), &[])).unwrap().files;
    let key = parse_key(&files.sa_key, &fs::read_to_string(&files.sa_key).unwrap()).unwrap();
    assert!(key.is_compatible(&rcgen::PKCS_ECDSA_P256_SHA256), "sa.key is an ECDSA P-256 key");
    assert_eq!(fs::read_to_string(&files.sa_pub).unwrap(), key.public_key_pem());
    fs::remove_file(&files.sa_pub).unwrap();
    let again = init(&options(tmp.path(), &[])).unwrap();
    assert_eq!(again.created, vec![files.sa_pub.clone()], "a missing sa.pub is derived from sa.key");
    fs::remove_file(&files.sa_key).unwrap();
    let error = init(&options(tmp.path(), &[])).unwrap_err().to_string();
    assert!(error.contains("sa.pub") && error.contains("sa.key"), "{error}");
}

#[test]
fn the_certificates_carry_the_identities_kubernetes_expects() {
    let tmp = tempfile::tempdir().unwrap();
    let files = init(&options(tmp.path(), &["api.example.com", "10.0.0.7"])).unwrap().files;
    let serving = facts_of(&files.serving_cert);
    for host in ["api.example.com", "10.0.0.7", "localhost", "127.0.0.1", "::1"] {
        assert!(serving.sans.iter().any(|san| san == host), "{host} missing from {:?}", serving.sans);
    }
    assert!(!serving.is_ca);
    let admin = facts_of(&files.admin_cert);
    assert_eq!(admin.common_name.as_deref(), Some("admin"));
    assert_eq!(admin.organizations, ["system:masters"]);
    let proxy = facts_of(&files.front_proxy_client_cert);
    assert_eq!(proxy.common_name.as_deref(), Some("front-proxy-client"));
    assert!(facts_of(&files.ca_cert).is_ca && facts_of(&files.front_proxy_ca_cert).is_ca);

    let ca = Authority::load(&files.ca_cert, &files.ca_key).unwrap();
    let front_proxy_ca = Authority::load(&files.front_proxy_ca_cert, &files.front_proxy_ca_key).unwrap();
    let der = |path: &Path| pemfile::cert_der(path, &fs::read_to_string(path).unwrap()).unwrap();
    assert!(ca.signed(&der(&files.serving_cert)) && ca.signed(&der(&files.admin_cert)));
    assert!(front_proxy_ca.signed(&der(&files.front_proxy_client_cert)));
    assert!(!ca.signed(&der(&files.front_proxy_client_cert)), "the two CAs must be distinct");
}

#[test]
fn the_admin_kubeconfig_points_at_the_first_host_with_the_admin_credentials() {
    let tmp = tempfile::tempdir().unwrap();
    let files = init(&options(tmp.path(), &["fd00::5", "b.example"])).unwrap().files;
    let config: serde_yaml::Value =
        serde_yaml::from_str(&fs::read_to_string(&files.admin_kubeconfig).unwrap()).unwrap();
    assert_eq!(config["clusters"][0]["cluster"]["server"], "https://[fd00::5]:6443");
    assert_eq!(config["users"][0]["name"], "admin");
    let explicit = InitOptions { server: Some("https://h:1".into()), ..options(tmp.path(), &["fd00::5"]) };
    let report = init(&explicit).unwrap();
    assert_eq!(report.created, std::slice::from_ref(&files.admin_kubeconfig), "only the kubeconfig changes");
    let config: serde_yaml::Value =
        serde_yaml::from_str(&fs::read_to_string(&files.admin_kubeconfig).unwrap()).unwrap();
    assert_eq!(config["clusters"][0]["cluster"]["server"], "https://h:1");
}

#[test]
fn a_new_host_reissues_only_the_serving_certificate() {
    let tmp = tempfile::tempdir().unwrap();
    let files = init(&options(tmp.path(), &["a.example"])).unwrap().files;
    let report = init(&options(tmp.path(), &["a.example", "b.example"])).unwrap();
    assert_eq!(report.created, [files.serving_cert.clone(), files.serving_key.clone()]);
    assert!(facts_of(&files.serving_cert).sans.iter().any(|s| s == "b.example"));
    let fewer = init(&options(tmp.path(), &["a.example"])).unwrap();
    assert!(fewer.created.is_empty(), "a certificate covering more hosts than asked is still good");
}

#[test]
fn a_client_certificate_expiring_soon_is_reported_and_renewed() {
    let tmp = tempfile::tempdir().unwrap();
    let files = init(&options(tmp.path(), &[])).unwrap().files;
    let ca = Authority::load(&files.ca_cert, &files.ca_key).unwrap();
    let short = ca.issue_client_valid_for("admin", &["system:masters"], Duration::from_secs(5 * 24 * 60 * 60)).unwrap();
    fs::write(&files.admin_cert, &short.cert_pem).unwrap();
    fs::write(&files.admin_key, &short.key_pem).unwrap();

    let report = init(&options(tmp.path(), &[])).unwrap();
    assert_eq!(report.expiring.len(), 1);
    assert_eq!(report.expiring[0].path, files.admin_cert);
    assert!(report.expiring[0].renewed);
    assert!(report.expiring[0].not_after < SystemTime::now() + Duration::from_secs(6 * 24 * 60 * 60));
    assert!(report.created.contains(&files.admin_cert) && report.created.contains(&files.admin_kubeconfig));
    assert!(facts_of(&files.admin_cert).not_after > SystemTime::now() + Duration::from_secs(300 * 24 * 60 * 60));
    assert!(init(&options(tmp.path(), &[])).unwrap().expiring.is_empty());
}

#[test]
fn a_ca_expiring_soon_is_reported_but_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let files = Files::in_dir(tmp.path());
    let ca = Authority::generate("short-ca", Duration::from_secs(24 * 60 * 60)).unwrap();
    fs::write(&files.ca_cert, ca.cert_pem()).unwrap();
    fs::write(&files.ca_key, ca.key_pem()).unwrap();
    let report = init(&options(tmp.path(), &[])).unwrap();
    let ca_report: Vec<_> = report.expiring.iter().filter(|e| e.path == files.ca_cert).collect();
    assert_eq!(ca_report.len(), 1);
    assert!(!ca_report[0].renewed);
    assert_eq!(fs::read_to_string(&files.ca_cert).unwrap(), ca.cert_pem());
}

#[test]
fn leaf_certificates_from_another_ca_are_reissued() {
    let tmp = tempfile::tempdir().unwrap();
    let files = init(&options(tmp.path(), &[])).unwrap().files;
    fs::remove_file(&files.ca_cert).unwrap();
    fs::remove_file(&files.ca_key).unwrap();
    let report = init(&options(tmp.path(), &[])).unwrap();
    for file in [&files.ca_cert, &files.serving_cert, &files.admin_cert, &files.admin_kubeconfig] {
        assert!(report.created.contains(file), "{} not reissued", file.display());
    }
    assert!(report.reused.contains(&files.front_proxy_client_cert), "the front-proxy CA did not change");
}

#[test]
fn a_broken_certificate_is_an_error_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let files = init(&options(tmp.path(), &[])).unwrap().files;
    fs::write(&files.serving_cert, "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n").unwrap();
    let error = init(&options(tmp.path(), &[])).unwrap_err();
    assert!(matches!(error, CertsError::Parse { ref path, .. } if *path == files.serving_cert), "{error}");
    assert!(error.to_string().contains("apiserver.crt"), "{error}");

    fs::write(&files.ca_key, "garbage").unwrap();
    let error = init(&options(tmp.path(), &[])).unwrap_err();
    assert!(error.to_string().contains("ca.key"), "{error}");
}

#[test]
fn a_key_that_does_not_match_its_certificate_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let files = init(&options(tmp.path(), &[])).unwrap().files;
    fs::copy(&files.serving_key, &files.admin_key).unwrap();
    let error = init(&options(tmp.path(), &[])).unwrap_err();
    assert!(matches!(error, CertsError::Mismatch { ref key, .. } if *key == files.admin_key), "{error}");
}

#[test]
fn a_ca_missing_its_key_is_an_error_instead_of_a_silent_new_ca() {
    let tmp = tempfile::tempdir().unwrap();
    let files = init(&options(tmp.path(), &[])).unwrap().files;
    fs::remove_file(&files.front_proxy_ca_key).unwrap();
    let error = init(&options(tmp.path(), &[])).unwrap_err();
    assert!(matches!(error, CertsError::HalfPair { ref missing, .. } if *missing == files.front_proxy_ca_key));
}

#[test]
fn a_leaf_certificate_is_not_accepted_as_an_authority() {
    let tmp = tempfile::tempdir().unwrap();
    let files = init(&options(tmp.path(), &[])).unwrap().files;
    let error = Authority::load(&files.admin_cert, &files.admin_key).unwrap_err();
    assert!(matches!(error, CertsError::NotCa { .. }), "{error}");
}

#[test]
fn an_invalid_host_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let error = init(&options(tmp.path(), &["bad host!"])).unwrap_err();
    assert!(matches!(error, CertsError::InvalidHost { .. }), "{error}");
}

#[test]
fn a_debug_print_of_an_issued_certificate_hides_the_key() {
    let ca = Authority::generate("ca", CA_VALIDITY).unwrap();
    let issued = ca.issue_client("bob", &[]).unwrap();
    assert!(!format!("{issued:?}").contains("PRIVATE KEY"));
}

#[test]
fn a_client_certificate_carries_every_organization_as_a_group() {
    let tmp = tempfile::tempdir().unwrap();
    let files = init(&options(tmp.path(), &[])).unwrap().files;
    let ca = Authority::load(&files.ca_cert, &files.ca_key).unwrap();
    let issued = ca.issue_client("alice", &["team-a", "team-b", "system:masters"]).unwrap();
    let path = tmp.path().join("alice.crt");
    fs::write(&path, &issued.cert_pem).unwrap();
    let facts = facts_of(&path);
    assert_eq!(facts.common_name.as_deref(), Some("alice"));
    assert_eq!(facts.organizations, ["team-a", "team-b", "system:masters"]);
    let der = pemfile::cert_der(&path, &issued.cert_pem).unwrap();
    assert!(ca.signed(&der), "the re-signed certificate verifies against the CA");
    let key = parse_key(&path, &issued.key_pem).unwrap();
    assert_eq!(key.subject_public_key_info(), facts.public_key);
}
