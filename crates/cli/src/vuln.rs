//! `kguard fs`, `kguard image`, `kguard repo`, `kguard sbom` and `kguard db`: vulnerability
//! scanning of a root filesystem, an image (saved or pulled), a repository's lockfiles or an SBOM
//! against OSV data, SBOMs written, and OSV data imported (docs/vuln.md). The engines are
//! `kguard_vuln`'s and the registry client `kguard_server::registry`; this module parses flags
//! and prints.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::PathBuf;

use kguard_vuln::sbom::DocMeta;
use kguard_vuln::scan::{Filters, SEVERITIES, ScanResult};

use crate::exit;
use crate::output::{self, Format};

/// Flags shared by `kguard fs`, `kguard image`, `kguard repo` and `kguard sbom`.
#[derive(Clone, Debug, clap::Args)]
pub struct ScanFlags {
    /// OSV data: a directory of `*.json` records and/or per-ecosystem `*.zip` files, one zip, one
    /// record, or an index written by `kguard db import`. Without it only the package inventory
    /// is reported.
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// Trivy's Java DB (`trivy-java.db`, e.g. from `~/.cache/trivy/java-db/`) to identify Java
    /// archives that carry no `pom.properties`: by their SHA-1, or their file name's artifact and
    /// version. Never downloaded. Without it, such archives are known by their MANIFEST.MF only
    /// (Trivy's `--offline-scan`).
    #[arg(long = "java-db", value_name = "FILE")]
    pub java_db: Option<PathBuf>,
    /// Severities to report, a set (not a threshold): UNKNOWN,LOW,MEDIUM,HIGH,CRITICAL.
    #[arg(short = 's', long, value_delimiter = ',')]
    pub severity: Vec<String>,
    /// Report only vulnerabilities that have a fixed version.
    #[arg(long)]
    pub ignore_unfixed: bool,
    /// Exit code when vulnerabilities remain after the filters (default 0, as Trivy).
    #[arg(long, default_value_t = 0)]
    pub exit_code: u8,
    /// List every installed package in the JSON report (`Packages`).
    #[arg(long)]
    pub list_all_pkgs: bool,
    /// Package types to report: `os` (dpkg, apk, rpm), `library` (lockfiles), or both
    /// (the default), as Trivy's `--pkg-types`.
    #[arg(long, value_delimiter = ',', value_name = "TYPES", default_value = "os,library",
          value_parser = ["os", "library"])]
    pub pkg_types: Vec<String>,
    /// Vulnerability ids to accept, one per line, `#` comments, `ID exp:YYYY-MM-DD` to stop
    /// accepting at that date (Trivy's `.trivyignore`; an id also matches the CVE a
    /// distribution's advisory is about), or Trivy's YAML format (`.yaml`/`.yml`: ids with
    /// `expired_at`, `purls`, `paths`). Default: `.trivyignore` when it exists.
    #[arg(long, value_name = "FILE")]
    pub ignorefile: Option<PathBuf>,
    /// Output format: `table`, `json` (Trivy's report, SchemaVersion 2), `sarif` (SARIF 2.1.0,
    /// one result per vulnerable package), `cyclonedx` (CycloneDX 1.6 JSON) or `spdx-json`
    /// (SPDX 2.3 JSON). An SBOM lists the packages, and the vulnerabilities too (CycloneDX) when
    /// `--db` is given.
    #[arg(short = 'o', long = "output", default_value = "table",
          value_parser = output::parser(&[Format::Table, Format::Json, Format::Sarif, Format::Cyclonedx, Format::SpdxJson]))]
    pub output: Format,
    /// Write the report to FILE instead of stdout.
    #[arg(long = "output-file", value_name = "FILE")]
    pub output_file: Option<PathBuf>,
}

/// `kguard fs` arguments.
#[derive(Clone, Debug, clap::Args)]
pub struct FsArgs {
    /// The root directory to scan (an unpacked image or a mounted node filesystem).
    pub root: PathBuf,
    #[command(flatten)]
    pub flags: ScanFlags,
}

