//! `kguard scan --images`: the container images the scanned workloads run (every init, regular
//! and ephemeral container, with the file:line of its `image` field), and, with `--db`, the
//! vulnerabilities of each image that can be read: a saved archive or OCI layout named in an
//! `--image-map` file, or (with `--pull`) the image pulled from its registry.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use kguard_model::Object;
use serde_json::{Value, json};

use crate::args::ScanArgs;
use crate::exit;
use crate::output::Format as Output;

/// One use of an image: the workload, the container, where the image is written.
struct Use {
    workload: String,
    container: String,
    location: String,
}

/// Where an image's content comes from, if anywhere.
enum Source {
    /// Read from this archive or layout.
    Local(PathBuf),
    /// Pulled from its registry.
    Registry,
    /// Neither: only listed.
    None,
}

/// Reads `--image-map`: a JSON or YAML-like `IMAGE: PATH` mapping, one per line (`#` comments);
/// relative paths are taken from the map file's directory.
fn read_map(path: &Path) -> Result<BTreeMap<String, PathBuf>, String> {
    // A regular file, read with a size cap (never a FIFO or a device).
    let bytes = crate::vuln::read_capped(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let text = String::from_utf8(bytes).map_err(|_| format!("{}: not UTF-8 text", path.display()))?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut out = BTreeMap::new();
    if text.trim_start().starts_with('{') {
        let v: Value = serde_json::from_str(&text).map_err(|e| format!("{}: invalid JSON: {e}", path.display()))?;
        for (k, p) in v.as_object().into_iter().flatten() {
            let p = p.as_str().ok_or_else(|| format!("{}: {k}: expected a path string", path.display()))?;
            out.insert(k.clone(), base.join(p));
        }
        return Ok(out);
    }
    for (i, line) in text.lines().enumerate() {
        let content = line.split(" #").next().unwrap_or("").trim();
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        // The image reference may hold `:` (tag, port): the path follows the last `: `.
        let Some((image, p)) = content.rsplit_once(": ") else {
            return Err(format!("{}:{}: expected `IMAGE: PATH`", path.display(), i + 1));
        };
        let image = image.trim().trim_matches('"').trim_matches('\'');
        let p = p.trim().trim_matches('"').trim_matches('\'');
        if image.is_empty() || p.is_empty() {
            return Err(format!("{}:{}: expected `IMAGE: PATH`", path.display(), i + 1));
        }
        out.insert(image.to_owned(), base.join(p));
    }
    Ok(out)
}

fn uses(objects: &[Object]) -> BTreeMap<String, Vec<Use>> {
    let mut out: BTreeMap<String, Vec<Use>> = BTreeMap::new();
    for obj in objects {
        let Some(Ok(view)) = kguard_model::workload::pod_view(obj) else { continue };
        for c in view.containers() {
            let Some(image) = c.container.image.as_deref().filter(|i| !i.trim().is_empty()) else { continue };
            let location = obj.location(&format!("{}/image", c.pointer()));
            out.entry(image.trim().to_owned()).or_default().push(Use {
                workload: obj.id.to_string(),
                container: c.name().to_owned(),
                location: location.to_string(),
            });
        }
    }
    out
}

/// `kguard scan --images`.
pub fn run(args: &ScanArgs, objects: &[Object]) -> u8 {
    if !matches!(args.output, Output::Table | Output::Json | Output::Yaml) {
        eprintln!("error: scan --images writes table, json or yaml, not {}", args.output.name());
        return exit::ERROR;
    }
    let map = match &args.image_map {
        Some(p) => match read_map(p) {
            Ok(m) => m,
            Err(e) => {
                eprintln!("error: --image-map: {e}");
                return exit::ERROR;
            }
        },
        None => BTreeMap::new(),
    };
    let db = match &args.db {
        Some(p) => match kguard_vuln::osv::load(p) {
            Ok(db) => Some(db),
            Err(e) => {
                eprintln!("error: --db: {e}");
                return exit::ERROR;
            }
        },
        None => None,
    };
    let images = uses(objects);
    let filters = kguard_vuln::scan::Filters { now: kguard_model::time::now_unix(), ..Default::default() };
    let mut entries = Vec::new();
    let mut total = 0usize;
    let mut failed = false;
    for (image, users) in &images {
        let source = match map.get(image) {
            Some(p) => Source::Local(p.clone()),
            None if args.pull => Source::Registry,
            None => Source::None,
        };
        let mut report = None;
        let mut error = None;
        if let Some(db) = &db {
            let opts = kguard_vuln::image::Options {
                wanted: &kguard_vuln::pkgdb::wanted,
                max_uncompressed: kguard_vuln::image::DEFAULT_MAX_UNCOMPRESSED,
                platform: None,
                lang_packages: true,
                verify_layers: false,
            };
            let read = match &source {
                Source::Local(p) => kguard_vuln::image::open(p, &opts).map_err(|e| e.to_string()).map(Some),
                Source::Registry => pull(image, &opts).map(Some),
                Source::None => Ok(None),
            };
            match read.and_then(|i| match i {
                Some(i) => kguard_vuln::scan::scan_image(&i, db, &filters).map(Some).map_err(|e| e.to_string()),
                None => Ok(None),
            }) {
                Ok(Some(mut r)) => {
                    r.target.clone_from(image);
                    total += r.total_findings();
                    report = Some(r);
                }
                Ok(None) => {}
                Err(e) => {
                    failed = true;
                    error = Some(e);
                }
            }
        }
        entries.push((image, users, source, report, error));
    }
    let text = if matches!(args.output, Output::Json | Output::Yaml) {
        let list: Vec<Value> = entries
            .iter()
            .map(|(image, users, source, report, error)| {
                let mut o = serde_json::Map::new();
                o.insert("image".into(), json!(image));
                o.insert(
                    "usedBy".into(),
                    json!(
                        users
                            .iter()
                            .map(|u| json!({"workload": u.workload, "container": u.container, "location": u.location}))
                            .collect::<Vec<_>>()
                    ),
                );
                o.insert(
                    "source".into(),
                    match source {
                        Source::Local(p) => json!(p.display().to_string()),
                        Source::Registry => json!("registry"),
                        Source::None => Value::Null,
                    },
                );
                if let Some(r) = report {
                    o.insert("report".into(), r.to_trivy_json(false));
                }
                if let Some(e) = error {
                    o.insert("error".into(), json!(e));
                }
                Value::Object(o)
            })
            .collect();
        let v = json!({"apiVersion": "kguard.io/v1", "kind": "ImageList", "images": list});
        let mut buf = Vec::new();
        if let Err(e) = crate::output::structured(&mut buf, args.output, &v) {
            eprintln!("error: {e}");
            return exit::ERROR;
        }
        String::from_utf8_lossy(&buf).into_owned()
    } else {
        let mut s = String::new();
        for (image, users, source, report, error) in &entries {
            let from = match source {
                Source::Local(p) => format!(" (from {})", p.display()),
                Source::Registry => " (from its registry)".to_owned(),
                Source::None => String::new(),
            };
            s.push_str(&format!("{image}{from}\n"));
            for u in users.iter() {
                s.push_str(&format!("  {} container {} at {}\n", u.workload, u.container, u.location));
            }
            if let Some(e) = error {
                s.push_str(&format!("  error: {e}\n"));
            }
            if let Some(r) = report {
                for line in r.to_table().lines() {
                    s.push_str(if line.is_empty() { "\n" } else { "  " });
                    if !line.is_empty() {
                        s.push_str(line);
                        s.push('\n');
                    }
                }
            }
            s.push('\n');
        }
        let not_read = entries.iter().filter(|e| matches!(e.2, Source::None)).count();
        s.push_str(&format!(
            "{} images in {} workload containers",
            entries.len(),
            images.values().map(Vec::len).sum::<usize>()
        ));
        if db.is_some() {
            s.push_str(&format!("; {total} vulnerabilities"));
            if not_read > 0 {
                s.push_str(&format!("; {not_read} images not scanned (not in --image-map; --pull fetches them)"));
            }
        }
        s.push('\n');
        s
    };
    let written = match &args.output_file {
        Some(path) => std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display())),
        None => std::io::stdout().lock().write_all(text.as_bytes()).map_err(|e| {
            let _ = crate::output::write_failed(&e, "the list");
            format!("cannot write the list: {e}")
        }),
    };
    if let Err(e) = written {
        eprintln!("error: {e}");
        return exit::ERROR;
    }
    if failed {
        exit::ERROR
    } else if entries.iter().filter_map(|e| e.3.as_ref()).any(|r| fails(r, args.fail_on)) {
        exit::FINDINGS
    } else {
        exit::CLEAN
    }
}

