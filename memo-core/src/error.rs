//! The crate's one error type.

use std::fmt;

/// What went wrong talking to the shared tier, or encoding a value for it.
///
/// The decorated functions themselves never return this: when the shared tier
/// fails they compute their value and return it. Only the companions that
/// promise an effect on the shared tier (`clear`, `invalidate`,
/// `set_cached_value(..).to(..)`) report it, so a caller can tell that other
/// processes may still see the old value.
///
/// # Examples
///
/// ```
/// use memo_core::Error;
///
/// let err = Error::backend("redis", "connection refused");
/// assert!(err.to_string().contains("connection refused"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The shared tier could not carry out a command (unreachable, timed out,
    /// refused). Check that the server is up and reachable; the cache keeps
    /// working from the function's own results meanwhile.
    #[error("the {backend} backend failed: {message}")]
    Backend {
        /// Which backend failed (`"memory"`, `"redis"`, ...).
        backend: &'static str,
        /// What the backend reported.
        message: String,
        /// The underlying error, where there is one.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// A value or key could not be encoded with the codec. The type's
    /// `Serialize` implementation refused it; nothing was stored.
    #[error("could not encode a value for the cache: {0}")]
    Encode(String),
    /// The backend's circuit breaker is open after repeated failures: the
    /// command was not sent. It closes by itself once the server answers again.
    #[error("the {backend} backend is unavailable (circuit open after repeated failures)")]
    Unavailable {
        /// Which backend is unavailable.
        backend: &'static str,
    },
    /// A backend could not be configured (a bad URL, an unsupported option).
    #[error("invalid backend configuration: {0}")]
    Config(String),
}

impl Error {
    /// A backend error with a message and no underlying source.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = memo_core::Error::backend("memory", "full");
    /// assert!(matches!(err, memo_core::Error::Backend { .. }));
    /// ```
    pub fn backend(backend: &'static str, message: impl fmt::Display) -> Self {
        Error::Backend {
            backend,
            message: message.to_string(),
            source: None,
        }
    }

    /// A backend error wrapping the error that caused it.
    ///
    /// # Examples
    ///
    /// ```
    /// let io = std::io::Error::new(std::io::ErrorKind::TimedOut, "read timed out");
    /// let err = memo_core::Error::backend_source("redis", io);
    /// assert!(std::error::Error::source(&err).is_some());
    /// ```
    pub fn backend_source<E>(backend: &'static str, source: E) -> Self
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        Error::Backend {
            backend,
            message: source.to_string(),
            source: Some(Box::new(source)),
        }
    }
}
