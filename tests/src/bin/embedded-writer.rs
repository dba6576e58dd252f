//! Creates keys in an embedded store with 16 concurrent tasks, printing `<key> <revision>` once each is acknowledged.
//
// Usage: `embedded-writer <data-dir> <key-prefix> [count]`. Runs until `count` keys are created (default: until
// killed). The value of each key is `value_for` of it, so a reader can check what survived. Used by the crash test,
// which SIGKILLs this process mid-write.

use std::{
    io::Write,
    process::ExitCode,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use bytes::Bytes;
use flotilla_apiserver::storage::{EmbeddedOptions, EmbeddedStore, Store};

/// Concurrent creating tasks.
const WRITERS: usize = 16;

/// The value written under `key`: the key repeated to 1 KiB (the crash test computes the same).
fn value_for(key: &str) -> Bytes {
    key.bytes().cycle().take(1024).collect::<Vec<u8>>().into()
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(data_dir), Some(prefix)) = (args.next(), args.next()) else {
        eprintln!("usage: embedded-writer <data-dir> <key-prefix> [count]");
        return ExitCode::from(2);
    };
    let count = match args.next().map(|count| count.parse::<u64>()) {
        None => u64::MAX,
        Some(Ok(count)) => count,
        Some(Err(error)) => {
            eprintln!("embedded-writer: bad count: {error}");
            return ExitCode::from(2);
        }
    };
    let store = match EmbeddedStore::open(EmbeddedOptions::new(&data_dir)).await {
        Ok(store) => Arc::new(store),
        Err(error) => {
            eprintln!("embedded-writer: cannot open {data_dir}: {error}");
            return ExitCode::FAILURE;
        }
    };
    let next = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..WRITERS)
        .map(|_| {
            let (store, next, prefix) = (Arc::clone(&store), Arc::clone(&next), prefix.clone());
            tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= count {
                        return Ok::<(), String>(());
                    }
                    let key = format!("{prefix}{n:08}");
                    let revision = store.create(&key, value_for(&key)).await.map_err(|e| format!("{key}: {e}"))?;
                    let mut stdout = std::io::stdout().lock();
                    writeln!(stdout, "{key} {revision}").and_then(|()| stdout.flush()).map_err(|e| e.to_string())?;
                }
            })
        })
        .collect();
    let mut code = ExitCode::SUCCESS;
    for task in tasks {
        match task.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                eprintln!("embedded-writer: {error}");
                code = ExitCode::FAILURE;
            }
            Err(error) => {
                eprintln!("embedded-writer: task failed: {error}");
                code = ExitCode::FAILURE;
            }
        }
    }
    code
}
