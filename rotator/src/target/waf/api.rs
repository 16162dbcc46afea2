//! The two WAFv2 calls the header rule makes, behind one small trait.
//!
//! [`super::sdk`] implements it with the AWS SDK; tests run it against moto (which keeps
//! rule statements as sent and checks `LockToken`s) and wrap it in testkit's fault and
//! concurrent-writer doubles.

use std::future::Future;

use aws_sdk_wafv2::types::WebAcl;

/// Every WAFv2 operation the rotator calls; used in errors, logs and fault injection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WafOp {
    /// `wafv2:GetWebACL`
    GetWebAcl,
    /// `wafv2:UpdateWebACL`
    UpdateWebAcl,
}

impl WafOp {
    /// The API action name.
    pub const fn as_str(self) -> &'static str {
        match self {
            WafOp::GetWebAcl => "GetWebACL",
            WafOp::UpdateWebAcl => "UpdateWebACL",
        }
    }
}

impl std::fmt::Display for WafOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

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

/// A failed WAFv2 call. Messages come from the service; requests carrying header values
/// are never echoed into them.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WafApiError {
    /// `WAFOptimisticLockException`: the web ACL changed since the `LockToken` was read.
    #[error("{0}: the web ACL changed since it was read (WAFOptimisticLockException)")]
    StaleLockToken(WafOp),
    /// `WAFNonexistentItemException`.
    #[error("{op}: web ACL not found: {message}")]
    NotFound {
        /// The call.
        op: WafOp,
        /// The service's message.
        message: String,
    },
    /// `WAFUnavailableEntityException` (a resource still propagating) or
    /// `ThrottlingException`: worth retrying later.
    #[error("{op}: not available now ({code}): {message}")]
    Unavailable {
        /// The call.
        op: WafOp,
        /// The service's error code.
        code: String,
        /// The service's message.
        message: String,
    },
    /// Any other service or transport error (`WAFInvalidParameterException` when AWS
    /// refuses the web ACL sent, `AccessDeniedException`, ...).
    #[error("{op} failed ({code}): {message}")]
    Service {
        /// The call.
        op: WafOp,
        /// The service's error code, or `transport` / `unknown`.
        code: String,
        /// The service's message.
        message: String,
    },
    /// The service answered without a field the rotator needs.
    #[error("{op}: response lacks {field}")]
    Incomplete {
        /// The call.
        op: WafOp,
        /// The missing field.
        field: &'static str,
    },
}

/// WAFv2 web ACLs, as the header rule uses them.
pub trait WebAclApi: Send + Sync {
    /// `GetWebACL` (scope `REGIONAL`): the web ACL and its `LockToken`.
    fn get_web_acl(
        &self,
        acl: &WebAclRef,
    ) -> impl Future<Output = Result<LockedWebAcl, WafApiError>> + Send;

    /// `UpdateWebACL` with `LockToken = lock_token`, sending every mutable setting of
    /// `web_acl` (the call replaces them all); returns `NextLockToken`. A stale token is
    /// [`WafApiError::StaleLockToken`].
    fn update_web_acl(
        &self,
        acl: &WebAclRef,
        web_acl: &WebAcl,
        lock_token: &str,
    ) -> impl Future<Output = Result<String, WafApiError>> + Send;
}

/// A shared client (the rotator and, in tests, the assertions hold the same double).
impl<T: WebAclApi> WebAclApi for std::sync::Arc<T> {
    async fn get_web_acl(&self, acl: &WebAclRef) -> Result<LockedWebAcl, WafApiError> {
        (**self).get_web_acl(acl).await
    }

    async fn update_web_acl(
        &self,
        acl: &WebAclRef,
        web_acl: &WebAcl,
        lock_token: &str,
    ) -> Result<String, WafApiError> {
        (**self).update_web_acl(acl, web_acl, lock_token).await
    }
}
