//! Client certificates whose subject holds several organizations (one Kubernetes group each).

use rcgen::{KeyPair, SigningKey};

use crate::CertsError;

/// DER tags used here.
const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;
const UTF8_STRING: u8 = 0x0c;
const BIT_STRING: u8 = 0x03;
/// The encoded object identifiers of commonName (2.5.4.3) and organizationName (2.5.4.10).
const COMMON_NAME: [u8; 3] = [0x55, 0x04, 0x03];
const ORGANIZATION: [u8; 3] = [0x55, 0x04, 0x0a];
/// Position of the subject in a v3 TBSCertificate: version, serialNumber, signature, issuer, validity, subject.
const SUBJECT_INDEX: usize = 5;

/// A DER element: tag, length, content.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// The first DER element of some input: the whole element, its content, and the input after it.
struct Split<'a> {
    element: &'a [u8],
    content: &'a [u8],
    rest: &'a [u8],
}

/// Splits the first DER element off `input`.
fn split(input: &[u8]) -> Option<Split<'_>> {
    let (_tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        (rest[..count].iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b)), &rest[count..])
    };
    if rest.len() < len {
        return None;
    }
    let header = input.len() - rest.len();
    Some(Split { element: &input[..header + len], content: &rest[..len], rest: &rest[len..] })
}

/// Every element in a DER content.
fn elements(mut content: &[u8]) -> Option<Vec<&[u8]>> {
    let mut all = Vec::new();
    while !content.is_empty() {
        let first = split(content)?;
        all.push(first.element);
        content = first.rest;
    }
    Some(all)
}

fn attribute(oid: &[u8], value: &str) -> Vec<u8> {
    let pair = [tlv(OID, oid), tlv(UTF8_STRING, value.as_bytes())].concat();
    tlv(SET, &tlv(SEQUENCE, &pair))
}

/// `cert_der` (issued by the holder of `signer`) with its subject replaced by `O=<each organization>, CN=<cn>`.
///
/// rcgen keeps one value per attribute type in a subject, so a certificate for several groups is issued by rcgen
/// first; here its subject is replaced with one organization attribute per group and the to-be-signed part signed
/// again with the same CA key (and so the same algorithm identifier).
pub(crate) fn with_organizations(
    cert_der: &[u8],
    common_name: &str,
    organizations: &[&str],
    signer: &KeyPair,
) -> Result<Vec<u8>, CertsError> {
    let malformed = || CertsError::Generate("re-encoding a certificate subject: malformed DER".into());
    let cert = split(cert_der).ok_or_else(malformed)?.content;
    let parts = elements(cert).ok_or_else(malformed)?;
    let [tbs, algorithm, _signature] = parts.as_slice() else { return Err(malformed()) };
    let tbs_content = split(tbs).ok_or_else(malformed)?.content;
    let mut fields: Vec<Vec<u8>> =
        elements(tbs_content).ok_or_else(malformed)?.into_iter().map(<[u8]>::to_vec).collect();
    let subject = fields.get_mut(SUBJECT_INDEX).ok_or_else(malformed)?;
    let mut name: Vec<u8> = organizations.iter().flat_map(|o| attribute(&ORGANIZATION, o)).collect();
    name.extend(attribute(&COMMON_NAME, common_name));
    *subject = tlv(SEQUENCE, &name);
    let tbs = tlv(SEQUENCE, &fields.concat());
    let signature = signer.sign(&tbs).map_err(|e| CertsError::Generate(e.to_string()))?;
    let bits = [&[0u8][..], &signature].concat();
    Ok(tlv(SEQUENCE, &[tbs, algorithm.to_vec(), tlv(BIT_STRING, &bits)].concat()))
}

/// PEM text of a DER certificate.
pub(crate) fn pem(der: &[u8]) -> String {
    use base64::Engine;
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}
