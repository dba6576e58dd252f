//! Server-side apply and the managedFields bookkeeping of other writes, as kube-apiserver's field manager does.

use serde_json::{Map, Value, json};

use super::fieldset::{self, FieldSet, Path};
use super::managed::{self, Entry, Managed, ManagerId, Operation};
use super::schema::MergeSchema;
use super::typed::{self, Comparison};
use crate::machinery::{ApiError, StatusReason};

/// The annotation client-side `kubectl apply` keeps its last configuration in.
pub(crate) const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
/// The largest total size of an object's annotations.
const MAX_ANNOTATIONS_BYTES: usize = 256 * 1024;

/// Fields nobody owns (exact paths): the type, identity and server-set metadata of an object.
fn stripped() -> FieldSet {
    let mut set = FieldSet::new();
    for path in [
        &["apiVersion"][..],
        &["kind"],
        &["metadata"],
        &["metadata", "name"],
        &["metadata", "namespace"],
        &["metadata", "creationTimestamp"],
        &["metadata", "selfLink"],
        &["metadata", "uid"],
        &["metadata", "clusterName"],
        &["metadata", "generation"],
        &["metadata", "managedFields"],
        &["metadata", "resourceVersion"],
    ] {
        set.insert(&path.iter().map(|p| fieldset::field(p)).collect::<Path>());
    }
    set
}

/// Fields writers of `subresource` cannot own (with everything below them).
fn ignored(schema: &MergeSchema, subresource: Option<&str>) -> FieldSet {
    let mut set = FieldSet::new();
    for path in schema.reset_paths(subresource) {
        set.insert(&path.iter().map(|p| fieldset::field(p)).collect::<Path>());
    }
    set
}

fn without_managed_fields(object: &Value) -> Value {
    let mut out = object.clone();
    if let Some(meta) = out.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
    out
}

fn set_managed_fields(object: &mut Value, managed: &Managed) {
    let Some(root) = object.as_object_mut() else { return };
    match managed::encode(managed) {
        Some(encoded) => {
            if let Some(meta) = root.entry("metadata").or_insert_with(|| Value::Object(Map::new())).as_object_mut() {
                meta.insert("managedFields".to_string(), encoded);
            }
        }
        None => {
            if let Some(meta) = root.get_mut("metadata").and_then(Value::as_object_mut) {
                meta.remove("managedFields");
            }
        }
    }
}

/// Fills structs that a typed empty object always has (`spec.template`, ...) so that they count as present.
fn overlay_skeleton(value: &mut Value, skeleton: &Value) {
    let (Value::Object(target), Value::Object(skeleton)) = (value, skeleton) else { return };
    for (key, shape) in skeleton {
        match target.get_mut(key) {
            Some(existing) => overlay_skeleton(existing, shape),
            None => {
                target.insert(key.clone(), shape.clone());
            }
        }
    }
}

/// `group/version, Kind=kind`, as Go prints a GroupVersionKind.
fn gvk(object: &Value) -> String {
    let api_version = object.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
    let kind = object.get("kind").and_then(Value::as_str).unwrap_or_default();
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    format!("{group}/{version}, Kind={kind}")
}

fn meta_str<'a>(object: &'a Value, field: &str) -> &'a str {
    object.pointer(&format!("/metadata/{field}")).and_then(Value::as_str).unwrap_or_default()
}

fn unclassified(message: String) -> ApiError {
    ApiError::new(500, StatusReason::Unknown, message)
}

/// A field another manager owns whose value the write would change.
#[derive(Clone, Debug)]
struct Conflict {
    manager: ManagerId,
    path: Path,
}

/// Takes the changed fields away from the other managers (or reports them as conflicts without `force`), and
/// the removed fields too; drops managers left with nothing. Returns the comparison of `old` and `new`.
fn update_managers(
    schema: &MergeSchema,
    old: &Value,
    new: &Value,
    managed: &mut Managed,
    workflow: &ManagerId,
    force: bool,
    ignored: &FieldSet,
) -> Result<Comparison, Vec<Conflict>> {
    let mut comparison = typed::compare(schema, old, new);
    comparison.exclude(ignored);
    let changed = comparison.modified.union(&comparison.added);
    let mut conflicts = Vec::new();
    let mut taken: Vec<(ManagerId, FieldSet)> = Vec::new();
    for (id, entry) in managed.iter() {
        if id == workflow {
            continue;
        }
        let overlap = entry.set.intersection(&changed);
        if !overlap.is_empty() {
            conflicts.extend(overlap.paths().into_iter().map(|path| Conflict { manager: id.clone(), path }));
            taken.push((id.clone(), overlap));
        }
    }
    if !force && !conflicts.is_empty() {
        return Err(conflicts);
    }
    for (id, overlap) in taken {
        if let Some(entry) = managed.get_mut(&id) {
            entry.set = entry.set.difference(&overlap);
        }
    }
    for (id, entry) in managed.iter_mut() {
        if id != workflow {
            entry.set = entry.set.difference(&comparison.removed);
        }
    }
    managed.retain(|_, entry| !entry.set.is_empty());
    Ok(comparison)
}

