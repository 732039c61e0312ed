//! Locking shared state when a thread that held the lock may have panicked.
//!
//! A thread that panics while holding a `Mutex` poisons it. Where the state
//! behind the lock stays usable whatever a panicking holder did (a TLS
//! session, a queue, a map of keys, text collected from a child), the other
//! threads should carry on with it rather than panic in turn: `lock` is that,
//! written once for every crate. Where a half-made change would matter, call
//! `Mutex::lock` and decide.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// Locks `mutex`, recovering it if a panicking thread poisoned it.
pub fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Waits on `condvar` for at most `timeout` while `condition` holds, as
/// `Condvar::wait_timeout_while` does, recovering a poisoned lock the same way.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_poisoned_lock_is_recovered_with_its_state() {
        let shared = std::sync::Arc::new(Mutex::new(1));
        let holder = shared.clone();
        let panicked = std::thread::spawn(move || {
            let mut value = lock(&holder);
            *value = 2;
            panic!("a thread dies holding the lock");
        })
        .join();
        assert!(panicked.is_err());
        assert!(shared.is_poisoned());
        assert_eq!(*lock(&shared), 2);
    }
}
