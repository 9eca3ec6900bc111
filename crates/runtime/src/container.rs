//! Container metadata, as libsinsp keeps it per container id: read from the `container` events of
//! a capture (libsinsp's container JSON), or, for live events, from the container runtime's state
//! on disk (Docker's `config.v2.json` and `hostconfig.json`, the OCI bundle `config.json` that
//! containerd's CRI plugin, CRI-O and Podman write with their annotations). The reading of files
//! is the caller's ([`kguard_ebpf`'s resolver]); this module parses texts.
//!
//! [`kguard_ebpf`'s resolver]: ../../kguard_ebpf/containers/index.html

// Indexing here is serde_json's `Value[&str]`, which gives `Null` for a missing key or a value
// that is not an object: it never panics.
#![allow(clippy::indexing_slicing)]

use std::collections::BTreeMap;

use serde_json::Value;

/// A bind mount of the container.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Mount {
    /// Host path.
    pub source: String,
    /// Path in the container.
    pub dest: String,
    /// Mode string (`ro`, `z`, …).
    pub mode: String,
    /// Writable.
    pub rw: bool,
    /// Propagation (`rprivate`, …).
    pub propagation: String,
}

impl Mount {
    /// A mount as Docker's inspect data and libsinsp's container JSON write it (`Source`,
    /// `Destination`, `RW`, `Propagation`, and the mode under `mode_key`).
    fn from_json(p: &Value, mode_key: &str) -> Self {
        Mount {
            source: s(&p["Source"]),
            dest: s(&p["Destination"]),
            mode: s(&p[mode_key]),
            rw: p["RW"].as_bool().unwrap_or(false),
            propagation: s(&p["Propagation"]),
        }
    }
}

/// What is known of one container.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContainerInfo {
    /// The id as fields show it (the first 12 characters).
    pub id: String,
    /// The whole id.
    pub full_id: String,
    /// `docker`, `containerd`, `cri-o`, `podman`, …
    pub kind: String,
    /// The container's name.
    pub name: String,
    /// The image as the user named it.
    pub image: String,
    /// The image id (hex, without `sha256:`).
    pub image_id: String,
    /// Repository part of [`ContainerInfo::image`].
    pub image_repo: String,
    /// Tag part.
    pub image_tag: String,
    /// Digest part (`sha256:…`).
    pub image_digest: String,
    /// Privileged (`None`: not known).
    pub privileged: Option<bool>,
    /// The container's labels (Kubernetes' `io.kubernetes.pod.*` among them).
    pub labels: BTreeMap<String, String>,
    /// Bind mounts.
    pub mounts: Vec<Mount>,
    /// Start (or creation) time, ns since the epoch.
    pub start_ts: Option<u64>,
}

/// libsinsp's container type numbers (`sinsp_container_type`), as container events carry them.
const TYPES: &[&str] = &[
    "docker",
    "lxc",
    "libvirt-lxc",
    "mesos",
    "rkt",
    "custom",
    "cri",
    "containerd",
    "cri-o",
    "bpm",
    "static",
    "podman",
];

/// Splits an image reference into repository, tag and digest as the container plugin's
/// `parseImageRepoTag` does: the digest after the first `@`; the tag after the last `:` when that
/// comes after the last `/` (a registry's port is not a tag); no tag is filled in.
#[must_use]
pub fn split_image(image: &str) -> (String, String, String) {
    let (name, digest) = match image.split_once('@') {
        Some((n, d)) => (n, d.to_owned()),
        None => (image, String::new()),
    };
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    match name.get(last_slash..).and_then(|tail| tail.rfind(':')) {
        Some(i) => {
            let at = last_slash + i;
            (name.get(..at).unwrap_or_default().to_owned(), name.get(at + 1..).unwrap_or_default().to_owned(), digest)
        }
        None => (name.to_owned(), String::new(), digest),
    }
}

