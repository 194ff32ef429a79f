//! EASE (Steck 2019, "Embarrassingly Shallow Autoencoders for Sparse
//! Data"): a closed-form item-item linear model.
//!
//! Over the items with at least one positive interaction ("active" items),
//! `G = XᵀX + λI` with `X` the binary user × item matrix of positive
//! interactions, `P = G⁻¹` (Cholesky factorisation and inverse via faer, in
//! f64), `B[i][j] = −P[i][j] / P[j][j]` and `B[j][j] = 0`. A user's score for
//! item `j` is `Σ_i x_ui · B[i][j]` with the user's *signed* weights `x_u`.
//! `B` is dense (active² f32), so the model is only built when the number of
//! active items is at most the configured maximum.

use faer::linalg::solvers::{DenseSolveCore, Llt};
use faer::{MatRef, Side};

use super::Positives;

/// The learned item-item weights over the active items.
#[derive(Clone, Debug)]
pub(crate) struct Ease {
    /// Active index → item index.
    active: Vec<u32>,
    /// Item index → active index, `u32::MAX` for inactive items.
    index_of: Vec<u32>,
    /// Row-major `m × m`: row `i` is what item `active[i]` adds to the others.
    b: Vec<f32>,
}

impl Ease {
    /// Fits the model; `None` when there are no active items, more than
    /// `max_items` of them, or `G` is not positive definite (`λ ≤ 0`).
    pub(crate) fn build(pos: &Positives, lambda: f32, max_items: usize) -> Option<Self> {
        let n = pos.n_items();
        let active: Vec<u32> = (0..n)
            .filter(|&i| !pos.users_of(i).is_empty())
            .map(|i| i as u32)
            .collect();
        let m = active.len();
        if m == 0 || m > max_items || !(lambda.is_finite() && lambda > 0.0) {
            return None;
        }
        let mut index_of = vec![u32::MAX; n];
        for (a, &i) in active.iter().enumerate() {
            index_of[i as usize] = a as u32;
        }

        // Lower triangle of G, column-major (faer only reads that half).
        let mut g = vec![0f64; m * m];
        let mut row: Vec<usize> = Vec::new();
        for u in 0..pos.n_users() {
            row.clear();
            row.extend(
                pos.items_of(u)
                    .iter()
                    .map(|&i| index_of[i as usize] as usize),
            );
            row.sort_unstable();
            for (k, &q) in row.iter().enumerate() {
                let col = &mut g[q * m..(q + 1) * m];
                for &p in &row[k..] {
                    col[p] += 1.0;
                }
            }
        }
        for d in 0..m {
            g[d * m + d] += f64::from(lambda);
        }
        let llt = Llt::new(MatRef::from_column_major_slice(&g, m, m), Side::Lower).ok()?;
        drop(g);
        let p = llt.inverse();
        drop(llt);

        let diag: Vec<f64> = (0..m).map(|j| p.col_as_slice(j)[j]).collect();
        if diag.iter().any(|&d| !(d.is_finite() && d > 0.0)) {
            return None;
        }
        let mut b = vec![0f32; m * m];
        for i in 0..m {
            // P is symmetric, so column i of P is row i.
            let p_row = p.col_as_slice(i);
            let b_row = &mut b[i * m..(i + 1) * m];
            for j in 0..m {
                if j != i {
                    b_row[j] = (-p_row[j] / diag[j]) as f32;
                }
            }
        }
        Some(Ease {
            active,
            index_of,
            b,
        })
    }

    /// Adds `Σ_i x_ui · B[i][j]` to `out[j]` for every active item `j`.
    pub(crate) fn score(&self, history: &[(u32, f32)], out: &mut [f32]) {
        let m = self.active.len();
        let mut acc = vec![0f32; m];
        for &(item, w) in history {
            let Some(&a) = self.index_of.get(item as usize) else {
                continue;
            };
            if a == u32::MAX {
                continue;
            }
            let a = a as usize;
            for (slot, &x) in acc.iter_mut().zip(&self.b[a * m..(a + 1) * m]) {
                *slot += w * x;
            }
        }
        for (&item, &s) in self.active.iter().zip(&acc) {
            if let Some(slot) = out.get_mut(item as usize) {
                *slot += s;
            }
        }
    }

