//! `application/vnd.kubernetes.protobuf` request bodies of built-in kinds, turned into the JSON Kubernetes would write.

mod decode;
mod format;
#[cfg(test)]
mod hostile_tests;
mod table;
#[cfg(test)]
mod tests;
pub(crate) mod wire;

use std::fmt::Write as _;

use serde_json::{Map, Value};

use crate::machinery::{ApiError, Object, StatusReason};
use table::Table;
use wire::Reader;

/// The media type of Kubernetes' protobuf encoding.
pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// The four bytes every Kubernetes protobuf body starts with.
const MAGIC: &[u8; 4] = b"k8s\0";

/// A malformed message; becomes a 400 BadRequest worded as kube-apiserver's decoder errors.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct DecodeError(String);

impl DecodeError {
    fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }

    fn eof() -> Self {
        Self::new("unexpected EOF")
    }
}

/// Whether `body` starts with Kubernetes' protobuf magic (`k8s\0`), which no JSON or YAML body can.
pub fn has_magic(body: &[u8]) -> bool {
    body.starts_with(MAGIC)
}

/// Decodes a protobuf body (`k8s\0` + `runtime.Unknown` wrapping the object) into the JSON object kube-apiserver
/// would have decoded: the Go value's JSON, with `kind` and `apiVersion` from the envelope. `expected_kind` (the
/// endpoint's kind) fills in a missing kind and names the type in errors.
///
/// # Errors
/// 415 UnsupportedMediaType for a kind without a known protobuf encoding (custom resources, kinds Flotilla does not
/// serve); 400 BadRequest for a body that is not a well-formed protobuf object, worded as kube-apiserver's
/// (`Deployment in version "v1" cannot be handled as a Deployment: ...`).
pub fn decode(body: &[u8], expected_kind: Option<&str>) -> Result<Object, ApiError> {
    let table = Table::get().map_err(|e| ApiError::internal(format!("protobuf table: {e}")))?;
    let unrecognized = |why: &str| {
        let of_type = expected_kind.map(|k| format!(" (must be of type {k})")).unwrap_or_default();
        ApiError::bad_request(format!("the object provided is unrecognized{of_type}: {why} ({})", summarize(body)))
    };
    let data = match body {
        [] => return Err(unrecognized("empty data")),
        _ if !has_magic(body) => {
            return Err(unrecognized(
                "provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]",
            ));
        }
        _ if body.len() == MAGIC.len() => return Err(unrecognized("empty body")),
        _ => &body[MAGIC.len()..],
    };
    let envelope = Envelope::read(data).map_err(|e| unrecognized(&e.to_string()))?;
    let kind = match (envelope.kind.as_str(), expected_kind) {
        ("", Some(expected)) => expected.to_string(),
        ("", None) => return Err(unrecognized(&format!("Object 'Kind' is missing in '{}'", envelope.go_type_meta()))),
        (kind, _) => kind.to_string(),
    };
    let Some(entry) = table.kind(&envelope.api_version, &kind) else {
        return Err(ApiError::new(
            415,
            StatusReason::UnsupportedMediaType,
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json, \
                 application/yaml; got {MEDIA_TYPE:?} for kind {kind:?} in version {:?}, which has no protobuf \
                 encoding here (protobuf is accepted for built-in kinds only)",
                envelope.api_version
            ),
        ));
    };
    let api_version = match (&entry.api_version, envelope.api_version.as_str()) {
        (_, given) if !given.is_empty() => given.to_string(),
        (Some(version), _) => version.clone(),
        (None, _) => "meta.k8s.io/v1".to_string(),
    };
    let fields = decode::Decoder::new(table, body.len()).top_level(entry.message, envelope.raw).map_err(|e| {
        let version = api_version.rsplit('/').next().unwrap_or_default();
        let as_kind = expected_kind.unwrap_or(&kind);
        ApiError::bad_request(format!("{kind} in version {version:?} cannot be handled as a {as_kind}: {e}"))
    })?;
    let mut object = Map::new();
    object.insert("kind".to_string(), Value::String(kind));
    object.insert("apiVersion".to_string(), Value::String(api_version));
    object.extend(fields);
    Ok(Value::Object(object))
}

/// `runtime.Unknown`: the type of the object and its encoded bytes.
#[derive(Debug, Default)]
struct Envelope<'a> {
    api_version: String,
    kind: String,
    raw: &'a [u8],
}

impl<'a> Envelope<'a> {
    fn read(data: &'a [u8]) -> Result<Self, DecodeError> {
        let mut envelope = Envelope::default();
        let mut reader = Reader::new(data);
        while let Some((number, value)) = reader.next_field()? {
            match (number, value) {
                (1, wire::Value::Len(type_meta)) => {
                    let mut inner = Reader::new(type_meta);
                    while let Some((number, value)) = inner.next_field()? {
                        match (number, value) {
                            (1, wire::Value::Len(text)) => envelope.api_version = utf8(text),
                            (2, wire::Value::Len(text)) => envelope.kind = utf8(text),
                            (1 | 2, other) => return Err(wrong_wire_type(other, "TypeMeta")),
                            _ => {}
                        }
                    }
                }
                (2, wire::Value::Len(raw)) => envelope.raw = raw,
                (3 | 4, wire::Value::Len(_)) => {}
                (1..=4, other) => return Err(wrong_wire_type(other, "Unknown")),
                _ => {}
            }
        }
        Ok(envelope)
    }

    /// The envelope's type as Go prints it in "missing kind" errors.
    fn go_type_meta(&self) -> String {
        format!("runtime.TypeMeta{{APIVersion:{:?}, Kind:{:?}}}", self.api_version, self.kind)
    }
}

fn utf8(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn wrong_wire_type(value: wire::Value<'_>, message: &str) -> DecodeError {
    DecodeError::new(format!("proto: wrong wireType = {} for field in {message}", value.wire_type()))
}

/// The start of a body for an error message, as kube-apiserver summarizes it: text when it looks like JSON, hex
/// otherwise, at most 30 bytes.
fn summarize(body: &[u8]) -> String {
    const MAX: usize = 30;
    let head = &body[..body.len().min(MAX)];
    let more = if body.len() > MAX { " ..." } else { "" };
    match body.first() {
        None => "<empty>".to_string(),
        Some(b'{') => format!("{}{more}", String::from_utf8_lossy(head)),
        Some(_) => {
            let mut hex = String::with_capacity(head.len() * 2 + more.len());
            for byte in head {
                let _ = write!(hex, "{byte:02x}");
            }
            hex + more
        }
    }
}
