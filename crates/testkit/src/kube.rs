//! A real kube-apiserver (and kubectl) on loopback for differential tests:
//! `../shared/bench/kube-apiserver.sh` (see its README), started in a temporary directory and
//! stopped when dropped.
//!
//! Where the harness script is absent (a fresh clone without `../shared`), [`KubeApiserver::start`]
//! returns `None` after a visible [`skip`](crate::skip) line, even under `KGUARD_REQUIRE_SHARED`;
//! where it exists, a failure to install or start is a panic under [`strict`](crate::strict)
//! (CI) and a skip otherwise.
#![allow(clippy::panic, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::{TempDir, shared_root, skip, strict};

/// A running kube-apiserver (with etcd), its `env` file read.
#[derive(Debug)]
pub struct KubeApiserver {
    script: PathBuf,
    dir: TempDir,
    env: BTreeMap<String, String>,
}

/// The harness script, when `../shared` has one.
#[must_use]
pub fn harness() -> Option<PathBuf> {
    let script = shared_root().join("bench/kube-apiserver.sh");
    script.is_file().then_some(script)
}

fn fail(test: &str, why: &str) -> Option<KubeApiserver> {
    if strict() {
        panic!("KGUARD_REQUIRE_SHARED is set and the kube-apiserver harness exists, but {why}");
    }
    skip(test, why);
    None
}

impl KubeApiserver {
    /// Installs (a no-op once done) and starts an apiserver with extra `flags` and harness
    /// environment (`KGUARD_KUBE_AUDIT_POLICY`, ...). `None` when it cannot (see the module).
    #[must_use]
    pub fn start(test: &str, flags: &[&str], env: &[(&str, &str)]) -> Option<Self> {
        let Some(script) = harness() else {
            skip(test, "no ../shared/bench/kube-apiserver.sh (set KGUARD_SHARED)");
            return None;
        };
        match Command::new("bash").arg(&script).arg("install").stdout(Stdio::null()).output() {
            Ok(out) if out.status.success() => {}
            Ok(out) => {
                return fail(
                    test,
                    &format!("`kube-apiserver.sh install` failed: {}", String::from_utf8_lossy(&out.stderr)),
                );
            }
            Err(e) => return fail(test, &format!("cannot run bash: {e}")),
        }
        // The harness picks free ports at random; two servers starting at once (tests of one
        // binary run in parallel) can pick the same one, and the loser fails to bind: start again.
        let mut attempt = 0;
        let dir = loop {
            attempt += 1;
            let dir = TempDir::new(&format!("kube-{test}"));
            let out = Self::run_start(&script, dir.path(), flags, env);
            if out.status.success() {
                break dir;
            }
            let stderr = String::from_utf8_lossy(&out.stderr);
            let _ = Command::new("bash").arg(&script).arg("stop").arg(dir.path()).output();
            if attempt < 4 && stderr.contains("address already in use") {
                use std::io::Write as _;
                let _ =
                    writeln!(std::io::stderr().lock(), "{test}: a port was taken during start (try {attempt} of 4)");
                continue;
            }
            return fail(test, &format!("`kube-apiserver.sh start` failed:\n{stderr}"));
        };
        let text = std::fs::read_to_string(dir.path().join("env")).expect("read the harness's env file");
        let env = text.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
        Some(Self { script, dir, env })
    }

    /// Starts an apiserver that is expected to fail (a bad flag or configuration file): its
    /// output and log, after the harness gave up. `None` where the harness is absent.
    #[must_use]
    pub fn start_failing(test: &str, flags: &[&str], env: &[(&str, &str)]) -> Option<(Output, String)> {
        let Some(script) = harness() else {
            skip(test, "no ../shared/bench/kube-apiserver.sh (set KGUARD_SHARED)");
            return None;
        };
        let dir = TempDir::new(&format!("kube-fail-{test}"));
        let mut env: Vec<(&str, &str)> = env.to_vec();
        env.push(("KGUARD_KUBE_START_TIMEOUT", "60"));
        let out = Self::run_start(&script, dir.path(), flags, &env);
        let log = std::fs::read_to_string(dir.path().join("apiserver.log")).unwrap_or_default();
        let _ = Command::new("bash").arg(&script).arg("stop").arg(dir.path()).output();
        Some((out, log))
    }

    fn run_start(script: &Path, dir: &Path, flags: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new("bash");
        cmd.arg(script).arg("start").arg(dir).args(flags);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().expect("run kube-apiserver.sh start")
    }

    /// A value of the harness's `env` file (`KUBECTL`, `KUBECONFIG`, `KUBE_AUDIT_LOG`, ...).
    #[must_use]
    pub fn env(&self, key: &str) -> &str {
        self.env.get(key).map_or("", String::as_str)
    }

    /// The state directory.
    #[must_use]
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `kubectl ARGS` against this apiserver (as the `system:masters` admin).
    #[must_use]
    pub fn kubectl(&self, args: &[&str]) -> Output {
        Command::new(self.env("KUBECTL"))
            .args(args)
            .env("KUBECONFIG", self.env("KUBECONFIG"))
            .output()
            .expect("run kubectl")
    }
}

impl Drop for KubeApiserver {
    fn drop(&mut self) {
        let _ = Command::new("bash").arg(&self.script).arg("stop").arg(self.dir.path()).output();
    }
}
