//! TLS for the federation listener: the operator's certificate, or a self-signed one generated on first start.
//!
//! Matrix peers reach federation over HTTPS only, so the federation listener always has a certificate. With
//! `federation.tls_certificate`/`tls_private_key` empty, a self-signed pair is generated under `data_dir/tls/`
//! and reused on later starts; peers must then run with certificate verification off (test and private
//! federations). Real deployments configure a certificate valid for the server name.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::config::Config;
use crate::error::Error;

/// File name of the generated certificate inside `data_dir/tls/`.
pub const GENERATED_CERTIFICATE_FILE: &str = "federation.crt";
/// File name of the generated private key inside `data_dir/tls/`.
pub const GENERATED_PRIVATE_KEY_FILE: &str = "federation.key";

/// Where the federation listener's certificate and key are read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificatePaths {
    /// PEM certificate chain.
    pub certificate: PathBuf,
    /// PEM private key.
    pub private_key: PathBuf,
}

/// The configured certificate paths, or the generated pair's paths under `data_dir/tls/`.
pub fn certificate_paths(config: &Config) -> CertificatePaths {
    if config.has_configured_tls_certificate() {
        CertificatePaths {
            certificate: config.federation.tls_certificate.clone(),
            private_key: config.federation.tls_private_key.clone(),
        }
    } else {
        let dir = config.generated_tls_dir();
        CertificatePaths {
            certificate: dir.join(GENERATED_CERTIFICATE_FILE),
            private_key: dir.join(GENERATED_PRIVATE_KEY_FILE),
        }
    }
}

/// Builds the federation listener's TLS acceptor, generating a self-signed certificate first when none is
/// configured and none was generated before.
pub fn federation_tls_acceptor(config: &Config) -> Result<TlsAcceptor, Error> {
    let paths = certificate_paths(config);
    if !config.has_configured_tls_certificate() {
        ensure_self_signed_certificate(&paths, &self_signed_subject_names(&config.server_name))?;
    }
    acceptor_from_files(&paths)
}

/// Checks that the operator's certificate and key load and match, without starting anything; a no-op when
/// the certificate is generated. Used by `hearth config check`.
pub fn check_configured_certificate(config: &Config) -> Result<(), Error> {
    if config.federation.enabled && config.has_configured_tls_certificate() {
        acceptor_from_files(&certificate_paths(config))?;
    }
    Ok(())
}

fn acceptor_from_files(paths: &CertificatePaths) -> Result<TlsAcceptor, Error> {
    let certificates = read_certificates(&paths.certificate)?;
    let private_key = read_private_key(&paths.private_key)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server_config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| Error::Tls(format!("no usable TLS protocol versions: {error}")))?
        .with_no_client_auth()
        .with_single_cert(certificates, private_key)
        .map_err(|error| {
            Error::Tls(format!(
                "{} and {} do not form a usable certificate/key pair: {error}",
                paths.certificate.display(),
                paths.private_key.display()
            ))
        })?;
    server_config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(server_config)))
}

/// Names the generated certificate is valid for: the server name's host, `localhost` and `127.0.0.1`.
pub fn self_signed_subject_names(server_name: &str) -> Vec<String> {
    let host = hearth_types::ServerName::parse(server_name)
        .map(|name| {
            name.host()
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned()
        })
        .unwrap_or_else(|_| server_name.to_owned());
    let mut names = vec![host];
    for extra in ["localhost", "127.0.0.1"] {
        if !names.iter().any(|name| name == extra) {
            names.push(extra.to_owned());
        }
    }
    names
}

/// Generates a self-signed certificate for `subject_names` at `paths` unless both files already exist.
///
/// Exactly one of the two files existing is an error rather than a silent overwrite: it means someone touched
/// the directory, and a regenerated certificate would change what pinned peers see.
fn ensure_self_signed_certificate(
    paths: &CertificatePaths,
    subject_names: &[String],
) -> Result<(), Error> {
    match (paths.certificate.exists(), paths.private_key.exists()) {
        (true, true) => return Ok(()),
        (false, false) => {}
        (true, false) | (false, true) => {
            return Err(Error::Tls(format!(
                "only one of {} and {} exists; delete it to generate a new self-signed pair",
                paths.certificate.display(),
                paths.private_key.display()
            )));
        }
    }
    if let Some(dir) = paths
        .certificate
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir).map_err(|source| Error::CreateDir {
            path: dir.to_owned(),
            source,
        })?;
    }
    let generated =
        rcgen::generate_simple_self_signed(subject_names.to_vec()).map_err(|error| {
            Error::Tls(format!(
                "cannot generate a self-signed certificate: {error}"
            ))
        })?;
    write_new_file(
        &paths.private_key,
        generated.key_pair.serialize_pem().as_bytes(),
        true,
    )?;
    write_new_file(&paths.certificate, generated.cert.pem().as_bytes(), false)?;
    tracing::info!(
        certificate = %paths.certificate.display(),
        names = ?subject_names,
        "generated a self-signed federation TLS certificate; peers must disable certificate verification"
    );
    Ok(())
}

