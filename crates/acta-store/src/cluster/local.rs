//! A PostgreSQL of its own on this host, for `acta demo --cluster` and the tests: Debian's `postgresql` package,
//! `initdb` and `pg_ctl` in a directory of the caller's, listening on 127.0.0.1 only, run as the `postgres` user
//! when Acta runs as root (PostgreSQL refuses root). Production clusters use the operator's PostgreSQL.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A running local PostgreSQL, stopped at once when dropped.
pub struct LocalPostgres {
    bin: PathBuf,
    data: PathBuf,
    as_postgres: bool,
    /// `pg_ctl`'s `-o`: the port, socket directory and durability settings.
    settings: String,
    url: String,
    created: bool,
}

/// Why a local PostgreSQL could not be started.
#[derive(Debug, thiserror::Error)]
pub enum LocalPostgresError {
    /// The server's programs are not installed.
    #[error("no PostgreSQL server programs (initdb, pg_ctl) in /usr/lib/postgresql/*/bin: apt-get install postgresql")]
    NotInstalled,
    /// A program failed.
    #[error("{program} failed: {output}")]
    Program {
        /// What ran.
        program: String,
        /// What it printed.
        output: String,
    },
    /// The directory could not be prepared.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// Acta runs as root, so PostgreSQL runs as the `postgres` user, which cannot enter a directory above this one.
    #[error(
        "PostgreSQL runs as the postgres user (Acta runs as root), which cannot reach {}: a directory above it is \
         closed to other users (as /root is); choose a data directory it can reach, e.g. --data /var/tmp/acta-demo",
        .0.display()
    )]
    Unreachable(PathBuf),
}

impl LocalPostgres {
    /// Starts the database cluster of `dir/postgres` on `port` of 127.0.0.1, creating it first when there is none.
    /// `bin`: the server's programs, else the newest of `/usr/lib/postgresql/*/bin`.
    pub fn start(dir: &Path, port: u16, bin: Option<PathBuf>) -> Result<LocalPostgres, LocalPostgresError> {
        let bin = bin.or_else(newest_server_programs).ok_or(LocalPostgresError::NotInstalled)?;
        let as_postgres = is_root();
        // Absolute: the programs run from `/` (the postgres user may not enter the caller's working directory).
        let dir = &std::path::absolute(dir)?;
        let data = dir.join("postgres");
        let exists = data.join("PG_VERSION").is_file();
        std::fs::create_dir_all(dir)?;
        if as_postgres && !exists {
            // The postgres user must reach its directory through the caller's.
            run(Command::new("chmod").arg("755").arg(dir))?;
            run(Command::new("install").args(["-d", "-o", "postgres", "-g", "postgres", "-m", "700"]).arg(&data))?;
            let reachable = Command::new("runuser").args(["-u", "postgres", "--", "test", "-w"]).arg(&data).status()?;
            if !reachable.success() {
                return Err(LocalPostgresError::Unreachable(data));
            }
        }
        let data_text = data.display().to_string();
        let settings =
            format!("-p {port} -k {data_text} -c listen_addresses=127.0.0.1 -c fsync=on -c synchronous_commit=on");
        let url = format!("postgres://acta@127.0.0.1:{port}/postgres");
        let server = LocalPostgres { bin, data, as_postgres, settings, url, created: !exists };
        if !exists {
            let initdb = ["-D", &data_text, "-U", "acta", "-A", "trust", "-E", "UTF8", "--no-sync"];
            server.run_program("initdb", &initdb)?;
        }
        server.start_again()?;
        Ok(server)
    }

    /// Whether [`LocalPostgres::start`] created the database cluster (rather than starting an existing one).
    pub fn is_new(&self) -> bool {
        self.created
    }

    /// Its URL (user `acta`, database `postgres`, trusted on 127.0.0.1).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Stops the server at once (`immediate`: as if it crashed; committed transactions are in its WAL).
    pub fn stop(&self) -> Result<(), LocalPostgresError> {
        let data = self.data.display().to_string();
        self.run_program("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"])
    }

    /// Starts the server (again) on its port and data.
    pub fn start_again(&self) -> Result<(), LocalPostgresError> {
        let data = self.data.display().to_string();
        let log = format!("{data}/server.log");
        self.run_program("pg_ctl", &["-D", &data, "-o", &self.settings, "-l", &log, "-w", "-t", "60", "start"])
    }

    fn run_program(&self, program: &str, args: &[&str]) -> Result<(), LocalPostgresError> {
        run(self.program(program).args(args))
    }

    /// One of the server's programs, run as the `postgres` user when Acta runs as root.
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

impl Drop for LocalPostgres {
    fn drop(&mut self) {
        let data = self.data.display().to_string();
        let _ = self.program("pg_ctl").args(["-D", &data, "-m", "immediate", "stop"]).output();
    }
}

/// The newest installed PostgreSQL server's programs.
pub fn newest_server_programs() -> Option<PathBuf> {
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

fn run(command: &mut Command) -> Result<(), LocalPostgresError> {
    let output = command.output()?;
    if output.status.success() {
        return Ok(());
    }
    Err(LocalPostgresError::Program {
        program: format!("{command:?}"),
        output: format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr)),
    })
}
