//! One local AWS per test binary, shared by its tests: started on first use, on a runtime
//! that outlives every test, and handed out with a guard that keeps tests from interleaving
//! their calls (the call log, faults and latency are global). Each test starts with no
//! faults, no latency and an empty call log.

use std::future::Future;
use std::sync::{LazyLock, Mutex, MutexGuard, OnceLock};

use aws_config::SdkConfig;

use crate::LocalAws;

/// The runtime the shared local AWS lives on; tests `block_on` it.
pub static RT: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("test runtime")
});

/// A test binary's environment `T`, made once around its local AWS.
pub struct PerBinary<T: 'static> {
    value: OnceLock<T>,
    serial: Mutex<()>,
}

impl<T: AsRef<LocalAws> + Send + Sync> PerBinary<T> {
    pub const fn new() -> Self {
        Self {
            value: OnceLock::new(),
            serial: Mutex::new(()),
        }
    }

    /// The environment (made by `make` from a fresh local AWS and its SDK configuration on
    /// first use), reset for a new test, and the guard that serialises the tests.
    pub fn get<F, Fut>(&'static self, make: F) -> (&'static T, MutexGuard<'static, ()>)
    where
        F: FnOnce(LocalAws, SdkConfig) -> Fut,
        Fut: Future<Output = T>,
    {
        let guard = self.serial.lock().unwrap_or_else(|e| e.into_inner());
        let value = self.value.get_or_init(|| {
            RT.block_on(async {
                let aws = LocalAws::start().await;
                let sdk = aws.sdk_config().await;
                make(aws, sdk).await
            })
        });
        RT.block_on(async {
            let aws = value.as_ref();
            aws.clear_faults().await;
            aws.latency(0).await;
            aws.reset_calls().await;
        });
        (value, guard)
    }
}

impl<T: AsRef<LocalAws> + Send + Sync> Default for PerBinary<T> {
    fn default() -> Self {
        Self::new()
    }
}
