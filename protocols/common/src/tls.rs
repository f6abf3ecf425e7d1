//! Loading a PEM certificate and key into a rustls server configuration, reloading them, and
//! requiring client certificates.
//!
//! A listener's configuration is built once at start-up and shared (`Arc`) by every connection.
//! Its certificate comes from a [`ReloadableCert`], asked afresh at every handshake, so the
//! gateway can swap the chain and key on SIGHUP without touching open connections. With a
//! client CA every client must present a certificate signed by it; the verified leaf's subject
//! ([`certificate_subject`]) is what access policies match with `cert_subject`. The ring crypto
//! provider is named explicitly, so no process-wide default provider has to be installed first.

use std::fmt;
use std::fs::File;
use std::io::{self, BufReader};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig};
use tokio_rustls::TlsAcceptor;

/// Why a TLS configuration could not be loaded. Every case names the file involved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The file could not be opened or read.
    #[error("cannot read TLS {what} file {}", path.display())]
    Read {
        /// `"certificate"` or `"private key"`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The file contains a PEM section that could not be decoded (bad base64, missing END line).
    #[error("malformed PEM in TLS {what} file {}", path.display())]
    Pem {
        /// `"certificate"` or `"private key"`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The decoding error.
        #[source]
        source: io::Error,
    },
    /// The certificate file holds no `CERTIFICATE` section.
    #[error(
        "TLS certificate file {} contains no PEM certificate (expected a \"-----BEGIN CERTIFICATE-----\" section)",
        path.display()
    )]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// The key file holds no PKCS#8, PKCS#1 (RSA) or SEC1 (EC) private key.
    #[error(
        "TLS private key file {} contains no PEM private key (expected PKCS#8 \"PRIVATE KEY\", \"RSA PRIVATE KEY\" or \"EC PRIVATE KEY\")",
        path.display()
    )]
    NoPrivateKey {
        /// The file.
        path: PathBuf,
    },
    /// rustls rejected the certificate/key pair (e.g. the key does not match the certificate, or
    /// its algorithm is not supported).
    #[error("TLS certificate {} and private key {} were rejected", cert.display(), key.display())]
    Rejected {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// What rustls said.
        #[source]
        source: rustls::Error,
    },
    /// The client CA file (`--tls-client-ca`) cannot be used.
    #[error("TLS client CA file {}: {reason}", path.display())]
    ClientCa {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

/// Reads a PEM certificate chain (leaf first) and private key and builds a server configuration
/// offering the given ALPN protocols (e.g. `[b"h2", b"http/1.1"]` for HTTPS; none for Kafka).
///
/// The key may be PKCS#8, PKCS#1 (RSA) or SEC1 (EC); the first key in the file is used. Client
/// certificates are not requested. TLS 1.2 and 1.3 are offered with rustls' safe defaults.
/// The certificate cannot be reloaded; the gateway uses [`ReloadableCert`] and
/// [`server_config`] instead.
///
/// Reads the files with blocking I/O: call it at start-up, not on a busy runtime thread.
///
/// # Errors
///
/// A [`TlsError`] naming the file that could not be read or parsed, or the pair rustls refused.
pub fn load_server_config(
    cert_pem: &Path,
    key_pem: &Path,
    alpn: &[&[u8]],
) -> Result<Arc<ServerConfig>, TlsError> {
    server_config(ReloadableCert::load(cert_pem, key_pem)?, None, alpn)
}

/// Builds a server configuration that serves `cert` (whatever it holds at each handshake, so a
/// [`ReloadableCert::reload`] reaches new connections at once) and offers `alpn`.
///
/// With `client_ca` (a PEM file of one or more CA certificates) every client must present a
/// certificate chain that verifies against those CAs, or the handshake fails; the verified
/// leaf's subject is then [`Connection::client_cert_subject`](crate::Connection::client_cert_subject).
///
/// # Errors
///
/// [`TlsError::ClientCa`] when the CA file cannot be read or holds no usable certificate.
pub fn server_config(
    cert: Arc<ReloadableCert>,
    client_ca: Option<&Path>,
    alpn: &[&[u8]],
) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|source| TlsError::Rejected {
            cert: cert.cert_path.clone(),
            key: cert.key_path.clone(),
            source,
        })?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(path) => builder.with_client_cert_verifier(client_verifier(path, provider)?),
    };
    let mut config = builder.with_cert_resolver(cert);
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// A verifier that requires a client certificate chaining to a CA in `path`.
fn client_verifier(
    path: &Path,
    provider: Arc<rustls::crypto::CryptoProvider>,
) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>, TlsError> {
    let invalid = |reason: String| TlsError::ClientCa {
        path: path.to_path_buf(),
        reason,
    };
    let certs = read_certs(path).map_err(|e| invalid(e.to_string()))?;
    let mut roots = RootCertStore::empty();
    for cert in certs {
        roots
            .add(cert)
            .map_err(|e| invalid(format!("not a usable CA certificate: {e}")))?;
    }
    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .map_err(|e| invalid(e.to_string()))
}

