//! Certificate authority, serving, front-proxy and client certificates for Flotilla, and kubeconfigs that use them.

mod authority;
mod init;
mod kubeconfig;
mod pemfile;
mod subject;

use std::{io, path::PathBuf};

pub use authority::{Authority, CA_VALIDITY, IssuedCert, LEAF_VALIDITY};
pub use init::{ADMIN_USER, EXPIRY_WARNING, Expiring, FRONT_PROXY_CLIENT, Files, InitOptions, InitReport, init};
pub use kubeconfig::{CONTEXT, kubeconfig};

/// Everything that can go wrong creating, loading or checking certificates; each message names the file involved.
#[derive(Debug, thiserror::Error)]
pub enum CertsError {
    /// A file or directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why the operation failed.
        #[source]
        source: io::Error,
    },
    /// A file does not hold a usable PEM certificate or private key.
    #[error("{path} does not hold a usable {what}: {reason}; remove it to have a new one issued")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What the file should hold.
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A certificate and the private key next to it do not belong together.
    #[error("the private key {key} does not belong to the certificate {cert}; remove both to have a new pair issued")]
    Mismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
    },
    /// Only one half of a certificate authority's cert/key pair exists.
    #[error(
        "{present} exists but {missing} does not; restore {missing}, or remove {present} to create a new authority"
    )]
    HalfPair {
        /// The file that exists.
        present: PathBuf,
        /// The file that is missing.
        missing: PathBuf,
    },
    /// A certificate authority has expired, so nothing it signed can be trusted or renewed.
    #[error("the certificate authority {path} expired at {not_after}; remove the directory's files to start over")]
    Expired {
        /// The CA certificate file.
        path: PathBuf,
        /// When it expired (RFC 3339).
        not_after: String,
    },
    /// A certificate loaded as an authority is not a CA certificate.
    #[error("{path} is not a certificate authority (its basic constraints do not allow signing certificates)")]
    NotCa {
        /// The certificate file.
        path: PathBuf,
    },
    /// A requested host name is neither an IP address nor a valid DNS name.
    #[error("{host:?} is neither an IP address nor a DNS name usable in a certificate: {reason}")]
    InvalidHost {
        /// The host as given.
        host: String,
        /// Why it was refused.
        reason: String,
    },
    /// Key generation or signing failed.
    #[error("creating a certificate: {0}")]
    Generate(String),
}
