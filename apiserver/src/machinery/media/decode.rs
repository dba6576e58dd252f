//! Request bodies: JSON or YAML by `Content-Type`, into a JSON object, safely on hostile input.

use std::fmt::Write as _;

use serde_json::{Map, Number, Value};

use crate::machinery::{ApiError, Object};

/// Go's description of the struct kube-apiserver first decodes a body into, quoted in its type errors.
const KIND_PROBE: &str =
    r#"struct { APIVersion string "json:\"apiVersion,omitempty\""; Kind string "json:\"kind,omitempty\"" }"#;

/// The body's format, from its `Content-Type`.
enum BodyFormat {
    Json,
    Yaml,
    Protobuf,
}

fn body_format(content_type: Option<&str>) -> Result<BodyFormat, ApiError> {
    let Some(content_type) = content_type.map(str::trim).filter(|c| !c.is_empty()) else {
        return Ok(BodyFormat::Json);
    };
    let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    match essence.as_str() {
        "application/json" => Ok(BodyFormat::Json),
        "application/yaml" => Ok(BodyFormat::Yaml),
        crate::protobuf::MEDIA_TYPE => Ok(BodyFormat::Protobuf),
        _ => Err(ApiError::unsupported_media_type(content_type)),
    }
}

/// Decodes a create/update body: `application/json` (also when `content_type` is absent), `application/yaml`, or
/// `application/vnd.kubernetes.protobuf` for built-in kinds (see [`crate::protobuf::decode`]).
///
/// # Errors
/// 415 UnsupportedMediaType for any other type; 400 BadRequest for malformed JSON or YAML, more than 128 levels of
/// nesting, or a body that is not an object, worded as kube-apiserver's
/// `the object provided is unrecognized: couldn't get version/kind; json parse error: ...`.
pub fn decode_body(content_type: Option<&str>, body: &[u8]) -> Result<Object, ApiError> {
    decode(content_type, body, None)
}

/// [`decode_body`] for a request whose resource has `kind`, so errors read
/// `the object provided is unrecognized (must be of type Deployment): ...` as kube-apiserver's do.
///
/// # Errors
/// As [`decode_body`].
pub fn decode_body_as(content_type: Option<&str>, body: &[u8], kind: &str) -> Result<Object, ApiError> {
    decode(content_type, body, Some(kind))
}

fn decode(content_type: Option<&str>, body: &[u8], kind: Option<&str>) -> Result<Object, ApiError> {
    let format = body_format(content_type)?;
    let parsed = match format {
        BodyFormat::Json => parse_json(body),
        BodyFormat::Yaml => yaml_to_json(body).map_err(|e| format!("error converting YAML to JSON: yaml: {e}")),
        BodyFormat::Protobuf => return crate::protobuf::decode(body, kind),
    };
    let why = match parsed {
        Ok(Value::Object(map)) => return Ok(Value::Object(map)),
        Ok(Value::Null) => "Object 'Kind' is missing in 'null'".to_string(),
        Ok(other) => format!(
            "couldn't get version/kind; json parse error: json: cannot unmarshal {} into Go value of type {KIND_PROBE}",
            go_json_type(&other)
        ),
        Err(why) => why,
    };
    let of_type = kind.map(|k| format!(" (must be of type {k})")).unwrap_or_default();
    Err(ApiError::bad_request(format!("the object provided is unrecognized{of_type}: {why} ({})", summarize(body))))
}

fn parse_json(body: &[u8]) -> Result<Value, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err("couldn't get version/kind; json parse error: unexpected end of JSON input".to_string());
    }
    // serde_json refuses more than 128 levels of nesting, so hostile input cannot exhaust the stack.
    serde_json::from_slice(body).map_err(|e| format!("couldn't get version/kind; json parse error: {e}"))
}

fn go_json_type(value: &Value) -> &'static str {
    match value {
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) | Value::Null => "object",
    }
}

/// The start of the body for an error message: text when it looks like JSON, hex otherwise (at most 30 bytes).
fn summarize(body: &[u8]) -> String {
    const MAX: usize = 30;
    if body.is_empty() {
        return "<empty>".to_string();
    }
    let head = &body[..body.len().min(MAX)];
    let more = if body.len() > MAX { " ..." } else { "" };
    if body.first() == Some(&b'{') {
        format!("{}{more}", String::from_utf8_lossy(head))
    } else {
        let mut hex = String::with_capacity(head.len() * 2);
        for byte in head {
            let _ = write!(hex, "{byte:02x}");
        }
        format!("{hex}{more}")
    }
}

