//! The official Python SDK's listing of the simulated org, the baseline of (e)'s CPU ratios:
//! `okta` 3.4.6 from PyPI (the version `benches/okta_sdk_list.py` works around) in a
//! virtualenv under the target directory, and one run of the script.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use super::TOKEN;

/// The SDK pinned: the script's work-arounds are for this version.
const SDK: &str = "okta==3.4.6";

/// What one SDK listing measured.
#[derive(Debug, Clone, Copy)]
pub struct SdkRun {
    /// CPU seconds (user+sys) of its whole process, the interpreter's start and imports in.
    pub cpu: f64,
    /// CPU seconds of the listing alone.
    pub listing_cpu: f64,
}

/// The virtualenv's Python with the SDK installed; `Err` (and why) when Python or PyPI is not
/// available.
pub async fn sdk_python() -> Result<PathBuf, String> {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("okta-sdk-venv");
    let python = venv.join("bin/python");
    if !python.exists() {
        let made = tokio::process::Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .await
            .map_err(|e| format!("python3: {e}"))?;
        if !made.success() {
            return Err("python3 -m venv failed".into());
        }
    }
    let pip = tokio::process::Command::new(venv.join("bin/pip"))
        .args(["install", "-q", SDK])
        .status()
        .await
        .map_err(|e| format!("pip: {e}"))?;
    if !pip.success() {
        return Err(format!("pip install {SDK} failed"));
    }
    Ok(python)
}

/// The SDK's listing of the org; `None`, saying why, when it failed or listed other than
/// `tokens` tokens (a ratio against less work would flatter nobody honestly).
pub async fn sdk_list(python: &Path, base: &str, pairs_file: &Path, tokens: f64) -> Option<SdkRun> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/okta_sdk_list.py");
    let out = tokio::process::Command::new(python)
        .arg(script)
        .args([OsStr::new(base), OsStr::new(TOKEN), pairs_file.as_os_str()])
        .output()
        .await;
    let out = match out {
        Ok(out) if out.status.success() => out,
        Ok(out) => {
            println!(
                "SDK listing failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            return None;
        }
        Err(e) => {
            println!("SDK listing did not start: {e}");
            return None;
        }
    };
    let nums: Vec<f64> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    let &[listed, _wall, cpu, _peak, listing_cpu] = &nums[..] else {
        println!("SDK listing printed {nums:?}");
        return None;
    };
    if listed != tokens {
        println!("SDK listed {listed} tokens of {tokens}: no ratio from this run");
        return None;
    }
    Some(SdkRun { cpu, listing_cpu })
}
