//! `kguard pki`: issue certificates the way kubeadm lays them out, and inspect certificates.

use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use kguard_engine::authn::{pki, rfc3339, x509};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_RSA_SHA256, RsaKeySize, SerialNumber, SigningKey as _,
};

use crate::exit;

/// Key algorithms for new keys.
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
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
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
pub(crate) fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)).unwrap_or(0)
}

fn offset(unix: i64) -> Result<time::OffsetDateTime, String> {
    time::OffsetDateTime::from_unix_timestamp(unix).map_err(|e| format!("time out of range: {e}"))
}

fn random_bytes<const N: usize>() -> Result<[u8; N], String> {
    let mut buf = [0u8; N];
    aws_lc_rs::rand::fill(&mut buf).map_err(|_| "no randomness available".to_owned())?;
    Ok(buf)
}

fn new_key(kind: KeyType) -> Result<KeyPair, String> {
    match kind {
        KeyType::Ecdsa => KeyPair::generate(),
        KeyType::Rsa => KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_2048),
    }
    .map_err(|e| format!("generating a key: {e}"))
}

/// What to put in a certificate.
struct Spec<'a> {
    cn: &'a str,
    orgs: &'a [String],
    days: u32,
    client: bool,
    server: bool,
    sans: &'a [String],
    ca: bool,
}

fn params(spec: &Spec<'_>, now: i64) -> Result<CertificateParams, String> {
    let mut p = CertificateParams::new(spec.sans.to_vec()).map_err(|e| format!("invalid SAN: {e}"))?;
    let mut dn = DistinguishedName::new();
    if let Some(first) = spec.orgs.first() {
        dn.push(DnType::OrganizationName, first.as_str());
    }
    dn.push(DnType::CommonName, spec.cn);
    p.distinguished_name = dn;
    p.not_before = offset(now - 300)?;
    p.not_after = offset(now + i64::from(spec.days) * 86_400)?;
    let mut serial = random_bytes::<16>()?;
    if let Some(b) = serial.first_mut() {
        *b &= 0x7f;
    }
    p.serial_number = Some(SerialNumber::from_slice(&serial));
    p.use_authority_key_identifier_extension = true;
    if spec.ca {
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages =
            vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment, KeyUsagePurpose::KeyCertSign];
    } else {
        p.is_ca = IsCa::ExplicitNoCa;
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        if spec.server {
            p.extended_key_usages.push(ExtendedKeyUsagePurpose::ServerAuth);
        }
        if spec.client {
            p.extended_key_usages.push(ExtendedKeyUsagePurpose::ClientAuth);
        }
    }
    Ok(p)
}

/// A DER length.
fn der_len(n: usize) -> Vec<u8> {
    if n < 0x80 {
        return vec![u8::try_from(n).unwrap_or(0)];
    }
    let bytes: Vec<u8> = n.to_be_bytes().into_iter().skip_while(|b| *b == 0).collect();
    let mut out = vec![0x80 | u8::try_from(bytes.len()).unwrap_or(0)];
    out.extend(bytes);
    out
}

fn der(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend(der_len(body.len()));
    out.extend_from_slice(body);
    out
}

/// A subject DN with several O values (one RDN each, as Go's pkix.Name marshals them), then CN.
fn subject_der(cn: &str, orgs: &[String]) -> Vec<u8> {
    let atv = |oid: &[u8], value: &str| der(0x31, &der(0x30, &[der(0x06, oid), der(0x0c, value.as_bytes())].concat()));
    let mut body = Vec::new();
    for o in orgs {
        body.extend(atv(&[0x55, 0x04, 0x0a], o));
    }
    body.extend(atv(&[0x55, 0x04, 0x03], cn));
    der(0x30, &body)
}

/// Splits a DER TLV at the start of `bytes`: (header length, total length).
fn tlv(bytes: &[u8]) -> Option<(usize, usize)> {
    let first = *bytes.get(1)?;
    if first < 0x80 {
        return Some((2, 2 + usize::from(first)));
    }
    let n = usize::from(first & 0x7f);
    let len = bytes.get(2..2 + n)?.iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
    Some((2 + n, 2 + n + len))
}

