//! Fuzzes service-account JWT verification (`kguard_authn::serviceaccount::Verifier::verify`):
//! the input as a token (header, payload and signature, for the parsing before any key is
//! used), and the input as the JSON payload of a token signed with the verifier's own key, so that
//! the claims are read and checked (NumericDates, audiences, the `kubernetes.io` claim, legacy
//! claims, lookups in an inventory). Any panic or hang is a bug.
#![no_main]

use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey};
use kguard_authn::inventory::{Entry, Inventory, Kind};
use kguard_authn::serviceaccount::{LEGACY_ISSUER, Verifier};
use libfuzzer_sys::fuzz_target;

const NOW: i64 = 1_780_272_000;

fn setup() -> &'static (Verifier, EncodingKey, String) {
    static S: OnceLock<(Verifier, EncodingKey, String)> = OnceLock::new();
    S.get_or_init(|| {
        let key = rcgen::KeyPair::generate().expect("a P-256 key");
        let mut v = Verifier::new(
            vec!["https://kubernetes.default.svc.cluster.local".to_owned(), LEGACY_ISSUER.to_owned()],
            vec!["api".to_owned()],
        );
        v.add_public_keys_pem(key.public_key_pem().as_bytes()).expect("the public key");
        let mut inv = Inventory::default();
        let entry = |uid: &str| Entry { uid: uid.to_owned(), ..Entry::default() };
        inv.insert(Kind::ServiceAccount, "default", "builder", entry("sa-uid"));
        inv.insert(Kind::Pod, "default", "web-0", entry("pod-uid"));
        inv.insert(Kind::Secret, "default", "builder-token", entry("secret-uid"));
        inv.insert(Kind::Node, "", "node-1", entry("node-uid"));
        v.inventory = Some(inv);
        let encoding = EncodingKey::from_ec_pem(key.serialize_pem().as_bytes()).expect("the private key");
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"ES256","typ":"JWT"}"#);
        (v, encoding, header)
    })
}

fuzz_target!(|data: &[u8]| {
    let (verifier, key, header) = setup();
    if let Ok(token) = std::str::from_utf8(data) {
        let _ = verifier.verify(token, NOW);
    }
    let message = format!("{header}.{}", URL_SAFE_NO_PAD.encode(data));
    if let Ok(sig) = jsonwebtoken::crypto::sign(message.as_bytes(), key, Algorithm::ES256) {
        let _ = verifier.verify(&format!("{message}.{sig}"), NOW);
        let _ = verifier.with_audiences(Vec::new()).verify(&format!("{message}.{sig}"), NOW);
    }
});
