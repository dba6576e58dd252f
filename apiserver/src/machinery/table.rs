//! `meta.k8s.io` Table pieces: column definitions and per-kind row cells (the HTTP layer assembles the Table).

use serde::Serialize;
use serde_json::Value;

/// One `columnDefinitions` entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ColumnDefinition {
    /// Header, e.g. `Ready`; kubectl upper-cases it.
    pub name: String,
    /// `string`, `integer`, `number`, `boolean` or `date`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `name` for the name column, otherwise usually empty.
    pub format: String,
    /// What the column shows.
    pub description: String,
    /// 0 = always shown; higher = only with `-o wide`.
    pub priority: i32,
}

impl ColumnDefinition {
    /// A column shown by default.
    pub fn new(name: &str, type_: &str, description: &str) -> Self {
        Self {
            name: name.into(),
            type_: type_.into(),
            format: String::new(),
            description: description.into(),
            priority: 0,
        }
    }

    /// The same column, shown only with `-o wide`.
    pub fn wide(mut self) -> Self {
        self.priority = 1;
        self
    }

    /// The same column with a `format` (e.g. `name`).
    pub fn with_format(mut self, format: &str) -> Self {
        self.format = format.into();
        self
    }
}

/// The columns every kind without its own printer gets: Name and Created At.
pub fn default_columns() -> Vec<ColumnDefinition> {
    vec![
        ColumnDefinition::new("Name", "string", "Name must be unique within a namespace.").with_format("name"),
        ColumnDefinition::new(
            "Created At",
            "date",
            "CreationTimestamp is a timestamp representing the server time when this object was created.",
        ),
    ]
}

/// The cells of [`default_columns`] for `object`.
pub fn default_cells(object: &Value) -> Vec<Value> {
    let metadata = &object["metadata"];
    vec![metadata["name"].clone(), metadata["creationTimestamp"].clone()]
}
