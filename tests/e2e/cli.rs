//! The `flotilla` binary as a user runs it: storage start-up, clean shutdown, clear errors.

use std::{
    io::{BufRead, BufReader},
    os::unix::fs::PermissionsExt,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use nix::{sys::signal::Signal, unistd::Pid};

/// Runs `flotilla <args>` until it prints a line containing `ready`, then SIGTERMs it; returns its stdout.
fn run_until_ready_then_terminate(args: &[&str]) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting flotilla");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut output = String::new();
    for line in lines.by_ref() {
        let line = line.expect("reading flotilla's output");
        output.push_str(&line);
        output.push('\n');
        if line.contains("press Ctrl-C") {
            break;
        }
    }
    nix::sys::signal::kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).expect("sending SIGTERM");
    let status = child.wait().expect("waiting for flotilla");
    output.extend(lines.map_while(Result::ok).map(|line| line + "\n"));
    assert!(status.success(), "flotilla exited with {status} after SIGTERM; output:\n{output}");
    output
}

#[test]
fn apiserver_opens_the_embedded_store_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let cert_dir = dir.path().join("certs");
    let args = [
        "apiserver",
        "--data-dir",
        data_dir.to_str().unwrap(),
        "--cert-dir",
        cert_dir.to_str().unwrap(),
        "--secure-port",
        "0",
        "--bind-address",
        "127.0.0.1",
    ];
    let output = run_until_ready_then_terminate(&args);
    assert!(output.contains("storage ready: embedded backend"), "{output}");
    assert!(output.contains("keys under /registry/"), "{output}");
    assert!(output.contains("serving the Kubernetes API on https://127.0.0.1:"), "{output}");
    assert!(output.contains("generated self-signed certificate"), "{output}");
    assert!(output.contains("stopping"), "{output}");
    assert!(data_dir.exists(), "the data directory was created");
    assert!(cert_dir.join("apiserver.crt").exists(), "the serving certificate was generated in --cert-dir");

    let again = run_until_ready_then_terminate(&args);
    assert!(again.contains("storage ready: embedded backend"), "a second start reuses the data directory: {again}");
    assert!(again.contains("loaded certificate"), "a second start reuses the certificate: {again}");
}

#[test]
fn up_keeps_its_state_under_the_given_directory_and_reuses_its_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let output = run_until_ready_then_terminate(&["up", "--data-dir", dir.path().to_str().unwrap(), "--port", "0"]);
    assert!(output.contains("storage ready: embedded backend"), "{output}");
    assert!(dir.path().join("data").exists(), "the embedded store lives in <data-dir>/data");
    for file in ["ca.crt", "apiserver.crt", "front-proxy-ca.crt", "front-proxy-client.crt", "admin.crt"] {
        assert!(output.contains(&format!("created {}", dir.path().join("certs").join(file).display())), "{output}");
    }
    assert!(output.contains("loaded certificate"), "up serves the certificate of certs init: {output}");
    let kubeconfig = dir.path().join("kubeconfig");
    let text = std::fs::read_to_string(&kubeconfig).expect("up writes <data-dir>/kubeconfig");
    assert!(text.contains("server: https://127.0.0.1:"), "{text}");
    assert!(text.contains("certificate-authority-data: "), "{text}");
    assert!(text.contains("client-certificate-data: ") && text.contains("client-key-data: "), "admin: {text}");
    let mode = std::fs::metadata(&kubeconfig).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the admin kubeconfig holds a private key");
    assert!(output.contains(&format!("export KUBECONFIG={}", kubeconfig.display())), "{output}");

    let ca = std::fs::read(dir.path().join("certs/ca.crt")).unwrap();
    let again = run_until_ready_then_terminate(&["up", "--data-dir", dir.path().to_str().unwrap(), "--port", "0"]);
    let recreated: Vec<&str> =
        again.lines().filter(|line| line.starts_with("created") && line.contains(".crt")).collect();
    assert!(recreated.is_empty(), "a second up reuses every certificate: {recreated:?}");
    assert_eq!(std::fs::read(dir.path().join("certs/ca.crt")).unwrap(), ca);
}

