//! Decodes a message by the table and writes the JSON Go's encoder would write for the Go value it decodes into.

use base64::Engine as _;
use serde_json::{Map, Number, Value as Json};

use super::{
    DecodeError,
    format::{self, GO_ZERO_UNIX},
    table::{FieldDef, Kind, Message, Shape, Special, Table},
    wire::{Reader, Value},
};

/// The deepest JSON nesting (objects and arrays) a decoded object may reach: what serde_json reads back, as
/// JSON bodies are limited.
pub(super) const MAX_DEPTH: usize = 127;

/// A field's decoded state before it is written as JSON.
enum Slot<'a> {
    Absent,
    Scalar(Json),
    Bytes(&'a [u8]),
    /// Every occurrence of a singular message field; protobuf merges them as if concatenated.
    Message(Vec<&'a [u8]>),
    List(Vec<Json>),
    Map(Map<String, Json>),
}

/// What building an object costs against the budget (a non-empty JSON object takes a tree node of several
/// hundred bytes), what each member or scalar costs.
const OBJECT_COST: usize = 4;
const VALUE_COST: usize = 1;

/// Decodes messages of one body as Go would, then writes them as `encoding/json` would.
///
/// Go's generated code writes every non-pointer field, zero or not, and `encoding/json` then drops the zero ones
/// tagged `omitempty`; pointers are written only when set and survive as JSON even when zero (`replicas: 0`);
/// structs are never dropped by `omitempty` (`status: {}`), only by `omitzero` when zero (`creationTimestamp`);
/// nil slices and maps become `null` without `omitempty`. Absent fields decode to Go's zero values, so a body
/// from an encoder that leaves zero fields out (prost, kube-rs) reads the same as one from client-go.
///
/// All within a budget proportional to the body's size, so that Go's zero values (every
/// absent non-pointer struct becomes `{}`, every element of a repeated message an object) cannot amplify a
/// small hostile body into a huge one. Bodies client-go writes cost less than one unit per byte.
pub(super) struct Decoder<'t> {
    table: &'t Table,
    budget: usize,
}

impl<'t> Decoder<'t> {
    /// A decoder for a body of `body_len` bytes.
    pub(super) fn new(table: &'t Table, body_len: usize) -> Self {
        Self { table, budget: body_len.saturating_mul(2).saturating_add(4096) }
    }

    /// The budget left, for tests.
    #[cfg(test)]
    pub(super) fn budget(&self) -> usize {
        self.budget
    }

    /// The JSON object for message `index` encoded as `bytes`, with the top level at depth 1.
    ///
    /// # Errors
    /// Malformed protobuf, wrong wire types, invalid embedded JSON, or limits exceeded.
    pub(super) fn top_level(&mut self, index: usize, bytes: &[u8]) -> Result<Map<String, Json>, DecodeError> {
        self.object(index, &[bytes], 1).map(|(map, _)| map)
    }

    fn spend(&mut self, values: usize) -> Result<(), DecodeError> {
        self.budget = self.budget.checked_sub(values).ok_or_else(|| DecodeError::new("proto: message too large"))?;
        Ok(())
    }

