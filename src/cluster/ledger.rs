//! The per-node resource ledger. GPUs are tracked one by one in milli-GPUs so
//! that a fractional worker occupies part of one GPU; CPU in millicores and
//! memory in MiB. Every mutation is validated: the ledger can never go
//! negative or above capacity, whatever a policy asks.

use super::PoolSpec;
use crate::ids::{NodeId, PoolId};
use crate::workload::{GpuDemand, MILLI_PER_GPU};

/// What one worker of a job asks for, plus the pools it may use.
#[derive(Debug, Clone, Copy)]
pub struct WorkerRequest<'a> {
    /// GPUs per worker.
    pub gpu: GpuDemand,
    /// CPU per worker, in millicores.
    pub cpu_milli: u32,
    /// Memory per worker, in MiB.
    pub memory_mib: u64,
    /// `allowed_pools[p]` is true when pool `p` has a GPU model the job accepts.
    pub allowed_pools: &'a [bool],
}

/// Part of one GPU held by a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GpuShare {
    /// GPU index on the node, 0-based.
    pub index: u32,
    /// Milli-GPUs held on that GPU (1000 for a whole GPU).
    pub milli: u32,
}

/// Where one worker runs: its node and the GPUs it holds there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerAlloc {
    pub node: NodeId,
    pub gpus: Vec<GpuShare>,
    /// CPU held, in millicores.
    pub cpu_milli: u32,
    /// Memory held, in MiB.
    pub memory_mib: u64,
}

/// Where a node is in its life. Only `Ready` nodes take workers and count as
/// capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NodeState {
    /// Requested from the cloud, not yet registered (autoscaler scale-up).
    Provisioning,
    Ready,
    /// Failed or reclaimed; may come back after repair.
    Down,
    /// Gone for good (scaled down); its id is never reused.
    Removed,
}

/// One node's ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub id: NodeId,
    pub pool: PoolId,
    /// Milli-GPUs in use on each GPU.
    gpu_used: Vec<u32>,
    /// GPUs with nothing allocated.
    free_whole: u32,
    /// Sum of `gpu_used`.
    gpu_milli_used: u64,
    /// CPU capacity and use, in millicores.
    cpu_cap: u32,
    cpu_used: u32,
    /// Memory capacity and use, in MiB.
    mem_cap: u64,
    mem_used: u64,
    /// Workers currently on the node.
    workers: u32,
    /// Rack (switch) of the node; every node is its own rack without a
    /// topology.
    rack: u32,
    state: NodeState,
}

impl Node {
    fn new(id: NodeId, pool: PoolId, spec: &PoolSpec) -> Node {
        Node {
            id,
            pool,
            gpu_used: vec![0; spec.gpus_per_node as usize],
            free_whole: spec.gpus_per_node,
            gpu_milli_used: 0,
            cpu_cap: spec.cpu_milli,
            cpu_used: 0,
            mem_cap: spec.memory_mib,
            mem_used: 0,
            workers: 0,
            rack: id.0,
            state: NodeState::Ready,
        }
    }

    /// The node's lifecycle state.
    pub fn state(&self) -> NodeState {
        self.state
    }

    /// True when the node takes workers.
    pub fn is_ready(&self) -> bool {
        self.state == NodeState::Ready
    }

    /// The node's rack (switch); nodes of one rack share it.
    pub fn rack(&self) -> u32 {
        self.rack
    }

