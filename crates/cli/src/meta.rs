//! `kguard version`, `kguard completion SHELL` and `kguard man DIR`: what a packaged tool is
//! expected to offer.

use std::io::Write as _;
use std::path::PathBuf;

use clap::CommandFactory as _;

use crate::output::{self, Format};

/// `kguard version`.
#[derive(Debug, clap::Args)]
pub struct VersionArgs {
    /// Output format: `table` or `json`/`yaml`.
    #[arg(short = 'o', long = "output", value_name = "FORMAT", default_value = "table",
          value_parser = output::parser(&[Format::Table, Format::Json, Format::Yaml]))]
    pub output: Format,
}

/// `kguard completion`.
#[derive(Debug, clap::Args)]
pub struct CompletionArgs {
    /// The shell: bash, zsh, fish, elvish or powershell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `kguard man`.
#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// Directory the pages are written to (`kguard.1`, `kguard-scan.1`, ...); created if missing.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

/// The upstream behaviour this build reproduces, each with where it is verified.
fn upstreams() -> Vec<(&'static str, String, &'static str)> {
    let (fa, fb, fc) = kguard_detect::rules::ENGINE_VERSION;
    vec![
        (
            "Kubernetes Pod Security Standards",
            format!("v1.0 to v1.{} and latest", kguard_podsec::Version::NEWEST_MINOR),
            "k8s.io/pod-security-admission test data",
        ),
        (
            "kube-apiserver authorization, admission, audit",
            "v1.36".to_owned(),
            "a real kube-apiserver v1.36 (../shared/bench) and upstream unit tests",
        ),
        ("Falco rules engine", format!("{fa}.{fb}.{fc} (k8s_audit source)"), "Falco's k8saudit regression tests"),
        ("libseccomp filter semantics", "2.6".to_owned(), "libseccomp's bpf-sim suite, python3-seccomp"),
        ("Linux syscall numbers", kguard_seccomp::table::TABLE_VERSION.to_owned(), "libseccomp's syscalls.csv"),
        ("np-guard connectivity analysis", "connlist and its formats".to_owned(), "np-guard's test expectations"),
        ("kubesec scoring", "30 scored rules".to_owned(), "kubesec's test manifests"),
    ]
}

/// `kguard version`: the version and what it reproduces.
pub fn version(args: &VersionArgs) -> u8 {
    let mut out = std::io::stdout().lock();
    let written = if args.output == Format::Table {
        (|| {
            writeln!(out, "kguard {}", env!("CARGO_PKG_VERSION"))?;
            writeln!(out, "reproduces:")?;
            for (what, version, verified) in upstreams() {
                writeln!(out, "  {what:<48} {version}  (verified against {verified})")?;
            }
            out.flush()
        })()
    } else {
        let v = serde_json::json!({
            "kguard": env!("CARGO_PKG_VERSION"),
            "reproduces": upstreams().into_iter().map(|(what, version, verified)| serde_json::json!({
                "what": what, "version": version, "verifiedAgainst": verified
            })).collect::<Vec<_>>(),
        });
        output::structured(&mut out, args.output, &v).and_then(|()| out.flush())
    };
    match written {
        Ok(()) => crate::exit::CLEAN,
        Err(e) => output::write_failed(&e, "the version"),
    }
}

/// `kguard completion SHELL`: the completion script on stdout.
pub fn completion(args: &CompletionArgs) -> u8 {
    let mut cmd = crate::args::Cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "kguard", &mut buf);
    match std::io::stdout().lock().write_all(&buf) {
        Ok(()) => crate::exit::CLEAN,
        Err(e) => output::write_failed(&e, "the completion script"),
    }
}

/// `kguard man DIR`: one page per command and subcommand.
pub fn man(args: &ManArgs) -> u8 {
    fn pages(cmd: &clap::Command, prefix: &str, dir: &std::path::Path, n: &mut usize) -> std::io::Result<()> {
        let name = if prefix.is_empty() { cmd.get_name().to_owned() } else { format!("{prefix}-{}", cmd.get_name()) };
        let page = cmd.clone().name(name.clone());
        let mut buf = Vec::new();
        clap_mangen::Man::new(page).render(&mut buf)?;
        std::fs::write(dir.join(format!("{name}.1")), buf)?;
        *n += 1;
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set() && s.get_name() != "help") {
            pages(sub, &name, dir, n)?;
        }
        Ok(())
    }
    let mut cmd = crate::args::Cli::command();
    cmd.build();
    let mut n = 0;
    match std::fs::create_dir_all(&args.dir).and_then(|()| pages(&cmd, "", &args.dir, &mut n)) {
        Ok(()) => {
            eprintln!("kguard: wrote {n} man pages to {}", args.dir.display());
            crate::exit::CLEAN
        }
        Err(e) => {
            eprintln!("error: cannot write man pages to {}: {e}", args.dir.display());
            crate::exit::ERROR
        }
    }
}
