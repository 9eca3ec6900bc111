//! The properties the `mesh_client_hello` fuzz target checks, run on every truncation and every
//! single-byte corruption of a ClientHello built here (no upstream bytes needed): no panic, the
//! detector keeps every byte it was given, answers as `parse_sni` does, and gives up at capacity.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use kguard_mesh::detect::{Detected, Detector, Sni, parse_sni};

/// A minimal TLS 1.2 ClientHello with SNI `name`.
fn client_hello(name: &str) -> Vec<u8> {
    let n = name.as_bytes();
    let mut sni = vec![0u8]; // host_name
    sni.extend((n.len() as u16).to_be_bytes());
    sni.extend(n);
    let mut list = (sni.len() as u16).to_be_bytes().to_vec();
    list.extend(sni);
    let mut ext = vec![0, 0x0a, 0, 4, 0, 2, 0, 0x17]; // supported_groups first
    ext.extend([0, 0]); // server_name
    ext.extend((list.len() as u16).to_be_bytes());
    ext.extend(list);
    let mut body = vec![3, 3];
    body.extend([7u8; 32]); // random
    body.push(0); // session id
    body.extend([0, 2, 0x13, 0x01]); // cipher suites
    body.extend([1, 0]); // compression
    body.extend((ext.len() as u16).to_be_bytes());
    body.extend(ext);
    let mut hs = vec![1, 0];
    hs.extend((body.len() as u16).to_be_bytes());
    hs.extend(body);
    let mut rec = vec![22, 3, 1];
    rec.extend((hs.len() as u16).to_be_bytes());
    rec.extend(hs);
    rec
}

fn check(data: &[u8]) {
    let whole = parse_sni(data);
    let step = usize::from(data.first().copied().unwrap_or(1)).max(1);
    let mut d = Detector::new(1024);
    let mut answer = Detected::NeedMore;
    let mut fed = 0;
    for chunk in data.chunks(step) {
        answer = d.push(chunk);
        fed += chunk.len();
        if answer != Detected::NeedMore {
            break;
        }
    }
    assert_eq!(d.buffered(), &data[..fed]);
    match (&answer, &whole) {
        (Detected::NeedMore, w) => assert_eq!(*w, Sni::Incomplete),
        (Detected::Tls(n), Sni::Name(m)) => assert_eq!(n, m),
        (Detected::Plaintext, _) | (Detected::Tls(_), _) => {}
    }
}

#[test]
fn truncations_and_corruptions() {
    let hello = client_hello("api.shop.svc.cluster.local");
    assert_eq!(parse_sni(&hello), Sni::Name("api.shop.svc.cluster.local".into()));
    let mut d = Detector::default();
    assert_eq!(d.push(&hello), Detected::Tls("api.shop.svc.cluster.local".into()));
    for i in 0..=hello.len() {
        check(&hello[..i]);
        let want = if i < hello.len() { Sni::Incomplete } else { parse_sni(&hello) };
        assert_eq!(parse_sni(&hello[..i]), want, "prefix {i}");
    }
    for i in 0..hello.len() {
        for v in [0u8, 1, 0x7f, 0x80, 0xff] {
            let mut c = hello.clone();
            c[i] = v;
            check(&c);
            c.extend(b"trailing bytes after the record");
            check(&c);
        }
    }
    // A name that is no DNS name, and an IP address as SNI: plaintext, like linkerd.
    assert_eq!(parse_sni(&client_hello("not a name")), Sni::None);
    assert_eq!(parse_sni(&client_hello("10.0.0.1")), Sni::None);
}
