//! The report says why requests failed: a server that does not listen
//! refuses them, a link that goes down times their handshakes out, a
//! server that resets or closes accepted connections resets them or ends
//! them early, and a server whose pages are not the client's fails their
//! verification, for both clients.

use rusty_apps::{HttpLoadClient, HttpServer};
use rusty_sim::hosts::rusty::{HostModel, RustyHost};
use rusty_sim::hosts::smoltcp::{SmolHost, SmolHostConfig};
use rusty_sim::kernel::world::World;
use rusty_sim::run::engine::{self, Setup};
use rusty_sim::scenario::workload::{AppStats, Failures, Pages};
use rusty_sim::scenario::{ClientKind, Scenario, Window};
use rusty_stack::mem::cursor::Cursor;
use rusty_stack::tcp::{App, Conn, StaticWriter};
use rusty_stack::time::{Duration, Instant};

fn small(client: ClientKind) -> Scenario {
    let mut s = Scenario::small();
    s.client.kind = client;
    s.client.conns = 4;
    s.validate().expect("valid");
    s
}

/// Runs `setup` for `seconds` of virtual time and returns the failures
/// the JSON report gives, checking they add up to the failed count.
fn failures(setup: &mut Setup, scenario: &Scenario, seconds: u64) -> Failures {
    setup.run_until(
        Instant::ZERO + Duration::from_secs(seconds),
        None,
        &mut |_| {},
    );
    let report = setup.report(scenario);
    let json: serde_json::Value = serde_json::from_str(&report.json()).unwrap();
    let by = &json["requests_failed_by_reason"];
    let f = report.requests_failed_by_reason;
    for (name, n) in [
        ("refused", f.refused),
        ("timeout", f.timeout),
        ("reset", f.reset),
        ("verification", f.verification),
        ("closed_early", f.closed_early),
        ("local", f.local),
    ] {
        assert_eq!(by[name], n, "{name} in {json}");
    }
    assert_eq!(f.total(), report.requests_failed, "{json}");
    assert_eq!(
        f.handshake, 0,
        "every handshake failure is explained: {json}"
    );
    f
}

#[test]
fn a_server_that_does_not_listen_refuses() {
    for client in [ClientKind::Rusty, ClientKind::Smoltcp] {
        let scenario = small(client);
        let mut setup = engine::build(&scenario).unwrap();
        // No `start`: nothing listens on the server's port.
        let f = failures(&mut setup, &scenario, 1);
        assert!(f.refused > 10, "{client:?}: {f:?}");
        assert_eq!(f.total(), f.refused, "{client:?}: {f:?}");
    }
}

#[test]
fn a_link_that_goes_down_times_handshakes_out() {
    for client in [ClientKind::Rusty, ClientKind::Smoltcp] {
        let mut scenario = small(client);
        scenario.links.faults.down = vec![Window {
            from: Instant::ZERO,
            until: Instant::from_secs(1_000_000),
        }];
        scenario.validate().unwrap();
        let mut setup = engine::build(&scenario).unwrap();
        setup.start().unwrap();
        let f = failures(&mut setup, &scenario, 80);
        assert!(f.timeout > 0, "{client:?}: {f:?}");
        assert_eq!(f.refused + f.verification + f.local, 0, "{client:?}: {f:?}");
    }
}

/// The client host of `scenario` (Rusty or smoltcp) expecting `pages`.
fn client_host(scenario: &Scenario, pages: Pages) -> Box<dyn HostModel> {
    match scenario.client.kind {
        ClientKind::Rusty => Box::new(RustyHost::new(
            engine::client_config(scenario),
            |core, port| {
                HttpLoadClient::new(engine::http_client_config(scenario, core, port), pages)
            },
        )),
        ClientKind::Smoltcp => Box::new(SmolHost::new(
            SmolHostConfig::for_scenario(scenario, pages).unwrap(),
        )),
    }
}

/// `server` and the client of `scenario` expecting `pages`, listening.
fn setup(scenario: &Scenario, server: Box<dyn HostModel>, pages: Pages) -> Setup {
    let mut world = World::new();
    let server = world.add_host(server);
    let client = world.add_host(client_host(scenario, pages));
    engine::connect_links(&mut world, scenario, client, server);
    let mut setup = Setup {
        world,
        server,
        client,
        attacker: None,
    };
    setup.start().unwrap();
    setup
}

/// A server that resets every connection when its handshake completes
/// (`Reset`) or closes it at once without answering (`Close`).
#[derive(Clone, Copy, Debug)]
enum Rude {
    Reset,
    Close,
}

impl AppStats for Rude {}

impl App for Rude {
    type Conn = ();
    type Writer = StaticWriter;

    fn accept(&mut self, _: u16, conn: &mut Conn<'_, StaticWriter>) -> Option<()> {
        match self {
            Rude::Reset => None,
            Rude::Close => {
                conn.close();
                Some(())
            }
        }
    }

    fn on_data(&mut self, _: &mut (), _: &mut Conn<'_, StaticWriter>, _: Cursor<'_>) {}

    fn on_remote_close(&mut self, _: &mut (), conn: &mut Conn<'_, StaticWriter>) {
        conn.close();
    }

    fn on_close(&mut self, _: ()) {}

    fn on_reset(&mut self, _: ()) {}
}

#[test]
fn a_server_that_resets_or_closes_accepted_connections() {
    for client in [ClientKind::Rusty, ClientKind::Smoltcp] {
        let scenario = small(client);
        let pages = engine::pages(&scenario);
        for (rude, reason) in [(Rude::Reset, "reset"), (Rude::Close, "closed early")] {
            let server = RustyHost::new(engine::server_config(&scenario).unwrap(), |_, _| rude);
            let mut setup = setup(&scenario, Box::new(server), pages);
            let f = failures(&mut setup, &scenario, 1);
            let n = match rude {
                Rude::Reset => f.reset,
                Rude::Close => f.closed_early,
            };
            assert!(n > 10, "{client:?} {reason}: {f:?}");
            assert_eq!(f.total(), n, "{client:?} {reason}: {f:?}");
        }
    }
}

#[test]
fn pages_that_differ_fail_verification() {
    for client in [ClientKind::Rusty, ClientKind::Smoltcp] {
        let scenario = small(client);
        let served = Pages::small(4, 300);
        // The client expects one byte more of every page.
        let expected = Pages::small(4, 301);
        let server = RustyHost::new(engine::server_config(&scenario).unwrap(), |_, _| {
            HttpServer::new(served)
        });
        let mut setup = setup(&scenario, Box::new(server), expected);
        let f = failures(&mut setup, &scenario, 1);
        assert!(f.verification > 10, "{client:?}: {f:?}");
        assert_eq!(f.total(), f.verification, "{client:?}: {f:?}");
        assert_eq!(setup.client_stats().ok, 0);
    }
}
