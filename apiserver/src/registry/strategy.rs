//! Per-kind behaviour plugged into the generic store: defaulting, validation, status split, fields, tables.

use crate::machinery::{ApiError, FieldError, Object, table::ColumnDefinition};

use super::ResourceInfo;

/// Everything that differs between kinds. The generic store calls these hooks and never matches on kind.
///
/// Default methods give the behaviour of a plain custom resource.
pub trait Strategy: Send + Sync + 'static {
    /// Names, scope and subresources.
    fn info(&self) -> &ResourceInfo;

    /// Fills defaults (after decoding, before validation) on create and update.
    fn default(&self, object: &mut Object) {
        let _ = object;
    }

    /// Adjusts a new object before it is validated and stored (e.g. drop `status` when `/status` exists).
    fn prepare_for_create(&self, object: &mut Object) {
        let _ = object;
    }

    /// Adjusts an updated object given the stored one (e.g. keep the old `status` on a main-resource update).
    fn prepare_for_update(&self, object: &mut Object, old: &Object) {
        let _ = (object, old);
    }

    /// Validation errors of a new object.
    fn validate(&self, object: &Object) -> Vec<FieldError> {
        let _ = object;
        Vec::new()
    }

    /// Validation errors of an update, including fields that may not change.
    fn validate_update(&self, object: &Object, old: &Object) -> Vec<FieldError> {
        let _ = old;
        self.validate(object)
    }

    /// Whether a PUT without `metadata.resourceVersion` is allowed (last write wins).
    fn allow_unconditional_update(&self) -> bool {
        false
    }

    /// Whether a PUT of a missing object creates it (server-side apply always may).
    fn allow_create_on_update(&self) -> bool {
        false
    }

    /// How `metadata.name` (and, with `prefix`, `metadata.generateName`) is checked; the generic store runs the
    /// whole ObjectMeta validation with it, so [`Strategy::validate`] need not repeat it.
    fn name_validator(&self) -> crate::machinery::names::NameValidator {
        crate::machinery::names::name_is_dns_subdomain
    }

    /// Called on a DELETE once preconditions passed, with the stored object. Return `true` to keep the object
    /// instead of going on with the deletion: the store then marks it deleting (deletionTimestamp) and writes
    /// `object` as mutated here. E.g. Namespaces set `status.phase: Terminating` and keep themselves while
    /// `spec.finalizers` is non-empty. Returning `false` deletes as usual (honouring `metadata.finalizers`).
    fn prepare_for_delete(&self, object: &mut Object) -> bool {
        let _ = object;
        false
    }

    /// Value of a kind-specific selectable field (beyond `metadata.name`/`metadata.namespace`), e.g.
    /// `involvedObject.name` on Events; `None` when the kind does not support that field selector.
    fn field_value(&self, object: &Object, field: &str) -> Option<String> {
        let _ = (object, field);
        None
    }

    /// Whether `metadata.namespace` is a selectable field. kube-apiserver refuses it on cluster-scoped custom
    /// resources (`field label not supported`) and accepts it on every built-in kind.
    fn namespace_is_selectable(&self) -> bool {
        true
    }

    /// Table columns for `kubectl get` (wide-only columns have priority 1).
    fn table_columns(&self) -> Vec<ColumnDefinition> {
        crate::machinery::table::default_columns()
    }

    /// One table row's cells, in the order of [`Strategy::table_columns`].
    fn table_cells(&self, object: &Object) -> Vec<serde_json::Value> {
        crate::machinery::table::default_cells(object)
    }

    /// The kind's OpenAPI v3 schema (for `/openapi/v3`, `kubectl explain`, and field validation); `None` = any.
    fn schema(&self) -> Option<serde_json::Value> {
        None
    }

    /// The compiled schema the store prunes and checks writes with (`fieldValidation`: unknown fields are dropped,
    /// warned about or refused); `None` = no pruning.
    fn kind_schema(&self) -> Option<std::sync::Arc<crate::schema::KindSchema>> {
        None
    }

    /// The version objects of this resource are stored at. Every served version of one resource shares the
    /// storage keys; when this differs from [`ResourceInfo::version`], the store converts each write to it (with
    /// [`Strategy::convert`]) and each read back. Default: the served version (no conversion).
    fn storage_version(&self) -> &str {
        &self.info().version
    }

    /// Converts `object` (any version of this kind, as its `apiVersion` says) to `to_version` of the same group,
    /// `apiVersion` included. Called by the store only when the versions differ. The default rewrites `apiVersion`
    /// and nothing else, as a CustomResourceDefinition's `None` conversion strategy does.
    ///
    /// # Errors
    /// Whatever the conversion refuses (400 for a body that does not have the source version's shape).
    fn convert(&self, object: Object, to_version: &str) -> Result<Object, ApiError> {
        let mut object = object;
        let group = &self.info().group;
        let api_version = if group.is_empty() { to_version.to_string() } else { format!("{group}/{to_version}") };
        if let Some(map) = object.as_object_mut() {
            map.insert("apiVersion".into(), serde_json::Value::String(api_version));
        }
        Ok(object)
    }

    /// How this kind's lists merge. `Some` for built-in kinds enables `application/strategic-merge-patch+json`;
    /// server-side apply uses it (or, for CRDs, the `x-kubernetes-list-*` markers of [`Strategy::schema`]).
    fn merge_schema(&self) -> Option<&crate::patch::MergeSchema> {
        None
    }
}
