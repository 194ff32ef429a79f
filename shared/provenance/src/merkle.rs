//! RFC 6962 / RFC 9162 Merkle trees: leaf and node hashing (leaf prefix
//! 0x00, node prefix 0x01), tree heads, inclusion and consistency proofs,
//! and their verification, as pure functions over a store of the hashes of
//! perfect subtrees.
//!
//! A log of n leaves keeps one hash per complete, aligned subtree: level 0
//! holds the leaf hashes, level l + 1 the hash of each pair at level l. Any
//! tree head or proof for a size up to n is then computed from O(log n)
//! stored hashes per level, so proofs stay fast at millions of entries.

use sha2::{Digest, Sha256};

/// A SHA-256 hash.
pub type Hash = [u8; 32];

/// The hash of a leaf: SHA-256(0x00 || data).
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// The hash of an interior node: SHA-256(0x01 || left || right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root of the empty tree: SHA-256 of nothing.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// Read access to the stored hashes of perfect subtrees: `node(level,
/// index)` is the hash over leaves `[index << level, (index + 1) << level)`.
pub trait Nodes {
    /// The error reading a node.
    type Error;
    /// The hash of one perfect subtree.
    fn node(&self, level: u32, index: u64) -> Result<Hash, Self::Error>;
}

/// Why a proof could not be made.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProofError<E> {
    #[error("index {index} is not in a tree of size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("tree size {requested} is larger than the log ({available})")]
    SizeOutOfRange { requested: u64, available: u64 },
    #[error("reading a node: {0}")]
    Store(E),
}

fn largest_power_of_two_below(n: u64) -> u64 {
    debug_assert!(n > 1);
    1 << (63 - (n - 1).leading_zeros())
}

/// The hash of the subtree over leaves `[start, end)`, split as RFC 6962
/// splits a tree (the left part the largest power of two below the size).
pub fn subtree<N: Nodes>(nodes: &N, start: u64, end: u64) -> Result<Hash, N::Error> {
    let n = end - start;
    if n.is_power_of_two() && start.is_multiple_of(n) {
        return nodes.node(n.trailing_zeros(), start / n);
    }
    let k = largest_power_of_two_below(n);
    let left = subtree(nodes, start, start + k)?;
    let right = subtree(nodes, start + k, end)?;
    Ok(node_hash(&left, &right))
}

/// The tree head of the first `size` leaves.
pub fn root<N: Nodes>(nodes: &N, size: u64) -> Result<Hash, N::Error> {
    if size == 0 {
        Ok(empty_root())
    } else {
        subtree(nodes, 0, size)
    }
}

/// The inclusion proof (audit path) of leaf `index` in the tree of the
/// first `size` leaves, leaf side first.
pub fn inclusion_proof<N: Nodes>(
    nodes: &N,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, ProofError<N::Error>> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let mut proof = Vec::new();
    let (mut start, mut end) = (0, size);
    // Walk down from the root, collecting siblings, then reverse.
    while end - start > 1 {
        let k = largest_power_of_two_below(end - start);
        if index < start + k {
            proof.push(subtree(nodes, start + k, end).map_err(ProofError::Store)?);
            end = start + k;
        } else {
            proof.push(subtree(nodes, start, start + k).map_err(ProofError::Store)?);
            start += k;
        }
    }
    proof.reverse();
    Ok(proof)
}

/// The consistency proof between the tree of the first `old` leaves and the
/// tree of the first `new` leaves (RFC 6962 section 2.1.2).
pub fn consistency_proof<N: Nodes>(
    nodes: &N,
    old: u64,
    new: u64,
) -> Result<Vec<Hash>, ProofError<N::Error>> {
    if old > new {
        return Err(ProofError::IndexOutOfRange {
            index: old,
            size: new,
        });
    }
    if old == 0 || old == new {
        return Ok(Vec::new());
    }
    let mut proof = Vec::new();
    let (mut m, mut start, end) = (old, 0u64, new);
    let mut end = end;
    let mut complete = true;
    loop {
        let n = end - start;
        if m == n {
            if !complete {
                proof.push(subtree(nodes, start, end).map_err(ProofError::Store)?);
            }
            break;
        }
        let k = largest_power_of_two_below(n);
        if m <= k {
            proof.push(subtree(nodes, start + k, end).map_err(ProofError::Store)?);
            end = start + k;
        } else {
            proof.push(subtree(nodes, start, start + k).map_err(ProofError::Store)?);
            m -= k;
            start += k;
            complete = false;
        }
    }
    proof.reverse();
    Ok(proof)
}

