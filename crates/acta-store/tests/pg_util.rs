//! A PostgreSQL server of its own for a test (included with `mod pg_util;`): Debian's `postgresql` package,
//! `initdb` and `pg_ctl` in a temporary directory on 127.0.0.1, run as the `postgres` user when the tests run
//! as root (PostgreSQL refuses root). Without the server's programs the tests are skipped, except in CI or
//! with `ACTA_REQUIRE_POSTGRES=1`, where they fail.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;

/// A running PostgreSQL, stopped (immediately) and removed on drop.
pub(crate) struct PgServer {
    bin: PathBuf,
    data: PathBuf,
    as_postgres: bool,
    /// `pg_ctl`'s `-o`: the port, socket directory and durability settings.
    settings: String,
    pub(crate) url: String,
    _dir: tempfile::TempDir,
}

impl PgServer {
    /// Starts a server, or returns `None` (the test is skipped) when PostgreSQL is not installed and not required.
    pub(crate) fn start() -> Option<PgServer> {
        let Some(bin) = server_programs() else {
            let required = std::env::var_os("CI").is_some()
                || std::env::var("ACTA_REQUIRE_POSTGRES").is_ok_and(|value| value == "1");
            assert!(!required, "the PostgreSQL tests need initdb and pg_ctl: apt-get install postgresql");
            eprintln!("SKIPPED: no PostgreSQL server programs; set ACTA_REQUIRE_POSTGRES=1 to fail instead");
            return None;
        };
        let as_postgres = is_root();
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        if as_postgres {
            // The postgres user must reach its directory through the temporary one.
            run(Command::new("chmod").arg("755").arg(dir.path()));
            run(Command::new("install").args(["-d", "-o", "postgres", "-g", "postgres", "-m", "700"]).arg(&data));
        }
        let port = free_port();
        let data_text = data.display().to_string();
        let settings =
            format!("-p {port} -k {data_text} -c listen_addresses=127.0.0.1 -c fsync=on -c synchronous_commit=on");
        let url = format!("postgres://acta@127.0.0.1:{port}/postgres");
        let server = PgServer { bin, data, as_postgres, settings, url, _dir: dir };
        server.run_program("initdb", &["-D", &data_text, "-U", "acta", "-A", "trust", "-E", "UTF8", "--no-sync"]);
        server.start_again();
        Some(server)
    }

    /// Stops the server at once (`immediate`: as if it crashed; committed transactions are in its WAL).
    pub(crate) fn stop(&self) {
        let data = self.data.display().to_string();
        self.run_program("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"]);
    }

    /// Starts the server (again) on its port and data.
    pub(crate) fn start_again(&self) {
        let data = self.data.display().to_string();
        let log = format!("{data}/server.log");
        self.run_program("pg_ctl", &["-D", &data, "-o", &self.settings, "-l", &log, "-w", "-t", "60", "start"]);
    }

    fn run_program(&self, program: &str, args: &[&str]) {
        run(self.program(program).args(args));
    }

    /// One of the server's programs, run as the `postgres` user when the tests run as root.
    fn program(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        let mut command = if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(&path);
            command
        } else {
            Command::new(&path)
        };
        command.current_dir("/");
        command
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let data = self.data.display().to_string();
        let _ = self.program("pg_ctl").args(["-D", &data, "-m", "immediate", "stop"]).output();
    }
}

/// The newest installed PostgreSQL server's programs (`ACTA_PG_BIN`, else `/usr/lib/postgresql/*/bin`).
fn server_programs() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("ACTA_PG_BIN") {
        return Some(PathBuf::from(dir));
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            (bin.join("initdb").is_file() && bin.join("pg_ctl").is_file()).then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|output| output.stdout.trim_ascii() == b"0")
}

fn run(command: &mut Command) {
    let output = command.output().unwrap_or_else(|error| panic!("{command:?}: {error}"));
    assert!(
        output.status.success(),
        "{command:?} failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}
