//! Helpers shared by the server's integration tests: a throwaway PKI, an HTTPS client with a
//! client certificate, admission review bodies, plain-HTTP GETs of the health port.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};
use serde_json::{Value, json};

pub struct Pki {
    pub ca_pem: String,
    pub client_cert: String,
    pub client_key: String,
    pub sa_key: String,
}

pub fn write_pki(dir: &Path) -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "kguard-test-ca");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let leaf = |cn: &str, sans: Vec<String>, server: bool| {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(sans).unwrap();
        p.distinguished_name.push(DnType::CommonName, cn);
        p.extended_key_usages =
            vec![if server { ExtendedKeyUsagePurpose::ServerAuth } else { ExtendedKeyUsagePurpose::ClientAuth }];
        let cert = p.signed_by(&key, &issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    };
    let (srv, srv_key) = leaf("kguard", vec!["localhost".into(), "127.0.0.1".into()], true);
    let (client, client_key) = leaf("kube-apiserver", vec![], false);
    let sa_key = KeyPair::generate().unwrap();
    std::fs::write(dir.join("ca.crt"), ca_cert.pem()).unwrap();
    std::fs::write(dir.join("tls.crt"), &srv).unwrap();
    std::fs::write(dir.join("tls.key"), &srv_key).unwrap();
    std::fs::write(dir.join("sa.pub"), sa_key.public_key_pem()).unwrap();
    Pki { ca_pem: ca_cert.pem(), client_cert: client, client_key, sa_key: sa_key.serialize_pem() }
}

pub struct Client {
    pub connector: tokio_rustls::TlsConnector,
}

impl Client {
    pub fn new(pki: &Pki, with_cert: bool) -> Self {
        use rustls_pki_types::pem::PemObject as _;
        let mut roots = rustls::RootCertStore::empty();
        for c in rustls_pki_types::CertificateDer::pem_slice_iter(pki.ca_pem.as_bytes()) {
            roots.add(c.unwrap()).unwrap();
        }
        let builder = rustls::ClientConfig::builder_with_provider(kguard_server::tls::provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
        let config = if with_cert {
            let certs = rustls_pki_types::CertificateDer::pem_slice_iter(pki.client_cert.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
            let key = rustls_pki_types::PrivateKeyDer::from_pem_slice(pki.client_key.as_bytes()).unwrap();
            builder.with_client_auth_cert(certs, key).unwrap()
        } else {
            builder.with_no_client_auth()
        };
        Self { connector: tokio_rustls::TlsConnector::from(Arc::new(config)) }
    }

    /// A client offering these ALPN protocols (`h2` for HTTP/2).
    pub fn with_alpn(pki: &Pki, protocols: &[&[u8]]) -> Self {
        let base = Self::new(pki, true);
        let mut config = rustls::ClientConfig::clone(base.connector.config());
        config.alpn_protocols = protocols.iter().map(|p| p.to_vec()).collect();
        Self { connector: tokio_rustls::TlsConnector::from(Arc::new(config)) }
    }

    /// A TLS connection from a chosen loopback address (`127.0.0.2`, ...): another client for
    /// the per-client limits.
    pub async fn connect_from(
        &self,
        local: std::net::IpAddr,
        addr: std::net::SocketAddr,
    ) -> Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>, String> {
        let tcp = tcp_from(local, addr).await.map_err(|e| e.to_string())?;
        let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
        self.connector.connect(name, tcp).await.map_err(|e| e.to_string())
    }

    pub async fn post(&self, addr: std::net::SocketAddr, path: &str, body: Vec<u8>) -> Result<(u16, Value), String> {
        let tcp = tokio::net::TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
        let tls = self.connector.connect(name, tcp).await.map_err(|e| e.to_string())?;
        let (mut send, conn) =
            hyper::client::conn::http1::handshake(TokioIo::new(tls)).await.map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        let req = hyper::Request::post(path)
            .header("content-type", "application/json")
            .header("host", "localhost")
            .body(Full::new(Bytes::from(body)))
            .unwrap();
        let resp = send.send_request(req).await.map_err(|e| e.to_string())?;
        let code = resp.status().as_u16();
        let bytes = resp.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()));
        Ok((code, value))
    }
}

/// A TCP connection from a chosen loopback address.
pub async fn tcp_from(local: std::net::IpAddr, addr: std::net::SocketAddr) -> std::io::Result<tokio::net::TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(std::net::SocketAddr::new(local, 0))?;
    socket.connect(addr).await
}

pub fn review(resource: &str, kind: &str, op: &str, object: Value, user: &str) -> Vec<u8> {
    let ns = object.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("").to_owned();
    let name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("").to_owned();
    serde_json::to_vec(&json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": "uid-7", "kind": {"group": "", "version": "v1", "kind": kind},
        "resource": {"group": "", "version": "v1", "resource": resource}, "name": name, "namespace": ns,
        "operation": op, "userInfo": {"username": user, "groups": ["system:authenticated"]},
        "object": object, "dryRun": false}}))
    .unwrap()
}

pub fn pod(name: &str, ns: &str, image: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
           "spec": {"containers": [{"name": "app", "image": image}]}})
}

pub async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await.unwrap();
    tokio::spawn(conn);
    let req = hyper::Request::get(path).header("host", "localhost").body(Full::new(Bytes::new())).unwrap();
    let resp = send.send_request(req).await.unwrap();
    String::from_utf8(resp.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
}

/// The status code and body of a GET on the health port.
pub async fn http_get_status(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await.unwrap();
    tokio::spawn(conn);
    let req = hyper::Request::get(path).header("host", "localhost").body(Full::new(Bytes::new())).unwrap();
    let resp = send.send_request(req).await.unwrap();
    let code = resp.status().as_u16();
    (code, String::from_utf8(resp.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap())
}

/// The start of every test's kguard.yaml: loopback ports chosen by the OS, quick reloads, mutual
/// TLS with the files of [`write_pki`].
pub const CONFIG_HEAD: &str = "apiVersion: kguard.io/v1alpha1
kind: ServerConfig
listen: 127.0.0.1:0
healthListen: 127.0.0.1:0
reloadIntervalSeconds: 1
shutdownDelaySeconds: 0
shutdownGraceSeconds: 5
tls: {certFile: tls.crt, keyFile: tls.key, clientCAFile: ca.crt}
";
