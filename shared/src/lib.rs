//! Stopgate's shared crate.
//!
//! `phone`, `keywords`, `consent`, `providers` and `imports` are pure: no AWS SDK, no Lambda types,
//! no I/O (`imports` reads only the reader it is given).
//! `store` (DynamoDB, SQS, KMS) and `api` (HTTP edge) are the adapters around them.

pub mod api;
pub mod config;
pub mod consent;
pub mod flows;
pub mod ids;
pub mod imports;
pub mod keywords;
pub mod mask;
pub mod phone;
pub mod providers;
pub mod secrets;
pub mod store;
pub mod telemetry;

#[cfg(any(test, feature = "testing"))]
pub mod testing;

#[cfg(test)]
mod layering;
