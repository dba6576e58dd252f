//! Client certificates: CA bundles, chain verification for client use, and the subject's CN and O entries.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, SystemTime},
};

use parking_lot::Mutex;
use sha2::{Digest, Sha256};

use rustls::{
    RootCertStore,
    pki_types::{CertificateDer, UnixTime, pem::PemObject},
    server::{WebPkiClientVerifier, danger::ClientCertVerifier},
};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::AuthnError;
use crate::auth::UserInfo;

/// How long a verification's answer is remembered: a verified chain is trusted without checking its signatures again
/// (never past its leaf's expiry), a refused one refused again (the CA bundle does not change while serving).
const VERIFIED_FOR: Duration = Duration::from_secs(60);

/// Most chains remembered as verified; beyond, the memory starts over.
const VERIFIED_LIMIT: usize = 4096;

/// Until when a verification's answer holds, and the answer (`None`: verified; else why not).
type Remembered = (SystemTime, Option<String>);

/// Verifies client certificate chains against one CA bundle, remembering recent answers: a client sends the same
/// chain with every request of a connection (and every chain is checked against the front-proxy CA too), and
/// checking signatures each time would dominate small requests.
#[derive(Clone)]
pub struct CaVerifier {
    verifier: Arc<dyn ClientCertVerifier>,
    /// SHA-256 of a chain → its remembered answer.
    verified: Arc<Mutex<HashMap<[u8; 32], Remembered>>>,
    /// Where the bundle came from (a flag and file, or a ConfigMap key), for messages.
    source: String,
}

impl std::fmt::Debug for CaVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaVerifier").field("source", &self.source).finish_non_exhaustive()
    }
}

impl CaVerifier {
    /// A verifier trusting every certificate of the PEM bundle `pem`.
    ///
    /// # Errors
    /// No certificate in the bundle, or one rustls cannot use as a trust anchor.
    pub fn from_pem(pem: &[u8], source: &str) -> Result<Self, AuthnError> {
        let bad = |reason: String| AuthnError::CaBundle { origin: source.to_string(), reason };
        let certs =
            CertificateDer::pem_slice_iter(pem).collect::<Result<Vec<_>, _>>().map_err(|e| bad(e.to_string()))?;
        if certs.is_empty() {
            return Err(bad("no CERTIFICATE block found".into()));
        }
        let mut roots = RootCertStore::empty();
        for cert in certs {
            roots.add(cert).map_err(|e| bad(e.to_string()))?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| bad(e.to_string()))?;
        Ok(Self { verifier, verified: Arc::default(), source: source.to_string() })
    }

    /// Whether `chain` (leaf first, then intermediates) leads to one of the CAs and the leaf may be used for client
    /// authentication now.
    ///
    /// # Errors
    /// Why not, as a message naming the bundle.
    pub fn verify(&self, chain: &[CertificateDer<'static>]) -> Result<(), String> {
        let Some((leaf, intermediates)) = chain.split_first() else {
            return Err("no client certificate".into());
        };
        let now = SystemTime::now();
        let digest = chain_digest(chain);
        if let Some((until, answer)) = self.verified.lock().get(&digest)
            && now < *until
        {
            return answer.clone().map_or(Ok(()), Err);
        }
        let answer = self
            .verifier
            .verify_client_cert(leaf, intermediates, UnixTime::since_unix_epoch(since_epoch(now)))
            .map(|_| ())
            .map_err(|e| format!("verifying the client certificate against {}: {e}", self.source));
        let until = match &answer {
            Ok(()) => not_after(leaf).map_or(now, |expiry| expiry.min(now + VERIFIED_FOR)),
            Err(_) => now + VERIFIED_FOR,
        };
        let mut verified = self.verified.lock();
        if verified.len() >= VERIFIED_LIMIT {
            verified.clear();
        }
        verified.insert(digest, (until, answer.clone().err()));
        answer
    }
}

fn since_epoch(time: SystemTime) -> Duration {
    time.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default()
}

/// One digest over every certificate of a chain (each length-prefixed, so different splits differ).
fn chain_digest(chain: &[CertificateDer<'static>]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for cert in chain {
        hasher.update((cert.len() as u64).to_be_bytes());
        hasher.update(cert.as_ref());
    }
    hasher.finalize().into()
}

/// When a DER certificate stops being valid.
fn not_after(cert: &CertificateDer<'_>) -> Option<SystemTime> {
    let (_, parsed) = X509Certificate::from_der(cert.as_ref()).ok()?;
    let seconds = u64::try_from(parsed.validity().not_after.timestamp()).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(seconds))
}

/// The subject's common name and organizations of a DER certificate.
///
/// # Errors
/// A certificate that does not parse.
pub fn subject(cert: &CertificateDer<'_>) -> Result<(String, Vec<String>), String> {
    let (_, parsed) = X509Certificate::from_der(cert.as_ref()).map_err(|e| format!("parsing the certificate: {e}"))?;
    let subject = parsed.subject();
    let common_name = subject.iter_common_name().next().and_then(|cn| cn.as_str().ok()).unwrap_or_default().to_string();
    let organizations =
        subject.iter_organization().filter_map(|o| o.as_str().ok()).map(str::to_string).collect::<Vec<_>>();
    Ok((common_name, organizations))
}

/// The x509 authenticator: a chain verified by `--client-ca-file` is the user named by its leaf's CN, in the
/// groups named by its O entries. A leaf without CN authenticates nobody.
///
/// # Errors
/// A chain the CA does not vouch for.
pub fn authenticate(ca: &CaVerifier, chain: &[CertificateDer<'static>]) -> Result<Option<UserInfo>, String> {
    let Some(leaf) = chain.first() else { return Ok(None) };
    ca.verify(chain)?;
    let (name, groups) = subject(leaf)?;
    if name.is_empty() {
        return Ok(None);
    }
    Ok(Some(UserInfo { name, groups, ..UserInfo::default() }))
}
