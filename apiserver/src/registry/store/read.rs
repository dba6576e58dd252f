//! GET and LIST: resourceVersion semantics, the watch cache or storage at a revision, selectors, paging.

use std::sync::Arc;

use serde_json::json;

use super::{ObjectList, ResourceStore, codec::Decoded, meta};
use crate::{
    machinery::{
        ApiError, Object,
        continue_token::{self, ContinueToken},
        fields, labels,
        options::{GetOptions, ListOptions, ResourceVersionMatch},
    },
    registry::Strategy,
    storage::{ListRequest, Revision, StoreError},
};

/// Largest page read from storage while refilling a filtered list.
const MAX_PAGE: usize = 10_000;

const EXPIRED_LIST: &str = "The resourceVersion for the provided list is too old.";

pub(super) async fn get(
    store: &ResourceStore,
    namespace: Option<&str>,
    name: &str,
    options: &GetOptions,
) -> Result<Object, ApiError> {
    let key = store.key(namespace, name)?;
    let gr = store.group_resource();
    let found = if options.resource_version.is_empty() {
        store.store.get(&key).await.map_err(|e| ApiError::from_store(e, &gr, name))?.map(Arc::new)
    } else {
        let min = parse_resource_version(&options.resource_version)?;
        if min > store.cache.revision() {
            let current = store.store.current_revision().await.map_err(|e| ApiError::from_store(e, &gr, name))?;
            if min > current {
                return Err(ApiError::resource_version_too_large(min, current));
            }
        }
        store.cache.get(&key, store.cache_floor(Some(min))).await.map_err(|e| store.cache_error(e, name))?
    };
    match found {
        Some(kv) => Ok((*store.decode(&kv)?.object).clone()),
        None => Err(ApiError::not_found(&gr, name)),
    }
}

/// A resourceVersion parameter as a revision (`"0"` = any).
///
/// # Errors
/// 400 for anything but a non-negative decimal integer.
pub(super) fn parse_resource_version(text: &str) -> Result<Revision, ApiError> {
    text.parse::<u64>().ok().and_then(|value| Revision::try_from(value).ok()).ok_or_else(|| {
        ApiError::bad_request(format!("invalid resource version: {text:?} is not a valid resource version"))
    })
}

/// Which objects a list or watch selects: label and field selectors, fields resolved through the strategy.
#[derive(Clone)]
pub(super) struct Predicate {
    labels: labels::Selector,
    fields: fields::Selector,
    strategy: Arc<dyn Strategy>,
}

impl Predicate {
    /// The predicate of `options`.
    ///
    /// # Errors
    /// 400 `field label not supported: <field>` for a field the kind cannot select on.
    pub(super) fn new(store: &ResourceStore, options: &ListOptions) -> Result<Self, ApiError> {
        let strategy = Arc::clone(store.strategy());
        let probe = json!({});
        for field in options.field_selector.fields() {
            let selectable = match field {
                "metadata.name" => true,
                "metadata.namespace" => strategy.namespace_is_selectable(),
                other => strategy.field_value(&probe, other).is_some(),
            };
            if !selectable {
                return Err(ApiError::bad_request(format!("field label not supported: {field}")));
            }
        }
        Ok(Self { labels: options.label_selector.clone(), fields: options.field_selector.clone(), strategy })
    }

    /// Whether nothing is filtered out.
    pub(super) fn is_empty(&self) -> bool {
        self.labels.is_empty() && self.fields.is_empty()
    }

    /// Whether `decoded` is selected.
    pub(super) fn matches(&self, decoded: &Decoded) -> bool {
        if !self.labels.is_empty() && !self.labels.matches(decoded.labels()) {
            return false;
        }
        self.matches_fields(&decoded.object)
    }

    fn matches_fields(&self, object: &Object) -> bool {
        if self.fields.is_empty() {
            return true;
        }
        self.fields.matches(|field| match field {
            "metadata.name" => Some(meta::name(object).to_string()),
            "metadata.namespace" => Some(meta::namespace(object).to_string()),
            other => self.strategy.field_value(object, other),
        })
    }
}

/// The prefix a list or watch covers: the request's namespace, or the one a `metadata.namespace=` selector names.
pub(super) fn selection_prefix(store: &ResourceStore, namespace: Option<&str>, options: &ListOptions) -> String {
    let namespace = namespace.filter(|ns| !ns.is_empty()).or_else(|| {
        options.field_selector.required_value("metadata.namespace").filter(|ns| !ns.is_empty() && !ns.contains('/'))
    });
    store.list_prefix(namespace)
}

