//! What the server evaluates with: the configuration turned into engines (admission policies,
//! authenticators, authorizer chain, detection rules) and the cluster objects, from the state
//! directory or from the cluster's reflectors (`cluster.rs`). Built whole, then swapped in
//! atomically: a request sees one consistent [`Runtime`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use kguard_admission::{Policies, image, mutate, podsecurity};
use kguard_authn::serviceaccount::Verifier;
use kguard_authn::tokenfile::TokenFile;
use kguard_authz::{Chain, Mode, abac::AbacPolicy};
use kguard_model::Object;
use kguard_model::load;
use kguard_report::Severity;
use serde_json::Value;

use crate::ServeError;
use crate::config::{self, Config};

/// Everything a request needs, immutable once built.
pub struct Runtime {
    /// The configuration it was built from.
    pub config: Config,
    /// Admission policies.
    pub policies: Policies,
    /// Namespaces and pods.
    pub inventory: kguard_admission::Inventory,
    /// The image policy of `/imagereview` (and `/validate` when enabled).
    pub image_policy: image::Policy,
    /// The authorizer chain.
    pub authorizer: Chain,
    /// Token file.
    pub token_file: Option<Arc<TokenFile>>,
    /// Service-account token verifier.
    pub service_accounts: Option<Verifier>,
    /// Bootstrap-token Secrets (when enabled).
    pub bootstrap_secrets: Option<Vec<Value>>,
    /// Falco rules over audit events.
    pub detect: Option<Arc<kguard_detect::Engine>>,
    /// TLS configuration.
    pub tls: Arc<rustls::ServerConfig>,
    /// Objects of the state (from the directory or the cluster), the default RBAC aside.
    pub objects: usize,
    /// Problems met while loading the state (logged; the rest is used).
    pub warnings: Vec<String>,
    /// What the configuration's files gave (reused by [`Runtime::with_objects`]).
    files: Files,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("objects", &self.objects)
            .field("authorizer", &self.authorizer)
            .finish_non_exhaustive()
    }
}

fn read_text(path: &Path) -> Result<String, ServeError> {
    std::fs::read_to_string(path).map_err(|e| ServeError::read(path, e))
}

/// Loads the state directory: its objects and the warnings worth logging. Every file must read
/// and parse: a state missing a file's objects (a namespace's Pod Security labels, a binding)
/// would judge requests against less than the cluster holds, so any error refuses the whole
/// state (a reload then keeps the previous one).
fn load_state(dir: &Path) -> Result<(Vec<Object>, Vec<String>), ServeError> {
    let (inputs, mut diags) = load::expand_paths(&[dir.to_path_buf()]);
    let mut objects = Vec::new();
    for input in &inputs {
        let parsed = load::load_input(input);
        objects.extend(parsed.objects);
        diags.extend(parsed.diagnostics);
    }
    let problems: Vec<String> =
        diags.iter().filter(|d| d.level == kguard_model::DiagnosticLevel::Error).map(ToString::to_string).collect();
    if !problems.is_empty() {
        return Err(ServeError::State { dir: dir.to_path_buf(), problems });
    }
    let warnings =
        diags.iter().filter(|d| d.level >= kguard_model::DiagnosticLevel::Warning).map(ToString::to_string).collect();
    Ok((objects, warnings))
}

/// Where a runtime's cluster objects come from.
#[derive(Debug)]
pub enum StateSource {
    /// `state.dir` of the configuration, read now (no objects without it).
    Dir,
    /// Objects at hand (a snapshot of the cluster's reflectors), with the problems met
    /// converting them.
    Objects(Vec<Object>, Vec<String>),
}

impl Runtime {
    /// Builds the runtime from a configuration, with the objects of its state directory (none
    /// when the state comes from the cluster: see [`Runtime::build_from`]).
    ///
    /// # Errors
    /// As [`Runtime::build_from`].
    pub fn build(config: Config) -> Result<Self, ServeError> {
        Self::build_from(config, StateSource::Dir)
    }

