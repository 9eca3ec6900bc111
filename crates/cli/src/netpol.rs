//! `kguard netpol`: NetworkPolicy connectivity (`list`) and single-connection explanations
//! (`reach`), np-guard compatible.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use kguard_model::{Object, load};
use kguard_netpol::{Format, Protocol};

use crate::output::{self, Format as OutFormat};

/// The engine's renderer for an `-o` format of `kguard netpol list`.
const fn engine(f: OutFormat) -> Format {
    match f {
        OutFormat::Json => Format::Json,
        OutFormat::Csv => Format::Csv,
        OutFormat::Md | OutFormat::Markdown => Format::Md,
        OutFormat::Dot => Format::Dot,
        OutFormat::Html => Format::Html,
        _ => Format::Txt,
    }
}

/// The formats of `netpol list` (np-guard's, plus `table` for its `txt`).
const LIST_FORMATS: &[OutFormat] = &[
    OutFormat::Txt,
    OutFormat::Table,
    OutFormat::Json,
    OutFormat::Csv,
    OutFormat::Md,
    OutFormat::Markdown,
    OutFormat::Dot,
    OutFormat::Html,
];

/// `kguard netpol` subcommands.
#[derive(clap::Subcommand, Clone, Debug)]
pub enum NetpolCommand {
    /// List every allowed connection between workloads and external address ranges.
    List {
        /// Manifest file or directory (repeatable; directories are read recursively; `-` is stdin).
        #[arg(short = 'f', long = "filename", alias = "file", value_name = "PATH",
              required_unless_present_any = ["cluster", "kubeconfig", "context", "in_cluster"])]
        files: Vec<PathBuf>,
        /// Read Namespaces, Pods, workloads, NetworkPolicies and AdminNetworkPolicies from a live cluster.
        #[command(flatten)]
        source: crate::cluster::ClusterArgs,
        /// Output format: np-guard's `txt` (also `table`), `json`, `csv`, `md` (also `markdown`),
        /// `dot`, or `html` (a reachability matrix).
        #[arg(short = 'o', long = "output", alias = "format", value_name = "FORMAT", default_value = "txt",
              value_parser = output::parser(LIST_FORMATS))]
        output: OutFormat,
        /// Write to FILE instead of standard output.
        #[arg(long, value_name = "FILE")]
        output_file: Option<PathBuf>,
    },
    /// Explain whether one connection is allowed, and by which policies and rules.
    /// Exit status: 0 allowed, 1 denied, 2 input error.
    Reach {
        /// Manifest file or directory (repeatable).
        #[arg(short = 'f', long = "filename", alias = "file", value_name = "PATH",
              required_unless_present_any = ["cluster", "kubeconfig", "context", "in_cluster"])]
        files: Vec<PathBuf>,
        /// Read Namespaces, Pods, workloads, NetworkPolicies and AdminNetworkPolicies from a live cluster.
        #[command(flatten)]
        source: crate::cluster::ClusterArgs,
        /// Source: workload (`ns/name[Kind]`, `ns/name`, `name`) or IPv4 address.
        from: String,
        /// Destination: workload or IPv4 address.
        to: String,
        /// Destination port.
        #[arg(short = 'p', long, default_value_t = 80)]
        port: u32,
        /// Protocol: TCP, UDP or SCTP.
        #[arg(long, default_value = "TCP", value_parser = parse_protocol)]
        protocol: Protocol,
        /// Output format: `table` (text), `json` or `yaml` (the verdict, each side's policies and
        /// rules with file:line; docs/cli.md).
        #[arg(short = 'o', long = "output", alias = "format", value_name = "FORMAT", default_value = "table",
              value_parser = output::parser(&[OutFormat::Table, OutFormat::Txt, OutFormat::Json, OutFormat::Yaml]))]
        output: OutFormat,
        /// Write to FILE instead of standard output.
        #[arg(long, value_name = "FILE")]
        output_file: Option<PathBuf>,
    },
}

fn parse_protocol(s: &str) -> Result<Protocol, String> {
    Protocol::parse(s).ok_or_else(|| format!("unknown protocol {s:?}; expected TCP, UDP or SCTP"))
}

const OK: u8 = 0;
const DENIED: u8 = 1;
const INPUT_ERROR: u8 = 2;

