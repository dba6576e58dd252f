//! The etcd v3 backend: the `Store` contract mapped onto etcd transactions, ranges, compaction and watches.

mod failure;
mod tls;
mod watch;

use std::{future::Future, path::PathBuf, sync::Arc, time::Duration};

use async_trait::async_trait;
use bytes::Bytes;
use etcd_client::{
    Client, CompactionOptions, Compare, CompareOp, ConnectOptions, DeleteOptions, GetOptions, KvClient, Txn, TxnOp,
    TxnOpResponse, TxnResponse, WatchClient,
};

use self::failure::{Failure, classify, timed_out};
use super::{Deleted, KeyValue, ListRequest, ListResponse, Result, Revision, Store, StoreError, WatchStream};

/// How often an idle HTTP/2 connection with open streams is pinged; etcd refuses pings more often than every 5 s.
const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(10);
/// A key Flotilla never writes, used for requests that only need a response header.
const PROBE_KEY: &[u8] = b"\0";
/// Pause between connection attempts while `connect` waits for etcd.
const CONNECT_RETRY_PAUSE: Duration = Duration::from_millis(200);
/// Largest response accepted from etcd (tonic's default of 4 MiB cuts off big lists and watch replays).
const MAX_RESPONSE_BYTES: usize = i32::MAX as usize;

/// Client certificate files for etcd.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EtcdTls {
    /// CA bundle that signed etcd's serving certificate.
    pub ca_file: Option<PathBuf>,
    /// Client certificate.
    pub cert_file: Option<PathBuf>,
    /// Client key.
    pub key_file: Option<PathBuf>,
}

/// How to reach etcd.
#[derive(Clone, Debug)]
pub struct EtcdOptions {
    /// Endpoints such as `http://127.0.0.1:2379`.
    pub endpoints: Vec<String>,
    /// TLS settings; `None` for plain HTTP endpoints.
    pub tls: Option<EtcdTls>,
    /// Per-request timeout after which a call fails with `Unavailable`.
    pub request_timeout: Duration,
}

/// A `Store` backed by etcd v3.
///
/// The connection is re-established by the client underneath after etcd restarts; calls made while etcd is down
/// fail with `Unavailable` within the request timeout.
pub struct EtcdStore {
    conn: Connection,
}

/// A cheap-to-clone handle on the etcd client with everything needed to translate its answers.
#[derive(Clone)]
struct Connection {
    /// Owns the client's endpoint set (the typed clients below share its channel).
    _client: Client,
    kv: KvClient,
    watcher: WatchClient,
    /// The endpoints, comma-separated, for error messages.
    endpoints: Arc<str>,
    timeout: Duration,
}

impl std::fmt::Debug for EtcdStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdStore")
            .field("endpoints", &self.conn.endpoints)
            .field("request_timeout", &self.conn.timeout)
            .finish_non_exhaustive()
    }
}

impl EtcdStore {
    /// Connects to etcd, waiting up to the request timeout for a first successful round trip.
    ///
    /// # Errors
    /// `Unavailable` when no endpoint is given, a TLS file cannot be read, or etcd does not answer in time.
    pub async fn connect(options: EtcdOptions) -> Result<Self> {
        let endpoints: Arc<str> = options.endpoints.join(",").into();
        if options.endpoints.is_empty() {
            return Err(StoreError::Unavailable("no etcd endpoints are configured".into()));
        }
        let timeout = options.request_timeout;
        let mut connect_options = ConnectOptions::new()
            .with_connect_timeout(timeout)
            .with_keep_alive(KEEP_ALIVE_INTERVAL, timeout)
            .with_keep_alive_while_idle(false)
            .with_tcp_keepalive(KEEP_ALIVE_INTERVAL);
        if let Some(tls) = &options.tls {
            connect_options = connect_options.with_tls(tls::load(tls).await?);
        }
        let client =
            match tokio::time::timeout(timeout, Client::connect(&options.endpoints, Some(connect_options))).await {
                Ok(Ok(client)) => client,
                Ok(Err(error)) => return Err(settle(classify(&error, &endpoints), &endpoints)),
                Err(_) => return Err(timed_out(&endpoints, timeout)),
            };
        let conn = Connection {
            kv: client.kv_client().max_decoding_message_size(MAX_RESPONSE_BYTES),
            watcher: client.watch_client().max_decoding_message_size(MAX_RESPONSE_BYTES),
            _client: client,
            endpoints,
            timeout,
        };
        conn.wait_until_reachable().await?;
        Ok(Self { conn })
    }
}

