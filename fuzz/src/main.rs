//! `hostile`: Stopgate's hostile-input run (issue 11). Every way untrusted bytes enter Stopgate
//! is fed at least a million generated inputs (`--cases`), and none may panic.
//!
//! Targets (each module's documentation says exactly what it generates and checks):
//!
//! - `classifier`: the keyword classifier over any text a person can send (any Unicode, long,
//!   mixed scripts, controls, emoji, real keywords mutated; tenant keywords now and then).
//! - `phone`: phone number parsing, every public entry point and the log mask; what is read is
//!   canonical E.164 that reads back unchanged.
//! - `twilio`, `telnyx`, `bandwidth`, `plivo`, `ringcentral`, `sinch`, `vonage`, `aws`: one per
//!   provider, webhook requests (arbitrary method, URL, headers among them the provider's own,
//!   body) through the signature check, the nonce, the parser, the quarantine record and
//!   `prepare`; starting from the sample events in events/, which verify unmutated, so
//!   mutations reach past the signature. A body over the limit is refused before it is read.
//! - `cursors`: pagination cursors: a genuine one opens for its own binding only; anything
//!   tampered, forged or rebound is a 400 `invalid_cursor`.
//! - `json_apis`: every JSON API's body, read and validated as its handler does before any
//!   I/O: accepted, or a 4xx (never 5xx) JSON error naming `error.code` (and `error.field`); a
//!   body over the limit is a 413 whatever it holds.
//! - `import_csv`: the CSV import reader over arbitrary files.
//!
//! Why proptest rather than cargo-fuzz: cargo-fuzz (libFuzzer) needs a nightly toolchain and
//! sanitizer instrumentation, which this project's CI and machines do not have; proptest runs
//! on stable inside an ordinary binary, reproduces a run from its seed, and shrinks a failure to
//! a minimal input. What coverage guidance would find, the generators aim at by hand: they start
//! from genuine requests (so signatures verify and parsers get past their first check) and
//! mutate them byte by byte, field by field and inside nested JSON, with the characters, numbers
//! and times that break parsers.
//!
//! Each case runs under `catch_unwind`: a panic fails its target, proptest shrinks the input,
//! and the run prints the minimal one with the panic's message and location, then exits 1. The
//! seed is fixed (`--seed` changes it) and each target derives its own from it and its name, so
//! `--target NAME` alone replays exactly what the full run fed that target.
//!
//! ```text
//! make fuzz                                   # CASES=1000000 by default
//! cargo run --profile fuzz -p stopgate-fuzz --bin hostile -- \
//!     [--cases N] [--seed S] [--jobs J] [--target NAME]... [--summary PATH] [--list]
//! ```
//!
//! It prints one line per target (`<target>: N inputs, 0 panics, <secs> s`) and, with
//! `--summary`, writes `{"targets": {"<target>": N, ...}, "panics": P, "failures": F, "seed": S,
//! "cases": N}`, where `failures` counts targets that failed for any reason (a panic or a broken
//! property). Targets run in parallel, `--jobs` at a time (default: one per core).

mod harness;
mod inputs;
mod samples;
mod targets;

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use harness::Outcome;
use targets::{TARGETS, Target};

const DEFAULT_CASES: u32 = 1_000_000;
const DEFAULT_SEED: u64 = 0x5709_6a7e_2026_0011;

const USAGE: &str = "usage: hostile [--cases N] [--seed S] [--jobs J] [--target NAME]... \
                     [--summary PATH] [--list]";

#[derive(Debug)]
struct Options {
    cases: u32,
    seed: u64,
    jobs: usize,
    targets: Vec<&'static Target>,
    summary: Option<String>,
}

fn parse_args(args: &[String]) -> Result<Option<Options>, String> {
    let mut options = Options {
        cases: DEFAULT_CASES,
        seed: DEFAULT_SEED,
        jobs: std::thread::available_parallelism().map_or(2, usize::from),
        targets: Vec::new(),
        summary: None,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match arg.as_str() {
            "--cases" => {
                options.cases = value("--cases")?
                    .replace('_', "")
                    .parse()
                    .map_err(|e| format!("--cases: {e}"))?;
            }
            "--seed" => {
                options.seed = value("--seed")?
                    .parse()
                    .map_err(|e| format!("--seed: {e}"))?;
            }
            "--jobs" => {
                options.jobs = value("--jobs")?
                    .parse()
                    .map_err(|e| format!("--jobs: {e}"))?;
            }
            "--summary" => options.summary = Some(value("--summary")?),
            "--target" => {
                let name = value("--target")?;
                let target = TARGETS
                    .iter()
                    .find(|t| t.name == name)
                    .ok_or_else(|| format!("unknown target {name:?} (--list names them)"))?;
                options.targets.push(target);
            }
            "--list" => {
                for target in TARGETS {
                    println!("{}", target.name);
                }
                return Ok(None);
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(None);
            }
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    if options.targets.is_empty() {
        options.targets = TARGETS.iter().collect();
    }
    options.jobs = options.jobs.clamp(1, options.targets.len());
    Ok(Some(options))
}

/// Runs every target, `jobs` at a time; outcomes in the order of `targets`.
fn run_all(options: &Options) -> Vec<Result<Outcome, String>> {
    let next = AtomicUsize::new(0);
    let outcomes: Mutex<BTreeMap<usize, Result<Outcome, String>>> = Mutex::new(BTreeMap::new());
    std::thread::scope(|scope| {
        for _ in 0..options.jobs {
            let worker = std::thread::Builder::new()
                .name("hostile".into())
                .stack_size(64 * 1024 * 1024)
                .spawn_scoped(scope, || {
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        let Some(target) = options.targets.get(i) else {
                            break;
                        };
                        eprintln!("{}: running {} cases", target.name, options.cases);
                        let mut runner = harness::runner(target.name, options.cases, options.seed);
                        // A panic outside a case is a bug of this harness, not of Stopgate.
                        let outcome =
                            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                                (target.run)(&mut runner)
                            }))
                            .map_err(|_| "the harness itself panicked (see above)".to_string());
                        if let Ok(outcome) = &outcome {
                            eprintln!(
                                "{}: done in {:.1} s",
                                target.name,
                                outcome.elapsed.as_secs_f64()
                            );
                        }
                        if let Ok(mut outcomes) = outcomes.lock() {
                            outcomes.insert(i, outcome);
                        }
                    }
                });
            if let Err(e) = worker {
                eprintln!("hostile: cannot start a worker: {e}");
            }
        }
    });
    let mut outcomes = outcomes.into_inner().unwrap_or_default();
    (0..options.targets.len())
        .map(|i| {
            outcomes
                .remove(&i)
                .unwrap_or_else(|| Err("never ran".to_string()))
        })
        .collect()
}

