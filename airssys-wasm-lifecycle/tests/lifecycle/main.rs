//! The lifecycle's tests: registry, pools, hot swap, canary and rollback,
//! supervision, health and hot reload, on every backend.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use airssys_wasm::{AuditKind, Error as RuntimeError, LifecycleStep, Limits, Value};
use airssys_wasm_lifecycle::{
    Backoff, ChildState, DeployOptions, Error, GroupSpec, Health, HealthCheck, Lifecycle,
    Registration, RestartPolicy, RollbackPolicy, Split, Strategy,
};
use common::{Mode, app, builder, each_backend, register, steps, supervised, two_versions};

fn version_of(served: &airssys_wasm_lifecycle::Served) -> u32 {
    match served.values.as_slice() {
        [Value::U32(n)] => *n,
        other => panic!("version returned {other:?}"),
    }
}

#[test]
fn versions_are_immutable_and_numbered() {
    each_backend(|kind| {
        let (b, audit) = builder(kind, Limits::default());
        let lc = b.build().unwrap();
        let v1 = lc
            .register(Registration::new("app", app(1, false, false)))
            .unwrap();
        assert_eq!(v1.version, "1");
        // The same bytes again are the same version.
        let again = lc
            .register(Registration::new("app", app(1, false, false)))
            .unwrap();
        assert_eq!(again, v1);
        let v2 = lc
            .register(Registration::new("app", app(2, false, false)))
            .unwrap();
        assert_eq!(v2.version, "2");
        assert_ne!(v1.digest, v2.digest);
        // A version keeps its bytes.
        let refused = lc
            .register(Registration::new("app", app(3, false, false)).version("1"))
            .unwrap_err();
        assert!(
            matches!(&refused, Error::VersionExists { version, .. } if version == "1"),
            "{refused}"
        );
        // Bytes that do not load are not stored.
        let broken = lc.register(Registration::new("app", b"\0asm junk".to_vec()).version("9"));
        assert!(matches!(broken, Err(Error::Runtime(_))), "{broken:?}");
        let listed: Vec<String> = lc
            .registry()
            .versions("default", "app")
            .unwrap()
            .into_iter()
            .map(|v| v.version)
            .collect();
        assert_eq!(listed, ["1", "2"]);
        // Other tenants have their own versions of the same name.
        let acme = lc
            .register(Registration::new("app", app(7, false, false)).tenant("acme"))
            .unwrap();
        assert_eq!(
            (acme.version.as_str(), acme.deployment().as_str()),
            ("1", "acme/app")
        );

        let dep = lc.deploy("app", "1", DeployOptions::default()).unwrap();
        let refused = lc.remove_version("app", "1").unwrap_err();
        assert!(
            matches!(refused, Error::Refused(ref why) if why.contains("serving")),
            "{refused}"
        );
        lc.remove_version("app", "2").unwrap();
        let gone = dep.upgrade("2").unwrap_err();
        assert!(
            matches!(&gone, Error::NoVersion { known, .. } if known == "1"),
            "{gone}"
        );
        let labels: Vec<(String, LifecycleStep)> =
            steps(&audit).into_iter().map(|(c, s, _)| (c, s)).collect();
        for want in [
            ("app@1".to_owned(), LifecycleStep::Registered),
            ("app@2".to_owned(), LifecycleStep::Registered),
            ("acme/app@1".to_owned(), LifecycleStep::Registered),
            ("app@1".to_owned(), LifecycleStep::Deployed),
            ("app@2".to_owned(), LifecycleStep::Removed),
        ] {
            assert!(labels.contains(&want), "{want:?} not in {labels:?}");
        }
    });
}

