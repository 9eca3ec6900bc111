//! `kguard netpol`: NetworkPolicy connectivity (`list`) and single-connection explanations
//! (`reach`), np-guard compatible.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use kguard_engine::netpol::{self, Format, Protocol};
use kguard_model::{Object, load};

/// Output formats of `kguard netpol list`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetpolFormat {
    /// `src => dst : conn` lines (np-guard's txt).
    Txt,
    /// JSON array of `{src, dst, conn}` (np-guard's json).
    Json,
    /// CSV with a `src,dst,conn` header.
    Csv,
    /// Markdown table.
    Md,
    /// Graphviz DOT.
    Dot,
    /// Self-contained HTML page with a reachability matrix.
    Html,
}

impl NetpolFormat {
    const fn engine(self) -> Format {
        match self {
            Self::Txt => Format::Txt,
            Self::Json => Format::Json,
            Self::Csv => Format::Csv,
            Self::Md => Format::Md,
            Self::Dot => Format::Dot,
            Self::Html => Format::Html,
        }
    }
}

/// `kguard netpol` subcommands.
#[derive(clap::Subcommand, Clone, Debug)]
pub enum NetpolCommand {
    /// List every allowed connection between workloads and external address ranges.
    List {
        /// Manifest file or directory (repeatable; directories are read recursively; `-` is stdin).
        #[arg(short = 'f', long = "file", value_name = "DIR", required = true)]
        files: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = NetpolFormat::Txt)]
        format: NetpolFormat,
        /// Write to FILE instead of standard output.
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Explain whether one connection is allowed, and by which policies and rules.
    /// Exit status: 0 allowed, 1 denied, 2 input error.
    Reach {
        /// Manifest file or directory (repeatable).
        #[arg(short = 'f', long = "file", value_name = "DIR", required = true)]
        files: Vec<PathBuf>,
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
        /// Output format (`json` prints the verdict as JSON).
        #[arg(long, value_enum, default_value_t = NetpolFormat::Txt)]
        format: NetpolFormat,
        /// Write to FILE instead of standard output.
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
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
fn read_objects(paths: &[PathBuf]) -> Result<Vec<Object>, ()> {
    let (inputs, diags) = load::expand_paths(paths);
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
                let (objs, problems) = netpol::model::document_objects(root, &file, doc.index);
                objects.extend(objs);
                for (pos, msg) in problems {
                    eprintln!("warning: {file}:{pos}: {msg}; skipped");
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
        Err(e) => {
            eprintln!("error: cannot write output: {e}");
            INPUT_ERROR
        }
    }
}

fn print_warnings(objects: &[Object], cluster: &netpol::Cluster) {
    for w in &cluster.warnings {
        match w.object.and_then(|i| objects.get(i)) {
            Some(o) => eprintln!("warning: {}: {} ({}): {}", o.location(&w.pointer), o.id, w.pointer, w.message),
            None => eprintln!("warning: {}", w.message),
        }
    }
}

fn reach_json(r: &netpol::Reach, objects: &[Object]) -> String {
    let side = |s: &netpol::SideVerdict| {
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
    let mut s = serde_json::to_string_pretty(&v).unwrap_or_default();
    s.push('\n');
    s
}

/// Runs a `kguard netpol` subcommand; returns the exit status (list: 0 ok, 2 input error;
/// reach: 0 allowed, 1 denied, 2 input error).
#[must_use]
pub fn run(cmd: &NetpolCommand) -> u8 {
    match cmd {
        NetpolCommand::List { files, format, output } => {
            let Ok(objects) = read_objects(files) else { return INPUT_ERROR };
            let analysis = netpol::analyze(&objects);
            print_warnings(&objects, &analysis.cluster);
            write_out(output.as_ref(), &analysis.render(format.engine()))
        }
        NetpolCommand::Reach { files, from, to, port, protocol, format, output } => {
            let Ok(objects) = read_objects(files) else { return INPUT_ERROR };
            let cluster = netpol::Cluster::from_objects(&objects);
            print_warnings(&objects, &cluster);
            match netpol::reach(&cluster, from, to, *protocol, *port) {
                Ok(r) => {
                    let text = match format {
                        NetpolFormat::Json => reach_json(&r, &objects),
                        _ => r.to_string(),
                    };
                    let code = write_out(output.as_ref(), &text);
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