    /// GPUs on the node.
    pub fn gpu_count(&self) -> u32 {
        self.gpu_used.len() as u32
    }
    /// Milli-GPUs in use on each GPU.
    pub fn gpu_used(&self) -> &[u32] {
        &self.gpu_used
    }
    /// GPUs with nothing allocated.
    pub fn free_whole_gpus(&self) -> u32 {
        self.free_whole
    }
    /// Milli-GPUs in use over all GPUs of the node.
    pub fn gpu_milli_used(&self) -> u64 {
        self.gpu_milli_used
    }
    /// Milli-GPU capacity of the node.
    pub fn gpu_milli_capacity(&self) -> u64 {
        u64::from(self.gpu_count()) * u64::from(MILLI_PER_GPU)
    }
    /// CPU capacity, in millicores.
    pub fn cpu_capacity(&self) -> u32 {
        self.cpu_cap
    }
    /// CPU in use, in millicores.
    pub fn cpu_used(&self) -> u32 {
        self.cpu_used
    }
    /// Memory capacity, in MiB.
    pub fn memory_capacity(&self) -> u64 {
        self.mem_cap
    }
    /// Memory in use, in MiB.
    pub fn memory_used(&self) -> u64 {
        self.mem_used
    }
    /// Workers running on the node.
    pub fn workers(&self) -> u32 {
        self.workers
    }
    /// True when anything is allocated on the node.
    pub fn is_busy(&self) -> bool {
        self.workers > 0
    }

    /// How many more workers of this shape the node can take (ignoring pools).
    /// Placing one such worker lowers this by exactly one, which is what makes
    /// the gang feasibility test in [`ClusterView::gang_fits`] exact.
    pub fn fit_count(&self, req: &WorkerRequest<'_>) -> u32 {
        if self.state != NodeState::Ready {
            return 0;
        }
        let mut n = u32::MAX;
        if let Some(c) = (self.cpu_cap - self.cpu_used).checked_div(req.cpu_milli) {
            n = n.min(c);
        }
        if let Some(m) = (self.mem_cap - self.mem_used).checked_div(req.memory_mib) {
            n = n.min(u32::try_from(m).unwrap_or(u32::MAX));
        }
        match req.gpu {
            GpuDemand::Whole(0) => {}
            GpuDemand::Whole(g) => n = n.min(self.free_whole / g),
            GpuDemand::Fraction(m) => {
                let per_gpu: u32 = self
                    .gpu_used
                    .iter()
                    .map(|&used| (MILLI_PER_GPU - used) / m)
                    .sum();
                n = n.min(per_gpu);
            }
        }
        n
    }

    /// True when one more worker of this shape fits (ignoring pools).
    pub fn fits(&self, req: &WorkerRequest<'_>) -> bool {
        if self.state != NodeState::Ready
            || self.cpu_cap - self.cpu_used < req.cpu_milli
            || self.mem_cap - self.mem_used < req.memory_mib
        {
            return false;
        }
        match req.gpu {
            GpuDemand::Whole(g) => self.free_whole >= g,
            GpuDemand::Fraction(m) => self.gpu_used.iter().any(|&u| u + m <= MILLI_PER_GPU),
        }
    }

    /// The default GPU choice for a worker that fits on this node: whole GPUs
    /// take the free GPUs with the lowest indices; a fractional worker takes the
    /// fullest GPU that still fits (ties: lower index), keeping whole GPUs free.
    pub fn default_gpus(&self, gpu: GpuDemand) -> Option<Vec<GpuShare>> {
        match gpu {
            GpuDemand::Whole(g) => {
                let picked: Vec<GpuShare> = self
                    .gpu_used
                    .iter()
                    .enumerate()
                    .filter(|&(_, &u)| u == 0)
                    .take(g as usize)
                    .map(|(i, _)| GpuShare {
                        index: i as u32,
                        milli: MILLI_PER_GPU,
                    })
                    .collect();
                (picked.len() == g as usize).then_some(picked)
            }
            GpuDemand::Fraction(m) => self
                .gpu_used
                .iter()
                .enumerate()
                .filter(|&(_, &u)| u + m <= MILLI_PER_GPU)
                // Fullest first; `max_by_key` keeps the last maximum, so compare
                // on (used, reversed index) to prefer the lower index on ties.
                .max_by_key(|&(i, &u)| (u, std::cmp::Reverse(i)))
                .map(|(i, _)| {
                    vec![GpuShare {
                        index: i as u32,
                        milli: m,
                    }]
                }),
        }
    }
}

