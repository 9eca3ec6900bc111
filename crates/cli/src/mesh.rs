//! `kguard mesh`: service-mesh mTLS. `explain` reads manifests and prints the effective Istio
//! PeerAuthentication mode of a workload's ports, or Linkerd's inbound policy of each port (who
//! may connect), and which object decided each; `svid` checks a
//! certificate against the X.509-SVID rules; `id` parses a SPIFFE ID. The engines are
//! `kguard_mesh`'s.

use std::io::Write as _;
use std::path::PathBuf;

use kguard_mesh::istio::{self, Mesh, Source};
use kguard_mesh::linkerd::{Access, Clients, Decider, DefaultPolicy, Linkerd, Networks, PortPolicy, WorkloadPolicy};
use kguard_mesh::svid::{self, Role};
use kguard_model::{DiagnosticLevel, Object, load};
use serde_json::{Map, Value, json};

use crate::exit;
use crate::output::{self, Format};

/// `kguard mesh` subcommands.
#[derive(Clone, Debug, clap::Subcommand)]
pub enum MeshCommand {
    /// The effective mTLS mode (Istio) or inbound policy (Linkerd) of each port of a workload, and
    /// which object decided it.
    Explain {
        /// Manifest files or directories (Istio or Linkerd policy objects, namespaces, workloads).
        #[arg(short = 'f', long = "filename", required = true)]
        files: Vec<PathBuf>,
        /// The workload: NAME, NAMESPACE/NAME or KIND/NAMESPACE/NAME, optionally :PORT.
        workload: String,
        /// Istio's root namespace (meshConfig.rootNamespace).
        #[arg(long, default_value = istio::DEFAULT_ROOT_NAMESPACE)]
        root_namespace: String,
        /// Linkerd's cluster-wide default inbound policy (the install's proxy.defaultInboundPolicy).
        #[arg(long, value_name = "POLICY", default_value = "all-unauthenticated",
              value_parser = |s: &str| DefaultPolicy::parse(s).ok_or_else(|| format!(
                  "not a policy: {s:?} (all-unauthenticated, all-authenticated, cluster-unauthenticated, \
                   cluster-authenticated, deny, audit)")))]
        linkerd_default_policy: DefaultPolicy,
        /// Output format: table, json or yaml.
        #[arg(short = 'o', long = "output", default_value = "table",
              value_parser = output::parser(&[Format::Table, Format::Json, Format::Yaml]))]
        output: Format,
        /// Write the answer to FILE instead of stdout.
        #[arg(long = "output-file", value_name = "FILE")]
        output_file: Option<PathBuf>,
    },
    /// Check a PEM certificate against the SPIFFE X.509-SVID rules; prints its SPIFFE ID.
    Svid {
        /// The certificate (PEM; the first certificate is checked).
        cert: PathBuf,
        /// Check it as a signing (CA) certificate instead of a leaf.
        #[arg(long)]
        ca: bool,
    },
    /// Create a mesh CA for a trust domain: DIR/ca.crt and DIR/ca.key (never overwritten).
    Ca {
        /// The trust domain (Istio's default: cluster.local).
        #[arg(long, default_value = "cluster.local")]
        trust_domain: String,
        /// Validity in days.
        #[arg(long, default_value_t = 365)]
        days: u32,
        /// Output directory (created if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Issue a leaf X.509-SVID spiffe://TD/ns/NS/sa/SA with the CA in DIR: OUT/NS.SA.crt and .key.
    Issue {
        /// The CA directory (ca.crt, ca.key); its URI SAN names the trust domain.
        #[arg(long, value_name = "DIR")]
        ca: PathBuf,
        /// The workload's namespace.
        #[arg(long)]
        namespace: String,
        /// The workload's service account.
        #[arg(long)]
        service_account: String,
        /// Validity in days.
        #[arg(long, default_value_t = 1)]
        days: u32,
        /// Output directory (created if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Run the sidecar mTLS proxy (inbound ports, outbound routes) until SIGTERM/SIGINT.
    Proxy {
        /// The proxy configuration (kind MeshProxyConfig; see docs/mesh.md).
        #[arg(long, short = 'c', value_name = "FILE")]
        config: PathBuf,
        /// Check the configuration and the identity files it names, print a summary, and exit.
        #[arg(long)]
        check: bool,
        /// Worker threads (default: the number of CPUs).
        #[arg(long)]
        threads: Option<usize>,
        /// The least level logged: debug, info, warning or error.
        #[arg(long, default_value = "info", value_parser = |s: &str| s.parse::<kguard_server::LogLevel>())]
        log_level: kguard_server::LogLevel,
        /// Log lines as JSON objects (`ts`, `level`, `msg`) or as text.
        #[arg(long, value_enum, default_value_t = crate::args::LogFormat::Json)]
        log_format: crate::args::LogFormat,
    },
    /// Parse a SPIFFE ID (or, with --trust-domain, a trust domain) as go-spiffe does.
    Id {
        /// The ID, e.g. spiffe://cluster.local/ns/shop/sa/api.
        id: String,
        /// Parse a trust domain name (or an ID's trust domain).
        #[arg(long)]
        trust_domain: bool,
    },
}

/// Runs a `kguard mesh` subcommand; returns the exit code.
pub fn run(cmd: &MeshCommand) -> u8 {
    match cmd {
        MeshCommand::Explain { files, workload, root_namespace, linkerd_default_policy, output, output_file } => {
            explain(files, workload, root_namespace, *linkerd_default_policy, *output, output_file.as_ref())
        }
        MeshCommand::Svid { cert, ca } => svid_cmd(cert, *ca),
        MeshCommand::Id { id, trust_domain } => id_cmd(id, *trust_domain),
        MeshCommand::Ca { trust_domain, days, out } => ca_cmd(trust_domain, *days, out),
        MeshCommand::Issue { ca, namespace, service_account, days, out } => {
            issue_cmd(ca, namespace, service_account, *days, out)
        }
        MeshCommand::Proxy { config, check, threads, log_level, log_format } => {
            proxy_cmd(config, *check, *threads, *log_level, *log_format)
        }
    }
}

/// `kguard mesh proxy`: 0 after SIGTERM (or a good `--check`), 2 on a configuration or start error.
fn proxy_cmd(
    config: &std::path::Path,
    check: bool,
    threads: Option<usize>,
    log_level: kguard_server::LogLevel,
    log_format: crate::args::LogFormat,
) -> u8 {
    kguard_server::configure_log(log_level, log_format == crate::args::LogFormat::Text);
    let result = if check {
        kguard_server::mesh_proxy::check(config).map(|summary| println!("{summary}"))
    } else {
        let threads = threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, usize::from));
        kguard_server::mesh_proxy::run(config, threads)
    };
    match result {
        Ok(()) => exit::CLEAN,
        Err(e) => {
            eprintln!("error: {e}");
            exit::ERROR
        }
    }
}

