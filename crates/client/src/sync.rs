//! The client's one way to take a lock. Everything the client keeps behind
//! a mutex is plain data (counters, meters, queued frames, a socket slot) that
//! stays usable after a panic elsewhere: a poisoned lock is taken as it is,
//! never a second panic. Lock scopes stay short and never span I/O.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// Locks `mutex`, also when a thread panicked while holding it.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Waits on `condvar` for at most `timeout` while `condition` holds, as
/// `Condvar::wait_timeout_while` does, taking a poisoned lock as it is.
pub fn wait_timeout_while<'a, T>(
    condvar: &Condvar,
    guard: MutexGuard<'a, T>,
    timeout: Duration,
    condition: impl FnMut(&mut T) -> bool,
) -> MutexGuard<'a, T> {
    match condvar.wait_timeout_while(guard, timeout, condition) {
        Ok((guard, _)) => guard,
        Err(poisoned) => poisoned.into_inner().0,
    }
}
