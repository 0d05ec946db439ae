//! placeholder
pub mod log;
