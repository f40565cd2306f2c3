//! Cross-crate tests live in `tests/`; this library holds shared helpers.