fn load_objects(paths: &[PathBuf]) -> Result<Vec<Object>, u8> {
    let (inputs, mut diagnostics) = load::expand_paths(paths);
    let mut objects = Vec::new();
    for input in &inputs {
        let p = load::load_input(input);
        diagnostics.extend(p.diagnostics);
        objects.extend(p.objects);
    }
    let mut failed = false;
    for d in diagnostics.iter().filter(|d| d.level != DiagnosticLevel::Note) {
        eprintln!("{}: {}: {} [{}]", d.level.as_str(), d.location, d.message, d.code);
        failed |= d.level == DiagnosticLevel::Error;
    }
    if failed { Err(exit::ERROR) } else { Ok(objects) }
}

fn source_json(s: &Source) -> Value {
    match s {
        Source::Default => json!({"level": "default"}),
        Source::Policy { object, level, location } => json!({"level": level, "object": object, "location": location}),
    }
}

fn source_text(s: &Source) -> String {
    match s {
        Source::Default => "default (no PeerAuthentication sets a mode)".to_owned(),
        Source::Policy { object, level, location } => format!("{level}: {object} ({location})"),
    }
}

fn decider_json(d: &Decider) -> Value {
    let mut v = Map::new();
    v.insert("level".into(), json!(d.level));
    if let Some(o) = &d.object {
        v.insert("object".into(), json!(o));
    }
    if let Some(l) = &d.location {
        v.insert("location".into(), json!(l));
    }
    Value::Object(v)
}

