//! Tiresias discretised two-dimensional LAS (Gu et al., "Tiresias: A GPU
//! Cluster Manager for Distributed Deep Learning", NSDI'19, §3.2 and its
//! simulator). A job's attained service is the GPU time it has held, GPUs ×
//! time ([`crate::engine::JobProgress::attained_gpu_milli_ms`]); no job
//! durations are needed.
//!
//! Queues: with thresholds T₁ < T₂ < … (GPU-seconds), a job is in queue k =
//! the number of thresholds its service has reached (service ≥ Tᵢ), so K
//! thresholds make K + 1 queues, queue 0 first. Within a queue jobs go FIFO:
//! earlier submission first, then lower job id.
//!
//! Each pass walks every pending and running job in (queue, submission, id)
//! order, as [`super::Srtf`] does with its own rank: running jobs keep running,
//! pending jobs that fit start (later jobs may start when an earlier one does
//! not fit; the pass is work conserving), and a pending job that does not fit
//! preempts the fewest running jobs that rank strictly after it (lowest queue
//! priority, then latest arrival, first) that make its whole gang fit, if
//! preempting all of them would. So a job demoted to a lower-priority queue
//! is preempted by waiting jobs of higher-priority queues (and, within one
//! queue, a later arrival running by backfill yields to an earlier one that
//! it keeps from fitting). A job is never preempted in the instant it
//! (re)started.
//!
//! Demotion happens on time: after each pass the policy asks for a pass
//! (`wake_at`) at the instant each running job's service reaches its next
//! threshold (a job of g GPUs gains g GPU-ms per ms, restore time included).
//!
//! Starvation: with `promote_after_s` set, a pending job that has waited at
//! least that long since it last became pending
//! ([`crate::engine::JobProgress::queued_at`]) goes back to queue 0: its
//! service is counted from that moment on, so it is demoted again only after
//! gaining another T₁ of service. The policy asks for a pass at the instant a
//! waiting job becomes due.
//!
//! Preemption overhead is the engine's: a preempted job keeps its progress to
//! the last checkpoint (`EngineConfig::checkpoint_interval`) and pays
//! `EngineConfig::restore_overhead` (scenario `[preemption]`) on restart.
//!
//! Parameters (`[policy.scheduler_params]`):
//! - `thresholds_gpu_s` (GPU-seconds, strictly increasing, each > 0; default
//!   `[3250, 7200]`: three queues, as in the Tiresias simulator). An empty
//!   list is one FIFO queue with preemption.
//! - `promote_after_s` (seconds, > 0; default none: no promotion).
//! - `min_runtime_s` (seconds, ≥ 0, default 0): a running job may be
//!   preempted only after it has run this long in its current run (not in
//!   the paper). Set it to at least the checkpoint interval when thresholds
//!   are small or promotion is quick: otherwise a job may be preempted before
//!   it ever reaches a checkpoint, again and again. When a job is protected
//!   only by this, the policy asks for a pass when its protection ends.
//!
//! Without promotion every job finishes, checkpoints or not (demotions are
//! finite and FIFO order within the last queue is fixed). With promotion and
//! no checkpoints (`checkpoint_interval = 0`, the engine's default), long jobs
//! that keep displacing each other lose their progress each time and may
//! never finish: use promotion with checkpoints and a `min_runtime_s` of at
//! least their interval.
//!
//! Deviations from the paper: the paper's PromoteKnob promotes a job when its
//! waiting time exceeds a multiple of its last run time; here the waiting time
//! is compared with a fixed `promote_after_s`. Tiresias also uses profiled
//! skew for consolidated placement; placement here is the scenario's
//! placement policy. The "fewest victims" rule refines the simulator, which
//! preempts every running job outside the chosen set.

use serde::Deserialize;

use super::srtf::{Slot, preemptive_pass, seconds, wake_when_protection_ends};
use super::{Scheduler, SchedulingPass, parse_params};
use crate::engine::{JobProgress, JobState};
use crate::ids::JobId;
use crate::time::{Millis, SimTime, secs_to_millis};

/// Milli-GPU·ms in one GPU-second.
const GPU_S: u128 = 1_000 * 1_000;

/// Tiresias discretised 2D-LAS; see the module docs.
#[derive(Debug, Clone)]
pub struct Tiresias {
    /// Queue thresholds, milli-GPU·ms, strictly increasing.
    thresholds: Vec<u128>,
    /// Waiting time after which a job returns to queue 0, ms.
    promote_after: Option<Millis>,
    /// Minimum run before a job may be preempted, ms.
    min_runtime: Millis,
    /// Per job: service counted as zero (set at promotion), milli-GPU·ms.
    /// Indexed by job id, grown on demand.
    base: Vec<u128>,
}

impl Default for Tiresias {
    fn default() -> Self {
        Tiresias {
            thresholds: vec![3250 * GPU_S, 7200 * GPU_S],
            promote_after: None,
            min_runtime: 0,
            base: Vec::new(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default = "default_thresholds")]
    thresholds_gpu_s: Vec<f64>,
    #[serde(default)]
    promote_after_s: Option<f64>,
    #[serde(default)]
    min_runtime_s: f64,
}

fn default_thresholds() -> Vec<f64> {
    vec![3250.0, 7200.0]
}

impl Tiresias {
    /// Builds the policy from `[policy.scheduler_params]`.
    pub fn from_params(params: &toml::Table) -> Result<Self, String> {
        let p: Params = parse_params(params)?;
        let mut thresholds = Vec::with_capacity(p.thresholds_gpu_s.len());
        for (i, &t) in p.thresholds_gpu_s.iter().enumerate() {
            // GPU-seconds → milli-GPU·ms is ×10⁶; secs_to_millis gives ×10³.
            let v = secs_to_millis(t)
                .filter(|&ms| ms > 0)
                .map(|ms| u128::from(ms) * 1_000);
            let Some(v) = v else {
                return Err(format!(
                    "`thresholds_gpu_s[{i}]`: got {t}, expected a number of GPU-seconds > 0"
                ));
            };
            if thresholds.last().is_some_and(|&prev| v <= prev) {
                return Err(format!(
                    "`thresholds_gpu_s[{i}]`: got {t}, expected more than the previous threshold \
                     (the list must be strictly increasing)"
                ));
            }
            thresholds.push(v);
        }
        let promote_after = match p.promote_after_s {
            None => None,
            Some(s) => Some(seconds("promote_after_s", s, true)?),
        };
        Ok(Tiresias {
            thresholds,
            promote_after,
            min_runtime: seconds("min_runtime_s", p.min_runtime_s, false)?,
            base: Vec::new(),
        })
    }

