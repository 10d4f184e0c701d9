//! Latency of a service from its load: `λ` requests per second spread over `c`
//! ready replicas, each serving `capacity_rps` requests per second.
//!
//! - **`mmc`**: an M/M/c queue (Poisson arrivals, exponential service, one
//!   FCFS queue in front of `c` servers, one server per replica with service
//!   rate `μ = capacity_rps`). Utilisation `ρ = λ / (c μ)`. The probability of
//!   waiting is Erlang C, computed from the Erlang B recursion
//!   `B₀ = 1, Bₖ = a Bₖ₋₁ / (k + a Bₖ₋₁)` with `a = λ/μ` (stable for any `c`,
//!   no factorials), then `C = B / (1 − ρ (1 − B))`. Mean response time
//!   `W = 1/μ + C / (cμ − λ)`. The response time is the sum of the service
//!   time `S ~ Exp(μ)` and the wait, which is 0 with probability `1 − C` and
//!   `Exp(θ)` with `θ = cμ − λ` otherwise (independent of `S` under FCFS), so
//!   its survival function has the closed form
//!   `P(T > t) = (1 − C) e^{−μt} + C · H(t)` where `H` is the survival of the
//!   hypoexponential `Exp(μ) + Exp(θ)`:
//!   `H(t) = e^{−αt} (1 + α (1 − e^{−(β−α)t}) / (β − α))` with `α = min(μ, θ)`,
//!   `β = max(μ, θ)` (written with `expm1`, so it is exact also for `μ = θ`,
//!   where it is the Erlang-2 survival `e^{−μt}(1 + μt)`, and never overflows).
//!   The p95 is the root of `P(T > t) = 0.05`, found by bisection to a relative
//!   precision of 1e-12. With `c = 1` this is M/M/1: `T ~ Exp(μ − λ)`,
//!   `p95 = ln 20 / (μ − λ)`.
//! - **`curve`**: a piecewise-linear map from utilisation `ρ` to the p95
//!   latency in ms, `points = [[0.0, 40.0], [0.5, 50.0], [0.9, 200.0]]`;
//!   below the first point the first latency, above the last the last. The
//!   curve gives one latency, so the mean is reported equal to it.
//!
//! Both models: `ρ ≥ 1` (or no ready replica while requests arrive) is
//! **saturated**: the queue grows without bound and both latencies are
//! `saturated_latency_ms` (default 10,000 ms, e.g. the client timeout); finite
//! latencies above that cap are clamped to it. With no requests the latency
//! is that of an idle service (`1/μ` mean for `mmc`), or 0 without replicas.

use serde::{Deserialize, Serialize};

use super::{SpecError, non_negative, positive};

/// Default latency of a saturated service, ms.
pub const DEFAULT_SATURATED_LATENCY_MS: f64 = 10_000.0;

/// The quantile reported as `p95_ms`.
pub const P95: f64 = 0.95;

/// How a service's latency follows from its load (scenario type, tagged by
/// `kind`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", deny_unknown_fields)]
pub enum LatencyModel {
    /// An M/M/c queue, one server of rate `capacity_rps` per replica.
    #[serde(rename = "mmc")]
    Mmc {
        /// Latency reported when saturated, and cap of finite latencies, ms.
        #[serde(default = "default_saturated")]
        saturated_latency_ms: f64,
    },
    /// A piecewise-linear utilisation → p95 latency curve.
    #[serde(rename = "curve")]
    Curve {
        /// `[utilisation (0..=1), latency ms]`, utilisation strictly increasing.
        points: Vec<[f64; 2]>,
        /// Latency reported when saturated, and cap of finite latencies, ms.
        #[serde(default = "default_saturated")]
        saturated_latency_ms: f64,
    },
}

fn default_saturated() -> f64 {
    DEFAULT_SATURATED_LATENCY_MS
}

/// A service's latency at one load.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LatencyEstimate {
    /// Mean response time (queueing + service), ms.
    pub mean_ms: f64,
    /// 95th percentile of the response time, ms.
    pub p95_ms: f64,
    /// `λ / (replicas × capacity_rps)`; infinite when requests arrive and no
    /// replica serves them.
    pub utilisation: f64,
    /// True when `utilisation ≥ 1`: the queue grows without bound and the
    /// latencies are the model's `saturated_latency_ms`.
    pub saturated: bool,
}

