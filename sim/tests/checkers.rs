//! The checkers that are always on (`rusty_sim::kernel::check`): every
//! one passes on normal runs and fails, with a typed error naming the seed
//! and the event, on a deliberately broken state; the engine surfaces a
//! violation as a failed run (exit code 1 from `rusty-sim run`).

use rusty_apps::HttpServer;
use rusty_sim::cli::{self, Progress, RunOptions, EXIT_FAILURE};
use rusty_sim::hosts::rusty::{CoreRun, CoreStats, HostModel, Outbox, RustyHost};
use rusty_sim::kernel::check::{CheckError, Checker, Checks, DEFAULT_CHECK_EVERY};
use rusty_sim::kernel::world::World;
use rusty_sim::net::nic::NicStats;
use rusty_sim::run::engine::{self, EngineError};
use rusty_sim::run::report::Report;
use rusty_sim::scenario::workload::ClientStats;
use rusty_sim::scenario::{Scenario, Workload};
use rusty_stack::stats::{IfaceCounters, TcpCounters};
use rusty_stack::time::{Duration, Instant};

/// Checks that keep the violation (instead of panicking in debug builds).
fn keeping(world: &World) -> Checks {
    Checks {
        panic: false,
        ..world.checks()
    }
}

#[test]
fn normal_runs_pass_every_checker() {
    let mut bulk = Scenario::small();
    bulk.workload = Workload::Bulk { bytes: 200_000 };
    bulk.name = "small-bulk".into();
    let mut lossy_bulk = Scenario::small_lossy();
    lossy_bulk.workload = Workload::Bulk { bytes: 200_000 };
    lossy_bulk.name = "small-lossy-bulk".into();
    let mut fcs = Scenario::small_lossy();
    fcs.links.faults.corrupt = 0.02;
    fcs.links.faults.fcs_drop = 0.5;
    fcs.name = "small-fcs".into();
    for scenario in [
        Scenario::small(),
        Scenario::small_echo(),
        Scenario::small_lossy(),
        bulk,
        lossy_bulk,
        fcs,
    ] {
        scenario.validate().unwrap();
        // The engine checks at every checkpoint and at the end.
        let report = engine::run(&scenario, &RunOptions::default(), &mut |_| {})
            .unwrap_or_else(|e| panic!("{}: {e}", scenario.name));
        assert!(report.requests_ok > 0, "{}", scenario.name);
        // Many checkpoints ran, and the state after a drain checks too.
        let mut setup = engine::build(&scenario).unwrap();
        // Checkpoints often (panicking at a violation in debug builds).
        let checks = setup.world.checks();
        setup.world.set_checks(Checks {
            every: 97,
            ..checks
        });
        setup.start().unwrap();
        let end = Instant::ZERO + Duration::from_nanos((scenario.duration * 1e9) as u64);
        setup.run_until(end, None, &mut |_: Progress| {});
        assert!(
            setup.world.events_processed() > 10 * 97,
            "{}: {} events",
            scenario.name,
            setup.world.events_processed()
        );
        assert_eq!(setup.world.check(), Ok(()), "{}", scenario.name);
        assert!(setup.drain(Duration::from_secs(60)), "{}", scenario.name);
        assert_eq!(setup.world.check(), Ok(()), "{}", scenario.name);
    }
}

#[test]
fn a_leaked_buffer_fails_buffer_conservation() {
    let scenario = Scenario::small();
    let pages = engine::pages(&scenario);
    let mut host = RustyHost::new(engine::server_config(&scenario).unwrap(), |_, _| {
        HttpServer::new(pages)
    });
    let mut world = World::new();
    world.set_checks(Checks {
        seed: 77,
        ..keeping(&world)
    });
    assert!(host.leak_buffer_for_test(1, 0));
    world.add_host(Box::new(host));
    let e = world.check().unwrap_err();
    assert_eq!(e.checker, Checker::BufferConservation, "{e}");
    assert_eq!(e.seed, 77);
    let text = e.to_string();
    assert!(text.contains("server core 1 port 0"), "{text}");
    assert!(text.contains("1 buffers in use"), "{text}");
    assert!(text.contains("seed 77"), "{text}");
}

#[test]
fn a_leak_during_a_run_stops_it_at_the_next_checkpoint() {
    let scenario = Scenario::small();
    // A server that leaked one buffer before the run.
    let pages = engine::pages(&scenario);
    let mut server = RustyHost::new(engine::server_config(&scenario).unwrap(), |_, _| {
        HttpServer::new(pages)
    });
    server.leak_buffer_for_test(0, 0);
    let mut world = World::new();
    world.set_checks(Checks {
        seed: scenario.seed,
        ..keeping(&world)
    });
    let server = world.add_host(Box::new(server));
    let client = world.add_host(Box::new(RustyHost::new(
        engine::client_config(&scenario),
        |core, port| {
            rusty_apps::HttpLoadClient::new(
                engine::http_client_config(&scenario, core, port),
                pages,
            )
        },
    )));
    engine::connect_links(&mut world, &scenario, client, server);
    world
        .host_mut(server)
        .listen(engine::SERVER_PORT, 1024)
        .unwrap();
    world.run_until(Instant::ZERO + Duration::from_secs(1), |_| false);
    let e = world
        .violation()
        .expect("a checkpoint found the leak")
        .clone();
    assert_eq!(e.checker, Checker::BufferConservation, "{e}");
    assert_eq!(e.event, DEFAULT_CHECK_EVERY, "the first checkpoint: {e}");
    assert_eq!(
        world.events_processed(),
        DEFAULT_CHECK_EVERY,
        "stopped there"
    );
    assert_eq!(world.check(), Err(e));
}

