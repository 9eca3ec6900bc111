//! `kguard pki`: issue certificates the way kubeadm lays them out, and inspect certificates.

use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use kguard_authn::issue::{self, Ca, CertSpec};
use kguard_authn::{pki, x509};
use kguard_model::time::format_rfc3339 as rfc3339;

use crate::exit;

/// Key algorithms for new keys (`--key-type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum KeyType {
    /// ECDSA on P-256, signatures ECDSA-SHA256.
    Ecdsa,
    /// RSA 2048, signatures RSA-SHA256 (kubeadm's default).
    Rsa,
}

/// `kguard pki` subcommands.
#[derive(Clone, Debug, clap::Subcommand)]
pub enum PkiCommand {
    /// Issue a certificate signed by a CA (`--ca DIR/ca` reads DIR/ca.crt and DIR/ca.key).
    Issue(IssueArgs),
    /// Create a cluster's PKI in DIR as kubeadm lays it out (CAs, SA keys, apiserver and admin certs).
    Init(InitArgs),
    /// Describe certificates (or a CSR): who they authenticate as, validity, keys, usages; PKI findings.
    Inspect(InspectArgs),
    /// CertificateSigningRequests: create, approve or deny (as kubectl), sign (as the built-in signers).
    Csr {
        /// What to do.
        #[command(subcommand)]
        command: CsrCommand,
    },
}

/// `kguard pki csr` subcommands.
#[derive(Clone, Debug, clap::Subcommand)]
pub enum CsrCommand {
    /// Create a key, a PKCS#10 request and its certificates.k8s.io/v1 CertificateSigningRequest (NAME.key, NAME.csr, NAME.json).
    Create(CsrCreateArgs),
    /// Approve a CertificateSigningRequest manifest (prints the updated object).
    Approve(CsrDecideArgs),
    /// Deny a CertificateSigningRequest manifest (prints the updated object).
    Deny(CsrDecideArgs),
    /// Sign an approved CertificateSigningRequest with a CA (prints the object with status.certificate).
    Sign(CsrSignArgs),
}

/// `kguard pki csr create`.
#[derive(Clone, Debug, clap::Args)]
pub struct CsrCreateArgs {
    /// Object name (also the file stem).
    pub name: String,
    /// Subject common name.
    #[arg(long)]
    pub cn: String,
    /// Subject organization; repeatable.
    #[arg(long = "org", value_name = "O")]
    pub orgs: Vec<String>,
    /// Subject alternative name; repeatable.
    #[arg(long = "san", value_name = "NAME")]
    pub sans: Vec<String>,
    /// spec.signerName.
    #[arg(long, default_value = "kubernetes.io/kube-apiserver-client")]
    pub signer: String,
    /// spec.usages entry; repeatable (default: `digital signature`, `key encipherment`, and `client auth`
    /// or, for kubelet-serving, `server auth`).
    #[arg(long = "usage", value_name = "USAGE")]
    pub usages: Vec<String>,
    /// spec.expirationSeconds (minimum 600).
    #[arg(long)]
    pub expiration_seconds: Option<i64>,
    /// Key algorithm.
    #[arg(long, value_enum, default_value_t = KeyType::Ecdsa)]
    pub key_type: KeyType,
    /// Output directory.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub out: PathBuf,
}

/// `kguard pki csr approve|deny`.
#[derive(Clone, Debug, clap::Args)]
pub struct CsrDecideArgs {
    /// The CertificateSigningRequest manifest (YAML or JSON).
    pub file: PathBuf,
    /// Add the condition even if it is already there.
    #[arg(long)]
    pub force: bool,
}

/// `kguard pki csr sign`.
#[derive(Clone, Debug, clap::Args)]
pub struct CsrSignArgs {
    /// The CertificateSigningRequest manifest (YAML or JSON).
    pub file: PathBuf,
    /// The signing CA, as a path prefix: PREFIX.crt and PREFIX.key.
    #[arg(long, value_name = "PREFIX")]
    pub ca: PathBuf,
    /// `--cluster-signing-duration` (the certificate lasts the shorter of this and spec.expirationSeconds).
    #[arg(long, default_value = "8760h")]
    pub cluster_signing_duration: String,
}

