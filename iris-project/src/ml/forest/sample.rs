//! Each tree's randomness: its seed, its bootstrap sample and its per-split feature draws.
//!
//! Every draw goes through `gen_range` on `u64`, whose algorithm rand fixes independently of
//! the platform's pointer width, and through Xoshiro256++, whose output and `seed_from_u64`
//! are fully specified; a forest is therefore the same on every machine.

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// The SplitMix64 output function: a fixed, well-mixing bijection on `u64`, used to turn
/// consecutive tree indices into unrelated seed offsets.
pub(crate) fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Seed of tree `index`: `random_state ^ splitmix64(index)`, so a tree's randomness depends
/// only on `(random_state, index)`, not on which thread grows it or in which order.
pub(crate) fn tree_seed(random_state: u64, index: usize) -> u64 {
    random_state ^ splitmix64(index as u64)
}

/// The generator of tree `index`.
pub(crate) fn tree_rng(random_state: u64, index: usize) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(tree_seed(random_state, index))
}

/// How often each of `n_rows` rows is drawn in `draws` uniform draws with replacement (the
/// bootstrap sample as weights: a row drawn twice counts twice, without being copied).
pub(crate) fn bootstrap_counts(rng: &mut impl Rng, n_rows: usize, draws: usize) -> Vec<u32> {
    let mut counts = vec![0u32; n_rows];
    for _ in 0..draws {
        counts[rng.gen_range(0..n_rows as u64) as usize] += 1;
    }
    counts
}

/// Lazily draws features without replacement: a Fisher-Yates shuffle advanced one position
/// per draw, so a node that needs more candidates than `max_features` (none of them splits)
/// keeps drawing from the same permutation.
pub(crate) struct FeatureDraw {
    order: Vec<usize>,
}

impl FeatureDraw {
    pub(crate) fn new(n_features: usize) -> FeatureDraw {
        FeatureDraw {
            order: (0..n_features).collect(),
        }
    }

    /// The `i`-th feature of this node's draw (`i` counts up from 0 within a node).
    pub(crate) fn draw(&mut self, rng: &mut impl Rng, i: usize) -> usize {
        let n = self.order.len();
        let j = rng.gen_range(i as u64..n as u64) as usize;
        self.order.swap(i, j);
        self.order[i]
    }

    pub(crate) fn n_features(&self) -> usize {
        self.order.len()
    }
}
