//! Image inputs: `docker save` archives and OCI layouts built here entry by entry, read back
//! through `image::open`: layer order, whiteouts and opaque directories, hard links,
//! compression (gzip, zstd), platform choice, digest verification, and bad input (path
//! traversal, truncated archives, decompression past the cap) refused with a clear error.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::io::Write as _;
use std::path::Path;

use kguard_vuln::files::Files;
use kguard_vuln::image::{self, ImageError, Options};
use kguard_vuln::pkgdb;
use serde_json::json;

enum E<'a> {
    File(&'a str, &'a [u8]),
    Dir(&'a str),
    Symlink(&'a str, &'a str),
    Hardlink(&'a str, &'a str),
    /// A raw name, written as is (for traversal tests).
    Raw(&'a str, &'a [u8]),
}

fn header(kind: tar::EntryType, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(0o644);
    h.set_mtime(0);
    h
}

fn layer(entries: &[E<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        match e {
            E::File(p, data) => {
                let mut h = header(tar::EntryType::Regular, data.len() as u64);
                b.append_data(&mut h, p, *data).unwrap();
            }
            E::Dir(p) => {
                let mut h = header(tar::EntryType::Directory, 0);
                b.append_data(&mut h, p, &[][..]).unwrap();
            }
            E::Symlink(p, t) => {
                let mut h = header(tar::EntryType::Symlink, 0);
                b.append_link(&mut h, p, t).unwrap();
            }
            E::Hardlink(p, t) => {
                let mut h = header(tar::EntryType::Link, 0);
                b.append_link(&mut h, p, t).unwrap();
            }
            E::Raw(p, data) => {
                let mut h = header(tar::EntryType::Regular, data.len() as u64);
                let name = h.as_old_mut();
                name.name[..p.len()].copy_from_slice(p.as_bytes());
                h.set_cksum();
                b.append(&h, *data).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

fn sha(b: &[u8]) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b).as_ref().iter().map(|x| format!("{x:02x}")).collect()
}

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

fn config(diff_ids: &[String]) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Env": ["PATH=/usr/bin"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids.iter().map(|d| format!("sha256:{d}")).collect::<Vec<_>>()},
    }))
    .unwrap()
}

/// A `docker save` archive (classic layout: `HEX/layer.tar`, `HEX.json`).
fn docker_archive(layers: &[Vec<u8>]) -> Vec<u8> {
    let diff_ids: Vec<String> = layers.iter().map(|l| sha(l)).collect();
    let cfg = config(&diff_ids);
    let cfg_name = format!("{}.json", sha(&cfg));
    let names: Vec<String> = diff_ids.iter().map(|d| format!("{d}/layer.tar")).collect();
    let manifest =
        serde_json::to_vec(&json!([{"Config": cfg_name, "RepoTags": ["example:1"], "Layers": names}])).unwrap();
    let mut files: Vec<(String, Vec<u8>)> = vec![("manifest.json".into(), manifest), (cfg_name, cfg)];
    for (n, l) in names.iter().zip(layers) {
        files.push((n.clone(), l.clone()));
    }
    let refs: Vec<(&str, &[u8])> = files.iter().map(|(n, d)| (n.as_str(), d.as_slice())).collect();
    tar_of(&refs)
}

fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let entries: Vec<E<'_>> = files.iter().map(|(n, d)| E::File(n, d)).collect();
    layer(&entries)
}

/// An OCI layout as (name, bytes) files; `layers` are blobs as stored (maybe compressed) with
/// their uncompressed form for the diff_ids.
/// One layer: the blob as stored, and its uncompressed tar.
type Blob = (Vec<u8>, Vec<u8>);