/// `kguard pki issue`.
#[derive(Clone, Debug, clap::Args)]
pub struct IssueArgs {
    /// The CA, as a path prefix: PREFIX.crt and PREFIX.key.
    #[arg(long, value_name = "PREFIX")]
    pub ca: PathBuf,
    /// Subject common name (the user name of a client certificate).
    #[arg(long)]
    pub cn: String,
    /// Subject organization (a group of a client certificate); repeatable.
    #[arg(long = "org", value_name = "O")]
    pub orgs: Vec<String>,
    /// Validity in days.
    #[arg(long, default_value_t = 365)]
    pub days: u32,
    /// A client certificate (extended key usage clientAuth; the default).
    #[arg(long, conflicts_with = "server")]
    pub client: bool,
    /// A serving certificate (extended key usage serverAuth).
    #[arg(long)]
    pub server: bool,
    /// Subject alternative name (DNS name or IP address); repeatable.
    #[arg(long = "san", value_name = "NAME")]
    pub sans: Vec<String>,
    /// Key algorithm.
    #[arg(long, value_enum, default_value_t = KeyType::Ecdsa)]
    pub key_type: KeyType,
    /// Output directory (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// File name stem (default: the CN with `:` and `/` replaced by `-`).
    #[arg(long)]
    pub name: Option<String>,
}

/// `kguard pki init`.
#[derive(Clone, Debug, clap::Args)]
pub struct InitArgs {
    /// The PKI directory (created if missing; existing files are never overwritten).
    pub dir: PathBuf,
    /// Extra subject alternative names of the apiserver serving certificate; repeatable.
    #[arg(long = "san", value_name = "NAME")]
    pub sans: Vec<String>,
    /// The apiserver URL written into admin.conf.
    #[arg(long, default_value = "https://127.0.0.1:6443")]
    pub server: String,
    /// The cluster name in admin.conf.
    #[arg(long, default_value = "kubernetes")]
    pub cluster_name: String,
    /// The service CIDR's first address (the `kubernetes` Service), added as an IP SAN.
    #[arg(long, default_value = "10.96.0.1")]
    pub service_ip: String,
    /// Key algorithm.
    #[arg(long, value_enum, default_value_t = KeyType::Ecdsa)]
    pub key_type: KeyType,
}

/// `kguard pki inspect`.
#[derive(Clone, Debug, clap::Args)]
pub struct InspectArgs {
    /// PEM files (certificates, chains or certificate requests).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Output format: `table` (text), `json` or `yaml` (each file's certificates or request with
    /// its findings; docs/cli.md).
    #[arg(short = 'o', long = "output", alias = "format", value_name = "FORMAT", default_value = "table",
          value_parser = crate::output::parser(&[crate::output::Format::Table, crate::output::Format::Json, crate::output::Format::Yaml]))]
    pub output: crate::output::Format,
    /// The same as `-o json` (kept for scripts).
    #[arg(long, hide = true)]
    pub json: bool,
}

impl InspectArgs {
    fn format(&self) -> crate::output::Format {
        if self.json { crate::output::Format::Json } else { self.output }
    }
}

/// Runs a `kguard pki` subcommand.
pub fn run(cmd: &PkiCommand) -> u8 {
    let result = match cmd {
        PkiCommand::Issue(args) => issue_cmd(args),
        PkiCommand::Init(args) => init_cmd(args),
        PkiCommand::Inspect(args) => return inspect_cmd(args),
        PkiCommand::Csr { command } => return csr_cmd(command),
    };
    match result {
        Ok(()) => exit::CLEAN,
        Err(e) => {
            eprintln!("error: {e}");
            exit::ERROR
        }
    }
}

/// Seconds since the epoch.
pub(crate) use kguard_model::time::now_unix as now;

