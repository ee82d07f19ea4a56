//! The deterministic discrete-event simulator (being written).
