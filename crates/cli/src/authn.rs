//! `kguard authn`: service-account tokens and "who would kube-apiserver take me for".

use std::fs;
use std::path::PathBuf;

use kguard_authn::inventory::Inventory;
use kguard_authn::serviceaccount::{ObjectRef, TokenRequest, Verifier, sign};
use kguard_authn::tokenfile::{BasicAuthFile, TokenFile};
use kguard_authn::union::{Authenticators, Credentials, Verdict, authenticate};
use kguard_authn::x509::ClientCa;

use crate::exit;
use crate::pki::now;
use kguard_model::time::parse_duration;

/// kubeadm's default `--service-account-issuer`.
pub const DEFAULT_ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

/// `kguard authn` subcommands.
#[derive(Clone, Debug, clap::Subcommand)]
pub enum AuthnCommand {
    /// Service-account tokens.
    Token {
        /// What to do.
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Authenticate a credential as kube-apiserver would: the user and groups, or why it is refused.
    Whoami(WhoamiArgs),
}

/// `kguard authn token` subcommands.
#[derive(Clone, Debug, clap::Subcommand)]
pub enum TokenCommand {
    /// Create a bound service-account token (the claims of a TokenRequest), signed with the SA key.
    Create(CreateArgs),
    /// Create a bootstrap token: prints the token; its kube-system Secret (JSON) goes to --secret-out or stderr.
    Bootstrap(BootstrapArgs),
}

/// `kguard authn token bootstrap`.
#[derive(Clone, Debug, clap::Args)]
pub struct BootstrapArgs {
    /// Lifetime (seconds or `24h`, `1h30m`); kubeadm's default is 24h.
    #[arg(long, default_value = "24h")]
    pub ttl: String,
    /// Extra group (must start with `system:bootstrappers:`); repeatable.
    #[arg(long = "group", value_name = "GROUP", default_value = "system:bootstrappers:kubeadm:default-node-token")]
    pub groups: Vec<String>,
    /// Description stored in the Secret.
    #[arg(long, default_value = "")]
    pub description: String,
    /// Write the Secret manifest to this new file (mode 0600) instead of stderr.
    #[arg(long, value_name = "FILE")]
    pub secret_out: Option<PathBuf>,
}

/// `kguard authn token create`.
#[derive(Clone, Debug, clap::Args)]
pub struct CreateArgs {
    /// The service account's name.
    pub service_account: String,
    /// The service account's namespace.
    #[arg(short, long, default_value = "default")]
    pub namespace: String,
    /// Audience (`aud`); repeatable. Default: the issuer.
    #[arg(long = "audience", value_name = "AUD")]
    pub audiences: Vec<String>,
    /// Lifetime: seconds or a Go-style duration (`10m`, `1h`, `1h30m`); TokenRequest's minimum is 10m.
    #[arg(long, default_value = "1h")]
    pub duration: String,
    /// The service-account signing key (PEM private key: ECDSA P-256 or RSA).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// Issuer (`--service-account-issuer`).
    #[arg(long, default_value = DEFAULT_ISSUER)]
    pub issuer: String,
    /// The service account's UID.
    #[arg(long, default_value = "")]
    pub uid: String,
    /// Bind the token to this pod.
    #[arg(long, value_name = "NAME")]
    pub bound_pod: Option<String>,
    /// The bound pod's UID.
    #[arg(long, value_name = "UID", default_value = "", requires = "bound_pod")]
    pub bound_pod_uid: String,
}

/// `kguard authn whoami`.
#[derive(Clone, Debug, clap::Args)]
pub struct WhoamiArgs {
    /// A bearer token (`-` reads it from stdin).
    #[arg(long, conflicts_with = "cert")]
    pub token: Option<String>,
    /// A client certificate chain (PEM, leaf first).
    #[arg(long, value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// `--client-ca-file`.
    #[arg(long, value_name = "FILE")]
    pub client_ca: Option<PathBuf>,
    /// `--token-auth-file`.
    #[arg(long, value_name = "FILE")]
    pub token_auth_file: Option<PathBuf>,
    /// `--basic-auth-file` (deprecated; removed from kube-apiserver in v1.19).
    #[arg(long, value_name = "FILE", requires = "basic")]
    pub basic_auth_file: Option<PathBuf>,
    /// Basic credentials `USER:PASSWORD` (with --basic-auth-file).
    #[arg(long, value_name = "USER:PASSWORD")]
    pub basic: Option<String>,
    /// `--service-account-key-file`: public key, certificate, or private key (its public half is used); repeatable.
    #[arg(long = "sa-key", value_name = "FILE")]
    pub sa_keys: Vec<PathBuf>,
    /// Accepted service-account issuer; repeatable.
    #[arg(long = "issuer", value_name = "ISS")]
    pub issuers: Vec<String>,
    /// Accepted audience (`--api-audiences`); repeatable. Default: the first issuer.
    #[arg(long = "audience", value_name = "AUD")]
    pub audiences: Vec<String>,
    /// `--enable-bootstrap-token-auth` with the Secrets in these manifests (YAML or JSON); repeatable.
    #[arg(long = "bootstrap-secrets", value_name = "FILE")]
    pub bootstrap_secrets: Vec<PathBuf>,
    /// Manifests (files or directories) of the cluster's ServiceAccounts, Secrets, Pods and Nodes:
    /// service-account tokens are then checked as kube-apiserver's lookups do (the bound objects
    /// must exist with the token's UIDs; legacy tokens must still be their Secret's token); repeatable.
    #[arg(long = "state", value_name = "PATH", requires = "sa_keys")]
    pub state: Vec<PathBuf>,
    /// `--anonymous-auth=false`.
    #[arg(long)]
    pub no_anonymous: bool,
    /// Output format: `table` (text), `json` or `yaml` (a TokenReview-like status; docs/cli.md).
    #[arg(short = 'o', long = "output", alias = "format", value_name = "FORMAT", default_value = "table",
          value_parser = crate::output::parser(&[crate::output::Format::Table, crate::output::Format::Json, crate::output::Format::Yaml]))]
    pub output: crate::output::Format,
    /// The same as `-o json` (kept for scripts).
    #[arg(long, hide = true)]
    pub json: bool,
}

