//! The object boilerplate every Karmada kind shares: trait impls, `apiVersion`/`kind` serde, schema, List type.

/// Writes the object boilerplate shared by every Karmada kind in this crate: the struct holding `metadata`, `spec` and
/// an optional `status`, its companion `...List` type, the `k8s_openapi` trait impls, and serde/schemars impls that
/// write `apiVersion` and `kind` themselves (the way `k8s_openapi` objects do) and check them when reading.
macro_rules! karmada_kind {
    (
        $(#[$doc:meta])*
        kind $name:ident, list $list:ident {
            group: $group:literal,
            version: $version:literal,
            plural: $plural:literal,
            scope: $scope:ident,
            spec($spec_doc:literal): $spec:ty,
            $(status($status_doc:literal): $status:ty,)?
        }
    ) => {
        $(#[$doc])*
        #[derive(Clone, Debug, Default, PartialEq)]
        pub struct $name {
            /// Standard object metadata: name, namespace, labels, annotations, owner references and so on.
            pub metadata: ::k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
            #[doc = $spec_doc]
            pub spec: $spec,
            $(
                #[doc = $status_doc]
                pub status: Option<$status>,
            )?
        }

        impl ::k8s_openapi::Resource for $name {
            const API_VERSION: &'static str = concat!($group, "/", $version);
            const GROUP: &'static str = $group;
            const KIND: &'static str = stringify!($name);
            const VERSION: &'static str = $version;
            const URL_PATH_SEGMENT: &'static str = $plural;
            type Scope = ::k8s_openapi::$scope;
        }

        impl ::k8s_openapi::ListableResource for $name {
            const LIST_KIND: &'static str = stringify!($list);
        }

        impl ::k8s_openapi::Metadata for $name {
            type Ty = ::k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

            fn metadata(&self) -> &Self::Ty {
                &self.metadata
            }

            fn metadata_mut(&mut self) -> &mut Self::Ty {
                &mut self.metadata
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                #[derive(::serde::Serialize)]
                #[serde(rename_all = "camelCase")]
                struct Wire<'a> {
                    api_version: &'static str,
                    kind: &'static str,
                    metadata: &'a ::k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
                    spec: &'a $spec,
                    $(
                        #[serde(skip_serializing_if = "Option::is_none")]
                        status: Option<&'a $status>,
                    )?
                }
                ::serde::Serialize::serialize(
                    &Wire {
                        api_version: <Self as ::k8s_openapi::Resource>::API_VERSION,
                        kind: <Self as ::k8s_openapi::Resource>::KIND,
                        metadata: &self.metadata,
                        spec: &self.spec,
                        $(status: self.status.as_ref() as Option<&$status>,)?
                    },
                    serializer,
                )
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                #[derive(::serde::Deserialize)]
                #[serde(rename_all = "camelCase")]
                struct Wire {
                    #[serde(default)]
                    api_version: Option<String>,
                    #[serde(default)]
                    kind: Option<String>,
                    #[serde(default)]
                    metadata: ::k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
                    #[serde(default)]
                    spec: $spec,
                    $(
                        #[serde(default)]
                        status: Option<$status>,
                    )?
                }
                let wire = <Wire as ::serde::Deserialize<'de>>::deserialize(deserializer)?;
                $crate::kind::check_type_meta::<Self, D::Error>(
                    wire.api_version.as_deref(),
                    wire.kind.as_deref(),
                )?;
                Ok($name {
                    metadata: wire.metadata,
                    spec: wire.spec,
                    $(status: wire.status as Option<$status>,)?
                })
            }
        }

        impl ::schemars::JsonSchema for $name {
            fn schema_name() -> ::std::borrow::Cow<'static, str> {
                concat!($group, ".", $version, ".", stringify!($name)).into()
            }

            fn json_schema(generator: &mut ::schemars::SchemaGenerator) -> ::schemars::Schema {
                $(#[$doc])*
                #[derive(::schemars::JsonSchema)]
                #[serde(rename_all = "camelCase")]
                #[allow(dead_code)]
                struct Shape {
                    /// The versioned schema of this object: always `group/version` of this kind.
                    api_version: Option<String>,
                    /// The kind of this object, in CamelCase.
                    kind: Option<String>,
                    /// Standard object metadata: name, namespace, labels, annotations, owner references and so on.
                    metadata: ::k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
                    #[doc = $spec_doc]
                    spec: $spec,
                    $(
                        #[doc = $status_doc]
                        status: Option<$status>,
                    )?
                }
                <Shape as ::schemars::JsonSchema>::json_schema(generator)
            }
        }

        #[doc = concat!("A page of `", stringify!($name), "` objects, as a list call returns them.")]
        #[derive(Clone, Debug, Default, PartialEq)]
        pub struct $list {
            /// Standard list metadata: resource version and continue token.
            pub metadata: ::k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta,
            /// The objects in this page.
            pub items: Vec<$name>,
        }

        impl ::k8s_openapi::Resource for $list {
            const API_VERSION: &'static str = concat!($group, "/", $version);
            const GROUP: &'static str = $group;
            const KIND: &'static str = stringify!($list);
            const VERSION: &'static str = $version;
            const URL_PATH_SEGMENT: &'static str = "";
            type Scope = ::k8s_openapi::$scope;
        }

        impl ::k8s_openapi::Metadata for $list {
            type Ty = ::k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta;

            fn metadata(&self) -> &Self::Ty {
                &self.metadata
            }

            fn metadata_mut(&mut self) -> &mut Self::Ty {
                &mut self.metadata
            }
        }

        impl ::serde::Serialize for $list {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                #[derive(::serde::Serialize)]
                #[serde(rename_all = "camelCase")]
                struct Wire<'a> {
                    api_version: &'static str,
                    kind: &'static str,
                    metadata: &'a ::k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta,
                    items: &'a [$name],
                }
                ::serde::Serialize::serialize(
                    &Wire {
                        api_version: <Self as ::k8s_openapi::Resource>::API_VERSION,
                        kind: <Self as ::k8s_openapi::Resource>::KIND,
                        metadata: &self.metadata,
                        items: &self.items,
                    },
                    serializer,
                )
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $list {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                #[derive(::serde::Deserialize)]
                #[serde(rename_all = "camelCase")]
                struct Wire {
                    #[serde(default)]
                    api_version: Option<String>,
                    #[serde(default)]
                    kind: Option<String>,
                    #[serde(default)]
                    metadata: ::k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta,
                    #[serde(default)]
                    items: Option<Vec<$name>>,
                }
                let wire = <Wire as ::serde::Deserialize<'de>>::deserialize(deserializer)?;
                $crate::kind::check_type_meta::<Self, D::Error>(
                    wire.api_version.as_deref(),
                    wire.kind.as_deref(),
                )?;
                Ok($list {
                    metadata: wire.metadata,
                    items: wire.items.unwrap_or_default(),
                })
            }
        }

        impl ::schemars::JsonSchema for $list {
            fn schema_name() -> ::std::borrow::Cow<'static, str> {
                concat!($group, ".", $version, ".", stringify!($list)).into()
            }

            fn json_schema(generator: &mut ::schemars::SchemaGenerator) -> ::schemars::Schema {
                #[doc = concat!("A page of `", stringify!($name), "` objects, as a list call returns them.")]
                #[derive(::schemars::JsonSchema)]
                #[serde(rename_all = "camelCase")]
                #[allow(dead_code)]
                struct Shape {
                    /// The versioned schema of this list: always `group/version` of the listed kind.
                    api_version: Option<String>,
                    /// The kind of this list: the listed kind followed by `List`.
                    kind: Option<String>,
                    /// Standard list metadata: resource version and continue token.
                    metadata: ::k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta,
                    /// The objects in this page.
                    items: Vec<$name>,
                }
                <Shape as ::schemars::JsonSchema>::json_schema(generator)
            }
        }
    };
}
pub(crate) use karmada_kind;

/// Rejects an object whose `apiVersion` or `kind`, when present, is not the one of the Rust type it is read into.
#[doc(hidden)]
pub fn check_type_meta<R: k8s_openapi::Resource, E: serde::de::Error>(
    api_version: Option<&str>,
    kind: Option<&str>,
) -> Result<(), E> {
    if let Some(api_version) = api_version.filter(|v| *v != R::API_VERSION) {
        return Err(E::invalid_value(serde::de::Unexpected::Str(api_version), &R::API_VERSION));
    }
    if let Some(kind) = kind.filter(|k| *k != R::KIND) {
        return Err(E::invalid_value(serde::de::Unexpected::Str(kind), &R::KIND));
    }
    Ok(())
}