/// `kguard image` arguments.
#[derive(Clone, Debug, clap::Args)]
pub struct ImageArgs {
    /// The image: a reference pulled from its registry (`alpine:3.19`,
    /// `ghcr.io/org/app@sha256:…`, `localhost:5000/team/app:1`), or a saved archive or layout on
    /// disk (as `--input`).
    #[arg(value_name = "IMAGE", required_unless_present = "input", conflicts_with = "input")]
    pub image: Option<String>,
    /// A `docker save` archive (tar or tar.gz) or an OCI image layout (directory or tar) to scan
    /// (Trivy's `--input`).
    #[arg(long, short = 'i', value_name = "PATH")]
    pub input: Option<PathBuf>,
    /// The image to take from a multi-platform index: `os/arch[/variant]` (default: this machine's).
    #[arg(long, value_name = "OS/ARCH")]
    pub platform: Option<String>,
    /// Most bytes the layers may take, downloaded and expanded (suffixes K, M, G, Ki, Mi, Gi).
    #[arg(long, value_name = "SIZE", default_value = "32Gi", value_parser = parse_size)]
    pub max_image_size: u64,
    /// Read every layer whole and check it against the config's `rootfs.diff_ids` (slower).
    /// Without it, an uncompressed layer of an archive on disk is walked by seeking past the
    /// files no scan needs and is not hashed; compressed and pulled layers are always checked.
    #[arg(long)]
    pub verify_layers: bool,
    /// Registry user name (with `--password-stdin`); also `KGUARD_REGISTRY_USERNAME` and
    /// `KGUARD_REGISTRY_PASSWORD`, else `~/.docker/config.json` (`$DOCKER_CONFIG`).
    #[arg(long, value_name = "USER")]
    pub username: Option<String>,
    /// Read the registry password from standard input.
    #[arg(long, requires = "username")]
    pub password_stdin: bool,
    /// Talk plain HTTP to the registry (loopback registries always are).
    #[arg(long)]
    pub insecure: bool,
    /// Trust the CA certificates of this PEM file for the registry instead of Mozilla's roots.
    #[arg(long, value_name = "FILE")]
    pub registry_ca: Option<PathBuf>,
    #[command(flatten)]
    pub flags: ScanFlags,
}

/// `kguard repo` arguments.
#[derive(Clone, Debug, clap::Args)]
pub struct RepoArgs {
    /// The directory to scan for lockfiles (a checked-out repository), as `trivy repo` /
    /// `trivy fs` do.
    pub dir: PathBuf,
    /// Files to leave out: glob patterns (`*`, `?`, `**`) relative to DIR; repeatable.
    #[arg(long, value_name = "GLOB", value_delimiter = ',')]
    pub skip_files: Vec<String>,
    /// Directories to leave out: glob patterns relative to DIR; repeatable.
    #[arg(long, value_name = "GLOB", value_delimiter = ',')]
    pub skip_dirs: Vec<String>,
    /// Report development dependencies too (npm, yarn, pnpm, poetry, uv, composer …).
    #[arg(long)]
    pub include_dev_deps: bool,
    /// An OpenVEX document: findings it states `not_affected` or `fixed` for are left out.
    #[arg(long, value_name = "FILE")]
    pub vex: Option<PathBuf>,
    #[command(flatten)]
    pub flags: ScanFlags,
}

/// `kguard sbom` arguments.
#[derive(Clone, Debug, clap::Args)]
pub struct SbomArgs {
    /// A CycloneDX JSON or SPDX 2 JSON document (kguard's, Trivy's, or any with package URLs).
    pub sbom: PathBuf,
    #[command(flatten)]
    pub flags: ScanFlags,
}

fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| format!("{s:?}: expected a size such as 512Mi or 4G"))?;
    let mult: u64 = match unit {
        "" => 1,
        "K" | "k" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        _ => return Err(format!("{s:?}: unknown unit {unit:?} (K, M, G, Ki, Mi, Gi)")),
    };
    n.checked_mul(mult).ok_or_else(|| format!("{s:?}: too large"))
}

