//! # tinledger-witness
//!
//! `tinledger witness serve`: a C2SP `tlog-witness` v1 witness
//! (docs/witness.md).
//!
//! What this crate owns: the witness's persisted state ([`store`]: per log
//! origin, the latest checkpoint it cosigned, replaced atomically and
//! durably) and its HTTP front end: `POST /add-checkpoint` and the
//! monitors' read extension `GET /checkpoint/<origin>`, with their bounds
//! (body size, connections, read and write timeouts). Check-and-persist is
//! serialized per origin, and the new state is on disk before the 200 is
//! sent. What it never does: decide a status itself (that is
//! `tinledger_core::witness`), read key files or prompt (the CLI hands it
//! the key), print (the caller is told the address), or forget a state:
//! an unreadable state file stops it at start.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod store;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::Response;
use http_body_util::BodyExt;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use store::{Store, StoreError};
use tinledger_core::witness::{parse_request, LogState, Witness, MAX_REQUEST_LEN, SIZE_CONTENT_TYPE};

/// Largest request head (request line and headers) hyper buffers.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// How the witness runs (the flags of `tinledger witness serve`).
#[derive(Clone, Debug)]
pub struct Config {
    /// Address to listen on (port 0: any free port).
    pub listen: SocketAddr,
    /// The state directory (created if missing).
    pub state: PathBuf,
    /// Connections served at once; further ones wait in the listen backlog.
    pub max_connections: usize,
    /// Time to read a request's head and body, and to wait idle between requests.
    pub read_timeout: Duration,
    /// Time a write of the response may stall.
    pub write_timeout: Duration,
}

/// Why the witness could not start or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WitnessError {
    /// The state directory is locked, corrupt or unreadable.
    #[error(transparent)]
    State(#[from] StoreError),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The async runtime could not start.
    #[error("cannot start the witness: {0}")]
    Runtime(std::io::Error),
}

/// One log's slot: its latest cosigned state, behind the lock that
/// serializes check-and-persist for that origin.
#[derive(Default)]
struct Slot {
    state: Option<LogState>,
    /// A persist failed after it may have replaced the file: the stored
    /// state is unknown, so this origin answers 500 until a restart reads it.
    failed: bool,
}

struct Shared {
    witness: Witness,
    store: Store,
    slots: BTreeMap<String, Mutex<Slot>>,
    cfg: Config,
}

/// Open the state, then serve until SIGTERM or SIGINT. `listening` is
/// called once with the bound address, before the first request is accepted.
pub fn serve(witness: Witness, cfg: Config, listening: impl FnOnce(SocketAddr)) -> Result<(), WitnessError> {
    let (store, mut states) = Store::open(&cfg.state)?;
    let slots = witness
        .origins()
        .map(|o| (o.to_string(), Mutex::new(Slot { state: states.remove(o), failed: false })))
        .collect();
    // States of logs no longer configured stay on disk untouched.
    let shared = Arc::new(Shared { witness, store, slots, cfg });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(64)
        .thread_name("tinledger-witness")
        .build()
        .map_err(WitnessError::Runtime)?;
    rt.block_on(run(shared, listening))
}

async fn stop_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
    }
}

