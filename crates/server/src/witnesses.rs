//! The log's side of C2SP `tlog-witness` (docs/witness.md, "The log and
//! its witnesses"): every new checkpoint goes to every witness of the
//! `--witnesses` policy in parallel, with one overall timeout, as
//! `POST <url>/add-checkpoint` with body `old <N>\n`, the consistency
//! proof lines from N (base64), a blank line and the signed note. Each
//! witness's last cosigned size is remembered (0 at start); a `409` with
//! `Content-Type: text/x.tlog.size` names the witness's own size, and the
//! request is retried once with a proof from there. Only cosignature lines
//! that verify with the witness's policy key are kept; everything else is
//! logged and dropped.
//!
//! The client is hyper's own HTTP/1 connection (already in the server's
//! dependency tree, no new crate): one connection per call, a response body
//! limit of [`MAX_RESPONSE`] bytes, and every call inside the one deadline.
//! Witness URLs are `http://` only: TLS would need a TLS stack in the
//! server that nothing else here uses; a witness reached over the Internet
//! sits behind a local TLS-terminating proxy.

use axum::body::Bytes;
use axum::http::{header, Request};
use http_body_util::{BodyExt, Full, Limited};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tinledger_core::cosig::{add_signature_lines, CosignatureVerifier};
use tinledger_core::merkle::Hash;
use tinledger_core::note::Note;
use tinledger_core::policy::Policy;

/// Largest witness response body read (a few cosignature lines, or a size).
pub const MAX_RESPONSE: usize = 64 * 1024;

/// Where a log message about a witness goes (the CLI prints it on stderr).
pub type Log = Arc<dyn Fn(&str) + Send + Sync>;

/// The consistency proof from an old size to the checkpoint being
/// published, or `None` when the log will not prove from that size (it has
/// no checkpoint there, or storage failed).
pub type ProofSource = Arc<dyn Fn(u64) -> Option<Vec<Hash>> + Send + Sync>;

/// The witnesses a log server submits its checkpoints to.
pub struct WitnessSet {
    witnesses: Vec<Arc<Witness>>,
    timeout: Duration,
    log: Log,
}

impl std::fmt::Debug for WitnessSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.witnesses.iter().map(|w| w.name.as_str()).collect();
        f.debug_struct("WitnessSet").field("witnesses", &names).field("timeout", &self.timeout).finish()
    }
}

struct Witness {
    /// The policy's name, for messages.
    name: String,
    target: Target,
    verifier: CosignatureVerifier,
    /// The size this witness last cosigned (or said it holds).
    size: Mutex<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Target {
    host: String,
    port: u16,
    /// Host header value.
    authority: String,
    /// The request path: the prefix's path + `/add-checkpoint`.
    path: String,
}

/// Parse a submission prefix `http://host[:port][/path]`.
fn parse_url(url: &str) -> Result<Target, String> {
    if url.starts_with("https://") {
        return Err(format!("{url}: https witness URLs are not supported: use http:// (or a local TLS proxy)"));
    }
    let rest = url.strip_prefix("http://").ok_or_else(|| format!("{url}: not an http:// URL"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if authority.is_empty() || authority.contains('@') || path.contains(['?', '#']) {
        return Err(format!("{url}: not a witness submission prefix (http://host[:port][/path])"));
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6.split_once(']').ok_or_else(|| format!("{url}: unclosed [ in the host"))?;
        let port = match after.strip_prefix(':') {
            Some(p) => p,
            None if after.is_empty() => "80",
            None => return Err(format!("{url}: junk after the host")),
        };
        (h.to_string(), port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), p),
            None => (authority.to_string(), "80"),
        }
    };
    let port: u16 = port.parse().map_err(|_| format!("{url}: bad port {port:?}"))?;
    if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("{url}: bad host"));
    }
    let path = format!("{}/add-checkpoint", path.trim_end_matches('/'));
    Ok(Target { host, port, authority: authority.to_string(), path })
}

impl WitnessSet {
    /// The witnesses of `policy`, each of which must have a URL, with
    /// `timeout` for all of one checkpoint's submissions together.
    pub fn from_policy(policy: &Policy, timeout: Duration, log: Log) -> Result<WitnessSet, String> {
        if policy.witnesses.is_empty() {
            return Err("the policy names no witness".into());
        }
        let mut witnesses = Vec::new();
        for w in &policy.witnesses {
            let name = w.display_name();
            let url = w.url.as_deref().ok_or_else(|| {
                format!("witness {name} has no URL: give its submission prefix after its key on the witness line")
            })?;
            let target = parse_url(url).map_err(|e| format!("witness {name}: {e}"))?;
            witnesses.push(Arc::new(Witness { name, target, verifier: w.verifier.clone(), size: Mutex::new(0) }));
        }
        Ok(WitnessSet { witnesses, timeout, log })
    }

