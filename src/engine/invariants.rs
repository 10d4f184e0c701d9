//! The invariant checker. After every event (when `check_invariants` is on, and
//! always in tests) it recomputes from scratch what the engine keeps
//! incrementally, in time proportional to the nodes and the active jobs only,
//! so a bookkeeping slip shows at the event that caused it even on large runs.
//! A full scan of every job runs once at the end.

use super::{Core, JobState};

impl Core<'_> {
    /// Per-event checks: the ledger equals the sum of the running allocations
    /// and no node is over capacity; running gangs hold all their workers;
    /// no job started before it arrived; every arrived job is pending,
    /// running or final, exactly once. With `after_conserving_pass`, also that
    /// no pending job fits now.
    pub(super) fn check_invariants(&self, after_conserving_pass: bool) -> Result<(), String> {
        self.cluster.audit(
            self.running
                .iter()
                .flat_map(|j| &self.jobs[j.index()].allocs)
                .chain(self.service_allocs()),
        )?;
        for (slot, &j) in self.running.iter().enumerate() {
            let r = &self.jobs[j.index()];
            let job = &self.workload.jobs[j.index()];
            if r.state != JobState::Running || r.running_slot as usize != slot {
                return Err(format!(
                    "job {j} ({}) is listed as running but is {:?}",
                    job.name, r.state
                ));
            }
            let (lo, hi) = job
                .elastic
                .as_ref()
                .map_or((job.workers, job.workers), |e| {
                    (e.min_workers, e.max_workers)
                });
            let held = r.allocs.len() as u32;
            if held < lo || held > hi {
                return Err(format!(
                    "job {j} ({}) runs {held} workers, outside its {lo}..={hi}: gangs are all-or-nothing",
                    job.name,
                ));
            }
            match r.start {
                Some(start) if start >= job.submit && start <= self.now => {}
                other => {
                    return Err(format!(
                        "job {j} ({}) runs with start {other:?}, submitted at {}",
                        job.name, job.submit
                    ));
                }
            }
        }
        let mut listed = self.pending.clone();
        listed.sort_unstable();
        listed.dedup();
        if listed.len() != self.pending.len() {
            return Err("a job is listed twice as pending".into());
        }
        for &j in &self.pending {
            let r = &self.jobs[j.index()];
            let job = &self.workload.jobs[j.index()];
            if r.state != JobState::Pending || !r.allocs.is_empty() || job.submit > self.now {
                return Err(format!(
                    "job {j} ({}) is listed as pending but is {:?} with {} allocations, submitted at {}",
                    job.name,
                    r.state,
                    r.allocs.len(),
                    job.submit
                ));
            }
        }
        let accounted = self.done + self.running.len() as u64 + self.pending.len() as u64;
        if accounted != self.arrived {
            return Err(format!(
                "{} jobs arrived but {accounted} are accounted for ({} final, {} running, {} pending)",
                self.arrived,
                self.done,
                self.running.len(),
                self.pending.len()
            ));
        }
        if after_conserving_pass {
            for &j in &self.pending {
                let job = &self.workload.jobs[j.index()];
                let req = self.request(job, self.jobs[j.index()].mask);
                if self.cluster.view().gang_fits(&req, job.min_workers()) {
                    return Err(format!(
                        "job {j} ({}) fits but a work-conserving scheduler left it pending",
                        job.name
                    ));
                }
            }
        }
        Ok(())
    }

    /// End-of-run scan of every job: states agree with the lists and
    /// counters, and final jobs carry consistent times.
    pub(super) fn check_all_jobs(&self) -> Result<(), String> {
        let (mut running, mut pending, mut done, mut arrived) = (0, 0, 0, 0);
        for (i, r) in self.jobs.iter().enumerate() {
            let job = &self.workload.jobs[i];
            let name = &job.name;
            if r.state != JobState::NotArrived {
                arrived += 1;
                if job.submit > self.now {
                    return Err(format!(
                        "job {i} ({name}) is {:?} before its submission",
                        r.state
                    ));
                }
            }
            match r.state {
                JobState::Running => running += 1,
                JobState::Pending => pending += 1,
                JobState::Finished => {
                    done += 1;
                    let (Some(start), Some(end)) = (r.start, r.end) else {
                        return Err(format!("finished job {i} ({name}) lacks a start or end"));
                    };
                    // An elastic job may run faster than its duration (which
                    // is at its requested size), but never faster than at its
                    // largest size.
                    let shortest = match &job.elastic {
                        Some(e) => {
                            job.duration * 1_000_000 / e.rate_ppm(e.max_workers, job.workers)
                        }
                        None => job.duration,
                    };
                    if start < job.submit || end < start + shortest || !r.allocs.is_empty() {
                        return Err(format!(
                            "finished job {i} ({name}) ran {start}..{end}, submitted {}, or holds resources",
                            job.submit
                        ));
                    }
                }
                JobState::Unschedulable => {
                    done += 1;
                    if r.start.is_some() || !r.allocs.is_empty() {
                        return Err(format!("unschedulable job {i} ({name}) ran"));
                    }
                }
                JobState::Failed => {
                    done += 1;
                    if r.start.is_none() || !r.allocs.is_empty() || r.failures == 0 {
                        return Err(format!(
                            "failed job {i} ({name}) never ran, holds resources or was never killed"
                        ));
                    }
                }
                JobState::NotArrived => {
                    if r.start.is_some() || !r.allocs.is_empty() {
                        return Err(format!("job {i} ({name}) ran before it arrived"));
                    }
                }
            }
        }
        if (running, pending, done, arrived)
            != (
                self.running.len(),
                self.pending.len(),
                self.done,
                self.arrived,
            )
        {
            return Err(format!(
                "job states (running {running}, pending {pending}, final {done}, arrived {arrived}) \
                 disagree with the engine's lists ({}, {}, {}, {})",
                self.running.len(),
                self.pending.len(),
                self.done,
                self.arrived
            ));
        }
        Ok(())
    }
}
