//! Ctrl-C and SIGTERM as one flag that every part of a run can look at or
//! wait on: the setup phases give up, the running step ends as
//! `interrupted`, the steps after it as `not run`.

use std::future::Future;

use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Listens for Ctrl-C and SIGTERM from creation until dropped.
pub struct Signals {
    listener: JoinHandle<()>,
    interrupt: Interrupt,
}

impl Signals {
    /// Register the handlers now, so a signal during setup is not lost.
    pub fn listen() -> std::io::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        let (set, flag) = watch::channel(false);
        let listener = tokio::spawn(async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
            let _ = set.send(true);
            // Keep the sender (and so the flag) alive for the run's rest.
            std::future::pending::<()>().await;
        });
        Ok(Signals {
            listener,
            interrupt: Interrupt(flag),
        })
    }

    /// The flag these signals set.
    pub fn interrupt(&self) -> Interrupt {
        self.interrupt.clone()
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

/// Whether the run was interrupted; cheap to clone.
#[derive(Debug, Clone)]
pub struct Interrupt(watch::Receiver<bool>);

impl Interrupt {
    /// A flag that is never set (tests).
    #[cfg(test)]
    pub fn never() -> Self {
        Interrupt(watch::channel(false).1)
    }

    /// A flag and the function that sets it (tests).
    #[cfg(test)]
    pub fn manual() -> (impl Fn(), Self) {
        let (set, flag) = watch::channel(false);
        (
            move || {
                let _ = set.send(true);
            },
            Interrupt(flag),
        )
    }

    /// Whether it is set.
    pub fn is_set(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once it is set; never, if it cannot be set any more.
    pub async fn wait(&self) {
        let mut flag = self.0.clone();
        if flag.wait_for(|set| *set).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// `work`, unless the flag is set first (then `None`, and `work` is
    /// dropped). Work that notices the flag itself (a step ending as
    /// `interrupted`) gets to say so first.
    pub async fn guard<T>(&self, work: impl Future<Output = T>) -> Option<T> {
        tokio::select! {
            biased;
            out = work => Some(out),
            _ = self.wait() => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn setting_the_flag_ends_a_guarded_wait() {
        let (set, flag) = Interrupt::manual();
        assert!(!flag.is_set());
        let waiter = tokio::spawn({
            let flag = flag.clone();
            async move { flag.guard(std::future::pending::<()>()).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        set();
        assert_eq!(waiter.await.unwrap(), None);
        assert!(flag.is_set());
        // Already set: work that is ready still wins, the rest is cut short.
        assert_eq!(flag.guard(async { 7 }).await, Some(7));
    }

    #[tokio::test]
    async fn a_flag_that_can_never_be_set_never_fires() {
        let flag = Interrupt::never();
        let waited = tokio::time::timeout(Duration::from_millis(50), flag.wait()).await;
        assert!(waited.is_err());
    }
}
