//! Storage command-line options shared by every role of the binary, and opening the configured backend.

use std::{path::PathBuf, sync::Arc, time::Duration};

use super::{EmbeddedOptions, EmbeddedStore, EtcdOptions, EtcdStore, EtcdTls, KeySpace, SharedStore, StoreError};

/// Where objects are stored: etcd when `--etcd-servers` is given, otherwise the embedded store in `--data-dir`.
#[derive(clap::Args, Clone, Debug)]
pub struct StorageOptions {
    /// etcd v3 endpoints, comma-separated (e.g. `https://10.0.0.1:2379`); without them the embedded store is used.
    #[arg(long = "etcd-servers", value_delimiter = ',')]
    pub etcd_servers: Vec<String>,
    /// CA bundle that signed etcd's serving certificate.
    #[arg(long = "etcd-cafile")]
    pub etcd_cafile: Option<PathBuf>,
    /// Client certificate presented to etcd.
    #[arg(long = "etcd-certfile", requires = "etcd_keyfile")]
    pub etcd_certfile: Option<PathBuf>,
    /// Private key of `--etcd-certfile`.
    #[arg(long = "etcd-keyfile", requires = "etcd_certfile")]
    pub etcd_keyfile: Option<PathBuf>,
    /// Prefix of every key Flotilla writes.
    #[arg(long = "etcd-prefix", default_value = "/registry")]
    pub etcd_prefix: String,
    /// Directory of the embedded store (used when no `--etcd-servers` are given).
    #[arg(long = "data-dir", default_value = ".flotilla/data")]
    pub data_dir: PathBuf,
    /// How long one storage request may take before it fails as unavailable.
    #[arg(long = "storage-request-timeout", default_value = "5s", value_parser = humantime::parse_duration)]
    pub request_timeout: Duration,
    /// How often old revisions are compacted (`0s` disables compaction).
    #[arg(long = "compaction-interval", default_value = "5m", value_parser = humantime::parse_duration)]
    pub compaction_interval: Duration,
}

impl StorageOptions {
    /// The embedded store in `data_dir`, every other option at its command-line default.
    pub fn embedded(data_dir: impl Into<PathBuf>) -> Self {
        let mut options: Self = crate::server::flags::defaults(&[]);
        options.data_dir = data_dir.into();
        options
    }

    /// The key layout these options select.
    pub fn key_space(&self) -> KeySpace {
        KeySpace::new(&self.etcd_prefix)
    }

    /// Connects to etcd or opens the embedded store.
    ///
    /// # Errors
    /// `Unavailable` when etcd cannot be reached or the data directory cannot be opened.
    pub async fn open(&self) -> Result<SharedStore, StoreError> {
        if self.etcd_servers.is_empty() {
            let options =
                EmbeddedOptions { request_timeout: self.request_timeout, ..EmbeddedOptions::new(&self.data_dir) };
            let store = EmbeddedStore::open(options).await?;
            return Ok(Arc::new(store));
        }
        let tls = if self.etcd_cafile.is_some() || self.etcd_certfile.is_some() {
            Some(EtcdTls {
                ca_file: self.etcd_cafile.clone(),
                cert_file: self.etcd_certfile.clone(),
                key_file: self.etcd_keyfile.clone(),
            })
        } else {
            None
        };
        let options = EtcdOptions { endpoints: self.etcd_servers.clone(), tls, request_timeout: self.request_timeout };
        Ok(Arc::new(EtcdStore::connect(options).await?))
    }
}

/// Opens the store `options` describe; see [`StorageOptions::open`].
pub async fn open(options: &StorageOptions) -> Result<SharedStore, StoreError> {
    options.open().await
}