#[test]
fn a_restarted_process_comes_back_in_the_same_state_and_refuses_changed_bytes() {
    each_backend(|kind| {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("lifecycle.redb");
        {
            let (b, _) = builder(kind, Limits::default());
            let lc = b.store(&store).build().unwrap();
            for n in 1..=3 {
                register(&lc, "app", n, false, false);
            }
            let dep = lc.deploy("app", "1", DeployOptions::default()).unwrap();
            dep.upgrade("2").unwrap();
            dep.canary("3", Split::Percent(100), None).unwrap();
        }
        {
            let (b, _) = builder(kind, Limits::default());
            let lc = b.store(&store).build().unwrap();
            let dep = lc.get("app").unwrap();
            assert_eq!(dep.active().version, "2");
            assert_eq!(
                dep.candidate().map(|(v, s)| (v.version, s)),
                Some(("3".into(), Split::Percent(100)))
            );
            assert_eq!(version_of(&dep.call("version", &[]).unwrap()), 3);
            assert_eq!(lc.registry().versions("default", "app").unwrap().len(), 3);
            // The version an upgrade replaced is remembered for a rollback.
            assert_eq!(dep.previous().as_deref(), Some("1"));
            dep.rollback().unwrap();
            dep.rollback().unwrap();
            assert_eq!(dep.active().version, "1");
        }
        {
            let (b, _) = builder(kind, Limits::default());
            let lc = b.store(&store).build().unwrap();
            let dep = lc.get("app").unwrap();
            assert_eq!((dep.active().version.as_str(), dep.previous()), ("1", None));
            assert!(dep.candidate().is_none());
        }
        // Bytes changed in the store are not loaded.
        {
            let db = redb::Database::open(&store).unwrap();
            let tx = db.begin_write().unwrap();
            {
                let mut blobs = tx
                    .open_table(redb::TableDefinition::<&str, &[u8]>::new("blobs"))
                    .unwrap();
                let digest = airssys_wasm::Digest::of(&app(1, false, false)).to_string();
                blobs
                    .insert(digest.as_str(), app(666, false, false).as_slice())
                    .unwrap();
            }
            tx.commit().unwrap();
        }
        let (b, _) = builder(kind, Limits::default());
        let refused = b
            .store(&store)
            .build()
            .err()
            .expect("the changed bytes are refused");
        assert!(
            matches!(&refused, Error::Store(why) if why.contains("changed outside")),
            "{refused}"
        );
    });
}

#[test]
fn a_busy_pool_queues_callers_then_answers_unavailable_naming_the_deployment() {
    each_backend(|kind| {
        let limits = Limits::default().with_timeout(Duration::from_millis(400));
        let (b, _) = builder(kind, limits);
        let lc = Arc::new(b.build().unwrap());
        register(&lc, "app", 1, false, false);
        let mut options = DeployOptions {
            pool_size: 1,
            queue_time: Duration::from_millis(50),
            ..DeployOptions::default()
        };
        options.crash_on.timeouts = false;
        let dep = lc.deploy("app", "1", options).unwrap();
        let busy = {
            let dep = dep.clone();
            std::thread::spawn(move || dep.call("spin", &[Value::U32(u32::MAX)]))
        };
        std::thread::sleep(Duration::from_millis(100));
        let refused = dep.call("version", &[]).unwrap_err();
        match &refused {
            Error::Unavailable { deployment, reason } => {
                assert_eq!(deployment, "app");
                assert!(reason.contains("busy"), "{reason}");
            }
            other => panic!("expected Unavailable, got {other}"),
        }
        // A caller willing to wait is served once the instance frees up.
        let patient = lc.get("app").unwrap();
        let waited = std::thread::spawn(move || {
            let mut options = patient.call("version", &[]);
            // The 50 ms queue may pass before the spinning call times out.
            for _ in 0..40 {
                if options.is_ok() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(25));
                options = patient.call("version", &[]);
            }
            options
        });
        let spun = busy.join().unwrap();
        assert!(
            matches!(spun, Err(Error::Runtime(RuntimeError::Timeout { .. }))),
            "{spun:?}"
        );
        assert_eq!(version_of(&waited.join().unwrap().unwrap()), 1);
        assert_eq!(dep.state(), ChildState::Running);
    });
}

