//! A cloneable "please stop" signal shared by every task of a process.
//!
//! One [`ShutdownSignal`] is created per process (usually with
//! [`ShutdownSignal::on_os_signals`]) and cloned into every stage; triggering
//! any clone stops them all. A stage that fails fatally triggers it too, so
//! the stages embedded in one process stop together.

use tokio::sync::watch;

/// Cloneable stop flag; `wait()` resolves once any clone was triggered.
#[derive(Clone, Debug)]
pub struct ShutdownSignal {
    tx: std::sync::Arc<watch::Sender<bool>>,
    rx: watch::Receiver<bool>,
}

impl Default for ShutdownSignal {
    fn default() -> Self {
        Self::new()
    }
}

impl ShutdownSignal {
    /// A signal that only fires when [`trigger`](Self::trigger) is called.
    pub fn new() -> Self {
        let (tx, rx) = watch::channel(false);
        Self { tx: std::sync::Arc::new(tx), rx }
    }

    /// A signal that also fires on SIGINT or SIGTERM (must be called inside a
    /// tokio runtime). A second SIGINT/SIGTERM exits the process at once.
    pub fn on_os_signals() -> std::io::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        let signal_ = Self::new();
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let trigger = signal_.clone();
        tokio::spawn(async move {
            for round in 0..2 {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
                if round == 0 {
                    tracing::info!("stop signal received: draining in-flight work (send again to exit at once)");
                    trigger.trigger();
                } else {
                    tracing::warn!("second stop signal: exiting without draining");
                    std::process::exit(130);
                }
            }
        });
        Ok(signal_)
    }

    /// Ask every holder of a clone to stop. Idempotent.
    pub fn trigger(&self) {
        self.tx.send_replace(true);
    }

    /// Whether a stop was requested.
    pub fn is_triggered(&self) -> bool {
        *self.rx.borrow()
    }

    /// Resolves once a stop was requested (at once if it already was).
    pub async fn wait(&self) {
        let mut rx = self.rx.clone();
        // `wait_for` only errs when the sender is gone, and we hold it.
        let _ = rx.wait_for(|stopped| *stopped).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn trigger_reaches_every_clone() {
        let a = ShutdownSignal::new();
        let b = a.clone();
        assert!(!b.is_triggered());
        let waiter = tokio::spawn(async move { b.wait().await });
        a.trigger();
        tokio::time::timeout(std::time::Duration::from_secs(1), waiter).await.unwrap().unwrap();
        assert!(a.is_triggered());
        // Waiting after the fact returns at once.
        a.clone().wait().await;
    }
}