/// Whether a report has a vulnerability at or above `--fail-on` (UNKNOWN counts as info).
fn fails(r: &kguard_vuln::scan::ScanResult, fail_on: Option<crate::args::FailOn>) -> bool {
    use crate::args::FailOn;
    let min = match fail_on.unwrap_or(FailOn::Any) {
        FailOn::Never => return false,
        FailOn::Any | FailOn::Info => 0,
        FailOn::Low => 1,
        FailOn::Medium => 2,
        FailOn::High => 3,
        FailOn::Critical => 4,
    };
    let rank = |s: &str| kguard_vuln::scan::SEVERITIES.iter().position(|x| *x == s).unwrap_or(0);
    r.findings.iter().chain(r.lang.iter().flat_map(|l| &l.findings)).any(|f| rank(f.severity) >= min)
}

fn pull(image: &str, opts: &kguard_vuln::image::Options<'_>) -> Result<kguard_vuln::image::Image, String> {
    let reference = kguard_server::registry::Reference::parse(image)?;
    let credentials = crate::vuln::ambient_credentials(None, false, &reference.registry)?;
    let dir =
        tempfile::Builder::new().prefix("kguard-pull-").tempdir().map_err(|e| format!("temporary directory: {e}"))?;
    let pull_opts = kguard_server::registry::PullOptions {
        credentials,
        max_bytes: kguard_vuln::image::DEFAULT_MAX_UNCOMPRESSED,
        ..kguard_server::registry::PullOptions::default()
    };
    let mut client = kguard_server::registry::Client::new(reference, &pull_opts).map_err(|e| e.to_string())?;
    let choose = |list: &[Value]| kguard_vuln::image::choose_platform(list, None);
    let pulled = client.pull(dir.path(), &choose).map_err(|e| e.to_string())?;
    let mut i = kguard_vuln::image::open(dir.path(), opts).map_err(|e| e.to_string())?;
    i.repo_digests = vec![pulled.repo_digest];
    Ok(i)
}
