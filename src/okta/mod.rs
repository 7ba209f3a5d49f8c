//! The Okta edge: HTTP only. Operations on a user's OAuth refresh tokens
//! (`/api/v1/users/{userId}/clients…`), Okta's JSON models and error body, Link-header
//! pagination, the retry and backoff rules for 429, 5xx and transport faults, and
//! authentication (SSWS, or an OAuth 2.0 service app; see [`auth`]).

pub mod app_tokens;
pub mod auth;
pub mod client;
pub mod concurrency;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub use crate::ids;
pub mod logs;
pub mod model;
pub mod page;
pub mod ratelimit;
pub mod record;
pub mod retry;
pub mod revoke;
pub mod said;
pub mod stats;

pub use client::{
    Auth, ClientSettings, OktaClient, RawTokenPage, TokenLookup, TokenPage, TokenPages,
    UserLifecycle, UserStatus,
};
pub use error::{Error, NOT_OKTA_JSON};
pub use ids::{ClientId, TokenId, UserId};
pub use logs::{LogEvent, LogPage, LogTarget};
pub use model::{ObservedToken, RefreshToken, TokenStatus};
pub use revoke::{Cleared, Revoked, Unsent};
