//! Workloads shared by the benchmarks and the report writer.

pub mod report;
pub mod workloads;