fn oci_layout(images: &[(&str, Vec<Blob>)]) -> Vec<(String, Vec<u8>)> {
    let mut files = vec![("oci-layout".to_owned(), br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec())];
    let mut descs = Vec::new();
    for (platform, layers) in images {
        let diff_ids: Vec<String> = layers.iter().map(|(_, plain)| sha(plain)).collect();
        let cfg = config(&diff_ids);
        let cfg_d = sha(&cfg);
        files.push((format!("blobs/sha256/{cfg_d}"), cfg.clone()));
        let mut ldescs = Vec::new();
        for (blob, _) in layers {
            let d = sha(blob);
            ldescs.push(json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": format!("sha256:{d}"), "size": blob.len()}));
            files.push((format!("blobs/sha256/{d}"), blob.clone()));
        }
        let m = serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": format!("sha256:{cfg_d}"), "size": cfg.len()},
            "layers": ldescs}))
        .unwrap();
        let md = sha(&m);
        files.push((format!("blobs/sha256/{md}"), m.clone()));
        let (os, arch) = platform.split_once('/').unwrap();
        descs.push(json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": format!("sha256:{md}"),
            "size": m.len(), "platform": {"os": os, "architecture": arch},
            "annotations": {"org.opencontainers.image.ref.name": "example:1"}}));
    }
    let index = serde_json::to_vec(&json!({"schemaVersion": 2, "manifests": descs})).unwrap();
    files.push(("index.json".to_owned(), index));
    files
}

fn write_dir(dir: &Path, files: &[(String, Vec<u8>)]) {
    for (n, d) in files {
        let p = dir.join(n);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, d).unwrap();
    }
}

/// Both ways of reading an uncompressed layer on disk: whole and verified, and by seeking.
fn modes() -> [Options<'static>; 2] {
    [opts(), Options { verify_layers: false, ..opts() }]
}

fn opts() -> Options<'static> {
    Options {
        wanted: &pkgdb::wanted,
        max_uncompressed: image::DEFAULT_MAX_UNCOMPRESSED,
        platform: None,
        lang_packages: false,
        verify_layers: true,
    }
}

const OS_RELEASE: &[u8] = b"PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n";

fn stanza(name: &str, version: &str) -> String {
    format!("Package: {name}\nStatus: install ok installed\nArchitecture: amd64\nVersion: {version}\n\n")
}

fn names(files: &dyn Files) -> Vec<String> {
    let mut v: Vec<String> =
        pkgdb::installed_in(files).unwrap().into_iter().map(|p| format!("{}={}", p.name, p.version)).collect();
    v.sort();
    v
}

#[test]
fn docker_archive_layers_whiteouts_and_opaque_directories() {
    for o in modes() {
        let status1 = stanza("bash", "5.2.15-2+b2") + &stanza("zlib1g", "1:1.2.13.dfsg-1");
        let l1 = layer(&[
            E::Dir("etc/"),
            E::File("etc/os-release", OS_RELEASE),
            E::File("var/lib/dpkg/status", status1.as_bytes()),
            E::File("var/lib/dpkg/status.d/old", stanza("old", "1").as_bytes()),
            E::File("var/lib/dpkg/status.d/gone", stanza("gone", "1").as_bytes()),
        ]);
        // Layer 2: the status file replaced, one status.d file whited out, one added.
        let status2 = stanza("bash", "5.2.15-2+b7") + &stanza("zlib1g", "1:1.2.13.dfsg-1");
        let l2 = layer(&[
            E::File("var/lib/dpkg/status", status2.as_bytes()),
            E::File("var/lib/dpkg/status.d/.wh.gone", b""),
            E::File("var/lib/dpkg/status.d/new", stanza("new", "2").as_bytes()),
        ]);
        // Layer 3: status.d made opaque (its lower files vanish) with one file of its own, and a
        // whiteout that names nothing.
        let l3 = layer(&[
            E::Dir("var/lib/dpkg/status.d/"),
            E::File("var/lib/dpkg/status.d/.wh..wh..opq", b""),
            E::File("var/lib/dpkg/status.d/distroless", stanza("base-files", "12.4").as_bytes()),
            E::File("usr/.wh.nothing", b""),
        ]);
        let t = tempfile::tempdir().unwrap();
        let archive = t.path().join("image.tar");
        std::fs::write(&archive, docker_archive(&[l1, l2, l3])).unwrap();
        let img = image::open(&archive, &o).unwrap();
        assert_eq!(img.format, image::Format::DockerArchive);
        assert_eq!(img.repo_tags, ["example:1"]);
        assert_eq!(img.diff_ids.len(), 3);
        assert!(img.image_id.starts_with("sha256:"));
        assert_eq!(names(&img.files), ["base-files=12.4", "bash=5.2.15-2+b7", "zlib1g=1:1.2.13.dfsg-1"]);
        assert_eq!(pkgdb::detect_os_in(&img.files).unwrap().unwrap().name, "12");
        assert!(img.warnings.is_empty(), "{:?}", img.warnings);

        // The same archive compressed with gzip, and unpacked into a directory.
        let gz = t.path().join("image.tar.gz");
        std::fs::write(&gz, gzip(&std::fs::read(&archive).unwrap())).unwrap();
        assert_eq!(names(&image::open(&gz, &o).unwrap().files), names(&img.files));
        let dir = t.path().join("unpacked");
        std::fs::create_dir(&dir).unwrap();
        tar::Archive::new(std::fs::File::open(&archive).unwrap()).unpack(&dir).unwrap();
        let from_dir = image::open(&dir, &o).unwrap();
        assert_eq!(names(&from_dir.files), names(&img.files));
        assert_eq!(from_dir.image_id, img.image_id);
    }
}

