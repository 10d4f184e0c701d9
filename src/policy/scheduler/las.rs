//! Least attained service (LAS, also foreground-background scheduling;
//! Nuyens & Wierman, 2008), in the two-dimensional form of Tiresias
//! (Gu et al., NSDI'19): a job's attained service is the GPU time it has
//! held so far over all its runs, GPUs × time
//! ([`crate::engine::JobProgress::attained_gpu_milli_ms`]), so it needs no
//! knowledge of job durations. This is the continuous policy; its discretised
//! form is [`super::Tiresias`].
//!
//! Each pass ranks every pending and running job by attained service; ties go
//! to the earlier submission, then the lower job id. The walk is the one of
//! [`super::Srtf`]: running jobs keep running, pending jobs that fit start
//! (work conserving), and a pending job that does not fit preempts the fewest
//! running jobs ranking strictly after it (most attained service first) that
//! make its whole gang fit, if preempting all of them would.
//!
//! Attained service grows while a job runs (a job holding g GPUs gains g
//! GPU-ms per ms, restore time included), so a running job overtakes waiting
//! ones over time. Pure LAS would then switch jobs at every instant two jobs
//! tie; instead time is sliced, as in a multilevel feedback queue:
//! - a running job may be preempted only once its current run has lasted
//!   its protection: `quantum_s`, or the job's wasted time if that is
//!   longer. Wasted time is the wall time the job has run so far that did
//!   not turn into progress: work lost to earlier preemptions (past the last
//!   checkpoint), restores, and cross-rack slowdown
//!   (`attained_ms − done_work` of [`crate::engine::JobProgress`]). With
//!   frequent checkpoints the protection stays one quantum; without any
//!   (`checkpoint_interval = 0`, the engine's default) every preemption
//!   wastes the whole run, so a job's slices at least double (1, 1, 2, 4, …
//!   quanta) and every job finishes, where fixed slices could alternate two
//!   long jobs forever, each losing all its progress each time;
//! - while jobs wait, each running job is re-evaluated at the end of its
//!   protection and then every `quantum_s`. At the end of each pass the
//!   policy asks for a pass (`wake_at`) at the first such instant at which
//!   the job ranks after a waiting one: the end of its protection if it
//!   already does, otherwise the first slice end at or after the instant its
//!   attained service passes that of the next waiting job it still outranks.
//!   Any other pass (arrivals, completions) re-evaluates everything too, so no
//!   periodic `schedule_interval` is needed, and passes are bounded by
//!   running jobs × run time / quantum whatever the spread of the waiting
//!   jobs' services.
//!
//! Preemption keeps progress to the last checkpoint
//! (`EngineConfig::checkpoint_interval`) and restarts pay
//! `EngineConfig::restore_overhead` (scenario `[preemption]`); attained
//! service counts every run in full, lost work included. A job is never
//! preempted in the instant it (re)started.
//!
//! Parameters (`[policy.scheduler_params]`):
//! - `quantum_s` (seconds, > 0, default 60): the time slice: the shortest
//!   protection of a run, and the period of re-evaluation after it.
//!
//! Deviation: the protection growing with wasted time is not in pure LAS;
//! it plays the part of the growing quanta of multilevel feedback queues,
//! only where preemptions lose work.

use serde::Deserialize;

use super::srtf::{Slot, preemptive_pass, seconds, wake_when_protection_ends};
use super::{Scheduler, SchedulingPass, parse_params};
use crate::engine::{JobProgress, JobState};
use crate::time::{Millis, SimTime};

/// Least attained service; see the module docs.
#[derive(Debug, Clone)]
pub struct Las {
    /// Minimum run time before a job may be preempted, ms.
    quantum: Millis,
}

impl Default for Las {
    fn default() -> Self {
        Las { quantum: 60_000 }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default = "default_quantum")]
    quantum_s: f64,
}

fn default_quantum() -> f64 {
    60.0
}

