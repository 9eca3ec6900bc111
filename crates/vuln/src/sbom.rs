//! Software bills of materials: a scan's packages written as CycloneDX 1.6 JSON or SPDX 2.3
//! JSON (package URLs as the purl spec and Trivy write them), and SBOMs of either format read
//! back as packages to match against advisories (`kguard sbom`), including Trivy's own.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::pkgdb::{InstalledPackage, Kind, Os};
use crate::scan::ScanResult;

/// Who wrote the document, and when.
#[derive(Debug, Clone)]
pub struct DocMeta {
    /// The tool's version.
    pub tool_version: String,
    /// RFC 3339 UTC timestamp.
    pub timestamp: String,
    /// A random UUID (serial number, document namespace).
    pub uuid: String,
}

/// A random (version 4) UUID.
#[must_use]
pub fn new_uuid() -> String {
    let mut b = [0u8; 16];
    // The OS's random bytes (a UUID needs no DRBG; seeding one costs more than the scan of a
    // small root). On failure the bytes stay zero: the UUID is then fixed but well-formed.
    let _ = getrandom::fill(&mut b);
    if let Some(x) = b.get_mut(6) {
        *x = (*x & 0x0f) | 0x40;
    }
    if let Some(x) = b.get_mut(8) {
        *x = (*x & 0x3f) | 0x80;
    }
    let mut s = String::with_capacity(36);
    for (i, x) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push_str(&format!("{x:02x}"));
    }
    s
}

use crate::lang::purl_escape as enc;

fn dec(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%'
            && let Some(h) = s.get(i + 1..i + 3)
            && let Ok(x) = u8::from_str_radix(h, 16)
        {
            out.push(x);
            i += 3;
            continue;
        }
        out.push(b);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `(epoch, rest)` of `epoch:version`.
fn split_epoch(v: &str) -> (Option<&str>, &str) {
    match v.split_once(':') {
        Some((e, rest)) if !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()) => (Some(e), rest),
        _ => (None, v),
    }
}

/// The package URL of an OS package: `pkg:deb/debian/zlib1g@1.2.13.dfsg-1?arch=amd64&distro=debian-12&epoch=1`.
#[must_use]
pub fn purl(os: Option<&Os>, p: &InstalledPackage) -> String {
    let (ty, ns) = match p.kind {
        Kind::Dpkg => ("deb", os.map_or("debian", |o| o.family.as_str())),
        Kind::Apk => ("apk", os.map_or("alpine", |o| o.family.as_str())),
        Kind::Rpm => ("rpm", os.map_or("redhat", |o| o.family.as_str())),
    };
    let (epoch, version) = split_epoch(&p.version);
    let mut q: BTreeMap<&str, String> = BTreeMap::new();
    if !p.arch.is_empty() {
        q.insert("arch", p.arch.clone());
    }
    if let Some(e) = epoch.filter(|e| *e != "0") {
        q.insert("epoch", e.to_owned());
    }
    if let Some(o) = os {
        // apk names the release alone (`3.19.1`), the others `family-release`, as Trivy does.
        q.insert("distro", if p.kind == Kind::Apk { o.name.clone() } else { format!("{}-{}", o.family, o.name) });
    }
    let mut s = format!("pkg:{ty}/{}/{}@{}", enc(ns, false), enc(&p.name, false), enc(version, false));
    if !q.is_empty() {
        let qs: Vec<String> = q.iter().map(|(k, v)| format!("{k}={}", enc(v, true))).collect();
        s.push('?');
        s.push_str(&qs.join("&"));
    }
    s
}

/// A parsed package URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purl {
    /// `deb`, `apk`, `rpm`, `npm`, …
    pub ty: String,
    /// Namespace (`debian`), if any.
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
    /// Version, if any.
    pub version: Option<String>,
    /// Qualifiers.
    pub qualifiers: BTreeMap<String, String>,
}