/// Checks that `leaf` is leaf `index` of the tree of `size` leaves whose
/// head is `root` (RFC 9162 section 2.1.3.2).
pub fn verify_inclusion(leaf: &Hash, index: u64, size: u64, proof: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    s == 0 && &r == root
}

/// Checks that the tree of `new` leaves with head `new_root` extends the
/// tree of `old` leaves with head `old_root` (RFC 9162 section 2.1.4.2).
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> bool {
    if old > new {
        return false;
    }
    if old == new {
        return proof.is_empty() && old_root == new_root;
    }
    if old == 0 {
        return proof.is_empty();
    }
    if proof.is_empty() {
        return false;
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let (mut f, mut s) = (old - 1, new - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    for c in &path[1..] {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    &fr == old_root && &sr == new_root && s == 0
}

/// An in-memory store of perfect-subtree hashes, appended leaf by leaf.
#[derive(Clone, Debug, Default)]
pub struct MemoryTree {
    levels: Vec<Vec<Hash>>,
}

impl MemoryTree {
    /// Appends a leaf hash and every perfect subtree it completes.
    pub fn push(&mut self, leaf: Hash) {
        let mut hash = leaf;
        let mut level = 0;
        loop {
            if self.levels.len() == level {
                self.levels.push(Vec::new());
            }
            self.levels[level].push(hash);
            let n = self.levels[level].len();
            if n % 2 == 1 {
                return;
            }
            hash = node_hash(&self.levels[level][n - 2], &self.levels[level][n - 1]);
            level += 1;
        }
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }
}

/// A node missing from a store.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("no node at level {0} index {1}")]
pub struct MissingNode(pub u32, pub u64);

impl Nodes for MemoryTree {
    type Error = MissingNode;
    fn node(&self, level: u32, index: u64) -> Result<Hash, MissingNode> {
        self.levels
            .get(level as usize)
            .and_then(|l| l.get(index as usize))
            .copied()
            .ok_or(MissingNode(level, index))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The reference tree of RFC 6962's test data (certificate-transparency
    // and transparency-dev/merkle): eight leaves and the heads of every prefix.
    const LEAVES: [&str; 8] = [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ];
    const ROOTS: [&str; 8] = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];
    // (leaf index, tree size, audit path)
    const INCLUSION: [(u64, u64, &[&str]); 5] = [
        (
            0,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            5,
            8,
            &[
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            2,
            3,
            &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
        ),
        (
            1,
            5,
            &[
                "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
        (0, 1, &[]),
    ];
    // (old size, new size, proof)
    const CONSISTENCY: [(u64, u64, &[&str]); 4] = [
        (
            1,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            6,
            8,
            &[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            2,
            5,
            &[
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
        (
            3,
            8,
            &[
                "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
                "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
                "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
    ];

    fn h(s: &str) -> Hash {
        hex::decode(s).unwrap().try_into().unwrap()
    }

    fn reference_tree() -> MemoryTree {
        let mut t = MemoryTree::default();
        for leaf in LEAVES {
            t.push(leaf_hash(&hex::decode(leaf).unwrap()));
        }
        t
    }

    #[test]
    fn heads_match_the_rfc_6962_reference_vectors() {
        let t = reference_tree();
        assert_eq!(
            hex::encode(root(&t, 0).unwrap()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        for (size, expected) in ROOTS.iter().enumerate() {
            assert_eq!(
                hex::encode(root(&t, size as u64 + 1).unwrap()),
                *expected,
                "size {}",
                size + 1
            );
        }
    }

    #[test]
    fn inclusion_proofs_match_the_reference_vectors_and_verify() {
        let t = reference_tree();
        for (index, size, expected) in INCLUSION {
            let proof = inclusion_proof(&t, index, size).unwrap();
            let hexes: Vec<String> = proof.iter().map(hex::encode).collect();
            assert_eq!(hexes, expected, "leaf {index} of {size}");
            let leaf = leaf_hash(&hex::decode(LEAVES[index as usize]).unwrap());
            let head = h(ROOTS[size as usize - 1]);
            assert!(verify_inclusion(&leaf, index, size, &proof, &head));
            // Wrong index, size, leaf, root or path all fail.
            assert!(!verify_inclusion(&leaf, index + 1, size, &proof, &head));
            assert!(!verify_inclusion(&leaf, index, size * 2, &proof, &head));
            assert!(!verify_inclusion(
                &leaf_hash(b"wrong"),
                index,
                size,
                &proof,
                &head
            ));
            assert!(!verify_inclusion(&leaf, index, size, &proof, &empty_root()));
            let mut longer = proof.clone();
            longer.push(head);
            assert!(!verify_inclusion(&leaf, index, size, &longer, &head));
            for i in 0..proof.len() {
                let mut bad = proof.clone();
                bad[i] = empty_root();
                assert!(!verify_inclusion(&leaf, index, size, &bad, &head));
            }
        }
    }

    #[test]
    fn consistency_proofs_match_the_reference_vectors_and_verify() {
        let t = reference_tree();
        for (old, new, expected) in CONSISTENCY {
            let proof = consistency_proof(&t, old, new).unwrap();
            let hexes: Vec<String> = proof.iter().map(hex::encode).collect();
            assert_eq!(hexes, expected, "{old} -> {new}");
            let (a, b) = (h(ROOTS[old as usize - 1]), h(ROOTS[new as usize - 1]));
            assert!(verify_consistency(old, new, &a, &b, &proof));
            assert!(
                !verify_consistency(old, new, &b, &a, &proof),
                "swapped roots"
            );
            assert!(!verify_consistency(old + 1, new, &a, &b, &proof));
            assert!(!verify_consistency(
                old,
                new,
                &a,
                &b,
                &proof[..proof.len() - 1]
            ));
            for i in 0..proof.len() {
                let mut bad = proof.clone();
                bad[i] = empty_root();
                assert!(!verify_consistency(old, new, &a, &b, &bad));
            }
        }
        assert!(verify_consistency(0, 8, &empty_root(), &h(ROOTS[7]), &[]));
        assert!(verify_consistency(8, 8, &h(ROOTS[7]), &h(ROOTS[7]), &[]));
        assert!(!verify_consistency(8, 8, &h(ROOTS[7]), &h(ROOTS[6]), &[]));
        assert!(!verify_consistency(5, 4, &h(ROOTS[4]), &h(ROOTS[3]), &[]));
    }

    /// The RFC's recursive definition, for comparison.
    fn naive_root(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = largest_power_of_two_below(n as u64) as usize;
                node_hash(&naive_root(&leaves[..k]), &naive_root(&leaves[k..]))
            }
        }
    }

    #[test]
    fn every_proof_of_every_small_tree_verifies() {
        let mut t = MemoryTree::default();
        let mut leaves = Vec::new();
        for i in 0..70u32 {
            let leaf = leaf_hash(&i.to_be_bytes());
            t.push(leaf);
            leaves.push(leaf);
        }
        for n in 1..=70u64 {
            let head = root(&t, n).unwrap();
            assert_eq!(head, naive_root(&leaves[..n as usize]), "size {n}");
            for i in 0..n {
                let proof = inclusion_proof(&t, i, n).unwrap();
                assert!(
                    verify_inclusion(&leaves[i as usize], i, n, &proof, &head),
                    "leaf {i} of {n}"
                );
            }
            for m in 0..=n {
                let proof = consistency_proof(&t, m, n).unwrap();
                let old = root(&t, m).unwrap();
                assert!(verify_consistency(m, n, &old, &head, &proof), "{m} -> {n}");
            }
        }
        assert!(matches!(
            inclusion_proof(&t, 5, 5),
            Err(ProofError::IndexOutOfRange { .. })
        ));
    }
}
