//! Cluster autoscaling policies. (Being written.)
