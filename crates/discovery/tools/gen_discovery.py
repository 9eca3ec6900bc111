#!/usr/bin/env python3
"""Generates crates/discovery/src/table.rs: the built-in resources of Kubernetes v1.37 and the
field schema of their objects.

Usage: gen_discovery.py [K8S_OPENAPI_SRC] > crates/discovery/src/table.rs

Inputs (the output is committed: building kguard needs none of them):

* The API definitions: k8s-openapi 0.29's `src/v1_37` (the crate kguard's server already depends
  on; by default found with `cargo metadata`). Every `impl crate::Resource` gives a resource's
  group, version, kind, plural (URL path segment) and scope; every generated struct gives the
  JSON field names of one OpenAPI definition and the type of each field. k8s-openapi generates
  them from the `api/openapi-spec/swagger.json` of the Kubernetes release.
* What the definitions do not carry (short names, singular names, categories, verbs,
  subresources): `kube-apiserver-discovery.json` beside this script, the aggregated discovery of
  a real kube-apiserver v1.36.2 with every API version switched on (`capture_discovery.sh`).
  A v1.37 resource that v1.36.2 serves in another version of the same group takes that
  version's entry; the few v1.37 resources v1.36.2 does not serve at all are described in
  `discovery-v1.37-additions.json`, each with the upstream storage file it was read from.

The script fails when the inputs disagree (a kind or scope that differs between the definitions
and discovery, a verb it does not know, a field type it cannot read), so a new k8s-openapi or
snapshot cannot produce a silently wrong table.
"""
import glob
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
K8S_VERSION = "v1_37"
VERBS = ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"]


def die(msg):
    sys.exit(f"gen_discovery.py: {msg}")


def k8s_openapi_src():
    if len(sys.argv) > 1:
        return sys.argv[1]
    root = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
    meta = json.loads(subprocess.check_output(
        ["cargo", "metadata", "--format-version", "1", "--offline"], cwd=root))
    for p in meta["packages"]:
        if p["name"] == "k8s-openapi":
            if not p["version"].startswith("0.29."):
                die(f"k8s-openapi {p['version']}: this script reads 0.29's layout")
            return os.path.join(os.path.dirname(p["manifest_path"]), "src")
    die("k8s-openapi not in `cargo metadata`")


# ---------------------------------------------------------------------------------------------
# The API definitions (k8s-openapi)
# ---------------------------------------------------------------------------------------------
RESOURCE_IMPL = re.compile(
    r"impl crate::Resource for (\w+) \{\s*"
    r"const API_VERSION: &'static str = \"([^\"]*)\";\s*"
    r"const GROUP: &'static str = \"([^\"]*)\";\s*"
    r"const KIND: &'static str = \"([^\"]*)\";\s*"
    r"const VERSION: &'static str = \"([^\"]*)\";\s*"
    r"const URL_PATH_SEGMENT: &'static str = \"([^\"]*)\";\s*"
    r"type Scope = crate::(\w+);")


class Def:
    """One OpenAPI definition: a struct with fields, or a value (scalar, free JSON, union)."""

    def __init__(self, name, module, rust):
        self.name, self.module, self.rust = name, module, rust
        self.fields = None  # [(json name, rust type)] for structs
        self.value = None  # "scalar" | "any" | ("union", [rust types])


def read_definitions(src):
    defs = {}  # "api::apps::v1::Deployment" -> Def
    resources = []
    base = os.path.join(src, K8S_VERSION)
    for path in sorted(glob.glob(os.path.join(base, "**", "*.rs"), recursive=True)):
        text = open(path).read()
        m = re.match(r"// Generated from definition (\S+)", text)
        if not m:
            continue
        module = "::".join(os.path.relpath(os.path.dirname(path), base).split(os.sep))
        name = m.group(1)
        if s := re.search(r"^pub struct (\w+) \{\n(.*?)^\}", text, re.M | re.S):
            d = Def(name, module, s.group(1))
            rust_fields = re.findall(r"^    pub (\w+): (.+),$", s.group(2), re.M)
            json_of = {r: j for j, r in re.findall(r'"([^"]+)" => Field::Key_(\w+),', text)}
            d.fields = []
            for rust_name, ty in rust_fields:
                if rust_name not in json_of:
                    die(f"{path}: field {rust_name} has no JSON name")
                d.fields.append((json_of[rust_name], ty))
            # apiVersion and kind are read by the resource's deserializer, not struct fields
            for j in ("apiVersion", "kind"):
                if f'"{j}" => Field::Key_' in text and j not in [f for f, _ in d.fields]:
                    d.fields.append((j, "std::string::String"))
        elif s := re.search(r"^pub struct (\w+)\(pub (.+)\);", text, re.M):
            d = Def(name, module, s.group(1))
            inner = s.group(2)
            d.value = "any" if inner == "crate::serde_json::Value" else "scalar"
        elif s := re.search(r"^pub enum (\w+) \{\n(.*?)^\}", text, re.M | re.S):
            d = Def(name, module, s.group(1))
            variants = re.findall(r"^    \w+\((.+)\),$", s.group(2), re.M)
            if not variants:
                die(f"{path}: enum without data variants")
            d.value = ("union", variants)
        else:
            # generic (WatchEvent<T>): never a field's type; reaching it is an error (visit)
            d = Def(name, module, re.search(r"^pub (?:struct|enum) (\w+)", text, re.M).group(1))
            d.value = "unreadable"
        defs[f"{module}::{d.rust}"] = d
        for r in RESOURCE_IMPL.finditer(text):
            rust, api_version, group, kind, version, plural, scope = r.groups()
            resources.append({"group": group, "version": version, "kind": kind, "plural": plural,
                              "scope": scope, "def": f"{module}::{rust}"})
    return defs, resources


