//! Client certificates: CA bundles (files re-read when they change), chain verification, the subject's CN and O.

use std::{
    collections::HashMap,
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant, SystemTime},
};

use parking_lot::{Mutex, RwLock};
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

/// How often a CA file is looked at for a new bundle (kube-apiserver re-reads its CA files every minute and at
/// once on file events; a plain re-read every ten seconds gives the same "rotate without a restart").
const FILE_CHECK_INTERVAL: Duration = Duration::from_secs(10);

/// Until when a verification's answer holds, and the answer (`None`: verified; else why not).
type Remembered = (SystemTime, Option<String>);

/// Verifies client certificate chains against one CA bundle, remembering recent answers: a client sends the same
/// chain with every request of a connection (and every chain is checked against the front-proxy CA too), and
/// checking signatures each time would dominate small requests. A bundle read from a file follows the file: a
/// changed file replaces the bundle (and forgets the answers) within ten seconds; a file that became
/// unreadable or broken leaves the last good bundle in place, with a warning.
#[derive(Clone)]
pub struct CaVerifier {
    verifier: Arc<RwLock<Arc<dyn ClientCertVerifier>>>,
    /// SHA-256 of a chain → its remembered answer.
    verified: Arc<Mutex<HashMap<[u8; 32], Remembered>>>,
    /// Where the bundle came from (a flag and file, or a ConfigMap key), for messages.
    source: String,
    /// The file the bundle is read from, when it is.
    file: Option<Arc<Mutex<WatchedFile>>>,
}

/// A CA file and what was last read from it.
struct WatchedFile {
    path: PathBuf,
    /// SHA-256 of the content the current bundle came from (or of the last content refused).
    digest: [u8; 32],
    next_check: Instant,
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
        let verifier = Arc::new(RwLock::new(client_verifier(pem, source)?));
        Ok(Self { verifier, verified: Arc::default(), source: source.to_string(), file: None })
    }

    /// A verifier trusting the PEM bundle in the file at `path` (named by `flag`), following later changes of it.
    ///
    /// # Errors
    /// An unreadable file, or a bundle [`CaVerifier::from_pem`] refuses.
    pub fn from_file(path: &std::path::Path, flag: &'static str) -> Result<Self, AuthnError> {
        let pem = std::fs::read(path).map_err(|source| AuthnError::Read { flag, path: path.to_path_buf(), source })?;
        let mut verifier = Self::from_pem(&pem, &format!("{} (set by {flag})", path.display()))?;
        verifier.file = Some(Arc::new(Mutex::new(WatchedFile {
            path: path.to_path_buf(),
            digest: Sha256::digest(&pem).into(),
            next_check: Instant::now() + FILE_CHECK_INTERVAL,
        })));
        Ok(verifier)
    }

    /// Re-reads the bundle's file when it is time to, and takes a changed bundle that parses.
    fn follow_file(&self) {
        let Some(file) = &self.file else { return };
        // One request looks at the file; the others go on with the current bundle meanwhile.
        let Some(mut watched) = file.try_lock() else { return };
        let now = Instant::now();
        if now < watched.next_check {
            return;
        }
        watched.next_check = now + FILE_CHECK_INTERVAL;
        let pem = match std::fs::read(&watched.path) {
            Ok(pem) => pem,
            Err(error) => {
                tracing::warn!(%error, source = %self.source, "cannot re-read the CA file; keeping the bundle read before");
                return;
            }
        };
        let digest: [u8; 32] = Sha256::digest(&pem).into();
        if digest == watched.digest {
            return;
        }
        watched.digest = digest;
        match client_verifier(&pem, &self.source) {
            Ok(verifier) => {
                *self.verifier.write() = verifier;
                self.verified.lock().clear();
                tracing::info!(source = %self.source, "loaded a changed CA bundle");
            }
            Err(error) => tracing::warn!(%error, "the changed CA file is not usable; keeping the bundle read before"),
        }
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
        self.follow_file();
        let now = SystemTime::now();
        let digest = chain_digest(chain);
        if let Some((until, answer)) = self.verified.lock().get(&digest)
            && now < *until
        {
            return answer.clone().map_or(Ok(()), Err);
        }
        let verifier = Arc::clone(&self.verifier.read());
        let answer = verifier
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

/// A rustls client-certificate verifier trusting every certificate of the PEM bundle `pem` (from `source`).
fn client_verifier(pem: &[u8], source: &str) -> Result<Arc<dyn ClientCertVerifier>, AuthnError> {
    let bad = |reason: String| AuthnError::CaBundle { origin: source.to_string(), reason };
    let certs = CertificateDer::pem_slice_iter(pem).collect::<Result<Vec<_>, _>>().map_err(|e| bad(e.to_string()))?;
    if certs.is_empty() {
        return Err(bad("no CERTIFICATE block found".into()));
    }
    let mut roots = RootCertStore::empty();
    for cert in certs {
        roots.add(cert).map_err(|e| bad(e.to_string()))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider).build().map_err(|e| bad(e.to_string()))
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

#[cfg(test)]
mod tests {
    use flotilla_certs::{Authority, CA_VALIDITY};

    use super::*;

    fn chain(authority: &Authority, user: &str) -> Vec<CertificateDer<'static>> {
        let issued = authority.issue_client(user, &[]).unwrap();
        CertificateDer::pem_slice_iter(issued.cert_pem.as_bytes()).collect::<Result<_, _>>().unwrap()
    }

    /// Makes the next verification look at the file.
    fn check_now(verifier: &CaVerifier) {
        verifier.file.as_ref().expect("a file-backed verifier").lock().next_check = Instant::now();
    }

    #[test]
    fn a_rotated_ca_file_is_followed_and_a_broken_one_keeps_the_last_good_bundle() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.crt");
        let (old, new) =
            (Authority::generate("old", CA_VALIDITY).unwrap(), Authority::generate("new", CA_VALIDITY).unwrap());
        std::fs::write(&path, old.cert_pem()).unwrap();
        let verifier = CaVerifier::from_file(&path, "--client-ca-file").unwrap();
        let (old_client, new_client) = (chain(&old, "alice"), chain(&new, "bob"));
        assert!(verifier.verify(&old_client).is_ok());
        assert!(verifier.verify(&new_client).is_err());

        std::fs::write(&path, new.cert_pem()).unwrap();
        assert!(verifier.verify(&new_client).is_err(), "the file is looked at only every {FILE_CHECK_INTERVAL:?}");
        check_now(&verifier);
        assert!(verifier.verify(&new_client).is_ok(), "a refusal is not remembered across a new bundle");
        assert!(verifier.verify(&old_client).is_err(), "the old CA is no longer trusted");

        std::fs::write(&path, "not a certificate").unwrap();
        check_now(&verifier);
        assert!(verifier.verify(&new_client).is_ok(), "a broken file keeps the last good bundle");
        std::fs::remove_file(&path).unwrap();
        check_now(&verifier);
        assert!(verifier.verify(&new_client).is_ok(), "a missing file keeps the last good bundle");

        let both = format!("{}{}", old.cert_pem(), new.cert_pem());
        std::fs::write(&path, both).unwrap();
        check_now(&verifier);
        assert!(verifier.verify(&old_client).is_ok() && verifier.verify(&new_client).is_ok(), "a bundle of both");
    }
}
