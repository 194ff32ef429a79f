//! Test helpers.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Serialises the tests that run a model. candle's CPU thread pool waits
/// for its workers by spinning, so two forward passes at once on a small
/// machine oversubscribe the cores and slow both down many times over.
pub(crate) fn model_lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(PoisonError::into_inner)
}
