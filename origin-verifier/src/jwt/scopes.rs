//! Required scopes per route (`JWT_SCOPES`), as the built-in JWT authorizer's
//! `authorizationScopes` on each route: a token passes a route with scopes when it has at
//! least one of them ("Control access to HTTP APIs with JWT authorizers", API Gateway
//! Developer Guide).
//!
//! Syntax: rules separated by `;`, each `ROUTE=SCOPE SCOPE ...`, where `ROUTE` is an
//! HTTP API route key: `METHOD /path` with `ANY` for every method, `{name}` for one
//! path segment and a final `{name+}` for one or more, or `$default` for every request.
//! The first rule that matches decides (list specific routes first); a request no rule
//! matches needs no scope, as a route without `authorizationScopes`. The path matched is
//! the one the edge signed (after `BASE_PATH_MAP`), percent-encoded as sent.

/// One `ROUTE=SCOPES` rule.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Rule {
    /// `None` for `ANY` and `$default`.
    method: Option<String>,
    /// `None` for `$default`.
    segments: Option<Vec<Segment>>,
    scopes: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Literal(String),
    /// `{name}`: any one non-empty segment.
    One,
    /// `{name+}` (last only): one or more segments.
    Greedy,
}

/// The parsed `JWT_SCOPES`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScopeRules {
    rules: Vec<Rule>,
}

impl ScopeRules {
    /// Parse the variable's value; the error says what is wrong.
    pub fn parse(value: &str) -> Result<Self, String> {
        let mut rules = Vec::new();
        for rule in value.split(';').map(str::trim).filter(|r| !r.is_empty()) {
            let (route, scopes) = rule
                .split_once('=')
                .ok_or_else(|| format!("{rule:?}: expected ROUTE=SCOPE [SCOPE...]"))?;
            let scopes: Vec<String> = scopes.split_whitespace().map(str::to_owned).collect();
            let route = route.trim();
            let (method, segments) = if route == "$default" {
                (None, None)
            } else {
                let (method, path) = route.split_once(' ').ok_or_else(|| {
                    format!(
                        "{route:?}: expected METHOD /path or $default (e.g. GET /orders/{{id}})"
                    )
                })?;
                let method = method.trim().to_ascii_uppercase();
                if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
                    return Err(format!("{route:?}: bad method {method:?}"));
                }
                let path = path.trim();
                if !path.starts_with('/') {
                    return Err(format!("{route:?}: the path must start with /"));
                }
                let parts: Vec<&str> = path.split('/').skip(1).collect();
                let last = parts.len().saturating_sub(1);
                let mut segments = Vec::with_capacity(parts.len());
                for (i, part) in parts.iter().enumerate() {
                    segments.push(if part.starts_with('{') && part.ends_with("+}") {
                        if i != last {
                            return Err(format!("{route:?}: a greedy {{name+}} must be last"));
                        }
                        Segment::Greedy
                    } else if part.starts_with('{') && part.ends_with('}') {
                        Segment::One
                    } else {
                        Segment::Literal((*part).to_owned())
                    });
                }
                ((method != "ANY").then_some(method), Some(segments))
            };
            rules.push(Rule {
                method,
                segments,
                scopes,
            });
        }
        Ok(Self { rules })
    }

    /// The scopes `method` `path` requires (empty: none).
    pub fn required(&self, method: &str, path: &str) -> &[String] {
        self.find(method, path)
            .map_or(&[], |rule| rule.scopes.as_slice())
    }

    fn find(&self, method: &str, path: &str) -> Option<&Rule> {
        self.rules.iter().find(|rule| {
            rule.method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method))
                && rule
                    .segments
                    .as_deref()
                    .is_none_or(|segments| matches(segments, path))
        })
    }

    /// Whether a rule matches `method` `path` (for `JWT_PUBLIC_ROUTES`).
    pub fn matches(&self, method: &str, path: &str) -> bool {
        self.find(method, path).is_some()
    }

    /// Parse a list of routes without scopes (`ROUTE;ROUTE`).
    pub fn parse_routes(value: &str) -> Result<Self, String> {
        let rules: Vec<String> = value
            .split(';')
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(|r| {
                if r.contains('=') {
                    Err(format!("{r:?}: expected a route without =SCOPES"))
                } else {
                    Ok(format!("{r}="))
                }
            })
            .collect::<Result<_, _>>()?;
        Self::parse(&rules.join(";"))
    }

    /// Whether any rule exists.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

fn matches(segments: &[Segment], path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').skip(1).collect();
    let mut i = 0;
    for segment in segments {
        match segment {
            Segment::Greedy => {
                return parts
                    .get(i..)
                    .is_some_and(|rest| !rest.is_empty() && rest.iter().any(|p| !p.is_empty()));
            }
            Segment::One => {
                if parts.get(i).is_none_or(|p| p.is_empty()) {
                    return false;
                }
            }
            Segment::Literal(lit) => {
                if parts.get(i) != Some(&lit.as_str()) {
                    return false;
                }
            }
        }
        i += 1;
    }
    i == parts.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_as_route_keys() {
        let rules = ScopeRules::parse(
            "GET /orders/{id}=orders/read orders/admin; POST /orders=orders/write; ANY /admin/{proxy+}=admin; GET /public=; $default=basic",
        )
        .unwrap();
        assert_eq!(
            rules.required("GET", "/orders/42"),
            ["orders/read", "orders/admin"]
        );
        assert_eq!(
            rules.required("get", "/orders/42"),
            ["orders/read", "orders/admin"]
        );
        assert_eq!(rules.required("POST", "/orders"), ["orders/write"]);
        assert_eq!(rules.required("DELETE", "/admin/users/7"), ["admin"]);
        assert_eq!(rules.required("GET", "/admin"), ["basic"]);
        assert!(rules.required("GET", "/public").is_empty());
        assert_eq!(rules.required("GET", "/orders/42/items"), ["basic"]);
        assert_eq!(rules.required("GET", "/orders/"), ["basic"]);
        assert!(ScopeRules::default().required("GET", "/x").is_empty());
        let public = ScopeRules::parse_routes("GET /prod/health; ANY /public/{proxy+}").unwrap();
        assert!(public.matches("GET", "/prod/health"));
        assert!(public.matches("POST", "/public/a/b"));
        assert!(!public.matches("POST", "/prod/health"));
        assert!(ScopeRules::parse_routes("GET /x=a").is_err());
    }

    #[test]
    fn malformed_rules_are_refused() {
        for bad in [
            "GET /orders",
            "GET orders=a",
            "/orders=a",
            "GET /{p+}/x=a",
            "G3T /x=a",
        ] {
            assert!(ScopeRules::parse(bad).is_err(), "{bad}");
        }
    }
}
