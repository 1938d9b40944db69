//! What a request, a job or a command does, across the domain (`consent`, `keywords`,
//! `imports`) and the store, with no HTTP in sight. The HTTP edge (`api`), the CLI and the
//! workers call these; the domain builds every event; the store only persists.

pub mod exports;
pub mod history;
pub mod imports;
pub mod notifications;
pub mod pages;
pub mod provider_secrets;
pub mod reclassify;
pub mod reconcile;
pub mod retention;
pub mod reviews;
