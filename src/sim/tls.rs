//! The simulator's TLS: a CA and a `localhost`/`127.0.0.1` server certificate made with rcgen
//! on first start and kept in the state directory, so clients trust one stable `ca.pem`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::error::SimError;
use crate::files::{read_text, write_private, write_public};

/// The CA certificate file clients are told to trust.
pub const CA_FILE: &str = "ca.pem";
const CA_KEY_FILE: &str = "ca.key";
const SERVER_FILE: &str = "server.pem";
const SERVER_KEY_FILE: &str = "server.key";
/// The names the server certificate was made for (one per line).
const SERVER_NAMES_FILE: &str = "server-names.txt";
/// Names the server certificate covers: `localhost` (the first hub and DPS) and the loopback
/// addresses of the simulated hubs, which each have their own so device SDKs with fixed ports
/// (8883, 443) reach every hub.
pub const SERVER_NAMES: [&str; 4] = ["localhost", "127.0.0.1", "127.0.0.2", "::1"];

/// Certificates ready for the listener.
pub struct TlsMaterial {
    /// Path of `ca.pem`.
    pub ca_path: PathBuf,
    /// The rustls server configuration (HTTP/1.1 only).
    pub server_config: Arc<rustls::ServerConfig>,
    /// The same certificate for the MQTT listeners (no ALPN).
    pub mqtt_config: Arc<rustls::ServerConfig>,
}

/// Loads the certificates from `dir`, making new ones if any file is missing.
pub fn load_or_create(dir: &Path) -> Result<TlsMaterial, SimError> {
    let files = [CA_FILE, CA_KEY_FILE, SERVER_FILE, SERVER_KEY_FILE].map(|name| dir.join(name));
    // A certificate made before a host name was added (the second hub's own address) is remade.
    let names_match = std::fs::read_to_string(dir.join(SERVER_NAMES_FILE)).is_ok_and(|names| names == SERVER_NAMES.join("\n"));
    if !files.iter().all(|file| file.exists()) || !names_match {
        generate(dir)?;
    }
    let chain_pem = read_text(&dir.join(SERVER_FILE))?;
    let key_pem = read_text(&dir.join(SERVER_KEY_FILE))?;
    let chain = CertificateDer::pem_slice_iter(chain_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| SimError::Tls(format!("{}: {error}", dir.join(SERVER_FILE).display())))?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
        .map_err(|error| SimError::Tls(format!("{}: {error}", dir.join(SERVER_KEY_FILE).display())))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| SimError::Tls(error.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|error| SimError::Tls(error.to_string()))?;
    // MQTT clients offer no ALPN or their own; only the HTTPS listener names http/1.1.
    let mqtt_config = Arc::new(config.clone());
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsMaterial { ca_path: dir.join(CA_FILE), server_config: Arc::new(config), mqtt_config })
}

fn generate(dir: &Path) -> Result<(), SimError> {
    let tls = |error: rcgen::Error| SimError::Tls(error.to_string());
    let ca_key = KeyPair::generate().map_err(tls)?;
    let mut ca_params = CertificateParams::default();
    ca_params.distinguished_name = name("hubdeck simulator CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    ca_params.not_before = rcgen::date_time_ymd(2024, 1, 1);
    ca_params.not_after = rcgen::date_time_ymd(2049, 12, 31);
    let ca_cert = ca_params.self_signed(&ca_key).map_err(tls)?;

    let server_key = KeyPair::generate().map_err(tls)?;
    let mut server_params = CertificateParams::new(SERVER_NAMES.map(str::to_owned).to_vec()).map_err(tls)?;
    server_params.distinguished_name = name("localhost");
    server_params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    // OpenSSL's strict mode (Python 3.13+) wants an authority key identifier on the leaf.
    server_params.use_authority_key_identifier_extension = true;
    server_params.not_before = rcgen::date_time_ymd(2024, 1, 1);
    server_params.not_after = rcgen::date_time_ymd(2049, 12, 31);
    let issuer = Issuer::new(ca_params, &ca_key);
    let server_cert = server_params.signed_by(&server_key, &issuer).map_err(tls)?;

    write_private(&dir.join(CA_KEY_FILE), ca_key.serialize_pem().as_bytes())?;
    write_private(&dir.join(SERVER_KEY_FILE), server_key.serialize_pem().as_bytes())?;
    write_public(&dir.join(SERVER_FILE), format!("{}{}", server_cert.pem(), ca_cert.pem()).as_bytes())?;
    write_public(&dir.join(SERVER_NAMES_FILE), SERVER_NAMES.join("\n").as_bytes())?;
    // Written last: its presence means the set is complete.
    write_public(&dir.join(CA_FILE), ca_cert.pem().as_bytes())?;
    Ok(())
}

fn name(common_name: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, common_name);
    name.push(DnType::OrganizationName, "hubdeck");
    name
}
