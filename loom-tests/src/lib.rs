//! loom models of wchan live in `tests/`; build with `RUSTFLAGS="--cfg loom"`.
