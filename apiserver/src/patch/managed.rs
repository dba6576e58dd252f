//! `metadata.managedFields`: decoding, encoding, manager identities and the cap on update managers.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::fieldset::FieldSet;

/// `operation: Apply` or `operation: Update`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Operation {
    /// Server-side apply.
    Apply,
    /// Any other write.
    Update,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Self::Apply => "Apply",
            Self::Update => "Update",
        }
    }
}

/// Who owns a field set: kube-apiserver keys entries by manager, operation, subresource and, for updates,
/// apiVersion (an applier keeps one entry across versions).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct ManagerId {
    pub(crate) manager: String,
    pub(crate) operation: Operation,
    /// Empty for appliers.
    pub(crate) api_version: String,
    pub(crate) subresource: String,
}

impl ManagerId {
    pub(crate) fn new(manager: &str, operation: Operation, api_version: &str, subresource: Option<&str>) -> Self {
        Self {
            manager: if manager.is_empty() { "unknown".to_string() } else { manager.to_string() },
            operation,
            api_version: if operation == Operation::Apply { String::new() } else { api_version.to_string() },
            subresource: subresource.unwrap_or_default().to_string(),
        }
    }

    /// The manager as conflicts name it: `"kubectl"`, `"x" with subresource "status"`, `"y" using apps/v1`.
    pub(crate) fn describe(&self) -> String {
        let mut out = Value::String(self.manager.clone()).to_string();
        if !self.subresource.is_empty() {
            out.push_str(&format!(" with subresource {}", Value::String(self.subresource.clone())));
        }
        if self.operation == Operation::Update {
            out.push_str(&format!(" using {}", self.api_version));
        }
        out
    }
}

/// One manager's fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) set: FieldSet,
    pub(crate) api_version: String,
    pub(crate) time: Option<String>,
}

/// All managers of an object.
pub(crate) type Managed = BTreeMap<ManagerId, Entry>;

/// Decodes `metadata.managedFields`.
///
/// # Errors
/// The first invalid entry, worded as kube-apiserver does.
pub(crate) fn decode(entries: Option<&Value>) -> Result<Managed, String> {
    let mut out = Managed::new();
    let Some(entries) = entries.filter(|v| !v.is_null()) else { return Ok(out) };
    let Value::Array(entries) = entries else { return Err("managedFields must be a list".to_string()) };
    for (i, entry) in entries.iter().enumerate() {
        let text = |key: &str| entry.get(key).and_then(Value::as_str).unwrap_or_default();
        let operation = match text("operation") {
            "Apply" => Operation::Apply,
            "Update" => Operation::Update,
            _ => return Err("operation must be `Apply` or `Update`".to_string()),
        };
        let api_version = text("apiVersion");
        if api_version.is_empty() {
            return Err("apiVersion must not be empty".to_string());
        }
        match text("fieldsType") {
            "FieldsV1" => {}
            "" => return Err(format!("missing fieldsType in managed fields entry {i}")),
            other => return Err(format!("invalid fieldsType {other:?} in managed fields entry {i}")),
        }
        let set = match entry.get("fieldsV1") {
            None | Some(Value::Null) => FieldSet::new(),
            Some(fields) => FieldSet::from_fields_v1(fields).map_err(|e| format!("error decoding set: {e}"))?,
        };
        let subresource = text("subresource");
        let id = ManagerId {
            manager: text("manager").to_string(),
            operation,
            api_version: if operation == Operation::Apply { String::new() } else { api_version.to_string() },
            subresource: subresource.to_string(),
        };
        let time = entry.get("time").and_then(Value::as_str).map(str::to_string);
        out.insert(id, Entry { set, api_version: api_version.to_string(), time });
    }
    Ok(out)
}

fn unix_seconds(time: Option<&str>) -> i64 {
    time.and_then(|t| t.parse::<jiff::Timestamp>().ok()).map_or(0, |t| t.as_second())
}

/// Encodes managers as `metadata.managedFields`, sorted as kube-apiserver sorts them: appliers first, then by
/// time, manager, apiVersion and subresource. `None` when there is no manager.
pub(crate) fn encode(managed: &Managed) -> Option<Value> {
    if managed.is_empty() {
        return None;
    }
    let mut entries: Vec<(&ManagerId, &Entry)> = managed.iter().collect();
    entries.sort_by(|(a, ea), (b, eb)| {
        a.operation
            .cmp(&b.operation)
            .then(unix_seconds(ea.time.as_deref()).cmp(&unix_seconds(eb.time.as_deref())))
            .then(a.manager.cmp(&b.manager))
            .then(ea.api_version.cmp(&eb.api_version))
            .then(a.subresource.cmp(&b.subresource))
    });
    let encoded = entries
        .into_iter()
        .map(|(id, entry)| {
            let mut out = Map::new();
            out.insert("manager".into(), json!(id.manager));
            out.insert("operation".into(), json!(id.operation.as_str()));
            out.insert("apiVersion".into(), json!(entry.api_version));
            if let Some(time) = &entry.time {
                out.insert("time".into(), json!(time));
            }
            out.insert("fieldsType".into(), json!("FieldsV1"));
            out.insert("fieldsV1".into(), entry.set.to_fields_v1());
            if !id.subresource.is_empty() {
                out.insert("subresource".into(), json!(id.subresource));
            }
            Value::Object(out)
        })
        .collect();
    Some(Value::Array(encoded))
}

