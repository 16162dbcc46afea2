//! Packaging the deployable Lambda@Edge zip (native only: the build machine and the
//! rotator do this, never the edge).
//!
//! The zip holds three files at its root, in this order:
//!
//! | file | what |
//! |---|---|
//! | `index.mjs` | the Node.js handler (`index.handler`, runtime `nodejs22.x`) |
//! | `signer.wasm` | this crate compiled to `wasm32-unknown-unknown` |
//! | `config.json` | label, key id, key, max age ([`EdgeConfig`]) |
//!
//! The same assets and config always give the same bytes: fixed order, fixed timestamps
//! (1980-01-01 00:00, the zip epoch), fixed permissions (`0644`), fixed compression
//! level. The rotator relies on that to recognise a version it already published.

use std::io::{Cursor, Write as _};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

pub use crate::config::{CONFIG_FILE, EdgeConfig, EdgeConfigError};

/// The handler's file name inside the zip (Lambda handler `index.handler`).
pub const HANDLER_FILE: &str = "index.mjs";
/// The WASM module's file name inside the zip, beside the handler.
pub const WASM_FILE: &str = "signer.wasm";
/// The Lambda handler setting that runs [`HANDLER_FILE`]'s `handler` export.
pub const LAMBDA_HANDLER: &str = "index.handler";
/// The Lambda runtime the handler is written for.
pub const LAMBDA_RUNTIME: &str = "nodejs22.x";

/// The built, key-less parts of the edge function: the handler and the WASM module.
///
/// Built once by `scripts/build-edge` into `target/edge-assets/`; the rotator embeds them
/// and adds a fresh [`EdgeConfig`] for every key.
#[derive(Clone, PartialEq, Eq)]
pub struct EdgeAssets {
    handler_js: Vec<u8>,
    wasm: Vec<u8>,
}

impl std::fmt::Debug for EdgeAssets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EdgeAssets")
            .field("handler_js_bytes", &self.handler_js.len())
            .field("wasm_bytes", &self.wasm.len())
            .finish()
    }
}

/// Why the zip could not be built. Never carries key material.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    /// An asset file could not be read.
    #[error("cannot read edge asset {path}")]
    ReadAsset {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The handler source is empty.
    #[error("edge handler ({HANDLER_FILE}) is empty")]
    EmptyHandler,
    /// The WASM bytes do not start with the WebAssembly magic number and version 1.
    #[error("edge WASM module ({WASM_FILE}) is not a WebAssembly binary")]
    NotWasm,
    /// The configuration cannot be written (invalid label or max age).
    #[error("edge config is invalid")]
    Config(#[source] EdgeConfigError),
    /// The zip writer failed.
    #[error("writing the edge zip failed")]
    Zip(#[source] zip::result::ZipError),
}

/// `\0asm` followed by binary format version 1.
const WASM_HEADER: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];

impl EdgeAssets {
    /// Assets from the handler source and the WASM module bytes (checked when packaged).
    pub fn new(handler_js: Vec<u8>, wasm: Vec<u8>) -> Self {
        Self { handler_js, wasm }
    }

    /// Read the built assets directory (`index.mjs` and `signer.wasm`).
    pub fn from_dir(dir: &Path) -> Result<Self, PackageError> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read(&path).map_err(|source| PackageError::ReadAsset { path, source })
        };
        let assets = Self::new(read(HANDLER_FILE)?, read(WASM_FILE)?);
        assets.check()?;
        Ok(assets)
    }

    /// The handler source.
    pub fn handler_js(&self) -> &[u8] {
        &self.handler_js
    }

    /// The WASM module.
    pub fn wasm(&self) -> &[u8] {
        &self.wasm
    }

    fn check(&self) -> Result<(), PackageError> {
        if self.handler_js.is_empty() {
            return Err(PackageError::EmptyHandler);
        }
        if !self.wasm.starts_with(&WASM_HEADER) {
            return Err(PackageError::NotWasm);
        }
        Ok(())
    }
}

