//! Cluster mode: placeholder, being written.
