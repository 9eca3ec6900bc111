//! `kguard fs` and `kguard db`: vulnerability scanning of a root filesystem against OSV data
//! (docs/vuln.md). The engines are `kguard_vuln`'s; this module parses flags and prints.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::PathBuf;

use kguard_vuln::scan::{Filters, SEVERITIES};

use crate::exit;
use crate::output::{self, Format};

/// `kguard fs` arguments.
#[derive(Clone, Debug, clap::Args)]
pub struct FsArgs {
    /// The root directory to scan (an unpacked image or a mounted node filesystem).
    pub root: PathBuf,
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
    /// Output format: `table` or `json` (Trivy's report, SchemaVersion 2).
    #[arg(short = 'o', long = "output", default_value = "table",
          value_parser = output::parser(&[Format::Table, Format::Json]))]
    pub output: Format,
    /// Write the report to FILE instead of stdout.
    #[arg(long = "output-file", value_name = "FILE")]
    pub output_file: Option<PathBuf>,
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

/// `kguard fs`.
pub fn run_fs(a: &FsArgs) -> u8 {
    let mut severities = BTreeSet::new();
    for s in &a.severity {
        let up = s.trim().to_ascii_uppercase();
        if !SEVERITIES.contains(&up.as_str()) {
            eprintln!("error: unknown severity {s:?} (expected one of {})", SEVERITIES.join(","));
            return exit::ERROR;
        }
        severities.insert(up);
    }
    let db = match &a.db {
        Some(p) => match kguard_vuln::osv::load(p) {
            Ok(db) => db,
            Err(e) => {
                eprintln!("error: {e}");
                return exit::ERROR;
            }
        },
        None => kguard_vuln::osv::Db::default(),
    };
    if !a.root.is_dir() {
        eprintln!("error: {}: not a directory", a.root.display());
        return exit::ERROR;
    }
    let filters = Filters { severities, ignore_unfixed: a.ignore_unfixed };
    let result = match kguard_vuln::scan::scan_rootfs(&a.root, &db, &filters) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::ERROR;
        }
    };
    let mut out = match output::sink(a.output_file.as_deref()) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: cannot create {}: {e}", a.output_file.as_deref().unwrap_or(a.root.as_path()).display());
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
        _ => out.write_all(result.to_table().as_bytes()),
    };
    if let Err(e) = written.and_then(|()| out.flush()) {
        return output::write_failed(&e, "the report");
    }
    if result.findings.is_empty() { exit::CLEAN } else { a.exit_code }
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
