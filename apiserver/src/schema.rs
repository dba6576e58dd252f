//! Kind schemas (OpenAPI v3) and their use on writes: pruning, unknown/duplicate fields, CRD validation, defaults.

mod builtin;
mod compile;
mod crd;
mod defaults;
mod duplicates;
mod formats;
mod prune;
mod values;

use std::{collections::BTreeMap, sync::Arc};

use serde_json::{Value, json};

pub use builtin::{PatchStrategy, common_components, patch_strategies};
pub use defaults::apply_defaults;
pub use prune::validate;
pub use values::validate_values;

use compile::Compiled;

/// Prefix of references between named schemas in OpenAPI v3 documents.
pub const REF_PREFIX: &str = "#/components/schemas/";

/// Component name of `ObjectMeta`, which every kind's `metadata` refers to.
pub const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

/// Component name of `ListMeta`, which every list's `metadata` refers to.
pub const LIST_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta";

/// A schema that could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    /// The CRD's `openAPIV3Schema` is not a JSON object.
    #[error("openAPIV3Schema must be an object")]
    NotAnObject,
}

/// The OpenAPI v3 (3.0) schema of one kind, the named component schemas it refers to, and a compiled form used to
/// prune and validate objects. Build once per kind and share it (`Arc`); building is the expensive part.
pub struct KindSchema {
    group: String,
    version: String,
    kind: String,
    name: String,
    components: BTreeMap<String, Arc<Value>>,
    compiled: Compiled,
    structural: bool,
}

impl std::fmt::Debug for KindSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KindSchema")
            .field("name", &self.name)
            .field("components", &self.components.len())
            .field("structural", &self.structural)
            .finish()
    }
}

impl KindSchema {
    /// The schema of a built-in kind from its k8s-openapi type, e.g.
    /// `KindSchema::builtin::<k8s_openapi::api::apps::v1::Deployment>()`. Cached per type: later calls are cheap.
    ///
    /// Built-in kinds are only pruned and checked for unknown fields; their semantic validation is per-kind code.
    pub fn builtin<T: k8s_openapi::Resource + schemars::JsonSchema + 'static>() -> Arc<KindSchema> {
        builtin::kind_schema::<T>()
    }

    /// The schema of a custom resource from its CRD version's structural `openAPIV3Schema`, with `apiVersion`,
    /// `kind` and `metadata` (a reference to `ObjectMeta`) set as kube-apiserver publishes them.
    ///
    /// # Errors
    /// [`SchemaError::NotAnObject`] when `openapi_v3_schema` is not a JSON object.
    pub fn from_crd(
        group: &str,
        version: &str,
        kind: &str,
        openapi_v3_schema: &Value,
    ) -> Result<KindSchema, SchemaError> {
        match openapi_v3_schema {
            Value::Object(schema) => Ok(crd::kind_schema(group, version, kind, schema)),
            _ => Err(SchemaError::NotAnObject),
        }
    }

    /// A schema that accepts any object (`x-kubernetes-preserve-unknown-fields`), for kinds without one.
    pub fn unstructured(group: &str, version: &str, kind: &str) -> KindSchema {
        let mut schema = serde_json::Map::new();
        schema.insert("type".into(), "object".into());
        schema.insert("x-kubernetes-preserve-unknown-fields".into(), true.into());
        crd::kind_schema(group, version, kind, &schema)
    }

    /// API group (`""` for core).
    pub fn group(&self) -> &str {
        &self.group
    }

    /// Version.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Kind.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The component name of the kind's schema: `io.k8s.api.apps.v1.Deployment`, or for custom resources the
    /// reversed group, version and kind (`io.karmada.policy.v1alpha1.PropagationPolicy`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The kind's own schema (with `x-kubernetes-group-version-kind`).
    pub fn schema(&self) -> &Value {
        self.components.get(&self.name).map_or(&Value::Null, |schema| schema.as_ref())
    }

    /// Every named schema the kind needs, its own included, by component name.
    pub fn components(&self) -> &BTreeMap<String, Arc<Value>> {
        &self.components
    }

    /// Whether this is a custom resource's structural schema (value validation and defaulting apply), as opposed
    /// to a built-in kind's schema (pruning only).
    pub fn is_structural(&self) -> bool {
        self.structural
    }

    fn compiled(&self) -> &Compiled {
        &self.compiled
    }
}

/// Kubernetes' OpenAPI model name of a kind: the reversed group, then version and kind.
pub fn model_name(group: &str, version: &str, kind: &str) -> String {
    if group.is_empty() {
        return format!("io.k8s.api.core.{version}.{kind}");
    }
    let reversed: Vec<&str> = group.split('.').rev().collect();
    format!("{}.{version}.{kind}", reversed.join("."))
}

/// `x-kubernetes-group-version-kind` as kube-apiserver puts it on a kind's schema.
pub fn gvk_extension(group: &str, version: &str, kind: &str) -> Value {
    json!([{"group": group, "kind": kind, "version": version}])
}

#[cfg(test)]
mod tests;