impl From<KeyType> for issue::KeyType {
    fn from(k: KeyType) -> Self {
        match k {
            KeyType::Ecdsa => Self::Ecdsa,
            KeyType::Rsa => Self::Rsa,
        }
    }
}

/// Reads a CA given as a path prefix: PREFIX.crt and PREFIX.key.
fn load_ca(prefix: &Path) -> Result<Ca, String> {
    let crt = with_ext(prefix, "crt");
    let key = with_ext(prefix, "key");
    let cert_pem = fs::read_to_string(&crt).map_err(|e| format!("{}: {e}", crt.display()))?;
    let key_pem = fs::read_to_string(&key).map_err(|e| format!("{}: {e}", key.display()))?;
    Ca::from_pem(&cert_pem, &key_pem).map_err(|e| match e {
        issue::IssueError::CaKey(m) => format!("{}: {m}", key.display()),
        other => format!("{}: {other}", crt.display()),
    })
}

fn with_ext(prefix: &Path, ext: &str) -> PathBuf {
    let mut s = prefix.as_os_str().to_owned();
    s.push(".");
    s.push(ext);
    PathBuf::from(s)
}

/// Writes `data` to a new file `path` with `mode` (refusing to overwrite), fsyncs it and its directory.
pub(crate) fn write_new(path: &Path, data: &[u8], mode: u32) -> Result<(), String> {
    let err = |e: std::io::Error| format!("{}: {e}", path.display());
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let mut f = OpenOptions::new().write(true).create_new(true).mode(mode).open(path).map_err(err)?;
    f.write_all(data).map_err(err)?;
    f.sync_all().map_err(err)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && let Ok(d) = fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
    Ok(())
}

fn write_pair(dir: &Path, stem: &str, cert: &str, key: &str) -> Result<(), String> {
    write_new(&dir.join(format!("{stem}.key")), key.as_bytes(), 0o600)?;
    write_new(&dir.join(format!("{stem}.crt")), cert.as_bytes(), 0o644)?;
    println!("wrote {}", dir.join(format!("{stem}.crt")).display());
    Ok(())
}

fn issue_cmd(args: &IssueArgs) -> Result<(), String> {
    let ca = load_ca(&args.ca)?;
    let spec = CertSpec {
        cn: &args.cn,
        orgs: &args.orgs,
        days: args.days,
        client: args.client || !args.server,
        server: args.server,
        sans: &args.sans,
        ca: false,
    };
    let issued = ca.issue(&spec, args.key_type.into(), now()).map_err(|e| e.to_string())?;
    let stem = args.name.clone().unwrap_or_else(|| args.cn.replace([':', '/'], "-"));
    write_pair(&args.out, &stem, &issued.cert_pem, &issued.key_pem)
}