#[test]
fn whiteout_of_a_directory_and_a_symlink_over_a_directory_hide_what_was_below() {
    for o in modes() {
        let l1 = layer(&[
            E::File("etc/os-release", OS_RELEASE),
            E::File("var/lib/dpkg/status", stanza("bash", "1").as_bytes()),
            E::File("lib/apk/db/installed", b"P:musl\nV:1.2.4-r2\nA:x86_64\n\n"),
        ]);
        let l2 = layer(&[E::File("var/lib/.wh.dpkg", b""), E::Symlink("lib/apk", "/elsewhere")]);
        let t = tempfile::tempdir().unwrap();
        let archive = t.path().join("image.tar");
        std::fs::write(&archive, docker_archive(&[l1, l2])).unwrap();
        let img = image::open(&archive, &o).unwrap();
        assert!(names(&img.files).is_empty());
        assert!(img.files.read("etc/os-release").unwrap().is_some());
    }
}

#[test]
fn hard_links_carry_content_and_symlinked_files_are_not_followed() {
    for o in modes() {
        let l1 = layer(&[
            E::File("usr/lib/os-release", OS_RELEASE),
            E::Symlink("etc/os-release", "../usr/lib/os-release"),
            E::File("etc/debian_version", b"12.4\n"),
            E::File("var/lib/dpkg/status.d/a", stanza("a", "1").as_bytes()),
            E::Hardlink("var/lib/dpkg/status", "var/lib/dpkg/status.d/a"),
        ]);
        let t = tempfile::tempdir().unwrap();
        let archive = t.path().join("image.tar");
        std::fs::write(&archive, docker_archive(&[l1])).unwrap();
        let img = image::open(&archive, &o).unwrap();
        assert!(!img.files.is_file("etc/os-release"), "a symlink is not read");
        let os = pkgdb::detect_os_in(&img.files).unwrap().unwrap();
        assert_eq!(os.family, "debian", "usr/lib/os-release is read");
        assert_eq!(os.name, "12.4", "the point release from debian_version, as Trivy reports it");
        assert_eq!(img.files.read("var/lib/dpkg/status").unwrap().unwrap(), stanza("a", "1").as_bytes());
    }
}

