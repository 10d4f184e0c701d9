//! Preemptive shortest remaining time first (SRTF), the classic
//! preemptive form of SJF (Schrage, 1968) used as an oracle baseline in GPU
//! cluster scheduling papers (e.g. Tiresias, NSDI'19; Gandiva). The remaining
//! time of a job is its remaining work at full speed
//! ([`crate::engine::JobProgress::remaining`]), taken from the trace's
//! duration: an oracle.
//!
//! Each pass ranks every pending and running job by remaining time; ties go
//! to the earlier submission, then the lower job id. Walking that order:
//! - a running job keeps running;
//! - a pending job that fits starts (so shorter-ranked jobs that cannot fit
//!   do not block longer ones: the pass is work conserving);
//! - a pending job that does not fit may preempt running jobs that rank
//!   strictly after it (longer remaining time), but only if preempting all of
//!   those eligible would make its whole gang fit
//!   ([`SchedulingPass::fits_if_preempted`]). The victims are then the
//!   shortest prefix of them, longest remaining first, that makes it fit,
//!   after which each chosen victim is spared again (most important first) if
//!   the job still fits without it, as kube-scheduler's minimal victim set.
//!
//! After the walk, if anything was preempted, every job still pending is
//! tried once more in rank order, so that no pending job fits when the pass
//! ends ([`Scheduler::work_conserving`] is true).
//!
//! A preempted job keeps its progress up to the last checkpoint
//! (`EngineConfig::checkpoint_interval`) and pays the restore overhead
//! (`EngineConfig::restore_overhead`, scenario `[preemption]`) when it
//! restarts; its remaining time, hence its rank, is recomputed from what it
//! kept. A job is never preempted in the instant its current run started (so
//! passes at one instant cannot undo each other).
//!
//! Parameters (`[policy.scheduler_params]`):
//! - `min_runtime_s` (seconds, default 0): a running job may be preempted only
//!   after it has run this long in its current run. When a longer job is
//!   protected only by this, the policy asks for a pass (`wake_at`) at the
//!   instant its protection ends.
//!
//! The preemptive walk here is shared with [`super::Las`] and
//! [`super::Tiresias`], which rank jobs differently.

use serde::Deserialize;

use super::{Scheduler, SchedulingPass, StartOutcome, parse_params};
use crate::engine::{JobProgress, JobState};
use crate::ids::JobId;
use crate::time::{Millis, SimTime, secs_to_millis};
use crate::workload::{GpuDemand, Job};

/// Preemptive shortest remaining time first; see the module docs.
#[derive(Debug, Default, Clone)]
pub struct Srtf {
    /// Minimum time a job runs before it may be preempted again, ms.
    min_runtime: Millis,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default)]
    min_runtime_s: f64,
}

impl Srtf {
    /// Builds the policy from `[policy.scheduler_params]`.
    pub fn from_params(params: &toml::Table) -> Result<Self, String> {
        let p: Params = parse_params(params)?;
        Ok(Srtf {
            min_runtime: seconds("min_runtime_s", p.min_runtime_s, false)?,
        })
    }
}

impl Scheduler for Srtf {
    fn name(&self) -> &'static str {
        "srtf"
    }

    fn work_conserving(&self) -> bool {
        true
    }

    fn schedule(&mut self, pass: &mut dyn SchedulingPass) {
        let protect = |_: &JobProgress, _: SimTime| self.min_runtime;
        let ranked = preemptive_pass(pass, &|p, j| p.progress(j).remaining, &protect);
        if self.min_runtime > 0 {
            wake_when_protection_ends(pass, &ranked, &protect);
        }
    }
}

/// A job's place in a preemptive pass: the policy's rank (smaller runs
/// first), then submission time, then job id. Unique per job.
pub(super) type Slot<K> = (K, SimTime, JobId);

/// A policy's ranking function: smaller ranks are more important.
pub(super) type Rank<'a, K> = &'a dyn Fn(&dyn SchedulingPass, JobId) -> K;

