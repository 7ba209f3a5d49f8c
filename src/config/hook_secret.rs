//! The event hook's secrets (`server.hook_secret`, and `server.hook_secret_previous` while
//! one is rotated): each one Okta's `Authorization` header can carry, not blank, and the
//! previous one only beside a current one.

use secrecy::{ExposeSecret, SecretString};

use super::{Error, ServerConfig};

impl ServerConfig {
    /// Whether the event hook has a secret: `server.hook_secret` or its `_file` is set.
    pub fn names_hook_secret(&self) -> bool {
        self.hook_secret.is_some() || self.hook_secret_file.is_some()
    }
}

/// Checks `server`'s hook secrets, naming the key of the first refused.
pub(super) fn validate(server: &ServerConfig) -> Result<(), Error> {
    check_hook_secret(
        "server.hook_secret",
        server.hook_secret.as_ref(),
        server.hook_secret_file.is_some(),
    )?;
    check_hook_secret(
        "server.hook_secret_previous",
        server.hook_secret_previous.as_ref(),
        server.hook_secret_previous_file.is_some(),
    )?;
    // Commands that read only the database read no `*_file`: a file names the secret too.
    if (server.hook_secret_previous.is_some() || server.hook_secret_previous_file.is_some())
        && !server.names_hook_secret()
    {
        return Err(Error::invalid(
            "server.hook_secret_previous",
            "is accepted beside server.hook_secret while a rotation is under way; set \
             server.hook_secret too",
        ));
    }
    Ok(())
}

/// An event hook secret, at `key` (from its `_file` when `from_file`): one Okta's
/// `Authorization` header can carry, and not blank.
fn check_hook_secret(
    key: &str,
    secret: Option<&SecretString>,
    from_file: bool,
) -> Result<(), Error> {
    let Some(secret) = secret else { return Ok(()) };
    if !from_file && !super::load::header_safe(secret.expose_secret()) {
        return Err(Error::invalid(
            key,
            "holds a line break or a control character, which Okta's Authorization header \
             cannot carry (value not shown)",
        ));
    }
    if secret.expose_secret().trim().is_empty() {
        let key = if from_file {
            format!("{key}_file")
        } else {
            key.to_owned()
        };
        return Err(Error::invalid(
            key,
            "the event hook secret must not be empty or blank (leave it unset to refuse every event hook delivery)",
        ));
    }
    Ok(())
}