/// Parses `pkg:TYPE/NAMESPACE/NAME@VERSION?QUALIFIERS#SUBPATH`.
pub fn parse_purl(s: &str) -> Result<Purl, String> {
    let rest = s.strip_prefix("pkg:").ok_or_else(|| format!("{s:?}: a package URL starts with \"pkg:\""))?;
    let rest = rest.split_once('#').map_or(rest, |(a, _)| a);
    let (rest, qs) = rest.split_once('?').unwrap_or((rest, ""));
    let (path, version) = match rest.rsplit_once('@') {
        Some((p, v)) => (p, Some(dec(v))),
        None => (rest, None),
    };
    let mut parts = path.trim_matches('/').split('/');
    let ty = parts.next().filter(|t| !t.is_empty()).ok_or_else(|| format!("{s:?}: no type"))?.to_ascii_lowercase();
    let segs: Vec<String> = parts.map(dec).collect();
    let (ns, name) = match segs.split_last() {
        Some((n, ns)) if !n.is_empty() => ((!ns.is_empty()).then(|| ns.join("/")), n.clone()),
        _ => return Err(format!("{s:?}: no name")),
    };
    let mut qualifiers = BTreeMap::new();
    for kv in qs.split('&').filter(|x| !x.is_empty()) {
        if let Some((k, v)) = kv.split_once('=') {
            qualifiers.insert(k.to_ascii_lowercase(), dec(v));
        }
    }
    Ok(Purl { ty, namespace: ns, name, version, qualifiers })
}

/// Sets a key of a JSON object (no-op on anything else).
fn set(v: &mut Value, key: &str, x: Value) {
    if let Some(o) = v.as_object_mut() {
        o.insert(key.to_owned(), x);
    }
}

/// A component's licenses as Trivy writes them: each a CycloneDX license with a `name`.
fn set_licenses(c: &mut Value, licenses: &[String]) {
    if !licenses.is_empty() {
        set(c, "licenses", json!(licenses.iter().map(|l| json!({"license": {"name": l}})).collect::<Vec<_>>()));
    }
}

fn prop(name: &str, value: &str) -> Value {
    json!({"name": name, "value": value})
}

fn os_ref(os: &Os) -> String {
    format!("os:{}-{}", os.family, os.name)
}