/// How long a running job (given its progress and the current time) must
/// run in its current run before it may be preempted, ms.
pub(super) type Protect<'a> = &'a dyn Fn(&JobProgress, SimTime) -> Millis;

/// Converts a parameter in seconds to ms, naming the field on error.
pub(super) fn seconds(field: &str, secs: f64, positive: bool) -> Result<Millis, String> {
    let ms = secs_to_millis(secs).filter(|&ms| !positive || ms > 0);
    ms.ok_or_else(|| {
        let want = if positive {
            "a number of seconds > 0 (at least 0.001)"
        } else {
            "a number of seconds ≥ 0"
        };
        format!("`{field}`: got {secs}, expected {want}")
    })
}

/// The slot of `job` as of now.
pub(super) fn slot_of<K>(pass: &dyn SchedulingPass, rank: Rank<'_, K>, job: JobId) -> Slot<K> {
    (rank(pass, job), pass.job(job).submit, job)
}

/// Runs the preemptive priority walk described in the module docs over every
/// pending and running job, ranked by `rank`. A running job is a possible
/// victim only once it has run `protect` ms in its current run (and never in
/// the instant it started). Returns the candidates in the order walked (ranks
/// as of the start of the pass).
pub(super) fn preemptive_pass<K: Ord + Copy>(
    pass: &mut dyn SchedulingPass,
    rank: Rank<'_, K>,
    protect: Protect<'_>,
) -> Vec<Slot<K>> {
    let now = pass.now();
    let mut ranked: Vec<Slot<K>> = {
        let p: &dyn SchedulingPass = &*pass;
        p.pending()
            .iter()
            .chain(p.running())
            .map(|&j| slot_of(p, rank, j))
            .collect()
    };
    ranked.sort_unstable();
    // Running jobs at the start of the pass, most important first. A job
    // restarted during the pass is protected (it started now), so ranks here
    // stay exact for every job that may be a victim.
    let running: Vec<Slot<K>> = ranked
        .iter()
        .filter(|s| pass.state(s.2) == JobState::Running)
        .copied()
        .collect();
    let mut preempted_any = false;
    // Jobs that could not fit even by preempting every job ranked after them,
    // since the last preemption. Later jobs rank lower (fewer victims) and
    // the cluster only fills up, so a later job asking at least as much of
    // everything cannot fit either: skip it.
    let mut failed: Vec<JobId> = Vec::new();
    for &slot in &ranked {
        let job = slot.2;
        if pass.state(job) != JobState::Pending {
            continue;
        }
        if pass.try_start(job) == StartOutcome::Started {
            continue;
        }
        if failed
            .iter()
            .any(|&f| asks_at_least(pass.job(job), pass.job(f)))
        {
            continue;
        }
        // A job preempted earlier in this pass may rank lower now (lost
        // work): compare victims with its current rank.
        let key = slot_of(&*pass, rank, job);
        let victims: Vec<JobId> = running
            .iter()
            .rev()
            .take_while(|s| **s > key)
            .filter(|s| preemptible(&*pass, s.2, now, protect))
            .map(|s| s.2)
            .collect();
        if preempt_for(pass, job, &victims) {
            preempted_any = true;
            failed.clear();
        } else if key == slot && failed.len() < 16 {
            failed.push(job);
        }
    }
    if preempted_any {
        for s in &ranked {
            if pass.state(s.2) == JobState::Pending {
                pass.try_start(s.2);
            }
        }
    }
    ranked
}

/// Does job `a` ask at least as much as job `b` of every resource, on the
/// same GPU models?
pub(super) fn asks_at_least(a: &Job, b: &Job) -> bool {
    let gpu = match (a.gpu, b.gpu) {
        (GpuDemand::Whole(x), GpuDemand::Whole(y)) => x >= y,
        (GpuDemand::Fraction(x), GpuDemand::Fraction(y)) => x >= y,
        _ => false,
    };
    gpu && a.workers >= b.workers
        && a.cpu_milli >= b.cpu_milli
        && a.memory_mib >= b.memory_mib
        && a.gpu_models == b.gpu_models
}

