//! Nothing here: this package only holds tests and examples (see its
//! `Cargo.toml`).
