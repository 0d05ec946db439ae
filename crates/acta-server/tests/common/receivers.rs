//! What alert notifications are sent to in tests, on 127.0.0.1 only: an HTTP receiver (webhooks, Slack,
//! PagerDuty) whose answers can be scripted, and an SMTP sink that speaks real SMTP over TCP (greeting, EHLO,
//! MAIL, RCPT, DATA with dot-stuffing, QUIT), so that lettre talks to it as to any relay.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use base64::Engine;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// One request an HTTP receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub method: String,
    /// Lowercase names.
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

#[derive(Default)]
struct Shared {
    requests: Vec<Received>,
    /// Statuses to answer next, in order; 200 when empty.
    script: VecDeque<u16>,
}

/// An HTTP server on 127.0.0.1 that records every request.
pub struct HttpReceiver {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    shared: Arc<Mutex<Shared>>,
    task: tokio::task::JoinHandle<()>,
}

async fn record(
    State(shared): State<Arc<Mutex<Shared>>>,
    method: axum::http::Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let headers = headers
        .iter()
        .map(|(name, value)| (name.as_str().to_string(), value.to_str().unwrap_or("").to_string()))
        .collect();
    let mut shared = shared.lock().unwrap();
    shared.requests.push(Received {
        path: uri.path().to_string(),
        method: method.to_string(),
        headers,
        body: body.to_vec(),
        at: Instant::now(),
    });
    let status = shared.script.pop_front().unwrap_or(200);
    StatusCode::from_u16(status).unwrap()
}

impl HttpReceiver {
    pub async fn start() -> HttpReceiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        HttpReceiver::serve(listener).await
    }

    /// Serves on a listener the test bound itself (a port chosen before the receiver is up).
    pub async fn serve(listener: tokio::net::TcpListener) -> HttpReceiver {
        let url = format!("http://{}", listener.local_addr().unwrap());
        let shared: Arc<Mutex<Shared>> = Arc::default();
        let app = axum::Router::new().fallback(record).with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        HttpReceiver { url, shared, task }
    }

    /// The next answers, in order (then 200).
    pub fn answer_next(&self, statuses: &[u16]) {
        self.shared.lock().unwrap().script.extend(statuses.iter().copied());
    }

    pub fn requests(&self) -> Vec<Received> {
        self.shared.lock().unwrap().requests.clone()
    }

    /// Waits until at least `count` requests arrived (or `timeout`), and returns them all.
    pub async fn wait_for(&self, count: usize, timeout: Duration) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let requests = self.requests();
            if requests.len() >= count || Instant::now() > deadline {
                return requests;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for HttpReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One email as the sink received it.
#[derive(Debug, Clone)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    /// The DATA, dot-unstuffed, CRLF line ends.
    pub data: String,
    pub at: Instant,
}

impl Mail {
    fn split(&self) -> (String, String) {
        let (head, body) = self.data.split_once("\r\n\r\n").unwrap_or((&self.data, ""));
        // Unfold continuation lines (RFC 5322 2.2.3).
        (head.replace("\r\n ", " ").replace("\r\n\t", " "), body.to_string())
    }

    /// A header's value (first of that name, case-insensitive).
    pub fn header(&self, name: &str) -> Option<String> {
        let (head, _) = self.split();
        head.split("\r\n").find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim().to_string())
        })
    }

    /// The body decoded from its transfer encoding (7bit, quoted-printable or base64).
    pub fn body(&self) -> String {
        let (_, body) = self.split();
        match self.header("Content-Transfer-Encoding").map(|value| value.to_ascii_lowercase()).as_deref() {
            Some("quoted-printable") => decode_quoted_printable(&body),
            Some("base64") => {
                let compact: String = body.split_whitespace().collect();
                String::from_utf8(base64::engine::general_purpose::STANDARD.decode(compact).unwrap()).unwrap()
            }
            _ => body,
        }
    }
}

fn decode_quoted_printable(text: &str) -> String {
    let joined = text.replace("=\r\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 3 <= bytes.len()
            && let Ok(byte) = u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"), 16)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

/// An SMTP server on 127.0.0.1 that accepts every message.
pub struct SmtpSink {
    pub port: u16,
    mails: Arc<Mutex<Vec<Mail>>>,
    task: tokio::task::JoinHandle<()>,
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mails: Arc<Mutex<Vec<Mail>>> = Arc::default();
        let store = mails.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                let store = store.clone();
                tokio::spawn(async move {
                    let _ = session(stream, store).await;
                });
            }
        });
        SmtpSink { port, mails, task }
    }

    /// `smtp://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.mails.lock().unwrap().clone()
    }

    pub async fn wait_for(&self, count: usize, timeout: Duration) -> Vec<Mail> {
        let deadline = Instant::now() + timeout;
        loop {
            let mails = self.mails();
            if mails.len() >= count || Instant::now() > deadline {
                return mails;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn session(stream: tokio::net::TcpStream, store: Arc<Mutex<Vec<Mail>>>) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 127.0.0.1 ESMTP acta-test-sink\r\n").await?;
    let (mut from, mut to) = (String::new(), Vec::new());
    loop {
        let mut line = String::new();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_string();
        let verb = command.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
        match verb.as_str() {
            "EHLO" => write.write_all(b"250-127.0.0.1 greets you\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n").await?,
            "HELO" => write.write_all(b"250 127.0.0.1\r\n").await?,
            "MAIL" => {
                from = address(&command);
                to.clear();
                write.write_all(b"250 2.1.0 OK\r\n").await?;
            }
            "RCPT" => {
                to.push(address(&command));
                write.write_all(b"250 2.1.5 OK\r\n").await?;
            }
            "DATA" => {
                write.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n").await?;
                let mut data = String::new();
                loop {
                    let mut line = String::new();
                    if lines.read_line(&mut line).await? == 0 {
                        return Ok(());
                    }
                    if line == ".\r\n" || line == ".\n" {
                        break;
                    }
                    let unstuffed = line.strip_prefix('.').filter(|rest| rest.starts_with('.')).unwrap_or(&line);
                    data.push_str(unstuffed);
                }
                store.lock().unwrap().push(Mail { from: from.clone(), to: to.clone(), data, at: Instant::now() });
                write.write_all(b"250 2.0.0 queued\r\n").await?;
            }
            "RSET" | "NOOP" => write.write_all(b"250 OK\r\n").await?,
            "QUIT" => {
                write.write_all(b"221 2.0.0 bye\r\n").await?;
                return Ok(());
            }
            _ => write.write_all(b"502 5.5.2 command not implemented\r\n").await?,
        }
    }
}

/// `MAIL FROM:<a@b> SIZE=10` gives `a@b`.
fn address(command: &str) -> String {
    let start = command.find('<').map_or(0, |at| at + 1);
    let end = command.find('>').unwrap_or(command.len());
    command.get(start..end).unwrap_or("").to_string()
}
