//! The busy lane: a few threads of the lowest scheduling priority (nice
//! 19) that run the calls of saturated deployments, those whose callers
//! queue for an instance. Under contention for the cores their guests'
//! computation gives way to every other deployment and to the host's own
//! threads; on idle cores it runs as fast as any.

use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Mutex};

use crate::error::{HostError, Result};

type Job = Box<dyn FnOnce() + Send>;

/// The lane's threads and their queue.
pub(crate) struct Lane {
    jobs: Mutex<Sender<Job>>,
}

impl Lane {
    /// Starts `threads` threads (at least one).
    pub(crate) fn new(threads: usize) -> Result<Self> {
        let (tx, rx) = channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for n in 0..threads.max(1) {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("airssys-wasm-busy-{n}"))
                .spawn(move || {
                    // Raising a nice value needs no privilege; where it is
                    // refused, the lane runs at the host's priority.
                    let _ =
                        rustix::process::setpriority_process(Some(rustix::thread::gettid()), 19);
                    loop {
                        let job = rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                })
                .map_err(|e| HostError::Listen(format!("starting the busy lane: {e}")))?;
        }
        Ok(Self {
            jobs: Mutex::new(tx),
        })
    }

    /// Runs `f` on the lane; `None` when it panicked.
    pub(crate) async fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce() -> R + Send + 'static,
    ) -> Option<R> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            let _ = tx.send(out.ok());
        });
        self.jobs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(job)
            .ok()?;
        rx.await.ok().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_job_runs_at_the_lowest_priority_and_a_panic_costs_only_its_answer() {
        let lane = Lane::new(1).unwrap();
        let nice = lane
            .run(|| rustix::process::getpriority_process(None))
            .await
            .unwrap();
        // The thread's own priority: on Linux getpriority of no pid reads
        // the calling thread's.
        assert_eq!(nice.unwrap(), 19);
        assert_eq!(
            lane.run(|| -> u32 { panic!("a guest call went wrong") })
                .await,
            None
        );
        assert_eq!(lane.run(|| 2 + 2).await, Some(4));
    }
}
