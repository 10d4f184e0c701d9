//! The `random` expander: one option drawn uniformly (upstream `random`, also
//! the fallback that settles ties left by a chain).
//!
//! Determinism: one `random_range(0..n)` draw from the autoscaler's own
//! `ChaCha8Rng` stream over the options in pool order, made only when there is
//! more than one option.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

/// One of `left`, drawn uniformly (empty when `left` is).
pub fn random(left: &[usize], rng: &mut ChaCha8Rng) -> Vec<usize> {
    match left.len() {
        0 | 1 => left.to_vec(),
        n => vec![left[rng.random_range(0..n)]],
    }
}
