//! `kguard fs`, `kguard image`, `kguard sbom` and `kguard db`: vulnerability scanning of a root
//! filesystem, an image or an SBOM against OSV data, and SBOMs written (docs/vuln.md). The engines are `kguard_vuln`'s; this module parses flags and prints.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::PathBuf;

use kguard_vuln::sbom::DocMeta;
use kguard_vuln::scan::{Filters, SEVERITIES, ScanResult};

use crate::exit;
use crate::output::{self, Format};

/// Flags shared by `kguard fs`, `kguard image` and `kguard sbom`.
#[derive(Clone, Debug, clap::Args)]
pub struct ScanFlags {
    /// OSV data: a directory of `*.json` records and/or per-ecosystem `*.zip` files, one zip, or
    /// one record. Without it only the package inventory is reported.
    #[arg(long)]
    pub db: Option<PathBuf>,
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
    /// Vulnerability ids to accept, one per line, `#` comments, `ID exp:YYYY-MM-DD` to stop
    /// accepting at that date (Trivy's `.trivyignore`; an id also matches the CVE a
    /// distribution's advisory is about). Default: `.trivyignore` when it exists.
    #[arg(long, value_name = "FILE")]
    pub ignorefile: Option<PathBuf>,
    /// Output format: `table`, `json` (Trivy's report, SchemaVersion 2), `cyclonedx` (CycloneDX
    /// 1.6 JSON) or `spdx-json` (SPDX 2.3 JSON). An SBOM lists the packages, and the
    /// vulnerabilities too (CycloneDX) when `--db` is given.
    #[arg(short = 'o', long = "output", default_value = "table",
          value_parser = output::parser(&[Format::Table, Format::Json, Format::Cyclonedx, Format::SpdxJson]))]
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
    /// A `docker save` archive (tar or tar.gz) or an OCI image layout (directory or tar), as
    /// `--input`. Pulling IMAGE from a registry is not supported: save it first.
    #[arg(value_name = "IMAGE", required_unless_present = "input", conflicts_with = "input")]
    pub image: Option<PathBuf>,
    /// The archive or layout to scan (Trivy's `--input`).
    #[arg(long, short = 'i', value_name = "PATH")]
    pub input: Option<PathBuf>,
    /// The image to take from a multi-platform index: `os/arch[/variant]` (default: this machine's).
    #[arg(long, value_name = "OS/ARCH")]
    pub platform: Option<String>,
    /// Most bytes the layers may expand to, all together (suffixes K, M, G, Ki, Mi, Gi).
    #[arg(long, value_name = "SIZE", default_value = "32Gi", value_parser = parse_size)]
    pub max_image_size: u64,
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
    Ok((Filters { severities, ignore_unfixed: a.ignore_unfixed, ignore, now: kguard_model::time::now_unix() }, db))
}

/// The ignore file named, or `.trivyignore` in the working directory when there is one.
fn read_ignorefile(named: Option<&std::path::Path>) -> Result<kguard_vuln::ignore::IgnoreFile, String> {
    let default = std::path::Path::new(".trivyignore");
    let path = match named {
        Some(p) => p,
        None if default.is_file() => default,
        None => return Ok(kguard_vuln::ignore::IgnoreFile::default()),
    };
    if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
        return Err(format!(
            "{}: the YAML ignore file (.trivyignore.yaml) is not supported; use the text format (one id per line)",
            path.display()
        ));
    }
    let text = read_capped(path).map_err(|e| format!("{}: {e}", path.display()))?;
    kguard_vuln::ignore::IgnoreFile::parse(&String::from_utf8_lossy(&text))
        .map_err(|e| format!("{}: {e}", path.display()))
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
    let mut out = match output::sink(a.output_file.as_deref()) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: cannot create {}: {e}", a.output_file.as_deref().unwrap_or(what).display());
            return exit::ERROR;
        }
    };
    let written = match a.output {
        Format::Json => {
            let mut v = result.to_trivy_json();
            if a.list_all_pkgs
                && let Some(r) =
                    v.get_mut("Results").and_then(|r| r.get_mut(0)).and_then(serde_json::Value::as_object_mut)
            {
                let pkgs: serde_json::Value = result
                    .packages
                    .iter()
                    .map(|p| {
                        serde_json::json!({"Name": p.name, "Version": p.version, "Arch": p.arch,
                            "SrcName": p.src_name, "SrcVersion": p.src_version})
                    })
                    .collect();
                r.insert("Packages".into(), pkgs);
            }
            output::structured(&mut *out, Format::Json, &v)
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
    if result.findings.is_empty() { exit::CLEAN } else { a.exit_code }
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

/// `kguard image`.
pub fn run_image(a: &ImageArgs) -> u8 {
    let Some(input) = a.input.as_ref().or(a.image.as_ref()) else {
        eprintln!("error: name the image archive or layout to scan (--input PATH)");
        return exit::ERROR;
    };
    if std::fs::symlink_metadata(input).is_err() {
        eprintln!(
            "error: {}: no such file or directory (kguard reads images saved with `docker save`, \
             `podman save`, `skopeo copy ... oci:DIR` or `crane pull`; pulling from a registry is not supported)",
            input.display()
        );
        return exit::ERROR;
    }
    let (filters, db) = match prepare(&a.flags) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let opts = kguard_vuln::image::Options {
        wanted: &kguard_vuln::pkgdb::wanted,
        max_uncompressed: a.max_image_size,
        platform: a.platform.clone(),
    };
    let image = match kguard_vuln::image::open(input, &opts) {
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
    render(&result, &a.flags, input)
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
        eprintln!("note: {} components are not OS packages (deb, apk, rpm) and are not matched", inv.other);
    }
    let findings = kguard_vuln::scan::match_packages(&db, inv.os.as_ref(), &inv.packages, &filters);
    let result =
        ScanResult { target: a.sbom.display().to_string(), os: inv.os, packages: inv.packages, findings, image: None };
    render(&result, &a.flags, &a.sbom)
}

/// Most bytes of an SBOM read.
const MAX_SBOM: u64 = 512 << 20;

fn read_capped(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
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

/// `kguard db`.
pub fn run_db(c: &DbCommand) -> u8 {
    match c {
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