/// CycloneDX 1.6 JSON of a scan's packages (and its vulnerabilities, when it has findings).
#[must_use]
pub fn cyclonedx(r: &ScanResult, m: &DocMeta) -> Value {
    let root_ref = format!("urn:uuid:{}#root", m.uuid);
    let mut root = json!({"bom-ref": root_ref, "type": if r.image.is_some() { "container" } else { "application" }, "name": r.target});
    if let Some(i) = &r.image {
        let mut props = vec![prop("kguard:ImageID", &i.image_id)];
        props.extend(i.diff_ids.iter().map(|d| prop("kguard:DiffID", d)));
        props.extend(i.repo_tags.iter().map(|t| prop("kguard:RepoTag", t)));
        set(&mut root, "properties", json!(props));
    }
    let mut components = Vec::new();
    let mut deps = Vec::new();
    let mut pkg_refs = Vec::new();
    for p in &r.packages {
        let purl = purl(r.os.as_ref(), p);
        let mut props = vec![prop("kguard:PkgType", kind_name(p.kind))];
        if p.src_name != p.name || p.src_version != p.version {
            // The source package under the property names Trivy reads and writes, so that a
            // scan of this SBOM by Trivy matches Debian and Alpine advisories by source too.
            props.push(prop("aquasecurity:trivy:SrcName", &p.src_name));
            let (epoch, rest) = split_epoch(&p.src_version);
            let (ver, rel) = match p.kind {
                Kind::Apk => (rest, None),
                Kind::Dpkg | Kind::Rpm => rest.rsplit_once('-').map_or((rest, None), |(v, r)| (v, Some(r))),
            };
            if let Some(e) = epoch {
                props.push(prop("aquasecurity:trivy:SrcEpoch", e));
            }
            props.push(prop("aquasecurity:trivy:SrcVersion", ver));
            if let Some(r) = rel {
                props.push(prop("aquasecurity:trivy:SrcRelease", r));
            }
        }
        let (_, version) = split_epoch(&p.version);
        let mut c = json!({"bom-ref": purl, "type": "library", "name": p.name, "version": version, "purl": purl, "properties": props});
        set_licenses(&mut c, &p.licenses);
        components.push(c);
        pkg_refs.push(purl);
    }
    let mut root_deps: Vec<String> = Vec::new();
    if let Some(os) = &r.os {
        let oref = os_ref(os);
        components
            .insert(0, json!({"bom-ref": oref, "type": "operating-system", "name": os.family, "version": os.name}));
        root_deps.push(oref.clone());
        deps.push(json!({"ref": oref, "dependsOn": pkg_refs}));
    } else {
        root_deps.extend(pkg_refs);
    }
    // Each lockfile is an application component holding its packages (as Trivy writes them);
    // a package's bom-ref names its file, since two lockfiles may hold the same package.
    for l in &r.lang {
        let tref = format!("file:{}", l.target.path);
        components.push(json!({"bom-ref": tref, "type": "application", "name": l.target.path,
            "properties": [prop("kguard:Type", l.target.kind.as_str()), prop("aquasecurity:trivy:Type", l.target.kind.as_str())]}));
        let mut refs = Vec::new();
        for p in &l.target.packages {
            let purl = crate::lang::purl(l.target.kind, &p.name, &p.version);
            // an installed package gathered into a per-language target (`Java`, `Node.js`, …)
            // is named by its own file, as Trivy's FilePath: the same package in two files is
            // two components
            let file = if p.file_path.is_empty() { l.target.path.as_str() } else { p.file_path.as_str() };
            let bref = format!("{purl}#{file}");
            let mut props = vec![prop("kguard:PkgType", l.target.kind.as_str()), prop("kguard:FilePath", file)];
            if !p.file_path.is_empty() {
                props.push(prop("aquasecurity:trivy:FilePath", &p.file_path));
            }
            if !p.id.is_empty() {
                props.push(prop("aquasecurity:trivy:PkgID", &p.id));
            }
            if p.dev {
                props.push(prop("kguard:Dev", "true"));
            }
            let mut c = json!({"bom-ref": bref, "type": "library", "name": p.name, "version": p.version, "purl": purl, "properties": props});
            let licenses: Vec<String> = p.licenses.iter().map(|l| crate::license::normalize(l)).collect();
            set_licenses(&mut c, &licenses);
            // Maven coordinates as Trivy writes them: the group apart from the artifact
            if purl.starts_with("pkg:maven/")
                && let Some((group, artifact)) = p.name.split_once(':')
            {
                set(&mut c, "group", json!(group));
                set(&mut c, "name", json!(artifact));
            }
            if !refs.contains(&bref) {
                components.push(c);
                refs.push(bref);
            }
        }
        deps.push(json!({"ref": tref, "dependsOn": refs}));
        root_deps.push(tref);
    }
    deps.insert(0, json!({"ref": root_ref, "dependsOn": root_deps}));
    let mut doc = json!({
        "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": format!("urn:uuid:{}", m.uuid),
        "version": 1,
        "metadata": {
            "timestamp": m.timestamp,
            "tools": {"components": [{"type": "application", "name": "kguard", "version": m.tool_version}]},
            "component": root,
        },
        "components": components,
        "dependencies": deps,
    });
    if r.total_findings() > 0 {
        let vulns: Vec<Value> = r
            .findings
            .iter()
            .chain(r.lang.iter().flat_map(|l| &l.findings))
            .map(|f| {
                let affected = affected_refs(r, f);
                let mut v = json!({
                    "id": f.id,
                    "ratings": [{"severity": f.severity.to_ascii_lowercase()}],
                    "affects": affected.iter().map(|a| json!({"ref": a})).collect::<Vec<_>>(),
                });
                if !f.title.is_empty() {
                    set(&mut v, "description", json!(f.title));
                }
                if let Some(fx) = &f.fixed {
                    set(&mut v, "recommendation", json!(format!("Upgrade {} to version {fx}", f.pkg)));
                }
                if !f.references.is_empty() {
                    set(
                        &mut v,
                        "advisories",
                        json!(f.references.iter().map(|u| json!({"url": u})).collect::<Vec<_>>()),
                    );
                }
                v
            })
            .collect();
        set(&mut doc, "vulnerabilities", json!(vulns));
    }
    doc
}

