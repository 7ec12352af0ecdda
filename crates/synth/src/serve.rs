//! A minimal static file server on loopback, on threads: serves `tinledger
//! publish` output for the `remote_verify` figure and for tests where
//! nginx is not the point (docs/server.md). GET only, one request
//! per connection (`Connection: close`), paths limited to the read API's
//! characters (no `..`), bounded request size, connections and time.
//! Tests can replace any path's whole raw response (`overrides`) to serve
//! malformed answers.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Longest request head read.
const MAX_HEAD: u64 = 8 * 1024;
/// Connections served at once; more get a 503.
const MAX_CONNECTIONS: usize = 64;
/// Read and write timeout of a connection.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// A running server; stopped (and its thread joined) on drop.
pub struct StaticServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    requests: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

struct Shared {
    root: PathBuf,
    overrides: HashMap<String, Vec<u8>>,
    requests: Arc<AtomicU64>,
    open: AtomicUsize,
}

impl StaticServer {
    /// Serve `root` on 127.0.0.1 (a free port).
    pub fn start(root: &Path) -> std::io::Result<StaticServer> {
        StaticServer::start_with(root, HashMap::new())
    }

    /// Serve `root`, answering a request for a path in `overrides` (no
    /// leading `/`) with those raw bytes (status line, headers, body).
    pub fn start_with(root: &Path, overrides: HashMap<String, Vec<u8>>) -> std::io::Result<StaticServer> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(AtomicU64::new(0));
        let shared = Arc::new(Shared {
            root: root.to_path_buf(),
            overrides,
            requests: requests.clone(),
            open: AtomicUsize::new(0),
        });
        let stop2 = stop.clone();
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut s) = conn else { continue };
                if shared.open.load(Ordering::SeqCst) >= MAX_CONNECTIONS {
                    let _ = s.write_all(b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                    continue;
                }
                shared.open.fetch_add(1, Ordering::SeqCst);
                let sh = shared.clone();
                std::thread::spawn(move || {
                    let _ = handle(&sh, s);
                    sh.open.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        Ok(StaticServer { addr, stop, requests, thread: Some(thread) })
    }

    /// `http://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Requests answered so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Whether `path` is one the read API can name: no `..`, no empty or
/// hidden segment, only the id and tile characters.
fn safe(path: &str) -> bool {
    !path.is_empty()
        && path.split('/').all(|seg| !seg.is_empty() && !seg.starts_with('.'))
        && path.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'_' | b'-' | b':'))
}

fn content_type(path: &str) -> &'static str {
    if path == "checkpoint" {
        "text/plain; charset=utf-8"
    } else if path.starts_with("lot/") || path.starts_with("actor/") {
        "application/json"
    } else {
        "application/octet-stream"
    }
}

/// Decode `%XX` escapes; `None` for a malformed one.
fn unescape(p: &str) -> Option<String> {
    let b = p.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn handle(sh: &Shared, s: TcpStream) -> std::io::Result<()> {
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    s.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut r = BufReader::new(s.try_clone()?.take(MAX_HEAD));
    let mut line = String::new();
    r.read_line(&mut line)?;
    // The rest of the head, up to the blank line.
    loop {
        let mut h = String::new();
        if r.read_line(&mut h)? == 0 || h == "\r\n" || h == "\n" {
            break;
        }
    }
    let mut w = s;
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    sh.requests.fetch_add(1, Ordering::SeqCst);
    let path = unescape(target.strip_prefix('/').unwrap_or("")).unwrap_or_default();
    if let Some(raw) = sh.overrides.get(&path) {
        return w.write_all(raw);
    }
    if method != "GET" {
        return respond(&mut w, "405 Method Not Allowed", "text/plain", b"");
    }
    if !safe(&path) {
        return respond(&mut w, "404 Not Found", "text/plain", b"not found\n");
    }
    match std::fs::read(sh.root.join(&path)) {
        Ok(body) => respond(&mut w, "200 OK", content_type(&path), &body),
        Err(_) if path.starts_with("lot/") || path.starts_with("actor/") => {
            respond(&mut w, "404 Not Found", "application/json", b"{\"error\":\"not found\"}\n")
        }
        Err(_) => respond(&mut w, "404 Not Found", "text/plain", b"not found\n"),
    }
}

fn respond(w: &mut TcpStream, status: &str, ctype: &str, body: &[u8]) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nAccess-Control-Allow-Origin: *\r\nConnection: close\r\n\r\n",
        body.len()
    );
    w.write_all(head.as_bytes())?;
    w.write_all(body)?;
    w.flush()
}
