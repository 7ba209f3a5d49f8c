//! `revokd offboard`: one user, now, as an `offboarding_jobs` row (source `cli`).

use super::output::say;
use chrono::Utc;
use tracing::warn;

use super::{
    Exit, Failure, deps, load_config, load_database_config, open_existing_store_to_write, output,
    progress,
};
use crate::cli::{Cli, OffboardArgs, OffboardCommand};
use crate::config;
use crate::offboard::{
    OffboardReport, Offboarding, VerifySettings, configured_clients, offboard_user,
};
use crate::runner;
use crate::store::{JobSource, JobState, NewJob, TargetSource};
use crate::sweep::{Target, WideTargets};

pub(super) async fn run(cli: &Cli, args: &OffboardArgs) -> Result<Exit, Failure> {
    if let Some(OffboardCommand::Release { jobs, all }) = &args.action {
        return release(cli, jobs, *all).await;
    }
    let config = load_config(cli)?;
    let Some(user) = args.user.clone() else {
        return Err(config::Error::invalid("--user", "is required").into());
    };
    let mut clients: Vec<Target> = (args.clients.iter())
        .map(|client| Target {
            user: user.clone(),
            client: client.clone(),
            source: TargetSource::Offboard,
        })
        .collect();
    let apps = WideTargets::from_config(&config)?.apps;
    clients.extend(configured_clients(
        &Target::from_config(&config)?,
        &apps,
        &user,
    ));
    let reason = args
        .reason
        .clone()
        .unwrap_or_else(|| "offboarded with revokd offboard".to_owned());
    let deps = deps(&config).await?;
    let job = NewJob {
        user_id: user.to_string(),
        source: JobSource::Cli,
        event_id: None,
        event_type: None,
        reason: Some(reason.clone()),
    };
    let store_err = |e| Failure::Other(anyhow::Error::from(e));
    let job_id = deps
        .store
        .start_job(&job, runner::current(), Utc::now())
        .await
        .map_err(store_err)?;
    let offboarding = Offboarding {
        user,
        clients,
        reason,
        job_id,
        dry_run: args.dry_run,
    };
    let line = progress::show(std::sync::Arc::clone(&deps.progress));
    let report = offboard_user(&deps, &offboarding, VerifySettings::default()).await;
    line.finish().await;
    let report = match report {
        Ok(report) => report,
        Err(e) => {
            // The job ends here, saying why: left `running`, a daemon would later fail it as
            // an interrupted command, and without one it would stay `running`.
            let why = format!("the offboarding stopped: {e}");
            if let Err(closing) = (deps.store)
                .finish_job(job_id, JobState::Failed, Some(&why), Utc::now())
                .await
            {
                warn!(job_id, error.message = %closing, "cannot record the offboarding job as failed");
            }
            deps.store.close().await;
            return Err(store_err(e));
        }
    };
    let (state, error) = if report.succeeded() {
        (JobState::Done, None)
    } else {
        (JobState::Failed, report.error())
    };
    deps.store
        .finish_job(job_id, state, error.as_deref(), Utc::now())
        .await
        .map_err(store_err)?;
    deps.store.close().await;
    if let Some(halt) = &report.halt {
        let stopped = format!("Offboarding job {job_id} failed; nothing was revoked");
        return Ok(output::halted(&config, halt, &stopped));
    }
    let exit = if report.succeeded() && report.stayed().is_empty() {
        Exit::Success
    } else {
        Exit::Failures
    };
    output::print(summary(&report), exit)
}

/// One line per client, then the verdict.
fn summary(report: &OffboardReport) -> String {
    let mut out = format!(
        "offboarding job {}{}\n",
        report.job_id,
        if report.dry_run { " (dry run)" } else { "" }
    );
    if let Some(e) = &report.discovery_error {
        out.push_str(&format!("  client discovery failed: {e}\n"));
    }
    if report.user_unknown {
        out.push_str(
            "  Okta knows no such user (404 listing the user's clients): a deleted user's tokens \
             went with it; check the id if the user was not deleted\n",
        );
    }
    for c in &report.clients {
        let state = match (&c.error, report.dry_run, c.verified) {
            (Some(e), _, _) => format!("FAILED: {e}"),
            (None, true, _) => "planned".to_owned(),
            (None, false, true) => "verified empty".to_owned(),
            (None, false, false) => "NOT verified".to_owned(),
        };
        out.push_str(&format!(
            "  {} ({}): {} token(s), {state}\n",
            c.client_id, c.source, c.tokens
        ));
    }
    for (client, token, why) in report.stayed() {
        out.push_str(&format!("  stayed: token {token} of {client}: {why}\n"));
    }
    out.push_str(if report.succeeded() && report.stayed().is_empty() {
        "result: ok\n"
    } else if report.succeeded() {
        "result: tokens stayed\n"
    } else {
        "result: failures\n"
    });
    out
}

/// `revokd offboard release`: held jobs back to the queue, unheld.
async fn release(cli: &Cli, jobs: &[i64], all: bool) -> Result<Exit, Failure> {
    let config = load_database_config(cli)?;
    // It writes: like the other offboarding commands, it brings the schema up to date.
    let store = open_existing_store_to_write(&config).await?;
    let ids = if all { Vec::new() } else { jobs.to_vec() };
    let released = store
        .release_held_jobs(&ids, Utc::now())
        .await
        .map_err(|e| Failure::Other(e.into()))?;
    let missing: Vec<i64> = ids
        .iter()
        .copied()
        .filter(|id| !released.iter().any(|j| j.id == *id))
        .collect();
    for &id in &missing {
        match store.job(id).await {
            Ok(Some(job)) => say(format_args!(
                "revokd: offboarding job {id} is not held (it is {})",
                job.state
            )),
            Ok(None) => say(format_args!("revokd: there is no offboarding job {id}")),
            Err(e) => say(format_args!(
                "revokd: offboarding job {id} is not held ({e})"
            )),
        }
    }
    store.close().await;
    let mut text = String::new();
    for job in &released {
        text.push_str(&format!(
            "released offboarding job {} (user {}, {})\n",
            job.id, job.user_id, job.source
        ));
    }
    text.push_str(&format!("{} job(s) released\n", released.len()));
    let exit = if missing.is_empty() {
        Exit::Success
    } else {
        Exit::Failures
    };
    output::print(text, exit)
}
