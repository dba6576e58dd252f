//! DELETE and deletecollection: preconditions, finalizers and deletionTimestamp, propagation finalizers, dry run.

use futures::TryStreamExt;
use serde_json::Value;

use super::{AdmissionRequest, ObjectList, Operation, RequestContext, ResourceStore, codec, meta, read};
use crate::{
    machinery::{
        ApiError, FieldError, GroupResource, Object,
        options::{DeleteOptions, ListOptions, PropagationPolicy},
    },
    storage::StoreError,
};

/// Conflicting concurrent writes tolerated before a delete gives up with 409.
const MAX_ATTEMPTS: usize = 16;

/// How many deletes of a deletecollection run at once.
const COLLECTION_WORKERS: usize = 8;

pub(super) async fn delete(
    store: &ResourceStore,
    ctx: &RequestContext,
    namespace: Option<&str>,
    name: &str,
    options: &DeleteOptions,
) -> Result<super::DeleteOutcome, ApiError> {
    validate_options(options)?;
    let key = store.key(namespace, name)?;
    let gr = store.group_resource();
    for _ in 0..MAX_ATTEMPTS {
        let Some((kv, old)) = store.read_current(&key, name).await? else {
            return Err(ApiError::not_found(&gr, name));
        };
        let request = AdmissionRequest {
            operation: Operation::Delete,
            resource: store.info(),
            subresource: None,
            namespace: store.scope(namespace),
            name,
            object: None,
            old: Some(&old),
            context: ctx,
            dry_run: options.dry_run,
        };
        store.admission.admit(&request).await?;
        check_preconditions(store, &old, options)?;
        let mut object = old.clone();
        if let Some(finalizers) = propagation_finalizers(&object, options) {
            meta::set_finalizers(&mut object, &finalizers);
        }
        let keep = store.strategy().prepare_for_delete(&mut object);
        if keep || !meta::finalizers(&object).is_empty() {
            mark_deleting(&mut object);
            if object == old || options.dry_run {
                return Ok(super::DeleteOutcome::Pending(object));
            }
            match store.store.update(&key, store.codec.encode(&object)?, kv.mod_revision).await {
                Ok(revision) => {
                    codec::set_resource_version(&mut object, revision);
                    store.wrote(&key, revision, Some(&object));
                    return Ok(super::DeleteOutcome::Pending(object));
                }
                Err(StoreError::Conflict { .. } | StoreError::NotFound { .. }) => continue,
                Err(error) => return Err(ApiError::from_store(error, &gr, name)),
            }
        }
        if options.dry_run {
            return Ok(super::DeleteOutcome::Deleted(old));
        }
        match store.store.delete(&key, Some(kv.mod_revision)).await {
            Ok(deleted) => {
                store.wrote(&key, deleted.revision, None);
                let mut last = old;
                codec::set_resource_version(&mut last, deleted.revision);
                return Ok(super::DeleteOutcome::Deleted(last));
            }
            Err(StoreError::Conflict { .. } | StoreError::NotFound { .. }) => continue,
            Err(error) => return Err(ApiError::from_store(error, &gr, name)),
        }
    }
    Err(ApiError::conflict(&gr, name, "too many concurrent writes; please try again"))
}

pub(super) async fn delete_collection(
    store: &ResourceStore,
    ctx: &RequestContext,
    namespace: Option<&str>,
    list_options: &ListOptions,
    options: &DeleteOptions,
) -> Result<ObjectList, ApiError> {
    validate_options(options)?;
    let list = read::list(store, namespace, list_options).await?;
    futures::stream::iter(list.items.iter().map(Ok::<_, ApiError>))
        .try_for_each_concurrent(COLLECTION_WORKERS, |item| async move {
            let item_namespace = meta::namespace(item);
            let scope = if item_namespace.is_empty() { namespace } else { Some(item_namespace) };
            match delete(store, ctx, scope, meta::name(item), options).await {
                Ok(_) => Ok(()),
                Err(error) if error.code == 404 => Ok(()),
                Err(error) => Err(error),
            }
        })
        .await?;
    Ok(list)
}

/// `ValidateDeleteOptions`: `orphanDependents` and `propagationPolicy` exclude each other.
fn validate_options(options: &DeleteOptions) -> Result<(), ApiError> {
    if let (Some(_), Some(policy)) = (options.orphan_dependents, options.propagation_policy) {
        let policy = match policy {
            PropagationPolicy::Orphan => "Orphan",
            PropagationPolicy::Background => "Background",
            PropagationPolicy::Foreground => "Foreground",
        };
        let error = FieldError::invalid(
            "propagationPolicy",
            policy,
            "orphanDependents and deletionPropagation cannot be both set",
        );
        return Err(ApiError::invalid("DeleteOptions", "meta.k8s.io", "", &[error]));
    }
    Ok(())
}