    /// Builds the runtime from a configuration and the cluster objects of `source`.
    ///
    /// # Errors
    /// Unreadable or invalid files named by the configuration (TLS, PodSecurity configuration,
    /// token file, keys, ABAC policy, rules), and state files that cannot be read or parsed.
    /// Lesser problems inside the state (duplicate keys, unusable objects) are warnings.
    pub fn build_from(config: Config, source: StateSource) -> Result<Self, ServeError> {
        let files = Files::read(&config)?;
        let (objects, warnings) = match (source, &config.state.dir) {
            (StateSource::Objects(objects, warnings), _) => (objects, warnings),
            (StateSource::Dir, Some(dir)) => load_state(dir)?,
            (StateSource::Dir, None) => (Vec::new(), Vec::new()),
        };
        Self::assemble(config, files, objects, warnings)
    }

    /// This runtime's configuration and what its files gave, with other cluster objects: what a
    /// cluster update needs. Nothing is read from disk.
    ///
    /// # Errors
    /// As [`Runtime::build_from`] for what depends on the objects (the authorizer chain).
    pub fn with_objects(&self, objects: Vec<Object>, warnings: Vec<String>) -> Result<Self, ServeError> {
        Self::assemble(self.config.clone(), self.files.clone(), objects, warnings)
    }

    /// The engines that depend on the cluster objects, around the configuration and its files.
    fn assemble(
        config: Config,
        files: Files,
        mut objects: Vec<Object>,
        mut warnings: Vec<String>,
    ) -> Result<Self, ServeError> {
        let loaded = objects.len();
        let mut inventory = kguard_admission::Inventory::from_objects(&objects);
        // With a state source, a namespace kguard does not know does not exist for it: the
        // PodSecurity plugin answers as upstream does when its namespace lookup fails.
        inventory.namespaces_known = config.state.dir.is_some() || config.state.cluster.is_some();
        warnings.extend(inventory.errors.iter().cloned());

        let h = &config.admission.hardening;
        let hardening = h.enabled.then(|| kguard_admission::Hardening {
            min_severity: Severity::ALL
                .into_iter()
                .find(|s| s.as_str() == h.min_severity)
                .unwrap_or(Severity::Critical),
            deny: h.action == "deny",
            ignore: h.ignore.clone(),
        });
        let i = &config.admission.images;
        let image_policy = image::Policy {
            allowed_registries: i.allowed_registries.clone(),
            forbid_latest: i.forbid_latest,
            require_digest: i.require_digest,
            exempt_namespaces: i.exempt_namespaces.clone(),
        };
        let m = config.admission.mutate;
        let policies = Policies {
            pod_security: files.pod_security.clone(),
            hardening,
            images: i.enabled.then(|| image_policy.clone()),
            psp: config.admission.pod_security_policy.enabled,
            seccomp: config.admission.seccomp.as_ref().zip(files.seccomp.as_ref()).map(|(c, profiles)| {
                kguard_admission::seccomp::Policy {
                    profiles: Arc::clone(profiles),
                    deny_weaker: c.deny_weaker_than_runtime_default,
                    exempt_namespaces: c.exempt_namespaces.clone(),
                }
            }),
            apparmor: config.admission.apparmor.as_ref().zip(files.apparmor.as_ref()).map(|(c, profiles)| {
                kguard_admission::apparmor::Policy {
                    profiles: Arc::clone(profiles),
                    deny_not_enforced: c.deny_not_enforced,
                    exempt_namespaces: c.exempt_namespaces.clone(),
                }
            }),
            mesh_inject: config.admission.mesh_inject.as_ref().map(crate::config::MeshInject::sidecar),
            mutations: mutate::Mutations {
                seccomp_runtime_default: m.seccomp_runtime_default,
                drop_all_capabilities: m.drop_all_capabilities,
                disallow_privilege_escalation: m.disallow_privilege_escalation,
                run_as_non_root: m.run_as_non_root,
                disable_service_account_automount: m.disable_service_account_automount,
            },
        };
        if let Some(profiles) = &files.seccomp {
            // Judged at load: a profile that does not parse is logged, and pods naming it are denied.
            warnings.extend(profiles.invalid().map(|(rel, why)| format!("seccomp profile {rel}: {why}")));
        }
        if let Some(profiles) = &files.apparmor {
            // Sources that do not parse are logged; pods naming their profiles are denied.
            warnings.extend(profiles.errors.iter().map(|e| format!("apparmor profile source {e}")));
        }

        let service_accounts = files.service_accounts.clone().map(|mut v| {
            if config.state.dir.is_some() || config.state.cluster.is_some() {
                let (inv, diags) = kguard_authn::inventory::Inventory::from_objects(&objects);
                warnings.extend(diags.iter().map(ToString::to_string));
                v.inventory = Some(inv);
            }
            v
        });
        let bootstrap_secrets = config.authentication.bootstrap_tokens.then(|| {
            objects
                .iter()
                .filter(|o| o.kind() == "Secret" && o.id.namespace.as_deref() == Some("kube-system"))
                .map(|o| o.root.to_json())
                .collect()
        });

        let modes = Mode::parse_list(&config.authorization.modes.join(","))?;
        if config.state.with_default_rbac() {
            // Only those the state lacks: a cluster's (or a dump's) own definitions win.
            let key = |o: &kguard_model::Object| (o.id.kind.clone(), o.id.namespace.clone(), o.id.name.clone());
            let defined: std::collections::HashSet<_> = objects.iter().map(key).collect();
            objects.extend(kguard_authz::defaults::objects().into_iter().filter(|o| !defined.contains(&key(o))));
        }
        let authorizer = Chain::from_modes(&modes, &objects, files.abac.clone())?;
        Ok(Self {
            policies,
            inventory,
            image_policy,
            authorizer,
            token_file: files.token_file.clone(),
            service_accounts,
            bootstrap_secrets,
            detect: files.detect.clone(),
            tls: Arc::clone(&files.tls),
            objects: loaded,
            warnings,
            config,
            files,
        })
    }
}