/// The certificate chain and key every listener serves, swappable while connections run.
///
/// Each TLS handshake asks [`ResolvesServerCert::resolve`] for the current pair, so
/// [`reload`](Self::reload) affects only handshakes that start after it; established
/// connections keep the session they negotiated.
pub struct ReloadableCert {
    cert_path: PathBuf,
    key_path: PathBuf,
    current: RwLock<Arc<CertifiedKey>>,
}

impl ReloadableCert {
    /// Reads the PEM chain (leaf first) and private key (PKCS#8, PKCS#1 or SEC1).
    ///
    /// Blocking I/O: call it at start-up or from a blocking task.
    ///
    /// # Errors
    ///
    /// A [`TlsError`] naming the file that could not be read or parsed, or the pair rustls
    /// refused (e.g. a key that does not match the certificate).
    pub fn load(cert_pem: &Path, key_pem: &Path) -> Result<Arc<Self>, TlsError> {
        let key = certified_key(cert_pem, key_pem)?;
        Ok(Arc::new(Self {
            cert_path: cert_pem.to_path_buf(),
            key_path: key_pem.to_path_buf(),
            current: RwLock::new(Arc::new(key)),
        }))
    }

    /// Reads the same two files again and serves them to new handshakes. When they fail to
    /// load, the pair in use stays and the error is returned.
    ///
    /// # Errors
    ///
    /// As [`load`](Self::load).
    pub fn reload(&self) -> Result<(), TlsError> {
        let key = certified_key(&self.cert_path, &self.key_path)?;
        *self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(key);
        Ok(())
    }

    fn current(&self) -> Arc<CertifiedKey> {
        Arc::clone(
            &self
                .current
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }
}

impl fmt::Debug for ReloadableCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReloadableCert")
            .field("cert_path", &self.cert_path)
            .field("key_path", &self.key_path)
            .finish_non_exhaustive()
    }
}

impl ResolvesServerCert for ReloadableCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

fn certified_key(cert_pem: &Path, key_pem: &Path) -> Result<CertifiedKey, TlsError> {
    let certs = read_certs(cert_pem)?;
    let key = read_key(key_pem)?;
    let provider = rustls::crypto::ring::default_provider();
    CertifiedKey::from_der(certs, key, &provider).map_err(|source| TlsError::Rejected {
        cert: cert_pem.to_path_buf(),
        key: key_pem.to_path_buf(),
        source,
    })
}

/// The subject of a DER certificate as text: its relative distinguished names in certificate
/// order, each `TYPE=value` with the usual short names (`CN`, `O`, `OU`, `C`, ...), joined by
/// `", "`; e.g. `CN=client-a` or `C=DE, O=Example, CN=client-a`. `None` when the certificate
/// does not parse.
pub fn certificate_subject(der: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    Some(cert.subject().to_string())
}

/// Wraps a server configuration in the acceptor [`Listener::tls`](crate::Listener::tls) takes.
pub fn acceptor(config: Arc<ServerConfig>) -> TlsAcceptor {
    TlsAcceptor::from(config)
}

fn open(path: &Path, what: &'static str) -> Result<BufReader<File>, TlsError> {
    File::open(path)
        .map(BufReader::new)
        .map_err(|source| TlsError::Read {
            what,
            path: path.to_path_buf(),
            source,
        })
}

