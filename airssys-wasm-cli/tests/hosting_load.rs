//! Load on a real host: one deployment flooded with calls that spin until
//! their fuel runs out leaves another its latency, the host's memory stays
//! put, and a shutdown under load loses no acknowledged call. Its own test
//! binary, so no other test competes for the cores while it measures.

#[path = "hosting/common.rs"]
mod common;

use std::time::{Duration, Instant};

use common::*;

#[test]
fn shutdown_under_load_loses_no_acknowledged_call_and_a_flood_leaves_others_their_latency() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let cfg = config(tmp.path(), "");
    let v1 = write(tmp.path(), "v1.wasm", &app(1));
    let host = HostProc::start(&state, &cfg);
    ok(&host.cli(&["deploy", &v1, "--name", "calm"]));
    ok(&host.cli(&["deploy", &v1, "--name", "flooded", "--pool", "1"]));
    let socket = host.socket.clone();
    let client = || airssys_wasm_host::Client::socket(&socket);
    let call = |c: &airssys_wasm_host::Client, name: &str, f: &str| {
        c.post::<_, airssys_wasm_host::api::CallResult>(
            "call",
            &airssys_wasm_host::api::CallRequest {
                name: name.into(),
                call: f.into(),
            },
        )
    };
    let p99 = |c: &airssys_wasm_host::Client, n: usize| {
        let mut v: Vec<Duration> = (0..n)
            .map(|_| {
                let t = Instant::now();
                call(c, "calm", "add(1, 2)").expect("a calm call succeeds");
                t.elapsed()
            })
            .collect();
        v.sort();
        v[n * 99 / 100]
    };
    let c = client();
    p99(&c, 50);
    let unloaded = p99(&c, 400);
    let rss_before = host.rss_kib();
    let stop = std::sync::atomic::AtomicBool::new(false);
    let (loaded, flood_calls) = std::thread::scope(|s| {
        let floods: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    let c = client();
                    let mut n = 0u32;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let e = call(&c, "flooded", "spin()").unwrap_err().to_string();
                        assert!(e.contains("fuel") || e.contains("unavailable"), "{e}");
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(200));
        let loaded = p99(&c, 400);
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        (
            loaded,
            floods.into_iter().map(|f| f.join().unwrap()).sum::<u32>(),
        )
    });
    let rss_after = host.rss_kib();
    eprintln!(
        "calm p99: {unloaded:?} unloaded, {loaded:?} beside {flood_calls} flooding calls; host memory {rss_before} KiB before, {rss_after} KiB after"
    );
    assert!(flood_calls > 0);
    // The flooded deployment holds one core spinning (its pool is 1 and
    // its callers beyond that wait without a worker). Were the calm
    // deployment's calls queued behind the spinning ones, each would wait
    // a whole spin (about 30 ms of fuel, over 20 times its p99). On two
    // cores the scheduler's sharing with the spinning thread costs the
    // calm path 2 to 4 times its p99 today (the figure printed above);
    // the bound here (twice the p99 and 10 ms, a third of one spin)
    // catches starvation, not that sharing.
    assert!(
        loaded <= unloaded * 2 + Duration::from_millis(10),
        "the calm deployment's p99 went from {unloaded:?} to {loaded:?} under the flood"
    );
    assert!(
        rss_after < rss_before + 64 * 1024,
        "{rss_before} KiB → {rss_after} KiB"
    );

    // Shutdown under load: every call answered before the host stopped
    // was recorded in the audit log, which verifies.
    let acknowledged = std::thread::scope(|s| {
        let callers: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    let c = client();
                    let mut ok = 0u32;
                    while call(&c, "calm", "add(1, 2)").is_ok() {
                        ok += 1;
                    }
                    ok
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(300));
        let status = host.stop();
        assert!(status.success(), "{status:?}");
        callers.into_iter().map(|c| c.join().unwrap()).sum::<u32>()
    });
    assert!(acknowledged > 0);
    verify_audit(&state, true);
    let log = std::fs::read_to_string(state.join("audit.log")).unwrap();
    let returned = log
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| {
            e["component"] == "calm@1" && e["event"] == "returned" && e["function"] == "add"
        })
        .count() as u32;
    assert!(
        returned >= acknowledged + 450,
        "{returned} returned calls recorded, {acknowledged} acknowledged under shutdown (and 450 before)"
    );
}
