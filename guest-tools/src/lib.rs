//! Programs the guest test cases in `tests/vm/` run as load (one binary
//! each in `src/bin/`), copied into the guest by `cargo xtask`. Nothing
//! here is part of scx_relay itself.
