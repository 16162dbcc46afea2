//! Package the built edge assets and a key into the deployable zip (what
//! `scripts/build-edge` runs; the rotator calls the same library function).
//!
//! ```text
//! edgeseal-edge-package --assets DIR --out ZIP --key-file SECRET.json [--keyid ID]
//!                       [--label LABEL] [--max-age SECS] [--profiles PROFILES]
//! ```
//!
//! `--key-file` holds a Secrets Manager `SecretString` in edgeseal's format
//! (`{"alg":"hmac-sha256","key":"<base64>"}`). When the file does not exist, a fresh
//! random 256-bit development key is written there first (mode 0600), so repeated builds
//! on one machine produce the same zip and local tests can verify what it signs.

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    match cli::run(std::env::args().skip(1)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("edgeseal-edge-package: {message}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod cli {
    use std::io::Write as _;
    use std::path::{Path, PathBuf};

    use edgeseal::{DEFAULT_LABEL, KeyId, SecretValue, SigningKey, Verifier, edgeseal_secret_json};
    use edgeseal_edge_signer::{EdgeAssets, EdgeConfig, OriginProfiles, package_zip};

    struct Args {
        assets: PathBuf,
        out: PathBuf,
        key_file: PathBuf,
        keyid: String,
        label: String,
        max_age_secs: u64,
        profiles: OriginProfiles,
    }

    const USAGE: &str = "usage: edgeseal-edge-package --assets DIR --out ZIP --key-file SECRET.json [--keyid ID] [--label LABEL] [--max-age SECS] [--profiles PROFILES (as EDGE_ORIGIN_PROFILES: raw, or host=raw,*=apigateway)]";

    fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
        let (mut assets, mut out, mut key_file) = (None, None, None);
        let mut keyid = "edgeseal-dev".to_owned();
        let mut label = DEFAULT_LABEL.to_owned();
        let mut max_age_secs = Verifier::DEFAULT_MAX_AGE_SECS;
        let mut profiles = OriginProfiles::default();
        while let Some(flag) = args.next() {
            let mut value = || {
                args.next()
                    .ok_or_else(|| format!("{flag} needs a value; {USAGE}"))
            };
            match flag.as_str() {
                "--assets" => assets = Some(PathBuf::from(value()?)),
                "--out" => out = Some(PathBuf::from(value()?)),
                "--key-file" => key_file = Some(PathBuf::from(value()?)),
                "--keyid" => keyid = value()?,
                "--label" => label = value()?,
                "--max-age" => {
                    max_age_secs = value()?
                        .parse()
                        .map_err(|_| "--max-age must be a whole number of seconds".to_owned())?;
                }
                "--profiles" => {
                    profiles = OriginProfiles::parse(&value()?).map_err(|e| e.to_string())?;
                }
                _ => return Err(format!("unknown argument {flag:?}; {USAGE}")),
            }
        }
        Ok(Args {
            assets: assets.ok_or(USAGE)?,
            out: out.ok_or(USAGE)?,
            key_file: key_file.ok_or(USAGE)?,
            keyid,
            label,
            max_age_secs,
            profiles,
        })
    }

    /// Read the key file, or create it with a fresh random key.
    fn load_or_create_key(path: &Path) -> Result<SigningKey, String> {
        if !path.exists() {
            let key =
                SigningKey::generate().map_err(|e| format!("no randomness from the OS: {e}"))?;
            write_private(path, edgeseal_secret_json(&key).as_bytes())?;
            eprintln!("generated a development key in {}", path.display());
        }
        let text = zeroize::Zeroizing::new(
            std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?,
        );
        match SecretValue::parse(&text, None) {
            Ok(SecretValue::Hmac(key)) => Ok(key),
            Ok(_) => Err(format!(
                "{} holds a static header, not an edgeseal key",
                path.display()
            )),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }

    fn write_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
        use std::os::unix::fs::OpenOptionsExt as _;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .and_then(|mut f| f.write_all(bytes))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    }

    pub fn run(args: impl Iterator<Item = String>) -> Result<(), String> {
        let args = parse(args)?;
        let config = EdgeConfig {
            label: args.label,
            keyid: KeyId::new(args.keyid).map_err(|e| e.to_string())?,
            key: load_or_create_key(&args.key_file)?,
            max_age_secs: args.max_age_secs,
            profiles: args.profiles,
        };
        let assets = EdgeAssets::from_dir(&args.assets).map_err(|e| error_chain(&e))?;
        let zip = package_zip(&assets, &config).map_err(|e| error_chain(&e))?;
        std::fs::write(&args.out, &zip)
            .map_err(|e| format!("cannot write {}: {e}", args.out.display()))?;
        eprintln!(
            "wrote {} ({} bytes; keyid {})",
            args.out.display(),
            zip.len(),
            config.keyid
        );
        Ok(())
    }

    fn error_chain(e: &dyn std::error::Error) -> String {
        let mut text = e.to_string();
        let mut source = e.source();
        while let Some(s) = source {
            text.push_str(": ");
            text.push_str(&s.to_string());
            source = s.source();
        }
        text
    }
}