    fn message(&self, index: usize) -> &'t Message {
        &self.table.messages[index]
    }

    /// An ordinary struct as a JSON object at `depth`, and whether it is Go's zero value.
    fn object(
        &mut self,
        index: usize,
        chunks: &[&[u8]],
        depth: usize,
    ) -> Result<(Map<String, Json>, bool), DecodeError> {
        if depth > MAX_DEPTH {
            return Err(DecodeError::new(format!("proto: exceeded max depth of {MAX_DEPTH}")));
        }
        self.spend(OBJECT_COST)?;
        let message = self.message(index);
        let slots = self.read(message, chunks, depth)?;
        let mut map = Map::new();
        let mut zero = true;
        for (field, slot) in message.fields.iter().zip(slots) {
            let (value, field_zero) = self.field(field, slot, depth)?;
            zero &= field_zero;
            if value.is_some() {
                self.spend(VALUE_COST)?;
            }
            match (&field.json, value) {
                (Some(name), Some(value)) => {
                    map.insert(name.clone(), value);
                }
                // An embedded struct's fields are promoted; the outer struct's own fields win, as in Go.
                (None, Some(Json::Object(inlined))) => {
                    for (name, value) in inlined {
                        map.entry(name).or_insert(value);
                    }
                }
                _ => {}
            }
        }
        Ok((map, zero))
    }

    /// Reads the fields of one message (all `chunks`, in order) into slots, decoding repeated and map elements.
    fn read<'a>(&mut self, message: &Message, chunks: &[&'a [u8]], depth: usize) -> Result<Vec<Slot<'a>>, DecodeError> {
        let mut slots: Vec<Slot<'a>> = message.fields.iter().map(|_| Slot::Absent).collect();
        for chunk in chunks {
            let mut reader = Reader::new(chunk);
            while let Some((number, value)) = reader.next_field()? {
                let Some(index) = message.field_index(number) else { continue };
                let field = &message.fields[index];
                if field.shape != Shape::One && depth >= MAX_DEPTH {
                    return Err(DecodeError::new(format!("proto: exceeded max depth of {MAX_DEPTH}")));
                }
                match field.shape {
                    Shape::One => match (field.kind, value) {
                        (Kind::Message(_), Value::Len(bytes)) => match &mut slots[index] {
                            Slot::Message(all) => all.push(bytes),
                            slot => *slot = Slot::Message(vec![bytes]),
                        },
                        (Kind::Bytes, Value::Len(bytes)) => slots[index] = Slot::Bytes(bytes),
                        (kind, value) => slots[index] = Slot::Scalar(self.scalar(message, field, kind, value)?),
                    },
                    Shape::List => {
                        let mut items = Vec::new();
                        self.list_items(message, field, value, depth + 2, &mut items)?;
                        match &mut slots[index] {
                            Slot::List(all) => all.append(&mut items),
                            slot => *slot = Slot::List(items),
                        }
                    }
                    Shape::Map => {
                        let Value::Len(entry) = value else { return Err(wrong_wire_type(message, field, value)) };
                        let (key, item) = self.map_entry(message, field, entry, depth + 2)?;
                        match &mut slots[index] {
                            Slot::Map(all) => {
                                all.insert(key, item);
                            }
                            slot => *slot = Slot::Map(Map::from_iter([(key, item)])),
                        }
                    }
                }
            }
        }
        Ok(slots)
    }

    /// The elements one occurrence of a repeated field adds (several for packed numbers).
    fn list_items(
        &mut self,
        message: &Message,
        field: &FieldDef,
        value: Value<'_>,
        depth: usize,
        items: &mut Vec<Json>,
    ) -> Result<(), DecodeError> {
        match (field.kind, value) {
            (Kind::Message(index), Value::Len(bytes)) => {
                items.push(self.message_value(index, Some(&[bytes]), depth)?.0)
            }
            (Kind::Bytes, Value::Len(bytes)) => {
                self.spend(VALUE_COST)?;
                items.push(base64(bytes));
            }
            (Kind::Int32 | Kind::Int64 | Kind::Bool | Kind::Double, Value::Len(packed)) => {
                let mut reader = Reader::new(packed);
                while !reader.at_end() {
                    let element = if field.kind == Kind::Double {
                        Value::Fixed64(reader.fixed64()?)
                    } else {
                        Value::Varint(reader.varint()?)
                    };
                    items.push(self.scalar(message, field, field.kind, element)?);
                }
            }
            (kind, value) => items.push(self.scalar(message, field, kind, value)?),
        }
        Ok(())
    }

    fn map_entry(
        &mut self,
        message: &Message,
        field: &FieldDef,
        entry: &[u8],
        depth: usize,
    ) -> Result<(String, Json), DecodeError> {
        let mut key = String::new();
        let mut item: Option<Value<'_>> = None;
        let mut reader = Reader::new(entry);
        while let Some((number, value)) = reader.next_field()? {
            match (number, value) {
                (1, Value::Len(bytes)) => key = String::from_utf8_lossy(bytes).into_owned(),
                (1, other) => return Err(wrong_wire_type(message, field, other)),
                (2, value) => item = Some(value),
                _ => {}
            }
        }
        let item = match (field.kind, item) {
            (Kind::Message(index), Some(Value::Len(bytes))) => self.message_value(index, Some(&[bytes]), depth)?.0,
            (Kind::Message(index), None) => self.message_value(index, None, depth)?.0,
            (Kind::Bytes, Some(Value::Len(bytes))) => {
                self.spend(VALUE_COST)?;
                base64(bytes)
            }
            (Kind::Bytes, None) => Json::Null,
            (kind, Some(value)) => self.scalar(message, field, kind, value)?,
            (kind, None) => zero_scalar(kind),
        };
        Ok((key, item))
    }

    /// A scalar element or value of `field`.
    fn scalar(
        &mut self,
        message: &Message,
        field: &FieldDef,
        kind: Kind,
        value: Value<'_>,
    ) -> Result<Json, DecodeError> {
        self.spend(VALUE_COST)?;
        Ok(match (kind, value) {
            (Kind::String, Value::Len(bytes)) => Json::String(String::from_utf8_lossy(bytes).into_owned()),
            // Go's generated decoders keep the low 32 bits of an int32's varint.
            (Kind::Int32, Value::Varint(v)) => Json::from(v as u32 as i32),
            (Kind::Int64, Value::Varint(v)) => Json::from(v as i64),
            (Kind::Bool, Value::Varint(v)) => Json::Bool(v != 0),
            (Kind::Double, Value::Fixed64(bits)) => float(f64::from_bits(bits))?,
            (_, value) => return Err(wrong_wire_type(message, field, value)),
        })
    }

    /// Writes one field of a struct: `None` when Go's encoder leaves it out; and whether it holds Go's zero value.
    fn field(&mut self, field: &FieldDef, slot: Slot<'_>, depth: usize) -> Result<(Option<Json>, bool), DecodeError> {
        let omit = field.omitempty || field.omitzero;
        let nil = || if omit { (None, true) } else { (Some(Json::Null), true) };
        Ok(match field.shape {
            Shape::List => match slot {
                Slot::List(items) => (Some(Json::Array(items)), false),
                _ => nil(),
            },
            Shape::Map => match slot {
                Slot::Map(items) => (Some(Json::Object(items)), false),
                _ => nil(),
            },
            Shape::One => match (field.kind, slot) {
                (Kind::Message(index), Slot::Message(chunks)) => {
                    let (value, zero) = self.message_value(index, Some(chunks.as_slice()), depth + 1)?;
                    if field.pointer {
                        (Some(value), false)
                    } else if self.message(index).special == Special::List {
                        if omit && zero { (None, true) } else { (Some(value), zero) }
                    } else if field.omitzero && zero {
                        (None, true)
                    } else {
                        (Some(value), zero)
                    }
                }
                (Kind::Message(_), _) if field.pointer => nil(),
                (Kind::Message(index), _) => {
                    let (value, zero) = self.message_value(index, None, depth + 1)?;
                    let list = self.message(index).special == Special::List;
                    if zero && (field.omitzero || (list && field.omitempty)) {
                        (None, true)
                    } else {
                        (Some(value), zero)
                    }
                }
                (Kind::Bytes, Slot::Bytes(bytes)) => {
                    if bytes.is_empty() && field.omitempty {
                        (None, false)
                    } else {
                        (Some(base64(bytes)), false)
                    }
                }
                (Kind::Bytes, _) => nil(),
                (_, Slot::Scalar(value)) if field.pointer => (Some(value), false),
                (_, _) if field.pointer => nil(),
                (kind, slot) => {
                    let value = match slot {
                        Slot::Scalar(value) => value,
                        _ => zero_scalar(kind),
                    };
                    let zero = is_zero_scalar(&value);
                    if omit && zero { (None, true) } else { (Some(value), zero) }
                }
            },
        })
    }

    /// A message's JSON (`chunks` = `None` for Go's zero value), and whether it is zero.
    fn message_value(
        &mut self,
        index: usize,
        chunks: Option<&[&[u8]]>,
        depth: usize,
    ) -> Result<(Json, bool), DecodeError> {
        let message = self.message(index);
        let chunks = chunks.unwrap_or(&[]);
        if message.special == Special::None {
            let (map, zero) = self.object(index, chunks, depth)?;
            return Ok((Json::Object(map), zero));
        }
        if depth > MAX_DEPTH {
            return Err(DecodeError::new(format!("proto: exceeded max depth of {MAX_DEPTH}")));
        }
        self.spend(VALUE_COST)?;
        let empty = chunks.iter().all(|c| c.is_empty());
        let mut slots = self.read(message, chunks, depth.saturating_sub(1))?;
        let mut take = |number: u32| {
            message.field_index(number).map_or(Slot::Absent, |i| std::mem::replace(&mut slots[i], Slot::Absent))
        };
        Ok(match message.special {
            Special::None => (Json::Null, true),
            Special::Time => {
                let seconds = int(&take(1));
                if empty || seconds == GO_ZERO_UNIX {
                    (Json::Null, true)
                } else {
                    (Json::String(format::time(seconds)?), false)
                }
            }
            Special::MicroTime => {
                // Go truncates the nanoseconds to microseconds, then normalizes them into [0, 1s).
                let total = i128::from(int(&take(1))) * 1_000_000_000 + i128::from(int(&take(2)) / 1_000 * 1_000);
                let seconds = i64::try_from(total.div_euclid(1_000_000_000))
                    .map_err(|_| DecodeError::new("time: seconds out of range"))?;
                let micros = u32::try_from(total.rem_euclid(1_000_000_000) / 1_000).unwrap_or(0);
                if empty || (seconds == GO_ZERO_UNIX && micros == 0) {
                    (Json::Null, true)
                } else {
                    (Json::String(format::micro_time(seconds, micros)?), false)
                }
            }
            Special::Duration => {
                let nanos = int(&take(1));
                (Json::String(format::duration(nanos)), nanos == 0)
            }
            Special::Quantity => match take(1) {
                Slot::Scalar(Json::String(text)) => (Json::String(text), false),
                _ => (Json::String("0".to_string()), true),
            },
            Special::IntOrString => {
                let (kind, int_value, text) = (int(&take(1)), int(&take(2)), take(3));
                let text = match text {
                    Slot::Scalar(Json::String(text)) => text,
                    _ => String::new(),
                };
                let zero = kind == 0 && int_value == 0 && text.is_empty();
                match kind {
                    0 => (Json::from(int_value), zero),
                    1 => (Json::String(text), zero),
                    _ => return Err(DecodeError::new("impossible IntOrString.Type")),
                }
            }
            Special::FieldsV1 | Special::RawExtension | Special::Json => match take(1) {
                Slot::Bytes(raw) if !raw.is_empty() || message.special != Special::Json => {
                    (embedded_json(raw, depth)?, false)
                }
                _ => (Json::Null, true),
            },
            Special::OrArray => match (take(2), take(1)) {
                (Slot::List(items), _) if !items.is_empty() => (Json::Array(items), false),
                (_, Slot::Message(schema)) => self.pointee(&message.fields, 1, &schema, depth)?,
                _ => (Json::Null, true),
            },
            Special::OrBool => match (take(2), take(1)) {
                (Slot::Message(schema), _) => self.pointee(&message.fields, 2, &schema, depth)?,
                (_, allows) => {
                    let allows = matches!(allows, Slot::Scalar(Json::Bool(true)));
                    (Json::Bool(allows), !allows)
                }
            },
            Special::OrStringArray => match (take(2), take(1)) {
                (Slot::List(items), _) if !items.is_empty() => (Json::Array(items), false),
                (_, Slot::Message(schema)) => self.pointee(&message.fields, 1, &schema, depth)?,
                _ => (Json::Null, true),
            },
            Special::List => match take(1) {
                Slot::List(items) if !items.is_empty() => (Json::Array(items), false),
                _ => (Json::Null, true),
            },
        })
    }

    /// The value a set pointer field `number` of `fields` points to.
    fn pointee(
        &mut self,
        fields: &[FieldDef],
        number: u32,
        chunks: &[&[u8]],
        depth: usize,
    ) -> Result<(Json, bool), DecodeError> {
        match fields.iter().find(|f| f.number == number).map(|f| f.kind) {
            Some(Kind::Message(index)) => Ok((self.message_value(index, Some(chunks), depth)?.0, false)),
            _ => Ok((Json::Null, true)),
        }
    }
}