/// Runs a `kguard authn` subcommand.
pub fn run(cmd: &AuthnCommand) -> u8 {
    let result = match cmd {
        AuthnCommand::Token { command: TokenCommand::Create(args) } => create(args),
        AuthnCommand::Token { command: TokenCommand::Bootstrap(args) } => bootstrap(args),
        AuthnCommand::Whoami(args) => whoami(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            exit::ERROR
        }
    }
}

fn create(args: &CreateArgs) -> Result<u8, String> {
    let duration = parse_duration(&args.duration).map_err(|e| e.to_string())?;
    if duration < 600 {
        return Err(format!("duration {duration}s is below TokenRequest's minimum of 600s (10m)"));
    }
    let key = fs::read(&args.key).map_err(|e| format!("{}: {e}", args.key.display()))?;
    let audiences = if args.audiences.is_empty() { vec![args.issuer.clone()] } else { args.audiences.clone() };
    let req = TokenRequest {
        namespace: args.namespace.clone(),
        name: args.service_account.clone(),
        uid: args.uid.clone(),
        audiences,
        issuer: args.issuer.clone(),
        now: now(),
        duration_seconds: duration,
        pod: args.bound_pod.as_ref().map(|name| ObjectRef { name: name.clone(), uid: args.bound_pod_uid.clone() }),
        jti: kguard_authn::issue::random_uuid().map_err(|e| e.to_string())?,
    };
    let token = sign(&req.claims(), &key).map_err(|e| format!("{}: {e}", args.key.display()))?;
    println!("{token}");
    Ok(exit::CLEAN)
}

