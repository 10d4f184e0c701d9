//! Dense id newtypes. Each indexes a `Vec` owned by the workload or the cluster,
//! so lookups are array accesses and iteration order is the id order.

use std::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub u32);

        impl $name {
            /// The index into the owning `Vec`.
            pub fn index(self) -> usize {
                self.0 as usize
            }

            /// The id of the element at `index`.
            pub fn from_index(index: usize) -> Self {
                Self(u32::try_from(index).expect("id space exhausted (more than 2^32 items)"))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

id_type!(
    /// A job of the workload: its index in `Workload::jobs` (submission order).
    JobId
);
id_type!(
    /// A node of the cluster: its index in `Cluster::nodes`.
    NodeId
);
id_type!(
    /// A node pool: its index in the scenario's list of pools.
    PoolId
);
id_type!(
    /// A tenant (team, queue or virtual cluster): its index in `Workload::tenants`.
    TenantId
);