/// Build the deployable zip: the assets plus `config.json` for `config`.
///
/// Deterministic: the same inputs give the same bytes. `config.json` is stored
/// uncompressed so that the key passes only through zeroized buffers and the output
/// (which is sized up front so it never reallocates and leaves stray copies); the
/// returned bytes do contain the key, since that is what is deployed.
pub fn package_zip(assets: &EdgeAssets, config: &EdgeConfig) -> Result<Vec<u8>, PackageError> {
    assets.check()?;
    let config_json: Zeroizing<Vec<u8>> = config.to_json().map_err(PackageError::Config)?;

    // Room for every file stored uncompressed plus generous per-entry overhead, so the
    // buffer holding the key is never copied by a reallocation.
    let capacity = assets.handler_js.len() + assets.wasm.len() + config_json.len() + 4096;
    let mut zip = ZipWriter::new(Cursor::new(Vec::with_capacity(capacity)));

    let base = SimpleFileOptions::default()
        .last_modified_time(DateTime::default())
        .unix_permissions(0o644);
    let deflated = base
        .compression_method(CompressionMethod::Deflated)
        .compression_level(Some(9));
    let stored = base.compression_method(CompressionMethod::Stored);

    let mut add = |name: &str, options: SimpleFileOptions, bytes: &[u8]| {
        zip.start_file(name, options).map_err(PackageError::Zip)?;
        zip.write_all(bytes)
            .map_err(|e| PackageError::Zip(zip::result::ZipError::Io(e)))
    };
    add(HANDLER_FILE, deflated, &assets.handler_js)?;
    add(WASM_FILE, deflated, &assets.wasm)?;
    add(CONFIG_FILE, stored, &config_json)?;
    let cursor = zip.finish().map_err(PackageError::Zip)?;
    Ok(cursor.into_inner())
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    use edgeseal::{KeyId, SigningKey};

    use super::*;

    fn assets() -> EdgeAssets {
        let mut wasm = WASM_HEADER.to_vec();
        wasm.extend_from_slice(&[0; 64]);
        EdgeAssets::new(b"export const handler = async (e) => e;\n".to_vec(), wasm)
    }

    fn config(key_byte: u8) -> EdgeConfig {
        EdgeConfig {
            label: "edgeseal".into(),
            keyid: KeyId::new("v1").unwrap(),
            key: SigningKey::from_bytes(&[key_byte; 32]).unwrap(),
            max_age_secs: 300,
            profiles: Default::default(),
        }
    }

    #[test]
    fn same_inputs_same_bytes_and_key_changes_them() {
        let a = package_zip(&assets(), &config(1)).unwrap();
        let b = package_zip(&assets(), &config(1)).unwrap();
        assert_eq!(a, b);
        let c = package_zip(&assets(), &config(2)).unwrap();
        assert_ne!(a, c);
    }

    #[test]
    fn zip_holds_the_three_files_in_order_with_fixed_metadata() {
        let bytes = package_zip(&assets(), &config(1)).unwrap();
        let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        let names: Vec<_> = archive.file_names().map(str::to_owned).collect();
        assert_eq!(names, [HANDLER_FILE, WASM_FILE, CONFIG_FILE]);
        for i in 0..archive.len() {
            let mut file = archive.by_index(i).unwrap();
            assert_eq!(file.unix_mode().map(|m| m & 0o777), Some(0o644));
            assert_eq!(file.last_modified(), Some(DateTime::default()));
            let mut content = Vec::new();
            file.read_to_end(&mut content).unwrap();
            match file.name() {
                HANDLER_FILE => assert_eq!(content, assets().handler_js),
                WASM_FILE => assert_eq!(content, assets().wasm),
                _ => assert_eq!(EdgeConfig::from_json(&content).unwrap(), config(1)),
            }
        }
    }

    #[test]
    fn bad_assets_are_refused() {
        let no_wasm = EdgeAssets::new(b"x".to_vec(), b"not wasm".to_vec());
        assert!(matches!(
            package_zip(&no_wasm, &config(1)),
            Err(PackageError::NotWasm)
        ));
        let no_js = EdgeAssets::new(Vec::new(), assets().wasm);
        assert!(matches!(
            package_zip(&no_js, &config(1)),
            Err(PackageError::EmptyHandler)
        ));
        let missing = EdgeAssets::from_dir(Path::new("/nonexistent/edge-assets"));
        assert!(matches!(missing, Err(PackageError::ReadAsset { .. })));
    }

    #[test]
    fn invalid_config_is_refused_without_showing_the_key() {
        let mut c = config(7);
        c.max_age_secs = u64::MAX;
        let err = package_zip(&assets(), &c).unwrap_err();
        assert!(matches!(
            err,
            PackageError::Config(EdgeConfigError::InvalidMaxAge)
        ));
        assert!(!format!("{err} {err:?}").contains(c.key.to_base64().as_str()));
    }
}
