//! The org's users as `GET /api/v1/users/{id}` (getUser) shows them, for the fields revokd
//! reads: `status` and `transitioningToStatus`. A user holding tokens is `ACTIVE` until an event says otherwise; the
//! lifecycle events [`SimOrg::emit_event`] appends move the status as Okta's own actions do
//! (the event is the record of the change), and a test can set any status directly, e.g. to
//! play an event replayed after the user came back, or a change still under way
//! (`transitioningToStatus`: Okta may deactivate asynchronously, the status staying the old
//! one meanwhile). A user the org has never heard of is a 404.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::SimOrg;
use super::routes::{Outcome, not_found};
use super::store::Store;

/// The status a successful lifecycle event of `event_type` leaves its user in.
fn status_after(event_type: &str) -> Option<&'static str> {
    Some(match event_type {
        "user.lifecycle.deactivate" => "DEPROVISIONED",
        "user.lifecycle.suspend" => "SUSPENDED",
        "user.lifecycle.unsuspend" | "user.lifecycle.activate" => "ACTIVE",
        "user.lifecycle.reactivate" => "PROVISIONED",
        _ => return None,
    })
}

/// A user's status and when it last changed.
#[derive(Debug, Clone)]
pub(crate) struct UserState {
    status: String,
    changed: DateTime<Utc>,
    transitioning_to: Option<String>,
}

impl Store {
    fn set_status(&mut self, user: &str, status: &str, at: DateTime<Utc>) {
        self.user_status.insert(
            user.to_owned(),
            UserState {
                status: status.to_owned(),
                changed: at,
                transitioning_to: None,
            },
        );
    }

    fn status_of(&self, user: &str) -> Option<String> {
        match self.user_status.get(user) {
            Some(state) => Some(state.status.clone()),
            None => self.user(user).map(|_| "ACTIVE".to_owned()),
        }
    }
}

/// Applies a stored event's lifecycle change to its `User` target, unless it failed.
fn apply(store: &mut Store, event: &Value, at: DateTime<Utc>) {
    let failed = event["outcome"]["result"].as_str() == Some("FAILURE");
    let status = event["eventType"].as_str().and_then(status_after);
    let target = event["target"].as_array().and_then(|targets| {
        targets
            .iter()
            .find(|t| t["type"] == "User")
            .and_then(|t| t["id"].as_str())
    });
    if let (false, Some(status), Some(user)) = (failed, status, target) {
        store.set_status(user, status, at);
    }
}

/// Answers `GET /api/v1/users/{id}`.
pub(crate) fn get(store: &Store, user: &str, base: &str, error_id: &str) -> Outcome {
    let Some(status) = store.status_of(user) else {
        return not_found(user, "User", error_id);
    };
    let stamp = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Millis, true);
    let created = "2024-01-02T03:04:05.000Z";
    let state = store.user_status.get(user);
    let changed = state.map_or_else(|| created.to_owned(), |s| stamp(s.changed));
    let transitioning = state.and_then(|s| s.transitioning_to.clone());
    Outcome::json(
        200,
        &json!({
            "id": user,
            "status": status,
            "transitioningToStatus": transitioning,
            "created": created,
            "activated": created,
            "statusChanged": changed,
            "lastLogin": null,
            "lastUpdated": changed,
            "passwordChanged": null,
            "type": {"id": "otysimdefault0000000"},
            "profile": {
                "firstName": "Sim",
                "lastName": user,
                "login": format!("{user}@example.com"),
                "email": format!("{user}@example.com"),
            },
            "_links": {"self": {"href": format!("{base}/api/v1/users/{user}")}},
        }),
    )
}

impl SimOrg {
    /// Appends an event to the System Log (published now) whose `User` target is `user_id`,
    /// and returns it as a `LogEvent`. A lifecycle event (`user.lifecycle.deactivate`,
    /// `suspend`, `unsuspend`, `activate`, `reactivate`) moves the user's status as Okta's
    /// action does; nothing else happens: tokens stay as they are.
    pub fn emit_event(&self, event_type: &str, user_id: &str) -> Value {
        self.emit_event_with(event_type, user_id, |_| {})
    }

    /// Appends an event as [`SimOrg::emit_event`] does, after `edit` has changed it: the
    /// `LogEvent` schema requires no field, so a test can remove `uuid`, `eventType` or
    /// `target`, or set them to `null`. The status moves as the event, once edited, says.
    /// Returns the event as the log holds it.
    pub fn emit_event_with(
        &self,
        event_type: &str,
        user_id: &str,
        edit: impl FnOnce(&mut Value),
    ) -> Value {
        let mut store = self.handle.shared.store();
        let now = Utc::now();
        let event = store.syslog.emit(event_type, user_id, now, edit);
        apply(&mut store, &event, now);
        event
    }

    /// Sets a user's status without an event (a user reactivated since the event a test
    /// replays, say).
    pub fn set_user_status(&self, user_id: &str, status: &str) {
        self.handle
            .shared
            .store()
            .set_status(user_id, status, Utc::now());
    }

    /// Plays a change under way: getUser shows `transitioningToStatus` (none: settled) beside
    /// the status, which stays as it is until [`SimOrg::set_user_status`] or a lifecycle event
    /// settles it.
    pub fn set_user_transition(&self, user_id: &str, to: Option<&str>) {
        let mut store = self.handle.shared.store();
        if !store.user_status.contains_key(user_id) {
            let status = store
                .status_of(user_id)
                .unwrap_or_else(|| "ACTIVE".to_owned());
            store.set_status(user_id, &status, Utc::now());
        }
        if let Some(state) = store.user_status.get_mut(user_id) {
            state.transitioning_to = to.map(str::to_owned);
        }
    }

    /// The user's status as getUser answers it; `None` for a 404.
    pub fn user_status(&self, user_id: &str) -> Option<String> {
        self.handle.shared.store().status_of(user_id)
    }
}