/// Why the ledger refused an allocation (a policy bug: the engine reports it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    #[error("node {0} does not exist")]
    NoSuchNode(NodeId),
    #[error("node {node}: GPU {index} does not exist")]
    NoSuchGpu { node: NodeId, index: u32 },
    #[error("node {node}: GPU {index} would hold {would} milli-GPUs, above 1000")]
    GpuOver {
        node: NodeId,
        index: u32,
        would: u32,
    },
    #[error("node {node}: {resource} would exceed capacity")]
    Over {
        node: NodeId,
        resource: &'static str,
    },
    #[error("node {node}: GPU shares do not match the request {gpu:?}")]
    Shape { node: NodeId, gpu: GpuDemand },
    #[error("node {node}: pool {pool} is not allowed for this job")]
    Pool { node: NodeId, pool: PoolId },
    #[error("node {0} is not ready")]
    NotReady(NodeId),
}

/// The cluster: its pools and nodes, with running totals kept in step with
/// every allocation.
#[derive(Debug, Clone)]
pub struct Cluster {
    pools: Vec<PoolSpec>,
    nodes: Vec<Node>,
    gpu_milli_capacity: u64,
    gpu_milli_used: u64,
    free_whole_gpus: u64,
    busy_nodes: u32,
    /// Per pool: free resources of its Ready nodes, and its nodes
    /// provisioning (for the why-pending report, without a node scan).
    pool_free: Vec<PoolFree>,
}

/// Free resources of one pool's Ready nodes, and how many of its nodes are
/// provisioning. Kept in step with every allocation and state change.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolFree {
    /// Milli-GPUs.
    pub gpu_milli: u64,
    /// Millicores.
    pub cpu_milli: u64,
    /// MiB.
    pub memory_mib: u64,
    /// Nodes provisioning.
    pub provisioning: u32,
}

impl Cluster {
    /// Builds the nodes of every pool, numbered pool by pool in scenario order.
    pub fn new(pools: &[PoolSpec]) -> Cluster {
        let mut nodes = Vec::new();
        for (p, spec) in pools.iter().enumerate() {
            for _ in 0..spec.nodes {
                nodes.push(Node::new(
                    NodeId::from_index(nodes.len()),
                    PoolId::from_index(p),
                    spec,
                ));
            }
        }
        let gpu_milli_capacity = nodes.iter().map(Node::gpu_milli_capacity).sum();
        let free_whole_gpus = nodes.iter().map(|n| u64::from(n.gpu_count())).sum();
        let mut pool_free = vec![PoolFree::default(); pools.len()];
        for n in &nodes {
            let f = &mut pool_free[n.pool.index()];
            f.gpu_milli += n.gpu_milli_capacity();
            f.cpu_milli += u64::from(n.cpu_cap);
            f.memory_mib += n.mem_cap;
        }
        Cluster {
            pools: pools.to_vec(),
            nodes,
            gpu_milli_capacity,
            gpu_milli_used: 0,
            free_whole_gpus,
            busy_nodes: 0,
            pool_free,
        }
    }

    /// Adds a node to `pool` in state `state` (an autoscaler scale-up starts
    /// `Provisioning`). Returns its id; ids are never reused.
    pub fn add_node(&mut self, pool: PoolId, state: NodeState) -> NodeId {
        let id = NodeId::from_index(self.nodes.len());
        let mut node = Node::new(id, pool, &self.pools[pool.index()]);
        // A new node starts a rack of its own unless racks are re-derived.
        node.rack = self.nodes.iter().map(|n| n.rack + 1).max().unwrap_or(0);
        node.state = NodeState::Removed;
        self.nodes.push(node);
        self.set_state(id, state);
        id
    }

