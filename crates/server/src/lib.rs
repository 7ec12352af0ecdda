//! # tinledger-server
//!
//! `tinledger serve`: a ledger on the network (docs/server.md).
//!
//! What this crate owns: the HTTP front end (the C2SP `tlog-tiles` read
//! API, `/lot/` and `/actor/`, `POST /submit`), its bounds (connections,
//! body size, events per request, queue, read and write timeouts), and the
//! sequencer that group-commits submissions ([`sequencer`]) and signs
//! checkpoints with the log key, and the client that has them cosigned by
//! the witnesses of a policy before they are served ([`witnesses`]). What it never does: decide a rule (core
//! does, through `Ledger::append_batch_partial`), hold any key but the log
//! key, read key files or prompt (the CLI hands it the key), print (the
//! caller is told the address it listens on), or answer before an event is
//! durable.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod paths;
pub mod queue;
pub mod sequencer;
pub mod witnesses;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::Response;
use http_body_util::BodyExt;
use paths::Route;
use queue::{Job, Outcome, PushError, Queue};
use serde_json::json;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tinledger_core::note::NoteSigner;
use tinledger_core::rules::StateView;
use tinledger_core::units::Timestamp;
use tinledger_core::SignedEvent;
use tinledger_formats::signed::SignedFile;
use tinledger_ledger::Ledger;

/// Most events one `POST /submit` may carry (else 413).
pub const MAX_EVENTS_PER_REQUEST: usize = 10_000;
/// Largest request head (request line and headers) hyper buffers.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// How the server runs (the flags of `tinledger serve`, docs/server.md).
#[derive(Clone, Debug)]
pub struct Config {
    /// Address to listen on (port 0: any free port).
    pub listen: SocketAddr,
    /// Serve reads only: no `POST /submit`, no sequencer, no checkpoints.
    pub read_only: bool,
    /// Events per group commit: a batch closes once it holds this many.
    pub batch_size: usize,
    /// How long a batch waits for more events after its first arrived.
    pub batch_wait: Duration,
    /// Least time between two signed checkpoints.
    pub checkpoint_interval: Duration,
    /// Largest request body (else 413).
    pub max_body: usize,
    /// Connections served at once; further ones wait in the listen backlog.
    pub max_connections: usize,
    /// Events queued for the sequencer at most (else 503).
    pub queue: usize,
    /// Time to read a request: its head, its body, and the idle time
    /// between two requests on one connection.
    pub read_timeout: Duration,
    /// Time a write of the response may stall.
    pub write_timeout: Duration,
    /// The witnesses every new checkpoint is sent to before it is served
    /// (`--witnesses`, `--witness-timeout`); `None`: none.
    pub witnesses: Option<Arc<witnesses::WitnessSet>>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            read_only: false,
            batch_size: 256,
            batch_wait: Duration::from_millis(5),
            checkpoint_interval: Duration::from_secs(1),
            max_body: 16 << 20,
            max_connections: 1024,
            queue: 65_536,
            read_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
            witnesses: None,
        }
    }
}

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The async runtime could not start.
    #[error("cannot start the server: {0}")]
    Runtime(std::io::Error),
    /// Storage failed under the sequencer; the ledger's state is whatever
    /// the last acknowledged append left (restart recovers).
    #[error("the server stopped: {0}")]
    Storage(String),
}

/// Served checkpoints: the latest note and every checkpointed size.
struct Checkpoints {
    latest: Option<(u64, String)>,
    sizes: BTreeSet<u64>,
}

/// What the handlers and the sequencer share.
pub struct Shared {
    ledger: RwLock<Ledger>,
    signer: Option<NoteSigner>,
    cps: RwLock<Checkpoints>,
    queue: Queue,
    cfg: Config,
    /// The checkpoint being cosigned (its size and task), at most one.
    publishing: std::sync::Mutex<Option<(u64, tokio::task::JoinHandle<()>)>>,
    rt: tokio::runtime::Handle,
}

impl Shared {
    fn checkpointed_size(&self) -> u64 {
        self.cps.read().ok().and_then(|c| c.latest.as_ref().map(|(s, _)| *s)).unwrap_or(0)
    }
    /// The size of the checkpoint out for cosigning, if one is.
    fn publishing(&self) -> Option<u64> {
        self.publishing.lock().ok().and_then(|p| p.as_ref().map(|(s, _)| *s))
    }
    /// Whether the head is beyond the latest checkpoint (served or out for
    /// cosigning).
    fn grown(&self) -> bool {
        let head = self.ledger.read().map(|l| l.head().size).unwrap_or(0);
        head > self.checkpointed_size().max(self.publishing().unwrap_or(0))
    }
    fn serve_checkpoint(&self, size: u64, note: String) {
        if let Ok(mut c) = self.cps.write() {
            c.sizes.insert(size);
            if c.latest.as_ref().is_none_or(|(s, _)| *s < size) {
                c.latest = Some((size, note));
            }
        }
    }
}

