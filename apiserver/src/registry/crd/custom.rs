//! The strategy of one served CRD version: names, schema defaults and validation, printer columns, fields.

use std::sync::Arc;

use jiff::Timestamp;
use serde_json::{Value, json};

use super::jsonpath::JsonPath;
use crate::{
    machinery::{FieldError, Object, table::ColumnDefinition},
    registry::{ResourceInfo, Strategy, builtin::human_duration},
    schema::{self, KindSchema, SchemaError},
};

/// Why a CRD version cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum CustomResourceError {
    /// The CRD has no such version.
    #[error("version {0} not found in the CustomResourceDefinition")]
    NoSuchVersion(String),
    /// The version's schema is unusable.
    #[error(transparent)]
    Schema(#[from] SchemaError),
}

struct Column {
    path: JsonPath,
    type_: String,
}

/// One field a field selector may use, with its JSONPath.
struct Selectable {
    name: String,
    path: JsonPath,
}

/// Serves custom resources of one CRD version.
pub struct CustomResourceStrategy {
    info: ResourceInfo,
    definitions: Vec<ColumnDefinition>,
    columns: Vec<Column>,
    schema: Option<Arc<KindSchema>>,
    selectable: Vec<Selectable>,
}

fn text<'a>(value: &'a Value, path: &[&str]) -> &'a str {
    path.iter().try_fold(value, |v, k| v.get(k)).and_then(Value::as_str).unwrap_or_default()
}

fn strings(value: &Value, path: &[&str]) -> Vec<String> {
    path.iter()
        .try_fold(value, |v, k| v.get(k))
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default()
}

/// Description of the default AGE column and of the NAME column.
const NAME_DESCRIPTION: &str = "The object's unique name within its namespace (or the cluster).";
const AGE_DESCRIPTION: &str = "How long ago the object was created.";

impl CustomResourceStrategy {
    /// The strategy of `version` of `crd` (a CustomResourceDefinition object).
    ///
    /// # Errors
    /// When the CRD lacks the version, or its schema or a printer column is unusable.
    pub fn from_crd(crd: &Value, version: &str) -> Result<Self, CustomResourceError> {
        let spec = crd.get("spec").cloned().unwrap_or_else(|| json!({}));
        let definition = spec
            .get("versions")
            .and_then(Value::as_array)
            .and_then(|versions| versions.iter().find(|v| text(v, &["name"]) == version))
            .ok_or_else(|| CustomResourceError::NoSuchVersion(version.to_string()))?;
        let group = text(&spec, &["group"]);
        let kind = text(&spec, &["names", "kind"]);
        let plural = text(&spec, &["names", "plural"]);
        let mut info = ResourceInfo::new(group, version, kind, plural, text(&spec, &["scope"]) == "Namespaced");
        if let Some(list_kind) = Some(text(&spec, &["names", "listKind"])).filter(|k| !k.is_empty()) {
            info.list_kind = list_kind.to_string();
        }
        if let Some(singular) = Some(text(&spec, &["names", "singular"])).filter(|s| !s.is_empty()) {
            info.singular = singular.to_string();
        }
        info.short_names = strings(&spec, &["names", "shortNames"]);
        info.categories = strings(&spec, &["names", "categories"]);
        info.status_subresource =
            definition.get("subresources").and_then(|s| s.get("status")).is_some_and(|s| !s.is_null());

        let schema = match definition.get("schema").and_then(|s| s.get("openAPIV3Schema")) {
            Some(openapi) if !openapi.is_null() => Some(Arc::new(KindSchema::from_crd(group, version, kind, openapi)?)),
            _ => None,
        };

        let mut definitions = vec![ColumnDefinition::new("Name", "string", NAME_DESCRIPTION).with_format("name")];
        let mut columns = Vec::new();
        let declared = definition.get("additionalPrinterColumns").and_then(Value::as_array).filter(|c| !c.is_empty());
        let default_columns = [json!({"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp",
                                      "description": AGE_DESCRIPTION})];
        for column in declared.map(Vec::as_slice).unwrap_or(&default_columns) {
            let path = text(column, &["jsonPath"]);
            let description = match text(column, &["description"]) {
                "" => format!("Custom resource definition column (in JSONPath format): {path}"),
                described => described.to_string(),
            };
            let Ok(parsed) = JsonPath::parse(path) else {
                tracing::warn!(
                    kind,
                    path,
                    "printer column with an unsupported JSONPath; later columns are not printed"
                );
                break;
            };
            let type_ = text(column, &["type"]);
            let mut definition = ColumnDefinition::new(text(column, &["name"]), type_, &description)
                .with_format(text(column, &["format"]));
            definition.priority =
                column.get("priority").and_then(Value::as_i64).and_then(|p| i32::try_from(p).ok()).unwrap_or(0);
            definitions.push(definition);
            columns.push(Column { path: parsed, type_: type_.to_string() });
        }

        let selectable = definition
            .get("selectableFields")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|field| {
                let path = text(field, &["jsonPath"]);
                let parsed = JsonPath::parse(path).ok()?;
                Some(Selectable { name: path.trim_start_matches('.').to_string(), path: parsed })
            })
            .collect();
        Ok(Self { info, definitions, columns, schema, selectable })
    }

    /// Table cells at a given time (date columns are durations until `now`).
    pub fn table_cells_at(&self, object: &Object, now: Timestamp) -> Vec<Value> {
        let mut cells = vec![json!(text(object, &["metadata", "name"]))];
        for column in &self.columns {
            cells.push(match column.path.first(object) {
                Some(value) => cell(&column.type_, value, now),
                None => Value::Null,
            });
        }
        cells
    }
}

