//! One group-version's OpenAPI 3.0 document: component schemas and the operations of each served resource.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::{
    auth::reviews::VirtualResource,
    registry::{ResourceInfo, ResourceStore},
    schema::{self, KindSchema, LIST_META, REF_PREFIX},
};

const STATUS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";
const DELETE_OPTIONS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions";
const PATCH: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";
const API_RESOURCE_LIST: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.APIResourceList";

fn reference(name: &str) -> Value {
    json!({"$ref": format!("{REF_PREFIX}{name}")})
}

/// `apps` → `Apps`, `rbac.authorization.k8s.io` → `RbacAuthorization`, `policy.karmada.io` → `PolicyKarmadaIo`.
fn group_words(group: &str) -> Vec<String> {
    if group.is_empty() {
        return vec!["Core".into()];
    }
    group
        .strip_suffix(".k8s.io")
        .unwrap_or(group)
        .split(['.', '-'])
        .filter(|w| !w.is_empty())
        .map(capitalized)
        .collect()
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

fn article(kind: &str) -> &'static str {
    if kind.starts_with(['A', 'E', 'I', 'O', 'U']) { "an" } else { "a" }
}

fn query(name: &str, description: &str, kind: &str) -> Value {
    json!({"name": name, "in": "query", "description": description, "schema": {"type": kind, "uniqueItems": true}})
}

fn path_parameter(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "path", "description": description, "required": true,
        "schema": {"type": "string", "uniqueItems": true}})
}

fn pretty() -> Value {
    query("pretty", "If 'true', the output is indented.", "string")
}

fn dry_run() -> Value {
    query(
        "dryRun",
        "When present (the only value is 'All'), the request is validated but nothing is persisted.",
        "string",
    )
}

fn field_manager() -> Value {
    query("fieldManager", "A name for the actor making these changes, recorded in managedFields.", "string")
}

fn field_validation() -> Value {
    query(
        "fieldValidation",
        "How to treat unknown or duplicate fields in the body: Ignore (drop them), Warn (drop them with a warning, \
         the default) or Strict (fail the request).",
        "string",
    )
}

fn list_parameters() -> Vec<Value> {
    vec![
        query("allowWatchBookmarks", "Ask for BOOKMARK events in a watch.", "boolean"),
        query("continue", "The token of the next page of a chunked list.", "string"),
        query("fieldSelector", "Restrict the objects returned by their fields.", "string"),
        query("labelSelector", "Restrict the objects returned by their labels.", "string"),
        query("limit", "The maximum number of objects to return in one page.", "integer"),
        query("resourceVersion", "Which state to read: see resourceVersionMatch.", "string"),
        query("resourceVersionMatch", "How resourceVersion applies: Exact or NotOlderThan.", "string"),
        query("sendInitialEvents", "Start a watch with ADDED events for the current state.", "boolean"),
        query("timeoutSeconds", "End the list or watch after this many seconds.", "integer"),
        query("watch", "Watch for changes instead of listing.", "boolean"),
    ]
}

fn delete_parameters() -> Vec<Value> {
    vec![
        dry_run(),
        query("gracePeriodSeconds", "Seconds before the object is deleted.", "integer"),
        query("orphanDependents", "Deprecated: use propagationPolicy.", "boolean"),
        query(
            "propagationPolicy",
            "Whether and how dependents are collected: Orphan, Background or Foreground.",
            "string",
        ),
    ]
}

fn content(schema: &Value) -> Value {
    json!({"application/json": {"schema": schema}, "application/yaml": {"schema": schema}})
}

fn response(description: &str, schema: &Value) -> Value {
    json!({"description": description, "content": content(schema)})
}

/// What the operations of one resource share.
struct Resource<'a> {
    info: &'a ResourceInfo,
    kind_ref: Value,
    list_ref: Value,
    tag: String,
    id_prefix: String,
    strategic: bool,
}

