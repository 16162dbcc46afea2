//! Cross-crate integration and end-to-end tests for edgeseal (see `tests/tests/`).