impl LatencyModel {
    /// The M/M/c model with the default saturation latency.
    pub fn mmc() -> LatencyModel {
        LatencyModel::Mmc {
            saturated_latency_ms: DEFAULT_SATURATED_LATENCY_MS,
        }
    }

    /// Checks every field; errors name the field (`points[2]`, …).
    pub fn validate(&self) -> Result<(), SpecError> {
        match self {
            LatencyModel::Mmc {
                saturated_latency_ms,
            } => positive("saturated_latency_ms", *saturated_latency_ms),
            LatencyModel::Curve {
                points,
                saturated_latency_ms,
            } => {
                positive("saturated_latency_ms", *saturated_latency_ms)?;
                if points.is_empty() {
                    return Err(SpecError::new(
                        "points",
                        "expected at least one [utilisation, latency_ms] point",
                    ));
                }
                for (i, &[u, l]) in points.iter().enumerate() {
                    let field = format!("points[{i}]");
                    if !(0.0..=1.0).contains(&u) {
                        return Err(SpecError::new(
                            field,
                            format!("utilisation {u} is not in 0..=1"),
                        ));
                    }
                    non_negative(&field, l)?;
                    if i > 0 && points[i - 1][0] >= u {
                        return Err(SpecError::new(
                            field,
                            format!(
                                "utilisation {u} is not above the previous point's {}",
                                points[i - 1][0]
                            ),
                        ));
                    }
                }
                Ok(())
            }
        }
    }

    /// The latency cap and saturation value, ms.
    pub fn saturated_latency_ms(&self) -> f64 {
        match self {
            LatencyModel::Mmc {
                saturated_latency_ms,
            }
            | LatencyModel::Curve {
                saturated_latency_ms,
                ..
            } => *saturated_latency_ms,
        }
    }

    /// The latency with `lambda` requests per second over `replicas` ready
    /// replicas of `capacity_rps` requests per second each. Negative or NaN
    /// rates count as 0; a capacity that is not a finite number > 0 serves
    /// nothing.
    pub fn latency(&self, lambda: f64, replicas: u32, capacity_rps: f64) -> LatencyEstimate {
        let cap = self.saturated_latency_ms();
        let lambda = if lambda.is_nan() {
            0.0
        } else {
            lambda.max(0.0)
        };
        let serving = replicas > 0 && capacity_rps.is_finite() && capacity_rps > 0.0;
        if !serving {
            return if lambda > 0.0 {
                LatencyEstimate {
                    mean_ms: cap,
                    p95_ms: cap,
                    utilisation: f64::INFINITY,
                    saturated: true,
                }
            } else {
                LatencyEstimate {
                    mean_ms: 0.0,
                    p95_ms: 0.0,
                    utilisation: 0.0,
                    saturated: false,
                }
            };
        }
        let utilisation = lambda / (f64::from(replicas) * capacity_rps);
        if utilisation >= 1.0 {
            return LatencyEstimate {
                mean_ms: cap,
                p95_ms: cap,
                utilisation,
                saturated: true,
            };
        }
        let (mean_ms, p95_ms) = match self {
            LatencyModel::Mmc { .. } => {
                let mean =
                    mmc_mean_response_s(lambda, capacity_rps, replicas).unwrap_or(f64::INFINITY);
                let p95 = mmc_response_quantile_s(lambda, capacity_rps, replicas, P95)
                    .unwrap_or(f64::INFINITY);
                (mean * 1_000.0, p95 * 1_000.0)
            }
            LatencyModel::Curve { points, .. } => {
                let l = curve_at(points, utilisation);
                (l, l)
            }
        };
        LatencyEstimate {
            mean_ms: mean_ms.min(cap),
            p95_ms: p95_ms.min(cap),
            utilisation,
            saturated: false,
        }
    }
}

/// Linear interpolation of `[x, y]` points (x strictly increasing) at `x`,
/// flat outside them; 0 without points.
fn curve_at(points: &[[f64; 2]], x: f64) -> f64 {
    let Some(first) = points.first() else {
        return 0.0;
    };
    if x <= first[0] {
        return first[1];
    }
    for w in points.windows(2) {
        let ([x0, y0], [x1, y1]) = (w[0], w[1]);
        if x <= x1 {
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0);
        }
    }
    points[points.len() - 1][1]
}