/// The bom-refs of the packages a finding is about (OS packages and lockfile packages).
fn affected_refs(r: &ScanResult, f: &crate::scan::Finding) -> Vec<String> {
    let mut out: Vec<String> = r
        .packages
        .iter()
        .filter(|p| p.name == f.pkg && p.version == f.installed)
        .map(|p| purl(r.os.as_ref(), p))
        .collect();
    for l in &r.lang {
        if l.findings.iter().any(|x| std::ptr::eq(x, f)) {
            let purl = crate::lang::purl(l.target.kind, &f.pkg, &f.installed);
            out.push(format!("{purl}#{}", f.pkg_path.as_deref().unwrap_or(&l.target.path)));
        }
    }
    out
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Dpkg => "dpkg",
        Kind::Apk => "apk",
        Kind::Rpm => "rpm",
    }
}

/// An SPDX element id: `SPDXRef-` and letters, digits, `.`, `-`.
fn spdx_id(kind: &str, s: &str) -> String {
    let clean: String =
        s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '-' }).collect();
    format!("SPDXRef-{kind}-{clean}")
}

/// SPDX 2.3 JSON of a scan's packages.
#[must_use]
pub fn spdx(r: &ScanResult, m: &DocMeta) -> Value {
    let root_id = spdx_id(if r.image.is_some() { "ContainerImage" } else { "Filesystem" }, "root");
    let mut packages = vec![
        json!({"SPDXID": root_id, "name": r.target, "downloadLocation": "NONE", "filesAnalyzed": false, "primaryPackagePurpose": if r.image.is_some() { "CONTAINER" } else { "SOURCE" }}),
    ];
    let mut rels = vec![
        json!({"spdxElementId": "SPDXRef-DOCUMENT", "relatedSpdxElement": root_id, "relationshipType": "DESCRIBES"}),
    ];
    let mut parent = root_id.clone();
    if let Some(os) = &r.os {
        let id = spdx_id("OperatingSystem", &format!("{}-{}", os.family, os.name));
        packages.push(json!({"SPDXID": id, "name": os.family, "versionInfo": os.name, "downloadLocation": "NONE", "filesAnalyzed": false, "primaryPackagePurpose": "OPERATING-SYSTEM"}));
        rels.push(json!({"spdxElementId": root_id, "relatedSpdxElement": id, "relationshipType": "CONTAINS"}));
        parent = id;
    }
    let mut seen = std::collections::BTreeSet::new();
    for p in &r.packages {
        let purl = purl(r.os.as_ref(), p);
        let mut id = spdx_id("Package", &format!("{}-{}-{}", p.name, p.version, p.arch));
        while !seen.insert(id.clone()) {
            id.push_str("-dup");
        }
        let mut pkg = json!({
            "SPDXID": id, "name": p.name, "versionInfo": p.version, "downloadLocation": "NONE", "filesAnalyzed": false,
            "primaryPackagePurpose": "LIBRARY",
            "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": purl}],
        });
        if p.src_name != p.name || p.src_version != p.version {
            set(&mut pkg, "sourceInfo", json!(format!("built package from: {} {}", p.src_name, p.src_version)));
        }
        packages.push(pkg);
        rels.push(json!({"spdxElementId": parent, "relatedSpdxElement": id, "relationshipType": "CONTAINS"}));
    }
    for l in &r.lang {
        let tid = spdx_id("Application", &l.target.path);
        packages.push(json!({"SPDXID": tid, "name": l.target.path, "downloadLocation": "NONE", "filesAnalyzed": false,
            "primaryPackagePurpose": "APPLICATION", "comment": format!("{} lockfile", l.target.kind.as_str())}));
        rels.push(json!({"spdxElementId": root_id, "relatedSpdxElement": tid, "relationshipType": "CONTAINS"}));
        for p in &l.target.packages {
            let purl = crate::lang::purl(l.target.kind, &p.name, &p.version);
            let mut id = spdx_id("Package", &format!("{}-{}-{}", l.target.kind.as_str(), p.name, p.version));
            while !seen.insert(id.clone()) {
                id.push_str("-dup");
            }
            packages.push(json!({
                "SPDXID": id, "name": p.name, "versionInfo": p.version, "downloadLocation": "NONE", "filesAnalyzed": false,
                "primaryPackagePurpose": "LIBRARY",
                "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": purl}],
            }));
            rels.push(json!({"spdxElementId": tid, "relatedSpdxElement": id, "relationshipType": "CONTAINS"}));
        }
    }
    json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": r.target,
        "documentNamespace": format!("urn:uuid:{}", m.uuid),
        "creationInfo": {"creators": [format!("Tool: kguard-{}", m.tool_version)], "created": m.timestamp},
        "packages": packages,
        "relationships": rels,
    })
}

