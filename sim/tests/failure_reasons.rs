//! The report says why requests failed: a server that does not listen
//! refuses them, a link that goes down times their handshakes out, and a
//! server whose pages are not the client's fails their verification, for
//! both clients where the client can run the case.

use rusty_sim::engine::{self, Setup};
use rusty_sim::host::RustyHost;
use rusty_sim::scenario::{ClientKind, DownSpec, Scenario};
use rusty_sim::workload::{Failures, Pages};
use rusty_sim::world::World;
use rusty_stack::apps::{HttpLoadClient, HttpServer};
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
        scenario.links.faults.down = vec![DownSpec {
            from_s: 0.0,
            until_s: 1e6,
        }];
        scenario.validate().unwrap();
        let mut setup = engine::build(&scenario).unwrap();
        setup.start().unwrap();
        let f = failures(&mut setup, &scenario, 80);
        assert!(f.timeout > 0, "{client:?}: {f:?}");
        assert_eq!(f.refused + f.verification + f.local, 0, "{client:?}: {f:?}");
    }
}

#[test]
fn pages_that_differ_fail_verification() {
    let scenario = small(ClientKind::Rusty);
    let served = Pages::small(4, 300);
    // The client expects one byte more of every page.
    let expected = Pages::small(4, 301);
    let mut world = World::new();
    let server_config = engine::server_config(&scenario).unwrap();
    let server = world.add_host(Box::new(RustyHost::new(server_config, |_, _| {
        HttpServer::new(served)
    })));
    let client_config = engine::client_config(&scenario);
    let client = world.add_host(Box::new(RustyHost::new(client_config, |core, port| {
        HttpLoadClient::new(engine::http_client_config(&scenario, core, port), expected)
    })));
    engine::connect_links(&mut world, &scenario, client, server);
    let mut setup = Setup {
        world,
        server,
        client,
    };
    setup.start().unwrap();
    let f = failures(&mut setup, &scenario, 1);
    assert!(f.verification > 10, "{f:?}");
    assert_eq!(f.total(), f.verification, "{f:?}");
    assert_eq!(setup.client_stats().ok, 0);
}
