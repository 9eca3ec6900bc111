//! Container metadata for live events, read from the container runtimes' state on disk (no
//! runtime socket is spoken to): Docker's `<root>/containers/<id>/config.v2.json` and
//! `hostconfig.json` (with the image's tags and digests from `<root>/image/*/repositories.json`); the OCI bundle `config.json` of containerd's tasks
//! (`/run/containerd/io.containerd.runtime.v2.task/<namespace>/<id>/`, CRI annotations for
//! Kubernetes pods) and of CRI-O and Podman
//! (`/run/containers/storage/overlay-containers/<id>/userdata/`,
//! `/var/lib/containers/storage/overlay-containers/<id>/userdata/`). A DaemonSet that mounts the
//! node's file system elsewhere sets `KGUARD_HOST_ROOT` (e.g. `/host`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kguard_runtime::container::ContainerInfo;

/// How long a container that could not be found is not looked up again.
const RETRY: Duration = Duration::from_secs(1);
/// Most lookups remembered (found or not).
const MAX_TRIED: usize = 65_536;
/// Largest state file read.
const MAX_FILE: u64 = 4 << 20;

/// Where the runtimes keep their state.
#[derive(Clone, Debug)]
pub struct Roots {
    /// Docker's data root (`/var/lib/docker`).
    pub docker: PathBuf,
    /// containerd's state directory (`/run/containerd`).
    pub containerd: PathBuf,
    /// containers/storage run and data roots (CRI-O, Podman).
    pub storage: Vec<PathBuf>,
}

impl Roots {
    /// The default paths under `host_root` (`/` on the node).
    #[must_use]
    pub fn under(host_root: &Path) -> Self {
        let p = |s: &str| host_root.join(s);
        Roots {
            docker: p("var/lib/docker"),
            containerd: p("run/containerd"),
            storage: vec![p("run/containers/storage"), p("var/lib/containers/storage")],
        }
    }
}

impl Default for Roots {
    /// Under `KGUARD_HOST_ROOT`, or `/`.
    fn default() -> Self {
        let root = std::env::var_os("KGUARD_HOST_ROOT")
            .filter(|v| !v.is_empty())
            .map_or_else(|| PathBuf::from("/"), PathBuf::from);
        Roots::under(&root)
    }
}

fn read(p: &Path) -> Option<String> {
    use std::io::Read;
    let f = std::fs::File::open(p).ok()?;
    let mut s = String::new();
    f.take(MAX_FILE).read_to_string(&mut s).ok()?;
    Some(s)
}

/// Looks containers up by their whole id, remembering what it found and, for a second, what it
/// did not.
#[derive(Debug, Default)]
pub struct Resolver {
    roots: Option<Roots>,
    tried: HashMap<String, Instant>,
}

impl Resolver {
    /// A resolver over `roots`.
    #[must_use]
    pub fn new(roots: Roots) -> Self {
        Resolver { roots: Some(roots), tried: HashMap::new() }
    }

