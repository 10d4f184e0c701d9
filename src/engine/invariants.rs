//! The invariant checker, run after every event when `check_invariants` is on
//! (always in tests). It recomputes from scratch what the engine keeps
//! incrementally, so a bookkeeping slip shows up at the event that caused it.

use super::{Core, JobState};

impl Core<'_> {
    /// Checks: the ledger equals the sum of running allocations and no node is
    /// over capacity; gangs are all-or-nothing; no job started before it
    /// arrived; every arrived job is in exactly one of pending, running,
    /// finished or unschedulable, and the counters agree. With
    /// `after_conserving_pass`, also that no pending job fits now.
    pub(super) fn check_invariants(&self, after_conserving_pass: bool) -> Result<(), String> {
        self.cluster.audit(
            self.jobs
                .iter()
                .filter(|r| r.state == JobState::Running)
                .flat_map(|r| &r.allocs),
        )?;
        let mut running = 0;
        let mut done = 0;
        let mut pending = 0;
        for (i, r) in self.jobs.iter().enumerate() {
            let job = &self.workload.jobs[i];
            let name = &job.name;
            if r.state != JobState::NotArrived && job.submit > self.now {
                return Err(format!(
                    "job {i} ({name}) is {:?} before its submission",
                    r.state
                ));
            }
            if let Some(start) = r.start
                && start < job.submit
            {
                return Err(format!(
                    "job {i} ({name}) started at {start} before it arrived at {}",
                    job.submit
                ));
            }
            match r.state {
                JobState::Running => {
                    running += 1;
                    if r.allocs.len() != job.workers as usize {
                        return Err(format!(
                            "job {i} ({name}) runs {} of its {} workers: gangs are all-or-nothing",
                            r.allocs.len(),
                            job.workers
                        ));
                    }
                    if r.start.is_none() {
                        return Err(format!("job {i} ({name}) runs without a start time"));
                    }
                }
                JobState::Pending => {
                    pending += 1;
                    if !r.allocs.is_empty() {
                        return Err(format!("pending job {i} ({name}) holds resources"));
                    }
                }
                JobState::Finished => {
                    done += 1;
                    let (Some(start), Some(end)) = (r.start, r.end) else {
                        return Err(format!("finished job {i} ({name}) lacks a start or end"));
                    };
                    if end < start + job.duration || !r.allocs.is_empty() {
                        return Err(format!(
                            "finished job {i} ({name}) ended early or holds resources"
                        ));
                    }
                }
                JobState::Unschedulable => {
                    done += 1;
                    if r.start.is_some() || !r.allocs.is_empty() {
                        return Err(format!("unschedulable job {i} ({name}) ran"));
                    }
                }
                JobState::NotArrived => {
                    if r.start.is_some() || !r.allocs.is_empty() {
                        return Err(format!("job {i} ({name}) ran before it arrived"));
                    }
                }
            }
        }
        if running != self.running || done != self.done {
            return Err(format!(
                "counters out of step: running {running} vs {}, done {done} vs {}",
                self.running, self.done
            ));
        }
        // Between passes the pending list holds exactly the pending jobs, each once.
        let mut listed = self.pending.clone();
        listed.sort_unstable();
        listed.dedup();
        if listed.len() != self.pending.len()
            || listed.len() != pending
            || listed
                .iter()
                .any(|j| self.jobs[j.index()].state != JobState::Pending)
        {
            return Err(format!(
                "pending list ({} entries) disagrees with the {pending} pending jobs",
                self.pending.len()
            ));
        }
        if after_conserving_pass {
            for &j in &self.pending {
                let job = &self.workload.jobs[j.index()];
                let req = self.request(job, self.jobs[j.index()].mask);
                if self.cluster.view().gang_fits(&req, job.workers) {
                    return Err(format!(
                        "job {j} ({}) fits but a work-conserving scheduler left it pending",
                        job.name
                    ));
                }
            }
        }
        Ok(())
    }
}
