//! Hand-off to the CloudStack management server through its API.
//!
//! - [`sign`]: request signing exactly as ApiServer.verifyRequest recomputes it.
//! - [`Client`]: signed calls or a login session, typed answers, async jobs polled with backoff, safe retries,
//!   a timeout per call (minutes for addHost, addImageStore, createStoragePool), POST for state changes, and
//!   signatures for the server's clock (its `Date` header).
//! - [`handoff`]: after the management role: wait for the API, set the admin password, create and
//!   store API keys (also for CloudMonkey).
//! - [`zone`]: deploy the profile's zone, looking every object up before creating it (and, after an answer was
//!   lost, instead of sending the call again); explain system VMs that do not start.
//! - [`agent`]: a KVM host registering itself with the management server.
//! - [`actions`]: the hand-off, zone deployment and agent registration as install actions.

pub mod actions;
pub mod agent;
pub mod client;
pub mod credentials;
pub mod error;
pub mod files;
pub mod handoff;
pub mod sign;
pub mod types;
pub mod zone;

pub use client::{is_idempotent, list_items, object_of, parse_body, span, Auth, Backoff, Client, LoginInfo, Notice, Options};
pub use credentials::Credentials;
pub use error::ApiError;