impl Resource<'_> {
    #[allow(clippy::too_many_arguments)]
    fn operation(
        &self,
        verb: &str,
        scope: &str,
        suffix: &str,
        description: String,
        action: &str,
        parameters: Vec<Value>,
        responses: Value,
    ) -> Map<String, Value> {
        let info = self.info;
        let id = format!("{verb}{}{scope}{}{suffix}", self.id_prefix, info.kind);
        let mut operation = Map::new();
        operation.insert("tags".into(), json!([self.tag]));
        operation.insert("description".into(), description.into());
        operation.insert("operationId".into(), id.into());
        if !parameters.is_empty() {
            operation.insert("parameters".into(), parameters.into());
        }
        operation.insert("responses".into(), responses);
        operation.insert("x-kubernetes-action".into(), action.into());
        operation.insert(
            "x-kubernetes-group-version-kind".into(),
            json!({"group": info.group, "version": info.version, "kind": info.kind}),
        );
        operation
    }

    /// POST of the collection in `scope`: creates one object (201/202), with its body.
    fn create_operation(&self, scope: &str) -> Map<String, Value> {
        let kind = &self.info.kind;
        let description = format!("create {} {kind}", article(kind));
        let parameters = vec![dry_run(), field_manager(), field_validation()];
        let mut create = self.operation("create", scope, "", description, "post", parameters, self.written(true, true));
        create.insert("requestBody".into(), self.body());
        create
    }

    fn ok(&self) -> Value {
        json!({"200": response("OK", &self.kind_ref), "401": {"description": "Unauthorized"}})
    }

    fn written(&self, created: bool, accepted: bool) -> Value {
        let mut responses = json!({"200": response("OK", &self.kind_ref), "401": {"description": "Unauthorized"}});
        if created {
            responses["201"] = response("Created", &self.kind_ref);
        }
        if accepted {
            responses["202"] = response("Accepted", &self.kind_ref);
        }
        responses
    }

    fn body(&self) -> Value {
        json!({"content": {"*/*": {"schema": self.kind_ref}}, "required": true})
    }

    fn patch_body(&self) -> Value {
        let patch = json!({"schema": reference(PATCH)});
        let mut types =
            vec!["application/apply-patch+yaml", "application/json-patch+json", "application/merge-patch+json"];
        if self.strategic {
            types.push("application/strategic-merge-patch+json");
        }
        let content: Map<String, Value> = types.into_iter().map(|t| (t.to_string(), patch.clone())).collect();
        json!({"content": content, "required": true})
    }

    fn delete_body() -> Value {
        json!({"content": {"*/*": {"schema": reference(DELETE_OPTIONS)}}})
    }

    /// GET/PUT/PATCH of `/{name}` or `/{name}/status` (`subresource` = `""` or `"status"`).
    fn item_operations(&self, scope: &str, subresource: &str) -> Map<String, Value> {
        let kind = &self.info.kind;
        let (suffix, of) = if subresource.is_empty() {
            (String::new(), String::new())
        } else {
            (capitalized(subresource), format!(" {subresource} of"))
        };
        let mut path = Map::new();
        path.insert(
            "get".into(),
            self.operation("read", scope, &suffix, format!("read{of} the specified {kind}"), "get", vec![], self.ok())
                .into(),
        );
        let mut put = self.operation(
            "replace",
            scope,
            &suffix,
            format!("replace{of} the specified {kind}"),
            "put",
            vec![dry_run(), field_manager(), field_validation()],
            self.written(true, false),
        );
        put.insert("requestBody".into(), self.body());
        path.insert("put".into(), put.into());
        let mut patch = self.operation(
            "patch",
            scope,
            &suffix,
            format!("partially update{of} the specified {kind}"),
            "patch",
            vec![
                dry_run(),
                field_manager(),
                field_validation(),
                query("force", "Take over fields owned by other managers (server-side apply only).", "boolean"),
            ],
            self.written(true, false),
        );
        patch.insert("requestBody".into(), self.patch_body());
        path.insert("patch".into(), patch.into());
        path
    }
}

