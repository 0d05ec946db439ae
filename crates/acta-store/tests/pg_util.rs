//! A PostgreSQL server of its own for a test (included with `mod pg_util;`): the store's [`LocalPostgres`] in a
//! temporary directory. Without the server's programs the tests are skipped, except in CI or with
//! `ACTA_REQUIRE_POSTGRES=1`, where they fail. `ACTA_PG_BIN` names the programs' directory.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use acta_store::cluster::local::{LocalPostgres, newest_server_programs};

/// A running PostgreSQL, stopped (immediately) and removed on drop.
pub(crate) struct PgServer {
    server: LocalPostgres,
    pub(crate) url: String,
    bin: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl PgServer {
    /// Starts a server, or returns `None` (the test is skipped) when PostgreSQL is not installed and not required.
    pub(crate) fn start() -> Option<PgServer> {
        let bin = std::env::var_os("ACTA_PG_BIN").map(std::path::PathBuf::from).or_else(newest_server_programs);
        let Some(bin) = bin else {
            let required = std::env::var_os("CI").is_some()
                || std::env::var("ACTA_REQUIRE_POSTGRES").is_ok_and(|value| value == "1");
            assert!(!required, "the PostgreSQL tests need initdb and pg_ctl: apt-get install postgresql");
            eprintln!("SKIPPED: no PostgreSQL server programs; set ACTA_REQUIRE_POSTGRES=1 to fail instead");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let server = LocalPostgres::start(dir.path(), free_port(), Some(bin.clone())).unwrap();
        Some(PgServer { url: server.url().to_owned(), server, bin, _dir: dir })
    }

    /// Stops the server at once (`immediate`: as if it crashed; committed transactions are in its WAL).
    pub(crate) fn stop(&self) {
        self.server.stop().unwrap();
    }

    /// The first column of the first row `sql` returns, as `psql` prints it (for tests without a driver).
    pub(crate) fn query_one(&self, sql: &str) -> String {
        let output = std::process::Command::new(self.bin.join("psql"))
            .args(["-At", "-d", &self.url, "-c", sql])
            .output()
            .unwrap();
        assert!(output.status.success(), "psql: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).lines().next().unwrap_or_default().to_owned()
    }

    /// Starts the server again on its port and data.
    pub(crate) fn start_again(&self) {
        self.server.start_again().unwrap();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}