#[test]
fn oci_layouts_gzip_and_zstd_layers_and_platform_choice() {
    for o in modes() {
        let plain_amd = layer(&[
            E::File("etc/os-release", OS_RELEASE),
            E::File("var/lib/dpkg/status", stanza("amd", "1").as_bytes()),
        ]);
        let plain_arm = layer(&[
            E::File("etc/os-release", OS_RELEASE),
            E::File("var/lib/dpkg/status", stanza("arm", "1").as_bytes()),
        ]);
        let second = layer(&[E::File("var/lib/dpkg/status.d/extra", stanza("extra", "1").as_bytes())]);
        let zstd = ruzstd::encoding::compress_to_vec(&second[..], ruzstd::encoding::CompressionLevel::Fastest);
        let files = oci_layout(&[
            ("linux/amd64", vec![(gzip(&plain_amd), plain_amd.clone()), (zstd.clone(), second.clone())]),
            ("linux/arm64", vec![(gzip(&plain_arm), plain_arm), (second.clone(), second)]),
            ("unknown/unknown", vec![]),
        ]);
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("layout");
        write_dir(&dir, &files);
        let pick = |platform: Option<&str>| {
            let o = Options { platform: platform.map(str::to_owned), ..o.clone() };
            image::open(&dir, &o).map(|i| names(&i.files))
        };
        assert_eq!(pick(Some("linux/arm64")).unwrap(), ["arm=1", "extra=1"]);
        assert_eq!(pick(Some("linux/amd64")).unwrap(), ["amd=1", "extra=1"]);
        if std::env::consts::ARCH == "x86_64" {
            assert_eq!(pick(None).unwrap(), ["amd=1", "extra=1"]);
        }
        let e = pick(Some("linux/s390x")).unwrap_err().to_string();
        assert!(e.contains("no image for platform linux/s390x") && e.contains("linux/amd64, linux/arm64"), "{e}");

        // The same layout as a tar.
        let refs: Vec<(&str, &[u8])> = files.iter().map(|(n, d)| (n.as_str(), d.as_slice())).collect();
        let tarred = t.path().join("layout.tar");
        std::fs::write(&tarred, tar_of(&refs)).unwrap();
        let img = image::open(&tarred, &Options { platform: Some("linux/amd64".into()), ..o.clone() }).unwrap();
        assert_eq!(img.format, image::Format::OciLayout);
        assert_eq!(img.repo_tags, ["example:1"]);
        assert_eq!(names(&img.files), ["amd=1", "extra=1"]);
    }
}

#[test]
fn digests_are_verified() {
    let l1 = layer(&[E::File("var/lib/dpkg/status", stanza("bash", "1").as_bytes())]);
    let t = tempfile::tempdir().unwrap();
    // A blob whose bytes do not match its name in an OCI layout.
    let mut files = oci_layout(&[("linux/amd64", vec![(gzip(&l1), l1.clone())])]);
    let blob = files.iter_mut().find(|(n, d)| n.starts_with("blobs/") && d.starts_with(&[0x1f, 0x8b])).unwrap();
    let mut tampered = l1.clone();
    tampered[600] ^= 1;
    blob.1 = gzip(&tampered);
    let dir = t.path().join("tampered");
    write_dir(&dir, &files);
    let e = image::open(&dir, &opts()).unwrap_err();
    assert!(matches!(e, ImageError::Digest { .. }), "{e}");
    assert!(e.to_string().contains("digest mismatch"), "{e}");

    // A docker archive whose layer does not match the config's diff_id.
    let good = docker_archive(std::slice::from_ref(&l1));
    let mut a = tar::Archive::new(&good[..]);
    let mut entries: Vec<(String, Vec<u8>)> = Vec::new();
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let n = e.path().unwrap().display().to_string();
        let mut d = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut d).unwrap();
        if n.ends_with("layer.tar") {
            d = layer(&[E::File("var/lib/dpkg/status", stanza("evil", "1").as_bytes())]);
        }
        entries.push((n, d));
    }
    let refs: Vec<(&str, &[u8])> = entries.iter().map(|(n, d)| (n.as_str(), d.as_slice())).collect();
    let p = t.path().join("swapped.tar");
    std::fs::write(&p, tar_of(&refs)).unwrap();
    let e = image::open(&p, &opts()).unwrap_err().to_string();
    assert!(e.contains("layer 1") && e.contains("digest mismatch"), "{e}");
    // Without `verify_layers`, an uncompressed layer stored on disk is walked by seeking and
    // not hashed (as Trivy reads an archive): the swapped layer is read as it is.
    let img = image::open(&p, &Options { verify_layers: false, ..opts() }).unwrap();
    assert_eq!(names(&img.files), ["evil=1"]);
}

