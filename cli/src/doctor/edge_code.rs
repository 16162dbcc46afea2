//! Which key an edge version's code carries, by code hash.
//!
//! A distribution names a version by number; what runs is that version's code. The
//! rotator publishes one version per key, described `edgeseal keyid=<keyid>`, from a
//! deterministic package (the same key always gives the same code hash). So the
//! running code (`GetFunctionConfiguration` of the number) carries key K when it has
//! the code hash of the versions described K (`ListVersionsByFunction`), and all of
//! those agree. Two versions described K with different code mean one of them was not
//! built by the rotator for K (published by hand or by another tool); neither is
//! trusted then. This catches a number that runs other code than the rotator meant (an
//! operator's association, a concurrent publish, an emulator that reused a number: the
//! failure of issue 23) without the edge assets at hand; what it cannot catch is a
//! version published outside the rotator, described K, while no version the rotator
//! built for K exists. Only hashes are compared: no key is read or printed here.

/// One published version, as `ListVersionsByFunction` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishedVersion {
    /// The version number.
    pub version: String,
    /// Its description (`edgeseal keyid=<keyid>` when the rotator published it).
    pub description: String,
    /// Base64 SHA-256 of its package.
    pub code_sha256: String,
}

impl PublishedVersion {
    /// The keyid the rotator published this version for.
    pub fn keyid(&self) -> Option<&str> {
        self.description.strip_prefix(super::KEYID_PREFIX)
    }
}

/// What a running code hash carries, among the published versions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Carried<'a> {
    /// The package of this key: every version described with it has this code.
    Key(&'a str),
    /// No version the rotator published has this code.
    NoPackage,
    /// Versions described with this keyid run different code (these hashes).
    Disputed {
        /// The keyid.
        keyid: &'a str,
        /// The distinct code hashes of the versions described with it.
        hashes: Vec<&'a str>,
    },
}

/// What `code_sha256` carries, judged from `published`.
pub fn carried<'a>(published: &'a [PublishedVersion], code_sha256: &str) -> Carried<'a> {
    let Some(keyid) = published
        .iter()
        .filter(|v| v.code_sha256 == code_sha256)
        .find_map(PublishedVersion::keyid)
    else {
        return Carried::NoPackage;
    };
    let mut hashes: Vec<&str> = published
        .iter()
        .filter(|v| v.keyid() == Some(keyid))
        .map(|v| v.code_sha256.as_str())
        .collect();
    hashes.sort_unstable();
    hashes.dedup();
    if hashes.len() == 1 {
        Carried::Key(keyid)
    } else {
        Carried::Disputed { keyid, hashes }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(version: &str, keyid: &str, sha: &str) -> PublishedVersion {
        PublishedVersion {
            version: version.into(),
            description: format!("{}{keyid}", super::super::KEYID_PREFIX),
            code_sha256: sha.into(),
        }
    }

    #[test]
    fn the_key_carried_is_the_one_whose_published_package_has_the_hash() {
        let listed = [v("3", "k3", "aaa"), v("4", "k4", "bbb")];
        assert_eq!(carried(&listed, "bbb"), Carried::Key("k4"));
        assert_eq!(carried(&listed, "ccc"), Carried::NoPackage);
    }

    #[test]
    fn versions_described_alike_but_running_different_code_are_disputed() {
        let listed = [v("3", "k3", "aaa"), v("7", "k3", "zzz")];
        let disputed = Carried::Disputed {
            keyid: "k3",
            hashes: vec!["aaa", "zzz"],
        };
        assert_eq!(carried(&listed, "zzz"), disputed);
        assert_eq!(carried(&listed, "aaa"), disputed);
    }

    #[test]
    fn versions_not_published_by_the_rotator_carry_no_key() {
        let listed = [PublishedVersion {
            version: "1".into(),
            description: "bootstrap".into(),
            code_sha256: "aaa".into(),
        }];
        assert_eq!(carried(&listed, "aaa"), Carried::NoPackage);
    }
}
