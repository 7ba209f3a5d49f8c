//! (c) policy evaluations per second: 4 rules and 1 exemption, one core.

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use revokd::policy::{PolicySet, TokenFacts, decide};

use super::common::median;

pub fn policy_rate(runs: usize) {
    let (policies, exemptions) = super::storage::example_policies("00ubreakglass");
    let set = Arc::new(PolicySet::from_config(&policies, &exemptions).expect("policies"));
    let now: DateTime<Utc> = Utc::now();
    let scopes: Vec<Vec<String>> = vec![
        vec!["offline_access".into(), "openid".into()],
        vec!["offline_access".into(), "admin:write".into()],
        vec!["offline_access".into(), "profile".into(), "email".into()],
    ];
    let ids: Vec<String> = (0..1_000).map(|i| format!("oar{i:017}")).collect();
    let n = 2_000_000usize;
    println!("\n(c) policy evaluations (4 rules, 1 exemption, one core)");
    println!("{:>4} {:>12} {:>14}", "run", "evaluations", "per second");
    let mut rates = Vec::new();
    for run in 1..=runs {
        let started = Instant::now();
        let mut revoke = 0u64;
        for i in 0..n {
            let age = chrono::Duration::hours((i % 9_000) as i64);
            let facts = TokenFacts {
                token_id: &ids[i % ids.len()],
                user_id: "00uuser",
                client_id: if i % 50 == 0 {
                    "0oa3legacyreports00"
                } else {
                    "0oaapp"
                },
                active: true,
                scopes: &scopes[i % scopes.len()],
                created: Some(now - age),
                last_updated: Some(now - age / 2),
                expires_at: if i % 10 == 0 { None } else { Some(now + age) },
            };
            if matches!(
                decide(&set, &facts, now),
                revokd::policy::Decision::Revoke { .. }
            ) {
                revoke += 1;
            }
        }
        let rate = n as f64 / started.elapsed().as_secs_f64();
        std::hint::black_box(revoke);
        println!("{run:>4} {n:>12} {rate:>14.0}");
        rates.push(rate);
    }
    println!(
        "median: {:.0} evaluations/s (target ≥ 2,000,000)",
        median(rates)
    );
}
