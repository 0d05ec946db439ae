//! The platform admin key created at bootstrap is kept in the data directory for its owner only.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use acta_store::{Store, StoreOptions};

#[tokio::test]
async fn the_admin_key_file_holds_the_key_and_only_its_owner_may_read_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreOptions::default()).await.unwrap();
    store.write_admin_key("acta_k1_secret_ab").unwrap();
    let path = dir.path().join("admin-key");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "acta_k1_secret_ab\n");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
    store.close().await;
}