fn decider_text(d: &Decider) -> String {
    match (&d.object, &d.location) {
        (Some(o), Some(l)) => format!("{o} ({l})"),
        (Some(o), None) => o.clone(),
        _ => "--linkerd-default-policy".to_owned(),
    }
}

fn clients_json(c: &Clients) -> Map<String, Value> {
    let mut v = Map::new();
    let authentication = match c {
        Clients::Unauthenticated => "unauthenticated",
        Clients::AnyTls => "tls",
        Clients::Identities(_) => "mtls",
    };
    v.insert("authentication".into(), json!(authentication));
    if let Clients::Identities(ids) = c {
        v.insert("identities".into(), json!(ids));
    }
    v
}

fn networks_json(n: &Networks) -> Value {
    match n {
        Networks::All => json!("all"),
        Networks::Cluster => json!("cluster"),
        Networks::Cidrs(c) => json!(c),
    }
}

fn linkerd_port_json(r: &PortPolicy) -> Value {
    json!({
        "port": r.port,
        "name": r.name,
        "access": r.access.as_str(),
        "protocol": r.protocol,
        "protocolDecidedBy": r.protocol_by.as_ref().map(decider_json),
        "decidedBy": decider_json(&r.decided_by),
        "defaultPolicy": r.default_policy.map(DefaultPolicy::as_str),
        "authorizations": r.authorizations.iter().map(|a| {
            let mut v = clients_json(&a.clients);
            v.insert("networks".into(), networks_json(&a.networks));
            v.insert("decidedBy".into(), decider_json(&a.by));
            if let Some(route) = &a.route {
                v.insert("route".into(), json!(route));
            }
            Value::Object(v)
        }).collect::<Vec<_>>(),
        "ignoredServers": r.shadowed,
    })
}

fn linkerd_json(answer: &WorkloadPolicy, cluster_default: DefaultPolicy) -> Value {
    json!({
        "meshed": answer.meshed,
        "injection": decider_json(&answer.injection),
        "unmeshedReason": answer.unmeshed_reason,
        "clusterDefaultPolicy": cluster_default.as_str(),
        "defaultPolicy": answer.default.policy.as_str(),
        "defaultPolicyDecidedBy": decider_json(&answer.default.by),
        "ports": answer.ports.iter().map(linkerd_port_json).collect::<Vec<_>>(),
    })
}

fn port_label(port: Option<u32>, name: Option<&String>) -> String {
    match (port, name) {
        (Some(p), Some(n)) => format!("{p}/{n}"),
        (Some(p), None) => p.to_string(),
        (None, _) => "(other)".to_owned(),
    }
}

fn linkerd_text(out: &mut dyn std::io::Write, answer: &WorkloadPolicy) -> std::io::Result<()> {
    match &answer.unmeshed_reason {
        None => {
            writeln!(out, "Linkerd proxy: injected ({}: {})", answer.injection.level, decider_text(&answer.injection))?
        }
        Some(reason) => writeln!(out, "Linkerd proxy: none ({reason})")?,
    }
    if answer.meshed {
        writeln!(
            out,
            "default inbound policy: {} ({}: {})",
            answer.default.policy.as_str(),
            answer.default.by.level,
            decider_text(&answer.default.by)
        )?;
    }
    writeln!(out, "{:<12} {:<9} {:<10} DECIDED BY", "PORT", "PROTOCOL", "ACCESS")?;
    for r in &answer.ports {
        let level = r.decided_by.level;
        let decided = match r.default_policy {
            _ if r.access == Access::Unmeshed => match r.decided_by.object {
                Some(_) => format!("no proxy: {level}: {}", decider_text(&r.decided_by)),
                None => "no proxy".to_owned(),
            },
            Some(p) => format!("{level}: default {}, {}", p.as_str(), decider_text(&r.decided_by)),
            None => format!("{level}: {}", decider_text(&r.decided_by)),
        };
        let port = port_label(r.port.map(u32::from), r.name.as_ref());
        writeln!(out, "{port:<12} {:<9} {:<10} {decided}", r.protocol, r.access.as_str())?;
        if r.default_policy.is_some() || r.access == Access::Unmeshed {
            continue;
        }
        if r.authorizations.is_empty() {
            writeln!(out, "             allow: nobody (no authorization for this Server)")?;
        }
        for a in &r.authorizations {
            let route = a.route.as_ref().map(|r| format!(" on {r}")).unwrap_or_default();
            writeln!(
                out,
                "             allow: {} from {}{route}: {}",
                a.clients.describe(),
                a.networks.describe(),
                decider_text(&a.by)
            )?;
        }
        for s in &r.shadowed {
            writeln!(out, "             ignored: {s} selects this port too (the older Server wins)")?;
        }
    }
    Ok(())
}

