//! Experiments that reproduce published results outside the event engine.
//!
//! - [`fgd`]: the GPU-allocation experiment of the FGD paper (Weng et al.,
//!   USENIX ATC 2023) on the Alibaba openb traces: pods arrive one after
//!   another and never leave, and each placement policy is judged by how much
//!   GPU it allocates as the arrived demand grows past the cluster's capacity.

pub mod fgd;
