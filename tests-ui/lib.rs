//! Nothing here: this package only holds the UI tests (see its `Cargo.toml`).
