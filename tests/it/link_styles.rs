//! Okta pages with `Link` headers and does not promise their form: one header per relation
//! (its usual form), one comma-joined header, or links relative to the page (RFC 8288 allows
//! an absolute-path reference). Sweeps of pairs and of whole apps read every token whichever
//! the sim sends.

use revokd::config::Mode;
use revokd::sim::{LinkStyle, SimConfig};
use revokd::store::SweepStatus;

use crate::apps::{apps, biggest_app, org, sweep};
use crate::helpers::{admin_policy, spawn_app_with};

#[tokio::test(flavor = "multi_thread")]
async fn every_page_is_read_whatever_form_the_next_link_takes() {
    for style in [LinkStyle::Separate, LinkStyle::Joined, LinkStyle::Relative] {
        let sim = SimConfig {
            link_style: style,
            ..org()
        };
        let app = spawn_app_with(sim, |c| {
            c.okta.page_size = 7;
            c.policies = vec![admin_policy()];
        })
        .await;
        let all = app.org.all_tokens().len() as u64;

        let report = app.sweep(Mode::DryRun).await;
        assert_eq!(
            report.status,
            SweepStatus::Ok,
            "{style:?}: {:?}",
            report.failures
        );
        assert_eq!(report.counts.tokens_seen, all, "{style:?}");
        assert!(
            report.pages > report.counts.targets_total,
            "{style:?}: more than a page each"
        );

        let (client, held) = biggest_app(&app.org);
        let report = sweep(&app, Mode::DryRun, Vec::new(), apps(&[&client])).await;
        assert_eq!(
            report.status,
            SweepStatus::Ok,
            "{style:?}: {:?}",
            report.failures
        );
        assert_eq!(report.counts.tokens_seen as usize, held, "{style:?}");
    }
}