/// Reads the manifests (List items without `kind` take it from the List, as np-guard does).
/// Problems are printed; `Err` when something could not be read.
fn read_objects(paths: &[PathBuf], source: &crate::cluster::ClusterArgs) -> Result<Vec<Object>, ()> {
    let (mut inputs, mut diags) = load::expand_paths(paths);
    if source.enabled() {
        let read = crate::cluster::netpol(source).map_err(|e| eprintln!("error: {e}"))?;
        inputs.extend(read.inputs);
        diags.extend(read.diagnostics);
    }
    let mut failed = false;
    for d in &diags {
        eprintln!("{d}");
        failed |= d.level == kguard_model::DiagnosticLevel::Error;
    }
    let mut objects = Vec::new();
    for input in &inputs {
        let text = match load::read_input(input) {
            Ok(t) => t,
            Err(d) => {
                eprintln!("error: {}: {}", input.display_name(), d.message);
                failed = true;
                continue;
            }
        };
        let file: Arc<str> = input.display_name().into();
        kguard_model::yaml::for_each_document(&text, |doc| match doc.root {
            Ok(Some(root)) if !root.is_null() => {
                let (objs, problems) = kguard_netpol::model::document_objects(root, &file, doc.index);
                objects.extend(objs);
                for e in problems {
                    eprintln!("warning: {file}:{}: {e}; skipped", e.pos());
                }
            }
            Ok(_) => {}
            Err(e) => {
                eprintln!("error: {file}:{}: document {} cannot be parsed: {}", e.pos, doc.index + 1, e.message);
                failed = true;
            }
        });
    }
    if failed && objects.is_empty() { Err(()) } else { Ok(objects) }
}

fn write_out(output: Option<&PathBuf>, text: &str) -> u8 {
    let res = match output {
        Some(p) => std::fs::write(p, text),
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes()).and_then(|()| out.flush())
        }
    };
    match res {
        Ok(()) => OK,
        Err(e) => output::write_failed(&e, "the output"),
    }
}

fn print_warnings(objects: &[Object], cluster: &kguard_netpol::Cluster) {
    for w in &cluster.warnings {
        match w.object.and_then(|i| objects.get(i)) {
            Some(o) => eprintln!("warning: {}: {} ({}): {}", o.location(&w.pointer), o.id, w.pointer, w.message),
            None => eprintln!("warning: {}", w.message),
        }
    }
}

fn reach_json(r: &kguard_netpol::Reach, objects: &[Object], format: OutFormat) -> String {
    let side = |s: &kguard_netpol::SideVerdict| {
        serde_json::json!({
            "allowed": s.allowed,
            "reasons": s.reasons.iter().map(|x| serde_json::json!({
                "policy": x.policy,
                "pointer": x.pointer,
                "location": x.object.and_then(|i| objects.get(i)).map(|o| o.location(x.pointer.as_deref().unwrap_or("")).to_string()),
                "effect": x.effect,
            })).collect::<Vec<_>>(),
        })
    };
    let v = serde_json::json!({
        "from": r.from,
        "to": r.to,
        "protocol": r.protocol.as_str(),
        "port": r.port,
        "allowed": r.allowed,
        "egress": side(&r.egress),
        "ingress": side(&r.ingress),
    });
    let mut out = Vec::new();
    let _ = output::structured(&mut out, format, &v);
    String::from_utf8(out).unwrap_or_default()
}

/// Runs a `kguard netpol` subcommand; returns the exit status (list: 0 ok, 2 input error;
/// reach: 0 allowed, 1 denied, 2 input error).
#[must_use]
pub fn run(cmd: &NetpolCommand) -> u8 {
    match cmd {
        NetpolCommand::List { files, source, output, output_file } => {
            let Ok(objects) = read_objects(files, source) else { return INPUT_ERROR };
            let analysis = kguard_netpol::analyze(&objects);
            print_warnings(&objects, &analysis.cluster);
            write_out(output_file.as_ref(), &analysis.render(engine(*output)))
        }
        NetpolCommand::Reach { files, source, from, to, port, protocol, output, output_file } => {
            let Ok(objects) = read_objects(files, source) else { return INPUT_ERROR };
            let cluster = kguard_netpol::Cluster::from_objects(&objects);
            print_warnings(&objects, &cluster);
            match kguard_netpol::reach(&cluster, from, to, *protocol, *port) {
                Ok(r) => {
                    let text = match output {
                        OutFormat::Json | OutFormat::Yaml => reach_json(&r, &objects, *output),
                        _ => r.to_string(),
                    };
                    let code = write_out(output_file.as_ref(), &text);
                    if code != OK {
                        code
                    } else if r.allowed {
                        OK
                    } else {
                        DENIED
                    }
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    INPUT_ERROR
                }
            }
        }
    }
}