/// The document of `group`/`version` serving `stores`.
pub(super) fn build(group: &str, version: &str, stores: &[&ResourceStore], virtuals: &[&VirtualResource]) -> Value {
    let prefix = if group.is_empty() { format!("/api/{version}") } else { format!("/apis/{group}/{version}") };
    let words = group_words(group);
    let version_word = capitalized(version);
    let id_prefix = format!("{}{version_word}", words.concat());
    let mut tag_words = words.clone();
    if let Some(first) = tag_words.first_mut() {
        *first = first.to_lowercase();
    }
    let tag = format!("{}_{version}", tag_words.concat());

    let mut schemas: Map<String, Value> = Map::new();
    for (name, schema) in schema::common_components() {
        schemas.insert(name.clone(), schema.as_ref().clone());
    }
    let mut paths: Map<String, Value> = Map::new();
    paths.insert(
        format!("{prefix}/"),
        json!({"get": {"tags": [tag], "description": "get available resources",
            "operationId": format!("get{id_prefix}APIResources"),
            "responses": {"200": response("OK", &reference(API_RESOURCE_LIST)), "401": {"description": "Unauthorized"}}}}),
    );

    for store in stores {
        let info = store.info();
        let strategy = store.strategy();
        let kind_schema: Arc<KindSchema> = strategy
            .kind_schema()
            .unwrap_or_else(|| Arc::new(KindSchema::unstructured(&info.group, &info.version, &info.kind)));
        for (name, schema) in kind_schema.components() {
            schemas.entry(name.clone()).or_insert_with(|| schema.as_ref().clone());
        }
        let kind_name = kind_schema.name().to_string();
        let list_name = match kind_name.strip_suffix(info.kind.as_str()) {
            Some(stem) => format!("{stem}{}", info.list_kind),
            None => format!("{kind_name}List"),
        };
        schemas.insert(list_name.clone(), list_schema(info, &kind_name));
        let resource = Resource {
            info,
            kind_ref: reference(&kind_name),
            list_ref: reference(&list_name),
            tag: tag.clone(),
            id_prefix: id_prefix.clone(),
            strategic: strategy.merge_schema().is_some(),
        };
        add_paths(&mut paths, &prefix, &resource);
    }
    for resource in virtuals {
        let kind_schema = (resource.schema)();
        for (name, schema) in kind_schema.components() {
            schemas.entry(name.clone()).or_insert_with(|| schema.as_ref().clone());
        }
        let kind_ref = reference(kind_schema.name());
        let resource = Resource {
            info: &resource.info,
            list_ref: kind_ref.clone(),
            kind_ref,
            tag: tag.clone(),
            id_prefix: id_prefix.clone(),
            strategic: false,
        };
        add_create_path(&mut paths, &prefix, &resource);
    }

    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": concat!("flotilla-", env!("CARGO_PKG_VERSION"))},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"BearerToken": {"type": "apiKey", "description": "Bearer Token authentication",
                "name": "authorization", "in": "header"}},
        },
        "security": [{"BearerToken": []}],
    })
}

/// The one path of a create-only resource (the review APIs): POST of its collection.
fn add_create_path(paths: &mut Map<String, Value>, prefix: &str, resource: &Resource<'_>) {
    let info = resource.info;
    let (path, scope, mut parameters) = if info.namespaced {
        let namespace = path_parameter("namespace", "object name and auth scope, such as for teams and projects");
        (format!("{prefix}/namespaces/{{namespace}}/{}", info.plural), "Namespaced", vec![namespace])
    } else {
        (format!("{prefix}/{}", info.plural), "", vec![])
    };
    let create = resource.create_operation(scope);
    parameters.push(pretty());
    paths.insert(path, json!({"post": create, "parameters": parameters}));
}

