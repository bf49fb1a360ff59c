//! The Redis tier of memo (in progress).
