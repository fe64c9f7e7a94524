//! The decision at once: a request the isolate can decide from what it holds is decided in the
//! one synchronous call the runtime makes into the worker.
//!
//! Every `await` of the gate that the isolate's caches answer (a verified token, a fresh "not
//! revoked", a live assertion) completes without waiting, and so does everything decided without
//! credentials (a public path, no session, a refusal by the policy). So the decision needs no
//! second, synchronous set of rules: the one decision procedure is polled once, and it has
//! either finished (the answer) or is waiting on I/O (a miss, a refresh in place, a signature),
//! in which case the same future goes on, driven by the runtime's promises. `at_once_tests.rs`
//! holds both ways of running it to the same answers, case by case.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};

/// Polls `work` once, with a waker that does nothing: what a future does before it first waits.
/// A future left pending here must be polled again by an executor (its I/O registers the
/// executor's waker then), never dropped while edgegate still owes an answer.
pub fn poll_once<F: Future + ?Sized>(work: Pin<&mut F>) -> Poll<F::Output> {
    work.poll(&mut Context::from_waker(Waker::noop()))
}
