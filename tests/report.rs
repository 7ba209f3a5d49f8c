//! Integration tests of `revokd report`: golden files for every kind × format, CSV safety,
//! reports against their SQL views, inventory at a past instant over simulated sweeps,
//! scheduled report files, the overview page, and the real binary.

#[cfg(test)]
#[path = "it/clock_env.rs"]
mod clock_env;

#[cfg(test)]
#[path = "report/seed.rs"]
mod seed;

#[cfg(test)]
#[path = "report/golden.rs"]
mod golden;

#[cfg(test)]
#[path = "report/csv_safety.rs"]
mod csv_safety;

#[cfg(test)]
#[path = "report/views.rs"]
mod views;

#[cfg(test)]
#[path = "report/history.rs"]
mod history;

#[cfg(test)]
#[path = "report/scheduled.rs"]
mod scheduled;

#[cfg(test)]
#[path = "report/overview.rs"]
mod overview;

#[cfg(test)]
#[path = "report/overview_time.rs"]
mod overview_time;
