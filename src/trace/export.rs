//! Writers for formats other than canonical ("and back where meaningful"):
//! each returns bytes, or says why the workload does not fit the format.

use std::fmt::Write as _;

use crate::workload::{GpuDemand, Workload};

/// ITP / ElasticFlow layout, `job_id,submission_time,duration,num_gpu`, with
/// times in whole seconds (rounded to nearest) and `num_gpu` the job's total.
/// Jobs with fractional GPUs, no GPU, or names containing a comma cannot be
/// written in this format.
pub fn to_itp_bytes(w: &Workload) -> Result<Vec<u8>, String> {
    let mut out = String::with_capacity(48 * (w.jobs.len() + 1));
    out.push_str("job_id,submission_time,duration,num_gpu");
    for j in &w.jobs {
        let gpus = match j.gpu {
            GpuDemand::Whole(g) if g > 0 => u64::from(g) * u64::from(j.workers),
            _ => {
                return Err(format!(
                    "job {} ({}) asks for {:?} GPUs per worker; the ITP format holds whole GPUs only",
                    j.id, j.name, j.gpu
                ));
            }
        };
        if j.name.contains([',', '"', '\n', '\r']) {
            return Err(format!(
                "job {} has a name the ITP format cannot hold: {:?}",
                j.id, j.name
            ));
        }
        // ITP files have no trailing newline; rows are separated.
        let _ = write!(
            out,
            "\n{},{},{},{}",
            j.name,
            j.submit.as_millis() / 1000 + u64::from(j.submit.as_millis() % 1000 >= 500),
            j.duration / 1000 + u64::from(j.duration % 1000 >= 500),
            gpus
        );
    }
    Ok(out.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::JobDraft;

    #[test]
    fn itp_rounds_to_seconds_and_sums_gang_gpus() {
        let mut a = JobDraft::new("a").gpus(8).workers(2).duration_s(10);
        a.submit = crate::time::SimTime(1_500);
        let w = Workload::from_drafts(vec![a, JobDraft::new("b").submit_s(3)]);
        let text = String::from_utf8(to_itp_bytes(&w).unwrap()).unwrap();
        assert_eq!(
            text,
            "job_id,submission_time,duration,num_gpu\na,2,10,16\nb,3,1,1"
        );
        let frac = Workload::from_drafts(vec![JobDraft::new("f").gpu_milli(500)]);
        assert!(to_itp_bytes(&frac).unwrap_err().contains("whole GPUs"));
    }
}