/// What the configuration's own files give (TLS, PodSecurity configuration, token file,
/// service-account keys, ABAC policy, detection rules): read when the configuration is (re)loaded,
/// reused by every runtime built from new cluster objects in between.
#[derive(Clone)]
struct Files {
    tls: Arc<rustls::ServerConfig>,
    pod_security: Option<podsecurity::Config>,
    token_file: Option<Arc<TokenFile>>,
    /// The verifier with its keys, without the objects it looks tokens up in.
    service_accounts: Option<Verifier>,
    abac: Option<AbacPolicy>,
    detect: Option<Arc<kguard_detect::Engine>>,
    /// `admission.seccomp.profileDir`, every profile judged.
    seccomp: Option<Arc<kguard_seccomp::kubelet::JudgedProfiles>>,
    /// `admission.apparmor.profiles`, read and parsed.
    apparmor: Option<Arc<kguard_apparmor::node::NodeProfiles>>,
}

impl Files {
    fn read(config: &Config) -> Result<Self, ServeError> {
        let tls = crate::tls::server_config(&config.tls)?;
        let pod_security = if config.admission.pod_security.enabled {
            Some(match &config.admission.pod_security.config_file {
                None => podsecurity::Config::default(),
                Some(path) => {
                    let root = config::first_document(path, &read_text(path)?)?;
                    podsecurity::Config::parse(&root).map_err(|e| match e.pos {
                        Some(p) => ServeError::invalid(path, format!("{}:{}: {e}", p.line, p.column)),
                        None => ServeError::invalid(path, e),
                    })?
                }
            })
        } else {
            None
        };
        let token_file = match &config.authentication.token_auth_file {
            None => None,
            Some(path) => Some(Arc::new(
                TokenFile::parse(&path.display().to_string(), &read_text(path)?)
                    .map_err(|e| ServeError::invalid(path, e))?,
            )),
        };
        let service_accounts = match &config.authentication.service_accounts {
            None => None,
            Some(sa) => {
                let mut v = Verifier::new(sa.issuers.clone(), sa.audiences.clone());
                for key in &sa.key_files {
                    let pem = std::fs::read(key).map_err(|e| ServeError::read(key, e))?;
                    v.add_public_keys_pem(&pem).map_err(|e| ServeError::invalid(key, e))?;
                }
                Some(v)
            }
        };
        let abac = match &config.authorization.policy_file {
            None => None,
            Some(path) => Some(
                AbacPolicy::parse(&path.display().to_string(), &read_text(path)?)
                    .map_err(|e| ServeError::invalid(path, e))?,
            ),
        };
        let detect = if config.audit.rules_files.is_empty() {
            None
        } else {
            let mut texts = Vec::new();
            for path in &config.audit.rules_files {
                texts.push((path.display().to_string(), read_text(path)?));
            }
            let refs: Vec<(&str, &str)> = texts.iter().map(|(n, t)| (n.as_str(), t.as_str())).collect();
            match kguard_detect::load(&refs) {
                Ok((engine, _)) => Some(Arc::new(engine)),
                Err(errors) => {
                    let first = config.audit.rules_files.first().map(PathBuf::as_path).unwrap_or(Path::new("rules"));
                    let all = errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
                    return Err(ServeError::invalid(first, all));
                }
            }
        };
        let seccomp = match &config.admission.seccomp {
            None => None,
            Some(sc) => {
                let node = crate::seccomp::read_dir(&sc.profile_dir, sc.arch())
                    .map_err(|e| ServeError::Seccomp(format!("profileDir: {e}")))?;
                Some(Arc::new(node.judge_all()))
            }
        };
        let apparmor = match &config.admission.apparmor {
            None => None,
            Some(a) => Some(Arc::new(
                crate::apparmor::read(&a.profiles).map_err(|e| ServeError::AppArmor(format!("profiles: {e}")))?,
            )),
        };
        Ok(Self { tls, pod_security, token_file, service_accounts, abac, detect, seccomp, apparmor })
    }
}