/// Packages read from an SBOM.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    /// The operating system it names, if any.
    pub os: Option<Os>,
    /// OS packages (deb, apk, rpm purls).
    pub packages: Vec<InstalledPackage>,
    /// Language packages (npm, PyPI, Maven, … purls), one target per purl type.
    pub lang: Vec<crate::lang::LangTarget>,
    /// Components whose purl type kguard does not match (counted).
    pub other: usize,
    /// `cyclonedx` or `spdx` (Trivy's `ArtifactType` for an SBOM).
    pub format: &'static str,
}

/// The language type of a purl type, and the package name as the lockfile writes it.
fn lang_of_purl(p: &Purl) -> Option<(crate::lang::LangType, String)> {
    use crate::lang::LangType;
    let kind = match p.ty.as_str() {
        "npm" => LangType::Npm,
        "pypi" => LangType::Pip,
        "golang" => LangType::GoModule,
        "maven" => LangType::Pom,
        "nuget" => LangType::NuGet,
        "composer" => LangType::Composer,
        "cargo" => LangType::Cargo,
        "pub" => LangType::Pub,
        "hex" => LangType::Hex,
        "swift" => LangType::Swift,
        "cocoapods" => LangType::Cocoapods,
        "conan" => LangType::Conan,
        _ => return None,
    };
    let name = match (&p.namespace, kind) {
        (Some(ns), LangType::Pom) => format!("{ns}:{}", p.name),
        (Some(ns), _) => format!("{ns}/{}", p.name),
        (None, _) => p.name.clone(),
    };
    Some((kind, name))
}

/// Adds a language package read from an SBOM to its type's target.
fn push_lang(inv: &mut Inventory, p: &Purl) -> bool {
    let (Some((kind, name)), Some(version)) = (lang_of_purl(p), p.version.clone()) else { return false };
    let pkg = crate::lang::Package { name, version, ..crate::lang::Package::default() };
    match inv.lang.iter_mut().find(|t| t.kind == kind) {
        Some(t) => t.packages.push(pkg),
        None => {
            inv.lang.push(crate::lang::LangTarget { path: format!("{} packages", p.ty), kind, packages: vec![pkg] })
        }
    }
    true
}

/// Why an SBOM could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SbomError {
    /// Not JSON.
    #[error("invalid JSON at line {line}, column {column}: {msg}")]
    Json {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What serde said.
        msg: String,
    },
    /// JSON, but neither format.
    #[error("{0}")]
    Format(String),
}

fn os_from_purl(p: &Purl) -> Option<Os> {
    let d = p.qualifiers.get("distro")?;
    let family = p.namespace.clone()?;
    let name = d.strip_prefix(&format!("{family}-")).unwrap_or(d).to_owned();
    Some(Os { family, name })
}

