//! ItemKNN: item-item cosine similarity with shrinkage over positive
//! interactions, pruned to each item's top `k` neighbours.
//!
//! `sim(i, j) = |U_i ∩ U_j| / (sqrt(|U_i|) · sqrt(|U_j|) + shrinkage)`.
//! Co-occurrences are counted one item at a time with a sparse accumulator
//! (a dense counter plus the list of slots it touched), so memory stays
//! O(items · k) whatever the catalogue size; items are spread over worker
//! threads.

use super::{Positives, worker_threads};

/// Every item's top-`k` neighbours, CSR, best first.
#[derive(Clone, Debug, Default)]
pub(crate) struct ItemKnn {
    ptr: Vec<usize>,
    neighbours: Vec<u32>,
    sims: Vec<f32>,
}

impl ItemKnn {
    pub(crate) fn build(pos: &Positives, k: usize, shrinkage: f32) -> Self {
        let n = pos.n_items();
        let shrinkage = if shrinkage.is_finite() {
            shrinkage.max(0.0)
        } else {
            0.0
        };
        if n == 0 || k == 0 {
            return ItemKnn {
                ptr: vec![0; n + 1],
                ..ItemKnn::default()
            };
        }
        let threads = worker_threads().min(n);
        let parts: Vec<Vec<Vec<(u32, f32)>>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    s.spawn(move || {
                        let mut acc = vec![0u32; n];
                        let mut touched: Vec<u32> = Vec::new();
                        (t..n)
                            .step_by(threads)
                            .map(|i| neighbours_of(pos, i, k, shrinkage, &mut acc, &mut touched))
                            .collect()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        });
        let mut knn = ItemKnn {
            ptr: Vec::with_capacity(n + 1),
            neighbours: Vec::new(),
            sims: Vec::new(),
        };
        knn.ptr.push(0);
        for i in 0..n {
            for &(j, s) in &parts[i % threads][i / threads] {
                knn.neighbours.push(j);
                knn.sims.push(s);
            }
            knn.ptr.push(knn.neighbours.len());
        }
        knn
    }

    /// Item `i`'s neighbours and similarities, best first.
    pub(crate) fn neighbours(&self, i: usize) -> (&[u32], &[f32]) {
        match (self.ptr.get(i), self.ptr.get(i + 1)) {
            (Some(&a), Some(&b)) => (&self.neighbours[a..b], &self.sims[a..b]),
            _ => (&[], &[]),
        }
    }

    /// Adds `Σ_j w_j · sim(j, i)` over the history to `out[i]`.
    pub(crate) fn score(&self, history: &[(u32, f32)], out: &mut [f32]) {
        for &(j, w) in history {
            let (nb, sims) = self.neighbours(j as usize);
            for (&i, &s) in nb.iter().zip(sims) {
                if let Some(slot) = out.get_mut(i as usize) {
                    *slot += w * s;
                }
            }
        }
    }
}

/// The top-`k` neighbours of item `i`, best first (ties by index).
fn neighbours_of(
    pos: &Positives,
    i: usize,
    k: usize,
    shrinkage: f32,
    acc: &mut [u32],
    touched: &mut Vec<u32>,
) -> Vec<(u32, f32)> {
    touched.clear();
    for &u in pos.users_of(i) {
        for &j in pos.items_of(u as usize) {
            if j as usize == i {
                continue;
            }
            let slot = &mut acc[j as usize];
            if *slot == 0 {
                touched.push(j);
            }
            *slot += 1;
        }
    }
    let ni = (pos.users_of(i).len() as f32).sqrt();
    let mut out: Vec<(u32, f32)> = touched
        .iter()
        .map(|&j| {
            let c = std::mem::take(&mut acc[j as usize]) as f32;
            let nj = (pos.users_of(j as usize).len() as f32).sqrt();
            (j, c / (ni * nj + shrinkage))
        })
        .collect();
    let order = |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
    if out.len() > k {
        out.select_nth_unstable_by(k, order);
        out.truncate(k);
    }
    out.sort_unstable_by(order);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ranking::TrainingData;

    #[test]
    fn cosine_with_shrinkage_matches_the_formula_on_a_tiny_example() {
        // Users: u0 {0,1}, u1 {0,1,2}, u2 {0,2}, u3 {1} plus a negative on 2
        // (ignored: only positive interactions count).
        let data = TrainingData {
            n_items: 4,
            rows: vec![
                vec![(0, 1.0), (1, 1.0)],
                vec![(0, 1.0), (1, 2.0), (2, 1.0)],
                vec![(0, 1.0), (2, 1.0)],
                vec![(1, 1.0), (2, -1.0)],
            ],
        };
        let pos = Positives::new(&data);
        let shrink = 2.0;
        let knn = ItemKnn::build(&pos, 10, shrink);
        // |U0| = 3, |U1| = 3, |U2| = 2; U0∩U1 = 2, U0∩U2 = 2, U1∩U2 = 1.
        let s01 = 2.0 / (3f32.sqrt() * 3f32.sqrt() + shrink);
        let s02 = 2.0 / (3f32.sqrt() * 2f32.sqrt() + shrink);
        let s12 = 1.0 / (3f32.sqrt() * 2f32.sqrt() + shrink);
        let (nb, sims) = knn.neighbours(0);
        assert_eq!(nb, [2, 1]);
        assert!((sims[0] - s02).abs() < 1e-6 && (sims[1] - s01).abs() < 1e-6);
        let (nb, sims) = knn.neighbours(2);
        assert_eq!(nb, [0, 1]);
        assert!((sims[1] - s12).abs() < 1e-6);
        // Item 3 has no interactions: no neighbours.
        assert!(knn.neighbours(3).0.is_empty());

        // Pruning to k = 1 keeps the best neighbour only.
        let knn1 = ItemKnn::build(&pos, 1, shrink);
        assert_eq!(knn1.neighbours(0).0, [2]);

        // Scores: Σ_j w_j sim(j, i).
        let mut out = vec![0.0; 4];
        knn.score(&[(0, 1.0), (1, -1.0)], &mut out);
        assert!((out[2] - (s02 - s12)).abs() < 1e-6);
        assert!((out[1] - s01).abs() < 1e-6);
        assert!((out[0] + s01).abs() < 1e-6);
    }

    #[test]
    fn empty_catalogue_and_zero_k_build_empty_models() {
        let pos = Positives::new(&TrainingData {
            n_items: 0,
            rows: vec![vec![], vec![]],
        });
        let knn = ItemKnn::build(&pos, 10, 1.0);
        assert!(knn.neighbours(0).0.is_empty());
        let pos = Positives::new(&TrainingData {
            n_items: 2,
            rows: vec![vec![(0, 1.0), (1, 1.0)]],
        });
        let knn = ItemKnn::build(&pos, 0, 1.0);
        let mut out = vec![0.0; 2];
        knn.score(&[(0, 1.0), (5, 1.0)], &mut out);
        assert_eq!(out, [0.0, 0.0]);
    }
}
