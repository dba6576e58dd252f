//! Stored bytes ⇄ objects: the resourceVersion lives in the revision, and decoded objects are shared per version.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, OnceLock},
};

use bytes::Bytes;
use parking_lot::Mutex;
use serde_json::Value;

use crate::{
    machinery::{ApiError, Object},
    registry::Strategy,
    storage::{KeyValue, Revision},
};

/// How one served version reads and writes stored objects: its `apiVersion` and kind, and, when objects are stored at
/// another version, the strategy that converts between the two.
#[derive(Clone)]
pub(crate) struct Codec {
    api_version: String,
    kind: String,
    conversion: Option<Conversion>,
}

/// The conversion of a version served from another version's storage.
#[derive(Clone)]
struct Conversion {
    strategy: Arc<dyn Strategy>,
    version: String,
    storage_version: String,
}

impl Codec {
    /// The codec of `strategy`'s resource: converting when its storage version is not the served one.
    pub(crate) fn new(strategy: &Arc<dyn Strategy>) -> Self {
        let info = strategy.info();
        let mut codec = Self::plain(&info.api_version(), &info.kind);
        if strategy.storage_version() != info.version {
            codec.conversion = Some(Conversion {
                strategy: Arc::clone(strategy),
                version: info.version.clone(),
                storage_version: strategy.storage_version().to_string(),
            });
        }
        codec
    }

    /// A codec without conversion.
    pub(crate) fn plain(api_version: &str, kind: &str) -> Self {
        Self { api_version: api_version.into(), kind: kind.into(), conversion: None }
    }

    /// The served `apiVersion`.
    pub(crate) fn api_version(&self) -> &str {
        &self.api_version
    }

    /// The served kind.
    pub(crate) fn kind(&self) -> &str {
        &self.kind
    }

    /// Parses stored bytes into the served version, `metadata.resourceVersion` set to `revision`.
    ///
    /// # Errors
    /// 500 when the bytes are not a JSON object or cannot be converted.
    pub(crate) fn decode(&self, value: &[u8], revision: Revision) -> Result<Object, ApiError> {
        let object = decode_value(value, revision, &self.api_version, &self.kind)?;
        let stored_version = object.get("apiVersion").and_then(Value::as_str);
        match &self.conversion {
            Some(conversion) if stored_version != Some(self.api_version.as_str()) => {
                let mut object = conversion.strategy.convert(object, &conversion.version).map_err(|error| {
                    ApiError::internal(format!("stored object could not be converted: {}", error.message))
                })?;
                set_resource_version(&mut object, revision);
                Ok(object)
            }
            _ => Ok(object),
        }
    }

    /// The bytes to store for `object` (of the served version): converted to the storage version, without
    /// `metadata.resourceVersion`.
    ///
    /// # Errors
    /// What the conversion refuses; 500 when the object cannot be serialized.
    pub(crate) fn encode(&self, object: &Object) -> Result<Bytes, ApiError> {
        match &self.conversion {
            Some(conversion) => encode(&conversion.strategy.convert(object.clone(), &conversion.storage_version)?),
            None => encode(object),
        }
    }
}

/// By default, entries beyond this many are not remembered (a list still decodes them, just every time).
pub const DEFAULT_DECODED_OBJECTS: usize = 250_000;

/// One decoded version of one key: the object with `metadata.resourceVersion` set, and its labels once asked for.
#[derive(Debug)]
pub(crate) struct Decoded {
    /// The object as served.
    pub(crate) object: Arc<Object>,
    labels: OnceLock<BTreeMap<String, String>>,
}

impl Decoded {
    fn new(object: Object) -> Self {
        Self { object: Arc::new(object), labels: OnceLock::new() }
    }

    /// `metadata.labels` as a map (non-string values are left out), computed once per version.
    pub(crate) fn labels(&self) -> &BTreeMap<String, String> {
        self.labels.get_or_init(|| labels_of(&self.object))
    }
}

/// `metadata.labels` of `object` as a map; non-string values are left out.
pub(crate) fn labels_of(object: &Object) -> BTreeMap<String, String> {
    object
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|labels| labels.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect())
        .unwrap_or_default()
}

