//! Node failures and spot reclaims: what the scenario's `[faults]` table
//! describes, and the seeded draws of when they happen. A failure kills the
//! node's jobs (they restart from their last checkpoint, up to the retry
//! limit, like a Job's `backoffLimit`) and the node returns after repair; a
//! spot reclaim removes the node for good at the end of its notice.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;

use crate::ids::NodeId;
use crate::time::{Millis, SimTime, secs_to_millis};

/// Time-between-failures distribution.
#[derive(Debug, Clone, Copy, PartialEq, Default, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind", deny_unknown_fields)]
pub enum FailureDistribution {
    /// Memoryless: exponential with mean MTBF.
    #[default]
    Exponential,
    /// Weibull with this shape (< 1: infant mortality, > 1: wear-out), scaled
    /// so that its mean is the MTBF.
    Weibull { shape: f64 },
}

/// Failures of one pool's nodes.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailureSpec {
    /// Mean time between failures of one node, hours.
    pub mtbf_h: f64,
    /// Mean time to repair, hours (repairs are exponential).
    pub mttr_h: f64,
    #[serde(default)]
    pub distribution: FailureDistribution,
}

/// Spot reclaims of one pool's nodes.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpotSpec {
    /// Reclaims per node-hour (a Poisson rate).
    pub reclaims_per_node_hour: f64,
    /// Notice before the node goes, seconds (the node keeps working meanwhile).
    #[serde(default = "default_notice")]
    pub notice_s: f64,
}

fn default_notice() -> f64 {
    120.0
}

/// A scripted outage: node `node` of pool `pool` goes down at `at_s`; it comes
/// back after `down_for_s`, or never (a reclaim) when that is absent.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptedOutage {
    pub at_s: f64,
    pub pool: String,
    /// Index of the node within its pool, from 0.
    pub node: u32,
    #[serde(default)]
    pub down_for_s: Option<f64>,
}

/// Reads scripted outages from a CSV file with the header
/// `at_s,pool,node,down_for_s` (an empty `down_for_s` is a reclaim: the node
/// never returns). Returns each row with its line number; errors name the
/// file, line and column.
pub fn read_outages(path: &std::path::Path) -> Result<Vec<(u64, ScriptedOutage)>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let expected = ["at_s", "pool", "node", "down_for_s"];
    let header = reader
        .headers()
        .map_err(|e| format!("{}: {e}", path.display()))?
        .clone();
    if header.iter().collect::<Vec<_>>() != expected {
        return Err(format!(
            "{}:1: expected the header {:?}, got {:?}",
            path.display(),
            expected.join(","),
            header.iter().collect::<Vec<_>>().join(",")
        ));
    }
    let mut out = Vec::new();
    for row in reader.records() {
        let row = row.map_err(|e| format!("{}: {e}", path.display()))?;
        let line = row.position().map_or(0, |p| p.line());
        let bad = |col: &str, what: &str, got: &str| {
            format!(
                "{}:{line}: column {col}: expected {what}, got {got:?}",
                path.display()
            )
        };
        let at_s: f64 = row[0]
            .parse()
            .map_err(|_| bad("at_s", "seconds", &row[0]))?;
        let node: u32 = row[2]
            .parse()
            .map_err(|_| bad("node", "a node index within the pool", &row[2]))?;
        let down_for_s = match &row[3] {
            "" => None,
            d => Some(
                d.parse::<f64>()
                    .map_err(|_| bad("down_for_s", "seconds or empty", d))?,
            ),
        };
        out.push((
            line,
            ScriptedOutage {
                at_s,
                pool: row[1].to_string(),
                node,
                down_for_s,
            },
        ));
    }
    Ok(out)
}

/// The engine's fault settings, resolved to node ids.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FaultConfig {
    /// Per pool (by pool index): failures and spot reclaims.
    pub failures: Vec<Option<FailureSpec>>,
    pub spot: Vec<Option<SpotSpec>>,
    /// (when, node, down for; `None` = gone for good).
    pub scripted: Vec<(SimTime, NodeId, Option<Millis>)>,
    /// Kills a job survives before it fails (Kubernetes Job `backoffLimit`).
    pub backoff_limit: u32,
    /// Seed of the failure and reclaim draws.
    pub seed: u64,
}

impl FaultConfig {
    /// True when nothing can fail.
    pub fn is_empty(&self) -> bool {
        self.scripted.is_empty()
            && self.failures.iter().all(Option::is_none)
            && self.spot.iter().all(Option::is_none)
    }
}

