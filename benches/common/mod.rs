//! What both benchmark binaries use: reading their options and taking medians.

/// The value after `name` on the command line, if any.
pub fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// The median of `xs` (the mean of the middle two for an even count).
pub fn median(xs: Vec<f64>) -> f64 {
    // A run that could not measure a figure (NaN) is left out, and says so.
    let runs = xs.len();
    let mut xs: Vec<f64> = xs.into_iter().filter(|x| !x.is_nan()).collect();
    if xs.len() < runs {
        println!(
            "  (a median of {} of {runs} runs: the others measured nothing)",
            xs.len()
        );
    }
    if xs.is_empty() {
        return f64::NAN;
    }
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}