fn bootstrap(args: &BootstrapArgs) -> Result<u8, String> {
    let ttl = parse_duration(&args.ttl).map_err(|e| e.to_string())?;
    for g in &args.groups {
        if !g.starts_with("system:bootstrappers:") {
            return Err(format!("group {g:?} must start with system:bootstrappers:"));
        }
    }
    let (id, secret) = kguard_authn::issue::bootstrap_token().map_err(|e| e.to_string())?;
    let mut data = serde_json::json!({
        "token-id": id, "token-secret": secret,
        "expiration": kguard_model::time::format_rfc3339(now().saturating_add(ttl)),
        "usage-bootstrap-authentication": "true", "usage-bootstrap-signing": "true",
        "auth-extra-groups": args.groups.join(","),
    });
    if !args.description.is_empty()
        && let Some(m) = data.as_object_mut()
    {
        m.insert("description".to_owned(), serde_json::Value::String(args.description.clone()));
    }
    let manifest = serde_json::json!({
        "apiVersion": "v1", "kind": "Secret", "type": "bootstrap.kubernetes.io/token",
        "metadata": {"name": format!("bootstrap-token-{id}"), "namespace": "kube-system"},
        "stringData": data,
    });
    let text = format!("{}\n", serde_json::to_string_pretty(&manifest).unwrap_or_default());
    match &args.secret_out {
        Some(path) => crate::pki::write_new(path, text.as_bytes(), 0o600)?,
        None => eprint!("{text}"),
    }
    println!("{id}.{secret}");
    Ok(exit::CLEAN)
}

fn load_secrets(paths: &[PathBuf]) -> Result<Vec<serde_json::Value>, String> {
    let mut out = Vec::new();
    for p in paths {
        let name: std::sync::Arc<str> = p.display().to_string().into();
        let text = kguard_model::load::decode_text(name.clone(), read(p)?).map_err(|d| d.message.clone())?;
        let parsed = kguard_model::load::parse_text(&name, &text);
        if let Some(d) = parsed.diagnostics.iter().find(|d| d.level == kguard_model::DiagnosticLevel::Error) {
            return Err(format!("{name}: {}", d.message));
        }
        out.extend(parsed.objects.iter().map(|o| o.root.to_json()));
    }
    Ok(out)
}

/// The objects of `--state`: every manifest under the paths; input errors stop the command,
/// objects the lookups cannot use are warnings.
fn load_inventory(paths: &[PathBuf]) -> Result<Inventory, String> {
    let (inputs, diags) = kguard_model::load::expand_paths(paths);
    if let Some(d) = diags.iter().find(|d| d.level == kguard_model::DiagnosticLevel::Error) {
        return Err(d.to_string());
    }
    let mut objects = Vec::new();
    for input in &inputs {
        let parsed = kguard_model::load::load_input(input);
        if let Some(d) = parsed.diagnostics.iter().find(|d| d.level == kguard_model::DiagnosticLevel::Error) {
            return Err(d.to_string());
        }
        objects.extend(parsed.objects);
    }
    let (inventory, warnings) = Inventory::from_objects(&objects);
    for w in &warnings {
        eprintln!("{w}");
    }
    Ok(inventory)
}

