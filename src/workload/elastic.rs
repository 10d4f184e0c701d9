//! Elastic training jobs: a job that may run with any worker count between a
//! minimum and a maximum, at a speed given by its scaling curve (TorchElastic /
//! Horovod Elastic jobs, as Pollux and AFS schedule them).

use serde::Serialize;

/// How a job's throughput grows with its workers: the speedup over one worker.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scaling {
    /// `1 + (w - 1) × efficiency`: every added worker contributes `efficiency`
    /// of a worker (0 < efficiency ≤ 1).
    Linear { efficiency: f64 },
    /// Speedup at 1, 2, 3… workers (the first entry is 1.0, entries never
    /// decrease); beyond the table the speedup stays at its last value.
    Table(Vec<f64>),
}

impl Scaling {
    /// Speedup of `workers` workers over one (dimensionless, ≥ 1 for w ≥ 1).
    pub fn speedup(&self, workers: u32) -> f64 {
        let w = workers.max(1);
        match self {
            Scaling::Linear { efficiency } => 1.0 + f64::from(w - 1) * efficiency,
            Scaling::Table(t) => t.get(w as usize - 1).or(t.last()).copied().unwrap_or(1.0),
        }
    }

    /// Checks the curve; the message says what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            Scaling::Linear { efficiency } => {
                if !(efficiency.is_finite() && *efficiency > 0.0 && *efficiency <= 1.0) {
                    return Err(format!("efficiency must be in (0, 1], got {efficiency}"));
                }
            }
            Scaling::Table(t) => {
                if t.first() != Some(&1.0) {
                    return Err("the speedup table must start with 1.0 (one worker)".into());
                }
                if let Some(w) = t
                    .windows(2)
                    .position(|p| !(p[1].is_finite() && p[1] >= p[0]))
                {
                    return Err(format!(
                        "the speedup table must not decrease: entry {} ({}) is below entry {} ({})",
                        w + 2,
                        t[w + 1],
                        w + 1,
                        t[w]
                    ));
                }
            }
        }
        Ok(())
    }
}

/// What makes a job elastic.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ElasticSpec {
    /// Fewest workers the job runs with (≥ 1, ≤ the job's requested workers).
    pub min_workers: u32,
    /// Most workers the job can use (≥ the requested workers).
    pub max_workers: u32,
    pub scaling: Scaling,
}

impl ElasticSpec {
    /// Throughput with `workers` workers relative to the job's requested
    /// `base` workers, in millionths (1,000,000 = the speed its `duration`
    /// assumes; millionths keep run lengths exact to the millisecond).
    pub fn rate_ppm(&self, workers: u32, base: u32) -> u64 {
        let r = self.scaling.speedup(workers) / self.scaling.speedup(base);
        ((r * 1e6).round() as u64).max(1)
    }

    /// Relative gain of going from `workers` to `workers + 1`:
    /// S(w+1)/S(w) − 1 (0 at the maximum).
    pub fn marginal_gain(&self, workers: u32) -> f64 {
        if workers >= self.max_workers {
            return 0.0;
        }
        self.scaling.speedup(workers + 1) / self.scaling.speedup(workers) - 1.0
    }

    /// Relative loss of going from `workers` to `workers − 1`:
    /// 1 − S(w−1)/S(w) (infinite at the minimum: never shrink below it).
    pub fn marginal_loss(&self, workers: u32) -> f64 {
        if workers <= self.min_workers {
            return f64::INFINITY;
        }
        1.0 - self.scaling.speedup(workers - 1) / self.scaling.speedup(workers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_and_table_speedups() {
        let lin = Scaling::Linear { efficiency: 0.5 };
        assert_eq!(lin.speedup(1), 1.0);
        assert_eq!(lin.speedup(3), 2.0);
        let table = Scaling::Table(vec![1.0, 1.8, 2.4]);
        assert_eq!(table.speedup(2), 1.8);
        assert_eq!(table.speedup(5), 2.4, "flat beyond the table");
        assert!(Scaling::Table(vec![1.0, 0.9]).validate().is_err());
        assert!(Scaling::Table(vec![2.0]).validate().is_err());
        assert!(Scaling::Linear { efficiency: 1.5 }.validate().is_err());
    }

    #[test]
    fn rates_relative_to_the_requested_size() {
        let e = ElasticSpec {
            min_workers: 1,
            max_workers: 4,
            scaling: Scaling::Linear { efficiency: 0.5 },
        };
        // Requested 2 workers (speedup 1.5): 4 workers (2.5) run 5/3 as fast.
        assert_eq!(e.rate_ppm(4, 2), 1_666_667);
        assert_eq!(e.rate_ppm(1, 2), 666_667);
        assert_eq!(e.rate_ppm(2, 2), 1_000_000);
        assert!((e.marginal_gain(1) - 0.5).abs() < 1e-12);
        assert_eq!(e.marginal_gain(4), 0.0);
        assert_eq!(e.marginal_loss(1), f64::INFINITY);
    }
}

/// Which jobs of a workload are elastic, and how (`[elastic]` in a scenario).
/// Only jobs whose workers hold whole GPUs can be elastic.
#[derive(Debug, Clone, PartialEq)]
pub struct ElasticRule {
    /// Share of the eligible jobs made elastic, 0..=1, drawn with the
    /// scenario seed (1 = all).
    pub fraction: f64,
    /// Only jobs of these tenants (empty: every tenant).
    pub tenants: Vec<String>,
    /// Fewest workers (capped at the job's requested workers).
    pub min_workers: u32,
    /// Most workers as a multiple of the requested workers, rounded up (≥ 1).
    pub max_workers_factor: f64,
    pub scaling: Scaling,
}

impl ElasticRule {
    /// Checks the rule; the message says what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.fraction) {
            return Err(format!("fraction must be in [0, 1], got {}", self.fraction));
        }
        if self.min_workers == 0 {
            return Err("min_workers must be at least 1".into());
        }
        if !(self.max_workers_factor.is_finite() && self.max_workers_factor >= 1.0) {
            return Err(format!(
                "max_workers_factor must be at least 1, got {}",
                self.max_workers_factor
            ));
        }
        self.scaling.validate()
    }

    /// Marks the chosen jobs elastic; returns how many. The draw for each job
    /// depends only on the seed and the job's index, so it is stable.
    pub fn apply(&self, workload: &mut crate::workload::Workload, seed: u64) -> usize {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x454c_4153_5449_4301);
        let tenants: Vec<Option<crate::ids::TenantId>> = self
            .tenants
            .iter()
            .map(|t| {
                workload
                    .tenants
                    .iter()
                    .position(|n| n == t)
                    .map(crate::ids::TenantId::from_index)
            })
            .collect();
        let mut made = 0;
        for job in &mut workload.jobs {
            // One draw per job whatever the outcome, so one job's eligibility
            // does not shift the others' draws.
            let draw: f64 = rng.random();
            let eligible =
                job.gpu.whole() > 0 && (tenants.is_empty() || tenants.contains(&Some(job.tenant)));
            if !eligible || draw >= self.fraction {
                continue;
            }
            let max =
                ((f64::from(job.workers) * self.max_workers_factor).ceil() as u32).max(job.workers);
            job.elastic = Some(Box::new(ElasticSpec {
                min_workers: self.min_workers.min(job.workers),
                max_workers: max,
                scaling: self.scaling.clone(),
            }));
            made += 1;
        }
        made
    }
}