impl Connection {
    /// Runs one etcd request under the request timeout, translating its errors; `requested` is the revision the
    /// request named (for `Compacted`/`FutureRevision` answers), `0` when it named none.
    async fn call<T>(
        &self,
        requested: Revision,
        request: impl Future<Output = Result<T, etcd_client::Error>>,
    ) -> Result<T> {
        match tokio::time::timeout(self.timeout, request).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(error)) => Err(self.failure(&error, requested).await),
            Err(_) => Err(timed_out(&self.endpoints, self.timeout)),
        }
    }

    /// The store error for an etcd error, looking up the compacted or current revision etcd's message lacks.
    async fn failure(&self, error: &etcd_client::Error, requested: Revision) -> StoreError {
        match classify(error, &self.endpoints) {
            Failure::Compacted => {
                let compacted = match self.compacted_revision(requested).await {
                    Some(compacted) => compacted,
                    None => {
                        tracing::warn!(endpoints = %self.endpoints, "could not look up etcd's compacted revision");
                        requested.saturating_add(1)
                    }
                };
                StoreError::Compacted { requested, compacted }
            }
            Failure::FutureRevision => {
                let current = match self.probe_revision().await {
                    Ok(current) => current,
                    Err(_) => requested.saturating_sub(1),
                };
                StoreError::FutureRevision { requested, current }
            }
            Failure::Other(error) => error,
        }
    }

    /// etcd's compacted revision, which its error messages lack: the oldest revision still readable, found by
    /// binary search between `at_least` and the current revision (about 30 cheap reads even for 10⁹ revisions).
    async fn compacted_revision(&self, at_least: Revision) -> Option<Revision> {
        let search = async {
            let mut newest = self.probe_revision().await.ok()?;
            let mut oldest = at_least.clamp(1, newest);
            while oldest < newest {
                let middle = oldest + (newest - oldest) / 2;
                if self.readable_at(middle).await? {
                    newest = middle;
                } else {
                    oldest = middle + 1;
                }
            }
            Some(newest)
        };
        tokio::time::timeout(self.timeout, search).await.ok().flatten()
    }

    /// Whether a read at `revision` is still possible (`None` when etcd does not say).
    async fn readable_at(&self, revision: Revision) -> Option<bool> {
        let mut kv = self.kv.clone();
        match kv.get(PROBE_KEY, Some(GetOptions::new().with_count_only().with_revision(revision))).await {
            Ok(_) => Some(true),
            Err(error) => match classify(&error, &self.endpoints) {
                Failure::Compacted => Some(false),
                Failure::FutureRevision | Failure::Other(_) => None,
            },
        }
    }

    /// The current revision from the header of a count-only read, with errors translated without lookups.
    async fn probe_revision(&self) -> Result<Revision> {
        let mut kv = self.kv.clone();
        let read = kv.get(PROBE_KEY, Some(GetOptions::new().with_count_only()));
        match tokio::time::timeout(self.timeout, read).await {
            Ok(Ok(response)) => header_revision(response.header()),
            Ok(Err(error)) => Err(settle(classify(&error, &self.endpoints), &self.endpoints)),
            Err(_) => Err(timed_out(&self.endpoints, self.timeout)),
        }
    }

    /// Retries a round trip until one succeeds or the request timeout has passed.
    async fn wait_until_reachable(&self) -> Result<()> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            let reason = match tokio::time::timeout_at(deadline, self.probe_revision()).await {
                Ok(Ok(_)) => return Ok(()),
                Ok(Err(StoreError::Unavailable(reason) | StoreError::Internal(reason))) => reason,
                Ok(Err(other)) => other.to_string(),
                Err(_) => "no answer".to_owned(),
            };
            if tokio::time::Instant::now() + CONNECT_RETRY_PAUSE >= deadline {
                return Err(StoreError::Unavailable(format!(
                    "could not reach etcd at {} within {:?}; last error: {reason}",
                    self.endpoints, self.timeout
                )));
            }
            tokio::time::sleep(CONNECT_RETRY_PAUSE).await;
        }
    }

    /// Runs a transaction and returns it with its header revision.
    async fn txn(&self, txn: Txn) -> Result<(TxnResponse, Revision)> {
        let mut kv = self.kv.clone();
        let response = self.call(0, kv.txn(txn)).await?;
        let revision = header_revision(response.header())?;
        Ok((response, revision))
    }
}