    /// Log `msg` where this set logs.
    pub fn log(&self, msg: &str) {
        (self.log)(msg)
    }

    /// The overall timeout of one checkpoint's submissions.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Submit the signed checkpoint `note` (tree size `size`) to every
    /// witness in parallel and return the verified cosignature lines that
    /// came back within the timeout (each ending in a newline).
    pub async fn cosign(&self, note: &str, size: u64, proofs: ProofSource) -> Vec<String> {
        let mut set = tokio::task::JoinSet::new();
        for w in &self.witnesses {
            let (w, note, proofs) = (w.clone(), note.to_string(), proofs.clone());
            set.spawn(async move {
                let r = submit(&w, &note, size, &proofs).await;
                (w.name.clone(), r)
            });
        }
        let deadline = tokio::time::Instant::now() + self.timeout;
        let mut lines = Vec::new();
        let mut answered = BTreeSet::new();
        loop {
            match tokio::time::timeout_at(deadline, set.join_next()).await {
                Ok(None) => break,
                Ok(Some(Ok((name, r)))) => {
                    match r {
                        Ok(mut got) => lines.append(&mut got),
                        Err(e) => (self.log)(&format!("witness {name}: checkpoint {size}: {e}")),
                    }
                    answered.insert(name);
                }
                Ok(Some(Err(_))) => (self.log)(&format!("checkpoint {size}: a witness submission failed")),
                Err(_) => {
                    set.abort_all();
                    for w in self.witnesses.iter().filter(|w| !answered.contains(&w.name)) {
                        (self.log)(&format!(
                            "witness {}: checkpoint {size}: no answer within {} s",
                            w.name,
                            self.timeout.as_secs_f64()
                        ));
                    }
                    break;
                }
            }
        }
        lines
    }
}

async fn proof_from(proofs: &ProofSource, old: u64) -> Option<Vec<Hash>> {
    let p = proofs.clone();
    tokio::task::spawn_blocking(move || p(old)).await.ok().flatten()
}

/// One witness: submit, retry once after a 409 naming its size.
async fn submit(w: &Witness, note: &str, size: u64, proofs: &ProofSource) -> Result<Vec<String>, String> {
    let mut old = w.size.lock().map(|g| *g).unwrap_or(0).min(size);
    for attempt in 0..2 {
        let proof =
            proof_from(proofs, old).await.ok_or_else(|| format!("the log cannot prove consistency from size {old}"))?;
        let (status, ctype, body) = post(&w.target, tinledger_core::witness::request_body(old, &proof, note)).await?;
        match status {
            200 => {
                let lines = cosignatures(&w.verifier, note, &body)?;
                if let Ok(mut g) = w.size.lock() {
                    *g = size;
                }
                return Ok(lines);
            }
            409 if ctype.starts_with("text/x.tlog.size") => {
                let theirs = parse_size(&body)?;
                if let Ok(mut g) = w.size.lock() {
                    *g = theirs;
                }
                if attempt > 0 || theirs == old {
                    return Err(format!("answered 409 with its size {theirs} again"));
                }
                if theirs > size {
                    return Err(format!("it holds size {theirs}, beyond this checkpoint's {size}"));
                }
                old = theirs;
            }
            _ => return Err(format!("answered {status}: {}", first_line(&body))),
        }
    }
    Err("no cosignature after the retry".into())
}

fn first_line(body: &[u8]) -> String {
    let s = String::from_utf8_lossy(body);
    let l = s.lines().next().unwrap_or("").trim();
    let mut out: String = l.chars().filter(|c| !c.is_control()).take(200).collect();
    if out.is_empty() {
        out = "(empty body)".into();
    }
    out
}

/// The body of a 409: a decimal size and a newline (read as the witness
/// parses it, `tinledger_core::witness`; a missing final newline is
/// forgiven).
fn parse_size(body: &[u8]) -> Result<u64, String> {
    let mut b = body.to_vec();
    if !b.ends_with(b"\n") {
        b.push(b'\n');
    }
    tinledger_core::witness::parse_size_response(&b)
        .ok_or_else(|| format!("answered 409 with a body that is not a size: {}", first_line(body)))
}