pub(super) async fn list(
    store: &ResourceStore,
    namespace: Option<&str>,
    options: &ListOptions,
) -> Result<ObjectList, ApiError> {
    let predicate = Predicate::new(store, options)?;
    let prefix = selection_prefix(store, namespace, options);
    let limit = usize::try_from(options.limit.max(0)).unwrap_or(usize::MAX);
    if !options.continue_token.is_empty() {
        let token = continue_token::decode_for_list(&options.continue_token, &options.resource_version)?;
        let revision = if token.is_inconsistent() { 0 } else { token.resource_version };
        let start = token.start_key(&prefix);
        return from_storage(store, &prefix, revision, Some(start), limit, &predicate, Some(&token)).await;
    }
    let requested = if options.resource_version.is_empty() {
        None
    } else {
        Some(parse_resource_version(&options.resource_version)?)
    };
    match (requested, options.resource_version_match) {
        (Some(revision), Some(ResourceVersionMatch::Exact)) => {
            from_storage(store, &prefix, revision, None, limit, &predicate, None).await
        }
        (Some(revision), None) if revision > 0 && limit > 0 => {
            from_storage(store, &prefix, revision, None, limit, &predicate, None).await
        }
        (None, _) if limit > 0 => from_storage(store, &prefix, 0, None, limit, &predicate, None).await,
        (requested, _) => {
            let min = store.cache_floor(requested);
            from_cache(store, &prefix, min, limit, &predicate).await
        }
    }
}

async fn from_cache(
    store: &ResourceStore,
    prefix: &str,
    min: Revision,
    limit: usize,
    predicate: &Predicate,
) -> Result<ObjectList, ApiError> {
    let cached = store.cache.list(prefix, min).await.map_err(|e| store.cache_error(e, ""))?;
    let decoded = store.decoded.decode_all(cached.items.iter().map(|kv| &**kv), &store.codec)?;
    if prefix == store.prefix {
        store
            .decoded
            .prune(cached.items.len(), |key| cached.items.binary_search_by(|kv| kv.key.as_str().cmp(key)).is_ok());
    }
    let mut list = ObjectList { resource_version: cached.revision.to_string(), ..ObjectList::default() };
    let mut last_key: Option<&str> = None;
    for (index, (kv, entry)) in cached.items.iter().zip(&decoded).enumerate() {
        if !predicate.matches(entry) {
            continue;
        }
        if limit > 0 && list.items.len() == limit {
            let token = ContinueToken::after(last_key.unwrap_or_default(), prefix, cached.revision)?;
            list.continue_token = Some(token.encode());
            if predicate.is_empty() {
                list.remaining_item_count = i64::try_from(decoded.len() - index).ok();
            }
            break;
        }
        list.items.push(Arc::clone(&entry.object));
        last_key = Some(&kv.key);
    }
    Ok(list)
}

/// A list read from storage at `revision` (`0` = latest), from `start` (a full key), refilling filtered pages.
async fn from_storage(
    store: &ResourceStore,
    prefix: &str,
    revision: Revision,
    start: Option<String>,
    limit: usize,
    predicate: &Predicate,
    continuing: Option<&ContinueToken>,
) -> Result<ObjectList, ApiError> {
    let mut revision = revision;
    let mut start_key = start.clone();
    let mut page = limit;
    let mut list = ObjectList::default();
    loop {
        let request = ListRequest { prefix: prefix.to_string(), revision, start_key: start_key.clone(), limit: page };
        let response = match store.store.list(request).await {
            Ok(response) => response,
            Err(error) => return Err(list_error(store, error, continuing)),
        };
        if revision == 0 {
            revision = response.revision;
        }
        let decoded = store.decoded.decode_all(response.items.iter(), &store.codec)?;
        for (index, (kv, entry)) in response.items.iter().zip(&decoded).enumerate() {
            if !predicate.matches(entry) {
                continue;
            }
            list.items.push(Arc::clone(&entry.object));
            if limit > 0 && list.items.len() == limit {
                let left_in_page = response.items.len() - index - 1;
                if left_in_page > 0 || response.has_more() {
                    list.continue_token = Some(ContinueToken::after(&kv.key, prefix, revision)?.encode());
                    if predicate.is_empty() {
                        let remaining = response.remaining.saturating_add(left_in_page as u64);
                        list.remaining_item_count = i64::try_from(remaining).ok();
                    }
                }
                list.resource_version = revision.to_string();
                return Ok(list);
            }
        }
        match response.next_start_key() {
            Some(next) if limit > 0 => {
                start_key = Some(next);
                if !predicate.is_empty() {
                    page = page.saturating_mul(2).min(MAX_PAGE).max(limit);
                }
            }
            _ => break,
        }
    }
    list.resource_version = revision.to_string();
    Ok(list)
}

fn list_error(store: &ResourceStore, error: StoreError, continuing: Option<&ContinueToken>) -> ApiError {
    match (error, continuing) {
        (StoreError::Compacted { .. }, Some(token)) => token.expired_error(),
        (StoreError::Compacted { .. }, None) => ApiError::expired(EXPIRED_LIST),
        (other, _) => ApiError::from_store(other, &store.group_resource(), ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_versions_are_decimal_revisions() {
        assert_eq!(parse_resource_version("0").ok(), Some(0));
        assert_eq!(parse_resource_version("123").ok(), Some(123));
        assert_eq!(parse_resource_version("-1").map_err(|e| e.code), Err(400));
        assert_eq!(parse_resource_version("abc").map_err(|e| e.code), Err(400));
    }
}