    /// `B[i][j]` for two item indices (0 when either is inactive).
    #[cfg(test)]
    pub(crate) fn weight(&self, i: usize, j: usize) -> f32 {
        let m = self.active.len();
        match (self.index_of.get(i), self.index_of.get(j)) {
            (Some(&a), Some(&b)) if a != u32::MAX && b != u32::MAX => {
                self.b[a as usize * m + b as usize]
            }
            _ => 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ranking::TrainingData;

    /// Inverse of a 3×3 matrix by cofactors.
    fn inverse3(a: [[f64; 3]; 3]) -> [[f64; 3]; 3] {
        let c = |r0: usize, r1: usize, c0: usize, c1: usize| {
            a[r0][c0] * a[r1][c1] - a[r0][c1] * a[r1][c0]
        };
        let cof = [
            [c(1, 2, 1, 2), -c(1, 2, 0, 2), c(1, 2, 0, 1)],
            [-c(0, 2, 1, 2), c(0, 2, 0, 2), -c(0, 2, 0, 1)],
            [c(0, 1, 1, 2), -c(0, 1, 0, 2), c(0, 1, 0, 1)],
        ];
        let det = a[0][0] * cof[0][0] + a[0][1] * cof[0][1] + a[0][2] * cof[0][2];
        let mut inv = [[0.0; 3]; 3];
        for i in 0..3 {
            for j in 0..3 {
                inv[i][j] = cof[j][i] / det;
            }
        }
        inv
    }

    #[test]
    fn ease_on_a_tiny_matrix_equals_the_closed_form() {
        // Items 0..3 active, item 3 never positive (inactive).
        let data = TrainingData {
            n_items: 4,
            rows: vec![
                vec![(0, 1.0), (1, 1.0)],
                vec![(0, 1.0), (1, 1.0), (2, 1.0)],
                vec![(1, 1.0), (2, 1.0), (3, -1.0)],
                vec![(2, 1.0)],
            ],
        };
        let lambda = 0.5f32;
        let ease = Ease::build(&Positives::new(&data), lambda, 10).unwrap();
        // XᵀX by hand: counts 2,3,3 on the diagonal; co-occurrences
        // (0,1) = 2, (0,2) = 1, (1,2) = 2.
        let l = f64::from(lambda);
        let g = [
            [2.0 + l, 2.0, 1.0],
            [2.0, 3.0 + l, 2.0],
            [1.0, 2.0, 3.0 + l],
        ];
        let p = inverse3(g);
        for (i, p_row) in p.iter().enumerate() {
            for (j, &p_ij) in p_row.iter().enumerate() {
                let want = if i == j { 0.0 } else { -p_ij / p[j][j] };
                let got = f64::from(ease.weight(i, j));
                assert!(
                    (got - want).abs() < 1e-5,
                    "B[{i}][{j}] = {got}, want {want}"
                );
            }
        }
        assert_eq!(ease.weight(3, 0), 0.0);

        // Scores are x_u · B with signed x_u; inactive items score nothing.
        let mut out = vec![0.0; 4];
        ease.score(&[(0, 1.0), (2, -2.0), (3, 5.0)], &mut out);
        for (j, &got) in out.iter().enumerate().take(3) {
            let want = f64::from(ease.weight(0, j)) - 2.0 * f64::from(ease.weight(2, j));
            assert!((f64::from(got) - want).abs() < 1e-5);
        }
        assert_eq!(out[3], 0.0);
    }

    #[test]
    fn ease_is_disabled_past_the_item_limit_or_without_data() {
        let data = TrainingData {
            n_items: 3,
            rows: vec![vec![(0, 1.0), (1, 1.0), (2, 1.0)]],
        };
        assert!(Ease::build(&Positives::new(&data), 10.0, 2).is_none());
        assert!(Ease::build(&Positives::new(&data), 10.0, 3).is_some());
        assert!(Ease::build(&Positives::new(&data), 0.0, 3).is_none());
        let empty = TrainingData {
            n_items: 0,
            rows: vec![],
        };
        assert!(Ease::build(&Positives::new(&empty), 10.0, 3).is_none());
        let only_negative = TrainingData {
            n_items: 2,
            rows: vec![vec![(0, -1.0)]],
        };
        assert!(Ease::build(&Positives::new(&only_negative), 10.0, 3).is_none());
    }
}