/// This machine's clock, whole seconds.
pub(crate) fn now() -> Timestamp {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    Timestamp(i64::try_from(secs).unwrap_or(i64::MAX))
}

/// Serve `ledger` until SIGTERM or SIGINT (then: stop accepting, answer
/// what is queued, sync, return `Ok`) or a storage failure (`Err`).
/// `signer` signs checkpoints (the log key, named by the ledger's origin);
/// `None` only with `cfg.read_only`. `listening` is called once with the
/// bound address, before the first request is accepted.
pub fn serve(
    ledger: Ledger,
    signer: Option<NoteSigner>,
    cfg: Config,
    listening: impl FnOnce(SocketAddr),
) -> Result<(), ServerError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(64)
        .thread_name("tinledger-serve")
        .build()
        .map_err(ServerError::Runtime)?;
    let cps = ledger.checkpoints().map_err(|e| ServerError::Storage(e.to_string()))?;
    let checkpoints = Checkpoints { latest: cps.last().cloned(), sizes: cps.iter().map(|(s, _)| *s).collect() };
    let shared = Arc::new(Shared {
        ledger: RwLock::new(ledger),
        signer: if cfg.read_only { None } else { signer },
        cps: RwLock::new(checkpoints),
        queue: Queue::new(cfg.queue.max(1)),
        cfg,
        publishing: std::sync::Mutex::new(None),
        rt: rt.handle().clone(),
    });
    rt.block_on(run(shared, listening))
}

async fn run(s: Arc<Shared>, listening: impl FnOnce(SocketAddr)) -> Result<(), ServerError> {
    // A ledger that grew while no server ran gets its checkpoint before
    // the first request.
    sequencer::checkpoint(&s, false).map_err(ServerError::Storage)?;
    let addr = s.cfg.listen;
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|source| ServerError::Bind { addr, source })?;
    let bound = listener.local_addr().map_err(|source| ServerError::Bind { addr, source })?;
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let stop_tx = Arc::new(stop_tx);
    let sequencer = if s.cfg.read_only {
        None
    } else {
        let (s2, stop) = (s.clone(), stop_tx.clone());
        Some(std::thread::spawn(move || {
            let r = sequencer::run(&s2);
            if let Err(e) = &r {
                s2.queue
                    .fail_all(&format!("storage failed: {e}; the server stops, nothing of this request was appended"));
                let _ = stop.send(true);
            }
            r
        }))
    };
    listening(bound);
    let app = axum::Router::new().fallback(handle).with_state(s.clone());
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let limit = Arc::new(tokio::sync::Semaphore::new(s.cfg.max_connections.max(1)));
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    loop {
        let permit = tokio::select! {
            p = limit.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = stop_rx.changed() => break,
            _ = tokio::signal::ctrl_c() => break,
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => break,
        };
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((st, _)) => st,
                // Out of file descriptors and the like: wait, do not spin.
                Err(_) => { tokio::time::sleep(Duration::from_millis(50)).await; continue }
            },
            _ = stop_rx.changed() => break,
            _ = tokio::signal::ctrl_c() => break,
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => break,
        };
        let _ = stream.set_nodelay(true);
        let mut io = tokio_io_timeout::TimeoutStream::new(stream);
        io.set_read_timeout(Some(s.cfg.read_timeout));
        io.set_write_timeout(Some(s.cfg.write_timeout));
        let io = hyper_util::rt::TokioIo::new(Box::pin(io));
        let svc = hyper_util::service::TowerToHyperService::new(app.clone());
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(s.cfg.read_timeout)
            .max_buf_size(MAX_HEAD_BYTES)
            .serve_connection(io, svc);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
            drop(permit);
        });
    }
    drop(listener);
    // Answer what is queued, then let the connections finish their responses.
    s.queue.close();
    let joined = match sequencer {
        Some(h) => tokio::task::spawn_blocking(move || h.join()).await.ok(),
        None => Some(Ok(Ok(()))),
    };
    // The last checkpoint's cosigning (bounded by the witness timeout).
    let last = s.publishing.lock().ok().and_then(|mut p| p.take());
    if let Some((_, h)) = last {
        let _ = h.await;
    }
    // The clients of the last batch get their answers before the exit.
    let _ = tokio::time::timeout(s.cfg.write_timeout, graceful.shutdown()).await;
    match joined {
        Some(Ok(Ok(()))) => {}
        Some(Ok(Err(e))) => return Err(ServerError::Storage(e)),
        _ => return Err(ServerError::Storage("the sequencer thread failed".into())),
    }
    let l = s.ledger.read().map_err(|_| ServerError::Storage("the ledger lock is poisoned".into()))?;
    l.sync().map_err(|e| ServerError::Storage(e.to_string()))
}

