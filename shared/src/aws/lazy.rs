//! An SDK client built on first use. Building a client parses its service's endpoint rules
//! (a partition table in JSON and the regions' patterns); built at start, every client a
//! function holds would cost its cold start, though an invocation calls one or two services.

use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

use aws_config::SdkConfig;

/// A client of type `C`, made by `make` the first time it is used (through `Deref`).
pub struct Lazy<C> {
    make: Arc<dyn Fn() -> C + Send + Sync>,
    client: OnceLock<C>,
}

impl<C: 'static> Lazy<C> {
    /// A client that `make` builds from `sdk` on first use (`shared::aws::ecs`, ...).
    pub fn new(sdk: &SdkConfig, make: fn(&SdkConfig) -> C) -> Self {
        let sdk = sdk.clone();
        Self::with(move || make(&sdk))
    }

    /// A client that `make` builds on first use.
    pub fn with(make: impl Fn() -> C + Send + Sync + 'static) -> Self {
        Self {
            make: Arc::new(make),
            client: OnceLock::new(),
        }
    }
}

impl<C> Deref for Lazy<C> {
    type Target = C;

    fn deref(&self) -> &C {
        self.client.get_or_init(|| (self.make)())
    }
}

impl<C: Clone> Clone for Lazy<C> {
    fn clone(&self) -> Self {
        Self {
            make: Arc::clone(&self.make),
            client: self.client.clone(),
        }
    }
}

impl<C> fmt::Debug for Lazy<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = if self.client.get().is_some() {
            "built"
        } else {
            "not built yet"
        };
        write!(f, "Lazy<{}> ({state})", std::any::type_name::<C>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn built_once_on_first_use_and_shared_by_clones_made_after() {
        static MADE: AtomicUsize = AtomicUsize::new(0);
        let lazy = Lazy::with(|| {
            MADE.fetch_add(1, Ordering::SeqCst);
            String::from("client")
        });
        assert_eq!(MADE.load(Ordering::SeqCst), 0, "nothing built before use");
        assert_eq!(lazy.len(), 6);
        assert_eq!(&*lazy.clone(), "client");
        assert_eq!(MADE.load(Ordering::SeqCst), 1);
    }
}
