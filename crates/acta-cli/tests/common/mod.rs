//! Shared helpers of the process-level tests: run the real `acta` binary on a data directory, talk to it over
//! HTTP on 127.0.0.1 only, and kill it with SIGKILL.
//!
//! Every wait here is bounded; a server that does not come up in time fails the test with its standard error.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

pub mod clocked;
pub mod seaweed;

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The admin key every test server is bootstrapped with.
pub const ADMIN_KEY: &str = "test-admin-key-not-secret";

/// How long a server may take to answer `/healthz` after it was started.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// The `acta` binary under test.
pub fn acta_bin() -> &'static str {
    env!("CARGO_BIN_EXE_acta")
}

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}

/// A running `acta serve` process.
pub struct Server {
    child: Option<Child>,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// Where its standard error goes (kept outside the data directory).
    pub stderr_path: PathBuf,
    /// Where its standard output goes.
    pub stdout_path: PathBuf,
    http: reqwest::blocking::Client,
}

/// How a `acta serve` attempt ended when it did not come up.
pub struct Exited {
    /// Its exit status.
    pub status: ExitStatus,
    /// What it printed on standard error.
    pub stderr: String,
    /// What it printed on standard output.
    pub stdout: String,
}

/// Starts `acta serve` on `data`, writing its output to files in `logs`. Returns the running server once
/// `/healthz` answers, or how the process ended if it exited first. Panics if neither happens in time.
pub fn try_start(data: &Path, logs: &Path) -> Result<Server, Exited> {
    try_start_with(data, logs, &[])
}

/// [`try_start`] with extra environment variables (`ACTA_WEBHOOK_ALLOW`, `ACTA_SMTP_URL`...).
pub fn try_start_with(data: &Path, logs: &Path, envs: &[(&str, &str)]) -> Result<Server, Exited> {
    std::fs::create_dir_all(logs).unwrap();
    for attempt in 0..3 {
        let port = free_port();
        let stamp = format!("{}-{port}", now_millis());
        let stderr_path = logs.join(format!("serve-{stamp}.stderr"));
        let stdout_path = logs.join(format!("serve-{stamp}.stdout"));
        let child = Command::new(acta_bin())
            .arg("serve")
            .arg("--data")
            .arg(data)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .env("ACTA_BOOTSTRAP_KEY", ADMIN_KEY)
            .env("ACTA_SIGNING_KEY", signing_key_path(data))
            .env("ACTA_LOG", "info")
            .env("NO_COLOR", "1")
            .env_remove("ACTA_DATA")
            .env_remove("ACTA_LISTEN")
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .stdout(File::create(&stdout_path).unwrap())
            .stderr(File::create(&stderr_path).unwrap())
            .spawn()
            .expect("spawning acta serve");
        let mut server = Server {
            child: Some(child),
            url: format!("http://127.0.0.1:{port}"),
            stderr_path,
            stdout_path,
            http: http_client(),
        };
        match server.wait_healthy() {
            Ok(()) => return Ok(server),
            Err(exited) => {
                // Someone else took the port between our probe and the server's bind: try another one.
                if attempt < 2 && exited.stderr.contains("Address already in use") {
                    continue;
                }
                return Err(exited);
            }
        }
    }
    unreachable!("the loop returns")
}

/// Starts `acta serve` on `data` and panics (with its output) unless it comes up.
pub fn start(data: &Path, logs: &Path) -> Server {
    match try_start(data, logs) {
        Ok(server) => server,
        Err(exited) => panic!(
            "acta serve exited with {} before answering /healthz\n--- stderr ---\n{}\n--- stdout ---\n{}",
            exited.status, exited.stderr, exited.stdout
        ),
    }
}

/// Where a test server on `data` keeps its signing key: next to the data directory, never in it.
pub fn signing_key_path(data: &Path) -> PathBuf {
    data.with_extension("signing-key")
}

/// [`start`] with extra environment variables.
pub fn start_with(data: &Path, logs: &Path, envs: &[(&str, &str)]) -> Server {
    match try_start_with(data, logs, envs) {
        Ok(server) => server,
        Err(exited) => panic!(
            "acta serve exited with {} before answering /healthz\n--- stderr ---\n{}\n--- stdout ---\n{}",
            exited.status, exited.stderr, exited.stdout
        ),
    }
}