/// The references Docker's `image/<driver>/repositories.json` holds for image `image_id`
/// (`sha256:…`): its tags (`repo:tag`, the RepoTags of `docker image inspect`) and digests
/// (`repo@sha256:…`, the RepoDigests), each sorted.
#[must_use]
pub fn docker_image_refs(repositories_json: &str, image_id: &str) -> (Vec<String>, Vec<String>) {
    let Ok(v) = serde_json::from_str::<Value>(repositories_json) else { return (Vec::new(), Vec::new()) };
    let mut tags = Vec::new();
    let mut digests = Vec::new();
    if let Some(repos) = v["Repositories"].as_object() {
        for refs in repos.values().filter_map(Value::as_object) {
            for (r, id) in refs {
                if id.as_str() == Some(image_id) {
                    if r.contains('@') { digests.push(r.clone()) } else { tags.push(r.clone()) }
                }
            }
        }
    }
    tags.sort();
    digests.sort();
    (tags, digests)
}

fn short(id: &str) -> String {
    id.get(..12).unwrap_or(id).to_owned()
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

fn strip_sha(id: &str) -> String {
    id.strip_prefix("sha256:").unwrap_or(id).to_owned()
}

fn labels_of(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|m| m.iter().filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned()))).collect())
        .unwrap_or_default()
}

/// RFC 3339 time to ns since the epoch (`None` for Go's zero time).
fn rfc3339_ns(t: &str) -> Option<u64> {
    let ns = kguard_model::time::parse_rfc3339_nanos(t).ok()?;
    u64::try_from(ns).ok().filter(|n| *n > 0)
}

impl ContainerInfo {
    fn with_image(mut self, image: &str) -> Self {
        let (repo, tag, digest) = split_image(image);
        self.image = image.to_owned();
        self.image_repo = repo;
        self.image_tag = tag;
        self.image_digest = digest;
        self
    }

    /// A container from Docker's state: `config.v2.json` and (when there) `hostconfig.json` of
    /// `/var/lib/docker/containers/<id>/`.
    ///
    /// # Errors
    /// A text that is not JSON, or has no `ID`.
    ///
    /// The image's repository, tag and digest come as the container plugin takes them from
    /// `docker image inspect`: the repository and digest from the first of the image's
    /// RepoDigests, the tag from its RepoTags (`repositories_json`, Docker's
    /// `image/<driver>/repositories.json`); without them, from the container's image string.
    pub fn from_docker(
        config_v2: &str,
        hostconfig: Option<&str>,
        repositories_json: Option<&str>,
    ) -> Result<Self, String> {
        let c: Value = serde_json::from_str(config_v2).map_err(|e| format!("config.v2.json: {e}"))?;
        let full_id = s(&c["ID"]);
        if full_id.is_empty() {
            return Err("config.v2.json: no ID".into());
        }
        let host: Option<Value> = match hostconfig {
            Some(t) => Some(serde_json::from_str(t).map_err(|e| format!("hostconfig.json: {e}"))?),
            None => None,
        };
        // moby stores the mode under the key "Relabel"
        let mounts = c["MountPoints"]
            .as_object()
            .map(|m| m.values().map(|p| Mount::from_json(p, "Relabel")).collect())
            .unwrap_or_default();
        let image_ref = c["Image"].as_str().unwrap_or_default();
        let (tags, digests) = repositories_json.map(|r| docker_image_refs(r, image_ref)).unwrap_or_default();
        let info = ContainerInfo {
            id: short(&full_id),
            full_id,
            kind: "docker".into(),
            name: s(&c["Name"]).trim_start_matches('/').to_owned(),
            image_id: strip_sha(c["Image"].as_str().unwrap_or_default()),
            privileged: host.as_ref().and_then(|h| h["Privileged"].as_bool()),
            labels: labels_of(&c["Config"]["Labels"]),
            mounts,
            start_ts: rfc3339_ns(c["State"]["StartedAt"].as_str().unwrap_or_default())
                .or_else(|| rfc3339_ns(c["Created"].as_str().unwrap_or_default())),
            ..ContainerInfo::default()
        };
        let mut info = info.with_image(c["Config"]["Image"].as_str().unwrap_or_default());
        if let Some((repo, digest)) = digests.first().and_then(|d| d.split_once('@')) {
            info.image_repo = repo.to_owned();
            info.image_digest = digest.to_owned();
        }
        // the tag of the repository in use, else the first tag
        let tag = tags
            .iter()
            .map(|t| split_image(t))
            .find(|(r, _, _)| *r == info.image_repo)
            .or_else(|| tags.first().map(|t| split_image(t)));
        if let Some((repo, tag, _)) = tag {
            if digests.is_empty() {
                info.image_repo = repo;
            }
            info.image_tag = tag;
        }
        Ok(info)
    }

