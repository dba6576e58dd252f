//! Swagger 2.0 JSON → the protobuf of gnostic's `openapi.v2.Document`, the form client-go fetches `/openapi/v2` in.
//!
//! Each message is a table from JSON keys to field numbers; `x-` keys become the message's vendor extensions and,
//! for maps such as `paths` or `responses`, every other key becomes one named entry. Values gnostic keeps as
//! `Any` (defaults, enums, examples, extensions) carry their JSON text in `Any.yaml` (JSON is YAML).

use serde_json::Value;

/// How one JSON value is written as (part of) a protobuf field.
enum Kind {
    String,
    Bool,
    Double,
    Int64,
    /// A string, or an array of strings: repeated string.
    Strings,
    /// Any JSON value: `openapi.v2.Any { yaml = 2 }`.
    Any,
    /// An array of values: repeated `Any`.
    Anys,
    Message(&'static Message),
    /// An object, or an array of objects: repeated message.
    Messages(&'static Message),
    /// An object: one `Named* { name = 1; value = 2 }` entry per key.
    Named(&'static Kind),
    /// A message with one field (`TypeItem`, `Properties`, `Definitions`, ...) holding the value.
    Wrapped(u32, &'static Kind),
    /// Written by hand: a message body for the value (the `oneof` wrappers).
    Custom(fn(&Value) -> Vec<u8>),
}

/// A protobuf message read from a JSON object.
struct Message {
    fields: &'static [(&'static str, u32, Kind)],
    /// The field of `repeated NamedAny vendor_extension`, for `x-` keys.
    extensions: Option<u32>,
    /// For maps: the field and kind of the named entries every other key becomes.
    entries: Option<(u32, Kind)>,
}

const fn message(fields: &'static [(&'static str, u32, Kind)], extensions: u32) -> Message {
    Message { fields, extensions: Some(extensions), entries: None }
}

static DOCUMENT: Message = message(
    &[
        ("swagger", 1, Kind::String),
        ("info", 2, Kind::Message(&INFO)),
        ("host", 3, Kind::String),
        ("basePath", 4, Kind::String),
        ("schemes", 5, Kind::Strings),
        ("consumes", 6, Kind::Strings),
        ("produces", 7, Kind::Strings),
        ("paths", 8, Kind::Message(&PATHS)),
        ("definitions", 9, Kind::Wrapped(1, &Kind::Named(&Kind::Message(&SCHEMA)))),
        ("security", 12, Kind::Messages(&SECURITY_REQUIREMENT)),
        ("securityDefinitions", 13, Kind::Wrapped(1, &Kind::Named(&Kind::Custom(security_definition)))),
    ],
    16,
);

static INFO: Message =
    message(&[("title", 1, Kind::String), ("version", 2, Kind::String), ("description", 3, Kind::String)], 7);

static PATHS: Message = Message { fields: &[], extensions: Some(1), entries: Some((2, Kind::Message(&PATH_ITEM))) };

static PATH_ITEM: Message = message(
    &[
        ("$ref", 1, Kind::String),
        ("get", 2, Kind::Message(&OPERATION)),
        ("put", 3, Kind::Message(&OPERATION)),
        ("post", 4, Kind::Message(&OPERATION)),
        ("delete", 5, Kind::Message(&OPERATION)),
        ("options", 6, Kind::Message(&OPERATION)),
        ("head", 7, Kind::Message(&OPERATION)),
        ("patch", 8, Kind::Message(&OPERATION)),
        ("parameters", 9, Kind::Custom(parameters_item)),
    ],
    10,
);

static OPERATION: Message = message(
    &[
        ("tags", 1, Kind::Strings),
        ("summary", 2, Kind::String),
        ("description", 3, Kind::String),
        ("operationId", 5, Kind::String),
        ("produces", 6, Kind::Strings),
        ("consumes", 7, Kind::Strings),
        ("parameters", 8, Kind::Custom(parameters_item)),
        ("responses", 9, Kind::Message(&RESPONSES)),
        ("schemes", 10, Kind::Strings),
        ("deprecated", 11, Kind::Bool),
    ],
    13,
);