#[test]
fn a_hundred_swaps_under_four_callers_fail_no_call() {
    each_backend(|kind| {
        let (_lc, dep, audit) = two_versions(kind, false);
        let stop = Arc::new(AtomicBool::new(false));
        let calls = Arc::new(AtomicU64::new(0));
        let callers: Vec<_> = (0..4)
            .map(|_| {
                let (dep, stop, calls) = (dep.clone(), stop.clone(), calls.clone());
                std::thread::spawn(move || {
                    let mut seen = [false; 2];
                    while !stop.load(Ordering::Relaxed) {
                        let served = dep
                            .call("version", &[])
                            .expect("no call fails during a swap");
                        let n = version_of(&served);
                        assert_eq!(
                            served.version(),
                            n.to_string(),
                            "the result names its version"
                        );
                        seen[n as usize - 1] = true;
                        calls.fetch_add(1, Ordering::Relaxed);
                    }
                    seen
                })
            })
            .collect();
        for swap in 0..100 {
            dep.upgrade(if swap % 2 == 0 { "2" } else { "1" }).unwrap();
            std::thread::sleep(Duration::from_micros(200));
        }
        stop.store(true, Ordering::Relaxed);
        let mut both = [false; 2];
        for c in callers {
            let seen = c.join().expect("a caller failed");
            both[0] |= seen[0];
            both[1] |= seen[1];
        }
        assert_eq!(both, [true, true], "both versions served");
        assert!(calls.load(Ordering::Relaxed) > 100);
        assert_eq!(dep.active().version, "1");
        let swaps = steps(&audit)
            .into_iter()
            .filter(|(_, s, _)| *s == LifecycleStep::Swapped)
            .count();
        assert_eq!(swaps, 100);
    });
}

#[test]
fn a_canary_takes_its_share_and_is_promoted_or_rolled_back_at_once() {
    each_backend(|kind| {
        let (_lc, dep, audit) = two_versions(kind, false);
        dep.canary("2", Split::Percent(25), None).unwrap();
        let to_canary = (0..400)
            .filter(|_| version_of(&dep.call("version", &[]).unwrap()) == 2)
            .count();
        assert_eq!(to_canary, 100);

        dep.canary("2", Split::Keyed(50), None).unwrap();
        let mut versions = std::collections::BTreeSet::new();
        for key in 0..100 {
            let key = format!("user-{key}");
            let first = version_of(&dep.call_keyed(&key, "version", &[]).unwrap());
            for _ in 0..3 {
                assert_eq!(
                    version_of(&dep.call_keyed(&key, "version", &[]).unwrap()),
                    first,
                    "{key} moved"
                );
            }
            versions.insert(first);
        }
        assert_eq!(versions.into_iter().collect::<Vec<_>>(), [1, 2]);

        dep.rollback().unwrap();
        assert!((0..50).all(|_| version_of(&dep.call("version", &[]).unwrap()) == 1));
        assert!(matches!(dep.promote(), Err(Error::Refused(_))));
        dep.canary("2", Split::Percent(10), None).unwrap();
        dep.promote().unwrap();
        assert!((0..50).all(|_| version_of(&dep.call("version", &[]).unwrap()) == 2));
        assert_eq!(dep.active().version, "2");
        // Without a canary, a rollback returns to the version active
        // before the promotion, once.
        assert_eq!(dep.previous().as_deref(), Some("1"));
        dep.rollback().unwrap();
        assert!((0..50).all(|_| version_of(&dep.call("version", &[]).unwrap()) == 1));
        assert_eq!(dep.previous(), None);
        let again = dep.rollback().unwrap_err();
        assert!(
            matches!(&again, Error::Refused(why) if why.contains("no earlier version")),
            "{again}"
        );
        assert_eq!(dep.active().version, "1");
        let s = steps(&audit);
        assert!(
            s.iter().any(|(c, st, d)| c == "app@1"
                && *st == LifecycleStep::RolledBack
                && d.starts_with("to 1 from 2")),
            "{s:?}"
        );
        assert!(
            s.iter().any(|(c, st, d)| c == "app@2"
                && *st == LifecycleStep::Canary
                && d.contains("25%")),
            "{s:?}"
        );
        assert!(
            s.iter().any(|(c, st, d)| c == "app@2"
                && *st == LifecycleStep::RolledBack
                && d.contains("operator")),
            "{s:?}"
        );
        assert!(
            s.iter()
                .any(|(c, st, d)| c == "app@2" && *st == LifecycleStep::Promoted && d == "from 1"),
            "{s:?}"
        );
    });
}