/// Draws from a mean-`mean_ms` exponential distribution, in ms (at least 1).
pub fn exponential(rng: &mut ChaCha8Rng, mean_ms: f64) -> Millis {
    // 1 − U lies in (0, 1], so the logarithm is finite.
    let u: f64 = 1.0 - rng.random::<f64>();
    ((-u.ln() * mean_ms).round() as Millis).max(1)
}

impl FailureSpec {
    /// Checks the values; the message names the field.
    pub fn validate(&self, at: &str) -> Result<(), String> {
        if !(self.mtbf_h.is_finite() && self.mtbf_h > 0.0) {
            return Err(format!(
                "{at}.mtbf_h: expected a positive number of hours, got {}",
                self.mtbf_h
            ));
        }
        if !(self.mttr_h.is_finite() && self.mttr_h >= 0.0) {
            return Err(format!(
                "{at}.mttr_h: expected a non-negative number of hours, got {}",
                self.mttr_h
            ));
        }
        if let FailureDistribution::Weibull { shape } = self.distribution
            && !(shape.is_finite() && shape > 0.0)
        {
            return Err(format!(
                "{at}.distribution.shape: expected a positive Weibull shape, got {shape}"
            ));
        }
        Ok(())
    }

    /// Time to the next failure of a node, ms.
    pub fn time_to_failure(&self, rng: &mut ChaCha8Rng) -> Millis {
        let mean = self.mtbf_h * 3_600_000.0;
        match self.distribution {
            FailureDistribution::Exponential => exponential(rng, mean),
            FailureDistribution::Weibull { shape } => {
                // Scale so the mean is the MTBF: mean = λ Γ(1 + 1/k).
                let scale = mean / gamma(1.0 + 1.0 / shape);
                let u: f64 = 1.0 - rng.random::<f64>();
                ((scale * (-u.ln()).powf(1.0 / shape)).round() as Millis).max(1)
            }
        }
    }

    /// Repair time, ms.
    pub fn time_to_repair(&self, rng: &mut ChaCha8Rng) -> Millis {
        exponential(rng, self.mttr_h * 3_600_000.0)
    }
}

impl SpotSpec {
    /// Checks the values; the message names the field.
    pub fn validate(&self, at: &str) -> Result<(), String> {
        if !(self.reclaims_per_node_hour.is_finite() && self.reclaims_per_node_hour > 0.0) {
            return Err(format!(
                "{at}.reclaims_per_node_hour: expected a positive rate, got {}",
                self.reclaims_per_node_hour
            ));
        }
        if secs_to_millis(self.notice_s).is_none() {
            return Err(format!(
                "{at}.notice_s: expected a non-negative number of seconds, got {}",
                self.notice_s
            ));
        }
        Ok(())
    }

    /// Time from now to the reclaim notice of a node, ms.
    pub fn time_to_notice(&self, rng: &mut ChaCha8Rng) -> Millis {
        exponential(rng, 3_600_000.0 / self.reclaims_per_node_hour)
    }

    /// The notice period, ms.
    pub fn notice(&self) -> Millis {
        secs_to_millis(self.notice_s).unwrap_or(0)
    }
}

/// The gamma function for x > 0 (Lanczos approximation, g = 7), accurate to
/// about 1e-13: enough to scale Weibull draws to a mean.
fn gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        std::f64::consts::PI / ((std::f64::consts::PI * x).sin() * gamma(1.0 - x))
    } else {
        let x = x - 1.0;
        let t = x + 7.5;
        let a = G[1..]
            .iter()
            .enumerate()
            .fold(G[0], |acc, (i, g)| acc + g / (x + i as f64 + 1.0));
        (2.0 * std::f64::consts::PI).sqrt() * t.powf(x + 0.5) * (-t).exp() * a
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn gamma_matches_known_values() {
        assert!((gamma(1.0) - 1.0).abs() < 1e-12);
        assert!((gamma(5.0) - 24.0).abs() < 1e-9);
        assert!((gamma(0.5) - std::f64::consts::PI.sqrt()).abs() < 1e-12);
    }

    #[test]
    fn draws_have_the_requested_means() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for dist in [
            FailureDistribution::Exponential,
            FailureDistribution::Weibull { shape: 2.0 },
        ] {
            let f = FailureSpec {
                mtbf_h: 10.0,
                mttr_h: 1.0,
                distribution: dist,
            };
            let n = 20_000;
            let mean = (0..n)
                .map(|_| f.time_to_failure(&mut rng) as f64)
                .sum::<f64>()
                / n as f64;
            assert!((mean / 36_000_000.0 - 1.0).abs() < 0.03, "{dist:?}: {mean}");
        }
    }
}
