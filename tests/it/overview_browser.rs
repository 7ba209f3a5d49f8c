//! The overview page in a real browser: headless Chromium loads the page built from a
//! simulated org swept in dry-run then enforce, dumps its DOM and takes a screenshot. Every
//! chart must be in the DOM with bars of non-zero size, and the screenshot must show the
//! page — not blank, and with each bar colour the DOM names painted somewhere. Chromium is
//! required: without it the test fails (`.ci/run` installs Debian's `chromium`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use revokd::config::{Config, Mode, PolicyConfig};
use revokd::report::overview;

use crate::helpers::{admin_policy, small_org, spawn_app_with};

const CHARTS: &[&str] = &[
    "tokens-by-age",
    "tokens-by-risk",
    "revocations-over-time",
    "revocations-by-policy",
    "exposure",
];

fn policies() -> Vec<PolicyConfig> {
    vec![
        admin_policy(),
        PolicyConfig {
            name: "idle-90d".into(),
            idle_for: Some(Duration::from_secs(90 * 86_400)),
            ..PolicyConfig::default()
        },
    ]
}

fn chromium() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .flat_map(|dir| ["chromium", "chromium-browser"].map(|name| dir.join(name)))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "chromium is not installed: this test needs headless Chromium. `.ci/run` installs \
                 it (apt-get install chromium); install it the same way to run the test here."
            )
        })
}

/// Runs headless Chromium on `page` with `what` (`--screenshot=…` or `--dump-dom`), offline
/// and with a fresh profile; returns its stdout.
async fn run_chromium(page: &Path, profile: &Path, what: &str) -> String {
    let out = tokio::process::Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--window-size=1280,3200",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(what)
        .arg(format!("file://{}", page.display()))
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(120), out)
        .await
        .expect("chromium finishes within 2 minutes")
        .expect("chromium starts");
    assert!(
        out.status.success(),
        "chromium {what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("the DOM is UTF-8")
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let end = tag[start..].find('"')? + start;
    Some(tag[start..end].to_owned())
}

/// Per chart: its bars (rects with width and height > 0) and their fill colours.
fn marks(dom: &str, chart: &str) -> (usize, usize, BTreeSet<String>) {
    let start = dom
        .find(&format!("data-chart=\"{chart}\""))
        .unwrap_or_else(|| panic!("the DOM has no {chart} chart"));
    let end = dom[start..].find("</figure>").expect("a closed figure") + start;
    let figure = &dom[start..end];
    let declared: usize = attr(figure, "data-marks")
        .and_then(|n| n.parse().ok())
        .expect("data-marks");
    assert!(figure.contains("<svg"), "{chart} has no SVG");
    let mut sized = 0;
    let mut colours = BTreeSet::new();
    for piece in figure.split("<rect").skip(1) {
        let tag = &piece[..piece.find('>').expect("a closed rect")];
        let size = |name| {
            attr(tag, name)
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        if size("width") > 0.0 && size("height") > 0.0 {
            sized += 1;
            colours.insert(attr(tag, "fill").expect("a filled bar").to_lowercase());
        }
    }
    (declared, sized, colours)
}

fn rgb(hex: &str) -> [u8; 3] {
    let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex colour");
    [byte(1), byte(3), byte(5)]
}

#[tokio::test(flavor = "multi_thread")]
async fn every_chart_of_the_overview_renders_in_headless_chromium() {
    // Fail at once, before sweeping, when there is no browser.
    chromium();
    let app = spawn_app_with(small_org(), |c| c.policies = policies()).await;
    app.sweep(Mode::DryRun).await;
    let enforce = app.sweep(Mode::Enforce).await;
    assert!(
        enforce.counts.revocations_done > 0,
        "the enforce pass revoked something"
    );
    let config = Config {
        policies: policies(),
        ..Config::default()
    };
    let data = overview::build(&app.store, &config, None, app.now)
        .await
        .expect("the overview builds");
    let dir = tempfile::tempdir().expect("a temp dir");
    let page = dir.path().join("overview.html");
    std::fs::write(&page, overview::to_html(&data).expect("the page renders")).expect("written");

    let dom = run_chromium(&page, &dir.path().join("profile-dom"), "--dump-dom").await;
    let mut colours = BTreeSet::new();
    for chart in CHARTS {
        let (declared, sized, used) = marks(&dom, chart);
        assert!(sized > 0, "{chart}: no bar of non-zero size in the DOM");
        assert_eq!(sized, declared, "{chart}: every bar drawn");
        colours.extend(used);
    }

    let shot = dir.path().join("overview.png");
    run_chromium(
        &page,
        &dir.path().join("profile-shot"),
        &format!("--screenshot={}", shot.display()),
    )
    .await;
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(&shot).expect("chromium wrote the screenshot"),
    ));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut pixels = vec![0; reader.output_buffer_size().expect("a sane size")];
    let info = reader.next_frame(&mut pixels).expect("a frame");
    assert_eq!((info.width, info.height), (1280, 3200));
    let channels = info.color_type.samples();
    assert!(channels >= 3, "{:?}", info.color_type);
    let rgbs: Vec<[u8; 3]> = pixels[..info.buffer_size()]
        .chunks_exact(channels)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    let lum: Vec<f64> = rgbs
        .iter()
        .map(|p| 0.299 * f64::from(p[0]) + 0.587 * f64::from(p[1]) + 0.114 * f64::from(p[2]))
        .collect();
    let mean = lum.iter().sum::<f64>() / lum.len() as f64;
    let variance = lum.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / lum.len() as f64;
    assert!(
        variance > 100.0,
        "the screenshot is blank (luminance variance {variance:.1})"
    );
    let painted: BTreeSet<[u8; 3]> = rgbs.into_iter().collect();
    for colour in &colours {
        let want = rgb(colour);
        let near = painted
            .iter()
            .any(|p| p.iter().zip(want).all(|(a, b)| a.abs_diff(b) <= 3));
        assert!(near, "no pixel of bar colour {colour} in the screenshot");
    }
}