#[test]
fn a_canary_that_traps_on_every_call_is_rolled_back_by_its_policy() {
    each_backend(|kind| {
        let (_lc, dep, audit) = two_versions(kind, true);
        let policy = RollbackPolicy {
            max_failure_rate: 0.5,
            window: Duration::from_secs(60),
            min_calls: 5,
        };
        dep.canary("2", Split::Percent(50), Some(policy)).unwrap();
        let mut failed = 0;
        for _ in 0..40 {
            match dep.call("version", &[]) {
                Ok(s) => assert_eq!(version_of(&s), 1),
                Err(Error::Runtime(RuntimeError::Trap { .. })) => failed += 1,
                Err(e) => panic!("unexpected {e}"),
            }
        }
        assert_eq!(failed, 5, "the fifth failure rolls the canary back");
        assert!(dep.candidate().is_none());
        // The canary's crashes are not the deployment's.
        assert_eq!(dep.state(), ChildState::Running);
        let rolled: Vec<String> = steps(&audit)
            .into_iter()
            .filter(|(c, s, _)| c == "app@2" && *s == LifecycleStep::RolledBack)
            .map(|(_, _, d)| d)
            .collect();
        assert_eq!(rolled.len(), 1, "{rolled:?}");
        assert!(rolled[0].contains("5 of 5 calls (100%)"), "{rolled:?}");
    });
}

#[test]
fn a_crash_restarts_after_a_doubling_backoff_until_the_intensity_is_spent() {
    each_backend(|kind| {
        let backoff = Backoff {
            jitter: 0.0,
            ..Backoff::exponential(Duration::from_millis(100), Duration::from_secs(1))
        };
        let (lc, clock, audit) = supervised(kind, backoff, 3);
        register(&lc, "app", 1, false, false);
        let dep = lc.deploy("app", "1", DeployOptions::default()).unwrap();
        for (attempt, delay) in [(1, 100), (2, 200), (3, 400)] {
            let crash = dep.call("crash", &[]).unwrap_err();
            assert!(
                matches!(crash, Error::Runtime(RuntimeError::Trap { .. })),
                "{crash}"
            );
            assert_eq!(dep.state(), ChildState::Restarting);
            clock.advance(Duration::from_millis(delay - 1));
            let waiting = dep.call("version", &[]).unwrap_err();
            assert!(
                matches!(&waiting, Error::Unavailable { reason, .. } if reason.contains(&format!("attempt {attempt}"))),
                "{waiting}"
            );
            clock.advance(Duration::from_millis(1));
            assert_eq!(version_of(&dep.call("version", &[]).unwrap()), 1);
            assert_eq!(dep.state(), ChildState::Running);
        }
        dep.call("crash", &[]).unwrap_err();
        assert_eq!(dep.state(), ChildState::Failed);
        let refused = dep.call("version", &[]).unwrap_err();
        assert!(
            matches!(&refused, Error::Unavailable { reason, .. } if reason.contains("restart intensity")),
            "{refused}"
        );
        assert!(matches!(dep.health(), Health::Failed(_)));
        let s = steps(&audit);
        let count = |step| {
            s.iter()
                .filter(|(c, st, _)| c == "app@1" && *st == step)
                .count()
        };
        assert_eq!(
            (
                count(LifecycleStep::Restarting),
                count(LifecycleStep::Restarted),
                count(LifecycleStep::Failed)
            ),
            (3, 3, 1)
        );
        // An operator brings it back.
        dep.restart().unwrap();
        assert_eq!(version_of(&dep.call("version", &[]).unwrap()), 1);
    });
}

