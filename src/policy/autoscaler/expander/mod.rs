//! Expanders: how a scale-up chooses among node groups that could each help
//! the pending gangs (upstream `--expander`). Every expander is a filter that
//! keeps the best options; a chain (`expander = ["priority", "least-waste"]`,
//! or the upstream flag form `"priority,least-waste"`) applies them in turn and
//! stops as soon as one option is left. Options still tied after the chain are
//! settled by a seeded uniform draw, as upstream's random fallback does.
//! One expander per file; [`ExpanderKind`] is the closed list a scenario may
//! name.

mod least_waste;
mod price;
mod priority;
mod random;

pub use least_waste::{least_waste, waste_score};
pub use price::{cost_per_pod, price};
pub use priority::priority;
pub use random::random;

use std::fmt;

use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::ids::PoolId;

/// One way to scale up: add `nodes` nodes to the group of `pool`, which lets the
/// gangs `gangs` (indices into the scan's pending list) be placed.
#[derive(Debug, Clone, PartialEq)]
pub struct ScaleUpOption {
    /// The node group (pool) to grow.
    pub pool: PoolId,
    /// Nodes to add, at least 1.
    pub nodes: u32,
    /// Pending gangs the new nodes let be placed (indices into
    /// `ScanInput::pending`, ascending).
    pub gangs: Vec<usize>,
    /// Pods (workers) of those gangs.
    pub pods: u64,
    /// Per-node allocatable capacity of the group's template node: milli-GPUs,
    /// millicores, MiB.
    pub node_gpu_milli: u64,
    /// See `node_gpu_milli`; millicores.
    pub node_cpu_milli: u64,
    /// See `node_gpu_milli`; MiB.
    pub node_memory_mib: u64,
    /// What the helped gangs' workers request on the *new* nodes in the
    /// simulation, summed: milli-GPUs.
    pub gpu_milli_requested: u64,
    /// See `gpu_milli_requested`; millicores.
    pub cpu_milli_requested: u64,
    /// See `gpu_milli_requested`; MiB.
    pub memory_mib_requested: u64,
    /// The pool's price per node-hour (`PoolSpec::price_per_node_hour`), if any.
    pub price_per_node_hour: Option<f64>,
    /// The node group's priority (`NodeGroupSpec::priority`); larger wins.
    pub priority: i32,
}

/// The expanders a scenario may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExpanderKind {
    /// Least idle CPU and memory on the new nodes (upstream default).
    LeastWaste,
    /// Cheapest per helped pod.
    Price,
    /// Highest node-group priority.
    Priority,
    /// A seeded uniformly random option.
    Random,
}

impl ExpanderKind {
    /// Every expander.
    pub const ALL: [ExpanderKind; 4] = [
        ExpanderKind::LeastWaste,
        ExpanderKind::Price,
        ExpanderKind::Priority,
        ExpanderKind::Random,
    ];

    /// The name used in scenarios (upstream's flag value).
    pub fn name(self) -> &'static str {
        match self {
            ExpanderKind::LeastWaste => "least-waste",
            ExpanderKind::Price => "price",
            ExpanderKind::Priority => "priority",
            ExpanderKind::Random => "random",
        }
    }

    /// Parses a scenario name.
    pub fn from_name(name: &str) -> Result<ExpanderKind, String> {
        ExpanderKind::ALL
            .into_iter()
            .find(|k| k.name() == name)
            .ok_or_else(|| {
                let all: Vec<&str> = ExpanderKind::ALL.iter().map(|k| k.name()).collect();
                format!(
                    "unknown expander `{name}`, expected one of {}",
                    all.join(", ")
                )
            })
    }
}

impl fmt::Display for ExpanderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Settings of the expanders themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeastWasteParams {
    /// Also count idle GPUs as waste (upstream counts CPU and memory only).
    #[serde(default)]
    pub gpu_aware: bool,
}

/// An expander chain, applied in order (at least one expander). Deserializes
/// from one name, a comma-separated list (`"priority,least-waste"`, the
/// upstream flag form) or a TOML list of names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ExpanderChain(pub Vec<ExpanderKind>);

impl Default for ExpanderChain {
    /// `least-waste`, upstream's default.
    fn default() -> Self {
        ExpanderChain(vec![ExpanderKind::LeastWaste])
    }
}

impl ExpanderChain {
    /// Parses the flag form: names separated by commas (spaces allowed).
    pub fn parse(text: &str) -> Result<ExpanderChain, String> {
        text.split(',')
            .map(|s| ExpanderKind::from_name(s.trim()))
            .collect::<Result<Vec<_>, _>>()
            .map(ExpanderChain)
    }