    /// Moves a node to `state`, keeping the capacity totals (which count Ready
    /// nodes only) in step.
    ///
    /// # Panics
    /// If the node still holds workers and leaves `Ready`: the engine must
    /// release them first (an engine bug otherwise).
    pub fn set_state(&mut self, id: NodeId, state: NodeState) {
        let node = &mut self.nodes[id.index()];
        let was_ready = node.state == NodeState::Ready;
        let ready = state == NodeState::Ready;
        let f = &mut self.pool_free[node.pool.index()];
        if was_ready && !ready {
            assert_eq!(node.workers, 0, "node {id} left Ready with workers on it");
            self.gpu_milli_capacity -= node.gpu_milli_capacity();
            self.free_whole_gpus -= u64::from(node.free_whole);
            f.gpu_milli -= node.gpu_milli_capacity();
            f.cpu_milli -= u64::from(node.cpu_cap);
            f.memory_mib -= node.mem_cap;
        } else if !was_ready && ready {
            self.gpu_milli_capacity += node.gpu_milli_capacity();
            self.free_whole_gpus += u64::from(node.free_whole);
            f.gpu_milli += node.gpu_milli_capacity();
            f.cpu_milli += u64::from(node.cpu_cap);
            f.memory_mib += node.mem_cap;
        }
        if node.state == NodeState::Provisioning {
            f.provisioning -= 1;
        }
        if state == NodeState::Provisioning {
            f.provisioning += 1;
        }
        node.state = state;
    }

    /// Groups consecutive nodes of each pool into racks of `nodes_per_rack`.
    pub fn set_racks(&mut self, nodes_per_rack: u32) {
        let per = nodes_per_rack.max(1);
        let mut rack = 0;
        let mut in_rack = 0;
        let mut pool = None;
        for n in &mut self.nodes {
            if pool != Some(n.pool) || in_rack == per {
                if pool.is_some() {
                    rack += 1;
                }
                pool = Some(n.pool);
                in_rack = 0;
            }
            n.rack = rack;
            in_rack += 1;
        }
    }

