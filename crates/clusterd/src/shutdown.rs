//! How the master's tasks learn that it stops: one phase, watched by every task the master
//! starts, moved forward only by the master (and by the command endpoint on `quit`).
//!
//! Two steps, because the tasks do not all stop at the same moment: during the grace period
//! ([`Phase::Stopping`]) requests in flight still run, so the tasks they rely on (the read-only
//! endpoint, persist, reap, discovery) keep running until [`Phase::Stopped`]; only the reload on
//! SIGHUP ends as soon as the stop begins.

use std::future::Future;

use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Where the master is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// Serving.
    Running,
    /// New requests are refused; those in flight get the grace period.
    Stopping,
    /// The command endpoint is closed: every task ends.
    Stopped,
}

/// The master's side: moves the phase forward. Dropping it counts as [`Phase::Stopped`].
#[derive(Debug)]
pub struct Shutdown(watch::Sender<Phase>);

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown(watch::channel(Phase::Running).0)
    }
}

impl Shutdown {
    /// Starts the graceful stop (a signal, or `quit`); later calls change nothing.
    pub fn begin(&self) {
        self.0.send_if_modified(|phase| {
            let begins = *phase == Phase::Running;
            if begins {
                *phase = Phase::Stopping;
            }
            begins
        });
    }

    /// Ends every task started with [`Shutdown::spawn_until`].
    pub fn finish(&self) {
        self.0.send_replace(Phase::Stopped);
    }

    /// A watch on the phase, for a task.
    pub fn watch(&self) -> ShutdownWatch {
        ShutdownWatch(self.0.subscribe())
    }

    /// Spawns `task`, which runs until it returns or the master reaches `phase`, whichever
    /// comes first (the task is dropped at an `.await`, so it must hold nothing half-written).
    pub fn spawn_until<F>(&self, phase: Phase, task: F) -> JoinHandle<()>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let mut watch = self.watch();
        tokio::spawn(async move {
            tokio::select! {
                () = task => {}
                () = watch.reached(phase) => {}
            }
        })
    }
}

/// A task's side: waits for a phase.
#[derive(Debug, Clone)]
pub struct ShutdownWatch(watch::Receiver<Phase>);

impl ShutdownWatch {
    /// Returns once the master is at `phase` or past it (or gone).
    pub async fn reached(&mut self, phase: Phase) {
        let _ = self.0.wait_for(|now| *now >= phase).await;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn tasks_end_at_their_phase_and_not_before() {
        let shutdown = Shutdown::default();
        let forever = || std::future::pending::<()>();
        let until_stopping = shutdown.spawn_until(Phase::Stopping, forever());
        let until_stopped = shutdown.spawn_until(Phase::Stopped, forever());
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!until_stopping.is_finished() && !until_stopped.is_finished());

        shutdown.begin();
        until_stopping.await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!until_stopped.is_finished(), "a Stopped task ran on through the grace period");

        shutdown.begin(); // a second signal changes nothing
        shutdown.finish();
        until_stopped.await.unwrap();
    }

    #[tokio::test]
    async fn a_dropped_shutdown_ends_every_task() {
        let shutdown = Shutdown::default();
        let task = shutdown.spawn_until(Phase::Stopped, std::future::pending());
        drop(shutdown);
        task.await.unwrap();
    }
}
