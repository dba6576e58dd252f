//! The generated wire-layout table (`table.txt`), parsed once into messages, fields and served kinds.

use std::{collections::HashMap, sync::OnceLock};

/// The table as committed; `hack/gen-protobuf-table.py` writes it.
const TABLE: &str = include_str!("table.txt");

/// What a field holds on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    String,
    Bytes,
    Int32,
    Int64,
    Bool,
    Double,
    /// A message, by index into [`Table::messages`].
    Message(usize),
}

/// Singular, repeated, or a `map<string, kind>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Shape {
    One,
    List,
    Map,
}

/// Messages whose Go types marshal themselves to JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Special {
    /// An ordinary struct: a JSON object of its fields.
    None,
    Time,
    MicroTime,
    Duration,
    FieldsV1,
    Quantity,
    IntOrString,
    RawExtension,
    Json,
    OrArray,
    OrBool,
    OrStringArray,
    /// A named Go slice type wrapped as `repeated items = 1` (`ExtraValue`): a JSON array.
    List,
}

/// One field of a message.
#[derive(Clone, Debug)]
pub(super) struct FieldDef {
    pub(super) number: u32,
    /// The JSON name; `None` for a struct Go inlines into its parent (`json:",inline"`).
    pub(super) json: Option<String>,
    pub(super) shape: Shape,
    pub(super) kind: Kind,
    /// A Go pointer: absent on the wire means nil.
    pub(super) pointer: bool,
    pub(super) omitempty: bool,
    pub(super) omitzero: bool,
}

/// One message, its fields in Go's declaration order (the order Go's JSON encoder writes them).
#[derive(Debug)]
pub(super) struct Message {
    pub(super) name: String,
    pub(super) special: Special,
    pub(super) fields: Vec<FieldDef>,
}

impl Message {
    /// The index of the field with protobuf number `number`.
    pub(super) fn field_index(&self, number: u32) -> Option<usize> {
        self.fields.iter().position(|f| f.number == number)
    }
}

/// A kind whose protobuf bodies are accepted.
#[derive(Debug)]
pub(super) struct KindEntry {
    /// `None` for any apiVersion (`DeleteOptions`).
    pub(super) api_version: Option<String>,
    pub(super) kind: String,
    pub(super) message: usize,
}

/// The parsed table.
#[derive(Debug)]
pub(super) struct Table {
    pub(super) messages: Vec<Message>,
    pub(super) kinds: Vec<KindEntry>,
}

impl Table {
    /// The table, parsed at first use.
    ///
    /// # Errors
    /// A description of the first malformed line (a build defect the unit tests catch).
    pub(super) fn get() -> Result<&'static Table, &'static str> {
        static PARSED: OnceLock<Result<Table, String>> = OnceLock::new();
        PARSED.get_or_init(|| parse(TABLE)).as_ref().map_err(String::as_str)
    }

    /// The entry for `api_version`/`kind`; an empty `api_version` matches the kind's only entry.
    pub(super) fn kind(&self, api_version: &str, kind: &str) -> Option<&KindEntry> {
        let mut candidates = self.kinds.iter().filter(|k| k.kind == kind);
        if api_version.is_empty() {
            let first = candidates.next()?;
            return candidates.next().is_none().then_some(first);
        }
        candidates.find(|k| k.api_version.as_deref().is_none_or(|v| v == api_version))
    }
}

fn parse(text: &str) -> Result<Table, String> {
    let mut aliases: HashMap<&str, &str> = HashMap::new();
    let mut names: HashMap<String, usize> = HashMap::new();
    // First pass: message names, so fields can refer to messages declared later.
    for line in text.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("P") => {
                let (Some(alias), Some(package)) = (words.next(), words.next()) else {
                    return Err(format!("malformed package line {line:?}"));
                };
                aliases.insert(alias, package);
            }
            Some("M") => {
                let name = words.next().ok_or_else(|| format!("malformed message line {line:?}"))?;
                let index = names.len();
                if names.insert(name.to_string(), index).is_some() {
                    return Err(format!("message {name} declared twice"));
                }
            }
            _ => {}
        }
    }
    let full_name = |short: &str| -> Result<String, String> {
        let (alias, name) = short.split_once('.').ok_or_else(|| format!("message name {short:?} has no package"))?;
        let package = aliases.get(alias).ok_or_else(|| format!("unknown package alias {alias:?}"))?;
        Ok(format!("{package}.{name}"))
    };
    let message_index = |short: &str| names.get(short).copied().ok_or_else(|| format!("unknown message {short:?}"));
    let mut messages: Vec<Message> = Vec::with_capacity(names.len());
    let mut kinds = Vec::new();
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["K", api_version, kind, message] => kinds.push(KindEntry {
                api_version: (*api_version != "*").then(|| api_version.to_string()),
                kind: kind.to_string(),
                message: message_index(message)?,
            }),
            ["M", name, rest @ ..] => {
                let special = match rest {
                    [] => Special::None,
                    [special] => parse_special(special)?,
                    _ => return Err(format!("malformed message line {line:?}")),
                };
                messages.push(Message { name: full_name(name)?, special, fields: Vec::new() });
            }
            ["F", number, json, shape, kind, flags] => {
                let message = messages.last_mut().ok_or_else(|| format!("field before any message: {line:?}"))?;
                let number = number.parse::<u32>().map_err(|_| format!("bad field number in {line:?}"))?;
                let shape = match *shape {
                    "one" => Shape::One,
                    "list" => Shape::List,
                    "map" => Shape::Map,
                    _ => return Err(format!("bad shape in {line:?}")),
                };
                let kind = match *kind {
                    "string" => Kind::String,
                    "bytes" => Kind::Bytes,
                    "int32" => Kind::Int32,
                    "int64" => Kind::Int64,
                    "bool" => Kind::Bool,
                    "double" => Kind::Double,
                    other => Kind::Message(message_index(other)?),
                };
                message.fields.push(FieldDef {
                    number,
                    json: (*json != "-").then(|| json.to_string()),
                    shape,
                    kind,
                    pointer: flags.contains('p'),
                    omitempty: flags.contains('o'),
                    omitzero: flags.contains('z'),
                });
            }
            ["P", ..] | [] => {}
            [first, ..] if first.starts_with('#') => {}
            _ => return Err(format!("malformed line {line:?}")),
        }
    }
    Ok(Table { messages, kinds })
}

fn parse_special(word: &str) -> Result<Special, String> {
    Ok(match word {
        "time" => Special::Time,
        "microtime" => Special::MicroTime,
        "duration" => Special::Duration,
        "fieldsv1" => Special::FieldsV1,
        "quantity" => Special::Quantity,
        "intstr" => Special::IntOrString,
        "rawext" => Special::RawExtension,
        "json" => Special::Json,
        "orarray" => Special::OrArray,
        "orbool" => Special::OrBool,
        "orstringarray" => Special::OrStringArray,
        "list" => Special::List,
        other => return Err(format!("unknown special {other:?}")),
    })
}