fn int(slot: &Slot<'_>) -> i64 {
    match slot {
        Slot::Scalar(value) => value.as_i64().unwrap_or(0),
        _ => 0,
    }
}

fn zero_scalar(kind: Kind) -> Json {
    match kind {
        Kind::String => Json::String(String::new()),
        Kind::Bool => Json::Bool(false),
        Kind::Bytes | Kind::Message(_) => Json::Null,
        Kind::Int32 | Kind::Int64 | Kind::Double => Json::from(0),
    }
}

fn is_zero_scalar(value: &Json) -> bool {
    match value {
        Json::String(s) => s.is_empty(),
        Json::Bool(b) => !b,
        Json::Number(n) => n.as_f64() == Some(0.0),
        Json::Null => true,
        Json::Array(_) | Json::Object(_) => false,
    }
}

/// A float as Go writes it: integral values without a fraction (`5`, not `5.0`).
fn float(value: f64) -> Result<Json, DecodeError> {
    if value.fract() == 0.0 && value.abs() < 9_007_199_254_740_992.0 {
        return Ok(Json::from(value as i64));
    }
    Number::from_f64(value).map(Json::Number).ok_or_else(|| {
        let text = if value.is_nan() {
            "NaN"
        } else if value > 0.0 {
            "+Inf"
        } else {
            "-Inf"
        };
        DecodeError::new(format!("json: unsupported value: {text}"))
    })
}

