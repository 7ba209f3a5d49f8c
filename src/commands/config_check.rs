//! `revokd config check`: validate and print the effective configuration, secrets redacted.

use super::output::say;
use super::{Exit, Failure, load_config, output};
use crate::cli::Cli;
use crate::config::{EXAMPLE, redacted::effective_toml};

pub(super) fn run(cli: &Cli, example: bool) -> Result<Exit, Failure> {
    if example {
        return output::print(EXAMPLE, Exit::Success);
    }
    let config = load_config(cli)?;
    // What a sweep or the daemon builds first: the credentials are read and checked too (the
    // private key parsed, the token fit for a header), so a passed check is a safe gate for a
    // reload.
    crate::okta::OktaClient::from_config(&config.okta)?;
    let exit = output::print(effective_toml(&config), Exit::Success)?;
    let (pairs, apps, users) = (
        config.target_pairs().len(),
        config.target_apps().len(),
        config.target_users().len(),
    );
    say(format_args!(
        "configuration OK: {pairs} target pair(s), {apps} app(s), {users} user(s), {} policy \
         rule(s), {} exemption(s), mode {}",
        config.policies.len(),
        config.exemptions.len(),
        config.mode.as_str()
    ));
    let auth = config.okta.auth.as_str();
    for key in config.okta.ignored_keys() {
        say(format_args!(
            "warning: {key} is set, but okta.auth = \"{auth}\" does not use it"
        ));
    }
    if pairs + apps + users == 0 {
        say(format_args!(
            "no targets: revokd sweep without --target refuses this configuration, and revokd \
             run takes it only to offboard (server.hook_secret or offboarding.system_log); \
             reports, status, audit and offboard can use it; add [[targets]] to sweep"
        ));
    }
    Ok(exit)
}
