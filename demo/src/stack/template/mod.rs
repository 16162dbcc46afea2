//! The demo's stack out of `deploy/template.yaml`, as the new-stack path deploys it.
//!
//! `python -m deploy.local.render` (deploy/local/render.py) takes the template through
//! the real SAM transform (`aws-sam-translator`) with the parameters of
//! `deploy/parameters/new-stack.json`, checks what CloudFormation checks (parameter
//! constraints, Rules) and prints every resource's evaluated properties, with
//! placeholders (`<<Ref:Secret>>`, `<<GetAtt:EdgeFunction.Arn>>`) where a created
//! resource's id goes. The demo substitutes the resources it created on moto and runs:
//! - the authorizer and the rotator with exactly the template's environment, plus the
//!   local overrides of [`crate::settings::LOCAL_OVERRIDES`] (each with its reason);
//! - the secret as the template's `Secret` generates it, the rotation settings of
//!   `SecretRotation`, the edge function's properties, its packaged configuration (label,
//!   max age: the rotator's variables) and versions kept (`EDGE_KEEP_VERSIONS`), and API
//!   Gateway's authorizer settings (`HttpApiAuthorizer`: identity sources, payload 2.0,
//!   simple responses, no caching).
//!
//! The demo's own options reach the template as parameter values a user could set
//! ([`crate::settings::DEMO_PARAMETERS`]). A template that breaks the system makes the demo refuse to
//! start, or fail, with an error naming the template ([`Rendered::describe`]).

mod resources;

pub use resources::{
    RotationSettings, edge_function, generated_secret, identity_headers, rotation, summary_line,
};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::DemoError;
use crate::settings::{Function, Kind};

/// Where the template, its renderer and the Python that runs it are.
#[derive(Clone, Debug)]
pub struct TemplateSource {
    /// The repository (the renderer is `deploy/local/render.py` under it).
    pub root: PathBuf,
    /// The template (`deploy/template.yaml`).
    pub template: PathBuf,
    /// The documented path whose parameters are the base (`new-stack`).
    pub path: String,
    /// The Python with `aws-sam-translator` and `cfn-lint` (`.venv/bin/python`, where
    /// `scripts/demo` and `scripts/test` install them).
    pub python: PathBuf,
}

impl Default for TemplateSource {
    /// This checkout's template and `.venv`, the new-stack path.
    fn default() -> Self {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        Self {
            template: root.join("deploy").join("template.yaml"),
            python: root.join(".venv").join("bin").join("python"),
            path: "new-stack".to_owned(),
            root,
        }
    }
}

/// Resource ids the demo created, by placeholder (`Ref:Secret`, `GetAtt:EdgeFunction.Arn`).
#[derive(Clone, Debug, Default)]
pub struct Physical(BTreeMap<String, String>);

impl Physical {
    /// `Ref` of `logical_id` is `value`.
    pub fn reference(&mut self, logical_id: &str, value: impl Into<String>) -> &mut Self {
        self.0.insert(format!("Ref:{logical_id}"), value.into());
        self
    }

    /// `Fn::GetAtt logical_id.attribute` is `value`.
    pub fn attribute(&mut self, logical_id: &str, attribute: &str, value: &str) -> &mut Self {
        self.0
            .insert(format!("GetAtt:{logical_id}.{attribute}"), value.to_owned());
        self
    }

