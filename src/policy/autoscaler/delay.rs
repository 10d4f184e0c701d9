//! Provisioning delays: how long a node asked for by a scale-up takes to become
//! `Ready` (cloud VM boot, kubelet registration, GPU driver installation; GPU
//! nodes often take several minutes). One delay is drawn per node from its node
//! group's distribution.
//!
//! ```toml
//! provisioning = { kind = "fixed", seconds = 120.0 }
//! provisioning = { kind = "uniform", min_s = 60.0, max_s = 300.0 }
//! provisioning = { kind = "lognormal", median_s = 240.0, sigma = 0.5, max_s = 1800.0 }
//! ```
//!
//! Determinism: every draw comes from the caller's `ChaCha8Rng` and is rounded to
//! whole milliseconds. A fixed delay makes no draw; a uniform delay makes one
//! integer draw in `[min, max]` ms (inclusive); a log-normal delay makes one
//! draw of the distribution (seconds), capped at `max_s` when given (else at
//! [`MAX_DELAY_MS`]).

use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, LogNormal};
use serde::{Deserialize, Serialize};

use crate::time::{MS_PER_SEC, Millis, secs_to_millis};

/// The longest delay ever returned, in ms (one year): the cap of an uncapped
/// log-normal draw, so that a heavy tail cannot overflow the clock.
pub const MAX_DELAY_MS: Millis = 365 * 24 * 3_600 * MS_PER_SEC;

/// A per-node provisioning delay distribution. Every time is in seconds
/// (fractions allowed, rounded to the millisecond).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum DelaySpec {
    /// Always `seconds`.
    Fixed {
        /// The delay, in seconds (≥ 0).
        seconds: f64,
    },
    /// Uniform over `[min_s, max_s]` (whole milliseconds, both ends included).
    Uniform {
        /// Shortest delay, in seconds (≥ 0).
        min_s: f64,
        /// Longest delay, in seconds (≥ `min_s`).
        max_s: f64,
    },
    /// Log-normal with median `median_s` (that is, `μ = ln median_s`) and shape
    /// `sigma`, capped at `max_s` when given.
    #[serde(rename = "lognormal")]
    LogNormal {
        /// The median delay, in seconds (> 0).
        median_s: f64,
        /// Standard deviation of the log of the delay (≥ 0; 0 is always the median).
        sigma: f64,
        /// Optional cap, in seconds (≥ 0).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_s: Option<f64>,
    },
}

impl Default for DelaySpec {
    /// No delay: nodes are ready as soon as they are asked for.
    fn default() -> Self {
        DelaySpec::Fixed { seconds: 0.0 }
    }
}

/// Seconds → ms, or an error naming `field`.
fn ms(at: &str, field: &str, secs: f64) -> Result<Millis, String> {
    secs_to_millis(secs)
        .map(|m| m.min(MAX_DELAY_MS))
        .ok_or_else(|| {
            format!("{at}.{field}: expected a non-negative number of seconds, got {secs}")
        })
}

impl DelaySpec {
    /// Checks the parameters; the error names the field under `at` (e.g.
    /// `autoscaler.node_groups.a100.provisioning.max_s: …`).
    pub fn validate(&self, at: &str) -> Result<(), String> {
        match *self {
            DelaySpec::Fixed { seconds } => ms(at, "seconds", seconds).map(drop),
            DelaySpec::Uniform { min_s, max_s } => {
                let lo = ms(at, "min_s", min_s)?;
                let hi = ms(at, "max_s", max_s)?;
                if hi < lo {
                    return Err(format!("{at}.max_s: {max_s} is below min_s {min_s}"));
                }
                Ok(())
            }
            DelaySpec::LogNormal {
                median_s,
                sigma,
                max_s,
            } => {
                if !median_s.is_finite() || median_s <= 0.0 {
                    return Err(format!(
                        "{at}.median_s: expected a positive number of seconds, got {median_s}"
                    ));
                }
                if !sigma.is_finite() || sigma < 0.0 {
                    return Err(format!(
                        "{at}.sigma: expected a non-negative number, got {sigma}"
                    ));
                }
                if let Some(max) = max_s {
                    ms(at, "max_s", max)?;
                }
                Ok(())
            }
        }
    }

