//! RFC 6962 hashing, trees and proofs, against published vectors and an independent reference.

use acta_ledger::{
    Frontier, Hash, ProofError, consistency_proof, empty_root, inclusion_proof, leaf_hash, node_hash, root,
    verify_consistency, verify_inclusion,
};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

fn hex(text: &str) -> Hash {
    assert_eq!(text.len(), 64, "{text}");
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).expect("hex digit");
    }
    out
}

// The 8-leaf reference tree of the Certificate Transparency implementations
// (transparency-dev/merkle, certificate-transparency-go), used as data only.
const CT_LEAVES: [&[u8]; 8] = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
];

/// Roots of the first 0..=8 reference leaves.
const CT_ROOTS: [&str; 9] = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

fn ct_leaves() -> Vec<Hash> {
    CT_LEAVES.iter().map(|data| leaf_hash(data)).collect()
}

/// A second, deliberately naive Merkle tree hash written straight from RFC 6962 section 2.1,
/// sharing no code with the crate beyond SHA-256.
fn naive_mth(leaves: &[Hash]) -> Hash {
    let n = leaves.len();
    if n == 0 {
        return Sha256::digest(b"").into();
    }
    if n == 1 {
        return leaves[0];
    }
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    let mut hasher = Sha256::new();
    hasher.update([1u8]);
    hasher.update(naive_mth(&leaves[..k]));
    hasher.update(naive_mth(&leaves[k..]));
    hasher.finalize().into()
}

/// Distinct leaves, so that no tampering can be undone by a coincidence of equal hashes.
fn numbered_leaves(count: usize) -> Vec<Hash> {
    (0..count as u64).map(|i| leaf_hash(&i.to_be_bytes())).collect()
}

fn flip_bit(hash: &Hash, bit: usize) -> Hash {
    let mut out = *hash;
    out[bit / 8 % 32] ^= 1 << (bit % 8);
    out
}

#[test]
fn hashes_use_the_rfc6962_domain_prefixes() {
    let expected_leaf: Hash = Sha256::digest(b"\x00acta").into();
    assert_eq!(leaf_hash(b"acta"), expected_leaf);

    let (left, right) = (leaf_hash(b"l"), leaf_hash(b"r"));
    let mut input = vec![0x01];
    input.extend_from_slice(&left);
    input.extend_from_slice(&right);
    let expected_node: Hash = Sha256::digest(&input).into();
    assert_eq!(node_hash(&left, &right), expected_node);
    assert_ne!(node_hash(&left, &right), node_hash(&right, &left));

    assert_eq!(empty_root(), hex(CT_ROOTS[0]));
}

#[test]
fn roots_match_the_certificate_transparency_reference_tree() {
    let leaves = ct_leaves();
    for size in 0..=8 {
        assert_eq!(root(&leaves[..size]), hex(CT_ROOTS[size]), "size {size}");
    }
}

#[test]
fn frontier_matches_the_reference_tree_at_every_size() {
    let mut frontier = Frontier::new();
    assert_eq!(frontier.root(), hex(CT_ROOTS[0]));
    for (size, leaf) in ct_leaves().into_iter().enumerate() {
        frontier.push(leaf);
        assert_eq!(frontier.size(), size as u64 + 1);
        assert_eq!(frontier.root(), hex(CT_ROOTS[size + 1]), "size {}", size + 1);
    }
}

#[test]
fn frontier_equals_naive_root_for_every_size_up_to_300() {
    let leaves = numbered_leaves(300);
    let mut frontier = Frontier::new();
    for size in 0..=300 {
        assert_eq!(frontier.root(), naive_mth(&leaves[..size]), "size {size}");
        assert_eq!(root(&leaves[..size]), naive_mth(&leaves[..size]), "size {size}");
        // O(log n) memory: one hash per set bit of the size.
        assert_eq!(frontier.subtrees().len(), size.count_ones() as usize);
        if size < 300 {
            frontier.push(leaves[size]);
        }
    }
}

#[test]
fn frontier_resumes_from_its_parts() {
    let leaves = numbered_leaves(45);
    let mut frontier = Frontier::new();
    leaves[..29].iter().for_each(|leaf| frontier.push(*leaf));

    let mut resumed = Frontier::from_parts(frontier.size(), frontier.subtrees().to_vec()).expect("valid parts");
    leaves[29..].iter().for_each(|leaf| resumed.push(*leaf));
    assert_eq!(resumed.root(), root(&leaves));

    assert_eq!(Frontier::from_parts(29, vec![[0; 32]; 2]), Err(ProofError::WrongLength { expected: 4, got: 2 }));
}

