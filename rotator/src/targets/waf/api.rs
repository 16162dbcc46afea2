//! The two WAFv2 calls the header rule makes, behind one small trait.
//!
//! [`super::sdk`] implements it with the AWS SDK; tests run it against moto (which keeps
//! rule statements as sent and checks `LockToken`s) and wrap it in testkit's fault
//! injector. The `waf` target is generic over it.

use std::future::Future;

use aws_sdk_wafv2::types::WebAcl;

use crate::aws::ApiError;

/// The regional web ACL in front of the origin: `Name` and `Id` as `GetWebACL` takes
/// them. The scope is always `REGIONAL`: a `CLOUDFRONT`-scope web ACL inspects viewer
/// requests, which never carry the origin custom header CloudFront adds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebAclRef {
    /// `WAFACLNAME`.
    pub name: String,
    /// `WAFACLID`.
    pub id: String,
}

impl std::fmt::Display for WebAclRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.name, self.id)
    }
}

/// A web ACL as `GetWebACL` returned it, with the `LockToken` an update must present.
#[derive(Clone)]
pub struct LockedWebAcl {
    /// The web ACL (its rules hold header values: never logged or shown).
    pub web_acl: WebAcl,
    /// `LockToken`.
    pub lock_token: String,
}

impl std::fmt::Debug for LockedWebAcl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockedWebAcl")
            .field("name", &self.web_acl.name)
            .field("rules", &self.web_acl.rules.as_ref().map_or(0, Vec::len))
            .field("lock_token", &self.lock_token)
            .finish_non_exhaustive()
    }
}

/// WAFv2 web ACLs, as the header rule uses them. Errors are [`ApiError`]s of
/// `Op::GetWebAcl` / `Op::UpdateWebAcl`; a stale `LockToken` is
/// [`ApiError::StaleLockToken`].
pub trait WebAclApi: Send + Sync {
    /// `GetWebACL` (scope `REGIONAL`): the web ACL and its `LockToken`.
    fn get_web_acl(
        &self,
        acl: &WebAclRef,
    ) -> impl Future<Output = Result<LockedWebAcl, ApiError>> + Send;

    /// `UpdateWebACL` with `LockToken = lock_token`, sending every mutable setting of
    /// `web_acl` (the call replaces them all); returns `NextLockToken`.
    fn update_web_acl(
        &self,
        acl: &WebAclRef,
        web_acl: &WebAcl,
        lock_token: &str,
    ) -> impl Future<Output = Result<String, ApiError>> + Send;
}
