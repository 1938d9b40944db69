//! How the pure-work figures are timed, shared with `shared/benches/hot_paths.rs` so both
//! report the same statistic.

use std::time::Instant;

/// Nanoseconds per call of `f`: the median of `rounds` rounds of `ops` calls each.
pub fn per_op(rounds: usize, ops: usize, mut f: impl FnMut()) -> f64 {
    let mut samples: Vec<f64> = (0..rounds)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..ops {
                f();
            }
            start.elapsed().as_nanos() as f64 / ops as f64
        })
        .collect();
    samples.sort_by(|a, b| a.total_cmp(b));
    samples[samples.len() / 2]
}
