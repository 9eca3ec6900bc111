//! The `kguard` command line: parses arguments, calls the engines, renders reports.
//! Only this crate knows clap.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic))]

// mimalloc: webhook serving and parallel scans allocate from many threads; glibc's arenas
// contend (measured: `kguard serve` 6.1k → 8.9k AdmissionReviews/s, see crates/scan/benches/README.md).
// Built with `no_thp`: its arenas are not advised onto transparent huge pages, which cost every
// run about 8 MiB of resident memory for nothing measurable (bench/README.md, vuln-image.sh).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod apparmor;
mod args;
mod audit;
mod authn;
mod authz;
mod cluster;
mod detect;
mod explain;
mod mesh;
mod meta;
mod netpol;
mod node;
mod output;
mod pki;
mod psp;
mod scan;
mod scan_images;
mod seccomp;
mod spill;
mod vuln;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command};

/// Exit codes, as documented in the README.
pub mod exit {
    /// Nothing at or above the failure threshold.
    pub const CLEAN: u8 = 0;
    /// Findings at or above `--fail-on`.
    pub const FINDINGS: u8 = 1;
    /// An input or usage error (findings, if any, were still printed).
    pub const ERROR: u8 = 2;
}

fn main() -> ExitCode {
    output::quiet_broken_pipe();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { exit::ERROR } else { exit::CLEAN };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let code = match cli.command {
        Command::Scan(args) => scan::run(&args),
        Command::Explain(args) => explain::explain(&args),
        Command::Rules(args) => explain::rules(&args),
        Command::Netpol { command } => netpol::run(&command),
        Command::CanI(args) => authz::run_can_i(&args),
        Command::WhoCan(args) => authz::run_who_can(&args),
        Command::Rbac { command } => authz::run_rbac(&command),
        Command::Audit { command } => audit::run(&command),
        Command::Detect(args) => detect::run(&args),
        Command::Pki { command } => pki::run(&command),
        Command::Authn { command } => authn::run(&command),
        Command::Psp { command } => psp::run(&command),
        Command::Apparmor { command } => apparmor::run(&command),
        Command::Seccomp { command } => seccomp::run(&command),
        Command::Node { command } => node::run(&command),
        Command::Fs(args) => vuln::run_fs(&args),
        Command::Image(args) => vuln::run_image(&args),
        Command::Sbom(args) => vuln::run_sbom(&args),
        Command::Repo(args) => vuln::run_repo(&args),
        Command::Db { command } => vuln::run_db(&command),
        Command::Mesh { command } => mesh::run(&command),
        Command::Serve(args) => serve(&args),
        Command::Version(args) => meta::version(&args),
        Command::Completion(args) => meta::completion(&args),
        Command::Man(args) => meta::man(&args),
    };
    ExitCode::from(code)
}

/// `kguard serve`: runs until SIGTERM/SIGINT; exit 2 on a configuration or startup error.
fn serve(args: &args::ServeArgs) -> u8 {
    kguard_server::configure_log(args.log_level, args.log_format == args::LogFormat::Text);
    if args.check {
        return match kguard_server::state::read_config(&args.config).and_then(kguard_server::state::Runtime::build) {
            Ok(rt) => {
                for w in &rt.warnings {
                    eprintln!("warning: {w}");
                }
                let state = if rt.config.state.cluster.is_some() {
                    "state from the cluster, not contacted by --check".to_owned()
                } else {
                    format!("{} state objects", rt.objects)
                };
                println!("{}: ok ({state}, authorizers {:?})", args.config.display(), rt.config.authorization.modes);
                0
            }
            Err(e) => {
                eprintln!("error: {e}");
                2
            }
        };
    }
    let threads = args.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, usize::from));
    match kguard_server::run(&args.config, threads) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            2
        }
    }
}