#[test]
fn up_accepts_its_admin_and_its_front_proxy_client_over_verified_tls() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .args(["up", "--data-dir", dir.path().to_str().unwrap(), "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting flotilla up");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let ready = lines.by_ref().map_while(Result::ok).any(|line| line.contains("press Ctrl-C"));
    let kubeconfig = dir.path().join("kubeconfig");
    let kubectl = |args: &[&str]| {
        flotilla_testkit::kubectl_command(&kubeconfig)
            .args(args)
            .output()
            .expect("running kubectl (see ./hack/setup.sh)")
    };
    let namespaces = kubectl(&["get", "namespaces", "-o", "name"]);
    let created = kubectl(&["create", "namespace", "from-up"]);
    let proxied = front_proxy_whoami(dir.path(), &kubeconfig);
    nix::sys::signal::kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).expect("sending SIGTERM");
    let _ = child.wait();
    assert!(ready, "flotilla up did not become ready");
    let show = |o: &std::process::Output| {
        format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
    };
    assert!(namespaces.status.success(), "{}", show(&namespaces));
    assert!(String::from_utf8_lossy(&namespaces.stdout).contains("namespace/default"), "{}", show(&namespaces));
    assert!(created.status.success(), "the admin (system:masters) may write: {}", show(&created));
    assert!(
        proxied.contains("\"username\":\"alice\""),
        "the front-proxy client's X-Remote-User is honoured: {proxied}"
    );
    assert!(proxied.contains("team-a"), "X-Remote-Group is honoured: {proxied}");
}

/// What a kube-aggregator does against `flotilla up`: the front-proxy client certificate from `<dir>/certs` plus
/// X-Remote-* headers, asking who it is (SelfSubjectReview); returns the raw HTTP answer.
fn front_proxy_whoami(dir: &std::path::Path, kubeconfig: &std::path::Path) -> String {
    let config = std::fs::read_to_string(kubeconfig).unwrap_or_default();
    let server = config.lines().find_map(|line| line.trim().strip_prefix("server: ")).unwrap_or_default();
    let address = server.trim_matches('"').trim_start_matches("https://").to_owned();
    let body = r#"{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}"#;
    let request = format!(
        "POST /apis/authentication.k8s.io/v1/selfsubjectreviews HTTP/1.1\r\nHost: {address}\r\n\
         X-Remote-User: alice\r\nX-Remote-Group: team-a\r\nX-Remote-Group: system:authenticated\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let certs = dir.join("certs");
    let mut child = Command::new("/usr/bin/openssl")
        .args(["s_client", "-quiet", "-ign_eof", "-connect", &address, "-servername", "localhost"])
        .arg("-CAfile")
        .arg(certs.join("ca.crt"))
        .arg("-cert")
        .arg(certs.join("front-proxy-client.crt"))
        .arg("-key")
        .arg(certs.join("front-proxy-client.key"))
        .args(["-verify_return_error"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running /usr/bin/openssl (./hack/setup.sh installs it)");
    if let Some(mut stdin) = child.stdin.take() {
        let _ = std::io::Write::write_all(&mut stdin, request.as_bytes());
    }
    let output = child.wait_with_output().expect("waiting for openssl");
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

#[test]
fn an_unreachable_etcd_is_a_clear_error_within_the_timeout() {
    let port = flotilla_testkit::ports::free_port();
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .args(["apiserver", "--etcd-servers", &format!("http://127.0.0.1:{port}"), "--storage-request-timeout", "2s"])
        .output()
        .expect("running flotilla");
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "flotilla must fail without etcd");
    assert!(stderr.contains("storage unavailable"), "the error says what is wrong: {stderr}");
    assert!(stderr.contains(&port.to_string()), "the error names the endpoint: {stderr}");
    assert!(took < Duration::from_secs(15), "it gave up after {took:?}");
}

#[test]
fn conflicting_storage_flags_are_rejected_with_usage() {
    let output = Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .args(["apiserver", "--etcd-certfile", "/tmp/cert.pem"])
        .output()
        .expect("running flotilla");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "a usage error: {stderr}");
    assert!(stderr.contains("--etcd-keyfile"), "the message names the missing flag: {stderr}");
}

#[test]
fn an_unreadable_serving_certificate_is_refused_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.crt");
    let output = Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .args(["apiserver", "--data-dir", dir.path().join("data").to_str().unwrap(), "--secure-port", "0"])
        .args(["--tls-cert-file", missing.to_str().unwrap(), "--tls-private-key-file", missing.to_str().unwrap()])
        .output()
        .expect("running flotilla");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "flotilla must not serve without its certificate");
    assert!(stderr.contains("--tls-cert-file") && stderr.contains("missing.crt"), "the error names the flag: {stderr}");
}