#[test]
fn traversal_entries_are_skipped_and_absolute_names_stay_inside() {
    for o in modes() {
        let l1 = layer(&[
            E::Raw("../../var/lib/dpkg/status", stanza("escape", "1").as_bytes()),
            E::Raw("/var/lib/dpkg/status", stanza("inside", "1").as_bytes()),
            E::Raw("./etc/os-release", OS_RELEASE),
        ]);
        let t = tempfile::tempdir().unwrap();
        let archive = t.path().join("image.tar");
        std::fs::write(&archive, docker_archive(&[l1])).unwrap();
        let img = image::open(&archive, &o).unwrap();
        assert_eq!(names(&img.files), ["inside=1"]);
        assert_eq!(img.warnings.len(), 1, "{:?}", img.warnings);
        assert!(img.warnings[0].contains("climbs out of the image root"), "{:?}", img.warnings);
    }
}

#[test]
fn bad_input_gets_a_clear_error() {
    for o in modes() {
        let t = tempfile::tempdir().unwrap();
        let l1 =
            layer(&[E::File("var/lib/dpkg/status", stanza("bash", "1").as_bytes()), E::File("big", &[0u8; 20_000])]);
        let good = docker_archive(std::slice::from_ref(&l1));

        // Truncated in the middle of a layer.
        let p = t.path().join("truncated.tar");
        std::fs::write(&p, &good[..good.len() - 12_000]).unwrap();
        let e = image::open(&p, &o).unwrap_err().to_string();
        assert!(e.contains("truncated.tar"), "{e}");

        // A layer cut inside one of its entries, in an archive that is whole.
        let cut = &l1[..10_000];
        let p = t.path().join("cut-layer.tar");
        std::fs::write(&p, docker_archive(&[cut.to_vec()])).unwrap();
        let e = image::open(&p, &o).unwrap_err().to_string();
        assert!(e.contains("layer 1") && e.contains("not a readable layer"), "{e}");

        // Not an image at all.
        let p = t.path().join("plain.tar");
        std::fs::write(&p, tar_of(&[("hello.txt", b"hi")])).unwrap();
        let e = image::open(&p, &o).unwrap_err().to_string();
        assert!(e.contains("not an image"), "{e}");
        let p = t.path().join("garbage");
        std::fs::write(&p, b"\x1f\x8bnot really gzip").unwrap();
        assert!(image::open(&p, &o).is_err());
        let p = t.path().join("manifest-garbage.tar");
        std::fs::write(&p, tar_of(&[("manifest.json", b"{not json")])).unwrap();
        let e = image::open(&p, &o).unwrap_err().to_string();
        assert!(e.contains("manifest.json") && e.contains("invalid JSON"), "{e}");

        // Expanding past the cap.
        let p = t.path().join("image.tar");
        std::fs::write(&p, &good).unwrap();
        let small = Options { max_uncompressed: 4096, ..o.clone() };
        let e = image::open(&p, &small).unwrap_err();
        assert!(matches!(e, ImageError::TooLarge(..)), "{e}");

        // A gzip bomb as the outer archive stops at the cap too.
        let bomb = gzip(&vec![0u8; 8 << 20]);
        let p = t.path().join("bomb.tar.gz");
        std::fs::write(&p, bomb).unwrap();
        let e = image::open(&p, &Options { max_uncompressed: 1 << 20, ..o.clone() }).unwrap_err();
        assert!(matches!(e, ImageError::TooLarge(..)), "{e}");
    }
}