static RESPONSES: Message =
    Message { fields: &[], extensions: Some(2), entries: Some((1, Kind::Custom(response_value))) };

static RESPONSE: Message =
    message(&[("description", 1, Kind::String), ("schema", 2, Kind::Wrapped(1, &Kind::Message(&SCHEMA)))], 5);

static JSON_REFERENCE: Message =
    Message { fields: &[("$ref", 1, Kind::String), ("description", 2, Kind::String)], extensions: None, entries: None };

static BODY_PARAMETER: Message = message(
    &[
        ("description", 1, Kind::String),
        ("name", 2, Kind::String),
        ("in", 3, Kind::String),
        ("required", 4, Kind::Bool),
        ("schema", 5, Kind::Message(&SCHEMA)),
    ],
    6,
);

/// Query and formData parameters (the same numbering).
static QUERY_PARAMETER: Message = message(
    &[
        ("required", 1, Kind::Bool),
        ("in", 2, Kind::String),
        ("description", 3, Kind::String),
        ("name", 4, Kind::String),
        ("allowEmptyValue", 5, Kind::Bool),
        ("type", 6, Kind::String),
        ("format", 7, Kind::String),
        ("items", 8, Kind::Message(&PRIMITIVES_ITEMS)),
        ("collectionFormat", 9, Kind::String),
        ("default", 10, Kind::Any),
        ("maximum", 11, Kind::Double),
        ("exclusiveMaximum", 12, Kind::Bool),
        ("minimum", 13, Kind::Double),
        ("exclusiveMinimum", 14, Kind::Bool),
        ("maxLength", 15, Kind::Int64),
        ("minLength", 16, Kind::Int64),
        ("pattern", 17, Kind::String),
        ("maxItems", 18, Kind::Int64),
        ("minItems", 19, Kind::Int64),
        ("uniqueItems", 20, Kind::Bool),
        ("enum", 21, Kind::Anys),
        ("multipleOf", 22, Kind::Double),
    ],
    23,
);

/// Path and header parameters (the same numbering).
static PATH_PARAMETER: Message = message(
    &[
        ("required", 1, Kind::Bool),
        ("in", 2, Kind::String),
        ("description", 3, Kind::String),
        ("name", 4, Kind::String),
        ("type", 5, Kind::String),
        ("format", 6, Kind::String),
        ("items", 7, Kind::Message(&PRIMITIVES_ITEMS)),
        ("collectionFormat", 8, Kind::String),
        ("default", 9, Kind::Any),
        ("maximum", 10, Kind::Double),
        ("exclusiveMaximum", 11, Kind::Bool),
        ("minimum", 12, Kind::Double),
        ("exclusiveMinimum", 13, Kind::Bool),
        ("maxLength", 14, Kind::Int64),
        ("minLength", 15, Kind::Int64),
        ("pattern", 16, Kind::String),
        ("maxItems", 17, Kind::Int64),
        ("minItems", 18, Kind::Int64),
        ("uniqueItems", 19, Kind::Bool),
        ("enum", 20, Kind::Anys),
        ("multipleOf", 21, Kind::Double),
    ],
    22,
);

static PRIMITIVES_ITEMS: Message = message(
    &[
        ("type", 1, Kind::String),
        ("format", 2, Kind::String),
        ("items", 3, Kind::Message(&PRIMITIVES_ITEMS)),
        ("collectionFormat", 4, Kind::String),
        ("default", 5, Kind::Any),
        ("maximum", 6, Kind::Double),
        ("exclusiveMaximum", 7, Kind::Bool),
        ("minimum", 8, Kind::Double),
        ("exclusiveMinimum", 9, Kind::Bool),
        ("maxLength", 10, Kind::Int64),
        ("minLength", 11, Kind::Int64),
        ("pattern", 12, Kind::String),
        ("maxItems", 13, Kind::Int64),
        ("minItems", 14, Kind::Int64),
        ("uniqueItems", 15, Kind::Bool),
        ("enum", 16, Kind::Anys),
        ("multipleOf", 17, Kind::Double),
    ],
    18,
);

