//! What the demo's tests need from `scripts/test`: moto (`EDGESEAL_MOTO_URL`), the
//! authorizer binary (`EDGESEAL_AUTHORIZER_BIN`) and the built edge assets
//! (`EDGESEAL_EDGE_ASSETS`). Missing ones fail the test, never skip it.

use std::path::PathBuf;

use edgeseal_demo::Settings;

fn required(var: &str) -> String {
    std::env::var(var)
        .unwrap_or_else(|_| panic!("{var} is not set: run the tests with `bash scripts/test`"))
}

/// Settings for a quiet run writing under the temp dir's `{name}-{pid}`.
pub fn settings(name: &str) -> Settings {
    let out = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
    let mut settings = Settings::new(
        edgeseal_testkit::moto_url(),
        PathBuf::from(required("EDGESEAL_AUTHORIZER_BIN")),
        PathBuf::from(required("EDGESEAL_EDGE_ASSETS")),
        out,
    );
    settings.progress = false;
    settings
}