/// A blocking HTTP client with bounded timeouts.
pub fn http_client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(20))
        .no_proxy()
        .build()
        .unwrap()
}

fn now_millis() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_millis()
}

impl Server {
    fn wait_healthy(&mut self) -> Result<(), Exited> {
        let deadline = Instant::now() + START_TIMEOUT;
        let probe = reqwest::blocking::Client::builder()
            .connect_timeout(Duration::from_millis(300))
            .timeout(Duration::from_secs(1))
            .no_proxy()
            .build()
            .unwrap();
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                self.child = None;
                return Err(Exited { status, stderr: self.stderr(), stdout: self.stdout() });
            }
            let healthy =
                probe.get(format!("{}/healthz", self.url)).send().is_ok_and(|response| response.status().is_success());
            if healthy {
                return Ok(());
            }
            if Instant::now() > deadline {
                self.kill();
                panic!(
                    "acta serve did not answer /healthz within {START_TIMEOUT:?}\n--- stderr ---\n{}",
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Kills the server with SIGKILL and reaps it. Idempotent.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the server with SIGTERM, as an operator would (a last checkpoint, an index commit), and waits for it.
    pub fn terminate(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("the server is running");
        let sent = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().expect("running kill");
        assert!(sent.success(), "kill -TERM failed");
        wait_with_timeout(&mut child, Duration::from_secs(30))
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(child) => child.try_wait().unwrap().is_none(),
            None => false,
        }
    }

    /// Everything it printed on standard error so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Everything it printed on standard output so far.
    pub fn stdout(&self) -> String {
        std::fs::read_to_string(&self.stdout_path).unwrap_or_default()
    }

    /// A request to a path, with the admin key.
    pub fn get(&self, path_and_query: &str) -> reqwest::blocking::RequestBuilder {
        self.http.get(format!("{}{path_and_query}", self.url)).bearer_auth(ADMIN_KEY)
    }

    /// A POST to a path, with the admin key.
    pub fn post(&self, path_and_query: &str) -> reqwest::blocking::RequestBuilder {
        self.http.post(format!("{}{path_and_query}", self.url)).bearer_auth(ADMIN_KEY)
    }

    /// `POST /v1/events` with a JSON array of events; returns the status and the answer.
    pub fn ingest(&self, events: &[Value]) -> (u16, Value) {
        let response = self
            .post("/v1/events")
            .header("content-type", "application/json")
            .body(Value::Array(events.to_vec()).to_string())
            .send()
            .expect("POST /v1/events");
        let status = response.status().as_u16();
        (status, response.json().expect("a JSON answer"))
    }

    /// `GET /v1/events/count?q=`.
    pub fn count(&self, query: &str) -> u64 {
        let response = self.get("/v1/events/count").query(&[("q", query)]).send().expect("GET /v1/events/count");
        let status = response.status();
        let answer: Value = response.json().unwrap_or(Value::Null);
        assert!(status.is_success(), "count {query:?} failed: {status} {answer}");
        answer["count"].as_u64().expect("count is a number")
    }

    /// Polls the count of everything until it equals `expected` (up to `timeout`); returns the last count.
    pub fn wait_count(&self, query: &str, expected: u64, timeout: Duration) -> u64 {
        let deadline = Instant::now() + timeout;
        loop {
            let count = self.count(query);
            if count == expected || Instant::now() > deadline {
                return count;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Every event of a search, page by page through `next_cursor`.
    pub fn search_all(&self, query: &str) -> Vec<Value> {
        let mut events = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..10_000 {
            let mut params = vec![("q", query.to_string()), ("limit", "1000".to_string())];
            if let Some(cursor) = &cursor {
                params.push(("cursor", cursor.clone()));
            }
            let response = self.get("/v1/events").query(&params).send().expect("GET /v1/events");
            let status = response.status();
            let answer: Value = response.json().unwrap_or(Value::Null);
            assert!(status.is_success(), "search {query:?} failed: {status} {answer}");
            events.extend(answer["events"].as_array().cloned().unwrap_or_default());
            match answer["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_string()),
                None => return events,
            }
        }
        panic!("search {query:?} did not end after 10000 pages");
    }

    /// `GET /v1/events/{id}`: the status and the answer.
    pub fn one(&self, id: &str) -> (u16, Value) {
        let response = self.get(&format!("/v1/events/{id}")).send().expect("GET /v1/events/{id}");
        let status = response.status().as_u16();
        (status, response.json().unwrap_or(Value::Null))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Waits for a process to end, killing it (and failing) after `timeout`.
pub fn wait_with_timeout(child: &mut Child, timeout: Duration) -> ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the process did not end within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A valid lenient CADF event with the given id, a minute old.
pub fn event(id: &str, action: &str, outcome: &str) -> Value {
    event_at(id, action, outcome, 60)
}

/// A valid lenient CADF event with the given id whose `eventTime` is `seconds_ago` before now.
pub fn event_at(id: &str, action: &str, outcome: &str, seconds_ago: i64) -> Value {
    let now = i64::try_from(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos(),
    )
    .unwrap();
    serde_json::json!({
        "id": id,
        "eventTime": acta_cadf::format_time(now - seconds_ago * 1_000_000_000),
        "action": action,
        "outcome": outcome,
        "initiator": {"id": "user-1", "name": "alice@example.com", "typeURI": "service/security/account/user"},
        "target": {"id": "crn:v1:bluemix:public:kms:us-south:a/1::key:1", "name": "key-1", "typeURI": "kms/secrets"},
        "message": format!("test event {id}"),
    })
}

/// The `_acta.id` of a returned event.
pub fn acta_id(event: &Value) -> String {
    event["_acta"]["id"].as_str().expect("_acta.id is a string").to_string()
}

/// The active segment files of an instance's log (`DIR/log/<instance>/<day>.log`), sorted by day.
pub fn log_segments(data: &Path, instance: &str) -> Vec<PathBuf> {
    segment_files(data, instance, &["log"])
}

/// Every segment file of an instance's log, sealed (`<day>.seg`) or active (`<day>.log`), sorted by day.
pub fn segments(data: &Path, instance: &str) -> Vec<PathBuf> {
    segment_files(data, instance, &["seg", "log"])
}

fn segment_files(data: &Path, instance: &str, extensions: &[&str]) -> Vec<PathBuf> {
    let mut segments: Vec<PathBuf> = std::fs::read_dir(data.join("log").join(instance))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| extensions.iter().any(|wanted| ext == *wanted)))
        .collect();
    segments.sort();
    segments
}

/// (event id, event bytes) of the records of segment files, in seq order.
pub fn records_of(segments: &[PathBuf]) -> Vec<(String, Vec<u8>)> {
    let mut records: Vec<acta_store::log::Record> =
        segments.iter().flat_map(|path| acta_store::log::read_segment_file(path).unwrap()).collect();
    records.sort_by_key(|record| record.seq);
    records.into_iter().map(|record| (record.event_id, record.event)).collect()
}

/// What a stopped server's log holds for an instance: (event id, event bytes) in seq order.
pub fn stored(data: &Path, instance: &str) -> Vec<(String, Vec<u8>)> {
    records_of(&segments(data, instance))
}

/// Copies a directory tree.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

/// The single active segment of the default instance (tests write one day's worth).
pub fn only_segment(data: &Path) -> PathBuf {
    let segments = log_segments(data, "default");
    assert_eq!(segments.len(), 1, "expected exactly one active segment, found {segments:?}");
    segments.into_iter().next().unwrap()
}

/// The frames of an active segment as `(offset, length)` (`len u32 LE | crc u32 LE | payload`).
pub fn frames(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut frames = Vec::new();
    let mut at = 0;
    while at + 8 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        if at + 8 + len > bytes.len() {
            break;
        }
        frames.push((at, 8 + len));
        at += 8 + len;
    }
    frames
}

/// Every file under `dir`, recursively, with its bytes.
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.insert(path.clone(), std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

/// A small deterministic PRNG (xorshift64*), so the tests need no `rand`.
pub struct XorShift(u64);

impl XorShift {
    /// A generator seeded from any number (0 included).
    pub fn new(seed: u64) -> XorShift {
        XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03 | 1)
    }

    /// The next number.
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `low..=high`.
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low + 1)
    }
}

/// What a finished `acta` command printed.
pub struct Output {
    /// Its exit status.
    pub status: ExitStatus,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// Runs `acta` with `args` and extra environment, failing after `timeout`. Output goes through files, so a
/// chatty command never blocks on a full pipe.
pub fn run_acta(args: &[&std::ffi::OsStr], envs: &[(&str, &std::ffi::OsStr)], timeout: Duration) -> Output {
    use std::io::{Read, Seek};
    let mut stdout = tempfile::tempfile().unwrap();
    let mut stderr = tempfile::tempfile().unwrap();
    let mut command = Command::new(acta_bin());
    command
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("ACTA_URL")
        .env_remove("ACTA_API_KEY")
        .env_remove("ACTA_CONFIG")
        .env_remove("ACTA_DATA")
        .stdin(Stdio::null())
        .stdout(stdout.try_clone().unwrap())
        .stderr(stderr.try_clone().unwrap());
    // The S3 options come from the test alone.
    for variable in ["AWS_ENDPOINT_URL", "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ALLOW_HTTP"] {
        command.env_remove(variable);
    }
    for (key, value) in envs {
        command.env(key, value);
    }
    let mut child = command.spawn().expect("spawning acta");
    let status = wait_with_timeout(&mut child, timeout);
    let read = |file: &mut File| {
        let mut text = String::new();
        file.rewind().unwrap();
        file.read_to_string(&mut text).unwrap();
        text
    };
    Output { status, stdout: read(&mut stdout), stderr: read(&mut stderr) }
}

/// [`run_acta`] with arguments that are all text.
pub fn run_acta_args(args: &[&str], envs: &[(&str, &OsStr)], timeout: Duration) -> Output {
    let args: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
    run_acta(&args, envs, timeout)
}

/// [`run_acta_args`] on a blocking thread, for the tests whose server runs in process on their runtime.
pub async fn run_acta_async(args: Vec<String>, timeout: Duration) -> Output {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_acta_args(&args, &[], timeout)
    })
    .await
    .unwrap()
}