#[test]
fn restart_policies_and_crash_kinds_decide_whether_a_child_restarts() {
    each_backend(|kind| {
        let (lc, _clock, _) = supervised(kind, Backoff::none(), 5);
        register(&lc, "temp", 1, false, false);
        register(&lc, "trans", 1, false, false);
        register(&lc, "fuel", 1, false, false);
        let temp = lc
            .deploy(
                "temp",
                "1",
                DeployOptions {
                    restart: RestartPolicy::Temporary,
                    ..DeployOptions::default()
                },
            )
            .unwrap();
        temp.call("crash", &[]).unwrap_err();
        assert_eq!(temp.state(), ChildState::Stopped);
        let stopped = temp.call("version", &[]).unwrap_err();
        assert!(
            matches!(&stopped, Error::Unavailable { reason, .. } if reason.starts_with("stopped")),
            "{stopped}"
        );

        let trans = lc
            .deploy(
                "trans",
                "1",
                DeployOptions {
                    restart: RestartPolicy::Transient,
                    ..DeployOptions::default()
                },
            )
            .unwrap();
        trans.call("crash", &[]).unwrap_err();
        assert_eq!(trans.state(), ChildState::Restarting);
        assert_eq!(version_of(&trans.call("version", &[]).unwrap()), 1);

        // Traps are not crashes here: the instance is replaced, no restart.
        let mut options = DeployOptions::default();
        options.crash_on.traps = false;
        let fuel = lc.deploy("fuel", "1", options).unwrap();
        fuel.call("crash", &[]).unwrap_err();
        assert_eq!(fuel.state(), ChildState::Running);
        assert_eq!(version_of(&fuel.call("version", &[]).unwrap()), 1);
    });
}

#[test]
fn one_for_all_and_rest_for_one_restart_the_siblings() {
    each_backend(|kind| {
        let (b, _) = builder(kind, Limits::default());
        let all = GroupSpec {
            strategy: Strategy::OneForAll,
            backoff: Backoff::none(),
            ..GroupSpec::default()
        };
        let rest = GroupSpec {
            strategy: Strategy::RestForOne,
            backoff: Backoff::none(),
            ..GroupSpec::default()
        };
        let lc = b.group("all", all).group("rest", rest).build().unwrap();
        for name in ["a", "b", "x", "y", "z"] {
            register(&lc, name, 1, false, false);
        }
        let in_group = |g: &str| DeployOptions {
            group: g.into(),
            ..DeployOptions::default()
        };
        let a = lc.deploy("a", "1", in_group("all")).unwrap();
        let b = lc.deploy("b", "1", in_group("all")).unwrap();
        a.call("crash", &[]).unwrap_err();
        assert_eq!(
            (a.state(), b.state()),
            (ChildState::Restarting, ChildState::Restarting)
        );
        lc.tick();
        assert_eq!(
            (a.state(), b.state()),
            (ChildState::Running, ChildState::Running)
        );

        let x = lc.deploy("x", "1", in_group("rest")).unwrap();
        let y = lc.deploy("y", "1", in_group("rest")).unwrap();
        let z = lc.deploy("z", "1", in_group("rest")).unwrap();
        y.call("crash", &[]).unwrap_err();
        assert_eq!(
            (x.state(), y.state(), z.state()),
            (
                ChildState::Running,
                ChildState::Restarting,
                ChildState::Restarting
            )
        );
        assert_eq!(version_of(&z.call("version", &[]).unwrap()), 1);
        let unknown = lc.deploy("a", "1", in_group("nope"));
        assert!(unknown.is_err());
    });
}