fn package_from_purl(p: &Purl, src: Option<(String, String)>) -> Option<InstalledPackage> {
    let kind = match p.ty.as_str() {
        "deb" => Kind::Dpkg,
        "apk" => Kind::Apk,
        "rpm" => Kind::Rpm,
        _ => return None,
    };
    let bare = p.version.clone()?;
    let version = match p.qualifiers.get("epoch").filter(|e| *e != "0") {
        Some(e) if kind != Kind::Apk => format!("{e}:{bare}"),
        _ => bare,
    };
    let (src_name, src_version) = src.unwrap_or_else(|| (p.name.clone(), version.clone()));
    Some(InstalledPackage {
        name: p.name.clone(),
        version,
        arch: p.qualifiers.get("arch").cloned().unwrap_or_default(),
        src_name,
        src_version,
        kind,
        licenses: Vec::new(),
    })
}

/// Reads a CycloneDX or SPDX JSON document (kguard's, Trivy's, or any that carries purls).
pub fn read(bytes: &[u8]) -> Result<Inventory, SbomError> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| SbomError::Json {
        line: e.line(),
        column: e.column(),
        msg: e.to_string(),
    })?;
    if v.get("bomFormat").and_then(Value::as_str) == Some("CycloneDX") {
        return Ok(Inventory { format: "cyclonedx", ..read_cyclonedx(&v) });
    }
    if v.get("spdxVersion").and_then(Value::as_str).is_some_and(|s| s.starts_with("SPDX-2")) {
        return Ok(Inventory { format: "spdx", ..read_spdx(&v) });
    }
    Err(SbomError::Format(
        "neither CycloneDX JSON (\"bomFormat\": \"CycloneDX\") nor SPDX 2 JSON (\"spdxVersion\": \"SPDX-2.x\")".into(),
    ))
}

fn read_cyclonedx(v: &Value) -> Inventory {
    let mut inv = Inventory::default();
    let mut stack: Vec<&Value> =
        v.get("components").and_then(Value::as_array).map(|a| a.iter().collect()).unwrap_or_default();
    if let Some(c) = v.pointer("/metadata/component") {
        stack.push(c);
    }
    let mut seen = 0usize;
    while let Some(c) = stack.pop() {
        seen += 1;
        if seen > 1_000_000 {
            break;
        }
        if let Some(children) = c.get("components").and_then(Value::as_array) {
            stack.extend(children.iter());
        }
        if c.get("type").and_then(Value::as_str) == Some("operating-system") {
            if let (Some(n), Some(ver)) =
                (c.get("name").and_then(Value::as_str), c.get("version").and_then(Value::as_str))
            {
                inv.os = Some(Os { family: n.to_ascii_lowercase(), name: ver.to_owned() });
            }
            continue;
        }
        let Some(p) = c.get("purl").and_then(Value::as_str).and_then(|s| parse_purl(s).ok()) else { continue };
        let props: BTreeMap<&str, &str> = c
            .get("properties")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|x| Some((x.get("name")?.as_str()?, x.get("value")?.as_str()?)))
            .collect();
        let get = |k: &str| {
            props
                .get(format!("kguard:{k}").as_str())
                .or_else(|| props.get(format!("aquasecurity:trivy:{k}").as_str()))
                .copied()
        };
        let src = get("SrcName").map(|n| {
            let mut ver = get("SrcVersion").unwrap_or_default().to_owned();
            if let Some(rel) = get("SrcRelease") {
                ver = format!("{ver}-{rel}");
            }
            if let Some(e) = get("SrcEpoch").filter(|e| *e != "0") {
                ver = format!("{e}:{ver}");
            }
            (n.to_owned(), ver)
        });
        match package_from_purl(&p, src) {
            Some(pkg) => {
                if inv.os.is_none() {
                    inv.os = os_from_purl(&p);
                }
                inv.packages.push(pkg);
            }
            None => {
                if !push_lang(&mut inv, &p) {
                    inv.other += 1;
                }
            }
        }
    }
    inv.packages.sort_by(|a, b| a.name.cmp(&b.name).then(a.version.cmp(&b.version)));
    inv
}

