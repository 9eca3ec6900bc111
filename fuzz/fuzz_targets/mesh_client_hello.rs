//! Fuzzes PERMISSIVE-port detection: arbitrary bytes as a connection's first bytes through
//! `kguard_mesh::detect::parse_sni` (linkerd2-proxy's ClientHello/SNI parser) and through the
//! buffering `Detector` fed in chunks cut by the input's first byte. Any panic is a bug; the
//! detector must keep every byte (replay), answer like `parse_sni` on what it holds, and stop
//! asking for more at its capacity. SPIFFE IDs and Istio principals are parsed from the bytes too.
#![no_main]

use kguard_mesh::detect::{Detected, Detector, Sni, parse_sni};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let whole = parse_sni(data);
    if let Sni::Name(n) = &whole {
        assert!(kguard_mesh::detect::is_dns_name(n));
    }
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
    if answer == Detected::NeedMore {
        assert!(fed < 1024);
        assert_eq!(whole, Sni::Incomplete);
    }
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(id) = kguard_mesh::SpiffeId::parse(s) {
            assert_eq!(kguard_mesh::SpiffeId::parse(id.as_str()).as_ref(), Ok(&id));
        }
        let _ = kguard_mesh::TrustDomain::parse(s);
    }
});