fn read(path: &PathBuf) -> Result<Vec<u8>, String> {
    fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn whoami(args: &WhoamiArgs) -> Result<u8, String> {
    let client_ca = match &args.client_ca {
        Some(p) => Some(ClientCa::from_pem(&read(p)?).map_err(|e| format!("{}: {e}", p.display()))?),
        None => None,
    };
    let token_file = match &args.token_auth_file {
        Some(p) => {
            let name = p.display().to_string();
            let text = String::from_utf8(read(p)?).map_err(|_| format!("{name}: not UTF-8"))?;
            let f = TokenFile::parse(&name, &text).map_err(|e| e.to_string())?;
            for w in &f.warnings {
                eprintln!("warning: {w}");
            }
            Some(f)
        }
        None => None,
    };
    let basic_file = match &args.basic_auth_file {
        Some(p) => {
            let name = p.display().to_string();
            let text = String::from_utf8(read(p)?).map_err(|_| format!("{name}: not UTF-8"))?;
            let f = BasicAuthFile::parse(&name, &text).map_err(|e| e.to_string())?;
            for w in &f.warnings {
                eprintln!("warning: {w}");
            }
            Some(f)
        }
        None => None,
    };
    let verifier = if args.sa_keys.is_empty() {
        None
    } else {
        let issuers = if args.issuers.is_empty() { vec![DEFAULT_ISSUER.to_owned()] } else { args.issuers.clone() };
        let audiences =
            if args.audiences.is_empty() { issuers.iter().take(1).cloned().collect() } else { args.audiences.clone() };
        let mut v = Verifier::new(issuers, audiences);
        for p in &args.sa_keys {
            let pem = read(p)?;
            let text = String::from_utf8_lossy(&pem);
            let public = if text.contains("PRIVATE KEY-----") {
                kguard_authn::issue::public_key_pem(&text).map_err(|e| format!("{}: {e}", p.display()))?.into_bytes()
            } else {
                pem
            };
            v.add_public_keys_pem(&public).map_err(|e| format!("{}: {e}", p.display()))?;
        }
        if !args.state.is_empty() {
            v.inventory = Some(load_inventory(&args.state)?);
        }
        Some(v)
    };
    let token = match args.token.as_deref() {
        Some("-") => {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut s).map_err(|e| format!("stdin: {e}"))?;
            Some(s.trim().to_owned())
        }
        Some(t) => Some(t.to_owned()),
        None => None,
    };
    let cert = match &args.cert {
        Some(p) => Some(read(p)?),
        None => None,
    };
    let basic = args.basic.as_deref().map(|b| b.split_once(':').unwrap_or((b, "")));
    if cert.is_some() && client_ca.is_none() {
        eprintln!(
            "warning: --cert without --client-ca: client certificates are not checked, so the request is anonymous"
        );
    }
    if token.is_some() && token_file.is_none() && verifier.is_none() && args.bootstrap_secrets.is_empty() {
        eprintln!(
            "warning: --token without --token-auth-file, --sa-key or --bootstrap-secrets: no token authenticator is configured"
        );
    }
    let secrets = load_secrets(&args.bootstrap_secrets)?;
    let authn = Authenticators {
        bootstrap_secrets: (!args.bootstrap_secrets.is_empty()).then_some(secrets.as_slice()),
        client_ca: client_ca.as_ref(),
        token_file: token_file.as_ref(),
        basic_auth: basic_file.as_ref(),
        service_accounts: verifier.as_ref(),
        anonymous: !args.no_anonymous,
    };
    let creds = Credentials { bearer_token: token.as_deref(), client_cert_pem: cert.as_deref(), basic };
    let format = if args.json { crate::output::Format::Json } else { args.output };
    match authenticate(&authn, &creds, now()) {
        Verdict::Authenticated { user, by } => {
            if format != crate::output::Format::Table {
                let v = serde_json::json!({"authenticated": true, "authenticator": by,
                    "user": {"username": user.name, "uid": user.uid, "groups": user.groups, "extra": user.extra}});
                crate::output::structured(&mut std::io::stdout().lock(), format, &v).map_err(|e| e.to_string())?;
            } else {
                println!("username:      {}", user.name);
                if !user.uid.is_empty() {
                    println!("uid:           {}", user.uid);
                }
                println!("groups:        {}", user.groups.join(", "));
                for (k, v) in &user.extra {
                    println!("extra:         {k}={}", v.join(","));
                }
                println!("authenticator: {by}");
            }
            Ok(exit::CLEAN)
        }
        Verdict::Unauthorized(reasons) => {
            if format != crate::output::Format::Table {
                let v = serde_json::json!({"authenticated": false, "error": reasons.join("; "), "reasons": reasons});
                crate::output::structured(&mut std::io::stdout().lock(), format, &v).map_err(|e| e.to_string())?;
            } else {
                println!("401 Unauthorized");
                for r in &reasons {
                    println!("  {r}");
                }
            }
            Ok(exit::FINDINGS)
        }
    }
}
