//! Turning `EtcdTls` file paths into the TLS settings of the etcd client.

use std::path::Path;

use etcd_client::{Certificate, Identity, TlsOptions};

use super::super::StoreError;
use super::EtcdTls;

/// Reads the files `tls` names; a file that cannot be read is `Unavailable` with its path in the message.
pub(super) async fn load(tls: &EtcdTls) -> Result<TlsOptions, StoreError> {
    let mut options = TlsOptions::new();
    if let Some(ca_file) = &tls.ca_file {
        options = options.ca_certificate(Certificate::from_pem(read("CA file", ca_file).await?));
    }
    match (&tls.cert_file, &tls.key_file) {
        (Some(cert_file), Some(key_file)) => {
            let cert = read("client certificate", cert_file).await?;
            let key = read("client key", key_file).await?;
            options = options.identity(Identity::from_pem(cert, key));
        }
        (Some(cert_file), None) => {
            return Err(StoreError::Unavailable(format!(
                "etcd client certificate {} is given without a key file",
                cert_file.display()
            )));
        }
        (None, Some(key_file)) => {
            return Err(StoreError::Unavailable(format!(
                "etcd client key {} is given without a certificate file",
                key_file.display()
            )));
        }
        (None, None) => {}
    }
    Ok(options)
}

async fn read(what: &str, path: &Path) -> Result<Vec<u8>, StoreError> {
    tokio::fs::read(path)
        .await
        .map_err(|error| StoreError::Unavailable(format!("cannot read the etcd {what} {}: {error}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_missing_certificate_file_is_named_in_the_error() {
        let tls = EtcdTls { ca_file: Some("/nonexistent/flotilla/ca.pem".into()), cert_file: None, key_file: None };
        let Err(StoreError::Unavailable(message)) = load(&tls).await else {
            panic!("a missing CA file must fail");
        };
        assert!(message.contains("/nonexistent/flotilla/ca.pem"), "{message}");
    }

    #[tokio::test]
    async fn a_certificate_without_a_key_is_refused() {
        let tls = EtcdTls { ca_file: None, cert_file: Some("/tmp/client.pem".into()), key_file: None };
        let error = load(&tls).await.err();
        assert!(matches!(error, Some(StoreError::Unavailable(ref m)) if m.contains("without a key")), "{error:?}");
    }
}
