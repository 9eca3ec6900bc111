//! The registry client against a scripted registry on loopback that asks for a bearer token
//! (the `WWW-Authenticate: Bearer realm=…,service=…,scope=…` flow Docker Hub and ghcr.io use),
//! redirects blob downloads to another path (a CDN), and serves one blob whose bytes do not have
//! its digest. The live registry test (basic auth, anonymous) is in crates/cli/tests/vuln_cli.rs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use kguard_server::registry::{Client, Credentials, PullOptions, Reference, RegistryError};

fn sha(b: &[u8]) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b);
    format!("sha256:{}", d.as_ref().iter().map(|x| format!("{x:02x}")).collect::<String>())
}

struct Seen {
    /// (path, Authorization header) of every request.
    requests: Vec<(String, Option<String>)>,
}

/// Serves `blobs` (digest → bytes) and `manifests` (tag → JSON) behind a bearer token.
fn serve(manifests: HashMap<String, Vec<u8>>, blobs: HashMap<String, Vec<u8>>) -> (String, Arc<Mutex<Seen>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let seen = Arc::new(Mutex::new(Seen { requests: Vec::new() }));
    let (s2, a2) = (seen.clone(), addr.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let (seen, addr, manifests, blobs) = (s2.clone(), a2.clone(), manifests.clone(), blobs.clone());
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut out = stream;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
                    let mut auth = None;
                    loop {
                        let mut h = String::new();
                        if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                            break;
                        }
                        if let Some((k, v)) = h.split_once(':')
                            && k.eq_ignore_ascii_case("authorization")
                        {
                            auth = Some(v.trim().to_owned());
                        }
                    }
                    seen.lock().unwrap().requests.push((path.clone(), auth.clone()));
                    let (status, headers, body): (&str, Vec<String>, Vec<u8>) = if path.starts_with("/token") {
                        if auth.as_deref() == Some("Basic Ym9iOnB3") && path.contains("scope=repository%3Arepo%3Apull")
                        {
                            ("200 OK", vec![], br#"{"token":"T0K3N"}"#.to_vec())
                        } else {
                            ("401 Unauthorized", vec![], b"{}".to_vec())
                        }
                    } else if let Some(d) = path.strip_prefix("/cdn/") {
                        match blobs.get(d) {
                            Some(b) => ("200 OK", vec![], b.clone()),
                            None => ("404 Not Found", vec![], vec![]),
                        }
                    } else if auth.as_deref() != Some("Bearer T0K3N") {
                        let challenge = format!(
                            "WWW-Authenticate: Bearer realm=\"http://{addr}/token\",service=\"scripted\",scope=\"repository:repo:pull\""
                        );
                        (
                            "401 Unauthorized",
                            vec![challenge],
                            br#"{"errors":[{"code":"UNAUTHORIZED","message":"token needed"}]}"#.to_vec(),
                        )
                    } else if let Some(tag) = path.strip_prefix("/v2/repo/manifests/") {
                        match manifests.get(tag) {
                            Some(m) => (
                                "200 OK",
                                vec!["Content-Type: application/vnd.oci.image.manifest.v1+json".to_owned()],
                                m.clone(),
                            ),
                            None => (
                                "404 Not Found",
                                vec![],
                                br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#.to_vec(),
                            ),
                        }
                    } else if let Some(d) = path.strip_prefix("/v2/repo/blobs/") {
                        ("307 Temporary Redirect", vec![format!("Location: http://{addr}/cdn/{d}")], vec![])
                    } else {
                        ("404 Not Found", vec![], vec![])
                    };
                    let mut resp = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\n", body.len());
                    for h in headers {
                        resp.push_str(&h);
                        resp.push_str("\r\n");
                    }
                    resp.push_str("\r\n");
                    if out.write_all(resp.as_bytes()).and_then(|()| out.write_all(&body)).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, seen)
}

fn manifest(config: &[u8], layer: &[u8], layer_digest: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha(config), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest, "size": layer.len()}],
    }))
    .unwrap()
}

