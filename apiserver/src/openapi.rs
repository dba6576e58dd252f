//! OpenAPI documents of the served resources (`/openapi/v3` and one per group-version; `/openapi/v2`), cached per resource set.

mod document;
mod gnostic;
mod v2;

use std::{
    collections::BTreeMap,
    sync::{Arc, OnceLock},
};

use bytes::Bytes;
use parking_lot::Mutex;
use serde_json::{Value, json};
use sha2::{Digest, Sha512};

use crate::{
    auth::reviews::VirtualResource,
    registry::{Registry, ResourceStore},
};

/// How many resource sets' documents are kept (a server has one registry; tests may have several).
const CACHED_GENERATIONS: usize = 4;

/// One group-version's document, serialized once.
struct GroupVersionDocument {
    value: Arc<Value>,
    json: Bytes,
    hash: String,
}

/// Every document of one registry generation.
struct Documents {
    generation: u64,
    root: Arc<Value>,
    root_json: Bytes,
    root_hash: String,
    group_versions: BTreeMap<(String, String), Arc<GroupVersionDocument>>,
    /// `/openapi/v2`, built when first asked for.
    v2: OnceLock<Arc<SwaggerDocument>>,
}

/// The Swagger 2.0 document, serialized once as JSON and once as gnostic protobuf.
pub struct SwaggerDocument {
    /// As JSON.
    pub json: Bytes,
    /// As the protobuf of gnostic's `openapi.v2.Document` (what client-go asks for).
    pub protobuf: Bytes,
    /// Upper-case hex SHA-512 of the JSON (for the `ETag`).
    pub hash: String,
}

/// `/openapi/v3`: `{"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=<HASH>"}, "apis/<g>/<v>":
/// ...}}` for every served group-version. The hash changes whenever that group-version's document does.
pub fn root(registry: &Registry) -> Value {
    documents(registry).root.as_ref().clone()
}

/// [`root`] serialized as JSON, with its hash (for the `ETag`).
pub fn root_json(registry: &Registry) -> (Bytes, String) {
    let documents = documents(registry);
    (documents.root_json.clone(), documents.root_hash.clone())
}

/// The OpenAPI 3.0 document of one group-version (`/openapi/v3/apis/<g>/<v>`, core: group `""`) and its hash
/// (upper-case hex SHA-512 of the JSON, as kube-apiserver computes it; use it for the `ETag` and to compare with
/// the `hash` query parameter); `None` when nothing is served at that group-version.
pub fn group_version(registry: &Registry, group: &str, version: &str) -> Option<(Value, String)> {
    let document = documents(registry).group_versions.get(&(group.to_string(), version.to_string()))?.clone();
    Some((document.value.as_ref().clone(), document.hash.clone()))
}

/// [`group_version`] already serialized as JSON (cheap: the bytes are cached, not copied).
pub fn group_version_json(registry: &Registry, group: &str, version: &str) -> Option<(Bytes, String)> {
    let documents = documents(registry);
    let document = documents.group_versions.get(&(group.to_string(), version.to_string()))?;
    Some((document.json.clone(), document.hash.clone()))
}

/// `/openapi/v2`: one Swagger 2.0 document with every served operation and definition, as JSON and protobuf.
pub fn swagger(registry: &Registry) -> Arc<SwaggerDocument> {
    let documents = documents(registry);
    let built = documents.v2.get_or_init(|| {
        let swagger = v2::build(documents.group_versions.values().map(|d| d.value.as_ref()));
        let json = Bytes::from(serde_json::to_vec(&swagger).unwrap_or_default());
        let hash = hash(&json);
        Arc::new(SwaggerDocument { protobuf: Bytes::from(gnostic::encode(&swagger)), json, hash })
    });
    Arc::clone(built)
}

/// The path under `/openapi/v3/` of a group-version: `api/v1` or `apis/<group>/<version>`.
pub fn group_version_path(group: &str, version: &str) -> String {
    if group.is_empty() { format!("api/{version}") } else { format!("apis/{group}/{version}") }
}

fn documents(registry: &Registry) -> Arc<Documents> {
    static CACHE: Mutex<Vec<Arc<Documents>>> = Mutex::new(Vec::new());
    let generation = registry.generation();
    if let Some(found) = CACHE.lock().iter().find(|d| d.generation == generation) {
        return found.clone();
    }
    let built = Arc::new(build(generation, &registry.resources(), &registry.reviews()));
    let mut cache = CACHE.lock();
    if let Some(found) = cache.iter().find(|d| d.generation == generation) {
        return found.clone();
    }
    if cache.len() >= CACHED_GENERATIONS {
        cache.remove(0);
    }
    cache.push(built.clone());
    built
}

fn build(generation: u64, resources: &[Arc<ResourceStore>], virtuals: &[Arc<VirtualResource>]) -> Documents {
    type Served<'a> = (Vec<&'a ResourceStore>, Vec<&'a VirtualResource>);
    let mut by_group_version: BTreeMap<(String, String), Served<'_>> = BTreeMap::new();
    for resource in resources {
        let info = resource.info();
        by_group_version.entry((info.group.clone(), info.version.clone())).or_default().0.push(resource);
    }
    for resource in virtuals {
        let info = &resource.info;
        by_group_version.entry((info.group.clone(), info.version.clone())).or_default().1.push(resource);
    }
    let mut group_versions = BTreeMap::new();
    let mut paths = serde_json::Map::new();
    for ((group, version), (stores, virtuals)) in by_group_version {
        let value = document::build(&group, &version, &stores, &virtuals);
        let json = Bytes::from(serde_json::to_vec(&value).unwrap_or_default());
        let hash = hash(&json);
        let path = group_version_path(&group, &version);
        paths.insert(path.clone(), json!({"serverRelativeURL": format!("/openapi/v3/{path}?hash={hash}")}));
        group_versions.insert((group, version), Arc::new(GroupVersionDocument { value: Arc::new(value), json, hash }));
    }
    let root = json!({ "paths": paths });
    let root_json = Bytes::from(serde_json::to_vec(&root).unwrap_or_default());
    let root_hash = hash(&root_json);
    Documents { generation, root: Arc::new(root), root_json, root_hash, group_versions, v2: OnceLock::new() }
}

/// Upper-case hex SHA-512, kube-apiserver's OpenAPI v3 document hash.
fn hash(bytes: &[u8]) -> String {
    Sha512::digest(bytes).iter().map(|b| format!("{b:02X}")).collect()
}

#[cfg(test)]
mod tests;