SCALARS = {"std::string::String", "bool", "i32", "i64", "f64", "crate::ByteString"}


def parse_type(ty, defs):
    """(shape, target): target is "scalar", "any" or a defs key; shape one of One, List, Map,
    MapOfList."""
    ty = ty.strip()
    if m := re.fullmatch(r"Option<(.+)>", ty):
        ty = m.group(1)
    if m := re.fullmatch(r"std::boxed::Box<(.+)>", ty):
        ty = m.group(1)
    shape = "One"
    if m := re.fullmatch(r"std::vec::Vec<(.+)>", ty):
        shape, ty = "List", m.group(1)
    elif m := re.fullmatch(r"std::collections::BTreeMap<std::string::String, (.+)>", ty):
        shape, ty = "Map", m.group(1)
    if m := re.fullmatch(r"std::vec::Vec<(.+)>", ty):
        if shape != "Map":
            die(f"unexpected type {ty}: only maps of lists are read")
        shape, ty = "MapOfList", m.group(1)
    if ty in SCALARS:
        return shape, "scalar"
    if ty == "crate::serde_json::Value":
        return shape, "any"
    if m := re.fullmatch(r"crate::(.+)", ty):
        key = m.group(1)
        if key not in defs:
            die(f"type {ty}: no definition")
        d = defs[key]
        if d.value in ("scalar", "any"):
            return shape, d.value
        if isinstance(d.value, tuple) and all(parse_type(v, defs)[1] == "scalar" for v in d.value[1]):
            return shape, "scalar"  # IntOrString
        return shape, key
    die(f"cannot read the type {ty}")


# ---------------------------------------------------------------------------------------------
# Discovery (what the definitions do not say)
# ---------------------------------------------------------------------------------------------
def version_priority(v):
    """kube's version order (`version.CompareKubeAwareVersionStrings`): GA before beta before
    alpha, higher numbers first; the first of a group's versions is its preferred one."""
    m = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", v)
    if not m:
        return (3, v)
    major, level, minor = int(m.group(1)), m.group(2), int(m.group(3) or 0)
    rank = {None: 0, "beta": 1, "alpha": 2}[level]
    return (rank, -major, -minor)


def verb_mask(verbs, where):
    mask = 0
    for v in verbs:
        if v not in VERBS:
            die(f"{where}: unknown verb {v!r}")
        mask |= 1 << VERBS.index(v)
    return mask


