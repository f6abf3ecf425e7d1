//! Loading a PEM certificate and key into a rustls server configuration.
//!
//! The configuration is built once at start-up and shared (`Arc`) by every connection of a
//! listener. It names the ring crypto provider explicitly, so no process-wide default provider
//! has to be installed first.

use std::fs::File;
use std::io::{self, BufReader};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
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
}

/// Reads a PEM certificate chain (leaf first) and private key and builds a server configuration
/// offering the given ALPN protocols (e.g. `[b"h2", b"http/1.1"]` for HTTPS; none for Kafka).
///
/// The key may be PKCS#8, PKCS#1 (RSA) or SEC1 (EC); the first key in the file is used. Client
/// certificates are not requested. TLS 1.2 and 1.3 are offered with rustls' safe defaults.
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
    let certs = read_certs(cert_pem)?;
    let key = read_key(key_pem)?;
    let rejected = |source| TlsError::Rejected {
        cert: cert_pem.to_path_buf(),
        key: key_pem.to_path_buf(),
        source,
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(rejected)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(rejected)?;
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
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
