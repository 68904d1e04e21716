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
    let rss_before = host.rss_kib();
    // Rounds of 500 calm calls each, alone and beside the flood by turns;
    // the median of each kind's p99s is compared, so that one hiccup of
    // the machine decides nothing.
    let flooding = std::sync::atomic::AtomicBool::new(false);
    let done = std::sync::atomic::AtomicBool::new(false);
    let relaxed = std::sync::atomic::Ordering::Relaxed;
    let (mut alone, mut beside, flood_calls) = std::thread::scope(|s| {
        let floods: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    let c = client();
                    let mut n = 0u32;
                    while !done.load(relaxed) {
                        if !flooding.load(relaxed) {
                            std::thread::sleep(Duration::from_millis(20));
                            continue;
                        }
                        let e = call(&c, "flooded", "spin()").unwrap_err().to_string();
                        assert!(e.contains("fuel") || e.contains("unavailable"), "{e}");
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        let (mut alone, mut beside) = (Vec::new(), Vec::new());
        for _ in 0..5 {
            std::thread::sleep(Duration::from_millis(100));
            alone.push(p99(&c, 500));
            flooding.store(true, relaxed);
            std::thread::sleep(Duration::from_millis(150));
            beside.push(p99(&c, 500));
            flooding.store(false, relaxed);
        }
        done.store(true, relaxed);
        let n = floods.into_iter().map(|f| f.join().unwrap()).sum::<u32>();
        (alone, beside, n)
    });
    alone.sort();
    beside.sort();
    let (unloaded, loaded) = (alone[2], beside[2]);
    let rss_after = host.rss_kib();
    eprintln!(
        "calm p99 (median of 5 rounds): {unloaded:?} alone, {loaded:?} beside {flood_calls} flooding calls \
         (alone {alone:?}, beside {beside:?}); host memory {rss_before} KiB before, {rss_after} KiB after"
    );
    assert!(flood_calls > 0);
    // The flooded deployment spins a core (its pool is 1; its callers
    // beyond that wait without a worker). Its callers queue and its calls
    // take long, so they run on the host's busy lane, at the lowest
    // priority. Queued behind its spins, a calm call would wait 30 ms and
    // more. What is left on two cores: a calm thread woken on the core the
    // spinning thread holds may wait out the scheduler's slice (3 ms)
    // before it runs, which twice the p99 does not always cover; the
    // bound allows that one slice.
    assert!(
        loaded <= unloaded * 2 + Duration::from_millis(3),
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
