//! The `flotilla` binary as a user runs it: storage start-up, clean shutdown, clear errors.

use std::{
    io::{BufRead, BufReader},
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
fn up_keeps_its_state_under_the_given_directory() {
    let dir = tempfile::tempdir().unwrap();
    let output = run_until_ready_then_terminate(&["up", "--data-dir", dir.path().to_str().unwrap(), "--port", "0"]);
    assert!(output.contains("storage ready: embedded backend"), "{output}");
    assert!(dir.path().join("data").exists(), "the embedded store lives in <data-dir>/data");
    assert!(dir.path().join("certs/apiserver.crt").exists(), "the serving certificate lives in <data-dir>/certs");
    let kubeconfig = dir.path().join("kubeconfig");
    let text = std::fs::read_to_string(&kubeconfig).expect("up writes <data-dir>/kubeconfig");
    assert!(text.contains("server: https://127.0.0.1:"), "{text}");
    assert!(text.contains("certificate-authority-data: "), "{text}");
    assert!(output.contains(&format!("export KUBECONFIG={}", kubeconfig.display())), "{output}");
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
