//! Notifications that reach people: `[[notify]]` webhooks told of a tripped guard, an
//! irrevocable revocation, a failed or held offboarding, a failed sweep or a broken audit
//! chain. Durable: each event is written to the outbox (`store::outbox`) in the transaction of
//! what caused it, and the daemon delivers it to each receiver once, with retries and backoff,
//! off the sweep's path. The events' names are configuration vocabulary
//! (`config::EventKind`, re-exported here); this module renders the bodies (`payload`), makes one HTTP attempt (`deliver`) and says
//! whether and when a failed one is tried again (`retry`); the loop lives in the daemon.

mod deliver;
pub mod payload;
mod retry;

pub use crate::config::{EventKind, Format};
pub use deliver::{
    ERROR_BODY_LIMIT, EVENT_ID_HEADER, EVENT_KIND_HEADER, Outcome, Receiver, client, send,
};
pub use retry::{Retry, retry_delay};
