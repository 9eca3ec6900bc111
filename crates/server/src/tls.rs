//! The serving TLS configuration (rustls, aws-lc-rs): TLS 1.2+ (or 1.3 only), ALPN h2 and
//! http/1.1, optional client-certificate verification against a CA bundle. Built from files at
//! start and at every reload; a connection uses the configuration current when it arrives.

use std::path::Path;
use std::sync::Arc;

use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::ServeError;
use crate::config::Tls;

/// The crypto provider kguard uses everywhere.
#[must_use]
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn read(path: &Path) -> Result<Vec<u8>, ServeError> {
    std::fs::read(path).map_err(|e| ServeError::read(path, e))
}

/// Reads the PEM certificates of a file.
///
/// # Errors
/// Unreadable files, malformed PEM, or no certificate.
pub fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, ServeError> {
    let pem = read(path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ServeError::invalid(path, format!("invalid PEM certificate: {e}")))?;
    if certs.is_empty() {
        return Err(ServeError::invalid(path, "no CERTIFICATE block"));
    }
    Ok(certs)
}

/// Builds the server configuration.
///
/// # Errors
/// Unreadable or malformed certificate, key or CA files, a key that does not match the
/// certificate, or an unusable CA bundle.
pub fn server_config(tls: &Tls) -> Result<Arc<ServerConfig>, ServeError> {
    let certs = certificates(&tls.cert_file)?;
    let key_pem = read(&tls.key_file)?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| ServeError::invalid(&tls.key_file, format!("no usable private key: {e}")))?;
    let versions: &[&'static rustls::SupportedProtocolVersion] = if tls.min_version == "1.3" {
        &[&rustls::version::TLS13]
    } else {
        &[&rustls::version::TLS13, &rustls::version::TLS12]
    };
    let builder = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .map_err(|e| ServeError::Runtime(format!("TLS versions: {e}")))?;
    let builder = match &tls.client_ca_file {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for cert in certificates(ca)? {
                roots.add(cert).map_err(|e| ServeError::invalid(ca, e))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
                .build()
                .map_err(|e| ServeError::invalid(ca, e))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|e| ServeError::invalid(&tls.cert_file, format!("with key {}: {e}", tls.key_file.display())))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