    /// Chooses one option (an index into `options`), or `None` when there are
    /// none. Each expander keeps its best options; the chain stops when one is
    /// left; a tie left at the end is drawn uniformly from `rng` (one draw, made
    /// only when there is a tie, so the stream does not shift otherwise).
    pub fn choose(
        &self,
        options: &[ScaleUpOption],
        params: &LeastWasteParams,
        rng: &mut ChaCha8Rng,
    ) -> Option<usize> {
        let mut left: Vec<usize> = (0..options.len()).collect();
        for kind in &self.0 {
            if left.len() <= 1 {
                break;
            }
            left = match kind {
                ExpanderKind::LeastWaste => least_waste(options, &left, params),
                ExpanderKind::Price => price(options, &left),
                ExpanderKind::Priority => priority(options, &left),
                ExpanderKind::Random => random(&left, rng),
            };
        }
        match left.len() {
            0 => None,
            1 => Some(left[0]),
            _ => random(&left, rng).first().copied(),
        }
    }
}

impl<'de> Deserialize<'de> for ExpanderChain {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = ExpanderChain;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an expander name, a comma-separated list of names, or a list of names")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ExpanderChain, E> {
                ExpanderChain::parse(v).map_err(E::custom)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<ExpanderChain, A::Error> {
                let mut out = Vec::new();
                while let Some(name) = seq.next_element::<String>()? {
                    out.push(ExpanderKind::from_name(&name).map_err(serde::de::Error::custom)?);
                }
                Ok(ExpanderChain(out))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn opt(pool: u32, nodes: u32, pods: u64, price: Option<f64>, priority: i32) -> ScaleUpOption {
        ScaleUpOption {
            pool: PoolId(pool),
            nodes,
            gangs: vec![0],
            pods,
            node_gpu_milli: 8_000,
            node_cpu_milli: 64_000,
            node_memory_mib: 1_000,
            gpu_milli_requested: 8_000,
            cpu_milli_requested: 32_000,
            memory_mib_requested: 250,
            price_per_node_hour: price,
            priority,
        }
    }

    #[test]
    fn waste_is_idle_cpu_plus_idle_memory_over_the_new_nodes() {
        let plain = LeastWasteParams::default();
        let gpu = LeastWasteParams { gpu_aware: true };
        // One node: (64000 − 32000)/64000 + (1000 − 250)/1000 = 0.5 + 0.75.
        assert_eq!(waste_score(&opt(0, 1, 1, None, 0), &plain), 1.25);
        // Two nodes: 0.75 + 0.875, and with GPUs (16000 − 8000)/16000 = 0.5 more.
        assert_eq!(waste_score(&opt(0, 2, 1, None, 0), &plain), 1.625);
        assert_eq!(waste_score(&opt(0, 2, 1, None, 0), &gpu), 2.125);
        let o = [
            opt(0, 2, 1, None, 0),
            opt(1, 1, 1, None, 0),
            opt(2, 1, 1, None, 0),
        ];
        assert_eq!(least_waste(&o, &[0, 1, 2], &plain), [1, 2]);
    }

    #[test]
    fn price_prefers_known_prices_and_priority_keeps_ties() {
        let o = [
            opt(0, 2, 4, Some(6.0), 1), // 3 per pod
            opt(1, 1, 1, None, 5),      // unknown
            opt(2, 1, 2, Some(6.0), 5), // 3 per pod
            opt(3, 1, 1, Some(2.5), 0), // 2.5 per pod
        ];
        assert_eq!(cost_per_pod(&o[0]), Some(3.0));
        assert_eq!(price(&o, &[0, 1, 2, 3]), [3]);
        assert_eq!(price(&o, &[0, 1, 2]), [0, 2]);
        assert_eq!(price(&o, &[1]), [1]);
        assert_eq!(priority(&o, &[0, 1, 2, 3]), [1, 2]);
        // Chain: priority keeps 1 and 2, price then picks 2 (1 has no price).
        let chain = ExpanderChain::parse("priority, price").unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let before = rng.clone();
        assert_eq!(
            chain.choose(&o, &LeastWasteParams::default(), &mut rng),
            Some(2)
        );
        // No tie left: no draw.
        assert_eq!(rng, before);
        assert_eq!(
            chain.choose(&[], &LeastWasteParams::default(), &mut rng),
            None
        );
        assert!(ExpanderChain::parse("priority,,price").is_err());
    }
}
