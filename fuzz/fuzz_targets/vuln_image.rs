//! Fuzzes the image reader (`kguard_vuln::image`) and the SBOM reader: the input as one layer
//! stream (tar, gzip or zstd: the tar walker with whiteouts, links and names that climb out) and
//! as an uncompressed layer walked by seeking (executables read by position), as a
//! whole image file (`docker save` or OCI layout tar: the archive index, manifest, config,
//! digests), as an OSV index (`kguard db import`'s gzip JSON lines) and as a CycloneDX/SPDX
//! document. Layers may expand to 16 MiB at most. Any panic,
//! hang, unbounded allocation or a file written outside the temporary directory is a bug.
#![no_main]

use std::sync::Arc;

use kguard_vuln::image::{Options, open, read_layer, read_layer_at};
use libfuzzer_sys::fuzz_target;

fn wanted(_: &str) -> bool {
    true
}

fuzz_target!(|data: &[u8]| {
    let opts = Options {
        wanted: &wanted,
        max_uncompressed: 16 << 20,
        platform: None,
        lang_packages: true,
        verify_layers: false,
    };
    if let Ok((files, _)) = read_layer(data, "layer", &opts) {
        let _ = kguard_vuln::pkgdb::installed_in(&files);
        let _ = kguard_vuln::pkgdb::detect_os_in(&files);
    }
    // The same bytes as an uncompressed layer on disk, walked by seeking.
    if let Ok((files, _)) = read_layer_at(Arc::new(data.to_vec()), data.len() as u64, "layer", &opts) {
        let _ = kguard_vuln::pkgdb::installed_in(&files);
    }
    let path = std::env::temp_dir().join(format!("kguard-fuzz-image-{}", std::process::id()));
    if std::fs::write(&path, data).is_ok() {
        let _ = open(&path, &opts);
        // The same bytes as a `kguard db import` index (or any OSV input `--db` takes).
        let _ = kguard_vuln::osv::load(&path);
    }
    let _ = kguard_vuln::sbom::read(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = kguard_vuln::sbom::parse_purl(text);
    }
});