/// Is `job` running, and has it run long enough (`protect`, and more than
/// nothing) in its current run to be preempted?
pub(super) fn preemptible(
    pass: &dyn SchedulingPass,
    job: JobId,
    now: SimTime,
    protect: Protect<'_>,
) -> bool {
    let p = pass.progress(job);
    p.state == JobState::Running
        && p.run_start
            .is_some_and(|start| start < now && now - start >= protect(&p, now))
}

/// Preempts the fewest of `victims` (ordered least important first) that let
/// `job` fit, and starts it. Returns whether anything was preempted. Changes
/// nothing if preempting every victim would not make the job fit.
pub(super) fn preempt_for(pass: &mut dyn SchedulingPass, job: JobId, victims: &[JobId]) -> bool {
    // Nothing to gain if there are no victims, or if the gang fits already
    // (the placement policy refused it for reasons other than capacity).
    if victims.is_empty() || pass.fits_now(job) {
        return false;
    }
    // Cheap test first: enough GPU capacity must come free.
    let view = pass.cluster();
    let free = view
        .gpu_milli_capacity()
        .saturating_sub(view.gpu_milli_used());
    let freed: u64 = victims.iter().map(|&v| pass.job(v).total_gpu_milli()).sum();
    if free + freed < pass.job(job).total_gpu_milli() {
        return false;
    }
    if !pass.fits_if_preempted(job, victims) {
        return false;
    }
    // The shortest fitting prefix (fitting is monotone in the prefix)…
    let (mut lo, mut hi) = (1, victims.len());
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pass.fits_if_preempted(job, &victims[..mid]) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    // …then spare every victim that is not needed, most important first.
    let mut chosen = victims[..lo].to_vec();
    for i in (0..chosen.len()).rev() {
        if chosen.len() == 1 {
            break;
        }
        let mut without = chosen.clone();
        without.remove(i);
        if pass.fits_if_preempted(job, &without) {
            chosen = without;
        }
    }
    for &v in &chosen {
        pass.preempt(v);
    }
    // Fails only if the placement policy refuses a gang the counting test
    // accepts; the victims then wait like any other pending job.
    pass.try_start(job);
    true
}

/// After a walk: asks for a pass when a running job that ranks after a job
/// still pending stops being protected by `protect`.
pub(super) fn wake_when_protection_ends<K: Ord + Copy>(
    pass: &mut dyn SchedulingPass,
    ranked: &[Slot<K>],
    protect: Protect<'_>,
) {
    let now = pass.now();
    // The most important job still pending, by its current rank (ranks of
    // pending jobs do not change while they wait).
    let Some(first) = ranked.iter().find(|s| pass.state(s.2) == JobState::Pending) else {
        return;
    };
    let mut wakes = Vec::new();
    for s in ranked.iter().rev() {
        if s <= first {
            break;
        }
        let p = pass.progress(s.2);
        if let (JobState::Running, Some(start)) = (p.state, p.run_start) {
            let free_at = start + protect(&p, now);
            if free_at > now {
                wakes.push(free_at);
            }
        }
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
        assert_eq!(Srtf::from_params(&table("")).unwrap().min_runtime, 0);
        assert_eq!(
            Srtf::from_params(&table("min_runtime_s = 2.5"))
                .unwrap()
                .min_runtime,
            2_500
        );
        assert_eq!(
            Srtf::from_params(&table("min_runtime_s = 30"))
                .unwrap()
                .min_runtime,
            30_000
        );
        let e = Srtf::from_params(&table("min_runtime_s = -1")).unwrap_err();
        assert!(e.contains("min_runtime_s") && e.contains("≥ 0"), "{e}");
        let e = Srtf::from_params(&table("min_runtime_s = nan")).unwrap_err();
        assert!(e.contains("min_runtime_s"), "{e}");
        let e = Srtf::from_params(&table("quantum_s = 1")).unwrap_err();
        assert!(e.contains("quantum_s"), "{e}");
        let e = Srtf::from_params(&table("min_runtime_s = \"1\"")).unwrap_err();
        assert!(e.contains("string"), "{e}");
    }
}
