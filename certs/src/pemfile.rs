//! Reading PEM files and writing them atomically with mode 0600.

use std::{
    fs,
    io::{self, Write},
    os::unix::fs::{OpenOptionsExt, PermissionsExt},
    path::Path,
    time::SystemTime,
};

use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

use crate::CertsError;

/// Reads a file as text; a missing file is `Ok(None)`.
pub(crate) fn read_optional(path: &Path) -> Result<Option<String>, CertsError> {
    match fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes).map(Some).map_err(|_| CertsError::Parse {
            path: path.to_owned(),
            what: "PEM file",
            reason: "it is not text".into(),
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(CertsError::Io { path: path.to_owned(), source }),
    }
}

/// Reads a file that must exist.
pub(crate) fn read(path: &Path) -> Result<String, CertsError> {
    read_optional(path)?.ok_or_else(|| CertsError::Io {
        path: path.to_owned(),
        source: io::Error::new(io::ErrorKind::NotFound, "no such file"),
    })
}

/// Writes `contents` to `path` through a temporary file and a rename, so readers never see half a file; mode 0600.
pub(crate) fn write_private(path: &Path, contents: &str) -> Result<(), CertsError> {
    let io_error = |source| CertsError::Io { path: path.to_owned(), source };
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = Path::new(&tmp_name);
    let mut file =
        fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(tmp).map_err(io_error)?;
    // The mode above only applies to new files; a leftover temporary file keeps its old mode otherwise.
    file.set_permissions(fs::Permissions::from_mode(0o600)).map_err(io_error)?;
    file.write_all(contents.as_bytes()).map_err(io_error)?;
    file.sync_all().map_err(io_error)?;
    fs::rename(tmp, path).map_err(io_error)
}

/// The DER bytes of the first certificate in a PEM text.
pub(crate) fn cert_der(path: &Path, pem: &str) -> Result<Vec<u8>, CertsError> {
    let parse_error = |reason: String| CertsError::Parse { path: path.to_owned(), what: "PEM certificate", reason };
    let (_, block) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).map_err(|e| parse_error(e.to_string()))?;
    if block.label != "CERTIFICATE" {
        return Err(parse_error(format!("the first PEM block is a {:?}, not a CERTIFICATE", block.label)));
    }
    X509Certificate::from_der(&block.contents).map_err(|e| parse_error(e.to_string()))?;
    Ok(block.contents)
}

/// The facts about a certificate that decide whether it can be reused.
#[derive(Clone, Debug)]
pub(crate) struct CertFacts {
    /// End of validity.
    pub not_after: SystemTime,
    /// Whether it may sign certificates.
    pub is_ca: bool,
    /// The subject's common name, if any.
    pub common_name: Option<String>,
    /// The subject's organizations.
    pub organizations: Vec<String>,
    /// DNS names and IP addresses (textual) it is valid for.
    pub sans: Vec<String>,
    /// The DER SubjectPublicKeyInfo, to match a private key against.
    pub public_key: Vec<u8>,
}

/// Extracts [`CertFacts`] from DER bytes already checked by [`cert_der`].
pub(crate) fn facts(path: &Path, der: &[u8]) -> Result<CertFacts, CertsError> {
    let parse_error = |reason: String| CertsError::Parse { path: path.to_owned(), what: "PEM certificate", reason };
    let (_, cert) = X509Certificate::from_der(der).map_err(|e| parse_error(e.to_string()))?;
    let seconds = cert.validity().not_after.timestamp();
    let not_after = if seconds >= 0 {
        SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(seconds.unsigned_abs())
    } else {
        SystemTime::UNIX_EPOCH
    };
    let common_name = cert.subject().iter_common_name().next().and_then(|cn| cn.as_str().ok()).map(str::to_owned);
    let organizations = cert.subject().iter_organization().filter_map(|o| o.as_str().ok()).map(str::to_owned).collect();
    let mut sans = Vec::new();
    if let Ok(Some(ext)) = cert.subject_alternative_name() {
        for name in &ext.value.general_names {
            match name {
                GeneralName::DNSName(dns) => sans.push((*dns).to_owned()),
                GeneralName::IPAddress(bytes) => {
                    if let Ok(v4) = <[u8; 4]>::try_from(*bytes) {
                        sans.push(std::net::IpAddr::from(v4).to_string());
                    } else if let Ok(v6) = <[u8; 16]>::try_from(*bytes) {
                        sans.push(std::net::IpAddr::from(v6).to_string());
                    }
                }
                _ => {}
            }
        }
    }
    Ok(CertFacts {
        not_after,
        is_ca: cert.is_ca(),
        common_name,
        organizations,
        sans,
        public_key: cert.public_key().raw.to_vec(),
    })
}

/// Whether the certificate `der` carries a valid signature by the key `issuer_spki` (DER SubjectPublicKeyInfo).
pub(crate) fn signed_by(der: &[u8], issuer_der: &[u8]) -> bool {
    let (Ok((_, cert)), Ok((_, issuer))) = (X509Certificate::from_der(der), X509Certificate::from_der(issuer_der))
    else {
        return false;
    };
    cert.issuer() == issuer.subject() && cert.verify_signature(Some(issuer.public_key())).is_ok()
}

/// RFC 3339 text for a time, for messages.
pub(crate) fn rfc3339(at: SystemTime) -> String {
    let seconds = at.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    time::OffsetDateTime::from_unix_timestamp(i64::try_from(seconds).unwrap_or(i64::MAX))
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| format!("{seconds} seconds after the Unix epoch"))
}
