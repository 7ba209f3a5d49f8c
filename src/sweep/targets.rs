//! The targets a pass is given by the configuration: `[[targets]]`' pairs as [`Target`]s
//! (source `config`) and its apps and whole users as [`WideTargets`], each id checked as one
//! Okta could send. Built here, above `config`, so the configuration stays plain settings.

use super::{Target, WideTargets};
use crate::config::{Config, Error};
use crate::ids::{ClientId, InvalidId, UserId};
use crate::store::TargetSource;

fn bad(e: &InvalidId) -> Error {
    Error::invalid("targets", e.to_string())
}

impl Target {
    /// [`Config::target_pairs`] as sweep targets (source `config`).
    pub fn from_config(config: &Config) -> Result<Vec<Target>, Error> {
        config
            .target_pairs()
            .into_iter()
            .map(|(u, c)| {
                Ok(Target {
                    user: UserId::new(u).map_err(|e| bad(&e))?,
                    client: ClientId::new(c).map_err(|e| bad(&e))?,
                    source: TargetSource::Config,
                })
            })
            .collect()
    }
}

impl WideTargets {
    /// The apps ([`Config::target_apps`]) and whole users ([`Config::target_users`]) the
    /// targets name.
    pub fn from_config(config: &Config) -> Result<WideTargets, Error> {
        Ok(WideTargets {
            apps: config
                .target_apps()
                .into_iter()
                .map(|a| ClientId::new(a).map_err(|e| bad(&e)))
                .collect::<Result<_, _>>()?,
            users: config
                .target_users()
                .into_iter()
                .map(|u| UserId::new(u).map_err(|e| bad(&e)))
                .collect::<Result<_, _>>()?,
        })
    }
}
