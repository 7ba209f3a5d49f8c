//! `GET /api/v1/users/{id}` (getUser, scope `okta.users.read`), read for the user's lifecycle
//! `status` and, while Okta carries out a change asynchronously (a deactivation may be),
//! `transitioningToStatus`: the status the user is on the way to.

use reqwest::Method;
use serde::Deserialize;

use super::OktaClient;
use crate::ids::UserId;
use crate::okta::error::{Error, excerpt};
use crate::okta::model;

/// `UserStatus` of Okta's management spec. A value Okta adds later is kept as it was sent.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UserStatus {
    Active,
    Deprovisioned,
    LockedOut,
    PasswordExpired,
    Provisioned,
    Recovery,
    Staged,
    Suspended,
    #[serde(untagged)]
    Other(String),
}

impl UserStatus {
    /// The spelling Okta uses.
    pub fn as_str(&self) -> &str {
        match self {
            UserStatus::Active => "ACTIVE",
            UserStatus::Deprovisioned => "DEPROVISIONED",
            UserStatus::LockedOut => "LOCKED_OUT",
            UserStatus::PasswordExpired => "PASSWORD_EXPIRED",
            UserStatus::Provisioned => "PROVISIONED",
            UserStatus::Recovery => "RECOVERY",
            UserStatus::Staged => "STAGED",
            UserStatus::Suspended => "SUSPENDED",
            UserStatus::Other(s) => s,
        }
    }
}

/// A user's lifecycle as getUser shows it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserLifecycle {
    pub status: UserStatus,
    /// Set while a change is under way: `status` is still the old one.
    #[serde(default)]
    pub transitioning_to_status: Option<UserStatus>,
}

impl UserLifecycle {
    /// Where the user is heading: the status being moved to, or the status.
    pub fn heading(&self) -> &UserStatus {
        self.transitioning_to_status
            .as_ref()
            .unwrap_or(&self.status)
    }

    /// As Okta shows it, e.g. `ACTIVE` or `ACTIVE, moving to DEPROVISIONED`.
    pub fn describe(&self) -> String {
        match &self.transitioning_to_status {
            Some(to) => format!("{}, moving to {}", self.status.as_str(), to.as_str()),
            None => self.status.as_str().to_owned(),
        }
    }
}

impl OktaClient {
    /// The user's lifecycle; `None` when Okta answers 404 (no such user: a deleted one).
    pub async fn user_status(&self, user: &UserId) -> Result<Option<UserLifecycle>, Error> {
        let url = self.url(&["api", "v1", "users", user.as_str()]);
        let reply = match self.execute(Method::GET, url).await {
            Err(e) if e.is_not_found() => return Ok(None),
            other => other?,
        };
        let item = model::decode(&reply.body).map_err(|source| Error::Decode {
            source,
            body: excerpt(&reply.body),
            request_id: reply.request_id.clone(),
        })?;
        Ok(Some(item))
    }
}

#[cfg(test)]
mod tests {
    use secrecy::SecretString;

    use super::*;
    use crate::okta::{Auth, ClientSettings};
    use crate::sim::{SimConfig, SimOrg};

    /// The sim's getUser, read by the client: a seeded user is `ACTIVE`, a lifecycle event
    /// moves the status, a change under way is read with where it is heading, one the org
    /// never heard of is a 404 (`None`), and a request for it is one GET of the user's path.
    #[tokio::test]
    async fn the_status_is_read_from_get_user_and_a_404_is_none() {
        let org = SimOrg::start(SimConfig::default())
            .await
            .expect("org starts");
        let auth = Auth::Ssws(SecretString::from("sim-api-token"));
        let client = OktaClient::new(org.base_url(), &auth, ClientSettings::default()).unwrap();
        let user = org.pairs()[0].0.clone();
        let id = |u: &str| UserId::new(u).expect("an id");
        let read = async |u: &str| client.user_status(&id(u)).await.unwrap();
        let settled = |status| UserLifecycle {
            status,
            transitioning_to_status: None,
        };
        assert_eq!(read(&user).await, Some(settled(UserStatus::Active)));
        org.emit_event("user.lifecycle.suspend", &user);
        assert_eq!(read(&user).await, Some(settled(UserStatus::Suspended)));
        org.emit_event("user.lifecycle.deactivate", &user);
        assert_eq!(read(&user).await, Some(settled(UserStatus::Deprovisioned)));
        org.set_user_status(&user, "ACTIVE");
        org.set_user_transition(&user, Some("DEPROVISIONED"));
        let under_way = read(&user).await.expect("a user");
        assert_eq!(under_way.heading(), &UserStatus::Deprovisioned);
        assert_eq!(under_way.describe(), "ACTIVE, moving to DEPROVISIONED");
        assert_eq!(read("00unobody").await, None);
        let paths: Vec<String> = org
            .requests()
            .into_iter()
            .map(|r| r.path_and_query)
            .collect();
        assert_eq!(
            paths.last().map(String::as_str),
            Some("/api/v1/users/00unobody")
        );
    }

    #[test]
    fn statuses_are_read_as_okta_spells_them_and_a_new_one_is_kept() {
        let read = |s: &str| model::decode::<UserLifecycle>(s);
        let user = read(r#"{"id":"00u1","status":"DEPROVISIONED","transitioningToStatus":null}"#);
        assert_eq!(user.unwrap().heading(), &UserStatus::Deprovisioned);
        let locked = read(r#"{"status":"LOCKED_OUT","profile":{}}"#).unwrap();
        assert_eq!(locked.status, UserStatus::LockedOut);
        let moving = read(r#"{"status":"ACTIVE","transitioningToStatus":"DEPROVISIONED"}"#);
        assert_eq!(moving.unwrap().heading(), &UserStatus::Deprovisioned);
        let other = read(r#"{"status":"ACTIVATING"}"#).unwrap().status;
        assert_eq!(other, UserStatus::Other("ACTIVATING".into()));
        assert_eq!(other.as_str(), "ACTIVATING");
        assert!(
            read(r#"{"id":"00u1"}"#).is_err(),
            "a user without a status is not read as one"
        );
    }
}
