//! The remote write clients (`--server URL` on `submit`, `record`,
//! `sign-batch`; docs/server.md, "Clients"): the HTTP client they share
//! (timeouts, retries with backoff, one-line errors naming the URL) and
//! `POST /submit`. The read clients use [`Client::get`] too.
//!
//! Retrying a submission is safe: an event already in the log comes back
//! as `duplicate` with its original receipt.

use crate::args::{Cli, Kind};
use crate::error::CliError;
use crate::output::{emit, emit_json};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::Duration;
use tinledger_core::{LedgerId, SignedEvent};
use tinledger_formats::signed::SignedFile;

/// Tries of one request before giving up (connect errors, timeouts, 503).
pub const TRIES: u32 = 5;
/// Wait before the second try; doubled before each further one.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(200);
/// Longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);
/// Events per `POST /submit` (the server takes at most 10,000).
pub const EVENTS_PER_POST: usize = 1000;
/// Largest response body read (a response of 10,000 results is ~2 MB).
const MAX_RESPONSE: u64 = 64 << 20;

/// A log server (or static mirror) at a base URL.
pub struct Client {
    base: String,
    agent: ureq::Agent,
}

/// A response: status, `Retry-After` (seconds), body.
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// The body.
    pub body: Vec<u8>,
}

impl Client {
    /// A client for `base` (`http://host:port/` or `https://…/prefix/`).
    pub fn new(base: &str) -> Result<Client, CliError> {
        let b = base.trim();
        if !(b.starts_with("http://") || b.starts_with("https://")) {
            return Err(CliError::usage(format!(
                "--server {}: give an http:// or https:// URL",
                tinledger_core::units::quoted(base)
            )));
        }
        let base = if b.ends_with('/') { b.to_string() } else { format!("{b}/") };
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_connect(Some(Duration::from_secs(5)))
            .timeout_global(Some(Duration::from_secs(120)))
            .http_status_as_error(false)
            .build()
            .into();
        Ok(Client { base, agent })
    }

    /// `base` + `path` (no leading slash).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// GET `path`, retried like [`Client::post`].
    pub fn get(&self, path: &str) -> Result<Answer, CliError> {
        self.with_retries(path, || self.agent.get(&self.url(path)).call())
    }

    /// POST `body` to `path`, retried on connect errors, timeouts and 503
    /// (honouring `Retry-After`), [`TRIES`] times with doubling backoff.
    pub fn post(&self, path: &str, ctype: &str, body: &[u8]) -> Result<Answer, CliError> {
        self.with_retries(path, || self.agent.post(&self.url(path)).header("Content-Type", ctype).send(body))
    }

    fn with_retries(
        &self,
        path: &str,
        mut call: impl FnMut() -> Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<Answer, CliError> {
        let url = self.url(path);
        let mut wait = FIRST_BACKOFF;
        let mut last = String::new();
        for attempt in 1..=TRIES {
            if attempt > 1 {
                std::thread::sleep(wait);
                wait *= 2;
            }
            match call() {
                Ok(mut r) => {
                    let status = r.status().as_u16();
                    if status == 503 && attempt < TRIES {
                        let after = r
                            .headers()
                            .get("retry-after")
                            .and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok())
                            .map(Duration::from_secs);
                        if let Some(a) = after {
                            wait = wait.max(a.min(MAX_RETRY_AFTER));
                        }
                        last = format!("{} (HTTP 503)", error_of(&read_body(&mut r, &url)?));
                        continue;
                    }
                    let body = read_body(&mut r, &url)?;
                    return Ok(Answer { status, body });
                }
                Err(e) if retryable(&e) && attempt < TRIES => last = e.to_string(),
                Err(e) => return Err(net_error(&url, &e.to_string(), attempt)),
            }
        }
        Err(net_error(&url, &last, TRIES))
    }
}

fn read_body(r: &mut ureq::http::Response<ureq::Body>, url: &str) -> Result<Vec<u8>, CliError> {
    r.body_mut()
        .with_config()
        .limit(MAX_RESPONSE)
        .read_to_vec()
        .map_err(|e| CliError::usage(format!("{url}: reading the response failed: {e}")))
}

fn retryable(e: &ureq::Error) -> bool {
    matches!(e, ureq::Error::Timeout(_) | ureq::Error::Io(_) | ureq::Error::ConnectionFailed)
}

fn net_error(url: &str, what: &str, tries: u32) -> CliError {
    let tries = if tries > 1 { format!(" (after {tries} tries)") } else { String::new() };
    CliError::usage(format!("{url}: {}{tries}", what.lines().next().unwrap_or("request failed")))
}

/// The `error` of a JSON error body, or the body's first line.
fn error_of(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_string))
        .unwrap_or_else(|| text.lines().next().unwrap_or("").to_string())
}