/// Records a non-apply write from `old` to `new` for `id`: it takes over the fields it changed or set.
#[allow(clippy::too_many_arguments)]
fn record_update(
    schema: &MergeSchema,
    old: &Value,
    new: &Value,
    managed: &mut Managed,
    id: ManagerId,
    api_version: &str,
    ignored: &FieldSet,
    now: &str,
) {
    let current_operation = ManagerId::new("current-operation", Operation::Update, api_version, None);
    let Ok(comparison) = update_managers(schema, old, new, managed, &current_operation, true, ignored) else {
        return;
    };
    let current = comparison.modified.union(&comparison.added).recursive_difference(ignored).difference(&stripped());
    if !current.is_empty() {
        let set = match managed.get(&id) {
            Some(previous) => current.union(&previous.set),
            None => current,
        };
        managed.insert(id, Entry { set, api_version: api_version.to_string(), time: Some(now.to_string()) });
    }
    managed::cap_update_managers(managed, managed::MAX_UPDATE_MANAGERS);
}

/// Whether a request's managedFields ask for a reset: `[]` or `[{}]`.
fn is_reset(fields: &Value) -> bool {
    match fields.as_array().map(Vec::as_slice) {
        Some([]) => true,
        Some([Value::Object(entry)]) => entry.values().all(|v| v.is_null() || v.as_str() == Some("")),
        _ => false,
    }
}

/// Records the managedFields of a non-apply write (create, update, or a JSON/merge/strategic patch) as
/// kube-apiserver's field manager does, and writes them into `new`.
///
/// - The managers come from `new`'s `metadata.managedFields` when it carries valid, non-empty ones (clients may
///   edit them), `[]` or `[{}]` resets them, otherwise they come from `old`; subresource writes always keep
///   `old`'s.
/// - An existing object without managedFields is not tracked (nor is one reset); creates (`old` is `None`) are
///   tracked, compared against the kind's empty object.
/// - `manager` (empty → `unknown`) gets an `operation: Update` entry (keyed with `new`'s apiVersion and
///   `subresource`) for the fields this write changed or set, merged with its previous entry, stamped `now`
///   (RFC 3339); other managers lose those fields and the removed ones, and managers left empty are dropped.
///   At most 10 update managers are kept (the oldest merge into `ancient-changes`).
/// - Nobody owns `apiVersion`, `kind`, `metadata.{name,namespace,uid,resourceVersion,generation,
///   creationTimestamp,managedFields,...}`, `status` on main-resource writes of kinds with a `/status`
///   subresource, or what the status subresource resets (`spec`, ...) on status writes.
///
/// Never fails: on a problem the previous managedFields of `old` are kept.
pub fn track_update(
    old: Option<&Value>,
    new: &mut Value,
    manager: &str,
    subresource: Option<&str>,
    schema: Option<&MergeSchema>,
    now: &str,
) {
    let schema = schema.unwrap_or_else(|| MergeSchema::deduced());
    let live_managed = || managed::decode(old.and_then(|o| o.pointer("/metadata/managedFields"))).unwrap_or_default();
    let mut managed = match (subresource, new.pointer("/metadata/managedFields")) {
        (Some(_), _) | (None, None) => live_managed(),
        (None, Some(fields)) if is_reset(fields) => Managed::new(),
        (None, Some(fields)) => match managed::decode(Some(fields)) {
            Ok(decoded) if !decoded.is_empty() => decoded,
            _ => live_managed(),
        },
    };
    if let Some(meta) = new.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
    if managed.is_empty() && old.is_some_and(|o| !meta_str(o, "uid").is_empty()) {
        return;
    }
    let mut lhs = old.map(without_managed_fields).unwrap_or_else(|| json!({}));
    overlay_skeleton(&mut lhs, &schema.skeleton);
    let mut rhs = new.clone();
    overlay_skeleton(&mut rhs, &schema.skeleton);
    let api_version = new.get("apiVersion").and_then(Value::as_str).unwrap_or_default().to_string();
    let id = ManagerId::new(manager, Operation::Update, &api_version, subresource);
    record_update(schema, &lhs, &rhs, &mut managed, id, &api_version, &ignored(schema, subresource), now);
    set_managed_fields(new, &managed);
}