/// The store error for a failure that needs no lookup (used where lookups could recurse).
fn settle(failure: Failure, endpoints: &str) -> StoreError {
    match failure {
        Failure::Other(error) => error,
        Failure::Compacted | Failure::FutureRevision => {
            StoreError::Internal(format!("etcd at {endpoints} refused a request that named no revision"))
        }
    }
}

fn header_revision(header: Option<&etcd_client::ResponseHeader>) -> Result<Revision> {
    header
        .map(etcd_client::ResponseHeader::revision)
        .ok_or_else(|| StoreError::Internal("etcd answered without a response header".into()))
}

/// A stored version from etcd's representation; keys must be UTF-8.
fn key_value(kv: etcd_client::KeyValue) -> Result<KeyValue> {
    let (create_revision, mod_revision) = (kv.create_revision(), kv.mod_revision());
    let (key, value) = kv.into_key_value();
    let key = String::from_utf8(key).map_err(|error| {
        StoreError::Internal(format!(
            "etcd holds a key that is not UTF-8: {:?}",
            String::from_utf8_lossy(error.as_bytes())
        ))
    })?;
    Ok(KeyValue { key, value: Bytes::from(value), create_revision, mod_revision })
}

/// The end of the key range covering every key that starts with `prefix` (`\0` = to the end of the key space).
fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    match prefix.iter().rposition(|byte| *byte < 0xff) {
        Some(last) => {
            let mut end = prefix[..=last].to_vec();
            end[last] += 1;
            end
        }
        None => vec![0],
    }
}

/// The single get/put/delete result a transaction branch produced.
fn only_response(response: &TxnResponse) -> Result<TxnOpResponse> {
    response
        .op_responses()
        .into_iter()
        .next()
        .ok_or_else(|| StoreError::Internal("etcd answered a transaction without its operation's result".into()))
}

/// `Conflict` or `NotFound` from the `Get` a failed compare-and-swap ran instead.
fn cas_failure(key: &str, response: &TxnResponse) -> StoreError {
    let current = match only_response(response) {
        Ok(TxnOpResponse::Get(get)) => get.kvs().first().map(etcd_client::KeyValue::mod_revision),
        Ok(_) => return StoreError::Internal("etcd answered a failed transaction with an unexpected operation".into()),
        Err(error) => return error,
    };
    match current {
        Some(current_revision) => StoreError::Conflict { key: key.to_owned(), current_revision },
        None => StoreError::NotFound { key: key.to_owned() },
    }
}

/// Compares that hold only when `key` exists at exactly `expected`.
fn at_revision(key: &str, expected: Revision) -> [Compare; 2] {
    [Compare::mod_revision(key, CompareOp::Equal, expected), Compare::mod_revision(key, CompareOp::Greater, 0)]
}

