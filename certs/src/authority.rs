//! A certificate authority held in memory (loaded from PEM files or freshly made) and the certificates it issues.

use std::{path::Path, time::Duration};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PublicKeyData, SanType,
};
use time::OffsetDateTime;

use crate::{
    CertsError,
    pemfile::{self, CertFacts},
    subject,
};

/// How long a newly created certificate authority is valid: ten years, as kubeadm's CAs.
pub const CA_VALIDITY: Duration = Duration::from_secs(10 * 365 * 24 * 60 * 60);
/// How long a newly issued serving or client certificate is valid: one year, as kubeadm's.
pub const LEAF_VALIDITY: Duration = Duration::from_secs(365 * 24 * 60 * 60);
/// How far back a new certificate's validity starts, so a slightly slow clock elsewhere still accepts it.
const BACKDATE: Duration = Duration::from_secs(60 * 60);

/// A certificate and its private key, both PEM.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedCert {
    /// The certificate (PEM `CERTIFICATE`).
    pub cert_pem: String,
    /// The private key (PEM `PRIVATE KEY`, PKCS#8).
    pub key_pem: String,
}

impl std::fmt::Debug for IssuedCert {
    /// Leaves the private key out, so a debug print never leaks it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedCert").field("cert_pem", &self.cert_pem).field("key_pem", &"<redacted>").finish()
    }
}

/// A certificate authority: its certificate and the key that signs with it.
pub struct Authority {
    cert_pem: String,
    key_pem: String,
    cert_der: Vec<u8>,
    facts: CertFacts,
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authority").field("common_name", &self.facts.common_name).finish_non_exhaustive()
    }
}

impl Authority {
    /// Loads a CA from its PEM certificate and PEM private key files.
    ///
    /// # Errors
    /// Unreadable or unparsable files (named in the error), a key that does not belong to the certificate, or a
    /// certificate that is not a CA.
    pub fn load(cert: &Path, key: &Path) -> Result<Self, CertsError> {
        let cert_pem = pemfile::read(cert)?;
        let key_pem = pemfile::read(key)?;
        Self::from_pem(cert, &cert_pem, key, &key_pem)
    }

    /// Builds a CA from PEM texts; the paths only name the sources in errors.
    fn from_pem(cert: &Path, cert_pem: &str, key: &Path, key_pem: &str) -> Result<Self, CertsError> {
        let cert_der = pemfile::cert_der(cert, cert_pem)?;
        let facts = pemfile::facts(cert, &cert_der)?;
        if !facts.is_ca {
            return Err(CertsError::NotCa { path: cert.to_owned() });
        }
        let key_pair = parse_key(key, key_pem)?;
        if key_pair.subject_public_key_info() != facts.public_key {
            return Err(CertsError::Mismatch { cert: cert.to_owned(), key: key.to_owned() });
        }
        let issuer = Issuer::from_ca_cert_der(&cert_der.as_slice().into(), key_pair)
            .map_err(|e| CertsError::Parse { path: cert.to_owned(), what: "CA certificate", reason: e.to_string() })?;
        Ok(Self { cert_pem: cert_pem.to_owned(), key_pem: key_pem.to_owned(), cert_der, facts, issuer })
    }

    /// Creates a new self-signed CA named `common_name`, valid for `valid_for`.
    ///
    /// # Errors
    /// Key generation or signing failed.
    pub fn generate(common_name: &str, valid_for: Duration) -> Result<Self, CertsError> {
        let mut params = CertificateParams::default();
        params.distinguished_name = name(common_name, &[]);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        validity(&mut params, valid_for);
        let key_pair = KeyPair::generate().map_err(generate_error)?;
        let cert = params.self_signed(&key_pair).map_err(generate_error)?;
        let (cert_pem, key_pem) = (cert.pem(), key_pair.serialize_pem());
        let synthetic = Path::new("<generated CA>");
        Self::from_pem(synthetic, &cert_pem, synthetic, &key_pem)
    }

    /// The CA certificate, PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA private key, PEM (to write it to disk).
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// When the CA certificate stops being valid.
    pub fn not_after(&self) -> std::time::SystemTime {
        self.facts.not_after
    }

    /// Issues a client certificate (extended key usage clientAuth): CN `common_name` becomes the Kubernetes user
    /// name, each of `organizations` a group. Valid for [`LEAF_VALIDITY`].
    ///
    /// # Errors
    /// Key generation or signing failed.
    pub fn issue_client(&self, common_name: &str, organizations: &[&str]) -> Result<IssuedCert, CertsError> {
        self.issue_client_valid_for(common_name, organizations, LEAF_VALIDITY)
    }