static SCHEMA: Message = message(
    &[
        ("$ref", 1, Kind::String),
        ("format", 2, Kind::String),
        ("title", 3, Kind::String),
        ("description", 4, Kind::String),
        ("default", 5, Kind::Any),
        ("multipleOf", 6, Kind::Double),
        ("maximum", 7, Kind::Double),
        ("exclusiveMaximum", 8, Kind::Bool),
        ("minimum", 9, Kind::Double),
        ("exclusiveMinimum", 10, Kind::Bool),
        ("maxLength", 11, Kind::Int64),
        ("minLength", 12, Kind::Int64),
        ("pattern", 13, Kind::String),
        ("maxItems", 14, Kind::Int64),
        ("minItems", 15, Kind::Int64),
        ("uniqueItems", 16, Kind::Bool),
        ("maxProperties", 17, Kind::Int64),
        ("minProperties", 18, Kind::Int64),
        ("required", 19, Kind::Strings),
        ("enum", 20, Kind::Anys),
        ("additionalProperties", 21, Kind::Custom(additional_properties)),
        ("type", 22, Kind::Wrapped(1, &Kind::Strings)),
        ("items", 23, Kind::Wrapped(1, &Kind::Messages(&SCHEMA))),
        ("allOf", 24, Kind::Messages(&SCHEMA)),
        ("properties", 25, Kind::Wrapped(1, &Kind::Named(&Kind::Message(&SCHEMA)))),
        ("discriminator", 26, Kind::String),
        ("readOnly", 27, Kind::Bool),
        ("example", 30, Kind::Any),
    ],
    31,
);

static SECURITY_REQUIREMENT: Message =
    Message { fields: &[], extensions: None, entries: Some((1, Kind::Wrapped(1, &Kind::Strings))) };

static API_KEY_SECURITY: Message = message(
    &[("type", 1, Kind::String), ("name", 2, Kind::String), ("in", 3, Kind::String), ("description", 4, Kind::String)],
    5,
);

static BASIC_SECURITY: Message = message(&[("type", 1, Kind::String), ("description", 2, Kind::String)], 3);

/// The protobuf of the Swagger 2.0 document `document`.
pub(super) fn encode(document: &Value) -> Vec<u8> {
    message_body(&DOCUMENT, document)
}

fn message_body(message: &Message, value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    let Some(object) = value.as_object() else { return out };
    for (key, value) in object {
        if let Some((_, field, kind)) = message.fields.iter().find(|(name, _, _)| name == key) {
            write(&mut out, *field, kind, value);
        } else if key.starts_with("x-")
            && let Some(field) = message.extensions
        {
            named(&mut out, field, key, &Kind::Any, value);
        } else if let Some((field, kind)) = &message.entries {
            named(&mut out, *field, key, kind, value);
        }
    }
    out
}

