//! TLS on the public listener (rustls with the `ring` provider): PEM
//! certificate chain and key from files, HTTP/2 and HTTP/1.1 offered by ALPN.

use std::sync::Arc;

use anyhow::Context as _;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls;
use tokio_rustls::TlsAcceptor;

use super::config::TlsConfig;

/// Builds the acceptor from the configured files.
pub fn acceptor(cfg: &TlsConfig) -> anyhow::Result<TlsAcceptor> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cfg.cert_file)
        .and_then(|it| it.collect::<Result<_, _>>())
        .map_err(|e| {
            anyhow::anyhow!(
                "config key `tls.cert_file` ({}): {e}",
                cfg.cert_file.display()
            )
        })?;
    if certs.is_empty() {
        anyhow::bail!(
            "config key `tls.cert_file` ({}): no PEM certificate in the file",
            cfg.cert_file.display()
        );
    }
    // The error of a key file never quotes its content.
    let key = PrivateKeyDer::from_pem_file(&cfg.key_file).map_err(|_| {
        anyhow::anyhow!(
            "config key `tls.key_file` ({}): no PEM private key (PKCS#8, PKCS#1 or SEC1) could be read",
            cfg.key_file.display()
        )
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context(
            "config keys `tls.cert_file` / `tls.key_file`: certificate and key do not fit together",
        )?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
