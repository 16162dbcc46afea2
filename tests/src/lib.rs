//! Cross-crate integration and end-to-end tests for edgeseal (see `tests/tests/`), and
//! what they share: running the real Lambda@Edge handler under `node`.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use edgeseal_edge_signer::package::{HANDLER_FILE, WASM_FILE};
use edgeseal_edge_signer::{CONFIG_FILE, EdgeConfig};
use serde_json::Value;

/// Why the edge handler could not be run.
#[derive(Debug, thiserror::Error)]
pub enum EdgeRunError {
    /// The built assets are missing.
    #[error("{0} is missing: build it first with `bash scripts/build-edge`")]
    MissingAssets(PathBuf),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// `node` could not be started or failed.
    #[error("node: {0}")]
    Node(String),
    /// The handler logged something (it must not for well-formed events).
    #[error("the handler logged: {0}")]
    Logged(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> EdgeRunError + '_ {
    move |source| EdgeRunError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The repository root.
pub fn repo() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_owned()
}

/// The built edge assets (`signer.wasm` ...): `$EDGESEAL_EDGE_ASSETS`, else
/// `target/edge-assets`.
pub fn assets_dir() -> Result<PathBuf, EdgeRunError> {
    let dir = std::env::var_os("EDGESEAL_EDGE_ASSETS")
        .map_or_else(|| repo().join("target/edge-assets"), PathBuf::from);
    if dir.join(WASM_FILE).exists() {
        Ok(dir)
    } else {
        Err(EdgeRunError::MissingAssets(dir.join(WASM_FILE)))
    }
}

/// A fresh empty directory under the system temp dir.
pub fn temp_dir(tag: &str) -> Result<PathBuf, EdgeRunError> {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "edgeseal-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    Ok(dir)
}

/// A directory laid out like the deployed function, from the handler source and the
/// built WASM, with `config`.
pub fn function_dir_from_source(config: &EdgeConfig) -> Result<PathBuf, EdgeRunError> {
    let dir = temp_dir("edge-src")?;
    let handler = repo().join("edge-signer/js/index.mjs");
    std::fs::copy(&handler, dir.join(HANDLER_FILE)).map_err(io(&handler))?;
    let wasm = assets_dir()?.join(WASM_FILE);
    std::fs::copy(&wasm, dir.join(WASM_FILE)).map_err(io(&wasm))?;
    let json = config
        .to_json()
        .map_err(|e| EdgeRunError::Node(format!("config.json: {e}")))?;
    let config_path = dir.join(CONFIG_FILE);
    std::fs::write(&config_path, json.as_slice()).map_err(io(&config_path))?;
    Ok(dir)
}

/// Import `dir/index.mjs` in a fresh `node` and run its `handler` export over `events`
/// (CloudFront origin-request events); returns the requests it returned.
pub fn run_edge_handler(dir: &Path, events: &[Value]) -> Result<Vec<Value>, EdgeRunError> {
    const SCRIPT: &str = r#"
        const { pathToFileURL } = await import("node:url");
        const { handler } = await import(pathToFileURL(process.argv[1] + "/index.mjs").href);
        let input = "";
        for await (const chunk of process.stdin) input += chunk;
        const out = [];
        for (const event of JSON.parse(input)) out.push(await handler(event));
        process.stdout.write(JSON.stringify(out));
    "#;
    let mut child = Command::new("node")
        .args(["--input-type=module", "-e", SCRIPT])
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| EdgeRunError::Node(format!("cannot start node (is it installed?): {e}")))?;
    let input = serde_json::to_string(events).map_err(|e| EdgeRunError::Node(e.to_string()))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(input.as_bytes())
            .map_err(|e| EdgeRunError::Node(e.to_string()))?;
    }
    let output = child
        .wait_with_output()
        .map_err(|e| EdgeRunError::Node(e.to_string()))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        return Err(EdgeRunError::Node(stderr.into_owned()));
    }
    if !stderr.is_empty() {
        return Err(EdgeRunError::Logged(stderr.into_owned()));
    }
    serde_json::from_slice(&output.stdout).map_err(|e| EdgeRunError::Node(e.to_string()))
}

/// `Records[0].cf.request` of a CloudFront event (`Null` when absent).
pub fn cf_request(event: &Value) -> &Value {
    event
        .pointer("/Records/0/cf/request")
        .unwrap_or(&Value::Null)
}

/// A header of a CloudFront request, several lines joined with `, `.
pub fn cf_header(request: &Value, name: &str) -> Option<String> {
    let lines = request.get("headers")?.get(name)?.as_array()?;
    Some(
        lines
            .iter()
            .filter_map(|l| l["value"].as_str())
            .collect::<Vec<_>>()
            .join(", "),
    )
}

/// Sign `events` (CloudFront origin-request events) with the real edge handler under
/// `node`, configured with the default label and maximum age, `keyid` and `key`;
/// returns the requests it returned.
pub fn sign_with_edge(
    keyid: &str,
    key: &edgeseal::SigningKey,
    events: &[Value],
) -> Result<Vec<Value>, EdgeRunError> {
    sign_with_edge_profiles(keyid, key, &Default::default(), events)
}

/// [`sign_with_edge`] with each origin's signing profile.
pub fn sign_with_edge_profiles(
    keyid: &str,
    key: &edgeseal::SigningKey,
    profiles: &edgeseal_edge_signer::OriginProfiles,
    events: &[Value],
) -> Result<Vec<Value>, EdgeRunError> {
    let config = EdgeConfig {
        label: edgeseal::DEFAULT_LABEL.into(),
        keyid: edgeseal::KeyId::new(keyid)
            .map_err(|e| EdgeRunError::Node(format!("key id: {e}")))?,
        key: key.clone(),
        max_age_secs: edgeseal::Verifier::DEFAULT_MAX_AGE_SECS,
        profiles: profiles.clone(),
    };
    let dir = function_dir_from_source(&config)?;
    let signed = run_edge_handler(&dir, events);
    let _ = std::fs::remove_dir_all(&dir);
    signed
}