/// One server-side apply against `live` with the given managers; `None` as object when nothing changed.
#[allow(clippy::too_many_arguments)]
fn apply_once(
    schema: &MergeSchema,
    live: &Value,
    applied: &Value,
    managed: &Managed,
    id: &ManagerId,
    api_version: &str,
    force: bool,
    ignored: &FieldSet,
) -> Result<(Option<Value>, Managed), Vec<Conflict>> {
    let mut merged = typed::merge(schema, live, applied);
    let new_set = typed::to_field_set(schema, applied).unwrap_or_default().recursive_difference(ignored);
    let mut managers = managed.clone();
    let previous = managed.get(id);
    let last = previous.map(|e| e.set.clone()).filter(|s| !s.is_empty());
    let time = previous.and_then(|e| e.time.clone());
    managers.insert(id.clone(), Entry { set: new_set, api_version: api_version.to_string(), time });
    if let Some(last) = last {
        let owned = managers.values().fold(FieldSet::new(), |acc, e| acc.union(&e.set));
        let doomed = typed::ensure_named_fields(schema, &last).difference(&typed::ensure_named_fields(schema, &owned));
        typed::remove_paths(schema, &mut merged, &doomed);
    }
    update_managers(schema, live, &merged, &mut managers, id, force, ignored)?;
    if let Some(entry) = managers.get_mut(id) {
        entry.set = entry.set.difference(&stripped());
        if entry.set.is_empty() {
            managers.remove(id);
        }
    }
    let changed = merged != *live;
    Ok((changed.then_some(merged), managers))
}

/// The fields client-side apply set that still hold the values it set: conflicts on them do not stop
/// `kubectl apply --server-side` from taking them over.
fn allowed_by_last_applied(schema: &MergeSchema, live: &Value, api_version: &str) -> Option<FieldSet> {
    let annotation = live.pointer("/metadata/annotations")?.get(LAST_APPLIED)?.as_str()?;
    let last: Value = serde_json::from_str(annotation).ok()?;
    if last.get("apiVersion").and_then(Value::as_str) != Some(api_version) {
        return None;
    }
    if !typed::validate_applied(schema, &last).is_empty() {
        return None;
    }
    let set = typed::to_field_set(schema, &last).ok()?;
    let comparison = typed::compare(schema, &last, live);
    Some(set.difference(&comparison.modified).difference(&comparison.added).difference(&comparison.removed))
}

fn conflict_error(conflicts: &[Conflict]) -> ApiError {
    let mut sorted: Vec<&Conflict> = conflicts.iter().collect();
    sorted.sort_by(|a, b| a.manager.cmp(&b.manager));
    let causes: Vec<Value> = sorted
        .iter()
        .map(|c| {
            json!({"reason": "FieldManagerConflict", "message": format!("conflict with {}", c.manager.describe()),
                   "field": fieldset::path_string(&c.path)})
        })
        .collect();
    let message = match sorted.as_slice() {
        [one] => format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            one.manager.describe(),
            fieldset::path_string(&one.path)
        ),
        many => {
            let mut lines = Vec::new();
            let mut current: Option<&ManagerId> = None;
            for conflict in many {
                if current != Some(&conflict.manager) {
                    lines.push(format!("conflicts with {}:", conflict.manager.describe()));
                    current = Some(&conflict.manager);
                }
                lines.push(format!("- {}", fieldset::path_string(&conflict.path)));
            }
            format!("Apply failed with {} conflicts: {}", many.len(), lines.join("\n"))
        }
    };
    let mut error = ApiError::new(409, StatusReason::Conflict, message);
    error.details = Some(json!({"causes": causes}));
    error
}

/// Sets the last-applied annotation to `applied` (without it), compact JSON with sorted keys and a newline as
/// kubectl writes it; drops the annotation when the annotations would grow too large.
fn update_last_applied(object: &mut Value, applied: &Value) {
    let mut config = applied.clone();
    if let Some(annotations) = config.pointer_mut("/metadata/annotations").and_then(Value::as_object_mut) {
        annotations.remove(LAST_APPLIED);
    }
    let mut text = String::new();
    fieldset::canonical_json(&config, &mut text);
    text.push('\n');
    let Some(annotations) = object.pointer_mut("/metadata/annotations").and_then(Value::as_object_mut) else {
        return;
    };
    annotations.insert(LAST_APPLIED.to_string(), Value::String(text));
    let size: usize = annotations.iter().map(|(k, v)| k.len() + v.as_str().map_or(0, str::len)).sum();
    if size > MAX_ANNOTATIONS_BYTES {
        annotations.remove(LAST_APPLIED);
    }
}

/// Server-side apply of the configuration `applied` by field manager `manager` to the main resource; see
/// [`apply_subresource`].
///
/// # Errors
/// As [`apply_subresource`].
pub fn apply(
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    force: bool,
    schema: Option<&MergeSchema>,
    now: &str,
) -> Result<Value, ApiError> {
    apply_subresource(live, applied, manager, None, force, schema, now)
}

