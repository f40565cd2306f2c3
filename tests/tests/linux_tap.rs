//! Rusty against the Linux kernel over a TAP device (issue #9).
//!
//! Each test creates its own network namespace, starts one of the
//! `rusty-stack` TAP examples (`httpd`, `fetch`) on a fresh TAP device,
//! moves the device's kernel side into the namespace (10.77.0.1/24; Rusty
//! is 10.77.0.2), and runs Linux tools there: curl, wrk, ping, `ss`, and
//! this repository's epoll page server. The kernel's own TCP counters
//! (`nstat` inside the namespace) show the deviations B1–B5 stay fixed.
//! Everything is torn down when a test ends, also when it fails.
//!
//! They need root, `/dev/net/tun`, `ip`, `nstat`, `ss` and `curl` (plus
//! `wrk` and `ping` for their tests). Without them a test prints why and
//! passes; with `CI=true` a missing requirement fails it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const LINUX_IP: &str = "10.77.0.1";
const RUSTY_IP: &str = "10.77.0.2";

/// Whether the requirements `tools` are met; prints why not, and panics
/// under `CI=true`.
fn ready(test: &str, tools: &[&str]) -> bool {
    let mut missing = Vec::new();
    // Root: the effective user id, from `id -u`.
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    if !root {
        missing.push("root".to_string());
    }
    if !Path::new("/dev/net/tun").exists() {
        missing.push("/dev/net/tun".to_string());
    }
    for tool in ["ip", "nstat", "ss"].iter().chain(tools) {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            missing.push((*tool).to_string());
        }
    }
    if missing.is_empty() {
        return true;
    }
    let why = format!("{test}: skipped, missing {}", missing.join(", "));
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{why} (CI=true requires it)");
    }
    println!("{why}");
    false
}

/// The workspace's target directory, with the TAP examples and the Linux
/// page server built once per test run.
fn binaries() -> &'static PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap()
            .to_path_buf();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        for args in [
            &[
                "build",
                "-p",
                "rusty-stack",
                "--features",
                "tap",
                "--examples",
            ][..],
            &["build", "-p", "rusty-linux-bench", "--bins"][..],
        ] {
            let status = Command::new(&cargo)
                .args(args)
                .current_dir(&root)
                .status()
                .expect("cargo runs");
            assert!(status.success(), "cargo {args:?}");
        }
        let target = std::env::var("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|_| root.join("target"));
        target.join("debug")
    })
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"))
}

