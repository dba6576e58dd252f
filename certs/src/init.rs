//! `init`: create or reuse every certificate, key and the admin kubeconfig a secured Flotilla needs, in one directory.

use std::{
    fs,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    time::{Duration, SystemTime},
};

use rcgen::PublicKeyData as _;

use crate::{
    Authority, CertsError, IssuedCert,
    authority::{CA_VALIDITY, parse_key},
    kubeconfig::kubeconfig,
    pemfile,
};

/// Certificates ending within this window are reported (and leaf certificates renewed): 30 days.
pub const EXPIRY_WARNING: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// The common name of the front-proxy client certificate (what `--requestheader-allowed-names` should allow).
pub const FRONT_PROXY_CLIENT: &str = "front-proxy-client";
/// The common name (user) of the admin client certificate; its organization is `system:masters`.
pub const ADMIN_USER: &str = "admin";

/// Names the serving certificate always covers, besides the requested hosts.
const LOCAL_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// What [`init`] should produce.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InitOptions {
    /// The directory holding every file (created, mode 0700, when missing).
    pub dir: PathBuf,
    /// DNS names and IP addresses the serving certificate must cover (localhost, 127.0.0.1 and ::1 are added).
    pub hosts: Vec<String>,
    /// The server URL written into `admin.kubeconfig`; default `https://<first host, or 127.0.0.1>:6443`.
    pub server: Option<String>,
}

/// The files [`init`] manages, all inside one directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Files {
    /// `ca.crt`: the cluster CA, which signs the serving and client certificates (`--client-ca-file`).
    pub ca_cert: PathBuf,
    /// `ca.key`.
    pub ca_key: PathBuf,
    /// `apiserver.crt`: the serving certificate (`--tls-cert-file`).
    pub serving_cert: PathBuf,
    /// `apiserver.key` (`--tls-private-key-file`).
    pub serving_key: PathBuf,
    /// `front-proxy-ca.crt`: the CA of the aggregating proxy's client certificate (`--requestheader-client-ca-file`).
    pub front_proxy_ca_cert: PathBuf,
    /// `front-proxy-ca.key`.
    pub front_proxy_ca_key: PathBuf,
    /// `front-proxy-client.crt`: CN `front-proxy-client`, what a kube-aggregator presents (`--proxy-client-cert-file`).
    pub front_proxy_client_cert: PathBuf,
    /// `front-proxy-client.key`.
    pub front_proxy_client_key: PathBuf,
    /// `admin.crt`: CN `admin`, O `system:masters`.
    pub admin_cert: PathBuf,
    /// `admin.key`.
    pub admin_key: PathBuf,
    /// `admin.kubeconfig`: the admin credentials and the cluster CA, embedded.
    pub admin_kubeconfig: PathBuf,
    /// `sa.key`: the ECDSA P-256 key signing ServiceAccount tokens (`--service-account-signing-key-file`).
    pub sa_key: PathBuf,
    /// `sa.pub`: its public key, verifying them (`--service-account-key-file`).
    pub sa_pub: PathBuf,
}

impl Files {
    /// The file names inside `dir`.
    pub fn in_dir(dir: &Path) -> Self {
        Self {
            ca_cert: dir.join("ca.crt"),
            ca_key: dir.join("ca.key"),
            serving_cert: dir.join("apiserver.crt"),
            serving_key: dir.join("apiserver.key"),
            front_proxy_ca_cert: dir.join("front-proxy-ca.crt"),
            front_proxy_ca_key: dir.join("front-proxy-ca.key"),
            front_proxy_client_cert: dir.join("front-proxy-client.crt"),
            front_proxy_client_key: dir.join("front-proxy-client.key"),
            admin_cert: dir.join("admin.crt"),
            admin_key: dir.join("admin.key"),
            admin_kubeconfig: dir.join("admin.kubeconfig"),
            sa_key: dir.join("sa.key"),
            sa_pub: dir.join("sa.pub"),
        }
    }
}

/// A certificate that ends within [`EXPIRY_WARNING`] (or already has).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expiring {
    /// The certificate file.
    pub path: PathBuf,
    /// When it ends (ended).
    pub not_after: SystemTime,
    /// Whether [`init`] replaced it with a fresh certificate (leaf certificates); a CA is only reported.
    pub renewed: bool,
}

/// What [`init`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InitReport {
    /// Where everything is.
    pub files: Files,
    /// Files written by this run (new or replaced).
    pub created: Vec<PathBuf>,
    /// Files left as they were.
    pub reused: Vec<PathBuf>,
    /// Certificates found ending soon.
    pub expiring: Vec<Expiring>,
}

