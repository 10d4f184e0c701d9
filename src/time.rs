//! Simulated time. Every instant is an integer number of milliseconds since the
//! start of the scenario (the first submission of the workload is usually 0), so
//! that runs are exact and reproducible; floating point never enters the clock.

use std::fmt;
use std::ops::{Add, Sub};

/// A span of simulated time, in milliseconds.
pub type Millis = u64;

/// Milliseconds in one second.
pub const MS_PER_SEC: Millis = 1_000;

/// An instant of simulated time, in milliseconds since the scenario start.
/// Serializes as the bare number of milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize)]
#[serde(transparent)]
pub struct SimTime(pub u64);

impl SimTime {
    /// The scenario start.
    pub const ZERO: SimTime = SimTime(0);
    /// Later than any event; used for "never".
    pub const MAX: SimTime = SimTime(u64::MAX);

    /// Milliseconds since the scenario start.
    pub fn as_millis(self) -> u64 {
        self.0
    }

    /// Whole seconds since the start, rounding down.
    pub fn from_secs(secs: u64) -> SimTime {
        SimTime(secs.saturating_mul(MS_PER_SEC))
    }

    /// Seconds since the start as a float, for reports only.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / MS_PER_SEC as f64
    }

    /// The span from `earlier` to `self` in milliseconds (0 if `earlier` is later).
    pub fn since(self, earlier: SimTime) -> Millis {
        self.0.saturating_sub(earlier.0)
    }
}

impl Add<Millis> for SimTime {
    type Output = SimTime;
    fn add(self, rhs: Millis) -> SimTime {
        SimTime(self.0.saturating_add(rhs))
    }
}

impl Sub<SimTime> for SimTime {
    type Output = Millis;
    fn sub(self, rhs: SimTime) -> Millis {
        self.since(rhs)
    }
}

impl fmt::Display for SimTime {
    /// Seconds with millisecond precision, e.g. `12.345`: exact, no float rounding.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", FmtSecs(self.0))
    }
}

/// Formats a millisecond count as seconds with exactly three decimals (`1500` → `1.500`).
/// Used by every exporter so that printed times are exact and byte-stable.
#[derive(Debug, Clone, Copy)]
pub struct FmtSecs(pub u64);

impl fmt::Display for FmtSecs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:03}", self.0 / MS_PER_SEC, self.0 % MS_PER_SEC)
    }
}

/// Converts seconds (as written in traces and scenarios, possibly fractional) to
/// milliseconds, rounding to the nearest millisecond. Returns `None` for negative,
/// non-finite or out-of-range values.
pub fn secs_to_millis(secs: f64) -> Option<Millis> {
    if !secs.is_finite() || secs < 0.0 {
        return None;
    }
    let ms = (secs * MS_PER_SEC as f64).round();
    if ms > u64::MAX as f64 / 2.0 {
        return None;
    }
    Some(ms as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_exact_seconds() {
        assert_eq!(FmtSecs(0).to_string(), "0.000");
        assert_eq!(FmtSecs(1_500).to_string(), "1.500");
        assert_eq!(SimTime(61_007).to_string(), "61.007");
    }

    #[test]
    fn converts_seconds() {
        assert_eq!(secs_to_millis(66.0), Some(66_000));
        assert_eq!(secs_to_millis(0.0004), Some(0));
        assert_eq!(secs_to_millis(1.0005), Some(1_001));
        assert_eq!(secs_to_millis(-1.0), None);
        assert_eq!(secs_to_millis(f64::NAN), None);
    }
}