#[test]
fn bearer_token_flow_redirected_blobs_and_digest_checks() {
    let layer = b"pretend this is a tar".to_vec();
    let config =
        serde_json::to_vec(&serde_json::json!({"rootfs": {"type": "layers", "diff_ids": [sha(&layer)]}})).unwrap();
    let evil = b"not the bytes the digest names".to_vec();
    let good = manifest(&config, &layer, &sha(&layer));
    let bad = manifest(&config, &evil, &sha(&layer));
    let mut manifests = HashMap::new();
    manifests.insert("1".to_owned(), good.clone());
    manifests.insert(sha(&good), good.clone());
    manifests.insert("bad".to_owned(), bad);
    let mut blobs = HashMap::new();
    blobs.insert(sha(&config), config.clone());
    blobs.insert(sha(&layer), layer.clone());
    let (addr, seen) = serve(manifests.clone(), blobs);
    let creds = Some(Credentials { username: "bob".into(), password: "pw".into() });
    let opts = PullOptions { credentials: creds, max_bytes: 1 << 20, ..PullOptions::default() };
    let no_index = |_: &[serde_json::Value]| -> Result<usize, String> { Err("no index expected".into()) };

    let dir = tempfile::tempdir().unwrap();
    let mut c = Client::new(Reference::parse(&format!("{addr}/repo:1")).unwrap(), &opts).unwrap();
    let pulled = c.pull(dir.path(), &no_index).unwrap();
    assert_eq!(pulled.digest, sha(&good));
    assert_eq!(pulled.blobs, 2);
    assert_eq!(pulled.repo_digest, format!("{addr}/repo@{}", sha(&good)));
    for b in [&config, &layer, &good] {
        let h = sha(b);
        let stored = std::fs::read(dir.path().join("blobs/sha256").join(h.strip_prefix("sha256:").unwrap())).unwrap();
        assert_eq!(&stored, b);
    }
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("index.json")).unwrap()).unwrap();
    assert_eq!(index["manifests"][0]["digest"], sha(&good));
    assert!(dir.path().join("oci-layout").is_file());
    {
        let s = seen.lock().unwrap();
        assert!(s.requests.iter().any(|(p, a)| p.starts_with("/token") && a.as_deref() == Some("Basic Ym9iOnB3")));
        for (p, a) in &s.requests {
            if p.starts_with("/cdn/") {
                assert_eq!(a, &None, "credentials are not sent along a redirect: {p}");
            }
        }
    }

    // Pinned by digest: fetched by digest and checked.
    let dir = tempfile::tempdir().unwrap();
    let mut c = Client::new(Reference::parse(&format!("{addr}/repo@{}", sha(&good))).unwrap(), &opts).unwrap();
    c.pull(dir.path(), &no_index).unwrap();

    // A layer whose bytes do not have the descriptor's digest: refused, nothing left behind.
    let dir = tempfile::tempdir().unwrap();
    let (addr2, _) = serve(manifests, {
        let mut b = HashMap::new();
        b.insert(sha(&config), config.clone());
        b.insert(sha(&layer), evil.clone());
        b
    });
    let mut c = Client::new(Reference::parse(&format!("{addr2}/repo:1")).unwrap(), &opts).unwrap();
    let e = c.pull(dir.path(), &no_index).unwrap_err();
    assert!(matches!(e, RegistryError::Digest { .. }), "{e}");
    let left: Vec<_> =
        std::fs::read_dir(dir.path().join("blobs/sha256")).unwrap().flatten().map(|e| e.file_name()).collect();
    assert!(!left.iter().any(|n| n.to_string_lossy().contains(&sha(&layer)[7..])), "{left:?}");

    // No credentials: the token endpoint refuses, and the error says so.
    let mut c = Client::new(Reference::parse(&format!("{addr}/repo:1")).unwrap(), &PullOptions::default()).unwrap();
    let e = c.pull(tempfile::tempdir().unwrap().path(), &no_index).unwrap_err().to_string();
    assert!(e.contains("/token") && e.contains("401"), "{e}");

    // The size cap stops the download.
    let small = PullOptions { max_bytes: 8, credentials: opts.credentials.clone(), ..PullOptions::default() };
    let mut c = Client::new(Reference::parse(&format!("{addr}/repo:1")).unwrap(), &small).unwrap();
    let e = c.pull(tempfile::tempdir().unwrap().path(), &no_index).unwrap_err();
    assert!(matches!(e, RegistryError::TooLarge(..)), "{e}");
}
