//! `gen-pods`: writes generated pod-heavy manifests (`kguard_testkit::pods`) for benchmarks.
//!
//! ```text
//! gen-pods file MEGABYTES PATH     one YAML stream of at least MEGABYTES MiB of pods
//! gen-pods dir  COUNT DIR          COUNT files of one pod each (DIR/pod-000000.yaml, ...)
//! ```

use std::path::Path;
use std::process::ExitCode;

use kguard_testkit::pods::{pod_heavy_yaml, pod_manifest};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["file", mb, path] => mb
            .parse::<usize>()
            .map_err(|e| format!("MEGABYTES {mb:?}: {e}"))
            .and_then(|mb| std::fs::write(path, pod_heavy_yaml(mb << 20)).map_err(|e| format!("{path}: {e}"))),
        ["dir", count, dir] => count.parse::<usize>().map_err(|e| format!("COUNT {count:?}: {e}")).and_then(|n| {
            std::fs::create_dir_all(dir).map_err(|e| format!("{dir}: {e}"))?;
            (0..n).try_for_each(|i| {
                let path = Path::new(dir).join(format!("pod-{i:06}.yaml"));
                std::fs::write(&path, pod_manifest(i)).map_err(|e| format!("{}: {e}", path.display()))
            })
        }),
        _ => Err("usage: gen-pods file MEGABYTES PATH | gen-pods dir COUNT DIR".to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gen-pods: {e}");
            ExitCode::from(2)
        }
    }
}
