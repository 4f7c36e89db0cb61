//! Counting work in flight, so that a shutdown can wait for it. A [`Ticket`] is held by whatever
//! does the work (a request handler, a streaming task, a clean-up task) and gives its place back
//! when dropped, however the work ends: finished, failed, or cancelled by a client hang-up.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Debug, Clone, Default)]
pub struct InFlight(Arc<AtomicUsize>);

/// One piece of work in flight.
#[derive(Debug)]
pub struct Ticket(Arc<AtomicUsize>);

impl InFlight {
    pub fn ticket(&self) -> Ticket {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ticket(self.0.clone())
    }

    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tickets_are_given_back_however_work_ends() {
        let n = InFlight::default();
        let a = n.ticket();
        let b = n.ticket();
        assert_eq!(n.count(), 2);
        drop(a);
        // A cancelled future drops what it holds.
        let fut = async move {
            let _b = b;
            std::future::pending::<()>().await;
        };
        drop(fut);
        assert_eq!(n.count(), 0);
    }
}
