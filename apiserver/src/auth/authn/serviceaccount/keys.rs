//! ServiceAccount token keys: loading the signing and verifying keys, or generating a persistent ES256 pair.

use std::{
    fs,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
};

use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use rcgen::{KeyPair, PublicKeyData as _};
use rustls::pki_types::{SubjectPublicKeyInfoDer, pem::PemObject as _};
use sha2::{Digest as _, Sha256};
use x509_parser::prelude::FromDer as _;

use super::ServiceAccountError;

/// File name of the generated signing key beside the serving certificate.
pub const GENERATED_SIGNING_KEY: &str = "sa.key";
/// File name of the generated public key beside the serving certificate.
pub const GENERATED_PUBLIC_KEY: &str = "sa.pub";

const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";
const OID_RSA: &str = "1.2.840.113549.1.1.1";

/// The private key tokens are signed with.
#[derive(Clone)]
pub struct Signer {
    pub(super) key: EncodingKey,
    pub(super) algorithm: Algorithm,
    pub(super) kid: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").field("algorithm", &self.algorithm).field("kid", &self.kid).finish_non_exhaustive()
    }
}

/// A public key tokens are verified with.
#[derive(Clone)]
pub struct Verifier {
    pub(super) key: DecodingKey,
    pub(super) algorithm: Algorithm,
    pub(super) kid: String,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier").field("algorithm", &self.algorithm).field("kid", &self.kid).finish_non_exhaustive()
    }
}

/// kube's key id: the unpadded base64url SHA-256 of the public key's SubjectPublicKeyInfo DER.
fn key_id(spki_der: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(spki_der))
}

/// The verifier of one SubjectPublicKeyInfo (P-256, P-384 or RSA).
pub(super) fn verifier_from_spki(spki_der: &[u8], origin: &str) -> Result<Verifier, ServiceAccountError> {
    let bad = |reason: String| ServiceAccountError::Key { origin: origin.to_string(), reason };
    let (_, spki) = x509_parser::x509::SubjectPublicKeyInfo::from_der(spki_der)
        .map_err(|e| bad(format!("not a public key: {e}")))?;
    let raw = spki.subject_public_key.data.as_ref();
    let oid = spki.algorithm.algorithm.to_id_string();
    let (key, algorithm) = if oid == OID_EC_PUBLIC_KEY {
        let curve = spki.algorithm.parameters.as_ref().and_then(|p| p.as_oid().ok()).map(|o| o.to_id_string());
        let algorithm = match curve.as_deref() {
            Some(OID_P256) => Algorithm::ES256,
            Some(OID_P384) => Algorithm::ES384,
            other => return Err(bad(format!("unsupported elliptic curve {other:?} (P-256 and P-384 are)"))),
        };
        (DecodingKey::from_ec_der(raw), algorithm)
    } else if oid == OID_RSA {
        (DecodingKey::from_rsa_der(raw), Algorithm::RS256)
    } else {
        return Err(bad(format!("unsupported key algorithm {oid} (ECDSA and RSA are)")));
    };
    Ok(Verifier { key, algorithm, kid: key_id(spki_der) })
}

/// Every public key of a PEM file: `PUBLIC KEY` blocks, or the public half of a private key.
pub(super) fn load_verifiers(path: &Path) -> Result<Vec<Verifier>, ServiceAccountError> {
    let pem = read(path, "--service-account-key-file")?;
    let origin = format!("{} (set by --service-account-key-file)", path.display());
    let mut verifiers = Vec::new();
    for spki in SubjectPublicKeyInfoDer::pem_slice_iter(&pem) {
        let spki = spki.map_err(|e| ServiceAccountError::Key { origin: origin.clone(), reason: e.to_string() })?;
        verifiers.push(verifier_from_spki(spki.as_ref(), &origin)?);
    }
    if verifiers.is_empty() {
        let (_, verifier) = signer_from_pem(&pem, &origin)?;
        verifiers.push(verifier);
    }
    Ok(verifiers)
}

/// The signer of a PKCS#8 private key (P-256 → ES256, P-384 → ES384, RSA → RS256) and its public key's verifier.
pub(super) fn signer_from_pem(pem: &[u8], origin: &str) -> Result<(Signer, Verifier), ServiceAccountError> {
    let bad = |reason: String| ServiceAccountError::Key { origin: origin.to_string(), reason };
    let text = std::str::from_utf8(pem).map_err(|_| bad("not PEM text".into()))?;
    let pair = KeyPair::from_pem(text).map_err(|e| bad(format!("not a usable PKCS#8 private key: {e}")))?;
    let spki = pair.subject_public_key_info();
    let verifier = verifier_from_spki(&spki, origin)?;
    let key = match verifier.algorithm {
        Algorithm::RS256 => EncodingKey::from_rsa_pem(pem),
        _ => EncodingKey::from_ec_pem(pem),
    }
    .map_err(|e| bad(e.to_string()))?;
    Ok((Signer { key, algorithm: verifier.algorithm, kid: verifier.kid.clone() }, verifier))
}

/// Loads the signing key of `--service-account-signing-key-file`.
pub(super) fn load_signer(path: &Path) -> Result<(Signer, Verifier), ServiceAccountError> {
    let pem = read(path, "--service-account-signing-key-file")?;
    signer_from_pem(&pem, &format!("{} (set by --service-account-signing-key-file)", path.display()))
}

/// Generates a fresh ES256 pair as PEM: (PKCS#8 private key, public key).
///
/// # Errors
/// The random source failed.
pub fn generate_pair() -> Result<(String, String), rcgen::Error> {
    let pair = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    Ok((pair.serialize_pem(), pair.public_key_pem()))
}

/// The `sa.key` / `sa.pub` pair in `dir`, generated (mode 0600) on first use and reused after.
pub(super) fn load_or_generate(dir: &Path) -> Result<(Signer, Verifier), ServiceAccountError> {
    let key_path = dir.join(GENERATED_SIGNING_KEY);
    let pub_path = dir.join(GENERATED_PUBLIC_KEY);
    if !key_path.exists() {
        let (key, public) = generate_pair().map_err(|e| ServiceAccountError::Key {
            origin: key_path.display().to_string(),
            reason: format!("generating: {e}"),
        })?;
        write_private(&key_path, &key)?;
        write_private(&pub_path, &public)?;
    } else if !pub_path.exists() {
        let pem = read(&key_path, "--cert-dir")?;
        let text = String::from_utf8_lossy(&pem);
        let public = KeyPair::from_pem(&text)
            .map(|pair| pair.public_key_pem())
            .map_err(|e| ServiceAccountError::Key { origin: key_path.display().to_string(), reason: e.to_string() })?;
        write_private(&pub_path, &public)?;
    }
    let pem = read(&key_path, "--cert-dir")?;
    signer_from_pem(&pem, &format!("{} (generated in --cert-dir)", key_path.display()))
}

fn read(path: &Path, flag: &'static str) -> Result<Vec<u8>, ServiceAccountError> {
    fs::read(path).map_err(|source| ServiceAccountError::Read { flag, path: path.to_path_buf(), source })
}

fn write_private(path: &PathBuf, text: &str) -> Result<(), ServiceAccountError> {
    let write = || -> std::io::Result<()> {
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::write(path, text)?;
        fs::set_permissions(path, fs::Permissions::from_mode(0o600))
    };
    write().map_err(|source| ServiceAccountError::Write { path: path.clone(), source })
}