fn add_paths(paths: &mut Map<String, Value>, prefix: &str, resource: &Resource<'_>) {
    let info = resource.info;
    let kind = &info.kind;
    let plural = &info.plural;
    let list_responses = json!({"200": response("OK", &resource.list_ref), "401": {"description": "Unauthorized"}});
    let status_responses = json!({"200": response("OK", &reference(STATUS)), "401": {"description": "Unauthorized"}});
    let (collection, scope, scope_parameters) = if info.namespaced {
        let all = resource.operation(
            "list",
            "",
            "ForAllNamespaces",
            format!("list or watch objects of kind {kind}"),
            "list",
            list_parameters(),
            list_responses.clone(),
        );
        paths.insert(format!("{prefix}/{plural}"), json!({"get": all, "parameters": [pretty()]}));
        let namespace = path_parameter("namespace", "object name and auth scope, such as for teams and projects");
        (format!("{prefix}/namespaces/{{namespace}}/{plural}"), "Namespaced", vec![namespace])
    } else {
        (format!("{prefix}/{plural}"), "", vec![])
    };

    let mut collection_path = Map::new();
    let list = resource.operation(
        "list",
        scope,
        "",
        format!("list or watch objects of kind {kind}"),
        "list",
        list_parameters(),
        list_responses,
    );
    collection_path.insert("get".into(), list.into());
    let create = resource.create_operation(scope);
    collection_path.insert("post".into(), create.into());
    let mut collection_parameters = list_parameters();
    collection_parameters.extend(delete_parameters());
    collection_parameters.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    collection_parameters.dedup_by(|a, b| a["name"] == b["name"]);
    collection_parameters.retain(|p| p["name"] != "watch" && p["name"] != "allowWatchBookmarks");
    let mut delete_collection = resource.operation(
        "delete",
        &format!("Collection{scope}"),
        "",
        format!("delete collection of {kind}"),
        "deletecollection",
        collection_parameters,
        status_responses.clone(),
    );
    delete_collection.insert("requestBody".into(), Resource::delete_body());
    collection_path.insert("delete".into(), delete_collection.into());
    let mut parameters = scope_parameters.clone();
    parameters.push(pretty());
    collection_path.insert("parameters".into(), parameters.into());
    paths.insert(collection.clone(), collection_path.into());

    let name = path_parameter("name", &format!("name of the {kind}"));
    let mut item_path = resource.item_operations(scope, "");
    let mut delete = resource.operation(
        "delete",
        scope,
        "",
        format!("delete {} {kind}", article(kind)),
        "delete",
        delete_parameters(),
        json!({"200": response("OK", &reference(STATUS)), "202": response("Accepted", &reference(STATUS)),
            "401": {"description": "Unauthorized"}}),
    );
    delete.insert("requestBody".into(), Resource::delete_body());
    item_path.insert("delete".into(), delete.into());
    let mut item_parameters = vec![name];
    item_parameters.extend(scope_parameters);
    item_parameters.push(pretty());
    item_path.insert("parameters".into(), item_parameters.clone().into());
    paths.insert(format!("{collection}/{{name}}"), item_path.into());

    if info.status_subresource {
        let mut status_path = resource.item_operations(scope, "status");
        status_path.insert("parameters".into(), item_parameters.into());
        paths.insert(format!("{collection}/{{name}}/status"), status_path.into());
    }
}

/// `<Kind>List`: `items` of the kind and `ListMeta` metadata, with its own group-version-kind.
fn list_schema(info: &ResourceInfo, kind_name: &str) -> Value {
    json!({
        "description": format!("{} is a list of {}", info.list_kind, info.kind),
        "type": "object",
        "required": ["items"],
        "properties": {
            "apiVersion": {"description": "APIVersion defines the versioned schema of this representation of an object.", "type": "string"},
            "items": {"description": format!("List of {}.", info.plural), "type": "array", "items": reference(kind_name)},
            "kind": {"description": "Kind is a string value representing the REST resource this object represents.", "type": "string"},
            "metadata": {"allOf": [reference(LIST_META)], "description": "Standard list metadata."},
        },
        "x-kubernetes-group-version-kind": schema::gvk_extension(&info.group, &info.version, &info.list_kind),
    })
}