/// The lines of a 200 body that are cosignatures of `note` by `v`; an
/// error if there is none.
fn cosignatures(v: &CosignatureVerifier, note: &str, body: &[u8]) -> Result<Vec<String>, String> {
    let text = std::str::from_utf8(body).map_err(|_| "answered 200 with a body that is not UTF-8".to_string())?;
    let (note_text, _) = Note::parse_lines(note).map_err(|e| format!("the log's own note does not parse: {e}"))?;
    let mut good = Vec::new();
    let mut bad = 0;
    for line in text.lines().filter(|l| !l.is_empty()) {
        let ok = add_signature_lines(note, &[line.to_string()])
            .ok()
            .and_then(|n| Note::parse_lines(&n).ok())
            .and_then(|(_, sigs)| sigs.into_iter().find(|s| s.line == line))
            .is_some_and(|sig| v.verify_lines(&note_text, &[sig]).is_ok());
        if ok {
            good.push(format!("{line}\n"));
        } else {
            bad += 1;
        }
    }
    if good.is_empty() {
        return Err(format!(
            "answered 200 without a valid cosignature by its policy key ({bad} other line{})",
            if bad == 1 { "" } else { "s" }
        ));
    }
    Ok(good)
}

/// One `POST`, its status, content type and body (at most [`MAX_RESPONSE`]
/// bytes). The caller bounds the time.
async fn post(t: &Target, body: String) -> Result<(u16, String, Vec<u8>), String> {
    let stream = tokio::net::TcpStream::connect((t.host.as_str(), t.port))
        .await
        .map_err(|e| format!("cannot connect to {}: {e}", t.authority))?;
    let _ = stream.set_nodelay(true);
    let io = hyper_util::rt::TokioIo::new(stream);
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(io).await.map_err(|e| format!("HTTP handshake failed: {e}"))?;
    let driver = tokio::spawn(conn);
    let req = Request::post(t.path.as_str())
        .header(header::HOST, t.authority.as_str())
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| format!("cannot build the request: {e}"))?;
    let result = async {
        let resp = sender.send_request(req).await.map_err(|e| format!("request failed: {e}"))?;
        let status = resp.status().as_u16();
        let ctype = resp.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let body = Limited::new(resp.into_body(), MAX_RESPONSE)
            .collect()
            .await
            .map_err(|_| format!("answered {status} with a body over {MAX_RESPONSE} bytes or cut short"))?
            .to_bytes();
        Ok((status, ctype, body.to_vec()))
    }
    .await;
    driver.abort();
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    use base64::engine::general_purpose::STANDARD as B64;
    use base64::Engine;
    use ed25519_dalek::SigningKey;
    use tinledger_core::checkpoint::Checkpoint;
    use tinledger_core::cosig::CosignatureSigner;
    use tinledger_core::note::NoteSigner;

    /// What a fake witness answers to each request, in order (the last
    /// answer repeats), and every body it received.
    #[derive(Clone)]
    enum Answer {
        Cosign,
        CosignWith(Arc<CosignatureSigner>),
        Size(u64),
        Status(u16, &'static str),
        Sleep(Duration),
    }

    struct Fake {
        addr: std::net::SocketAddr,
        seen: Arc<Mutex<Vec<String>>>,
        stop: Option<tokio::sync::oneshot::Sender<()>>,
        signer: Arc<CosignatureSigner>,
    }

    impl Drop for Fake {
        fn drop(&mut self) {
            if let Some(s) = self.stop.take() {
                let _ = s.send(());
            }
        }
    }

    fn witness_signer(seed: u8, name: &str) -> CosignatureSigner {
        CosignatureSigner::new(name, SigningKey::from_bytes(&[seed; 32])).unwrap()
    }

    async fn fake(name: &str, seed: u8, answers: Vec<Answer>) -> Fake {
        let signer = Arc::new(witness_signer(seed, name));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (s2, seen2) = (signer.clone(), seen.clone());
        let answers = Arc::new(answers);
        let app = axum::Router::new().route(
            "/w/add-checkpoint",
            axum::routing::post(move |body: String| {
                let (signer, seen, answers) = (s2.clone(), seen2.clone(), answers.clone());
                async move {
                    let n = {
                        let mut g = seen.lock().unwrap();
                        g.push(body.clone());
                        g.len() - 1
                    };
                    let a = answers[n.min(answers.len() - 1)].clone();
                    let note = &body[body.find("\n\n").unwrap() + 2..];
                    let text = Note::parse_lines(note).unwrap().0;
                    match a {
                        Answer::Cosign => signer.cosign(&text, 1_700_000_000).unwrap().into_response(),
                        Answer::CosignWith(other) => other.cosign(&text, 1_700_000_000).unwrap().into_response(),
                        Answer::Size(s) => {
                            (StatusCode::CONFLICT, [(header::CONTENT_TYPE, "text/x.tlog.size")], format!("{s}\n"))
                                .into_response()
                        }
                        Answer::Status(c, b) => (StatusCode::from_u16(c).unwrap(), b).into_response(),
                        Answer::Sleep(d) => {
                            tokio::time::sleep(d).await;
                            signer.cosign(&text, 1_700_000_000).unwrap().into_response()
                        }
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Fake { addr, seen, stop: Some(tx), signer }
    }

    fn set(fakes: &[&Fake], timeout: Duration) -> (WitnessSet, Arc<Mutex<Vec<String>>>) {
        let mut policy = String::new();
        for f in fakes {
            policy.push_str(&format!(
                "witness {} {} http://{}/w/\n",
                f.signer.name,
                f.signer.verifier().to_key_string(),
                f.addr
            ));
        }
        policy.push_str("quorum none\n");
        let p = Policy::parse(policy.as_bytes()).unwrap();
        let logged = Arc::new(Mutex::new(Vec::new()));
        let l2 = logged.clone();
        let log: Log = Arc::new(move |m: &str| l2.lock().unwrap().push(m.to_string()));
        (WitnessSet::from_policy(&p, timeout, log).unwrap(), logged)
    }

    fn note(size: u64) -> String {
        let signer = NoteSigner::new("tinledger/test", SigningKey::from_bytes(&[9; 32])).unwrap();
        Checkpoint { origin: "tinledger/test".into(), size, root: [size as u8; 32], extensions: vec![] }
            .sign(&signer)
            .unwrap()
    }

    /// Proofs: one made-up hash from any size in `ok`, none otherwise.
    fn proofs(ok: &'static [u64]) -> ProofSource {
        Arc::new(move |old| if old == 0 || ok.contains(&old) { Some(vec![[old as u8; 32]]) } else { None })
    }

    fn verify_all(fakes: &[&Fake], note: &str, lines: &[String]) {
        let cosigned = add_signature_lines(note, lines).unwrap();
        for f in fakes {
            f.signer.verifier().verify(&cosigned).unwrap();
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn all_good_witnesses_cosign_and_are_remembered() {
        let (a, b) = (fake("A", 1, vec![Answer::Cosign]).await, fake("B", 2, vec![Answer::Cosign]).await);
        let (ws, logged) = set(&[&a, &b], Duration::from_secs(10));
        let n = note(7);
        let lines = ws.cosign(&n, 7, proofs(&[])).await;
        assert_eq!(lines.len(), 2, "{:?}", logged.lock().unwrap());
        verify_all(&[&a, &b], &n, &lines);
        let first = a.seen.lock().unwrap()[0].clone();
        assert_eq!(first, format!("old 0\n{}\n\n{n}", B64.encode([0u8; 32])));
        // The next checkpoint is proved from the size each one cosigned.
        let n2 = note(9);
        let lines = ws.cosign(&n2, 9, proofs(&[7])).await;
        assert_eq!(lines.len(), 2);
        assert!(b.seen.lock().unwrap()[1].starts_with(&format!("old 7\n{}\n\n", B64.encode([7u8; 32]))));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_409_with_the_witness_size_is_retried_once_from_there() {
        let a = fake("A", 1, vec![Answer::Size(5), Answer::Cosign]).await;
        let (ws, _) = set(&[&a], Duration::from_secs(10));
        let n = note(8);
        let lines = ws.cosign(&n, 8, proofs(&[5])).await;
        assert_eq!(lines.len(), 1);
        verify_all(&[&a], &n, &lines);
        let seen = a.seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 2);
        assert!(seen[1].starts_with(&format!("old 5\n{}\n\n", B64.encode([5u8; 32]))));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_409_the_log_cannot_prove_from_or_twice_gives_up() {
        // No checkpoint at 5: no retry.
        let a = fake("A", 1, vec![Answer::Size(5)]).await;
        // Beyond the new size: no retry.
        let b = fake("B", 2, vec![Answer::Size(50)]).await;
        // 409 again after the retry: given up.
        let c = fake("C", 3, vec![Answer::Size(3), Answer::Size(4)]).await;
        let (ws, logged) = set(&[&a, &b, &c], Duration::from_secs(10));
        let lines = ws.cosign(&note(8), 8, proofs(&[3, 4])).await;
        assert!(lines.is_empty());
        assert_eq!(a.seen.lock().unwrap().len(), 1);
        assert_eq!(b.seen.lock().unwrap().len(), 1);
        assert_eq!(c.seen.lock().unwrap().len(), 2);
        let log = logged.lock().unwrap().join("\n");
        assert!(log.contains("witness A: checkpoint 8: the log cannot prove consistency from size 5"), "{log}");
        assert!(log.contains("witness B: checkpoint 8: it holds size 50, beyond this checkpoint's 8"), "{log}");
        assert!(log.contains("witness C: checkpoint 8: answered 409 with its size 4 again"), "{log}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_slow_witness_costs_at_most_the_timeout_and_the_others_still_count() {
        let slow = fake("S", 1, vec![Answer::Sleep(Duration::from_secs(30))]).await;
        let good = fake("G", 2, vec![Answer::Cosign]).await;
        let (ws, logged) = set(&[&slow, &good], Duration::from_millis(500));
        let n = note(3);
        let t = std::time::Instant::now();
        let lines = ws.cosign(&n, 3, proofs(&[])).await;
        // The bound the issue demands, with generous slack.
        assert!(t.elapsed() < Duration::from_secs(5), "took {:?}", t.elapsed());
        assert_eq!(lines.len(), 1);
        verify_all(&[&good], &n, &lines);
        let log = logged.lock().unwrap().join("\n");
        assert!(log.contains("witness S: checkpoint 3: no answer within 0.5 s"), "{log}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn garbage_errors_and_wrong_keys_are_dropped_and_logged() {
        let garbage = fake("A", 1, vec![Answer::Status(200, "hello\n\u{2014} A AAAA\n")]).await;
        let wrong = Arc::new(witness_signer(7, "B"));
        let impostor = fake("B", 2, vec![Answer::CosignWith(wrong)]).await;
        let refusing = fake("C", 3, vec![Answer::Status(422, "bad proof\n")]).await;
        let dead = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let (mut ws, logged) = set(&[&garbage, &impostor, &refusing], Duration::from_secs(10));
        let dead_w = witness_signer(4, "D");
        ws.witnesses.push(Arc::new(Witness {
            name: "D".into(),
            target: parse_url(&format!("http://{dead}")).unwrap(),
            verifier: dead_w.verifier(),
            size: Mutex::new(0),
        }));
        let lines = ws.cosign(&note(4), 4, proofs(&[])).await;
        assert!(lines.is_empty(), "{lines:?}");
        let log = logged.lock().unwrap().join("\n");
        assert!(
            log.contains(
                "witness A: checkpoint 4: answered 200 without a valid cosignature by its policy key (2 other lines)"
            ),
            "{log}"
        );
        assert!(log.contains("witness B: checkpoint 4: answered 200 without a valid cosignature"), "{log}");
        assert!(log.contains("witness C: checkpoint 4: answered 422: bad proof"), "{log}");
        assert!(log.contains("witness D: checkpoint 4: cannot connect to"), "{log}");
        // Nothing was cosigned: the next checkpoint is still proved from 0.
        assert_eq!(*ws.witnesses[2].size.lock().unwrap(), 0);
    }

    #[test]
    fn urls_and_policies() {
        let t = parse_url("http://10.77.0.2:8443/w/").unwrap();
        assert_eq!((t.host.as_str(), t.port, t.path.as_str()), ("10.77.0.2", 8443, "/w/add-checkpoint"));
        let t = parse_url("http://[::1]:9/").unwrap();
        assert_eq!((t.host.as_str(), t.port, t.authority.as_str()), ("::1", 9, "[::1]:9"));
        let t = parse_url("http://witness.example").unwrap();
        assert_eq!((t.port, t.path.as_str()), (80, "/add-checkpoint"));
        for bad in ["https://w.example/", "ftp://w", "http://", "http://h:x/", "http://u@h/", "http://h/?q"] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
        let w = witness_signer(1, "A");
        let p = Policy::parse(format!("witness A {}\nquorum A\n", w.verifier().to_key_string()).as_bytes()).unwrap();
        let log: Log = Arc::new(|_| {});
        let e = WitnessSet::from_policy(&p, Duration::from_secs(1), log.clone()).unwrap_err();
        assert!(e.starts_with("witness A has no URL"), "{e}");
        let p = Policy::parse(b"quorum none\n").unwrap();
        assert_eq!(
            WitnessSet::from_policy(&p, Duration::from_secs(1), log).unwrap_err(),
            "the policy names no witness"
        );
    }
}