    /// A container from the OCI bundle `config.json` a runtime wrote for it, by its annotations:
    /// containerd's CRI plugin (`io.kubernetes.cri.*`), CRI-O (`io.kubernetes.cri-o.*` and the
    /// pod's labels copied in as annotations) or Podman (`io.podman.annotations.*`). `kind` is
    /// the runtime whose state directory held it. Privileged: Podman's annotation; otherwise the
    /// container plugin's reading of the spec (what `WithPrivileged` leaves: no masked or
    /// read-only paths, no SELinux label, no AppArmor profile but `unconfined`, no seccomp
    /// filter, sysfs and cgroup mounted read-write).
    ///
    /// # Errors
    /// A text that is not JSON.
    pub fn from_oci_bundle(full_id: &str, kind: &str, config: &str) -> Result<Self, String> {
        let c: Value = serde_json::from_str(config).map_err(|e| format!("config.json: {e}"))?;
        let ann = labels_of(&c["annotations"]);
        let get = |k: &str| ann.get(k).cloned().unwrap_or_default();
        let mut labels = BTreeMap::new();
        let mut image_id = String::new();
        let mut start_ts = None;
        let (name, image) = if ann.contains_key("io.kubernetes.cri.container-name")
            || ann.contains_key("io.kubernetes.cri.sandbox-name")
        {
            for (label, a) in [
                ("io.kubernetes.pod.name", "io.kubernetes.cri.sandbox-name"),
                ("io.kubernetes.pod.namespace", "io.kubernetes.cri.sandbox-namespace"),
                ("io.kubernetes.pod.uid", "io.kubernetes.cri.sandbox-uid"),
                ("io.kubernetes.container.name", "io.kubernetes.cri.container-name"),
            ] {
                if let Some(v) = ann.get(a) {
                    labels.insert(label.to_owned(), v.clone());
                }
            }
            (get("io.kubernetes.cri.container-name"), get("io.kubernetes.cri.image-name"))
        } else if ann.keys().any(|k| k.starts_with("io.kubernetes.cri-o.")) {
            for k in [
                "io.kubernetes.pod.name",
                "io.kubernetes.pod.namespace",
                "io.kubernetes.pod.uid",
                "io.kubernetes.container.name",
            ] {
                if let Some(v) = ann.get(k) {
                    labels.insert(k.to_owned(), v.clone());
                }
            }
            if let Ok(Value::Object(l)) = serde_json::from_str::<Value>(&get("io.kubernetes.cri-o.Labels")) {
                for (k, v) in l {
                    if let Some(v) = v.as_str() {
                        labels.entry(k).or_insert_with(|| v.to_owned());
                    }
                }
            }
            image_id = strip_sha(&get("io.kubernetes.cri-o.ImageRef"));
            start_ts = rfc3339_ns(&get("io.kubernetes.cri-o.Created"));
            let meta: Value = serde_json::from_str(&get("io.kubernetes.cri-o.Metadata")).unwrap_or_default();
            let image = Some(get("io.kubernetes.cri-o.ImageName"))
                .filter(|i| !i.is_empty())
                .unwrap_or_else(|| get("io.kubernetes.cri-o.Image"));
            (s(&meta["name"]), image)
        } else {
            (String::new(), String::new())
        };
        let empty = |v: &Value| v.as_array().is_none_or(Vec::is_empty);
        let ro_system_mount = c["mounts"].as_array().is_some_and(|m| {
            m.iter().any(|p| {
                matches!(p["type"].as_str(), Some("sysfs" | "cgroup" | "cgroup2"))
                    && p["options"].as_array().is_some_and(|o| o.iter().any(|x| x == "ro"))
            })
        });
        let apparmor = c["process"]["apparmorProfile"].as_str().unwrap_or_default();
        let spec_privileged = empty(&c["linux"]["maskedPaths"])
            && empty(&c["linux"]["readonlyPaths"])
            && c["process"]["selinuxLabel"].as_str().unwrap_or_default().is_empty()
            && (apparmor.is_empty() || apparmor == "unconfined")
            && c["linux"]["seccomp"].is_null()
            && !ro_system_mount;
        let privileged = match ann.get("io.podman.annotations.privileged") {
            Some(v) => v.eq_ignore_ascii_case("true"),
            None if kind == "podman" => false,
            None => spec_privileged,
        };
        let mounts = c["mounts"]
            .as_array()
            .map(|m| {
                m.iter()
                    .filter(|p| {
                        p["type"].as_str() == Some("bind")
                            || p["options"].as_array().is_some_and(|o| o.iter().any(|x| x == "bind" || x == "rbind"))
                    })
                    .map(|p| {
                        let opts: Vec<&str> = p["options"]
                            .as_array()
                            .map(|o| o.iter().filter_map(Value::as_str).collect())
                            .unwrap_or_default();
                        Mount {
                            source: s(&p["source"]),
                            dest: s(&p["destination"]),
                            mode: String::new(),
                            rw: !opts.contains(&"ro"),
                            propagation: opts
                                .iter()
                                .find(|o| o.ends_with("private") || o.ends_with("shared") || o.ends_with("slave"))
                                .map(|o| (*o).to_owned())
                                .unwrap_or_default(),
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        let info = ContainerInfo {
            id: short(full_id),
            full_id: full_id.to_owned(),
            kind: kind.to_owned(),
            name,
            image_id,
            privileged: Some(privileged),
            labels,
            mounts,
            start_ts,
            ..ContainerInfo::default()
        };
        Ok(info.with_image(&image))
    }

    /// A container from a capture's `container` event: libsinsp's JSON
    /// (`{"container": {"id", "type", "name", "image", "imageid", "imagerepo", "imagetag",
    /// "imagedigest", "privileged", "Mounts", "labels", "created_time", …}}`).
    #[must_use]
    pub fn from_event_json(json: &str) -> Option<Self> {
        let v: Value = serde_json::from_str(json.trim_end_matches('\0')).ok()?;
        let c = &v["container"];
        let id = s(&c["id"]);
        if id.is_empty() {
            return None;
        }
        let kind = match &c["type"] {
            Value::Number(n) => n.as_u64().and_then(|i| TYPES.get(usize::try_from(i).ok()?)).map(|t| (*t).to_owned()),
            Value::String(t) => Some(t.clone()),
            _ => None,
        }
        .unwrap_or_default();
        let image = s(&c["image"]);
        let (repo, tag, digest) = split_image(&image);
        let or = |key: &str, d: String| c[key].as_str().map_or(d, str::to_owned);
        Some(ContainerInfo {
            full_id: or("full_id", id.clone()),
            id: short(&id),
            kind,
            name: s(&c["name"]),
            image_id: s(&c["imageid"]),
            image_repo: or("imagerepo", repo),
            image_tag: or("imagetag", tag),
            image_digest: or("imagedigest", digest),
            image,
            privileged: c["privileged"].as_bool(),
            labels: labels_of(&c["labels"]),
            mounts: c["Mounts"]
                .as_array()
                .map(|m| m.iter().map(|p| Mount::from_json(p, "Mode")).collect())
                .unwrap_or_default(),
            start_ts: c["created_time"].as_u64().map(|secs| secs.saturating_mul(1_000_000_000)),
        })
    }

    /// The container as a capture's `container` event carries it ([`Self::from_event_json`]
    /// reads it back).
    #[must_use]
    pub fn to_event_json(&self) -> String {
        let kind: Value =
            TYPES.iter().position(|t| *t == self.kind).map_or_else(|| self.kind.clone().into(), Value::from);
        let mounts: Vec<Value> = self
            .mounts
            .iter()
            .map(|m| {
                serde_json::json!({"Source": m.source, "Destination": m.dest, "Mode": m.mode, "RW": m.rw, "Propagation": m.propagation})
            })
            .collect();
        let mut c = serde_json::json!({
            "id": self.id, "full_id": self.full_id, "type": kind, "name": self.name, "image": self.image,
            "imageid": self.image_id, "imagerepo": self.image_repo, "imagetag": self.image_tag,
            "imagedigest": self.image_digest, "labels": self.labels, "Mounts": mounts,
        });
        if let Some(p) = self.privileged {
            c["privileged"] = p.into();
        }
        if let Some(t) = self.start_ts {
            c["created_time"] = (t / 1_000_000_000).into();
        }
        serde_json::json!({ "container": c }).to_string()
    }

    /// A Kubernetes label of the container (`io.kubernetes.pod.namespace`, …).
    #[must_use]
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels.get(key).map(String::as_str).filter(|v| !v.is_empty())
    }
}

/// The whole container id (64 hex digits) in a thread's cgroup paths, with the runtime its
/// layout names (`docker`, `cri-o`, `containerd`, `podman`; empty when the layout does not say),
/// as the container engines' cgroup matchers read docker, CRI-O and containerd layouts.
#[must_use]
pub fn id_from_cgroups(cgroups: &[(String, String)]) -> Option<(String, &'static str)> {
    for (_, path) in cgroups {
        let segs: Vec<&str> = path.split('/').collect();
        for (i, seg) in segs.iter().enumerate() {
            let s = seg.trim_end_matches(".scope");
            let (s, kind) = if let Some(r) = s.strip_prefix("docker-") {
                (r, "docker")
            } else if let Some(r) = s.strip_prefix("crio-") {
                (r, "cri-o")
            } else if let Some(r) = s.strip_prefix("cri-containerd-") {
                (r, "containerd")
            } else if let Some(r) = s.strip_prefix("libpod-") {
                (r, "podman")
            } else {
                let parent = i.checked_sub(1).and_then(|j| segs.get(j)).copied().unwrap_or_default();
                (s, if parent == "docker" { "docker" } else { "" })
            };
            let s = s.rsplit(':').next().unwrap_or(s);
            if s.len() == 64 && s.bytes().all(|c| c.is_ascii_hexdigit()) {
                return Some((s.to_owned(), kind));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    #[test]
    fn images_split_as_libsinsp_splits_them() {
        let t = |i: &str| split_image(i);
        assert_eq!(t("nginx"), ("nginx".into(), String::new(), String::new()));
        assert_eq!(t("nginx:1.25"), ("nginx".into(), "1.25".into(), String::new()));
        assert_eq!(t("registry:5000/team/app"), ("registry:5000/team/app".into(), String::new(), String::new()));
        assert_eq!(t("registry:5000/team/app:v2"), ("registry:5000/team/app".into(), "v2".into(), String::new()));
        assert_eq!(t("busybox@sha256:abc"), ("busybox".into(), String::new(), "sha256:abc".into()));
        assert_eq!(t("busybox:1.36@sha256:abc"), ("busybox".into(), "1.36".into(), "sha256:abc".into()));
    }

    #[test]
    fn event_json_round_trips() {
        let mut c = ContainerInfo::from_event_json(
            r#"{"container":{"id":"ad64969c62e5","image":"node:latest","ip":"172.17.0.2","name":"express_server","type":0}}"#,
        )
        .unwrap();
        assert_eq!(
            (c.kind.as_str(), c.name.as_str(), c.image_repo.as_str(), c.image_tag.as_str()),
            ("docker", "express_server", "node", "latest")
        );
        c.privileged = Some(true);
        c.labels.insert("io.kubernetes.pod.name".into(), "web-0".into());
        c.mounts.push(Mount {
            source: "/var/run/docker.sock".into(),
            dest: "/var/run/docker.sock".into(),
            rw: true,
            ..Mount::default()
        });
        c.start_ts = Some(1_700_000_000_000_000_000);
        assert_eq!(ContainerInfo::from_event_json(&c.to_event_json()).unwrap(), c);
    }

    #[test]
    fn privileged_is_read_from_the_spec_as_the_container_plugin_reads_it() {
        let id = "e70ad23292669a421a78d4b1bb56370ce1db46614ee7f67e909688dd633f5e6f";
        let spec = |linux: &str, process: &str, sysfs: &str| {
            format!(
                r#"{{"annotations":{{"io.kubernetes.cri.container-name":"c","io.kubernetes.cri.image-name":"docker.io/library/nginx:1.25"}},"linux":{{{linux}}},"process":{{{process}}},"mounts":[{{"destination":"/sys","type":"sysfs","source":"sysfs","options":["nosuid","{sysfs}"]}}]}}"#
            )
        };
        let privileged = |t: &str| ContainerInfo::from_oci_bundle(id, "containerd", t).unwrap().privileged;
        // what WithPrivileged leaves
        assert_eq!(privileged(&spec("", r#""apparmorProfile":"unconfined""#, "rw")), Some(true));
        // what a default container has: any one of these makes it unprivileged
        assert_eq!(privileged(&spec(r#""maskedPaths":["/proc/kcore"]"#, "", "rw")), Some(false));
        assert_eq!(privileged(&spec(r#""readonlyPaths":["/proc/bus"]"#, "", "rw")), Some(false));
        assert_eq!(privileged(&spec(r#""seccomp":{"defaultAction":"SCMP_ACT_ERRNO"}"#, "", "rw")), Some(false));
        assert_eq!(privileged(&spec("", r#""apparmorProfile":"cri-containerd.apparmor.d""#, "rw")), Some(false));
        assert_eq!(privileged(&spec("", r#""selinuxLabel":"system_u:system_r:container_t:s0""#, "rw")), Some(false));
        assert_eq!(privileged(&spec("", "", "ro")), Some(false));
        let c = ContainerInfo::from_oci_bundle(id, "containerd", &spec("", "", "rw")).unwrap();
        assert_eq!(
            (c.name.as_str(), c.image_repo.as_str(), c.image_tag.as_str()),
            ("c", "docker.io/library/nginx", "1.25")
        );
        // Podman says so in an annotation
        let podman = |a: &str| {
            ContainerInfo::from_oci_bundle(id, "podman", &format!(r#"{{"annotations":{{{a}}},"linux":{{}}}}"#))
                .unwrap()
                .privileged
        };
        assert_eq!(podman(r#""io.podman.annotations.privileged":"TRUE""#), Some(true));
        assert_eq!(podman(r#""io.container.manager":"libpod""#), Some(false));
    }

    #[test]
    fn ids_come_from_the_cgroup_layouts() {
        let id = "e70ad23292669a421a78d4b1bb56370ce1db46614ee7f67e909688dd633f5e6f";
        let cg = |p: &str| vec![("cpu".to_owned(), p.to_owned())];
        assert_eq!(id_from_cgroups(&cg(&format!("/docker/{id}"))), Some((id.into(), "docker")));
        assert_eq!(id_from_cgroups(&cg(&format!("/system.slice/docker-{id}.scope"))), Some((id.into(), "docker")));
        assert_eq!(
            id_from_cgroups(&cg(&format!("/kubepods.slice/kubepods-pod1.slice/cri-containerd-{id}.scope"))),
            Some((id.into(), "containerd"))
        );
        assert_eq!(id_from_cgroups(&cg(&format!("/kubepods/besteffort/pod1/{id}"))), Some((id.into(), "")));
        assert_eq!(id_from_cgroups(&cg(&format!("/kubepods.slice/crio-{id}.scope"))), Some((id.into(), "cri-o")));
        assert_eq!(id_from_cgroups(&cg("/user.slice")), None);
    }
}