const CACHE_IMMUTABLE: &str = "public, max-age=604800, immutable";

/// Every response: the status, its type and caching, CORS for browsers.
fn respond(status: StatusCode, ctype: &'static str, cache: &'static str, body: impl Into<Body>) -> Response {
    let mut r = Response::new(body.into());
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    r
}

const JSON: &str = "application/json";

/// `{"error": msg}` with `status`.
fn error(status: StatusCode, msg: &str) -> Response {
    respond(status, JSON, "no-store", format!("{}\n", json!({ "error": msg })))
}

fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "not found")
}

async fn handle(State(s): State<Arc<Shared>>, req: Request) -> Response {
    let Some(route) = paths::route(req.uri().path()) else { return not_found() };
    let method = req.method().clone();
    match (route, method) {
        (Route::Submit, Method::POST) => submit(s, req).await,
        (Route::Submit, _) => error(StatusCode::METHOD_NOT_ALLOWED, "use POST to submit events"),
        (_, Method::GET | Method::HEAD) => {
            // sled reads are short but may wait for the writer's lock
            // (during one append): never on the async threads.
            let route = paths::route(req.uri().path());
            match tokio::task::spawn_blocking(move || read(&s, route)).await {
                Ok(r) => r,
                Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "the read failed"),
            }
        }
        _ => error(StatusCode::METHOD_NOT_ALLOWED, "only GET reads this path"),
    }
}

/// The read API.
fn read(s: &Shared, route: Option<Route>) -> Response {
    let internal = |e: &dyn std::fmt::Display| {
        error(StatusCode::INTERNAL_SERVER_ERROR, &format!("reading the ledger failed: {}", one_line(&e.to_string())))
    };
    match route {
        Some(Route::Checkpoint) => {
            let latest = s.cps.read().ok().and_then(|c| c.latest.clone());
            match latest {
                Some((_, note)) => respond(StatusCode::OK, "text/plain; charset=utf-8", "no-store", note),
                None => error(StatusCode::NOT_FOUND, "no checkpoint has been signed yet"),
            }
        }
        Some(Route::Tile(id)) => {
            if !id.is_full() {
                let ok = s.cps.read().map(|c| paths::partial_is_checkpointed(&id, &c.sizes)).unwrap_or(false);
                if !ok {
                    return not_found();
                }
            }
            let Ok(l) = s.ledger.read() else { return internal(&"the ledger lock is poisoned") };
            let got = match paths::level(&id) {
                Some(level) => l.tile(level, id.index, id.width),
                None => l.entry_bundle(id.index, id.width),
            };
            match got {
                Ok(Some(bytes)) => {
                    let cache = if id.is_full() { CACHE_IMMUTABLE } else { "no-cache" };
                    respond(StatusCode::OK, "application/octet-stream", cache, bytes)
                }
                Ok(None) => not_found(),
                Err(e) => internal(&e),
            }
        }
        Some(Route::Lot(id)) => {
            let size = s.checkpointed_size();
            let Ok(l) = s.ledger.read() else { return internal(&"the ledger lock is poisoned") };
            let state = match l.view().lot(&id) {
                Ok(Some(st)) => st,
                Ok(None) => return error(StatusCode::NOT_FOUND, &format!("unknown lot {id}")),
                Err(e) => return internal(&e),
            };
            let history = match l.lot_history(&id) {
                Ok(h) => h.into_iter().filter(|q| *q < size).collect::<Vec<_>>(),
                Err(e) => return internal(&e),
            };
            let v = json!({"lot": id, "size": size, "state": state, "history": history});
            respond(StatusCode::OK, JSON, "no-cache", format!("{v}\n"))
        }
        Some(Route::Actor(id)) => {
            let size = s.checkpointed_size();
            let Ok(l) = s.ledger.read() else { return internal(&"the ledger lock is poisoned") };
            match l.view().actor(&id) {
                Ok(Some(_)) => {}
                Ok(None) => return error(StatusCode::NOT_FOUND, &format!("unknown actor {id}")),
                Err(e) => return internal(&e),
            }
            let history = match l.actor_history(&id) {
                Ok(h) => h.into_iter().filter(|q| *q < size).collect::<Vec<_>>(),
                Err(e) => return internal(&e),
            };
            let v = json!({"actor": id, "size": size, "history": history});
            respond(StatusCode::OK, JSON, "no-cache", format!("{v}\n"))
        }
        Some(Route::Submit) | None => not_found(),
    }
}