    /// Service counted toward the queues.
    fn service(&self, pass: &dyn SchedulingPass, job: JobId) -> u128 {
        let base = self.base.get(job.index()).copied().unwrap_or(0);
        pass.progress(job)
            .attained_gpu_milli_ms
            .saturating_sub(base)
    }

    /// The queue of a job: thresholds reached.
    fn queue(&self, pass: &dyn SchedulingPass, job: JobId) -> usize {
        let s = self.service(pass, job);
        self.thresholds.partition_point(|&t| t <= s)
    }
}

impl Scheduler for Tiresias {
    fn name(&self) -> &'static str {
        "tiresias"
    }

    fn work_conserving(&self) -> bool {
        true
    }

    fn schedule(&mut self, pass: &mut dyn SchedulingPass) {
        let now = pass.now();
        if let Some(after) = self.promote_after {
            let n = pass.workload().jobs.len();
            if self.base.len() < n {
                self.base.resize(n, 0);
            }
            for i in 0..pass.pending().len() {
                let j = pass.pending()[i];
                let p = pass.progress(j);
                if now - p.queued_at >= after && self.queue(&*pass, j) > 0 {
                    self.base[j.index()] = p.attained_gpu_milli_ms;
                }
            }
        }
        let me = &*self;
        let rank = |p: &dyn SchedulingPass, j| me.queue(p, j);
        let min_runtime = self.min_runtime;
        let protect = move |_: &JobProgress, _: SimTime| min_runtime;
        let ranked: Vec<Slot<usize>> = preemptive_pass(pass, &rank, &protect);
        if min_runtime > 0 {
            wake_when_protection_ends(pass, &ranked, &protect);
        }
        self.request_wakes(pass, &ranked, now);
    }
}

impl Tiresias {
    /// Asks for passes when running jobs reach their next threshold and when
    /// waiting jobs become due for promotion.
    fn request_wakes(&self, pass: &mut dyn SchedulingPass, ranked: &[Slot<usize>], now: SimTime) {
        let mut wakes = Vec::new();
        for s in ranked {
            let j = s.2;
            // Only running jobs (and, with promotion, waiting ones) need a
            // wake-up; skip the progress computation for the rest.
            let state = pass.state(j);
            if state != JobState::Running
                && (state != JobState::Pending || self.promote_after.is_none())
            {
                continue;
            }
            let p = pass.progress(j);
            match p.state {
                JobState::Running => {
                    let rate = u128::from(pass.job(j).total_gpu_milli());
                    let service = self.service(&*pass, j);
                    let next = self.thresholds.iter().find(|&&t| t > service);
                    if let (Some(&t), true) = (next, rate > 0) {
                        let dt = (t - service).div_ceil(rate);
                        wakes.push(now + u64::try_from(dt).unwrap_or(u64::MAX));
                    }
                }
                JobState::Pending => {
                    if let Some(after) = self.promote_after
                        && self.queue(&*pass, j) > 0
                    {
                        wakes.push(p.queued_at + after);
                    }
                }
                _ => {}
            }
        }
        for at in wakes {
            pass.wake_at(at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(s: &str) -> toml::Table {
        s.parse().unwrap()
    }

    #[test]
    fn parses_and_validates() {
        let t = Tiresias::from_params(&table("")).unwrap();
        assert_eq!(t.thresholds, [3_250_000_000, 7_200_000_000]);
        assert_eq!(t.promote_after, None);
        let t =
            Tiresias::from_params(&table("thresholds_gpu_s = [10]\npromote_after_s = 30")).unwrap();
        assert_eq!(t.thresholds, [10_000_000]);
        assert_eq!(t.promote_after, Some(30_000));
        assert!(
            Tiresias::from_params(&table("thresholds_gpu_s = []"))
                .unwrap()
                .thresholds
                .is_empty()
        );
        let e = Tiresias::from_params(&table("thresholds_gpu_s = [10, 5]")).unwrap_err();
        assert!(
            e.contains("thresholds_gpu_s[1]") && e.contains("increasing"),
            "{e}"
        );
        let e = Tiresias::from_params(&table("thresholds_gpu_s = [0]")).unwrap_err();
        assert!(
            e.contains("thresholds_gpu_s[0]") && e.contains("> 0"),
            "{e}"
        );
        let e = Tiresias::from_params(&table("promote_after_s = -1")).unwrap_err();
        assert!(e.contains("promote_after_s"), "{e}");
        let e = Tiresias::from_params(&table("min_runtime_s = -2")).unwrap_err();
        assert!(e.contains("min_runtime_s"), "{e}");
        let e = Tiresias::from_params(&table("thresholds = [1]")).unwrap_err();
        assert!(e.contains("thresholds"), "{e}");
    }
}