/// What the server said about each event, in order (its JSON objects).
pub fn post_events(c: &Client, evs: &[SignedEvent]) -> Result<Vec<Value>, CliError> {
    let mut results = Vec::with_capacity(evs.len());
    for chunk in evs.chunks(EVENTS_PER_POST) {
        let mut body = String::with_capacity(chunk.len() * 900);
        for e in chunk {
            let line = serde_json::to_string(&SignedFile::from_signed(e))
                .map_err(|e| CliError::usage(format!("cannot encode: {e}")))?;
            body.push_str(&line);
            body.push('\n');
        }
        let a = c.post("submit", "application/x-ndjson", body.as_bytes())?;
        let url = c.url("submit");
        if a.status != 200 && a.status != 422 {
            let msg = format!("{url}: HTTP {}: {}", a.status, error_of(&a.body));
            return Err(if a.status == 400 { CliError::refused(msg) } else { CliError::usage(msg) });
        }
        let text = String::from_utf8_lossy(&a.body);
        let got: Vec<Value> = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(serde_json::from_str)
            .collect::<Result<_, _>>()
            .map_err(|e| CliError::usage(format!("{url}: the response is not JSON Lines: {e}")))?;
        if got.len() != chunk.len() {
            return Err(CliError::usage(format!(
                "{url}: the server answered {} results for {} events",
                got.len(),
                chunk.len()
            )));
        }
        results.extend(got);
    }
    Ok(results)
}

/// Print the server's results as `submit` prints receipts; `--json`: the
/// results themselves. Refused events make the command fail (exit 1) after
/// every result was printed.
pub fn report(cli: &Cli, evs: &[SignedEvent], results: &[Value]) -> Result<(), CliError> {
    let refused: Vec<(usize, String)> = results
        .iter()
        .enumerate()
        .filter(|(_, r)| r["status"] == "refused")
        .map(|(i, r)| (i, r["error"].as_str().unwrap_or("refused").to_string()))
        .collect();
    if cli.json {
        let items: Vec<Value> = results
            .iter()
            .zip(evs)
            .map(|(r, e)| {
                let mut v = r.clone();
                v["kind"] = json!(e.event().body.kind());
                v["signer"] = json!(e.event().signer);
                v
            })
            .collect();
        emit_json(&json!({ "results": items }));
    } else {
        for (r, e) in results.iter().zip(evs) {
            let kind = e.event().body.kind();
            match r["status"].as_str() {
                Some("appended") => {
                    crate::output::done(&format!(
                        "recorded seq {:<5} {kind:<15} {}",
                        r["seq"],
                        r["entry_hash"].as_str().unwrap_or("")
                    ));
                    for f in r["flags"].as_array().into_iter().flatten() {
                        emit(&format!(
                            "  {} {}",
                            crate::output::paint(crate::output::Paint::Warn, "flag:"),
                            f.as_str().unwrap_or("")
                        ));
                    }
                }
                Some("duplicate") => crate::output::done(&format!(
                    "already  seq {:<5} {kind:<15} {} (identical event already in the log)",
                    r["seq"],
                    r["entry_hash"].as_str().unwrap_or("")
                )),
                _ => {}
            }
        }
    }
    match refused.as_slice() {
        [] => Ok(()),
        [(_, msg)] if evs.len() == 1 => Err(CliError::refused(msg.clone())),
        [(i, msg), rest @ ..] => Err(CliError::refused(format!(
            "item {}: {msg}{}",
            i + 1,
            if rest.is_empty() { String::new() } else { format!(" (and {} more refused)", rest.len()) }
        ))
        .hint("the other events were appended; see the results above")),
    }
}

/// `submit FILE… --server URL`.
pub fn submit(cli: &Cli, files: &[PathBuf], url: &str) -> Result<(), CliError> {
    let c = Client::new(url)?;
    let evs = crate::commands::read_signed_files(files)?;
    let results = post_events(&c, &evs)?;
    report(cli, &evs, &results)
}

/// The ledger id a server's log is for, from its checkpoint's origin line
/// (`tinledger/<hex>`, docs/formats.md §5.2).
pub fn ledger_id(c: &Client) -> Result<LedgerId, CliError> {
    let a = c.get("checkpoint")?;
    let url = c.url("checkpoint");
    if a.status != 200 {
        return Err(CliError::usage(format!("{url}: HTTP {}: {}", a.status, error_of(&a.body))));
    }
    let text = String::from_utf8_lossy(&a.body);
    let origin = text.lines().next().unwrap_or("");
    origin
        .strip_prefix("tinledger/")
        .and_then(|h| h.parse::<LedgerId>().ok())
        .ok_or_else(|| CliError::usage(format!("{url}: the checkpoint's origin {origin:?} names no tinledger ledger")))
}

/// `record KIND … --server URL`: sign here (the key never leaves this
/// machine), submit there.
pub fn record(cli: &Cli, kind: &Kind, url: &str) -> Result<(), CliError> {
    if matches!(kind, Kind::Correct(_)) {
        return Err(CliError::usage("`record correct` needs the ledger to look the entry up")
            .hint("sign it with `tinledger sign correct … --out FILE` and `tinledger submit FILE --server URL`"));
    }
    let c = Client::new(url)?;
    let (signing, body) = crate::build::kind_body(kind)?;
    if signing.out.is_some() || signing.ledger_id.is_some() {
        return Err(CliError::usage(
            "--out and --ledger-id belong to `tinledger sign`; `record --server` reads the ledger id from the server",
        ));
    }
    if signing.signer.is_none() {
        return Err(CliError::usage(
            "--as ACTOR is required with --server (the key's actor is not looked up remotely)",
        ));
    }
    let id = ledger_id(&c)?;
    let (signed, _) = crate::commands::sign_body(signing, body, id, None)?;
    let evs = [signed];
    let results = post_events(&c, &evs)?;
    report(cli, &evs, &results)
}
