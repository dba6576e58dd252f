//! POST: system fields, generateName with retries, strategy hooks, validation, admission, dry run, the write.

use serde_json::{Value, json};

use super::{
    AdmissionRequest, Operation, RequestContext, ResourceStore, codec, meta,
    prepare::{self, check_schema, check_type_meta, ensure_namespace, field_manager, track_update, wipe_system_fields},
};
use crate::{
    machinery::{ApiError, Object, names, options::WriteOptions},
    storage::StoreError,
};

/// How often a `generateName` is tried before the create fails with a conflict (as kube-apiserver).
const GENERATE_NAME_ATTEMPTS: usize = 8;

pub(super) async fn create(
    store: &ResourceStore,
    ctx: &RequestContext,
    namespace: Option<&str>,
    mut object: Object,
    options: &WriteOptions,
) -> Result<Object, ApiError> {
    check_type_meta(store, &mut object)?;
    wipe_system_fields(&mut object);
    ensure_namespace(store, &mut object, namespace)?;
    store.strategy().default(&mut object);
    check_schema(store, ctx, &mut object, options.field_validation)?;
    let manager = field_manager(ctx, options.field_manager.as_deref());
    track_update(store, None, &mut object, &manager, None);
    admit_create(store, ctx, &object, options.dry_run).await?;
    create_admitted(store, object, options.dry_run).await
}

/// Runs the admission checks for creating `object`.
pub(super) async fn admit_create(
    store: &ResourceStore,
    ctx: &RequestContext,
    object: &Object,
    dry_run: bool,
) -> Result<(), ApiError> {
    let namespace = meta::namespace(object);
    let request = AdmissionRequest {
        operation: Operation::Create,
        resource: store.info(),
        subresource: None,
        namespace: store.scope(Some(namespace)).filter(|ns| !ns.is_empty()),
        name: meta::name(object),
        object: Some(object),
        old: None,
        context: ctx,
        dry_run,
    };
    store.admission.admit(&request).await
}

/// Creates an admitted object: names it, fills system fields, runs the strategy, validates and writes it.
pub(super) async fn create_admitted(store: &ResourceStore, object: Object, dry_run: bool) -> Result<Object, ApiError> {
    let generate = meta::name(&object).is_empty() && !meta::meta_str(&object, "generateName").is_empty();
    let attempts = if generate { GENERATE_NAME_ATTEMPTS } else { 1 };
    let mut last_name = String::new();
    for _ in 0..attempts {
        let mut candidate = object.clone();
        if generate {
            let name = names::generate_name(meta::meta_str(&candidate, "generateName"));
            meta::set_meta(&mut candidate, "name", Value::String(name));
        }
        last_name = meta::name(&candidate).to_string();
        match create_once(store, candidate, dry_run).await {
            Err(error) if generate && error.code == 409 => continue,
            other => return other,
        }
    }
    let gr = store.group_resource();
    let mut error = ApiError::already_exists(&gr, &last_name);
    error.message =
        format!("{gr} {last_name:?} already exists, the server was not able to generate a unique name for the object");
    Err(error.retry_after(1))
}

async fn create_once(store: &ResourceStore, mut object: Object, dry_run: bool) -> Result<Object, ApiError> {
    let metadata = meta::metadata_mut(&mut object);
    metadata.insert("uid".into(), Value::String(meta::new_uid()));
    metadata.insert("creationTimestamp".into(), Value::String(meta::now()));
    metadata.insert("generation".into(), json!(1));
    if store.info().status_subresource
        && let Some(map) = object.as_object_mut()
    {
        map.remove("status");
    }
    store.strategy().prepare_for_create(&mut object);
    let name = meta::name(&object).to_string();
    let errors = prepare::validate_create(store, &object);
    if !errors.is_empty() {
        return Err(prepare::invalid(store, &name, &errors));
    }
    if !meta::resource_version(&object).is_empty() {
        return Err(ApiError::internal("resourceVersion should not be set on objects to be created"));
    }
    let key = store.key(Some(meta::namespace(&object)), &name)?;
    let gr = store.group_resource();
    if dry_run {
        if let Some((_, existing)) = store.read_current(&key, &name).await? {
            return Err(already_exists(store, &name, &existing));
        }
        return Ok(object);
    }
    let bytes = store.codec.encode(&object)?;
    match store.store.create(&key, bytes).await {
        Ok(revision) => {
            codec::set_resource_version(&mut object, revision);
            store.wrote(&key, revision, Some(&object));
            Ok(object)
        }
        Err(StoreError::AlreadyExists { .. }) => match store.read_current(&key, &name).await {
            Ok(Some((_, existing))) => Err(already_exists(store, &name, &existing)),
            _ => Err(ApiError::already_exists(&gr, &name)),
        },
        Err(error) => Err(ApiError::from_store(error, &gr, &name)),
    }
}

/// 409 AlreadyExists, prefixed `object is being deleted: ` when the existing object is being deleted.
fn already_exists(store: &ResourceStore, name: &str, existing: &Object) -> ApiError {
    let mut error = ApiError::already_exists(&store.group_resource(), name);
    if meta::is_deleting(existing) {
        error.message = format!("object is being deleted: {}", error.message);
    }
    error
}