#[test]
fn a_vanished_frame_fails_frame_conservation() {
    let scenario = Scenario::small();
    let mut setup = engine::build(&scenario).unwrap();
    let checks = keeping(&setup.world);
    setup.world.set_checks(Checks { every: 0, ..checks });
    setup.start().unwrap();
    let mut lost = false;
    let mut t = Instant::ZERO;
    while !lost {
        t += Duration::from_micros(10);
        setup.world.run_until(t, |_| false);
        assert_eq!(setup.world.check(), Ok(()));
        lost = setup.world.lose_in_flight_frame_for_test();
    }
    let e = setup.world.check().unwrap_err();
    assert_eq!(e.checker, Checker::FrameConservation, "{e}");
    assert!(e.to_string().contains("in flight"), "{e}");
    // Still broken once the frame's arrival has come and gone.
    setup
        .world
        .run_until(t + Duration::from_millis(5), |_| false);
    let e = setup.world.check().unwrap_err();
    assert_eq!(e.checker, Checker::FrameConservation, "{e}");
}

/// A client host whose app says it received bytes that differ from what
/// its peer wrote.
struct CorruptClient;

impl HostModel for CorruptClient {
    fn name(&self) -> &str {
        "client"
    }
    fn cores(&self) -> usize {
        1
    }
    fn ports(&self) -> usize {
        0
    }
    fn deliver(&mut self, _: usize, _: &[u8], _: Instant) -> Option<usize> {
        None
    }
    fn run_core(&mut self, _: usize, now: Instant, _: &mut Outbox) -> CoreRun {
        CoreRun {
            busy_until: now,
            wake_at: None,
        }
    }
    fn core_stats(&self, _: usize) -> CoreStats {
        CoreStats::default()
    }
    fn iface_counters(&self) -> IfaceCounters {
        IfaceCounters::default()
    }
    fn tcp_counters(&self) -> TcpCounters {
        TcpCounters::default()
    }
    fn nic_stats(&self) -> NicStats {
        NicStats::default()
    }
    fn client_stats(&self) -> Option<ClientStats> {
        Some(ClientStats {
            bytes_ok: 100,
            bytes_corrupt: 3,
            ..ClientStats::default()
        })
    }
}

#[test]
fn corrupt_bytes_fail_stream_integrity() {
    let mut world = World::new();
    world.set_checks(keeping(&world));
    world.add_host(Box::new(CorruptClient));
    world.run_until(Instant::ZERO + Duration::from_millis(1), |_| false);
    let e = world.check().unwrap_err();
    assert_eq!(e.checker, Checker::StreamIntegrity, "{e}");
    assert!(e.to_string().contains("client: 3 bytes"), "{e}");
}

#[test]
#[cfg(debug_assertions)]
#[should_panic(expected = "buffer conservation check failed")]
fn debug_builds_panic_at_a_checkpoint_violation() {
    let scenario = Scenario::small();
    let pages = engine::pages(&scenario);
    let mut host = RustyHost::new(engine::server_config(&scenario).unwrap(), |_, _| {
        HttpServer::new(pages)
    });
    host.leak_buffer_for_test(0, 0);
    let mut world = World::new();
    world.set_checks(Checks {
        every: 1,
        ..world.checks()
    });
    world.add_host(Box::new(host));
    world.run_until(Instant::ZERO + Duration::from_millis(1), |_| false);
}

fn failing_engine(
    scenario: &Scenario,
    _: &RunOptions,
    _: &mut dyn FnMut(Progress),
) -> Result<Report, EngineError> {
    Err(EngineError::Check(CheckError {
        seed: scenario.seed,
        at: Instant::ZERO + Duration::from_millis(3),
        event: 16384,
        checker: Checker::FrameConservation,
        what: "link 0 A->B: delivered 5, scheduled 5, arrived 3 + in flight 1".into(),
    }))
}

#[test]
fn a_violation_fails_rusty_sim_run_with_exit_code_1() {
    use clap::Parser;
    let cli = cli::Cli::try_parse_from(["rusty-sim", "run", "small", "--seed", "9"]).unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = cli::execute(cli, failing_engine, &mut out, &mut err, false);
    assert_eq!(code, EXIT_FAILURE);
    let err = String::from_utf8(err).unwrap();
    assert!(
        err.contains("frame conservation check failed (seed 9, t = "),
        "{err}"
    );
    assert!(err.contains("event 16384"), "{err}");
}
