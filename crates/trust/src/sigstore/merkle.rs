//! RFC 6962 / RFC 9162 Merkle tree hashing and inclusion proofs.

use sha2::{Digest as _, Sha256};

pub(crate) type Hash = [u8; 32];

/// `SHA-256(0x00 || leaf)`.
pub fn leaf_hash(leaf: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(leaf);
    h.finalize().into()
}

/// `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// Recomputes the root of a tree of `tree_size` leaves from the leaf at `index` and its audit
/// path (RFC 9162 section 2.1.3.2).
pub fn root_from_inclusion_proof(index: u64, tree_size: u64, leaf: &Hash, proof: &[Hash]) -> Result<Hash, String> {
    if index >= tree_size {
        return Err(format!("leaf index {index} is outside a tree of size {tree_size}"));
    }
    // The path splits into `inner` hashes below the point where the leaf's path departs from the
    // tree's right border, then `border` hashes along that border.
    let inner = (u64::BITS - (index ^ (tree_size - 1)).leading_zeros()) as usize;
    let border = (index >> inner).count_ones() as usize;
    if proof.len() != inner + border {
        return Err(format!(
            "proof has {} hashes, a leaf at {index} of a tree of size {tree_size} needs {}",
            proof.len(),
            inner + border
        ));
    }
    let mut acc = *leaf;
    for (i, h) in proof[..inner].iter().enumerate() {
        acc = if (index >> i) & 1 == 0 { node_hash(&acc, h) } else { node_hash(h, &acc) };
    }
    for h in &proof[inner..] {
        acc = node_hash(h, &acc);
    }
    Ok(acc)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The leaves of the RFC 6962 reference test vectors (certificate-transparency-go).
    fn leaves() -> Vec<Vec<u8>> {
        vec![
            vec![],
            vec![0x00],
            vec![0x10],
            vec![0x20, 0x21],
            vec![0x30, 0x31],
            vec![0x40, 0x41, 0x42, 0x43],
            (0x50..0x58).collect(),
            (0x60..0x70).collect(),
        ]
    }

    /// The largest power of two smaller than `n` (n > 1).
    fn split(n: usize) -> usize {
        1 << (usize::BITS - 1 - (n - 1).leading_zeros())
    }

    /// RFC 6962 section 2.1 MTH, written recursively as in the RFC.
    fn mth(d: &[Vec<u8>]) -> Hash {
        if d.len() == 1 {
            return leaf_hash(&d[0]);
        }
        let k = split(d.len());
        node_hash(&mth(&d[..k]), &mth(&d[k..]))
    }

    /// RFC 6962 section 2.1.1 PATH.
    fn path(m: usize, d: &[Vec<u8>]) -> Vec<Hash> {
        if d.len() <= 1 {
            return vec![];
        }
        let k = split(d.len());
        if m < k {
            let mut p = path(m, &d[..k]);
            p.push(mth(&d[k..]));
            p
        } else {
            let mut p = path(m - k, &d[k..]);
            p.push(mth(&d[..k]));
            p
        }
    }

    fn h(s: &str) -> Hash {
        hex::decode(s).unwrap().try_into().unwrap()
    }

    #[test]
    fn reference_roots() {
        let roots = [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
            "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
            "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
        ];
        for (n, root) in roots.iter().enumerate() {
            assert_eq!(mth(&leaves()[..=n]), h(root), "size {}", n + 1);
        }
    }

    #[test]
    fn reference_inclusion_proofs() {
        let l = leaves();
        let proof = [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ];
        assert_eq!(root_from_inclusion_proof(0, 8, &leaf_hash(&l[0]), &proof).unwrap(), mth(&l));
        let proof = [
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ];
        assert_eq!(root_from_inclusion_proof(5, 7, &leaf_hash(&l[5]), &proof).unwrap(), mth(&l[..7]));
    }

    #[test]
    fn every_leaf_of_every_small_tree() {
        let l = leaves();
        for size in 1..=l.len() {
            let root = mth(&l[..size]);
            for m in 0..size {
                let p = path(m, &l[..size]);
                let leaf = leaf_hash(&l[m]);
                assert_eq!(root_from_inclusion_proof(m as u64, size as u64, &leaf, &p).unwrap(), root);
                if !p.is_empty() {
                    let mut bad = p.clone();
                    bad[0][0] ^= 1;
                    assert_ne!(root_from_inclusion_proof(m as u64, size as u64, &leaf, &bad).unwrap(), root);
                    assert!(root_from_inclusion_proof(m as u64, size as u64, &leaf, &p[1..]).is_err());
                }
                let mut longer = p.clone();
                longer.push(root);
                assert!(root_from_inclusion_proof(m as u64, size as u64, &leaf, &longer).is_err());
                assert!(root_from_inclusion_proof(size as u64, size as u64, &leaf, &p).is_err());
            }
        }
    }
}