    /// A read-only view for policies.
    pub fn view(&self) -> ClusterView<'_> {
        ClusterView { cluster: self }
    }

    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    pub fn pools(&self) -> &[PoolSpec] {
        &self.pools
    }

    /// Milli-GPUs in the whole cluster.
    pub fn gpu_milli_capacity(&self) -> u64 {
        self.gpu_milli_capacity
    }

    /// Milli-GPUs allocated in the whole cluster.
    pub fn gpu_milli_used(&self) -> u64 {
        self.gpu_milli_used
    }

    /// GPUs with nothing allocated, over the whole cluster.
    pub fn free_whole_gpus(&self) -> u64 {
        self.free_whole_gpus
    }

    /// Nodes with at least one worker.
    pub fn busy_nodes(&self) -> u32 {
        self.busy_nodes
    }

    /// Allocates one worker, after checking every share against capacity.
    /// Nothing changes when it fails.
    pub fn allocate(
        &mut self,
        alloc: &WorkerAlloc,
        req: &WorkerRequest<'_>,
    ) -> Result<(), LedgerError> {
        let node = self
            .nodes
            .get(alloc.node.index())
            .ok_or(LedgerError::NoSuchNode(alloc.node))?;
        if node.state != NodeState::Ready {
            return Err(LedgerError::NotReady(node.id));
        }
        if !req
            .allowed_pools
            .get(node.pool.index())
            .copied()
            .unwrap_or(false)
        {
            return Err(LedgerError::Pool {
                node: node.id,
                pool: node.pool,
            });
        }
        let shape_ok = match req.gpu {
            GpuDemand::Whole(g) => {
                alloc.gpus.len() == g as usize
                    && alloc.gpus.iter().all(|s| s.milli == MILLI_PER_GPU)
            }
            GpuDemand::Fraction(m) => alloc.gpus.len() == 1 && alloc.gpus[0].milli == m,
        };
        let distinct = alloc
            .gpus
            .iter()
            .enumerate()
            .all(|(i, s)| alloc.gpus[..i].iter().all(|t| t.index != s.index));
        if !shape_ok
            || !distinct
            || alloc.cpu_milli != req.cpu_milli
            || alloc.memory_mib != req.memory_mib
        {
            return Err(LedgerError::Shape {
                node: node.id,
                gpu: req.gpu,
            });
        }
        for s in &alloc.gpus {
            let used = *node
                .gpu_used
                .get(s.index as usize)
                .ok_or(LedgerError::NoSuchGpu {
                    node: node.id,
                    index: s.index,
                })?;
            if used + s.milli > MILLI_PER_GPU {
                return Err(LedgerError::GpuOver {
                    node: node.id,
                    index: s.index,
                    would: used + s.milli,
                });
            }
        }
        if node.cpu_cap - node.cpu_used < alloc.cpu_milli {
            return Err(LedgerError::Over {
                node: node.id,
                resource: "cpu",
            });
        }
        if node.mem_cap - node.mem_used < alloc.memory_mib {
            return Err(LedgerError::Over {
                node: node.id,
                resource: "memory",
            });
        }
        self.apply(alloc);
        Ok(())
    }

    /// Books a checked allocation into the node and the running totals.
    fn apply(&mut self, alloc: &WorkerAlloc) {
        let node = &mut self.nodes[alloc.node.index()];
        let f = &mut self.pool_free[node.pool.index()];
        f.cpu_milli -= u64::from(alloc.cpu_milli);
        f.memory_mib -= alloc.memory_mib;
        for s in &alloc.gpus {
            f.gpu_milli -= u64::from(s.milli);
            let u = &mut node.gpu_used[s.index as usize];
            if *u == 0 {
                node.free_whole -= 1;
                self.free_whole_gpus -= 1;
            }
            *u += s.milli;
            node.gpu_milli_used += u64::from(s.milli);
            self.gpu_milli_used += u64::from(s.milli);
        }
        node.cpu_used += alloc.cpu_milli;
        node.mem_used += alloc.memory_mib;
        if node.workers == 0 {
            self.busy_nodes += 1;
        }
        node.workers += 1;
    }

    /// Answers a what-if: releases `allocs` (all currently allocated), runs
    /// `test` on the lighter ledger, and books them again, so the ledger ends
    /// exactly as it began. Preemption and shrink decisions use it.
    pub fn with_released<R>(
        &mut self,
        allocs: &[WorkerAlloc],
        test: impl FnOnce(&Cluster) -> R,
    ) -> R {
        for a in allocs {
            self.release(a);
        }
        let answer = test(self);
        for a in allocs {
            self.apply(a);
        }
        answer
    }

    /// Free resources and provisioning nodes of each pool, indexed by pool id.
    pub fn pool_free(&self) -> &[PoolFree] {
        &self.pool_free
    }

    /// Releases a worker previously allocated with [`Cluster::allocate`].
    ///
    /// # Panics
    /// If the allocation was never made: that is an engine bug, not bad input.
    pub fn release(&mut self, alloc: &WorkerAlloc) {
        let node = &mut self.nodes[alloc.node.index()];
        let f = &mut self.pool_free[node.pool.index()];
        f.cpu_milli += u64::from(alloc.cpu_milli);
        f.memory_mib += alloc.memory_mib;
        for s in &alloc.gpus {
            f.gpu_milli += u64::from(s.milli);
            let u = &mut node.gpu_used[s.index as usize];
            *u = u.checked_sub(s.milli).expect("ledger: GPU released twice");
            if *u == 0 {
                node.free_whole += 1;
                self.free_whole_gpus += 1;
            }
            node.gpu_milli_used -= u64::from(s.milli);
            self.gpu_milli_used -= u64::from(s.milli);
        }
        node.cpu_used = node
            .cpu_used
            .checked_sub(alloc.cpu_milli)
            .expect("ledger: CPU released twice");
        node.mem_used = node
            .mem_used
            .checked_sub(alloc.memory_mib)
            .expect("ledger: memory released twice");
        node.workers = node
            .workers
            .checked_sub(1)
            .expect("ledger: worker released twice");
        if node.workers == 0 {
            self.busy_nodes -= 1;
        }
    }

    /// Checks the ledger against the allocations that should be in force:
    /// recomputes every node from scratch and compares, and checks capacity.
    /// Used by the invariant checker.
    pub fn audit<'a>(
        &self,
        allocs: impl IntoIterator<Item = &'a WorkerAlloc>,
    ) -> Result<(), String> {
        let mut fresh = Cluster {
            pools: self.pools.clone(),
            nodes: Vec::with_capacity(self.nodes.len()),
            gpu_milli_capacity: 0,
            gpu_milli_used: 0,
            free_whole_gpus: 0,
            busy_nodes: 0,
            pool_free: vec![PoolFree::default(); self.pools.len()],
        };
        for n in &self.nodes {
            let id = fresh.add_node(n.pool, n.state);
            fresh.nodes[id.index()].rack = n.rack;
        }
        for a in allocs {
            let node = fresh
                .nodes
                .get_mut(a.node.index())
                .ok_or_else(|| format!("allocation on missing node {}", a.node))?;
            for s in &a.gpus {
                let u = node.gpu_used.get_mut(s.index as usize).ok_or_else(|| {
                    format!("node {}: allocation on missing GPU {}", a.node, s.index)
                })?;
                if *u == 0 {
                    node.free_whole -= 1;
                }
                *u += s.milli;
                node.gpu_milli_used += u64::from(s.milli);
            }
            node.cpu_used += a.cpu_milli;
            node.mem_used += a.memory_mib;
            node.workers += 1;
        }
        for (n, f) in self.nodes.iter().zip(&fresh.nodes) {
            if n != f {
                return Err(format!(
                    "node {}: ledger {:?} differs from running allocations {:?}",
                    n.id, n, f
                ));
            }
            if n.gpu_used.iter().any(|&u| u > MILLI_PER_GPU)
                || n.cpu_used > n.cpu_cap
                || n.mem_used > n.mem_cap
            {
                return Err(format!("node {}: over capacity: {:?}", n.id, n));
            }
        }
        let used: u64 = self.nodes.iter().map(|n| n.gpu_milli_used).sum();
        let ready = || self.nodes.iter().filter(|n| n.state == NodeState::Ready);
        let free: u64 = ready().map(|n| u64::from(n.free_whole)).sum();
        let cap: u64 = ready().map(Node::gpu_milli_capacity).sum();
        let busy = self.nodes.iter().filter(|n| n.workers > 0).count() as u32;
        if let Some(n) = self
            .nodes
            .iter()
            .find(|n| n.workers > 0 && n.state != NodeState::Ready)
        {
            return Err(format!("node {} holds workers but is {:?}", n.id, n.state));
        }
        if used != self.gpu_milli_used
            || free != self.free_whole_gpus
            || busy != self.busy_nodes
            || cap != self.gpu_milli_capacity
        {
            return Err(format!(
                "cluster totals out of step: used {used} vs {}, free {free} vs {}, busy {busy} vs {}, capacity {cap} vs {}",
                self.gpu_milli_used, self.free_whole_gpus, self.busy_nodes, self.gpu_milli_capacity
            ));
        }
        let mut pool_free = vec![PoolFree::default(); self.pools.len()];
        for n in &self.nodes {
            let f = &mut pool_free[n.pool.index()];
            match n.state {
                NodeState::Ready => {
                    f.gpu_milli += n.gpu_milli_capacity() - n.gpu_milli_used;
                    f.cpu_milli += u64::from(n.cpu_cap - n.cpu_used);
                    f.memory_mib += n.mem_cap - n.mem_used;
                }
                NodeState::Provisioning => f.provisioning += 1,
                NodeState::Down | NodeState::Removed => {}
            }
        }
        if pool_free != self.pool_free {
            return Err(format!(
                "per-pool free totals out of step: {:?} vs recomputed {pool_free:?}",
                self.pool_free
            ));
        }
        Ok(())
    }
}