/// Erlang C: the probability that an arrival waits in an M/M/c queue with
/// offered load `a = λ/μ` (in Erlangs) and `c` servers. `None` unless
/// `0 ≤ a < c`. Computed with the Erlang B recursion (`O(c)`, no overflow).
pub fn erlang_c(c: u32, a: f64) -> Option<f64> {
    if c == 0 || !(a.is_finite() && a >= 0.0) || a >= f64::from(c) {
        return None;
    }
    let mut b = 1.0;
    for k in 1..=c {
        b = a * b / (f64::from(k) + a * b);
    }
    let rho = a / f64::from(c);
    Some(b / (1.0 - rho * (1.0 - b)))
}

/// Mean response time (wait + service) of an M/M/c queue, seconds; `None`
/// when unstable (`λ ≥ cμ`) or the inputs are not finite and positive.
pub fn mmc_mean_response_s(lambda: f64, mu: f64, c: u32) -> Option<f64> {
    if !(mu.is_finite() && mu > 0.0) {
        return None;
    }
    let pw = erlang_c(c, lambda / mu)?;
    Some(1.0 / mu + pw / (f64::from(c) * mu - lambda))
}

/// `P(T > t)` of the M/M/c response time, with `pw` = Erlang C and
/// `theta = cμ − λ`; see the module docs.
fn mmc_survival(t: f64, mu: f64, theta: f64, pw: f64) -> f64 {
    let (a, b) = if mu <= theta {
        (mu, theta)
    } else {
        (theta, mu)
    };
    let d = b - a;
    // (1 − e^{−d t}) / d, → t as d → 0.
    let g = if d > 0.0 { -(-d * t).exp_m1() / d } else { t };
    let hypo = (-a * t).exp() * (1.0 + a * g);
    (1.0 - pw) * (-mu * t).exp() + pw * hypo
}

/// The `p`-quantile (0 < p < 1) of the M/M/c response time, seconds; `None`
/// when unstable or the inputs are out of range.
pub fn mmc_response_quantile_s(lambda: f64, mu: f64, c: u32, p: f64) -> Option<f64> {
    let p_in_range = p > 0.0 && p < 1.0;
    if !(mu.is_finite() && mu > 0.0 && p_in_range) {
        return None;
    }
    let pw = erlang_c(c, lambda / mu)?;
    let theta = f64::from(c) * mu - lambda;
    if theta.is_nan() || theta <= 0.0 {
        return None;
    }
    let target = 1.0 - p;
    // P(T > t) ≤ H(t) ≤ e^{−αt}(1 + αt): a finite bracket exists.
    let mut hi = 1.0 / mu.min(theta);
    let mut guard = 0;
    while mmc_survival(hi, mu, theta, pw) > target {
        hi *= 2.0;
        guard += 1;
        if guard > 2_000 || !hi.is_finite() {
            return None;
        }
    }
    let mut lo = 0.0;
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mmc_survival(mid, mu, theta, pw) > target {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo <= 1e-12 * hi {
            break;
        }
    }
    Some(0.5 * (lo + hi))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erlang_c_known_values() {
        // M/M/1: C = ρ.
        assert!((erlang_c(1, 0.5).unwrap() - 0.5).abs() < 1e-15);
        // M/M/2, a = 1: C = 2ρ²/(1+ρ) with ρ = 0.5 → 1/3.
        assert!((erlang_c(2, 1.0).unwrap() - 1.0 / 3.0).abs() < 1e-15);
        assert_eq!(erlang_c(2, 2.0), None);
        assert_eq!(erlang_c(0, 0.0), None);
        // Large c does not overflow.
        let c = erlang_c(10_000, 9_900.0).unwrap();
        assert!(c > 0.0 && c < 1.0, "{c}");
    }

    #[test]
    fn survival_is_continuous_at_equal_rates() {
        let a = mmc_survival(2.0, 1.0, 1.0, 0.4);
        let b = mmc_survival(2.0, 1.0, 1.0 + 1e-12, 0.4);
        assert!((a - b).abs() < 1e-10);
        // Far tail with very different rates stays finite.
        let s = mmc_survival(1e6, 1_000.0, 1e-3, 0.9);
        assert!(s.is_finite() && (0.0..=1.0).contains(&s));
    }
}