/// Go's `%v` of a JSON scalar, or compact JSON for objects and arrays (as kubectl's JSONPath printer).
fn printed(value: &Value) -> Value {
    match value {
        Value::String(text) => json!(text),
        Value::Null => Value::Null,
        Value::Bool(_) | Value::Number(_) | Value::Array(_) | Value::Object(_) => json!(value.to_string()),
    }
}

/// One cell of a printer column of `type_`.
fn cell(type_: &str, value: &Value, now: Timestamp) -> Value {
    match (type_, value) {
        ("string", value) => printed(value),
        ("integer", Value::Number(n)) => n.as_i64().map_or_else(|| json!(n.as_f64().map(|f| f as i64)), |i| json!(i)),
        ("number", Value::Number(n)) => json!(n.as_f64()),
        ("boolean", Value::Bool(b)) => json!(b),
        ("date", Value::String(text)) => match text.parse::<Timestamp>() {
            Ok(at) => json!(human_duration(now.duration_since(at))),
            Err(_) => json!("<invalid>"),
        },
        _ => Value::Null,
    }
}

impl Strategy for CustomResourceStrategy {
    fn info(&self) -> &ResourceInfo {
        &self.info
    }

    fn default(&self, object: &mut Object) {
        if let Some(schema) = &self.schema {
            schema::apply_defaults(object, schema);
        }
    }

    fn validate(&self, object: &Object) -> Vec<FieldError> {
        self.schema.as_ref().map(|schema| schema::validate_values(object, schema)).unwrap_or_default()
    }

    fn allow_unconditional_update(&self) -> bool {
        false
    }

    fn field_value(&self, object: &Object, field: &str) -> Option<String> {
        let selectable = self.selectable.iter().find(|s| s.name == field)?;
        Some(match selectable.path.first(object) {
            Some(Value::String(text)) => text.clone(),
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        })
    }

    fn table_columns(&self) -> Vec<ColumnDefinition> {
        self.definitions.clone()
    }

    fn table_cells(&self, object: &Object) -> Vec<Value> {
        self.table_cells_at(object, Timestamp::now())
    }

    fn schema(&self) -> Option<Value> {
        self.schema.as_ref().map(|schema| schema.schema().clone())
    }

    fn kind_schema(&self) -> Option<Arc<KindSchema>> {
        self.schema.clone()
    }
}
