//! First fit: the lowest-numbered node where the worker fits. Cheap and
//! predictable; packs the low end of the cluster and leaves the high end free.
//!
//! Tie-break: not needed (node order). Parameters: none.

use super::Placement;
use crate::cluster::{ClusterView, WorkerRequest};
use crate::ids::NodeId;
use crate::workload::Job;

/// First fit; see the module docs.
#[derive(Debug, Default, Clone, Copy)]
pub struct FirstFit;

impl Placement for FirstFit {
    fn name(&self) -> &'static str {
        "first-fit"
    }

    fn place(
        &mut self,
        view: ClusterView<'_>,
        _job: &Job,
        req: &WorkerRequest<'_>,
    ) -> Option<NodeId> {
        view.feasible_nodes(req).next().map(|n| n.id)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::{BestFit, FirstFit, Placement, WorstFit};
    use crate::ids::NodeId;

    /// Node 0: 2 of 8 GPUs busy; node 1: 6 busy; node 2: idle. A 2-GPU worker:
    /// first fit takes node 0, best fit node 1 (fullest), worst fit node 2.
    #[test]
    fn the_three_placements_pick_different_nodes() {
        let mut c = cluster(3, 8);
        occupy(&mut c, 0, 2);
        occupy(&mut c, 1, 6);
        let w = crate::workload::Workload::from_drafts(vec![
            crate::workload::JobDraft::new("j").gpus(2),
        ]);
        let job = &w.jobs[0];
        let r = req(2);
        assert_eq!(FirstFit.place(c.view(), job, &r), Some(NodeId(0)));
        assert_eq!(BestFit.place(c.view(), job, &r), Some(NodeId(1)));
        assert_eq!(WorstFit.place(c.view(), job, &r), Some(NodeId(2)));
        // A 4-GPU worker no longer fits on node 1: best fit falls back to node 0.
        let r4 = req(4);
        assert_eq!(FirstFit.place(c.view(), job, &r4), Some(NodeId(0)));
        assert_eq!(BestFit.place(c.view(), job, &r4), Some(NodeId(0)));
        assert_eq!(WorstFit.place(c.view(), job, &r4), Some(NodeId(2)));
        // Nothing fits 10 GPUs.
        assert_eq!(FirstFit.place(c.view(), job, &req(10)), None);
    }
}
