//! What phone normalisation costs in memory and time, for the figures in `src/phone.rs`.
//!
//! `cargo run --release -p stopgate --example phone_memory [count]` (Linux only: it reads
//! VmHWM, the peak resident set size, and VmRSS from /proc/self/status).

use std::time::Instant;

use stopgate::phone::{PhoneMode, normalize};

/// Numbers in the shapes a tenant sends: national US formats and international ones from
/// several regions, so that the crate loads more than one region's patterns.
fn sample(i: usize) -> (String, &'static str) {
    let n = i % 10_000;
    match i % 6 {
        0 => (format!("(415) 555-{n:04}"), "US"),
        1 => (format!("+1 212 555 {n:04}"), "US"),
        2 => (format!("+44 20 7946 {n:04}"), "US"),
        3 => (
            format!("06 12 34 {:02} {:02}", n % 100, n / 100 % 100),
            "FR",
        ),
        4 => (format!("+49 30 123{n:04}"), "US"),
        _ => (format!("+61 4 1234 {n:04}"), "US"),
    }
}

fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.trim_start_matches(field)
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

fn report(label: &str) {
    let show = |field| {
        status_kib(field).map_or("n/a".to_string(), |kib| {
            format!("{:.1} MiB", kib as f64 / 1024.0)
        })
    };
    println!(
        "{label:<28} peak (VmHWM) {:>10}   now (VmRSS) {:>10}",
        show("VmHWM:"),
        show("VmRSS:")
    );
}

/// Every region's example numbers, in E.164: the worst case for the crate's regex cache.
fn every_region() -> Vec<String> {
    phonenumber::metadata::DATABASE
        .iter()
        .flat_map(|meta| {
            let code = meta.country_code();
            [meta.descriptors().fixed_line(), meta.descriptors().mobile()]
                .into_iter()
                .flatten()
                .filter_map(move |d| d.example().map(|national| format!("+{code}{national}")))
        })
        .collect()
}

fn main() {
    let count: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5_000);
    // Built before measuring so that the figures are the crate's, not the inputs'.
    let inputs: Vec<_> = (0..count).map(sample).collect();

    report("before first use");

    let start = Instant::now();
    let first = normalize("(415) 555-0100", "US", PhoneMode::Lenient);
    println!("first parse: {first:?} in {:?}", start.elapsed());
    report("after first parse");

    let start = Instant::now();
    let valid = inputs
        .iter()
        .filter(|(input, region)| normalize(input, region, PhoneMode::Lenient).is_ok())
        .count();
    let elapsed = start.elapsed();
    println!(
        "{count} parses ({valid} valid) in {elapsed:?}: {:.1} µs each",
        elapsed.as_secs_f64() * 1e6 / count.max(1) as f64
    );
    report(&format!("after {count} parses"));

    // Listing the examples loads the same metadata, so this adds only the regexes.
    let all = every_region();
    let valid = all
        .iter()
        .filter(|n| normalize(n, "US", PhoneMode::StrictE164).is_ok())
        .count();
    println!(
        "{} example numbers of every region ({valid} valid)",
        all.len()
    );
    report("after every region");
}
