//! TLS, configured as Redis 6+ configures it, with rustls.
//!
//! `tls-port` opens a second listener whose clients speak TLS (the plain `port` stays as it is;
//! `port 0` turns it off). `tls-cert-file` and `tls-key-file` are this node's certificate and key,
//! presented to clients and, with `tls-replication yes`, to the peers it pulls from.
//! `tls-ca-cert-file` holds the certificates of the authorities this node trusts: clients'
//! certificates must chain to one of them (`tls-auth-clients yes`, the default; `optional`
//! checks a certificate only when one is sent; `no` asks for none), and so must the peers'.
//!
//! Peer links are checked as a browser checks a site: the chain must lead to a trusted authority
//! and the certificate must name the host the link dialled (its `replicaof` host, a DNS name or
//! an IP address). Redis checks only the chain; checking the name as well means a certificate
//! stolen from one node cannot impersonate another.
//!
//! This module reads the PEM files once, at start, into rustls configurations. It owns no socket:
//! the listener wraps accepted connections with [`Tls::acceptor`], and the replication links use
//! the client configuration the server hands them.

use std::path::Path;
use std::sync::Arc;

use thiserror::Error;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore, ServerConfig};
use tokio_rustls::TlsAcceptor;

use crate::config::{Config, TlsAuthClients};

/// Why the TLS configuration could not be loaded (the server refuses to start).
#[derive(Debug, Error)]
pub enum TlsError {
    /// A directive that TLS needs is not set.
    #[error("{0} must be set when {1}")]
    Missing(&'static str, &'static str),
    /// A PEM file could not be read or holds nothing usable.
    #[error("Failed to load {what} from {path}: {reason}")]
    File { what: &'static str, path: String, reason: String },
    /// rustls refused the certificates or key (a key that does not match the certificate...).
    #[error("Failed to configure TLS: {0}")]
    Rustls(#[from] rustls::Error),
    /// The client-certificate verifier could not be built from the CA file.
    #[error("Failed to configure TLS client authentication: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
}

/// The loaded TLS configuration: what the TLS port serves with, what peer links dial with.
#[derive(Clone, Default)]
pub struct Tls {
    server: Option<Arc<ServerConfig>>,
    client: Option<Arc<ClientConfig>>,
}

impl Tls {
    /// Reads the files `config` names. With neither `tls-port` nor `tls-replication` set, nothing
    /// is read and nothing is required.
    pub fn load(config: &Config) -> Result<Tls, TlsError> {
        let serve = config.tls_port != 0;
        if !serve && !config.tls_replication {
            return Ok(Tls::default());
        }
        let why = if serve { "tls-port is set" } else { "tls-replication is yes" };
        let cert_file = required(&config.tls_cert_file, "tls-cert-file", why)?;
        let key_file = required(&config.tls_key_file, "tls-key-file", why)?;
        let certs = certificates(cert_file, "the certificate")?;
        let key = PrivateKeyDer::from_pem_file(Path::new(key_file))
            .map_err(|e| file_error("the private key", key_file, e))?;
        let trusted = || -> Result<Arc<RootCertStore>, TlsError> {
            let ca_file = required(&config.tls_ca_cert_file, "tls-ca-cert-file", why)?;
            let mut roots = RootCertStore::empty();
            for cert in certificates(ca_file, "the CA certificates")? {
                roots.add(cert)?;
            }
            Ok(Arc::new(roots))
        };

        let server = if serve {
            let builder = ServerConfig::builder();
            let builder = match config.tls_auth_clients {
                TlsAuthClients::No => builder.with_no_client_auth(),
                TlsAuthClients::Yes => {
                    builder.with_client_cert_verifier(WebPkiClientVerifier::builder(trusted()?).build()?)
                }
                TlsAuthClients::Optional => builder.with_client_cert_verifier(
                    WebPkiClientVerifier::builder(trusted()?).allow_unauthenticated().build()?,
                ),
            };
            Some(Arc::new(builder.with_single_cert(certs.clone(), key.clone_key())?))
        } else {
            None
        };
        let client = if config.tls_replication {
            let builder = ClientConfig::builder().with_root_certificates(trusted()?);
            Some(Arc::new(builder.with_client_auth_cert(certs, key)?))
        } else {
            None
        };
        Ok(Tls { server, client })
    }

    /// What accepts clients on the TLS port, when `tls-port` is set.
    pub fn acceptor(&self) -> Option<TlsAcceptor> {
        self.server.clone().map(TlsAcceptor::from)
    }

    /// What peer links dial with, when `tls-replication` is yes.
    pub fn peer_client(&self) -> Option<Arc<ClientConfig>> {
        self.client.clone()
    }
}

fn required<'a>(value: &'a str, name: &'static str, why: &'static str) -> Result<&'a str, TlsError> {
    if value.is_empty() {
        return Err(TlsError::Missing(name, why));
    }
    Ok(value)
}

fn file_error(what: &'static str, path: &str, reason: impl std::fmt::Display) -> TlsError {
    TlsError::File { what, path: path.to_string(), reason: reason.to_string() }
}

/// Every certificate in a PEM file; an error if there is none.
fn certificates(path: &str, what: &'static str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(Path::new(path))
        .map_err(|e| file_error(what, path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(what, path, e))?;
    if certs.is_empty() {
        return Err(file_error(what, path, "no certificate in the file"));
    }
    Ok(certs)
}
