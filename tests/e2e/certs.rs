//! `flotilla certs init` and TLS: certificates verified by kubectl, old TLS and plain HTTP refused, no secrets in logs.

#[path = "certs/server.rs"]
mod cert_server;

use std::{
    io::{Read, Write},
    net::TcpStream,
    os::unix::fs::PermissionsExt,
    process::{Command, Stdio},
    time::Duration,
};

use cert_server::{CertServer, flotilla, init_certs, kubectl, text};
use flotilla_certs::Authority;

/// Every file `flotilla certs init` manages, by name.
const FILES: [&str; 11] = [
    "ca.crt",
    "ca.key",
    "apiserver.crt",
    "apiserver.key",
    "front-proxy-ca.crt",
    "front-proxy-ca.key",
    "front-proxy-client.crt",
    "front-proxy-client.key",
    "admin.crt",
    "admin.key",
    "admin.kubeconfig",
];

#[test]
fn certs_init_writes_every_file_owner_only_and_a_second_run_reuses_them() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("certs");
    let dir_arg = dir.to_str().unwrap();
    let first = flotilla(&["certs", "init", "--dir", dir_arg, "--hosts", "flotilla.example.com,10.9.8.7"]);
    assert!(first.status.success(), "{}", text(&first));
    let stdout = String::from_utf8_lossy(&first.stdout);
    for name in FILES {
        let path = dir.join(name);
        assert!(stdout.contains(&format!("created {}", path.display())), "{name} not reported created:\n{stdout}");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{name} is mode {mode:o}");
    }
    let before: Vec<Vec<u8>> = FILES.iter().map(|name| std::fs::read(dir.join(name)).unwrap()).collect();

    let second = flotilla(&["certs", "init", "--dir", dir_arg, "--hosts", "flotilla.example.com,10.9.8.7"]);
    assert!(second.status.success(), "{}", text(&second));
    let stdout = String::from_utf8_lossy(&second.stdout);
    assert!(!stdout.contains("created"), "a second run recreated files:\n{stdout}");
    for name in FILES {
        assert!(stdout.contains(&format!("reused  {}", dir.join(name).display())), "{name} not reused:\n{stdout}");
    }
    let after: Vec<Vec<u8>> = FILES.iter().map(|name| std::fs::read(dir.join(name)).unwrap()).collect();
    assert!(before == after, "a second run changed files");
}

#[test]
fn certs_init_reports_and_renews_a_certificate_that_expires_soon() {
    let (_tmp, files) = init_certs(&[]);
    let ca = Authority::load(&files.ca_cert, &files.ca_key).unwrap();
    let soon = ca.issue_client_valid_for("admin", &["system:masters"], Duration::from_secs(3 * 24 * 60 * 60)).unwrap();
    std::fs::write(&files.admin_cert, &soon.cert_pem).unwrap();
    std::fs::write(&files.admin_key, &soon.key_pem).unwrap();

    let dir = files.ca_cert.parent().unwrap().to_str().unwrap();
    let output = flotilla(&["certs", "init", "--dir", dir]);
    assert!(output.status.success(), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .find(|line| line.starts_with("expiring ") && line.contains("admin.crt"))
        .unwrap_or_else(|| panic!("the expiring admin.crt is not reported:\n{stdout}"));
    assert!(line.contains("not after") && line.contains("renewed"), "{line}");
    assert!(stdout.contains(&format!("created {}", files.admin_cert.display())), "{stdout}");
    assert_ne!(std::fs::read_to_string(&files.admin_cert).unwrap(), soon.cert_pem, "admin.crt was renewed");

    let again = flotilla(&["certs", "init", "--dir", dir]);
    assert!(!String::from_utf8_lossy(&again.stdout).contains("expiring"), "{}", text(&again));
}

#[test]
fn certs_init_names_a_broken_file() {
    let (_tmp, files) = init_certs(&[]);
    std::fs::write(&files.serving_cert, "this is not a certificate\n").unwrap();
    let output = flotilla(&["certs", "init", "--dir", files.ca_cert.parent().unwrap().to_str().unwrap()]);
    assert!(!output.status.success(), "a broken apiserver.crt must not be overwritten silently");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&files.serving_cert.display().to_string()), "the error names the file: {stderr}");
}

#[test]
fn kubectl_verifies_a_server_started_with_the_generated_certificates() {
    let (_tmp, files) = init_certs(&[]);
    let server = CertServer::start(&files, &[], "info");
    let admin = server.admin_kubeconfig();
    let version = kubectl(&admin, &["get", "--raw", "/version"]);
    assert!(version.status.success(), "{}", text(&version));
    assert!(String::from_utf8_lossy(&version.stdout).contains("gitVersion"), "{}", text(&version));
    let namespaces = kubectl(&admin, &["get", "namespaces", "-o", "name"]);
    assert!(namespaces.status.success(), "the admin certificate is accepted: {}", text(&namespaces));
    assert!(String::from_utf8_lossy(&namespaces.stdout).contains("namespace/default"), "{}", text(&namespaces));

    // The same server through a kubeconfig that trusts another CA: kubectl refuses to talk to it.
    let (other_tmp, other) = init_certs(&[]);
    let wrong_ca = std::fs::read_to_string(&other.ca_cert).unwrap();
    let path = other_tmp.path().join("wrong-ca.kubeconfig");
    std::fs::write(&path, flotilla_certs::kubeconfig(&server.url, &wrong_ca, "admin", None, None)).unwrap();
    let refused = kubectl(&path, &["get", "--raw", "/version"]);
    assert!(!refused.status.success(), "a server certificate from another CA must not verify");
    assert!(text(&refused).contains("certificate signed by unknown authority"), "{}", text(&refused));
}