fn explain(
    files: &[PathBuf],
    spec: &str,
    root_namespace: &str,
    linkerd_default: DefaultPolicy,
    format: Format,
    output_file: Option<&PathBuf>,
) -> u8 {
    let (name, port) = match spec.rsplit_once(':') {
        Some((n, p)) => match p.parse::<u16>() {
            Ok(p) if p >= 1 => (n, Some(p)),
            _ => {
                eprintln!("error: {spec:?}: the port after ':' must be a number 1-65535");
                return exit::ERROR;
            }
        },
        None => (spec, None),
    };
    let objects = match load_objects(files) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let mesh = Mesh::from_objects(&objects, root_namespace);
    let l5d = Linkerd::from_objects(&objects, linkerd_default);
    let found = mesh.find_workload(name);
    let w = match found.as_slice() {
        [w] => *w,
        [] => {
            eprintln!("error: no workload {name:?} in the input (NAME, NAMESPACE/NAME or KIND/NAMESPACE/NAME)");
            return exit::ERROR;
        }
        many => {
            let names: Vec<String> = many.iter().map(|w| w.describe()).collect();
            eprintln!("error: {name:?} is ambiguous: {}", names.join(", "));
            return exit::ERROR;
        }
    };
    // Linkerd answers when the input has Linkerd policy or annotations; Istio when it has Istio
    // objects, or when nothing else applies (its default, PERMISSIVE).
    let pod = l5d.pods.iter().find(|p| std::ptr::eq(p.obj, w.obj));
    let linkerd_answer = pod.filter(|_| l5d.applies()).map(|p| l5d.evaluate(p, port));
    let istio_rows =
        (mesh.has_istio() || linkerd_answer.is_none()).then(|| istio::explain(&mesh, w, port.map(u32::from)));
    let mut out = match output::sink(output_file.map(PathBuf::as_path)) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: cannot create the output file: {e}");
            return exit::ERROR;
        }
    };
    let r = if format == Format::Table {
        (|| -> std::io::Result<()> {
            writeln!(out, "{} (service account {})", w.describe(), w.service_account)?;
            if let Some(rows) = &istio_rows {
                if linkerd_answer.is_some() {
                    writeln!(out, "Istio:")?;
                }
                writeln!(out, "{:<12} {:<11} DECIDED BY", "PORT", "MODE")?;
                for r in rows {
                    let port = port_label(r.port, r.name.as_ref());
                    writeln!(out, "{port:<12} {:<11} {}", r.mode.as_str(), source_text(&r.source))?;
                }
            }
            if let Some(answer) = &linkerd_answer {
                if istio_rows.is_some() {
                    writeln!(out)?;
                }
                linkerd_text(&mut out, answer)?;
            }
            out.flush()
        })()
    } else {
        let mut value = Map::new();
        value.insert("workload".into(), json!(w.describe()));
        value.insert("serviceAccount".into(), json!(w.service_account));
        if let Some(rows) = &istio_rows {
            value.insert("rootNamespace".into(), json!(root_namespace));
            let ports = rows
                .iter()
                .map(|r| {
                    json!({
                        "port": r.port,
                        "name": r.name,
                        "mode": r.mode.as_str(),
                        "decidedBy": source_json(&r.source),
                    })
                })
                .collect::<Vec<_>>();
            value.insert("ports".into(), json!(ports));
        }
        if let Some(answer) = &linkerd_answer {
            value.insert("linkerd".into(), linkerd_json(answer, linkerd_default));
        }
        output::structured(&mut out, format, &Value::Object(value)).and_then(|()| out.flush())
    };
    match r {
        Ok(()) => exit::CLEAN,
        Err(e) => output::write_failed(&e, "the answer"),
    }
}