/// Decoded objects by key, each valid for one `mod_revision`; what lists and watches share instead of re-parsing.
#[derive(Debug)]
pub(crate) struct DecodeCache {
    entries: Mutex<HashMap<String, (Revision, Arc<Decoded>)>>,
    /// Most entries remembered.
    limit: usize,
}

impl Default for DecodeCache {
    fn default() -> Self {
        Self::with_limit(DEFAULT_DECODED_OBJECTS)
    }
}

impl DecodeCache {
    /// A cache remembering at most `limit` decoded objects (`0`: none, every read parses).
    pub(crate) fn with_limit(limit: usize) -> Self {
        Self { entries: Mutex::default(), limit }
    }

    /// The most entries it remembers.
    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    /// The decoded form of `kv` (parsed once per key and revision).
    ///
    /// # Errors
    /// 500 when the stored bytes are not a JSON object.
    pub(crate) fn decode(&self, kv: &KeyValue, codec: &Codec) -> Result<Arc<Decoded>, ApiError> {
        if let Some((revision, decoded)) = self.entries.lock().get(&kv.key)
            && *revision == kv.mod_revision
        {
            return Ok(Arc::clone(decoded));
        }
        let decoded = Arc::new(Decoded::new(codec.decode(&kv.value, kv.mod_revision)?));
        self.remember(&kv.key, kv.mod_revision, &decoded);
        Ok(decoded)
    }

    /// Decodes many versions, taking the lock once for the lookups and once for the new entries.
    ///
    /// # Errors
    /// 500 when any stored value is not a JSON object.
    pub(crate) fn decode_all<'a>(
        &self,
        kvs: impl ExactSizeIterator<Item = &'a KeyValue>,
        codec: &Codec,
    ) -> Result<Vec<Arc<Decoded>>, ApiError> {
        let kvs: Vec<&KeyValue> = kvs.collect();
        let mut found: Vec<Option<Arc<Decoded>>> = {
            let entries = self.entries.lock();
            kvs.iter()
                .map(|kv| match entries.get(&kv.key) {
                    Some((revision, decoded)) if *revision == kv.mod_revision => Some(Arc::clone(decoded)),
                    _ => None,
                })
                .collect()
        };
        let mut fresh = Vec::new();
        for (slot, kv) in found.iter_mut().zip(&kvs) {
            if slot.is_none() {
                let decoded = Arc::new(Decoded::new(codec.decode(&kv.value, kv.mod_revision)?));
                fresh.push((kv.key.clone(), kv.mod_revision, Arc::clone(&decoded)));
                *slot = Some(decoded);
            }
        }
        if !fresh.is_empty() {
            let mut entries = self.entries.lock();
            for (key, revision, decoded) in fresh {
                if entries.len() < self.limit || entries.contains_key(&key) {
                    entries.insert(key, (revision, decoded));
                }
            }
        }
        Ok(found.into_iter().flatten().collect())
    }

    /// Remembers an object this server just wrote at `revision`, so the next read need not parse it.
    pub(crate) fn insert(&self, key: &str, revision: Revision, object: Object) {
        self.remember(key, revision, &Arc::new(Decoded::new(object)));
    }

    /// Forgets a key (it was deleted).
    pub(crate) fn forget(&self, key: &str) {
        self.entries.lock().remove(key);
    }

    /// After a complete list of the resource: forgets keys that no longer exist once they make up most entries.
    pub(crate) fn prune(&self, live: usize, is_live: impl Fn(&str) -> bool) {
        let mut entries = self.entries.lock();
        if entries.len() > live.saturating_mul(2).saturating_add(1024) {
            entries.retain(|key, _| is_live(key));
        }
    }

    fn remember(&self, key: &str, revision: Revision, decoded: &Arc<Decoded>) {
        let mut entries = self.entries.lock();
        let full = entries.len() >= self.limit;
        match entries.get_mut(key) {
            Some(slot) if slot.0 <= revision => *slot = (revision, Arc::clone(decoded)),
            Some(_) => {}
            None if !full => {
                entries.insert(key.to_string(), (revision, Arc::clone(decoded)));
            }
            None => {}
        }
    }
}