/// Writes `contents` to a temporary file beside `path` and renames it into place, so a crash never leaves a
/// half-written file; `private` restricts it to the owner.
fn write_new_file(path: &Path, contents: &[u8], private: bool) -> Result<(), Error> {
    use std::io::Write as _;

    let temporary = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let result = options
        .open(&temporary)
        .and_then(|mut file| {
            file.write_all(contents)?;
            file.sync_all()
        })
        .and_then(|()| std::fs::rename(&temporary, path));
    result.map_err(|error| {
        let _ = std::fs::remove_file(&temporary);
        Error::Tls(format!("cannot write {}: {error}", path.display()))
    })
}

fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    let pem = std::fs::read(path).map_err(|error| {
        Error::Tls(format!(
            "cannot read certificate {}: {error}",
            path.display()
        ))
    })?;
    let certificates = rustls_pemfile::certs(&mut pem.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| {
            Error::Tls(format!(
                "certificate {} is not valid PEM: {error}",
                path.display()
            ))
        })?;
    if certificates.is_empty() {
        return Err(Error::Tls(format!(
            "certificate {} contains no PEM CERTIFICATE block",
            path.display()
        )));
    }
    Ok(certificates)
}

fn read_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, Error> {
    let pem = std::fs::read(path).map_err(|error| {
        Error::Tls(format!(
            "cannot read private key {}: {error}",
            path.display()
        ))
    })?;
    rustls_pemfile::private_key(&mut pem.as_slice())
        .map_err(|error| {
            Error::Tls(format!(
                "private key {} is not valid PEM: {error}",
                path.display()
            ))
        })?
        .ok_or_else(|| {
            Error::Tls(format!(
                "private key {} contains no PEM private key block",
                path.display()
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_in(dir: &Path) -> Config {
        Config {
            data_dir: dir.to_owned(),
            ..Config::default()
        }
    }

    #[test]
    fn subject_names_cover_the_server_host_and_loopback() {
        assert_eq!(
            self_signed_subject_names("example.org:8448"),
            vec!["example.org", "localhost", "127.0.0.1"]
        );
        assert_eq!(
            self_signed_subject_names("localhost"),
            vec!["localhost", "127.0.0.1"]
        );
        assert_eq!(
            self_signed_subject_names("[::1]:8448"),
            vec!["::1", "localhost", "127.0.0.1"]
        );
    }

    #[test]
    fn generates_a_certificate_once_and_reuses_it() {
        let dir = tempfile::tempdir().unwrap();
        let config = config_in(dir.path());
        federation_tls_acceptor(&config).unwrap();
        let paths = certificate_paths(&config);
        let first = std::fs::read(&paths.certificate).unwrap();
        federation_tls_acceptor(&config).unwrap();
        assert_eq!(std::fs::read(&paths.certificate).unwrap(), first);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&paths.private_key)
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(
                mode & 0o077,
                0,
                "private key must not be readable by others"
            );
        }
    }

    #[test]
    fn refuses_to_overwrite_a_lone_certificate_file() {
        let dir = tempfile::tempdir().unwrap();
        let config = config_in(dir.path());
        let paths = certificate_paths(&config);
        std::fs::create_dir_all(paths.certificate.parent().unwrap()).unwrap();
        std::fs::write(&paths.certificate, "x").unwrap();
        let error = federation_tls_acceptor(&config).err().unwrap().to_string();
        assert!(error.contains("only one of"), "{error}");
    }

    #[test]
    fn configured_files_that_are_not_pem_give_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = config_in(dir.path());
        config.federation.tls_certificate = dir.path().join("c.pem");
        config.federation.tls_private_key = dir.path().join("k.pem");
        std::fs::write(&config.federation.tls_certificate, "hello").unwrap();
        std::fs::write(&config.federation.tls_private_key, "hello").unwrap();
        let error = federation_tls_acceptor(&config).err().unwrap().to_string();
        assert!(
            error.contains("no PEM CERTIFICATE block") && error.contains("c.pem"),
            "{error}"
        );
    }
}
