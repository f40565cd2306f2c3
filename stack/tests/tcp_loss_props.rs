//! Property: whatever frames a lossy wire drops (either direction, any
//! pattern, handshake and FINs included), a request and a response of any
//! size arrive byte for byte, both sides close, and every slot is freed —
//! or, if the loss is so heavy that a side gives up, it reports a reset and
//! still frees everything.

mod support;

use proptest::prelude::*;
use rusty_stack::tcp::TcpConfig;
use rusty_stack::time::Duration;
use support::*;

fn lossy(seed: u64, percent: u64) -> impl FnMut(u64, &[u8]) -> bool {
    let mut x = seed | 1;
    move |_, _| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % 100 < percent
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn transfers_survive_loss(
        request_len in 1usize..40_000,
        response_len in 1usize..60_000,
        seed_a in any::<u64>(),
        seed_b in any::<u64>(),
        loss in 0u64..25,
        sack in any::<bool>(),
        timestamps in any::<bool>(),
    ) {
        let config = TcpConfig { sack, timestamps, ..test_config() };
        let request = data(request_len, 1);
        let response = data(response_len, 2);
        let client = Script {
            request: Some(request.clone()),
            connects: vec![(IP_B, 80)],
            ..Script::default()
        };
        let server = Script { reply: Some(response.clone()), close_after_reply: true, ..Script::default() };
        let mut net = Net::new(client, server, config.clone(), config);
        net.b.listen(80, 16).unwrap();
        net.da.set_loss_filter(lossy(seed_a, loss));
        net.db.set_loss_filter(lossy(seed_b, loss));
        net.run_for(Duration::from_secs(600));
        let a = &net.a.app().logs[0];
        if a.reset {
            prop_assert!(a.received.len() <= response_len);
            prop_assert!(a.received[..] == response[..a.received.len()], "prefix intact");
        } else {
            prop_assert!(a.closed, "client closed: {a:?}");
            prop_assert!(a.received[..] == response[..], "response intact");
            let b = &net.b.app().logs[0];
            prop_assert!(b.received[..] == request[..], "request intact");
        }
        // Nothing is left behind (TIME-WAIT ends within the run).
        prop_assert_eq!(net.a.active_connections(), 0);
        prop_assert_eq!(net.b.active_connections(), 0);
        prop_assert_eq!(net.a.time_wait_connections() + net.b.time_wait_connections(), 0);
    }
}