/// The error rustls-pemfile reports for a file it could not read or decode.
fn pem_error(path: &Path, what: &'static str, source: io::Error) -> TlsError {
    // rustls-pemfile reports decoding problems as `InvalidData`; anything else came from the
    // reader itself (e.g. the path is a directory).
    if source.kind() == io::ErrorKind::InvalidData {
        TlsError::Pem {
            what,
            path: path.to_path_buf(),
            source,
        }
    } else {
        TlsError::Read {
            what,
            path: path.to_path_buf(),
            source,
        }
    }
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    const WHAT: &str = "certificate";
    let mut reader = open(path, WHAT)?;
    let certs = rustls_pemfile::certs(&mut reader)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| pem_error(path, WHAT, source))?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_path_buf(),
        });
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    const WHAT: &str = "private key";
    let mut reader = open(path, WHAT)?;
    rustls_pemfile::private_key(&mut reader)
        .map_err(|source| pem_error(path, WHAT, source))?
        .ok_or_else(|| TlsError::NoPrivateKey {
            path: path.to_path_buf(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    struct Files {
        dir: tempfile::TempDir,
        cert: PathBuf,
        key: PathBuf,
    }

    fn generated() -> Files {
        let dir = tempfile::tempdir().unwrap();
        let rcgen::CertifiedKey { cert, signing_key } =
            rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let cert_path = dir.path().join("cert.pem");
        let key_path = dir.path().join("key.pem");
        std::fs::write(&cert_path, cert.pem()).unwrap();
        std::fs::write(&key_path, signing_key.serialize_pem()).unwrap();
        Files {
            dir,
            cert: cert_path,
            key: key_path,
        }
    }

    #[test]
    fn loads_generated_pair_with_alpn() {
        let files = generated();
        let config = load_server_config(&files.cert, &files.key, &[b"h2", b"http/1.1"]).unwrap();
        assert_eq!(
            config.alpn_protocols,
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        );
        let config = load_server_config(&files.cert, &files.key, &[]).unwrap();
        assert!(config.alpn_protocols.is_empty());
    }

    #[test]
    fn missing_cert_file_is_named() {
        let files = generated();
        let missing = files.dir.path().join("nope.pem");
        let err = load_server_config(&missing, &files.key, &[]).unwrap_err();
        assert!(
            matches!(
                err,
                TlsError::Read {
                    what: "certificate",
                    ..
                }
            ),
            "{err:?}"
        );
        let message = err.to_string();
        assert!(message.contains("certificate"), "{message}");
        assert!(
            message.contains(&missing.display().to_string()),
            "{message}"
        );
        let io = err.source().unwrap().downcast_ref::<io::Error>().unwrap();
        assert_eq!(io.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn missing_key_file_is_named() {
        let files = generated();
        let missing = files.dir.path().join("missing-key.pem");
        let err = load_server_config(&files.cert, &missing, &[]).unwrap_err();
        assert!(
            matches!(
                err,
                TlsError::Read {
                    what: "private key",
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("missing-key.pem"), "{err}");
    }

    #[test]
    fn garbage_cert_file_has_no_certificate() {
        let files = generated();
        let garbage = files.dir.path().join("garbage.pem");
        std::fs::write(&garbage, "this is not PEM at all\n").unwrap();
        let err = load_server_config(&garbage, &files.key, &[]).unwrap_err();
        assert!(matches!(err, TlsError::NoCertificate { .. }), "{err:?}");
        let message = err.to_string();
        assert!(message.contains("garbage.pem"), "{message}");
        assert!(message.contains("no PEM certificate"), "{message}");
    }

    #[test]
    fn key_in_place_of_cert_has_no_certificate() {
        let files = generated();
        let err = load_server_config(&files.key, &files.key, &[]).unwrap_err();
        assert!(matches!(err, TlsError::NoCertificate { .. }), "{err:?}");
    }

    #[test]
    fn cert_in_place_of_key_has_no_private_key() {
        let files = generated();
        let err = load_server_config(&files.cert, &files.cert, &[]).unwrap_err();
        assert!(matches!(err, TlsError::NoPrivateKey { .. }), "{err:?}");
        let message = err.to_string();
        assert!(message.contains("cert.pem"), "{message}");
        assert!(message.contains("no PEM private key"), "{message}");
    }

    #[test]
    fn corrupt_pem_section_is_reported() {
        let files = generated();
        let corrupt = files.dir.path().join("corrupt.pem");
        std::fs::write(
            &corrupt,
            "-----BEGIN CERTIFICATE-----\n!!!! not base64 !!!!\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let err = load_server_config(&corrupt, &files.key, &[]).unwrap_err();
        assert!(
            matches!(
                err,
                TlsError::Pem {
                    what: "certificate",
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("corrupt.pem"), "{err}");
    }

    #[test]
    fn key_of_another_certificate_is_rejected() {
        let files = generated();
        let other = generated();
        let err = load_server_config(&files.cert, &other.key, &[]).unwrap_err();
        assert!(matches!(err, TlsError::Rejected { .. }), "{err:?}");
    }
}
