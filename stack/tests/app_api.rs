//! The app API beyond the handlers' arguments: app timers
//! ([`Conn::set_timer`] and [`App::on_timer`]), acting on a connection from
//! outside a handler ([`Stack::with_conn`]), and the default close handlers.
//! The timers allocate nothing: a counting allocator watches a thousand of
//! them.

mod support;

use rusty_alloc_counter::{thread_allocations, CountingAllocator};

use rusty_stack::mem::cursor::Cursor;
use rusty_stack::tcp::{App, Conn, ConnId, StaticWriter};
use rusty_stack::time::{Duration, Instant};
use support::{test_config, Net, Script, IP_A};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// A server that, once a client connects, sends `tick` every `period`
/// from its app timer, `ticks` times, then closes. It records when each
/// tick fired, and keeps the ids of its connections for `with_conn`. Only
/// `accept`, `on_data` and `on_timer` are written: the close handlers are
/// the defaults.
struct Ticker {
    period: Duration,
    ticks: u32,
    fired: Vec<Instant>,
    ids: Vec<ConnId>,
    /// Cancel the timer as soon as it is set (nothing must fire).
    cancel: bool,
}

impl Ticker {
    fn new(period: Duration, ticks: u32) -> Self {
        Ticker {
            period,
            ticks,
            fired: Vec::with_capacity(4096),
            ids: Vec::with_capacity(16),
            cancel: false,
        }
    }
}

impl App for Ticker {
    /// Ticks left.
    type Conn = u32;
    type Writer = StaticWriter;

    fn accept(&mut self, _port: u16, conn: &mut Conn<'_, StaticWriter>) -> Option<u32> {
        self.ids.push(conn.id());
        let at = conn.now() + self.period;
        conn.set_timer(at);
        assert_eq!(conn.timer(), Some(at));
        if self.cancel {
            conn.cancel_timer();
            assert_eq!(conn.timer(), None);
        }
        Some(self.ticks)
    }

    fn on_data(&mut self, _: &mut u32, _: &mut Conn<'_, StaticWriter>, _: Cursor<'_>) {}

    fn on_timer(&mut self, left: &mut u32, conn: &mut Conn<'_, StaticWriter>) {
        assert_eq!(conn.timer(), None, "a fired timer is no longer set");
        self.fired.push(conn.now());
        conn.send(4, StaticWriter(b"tick")).unwrap();
        *left -= 1;
        if *left == 0 {
            conn.close();
        } else {
            let at = conn.now() + self.period;
            conn.set_timer(at);
        }
    }
}

/// A client connecting to the ticker.
fn client() -> Script {
    Script {
        connects: vec![(IP_A, 80)],
        ..Script::default()
    }
}

#[test]
fn app_timers_fire_in_order_and_carry_data() {
    let period = Duration::from_millis(50);
    let mut net = Net::new(
        Ticker::new(period, 3),
        client(),
        test_config(),
        test_config(),
    );
    net.a.listen(80, 16).unwrap();
    net.run_for(Duration::from_secs(2));
    let fired = &net.a.app().fired;
    assert_eq!(fired.len(), 3, "{fired:?}");
    for (i, pair) in fired.windows(2).enumerate() {
        let gap = pair[1] - pair[0];
        assert!(gap >= period, "tick {i}: {gap:?}");
        assert!(
            gap <= period + Duration::from_millis(20),
            "tick {i}: {gap:?}"
        );
    }
    let log = &net.b.app().logs[0];
    assert_eq!(log.received, b"tickticktick");
    assert!(log.remote_closed && log.closed, "{log:?}");
    // The default `on_remote_close` closed the server's side, and the
    // default `on_close` took its state: nothing is left.
    assert_eq!(net.a.active_connections(), 0);
}

#[test]
fn a_cancelled_timer_never_fires() {
    let mut ticker = Ticker::new(Duration::from_millis(10), 1);
    ticker.cancel = true;
    let mut net = Net::new(ticker, client(), test_config(), test_config());
    net.a.listen(80, 16).unwrap();
    net.run_for(Duration::from_secs(1));
    assert!(net.a.app().fired.is_empty());
    assert!(net.b.app().logs[0].received.is_empty());
}

#[test]
fn with_conn_acts_from_outside_a_handler() {
    let mut ticker = Ticker::new(Duration::from_secs(3600), 1);
    ticker.cancel = true;
    let mut net = Net::new(ticker, client(), test_config(), test_config());
    net.a.listen(80, 16).unwrap();
    net.run_for(Duration::from_millis(10));
    let id = net.a.app().ids[0];
    let now = net.now;
    let sent = net.a.with_conn(&mut net.da, now, id, |app, left, conn| {
        assert_eq!(*left, 1);
        assert_eq!(conn.id(), id);
        assert!(app.fired.is_empty());
        conn.send(5, StaticWriter(b"hello"))?;
        conn.close();
        Ok::<_, rusty_stack::tcp::SendError>(conn.send_capacity())
    });
    assert!(matches!(sent, Some(Ok(_))), "{sent:?}");
    net.run_for(Duration::from_secs(1));
    let log = &net.b.app().logs[0];
    assert_eq!(log.received, b"hello");
    assert!(log.remote_closed && log.closed, "{log:?}");
    // The connection is gone: its id is stale.
    let now = net.now;
    let again = net.a.with_conn(&mut net.da, now, id, |_, _, _| ());
    assert!(again.is_none());
}

/// A client that opens one connection to the ticker and counts what it
/// gets (it allocates nothing, so the count below is the server's).
struct Sink {
    connect: bool,
    bytes: usize,
}

impl App for Sink {
    type Conn = ();
    type Writer = StaticWriter;

    fn accept(&mut self, _: u16, _: &mut Conn<'_, StaticWriter>) -> Option<()> {
        None
    }

    fn on_data(&mut self, _: &mut (), _: &mut Conn<'_, StaticWriter>, data: Cursor<'_>) {
        self.bytes += data.len();
    }

    fn next_connect(&mut self, _now: Instant) -> Option<rusty_stack::Connect<()>> {
        std::mem::take(&mut self.connect).then_some(rusty_stack::Connect {
            addr: IP_A,
            port: 80,
            state: (),
        })
    }
}

#[test]
fn app_timers_allocate_nothing() {
    let period = Duration::from_millis(1);
    let ticks = 1000;
    let sink = Sink {
        connect: true,
        bytes: 0,
    };
    let mut net = Net::quiet(
        Ticker::new(period, ticks),
        sink,
        test_config(),
        test_config(),
    );
    net.a.listen(80, 16).unwrap();
    // Warm-up: the handshake and the first ticks.
    net.run_for(Duration::from_millis(20));
    let before_fired = net.a.app().fired.len();
    let before = thread_allocations();
    net.run_for(Duration::from_millis(900));
    let allocations = thread_allocations() - before;
    let fired = net.a.app().fired.len() - before_fired;
    assert!(fired >= 800, "only {fired} ticks");
    assert_eq!(net.b.app().bytes, 4 * net.a.app().fired.len());
    assert_eq!(
        allocations, 0,
        "{allocations} allocations over {fired} ticks"
    );
}