#[test]
fn health_is_checked_within_its_budget_and_failing_checks_restart_the_child() {
    each_backend(|kind| {
        let (lc, clock, audit) = supervised(kind, Backoff::none(), 5);
        register(&lc, "app", 1, false, true);
        let with = |mode: Mode| DeployOptions {
            config: [mode.config()].into_iter().collect(),
            health: HealthCheck {
                interval: Duration::from_secs(1),
                fuel: 100_000,
                timeout: Duration::from_millis(200),
                failures: 2,
            },
            ..DeployOptions::default()
        };
        let ok = lc.deploy("app", "1", with(Mode::Ok)).unwrap();
        lc.tick();
        assert_eq!(ok.health(), Health::Healthy);
        lc.undeploy("app").unwrap();

        let sick = lc.deploy("app", "1", with(Mode::Sick)).unwrap();
        lc.tick();
        assert_eq!(
            sick.health(),
            Health::Degraded("`health` failed: sick".into())
        );
        // Not yet due: nothing changes.
        lc.tick();
        assert_eq!(sick.state(), ChildState::Running);
        clock.advance(Duration::from_secs(1));
        lc.tick();
        assert!(
            matches!(sick.health(), Health::Failed(ref why) if why.contains("2 times")),
            "{:?}",
            sick.health()
        );
        assert_eq!(
            sick.state(),
            ChildState::Restarting,
            "failing checks are a crash"
        );
        lc.undeploy("app").unwrap();

        let hung = lc.deploy("app", "1", with(Mode::Hang)).unwrap();
        lc.tick();
        match hung.health() {
            Health::Degraded(why) => assert!(why.contains("fuel") || why.contains("time"), "{why}"),
            other => panic!("a hung check is failing, not {other:?}"),
        }
        // Serving calls are not held up by the hung check.
        assert_eq!(version_of(&hung.call("version", &[]).unwrap()), 1);
        let transitions: Vec<String> = steps(&audit)
            .into_iter()
            .filter(|(_, s, _)| *s == LifecycleStep::Health)
            .map(|(_, _, d)| d)
            .collect();
        assert!(
            transitions
                .iter()
                .any(|d| d.starts_with("healthy -> degraded")),
            "{transitions:?}"
        );
        assert!(
            transitions
                .iter()
                .any(|d| d.starts_with("degraded (`health` failed: sick) -> failed")),
            "{transitions:?}"
        );
    });
}

#[test]
fn failing_calls_degrade_health_passively() {
    each_backend(|kind| {
        let (lc, _clock, _) = supervised(kind, Backoff::none(), 5);
        register(&lc, "app", 1, false, false);
        let mut options = DeployOptions::default();
        options.crash_on.traps = false;
        options.passive.min_calls = 10;
        let dep = lc.deploy("app", "1", options).unwrap();
        for _ in 0..10 {
            dep.call("crash", &[]).unwrap_err();
        }
        lc.tick();
        assert!(
            matches!(dep.health(), Health::Degraded(ref why) if why.contains("10 of 10 calls")),
            "{:?}",
            dep.health()
        );
        for _ in 0..30 {
            dep.call("version", &[]).unwrap();
        }
        lc.tick();
        assert_eq!(dep.health(), Health::Healthy);
    });
}

#[test]
fn an_upgrade_whose_init_fails_keeps_the_running_version() {
    each_backend(|kind| {
        let (b, _) = builder(kind, Limits::default());
        let lc = b.build().unwrap();
        register(&lc, "app", 1, false, false);
        register(&lc, "app", 2, false, true);
        let options = DeployOptions {
            config: [Mode::FailInit.config()].into_iter().collect(),
            ..DeployOptions::default()
        };
        let dep = lc.deploy("app", "1", options).unwrap();
        let refused = dep.upgrade("2").unwrap_err();
        assert!(
            matches!(&refused, Error::Lifecycle { detail, .. } if detail.contains("no way")),
            "{refused}"
        );
        assert_eq!(version_of(&dep.call("version", &[]).unwrap()), 1);
        assert_eq!(dep.active().version, "1");
    });
}