#[async_trait]
impl Store for EtcdStore {
    async fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        let mut kv = self.conn.kv.clone();
        let mut response = self.conn.call(0, kv.get(key, None)).await?;
        response.take_kvs().into_iter().next().map(key_value).transpose()
    }

    async fn list(&self, request: ListRequest) -> Result<ListResponse> {
        let prefix = request.prefix.as_bytes();
        let end = prefix_end(prefix);
        let mut start = match &request.start_key {
            Some(start_key) if start_key.as_bytes() > prefix => start_key.as_bytes().to_vec(),
            _ => prefix.to_vec(),
        };
        if start.is_empty() {
            start = vec![0];
        }
        let mut options = GetOptions::new().with_range(end);
        if request.revision > 0 {
            options = options.with_revision(request.revision);
        }
        if request.limit > 0 {
            options = options.with_limit(i64::try_from(request.limit).unwrap_or(i64::MAX));
        }
        let mut kv = self.conn.kv.clone();
        let mut response = self.conn.call(request.revision, kv.get(start, Some(options))).await?;
        let header_revision = header_revision(response.header())?;
        let count = u64::try_from(response.count()).unwrap_or(0);
        let items = response.take_kvs().into_iter().map(key_value).collect::<Result<Vec<_>>>()?;
        Ok(ListResponse {
            remaining: count.saturating_sub(items.len() as u64),
            items,
            revision: if request.revision > 0 { request.revision } else { header_revision },
        })
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<Revision> {
        let txn = Txn::new().when([Compare::mod_revision(key, CompareOp::Equal, 0)]).and_then([TxnOp::put(
            key,
            Vec::from(value),
            None,
        )]);
        let (response, revision) = self.conn.txn(txn).await?;
        if !response.succeeded() {
            return Err(StoreError::AlreadyExists { key: key.to_owned() });
        }
        Ok(revision)
    }

    async fn update(&self, key: &str, value: Bytes, expected: Revision) -> Result<Revision> {
        let txn = Txn::new()
            .when(at_revision(key, expected))
            .and_then([TxnOp::put(key, Vec::from(value), None)])
            .or_else([TxnOp::get(key, Some(GetOptions::new().with_keys_only()))]);
        let (response, revision) = self.conn.txn(txn).await?;
        if !response.succeeded() {
            return Err(cas_failure(key, &response));
        }
        Ok(revision)
    }

    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<Deleted> {
        let delete = TxnOp::delete(key, Some(DeleteOptions::new().with_prev_key()));
        let txn = match expected {
            Some(expected) => Txn::new()
                .when(at_revision(key, expected))
                .and_then([delete])
                .or_else([TxnOp::get(key, Some(GetOptions::new().with_keys_only()))]),
            None => Txn::new().when([Compare::mod_revision(key, CompareOp::Greater, 0)]).and_then([delete]),
        };
        let (response, revision) = self.conn.txn(txn).await?;
        if !response.succeeded() {
            return Err(match expected {
                Some(_) => cas_failure(key, &response),
                None => StoreError::NotFound { key: key.to_owned() },
            });
        }
        let prev = match only_response(&response)? {
            TxnOpResponse::Delete(mut deleted) => deleted.take_prev_kvs().into_iter().next(),
            _ => None,
        };
        let prev =
            prev.ok_or_else(|| StoreError::Internal(format!("etcd deleted {key:?} without its last version")))?;
        Ok(Deleted { prev: key_value(prev)?, revision })
    }

    async fn current_revision(&self) -> Result<Revision> {
        let mut kv = self.conn.kv.clone();
        let response = self.conn.call(0, kv.get(PROBE_KEY, Some(GetOptions::new().with_count_only()))).await?;
        header_revision(response.header())
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        if revision <= 0 {
            // No history lies before the first revision.
            return Ok(());
        }
        let mut kv = self.conn.kv.clone();
        self.conn.call(revision, kv.compact(revision, Some(CompactionOptions::new().with_physical()))).await?;
        Ok(())
    }

    async fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream> {
        watch::open(self.conn.clone(), prefix, after).await
    }

    fn backend(&self) -> &'static str {
        "etcd"
    }
}

#[cfg(test)]
mod tests {
    use super::prefix_end;

    #[test]
    fn a_prefix_range_ends_after_the_last_byte_that_can_grow() {
        assert_eq!(prefix_end(b"/registry/a"), b"/registry/b".to_vec());
        assert_eq!(prefix_end(b"a\xff\xff"), b"b".to_vec());
        assert_eq!(prefix_end(b"\xff"), vec![0]);
        assert_eq!(prefix_end(b""), vec![0]);
    }
}
