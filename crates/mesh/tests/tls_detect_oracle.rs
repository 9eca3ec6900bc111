//! ClientHello/SNI detection against linkerd2-proxy's test data
//! (`../shared/oracles/mtls/linkerd-tls/`): the two captured ClientHellos checked at every prefix
//! (need more bytes, then SNI `example.com`), the 517-byte curl hello through the detector (read
//! past the 512-byte peek, every byte kept for replay), and the HTTP/1.0 request (plaintext).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use kguard_mesh::detect::{Detected, Detector, PEEK_SIZE, Sni, parse_sni};
use serde_json::Value;

#[test]
fn linkerd_tls_oracle() {
    let Some(dir) = kguard_testkit::shared_path("oracles/mtls/linkerd-tls") else { return };
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("cases.json")).unwrap()).unwrap();
    let mut checks = 0;
    let mut passed = 0;
    let mut bins = 0;
    for c in doc["cases"].as_array().unwrap() {
        let want = c["expected_sni"].as_str().map(str::to_owned);
        let input = match (c["input_file"].as_str(), c["input_bytes_ascii"].as_str()) {
            (Some(f), _) => {
                bins += 1;
                std::fs::read(dir.join(f)).unwrap()
            }
            (None, Some(s)) => s.as_bytes().to_vec(),
            _ => panic!("bad case {c}"),
        };
        match want {
            None => {
                checks += 1;
                passed += usize::from(parse_sni(&input) == Sni::None);
                checks += 1;
                let mut d = Detector::default();
                passed += usize::from(d.push(&input) == Detected::Plaintext && d.buffered() == input);
            }
            Some(name) => {
                // Every prefix: Incomplete up to some n, then the name for every longer prefix
                // (check_all_prefixes), the full input included.
                let mut n = 0;
                while parse_sni(&input[..n]) == Sni::Incomplete && n < input.len() {
                    n += 1;
                }
                for i in 0..=input.len() {
                    checks += 1;
                    let want = if i < n { Sni::Incomplete } else { Sni::Name(name.clone()) };
                    let got = parse_sni(&input[..i]);
                    if got == want {
                        passed += 1;
                    } else {
                        println!("  FAIL {c} prefix {i}: got {got:?}, want {want:?}");
                    }
                }
                assert!(n <= input.len() && parse_sni(&input) == Sni::Name(name.clone()), "{c}: no SNI at all");
                // The stream: a first peek of at most 512 bytes, then the rest one byte at a
                // time; the answer comes exactly when the record is whole, with every byte kept.
                checks += 1;
                let mut d = Detector::default();
                let first = input.len().min(PEEK_SIZE);
                let mut answer = d.push(&input[..first]);
                let mut at = first;
                while answer == Detected::NeedMore && at < input.len() {
                    answer = d.push(&input[at..=at]);
                    at += 1;
                }
                if answer == Detected::Tls(name.clone()) && d.buffered() == input && at == input.len() {
                    passed += 1;
                } else {
                    println!("  FAIL {c} detector: {answer:?} after {at} bytes");
                }
            }
        }
    }
    println!("linkerd TLS detection oracle: {passed} passed of {checks} checks ({bins} .bin captures)");
    assert_eq!(bins, 2);
    // 211 prefixes of the 210-byte hello, 518 of the 517-byte one, 2 detector runs, 2 plaintext.
    assert_eq!(checks, 211 + 518 + 2 + 2);
    assert_eq!(passed, checks);
}