/// Server-side apply (`application/apply-patch+yaml`) of the configuration `applied` by `manager` to `live`
/// (`None` creates), as kube-apiserver's field manager does:
///
/// - The configuration merges into the live object by `schema` (`None`: every list atomic); fields the manager
///   applied before and no longer applies are removed unless another manager owns them.
/// - The manager's `operation: Apply` entry becomes exactly the configuration's fields (stamped `now` when
///   the object changed). Other managers owning a field whose value changes make it fail with 409
///   `Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas`
///   (causes `FieldManagerConflict`) unless `force` moves the fields to the applier. Manager `kubectl` may take
///   over fields that still hold the values of the last-applied annotation of client-side apply, and updates
///   that annotation when the object has one.
/// - An existing object without managedFields first gets a `before-first-apply` Update entry for all its fields.
/// - Defaulting, validation and checks of name and namespace are the caller's.
///
/// # Errors
/// 400 when `applied` has another apiVersion/kind than `live` (`invalid object type: apps/v1, Kind=X`) or sets
/// `metadata.managedFields`; 409 on conflicts; 500 (no reason) for list items without keys or duplicated.
pub fn apply_subresource(
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    subresource: Option<&str>,
    force: bool,
    schema: Option<&MergeSchema>,
    now: &str,
) -> Result<Value, ApiError> {
    let schema = schema.unwrap_or_else(|| MergeSchema::deduced());
    if !applied.is_object() {
        return Err(ApiError::bad_request("error decoding patch: the body must be an object"));
    }
    if let Some(live) = live {
        let same_type = ["apiVersion", "kind"].iter().all(|k| applied.get(k) == live.get(k));
        if !same_type {
            return Err(ApiError::bad_request(format!("invalid object type: {}", gvk(applied))));
        }
    }
    if applied.pointer("/metadata/managedFields").is_some_and(|v| !v.is_null()) {
        return Err(ApiError::bad_request("metadata.managedFields must be nil"));
    }
    let errors = typed::validate_applied(schema, applied);
    if !errors.is_empty() {
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        return Err(unclassified(format!(
            "failed to create typed patch object ({}/{}; {}): {}",
            meta_str(applied, "namespace"),
            meta_str(applied, "name"),
            gvk(applied),
            text.join("\n")
        )));
    }
    let live_value = live.map(without_managed_fields).unwrap_or_else(|| json!({}));
    let mut managed = managed::decode(live.and_then(|l| l.pointer("/metadata/managedFields")))
        .map_err(|e| unclassified(format!("failed to decode managed fields: {e}")))?;
    let api_version = applied.get("apiVersion").and_then(Value::as_str).unwrap_or_default().to_string();
    let ignored = ignored(schema, subresource);
    if managed.is_empty()
        && let Some(live) = live
    {
        let mut empty = json!({});
        overlay_skeleton(&mut empty, &schema.skeleton);
        let mut current = live_value.clone();
        overlay_skeleton(&mut current, &schema.skeleton);
        let live_version = live.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
        let id = ManagerId::new("before-first-apply", Operation::Update, live_version, subresource);
        record_update(schema, &empty, &current, &mut managed, id, live_version, &ignored, now);
    }
    let id = ManagerId::new(manager, Operation::Apply, &api_version, subresource);
    let attempt = |force| apply_once(schema, &live_value, applied, &managed, &id, &api_version, force, &ignored);
    let (object, mut managers) = match attempt(force) {
        Ok(done) => done,
        Err(conflicts) => {
            let allowed = (manager == "kubectl").then(|| allowed_by_last_applied(schema, &live_value, &api_version));
            match allowed.flatten() {
                Some(allowed) => {
                    let remaining: Vec<Conflict> = conflicts.into_iter().filter(|c| !allowed.has(&c.path)).collect();
                    if !remaining.is_empty() {
                        return Err(conflict_error(&remaining));
                    }
                    attempt(true).map_err(|c| conflict_error(&c))?
                }
                None => return Err(conflict_error(&conflicts)),
            }
        }
    };
    let changed = object.is_some();
    let mut object = object.unwrap_or(live_value);
    if changed && let Some(entry) = managers.get_mut(&id) {
        entry.time = Some(now.to_string());
    }
    let has_last_applied = object
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(LAST_APPLIED))
        .and_then(Value::as_str)
        .is_some_and(|s| !s.is_empty());
    if manager == "kubectl" && has_last_applied {
        update_last_applied(&mut object, applied);
    }
    set_managed_fields(&mut object, &managers);
    Ok(object)
}

#[cfg(test)]
#[path = "apply_tests.rs"]
mod tests;
