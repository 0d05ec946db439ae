//! Naming the leaf that differs from a proven copy of the signed leaves.

use acta_ledger::{Checkpoint, Difference, Hash, diff, leaf_hash, locate, root};

fn leaves(ids: &[u8]) -> Vec<Hash> {
    ids.iter().map(|id| [*id; 32]).collect()
}

#[test]
fn diff_names_the_kind_and_place_of_each_difference() {
    let signed = leaves(&[0, 1, 2, 3, 4, 5]);
    assert_eq!(diff(&leaves(&[0, 1, 2, 3, 4, 5, 6]), &signed), None);
    assert_eq!(diff(&leaves(&[0, 1, 9, 3, 4, 5]), &signed), Some(Difference::Changed(2)));
    assert_eq!(diff(&leaves(&[0, 1, 3, 4, 5]), &signed), Some(Difference::Removed { at: 2, count: 1 }));
    assert_eq!(diff(&leaves(&[0, 1, 9, 2, 3, 4, 5]), &signed), Some(Difference::Added { at: 2, count: 1 }));
    assert_eq!(diff(&leaves(&[0, 1, 3, 2, 4, 5]), &signed), Some(Difference::Swapped { at: 2, with: 3 }));
    assert_eq!(diff(&leaves(&[0, 4, 2, 3, 1, 5]), &signed), Some(Difference::Swapped { at: 1, with: 4 }));
    assert_eq!(diff(&leaves(&[0, 1, 2]), &signed), Some(Difference::Truncated(3)));
    assert_eq!(diff(&leaves(&[7, 1, 2, 3, 4, 5]), &signed), Some(Difference::Link));
    assert_eq!(diff(&leaves(&[0, 1, 8, 9, 4, 5]), &signed), Some(Difference::Diverged(2)));
}

#[test]
fn locate_uses_a_copy_of_the_signed_leaves_only_when_it_gives_the_checkpoints_root() {
    let signed: Vec<Hash> = (0..6u8).map(|i| leaf_hash(&[i])).collect();
    let checkpoint = Checkpoint { origin: "n/a/i/s".to_owned(), size: 6, root: root(&signed) };
    let mut actual = signed.clone();
    actual[3] = leaf_hash(b"changed");
    assert_eq!(locate(&actual, &signed, &checkpoint), Some(Difference::Changed(3)));

    let mut forged = signed.clone();
    forged[3] = actual[3];
    assert_eq!(locate(&actual, &forged, &checkpoint), None, "another root");
    assert_eq!(locate(&actual, &signed[..5], &checkpoint), None, "another size");
}