fn read_spdx(v: &Value) -> Inventory {
    let mut inv = Inventory::default();
    for p in v.get("packages").and_then(Value::as_array).into_iter().flatten() {
        if p.get("primaryPackagePurpose").and_then(Value::as_str) == Some("OPERATING-SYSTEM") {
            if let (Some(n), Some(ver)) =
                (p.get("name").and_then(Value::as_str), p.get("versionInfo").and_then(Value::as_str))
            {
                inv.os = Some(Os { family: n.to_ascii_lowercase(), name: ver.to_owned() });
            }
            continue;
        }
        let purl = p
            .get("externalRefs")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|r| r.get("referenceType").and_then(Value::as_str) == Some("purl"))
            .find_map(|r| r.get("referenceLocator").and_then(Value::as_str))
            .and_then(|s| parse_purl(s).ok());
        let Some(purl) = purl else { continue };
        // `sourceInfo: built package from: NAME VERSION`, as kguard and Trivy write it.
        let src = p
            .get("sourceInfo")
            .and_then(Value::as_str)
            .and_then(|s| s.strip_prefix("built package from: "))
            .and_then(|s| s.split_once(' '))
            .map(|(n, v)| (n.to_owned(), v.to_owned()));
        match package_from_purl(&purl, src) {
            Some(pkg) => {
                if inv.os.is_none() {
                    inv.os = os_from_purl(&purl);
                }
                inv.packages.push(pkg);
            }
            None => {
                if !push_lang(&mut inv, &purl) {
                    inv.other += 1;
                }
            }
        }
    }
    inv.packages.sort_by(|a, b| a.name.cmp(&b.name).then(a.version.cmp(&b.version)));
    inv
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn deb(name: &str, version: &str) -> InstalledPackage {
        InstalledPackage {
            name: name.into(),
            version: version.into(),
            arch: "amd64".into(),
            src_name: name.into(),
            src_version: version.into(),
            kind: Kind::Dpkg,
            licenses: Vec::new(),
        }
    }

    #[test]
    fn purls_as_trivy_writes_them() {
        let os = Os { family: "debian".into(), name: "12".into() };
        assert_eq!(
            purl(Some(&os), &deb("zlib1g", "1:1.2.13.dfsg-1")),
            "pkg:deb/debian/zlib1g@1.2.13.dfsg-1?arch=amd64&distro=debian-12&epoch=1"
        );
        assert_eq!(
            purl(Some(&os), &deb("libstdc++6", "12.2.0-14")),
            "pkg:deb/debian/libstdc%2B%2B6@12.2.0-14?arch=amd64&distro=debian-12"
        );
        let p = parse_purl("pkg:deb/debian/libstdc%2B%2B6@12.2.0-14?arch=amd64&distro=debian-12&epoch=1").unwrap();
        assert_eq!(p.name, "libstdc++6");
        assert_eq!(package_from_purl(&p, None).unwrap().version, "1:12.2.0-14");
        assert_eq!(os_from_purl(&p).unwrap(), os);
        assert!(parse_purl("deb/debian/x@1").is_err());
        assert!(parse_purl("pkg:deb/").is_err());
    }

    #[test]
    fn round_trip_through_both_formats() {
        let os = Os { family: "debian".into(), name: "12".into() };
        let mut ssl = deb("libssl3", "3.0.11-1~deb12u1");
        ssl.src_name = "openssl".into();
        let r = ScanResult {
            target: "x".into(),
            os: Some(os.clone()),
            packages: vec![ssl, deb("zlib1g", "1:1.2.13.dfsg-1")],
            findings: vec![],
            image: None,
            lang: vec![],
            artifact_type: "filesystem",
            warnings: Vec::new(),
        };
        let m = DocMeta { tool_version: "0".into(), timestamp: "2026-01-01T00:00:00Z".into(), uuid: new_uuid() };
        for doc in [cyclonedx(&r, &m), spdx(&r, &m)] {
            let inv = read(&serde_json::to_vec(&doc).unwrap()).unwrap();
            assert_eq!(inv.os.as_ref(), Some(&os));
            assert_eq!(inv.packages, r.packages, "{doc:#}");
        }
        let e = read(b"{\n  \"a\": }").unwrap_err().to_string();
        assert!(e.contains("line 2"), "{e}");
        assert!(read(b"{}").unwrap_err().to_string().contains("neither CycloneDX"));
        let u = new_uuid();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
    }
}
