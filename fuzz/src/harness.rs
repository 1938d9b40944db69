//! Running one target: proptest's `TestRunner` with a fixed seed, every case under
//! `catch_unwind` so a panic becomes a failing case that proptest shrinks like any other, and the
//! panic's message and location kept for the report.

use std::cell::{Cell, RefCell};
use std::fmt::Debug;
use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant};

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, RngAlgorithm, RngSeed, TestCaseError, TestError, TestRunner};

/// What a property says about one input: `Err` names the broken rule.
pub type Verdict = Result<(), String>;

/// How one target went.
#[derive(Debug)]
pub struct Outcome {
    /// Inputs run, shrinking included.
    pub inputs: u64,
    pub elapsed: Duration,
    pub failure: Option<Failure>,
}

/// The minimal failing input proptest shrank to, and why it fails.
#[derive(Debug)]
pub struct Failure {
    /// A panic (rather than a property returning an error).
    pub panic: bool,
    pub reason: String,
    /// `Debug` of the minimal input; empty when the run was aborted instead.
    pub input: String,
}

const PANICKED: &str = "panicked: ";

thread_local! {
    /// Set while a case runs: its panics are recorded quietly instead of printed.
    static IN_CASE: Cell<bool> = const { Cell::new(false) };
    /// The last panic of a case on this thread: message and location.
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs the panic hook: a panic inside a case is recorded for its report (a million cases
/// must not print a million backtraces while shrinking); any other panic prints as usual.
pub fn install_panic_hook() {
    let default = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        if !IN_CASE.get() {
            default(info);
            return;
        }
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "<non-string panic payload>".to_string());
        let location = info
            .location()
            .map(|l| format!(" at {}:{}:{}", l.file(), l.line(), l.column()))
            .unwrap_or_default();
        LAST_PANIC.with(|p| *p.borrow_mut() = Some(format!("{message}{location}")));
    }));
}

/// The runner for `target`: `cases` cases from a seed derived from `seed` and the target's name,
/// so one target run alone (`--target NAME`) sees exactly the inputs it saw among all of them.
pub fn runner(target: &str, cases: u32, seed: u64) -> TestRunner {
    let config = Config {
        cases,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(target_seed(seed, target)),
        // Not cryptographic, and several times faster per case than the default ChaCha.
        rng_algorithm: RngAlgorithm::XorShift,
        // A failure found late must not keep CI busy for hours while it shrinks.
        max_shrink_time: 300_000,
        ..Config::default()
    };
    TestRunner::new(config)
}

/// FNV-1a of the name, mixed into the run's seed.
fn target_seed(seed: u64, target: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in target.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    seed ^ hash
}

/// Runs `property` over `strategy`: every input it returns `Err` for, or panics on, fails the
/// target, and proptest shrinks it to a minimal one.
pub fn check<S>(
    runner: &mut TestRunner,
    strategy: S,
    property: impl Fn(S::Value) -> Verdict,
) -> Outcome
where
    S: Strategy,
    S::Value: Debug,
{
    let inputs = Cell::new(0u64);
    let started = Instant::now();
    let result = runner.run(&strategy, |value| {
        inputs.set(inputs.get() + 1);
        IN_CASE.set(true);
        let verdict = panic::catch_unwind(AssertUnwindSafe(|| property(value)));
        IN_CASE.set(false);
        match verdict {
            Ok(Ok(())) => Ok(()),
            Ok(Err(reason)) => Err(TestCaseError::fail(reason)),
            Err(_) => {
                let what = LAST_PANIC
                    .with(|p| p.borrow_mut().take())
                    .unwrap_or_else(|| "<no panic message>".to_string());
                Err(TestCaseError::fail(format!("{PANICKED}{what}")))
            }
        }
    });
    let failure = match result {
        Ok(()) => None,
        Err(TestError::Fail(reason, input)) => {
            let reason = reason.message().to_string();
            Some(Failure {
                panic: reason.starts_with(PANICKED),
                reason,
                input: format!("{input:#?}"),
            })
        }
        Err(TestError::Abort(reason)) => Some(Failure {
            panic: false,
            reason: format!("aborted: {}", reason.message()),
            input: String::new(),
        }),
    };
    Outcome {
        inputs: inputs.get(),
        elapsed: started.elapsed(),
        failure,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_panic_fails_the_target_and_shrinks_to_its_minimal_input() {
        install_panic_hook();
        let mut runner = runner("test", 10_000, 7);
        let outcome = check(&mut runner, 0u32..1_000_000, |n| {
            if n >= 1000 {
                panic!("{n} is out of bounds");
            }
            Ok(())
        });
        let failure = outcome
            .failure
            .unwrap_or_else(|| panic!("no failure found"));
        assert!(failure.panic, "{failure:?}");
        assert!(
            failure.reason.contains("1000 is out of bounds"),
            "{failure:?}"
        );
        assert!(failure.reason.contains("harness.rs"), "{failure:?}");
        assert_eq!(failure.input, "1000");
    }

    #[test]
    fn a_broken_property_is_a_failure_but_not_a_panic() {
        let mut runner = runner("test", 1000, 7);
        let outcome = check(&mut runner, any::<u8>(), |n| {
            if n > 200 {
                Err(format!("{n} is too big"))
            } else {
                Ok(())
            }
        });
        let failure = outcome
            .failure
            .unwrap_or_else(|| panic!("no failure found"));
        assert!(!failure.panic);
        assert_eq!(failure.input, "201");
    }

    #[test]
    fn a_passing_target_runs_every_case_from_a_seed_of_its_own() {
        let mut runner = runner("test", 500, 7);
        let outcome = check(&mut runner, any::<u64>(), |_| Ok(()));
        assert_eq!(outcome.inputs, 500);
        assert!(outcome.failure.is_none());
        assert_ne!(target_seed(7, "phone"), target_seed(7, "classifier"));
        assert_eq!(target_seed(7, "phone"), target_seed(7, "phone"));
    }
}