/// Parses stored bytes and sets `metadata.resourceVersion` to `revision` (and kind/apiVersion when missing).
///
/// # Errors
/// 500 when the bytes are not a JSON object.
pub(crate) fn decode_value(
    value: &[u8],
    revision: Revision,
    api_version: &str,
    kind: &str,
) -> Result<Object, ApiError> {
    let mut object: Object = serde_json::from_slice(value)
        .map_err(|error| ApiError::internal(format!("stored object could not be decoded: {error}")))?;
    let Some(map) = object.as_object_mut() else {
        return Err(ApiError::internal("stored object is not a JSON object"));
    };
    if !map.get("apiVersion").is_some_and(Value::is_string) {
        map.insert("apiVersion".into(), Value::String(api_version.into()));
    }
    if !map.get("kind").is_some_and(Value::is_string) {
        map.insert("kind".into(), Value::String(kind.into()));
    }
    set_resource_version(&mut object, revision);
    Ok(object)
}

/// The bytes to store for `object`: its JSON without `metadata.resourceVersion`.
///
/// # Errors
/// 500 when the object cannot be serialized (it always can, being JSON).
pub(crate) fn encode(object: &Object) -> Result<Bytes, ApiError> {
    let rv = object.pointer("/metadata/resourceVersion");
    if rv.is_none() {
        return serde_json::to_vec(object).map(Bytes::from).map_err(ApiError::internal);
    }
    let mut copy = object.clone();
    if let Some(metadata) = copy.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.remove("resourceVersion");
    }
    serde_json::to_vec(&copy).map(Bytes::from).map_err(ApiError::internal)
}

/// Sets `metadata.resourceVersion` to the decimal revision (creating `metadata` if needed).
pub(crate) fn set_resource_version(object: &mut Object, revision: Revision) {
    if let Some(map) = object.as_object_mut() {
        let metadata = map.entry("metadata").or_insert_with(|| Value::Object(Default::default()));
        if let Some(metadata) = metadata.as_object_mut() {
            metadata.insert("resourceVersion".into(), Value::String(revision.to_string()));
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn kv(key: &str, value: &Value, revision: Revision) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Bytes::from(serde_json::to_vec(value).unwrap_or_default()),
            create_revision: revision,
            mod_revision: revision,
        }
    }

    #[test]
    fn stored_bytes_never_carry_the_resource_version() {
        let object = json!({"kind": "ConfigMap", "metadata": {"name": "a", "resourceVersion": "12"}});
        let bytes = encode(&object).unwrap_or_default();
        let stored: Value = serde_json::from_slice(&bytes).unwrap_or_default();
        assert_eq!(stored, json!({"kind": "ConfigMap", "metadata": {"name": "a"}}));
    }

    #[test]
    fn decoded_objects_carry_their_revision_kind_and_api_version() {
        let cache = DecodeCache::default();
        let decoded =
            cache.decode(&kv("/r/a", &json!({"metadata": {"name": "a"}}), 7), &Codec::plain("v1", "ConfigMap"));
        let object = decoded.map(|d| (*d.object).clone()).unwrap_or_default();
        assert_eq!(
            object,
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "resourceVersion": "7"}})
        );
    }

    #[test]
    fn one_version_is_parsed_once_and_a_newer_one_replaces_it() {
        let cache = DecodeCache::default();
        let codec = Codec::plain("v1", "X");
        let first = cache.decode(&kv("/r/a", &json!({"metadata": {}}), 3), &codec).ok();
        let again = cache.decode(&kv("/r/a", &json!({"metadata": {}}), 3), &codec).ok();
        assert!(matches!((&first, &again), (Some(a), Some(b)) if Arc::ptr_eq(a, b)));
        let newer = cache.decode_all([kv("/r/a", &json!({"metadata": {"x": 1}}), 4)].iter(), &codec).ok();
        let newer = newer.and_then(|mut list| list.pop()).map(|d| d.object["metadata"]["resourceVersion"].clone());
        assert_eq!(newer, Some(json!("4")));
    }

    #[test]
    fn corrupt_stored_values_are_internal_errors() {
        let bad =
            KeyValue { key: "/r/a".into(), value: Bytes::from_static(b"[1"), create_revision: 1, mod_revision: 1 };
        assert_eq!(
            DecodeCache::default().decode(&bad, &Codec::plain("v1", "X")).map(|_| ()).map_err(|e| e.code),
            Err(500)
        );
    }
}
