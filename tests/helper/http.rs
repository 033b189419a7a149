//! A tiny blocking HTTP/1.1 client for clusterd's HTTP server (`http_endpoint`): plain requests
//! and a server-sent events reader. Hand-written on `std::net` so that the tests need no HTTP
//! crate; it reads `Content-Length` and chunked bodies, which is all axum sends.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::master::{node_section, CLUSTER_SECTION};
use crate::{ports, CircusNode, Cluster, Master};

/// One answer.
#[derive(Debug)]
pub struct HttpReply {
    pub status: u16,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpReply {
    /// The body as JSON.
    ///
    /// # Panics
    /// When it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// The standard two-node cluster ([`Cluster`]) with the master's HTTP server on a free port;
/// `extra` (`key = value` lines) is added to `[cluster]`, replacing the standard section's line
/// of the same key (`heartbeat`). Returns the cluster and `127.0.0.1:PORT`.
pub fn dashboard_cluster(extra: &str) -> (Cluster, String) {
    let first = CircusNode::start("first", &[("dummy", 1)]);
    let second = CircusNode::start("second", &[("dummy2", 2)]);
    let addr = format!("127.0.0.1:{}", ports::free_port());
    let key = |line: &str| line.split('=').next().unwrap_or_default().trim().to_string();
    let overridden: Vec<String> = extra.lines().map(key).filter(|k| !k.is_empty()).collect();
    let section: String =
        CLUSTER_SECTION.lines().filter(|l| !overridden.contains(&key(l))).map(|l| format!("{l}\n")).collect();
    let mut config = format!("{section}http_endpoint = \"{addr}\"\n{extra}\n");
    config.push_str(&node_section(&first));
    config.push_str(&node_section(&second));
    let master = Master::start_with_config(&config);
    wait_http(&addr);
    (Cluster { master, first, second }, addr)
}

/// Waits until `/healthz` answers 200.
pub fn wait_http(addr: &str) {
    crate::wait_for("the HTTP server", || match request(addr, "GET", "/healthz", &[]) {
        Ok(reply) if reply.status == 200 => Ok(()),
        Ok(reply) => Err(format!("HTTP {}", reply.status)),
        Err(err) => Err(err),
    });
}

/// `GET path`.
///
/// # Panics
/// When the server cannot be reached.
pub fn get(addr: &str, path: &str) -> HttpReply {
    request(addr, "GET", path, &[]).unwrap_or_else(|e| panic!("GET {path}: {e}"))
}

/// `POST path` with an empty body.
///
/// # Panics
/// When the server cannot be reached.
pub fn post(addr: &str, path: &str, headers: &[(&str, &str)]) -> HttpReply {
    request(addr, "POST", path, headers).unwrap_or_else(|e| panic!("POST {path}: {e}"))
}

/// One request on a fresh connection (`Connection: close`).
///
/// # Errors
/// The connection failed or the answer was not HTTP.
pub fn request(addr: &str, method: &str, path: &str, headers: &[(&str, &str)]) -> Result<HttpReply, String> {
    let mut stream = open(addr, method, path, headers)?;
    let (status, headers) = read_head(&mut stream)?;
    let chunked = headers.iter().any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).map_err(|e| e.to_string())?;
    let body = if chunked { dechunk(&mut raw).0 } else { raw };
    Ok(HttpReply { status, headers, body: String::from_utf8_lossy(&body).into_owned() })
}

fn open(addr: &str, method: &str, path: &str, headers: &[(&str, &str)]) -> Result<BufReader<TcpStream>, String> {
    let mut stream = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    stream.set_read_timeout(Some(Duration::from_secs(30))).map_err(|e| e.to_string())?;
    let mut text = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: 0\r\n");
    for (k, v) in headers {
        text.push_str(&format!("{k}: {v}\r\n"));
    }
    text.push_str("\r\n");
    stream.write_all(text.as_bytes()).map_err(|e| e.to_string())?;
    Ok(BufReader::new(stream))
}

fn read_head(stream: &mut BufReader<TcpStream>) -> Result<(u16, Vec<(String, String)>), String> {
    let mut line = String::new();
    stream.read_line(&mut line).map_err(|e| e.to_string())?;
    let status = line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).ok_or(format!("not HTTP: {line:?}"))?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        stream.read_line(&mut line).map_err(|e| e.to_string())?;
        let Some((k, v)) = line.trim_end().split_once(':') else { break };
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    Ok((status, headers))
}

/// Takes the complete chunks off the front of `raw`: (their data, whether the last chunk came).
fn dechunk(raw: &mut Vec<u8>) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    loop {
        let Some(eol) = raw.windows(2).position(|w| w == b"\r\n") else { return (out, false) };
        let size = usize::from_str_radix(String::from_utf8_lossy(&raw[..eol]).trim(), 16).unwrap_or(0);
        if raw.len() < eol + 2 + size + 2 {
            return (out, false);
        }
        out.extend_from_slice(&raw[eol + 2..eol + 2 + size]);
        raw.drain(..eol + 2 + size + 2);
        if size == 0 {
            return (out, true);
        }
    }
}

/// A server-sent events stream.
pub struct EventStream {
    stream: BufReader<TcpStream>,
    raw: Vec<u8>,
    text: String,
    /// The server ended the stream.
    pub ended: bool,
}

impl EventStream {
    /// Opens `GET path` and checks it is an event stream.
    ///
    /// # Panics
    /// When it is not.
    pub fn open(addr: &str, path: &str) -> EventStream {
        let mut stream = open(addr, "GET", path, &[]).unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let (status, headers) = read_head(&mut stream).expect("event stream head");
        assert_eq!(status, 200, "GET {path}");
        assert!(headers.iter().any(|(k, v)| k == "content-type" && v.starts_with("text/event-stream")), "{headers:?}");
        EventStream { stream, raw: Vec::new(), text: String::new(), ended: false }
    }

    /// The next event as (name, data), waiting at most `timeout`; `None` when none came or the
    /// stream ended.
    pub fn next(&mut self, timeout: Duration) -> Option<(String, String)> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(end) = self.text.find("\n\n") {
                let block: String = self.text.drain(..end + 2).collect();
                let (mut name, mut data) = (String::from("message"), String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        name = v.trim().to_string();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.strip_prefix(' ').unwrap_or(v));
                    }
                }
                if !data.is_empty() {
                    return Some((name, data));
                }
                continue;
            }
            let left = deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero())?;
            if self.ended {
                return None;
            }
            self.stream.get_ref().set_read_timeout(Some(left)).ok()?;
            let mut buf = [0u8; 8192];
            match self.stream.read(&mut buf) {
                Ok(0) => self.ended = true,
                Ok(n) => {
                    self.raw.extend_from_slice(&buf[..n]);
                    let (data, last) = dechunk(&mut self.raw);
                    self.text.push_str(&String::from_utf8_lossy(&data));
                    self.ended |= last;
                }
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
                Err(_) => self.ended = true,
            }
        }
    }
}