    /// Draws one node's delay, in ms, within the distribution's bounds.
    ///
    /// Never panics: a spec that fails [`DelaySpec::validate`] gives a
    /// degenerate but bounded answer (out-of-range seconds count as 0, an
    /// inverted uniform range is its lower end, a bad log-normal is its median
    /// or 0).
    pub fn sample(&self, rng: &mut ChaCha8Rng) -> Millis {
        let to_ms = |s: f64| secs_to_millis(s).unwrap_or(0).min(MAX_DELAY_MS);
        match *self {
            DelaySpec::Fixed { seconds } => to_ms(seconds),
            DelaySpec::Uniform { min_s, max_s } => {
                let (lo, hi) = (to_ms(min_s), to_ms(max_s));
                if hi <= lo {
                    lo
                } else {
                    rng.random_range(lo..=hi)
                }
            }
            DelaySpec::LogNormal {
                median_s,
                sigma,
                max_s,
            } => {
                let cap = max_s.map_or(MAX_DELAY_MS, to_ms);
                let secs = match LogNormal::new(median_s.ln(), sigma) {
                    Ok(d) if median_s > 0.0 => d.sample(rng),
                    _ => median_s,
                };
                to_ms(secs).min(cap)
            }
        }
    }

    /// The smallest and largest delay [`DelaySpec::sample`] can return, in ms.
    pub fn bounds(&self) -> (Millis, Millis) {
        let to_ms = |s: f64| secs_to_millis(s).unwrap_or(0).min(MAX_DELAY_MS);
        match *self {
            DelaySpec::Fixed { seconds } => (to_ms(seconds), to_ms(seconds)),
            DelaySpec::Uniform { min_s, max_s } => {
                let lo = to_ms(min_s);
                (lo, to_ms(max_s).max(lo))
            }
            DelaySpec::LogNormal { max_s, .. } => (0, max_s.map_or(MAX_DELAY_MS, to_ms)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn parses_each_kind_and_rejects_unknown_fields() {
        let d: DelaySpec = toml::from_str("kind = \"fixed\"\nseconds = 1.5").unwrap();
        assert_eq!(d, DelaySpec::Fixed { seconds: 1.5 });
        let d: DelaySpec =
            toml::from_str("kind = \"lognormal\"\nmedian_s = 60.0\nsigma = 0.5").unwrap();
        assert_eq!(
            d,
            DelaySpec::LogNormal {
                median_s: 60.0,
                sigma: 0.5,
                max_s: None
            }
        );
        let e = toml::from_str::<DelaySpec>("kind = \"fixed\"\nsecs = 1.0").unwrap_err();
        assert!(e.to_string().contains("secs"), "{e}");
        let e = toml::from_str::<DelaySpec>("kind = \"gamma\"").unwrap_err();
        assert!(e.to_string().contains("gamma"), "{e}");
    }

    #[test]
    fn validation_names_the_field() {
        let at = "g.provisioning";
        let bad = DelaySpec::Uniform {
            min_s: 10.0,
            max_s: 5.0,
        };
        assert!(
            bad.validate(at)
                .unwrap_err()
                .starts_with("g.provisioning.max_s:")
        );
        let bad = DelaySpec::LogNormal {
            median_s: 0.0,
            sigma: 1.0,
            max_s: None,
        };
        assert!(bad.validate(at).unwrap_err().contains(".median_s:"));
        let bad = DelaySpec::Fixed { seconds: f64::NAN };
        assert!(bad.validate(at).unwrap_err().contains(".seconds:"));
        // Invalid specs still sample without panicking.
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        assert_eq!(bad.sample(&mut rng), 0);
    }

    #[test]
    fn fixed_draws_nothing() {
        let mut a = ChaCha8Rng::seed_from_u64(3);
        let b = a.clone();
        assert_eq!(DelaySpec::Fixed { seconds: 2.0005 }.sample(&mut a), 2_001);
        assert_eq!(a, b);
    }
}