/// Creates whatever is missing in `options.dir` and reuses whatever is still valid.
///
/// A certificate authority is reused as long as it has not expired (one ending soon is reported, never replaced:
/// replacing it would invalidate everything that trusts it). A serving or client certificate is issued again when
/// it is missing, no longer signed by its CA, ends within [`EXPIRY_WARNING`] (also reported), names a different
/// subject, or (the serving certificate) does not cover every requested host. The kubeconfig is rewritten when its
/// content would change. Everything written gets mode 0600.
///
/// # Errors
/// A file that cannot be read or written, or that does not parse (the error names it); a certificate whose key
/// does not match; a CA with only one of its two files; an expired CA; a host that is not a valid name.
pub fn init(options: &InitOptions) -> Result<InitReport, CertsError> {
    let existed = options.dir.exists();
    fs::create_dir_all(&options.dir).map_err(|source| CertsError::Io { path: options.dir.clone(), source })?;
    if !existed {
        restrict_dir(&options.dir)?;
    }
    let files = Files::in_dir(&options.dir);
    let mut report = InitReport { files: files.clone(), created: Vec::new(), reused: Vec::new(), expiring: Vec::new() };

    let ca = ensure_ca(&files.ca_cert, &files.ca_key, "flotilla-ca", &mut report)?;
    let front_proxy_ca =
        ensure_ca(&files.front_proxy_ca_cert, &files.front_proxy_ca_key, "flotilla-front-proxy-ca", &mut report)?;

    let mut hosts = options.hosts.clone();
    for local in LOCAL_HOSTS {
        if !hosts.iter().any(|h| h == local) {
            hosts.push(local.to_owned());
        }
    }
    let serving = Leaf { cert: &files.serving_cert, key: &files.serving_key, kind: LeafKind::Serving(&hosts) };
    serving.ensure(&ca, &mut report)?;
    let proxy_client = Leaf {
        cert: &files.front_proxy_client_cert,
        key: &files.front_proxy_client_key,
        kind: LeafKind::Client { common_name: FRONT_PROXY_CLIENT, organizations: &[] },
    };
    proxy_client.ensure(&front_proxy_ca, &mut report)?;
    let admin = Leaf {
        cert: &files.admin_cert,
        key: &files.admin_key,
        kind: LeafKind::Client { common_name: ADMIN_USER, organizations: &["system:masters"] },
    };
    let admin = admin.ensure(&ca, &mut report)?;
    ensure_signing_key(&files.sa_key, &files.sa_pub, &mut report)?;

    let server = options.server.clone().unwrap_or_else(|| default_server(options.hosts.first()));
    let config = kubeconfig(&server, ca.cert_pem(), ADMIN_USER, Some(&admin), None);
    if pemfile::read_optional(&files.admin_kubeconfig)?.as_deref() == Some(config.as_str()) {
        report.reused.push(files.admin_kubeconfig.clone());
    } else {
        pemfile::write_private(&files.admin_kubeconfig, &config)?;
        report.created.push(files.admin_kubeconfig.clone());
    }
    Ok(report)
}

/// `https://<host>:6443`, bracketing an IPv6 address.
fn default_server(host: Option<&String>) -> String {
    let host = host.map_or("127.0.0.1", String::as_str);
    if host.parse::<std::net::Ipv6Addr>().is_ok() {
        format!("https://[{host}]:6443")
    } else {
        format!("https://{host}:6443")
    }
}

/// Makes a directory this run created private to its owner, whatever the umask.
fn restrict_dir(dir: &Path) -> Result<(), CertsError> {
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
        .map_err(|source| CertsError::Io { path: dir.to_owned(), source })
}

fn ensure_ca(cert: &Path, key: &Path, common_name: &str, report: &mut InitReport) -> Result<Authority, CertsError> {
    match (cert.exists(), key.exists()) {
        (true, true) => {
            let ca = Authority::load(cert, key)?;
            let now = SystemTime::now();
            if ca.not_after() <= now {
                return Err(CertsError::Expired { path: cert.to_owned(), not_after: pemfile::rfc3339(ca.not_after()) });
            }
            if ca.not_after() <= now + EXPIRY_WARNING {
                report.expiring.push(Expiring { path: cert.to_owned(), not_after: ca.not_after(), renewed: false });
            }
            report.reused.extend([cert.to_owned(), key.to_owned()]);
            Ok(ca)
        }
        (false, false) => {
            let ca = Authority::generate(common_name, CA_VALIDITY)?;
            pemfile::write_private(key, ca.key_pem())?;
            pemfile::write_private(cert, ca.cert_pem())?;
            report.created.extend([cert.to_owned(), key.to_owned()]);
            Ok(ca)
        }
        (true, false) => Err(CertsError::HalfPair { present: cert.to_owned(), missing: key.to_owned() }),
        (false, true) => Err(CertsError::HalfPair { present: key.to_owned(), missing: cert.to_owned() }),
    }
}