/// The filters and database of the flags, or the exit code of an error already reported.
fn prepare(a: &ScanFlags) -> Result<(Filters, kguard_vuln::osv::Db), u8> {
    let mut severities = BTreeSet::new();
    for s in &a.severity {
        let up = s.trim().to_ascii_uppercase();
        if !SEVERITIES.contains(&up.as_str()) {
            eprintln!("error: unknown severity {s:?} (expected one of {})", SEVERITIES.join(","));
            return Err(exit::ERROR);
        }
        severities.insert(up);
    }
    let db = match &a.db {
        Some(p) => match kguard_vuln::osv::load(p) {
            Ok(db) => db,
            Err(e) => {
                eprintln!("error: {e}");
                return Err(exit::ERROR);
            }
        },
        None => kguard_vuln::osv::Db::default(),
    };
    let ignore = match read_ignorefile(a.ignorefile.as_deref()) {
        Ok(i) => i,
        Err(msg) => {
            eprintln!("error: {msg}");
            return Err(exit::ERROR);
        }
    };
    let java_db = match &a.java_db {
        Some(p) => match kguard_vuln::lang::javadb::JavaDb::open(p) {
            Ok(j) => Some(std::sync::Arc::new(j)),
            Err(e) => {
                eprintln!("error: --java-db {e}");
                return Err(exit::ERROR);
            }
        },
        None => None,
    };
    Ok((
        Filters { severities, ignore_unfixed: a.ignore_unfixed, ignore, now: kguard_model::time::now_unix(), java_db },
        db,
    ))
}

/// The ignore file named, or `.trivyignore` in the working directory when there is one.
fn read_ignorefile(named: Option<&std::path::Path>) -> Result<kguard_vuln::ignore::IgnoreFile, String> {
    let default = std::path::Path::new(".trivyignore");
    let path = match named {
        Some(p) => p,
        None if default.is_file() => default,
        None => return Ok(kguard_vuln::ignore::IgnoreFile::default()),
    };
    let text = read_capped(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let text = String::from_utf8_lossy(&text);
    let parsed = if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
        kguard_vuln::ignore::IgnoreFile::parse_yaml(&text)
    } else {
        kguard_vuln::ignore::IgnoreFile::parse(&text)
    };
    parsed.map_err(|e| format!("{}: {e}", path.display()))
}

/// The time an SBOM records: `SOURCE_DATE_EPOCH` when set (reproducible builds), else now.
fn doc_meta() -> DocMeta {
    let secs = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|v| v.trim().parse::<i64>().ok())
        .unwrap_or_else(kguard_model::time::now_unix);
    DocMeta {
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        timestamp: kguard_model::time::format_rfc3339(secs),
        uuid: kguard_vuln::sbom::new_uuid(),
    }
}

/// Writes a result as the flags ask; the exit code.
fn render(result: &ScanResult, a: &ScanFlags, what: &std::path::Path) -> u8 {
    for w in &result.warnings {
        eprintln!("warning: {w}");
    }
    let (os, library) = (a.pkg_types.iter().any(|t| t == "os"), a.pkg_types.iter().any(|t| t == "library"));
    if !(os && library) {
        let mut kept = result.clone();
        if !os {
            kept.packages.clear();
            kept.findings.clear();
        }
        if !library {
            kept.lang.clear();
        }
        return render_kept(&kept, a, what);
    }
    render_kept(result, a, what)
}

fn render_kept(result: &ScanResult, a: &ScanFlags, what: &std::path::Path) -> u8 {
    let mut out = match output::sink(a.output_file.as_deref()) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: cannot create {}: {e}", a.output_file.as_deref().unwrap_or(what).display());
            return exit::ERROR;
        }
    };
    let written = match a.output {
        Format::Json => output::structured(&mut *out, Format::Json, &result.to_trivy_json(a.list_all_pkgs)),
        Format::Sarif => {
            kguard_report::sarif::render(&sarif_report(result), &mut *out, &kguard_report::RenderOptions::default())
        }
        Format::Cyclonedx => {
            output::structured(&mut *out, Format::Json, &kguard_vuln::sbom::cyclonedx(result, &doc_meta()))
        }
        Format::SpdxJson => output::structured(&mut *out, Format::Json, &kguard_vuln::sbom::spdx(result, &doc_meta())),
        _ => out.write_all(result.to_table().as_bytes()),
    };
    if let Err(e) = written.and_then(|()| out.flush()) {
        return output::write_failed(&e, "the report");
    }
    if result.total_findings() == 0 { exit::CLEAN } else { a.exit_code }
}