/// rcgen keeps one value per attribute type; kube-apiserver maps every O to a group. Re-issue the
/// certificate `cert_der` with the subject replaced by `subject` and re-sign it with `ca_key`.
fn replace_subject(cert_der: &[u8], subject: &[u8], ca_key: &KeyPair) -> Result<Vec<u8>, String> {
    replace_field(cert_der, 5, subject, ca_key)
}

/// Replaces field `index` of the signed structure's first element (TBSCertificate: 5 is the subject;
/// CertificationRequestInfo: 1) and re-signs with `key`.
fn replace_field(cert_der: &[u8], index: usize, subject: &[u8], ca_key: &KeyPair) -> Result<Vec<u8>, String> {
    let broken = || "internal error: unexpected certificate encoding".to_owned();
    let (cert_hdr, _) = tlv(cert_der).ok_or_else(broken)?;
    let inner = cert_der.get(cert_hdr..).ok_or_else(broken)?;
    let (tbs_hdr, tbs_len) = tlv(inner).ok_or_else(broken)?;
    let tbs_body = inner.get(tbs_hdr..tbs_len).ok_or_else(broken)?;
    let after_tbs = inner.get(tbs_len..).ok_or_else(broken)?;
    let (_, alg_len) = tlv(after_tbs).ok_or_else(broken)?;
    let alg = after_tbs.get(..alg_len).ok_or_else(broken)?;
    // TBS fields: [0] version, serial, signature alg, issuer, validity, subject, ...
    let mut pos = 0;
    let mut fields = Vec::new();
    while pos < tbs_body.len() {
        let (_, len) = tlv(tbs_body.get(pos..).ok_or_else(broken)?).ok_or_else(broken)?;
        fields.push((pos, pos + len));
        pos += len;
    }
    let &(s_start, s_end) = fields.get(index).ok_or_else(broken)?;
    let new_tbs_body =
        [tbs_body.get(..s_start).ok_or_else(broken)?, subject, tbs_body.get(s_end..).ok_or_else(broken)?].concat();
    let new_tbs = der(0x30, &new_tbs_body);
    let sig = ca_key.sign(&new_tbs).map_err(|e| format!("signing: {e}"))?;
    let mut bits = vec![0u8];
    bits.extend(sig);
    Ok(der(0x30, &[new_tbs, alg.to_vec(), der(0x03, &bits)].concat()))
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// A loaded or freshly made CA.
pub(crate) struct Ca {
    issuer: Issuer<'static, KeyPair>,
    /// The CA certificate, PEM.
    pub(crate) cert_pem: String,
}

impl Ca {
    fn load(prefix: &Path) -> Result<Self, String> {
        let crt = with_ext(prefix, "crt");
        let key = with_ext(prefix, "key");
        let cert_pem = fs::read_to_string(&crt).map_err(|e| format!("{}: {e}", crt.display()))?;
        let key_pem = fs::read_to_string(&key).map_err(|e| format!("{}: {e}", key.display()))?;
        let kp = KeyPair::from_pem(&key_pem).map_err(|e| format!("{}: {e}", key.display()))?;
        let issuer = Issuer::from_ca_cert_pem(&cert_pem, kp).map_err(|e| format!("{}: {e}", crt.display()))?;
        Ok(Self { issuer, cert_pem })
    }

    fn create(cn: &str, key_type: KeyType, now: i64) -> Result<(Self, String), String> {
        let spec = Spec { cn, orgs: &[], days: 3650, client: false, server: false, sans: &[], ca: true };
        let p = params(&spec, now)?;
        let key = new_key(key_type)?;
        let cert = p.self_signed(&key).map_err(|e| format!("self-signing {cn}: {e}"))?;
        let key_pem = key.serialize_pem();
        Ok((Self { issuer: Issuer::new(p, key), cert_pem: cert.pem() }, key_pem))
    }

    /// Issues a certificate: (certificate PEM, key PEM).
    fn issue(&self, spec: &Spec<'_>, key_type: KeyType, now: i64) -> Result<(String, String), String> {
        let p = params(spec, now)?;
        let key = new_key(key_type)?;
        let cert = p.signed_by(&key, &self.issuer).map_err(|e| format!("signing {}: {e}", spec.cn))?;
        let der = if spec.orgs.len() > 1 {
            replace_subject(cert.der(), &subject_der(spec.cn, spec.orgs), self.issuer.key())?
        } else {
            cert.der().to_vec()
        };
        Ok((pem("CERTIFICATE", &der), key.serialize_pem()))
    }
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
    let ca = Ca::load(&args.ca)?;
    let now = now();
    let spec = Spec {
        cn: &args.cn,
        orgs: &args.orgs,
        days: args.days,
        client: args.client || !args.server,
        server: args.server,
        sans: &args.sans,
        ca: false,
    };
    let (cert, key) = ca.issue(&spec, args.key_type, now)?;
    let stem = args.name.clone().unwrap_or_else(|| args.cn.replace([':', '/'], "-"));
    write_pair(&args.out, &stem, &cert, &key)
}

fn init_cmd(args: &InitArgs) -> Result<(), String> {
    let dir = &args.dir;
    let now = now();
    let kt = args.key_type;
    let make_ca = |stem: &str, cn: &str| -> Result<Ca, String> {
        let (ca, key) = Ca::create(cn, kt, now)?;
        write_pair(dir, stem, &ca.cert_pem, &key)?;
        Ok(ca)
    };
    let ca = make_ca("ca", "kubernetes")?;
    let front = make_ca("front-proxy-ca", "front-proxy-ca")?;
    let etcd = make_ca("etcd/ca", "etcd-ca")?;
    // Service-account signing key pair.
    let sa = new_key(kt)?;
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
        let spec = Spec { cn, orgs, days: 365, client: !server, server, sans, ca: false };
        let (cert, key) = issuer.issue(&spec, kt, now)?;
        write_pair(dir, stem, &cert, &key)?;
        Ok::<_, String>(cert)
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
    let spec = Spec {
        cn: "kubernetes-admin",
        orgs: &["system:masters".to_owned()],
        days: 365,
        client: true,
        server: false,
        sans: &[],
        ca: false,
    };
    let (cert, key) = ca.issue(&spec, kt, now)?;
    write_pair(dir, "admin", &cert, &key)?;
    let conf = kubeconfig(&args.cluster_name, &args.server, &ca.cert_pem, "kubernetes-admin", &cert, &key);
    write_new(&dir.join("admin.conf"), conf.as_bytes(), 0o600)?;
    println!("wrote {}", dir.join("admin.conf").display());
    eprintln!(
        "warning: admin.crt is in system:masters, which bypasses RBAC and cannot be revoked (PKI006); keep it offline"
    );
    Ok(())
}

fn kubeconfig(cluster: &str, server: &str, ca_pem: &str, user: &str, cert_pem: &str, key_pem: &str) -> String {
    let b = |s: &str| STANDARD.encode(s.as_bytes());
    let q = |s: &str| serde_json::Value::String(s.to_owned()).to_string();
    let context = format!("{user}@{cluster}");
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: {c}\n  cluster:\n    certificate-authority-data: {ca}\n    server: {s}\n\
         contexts:\n- name: {ctx}\n  context:\n    cluster: {c}\n    user: {u}\ncurrent-context: {ctx}\npreferences: {{}}\n\
         users:\n- name: {u}\n  user:\n    client-certificate-data: {cert}\n    client-key-data: {key}\n",
        c = q(cluster),
        ca = b(ca_pem),
        s = q(server),
        ctx = q(&context),
        u = q(user),
        cert = b(cert_pem),
        key = b(key_pem),
    )
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
                    if args.json {
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
            if args.json {
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
    if args.json {
        println!("{}", serde_json::to_string_pretty(&json).unwrap_or_default());
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
        CsrCommand::Approve(args) => csr_decide(args, kguard_engine::authn::csr::Decision::Approve),
        CsrCommand::Deny(args) => csr_decide(args, kguard_engine::authn::csr::Decision::Deny),
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
    let mut p = CertificateParams::new(args.sans.clone()).map_err(|e| format!("invalid SAN: {e}"))?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, args.cn.as_str());
    p.distinguished_name = dn;
    let key = new_key(args.key_type)?;
    let csr = p.serialize_request(&key).map_err(|e| format!("creating the request: {e}"))?;
    let der = replace_field(csr.der(), 1, &subject_der(&args.cn, &args.orgs), &key)?;
    let csr_pem = pem("CERTIFICATE REQUEST", &der);
    let usages: Vec<String> = if args.usages.is_empty() {
        let last =
            if args.signer == kguard_engine::authn::csr::KUBELET_SERVING { "server auth" } else { "client auth" };
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
    write_new(&args.out.join(format!("{}.key", args.name)), key.serialize_pem().as_bytes(), 0o600)?;
    write_new(&args.out.join(format!("{}.csr", args.name)), csr_pem.as_bytes(), 0o644)?;
    let manifest = format!("{}\n", serde_json::to_string_pretty(&obj).unwrap_or_default());
    write_new(&args.out.join(format!("{}.json", args.name)), manifest.as_bytes(), 0o644)?;
    println!("wrote {}", args.out.join(format!("{}.json", args.name)).display());
    Ok(exit::CLEAN)
}

fn csr_decide(args: &CsrDecideArgs, decision: kguard_engine::authn::csr::Decision) -> Result<u8, String> {
    let mut obj = read_object(&args.file)?;
    kguard_engine::authn::csr::decide(&mut obj, decision, args.force, &rfc3339(now()))
        .map_err(|e| format!("{}: {e}", args.file.display()))?;
    println!("{}", serde_json::to_string_pretty(&obj).unwrap_or_default());
    let name = obj.pointer("/metadata/name").and_then(serde_json::Value::as_str).unwrap_or_default();
    let verb = match decision {
        kguard_engine::authn::csr::Decision::Approve => "approved",
        kguard_engine::authn::csr::Decision::Deny => "denied",
    };
    eprintln!("certificatesigningrequest.certificates.k8s.io/{name} {verb}");
    Ok(exit::CLEAN)
}

fn csr_sign(args: &CsrSignArgs) -> Result<u8, String> {
    use kguard_engine::authn::csr;
    let mut obj = read_object(&args.file)?;
    let now = now();
    let plan = match csr::plan(&obj) {
        Ok(plan) => plan,
        Err(e) => {
            if csr::has_condition(&obj, "Approved") && !csr::has_condition(&obj, "Denied") {
                csr::fail(&mut obj, &e, &rfc3339(now));
                println!("{}", serde_json::to_string_pretty(&obj).unwrap_or_default());
            }
            eprintln!("error: {}: {e}", args.file.display());
            return Ok(exit::FINDINGS);
        }
    };
    let mut seconds = crate::authn::parse_duration(&args.cluster_signing_duration)?;
    if let Some(e) = plan.expiration_seconds {
        seconds = seconds.min(e);
    }
    let ca = Ca::load(&args.ca)?;
    let request_pem = String::from_utf8(csr::request_pem(&obj)?).map_err(|_| "spec.request is not PEM".to_owned())?;
    let mut req =
        rcgen::CertificateSigningRequestParams::from_pem(&request_pem).map_err(|e| format!("spec.request: {e}"))?;
    let p = &mut req.params;
    p.not_before = offset(now - 300)?;
    p.not_after = offset(now + seconds)?;
    let mut serial = random_bytes::<16>()?;
    if let Some(b) = serial.first_mut() {
        *b &= 0x7f;
    }
    p.serial_number = Some(SerialNumber::from_slice(&serial));
    p.use_authority_key_identifier_extension = true;
    p.is_ca = IsCa::ExplicitNoCa;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    p.extended_key_usages.clear();
    if plan.server_auth {
        p.extended_key_usages.push(ExtendedKeyUsagePurpose::ServerAuth);
    }
    if plan.client_auth {
        p.extended_key_usages.push(ExtendedKeyUsagePurpose::ClientAuth);
    }
    let cert = req.signed_by(&ca.issuer).map_err(|e| format!("signing: {e}"))?;
    let der = replace_subject(cert.der(), &plan.request.subject_der, ca.issuer.key())?;
    let cert_pem = pem("CERTIFICATE", &der);
    if let Some(m) = obj.as_object_mut() {
        let status = m.entry("status").or_insert_with(|| serde_json::json!({}));
        if let Some(st) = status.as_object_mut() {
            st.insert("certificate".to_owned(), STANDARD.encode(cert_pem.as_bytes()).into());
        }
    }
    println!("{}", serde_json::to_string_pretty(&obj).unwrap_or_default());
    Ok(exit::CLEAN)
}