/// The ServiceAccount signing key pair: reused when present (the public key rewritten if it does not match),
/// generated (ECDSA P-256) when absent. A lone public key is an error: tokens it verifies could not be issued.
fn ensure_signing_key(key: &Path, public: &Path, report: &mut InitReport) -> Result<(), CertsError> {
    let pair = match pemfile::read_optional(key)? {
        Some(pem) => {
            report.reused.push(key.to_owned());
            parse_key(key, &pem)?
        }
        None if public.exists() => {
            return Err(CertsError::HalfPair { present: public.to_owned(), missing: key.to_owned() });
        }
        None => {
            let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
                .map_err(|e| CertsError::Generate(e.to_string()))?;
            pemfile::write_private(key, &pair.serialize_pem())?;
            report.created.push(key.to_owned());
            pair
        }
    };
    let public_pem = pair.public_key_pem();
    if pemfile::read_optional(public)?.as_deref() == Some(public_pem.as_str()) {
        report.reused.push(public.to_owned());
    } else {
        pemfile::write_private(public, &public_pem)?;
        report.created.push(public.to_owned());
    }
    Ok(())
}

/// What a leaf certificate must be.
enum LeafKind<'a> {
    /// A serving certificate covering these hosts.
    Serving(&'a [String]),
    /// A client certificate with this subject.
    Client { common_name: &'a str, organizations: &'a [&'a str] },
}

/// A leaf certificate file pair and what it must hold.
struct Leaf<'a> {
    cert: &'a Path,
    key: &'a Path,
    kind: LeafKind<'a>,
}

impl Leaf<'_> {
    /// Reuses the pair if it still fits, otherwise issues and writes a new one; returns the pair in use.
    fn ensure(&self, ca: &Authority, report: &mut InitReport) -> Result<IssuedCert, CertsError> {
        if let Some(existing) = self.reusable(ca, report)? {
            report.reused.extend([self.cert.to_owned(), self.key.to_owned()]);
            return Ok(existing);
        }
        let issued = match self.kind {
            LeafKind::Serving(hosts) => ca.issue_serving(hosts)?,
            LeafKind::Client { common_name, organizations } => ca.issue_client(common_name, organizations)?,
        };
        pemfile::write_private(self.key, &issued.key_pem)?;
        pemfile::write_private(self.cert, &issued.cert_pem)?;
        report.created.extend([self.cert.to_owned(), self.key.to_owned()]);
        Ok(issued)
    }

    /// The existing pair, when it is complete, parses, belongs together and still fits; `None` to reissue.
    fn reusable(&self, ca: &Authority, report: &mut InitReport) -> Result<Option<IssuedCert>, CertsError> {
        let (Some(cert_pem), Some(key_pem)) = (pemfile::read_optional(self.cert)?, pemfile::read_optional(self.key)?)
        else {
            return Ok(None);
        };
        let der = pemfile::cert_der(self.cert, &cert_pem)?;
        let facts = pemfile::facts(self.cert, &der)?;
        if parse_key(self.key, &key_pem)?.subject_public_key_info() != facts.public_key {
            return Err(CertsError::Mismatch { cert: self.cert.to_owned(), key: self.key.to_owned() });
        }
        if facts.not_after <= SystemTime::now() + EXPIRY_WARNING {
            report.expiring.push(Expiring { path: self.cert.to_owned(), not_after: facts.not_after, renewed: true });
            return Ok(None);
        }
        let fits = ca.signed(&der)
            && match self.kind {
                LeafKind::Serving(hosts) => hosts.iter().all(|host| facts.sans.iter().any(|san| same_host(san, host))),
                LeafKind::Client { common_name, organizations } => {
                    facts.common_name.as_deref() == Some(common_name)
                        && facts.organizations.iter().map(String::as_str).eq(organizations.iter().copied())
                }
            };
        Ok(fits.then_some(IssuedCert { cert_pem, key_pem }))
    }
}

/// Whether a certificate SAN covers a requested host (IP addresses compared as addresses, names case-insensitively).
fn same_host(san: &str, host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match (san.parse::<std::net::IpAddr>(), host.parse::<std::net::IpAddr>()) {
        (Ok(a), Ok(b)) => a == b,
        _ => san.eq_ignore_ascii_case(host),
    }
}

#[cfg(test)]
#[path = "init/tests.rs"]
mod tests;