#[test]
fn docker_save_shares_identical_layers_through_symlinks() {
    for o in modes() {
        let l1 = layer(&[E::File("var/lib/dpkg/status", stanza("bash", "1").as_bytes())]);
        let d = sha(&l1);
        let cfg = config(&[d.clone(), d.clone()]);
        let cfg_name = format!("{}.json", sha(&cfg));
        let manifest =
            serde_json::to_vec(&json!([{"Config": cfg_name, "Layers": [format!("{d}/layer.tar"), "other/layer.tar"]}]))
                .unwrap();
        let target = format!("../{d}/layer.tar");
        let archive = layer(&[
            E::File("manifest.json", &manifest),
            E::File(&cfg_name, &cfg),
            E::File(&format!("{d}/layer.tar"), &l1),
            E::Symlink("other/layer.tar", &target),
        ]);
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("image.tar");
        std::fs::write(&p, archive).unwrap();
        let img = image::open(&p, &o).unwrap();
        assert_eq!(names(&img.files), ["bash=1"]);
    }
}

#[test]
fn rpm_sqlite_database_in_a_layer() {
    let Some(path) = kguard_testkit::shared_path("oracles/vuln/pkgdb/rpm/sqlite/rpmdb.sqlite") else { return };
    let db = std::fs::read(path).unwrap();
    let l1 = layer(&[
        E::File("etc/os-release", b"ID=\"rocky\"\nVERSION_ID=\"9.3\"\n"),
        E::File("var/lib/rpm/rpmdb.sqlite", &db),
    ]);
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("image.tar");
    std::fs::write(&p, docker_archive(&[l1])).unwrap();
    let img = image::open(&p, &opts()).unwrap();
    let pkgs = pkgdb::installed_in(&img.files).unwrap();
    assert_eq!(pkgs.len(), 6, "{pkgs:?}");
    assert!(pkgs.iter().any(|p| p.name == "openssl-libs" && p.version.starts_with("1:")), "{pkgs:?}");
}

/// The bytes of `path` in the layers of the fixture `lang-image.tar`.
fn lang_image_file(path: &str) -> Vec<u8> {
    kguard_testkit::image_file(&kguard_testkit::repo_root().join("tests/fixtures/vuln/lang-image.tar"), path)
}

/// A Go binary larger than what a stream keeps in memory (a compressed layer: analyzed from a
/// temporary file) and the same in an uncompressed layer (read by position) and in a layer
/// checked whole (`verify_layers`): the same packages each way.
#[test]
fn large_executables_are_read_by_position_in_every_kind_of_layer() {
    let mut hello = lang_image_file("usr/local/bin/hello");
    hello.resize(9 << 20, 0); // past the 8 MiB a stream keeps in memory; the ELF is unchanged
    let mut b = tar::Builder::new(Vec::new());
    let mut h = header(tar::EntryType::Regular, hello.len() as u64);
    h.set_mode(0o755);
    b.append_data(&mut h, "usr/local/bin/hello", &hello[..]).unwrap();
    let plain = b.into_inner().unwrap();
    let t = tempfile::tempdir().unwrap();
    let mut seen = Vec::new();
    for (name, blob) in [("gzip", gzip(&plain)), ("plain", plain.clone())] {
        let dir = t.path().join(name);
        write_dir(&dir, &oci_layout(&[("linux/amd64", vec![(blob, plain.clone())])]));
        for verify in [false, true] {
            let o = Options { lang_packages: true, verify_layers: verify, ..opts() };
            let img = image::open(&dir, &o).unwrap();
            let found = kguard_vuln::lang::installed::find_in(&img.files, None).unwrap();
            let got: Vec<String> = found
                .targets
                .iter()
                .flat_map(|t| t.packages.iter().map(move |p| format!("{} {}@{}", t.path, p.name, p.version)))
                .collect();
            assert!(got.contains(&"usr/local/bin/hello example.com/hello@v1.2.3".to_owned()), "{name}: {got:?}");
            seen.push(got);
        }
    }
    assert!(seen.windows(2).all(|w| w[0] == w[1]), "{seen:?}");
}