#[test]
fn a_watched_file_upgrades_its_deployment_and_a_broken_one_is_reported() {
    each_backend(|kind| {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("app.wasm");
        std::fs::write(&file, app(1, false, false)).unwrap();
        let (b, _) = builder(kind, Limits::default());
        let lc = b.build().unwrap();
        lc.register(Registration::new("app", std::fs::read(&file).unwrap()))
            .unwrap();
        let dep = lc.deploy("app", "1", DeployOptions::default()).unwrap();
        let watcher = lc.watch("app", &file).unwrap();
        std::fs::write(&file, app(2, false, false)).unwrap();
        match watcher.next(Duration::from_secs(10)) {
            Some(airssys_wasm_lifecycle::WatchEvent::Upgraded(v)) => assert_eq!(v.version, "2"),
            other => panic!("expected an upgrade, got {other:?}"),
        }
        assert_eq!(version_of(&dep.call("version", &[]).unwrap()), 2);
        std::fs::write(&file, b"not a component").unwrap();
        match watcher.next(Duration::from_secs(10)) {
            Some(airssys_wasm_lifecycle::WatchEvent::Failed(e)) => {
                assert!(matches!(e, Error::Runtime(_)), "{e}")
            }
            other => panic!("expected a failure, got {other:?}"),
        }
        assert_eq!(version_of(&dep.call("version", &[]).unwrap()), 2);
    });
}

#[test]
fn a_lifecycle_export_of_the_wrong_type_is_refused_naming_the_declared_one() {
    each_backend(|kind| {
        let (b, _) = builder(kind, Limits::default());
        let lc = b.build().unwrap();
        let wrong = wat::parse_str(
            r#"(component
                (core module $m (func (export "h") (result i32) i32.const 0))
                (core instance $i (instantiate $m))
                (func $h (result u32) (canon lift (core func $i "h")))
                (instance $life (export "health" (func $h)))
                (export "airssys:lifecycle/component-lifecycle@0.1.0" (instance $life)))"#,
        )
        .unwrap();
        lc.register(Registration::new("app", wrong).version("1"))
            .unwrap();
        let refused = lc
            .deploy("app", "1", DeployOptions::default())
            .err()
            .unwrap();
        assert!(
            matches!(&refused, Error::Lifecycle { detail, .. } if detail.contains("func() -> result<_, string>")),
            "{refused}"
        );
        let none = lc.get("nothing").err().unwrap();
        assert!(matches!(none, Error::NoDeployment(..)));
    });
}

/// Refuses lifecycle events once told to.
struct Refusing(AtomicBool);

impl airssys_wasm::AuditSink for Refusing {
    fn record(&self, event: airssys_wasm::AuditEvent) -> Result<(), airssys_wasm::AuditError> {
        if self.0.load(Ordering::Relaxed) && matches!(event.kind, AuditKind::Lifecycle { .. }) {
            return Err(airssys_wasm::AuditError("the audit log is full".into()));
        }
        Ok(())
    }
}

#[test]
fn an_operators_step_whose_record_is_refused_fails_naming_the_audit() {
    each_backend(|kind| {
        let sink = Arc::new(Refusing(AtomicBool::new(false)));
        let runtime = airssys_wasm::Runtime::builder()
            .backend(kind)
            .audit(sink.clone())
            .build()
            .unwrap();
        let lc = Lifecycle::builder(runtime).build().unwrap();
        register(&lc, "app", 1, false, false);
        register(&lc, "app", 2, false, false);
        let dep = lc.deploy("app", "1", DeployOptions::default()).unwrap();
        sink.0.store(true, Ordering::Relaxed);
        for refused in [
            dep.upgrade("2").unwrap_err(),
            dep.rollback().unwrap_err(),
            lc.register(Registration::new("app", app(3, false, false)).version("3"))
                .unwrap_err(),
            lc.undeploy("app").unwrap_err(),
        ] {
            assert!(
                matches!(&refused, Error::Runtime(e) if e.to_string().contains("the audit log is full")),
                "{refused}"
            );
        }
    });
}