/// Writes `value` as field `field` of kind `kind` (nothing when the value does not fit the kind).
fn write(out: &mut Vec<u8>, field: u32, kind: &Kind, value: &Value) {
    match kind {
        Kind::String => {
            if let Some(text) = value.as_str() {
                length_delimited(out, field, text.as_bytes());
            }
        }
        Kind::Bool => {
            if value.as_bool() == Some(true) {
                key(out, field, 0);
                varint(out, 1);
            }
        }
        Kind::Double => {
            if let Some(number) = value.as_f64() {
                key(out, field, 1);
                out.extend_from_slice(&number.to_le_bytes());
            }
        }
        Kind::Int64 => {
            if let Some(number) = value.as_i64() {
                key(out, field, 0);
                // Two's complement, as protobuf writes a negative int64.
                varint(out, number.cast_unsigned());
            }
        }
        Kind::Strings => match value {
            Value::Array(items) => items.iter().for_each(|item| write(out, field, &Kind::String, item)),
            single => write(out, field, &Kind::String, single),
        },
        Kind::Any => {
            let mut any = Vec::new();
            length_delimited(&mut any, 2, value.to_string().as_bytes());
            length_delimited(out, field, &any);
        }
        Kind::Anys => {
            for item in value.as_array().into_iter().flatten() {
                write(out, field, &Kind::Any, item);
            }
        }
        Kind::Message(message) => length_delimited(out, field, &message_body(message, value)),
        Kind::Messages(message) => match value {
            Value::Array(items) => items.iter().for_each(|item| write(out, field, &Kind::Message(message), item)),
            single => write(out, field, &Kind::Message(message), single),
        },
        Kind::Named(kind) => {
            for (name, item) in value.as_object().into_iter().flatten() {
                named(out, field, name, kind, item);
            }
        }
        Kind::Wrapped(inner, kind) => {
            let mut body = Vec::new();
            write(&mut body, *inner, kind, value);
            length_delimited(out, field, &body);
        }
        Kind::Custom(body) => match value {
            // Parameter lists are the one repeated custom field.
            Value::Array(items) => items.iter().for_each(|item| length_delimited(out, field, &body(item))),
            single => length_delimited(out, field, &body(single)),
        },
    }
}

/// One `Named* { name = 1; value = 2 }` entry as field `field`.
fn named(out: &mut Vec<u8>, field: u32, name: &str, kind: &Kind, value: &Value) {
    let mut entry = Vec::new();
    length_delimited(&mut entry, 1, name.as_bytes());
    write(&mut entry, 2, kind, value);
    length_delimited(out, field, &entry);
}

/// `AdditionalPropertiesItem`: `oneof { Schema schema = 1; bool boolean = 2; }`.
fn additional_properties(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    match value {
        Value::Bool(allowed) => {
            key(&mut out, 2, 0);
            varint(&mut out, u64::from(*allowed));
        }
        schema => write(&mut out, 1, &Kind::Message(&SCHEMA), schema),
    }
    out
}

/// `ParametersItem`: a `JsonReference` (2) or a `Parameter` (1): `BodyParameter` (1) or `NonBodyParameter` (2),
/// itself header (1), formData (2), query (3) or path (4).
fn parameters_item(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    if value.get("$ref").is_some() {
        write(&mut out, 2, &Kind::Message(&JSON_REFERENCE), value);
        return out;
    }
    let mut parameter = Vec::new();
    match value["in"].as_str() {
        Some("body") => write(&mut parameter, 1, &Kind::Message(&BODY_PARAMETER), value),
        placement => {
            let (field, message) = match placement {
                Some("header") => (1, &PATH_PARAMETER),
                Some("formData") => (2, &QUERY_PARAMETER),
                Some("path") => (4, &PATH_PARAMETER),
                _ => (3, &QUERY_PARAMETER),
            };
            let mut non_body = Vec::new();
            write(&mut non_body, field, &Kind::Message(message), value);
            length_delimited(&mut parameter, 2, &non_body);
        }
    }
    length_delimited(&mut out, 1, &parameter);
    out
}

/// `ResponseValue`: `oneof { Response response = 1; JsonReference json_reference = 2; }`.
fn response_value(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    if value.get("$ref").is_some() {
        write(&mut out, 2, &Kind::Message(&JSON_REFERENCE), value);
    } else {
        write(&mut out, 1, &Kind::Message(&RESPONSE), value);
    }
    out
}

/// `SecurityDefinitionsItem`: basic (1) or apiKey (2); the OAuth2 flavours are not served.
fn security_definition(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    match value["type"].as_str() {
        Some("basic") => write(&mut out, 1, &Kind::Message(&BASIC_SECURITY), value),
        _ => write(&mut out, 2, &Kind::Message(&API_KEY_SECURITY), value),
    }
    out
}

fn key(out: &mut Vec<u8>, field: u32, wire_type: u8) {
    varint(out, (u64::from(field) << 3) | u64::from(wire_type));
}

fn length_delimited(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    key(out, field, 2);
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}
