//! PUT and PATCH: kube's GuaranteedUpdate loop, optimistic concurrency, the status split, generation, no-op writes.

use serde_json::{Map, Value};

use super::{
    AdmissionRequest, Operation, RequestContext, ResourceStore, codec,
    create::{admit_create, create_admitted},
    meta,
    prepare::{self, check_schema, check_type_meta, ensure_namespace, field_manager, track_update, wipe_system_fields},
};
use crate::{
    machinery::{
        ApiError, Object,
        options::{FieldValidation, PatchOptions, WriteOptions},
    },
    patch::{self, PatchType},
    storage::StoreError,
};

/// Conflicting concurrent writes tolerated before an update gives up with 409.
const MAX_ATTEMPTS: usize = 16;

/// How one write turns the stored object into the new one.
pub(super) struct Write<'a> {
    pub(super) ctx: &'a RequestContext,
    pub(super) namespace: Option<&'a str>,
    pub(super) name: &'a str,
    pub(super) subresource: Option<&'a str>,
    pub(super) dry_run: bool,
    pub(super) manager: String,
    pub(super) field_validation: FieldValidation,
    /// Whether a missing object is created (server-side apply, or a strategy that allows create-on-update).
    pub(super) allow_create: bool,
    /// Whether the transform maintains managedFields itself (server-side apply).
    pub(super) tracks_fields: bool,
    /// The uid a PUT's body names: the stored object must have it (kube's update preconditions).
    pub(super) uid: Option<String>,
}

pub(super) async fn update(
    store: &ResourceStore,
    ctx: &RequestContext,
    namespace: Option<&str>,
    name: &str,
    object: Object,
    subresource: Option<&str>,
    options: &WriteOptions,
) -> Result<(Object, bool), ApiError> {
    let write = Write {
        ctx,
        namespace,
        name,
        subresource,
        dry_run: options.dry_run,
        manager: field_manager(ctx, options.field_manager.as_deref()),
        field_validation: options.field_validation,
        allow_create: store.strategy().allow_create_on_update() && subresource.is_none(),
        tracks_fields: false,
        uid: Some(meta::uid(&object).to_string()).filter(|uid| !uid.is_empty()),
    };
    guaranteed_update(store, &write, |_| Ok(object.clone())).await
}

#[allow(clippy::too_many_arguments)]
pub(super) async fn patch(
    store: &ResourceStore,
    ctx: &RequestContext,
    namespace: Option<&str>,
    name: &str,
    patch_type: PatchType,
    body: &[u8],
    subresource: Option<&str>,
    options: &PatchOptions,
) -> Result<(Object, bool), ApiError> {
    let merge_schema = store.strategy().merge_schema();
    if patch_type == PatchType::StrategicMerge && merge_schema.is_none() {
        return Err(ApiError::new(
            415,
            crate::machinery::StatusReason::UnsupportedMediaType,
            "the body of the request was in an unknown format - accepted media types include: \
             application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
        ));
    }
    if patch_type != PatchType::Apply && options.force.is_some() {
        return Err(ApiError::invalid(
            "PatchOptions",
            "meta.k8s.io",
            "",
            &[crate::machinery::FieldError::forbidden("force", "may not be specified for non-apply patch")],
        ));
    }
    let apply = patch_type == PatchType::Apply;
    let explicit_manager = options.field_manager.as_deref().filter(|m| !m.is_empty());
    if apply && explicit_manager.is_none() {
        return Err(ApiError::invalid(
            "PatchOptions",
            "meta.k8s.io",
            "",
            &[crate::machinery::FieldError::required("fieldManager", "is required for apply patch")],
        ));
    }
    let write = Write {
        ctx,
        namespace,
        name,
        subresource,
        dry_run: options.dry_run,
        manager: field_manager(ctx, explicit_manager),
        field_validation: options.field_validation,
        allow_create: apply && subresource.is_none(),
        tracks_fields: apply,
        uid: None,
    };
    if apply {
        let applied = patch::parse_apply_body(body)?;
        let force = options.force.unwrap_or(false);
        let manager = write.manager.clone();
        return guaranteed_update(store, &write, |current| {
            let now = meta::now();
            let mut object =
                patch::apply_subresource(current, &applied, &manager, subresource, force, merge_schema, &now)?;
            if meta::name(&object).is_empty() {
                meta::set_meta(&mut object, "name", Value::String(name.to_string()));
            }
            Ok(object)
        })
        .await;
    }
    guaranteed_update(store, &write, |current| match current {
        Some(current) => patch::patch(current, patch_type, body, merge_schema),
        None => Err(ApiError::not_found(&store.group_resource(), name)),
    })
    .await
}