    /// `text` with every placeholder replaced; names the first one the demo did not create.
    pub fn substitute(&self, text: &str) -> Result<String, String> {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("<<") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find(">>")
                .ok_or_else(|| format!("unterminated placeholder in {text:?}"))?;
            let name = &after[..end];
            let value = self
                .0
                .get(name)
                .ok_or_else(|| format!("{name}, which the demo does not create"))?;
            out.push_str(value);
            rest = &after[end + 2..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

/// The template, rendered for one parameter set.
#[derive(Clone, Debug)]
pub struct Rendered {
    json: Value,
    /// The template file.
    pub template: PathBuf,
    /// The documented path.
    pub path: String,
    /// The parameter values the demo set over the path's.
    pub demo_parameters: Vec<(String, String)>,
    /// How long the render took (Python start, the transform, the evaluation).
    pub took: Duration,
}

impl Rendered {
    /// Render `source` with `parameters` over the path's (refused as CloudFormation
    /// would refuse the stack: the error names the template and says why).
    pub async fn render(
        source: &TemplateSource,
        parameters: &[(String, String)],
    ) -> Result<Self, DemoError> {
        let began = Instant::now();
        let mut command = tokio::process::Command::new(&source.python);
        command
            .current_dir(&source.root)
            .env("PYTHONPATH", &source.root)
            .args([
                "-m",
                "deploy.local.render",
                "--path",
                &source.path,
                "--template",
            ])
            .arg(&source.template);
        for (name, value) in parameters {
            command.arg("--set").arg(format!("{name}={value}"));
        }
        let output = command.output().await.map_err(|e| {
            DemoError::Template(format!(
                "{}: running {} -m deploy.local.render (scripts/demo installs aws-sam-translator into .venv): {e}",
                source.template.display(),
                source.python.display()
            ))
        })?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let reason = stderr
                .trim()
                .lines()
                .last()
                .unwrap_or("no message")
                .to_owned();
            return Err(DemoError::Template(format!(
                "{} ({} path) is refused: {reason}",
                source.template.display(),
                source.path
            )));
        }
        let json: Value = serde_json::from_slice(&output.stdout).map_err(|e| {
            DemoError::Template(format!(
                "{}: the renderer's output is not JSON: {e}",
                source.template.display()
            ))
        })?;
        Ok(Self {
            json,
            template: source.template.clone(),
            path: source.path.clone(),
            demo_parameters: parameters.to_vec(),
            took: began.elapsed(),
        })
    }

    /// "deploy/template.yaml (new-stack path)": what an error names.
    pub fn describe(&self) -> String {
        format!("{} ({} path)", self.template.display(), self.path)
    }

    /// `detail`, blamed on the template.
    pub fn error(&self, detail: impl std::fmt::Display) -> DemoError {
        DemoError::Template(format!("{}: {detail}", self.describe()))
    }

    /// The path's parameter file (`deploy/parameters/new-stack.json`).
    pub fn parameters_file(&self) -> &str {
        self.json
            .get("parameters_file")
            .and_then(Value::as_str)
            .unwrap_or("deploy/parameters")
    }

    /// A parameter's value (given or the template's default).
    pub fn parameter(&self, name: &str) -> Option<&str> {
        self.json.get("parameters")?.get(name)?.as_str()
    }

    /// Whether the stack creates `logical_id` with these parameters.
    pub fn creates(&self, logical_id: &str) -> bool {
        self.json
            .get("resources")
            .and_then(|r| r.get(logical_id))
            .is_some()
    }

    /// A created resource's evaluated properties.
    pub fn properties(&self, logical_id: &str) -> Result<&Value, DemoError> {
        self.json
            .get("resources")
            .and_then(|r| r.get(logical_id))
            .and_then(|r| r.get("Properties"))
            .ok_or_else(|| self.error(format!("creates no {logical_id}")))
    }

    /// A string property (`path` of keys below the resource's properties).
    pub fn string(&self, logical_id: &str, path: &[&str]) -> Result<String, DemoError> {
        let mut node = self.properties(logical_id)?;
        for key in path {
            node = node
                .get(key)
                .ok_or_else(|| self.error(format!("{logical_id} has no {}", path.join("."))))?;
        }
        match node {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            other => Err(self.error(format!(
                "{logical_id}.{} is not a scalar: {other}",
                path.join(".")
            ))),
        }
    }

    /// A function's environment as Lambda's `GetFunctionConfiguration` would report it,
    /// with the demo's resources in place of the placeholders.
    pub fn environment(
        &self,
        function: Function,
        physical: &Physical,
    ) -> Result<BTreeMap<String, String>, DemoError> {
        let id = function.logical_id();
        let vars = self
            .properties(id)?
            .get("Environment")
            .and_then(|e| e.get("Variables"))
            .and_then(Value::as_object)
            .ok_or_else(|| self.error(format!("{id} has no Environment.Variables")))?;
        let mut env = BTreeMap::new();
        for (name, value) in vars {
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                other => return Err(self.error(format!("{id} {name} is not a scalar: {other}"))),
            };
            let text = physical
                .substitute(&text)
                .map_err(|e| self.error(format!("{id} {name} refers to {e}")))?;
            env.insert(name.clone(), text);
        }
        Ok(env)
    }

    /// Apply one override of [`LOCAL_OVERRIDES`] to `env` (refused when it is not
    /// listed there, or when the template no longer sets a variable it replaces).
    pub fn apply_override(
        &self,
        env: &mut BTreeMap<String, String>,
        function: Function,
        name: &str,
        value: String,
    ) -> Result<(), DemoError> {
        let kind = crate::settings::is_listed(function, name).ok_or_else(|| {
            DemoError::Config(format!(
                "{} {name} is overridden but not listed in overrides::LOCAL_OVERRIDES",
                function.logical_id()
            ))
        })?;
        match (kind, env.contains_key(name)) {
            (Kind::Replace, false) => Err(self.error(format!(
                "{} sets no {name} (the demo replaces it with a local value; the function needs it)",
                function.logical_id()
            ))),
            (Kind::Add, true) => Err(self.error(format!(
                "{} now sets {name}, which the demo adds itself: update overrides::LOCAL_OVERRIDES",
                function.logical_id()
            ))),
            _ => {
                env.insert(name.to_owned(), value);
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered(env: Value) -> Rendered {
        Rendered {
            json: serde_json::json!({
                "resources": {"AuthorizerFunction": {"Properties": {"Environment": {"Variables": env}}}}
            }),
            template: PathBuf::from("deploy/template.yaml"),
            path: "new-stack".into(),
            demo_parameters: Vec::new(),
            took: Duration::ZERO,
        }
    }

    #[test]
    fn placeholders_become_the_demos_resources_and_an_unknown_one_is_named() {
        let mut physical = Physical::default();
        physical
            .reference("Secret", "arn:s")
            .attribute("EdgeFunction", "Arn", "arn:f");
        assert_eq!(
            physical.substitute("<<Ref:Secret>>/<<GetAtt:EdgeFunction.Arn>>"),
            Ok("arn:s/arn:f".to_owned())
        );
        let err = physical.substitute("x<<Ref:Queue>>").unwrap_err();
        assert!(err.contains("Ref:Queue"), "{err}");
    }

    #[test]
    fn overrides_must_be_listed_and_match_what_the_template_sets() {
        let r = rendered(serde_json::json!({"SECRET_ID": "<<Ref:Secret>>", "RUST_LOG": "x"}));
        let mut physical = Physical::default();
        physical.reference("Secret", "arn:s");
        let mut env = r.environment(Function::Authorizer, &physical).unwrap();
        assert_eq!(env.get("SECRET_ID").map(String::as_str), Some("arn:s"));
        // Not listed.
        assert!(matches!(
            r.apply_override(&mut env, Function::Authorizer, "SECRET_ID", "y".into()),
            Err(DemoError::Config(_))
        ));
        // Listed as added by the demo, but the template now sets it.
        let err = r
            .apply_override(&mut env, Function::Authorizer, "RUST_LOG", "info".into())
            .unwrap_err();
        assert!(err.to_string().contains("deploy/template.yaml"), "{err}");
        // Listed as replacing a variable the template no longer sets.
        let err = r
            .apply_override(&mut env, Function::Rotator, "EDGE_ASSETS_DIR", "/x".into())
            .unwrap_err();
        assert!(err.to_string().contains("sets no EDGE_ASSETS_DIR"), "{err}");
    }
}