fn base64(bytes: &[u8]) -> Json {
    Json::String(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// Raw JSON embedded in a message (RawExtension, FieldsV1, apiextensions JSON), placed at `depth`.
fn embedded_json(raw: &[u8], depth: usize) -> Result<Json, DecodeError> {
    let value: Json = serde_json::from_slice(raw)
        .map_err(|e| DecodeError::new(format!("json: error calling MarshalJSON for type: {e}")))?;
    if depth + json_depth(&value) > MAX_DEPTH + 1 {
        return Err(DecodeError::new(format!("proto: exceeded max depth of {MAX_DEPTH}")));
    }
    Ok(value)
}

/// The nesting of a JSON value (a scalar is 1), without recursion.
fn json_depth(value: &Json) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(value, 1usize)];
    while let Some((value, depth)) = stack.pop() {
        deepest = deepest.max(depth);
        match value {
            Json::Array(items) => stack.extend(items.iter().map(|v| (v, depth + 1))),
            Json::Object(map) => stack.extend(map.values().map(|v| (v, depth + 1))),
            _ => {}
        }
    }
    deepest
}

fn wrong_wire_type(message: &Message, field: &FieldDef, value: Value<'_>) -> DecodeError {
    let name = field.json.as_deref().unwrap_or("(inline)");
    DecodeError::new(format!("proto: wrong wireType = {} for field {name} of {}", value.wire_type(), message.name))
}
