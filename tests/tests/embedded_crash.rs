//! Crash durability of the embedded store: every create acknowledged before a SIGKILL is there after reopening.

use std::{
    collections::BTreeMap,
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::Duration,
};

use bytes::Bytes;
use flotilla_apiserver::storage::{EmbeddedOptions, EmbeddedStore, ListRequest, Revision, Store};
use nix::{
    sys::signal::{Signal, kill},
    unistd::Pid,
};

/// Acknowledged creates to wait for before killing the writer.
const ACKNOWLEDGED_BEFORE_KILL: usize = 300;
/// Longest wait for the writer's next acknowledgement.
const ACK_TIMEOUT: Duration = Duration::from_secs(60);

/// The value the writer stores under `key` (the same rule as `embedded-writer`).
fn value_for(key: &str) -> Bytes {
    key.bytes().cycle().take(1024).collect::<Vec<u8>>().into()
}

/// Parses an acknowledgement line `<key> <revision>`.
fn parse_ack(line: &str) -> (String, Revision) {
    let (key, revision) = line.trim_end().split_once(' ').unwrap_or_else(|| panic!("bad writer line {line:?}"));
    (key.to_string(), revision.parse().unwrap_or_else(|_| panic!("bad revision in writer line {line:?}")))
}

/// Kills the writer if the test fails before doing so.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs the writer on `dir` until it has acknowledged enough creates, SIGKILLs it mid-stream and returns every
/// create it acknowledged (including lines still in the pipe when it died).
fn write_then_kill(dir: &Path, prefix: &str) -> Vec<(String, Revision)> {
    let child = Command::new(env!("CARGO_BIN_EXE_embedded-writer"))
        .arg(dir)
        .arg(prefix)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the embedded-writer binary starts");
    let mut child = KillOnDrop(child);
    let stdout = child.0.stdout.take().expect("piped stdout");
    let (lines, acks) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                // A line cut short by the kill was never acknowledged in full; only whole lines count.
                Ok(0) | Err(_) => return,
                Ok(_) if !line.ends_with('\n') => return,
                Ok(_) => {
                    if lines.send(line).is_err() {
                        return;
                    }
                }
            }
        }
    });
    let mut acked = Vec::new();
    while acked.len() < ACKNOWLEDGED_BEFORE_KILL {
        match acks.recv_timeout(ACK_TIMEOUT) {
            Ok(line) => acked.push(parse_ack(&line)),
            Err(error) => {
                let status = child.0.try_wait();
                panic!("the writer stopped acknowledging after {} creates ({error}); status {status:?}", acked.len());
            }
        }
    }
    let pid = i32::try_from(child.0.id()).expect("a pid fits i32");
    kill(Pid::from_raw(pid), Signal::SIGKILL).expect("SIGKILL the writer");
    let status = child.0.wait().expect("wait for the writer");
    assert!(!status.success(), "the writer was killed, not finished: {status:?}");
    reader.join().expect("the reader thread");
    acked.extend(acks.try_iter().map(|line| parse_ack(&line)));
    acked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_create_survives_a_sigkill_of_the_writer() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut all_acked: BTreeMap<String, Revision> = BTreeMap::new();
    for round in 0..3 {
        let data_dir = dir.path().to_path_buf();
        let prefix = format!("/crash/{round}/");
        let acked = tokio::task::spawn_blocking(move || write_then_kill(&data_dir, &prefix)).await.expect("writer");
        let newest_acked = acked.iter().map(|(_, revision)| *revision).max().expect("some acknowledgements");
        for (key, revision) in acked {
            assert!(all_acked.insert(key.clone(), revision).is_none(), "{key} acknowledged twice");
        }
        let mut revisions: Vec<_> = all_acked.values().copied().collect();
        revisions.sort_unstable();
        revisions.dedup();
        assert_eq!(revisions.len(), all_acked.len(), "every acknowledged create has its own revision");

        let store = EmbeddedStore::open(EmbeddedOptions::new(dir.path())).await.expect("reopen after the kill");
        let current = store.current_revision().await.expect("current revision");
        assert!(current >= newest_acked, "current revision {current} is behind an acknowledged {newest_acked}");
        for (key, revision) in &all_acked {
            let kv = store.get(key).await.expect("get").unwrap_or_else(|| panic!("acknowledged {key} was lost"));
            assert_eq!((kv.mod_revision, kv.create_revision), (*revision, *revision), "revisions of {key}");
            assert_eq!(kv.value, value_for(key), "value of {key}");
        }
        let listed = store.list(ListRequest { prefix: "/crash/".into(), ..ListRequest::default() }).await;
        let listed = listed.expect("list after the kill");
        assert!(listed.items.len() >= all_acked.len(), "the list misses acknowledged keys");
        assert!(listed.items.iter().all(|kv| kv.mod_revision <= current && kv.value == value_for(&kv.key)));
        let next = store.create("/after-crash", Bytes::from_static(b"x")).await.expect("write after reopening");
        assert_eq!(next, current + 1, "revisions continue from the recovered one");
        store.delete("/after-crash", Some(next)).await.expect("clean up");
        drop(store);
    }
}