fn sh_ok(cmd: &mut Command) {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A network namespace and the TAP device whose kernel side lives in it;
/// processes started through it are killed, and the namespace deleted, on
/// drop.
struct Lab {
    ns: String,
    tap: String,
    children: Vec<Child>,
}

impl Lab {
    /// A new namespace (loopback up); the TAP device comes with
    /// [`Lab::start_rusty`].
    fn new() -> Lab {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let id = std::process::id() % 10_000;
        let lab = Lab {
            ns: format!("rusty-{id}-{n}"),
            tap: format!("rt{id}x{n}"),
            children: Vec::new(),
        };
        sh_ok(Command::new("ip").args(["netns", "add", &lab.ns]));
        sh_ok(Command::new("ip").args(["-n", &lab.ns, "link", "set", "lo", "up"]));
        lab
    }

    /// A command run inside the namespace.
    fn cmd(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns, program]);
        c
    }

    /// Starts a TAP example (`httpd`, `fetch`, ...) with `args`, waits for
    /// its device, and moves the device's kernel side into the namespace as
    /// 10.77.0.1/24. Returns the index of the child.
    fn start_rusty(&mut self, example: &str, args: &[&str]) -> usize {
        let bin = binaries().join("examples").join(example);
        let child = Command::new(bin)
            .args(["--tap", &self.tap, "--ip", &format!("{RUSTY_IP}/24")])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("example starts");
        self.children.push(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while !run(Command::new("ip").args(["link", "show", &self.tap]))
            .status
            .success()
        {
            assert!(
                Instant::now() < deadline,
                "TAP device {} never appeared",
                self.tap
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        sh_ok(Command::new("ip").args(["link", "set", &self.tap, "netns", &self.ns]));
        sh_ok(
            self.cmd("ip")
                .args(["addr", "add", &format!("{LINUX_IP}/24"), "dev", &self.tap]),
        );
        sh_ok(self.cmd("ip").args(["link", "set", &self.tap, "up"]));
        self.children.len() - 1
    }

    /// Starts a program inside the namespace (killed on drop).
    fn start_in_ns(&mut self, program: &Path, args: &[&str]) {
        let child = self
            .cmd(program.to_str().unwrap())
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starts");
        self.children.push(child);
    }

    /// Starts this repository's epoll page server in the namespace on
    /// port 8080 (every address, as the TAP device comes later) and waits
    /// until it listens.
    fn start_linux_server(&mut self) {
        let server = binaries().join("linux-page-server");
        self.start_in_ns(
            &server,
            &["--addr", "0.0.0.0", "--port", "8080", "--workers", "1"],
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let out = run(self.cmd("ss").args(["-tln"]));
            if String::from_utf8_lossy(&out.stdout).contains(":8080") {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the Linux page server never listened"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts the Linux page server and Rusty's `fetch` example for
    /// `requests` pages from it (plus `extra` options); returns the
    /// example's child index.
    fn start_fetch_from_linux(&mut self, requests: u64, extra: &[&str]) -> usize {
        self.start_linux_server();
        let requests = requests.to_string();
        let mut args = vec![
            "--server",
            LINUX_IP,
            "--port",
            "8080",
            "--requests",
            &requests,
        ];
        args.extend_from_slice(extra);
        self.start_rusty("fetch", &args)
    }

    /// Waits for the `fetch` example `i` and checks that it got all
    /// `requests` pages intact.
    fn expect_fetched(&mut self, i: usize, requests: u64, limit: Duration) {
        let out = self.wait(i, limit);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains(&format!("ok {requests} failed 0")),
            "{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Waits for child `i` to exit and returns its output.
    fn wait(&mut self, i: usize, limit: Duration) -> Output {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(_)) = self.children[i].try_wait() {
                break;
            }
            assert!(Instant::now() < deadline, "child {i} still running");
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut child = self.children.remove(i);
        let mut out = Output {
            status: child.wait().unwrap(),
            stdout: Vec::new(),
            stderr: Vec::new(),
        };
        use std::io::Read;
        if let Some(mut s) = child.stdout.take() {
            s.read_to_end(&mut out.stdout).unwrap();
        }
        if let Some(mut s) = child.stderr.take() {
            s.read_to_end(&mut out.stderr).unwrap();
        }
        out
    }

    /// The kernel's TCP counters in the namespace (`nstat -az`).
    fn nstat(&self) -> HashMap<String, u64> {
        let out = run(self.cmd("nstat").args(["-asz"]));
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let mut f = l.split_whitespace();
                Some((f.next()?.to_string(), f.next()?.parse().ok()?))
            })
            .collect()
    }

    /// Fetches `/N.htm` with curl (extra curl options `opts`) and checks
    /// every byte against the page set.
    fn curl_page(&self, page: usize, opts: &[&str]) {
        let out = run(self
            .cmd("curl")
            .args(["-s", "--fail", "-m", "60"])
            .args(opts)
            .arg(format!("http://{RUSTY_IP}/{page}.htm")));
        assert!(
            out.status.success(),
            "curl /{page}.htm: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let want = &rusty_fixtures::page_set().get(page).unwrap().body;
        assert!(
            out.stdout == *want,
            "page {page}: {} bytes, want {}",
            out.stdout.len(),
            want.len()
        );
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = run(Command::new("ip").args(["netns", "del", &self.ns]));
    }
}

fn delta(before: &HashMap<String, u64>, after: &HashMap<String, u64>, key: &str) -> u64 {
    after.get(key).copied().unwrap_or(0) - before.get(key).copied().unwrap_or(0)
}

/// Pages `count` pseudo-random page numbers (fixed).
fn some_pages(count: usize, salt: usize) -> Vec<usize> {
    (0..count)
        .map(|i| (i * 7919 + salt * 104_729) % 500)
        .collect()
}

#[test]
fn linux_curl_fetches_50_pages_byte_exact_and_ping_answers() {
    if !ready("linux_curl_fetches_50_pages_byte_exact", &["curl"]) {
        return;
    }
    let mut lab = Lab::new();
    lab.start_rusty("httpd", &[]);
    for page in some_pages(50, 1) {
        lab.curl_page(page, &[]);
    }
    if ready("linux ping", &["ping"]) {
        let out = run(lab
            .cmd("ping")
            .args(["-c", "3", "-i", "0.2", "-W", "2", RUSTY_IP]));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("3 received"), "{text}");
    }
}

#[test]
fn linux_wrk_100_connections_without_errors() {
    if !ready("linux_wrk_100_connections_without_errors", &["wrk"]) {
        return;
    }
    let mut lab = Lab::new();
    lab.start_rusty("httpd", &[]);
    // The driver lengthened the kernel's queue for the device (iproute2
    // reads it back from the kernel): with the default 1000, a server
    // descheduled for a few ms under this load lost SYNs, and a twice-lost
    // SYN is a 3 s wait that wrk counts as a timeout.
    let link = run(lab.cmd("ip").args(["link", "show", &lab.tap]));
    let link = String::from_utf8_lossy(&link.stdout);
    assert!(link.contains("qlen 10000"), "{link}");
    let before = lab.nstat();
    let out =
        run(lab
            .cmd("wrk")
            .args(["-t2", "-c100", "-d5s", &format!("http://{RUSTY_IP}/1.htm")]));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(!text.contains("Socket errors"), "{text}");
    assert!(!text.contains("Non-2xx"), "{text}");
    let requests: u64 = text
        .lines()
        .find(|l| l.contains("requests in"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(requests > 100, "{text}");
    let after = lab.nstat();
    println!(
        "wrk: {requests} requests; Linux retransmitted {} SYNs and {} segments",
        delta(&before, &after, "TcpExtTCPSynRetrans"),
        delta(&before, &after, "TcpRetransSegs")
    );
}

#[test]
fn linux_rusty_client_fetches_50_pages_from_a_linux_server() {
    if !ready(
        "linux_rusty_client_fetches_50_pages_from_a_linux_server",
        &[],
    ) {
        return;
    }
    let mut lab = Lab::new();
    let i = lab.start_fetch_from_linux(50, &["--conns", "4"]);
    lab.expect_fetched(i, 50, Duration::from_secs(120));
}

/// B1: a reader that stops reading closes Linux's window; Rusty's
/// zero-window probes and ACKs stay inside it, so the kernel counts nothing
/// beyond its window, and the page arrives intact.
#[test]
fn linux_zero_window_probes_stay_inside_linux_window() {
    if !ready(
        "linux_zero_window_probes_stay_inside_linux_window",
        &["bash", "dd", "sleep"],
    ) {
        return;
    }
    let mut lab = Lab::new();
    // A small receive buffer closes the window quickly.
    sh_ok(
        lab.cmd("sysctl")
            .args(["-qw", "net.ipv4.tcp_rmem=4096 8192 16384"]),
    );
    lab.start_rusty("httpd", &[]);
    let before = lab.nstat();
    // Page 3 is 117 KB. The reader sends the request, reads nothing for
    // 1.5 s (the 16 KB buffer fills, the window closes, Rusty probes),
    // reads exactly 40 KB, stops again for 1 s, then reads the rest.
    let script = format!(
        "exec 3<>/dev/tcp/{RUSTY_IP}/80 && \
         printf 'GET /3.htm HTTP/1.0\\r\\nHost: rusty\\r\\n\\r\\n' >&3 && \
         sleep 1.5 && \
         dd bs=4096 count=10 iflag=fullblock status=none <&3 && \
         sleep 1 && \
         timeout 30 cat <&3"
    );
    let out = run(lab.cmd("bash").args(["-c", &script]));
    assert!(
        out.status.success(),
        "slow reader: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want = &rusty_fixtures::page_set().get(3).unwrap().body;
    let body = out
        .stdout
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| &out.stdout[i + 4..])
        .unwrap_or_else(|| panic!("no response head in {} bytes", out.stdout.len()));
    assert!(
        body == &want[..],
        "page 3: {} bytes, want {}",
        body.len(),
        want.len()
    );
    let after = lab.nstat();
    assert!(
        delta(&before, &after, "TcpExtTCPToZeroWindowAdv") > 0,
        "the window never closed: {after:?}"
    );
    assert_eq!(delta(&before, &after, "TcpExtBeyondWindow"), 0, "{after:?}");
}

/// B2 and B4: with reordering and loss on Rusty's side, no RST storm from
/// the kernel (late ACKs to Rusty's TIME-WAIT entries are rate-limited) and
/// no SACK reneging.
#[test]
fn linux_reordering_causes_no_rst_storm_and_no_reneging() {
    if !ready(
        "linux_reordering_causes_no_rst_storm_and_no_reneging",
        &["curl"],
    ) {
        return;
    }
    let mut lab = Lab::new();
    lab.start_rusty(
        "httpd",
        &["--impair", "reorder=0.1,loss=0.03,delay=1ms,seed=5"],
    );
    let before = lab.nstat();
    let pages = some_pages(30, 2);
    for &page in &pages {
        lab.curl_page(page, &[]);
    }
    let after = lab.nstat();
    assert_eq!(
        delta(&before, &after, "TcpExtTCPSACKReneging"),
        0,
        "{after:?}"
    );
    let resets = delta(&before, &after, "TcpOutRsts");
    assert!(
        resets <= pages.len() as u64,
        "{resets} RSTs for {} connections",
        pages.len()
    );
    assert!(
        delta(&before, &after, "TcpExtTCPSACKReorder") + delta(&before, &after, "TcpRetransSegs")
            > 0,
        "the impairment had an effect: {after:?}"
    );
}

/// B5: Rusty's window scales past 64 KiB, and Linux keeps more than 64 KiB
/// in flight towards it (a first flight of 64 segments, over a 40 ms
/// round trip).
#[test]
fn linux_sends_more_than_64_kib_in_flight_to_rusty() {
    if !ready("linux_sends_more_than_64_kib_in_flight_to_rusty", &[]) {
        return;
    }
    let mut lab = Lab::new();
    let i = lab.start_fetch_from_linux(30, &["--impair", "delay=20ms"]);
    sh_ok(lab.cmd("ip").args([
        "route",
        "change",
        "10.77.0.0/24",
        "dev",
        &lab.tap,
        "initcwnd",
        "64",
    ]));
    let mut max_unacked = 0u64;
    while lab.children[i].try_wait().unwrap().is_none() {
        let out = run(lab.cmd("ss").args(["-tin", "state", "established"]));
        for word in String::from_utf8_lossy(&out.stdout).split_whitespace() {
            if let Some(n) = word.strip_prefix("unacked:") {
                max_unacked = max_unacked.max(n.parse().unwrap_or(0));
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    lab.expect_fetched(i, 30, Duration::from_secs(5));
    assert!(
        max_unacked * 1448 > 64 * 1024,
        "at most {max_unacked} segments in flight"
    );
}

/// Replay: a capture the httpd example writes with `--pcap` while curl
/// fetches pages (once clean, once with loss and reordering injected
/// between the stack and the device) replays exactly, every frame the
/// stack sent reproduced from the frames it received, and adaptively,
/// every flow completing against a live stack.
#[test]
fn linux_capture_of_a_live_run_replays_in_both_modes() {
    if !ready(
        "linux_capture_of_a_live_run_replays_in_both_modes",
        &["curl"],
    ) {
        return;
    }
    use rusty_sim::run::replay::{adaptive, exact, settings::SidecarFile, Capture};
    for (name, impair) in [
        ("clean", ""),
        ("impaired", "loss=0.03,reorder=0.05,delay=1ms,seed=11"),
    ] {
        let dir = std::env::temp_dir().join(format!("rusty-live-replay-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pcap = dir.join(format!("{name}.pcap"));
        let mut lab = Lab::new();
        let i = lab.start_rusty(
            "httpd",
            &[
                "--pcap",
                pcap.to_str().unwrap(),
                "--duration",
                "5",
                "--impair",
                impair,
            ],
        );
        for page in some_pages(6, 3) {
            lab.curl_page(page, &[]);
        }
        let out = lab.wait(i, Duration::from_secs(30));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // The TAP driver gathers: the pages' bodies went out as reference
        // slots (no writer copied them), and curl got every byte right.
        let stdout = String::from_utf8_lossy(&out.stdout);
        let meter: Vec<u64> = stdout
            .lines()
            .find_map(|l| l.strip_prefix("meter tx_references "))
            .map(|rest| {
                rest.split_whitespace()
                    .filter_map(|w| w.parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        let [references, copied] = meter[..] else {
            panic!("no meter line in httpd's output: {stdout}");
        };
        assert!(
            references > 0,
            "{name}: no body sent by reference: {stdout}"
        );
        // Copied: the headers, and pieces under the reference minimum (a
        // body's tail, retransmitted remnants); far less than the bodies.
        let bodies: usize = some_pages(6, 3)
            .into_iter()
            .map(|p| rusty_fixtures::page_set().get(p).unwrap().body.len())
            .sum();
        assert!(
            copied * 10 < bodies as u64,
            "{name}: {copied} payload bytes copied for {bodies} bytes of bodies: {stdout}"
        );
        let capture = Capture::load(&pcap).unwrap();
        let settings = SidecarFile::load(&pcap.with_extension("toml"))
            .unwrap()
            .unwrap()
            .settings()
            .unwrap();
        let r = exact::replay(&capture, &settings).unwrap();
        assert_eq!(r.divergence, None, "{name}: {r:?}");
        assert!(r.matched > 30, "{name}: {r:?}");
        let r = adaptive::replay(&capture, &settings).unwrap();
        assert_eq!(r.flows.len(), 6, "{name}: {r:?}");
        assert!(r.all_completed(), "{name}: {r:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