/// Reads and parses `kguard.yaml`.
///
/// # Errors
/// Unreadable file or invalid configuration (with file:line:column).
pub fn read_config(path: &Path) -> Result<Config, ServeError> {
    let text = read_text(path)?;
    let base = path.parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    Ok(Config::parse(&path.display().to_string(), &text, &base)?)
}

/// The modification times and sizes of the files a runtime was built from.
pub type Fingerprint = BTreeMap<PathBuf, Option<(SystemTime, u64)>>;

/// The modification times and sizes of everything a runtime was built from: when it changes,
/// the runtime is rebuilt.
#[must_use]
pub fn fingerprint(config_path: &Path, config: &Config) -> Fingerprint {
    let mut files = vec![config_path.to_path_buf()];
    files.extend(config.watched_files());
    if let Some(sc) = &config.admission.seccomp {
        // Added, removed and changed profiles; the directory itself while it cannot be listed.
        match crate::seccomp::list(&sc.profile_dir) {
            Ok(list) => files.extend(list.into_iter().map(|(_, path)| path)),
            Err(_) => files.push(sc.profile_dir.clone()),
        }
    }
    if let Some(a) = &config.admission.apparmor {
        // The list, or the directory and its files (added, removed, changed sources).
        files.push(a.profiles.clone());
        if let Ok(entries) = std::fs::read_dir(&a.profiles) {
            let mut list: Vec<PathBuf> = entries.filter_map(|e| Some(e.ok()?.path())).collect();
            list.sort();
            files.extend(list);
        }
    }
    if let Some(dir) = &config.state.dir {
        let (inputs, _) = load::expand_paths(std::slice::from_ref(dir));
        files.extend(inputs.into_iter().filter_map(|i| match i {
            load::Input::File(p) => Some(p),
            load::Input::Stdin | load::Input::Text { .. } => None,
        }));
    }
    files
        .into_iter()
        .map(|p| {
            let meta = std::fs::metadata(&p).ok().and_then(|m| Some((m.modified().ok()?, m.len())));
            (p, meta)
        })
        .collect()
}
