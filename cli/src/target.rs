//! The URL given on the command line, split into what a signature covers.

use crate::error::CliError;

/// `--method`: an HTTP method token, as signed and sent.
pub fn check_method(method: &str) -> Result<(), CliError> {
    if edgeseal::canonical::is_method(method) {
        Ok(())
    } else {
        Err(CliError::Usage(format!(
            "--method {method:?} is not an HTTP method"
        )))
    }
}

/// An `http(s)://authority/path?query` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub https: bool,
    /// `host[:port]` as written.
    pub authority: String,
    /// The raw path, `/` when absent.
    pub path: String,
    /// The raw query without `?`, empty when absent.
    pub query: String,
}

impl Target {
    pub fn parse(url: &str) -> Result<Self, CliError> {
        let bad = |why: &str| CliError::Usage(format!("--url {url:?}: {why}"));
        let (https, rest) = if let Some(rest) = url.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            (false, rest)
        } else {
            return Err(bad("expected http:// or https://"));
        };
        // The fragment never reaches the origin.
        let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path_and_query) = rest.split_at(end);
        if authority.is_empty() {
            return Err(bad("no host"));
        }
        if authority.contains('@') {
            return Err(bad("user information in the URL is not supported"));
        }
        if edgeseal::canonical::authority(authority).is_none() {
            return Err(bad("invalid host or port"));
        }
        let (path, query) = match path_and_query.split_once('?') {
            Some((path, query)) => (path, query),
            None => (path_and_query, ""),
        };
        let path = if path.is_empty() { "/" } else { path };
        if path.bytes().any(|b| b.is_ascii_control() || b == b' ')
            || query.bytes().any(|b| b.is_ascii_control() || b == b' ')
        {
            return Err(bad("spaces and control characters must be percent-encoded"));
        }
        Ok(Self {
            https,
            authority: authority.to_owned(),
            path: path.to_owned(),
            query: query.to_owned(),
        })
    }

    /// Path and query as they go on the request line.
    pub fn path_and_query(&self) -> String {
        if self.query.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{}", self.path, self.query)
        }
    }

    /// The request as a signature in `profile` sees it.
    pub fn view(&self, method: &str, profile: edgeseal::Profile) -> edgeseal::RequestView {
        edgeseal::RequestView::in_profile(profile, method, &self.authority, &self.path, &self.query)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_authority_path_and_query() {
        let t = Target::parse("https://API.example.com:8443/prod/a%20b?x=1&y=2#frag").unwrap();
        assert!(t.https);
        assert_eq!(t.authority, "API.example.com:8443");
        assert_eq!(t.path, "/prod/a%20b");
        assert_eq!(t.query, "x=1&y=2");
        assert_eq!(t.path_and_query(), "/prod/a%20b?x=1&y=2");
    }

    #[test]
    fn empty_path_is_root_and_query_may_follow_authority() {
        let t = Target::parse("http://h?q").unwrap();
        assert!(!t.https);
        assert_eq!((t.path.as_str(), t.query.as_str()), ("/", "q"));
    }

    #[test]
    fn rejects_what_cannot_be_signed() {
        for url in [
            "ftp://h/",
            "https://",
            "https:///x",
            "https://u@h/",
            "https://h/a b",
            "h/x",
        ] {
            assert!(Target::parse(url).is_err(), "{url}");
        }
    }
}