impl Las {
    /// Builds the policy from `[policy.scheduler_params]`.
    pub fn from_params(params: &toml::Table) -> Result<Self, String> {
        let p: Params = parse_params(params)?;
        Ok(Las {
            quantum: seconds("quantum_s", p.quantum_s, true)?,
        })
    }
}

impl Scheduler for Las {
    fn name(&self) -> &'static str {
        "las"
    }

    fn work_conserving(&self) -> bool {
        true
    }

    fn schedule(&mut self, pass: &mut dyn SchedulingPass) {
        let rank = |p: &dyn SchedulingPass, j| p.progress(j).attained_gpu_milli_ms;
        let quantum = self.quantum;
        let protect = move |p: &JobProgress, now: SimTime| protection(p, now, quantum);
        let ranked = preemptive_pass(pass, &rank, &protect);
        wake_when_protection_ends(pass, &ranked, &protect);
        wake_at_crossings(pass, &ranked, quantum);
    }
}

/// How long a running job is protected in its current run: a quantum, or
/// the time it has wasted so far (run time not turned into progress),
/// whichever is longer.
fn protection(p: &JobProgress, _now: SimTime, quantum: Millis) -> Millis {
    quantum.max(p.attained_ms.saturating_sub(p.done_work))
}

/// For each running job, asks for a pass at the first end of one of its
/// quanta at or after its attained service passes that of the next waiting
/// job it still outranks.
fn wake_at_crossings(pass: &mut dyn SchedulingPass, ranked: &[Slot<u128>], quantum: Millis) {
    let now = pass.now();
    // Waiting jobs in rank order; their attained service is frozen.
    let waiting: Vec<Slot<u128>> = ranked
        .iter()
        .filter(|s| pass.state(s.2) == JobState::Pending)
        .map(|s| (pass.progress(s.2).attained_gpu_milli_ms, s.1, s.2))
        .collect();
    if waiting.is_empty() {
        return;
    }
    let mut wakes: Vec<SimTime> = Vec::new();
    for s in ranked {
        let p = pass.progress(s.2);
        let (JobState::Running, Some(start)) = (p.state, p.run_start) else {
            continue;
        };
        let rate = u128::from(pass.job(s.2).total_gpu_milli());
        if rate == 0 {
            continue; // never gains service, never overtakes anyone
        }
        let me: Slot<u128> = (p.attained_gpu_milli_ms, s.1, s.2);
        // The first waiting job this one still outranks.
        let next = waiting.partition_point(|w| *w < me);
        let Some(w) = waiting.get(next) else {
            continue;
        };
        // Smallest dt with (mine + rate·dt, submit, id) > w's slot: equal
        // service suffices when this job comes later in arrival order.
        let gap = w.0 - me.0;
        let dt = if (me.1, me.2) > (w.1, w.2) {
            gap.div_ceil(rate)
        } else {
            gap / rate + 1
        };
        let cross = now + u64::try_from(dt).unwrap_or(u64::MAX);
        // Re-evaluate at the first end of a slice of this run (the end of its
        // protection, then every quantum) at or after the crossing.
        let free_at = start + protection(&p, now, quantum);
        let k = cross.since(free_at).div_ceil(quantum);
        wakes.push(free_at + k.saturating_mul(quantum));
    }
    for at in wakes {
        pass.wake_at(at);
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
        assert_eq!(Las::from_params(&table("")).unwrap().quantum, 60_000);
        assert_eq!(
            Las::from_params(&table("quantum_s = 5")).unwrap().quantum,
            5_000
        );
        for bad in ["quantum_s = 0", "quantum_s = -3", "quantum_s = inf"] {
            let e = Las::from_params(&table(bad)).unwrap_err();
            assert!(e.contains("quantum_s") && e.contains("> 0"), "{bad}: {e}");
        }
        let e = Las::from_params(&table("min_runtime_s = 1")).unwrap_err();
        assert!(e.contains("min_runtime_s"), "{e}");
    }
}
