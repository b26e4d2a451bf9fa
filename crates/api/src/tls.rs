//! HTTPS served directly (rustls, ring provider) when `TLS_CERT_FILE` and `TLS_KEY_FILE`
//! are set; behind a TLS-terminating proxy leave both unset.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, anyhow};
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The server's TLS configuration from a PEM certificate chain (leaf first) and a PEM
/// private key (PKCS#8, PKCS#1 or SEC1). TLS 1.2 and 1.3 with rustls' safe defaults;
/// HTTP/1.1 offered by ALPN (RFC 7301).
pub fn server_config(cert_file: &Path, key_file: &Path) -> anyhow::Result<ServerConfig> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_file)
        .with_context(|| format!("invalid TLS_CERT_FILE: cannot read {}", cert_file.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| {
            format!(
                "invalid TLS_CERT_FILE: {} is not PEM certificates",
                cert_file.display()
            )
        })?;
    if certs.is_empty() {
        return Err(anyhow!(
            "invalid TLS_CERT_FILE: {} holds no certificate",
            cert_file.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key_file).with_context(|| {
        format!(
            "invalid TLS_KEY_FILE: cannot read a PEM private key from {}",
            key_file.display()
        )
    })?;
    let mut config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .context(
                "invalid TLS_CERT_FILE or TLS_KEY_FILE: the key does not fit the certificate",
            )?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}
