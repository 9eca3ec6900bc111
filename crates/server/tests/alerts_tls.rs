//! The HTTP alert output over TLS: an `https://` endpoint signed by a private CA is reached when
//! that CA is configured (`caFile`, `--http-ca-file`) and refused with Mozilla's roots; the client
//! runs on the one crypto provider (aws-lc-rs), with no ring in the build.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::sync::Arc;

use kguard_server::alerts::HttpOutput;
use kguard_server::config::Tls;
use kguard_testkit::TempDir;

/// Serves `n` HTTPS requests on loopback with the test PKI's server certificate; returns the URL
/// and the bodies received.
fn https_receiver(dir: &std::path::Path, n: usize) -> (String, std::thread::JoinHandle<Vec<String>>) {
    let tls = Tls {
        cert_file: dir.join("tls.crt"),
        key_file: dir.join("tls.key"),
        client_ca_file: None,
        min_version: "1.2".to_owned(),
        allow_unauthenticated: Vec::new(),
    };
    let config = kguard_server::tls::server_config(&tls).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("https://127.0.0.1:{}/", listener.local_addr().unwrap().port());
    let handle = std::thread::spawn(move || {
        let mut bodies = Vec::new();
        for _ in 0..n {
            let (tcp, _) = listener.accept().unwrap();
            let conn = rustls::ServerConnection::new(Arc::clone(&config)).unwrap();
            let mut r = BufReader::new(rustls::StreamOwned::new(conn, tcp));
            let mut len = 0usize;
            let mut line = String::new();
            // A refused handshake ends here with an error: count it as no body.
            if r.read_line(&mut line).is_err() {
                continue;
            }
            loop {
                let mut h = String::new();
                r.read_line(&mut h).unwrap();
                let h = h.trim_end().to_ascii_lowercase();
                if h.is_empty() {
                    break;
                }
                if let Some(v) = h.strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; len];
            r.read_exact(&mut body).unwrap();
            let stream = r.get_mut();
            stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").unwrap();
            stream.conn.send_close_notify();
            let _ = stream.flush();
            bodies.push(String::from_utf8(body).unwrap());
        }
        bodies
    });
    (url, handle)
}

#[test]
fn https_alerts_trust_the_configured_ca_only() {
    let dir = TempDir::new("alerts-tls");
    common::write_pki(dir.path());
    let (url, srv) = https_receiver(dir.path(), 2);

    // Mozilla's roots do not include the test CA: the handshake is refused, nothing delivered.
    let public = HttpOutput::new(&url).unwrap();
    let err = public.post(r#"{"rule":"untrusted"}"#).unwrap_err();
    assert!(err.to_lowercase().contains("certificate") || err.contains("UnknownIssuer"), "{err}");

    // With the CA file, the alert arrives.
    let private = HttpOutput::with_roots(&url, Some(&dir.path().join("ca.crt"))).unwrap();
    private.post(r#"{"rule":"delivered"}"#).unwrap();
    let bodies = srv.join().unwrap();
    assert_eq!(bodies, [r#"{"rule":"delivered"}"#]);
}

#[test]
fn a_ca_file_without_certificates_is_refused() {
    let dir = TempDir::new("alerts-tls-bad");
    std::fs::write(dir.path().join("empty.pem"), "not a certificate\n").unwrap();
    let err = HttpOutput::with_roots("https://127.0.0.1:1/", Some(&dir.path().join("empty.pem"))).unwrap_err();
    assert!(err.contains("empty.pem") && err.contains("no CERTIFICATE"), "{err}");
    let err = HttpOutput::with_roots("https://127.0.0.1:1/", Some(&dir.path().join("missing.pem"))).unwrap_err();
    assert!(err.contains("missing.pem"), "{err}");
}
