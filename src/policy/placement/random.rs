//! Random placement: a uniformly random node among those where the worker
//! fits. The "Random" baseline of the FGD paper (Weng et al., "Beware of
//! Fragmentation", USENIX ATC 2023), whose simulator gives every feasible node
//! a random score; here the draw is seeded, so a run is reproducible.
//!
//! Each decision draws one index into the list of feasible nodes in id order
//! from a `ChaCha8` stream seeded with the scenario seed (plus `seed_offset`),
//! so the same seed, workload and cluster give the same choices on every
//! platform. GPUs: the default choice (lowest free whole GPUs; the fullest GPU
//! that still fits for a fractional worker).
//!
//! Parameters (`[policy.placement_params]`):
//!
//! | name          | unit    | default | meaning                                        |
//! |---------------|---------|---------|------------------------------------------------|
//! | `seed_offset` | integer | 0       | added (wrapping) to the scenario seed, to draw an independent stream with the same scenario |
//!
//! Tie-break: not applicable (every feasible node is equally likely).

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;

use super::fgd::parse_named;
use super::{Placement, PlacementContext};
use crate::cluster::{ClusterView, WorkerRequest};
use crate::ids::NodeId;
use crate::workload::Job;

/// Separates this stream from other seeded streams of a run.
const STREAM: u64 = 0x7261_6e64_6f6d_706c; // "randompl"

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default)]
    seed_offset: u64,
}

/// Random placement; see the module docs.
#[derive(Debug, Clone)]
pub struct RandomPlacement {
    rng: ChaCha8Rng,
    /// Scratch list of feasible nodes, reused between decisions.
    feasible: Vec<NodeId>,
}

impl Default for RandomPlacement {
    fn default() -> Self {
        RandomPlacement::with_seed(0)
    }
}

impl RandomPlacement {
    /// Builds the policy from its context.
    pub fn from_context(ctx: &PlacementContext<'_>) -> Result<Self, String> {
        let p: Params = parse_named(ctx.params)?;
        Ok(RandomPlacement::with_seed(
            ctx.seed.wrapping_add(p.seed_offset),
        ))
    }

    /// A policy drawing from the stream of `seed`.
    pub fn with_seed(seed: u64) -> Self {
        RandomPlacement {
            rng: ChaCha8Rng::seed_from_u64(seed ^ STREAM),
            feasible: Vec::new(),
        }
    }
}

impl Placement for RandomPlacement {
    fn name(&self) -> &'static str {
        "random"
    }

    fn place(
        &mut self,
        view: ClusterView<'_>,
        _job: &Job,
        req: &WorkerRequest<'_>,
    ) -> Option<NodeId> {
        self.feasible.clear();
        self.feasible.extend(view.feasible_nodes(req).map(|n| n.id));
        if self.feasible.is_empty() {
            return None;
        }
        let i = self.rng.random_range(0..self.feasible.len());
        Some(self.feasible[i])
    }
}