/// Reads the object, computes the new one with `transform`, checks and writes it; retries when another write
/// raced (kube's `GuaranteedUpdate`). Returns the object and whether it was created.
pub(super) async fn guaranteed_update(
    store: &ResourceStore,
    write: &Write<'_>,
    mut transform: impl FnMut(Option<&Object>) -> Result<Object, ApiError>,
) -> Result<(Object, bool), ApiError> {
    check_subresource(store, write.subresource)?;
    let key = store.key(write.namespace, write.name)?;
    let gr = store.group_resource();
    for _ in 0..MAX_ATTEMPTS {
        let Some((kv, old)) = store.read_current(&key, write.name).await? else {
            if !write.allow_create {
                return Err(ApiError::not_found(&gr, write.name));
            }
            let object = transform(None)?;
            match create_on_update(store, write, object).await {
                Err(error) if error.code == 409 && error.reason == crate::machinery::StatusReason::AlreadyExists => {
                    continue;
                }
                other => return other.map(|object| (object, true)),
            }
        };
        if let Some(uid) = write.uid.as_deref()
            && uid != meta::uid(&old)
        {
            let why =
                format!("Precondition failed: UID in precondition: {uid}, UID in object meta: {}", meta::uid(&old));
            return Err(ApiError::conflict(&gr, write.name, &why));
        }
        let mut object = transform(Some(&old))?;
        check_type_meta(store, &mut object)?;
        ensure_namespace(store, &mut object, write.namespace)?;
        check_name(store, &object, write.name, write.namespace)?;
        let requested = meta::resource_version(&object).to_string();
        if requested.is_empty() {
            if !store.strategy().allow_unconditional_update() {
                let error = crate::machinery::FieldError::invalid(
                    "metadata.resourceVersion",
                    Value::Null,
                    "must be specified for an update",
                );
                let error =
                    crate::machinery::FieldError { value: None, detail: format!("0x0: {}", error.detail), ..error };
                return Err(ApiError::invalid(&gr.resource, &gr.group, write.name, &[error]));
            }
            codec::set_resource_version(&mut object, kv.mod_revision);
        } else if requested != kv.mod_revision.to_string() {
            return Err(ApiError::stale(&gr, write.name));
        }
        store.strategy().default(&mut object);
        check_schema(store, write.ctx, &mut object, write.field_validation)?;
        let mut object = split_status(store, object, &old, write.subresource);
        keep_system_fields(&mut object, &old);
        store.strategy().prepare_for_update(&mut object, &old);
        bump_generation(store, &mut object, &old);
        if !write.tracks_fields {
            track_update(store, Some(&old), &mut object, &write.manager, write.subresource);
        }
        let errors = prepare::validate_update(store, &object, &old);
        if !errors.is_empty() {
            return Err(prepare::invalid(store, write.name, &errors));
        }
        let request = AdmissionRequest {
            operation: Operation::Update,
            resource: store.info(),
            subresource: write.subresource,
            namespace: store.scope(write.namespace),
            name: write.name,
            object: Some(&object),
            old: Some(&old),
            context: write.ctx,
            dry_run: write.dry_run,
        };
        store.admission.admit(&request).await?;
        if should_delete_during_update(&object, &old) {
            if write.dry_run {
                return Ok((object, false));
            }
            return match store.store.delete(&key, Some(kv.mod_revision)).await {
                Ok(deleted) => {
                    store.wrote(&key, deleted.revision, None);
                    Ok((object, false))
                }
                Err(StoreError::Conflict { .. }) => continue,
                Err(StoreError::NotFound { .. }) => Ok((object, false)),
                Err(error) => Err(ApiError::from_store(error, &gr, write.name)),
            };
        }
        if unchanged(&object, &old) {
            return Ok((old, false));
        }
        if write.dry_run {
            return Ok((object, false));
        }
        let bytes = store.codec.encode(&object)?;
        match store.store.update(&key, bytes, kv.mod_revision).await {
            Ok(revision) => {
                codec::set_resource_version(&mut object, revision);
                store.wrote(&key, revision, Some(&object));
                return Ok((object, false));
            }
            Err(StoreError::Conflict { .. } | StoreError::NotFound { .. }) => continue,
            Err(error) => return Err(ApiError::from_store(error, &gr, write.name)),
        }
    }
    Err(ApiError::conflict(&gr, write.name, "too many concurrent writes; please try again"))
}