fn init_cmd(args: &InitArgs) -> Result<(), String> {
    let dir = &args.dir;
    let now = now();
    let kt = issue::KeyType::from(args.key_type);
    let make_ca = |stem: &str, cn: &str| -> Result<Ca, String> {
        let (ca, key) = Ca::create(cn, kt, now).map_err(|e| e.to_string())?;
        write_pair(dir, stem, &ca.cert_pem, &key)?;
        Ok(ca)
    };
    let ca = make_ca("ca", "kubernetes")?;
    let front = make_ca("front-proxy-ca", "front-proxy-ca")?;
    let etcd = make_ca("etcd/ca", "etcd-ca")?;
    // Service-account signing key pair.
    let sa = issue::new_key(kt).map_err(|e| e.to_string())?;
    write_new(&dir.join("sa.key"), sa.serialize_pem().as_bytes(), 0o600)?;
    write_new(&dir.join("sa.pub"), sa.public_key_pem().as_bytes(), 0o644)?;
    println!("wrote {}", dir.join("sa.pub").display());
    let mut sans: Vec<String> = [
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
        "localhost",
        "127.0.0.1",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    sans.push(args.service_ip.clone());
    for s in &args.sans {
        if !sans.contains(s) {
            sans.push(s.clone());
        }
    }
    let leaf = |issuer: &Ca, stem: &str, cn: &str, orgs: &[String], server: bool, sans: &[String]| {
        let spec = CertSpec { cn, orgs, days: 365, client: !server, server, sans, ca: false };
        let issued = issuer.issue(&spec, kt, now).map_err(|e| e.to_string())?;
        write_pair(dir, stem, &issued.cert_pem, &issued.key_pem)?;
        Ok::<_, String>(issued.cert_pem)
    };
    leaf(&ca, "apiserver", "kube-apiserver", &[], true, &sans)?;
    leaf(
        &ca,
        "apiserver-kubelet-client",
        "kube-apiserver-kubelet-client",
        &["kubeadm:cluster-admins".to_owned()],
        false,
        &[],
    )?;
    leaf(&etcd, "apiserver-etcd-client", "kube-apiserver-etcd-client", &[], false, &[])?;
    leaf(&front, "front-proxy-client", "front-proxy-client", &[], false, &[])?;
    let admin_orgs = ["system:masters".to_owned()];
    let spec = CertSpec { cn: "kubernetes-admin", orgs: &admin_orgs, days: 365, client: true, ..CertSpec::default() };
    let admin = ca.issue(&spec, kt, now).map_err(|e| e.to_string())?;
    write_pair(dir, "admin", &admin.cert_pem, &admin.key_pem)?;
    let conf = issue::kubeconfig(
        &args.cluster_name,
        &args.server,
        &ca.cert_pem,
        "kubernetes-admin",
        &admin.cert_pem,
        &admin.key_pem,
    );
    write_new(&dir.join("admin.conf"), conf.as_bytes(), 0o600)?;
    println!("wrote {}", dir.join("admin.conf").display());
    eprintln!(
        "warning: admin.crt is in system:masters, which bypasses RBAC and cannot be revoked (PKI006); keep it offline"
    );
    Ok(())
}

fn inspect_cmd(args: &InspectArgs) -> u8 {
    let now = now();
    let mut findings = Vec::new();
    let mut json = Vec::new();
    let mut failed = false;
    for file in &args.files {
        let name = file.display().to_string();
        let bytes = match fs::read(file) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("error: {name}: {e}");
                failed = true;
                continue;
            }
        };
        if String::from_utf8_lossy(&bytes).contains("CERTIFICATE REQUEST-----") {
            match pki::parse_csr_pem(&bytes) {
                Ok(csr) => {
                    if args.format() != crate::output::Format::Table {
                        json.push(
                            serde_json::json!({"file": name, "kind": "CertificateRequest", "subject": csr.subject,
                            "user": csr.common_name, "groups": csr.organizations, "sans": csr.sans}),
                        );
                    } else {
                        println!("{name}: certificate request (signature verified)");
                        println!("  subject:  {}", csr.subject);
                        println!("  user:     {}", csr.common_name.as_deref().unwrap_or("(no CN)"));
                        println!("  groups:   {}", csr.organizations.join(", "));
                        if !csr.sans.is_empty() {
                            println!("  SANs:     {}", csr.sans.join(", "));
                        }
                    }
                }
                Err(e) => {
                    eprintln!("error: {name}: {e}");
                    failed = true;
                }
            }
            continue;
        }
        let ders = match x509::certificates_from_pem(&bytes) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("error: {name}: {e}");
                failed = true;
                continue;
            }
        };
        for (i, der) in ders.iter().enumerate() {
            let label = if ders.len() > 1 { format!("{name}[{i}]") } else { name.clone() };
            let info = match pki::describe(der, now) {
                Ok(info) => info,
                Err(e) => {
                    eprintln!("error: {label}: {e}");
                    failed = true;
                    continue;
                }
            };
            let fs = pki::findings(&info, &label, now);
            if args.format() != crate::output::Format::Table {
                json.push(serde_json::json!({
                    "file": label, "kind": "Certificate", "subject": info.subject, "issuer": info.issuer,
                    "serial": info.serial, "user": info.user, "groups": info.groups, "isCA": info.is_ca,
                    "notBefore": rfc3339(info.not_before), "notAfter": rfc3339(info.not_after), "daysLeft": info.days_left,
                    "keyType": info.key_type, "keyBits": info.key_bits, "signatureAlgorithm": info.signature_algorithm,
                    "keyUsages": info.key_usages, "extendedKeyUsages": info.extended_key_usages, "sans": info.sans,
                    "findings": fs.iter().map(|f| serde_json::json!({"ruleId": f.rule_id, "severity": f.severity.as_str(),
                        "title": f.title, "message": f.message})).collect::<Vec<_>>(),
                }));
            } else {
                print_info(&label, &info);
            }
            findings.extend(fs);
        }
    }
    if args.format() != crate::output::Format::Table {
        if let Err(e) =
            crate::output::structured(&mut std::io::stdout().lock(), args.format(), &serde_json::Value::Array(json))
        {
            return crate::output::write_failed(&e, "the certificates");
        }
    } else {
        for f in &findings {
            println!("{} [{}] {}", f.rule_id, f.severity, f.message);
        }
    }
    if failed {
        exit::ERROR
    } else if findings.is_empty() {
        exit::CLEAN
    } else {
        exit::FINDINGS
    }
}

