//! The bounded submission queue between the HTTP handlers and the
//! sequencer: counted in events, refused (503) when full, closed at
//! shutdown. Each job carries its reply channel.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};
use tinledger_core::SignedEvent;
use tinledger_ledger::Receipt;

/// What became of one submitted event.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// Appended and durable.
    Appended(Receipt),
    /// Already in the log: its receipt (seq, entry hash).
    Duplicate(Receipt),
    /// Refused by the rules: the one-line message.
    Refused(String),
}

/// The sequencer's answer to one request: an outcome per event, or a
/// storage failure (the server then stops; nothing of the batch was
/// acknowledged).
pub type Reply = Result<Vec<Outcome>, String>;

/// One request's events and where its answer goes.
pub struct Job {
    /// The decoded events, in body order.
    pub events: Vec<SignedEvent>,
    /// Where the outcomes go.
    pub reply: tokio::sync::oneshot::Sender<Reply>,
}

/// Why a job was not queued.
#[derive(Debug, PartialEq, Eq)]
pub enum PushError {
    /// The queue holds too many events: try again later.
    Full,
    /// The server is shutting down.
    Closed,
}

struct State {
    jobs: VecDeque<Job>,
    events: usize,
    closed: bool,
    /// Set by [`Queue::wake`]: the next idle wait ends at once.
    kicked: bool,
}

/// The queue.
pub struct Queue {
    cap: usize,
    state: Mutex<State>,
    ready: Condvar,
}

/// What [`Queue::take`] found.
pub struct Taken {
    /// Jobs to sequence together (possibly none: the wait ran out).
    pub jobs: Vec<Job>,
    /// The queue is closed and now empty: the sequencer may stop.
    pub done: bool,
}

/// A batch closes when no job arrived for `batch wait / BATCH_GAP_DIVISOR`.
pub const BATCH_GAP_DIVISOR: u32 = 5;

impl Queue {
    /// A queue of at most `cap` events.
    pub fn new(cap: usize) -> Queue {
        Queue {
            cap,
            state: Mutex::new(State { jobs: VecDeque::new(), events: 0, closed: false, kicked: false }),
            ready: Condvar::new(),
        }
    }

    /// Queue a job, unless it would take the queue over its bound. A job
    /// larger than the whole bound is still taken into an empty queue.
    pub fn push(&self, job: Job) -> Result<(), (PushError, Job)> {
        let Ok(mut s) = self.state.lock() else { return Err((PushError::Closed, job)) };
        if s.closed {
            return Err((PushError::Closed, job));
        }
        let n = job.events.len();
        if s.events > 0 && s.events + n > self.cap {
            return Err((PushError::Full, job));
        }
        s.events += n;
        s.jobs.push_back(job);
        drop(s);
        self.ready.notify_one();
        Ok(())
    }

    /// End the sequencer's current (or next) idle wait: a checkpoint
    /// publication finished and the next one may be due.
    pub fn wake(&self) {
        if let Ok(mut s) = self.state.lock() {
            s.kicked = true;
        }
        self.ready.notify_all();
    }

    /// Stop taking jobs; those queued are still handed out.
    pub fn close(&self) {
        if let Ok(mut s) = self.state.lock() {
            s.closed = true;
        }
        self.ready.notify_all();
    }

    /// Close the queue and answer every queued job with `msg` (the
    /// sequencer stopped: nothing of them was appended).
    pub fn fail_all(&self, msg: &str) {
        let jobs: Vec<Job> = match self.state.lock() {
            Ok(mut s) => {
                s.closed = true;
                s.events = 0;
                s.jobs.drain(..).collect()
            }
            Err(_) => vec![],
        };
        self.ready.notify_all();
        for j in jobs {
            let _ = j.reply.send(Err(msg.to_string()));
        }
    }

    /// Wait until `idle` has passed or a job arrives; then, from the first
    /// job's arrival here, gather jobs until they hold `batch` events,
    /// `wait` has passed, or no job arrived for `wait / 5`, and hand them out (always whole jobs: a request
    /// is never split across appends).
    pub fn take(&self, batch: usize, wait: Duration, idle: Duration) -> Taken {
        let Ok(mut s) = self.state.lock() else { return Taken { jobs: vec![], done: true } };
        let idle_end = Instant::now() + idle;
        while s.jobs.is_empty() && !s.closed {
            let now = Instant::now();
            if now >= idle_end || s.kicked {
                s.kicked = false;
                return Taken { jobs: vec![], done: false };
            }
            s = match self.ready.wait_timeout(s, idle_end - now) {
                Ok((g, _)) => g,
                Err(_) => return Taken { jobs: vec![], done: true },
            };
        }
        // A batch also closes once no job arrived for a fifth of the wait:
        // clients that all wait for their receipts have sent what they will
        // send, and holding the batch open longer only delays them.
        let start = Instant::now();
        let end = start + wait;
        let gap = wait / BATCH_GAP_DIVISOR;
        let (mut last_len, mut last_at) = (s.jobs.len(), start);
        while s.events < batch && !s.closed {
            let now = Instant::now();
            if s.jobs.len() != last_len {
                (last_len, last_at) = (s.jobs.len(), now);
            }
            let deadline = end.min(last_at + gap);
            if now >= deadline {
                break;
            }
            s = match self.ready.wait_timeout(s, deadline - now) {
                Ok((g, _)) => g,
                Err(_) => return Taken { jobs: vec![], done: true },
            };
        }
        let mut jobs = Vec::new();
        let mut n = 0;
        while let Some(j) = s.jobs.front() {
            if n > 0 && n + j.events.len() > batch {
                break;
            }
            n += j.events.len();
            if let Some(j) = s.jobs.pop_front() {
                jobs.push(j);
            }
        }
        s.events -= n;
        let done = s.closed && s.jobs.is_empty();
        Taken { jobs, done }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn job() -> Job {
        Job { events: vec![], reply: tokio::sync::oneshot::channel().0 }
    }

    #[test]
    fn jobs_arriving_closer_than_the_gap_share_a_batch_and_a_quiet_queue_closes_it() {
        let q = Arc::new(Queue::new(100));
        assert!(q.push(job()).is_ok());
        let pusher = {
            let q = q.clone();
            std::thread::spawn(move || {
                for _ in 0..4 {
                    std::thread::sleep(Duration::from_millis(10));
                    assert!(q.push(job()).is_ok());
                }
            })
        };
        // wait 10 s, gap 2 s: every job, 10 ms apart, lands in the batch,
        // which then closes on the gap, about 2 s after the last one.
        let taken = q.take(1000, Duration::from_secs(10), Duration::ZERO);
        pusher.join().unwrap();
        assert_eq!(taken.jobs.len(), 5);
        assert!(!taken.done);
    }

    #[test]
    fn a_closed_queue_hands_out_what_it_holds_at_once() {
        let q = Queue::new(100);
        assert!(q.push(job()).is_ok());
        assert!(q.push(job()).is_ok());
        q.close();
        let taken = q.take(1000, Duration::from_secs(3600), Duration::ZERO);
        assert_eq!(taken.jobs.len(), 2);
        assert!(taken.done);
    }
}