#[test]
fn plain_http_on_the_https_port_gets_400_as_from_go_servers() {
    let (_tmp, files) = init_certs(&[]);
    let server = CertServer::start(&files, &[], "info");
    let mut stream = TcpStream::connect(("127.0.0.1", server.port())).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.write_all(b"GET /version HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.0 400 Bad Request"), "plain HTTP must be refused with 400: {answer:?}");
    assert!(answer.contains("Client sent an HTTP request to an HTTPS server."), "{answer:?}");
    assert!(!answer.contains("gitVersion"), "nothing is served over plain HTTP");
}

/// `openssl s_client` against the server with one protocol version; returns (handshake completed, output).
fn handshake(server: &CertServer, version_flag: &str) -> (bool, String) {
    let output = Command::new("/usr/bin/openssl")
        .args(["s_client", "-connect", &format!("127.0.0.1:{}", server.port()), "-servername", "localhost"])
        .arg("-CAfile")
        .arg(&server.files.ca_cert)
        .args(["-verify_return_error", version_flag])
        // OpenSSL's own default security level would refuse to offer TLS 1.0/1.1; level 0 makes the server decide.
        .args(["-cipher", "DEFAULT:@SECLEVEL=0"])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running /usr/bin/openssl ({e}): ./hack/setup.sh installs it"));
    let all = text(&output);
    let completed = output.status.success() && all.contains("Verify return code: 0 (ok)");
    (completed, all)
}

#[test]
fn tls_1_0_and_1_1_are_refused_and_tls_1_2_and_1_3_are_accepted() {
    let (_tmp, files) = init_certs(&[]);
    let server = CertServer::start(&files, &[], "info");
    for (flag, protocol) in [("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")] {
        let (completed, output) = handshake(&server, flag);
        assert!(completed, "{protocol} must be accepted and verified: {output}");
        assert!(
            output.contains(&format!("Protocol: {protocol}")) || output.contains(&format!(", {protocol},")),
            "{output}"
        );
    }
    for (flag, protocol) in [("-tls1", "TLSv1"), ("-tls1_1", "TLSv1.1")] {
        let (completed, output) = handshake(&server, flag);
        assert!(!completed, "{protocol} must be refused: {output}");
        // An alert from the server (not OpenSSL refusing to offer the version itself) ends the handshake.
        assert!(output.contains("alert"), "{protocol} is refused by the server during the handshake: {output}");
    }
}

#[test]
fn no_token_key_or_certificate_appears_in_the_log() {
    let (tmp, files) = init_certs(&[]);
    let token = "s3cr3t-token-7f9a2c41d0e5b86";
    let tokens = tmp.path().join("tokens.csv");
    std::fs::write(&tokens, format!("{token},alice,uid-alice,\"system:masters\"\n")).unwrap();
    let server = CertServer::start(&files, &["--token-auth-file", tokens.to_str().unwrap()], "debug");

    let admin = server.admin_kubeconfig();
    for args in [
        &["get", "namespaces"][..],
        &["create", "namespace", "logged"],
        &["get", "--raw", "/version"],
        &["get", "--raw", "/api/v1/namespaces/logged"],
    ] {
        let output = kubectl(&admin, args);
        assert!(output.status.success(), "kubectl {args:?} with the admin certificate: {}", text(&output));
    }
    let with_token = server.kubeconfig("alice", None, Some(token));
    let output = kubectl(&with_token, &["get", "namespaces", "-o", "name"]);
    assert!(output.status.success(), "kubectl with the bearer token: {}", text(&output));
    let wrong = server.kubeconfig("mallory", None, Some("wrong-token-0000000000"));
    let output = kubectl(&wrong, &["get", "namespaces"]);
    assert!(!output.status.success(), "a wrong token is refused: {}", text(&output));

    let log = server.log();
    assert!(log.contains("DEBUG"), "the server logged at debug level:\n{log}");
    assert!(!log.contains(token), "the bearer token appears in the log:\n{log}");
    assert!(!log.contains("wrong-token-0000000000"), "a rejected token appears in the log");
    assert!(!log.contains("PRIVATE KEY") && !log.contains("BEGIN CERTIFICATE"), "PEM text appears in the log");
    for file in [&files.admin_cert, &files.admin_key, &files.serving_cert, &files.serving_key, &files.ca_cert] {
        let pem = std::fs::read_to_string(file).unwrap();
        for line in pem.lines().filter(|line| !line.starts_with("-----") && line.len() >= 32) {
            assert!(!log.contains(line), "{} content appears in the log", file.display());
        }
    }
}