    /// [`Self::issue_client`] with a chosen validity (e.g. a short one, to exercise expiry handling).
    ///
    /// # Errors
    /// Key generation or signing failed.
    pub fn issue_client_valid_for(
        &self,
        common_name: &str,
        organizations: &[&str],
        valid_for: Duration,
    ) -> Result<IssuedCert, CertsError> {
        let mut params = CertificateParams::default();
        // rcgen holds one organization at most; several are written into the subject afterwards.
        let single = if organizations.len() > 1 { &[][..] } else { organizations };
        params.distinguished_name = name(common_name, single);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        validity(&mut params, valid_for);
        let mut issued = self.sign(params)?;
        if organizations.len() > 1 {
            let der = pemfile::cert_der(Path::new("<issued certificate>"), &issued.cert_pem)?;
            let signer = parse_key(Path::new("<CA key>"), &self.key_pem)?;
            issued.cert_pem = subject::pem(&subject::with_organizations(&der, common_name, organizations, &signer)?);
        }
        Ok(issued)
    }

    /// Issues a serving certificate (extended key usage serverAuth) valid for `hosts` (DNS names or IP addresses,
    /// used as given) for [`LEAF_VALIDITY`].
    ///
    /// # Errors
    /// A host that is neither an IP address nor a DNS name, or key generation or signing failed.
    pub fn issue_serving(&self, hosts: &[String]) -> Result<IssuedCert, CertsError> {
        self.issue_serving_valid_for(hosts, LEAF_VALIDITY)
    }

    /// [`Self::issue_serving`] with a chosen validity.
    ///
    /// # Errors
    /// As [`Self::issue_serving`].
    pub fn issue_serving_valid_for(&self, hosts: &[String], valid_for: Duration) -> Result<IssuedCert, CertsError> {
        let mut params = CertificateParams::default();
        params.distinguished_name = name("flotilla-apiserver", &[]);
        params.subject_alt_names = hosts.iter().map(|host| san(host)).collect::<Result<_, _>>()?;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        validity(&mut params, valid_for);
        self.sign(params)
    }

    fn sign(&self, params: CertificateParams) -> Result<IssuedCert, CertsError> {
        let key_pair = KeyPair::generate().map_err(generate_error)?;
        let cert = params.signed_by(&key_pair, &self.issuer).map_err(generate_error)?;
        Ok(IssuedCert { cert_pem: cert.pem(), key_pem: key_pair.serialize_pem() })
    }

    /// Whether this CA signed the certificate `der`.
    pub(crate) fn signed(&self, der: &[u8]) -> bool {
        pemfile::signed_by(der, &self.cert_der)
    }
}

/// Parses a PEM private key, naming `path` on failure.
pub(crate) fn parse_key(path: &Path, pem: &str) -> Result<KeyPair, CertsError> {
    KeyPair::from_pem(pem).map_err(|e| CertsError::Parse {
        path: path.to_owned(),
        what: "PEM private key",
        reason: e.to_string(),
    })
}

fn name(common_name: &str, organizations: &[&str]) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, common_name);
    for organization in organizations {
        name.push(DnType::OrganizationName, *organization);
    }
    name
}

fn validity(params: &mut CertificateParams, valid_for: Duration) {
    let now = OffsetDateTime::now_utc();
    params.not_before = now - BACKDATE;
    params.not_after = now + valid_for;
}

/// A subject alternative name for `host`: an IP address when it parses as one, a DNS name otherwise.
fn san(host: &str) -> Result<SanType, CertsError> {
    if let Ok(ip) = host.trim_start_matches('[').trim_end_matches(']').parse::<std::net::IpAddr>() {
        return Ok(SanType::IpAddress(ip));
    }
    let valid = !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && (label == "*" || label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    if !valid {
        return Err(CertsError::InvalidHost { host: host.to_owned(), reason: "not a valid DNS name".into() });
    }
    let dns = host
        .try_into()
        .map_err(|e: rcgen::Error| CertsError::InvalidHost { host: host.to_owned(), reason: e.to_string() })?;
    Ok(SanType::DnsName(dns))
}

fn generate_error(e: rcgen::Error) -> CertsError {
    CertsError::Generate(e.to_string())
}
