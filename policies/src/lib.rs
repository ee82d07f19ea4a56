//! Scheduling policies.
