//! The daemon's verification engine is now [`crate::gate`]; these names stay for callers.

pub use crate::gate::{Counters, Decision, Gate as Engine, GateOptions as EngineOptions, Snapshot};