fn print_info(label: &str, info: &pki::CertInfo) {
    println!("{label}:");
    println!("  subject:    {}", info.subject);
    if info.is_ca {
        println!("  CA:         yes");
    } else {
        let user = info.user.as_deref().filter(|u| !u.is_empty());
        match user {
            Some(u) => println!("  user:       {u}"),
            None => println!("  user:       (no CN: not authenticated as a client)"),
        }
        println!("  groups:     {}", info.groups.join(", "));
    }
    println!("  issuer:     {}", info.issuer);
    println!("  serial:     {}", info.serial);
    println!(
        "  valid:      {} .. {} ({} days left)",
        rfc3339(info.not_before),
        rfc3339(info.not_after),
        info.days_left
    );
    println!("  key:        {} {} bits", info.key_type, info.key_bits);
    println!("  signature:  {}", info.signature_algorithm);
    println!("  usages:     {}", info.key_usages.join(", "));
    println!("  ext usages: {}", info.extended_key_usages.join(", "));
    if !info.sans.is_empty() {
        println!("  SANs:       {}", info.sans.join(", "));
    }
}

fn read_object(path: &Path) -> Result<serde_json::Value, String> {
    let name: std::sync::Arc<str> = path.display().to_string().into();
    let bytes = fs::read(path).map_err(|e| format!("{name}: {e}"))?;
    let text = kguard_model::load::decode_text(name.clone(), bytes).map_err(|d| format!("{name}: {}", d.message))?;
    let parsed = kguard_model::load::parse_text(&name, &text);
    if let Some(d) = parsed.diagnostics.iter().find(|d| d.level == kguard_model::DiagnosticLevel::Error) {
        return Err(format!("{name}: {}", d.message));
    }
    match parsed.objects.as_slice() {
        [one] => Ok(one.root.to_json()),
        other => Err(format!("{name}: expected one object, found {}", other.len())),
    }
}

fn csr_cmd(cmd: &CsrCommand) -> u8 {
    let result = match cmd {
        CsrCommand::Create(args) => csr_create(args),
        CsrCommand::Approve(args) => csr_decide(args, kguard_authn::csr::Decision::Approve),
        CsrCommand::Deny(args) => csr_decide(args, kguard_authn::csr::Decision::Deny),
        CsrCommand::Sign(args) => csr_sign(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            exit::ERROR
        }
    }
}