/// A vulnerability scan as a findings report, for SARIF: one finding per vulnerable package,
/// its rule the advisory id. Lockfile packages point at their lockfile and line; OS packages at
/// the scanned target.
fn sarif_report(result: &ScanResult) -> kguard_report::Report {
    use std::borrow::Cow;
    use std::sync::Arc;

    use kguard_report::{Finding, Severity};
    let severity = |s: &str| match s {
        "CRITICAL" => Severity::Critical,
        "HIGH" => Severity::High,
        "MEDIUM" => Severity::Medium,
        "LOW" => Severity::Low,
        _ => Severity::Info,
    };
    let make = |f: &kguard_vuln::scan::Finding, location: kguard_model::Location| {
        let fixed = f.fixed.as_deref().map_or_else(|| "no fixed version yet".to_owned(), |v| format!("fixed in {v}"));
        let mut message = format!("Package {} {} is affected by {} ({fixed})", f.pkg, f.installed, f.id);
        if !f.title.is_empty() {
            message.push_str(&format!(": {}", f.title));
        }
        if let Some(u) = f.references.first() {
            message.push_str(&format!(" — {u}"));
        }
        Finding {
            rule_id: f.id.clone(),
            severity: severity(f.severity),
            title: Cow::Owned(if f.title.is_empty() { f.id.clone() } else { f.title.clone() }),
            message,
            object: None,
            container: None,
            pointer: None,
            location: Some(location),
            remediation: f.fixed.as_ref().map(|v| Cow::Owned(format!("Upgrade {} to {v} or later.", f.pkg))),
            references: &[],
            merged: Vec::new(),
        }
    };
    let mut findings = Vec::new();
    let target: Arc<str> = Arc::from(result.target.as_str());
    for f in &result.findings {
        findings.push(make(f, kguard_model::Location::file(target.clone())));
    }
    for l in &result.lang {
        let file: Arc<str> = if result.artifact_type == "repository" {
            Arc::from(format!("{}/{}", result.target.trim_end_matches('/'), l.target.path).as_str())
        } else {
            Arc::from(l.target.path.as_str())
        };
        for f in &l.findings {
            let line = l
                .target
                .packages
                .iter()
                .find(|p| p.name == f.pkg && p.version == f.installed)
                .and_then(|p| p.locations.first())
                .and_then(|x| u32::try_from(x.start_line).ok());
            let location = match line {
                Some(line) => kguard_model::Location::at(file.clone(), kguard_model::Pos { line, column: 1 }),
                None => kguard_model::Location::file(file.clone()),
            };
            findings.push(make(f, location));
        }
    }
    kguard_report::Report { findings, ..kguard_report::Report::default() }
}

/// `kguard fs`.
pub fn run_fs(a: &FsArgs) -> u8 {
    let (filters, db) = match prepare(&a.flags) {
        Ok(x) => x,
        Err(code) => return code,
    };
    if !a.root.is_dir() {
        eprintln!("error: {}: not a directory", a.root.display());
        return exit::ERROR;
    }
    let result = match kguard_vuln::scan::scan_rootfs(&a.root, &db, &filters) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::ERROR;
        }
    };
    render(&result, &a.flags, &a.root)
}

/// The registry credentials: `--username` with `--password-stdin`, the environment, or the
/// Docker client configuration.
fn registry_credentials(a: &ImageArgs, registry: &str) -> Result<Option<kguard_server::registry::Credentials>, String> {
    ambient_credentials(a.username.as_deref(), a.password_stdin, registry)
}

