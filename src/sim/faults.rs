//! The pending injected faults and how they are matched to requests: by the user (and client)
//! named in the request path, with `times` counting down per matching request. Which fault
//! does what to a response is the server's business, not this module's.

use std::sync::Mutex;

use super::types::{Fault, FaultKind, RouteKind};

/// Faults waiting to fire.
#[derive(Debug, Default)]
pub(crate) struct Faults(Mutex<Vec<Fault>>);

impl Faults {
    pub(crate) fn inject(&self, fault: Fault) {
        self.lock().push(fault);
    }

    pub(crate) fn clear(&self) {
        self.lock().clear();
    }

    /// Every fault matching a request of `route` on `user`/`client`, in injection order, each
    /// charged one of its `times`; exhausted faults are removed.
    pub(crate) fn take(
        &self,
        user: Option<&str>,
        client: Option<&str>,
        route: RouteKind,
    ) -> Vec<FaultKind> {
        let mut faults = self.lock();
        let mut fired = Vec::new();
        faults.retain_mut(|f| {
            if f.times == Some(0) {
                return false;
            }
            let user_ok = f.user.as_deref().is_none_or(|u| Some(u) == user);
            let client_ok = f.client.as_deref().is_none_or(|c| Some(c) == client);
            if !(user_ok && client_ok && f.kind.applies_to(route)) {
                return true;
            }
            match &mut f.kind {
                FaultKind::HangBeforeNth { after, .. } | FaultKind::OmitToken { after, .. }
                    if *after > 0 =>
                {
                    *after -= 1;
                    return true;
                }
                FaultKind::HangBeforeNth { route, .. } => fired.push(FaultKind::HangBefore(*route)),
                kind => fired.push(kind.clone()),
            }
            match &mut f.times {
                None => true,
                Some(n) => {
                    *n = n.saturating_sub(1);
                    *n > 0
                }
            }
        });
        fired
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Fault>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
