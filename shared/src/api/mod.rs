//! The HTTP edge: errors as JSON, API keys, caches, and the request flows the functions serve.
//! Handlers stay thin: they turn a Lambda request into these calls and the result into a response.

pub mod audit;
pub mod auth;
pub mod cache;
pub mod check;
pub mod consents;
pub mod cursor;
pub mod error;
pub mod exports;
pub mod hooks;
pub mod http;
pub mod imports;
pub mod links;
pub mod optout_lists;
pub mod pages;
pub mod reviews;
pub mod sns;
pub mod tenants;
pub mod webhook;

pub use error::ApiError;