    /// The container `full_id` (64 hex digits), `kind` the runtime its cgroup path names (empty
    /// when it does not say): `None` when no runtime's state has it, or when it was looked up in
    /// the last second.
    pub fn lookup(&mut self, full_id: &str, kind: &str) -> Option<ContainerInfo> {
        let now = Instant::now();
        if self.tried.get(full_id).is_some_and(|t| now.duration_since(*t) < RETRY) {
            return None;
        }
        if self.tried.len() >= MAX_TRIED {
            self.tried.clear();
        }
        self.tried.insert(full_id.to_owned(), now);
        let roots = self.roots.as_ref()?;
        let docker = || {
            let dir = roots.docker.join("containers").join(full_id);
            let config = read(&dir.join("config.v2.json"))?;
            // the image's tags and digests: image/<storage driver>/repositories.json
            let repos = std::fs::read_dir(roots.docker.join("image"))
                .ok()
                .and_then(|rd| rd.flatten().find_map(|d| read(&d.path().join("repositories.json"))));
            ContainerInfo::from_docker(&config, read(&dir.join("hostconfig.json")).as_deref(), repos.as_deref()).ok()
        };
        let containerd = || {
            let tasks = roots.containerd.join("io.containerd.runtime.v2.task");
            // Kubernetes' namespace first, then any other (moby, default, …)
            let mut namespaces = vec![tasks.join("k8s.io")];
            if let Ok(rd) = std::fs::read_dir(&tasks) {
                namespaces.extend(rd.flatten().map(|e| e.path()).filter(|p| !p.ends_with("k8s.io")));
            }
            namespaces.iter().find_map(|ns| {
                let config = read(&ns.join(full_id).join("config.json"))?;
                let kind = if ns.ends_with("moby") { "docker" } else { "containerd" };
                ContainerInfo::from_oci_bundle(full_id, kind, &config).ok()
            })
        };
        let storage = || {
            roots.storage.iter().find_map(|r| {
                let config = read(&r.join("overlay-containers").join(full_id).join("userdata").join("config.json"))?;
                let kind = if config.contains("io.kubernetes.cri-o.") { "cri-o" } else { "podman" };
                ContainerInfo::from_oci_bundle(full_id, kind, &config).ok()
            })
        };
        let found = match kind {
            "cri-o" | "podman" => storage().or_else(containerd),
            "containerd" => containerd().or_else(storage),
            // docker's layouts, or a path that does not say (kubepods with cgroupfs)
            _ => docker().or_else(containerd).or_else(storage),
        };
        if found.is_some() {
            // found: never looked up again (the inspector keeps it)
            self.tried.insert(full_id.to_owned(), now + Duration::from_secs(u32::MAX.into()));
        }
        found
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    const ID: &str = "e70ad23292669a421a78d4b1bb56370ce1db46614ee7f67e909688dd633f5e6f";

    #[test]
    fn each_runtime_layout_is_found() {
        let root = std::env::temp_dir().join(format!("kguard-containers-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let put = |rel: &str, text: &str| {
            let p = root.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        let roots = Roots::under(&root);
        assert!(Resolver::new(roots.clone()).lookup(ID, "").is_none(), "nothing there yet");

        put(
            &format!("var/lib/docker/containers/{ID}/config.v2.json"),
            &format!(
                r#"{{"ID":"{ID}","Name":"/web","Image":"sha256:6c9d","Config":{{"Image":"nginx:1.25","Labels":{{"io.kubernetes.pod.namespace":"prod"}}}}}}"#
            ),
        );
        put(&format!("var/lib/docker/containers/{ID}/hostconfig.json"), r#"{"Privileged":true}"#);
        let c = Resolver::new(roots.clone()).lookup(ID, "docker").unwrap();
        assert_eq!(
            (c.kind.as_str(), c.name.as_str(), c.image_tag.as_str(), c.privileged),
            ("docker", "web", "1.25", Some(true))
        );
        // the image's references: repository and digest from its RepoDigests, tag from RepoTags
        put(
            "var/lib/docker/image/overlay2/repositories.json",
            r#"{"Repositories":{"nginx":{"nginx:1.25":"sha256:6c9d","nginx:stable":"sha256:6c9d","nginx@sha256:feed":"sha256:6c9d"}}}"#,
        );
        let c = Resolver::new(roots.clone()).lookup(ID, "docker").unwrap();
        assert_eq!(
            (c.image_repo.as_str(), c.image_tag.as_str(), c.image_digest.as_str()),
            ("nginx", "1.25", "sha256:feed")
        );
        std::fs::remove_dir_all(root.join("var/lib/docker")).unwrap();

        put(
            &format!("run/containerd/io.containerd.runtime.v2.task/k8s.io/{ID}/config.json"),
            r#"{"annotations":{"io.kubernetes.cri.container-name":"app","io.kubernetes.cri.image-name":"docker.io/library/redis:7","io.kubernetes.cri.sandbox-namespace":"cache","io.kubernetes.cri.sandbox-name":"redis-0"},"linux":{"maskedPaths":["/proc/kcore"]},"process":{"capabilities":{"bounding":["CAP_CHOWN"]}}}"#,
        );
        let c = Resolver::new(roots.clone()).lookup(ID, "").unwrap();
        assert_eq!(
            (c.kind.as_str(), c.name.as_str(), c.image_repo.as_str(), c.privileged),
            ("containerd", "app", "docker.io/library/redis", Some(false))
        );
        assert_eq!(c.label("io.kubernetes.pod.namespace"), Some("cache"));
        std::fs::remove_dir_all(root.join("run/containerd")).unwrap();

        put(
            &format!("run/containers/storage/overlay-containers/{ID}/userdata/config.json"),
            r#"{"annotations":{"io.kubernetes.cri-o.Metadata":"{\"name\":\"app\",\"attempt\":0}","io.kubernetes.cri-o.ImageName":"quay.io/app:v1","io.kubernetes.cri-o.ImageRef":"sha256:77aa","io.kubernetes.pod.name":"web","io.kubernetes.cri-o.Labels":"{\"io.kubernetes.pod.namespace\":\"prod\"}"},"process":{"capabilities":{"bounding":["CAP_SYS_ADMIN"]}}}"#,
        );
        let mut r = Resolver::new(roots);
        let c = r.lookup(ID, "cri-o").unwrap();
        assert_eq!(
            (c.kind.as_str(), c.name.as_str(), c.image_tag.as_str(), c.image_id.as_str()),
            ("cri-o", "app", "v1", "77aa")
        );
        assert_eq!(c.privileged, Some(true), "no masked paths, no seccomp: what WithPrivileged leaves");
        assert_eq!(
            (c.label("io.kubernetes.pod.name"), c.label("io.kubernetes.pod.namespace")),
            (Some("web"), Some("prod"))
        );
        assert!(r.lookup(ID, "cri-o").is_none(), "found once, not looked up again");
        let _ = std::fs::remove_dir_all(&root);
    }
}
