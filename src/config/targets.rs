//! The wide target forms of `[[targets]]`: apps listed whole (`app`, `apps`) and users whose
//! clients are discovered (`user` or `users` without a client), collected once each in config
//! order. The pair forms are [`Config::target_pairs`]; the sweep types them
//! (`sweep::WideTargets::from_config`).

use super::Config;

impl Config {
    /// Every app the targets name (`app`, `apps`), de-duplicated, in config order.
    pub fn target_apps(&self) -> Vec<String> {
        let mut seen = std::collections::HashSet::new();
        self.targets
            .iter()
            .flat_map(|t| t.app.iter().chain(&t.apps))
            .filter(|a| seen.insert(a.as_str()))
            .cloned()
            .collect()
    }

    /// Every user named without a client (`user` or `users` alone), de-duplicated, in config
    /// order.
    pub fn target_users(&self) -> Vec<String> {
        let mut seen = std::collections::HashSet::new();
        self.targets
            .iter()
            .filter(|t| t.client.is_none() && t.clients.is_empty())
            .flat_map(|t| t.user.iter().chain(&t.users))
            .filter(|u| seen.insert(u.as_str()))
            .cloned()
            .collect()
    }
}
