//! Deadline-bounded parsing. PDF parsing can take long (or, on hostile
//! input, forever), so it runs on a dedicated thread that is abandoned when
//! the deadline passes; a bounded number of abandoned threads may still be
//! running, beyond which PDFs are refused with a retryable `busy` error.
//! Text, HTML, JSON and e-mail parsing is linear in the (bounded) input and
//! runs inline; its elapsed time is still checked against the deadline.

use crate::extract::corrections::LayoutHints;
use crate::{format_of, parse_document_learned, Format, ParseError, ParseLimits, ParseOutput};
use docflow_schemas::RawDocument;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// Abandoned PDF threads still running, process-wide.
static ABANDONED: AtomicUsize = AtomicUsize::new(0);

/// How many timed-out PDF parses are still running.
pub fn abandoned_threads() -> usize {
    ABANDONED.load(Ordering::Relaxed)
}

/// Parses with [`ParseLimits::deadline_ms`] enforced; safe to call from
/// async code via `spawn_blocking` (it blocks for at most the deadline).
pub fn parse_document_with_deadline(raw: &RawDocument, limits: &ParseLimits) -> Result<ParseOutput, ParseError> {
    static NOTHING_LEARNED: std::sync::LazyLock<Arc<LayoutHints>> = std::sync::LazyLock::new(Default::default);
    parse_learned_with_deadline(raw, limits, NOTHING_LEARNED.clone())
}

/// [`parse_document_with_deadline`] with the layouts learned from corrections.
pub fn parse_learned_with_deadline(raw: &RawDocument, limits: &ParseLimits, learned: Arc<LayoutHints>) -> Result<ParseOutput, ParseError> {
    let deadline = Duration::from_millis(limits.deadline_ms);
    if raw.body.len() > limits.max_document_bytes {
        return Err(ParseError::TooLarge { size: raw.body.len(), limit: limits.max_document_bytes });
    }
    // PDFs, and e-mails that attach one, run on a thread of their own.
    let format = format_of(raw)?;
    let pdf_inside = format == Format::Email && raw.body.windows(15).any(|w| w.eq_ignore_ascii_case(b"application/pdf"));
    if format != Format::Pdf && !pdf_inside {
        let start = Instant::now();
        let out = parse_document_learned(raw, limits, &learned)?;
        if start.elapsed() > deadline {
            return Err(ParseError::Deadline { ms: limits.deadline_ms });
        }
        return Ok(out);
    }
    let running = ABANDONED.load(Ordering::Relaxed);
    if running >= limits.max_abandoned_pdf_threads {
        return Err(ParseError::Busy(running));
    }
    let (tx, rx) = mpsc::sync_channel(1);
    let abandoned = Arc::new(AtomicBool::new(false));
    let flag = abandoned.clone();
    let raw = raw.clone();
    let limits_owned = limits.clone();
    let spawned = std::thread::Builder::new().name("docflow-pdf".into()).spawn(move || {
        let r = parse_pdf_off_the_global_pool(&raw, &limits_owned, &learned);
        let _ = tx.send(r);
        // If the caller gave up on us, we were counted; uncount on exit.
        if flag.swap(true, Ordering::AcqRel) {
            ABANDONED.fetch_sub(1, Ordering::AcqRel);
        }
    });
    if let Err(e) = spawned {
        // The OS refused a thread: a capacity problem, worth a retry later.
        let _ = e;
        return Err(ParseError::Busy(running));
    }
    match rx.recv_timeout(deadline) {
        Ok(r) => r,
        Err(mpsc::RecvTimeoutError::Disconnected) => Err(ParseError::Pdf("parser thread died".to_string())),
        Err(mpsc::RecvTimeoutError::Timeout) => {
            // Count first, then mark: whichever side flips the flag second
            // knows the other has already acted, so the count never underflows.
            ABANDONED.fetch_add(1, Ordering::AcqRel);
            if abandoned.swap(true, Ordering::AcqRel) {
                // The worker finished between the timeout and now: use its result.
                ABANDONED.fetch_sub(1, Ordering::AcqRel);
                if let Ok(r) = rx.try_recv() {
                    return r;
                }
            }
            Err(ParseError::Deadline { ms: limits.deadline_ms })
        }
    }
}

/// Runs a PDF parse on the calling (dedicated) thread as a rayon pool of its
/// own. lopdf loads objects with rayon, by default on the global pool; our
/// caller may be a worker of that very pool, blocked waiting for us (the
/// parse stage parses a batch with `par_iter`), and with every global worker
/// so blocked the PDF would wait for a free worker that never comes. A
/// one-thread pool made of the current thread spawns nothing and runs the
/// parallel loops in place.
fn parse_pdf_off_the_global_pool(raw: &RawDocument, limits: &ParseLimits, learned: &LayoutHints) -> Result<ParseOutput, ParseError> {
    match rayon::ThreadPoolBuilder::new().num_threads(1).use_current_thread().build() {
        Ok(pool) => pool.install(|| parse_document_learned(raw, limits, learned)),
        // Only fails for lack of resources (a thread-local registry): retry later.
        Err(_) => Err(ParseError::Busy(abandoned_threads())),
    }
}