/// Per-node answer of [`ClusterView::fit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeFit {
    pub node: NodeId,
    /// Workers of the requested shape that fit there now.
    pub count: u32,
}

/// What placement policies see: the cluster, read-only.
#[derive(Debug, Clone, Copy)]
pub struct ClusterView<'a> {
    cluster: &'a Cluster,
}

impl<'a> ClusterView<'a> {
    pub fn nodes(&self) -> &'a [Node] {
        &self.cluster.nodes
    }

    pub fn node(&self, id: NodeId) -> &'a Node {
        &self.cluster.nodes[id.index()]
    }

    pub fn pools(&self) -> &'a [PoolSpec] {
        &self.cluster.pools
    }

    /// Milli-GPUs allocated over the cluster.
    pub fn gpu_milli_used(&self) -> u64 {
        self.cluster.gpu_milli_used
    }

    /// Milli-GPU capacity of the cluster.
    pub fn gpu_milli_capacity(&self) -> u64 {
        self.cluster.gpu_milli_capacity
    }

    /// Free whole GPUs over the cluster.
    pub fn free_whole_gpus(&self) -> u64 {
        self.cluster.free_whole_gpus
    }

    /// True when one more worker of this shape fits on `node`, pools included.
    pub fn fits(&self, node: &Node, req: &WorkerRequest<'_>) -> bool {
        req.allowed_pools[node.pool.index()] && node.fits(req)
    }

    /// Nodes (in id order) where a worker of this shape fits now.
    pub fn feasible_nodes<'r>(
        &self,
        req: &'r WorkerRequest<'r>,
    ) -> impl Iterator<Item = &'a Node> + 'r
    where
        'a: 'r,
    {
        self.cluster
            .nodes
            .iter()
            .filter(move |n| req.allowed_pools[n.pool.index()] && n.fits(req))
    }

    /// True when all `workers` workers of this shape can be placed now. Exact:
    /// placing a worker lowers its node's [`Node::fit_count`] by exactly one, so
    /// any policy that places each worker on a node where it fits completes the
    /// gang.
    pub fn gang_fits(&self, req: &WorkerRequest<'_>, workers: u32) -> bool {
        let mut total: u64 = 0;
        for n in &self.cluster.nodes {
            if req.allowed_pools[n.pool.index()] {
                total += u64::from(n.fit_count(req));
                if total >= u64::from(workers) {
                    return true;
                }
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(nodes: u32, gpus: u32) -> PoolSpec {
        PoolSpec {
            name: "p".into(),
            nodes,
            gpus_per_node: gpus,
            gpu_model: "A100".into(),
            cpu_milli: 8_000,
            memory_mib: 1_000,
            price_per_node_hour: None,
            labels: Default::default(),
            kind: Default::default(),
        }
    }

    #[test]
    fn fractional_takes_fullest_gpu_and_whole_takes_lowest_free() {
        let mut c = Cluster::new(&[pool(1, 4)]);
        let all = [true];
        let frac = |m| WorkerRequest {
            gpu: GpuDemand::Fraction(m),
            cpu_milli: 0,
            memory_mib: 0,
            allowed_pools: &all,
        };
        let r = frac(300);
        let g = c.nodes()[0].default_gpus(r.gpu).unwrap();
        assert_eq!(
            g,
            vec![GpuShare {
                index: 0,
                milli: 300
            }]
        );
        c.allocate(
            &WorkerAlloc {
                node: NodeId(0),
                gpus: g,
                cpu_milli: 0,
                memory_mib: 0,
            },
            &r,
        )
        .unwrap();
        // GPU 0 now holds 300: a 600 share goes there too (fullest that fits).
        assert_eq!(
            c.nodes()[0].default_gpus(GpuDemand::Fraction(600)).unwrap()[0].index,
            0
        );
        // A 800 share does not fit on GPU 0 and goes to GPU 1.
        assert_eq!(
            c.nodes()[0].default_gpus(GpuDemand::Fraction(800)).unwrap()[0].index,
            1
        );
        // Two whole GPUs: the lowest free indices, 1 and 2.
        let w = c.nodes()[0].default_gpus(GpuDemand::Whole(2)).unwrap();
        assert_eq!(w.iter().map(|s| s.index).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(c.free_whole_gpus(), 3);
        assert_eq!(c.nodes()[0].fit_count(&frac(500)), 1 + 3 * 2);
    }

    #[test]
    fn ledger_refuses_overallocation_and_changes_nothing() {
        let mut c = Cluster::new(&[pool(1, 2)]);
        let all = [true];
        let r = WorkerRequest {
            gpu: GpuDemand::Whole(1),
            cpu_milli: 5_000,
            memory_mib: 10,
            allowed_pools: &all,
        };
        let a = WorkerAlloc {
            node: NodeId(0),
            gpus: vec![GpuShare {
                index: 0,
                milli: 1000,
            }],
            cpu_milli: 5_000,
            memory_mib: 10,
        };
        c.allocate(&a, &r).unwrap();
        let before = c.nodes()[0].clone();
        let b = WorkerAlloc {
            gpus: vec![GpuShare {
                index: 1,
                milli: 1000,
            }],
            ..a.clone()
        };
        assert_eq!(
            c.allocate(&b, &r),
            Err(LedgerError::Over {
                node: NodeId(0),
                resource: "cpu"
            })
        );
        assert_eq!(
            c.allocate(&a, &r).unwrap_err(),
            LedgerError::GpuOver {
                node: NodeId(0),
                index: 0,
                would: 2000
            }
        );
        assert_eq!(c.nodes()[0], before);
        c.audit([&a]).unwrap();
        c.release(&a);
        c.audit([]).unwrap();
        assert_eq!(c.busy_nodes(), 0);
    }

    #[test]
    fn only_ready_nodes_count_and_take_workers() {
        let mut c = Cluster::new(&[pool(1, 4)]);
        assert_eq!((c.gpu_milli_capacity(), c.free_whole_gpus()), (4_000, 4));
        let n = c.add_node(PoolId(0), NodeState::Provisioning);
        assert_eq!(n, NodeId(1));
        assert_eq!((c.gpu_milli_capacity(), c.free_whole_gpus()), (4_000, 4));
        let all = [true];
        let r = WorkerRequest {
            gpu: GpuDemand::Whole(4),
            cpu_milli: 0,
            memory_mib: 0,
            allowed_pools: &all,
        };
        assert!(!c.view().fits(&c.nodes()[1], &r));
        let a = WorkerAlloc {
            node: n,
            gpus: (0..4)
                .map(|index| GpuShare { index, milli: 1000 })
                .collect(),
            cpu_milli: 0,
            memory_mib: 0,
        };
        assert_eq!(c.allocate(&a, &r), Err(LedgerError::NotReady(n)));
        c.set_state(n, NodeState::Ready);
        assert_eq!((c.gpu_milli_capacity(), c.free_whole_gpus()), (8_000, 8));
        assert!(c.view().gang_fits(&r, 2));
        c.allocate(&a, &r).unwrap();
        c.audit([&a]).unwrap();
        c.release(&a);
        c.set_state(NodeId(0), NodeState::Down);
        assert_eq!((c.gpu_milli_capacity(), c.free_whole_gpus()), (4_000, 4));
        assert!(!c.view().gang_fits(&r, 2));
        c.audit([]).unwrap();
    }
}
