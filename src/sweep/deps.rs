//! What a sweep needs ([`Deps`]): the Okta client and the store, the policy and the gate, and
//! the settings that shape a pass, built from the configuration.

use std::sync::Arc;

use crate::config::{self, Config, SafetyConfig};
use crate::gate::Gate;
use crate::okta::OktaClient;
use crate::policy::PolicySet;
use crate::store::Store;

use super::Progress;

/// What a sweep needs: the two edges and the settings that shape a pass.
#[derive(Debug, Clone)]
pub struct Deps {
    pub store: Store,
    pub okta: OktaClient,
    pub policies: Arc<PolicySet>,
    pub safety: SafetyConfig,
    /// Targets listed at once, and revocations sent at once.
    pub concurrency: usize,
    /// Attempts before a revocation is `irrevocable` (`revocation.max_attempts`).
    pub max_attempts: u32,
    /// Live counters of the sweep in progress, for a terminal progress line.
    pub progress: Arc<Progress>,
    /// The revocation gate every DELETE passes.
    pub gate: Gate,
}

impl Deps {
    /// The sweep's dependencies as the configuration describes them, over an open store.
    pub fn from_config(config: &Config, store: Store) -> Result<Deps, config::Error> {
        let policies = Arc::new(PolicySet::from_config(
            &config.policies,
            &config.exemptions,
        )?);
        Ok(Deps {
            gate: Gate::new(
                store.clone(),
                Arc::clone(&policies),
                config.safety.enforcer_wait,
            ),
            store,
            okta: OktaClient::from_config(&config.okta)?,
            policies,
            safety: config.safety.clone(),
            concurrency: config.okta.concurrency,
            max_attempts: config.revocation.max_attempts,
            progress: Arc::default(),
        })
    }
}
