//! The cron wiring: one tokio-cron-scheduler job per scheduled [`JobKind`], each tick calling
//! [`tick`]. [`Schedules::sync`] registers what `[schedule]` asks for and re-registers only
//! what a reload changed. tokio-cron-scheduler reads six-field cron, seconds first, in UTC,
//! needs the multi-thread runtime, and does not prevent overlapping runs (the guard in
//! [`tick`] does).

use std::collections::HashMap;
use std::sync::Arc;

use tokio_cron_scheduler::{Job, JobScheduler, JobSchedulerError};
use tracing::info;

use super::Error;
use super::context::Context;
use super::jobs::{JobKind, tick};
use crate::config::ScheduleConfig;

fn scheduler_error(context: &'static str) -> impl FnOnce(JobSchedulerError) -> Error {
    move |source| Error::Scheduler { context, source }
}

/// The scheduler and the jobs registered with it.
pub struct Schedules {
    scheduler: JobScheduler,
    /// Each registered job with the cron expression it was registered with.
    registered: HashMap<JobKind, (Job, String)>,
}

impl Schedules {
    /// A scheduler with nothing registered.
    pub async fn new() -> Result<Self, Error> {
        let scheduler = JobScheduler::new()
            .await
            .map_err(scheduler_error("cannot create the scheduler"))?;
        Ok(Schedules {
            scheduler,
            registered: HashMap::new(),
        })
    }

    /// Makes the registered jobs match `schedule`: adds the new, removes the dropped, and
    /// replaces those whose expression changed.
    pub async fn sync(
        &mut self,
        ctx: &Arc<Context>,
        schedule: &ScheduleConfig,
    ) -> Result<(), Error> {
        for job in JobKind::ALL {
            let wanted = job.schedule(schedule);
            let have = self.registered.get(&job).map(|(_, cron)| cron.as_str());
            if wanted == have {
                continue;
            }
            if let Some((old, _)) = self.registered.remove(&job) {
                self.scheduler
                    .remove(&old.guid())
                    .await
                    .map_err(scheduler_error("cannot remove a job from the scheduler"))?;
            }
            let Some(cron) = wanted else {
                info!(job = job.name(), "job unscheduled");
                continue;
            };
            let ctx = Arc::clone(ctx);
            let cron_job = Job::new_async(cron, move |_, _| Box::pin(tick(Arc::clone(&ctx), job)))
                .map_err(scheduler_error("cannot parse a [schedule] expression"))?;
            self.scheduler
                .add(cron_job.clone())
                .await
                .map_err(scheduler_error("cannot add a job to the scheduler"))?;
            info!(job = job.name(), schedule = cron, "job scheduled");
            self.registered.insert(job, (cron_job, cron.to_owned()));
        }
        Ok(())
    }

    /// Starts ticking.
    pub async fn start(&self) -> Result<(), Error> {
        self.scheduler
            .start()
            .await
            .map_err(scheduler_error("cannot start the scheduler"))
    }

    /// Stops ticking. Runs already going are not waited for here.
    pub async fn shutdown(&mut self) -> Result<(), Error> {
        self.scheduler
            .shutdown()
            .await
            .map_err(scheduler_error("cannot stop the scheduler"))
    }
}