fn svid_cmd(cert: &PathBuf, ca: bool) -> u8 {
    let bytes = match std::fs::read(cert) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: {}: {e}", cert.display());
            return exit::ERROR;
        }
    };
    match svid::validate_pem(&bytes, if ca { Role::Signing } else { Role::Leaf }) {
        Ok(Some(id)) => {
            println!("{}: valid X.509-SVID {}: {id}", cert.display(), if ca { "signing certificate" } else { "leaf" });
            exit::CLEAN
        }
        Ok(None) => {
            println!("{}: valid X.509-SVID signing certificate (no SPIFFE ID)", cert.display());
            exit::CLEAN
        }
        Err(e) => {
            println!("{}: not a valid X.509-SVID: {e}", cert.display());
            exit::FINDINGS
        }
    }
}

fn id_cmd(id: &str, trust_domain: bool) -> u8 {
    let r = if trust_domain {
        kguard_mesh::TrustDomain::parse(id).map(|td| format!("trust domain {td}"))
    } else {
        kguard_mesh::SpiffeId::parse(id).map(|i| {
            let path = if i.path().is_empty() { "(none)" } else { i.path() };
            format!("trust domain {}, path {path}", i.trust_domain())
        })
    };
    match r {
        Ok(s) => {
            println!("{s}");
            exit::CLEAN
        }
        Err(e) => {
            println!("{id:?}: invalid: {e}");
            exit::FINDINGS
        }
    }
}

/// Writes `name` in `dir` (created if missing) unless it exists; prints what was written.
fn write_new(dir: &std::path::Path, name: &str, text: &str, private: bool) -> Result<(), String> {
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = dir.join(name);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(if private { 0o600 } else { 0o644 })
        .open(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    f.write_all(text.as_bytes()).map_err(|e| format!("{}: {e}", path.display()))?;
    println!("wrote {}", path.display());
    Ok(())
}

fn ca_cmd(trust_domain: &str, days: u32, out: &std::path::Path) -> u8 {
    let td = match kguard_mesh::TrustDomain::parse(trust_domain) {
        Ok(td) => td,
        Err(e) => {
            eprintln!("error: trust domain {trust_domain:?}: {e}");
            return exit::ERROR;
        }
    };
    let r = kguard_mesh::ca::MeshCa::create(&td, kguard_model::time::now_unix(), days)
        .map_err(|e| e.to_string())
        .and_then(|(_, pem)| {
            write_new(out, "ca.key", &pem.key, true)?;
            write_new(out, "ca.crt", &pem.cert, false)
        });
    match r {
        Ok(()) => exit::CLEAN,
        Err(e) => {
            eprintln!("error: {e}");
            exit::ERROR
        }
    }
}

fn issue_cmd(ca: &std::path::Path, namespace: &str, sa: &str, days: u32, out: &std::path::Path) -> u8 {
    let r = (|| -> Result<(), String> {
        let read = |n: &str| std::fs::read_to_string(ca.join(n)).map_err(|e| format!("{}: {e}", ca.join(n).display()));
        let (cert, key) = (read("ca.crt")?, read("ca.key")?);
        let ca_id = svid::validate_pem(cert.as_bytes(), Role::Signing)
            .map_err(|e| format!("{}: not a mesh CA: {e}", ca.join("ca.crt").display()))?
            .ok_or_else(|| {
                format!("{}: the CA has no SPIFFE ID naming its trust domain", ca.join("ca.crt").display())
            })?;
        let td = ca_id.trust_domain();
        let id = kguard_mesh::SpiffeId::for_service_account(&td, namespace, sa).map_err(|e| e.to_string())?;
        let mesh_ca = kguard_mesh::ca::MeshCa::from_pem(&td, &cert, &key).map_err(|e| e.to_string())?;
        let pem = mesh_ca.issue(&id, kguard_model::time::now_unix(), days).map_err(|e| e.to_string())?;
        write_new(out, &format!("{namespace}.{sa}.key"), &pem.key, true)?;
        write_new(out, &format!("{namespace}.{sa}.crt"), &pem.cert, false)?;
        println!("{id}");
        Ok(())
    })();
    match r {
        Ok(()) => exit::CLEAN,
        Err(e) => {
            eprintln!("error: {e}");
            exit::ERROR
        }
    }
}