fn one_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().to_string()
}

/// `POST /submit`.
async fn submit(s: Arc<Shared>, req: Request) -> Response {
    if s.cfg.read_only {
        return error(StatusCode::METHOD_NOT_ALLOWED, "this server is read-only: submit to the log's sequencer");
    }
    let max = s.cfg.max_body;
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return error(StatusCode::PAYLOAD_TOO_LARGE, &format!("request body is larger than {max} bytes"));
    }
    let body = http_body_util::Limited::new(req.into_body(), max);
    let bytes = match tokio::time::timeout(s.cfg.read_timeout, body.collect()).await {
        Err(_) => {
            return error(
                StatusCode::REQUEST_TIMEOUT,
                &format!("request body not received within {} s", s.cfg.read_timeout.as_secs_f64()),
            )
        }
        Ok(Err(e)) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => {
            return error(StatusCode::PAYLOAD_TOO_LARGE, &format!("request body is larger than {max} bytes"))
        }
        Ok(Err(_)) => return error(StatusCode::BAD_REQUEST, "request body is truncated or malformed"),
        Ok(Ok(c)) => c.to_bytes(),
    };
    let events = match parse_body(&bytes) {
        Ok(evs) => evs,
        Err((status, msg)) => return error(status, &msg),
    };
    let (lines, events): (Vec<usize>, Vec<SignedEvent>) = events.into_iter().unzip();
    let (tx, rx) = tokio::sync::oneshot::channel();
    match s.queue.push(Job { events, reply: tx }) {
        Ok(()) => {}
        Err((PushError::Full, _)) => {
            let mut r = error(StatusCode::SERVICE_UNAVAILABLE, "the submission queue is full: retry later");
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return r;
        }
        Err((PushError::Closed, _)) => {
            let mut r = error(StatusCode::SERVICE_UNAVAILABLE, "the server is shutting down: retry later");
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return r;
        }
    }
    let outcomes = match rx.await {
        Ok(Ok(o)) => o,
        Ok(Err(msg)) => return error(StatusCode::INTERNAL_SERVER_ERROR, &msg),
        Err(_) => return error(StatusCode::INTERNAL_SERVER_ERROR, "the sequencer stopped before answering"),
    };
    let mut refused = false;
    let mut out = String::with_capacity(outcomes.len() * 120);
    for (line, o) in lines.iter().zip(&outcomes) {
        let v = match o {
            Outcome::Appended(r) => json!({"line": line, "status": "appended", "seq": r.seq,
                "entry_hash": r.hash.to_string(), "flags": r.flags.iter().map(|f| f.to_string()).collect::<Vec<_>>()}),
            Outcome::Duplicate(r) => {
                json!({"line": line, "status": "duplicate", "seq": r.seq, "entry_hash": r.hash.to_string()})
            }
            Outcome::Refused(m) => {
                refused = true;
                json!({"line": line, "status": "refused", "error": m})
            }
        };
        out.push_str(&v.to_string());
        out.push('\n');
    }
    let status = if refused { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    respond(status, "application/x-ndjson", "no-store", out)
}

/// The body's events with their line numbers: one signed-event object (as
/// `tinledger sign` writes it, line 1), or JSON Lines of them (as
/// `sign-batch` writes them). Any bad line refuses the whole body.
pub fn parse_body(bytes: &[u8]) -> Result<Vec<(usize, SignedEvent)>, (StatusCode, String)> {
    let bad = |m: String| (StatusCode::BAD_REQUEST, m);
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()].iter().filter(|b| **b == b'\n').count() + 1;
        bad(format!("line {line}: not UTF-8"))
    })?;
    if text.trim().is_empty() {
        return Err(bad("the body holds no events".into()));
    }
    if let Ok(sf) = tinledger_core::json::from_str::<SignedFile>(text) {
        let ev = sf.into_signed("line 1").map_err(|e| bad(one_line(&e.to_string())))?;
        return Ok(vec![(1, ev)]);
    }
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        if out.len() == MAX_EVENTS_PER_REQUEST {
            return Err((
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("more than {MAX_EVENTS_PER_REQUEST} events in one request: split the file"),
            ));
        }
        let origin = format!("line {}", i + 1);
        let sf: SignedFile = tinledger_core::json::from_str(line)
            .map_err(|e| bad(format!("{origin}: not a signed event: {}", one_line(&e.to_string()))))?;
        out.push((i + 1, sf.into_signed(&origin).map_err(|e| bad(one_line(&e.to_string())))?));
    }
    Ok(out)
}