async fn run(s: Arc<Shared>, listening: impl FnOnce(SocketAddr)) -> Result<(), WitnessError> {
    let addr = s.cfg.listen;
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|source| WitnessError::Bind { addr, source })?;
    let bound = listener.local_addr().map_err(|source| WitnessError::Bind { addr, source })?;
    listening(bound);
    let app = axum::Router::new().fallback(handle).with_state(s.clone());
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let limit = Arc::new(tokio::sync::Semaphore::new(s.cfg.max_connections.max(1)));
    let stop = stop_signal();
    tokio::pin!(stop);
    loop {
        let accepted = tokio::select! {
            _ = &mut stop => break,
            a = async {
                let permit = limit.clone().acquire_owned().await;
                (permit, listener.accept().await)
            } => a,
        };
        let (Ok(permit), accepted) = accepted else { break };
        let Ok((stream, _)) = accepted else {
            // Out of file descriptors and the like: wait, do not spin.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let mut io = tokio_io_timeout::TimeoutStream::new(stream);
        io.set_read_timeout(Some(s.cfg.read_timeout));
        io.set_write_timeout(Some(s.cfg.write_timeout));
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(s.cfg.read_timeout)
            .max_buf_size(MAX_HEAD_BYTES)
            .serve_connection(
                hyper_util::rt::TokioIo::new(Box::pin(io)),
                hyper_util::service::TowerToHyperService::new(app.clone()),
            );
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
            drop(permit);
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(s.cfg.write_timeout, graceful.shutdown()).await;
    Ok(())
}

const TEXT: &str = "text/plain; charset=utf-8";

fn respond(status: StatusCode, ctype: &'static str, body: impl Into<Body>) -> Response {
    let mut r = Response::new(body.into());
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// A refusal: one line of text saying why.
fn error(status: StatusCode, msg: &str) -> Response {
    let line = msg.lines().next().unwrap_or_default();
    respond(status, TEXT, format!("{line}\n"))
}

async fn handle(State(s): State<Arc<Shared>>, req: Request) -> Response {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    if path == "/add-checkpoint" {
        return match method {
            Method::POST => add_checkpoint(s, req).await,
            _ => error(StatusCode::METHOD_NOT_ALLOWED, "use POST for add-checkpoint"),
        };
    }
    if let Some(origin) = path.strip_prefix("/checkpoint/") {
        return match method {
            Method::GET | Method::HEAD => {
                // The origin's lock is held across an fsync: wait for it off the async threads.
                let origin = origin.to_string();
                match tokio::task::spawn_blocking(move || latest(&s, &origin)).await {
                    Ok(r) => r,
                    Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "the read failed"),
                }
            }
            _ => error(StatusCode::METHOD_NOT_ALLOWED, "only GET reads this path"),
        };
    }
    error(StatusCode::NOT_FOUND, "not found")
}

/// `GET /checkpoint/<origin>`: the latest note cosigned for that origin.
fn latest(s: &Shared, origin: &str) -> Response {
    let Some(slot) = s.slots.get(origin) else {
        return error(StatusCode::NOT_FOUND, "this witness does not witness that log");
    };
    let note = match slot.lock() {
        Ok(g) => g.state.as_ref().map(|st| st.cosigned_note.clone()),
        Err(_) => return error(StatusCode::INTERNAL_SERVER_ERROR, "the state lock is poisoned"),
    };
    match note {
        Some(n) => respond(StatusCode::OK, TEXT, n),
        None => error(StatusCode::NOT_FOUND, "this witness has cosigned no checkpoint of that log yet"),
    }
}

/// The system clock, whole seconds since the Unix epoch.
fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

async fn add_checkpoint(s: Arc<Shared>, req: Request) -> Response {
    let max = MAX_REQUEST_LEN;
    let too_large = || error(StatusCode::PAYLOAD_TOO_LARGE, &format!("request body is larger than {max} bytes"));
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return too_large();
    }
    let body = http_body_util::Limited::new(req.into_body(), max);
    let bytes = match tokio::time::timeout(s.cfg.read_timeout, body.collect()).await {
        Err(_) => return error(StatusCode::REQUEST_TIMEOUT, "request body not received in time"),
        Ok(Err(e)) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => return too_large(),
        Ok(Err(e)) if timed_out(&*e) => return error(StatusCode::REQUEST_TIMEOUT, "request body not received in time"),
        Ok(Err(_)) => return error(StatusCode::BAD_REQUEST, "request body is truncated or malformed"),
        Ok(Ok(c)) => c.to_bytes(),
    };
    // Signature checks and the fsync block: never on the async threads.
    match tokio::task::spawn_blocking(move || decide(&s, &bytes)).await {
        Ok(r) => r,
        Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "the request failed"),
    }
}

/// Whether a body error comes from the connection's read timeout.
fn timed_out(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(e) = cur {
        if e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut) {
            return true;
        }
        cur = e.source();
    }
    false
}

/// Check and persist under the origin's lock, then build the answer.
fn decide(s: &Shared, body: &[u8]) -> Response {
    let req = match parse_request(body) {
        Ok(r) => r,
        Err(e) => return rejection(&e),
    };
    let Some(slot) = s.slots.get(&req.checkpoint.origin) else {
        // Unknown origin: the witness's own check gives the 404.
        return match s.witness.add_checkpoint(&req, None, now()) {
            Err(e) => rejection(&e),
            Ok(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "no state slot for a known log"),
        };
    };
    let Ok(mut slot) = slot.lock() else {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "the state lock is poisoned");
    };
    if slot.failed {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "an earlier write of this log's state failed: the witness must be restarted",
        );
    }
    let accepted = match s.witness.add_checkpoint(&req, slot.state.as_ref(), now()) {
        Ok(a) => a,
        Err(e) => return rejection(&e),
    };
    if let Err(e) = s.store.persist(&accepted.state) {
        slot.failed = true;
        return error(StatusCode::INTERNAL_SERVER_ERROR, &format!("cannot persist the witness state: {e}"));
    }
    slot.state = Some(accepted.state);
    respond(StatusCode::OK, TEXT, accepted.body)
}

fn rejection(e: &tinledger_core::witness::Rejection) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
    match e.witness_size() {
        Some(size) => respond(status, SIZE_CONTENT_TYPE, format!("{size}\n")),
        None => error(status, &e.to_string()),
    }
}
