//! `BASE_PATH_MAP`: how the path API Gateway reports becomes the path the edge signed.
//!
//! CloudFront forwards `origin path + URI`; API Gateway may report another base path:
//! an HTTP API behind a custom domain can report the stage name where the viewer used
//! the mapping key (`/prod/x` for `/v1/x`), an HTTP API on its `$default` stage or a
//! REST API whose `requestContext.path` lacks the stage reports none. A rule `FROM=TO`
//! replaces a leading `FROM` with `TO`: `/prod=/v1` replaces, `/prod=` strips, `=/v1`
//! adds (what `PATH_PREFIX=/v1` always did).

use core::fmt;

/// One `FROM=TO` rule, both sides normalised (`/`-led, no trailing `/`, or empty).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Rule {
    from: String,
    to: String,
}

/// The rules, most specific `FROM` first. Empty: paths are used as reported.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BasePathMap {
    rules: Vec<Rule>,
}

/// Why a `BASE_PATH_MAP` value cannot be used (the caller names the variable).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BasePathMapError(String);

impl fmt::Display for BasePathMapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl BasePathMap {
    /// Parse `FROM=TO[,FROM=TO...]`, e.g. `/prod=/v1`, `/prod=`, `=/v1`.
    pub fn parse(value: &str) -> Result<Self, BasePathMapError> {
        let mut rules: Vec<Rule> = Vec::new();
        for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (from, to) = entry.split_once('=').ok_or_else(|| {
                BasePathMapError(format!(
                    "expected FROM=TO entries such as /prod=/v1, got {entry:?}"
                ))
            })?;
            let from = normalize(from.trim()).ok_or_else(|| bad_path(from))?;
            let to = normalize(to.trim()).ok_or_else(|| bad_path(to))?;
            if rules.iter().any(|r| r.from == from) {
                return Err(BasePathMapError(format!(
                    "{from:?} is mapped twice; give each base path one rule"
                )));
            }
            if from != to {
                rules.push(Rule { from, to });
            }
        }
        rules.sort_by_key(|rule| std::cmp::Reverse(rule.from.len()));
        Ok(Self { rules })
    }

    /// The map `PATH_PREFIX=prefix` stands for: add `prefix` to every path.
    pub fn prefix(prefix: &str) -> Result<Self, BasePathMapError> {
        let to = normalize(prefix).ok_or_else(|| bad_path(prefix))?;
        Ok(Self {
            rules: if to.is_empty() {
                Vec::new()
            } else {
                vec![Rule {
                    from: String::new(),
                    to,
                }]
            },
        })
    }

    /// Whether there is no rule.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// `path` with the first matching rule applied: `FROM` matches a whole leading
    /// segment sequence (`/prod` matches `/prod` and `/prod/x`, not `/production`).
    /// A path no rule matches is returned as it is.
    pub fn apply<'a>(&self, path: &'a str) -> std::borrow::Cow<'a, str> {
        for rule in &self.rules {
            if let Some(rest) = path.strip_prefix(rule.from.as_str())
                && (rest.is_empty() || rest.starts_with('/') || rule.from.is_empty())
            {
                let mut out = String::with_capacity(rule.to.len() + rest.len() + 1);
                out.push_str(&rule.to);
                if !rest.is_empty() && !rest.starts_with('/') {
                    out.push('/');
                }
                out.push_str(rest);
                if out.is_empty() {
                    out.push('/');
                }
                return std::borrow::Cow::Owned(out);
            }
        }
        std::borrow::Cow::Borrowed(path)
    }
}

impl fmt::Display for BasePathMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, rule) in self.rules.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{}={}", rule.from, rule.to)?;
        }
        Ok(())
    }
}

fn bad_path(raw: &str) -> BasePathMapError {
    BasePathMapError(format!(
        "expected base paths such as /v1 or /orders/v2 (or nothing), got {raw:?}"
    ))
}

/// `/v1/` → `/v1`, `v1` → `/v1`, `/` → ``; `None` for what cannot be a base path
/// (API Gateway mapping keys and stage names: letters, digits, `-._~` and `$`, in
/// `/`-separated segments).
fn normalize(raw: &str) -> Option<String> {
    let trimmed = raw.trim_matches('/');
    if trimmed.is_empty() {
        return Some(String::new());
    }
    let valid = trimmed.split('/').all(|segment| {
        !segment.is_empty()
            && segment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'$'))
    });
    valid.then(|| format!("/{trimmed}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_replace_strip_and_add_on_segment_boundaries() {
        let map = BasePathMap::parse("/prod=/v1, /beta/ = , =/root").unwrap();
        assert_eq!(map.apply("/prod/orders/42"), "/v1/orders/42");
        assert_eq!(map.apply("/prod"), "/v1");
        assert_eq!(map.apply("/production/x"), "/root/production/x");
        assert_eq!(map.apply("/beta/x"), "/x");
        assert_eq!(map.apply("/other"), "/root/other");
        let none = BasePathMap::parse("/prod=/v1").unwrap();
        assert_eq!(none.apply("/dev/x"), "/dev/x");
        assert_eq!(
            BasePathMap::parse("/orders/v2=/v2")
                .unwrap()
                .apply("/orders/v2/items/7"),
            "/v2/items/7"
        );
    }

    #[test]
    fn prefix_is_an_add_rule() {
        let map = BasePathMap::prefix("v1/").unwrap();
        assert_eq!(map, BasePathMap::parse("=/v1").unwrap());
        assert_eq!(map.apply("/orders"), "/v1/orders");
        assert!(BasePathMap::prefix("/").unwrap().is_empty());
    }

    #[test]
    fn malformed_maps_are_refused() {
        for bad in [
            "/prod",
            "/pr od=/v1",
            "/prod=/v1?x",
            "/a=/b,/a=/c",
            "/a//b=/c",
        ] {
            assert!(BasePathMap::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            BasePathMap::parse("/prod=/v1").unwrap().to_string(),
            "/prod=/v1"
        );
    }
}