/// Parses one YAML document into JSON as kube-apiserver does: merge keys applied, tags dropped, scalar map keys
/// turned into strings. An empty document is `null`.
///
/// # Errors
/// The YAML error (nesting beyond 128 levels and alias bombs are refused by the parser), more than one document,
/// non-scalar map keys, or floats JSON cannot hold (`.inf`, `.nan`).
pub fn yaml_to_json(body: &[u8]) -> Result<Value, String> {
    if flow_depth_exceeds(body, MAX_FLOW_DEPTH) {
        // The YAML parser reads a whole document before its depth limit applies; deep flow nesting (one byte per
        // level) would cost seconds, so it is refused up front, as Go's YAML parser also limits depth.
        return Err(format!("exceeded max depth of {MAX_FLOW_DEPTH}"));
    }
    let mut value: serde_yaml::Value = serde_yaml::from_slice(body).map_err(|e| e.to_string())?;
    value.apply_merge().map_err(|e| e.to_string())?;
    convert(value)
}

/// The deepest flow nesting (`[`/`{`) a YAML body may have.
const MAX_FLOW_DEPTH: usize = 10_000;

/// Whether unbalanced `[`/`{` ever nest deeper than `limit`, or one line opens more than `limit` compact block
/// entries (`- - - ...`, `? ? ...`); quotes are not interpreted, so only text with thousands of unclosed brackets
/// could be refused by mistake.
fn flow_depth_exceeds(body: &[u8], limit: usize) -> bool {
    let mut depth = 0usize;
    let mut compact = 0usize;
    let mut line_start = true;
    let mut previous = b'\n';
    for &byte in body {
        match byte {
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        match byte {
            b'\n' => {
                line_start = true;
                compact = 0;
            }
            b' ' | b'\t' if line_start && matches!(previous, b'-' | b'?') => {
                compact += 1;
                if compact > limit {
                    return true;
                }
            }
            b' ' | b'\t' | b'-' | b'?' => {}
            _ => line_start = false,
        }
        previous = byte;
    }
    false
}

/// Converts a YAML value (at most 128 levels deep, as the YAML parser guarantees) to JSON.
fn convert(value: serde_yaml::Value) -> Result<Value, String> {
    Ok(match value {
        serde_yaml::Value::Null => Value::Null,
        serde_yaml::Value::Bool(b) => Value::Bool(b),
        serde_yaml::Value::Number(n) => number(&n)?,
        serde_yaml::Value::String(s) => Value::String(s),
        serde_yaml::Value::Sequence(items) => Value::Array(items.into_iter().map(convert).collect::<Result<_, _>>()?),
        serde_yaml::Value::Mapping(mapping) => {
            let mut map = Map::with_capacity(mapping.len());
            for (key, value) in mapping {
                map.insert(map_key(key)?, convert(value)?);
            }
            Value::Object(map)
        }
        serde_yaml::Value::Tagged(tagged) => convert(tagged.value)?,
    })
}

fn number(n: &serde_yaml::Number) -> Result<Value, String> {
    if let Some(i) = n.as_i64() {
        return Ok(Value::from(i));
    }
    if let Some(u) = n.as_u64() {
        return Ok(Value::from(u));
    }
    let f = n.as_f64().unwrap_or(f64::NAN);
    Number::from_f64(f).map(Value::Number).ok_or_else(|| format!("json: unsupported value: {}", go_float(f)))
}

fn go_float(f: f64) -> &'static str {
    if f.is_nan() {
        "NaN"
    } else if f > 0.0 {
        "+Inf"
    } else {
        "-Inf"
    }
}

fn map_key(key: serde_yaml::Value) -> Result<String, String> {
    match key {
        serde_yaml::Value::String(s) => Ok(s),
        serde_yaml::Value::Bool(b) => Ok(b.to_string()),
        serde_yaml::Value::Number(n) => Ok(n.to_string()),
        serde_yaml::Value::Null => Ok("null".to_string()),
        serde_yaml::Value::Tagged(tagged) => map_key(tagged.value),
        other => Err(format!("unsupported map key of type: {}", yaml_type(&other))),
    }
}

fn yaml_type(value: &serde_yaml::Value) -> &'static str {
    match value {
        serde_yaml::Value::Sequence(_) => "[]interface {}",
        serde_yaml::Value::Mapping(_) => "map[interface {}]interface {}",
        _ => "interface {}",
    }
}
