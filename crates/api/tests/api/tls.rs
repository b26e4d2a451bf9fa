//! HTTPS served directly with rustls when a certificate and key are configured.

use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

use crate::helpers::*;

/// A GET over TLS, trusting only `ca`; returns the raw response.
async fn https_get(port: u16, path: &str, ca: &rcgen::Certificate) -> std::io::Result<String> {
    let mut roots = RootCertStore::empty();
    roots.add(ca.der().clone()).unwrap();
    let config = ClientConfig::builder_with_provider(Arc::new(
        tokio_rustls::rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = TcpStream::connect(("127.0.0.1", port)).await?;
    let mut tls = TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await?;
    tls.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await?;
    let mut response = Vec::new();
    tls.read_to_end(&mut response).await?;
    Ok(String::from_utf8_lossy(&response).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_certificate_and_key_it_serves_https_only() {
    let dir = tempfile::tempdir().unwrap();
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert_file = dir.path().join("cert.pem");
    let key_file = dir.path().join("key.pem");
    std::fs::write(&cert_file, certified.cert.pem()).unwrap();
    std::fs::write(&key_file, certified.signing_key.serialize_pem()).unwrap();
    let app = spawn_app_with(
        Db::Sqlite,
        &[
            ("TLS_CERT_FILE", cert_file.to_str().unwrap()),
            ("TLS_KEY_FILE", key_file.to_str().unwrap()),
        ],
    )
    .await;
    let port: u16 = app.address.rsplit(':').next().unwrap().parse().unwrap();

    let response = https_get(port, "/healthz", &certified.cert).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with(r#"{"status":"ok"}"#), "{response}");
    let response = https_get(port, "/api/me", &certified.cert).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 401"), "{response}");

    // Plain HTTP on the TLS port gets nothing useful.
    assert!(app.client.get(app.url("/healthz")).send().await.is_err());
    // A client that does not trust the certificate refuses the connection.
    let stranger = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    assert!(https_get(port, "/healthz", &stranger.cert).await.is_err());
}

#[test]
fn a_missing_or_mismatched_key_stops_the_start_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let other = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert_file = dir.path().join("cert.pem");
    let key_file = dir.path().join("other-key.pem");
    std::fs::write(&cert_file, certified.cert.pem()).unwrap();
    std::fs::write(&key_file, other.signing_key.serialize_pem()).unwrap();
    let missing = dir.path().join("missing.pem");
    for (cert, key, named) in [
        (
            cert_file.as_path(),
            key_file.as_path(),
            "TLS_CERT_FILE or TLS_KEY_FILE",
        ),
        (missing.as_path(), key_file.as_path(), "TLS_CERT_FILE"),
        (cert_file.as_path(), missing.as_path(), "TLS_KEY_FILE"),
    ] {
        let error = api::tls::server_config(cert, key).unwrap_err();
        assert!(format!("{error:#}").contains(named), "{error:#}");
    }
}