/// An input as printed: in full up to a point (the reproduce command regenerates any input).
fn shown(input: &str) -> String {
    const MAX_CHARS: usize = 8_000;
    match input.char_indices().nth(MAX_CHARS) {
        Some((at, _)) => format!(
            "{}… ({} more characters not shown)",
            &input[..at],
            input[at..].chars().count()
        ),
        None => input.to_string(),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match parse_args(&args) {
        Ok(Some(options)) => options,
        Ok(None) => return ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hostile: {e}");
            return ExitCode::from(2);
        }
    };
    harness::install_panic_hook();
    eprintln!(
        "hostile: {} targets, {} cases each, seed {}, {} at a time",
        options.targets.len(),
        options.cases,
        options.seed,
        options.jobs
    );
    let outcomes = run_all(&options);

    let mut counts = serde_json::Map::new();
    let (mut panics, mut failures) = (0u64, 0u64);
    for (target, outcome) in options.targets.iter().zip(&outcomes) {
        match outcome {
            Ok(outcome) => {
                let panicked = outcome.failure.as_ref().is_some_and(|f| f.panic);
                panics += u64::from(panicked);
                failures += u64::from(outcome.failure.is_some());
                counts.insert(target.name.to_string(), outcome.inputs.into());
                println!(
                    "{}: {} inputs, {} panics, {:.1} s{}",
                    target.name,
                    outcome.inputs,
                    u64::from(panicked),
                    outcome.elapsed.as_secs_f64(),
                    if outcome.failure.is_some() {
                        " FAILED"
                    } else {
                        ""
                    }
                );
            }
            Err(e) => {
                failures += 1;
                counts.insert(target.name.to_string(), 0.into());
                println!("{}: FAILED: {e}", target.name);
            }
        }
    }
    for (target, outcome) in options.targets.iter().zip(&outcomes) {
        if let Ok(Outcome {
            failure: Some(failure),
            ..
        }) = outcome
        {
            println!(
                "\n{} FAILED: {}\nminimal failing input:\n{}\nreproduce: cargo run --profile fuzz -p stopgate-fuzz --bin hostile -- --seed {} --cases {} --target {}",
                target.name,
                failure.reason,
                shown(&failure.input),
                options.seed,
                options.cases,
                target.name
            );
        }
    }

    if let Some(path) = &options.summary {
        let summary = serde_json::json!({
            "targets": counts,
            "panics": panics,
            "failures": failures,
            "seed": options.seed,
            "cases": options.cases,
        });
        let text = serde_json::to_string_pretty(&summary).unwrap_or_default();
        if let Err(e) = std::fs::write(path, text + "\n") {
            eprintln!("hostile: cannot write {path}: {e}");
            return ExitCode::FAILURE;
        }
    }
    if failures > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn arguments_choose_cases_seed_and_targets() {
        let options = parse_args(&args(&[
            "--cases", "1_000", "--seed", "9", "--target", "phone", "--jobs", "8",
        ]))
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("options"));
        assert_eq!((options.cases, options.seed, options.jobs), (1000, 9, 1));
        assert_eq!(options.targets.len(), 1);
        assert!(parse_args(&args(&["--target", "nope"])).is_err());
        assert!(parse_args(&args(&["--cases"])).is_err());
        let all = parse_args(&[])
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("options"));
        assert_eq!(all.cases, DEFAULT_CASES);
        assert_eq!(all.targets.len(), TARGETS.len());
    }

    #[test]
    fn long_inputs_are_cut_at_a_character() {
        assert_eq!(shown("abc"), "abc");
        let long = "é".repeat(8_005);
        let cut = shown(&long);
        assert!(cut.starts_with(&"é".repeat(8_000)));
        assert!(cut.ends_with("… (5 more characters not shown)"), "{cut}");
    }

    #[test]
    fn a_small_run_of_every_target_passes() {
        harness::install_panic_hook();
        for target in TARGETS {
            let mut runner = harness::runner(target.name, 64, DEFAULT_SEED);
            let outcome = (target.run)(&mut runner);
            assert!(
                outcome.failure.is_none(),
                "{}: {:?}",
                target.name,
                outcome.failure
            );
            assert_eq!(outcome.inputs, 64, "{}", target.name);
        }
    }
}