/// Registry credentials for `registry`: a user name with the password from stdin (or
/// `KGUARD_REGISTRY_PASSWORD`), else `KGUARD_REGISTRY_USERNAME`/`KGUARD_REGISTRY_PASSWORD`, else
/// the Docker client's `config.json`; `None` when there are none (anonymous).
pub(crate) fn ambient_credentials(
    username: Option<&str>,
    password_stdin: bool,
    registry: &str,
) -> Result<Option<kguard_server::registry::Credentials>, String> {
    use kguard_server::registry::Credentials;
    if let Some(user) = username {
        let mut password = String::new();
        if password_stdin {
            std::io::Read::read_to_string(&mut std::io::Read::take(std::io::stdin().lock(), 64 << 10), &mut password)
                .map_err(|e| format!("reading the password from stdin: {e}"))?;
        } else if let Ok(p) = std::env::var("KGUARD_REGISTRY_PASSWORD") {
            password = p;
        } else {
            return Err("--username needs --password-stdin (or KGUARD_REGISTRY_PASSWORD)".into());
        }
        return Ok(Some(Credentials {
            username: user.to_owned(),
            password: password.trim_end_matches(['\r', '\n']).to_owned(),
        }));
    }
    if let (Ok(u), Ok(p)) = (std::env::var("KGUARD_REGISTRY_USERNAME"), std::env::var("KGUARD_REGISTRY_PASSWORD")) {
        return Ok(Some(Credentials { username: u, password: p }));
    }
    let dir = std::env::var_os("DOCKER_CONFIG")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker")));
    let Some(path) = dir.map(|d| d.join("config.json")) else { return Ok(None) };
    let Ok(bytes) = read_capped(&path) else { return Ok(None) };
    let config: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| format!("{}: invalid JSON: {e}", path.display()))?;
    Ok(kguard_server::registry::docker_config_credentials(&config, registry))
}

/// Pulls `reference` into a temporary OCI layout and reads it.
fn pull(
    a: &ImageArgs,
    reference: &str,
    opts: &kguard_vuln::image::Options<'_>,
) -> Result<kguard_vuln::image::Image, String> {
    let parsed = kguard_server::registry::Reference::parse(reference)?;
    let credentials = registry_credentials(a, &parsed.registry)?;
    let pull_opts = kguard_server::registry::PullOptions {
        credentials,
        insecure: a.insecure,
        ca_file: a.registry_ca.clone(),
        max_bytes: a.max_image_size,
    };
    let dir =
        tempfile::Builder::new().prefix("kguard-pull-").tempdir().map_err(|e| format!("temporary directory: {e}"))?;
    let mut client = kguard_server::registry::Client::new(parsed, &pull_opts).map_err(|e| e.to_string())?;
    let platform = a.platform.clone();
    let choose = move |list: &[serde_json::Value]| kguard_vuln::image::choose_platform(list, platform.as_deref());
    let pulled = client.pull(dir.path(), &choose).map_err(|e| e.to_string())?;
    let mut image = kguard_vuln::image::open(dir.path(), opts).map_err(|e| e.to_string())?;
    image.name = reference.to_owned();
    image.repo_digests = vec![pulled.repo_digest];
    Ok(image)
}

/// Whether IMAGE names a file rather than a registry reference: a relative or absolute path,
/// or an archive's extension.
fn looks_like_path(s: &str) -> bool {
    s.starts_with(['.', '/', '~'])
        || [".tar", ".tar.gz", ".tgz", ".tar.zst", ".oci"].iter().any(|e| s.ends_with(e))
        || s.contains(['\\'])
}