/// A PUT or apply of a missing object: the create path (system fields filled, generation 1, admission as Create).
async fn create_on_update(store: &ResourceStore, write: &Write<'_>, mut object: Object) -> Result<Object, ApiError> {
    check_type_meta(store, &mut object)?;
    wipe_system_fields(&mut object);
    meta::set_meta(&mut object, "resourceVersion", Value::Null);
    ensure_namespace(store, &mut object, write.namespace)?;
    check_name(store, &object, write.name, write.namespace)?;
    store.strategy().default(&mut object);
    check_schema(store, write.ctx, &mut object, write.field_validation)?;
    if !write.tracks_fields {
        track_update(store, None, &mut object, &write.manager, None);
    }
    admit_create(store, write.ctx, &object, write.dry_run).await?;
    create_admitted(store, object, write.dry_run).await
}

fn check_subresource(store: &ResourceStore, subresource: Option<&str>) -> Result<(), ApiError> {
    match subresource {
        None => Ok(()),
        Some("status") if store.info().status_subresource => Ok(()),
        Some(other) => Err(ApiError::no_such_path(format!(
            "the server could not find the requested resource ({} {}/{other})",
            store.info().group_resource(),
            store.info().plural
        ))),
    }
}

/// 400 when the object's name differs from the URL's (`checkName`).
fn check_name(store: &ResourceStore, object: &Object, name: &str, namespace: Option<&str>) -> Result<(), ApiError> {
    let object_name = meta::name(object);
    if object_name != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({object_name}) does not match the name on the URL ({name})"
        )));
    }
    if let Some(namespace) = store.scope(namespace).filter(|ns| !ns.is_empty()) {
        let object_namespace = meta::namespace(object);
        if !object_namespace.is_empty() && object_namespace != namespace {
            return Err(ApiError::bad_request(format!(
                "the namespace of the object ({object_namespace}) does not match the namespace on the request \
                 ({namespace})"
            )));
        }
    }
    Ok(())
}

/// With a `/status` subresource: a main write keeps the stored status; a status write keeps everything else
/// (labels and annotations included) and takes only `status` (and managedFields) from the request, as CRDs do.
fn split_status(store: &ResourceStore, object: Object, old: &Object, subresource: Option<&str>) -> Object {
    if !store.info().status_subresource {
        return object;
    }
    match subresource {
        Some("status") => {
            let mut merged = old.clone();
            let map = meta::ensure_map(&mut merged);
            match object.get("status") {
                Some(status) => {
                    map.insert("status".into(), status.clone());
                }
                None => {
                    map.remove("status");
                }
            }
            if let Some(rv) = object.pointer("/metadata/resourceVersion") {
                meta::set_meta(&mut merged, "resourceVersion", rv.clone());
            }
            let managed = object.pointer("/metadata/managedFields").cloned().unwrap_or(Value::Null);
            meta::set_meta(&mut merged, "managedFields", managed);
            merged
        }
        _ => {
            let mut object = object;
            let map = meta::ensure_map(&mut object);
            match old.get("status") {
                Some(status) => {
                    map.insert("status".into(), status.clone());
                }
                None => {
                    map.remove("status");
                }
            }
            object
        }
    }
}

