//! The write fence for tasks handed out early. An engine loop hands a batch's new tasks
//! to this process's parked pollers while the batch's write is still on its way to
//! Redis (an idle chain's next task then goes out one Redis round trip sooner). Until
//! that write lands, Redis knows nothing of those tasks, so any Redis call this process
//! makes about one of them (a heartbeat, a release, a callback, a result sent the Redis
//! way) first waits here for the write's reply; otherwise it could overtake the write and
//! find the task missing (a heartbeat would cancel it, a release would lose it).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

/// Tokens of tasks handed out before the write that records them has been answered.
#[derive(Debug, Default)]
pub struct HandoffFence {
    /// How many tokens are held (a quick "none" for the common case).
    held: AtomicUsize,
    tokens: Mutex<HashMap<String, watch::Receiver<()>>>,
}

/// Holds a batch's handed tokens until dropped (once its write has been answered, or
/// has failed).
#[derive(Debug)]
pub struct Raised {
    fence: Arc<HandoffFence>,
    tokens: Vec<String>,
    // Dropping the sender wakes every waiter.
    _done: watch::Sender<()>,
}

impl HandoffFence {
    /// Holds `tokens` until the returned guard is dropped.
    pub fn raise(self: &Arc<Self>, tokens: Vec<String>) -> Raised {
        let (done, rx) = watch::channel(());
        if !tokens.is_empty() {
            let mut held = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
            for t in &tokens {
                held.insert(t.clone(), rx.clone());
            }
            self.held.fetch_add(tokens.len(), Ordering::AcqRel);
        }
        Raised { fence: self.clone(), tokens, _done: done }
    }

    /// Waits until the write that records the task `token` has been answered, if it is
    /// held; at once otherwise.
    pub async fn wait(&self, token: &str) {
        if self.held.load(Ordering::Acquire) == 0 {
            return;
        }
        let rx = self.tokens.lock().unwrap_or_else(|e| e.into_inner()).get(token).cloned();
        if let Some(mut rx) = rx {
            // Err once the sender is gone: that is the signal.
            while rx.changed().await.is_ok() {}
        }
    }

    /// Whether any token is held (so a caller with many tokens can skip waiting).
    pub fn holds_any(&self) -> bool {
        self.held.load(Ordering::Acquire) > 0
    }
}

impl Drop for Raised {
    fn drop(&mut self) {
        if self.tokens.is_empty() {
            return;
        }
        let mut held = self.fence.tokens.lock().unwrap_or_else(|e| e.into_inner());
        for t in &self.tokens {
            held.remove(t);
        }
        self.fence.held.fetch_sub(self.tokens.len(), Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_held_token_waits_for_the_guard_and_others_pass() {
        let fence = Arc::new(HandoffFence::default());
        fence.wait("free").await;
        let raised = fence.raise(vec!["t1".into(), "t2".into()]);
        let waiting = tokio::spawn({
            let fence = fence.clone();
            async move {
                fence.wait("x").await;
                fence.wait("t2").await;
            }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished(), "held until the write is answered");
        fence.wait("other").await;
        drop(raised);
        tokio::time::timeout(Duration::from_secs(1), waiting).await.unwrap().unwrap();
        assert_eq!(fence.held.load(Ordering::Acquire), 0);
        fence.wait("t1").await;
    }
}
