#!/usr/bin/env python3
"""Generates apiserver/src/protobuf/table.txt: the protobuf wire layout of the built-in kinds Flotilla accepts.

kubectl (1.32+) and client-go typed clients send built-in objects as `application/vnd.kubernetes.protobuf`. The
API server turns such a body into the JSON Kubernetes would have produced by decoding it into its Go type and
marshalling that; the table holds the facts this takes, for every message reachable from the kinds in `ROOTS`:

* field numbers, wire types and the message graph, from the prost structs of the `k8s-pb` crate;
* each field's JSON name, from the serde code of the `k8s-openapi` crate;
* how Go represents each field (pointer or value, `omitempty`, `omitzero`, `json:",inline"`, named slice types),
  from the Go API types of k8s.io/api, k8s.io/apimachinery and k8s.io/apiextensions-apiserver, which the other two
  sources do not record but which decides what Go's JSON encoder writes (`replicas: 0` survives because Replicas
  is a pointer; `hostPort: 0` disappears because HostPort is an `omitempty` value).

The committed table is what the build uses; rerun this only when moving to a newer Kubernetes release, then
review the diff of the table.

Finding the sources (the script stops with a message saying which one is missing):

* crates: in Cargo's registry sources, `$CARGO_HOME/registry/src/*/` (`~/.cargo` by default). k8s-openapi is a
  dependency of the workspace, so `cargo fetch` brings it. k8s-pb is not; fetch it without touching the
  workspace, e.g. `cargo new --lib /tmp/pbfetch && cd /tmp/pbfetch && cargo add k8s-pb@0.9.0 && cargo fetch`
  (or `cargo download k8s-pb==0.9.0` and pass `--k8s-pb DIR`).
* Go sources: `--go-src DIR` where DIR holds `api/`, `apimachinery/` and `apiextensions-apiserver/` checkouts of
  the release matching `--minor` (e.g. `git clone --depth 1 --branch v0.35.7 https://github.com/kubernetes/api`),
  or, by default, the newest `k8s.io/<repo>@v0.<minor>.*` in Go's module cache (`go mod download
  k8s.io/api@v0.35.7 k8s.io/apimachinery@v0.35.7 k8s.io/apiextensions-apiserver@v0.35.7`).

Usage: python3 hack/gen-protobuf-table.py [--minor 35] [--go-src DIR --go-version v0.35.7] [--k8s-pb DIR]
       [--k8s-openapi DIR] [--check]
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import sys
from dataclasses import dataclass, field

OUTPUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "apiserver", "src", "protobuf", "table.txt")

# The kinds whose protobuf bodies are accepted: (apiVersion, kind, proto message). `*` as apiVersion: any
# (DeleteOptions is registered in every group version).
ROOTS = [
    ("v1", "Namespace", "k8s.io.api.core.v1.Namespace"),
    ("v1", "ConfigMap", "k8s.io.api.core.v1.ConfigMap"),
    ("v1", "Secret", "k8s.io.api.core.v1.Secret"),
    ("v1", "Service", "k8s.io.api.core.v1.Service"),
    ("v1", "ServiceAccount", "k8s.io.api.core.v1.ServiceAccount"),
    ("v1", "Event", "k8s.io.api.core.v1.Event"),
    ("v1", "PersistentVolumeClaim", "k8s.io.api.core.v1.PersistentVolumeClaim"),
    ("v1", "Pod", "k8s.io.api.core.v1.Pod"),
    ("v1", "Node", "k8s.io.api.core.v1.Node"),
    ("apps/v1", "Deployment", "k8s.io.api.apps.v1.Deployment"),
    ("apps/v1", "StatefulSet", "k8s.io.api.apps.v1.StatefulSet"),
    ("apps/v1", "DaemonSet", "k8s.io.api.apps.v1.DaemonSet"),
    ("apps/v1", "ReplicaSet", "k8s.io.api.apps.v1.ReplicaSet"),
    ("batch/v1", "Job", "k8s.io.api.batch.v1.Job"),
    ("batch/v1", "CronJob", "k8s.io.api.batch.v1.CronJob"),
    ("networking.k8s.io/v1", "Ingress", "k8s.io.api.networking.v1.Ingress"),
    ("rbac.authorization.k8s.io/v1", "Role", "k8s.io.api.rbac.v1.Role"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding", "k8s.io.api.rbac.v1.RoleBinding"),
    ("rbac.authorization.k8s.io/v1", "ClusterRole", "k8s.io.api.rbac.v1.ClusterRole"),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "k8s.io.api.rbac.v1.ClusterRoleBinding"),
    ("coordination.k8s.io/v1", "Lease", "k8s.io.api.coordination.v1.Lease"),
    (
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
        "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition",
    ),
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview", "k8s.io.api.authorization.v1.SelfSubjectAccessReview"),
    ("authorization.k8s.io/v1", "SubjectAccessReview", "k8s.io.api.authorization.v1.SubjectAccessReview"),
    ("authorization.k8s.io/v1", "SelfSubjectRulesReview", "k8s.io.api.authorization.v1.SelfSubjectRulesReview"),
    ("authorization.k8s.io/v1", "LocalSubjectAccessReview", "k8s.io.api.authorization.v1.LocalSubjectAccessReview"),
    ("authentication.k8s.io/v1", "TokenReview", "k8s.io.api.authentication.v1.TokenReview"),
    ("authentication.k8s.io/v1", "SelfSubjectReview", "k8s.io.api.authentication.v1.SelfSubjectReview"),
    ("authentication.k8s.io/v1", "TokenRequest", "k8s.io.api.authentication.v1.TokenRequest"),
    ("*", "DeleteOptions", "k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions"),
]

META = "k8s.io.apimachinery.pkg.apis.meta.v1."
APIEXT = "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1."

# Messages whose Go types marshal themselves to JSON (custom MarshalJSON), with the fields (number, name, wire
# type) the decoder relies on; the script checks these against k8s-pb so an upstream change cannot go unnoticed.
SPECIALS = {
    META + "Time": ("time", {1: ("seconds", "int64"), 2: ("nanos", "int32")}),
    META + "MicroTime": ("microtime", {1: ("seconds", "int64"), 2: ("nanos", "int32")}),
    META + "Duration": ("duration", {1: ("duration", "int64")}),
    META + "FieldsV1": ("fieldsv1", {1: ("raw", "bytes")}),
    "k8s.io.apimachinery.pkg.api.resource.Quantity": ("quantity", {1: ("string", "string")}),
    "k8s.io.apimachinery.pkg.util.intstr.IntOrString": (
        "intstr",
        {1: ("type", "int64"), 2: ("intval", "int32"), 3: ("strval", "string")},
    ),
    "k8s.io.apimachinery.pkg.runtime.RawExtension": ("rawext", {1: ("raw", "bytes")}),
    APIEXT + "JSON": ("json", {1: ("raw", "bytes")}),
    APIEXT + "JSONSchemaPropsOrArray": (
        "orarray",
        {1: ("schema", APIEXT + "JSONSchemaProps"), 2: ("jsonschemas", APIEXT + "JSONSchemaProps")},
    ),
    APIEXT + "JSONSchemaPropsOrBool": ("orbool", {1: ("allows", "bool"), 2: ("schema", APIEXT + "JSONSchemaProps")}),
    APIEXT + "JSONSchemaPropsOrStringArray": (
        "orstringarray",
        {1: ("schema", APIEXT + "JSONSchemaProps"), 2: ("property", "string")},
    ),
}

# Short names for proto packages in the table.
ALIASES = {
    "k8s.io.api.core.v1": "core",
    "k8s.io.api.apps.v1": "apps",
    "k8s.io.api.batch.v1": "batch",
    "k8s.io.api.networking.v1": "net",
    "k8s.io.api.rbac.v1": "rbac",
    "k8s.io.api.coordination.v1": "coord",
    "k8s.io.api.authorization.v1": "authz",
    "k8s.io.api.authentication.v1": "authn",
    "k8s.io.apimachinery.pkg.apis.meta.v1": "meta",
    "k8s.io.apimachinery.pkg.api.resource": "resource",
    "k8s.io.apimachinery.pkg.util.intstr": "intstr",
    "k8s.io.apimachinery.pkg.runtime": "runtime",
    "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1": "apiext",
}

SCALARS = {"string", "bytes", "int32", "int64", "bool", "double"}


class SourceError(Exception):
    """A source is missing or does not look as expected."""


@dataclass
class PbField:
    tag: int
    rust_name: str  # normalized: no `r#`
    label: str  # "optional", "repeated" or "map"
    kind: str  # a scalar name or a full message name
    map_key: str = ""


@dataclass
class PbMessage:
    name: str  # full proto name
    fields: list[PbField] = field(default_factory=list)


@dataclass
class GoField:
    index: int
    name: str
    type_: str
    json_name: str
    omitempty: bool
    omitzero: bool
    inline: bool


@dataclass
class GoStruct:
    fields: dict[int, GoField] = field(default_factory=dict)  # by proto field number


# ---------------------------------------------------------------------------------------------------------------
# Locating sources


def cargo_registry_dirs() -> list[str]:
    home = os.environ.get("CARGO_HOME") or os.path.join(os.path.expanduser("~"), ".cargo")
    return sorted(glob.glob(os.path.join(home, "registry", "src", "*")))


def find_crate(name: str, version: str, given: str | None) -> str:
    if given:
        if not os.path.isdir(os.path.join(given, "src")):
            raise SourceError(f"--{name} {given}: no src/ directory there")
        return given
    for registry in cargo_registry_dirs():
        candidate = os.path.join(registry, f"{name}-{version}")
        if os.path.isdir(os.path.join(candidate, "src")):
            return candidate
    raise SourceError(
        f"crate {name} {version} is not in Cargo's registry sources ({', '.join(cargo_registry_dirs()) or 'none'}).\n"
        f"  Fetch it without changing the workspace:\n"
        f"    cargo new --lib /tmp/pbfetch && cd /tmp/pbfetch && cargo add {name}@{version} && cargo fetch\n"
        f"  or pass --{name} DIR (an unpacked crate)."
    )


def find_go_sources(minor: int, given: str | None) -> dict[str, str]:
    repos = ["api", "apimachinery", "apiextensions-apiserver"]
    if given:
        found = {repo: os.path.join(given, repo) for repo in repos}
        missing = [path for path in found.values() if not os.path.isdir(path)]
        if missing:
            raise SourceError(f"--go-src {given}: missing {', '.join(missing)}")
        return found
    cache = os.environ.get("GOMODCACHE") or os.path.join(
        os.environ.get("GOPATH") or os.path.join(os.path.expanduser("~"), "go"), "pkg", "mod"
    )
    found = {}
    for repo in repos:
        versions = glob.glob(os.path.join(cache, "k8s.io", f"{repo}@v0.{minor}.*"))
        versions.sort(key=lambda p: [int(x) if x.isdigit() else 0 for x in re.split(r"[.@v-]", p.rsplit("@", 1)[1])])
        if not versions:
            raise SourceError(
                f"Go sources of k8s.io/{repo} v0.{minor}.x are not in Go's module cache ({cache}).\n"
                f"  Run `go mod download k8s.io/{repo}@v0.{minor}.0` (any patch release), or clone\n"
                f"  https://github.com/kubernetes/{repo} at v0.{minor}.x into DIR/{repo} and pass --go-src DIR."
            )
        found[repo] = versions[-1]
    return found


# ---------------------------------------------------------------------------------------------------------------
# k8s-pb: prost structs


def strip_generics(type_: str, wrapper: str) -> str:
    prefix = wrapper + "<"
    if type_.startswith(prefix) and type_.endswith(">"):
        return type_[len(prefix) : -1]
    return type_


def split_generic_args(args: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in args:
        if char == "<":
            depth += 1
        elif char == ">":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return parts


def resolve_rust_path(path: str, module: list[str]) -> tuple[list[str], str]:
    segments = path.split("::")
    current = list(module)
    while segments and segments[0] == "super":
        segments.pop(0)
        current.pop()
    if segments and segments[0] == "crate":
        segments.pop(0)
        current = []
    return current + segments[:-1], segments[-1]


def message_type(type_: str, module: list[str]) -> tuple[list[str], str]:
    for wrapper in ("::core::option::Option", "::prost::alloc::vec::Vec", "::prost::alloc::boxed::Box"):
        type_ = strip_generics(type_, wrapper)
    return resolve_rust_path(type_, module)


def parse_k8s_pb(root: str) -> dict[tuple[str, str], list[tuple[dict[str, str], str, str]]]:
    """Every prost struct by (module path, Rust name): its fields as (prost attribute, Rust name, Rust type)."""
    src = os.path.join(root, "src")
    raw: dict[tuple[str, str], list[tuple[dict[str, str], str, str]]] = {}
    struct_re = re.compile(r"#\[derive\([^\]]*::prost::Message[^\]]*\)\]\s*pub struct (\w+) \{(?:\}|\n(.*?)\n\})", re.S)
    for path in glob.glob(os.path.join(src, "**", "mod.rs"), recursive=True):
        module = os.path.relpath(os.path.dirname(path), src).split(os.sep)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        for match in struct_re.finditer(text):
            entries = []
            lines = (match.group(2) or "").split("\n")
            i = 0
            while i < len(lines):
                line = lines[i].strip()
                i += 1
                attr = re.fullmatch(r"#\[prost\((.*)\)\]", line)
                if not attr:
                    continue
                decl = ""
                depth = 0
                while i < len(lines):
                    part = lines[i].strip()
                    i += 1
                    decl += part
                    depth += part.count("<") - part.count(">")
                    if depth == 0 and decl.endswith(","):
                        break
                field_match = re.fullmatch(r"pub (?:r#)?(\w+):(.*),", decl)
                if not field_match:
                    raise SourceError(f"{path}: cannot read the field declaration {decl!r}")
                entries.append((attr.group(1), field_match.group(1), field_match.group(2).replace(" ", "").replace(",>", ">")))
            raw[(".".join(module), match.group(1))] = [(parse_attr(a), n, t) for a, n, t in entries]
    return raw


def parse_attr(attr: str) -> dict[str, str]:
    result = {}
    for part in re.findall(r'(\w+)(?:\s*=\s*"([^"]*)")?', attr):
        result[part[0]] = part[1]
    return result


def build_pb_messages(raw, rust_to_proto) -> dict[str, PbMessage]:
    messages = {}
    for (module, rust_name), entries in raw.items():
        proto = rust_to_proto[(module, rust_name)]
        message = PbMessage(proto)
        mod_path = module.split(".")
        for attr, name, type_ in entries:
            tag = int(attr["tag"])
            if "btree_map" in attr or "map" in attr:
                key, value = [x.strip() for x in (attr.get("btree_map") or attr["map"]).split(",")]
                if value == "message":
                    inner = split_generic_args(type_[type_.index("<") + 1 : -1])[1]
                    kind = lookup(message_type(inner, mod_path), rust_to_proto, proto)
                else:
                    kind = value
                message.fields.append(PbField(tag, name, "map", kind, key))
                continue
            label = "repeated" if "repeated" in attr else "optional"
            if "message" in attr:
                kind = lookup(message_type(type_, mod_path), rust_to_proto, proto)
            else:
                kind = next((k for k in SCALARS if k in attr), None)
                if kind is None:
                    raise SourceError(f"{proto}.{name}: unknown prost type in {attr}")
            message.fields.append(PbField(tag, name, label, kind))
        messages[proto] = message
    return messages


def lookup(target: tuple[list[str], str], rust_to_proto, where: str) -> str:
    key = (".".join(target[0]), target[1])
    if key not in rust_to_proto:
        raise SourceError(f"{where}: message type {'::'.join(target[0])}::{target[1]} not found in k8s-pb")
    return rust_to_proto[key]


# ---------------------------------------------------------------------------------------------------------------
# Go API types


def go_package_dir(package: str, go: dict[str, str]) -> str | None:
    prefixes = [
        ("k8s.io.api.", go["api"]),
        ("k8s.io.apimachinery.", go["apimachinery"]),
        ("k8s.io.apiextensions_apiserver.", go["apiextensions-apiserver"]),
    ]
    for prefix, root in prefixes:
        if package.startswith(prefix):
            return os.path.join(root, *package[len(prefix) :].split("."))
    return None


def parse_go_package(directory: str) -> tuple[dict[str, GoStruct], dict[str, str]]:
    """Structs (fields by proto number) and the underlying types of named non-struct types."""
    structs: dict[str, GoStruct] = {}
    named: dict[str, str] = {}
    for path in sorted(glob.glob(os.path.join(directory, "*.go"))):
        base = os.path.basename(path)
        if base.endswith("_test.go") or base.startswith("zz_generated") or base.endswith(".pb.go"):
            continue
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        i = 0
        while i < len(lines):
            line = lines[i]
            i += 1
            empty = re.match(r"^type (\w+) struct\s*\{\s*\}", line)
            if empty:
                structs[empty.group(1)] = GoStruct()
                continue
            struct_start = re.match(r"^type (\w+) struct \{\s*$", line)
            if not struct_start:
                other = re.match(r"^type (\w+) (\S.*?)\s*(//.*)?$", line)
                if other and not other.group(2).startswith(("struct", "interface", "=")):
                    named[other.group(1)] = other.group(2)
                continue
            struct = GoStruct()
            index = 0
            while i < len(lines) and lines[i] != "}":
                body = lines[i].strip()
                i += 1
                if "`" not in body or body.startswith("//"):
                    continue
                decl, tag = body.split("`", 1)
                tags = dict(re.findall(r'(\w+):"([^"]*)"', tag))
                if not re.match(r"\w+,\d+,", tags.get("protobuf", "")):
                    continue
                parts = decl.split()
                go_name, go_type = (parts[0].lstrip("*").split(".")[-1], parts[0]) if len(parts) == 1 else parts
                number = int(tags["protobuf"].split(",")[1])
                json_parts = tags.get("json", "").split(",")
                struct.fields[number] = GoField(
                    index,
                    go_name,
                    go_type,
                    json_parts[0],
                    "omitempty" in json_parts[1:],
                    "omitzero" in json_parts[1:],
                    "inline" in json_parts[1:] or (len(parts) == 1 and json_parts[0] == ""),
                )
                index += 1
            structs[struct_start.group(1)] = struct
    return structs, named


# ---------------------------------------------------------------------------------------------------------------
# k8s-openapi: JSON names


def normalize(rust_name: str) -> str:
    return rust_name.removeprefix("r#").rstrip("_").replace("_", "").lower()


def parse_k8s_openapi(root: str, minor: int) -> dict[str, dict[str, str]]:
    """JSON names of every type, by proto name: {normalized Rust field name: JSON name}."""
    src = os.path.join(root, "src", f"v1_{minor}")
    if not os.path.isdir(src):
        raise SourceError(f"k8s-openapi at {root} has no src/v1_{minor}; pick another --minor")
    types = {}
    for path in glob.glob(os.path.join(src, "**", "*.rs"), recursive=True):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        header = re.match(r"// Generated from definition (\S+)", text)
        if not header:
            continue
        definition = header.group(1)
        proto = "k8s.io." + definition.removeprefix("io.k8s.").replace("-", "_")
        names = {}
        for json_name, rust in re.findall(r'"([^"]+)" => Field::Key_(\w+),', text):
            names[normalize(rust)] = json_name
        types[proto] = names
    return types


# ---------------------------------------------------------------------------------------------------------------
# The table


@dataclass
class Field:
    tag: int
    json: str  # "-" for an inlined struct
    shape: str  # "one", "list", "map"
    kind: str
    flags: str


def build(minor: int, pb_root: str, openapi_root: str, go: dict[str, str], go_version: str | None) -> str:
    raw = parse_k8s_pb(pb_root)
    # Rust struct names are case-aligned by k8s-pb (JsonSchemaProps); proto names come from k8s-openapi and Go.
    openapi = parse_k8s_openapi(openapi_root, minor)
    go_cache: dict[str, tuple[dict[str, GoStruct], dict[str, str]]] = {}

    def go_package(package: str):
        if package not in go_cache:
            directory = go_package_dir(package, go)
            go_cache[package] = parse_go_package(directory) if directory and os.path.isdir(directory) else ({}, {})
        return go_cache[package]

    rust_to_proto = {}
    for module, rust_name in raw:
        package = "k8s.io." + module.replace("/", ".")
        structs, named = go_package(package)
        candidates = [n for n in list(structs) + list(named) if n.lower() == rust_name.lower()]
        candidates += [d.rsplit(".", 1)[1] for d in openapi if d.rsplit(".", 1)[0] == package]
        candidates = sorted({c for c in candidates if c.lower() == rust_name.lower()})
        proto_name = candidates[0] if len(candidates) == 1 else rust_name
        rust_to_proto[(module, rust_name)] = f"{package}.{proto_name}"
    messages = build_pb_messages(raw, rust_to_proto)

    missing_roots = [proto for _, _, proto in ROOTS if proto not in messages]
    if missing_roots:
        raise SourceError(f"k8s-pb has no message {', '.join(missing_roots)}")

    # Closure over references.
    order: list[str] = []
    seen = set()
    stack = [proto for _, _, proto in reversed(ROOTS)]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        order.append(name)
        for f in reversed(messages[name].fields):
            if f.kind not in SCALARS and f.kind not in seen:
                stack.append(f.kind)

    problems: list[str] = []
    out_messages: list[tuple[str, str, list[Field]]] = []
    for name in order:
        message = messages[name]
        package, short = name.rsplit(".", 1)
        structs, named = go_package(package)
        special = ""
        if name in SPECIALS:
            special, expected = SPECIALS[name]
            actual = {f.tag: (normalize(f.rust_name), f.kind) for f in message.fields}
            if actual != expected:
                problems.append(f"{name}: fields {actual} differ from what the decoder expects {expected}")
        elif short in named and named[short].startswith("[]"):
            special = "list"
            if [(f.tag, f.label) for f in message.fields] != [(1, "repeated")]:
                problems.append(f"{name}: a named slice type whose message is not `repeated items = 1`")
        go_struct = structs.get(short)
        if not special and go_struct is None:
            problems.append(f"{name}: no Go struct {short} in {go_package_dir(package, go)}")
            continue
        names = openapi.get(name, {})
        fields = []
        for f in message.fields:
            shape = {"optional": "one", "repeated": "list", "map": "map"}[f.label]
            if f.label == "map" and f.map_key != "string":
                problems.append(f"{name}.{f.rust_name}: map key {f.map_key} is not a string")
            if special:
                fields.append(Field(f.tag, f.rust_name, shape, f.kind, "-"))
                continue
            go_field = go_struct.fields.get(f.tag)
            if go_field is None:
                problems.append(f"{name}.{f.rust_name} (field {f.tag}): no Go field with that protobuf number")
                continue
            json_name = names.get(normalize(f.rust_name))
            if go_field.inline:
                if json_name is not None:
                    problems.append(f"{name}.{f.rust_name}: inlined in Go but named {json_name!r} in k8s-openapi")
                json_name = "-"
            elif json_name is None:
                json_name = go_field.json_name
                if name in openapi and json_name not in names.values():
                    problems.append(f"{name}.{f.rust_name}: JSON name {json_name!r} unknown to k8s-openapi")
            elif json_name != go_field.json_name:
                problems.append(f"{name}.{f.rust_name}: JSON name {json_name!r} in k8s-openapi, {go_field.json_name!r} in Go")
            if not json_name or " " in json_name:
                problems.append(f"{name}.{f.rust_name}: unusable JSON name {json_name!r}")
            flags = ""
            if go_field.type_.startswith("*"):
                flags += "p"
            if go_field.omitempty:
                flags += "o"
            if go_field.omitzero:
                flags += "z"
            if f.label == "optional" and f.kind == "bytes" and not go_field.type_.lstrip("*").startswith("[]"):
                problems.append(f"{name}.{f.rust_name}: bytes field whose Go type is {go_field.type_}")
            fields.append(Field(f.tag, json_name, shape, f.kind, flags or "-"))
        if go_struct is not None and not special:
            fields.sort(key=lambda fl: go_struct.fields[fl.tag].index if fl.tag in go_struct.fields else 1 << 30)
        out_messages.append((name, special, fields))

    if problems:
        raise SourceError("the sources disagree or are incomplete:\n  " + "\n  ".join(problems))
    return render(minor, out_messages, pb_root, openapi_root, go, go_version)


def short_name(name: str) -> str:
    package, short = name.rsplit(".", 1)
    alias = ALIASES.get(package)
    if alias is None:
        raise SourceError(f"no alias for package {package}; add one to ALIASES")
    return f"{alias}.{short}"


def render(minor, out_messages, pb_root, openapi_root, go, go_version) -> str:
    def version(path: str) -> str:
        base = os.path.basename(os.path.normpath(path))
        return base.rsplit("@", 1)[1] if "@" in base else go_version or f"v0.{minor}.x"

    lines = [
        "# The protobuf wire layout of the built-in kinds (Kubernetes 1.%d), generated by hack/gen-protobuf-table.py" % minor,
        "# from %s, %s (v1_%d) and Go API sources %s. Do not edit; rerun the script."
        % (os.path.basename(pb_root), os.path.basename(openapi_root), minor, version(go["api"])),
        "# P <alias> <proto package>",
        "# K <apiVersion or *> <kind> <message>",
        "# M <message> [special: time microtime duration fieldsv1 quantity intstr rawext json orarray orbool",
        "#   orstringarray list]",
        "# F <number> <JSON name, - = inlined> <one|list|map> <string|bytes|int32|int64|bool|double|message>",
        "#   <Go flags: p pointer, o omitempty, z omitzero; - none>",
    ]
    for package, alias in sorted(ALIASES.items(), key=lambda kv: kv[1]):
        lines.append(f"P {alias} {package}")
    for api_version, kind, proto in ROOTS:
        lines.append(f"K {api_version} {kind} {short_name(proto)}")
    for name, special, fields in out_messages:
        lines.append(f"M {short_name(name)}" + (f" {special}" if special else ""))
        for f in fields:
            kind = f.kind if f.kind in SCALARS else short_name(f.kind)
            lines.append(f"F {f.tag} {f.json} {f.shape} {kind} {f.flags}")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minor", type=int, default=35, help="Kubernetes minor release (k8s-openapi v1_N, Go v0.N)")
    parser.add_argument("--k8s-pb-version", default="0.9.0")
    parser.add_argument("--k8s-openapi-version", default="0.29.0")
    parser.add_argument("--k8s-pb", help="an unpacked k8s-pb crate (default: Cargo's registry)")
    parser.add_argument("--k8s-openapi", help="an unpacked k8s-openapi crate (default: Cargo's registry)")
    parser.add_argument("--go-src", help="a directory holding api/, apimachinery/ and apiextensions-apiserver/")
    parser.add_argument("--go-version", help="the release --go-src holds, for the table's header (e.g. v0.35.7)")
    parser.add_argument("--output", default=OUTPUT)
    parser.add_argument("--check", action="store_true", help="fail if the committed table differs")
    args = parser.parse_args()
    try:
        pb_root = find_crate("k8s-pb", args.k8s_pb_version, args.k8s_pb)
        openapi_root = find_crate("k8s-openapi", args.k8s_openapi_version, args.k8s_openapi)
        go = find_go_sources(args.minor, args.go_src)
        table = build(args.minor, pb_root, openapi_root, go, args.go_version)
    except SourceError as error:
        print(f"gen-protobuf-table: {error}", file=sys.stderr)
        return 1
    if args.check:
        with open(args.output, encoding="utf-8") as f:
            if f.read() != table:
                print(f"gen-protobuf-table: {args.output} is out of date", file=sys.stderr)
                return 1
        return 0
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output, "w", encoding="utf-8") as f:
        f.write(table)
    count = sum(1 for line in table.split("\n") if line.startswith("M "))
    print(f"wrote {os.path.normpath(args.output)}: {count} messages, {len(table)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
