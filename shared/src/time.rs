//! Time as the protocol sees it: whole seconds since the Unix epoch.

use core::fmt;

/// A point in time, in whole seconds since the Unix epoch (RFC 9421 `created` / `expires`).
///
/// Nothing in the crate reads a clock: every check takes `now` from its caller, so the
/// edge (WASM, clock from JavaScript) and the verifiers (system clock, [`UnixTime::now`])
/// agree on one type, and tests can place every boundary exactly.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixTime(u64);

impl UnixTime {
    /// The instant `secs` seconds after the epoch.
    pub const fn from_secs(secs: u64) -> Self {
        Self(secs)
    }

    /// The system clock, in whole seconds (the epoch if the clock is set before it): the
    /// one place the project turns the wall clock into protocol time. Absent on
    /// `wasm32-unknown-unknown`, which has no clock (the edge passes JavaScript's in).
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    pub fn now() -> Self {
        Self::from_system_time(std::time::SystemTime::now())
    }

    /// `t` in whole seconds since the epoch (the epoch if `t` is before it).
    pub fn from_system_time(t: std::time::SystemTime) -> Self {
        Self(
            t.duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        )
    }

    /// Seconds since the epoch.
    pub const fn as_secs(self) -> u64 {
        self.0
    }

    /// `self + secs`, saturating at the far future instead of wrapping.
    #[must_use]
    pub const fn plus_secs(self, secs: u64) -> Self {
        Self(self.0.saturating_add(secs))
    }

    /// `self - secs`, saturating at the epoch.
    #[must_use]
    pub const fn minus_secs(self, secs: u64) -> Self {
        Self(self.0.saturating_sub(secs))
    }

    /// Seconds from `earlier` to `self`, or 0 when `earlier` is later.
    pub const fn secs_since(self, earlier: Self) -> u64 {
        self.0.saturating_sub(earlier.0)
    }

    /// Convert from a signed protocol integer; negative times are not times.
    pub(crate) fn from_sf_integer(value: i64) -> Option<Self> {
        u64::try_from(value).ok().map(Self)
    }

    /// As an RFC 8941 integer (at most 15 digits); `None` past year 31 million.
    pub(crate) fn to_sf_integer(self) -> Option<i64> {
        const SF_INTEGER_MAX: u64 = 999_999_999_999_999;
        if self.0 > SF_INTEGER_MAX {
            return None;
        }
        i64::try_from(self.0).ok()
    }
}

impl fmt::Debug for UnixTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UnixTime({})", self.0)
    }
}

impl fmt::Display for UnixTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}