/// `kguard image`.
pub fn run_image(a: &ImageArgs) -> u8 {
    let (filters, db) = match prepare(&a.flags) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let opts = kguard_vuln::image::Options {
        wanted: &kguard_vuln::pkgdb::wanted,
        max_uncompressed: a.max_image_size,
        platform: a.platform.clone(),
        lang_packages: true,
        verify_layers: a.verify_layers,
    };
    let on_disk = a
        .input
        .clone()
        .or_else(|| a.image.as_deref().map(PathBuf::from).filter(|p| std::fs::symlink_metadata(p).is_ok()));
    let image = match (&on_disk, &a.image) {
        (Some(path), _) => kguard_vuln::image::open(path, &opts).map_err(|e| e.to_string()),
        (None, Some(reference)) if looks_like_path(reference) => Err(format!(
            "{reference}: no such file or directory (an image saved with `docker save`, `podman save` or \
             `skopeo copy ... oci:DIR`; or name an image reference to pull it from its registry)"
        )),
        (None, Some(reference)) => pull(a, reference, &opts),
        (None, None) => Err("name the image to scan (IMAGE or --input PATH)".to_owned()),
    };
    let image = match image {
        Ok(i) => i,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::ERROR;
        }
    };
    for w in &image.warnings {
        eprintln!("warning: {w}");
    }
    let result = match kguard_vuln::scan::scan_image(&image, &db, &filters) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::ERROR;
        }
    };
    render(&result, &a.flags, std::path::Path::new(&image.name))
}

/// `kguard repo`.
pub fn run_repo(a: &RepoArgs) -> u8 {
    let (filters, db) = match prepare(&a.flags) {
        Ok(x) => x,
        Err(code) => return code,
    };
    if !a.dir.is_dir() {
        eprintln!("error: {}: not a directory", a.dir.display());
        return exit::ERROR;
    }
    let vex = match &a.vex {
        None => None,
        Some(path) => {
            let parsed = read_capped(path).map_err(|e| e.to_string()).and_then(|b| {
                kguard_vuln::lang::vex::OpenVex::parse(&String::from_utf8_lossy(&b)).map_err(|e| e.to_string())
            });
            match parsed {
                Ok(v) => Some(v),
                Err(e) => {
                    eprintln!("error: {}: {e}", path.display());
                    return exit::ERROR;
                }
            }
        }
    };
    let opts = kguard_vuln::lang::LangOptions {
        mode: kguard_vuln::lang::Mode::Repo,
        skip_files: a.skip_files.clone(),
        skip_dirs: a.skip_dirs.clone(),
        root_label: a.dir.display().to_string(),
    };
    let mut targets = match kguard_vuln::lang::find(&a.dir, &opts) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::ERROR;
        }
    };
    if !a.include_dev_deps {
        for t in &mut targets {
            kguard_vuln::lang::exclude_dev(&mut t.packages);
        }
    }
    let mut lang = kguard_vuln::scan::match_lang(&db, targets, &filters);
    if let Some(v) = &vex {
        for l in &mut lang {
            let target = l.target.clone();
            l.findings.retain(|f| {
                let pkg = target.packages.iter().find(|p| p.name == f.pkg && p.version == f.installed);
                !pkg.is_some_and(|p| {
                    v.suppresses(&target, p, &f.id) || f.aliases.iter().any(|x| v.suppresses(&target, p, x))
                })
            });
        }
    }
    let result = ScanResult {
        target: a.dir.display().to_string(),
        os: None,
        packages: Vec::new(),
        findings: Vec::new(),
        image: None,
        lang,
        artifact_type: "repository",
        warnings: Vec::new(),
    };
    render(&result, &a.flags, &a.dir)
}

/// `kguard sbom`.
pub fn run_sbom(a: &SbomArgs) -> u8 {
    let (filters, db) = match prepare(&a.flags) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let bytes = match read_capped(&a.sbom) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: {}: {e}", a.sbom.display());
            return exit::ERROR;
        }
    };
    let inv = match kguard_vuln::sbom::read(&bytes) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("error: {}: {e}", a.sbom.display());
            return exit::ERROR;
        }
    };
    if inv.other > 0 {
        eprintln!("note: {} components have package URLs of types kguard does not match; left out", inv.other);
    }
    let findings = kguard_vuln::scan::match_packages(&db, inv.os.as_ref(), &inv.packages, &filters);
    let lang = kguard_vuln::scan::match_lang(&db, inv.lang, &filters);
    let result = ScanResult {
        target: a.sbom.display().to_string(),
        os: inv.os,
        packages: inv.packages,
        findings,
        image: None,
        lang,
        artifact_type: inv.format,
        warnings: Vec::new(),
    };
    render(&result, &a.flags, &a.sbom)
}