/// Runs `acta` against `server` with `key`, both given in the environment only (`ACTA_URL`, `ACTA_API_KEY`),
/// and with `ACTA_CONFIG` when a configuration file is given.
pub fn acta_against(server: &Server, key: &str, config: Option<&Path>, args: &[&str], timeout: Duration) -> Output {
    let mut envs: Vec<(&str, &OsStr)> = vec![("ACTA_URL", server.url.as_ref()), ("ACTA_API_KEY", key.as_ref())];
    if let Some(config) = config {
        envs.push(("ACTA_CONFIG", config.as_os_str()));
    }
    run_acta_args(args, &envs, timeout)
}

/// `acta verify <path> --key <key> [extra...]`.
pub fn verify_with_key(path: &Path, key: &str, extra: &[&OsStr]) -> Output {
    let mut args: Vec<&OsStr> = vec![OsStr::new("verify"), path.as_os_str(), OsStr::new("--key"), OsStr::new(key)];
    args.extend_from_slice(extra);
    run_acta(&args, &[], Duration::from_secs(60))
}

/// What a command printed as JSON on standard output.
pub fn json_of(output: &Output) -> Value {
    serde_json::from_str(&output.stdout)
        .unwrap_or_else(|error| panic!("not JSON ({error}):\n{}\nstderr:\n{}", output.stdout, output.stderr))
}

/// One request the receiver got: its head (request line and headers) and body.
pub type Request = (String, Vec<u8>);

/// A minimal HTTP/1.1 receiver (a webhook's) on an already bound listener: records each request, answers 200.
pub fn receive_http(listener: std::net::TcpListener, got: std::sync::Arc<std::sync::Mutex<Vec<Request>>>) {
    std::thread::spawn(move || {
        use std::io::{BufRead, BufReader, Read, Write};
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut head = String::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                head.push_str(&line);
            }
            let length = head
                .lines()
                .find_map(|line| {
                    line.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string())
                })
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0);
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            got.lock().unwrap().push((head, body));
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    });
}