/// 409 when `preconditions.uid` or `preconditions.resourceVersion` do not match the stored object.
fn check_preconditions(store: &ResourceStore, old: &Object, options: &DeleteOptions) -> Result<(), ApiError> {
    let info = store.info();
    let kind = GroupResource::new(&info.group, &info.kind);
    let name = meta::name(old);
    if let Some(uid) = &options.precondition_uid
        && uid != meta::uid(old)
    {
        let why = format!(
            "the UID in the precondition ({uid}) does not match the UID in record ({}). The object might have been \
             deleted and then recreated",
            meta::uid(old)
        );
        return Err(ApiError::conflict(&kind, name, &why));
    }
    if let Some(rv) = &options.precondition_resource_version
        && rv != meta::resource_version(old)
    {
        let why = format!(
            "the ResourceVersion in the precondition ({rv}) does not match the ResourceVersion in record ({}). The \
             object might have been modified",
            meta::resource_version(old)
        );
        return Err(ApiError::conflict(&kind, name, &why));
    }
    Ok(())
}

/// The finalizers after applying the delete's propagation policy (`orphan` / `foregroundDeletion`), when they change
/// (`deletionFinalizersForGarbageCollection`).
fn propagation_finalizers(object: &Object, options: &DeleteOptions) -> Option<Vec<String>> {
    let existing = meta::finalizers(object);
    let has = |name: &str| existing.iter().any(|f| f == name);
    let from_finalizers = || {
        if has(meta::FINALIZER_ORPHAN) {
            Some(PropagationPolicy::Orphan)
        } else if has(meta::FINALIZER_FOREGROUND) {
            Some(PropagationPolicy::Foreground)
        } else {
            None
        }
    };
    let policy = match (options.orphan_dependents, options.propagation_policy) {
        (Some(true), _) => Some(PropagationPolicy::Orphan),
        (Some(false), _) => None,
        (None, Some(policy)) => Some(policy),
        (None, None) => from_finalizers(),
    };
    let mut wanted: Vec<String> =
        existing.iter().filter(|f| *f != meta::FINALIZER_ORPHAN && *f != meta::FINALIZER_FOREGROUND).cloned().collect();
    match policy {
        Some(PropagationPolicy::Orphan) => wanted.push(meta::FINALIZER_ORPHAN.into()),
        Some(PropagationPolicy::Foreground) => wanted.push(meta::FINALIZER_FOREGROUND.into()),
        Some(PropagationPolicy::Background) | None => {}
    }
    let mut old_set = existing.clone();
    let mut new_set = wanted.clone();
    old_set.sort();
    old_set.dedup();
    new_set.sort();
    new_set.dedup();
    (old_set != new_set).then_some(wanted)
}

/// `markAsDeleting`: deletionTimestamp (now, unless already set), deletionGracePeriodSeconds 0, and the first time a
/// generation bump.
fn mark_deleting(object: &mut Object) {
    let first = !meta::is_deleting(object);
    let generation = meta::meta_i64(object, "generation").unwrap_or(0);
    let metadata = meta::metadata_mut(object);
    if first {
        if generation > 0 {
            metadata.insert("generation".into(), Value::from(generation.saturating_add(1)));
        }
        metadata.insert("deletionTimestamp".into(), Value::String(meta::now()));
    }
    metadata.insert("deletionGracePeriodSeconds".into(), Value::from(0));
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn options(policy: Option<PropagationPolicy>, orphan: Option<bool>) -> DeleteOptions {
        DeleteOptions { propagation_policy: policy, orphan_dependents: orphan, ..DeleteOptions::default() }
    }

    #[test]
    fn propagation_policies_become_garbage_collector_finalizers() {
        let plain = json!({"metadata": {"finalizers": ["example.com/x"]}});
        assert_eq!(
            propagation_finalizers(&plain, &options(Some(PropagationPolicy::Foreground), None)),
            Some(vec!["example.com/x".to_string(), "foregroundDeletion".to_string()])
        );
        assert_eq!(
            propagation_finalizers(&plain, &options(None, Some(true))),
            Some(vec!["example.com/x".to_string(), "orphan".to_string()])
        );
        assert_eq!(propagation_finalizers(&plain, &options(Some(PropagationPolicy::Background), None)), None);
        assert_eq!(propagation_finalizers(&plain, &options(None, None)), None);
    }

    #[test]
    fn an_explicit_policy_replaces_an_earlier_one() {
        let orphaning = json!({"metadata": {"finalizers": ["orphan"]}});
        assert_eq!(
            propagation_finalizers(&orphaning, &options(Some(PropagationPolicy::Background), None)),
            Some(Vec::new())
        );
        assert_eq!(propagation_finalizers(&orphaning, &options(None, None)), None);
    }

    #[test]
    fn marking_as_deleting_bumps_the_generation_once() {
        let mut object = json!({"metadata": {"generation": 3}});
        mark_deleting(&mut object);
        let stamp = object["metadata"]["deletionTimestamp"].clone();
        mark_deleting(&mut object);
        assert_eq!(object["metadata"]["generation"], 4);
        assert_eq!(object["metadata"]["deletionGracePeriodSeconds"], 0);
        assert_eq!(object["metadata"]["deletionTimestamp"], stamp);
    }
}