fn csr_create(args: &CsrCreateArgs) -> Result<u8, String> {
    let (key_pem, csr_pem) =
        issue::request(&args.cn, &args.orgs, &args.sans, args.key_type.into()).map_err(|e| e.to_string())?;
    let usages: Vec<String> = if args.usages.is_empty() {
        let last = if args.signer == kguard_authn::csr::KUBELET_SERVING { "server auth" } else { "client auth" };
        ["digital signature", "key encipherment", last].iter().map(|s| (*s).to_owned()).collect()
    } else {
        args.usages.clone()
    };
    let mut spec = serde_json::json!({"request": STANDARD.encode(csr_pem.as_bytes()), "signerName": args.signer, "usages": usages});
    if let (Some(e), Some(m)) = (args.expiration_seconds, spec.as_object_mut()) {
        m.insert("expirationSeconds".to_owned(), e.into());
    }
    let obj = serde_json::json!({"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
        "metadata": {"name": args.name}, "spec": spec});
    write_new(&args.out.join(format!("{}.key", args.name)), key_pem.as_bytes(), 0o600)?;
    write_new(&args.out.join(format!("{}.csr", args.name)), csr_pem.as_bytes(), 0o644)?;
    let manifest = format!("{}\n", serde_json::to_string_pretty(&obj).unwrap_or_default());
    write_new(&args.out.join(format!("{}.json", args.name)), manifest.as_bytes(), 0o644)?;
    println!("wrote {}", args.out.join(format!("{}.json", args.name)).display());
    if let Err(e) = kguard_authn::csr::subject_restriction(&obj) {
        eprintln!("warning: kube-apiserver will refuse it (admission plugin CertificateSubjectRestriction): {e}");
    }
    Ok(exit::CLEAN)
}

fn csr_decide(args: &CsrDecideArgs, decision: kguard_authn::csr::Decision) -> Result<u8, String> {
    let mut obj = read_object(&args.file)?;
    kguard_authn::csr::decide(&mut obj, decision, args.force, &rfc3339(now()))
        .map_err(|e| format!("{}: {e}", args.file.display()))?;
    println!("{}", serde_json::to_string_pretty(&obj).unwrap_or_default());
    let name = obj.pointer("/metadata/name").and_then(serde_json::Value::as_str).unwrap_or_default();
    let verb = match decision {
        kguard_authn::csr::Decision::Approve => "approved",
        kguard_authn::csr::Decision::Deny => "denied",
    };
    eprintln!("certificatesigningrequest.certificates.k8s.io/{name} {verb}");
    Ok(exit::CLEAN)
}

fn csr_sign(args: &CsrSignArgs) -> Result<u8, String> {
    use kguard_authn::csr;
    let mut obj = read_object(&args.file)?;
    let now = now();
    let plan = match csr::plan(&obj) {
        Ok(plan) => plan,
        Err(e) => {
            if csr::has_condition(&obj, "Approved") && !csr::has_condition(&obj, "Denied") {
                csr::fail(&mut obj, &e.to_string(), &rfc3339(now));
                println!("{}", serde_json::to_string_pretty(&obj).unwrap_or_default());
            }
            eprintln!("error: {}: {e}", args.file.display());
            return Ok(exit::FINDINGS);
        }
    };
    let mut seconds = kguard_model::time::parse_duration(&args.cluster_signing_duration).map_err(|e| e.to_string())?;
    if let Some(e) = plan.expiration_seconds {
        seconds = seconds.min(e);
    }
    let ca = load_ca(&args.ca)?;
    let request_pem = String::from_utf8(csr::request_pem(&obj).map_err(|e| e.to_string())?)
        .map_err(|_| "spec.request is not PEM".to_owned())?;
    let cert_pem = ca
        .sign_request(&request_pem, &plan.request.subject_der, (plan.client_auth, plan.server_auth), now, seconds)
        .map_err(|e| e.to_string())?;
    if let Some(m) = obj.as_object_mut() {
        let status = m.entry("status").or_insert_with(|| serde_json::json!({}));
        if let Some(st) = status.as_object_mut() {
            st.insert("certificate".to_owned(), STANDARD.encode(cert_pem.as_bytes()).into());
        }
    }
    println!("{}", serde_json::to_string_pretty(&obj).unwrap_or_default());
    Ok(exit::CLEAN)
}
