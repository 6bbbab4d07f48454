//! Governance: virtual keys, the customer → team → key hierarchy, budgets admitted by
//! reservation, rate limits.
//!
//! Why a crate of its own: it is a plugin on the engine's request path (`plugin`) over a
//! counter store that may be Redis (`ledger`); the engine knows nothing of either, and the
//! server only hands it the credential and serves its management API.

pub mod estimate;
pub mod ledger;
pub mod period;
pub mod plugin;
pub mod policy;
pub mod restore;
pub mod stats;
pub mod usage;

mod alerts;
mod token_cache;

pub use plugin::Governance;