def main():
    src = k8s_openapi_src()
    defs, api_resources = read_definitions(src)
    snapshot = json.load(open(os.path.join(HERE, "kube-apiserver-discovery.json")))
    additions = json.load(open(os.path.join(HERE, "discovery-v1.37-additions.json")))
    snap = {(r["group"], r["version"], r["resource"]): r for r in snapshot["resources"]}
    snap_gr = {}
    for r in snapshot["resources"]:
        snap_gr.setdefault((r["group"], r["resource"]), []).append(r)
    adds = {(a["group"], a["resource"]): a for a in additions["resources"]}

    # The resources of v1.37: top-level (namespaced or cluster-scoped) with a URL path segment.
    # Subresource types (Scale, Eviction, TokenRequest, meta Status) and the discovery documents
    # themselves (APIGroup, APIVersions, ...: no path segment) are not resources.
    rows = []
    used_adds = set()
    for r in api_resources:
        if r["scope"] == "SubResourceScope" or not r["plural"]:
            continue
        key = (r["group"], r["version"], r["plural"])
        namespaced = r["scope"] == "NamespaceResourceScope"
        if key in snap:
            d, origin = snap[key], "discovery"
        elif (r["group"], r["plural"]) in snap_gr:
            d = sorted(snap_gr[(r["group"], r["plural"])], key=lambda x: version_priority(x["version"]))[0]
            origin = f"discovery of {d['group'] or 'core'}/{d['version']}"
        elif (r["group"], r["plural"]) in adds:
            d, origin = adds[(r["group"], r["plural"])], "additions"
            used_adds.add((r["group"], r["plural"]))
        else:
            die(f"{r['group']}/{r['version']} {r['plural']}: in the definitions, not in discovery nor in the additions")
        if d["kind"] != r["kind"]:
            die(f"{key}: kind {r['kind']} in the definitions, {d['kind']} in {origin}")
        if d["namespaced"] != namespaced:
            die(f"{key}: scope differs between the definitions and {origin}")
        rows.append({**r, "namespaced": namespaced, "singular": d["singular"] or r["kind"].lower(),
                     "shortNames": d["shortNames"], "categories": d["categories"],
                     "verbs": verb_mask(d["verbs"], key),
                     "subresources": [(s["name"], verb_mask(s["verbs"], key)) for s in d["subresources"]],
                     "origin": origin})
    if unused := set(adds) - used_adds:
        die(f"additions not in the definitions: {sorted(unused)}")

    # Group priority: kube-apiserver's discovery order; groups v1.36.2 does not serve come last,
    # by name.
    order = [g for g in snapshot["groupOrder"]]
    for g in sorted({r["group"] for r in rows} - set(order)):
        order.append(g)
    order = [g for g in order if any(r["group"] == g for r in rows)]
    rows.sort(key=lambda r: (order.index(r["group"]), version_priority(r["version"]), r["plural"]))

    # The schema: every definition reachable from a resource (and ObjectMeta).
    reach = []
    index = {}

    def visit(key):
        if key in index:
            return
        d = defs[key]
        if d.value == "unreadable":
            die(f"{d.name}: a field of this type cannot be read")
        if d.fields is None:
            # a union (JSONSchemaPropsOr*): not a type of its own, its struct alternative is
            for v in d.value[1]:
                _, target = parse_type(v, defs)
                if target not in ("scalar", "any"):
                    visit(target)
            return
        index[key] = len(reach)
        reach.append(key)
        for _, ty in d.fields:
            _, target = parse_type(ty, defs)
            if target not in ("scalar", "any"):
                visit(target)

    for r in rows:
        visit(r["def"])
    visit("apimachinery::pkg::apis::meta::v1::ObjectMeta")

    # Identical types of several API versions (same name, same fields, same field types up to
    # identity) are written once: partition refinement from (name, field names, shapes) until
    # every class agrees on its fields' targets.
    def target_of(t):
        """A field type's target after unions are replaced by their struct alternative."""
        if t in ("scalar", "any"):
            return t
        d = defs[t]
        if d.fields is not None:
            return t
        structs = {parse_type(v, defs)[1] for v in d.value[1]} - {"scalar", "any"}
        if len(structs) != 1:
            die(f"{d.name}: a union of {sorted(structs)}")
        return ("union", structs.pop())

    def signature(key, cls):
        d = defs[key]
        sig = [d.name.rsplit(".", 1)[-1]]
        for j, ty in sorted(d.fields, key=lambda f: f[0].encode()):
            shape, t = parse_type(ty, defs)
            t = target_of(t)
            if isinstance(t, tuple):
                t = ("union", cls[t[1]])
            elif t not in ("scalar", "any"):
                t = cls[t]
            sig.append((j, shape, t))
        return tuple(sig)

    cls = {k: 0 for k in reach}
    while True:
        sigs = {}
        new_cls = {k: sigs.setdefault(signature(k, cls), len(sigs)) for k in reach}
        if len(set(new_cls.values())) == len(set(cls.values())):
            break
        cls = new_cls
    first = {}
    for k in reach:
        first.setdefault(cls[k], k)
    reach = [k for k in reach if first[cls[k]] == k]
    index = {k: reach.index(first[cls[k]]) for k in cls}

    def elem(shape, target):
        """A field's element: scalar, free JSON, a struct, or a union (one struct, or a list of
        it, or a scalar: JSONSchemaPropsOr*)."""
        if target == "scalar":
            return "S"
        if target == "any":
            return "A"
        d = defs[target]
        if d.fields is not None:
            return f"O({index[target]})"
        # a union: its struct alternative (every union in the definitions has exactly one)
        structs = []
        for v in d.value[1]:
            s, t = parse_type(v, defs)
            if t not in ("scalar", "any"):
                structs.append(t)
        if len(set(structs)) != 1:
            die(f"{d.name}: a union of {structs}")
        return f"U({index[structs[0]]})"

    out = sys.stdout
    w = out.write
    w("// @generated by crates/discovery/tools/gen_discovery.py. Do not edit.\n")
    w("// Definitions: k8s-openapi 0.29 src/v1_37 (Kubernetes v1.37's swagger.json).\n")
    w(f"// Discovery: {snapshot['source']};\n")
    w("// resources v1.36.2 does not serve: tools/discovery-v1.37-additions.json.\n")
    w("//! The generated table: resources in priority order, field schemas of their objects.\n")
    w("#![allow(clippy::unreadable_literal)]\n\n")
    w("use super::schema::{\n    Elem::{A, O, S, U},\n    Field as F,\n    Shape::{List, Map, MapOfList, One},\n    TypeDef as T,\n};\n")
    w("use super::{Resource as R, Subresource as Sub};\n\n")
    w(f"/// API groups, in kube-apiserver's priority order.\npub(crate) static GROUPS: [&str; {len(order)}] = [\n")
    for g in order:
        w(f"    {json.dumps(g)},\n")
    w("];\n\n")
    w(f"/// {len(rows)} resources: groups in priority order, versions preferred first.\n")
    w(f"#[rustfmt::skip]\npub(crate) static RESOURCES: [R; {len(rows)}] = [\n")
    for r in rows:
        subs = ", ".join(f"Sub {{ name: {json.dumps(n)}, verbs: {m} }}" for n, m in r["subresources"])
        w(f"    R {{ group: {json.dumps(r['group'])}, version: {json.dumps(r['version'])}, kind: {json.dumps(r['kind'])}, "
          f"plural: {json.dumps(r['plural'])}, singular: {json.dumps(r['singular'])}, namespaced: {str(r['namespaced']).lower()}, "
          f"short_names: &{json.dumps(r['shortNames'])}, categories: &{json.dumps(r['categories'])}, verbs: {r['verbs']}, "
          f"subresources: &[{subs}], schema: {index[r['def']]} }},\n")
    w("];\n\n")
    # name indexes (sorted; equal names in priority order)
    names = sorted(((n, i) for i, r in enumerate(rows) for n in {r["plural"], r["singular"]}), key=lambda x: (x[0], x[1]))
    shorts = sorted(((n, i) for i, r in enumerate(rows) for n in r["shortNames"]), key=lambda x: (x[0], x[1]))
    kinds = sorted(((r["group"], r["kind"], i) for i, r in enumerate(rows)), key=lambda x: (x[0], x[1], x[2]))
    w(f"/// Plural and singular names, sorted; equal names in priority order.\n#[rustfmt::skip]\npub(crate) static NAMES: [(&str, u16); {len(names)}] = [\n")
    for n, i in names:
        w(f"    ({json.dumps(n)}, {i}),\n")
    w("];\n\n")
    w(f"/// Short names, sorted; equal names in priority order.\n#[rustfmt::skip]\npub(crate) static SHORT_NAMES: [(&str, u16); {len(shorts)}] = [\n")
    for n, i in shorts:
        w(f"    ({json.dumps(n)}, {i}),\n")
    w("];\n\n")
    w(f"/// (group, kind), sorted; the versions of one kind in priority order.\n#[rustfmt::skip]\npub(crate) static KINDS: [(&str, &str, u16); {len(kinds)}] = [\n")
    for g, k, i in kinds:
        w(f"    ({json.dumps(g)}, {json.dumps(k)}, {i}),\n")
    w("];\n\n")
    w(f"/// {len(reach)} object types; fields sorted by name.\n#[rustfmt::skip]\npub(crate) static TYPES: [T; {len(reach)}] = [\n")
    obj_meta = index["apimachinery::pkg::apis::meta::v1::ObjectMeta"]
    for key in reach:
        d = defs[key]
        if d.fields is None:
            die(f"{d.name}: a union reached as a type")
        fields = []
        for j, ty in sorted(d.fields, key=lambda f: f[0].encode()):
            shape, target = parse_type(ty, defs)
            fields.append(f"F({json.dumps(j)}, {shape}, {elem(shape, target)})")
        short = d.name.rsplit(".", 1)[-1]
        w(f"    T {{ name: {json.dumps(short)}, fields: &[{', '.join(fields)}] }},\n")
    w("];\n\n")
    w(f"/// `ObjectMeta`.\npub(crate) const OBJECT_META: u16 = {obj_meta};\n")
    sys.stderr.write(f"gen_discovery.py: {len(rows)} resources, {len(reach)} types, "
                     f"{sum(len(defs[k].fields) for k in reach)} fields\n")


if __name__ == "__main__":
    main()