/// The most update managers an object keeps before the oldest are merged into `ancient-changes`.
pub(crate) const MAX_UPDATE_MANAGERS: usize = 10;

/// Merges the oldest update managers (per apiVersion) into an `ancient-changes` entry while there are more
/// than `max` of them.
pub(crate) fn cap_update_managers(managed: &mut Managed, max: usize) {
    let mut updaters: Vec<ManagerId> = managed.keys().filter(|id| id.operation == Operation::Update).cloned().collect();
    if updaters.len() <= max {
        return;
    }
    updaters.sort_by(|a, b| {
        let ta = unix_seconds(managed.get(a).and_then(|e| e.time.as_deref()));
        let tb = unix_seconds(managed.get(b).and_then(|e| e.time.as_deref()));
        ta.cmp(&tb).then_with(|| identifier(a).cmp(&identifier(b)))
    });
    let mut first_per_version: BTreeMap<String, ManagerId> = BTreeMap::new();
    let mut count = updaters.len();
    for id in updaters {
        if count <= max {
            break;
        }
        let Some(entry) = managed.get(&id).cloned() else { continue };
        let bucket = ManagerId::new("ancient-changes", Operation::Update, &entry.api_version, None);
        match first_per_version.get(&entry.api_version) {
            Some(first) => {
                if !managed.contains_key(&bucket)
                    && let Some(first_entry) = managed.remove(first)
                {
                    managed.insert(bucket.clone(), first_entry);
                }
                managed.remove(&id);
                if let Some(bucket_entry) = managed.get_mut(&bucket) {
                    bucket_entry.set.union_with(&entry.set);
                    bucket_entry.time = entry.time.clone();
                }
                count -= 1;
            }
            None => {
                first_per_version.insert(entry.api_version.clone(), id);
            }
        }
    }
}

/// kube-apiserver's manager identifier (the JSON it sorts by when times tie).
fn identifier(id: &ManagerId) -> String {
    let mut out = Map::new();
    out.insert("manager".into(), json!(id.manager));
    out.insert("operation".into(), json!(id.operation.as_str()));
    if !id.api_version.is_empty() {
        out.insert("apiVersion".into(), json!(id.api_version));
    }
    if !id.subresource.is_empty() {
        out.insert("subresource".into(), json!(id.subresource));
    }
    let mut text = String::new();
    super::fieldset::canonical_json(&Value::Object(out), &mut text);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(manager: &str, operation: &str, time: &str) -> Value {
        json!({"manager": manager, "operation": operation, "apiVersion": "apps/v1", "time": time,
               "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {"f:labels": {"f:app": {}}}}})
    }

    #[test]
    fn managed_fields_round_trip_sorted_with_appliers_first() {
        let raw = json!([
            entry("kube-controller-manager", "Update", "2024-01-02T00:00:00Z"),
            entry("kubectl", "Apply", "2024-01-03T00:00:00Z"),
            entry("kubectl-client-side-apply", "Update", "2024-01-01T00:00:00Z"),
        ]);
        let managed = decode(Some(&raw)).unwrap();
        assert_eq!(managed.len(), 3);
        let encoded = encode(&managed).unwrap();
        let managers: Vec<&str> = encoded.as_array().unwrap().iter().map(|e| e["manager"].as_str().unwrap()).collect();
        assert_eq!(managers, ["kubectl", "kubectl-client-side-apply", "kube-controller-manager"]);
        assert_eq!(encoded[0], raw[1]);
    }

    #[test]
    fn invalid_entries_are_rejected_with_kubes_words() {
        assert_eq!(
            decode(Some(&json!([{"operation": "Patch", "apiVersion": "v1"}]))).unwrap_err(),
            "operation must be `Apply` or `Update`"
        );
        assert_eq!(decode(Some(&json!([{"operation": "Apply"}]))).unwrap_err(), "apiVersion must not be empty");
        assert_eq!(
            decode(Some(&json!([{"operation": "Apply", "apiVersion": "v1"}]))).unwrap_err(),
            "missing fieldsType in managed fields entry 0"
        );
    }

    #[test]
    fn the_oldest_update_managers_merge_into_ancient_changes() {
        let raw: Vec<Value> =
            (0..12).map(|i| entry(&format!("m{i:02}"), "Update", &format!("2024-01-01T00:00:{i:02}Z"))).collect();
        let mut managed = decode(Some(&Value::Array(raw))).unwrap();
        cap_update_managers(&mut managed, MAX_UPDATE_MANAGERS);
        assert_eq!(managed.len(), 10);
        let names: Vec<&str> = managed.keys().map(|k| k.manager.as_str()).collect();
        assert!(names.contains(&"ancient-changes"));
        assert!(!names.contains(&"m00") && !names.contains(&"m01") && !names.contains(&"m02"));
        assert!(names.contains(&"m03"));
    }

    #[test]
    fn conflicting_managers_are_described_like_kube() {
        assert_eq!(
            ManagerId::new("kubectl-client-side-apply", Operation::Update, "apps/v1", None).describe(),
            "\"kubectl-client-side-apply\" using apps/v1"
        );
        assert_eq!(ManagerId::new("kubectl", Operation::Apply, "apps/v1", None).describe(), "\"kubectl\"");
        assert_eq!(
            ManagerId::new("ctrl", Operation::Update, "v1", Some("status")).describe(),
            "\"ctrl\" with subresource \"status\" using v1"
        );
    }
}
