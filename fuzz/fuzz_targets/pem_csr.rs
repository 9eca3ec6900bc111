//! Fuzzes the PEM/DER certificate and CSR paths of `kguard_authn`: certificate bundles, chain
//! verification against a fixed CA, certificate description and findings, CSR parsing and
//! signature verification, and token-file CSV parsing. Any panic or hang is a bug.
#![no_main]

use kguard_authn::{pki, tokenfile, x509};
use libfuzzer_sys::fuzz_target;

const NOW: i64 = 1_780_272_000;

fuzz_target!(|data: &[u8]| {
    // PEM input: as a chain, as a CA bundle, as a CSR.
    if let Ok(ca) = x509::ClientCa::from_pem(data) {
        let _ = ca.authenticate_pem(data, NOW);
    }
    let _ = pki::parse_csr_pem(data);
    // DER input: as one certificate and as a CSR.
    if let Ok(info) = pki::describe(data, NOW) {
        let _ = pki::findings(&info, "fuzz", NOW);
    }
    let _ = x509::ClientCa::default().authenticate(&[data.to_vec()], NOW);
    let _ = pki::parse_csr_der(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = tokenfile::TokenFile::parse("fuzz.csv", text);
        let _ = tokenfile::BasicAuthFile::parse("fuzz.csv", text);
    }
});