proptest! {
    #[test]
    fn frontier_equals_naive_root_for_any_leaves(
        data in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 0..=300),
        cut in any::<prop::sample::Index>(),
    ) {
        let leaves: Vec<Hash> = data.iter().map(|d| leaf_hash(d)).collect();
        let prefix = cut.index(leaves.len() + 1);
        let mut frontier = Frontier::new();
        for (pushed, leaf) in leaves.iter().enumerate() {
            if pushed == prefix {
                prop_assert_eq!(frontier.root(), naive_mth(&leaves[..prefix]));
            }
            frontier.push(*leaf);
        }
        prop_assert_eq!(frontier.size(), leaves.len() as u64);
        prop_assert_eq!(frontier.root(), naive_mth(&leaves));
        prop_assert_eq!(root(&leaves), naive_mth(&leaves));
    }
}

#[test]
fn inclusion_proofs_match_the_reference_vectors() {
    let leaves = ct_leaves();
    // (index, size, proof) from transparency-dev/merkle proof/verify_test.go, 0-based.
    let vectors: [(u64, usize, &[&str]); 5] = [
        (0, 1, &[]),
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
        (2, 3, &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
        (
            1,
            5,
            &[
                "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
    ];
    for (index, size, expected) in vectors {
        let expected: Vec<Hash> = expected.iter().map(|h| hex(h)).collect();
        let proof = inclusion_proof(&leaves[..size], index).expect("index in range");
        assert_eq!(proof, expected, "index {index} size {size}");
        let root = hex(CT_ROOTS[size]);
        verify_inclusion(&leaves[index as usize], index, size as u64, &proof, &root).expect("reference proof verifies");
    }
}

#[test]
fn consistency_proofs_match_the_reference_vectors() {
    let leaves = ct_leaves();
    // (old size, new size, proof) from transparency-dev/merkle proof/verify_test.go.
    let vectors: [(u64, usize, &[&str]); 5] = [
        (1, 1, &[]),
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
            6,
            7,
            &[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
    ];
    for (old_size, new_size, expected) in vectors {
        let expected: Vec<Hash> = expected.iter().map(|h| hex(h)).collect();
        let proof = consistency_proof(&leaves[..new_size], old_size).expect("sizes in order");
        assert_eq!(proof, expected, "{old_size} -> {new_size}");
        let (old_root, new_root) = (hex(CT_ROOTS[old_size as usize]), hex(CT_ROOTS[new_size]));
        verify_consistency(old_size, new_size as u64, &old_root, &new_root, &proof).expect("reference proof verifies");
    }
}

#[test]
fn every_inclusion_proof_up_to_64_leaves_verifies_and_any_alteration_fails() {
    let leaves = numbered_leaves(64);
    let roots: Vec<Hash> = (0..=64).map(|size| root(&leaves[..size])).collect();
    for size in 1..=64u64 {
        let tree = &leaves[..size as usize];
        let tree_root = &roots[size as usize];
        for index in 0..size {
            let leaf = &tree[index as usize];
            let proof = inclusion_proof(tree, index).expect("index in range");
            verify_inclusion(leaf, index, size, &proof, tree_root)
                .unwrap_or_else(|e| panic!("index {index} size {size}: {e}"));

            let rejects = |leaf: &Hash, index: u64, size: u64, proof: &[Hash], root: &Hash| {
                verify_inclusion(leaf, index, size, proof, root).is_err()
            };
            // Any bit of any proof hash.
            for position in 0..proof.len() {
                for bit in [0, 77, 255] {
                    let mut altered = proof.clone();
                    altered[position] = flip_bit(&altered[position], bit);
                    assert!(rejects(leaf, index, size, &altered, tree_root));
                }
            }
            // The leaf and the root.
            assert!(rejects(&flip_bit(leaf, 3), index, size, &proof, tree_root));
            assert!(rejects(leaf, index, size, &proof, &flip_bit(tree_root, 200)));
            // Another index in the same tree.
            for other in (0..size).filter(|other| *other != index) {
                assert!(rejects(leaf, other, size, &proof, tree_root));
            }
            // Another size, with that tree's own root: the claim "this leaf is in that tree".
            // (With the same root a size is only bound through the signed checkpoint; the
            // hashes cannot tell a leaf from a subtree.)
            for other in (index + 1..=64).filter(|other| *other != size) {
                assert!(rejects(leaf, index, other, &proof, &roots[other as usize]));
            }
            assert!(rejects(leaf, index, index, &proof, tree_root));
            // Truncated, extended, reordered.
            if let Some((_, shorter)) = proof.split_last() {
                assert!(rejects(leaf, index, size, shorter, tree_root));
            }
            let mut longer = proof.clone();
            longer.push(*tree_root);
            assert!(rejects(leaf, index, size, &longer, tree_root));
            if proof.len() >= 2 {
                let mut swapped = proof.clone();
                swapped.swap(0, 1);
                assert!(rejects(leaf, index, size, &swapped, tree_root));
            }
        }
    }
}

#[test]
fn every_consistency_proof_up_to_64_leaves_verifies_and_any_alteration_fails() {
    let leaves = numbered_leaves(64);
    let roots: Vec<Hash> = (0..=64).map(|size| root(&leaves[..size])).collect();
    for new_size in 0..=64u64 {
        let tree = &leaves[..new_size as usize];
        let new_root = &roots[new_size as usize];
        for old_size in 0..=new_size {
            let old_root = &roots[old_size as usize];
            let proof = consistency_proof(tree, old_size).expect("sizes in order");
            verify_consistency(old_size, new_size, old_root, new_root, &proof)
                .unwrap_or_else(|e| panic!("{old_size} -> {new_size}: {e}"));

            let rejects = |old: u64, new: u64, old_root: &Hash, new_root: &Hash, p: &[Hash]| {
                verify_consistency(old, new, old_root, new_root, p).is_err()
            };
            for position in 0..proof.len() {
                for bit in [0, 77, 255] {
                    let mut altered = proof.clone();
                    altered[position] = flip_bit(&altered[position], bit);
                    assert!(rejects(old_size, new_size, old_root, new_root, &altered));
                }
            }
            assert!(rejects(old_size, new_size, &flip_bit(old_root, 9), new_root, &proof));
            // Every tree extends the empty tree, whatever its root: nothing to alter there.
            if old_size > 0 {
                assert!(rejects(old_size, new_size, old_root, &flip_bit(new_root, 9), &proof));
                // Another old size, with that tree's own root (0 is trivially consistent).
                for other in (1..=new_size).filter(|other| *other != old_size) {
                    assert!(rejects(other, new_size, &roots[other as usize], new_root, &proof));
                }
                // Another new size, with that tree's own root.
                for other in (old_size..=64).filter(|other| *other != new_size) {
                    assert!(rejects(old_size, other, old_root, &roots[other as usize], &proof));
                }
                // Sizes given in the wrong order.
                if old_size < new_size {
                    assert!(rejects(new_size, old_size, new_root, old_root, &proof));
                }
            }
            if let Some((_, shorter)) = proof.split_last() {
                assert!(rejects(old_size, new_size, old_root, new_root, shorter));
            }
            let mut longer = proof.clone();
            longer.push(*old_root);
            assert!(rejects(old_size, new_size, old_root, new_root, &longer));
            if proof.len() >= 2 {
                let mut swapped = proof.clone();
                swapped.swap(0, 1);
                assert!(rejects(old_size, new_size, old_root, new_root, &swapped));
            }
        }
    }
}

#[test]
fn proof_requests_outside_the_tree_are_errors() {
    let leaves = numbered_leaves(5);
    assert_eq!(inclusion_proof(&leaves, 5), Err(ProofError::IndexOutOfRange { index: 5, size: 5 }));
    assert_eq!(inclusion_proof(&[], 0), Err(ProofError::IndexOutOfRange { index: 0, size: 0 }));
    assert_eq!(consistency_proof(&leaves, 6), Err(ProofError::OldSizeTooLarge { old_size: 6, new_size: 5 }));
    let root5 = root(&leaves);
    assert_eq!(verify_inclusion(&leaves[0], 7, 5, &[], &root5), Err(ProofError::IndexOutOfRange { index: 7, size: 5 }));
    assert_eq!(
        verify_consistency(0, 5, &root5, &root5, &[]),
        Err(ProofError::OldRootMismatch),
        "the empty tree has exactly one root"
    );
}

#[test]
fn proof_errors_say_what_is_wrong() {
    let leaves = numbered_leaves(8);
    let root8 = root(&leaves);
    let proof = inclusion_proof(&leaves, 2).expect("in range");
    assert_eq!(
        verify_inclusion(&leaves[2], 2, 8, &proof[..2], &root8).expect_err("truncated").to_string(),
        "expected 3 hashes for these tree sizes, got 2"
    );
    assert_eq!(verify_inclusion(&leaves[3], 2, 8, &proof, &root8).expect_err("wrong leaf"), ProofError::RootMismatch);
    let consistency = consistency_proof(&leaves, 3).expect("in order");
    assert_eq!(
        verify_consistency(3, 8, &root(&leaves[..3]), &root(&leaves[..7]), &consistency),
        Err(ProofError::NewRootMismatch)
    );
}

/// One way to forge a proof: everything a verifier is handed can be altered.
#[derive(Debug, Clone)]
enum Forgery {
    FlipProofBit { position: usize, bit: usize },
    FlipLeafBit(usize),
    OtherIndex(u64),
    DropLast,
    AppendHash(u8),
    ReplaceHash { position: usize, with: u64 },
}

fn forgery() -> impl Strategy<Value = Forgery> {
    prop_oneof![
        (any::<usize>(), 0usize..256).prop_map(|(position, bit)| Forgery::FlipProofBit { position, bit }),
        (0usize..256).prop_map(Forgery::FlipLeafBit),
        any::<u64>().prop_map(Forgery::OtherIndex),
        Just(Forgery::DropLast),
        any::<u8>().prop_map(Forgery::AppendHash),
        (any::<usize>(), any::<u64>()).prop_map(|(position, with)| Forgery::ReplaceHash { position, with }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Beyond the exhaustive small trees above: in trees of up to 3000 leaves, a valid inclusion
    /// proof altered in any one way no longer verifies.
    #[test]
    fn forged_inclusion_proofs_are_rejected_in_large_trees(
        size in 65u64..3000,
        index_seed in any::<u64>(),
        forgery in forgery(),
    ) {
        let leaves = numbered_leaves(size as usize);
        let tree_root = root(&leaves);
        let index = index_seed % size;
        let mut leaf = leaves[index as usize];
        let mut proof = inclusion_proof(&leaves, index).expect("index in range");
        prop_assert!(verify_inclusion(&leaf, index, size, &proof, &tree_root).is_ok());
        let mut claimed_index = index;
        match forgery {
            Forgery::FlipProofBit { position, bit } => {
                let position = position % proof.len();
                proof[position] = flip_bit(&proof[position], bit);
            }
            Forgery::FlipLeafBit(bit) => leaf = flip_bit(&leaf, bit),
            Forgery::OtherIndex(other) => {
                claimed_index = other % size;
                prop_assume!(claimed_index != index);
            }
            Forgery::DropLast => {
                proof.pop();
            }
            Forgery::AppendHash(byte) => proof.push([byte; 32]),
            Forgery::ReplaceHash { position, with } => {
                let position = position % proof.len();
                let replacement = leaf_hash(&with.to_le_bytes());
                prop_assume!(replacement != proof[position]);
                proof[position] = replacement;
            }
        }
        prop_assert!(verify_inclusion(&leaf, claimed_index, size, &proof, &tree_root).is_err());
    }

    /// A valid consistency proof between two large trees, altered in any one way (or presented
    /// for a newer tree that rewrote one old leaf), no longer verifies.
    #[test]
    fn forged_consistency_proofs_are_rejected_in_large_trees(
        new_size in 66u64..3000,
        old_seed in any::<u64>(),
        forgery in forgery(),
        rewritten_seed in any::<u64>(),
    ) {
        let leaves = numbered_leaves(new_size as usize);
        let old_size = 1 + old_seed % (new_size - 1);
        let old_root = root(&leaves[..old_size as usize]);
        let new_root = root(&leaves);
        let mut proof = consistency_proof(&leaves, old_size).expect("sizes in order");
        prop_assert!(verify_consistency(old_size, new_size, &old_root, &new_root, &proof).is_ok());

        // A history rewritten inside the old tree: its honest proof fails against the old root.
        let mut rewritten = leaves.clone();
        let position = (rewritten_seed % old_size) as usize;
        rewritten[position] = flip_bit(&rewritten[position], 1);
        let rewritten_proof = consistency_proof(&rewritten, old_size).expect("sizes in order");
        prop_assert!(verify_consistency(old_size, new_size, &old_root, &root(&rewritten), &rewritten_proof).is_err());

        let mut claimed_old = old_size;
        let mut claimed_old_root = old_root;
        match forgery {
            Forgery::FlipProofBit { position, bit } => {
                let position = position % proof.len();
                proof[position] = flip_bit(&proof[position], bit);
            }
            Forgery::FlipLeafBit(bit) => claimed_old_root = flip_bit(&old_root, bit),
            Forgery::OtherIndex(other) => {
                claimed_old = 1 + other % (new_size - 1);
                prop_assume!(claimed_old != old_size);
                claimed_old_root = root(&leaves[..claimed_old as usize]);
            }
            Forgery::DropLast => {
                proof.pop();
            }
            Forgery::AppendHash(byte) => proof.push([byte; 32]),
            Forgery::ReplaceHash { position, with } => {
                let position = position % proof.len();
                let replacement = leaf_hash(&with.to_le_bytes());
                prop_assume!(replacement != proof[position]);
                proof[position] = replacement;
            }
        }
        prop_assert!(verify_consistency(claimed_old, new_size, &claimed_old_root, &new_root, &proof).is_err());
    }
}
