//! The cost profiles against what they were built from: the instruction
//! prices against callgrind's count of a bench request, and the
//! `rusty-2015` profile against the thesis's scalability curve, every
//! point but the two it was fitted to being a prediction.

use rusty_sim::hosts::cost::{CostModel, Pricer};
use rusty_sim::run::bench::rusty::RustyPair;
use rusty_sim::run::bench::{BenchConfig, BenchPair, BenchStack, Stop};
use rusty_sim::run::scale::{self, ScaleConfig};
use rusty_stack::meter::CostMeter;

/// callgrind, `rusty-sim bench --stack rusty --conns 1` (release build,
/// 2026-12-03, the meter on): instructions per request of both ends, the
/// difference between runs of 1,000 and 3,000 requests over 2,000 (415.4 k),
/// less the client's byte compare (`memcmp`, 19.0 k: application work,
/// which the profiles do not price).
const MEASURED_INSTRUCTIONS_PER_REQUEST: f64 = 396_400.0;

/// Both ends' meters added up, field by field.
fn both(pair: &RustyPair) -> CostMeter {
    let mut sum = *pair.server().meter();
    sum += *pair.client().meter();
    sum
}

/// Runs `pair` until `ok` requests are done.
fn run_to(pair: &mut RustyPair, ok: u64) {
    while pair.totals().ok < ok {
        if !pair.round() {
            assert!(pair.advance(), "the bench stalled at {:?}", pair.totals());
        }
    }
}

#[test]
fn the_instruction_prices_add_up_to_the_measured_bench_request() {
    let config = BenchConfig::new(BenchStack::Rusty, 1, Stop::Requests(2000));
    let mut pair = RustyPair::new(&config).expect("a pair");
    run_to(&mut pair, 1000);
    let start = both(&pair);
    run_to(&mut pair, 3000);
    let end = both(&pair);
    let pricer = Pricer::new(CostModel::TILEGX36, 1024);
    let per_request = (pricer.instructions(&end) - pricer.instructions(&start)) as f64 / 2000.0;
    let error = per_request / MEASURED_INSTRUCTIONS_PER_REQUEST - 1.0;
    println!(
        "priced {per_request:.0} instructions per request against callgrind's \
         {MEASURED_INSTRUCTIONS_PER_REQUEST:.0} ({:+.1}%)",
        error * 100.0
    );
    assert!(error.abs() < 0.05, "{:+.1}%", error * 100.0);
    assert_eq!(pair.totals().bytes_corrupt, 0);
}

#[test]
fn the_original_stack_reproduces_the_thesis_curve() {
    // `rusty-sim scale --profile rusty-2015 --workers 1..35`, the thesis's
    // sweep: within the figure's reading error at every point the thesis
    // measured, the two fitted ones (1 and 35 workers) included.
    let config = ScaleConfig {
        profile: CostModel::RUSTY_2015,
        ..ScaleConfig::default()
    };
    let points = scale::points(&config);
    let results = scale::run_points(&config, &points, 2, &|_| {}).expect("the sweep runs");
    let mut compared = 0;
    let mut worst: f64 = 0.0;
    for r in &results {
        assert_eq!((r.requests_failed, r.bytes_corrupt), (0, 0), "{r:?}");
        let Some(thesis) = r.thesis_gbps else {
            continue;
        };
        compared += 1;
        worst = worst.max(((r.gbps - thesis) / thesis).abs());
        println!(
            "{:>2} workers: {:.3} Gbps, thesis {thesis:.3}",
            r.workers, r.gbps
        );
        assert!(
            scale::within_reading_error(r.gbps, thesis),
            "{} workers: {:.3} Gbps against the thesis's {thesis}",
            r.workers,
            r.gbps
        );
    }
    assert_eq!(compared, 13, "the thesis's 13 points");
    println!("largest relative error {:.1}%", worst * 100.0);
}

#[test]
fn our_stack_on_the_chip_outruns_the_original_at_every_worker_count() {
    let config = ScaleConfig {
        workers: vec![1, 4, 8],
        duration_s: 0.2,
        ..ScaleConfig::default()
    };
    let points = scale::points(&config);
    let ours = scale::run_points(&config, &points, 2, &|_| {}).expect("runs");
    let original = ScaleConfig {
        profile: CostModel::RUSTY_2015,
        ..config.clone()
    };
    let theirs = scale::run_points(&original, &points, 2, &|_| {}).expect("runs");
    for (a, b) in ours.iter().zip(&theirs) {
        assert!(a.gbps > 3.0 * b.gbps, "{a:?}\n{b:?}");
        assert_eq!(a.requests_failed, 0);
    }
}
