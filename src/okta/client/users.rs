//! `GET /api/v1/users/{id}` (getUser, scope `okta.users.read`), read for the one field revokd
//! needs: the user's lifecycle `status` now.

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

#[derive(Deserialize)]
struct UserItem {
    status: UserStatus,
}

impl OktaClient {
    /// The user's `status`; `None` when Okta answers 404 (no such user: a deleted one).
    pub async fn user_status(&self, user: &UserId) -> Result<Option<UserStatus>, Error> {
        let url = self.url(&["api", "v1", "users", user.as_str()]);
        let reply = match self.execute(Method::GET, url).await {
            Err(e) if e.is_not_found() => return Ok(None),
            other => other?,
        };
        let item: UserItem = model::decode(&reply.body).map_err(|source| Error::Decode {
            source,
            body: excerpt(&reply.body),
            request_id: reply.request_id.clone(),
        })?;
        Ok(Some(item.status))
    }
}

#[cfg(test)]
mod tests {
    use secrecy::SecretString;

    use super::*;
    use crate::okta::{Auth, ClientSettings};
    use crate::sim::{SimConfig, SimOrg};

    /// The sim's getUser, read by the client: a seeded user is `ACTIVE`, a lifecycle event
    /// moves the status, one the org never heard of is a 404 (`None`), and a request for it
    /// is one GET of the user's own path.
    #[tokio::test]
    async fn the_status_is_read_from_get_user_and_a_404_is_none() {
        let org = SimOrg::start(SimConfig::default())
            .await
            .expect("org starts");
        let auth = Auth::Ssws(SecretString::from("sim-api-token"));
        let client = OktaClient::new(org.base_url(), &auth, ClientSettings::default()).unwrap();
        let user = org.pairs()[0].0.clone();
        let id = |u: &str| UserId::new(u).expect("an id");
        assert_eq!(
            client.user_status(&id(&user)).await.unwrap(),
            Some(UserStatus::Active)
        );
        org.emit_event("user.lifecycle.suspend", &user);
        assert_eq!(
            client.user_status(&id(&user)).await.unwrap(),
            Some(UserStatus::Suspended)
        );
        org.emit_event("user.lifecycle.deactivate", &user);
        let status = client.user_status(&id(&user)).await.unwrap();
        assert_eq!(status, Some(UserStatus::Deprovisioned));
        assert_eq!(client.user_status(&id("00unobody")).await.unwrap(), None);
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
        let read = |s: &str| model::decode::<UserItem>(s).map(|u| u.status);
        assert_eq!(
            read(r#"{"id":"00u1","status":"DEPROVISIONED"}"#).unwrap(),
            UserStatus::Deprovisioned
        );
        assert_eq!(
            read(r#"{"status":"LOCKED_OUT","profile":{}}"#).unwrap(),
            UserStatus::LockedOut
        );
        let other = read(r#"{"status":"ACTIVATING"}"#).unwrap();
        assert_eq!(other, UserStatus::Other("ACTIVATING".into()));
        assert_eq!(other.as_str(), "ACTIVATING");
        assert!(
            read(r#"{"id":"00u1"}"#).is_err(),
            "a user without a status is not read as one"
        );
    }
}
