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
    let output = run_until_ready_then_terminate(&["apiserver", "--data-dir", data_dir.to_str().unwrap()]);
    assert!(output.contains("storage ready: embedded backend"), "{output}");
    assert!(output.contains("keys under /registry/"), "{output}");
    assert!(output.contains("stopping"), "{output}");
    assert!(data_dir.exists(), "the data directory was created");

    let again = run_until_ready_then_terminate(&["apiserver", "--data-dir", data_dir.to_str().unwrap()]);
    assert!(again.contains("storage ready: embedded backend"), "a second start reuses the data directory: {again}");
}

#[test]
fn up_keeps_its_state_under_the_given_directory() {
    let dir = tempfile::tempdir().unwrap();
    let output = run_until_ready_then_terminate(&["up", "--data-dir", dir.path().to_str().unwrap()]);
    assert!(output.contains("storage ready: embedded backend"), "{output}");
    assert!(dir.path().join("data").exists(), "the embedded store lives in <data-dir>/data");
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