/// Most bytes of an SBOM read.
const MAX_SBOM: u64 = 512 << 20;

pub(crate) fn read_capped(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    if meta.len() > MAX_SBOM {
        return Err(std::io::Error::other(format!("larger than {MAX_SBOM} bytes")));
    }
    let mut buf = Vec::new();
    std::io::Read::read_to_end(&mut std::io::Read::take(std::fs::File::open(path)?, MAX_SBOM + 1), &mut buf)?;
    Ok(buf)
}

/// `kguard db` subcommands.
#[derive(Clone, Debug, clap::Subcommand)]
pub enum DbCommand {
    /// Import OSV data (directories of records, osv.dev zips, records) into one compact index
    /// file that `--db` reads (gzip-compressed JSON lines; offline, nothing is downloaded).
    Import {
        /// The OSV data to import (each a directory, zip or record).
        #[arg(required = true)]
        sources: Vec<PathBuf>,
        /// The index file to write (replaced atomically).
        #[arg(long = "output-file", value_name = "FILE", required = true)]
        output_file: PathBuf,
    },
    /// Load OSV data (directory, zip or record) and print what it holds: records per ecosystem.
    Info {
        /// The OSV data.
        path: PathBuf,
        /// Output format: `table` or `json`.
        #[arg(short = 'o', long = "output", default_value = "table",
              value_parser = output::parser(&[Format::Table, Format::Json]))]
        output: Format,
    },
}

/// `kguard db import`.
fn import(sources: &[PathBuf], output_file: &std::path::Path) -> u8 {
    let mut db = kguard_vuln::osv::Db::default();
    for src in sources {
        match kguard_vuln::osv::load(src) {
            Ok(one) => {
                for r in one.records() {
                    db.add(r.clone());
                }
            }
            Err(e) => {
                eprintln!("error: {e}");
                return exit::ERROR;
            }
        }
    }
    // Written beside the target, synced, then renamed over it: a reader never sees half a file.
    let dir = output_file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    let written = tempfile::Builder::new().prefix(".kguard-osv-").tempfile_in(dir).and_then(|mut tmp| {
        let n = kguard_vuln::osv::write_index(&db, &mut std::io::BufWriter::new(tmp.as_file_mut()))?;
        // Advisory data is public: readable by others, as a file written with the umask would be.
        tmp.as_file().set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
        tmp.as_file().sync_all()?;
        tmp.persist(output_file).map_err(|e| e.error)?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(n)
    });
    match written {
        Ok(n) => {
            let size = std::fs::metadata(output_file).map(|m| m.len()).unwrap_or(0);
            let ecos = db.ecosystems();
            println!("{}: {n} records, {} ecosystems, {size} bytes", output_file.display(), ecos.len());
            exit::CLEAN
        }
        Err(e) => {
            eprintln!("error: cannot write {}: {e}", output_file.display());
            exit::ERROR
        }
    }
}

/// `kguard db`.
pub fn run_db(c: &DbCommand) -> u8 {
    match c {
        DbCommand::Import { sources, output_file } => import(sources, output_file),
        DbCommand::Info { path, output: fmt } => {
            let db = match kguard_vuln::osv::load(path) {
                Ok(db) => db,
                Err(e) => {
                    eprintln!("error: {e}");
                    return exit::ERROR;
                }
            };
            let ecos = db.ecosystems();
            let text = if *fmt == Format::Json {
                let v = serde_json::json!({"records": db.len(), "affectedEntries": ecos});
                serde_json::to_string_pretty(&v).unwrap_or_default() + "\n"
            } else {
                let mut s = format!("{}: {} records\n", path.display(), db.len());
                for (e, n) in &ecos {
                    s.push_str(&format!("  {e}: {n} affected entries\n"));
                }
                s
            };
            let mut out = std::io::stdout().lock();
            if let Err(e) = out.write_all(text.as_bytes()) {
                return output::write_failed(&e, "the answer");
            }
            exit::CLEAN
        }
    }
}