/// What an update may not change: generation (bumped by the store), uid, creation and deletion timestamps.
fn keep_system_fields(object: &mut Object, old: &Object) {
    let old_meta = meta::metadata(old).cloned().unwrap_or_default();
    let metadata = meta::metadata_mut(object);
    match old_meta.get("generation") {
        Some(generation) => metadata.insert("generation".into(), generation.clone()),
        None => metadata.remove("generation"),
    };
    if metadata.get("uid").and_then(Value::as_str).unwrap_or_default().is_empty()
        && let Some(uid) = old_meta.get("uid")
    {
        metadata.insert("uid".into(), uid.clone());
    }
    if let Some(created) = old_meta.get("creationTimestamp") {
        metadata.insert("creationTimestamp".into(), created.clone());
    }
    if let Some(deleting) = old_meta.get("deletionTimestamp") {
        metadata.insert("deletionTimestamp".into(), deleting.clone());
    }
    if !metadata.contains_key("deletionGracePeriodSeconds")
        && let Some(grace) = old_meta.get("deletionGracePeriodSeconds")
    {
        metadata.insert("deletionGracePeriodSeconds".into(), grace.clone());
    }
}

/// `generation + 1` when anything outside metadata (and status, with a status subresource) changed.
fn bump_generation(store: &ResourceStore, object: &mut Object, old: &Object) {
    let skip_status = store.info().status_subresource;
    let content = |value: &Object| -> Map<String, Value> {
        let mut map = value.as_object().cloned().unwrap_or_default();
        map.remove("metadata");
        if skip_status {
            map.remove("status");
        }
        map
    };
    if content(object) != content(old) {
        let generation = meta::meta_i64(old, "generation").unwrap_or(0).saturating_add(1);
        meta::set_meta(object, "generation", Value::from(generation));
    }
}

/// `ShouldDeleteDuringUpdate`: the update removes the last finalizer of an object being deleted.
fn should_delete_during_update(object: &Object, old: &Object) -> bool {
    meta::finalizers(object).is_empty()
        && meta::is_deleting(old)
        && meta::meta_i64(old, "deletionGracePeriodSeconds").unwrap_or(0) == 0
}

/// Whether writing `object` would change nothing but managedFields timestamps.
fn unchanged(object: &Object, old: &Object) -> bool {
    if object == old {
        return true;
    }
    let normalized = |value: &Object| {
        let mut copy = value.clone();
        if let Some(entries) = copy.pointer_mut("/metadata/managedFields").and_then(Value::as_array_mut) {
            for entry in entries.iter_mut().filter_map(Value::as_object_mut) {
                entry.remove("time");
            }
        }
        copy
    };
    normalized(object) == normalized(old)
}

/// Reads `name`, lets `mutate` change it, and writes it back without strategy hooks, validation or admission
/// (for the system's own bookkeeping, like a namespace's `spec.finalizers`); `mutate` returns whether it changed
/// anything. Returns the stored object afterwards, or `None` when it does not exist.
pub(crate) async fn mutate_stored(
    store: &ResourceStore,
    namespace: Option<&str>,
    name: &str,
    mut mutate: impl FnMut(&mut Object) -> bool,
) -> Result<Option<Object>, ApiError> {
    let key = store.key(namespace, name)?;
    let gr = store.group_resource();
    for _ in 0..MAX_ATTEMPTS {
        let Some((kv, mut object)) = store.read_current(&key, name).await? else { return Ok(None) };
        if !mutate(&mut object) {
            return Ok(Some(object));
        }
        match store.store.update(&key, store.codec.encode(&object)?, kv.mod_revision).await {
            Ok(revision) => {
                codec::set_resource_version(&mut object, revision);
                store.wrote(&key, revision, Some(&object));
                return Ok(Some(object));
            }
            Err(StoreError::Conflict { .. }) => continue,
            Err(StoreError::NotFound { .. }) => return Ok(None),
            Err(error) => return Err(ApiError::from_store(error, &gr, name)),
        }
    }
    Err(ApiError::conflict(&gr, name, "too many concurrent writes; please try again"))
}
