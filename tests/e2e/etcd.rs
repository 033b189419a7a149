//! Several masters on one etcd (`registry = "etcd"`, docs/ha.md), against Debian's etcd-server
//! started on loopback ports: the shared registry, stock circusctl through either master, the
//! leader shown and replaced after `kill -9`, workers that know several masters, and
//! registrations refused while etcd is unreachable.

use std::time::{Duration, Instant};

use cluster_e2e::cli::{circusctl, run};
use cluster_e2e::etcd::Etcd;
use cluster_e2e::http::{get, wait_http};
use cluster_e2e::master::{write_file, CLUSTER_SECTION};
use cluster_e2e::stream::Stream;
use cluster_e2e::worker::worker_ini;
use cluster_e2e::{json, paths, ports, wait_for, CircusNode, Master, Value};

mod placement;

/// The lease TTL of the test masters: short, so that a leader's death is noticed quickly.
const TTL_SECS: u64 = 2;

/// A master named `name` keeping its nodes in `etcd_url` under `prefix`.
fn master(name: &str, etcd_url: &str, prefix: &str) -> Master {
    master_with(name, etcd_url, prefix, "")
}

/// [`master`] with more `[cluster]` lines.
fn master_with(name: &str, etcd_url: &str, prefix: &str, extra: &str) -> Master {
    Master::start_with_config(&format!(
        "{CLUSTER_SECTION}registry = \"etcd\"\nmaster_name = \"{name}\"\netcd_endpoints = [\"{etcd_url}\"]\n\
         etcd_prefix = \"{prefix}\"\netcd_lease_ttl = \"{TTL_SECS}s\"\n{extra}"
    ))
}

/// The `registry` field of a master's `nodes` reply.
fn registry(master: &Master) -> Value {
    master.call("nodes", json!({}))["registry"].clone()
}

/// Waits until `master` has a lease (registrations are accepted from then on).
fn wait_connected(master: &Master) {
    wait_for("the master to reach etcd", || {
        let registry = registry(master);
        (registry["stale"] == false).then_some(()).ok_or_else(|| registry.to_string())
    });
}

fn register(master: &Master, node: &CircusNode) -> Value {
    master.call(
        "register_node",
        json!({"name": node.name, "endpoint": node.endpoint, "stats_endpoint": node.stats_endpoint,
               "pubsub_endpoint": node.pubsub_endpoint, "tags": ["eu"]}),
    )
}

/// Skips (with a line saying why) where etcd is not installed: `make system-deps` installs it.
fn etcd_or_skip() -> Option<Etcd> {
    if Etcd::available() {
        Some(Etcd::start())
    } else {
        eprintln!("etcd: skipped: the etcd binary is missing (make system-deps installs etcd-server)");
        None
    }
}

#[test]
fn a_node_registered_through_one_master_is_known_to_the_other() {
    let Some(etcd) = etcd_or_skip() else { return };
    let (a, b) = (master("a", &etcd.url, "/t/shared"), master("b", &etcd.url, "/t/shared"));
    let node = CircusNode::start("web", &[("dummy", 1)]);
    wait_connected(&a);
    wait_connected(&b);

    let reply = register(&a, &node);
    assert_eq!(reply["status"], "ok", "{reply}");
    let started = Instant::now();
    let entry = wait_for("master b to list the node registered through a", || {
        b.node_entry("web").ok_or_else(|| "not listed".to_string())
    });
    eprintln!("listed by the other master after {:?}", started.elapsed());
    assert_eq!(entry["endpoint"], node.endpoint.as_str(), "{entry}");
    assert_eq!(entry["source"], "registered", "{entry}");
    assert_eq!(entry["tags"], json!(["eu"]), "{entry}");

    // Each master proxies to the node itself: stock circusctl works against either.
    b.wait_node_state("web", "alive");
    for m in [&a, &b] {
        let run = circusctl(&m.endpoint, &["status", "web:dummy"]);
        assert_eq!(run.ok().trim(), "active", "through {}", m.endpoint);
    }

    // Unregistered through b: gone from a too.
    assert_eq!(b.call("unregister_node", json!({"name": "web"}))["status"], "ok");
    wait_for("master a to drop the node unregistered through b", || match a.node_entry("web") {
        None => Ok(()),
        Some(entry) => Err(entry.to_string()),
    });

    // A master started later reads what is there.
    assert_eq!(register(&b, &node)["status"], "ok");
    let c = master("c", &etcd.url, "/t/shared");
    wait_for("a new master to read the registry", || c.node_entry("web").ok_or("not listed".to_string()));
    // Another prefix is another cluster.
    let other = master("d", &etcd.url, "/t/other");
    wait_connected(&other);
    assert!(other.node_entry("web").is_none(), "another prefix must not see the node");
}

#[test]
fn one_master_leads_and_another_takes_over_after_kill_9() {
    let Some(etcd) = etcd_or_skip() else { return };
    let mut masters = [master("a", &etcd.url, "/t/lead"), master("b", &etcd.url, "/t/lead")];
    let leader = wait_for("both masters to agree on a leader", || {
        let seen: Vec<Value> = masters.iter().map(registry).collect();
        let leading: Vec<&Value> = seen.iter().filter(|r| r["leading"] == true).collect();
        match (leading.as_slice(), seen[0]["leader"].as_str()) {
            ([one], Some(name)) if seen[1]["leader"] == name && one["master"] == name => Ok(name.to_string()),
            _ => Err(format!("{seen:?}")),
        }
    });
    // dstats says it too.
    let index = usize::from(leader == "b");
    let dstats = masters[index].call("dstats", json!({}));
    assert_eq!(dstats["registry"]["leading"], true, "{dstats}");

    let survivor = &masters[1 - index];
    let events = Stream::subscribe(&survivor.pubsub_endpoint, &["cluster.master."]);
    std::thread::sleep(Duration::from_millis(300)); // the SUB connects in the background
    let killed = Instant::now();
    masters[index].kill9();
    let survivor = &masters[1 - index];
    let name = survivor.call("nodes", json!({}))["registry"]["master"].as_str().unwrap().to_string();
    wait_for("the other master to lead", || {
        let registry = registry(survivor);
        (registry["leading"] == true && registry["leader"] == name.as_str()).then_some(()).ok_or(registry.to_string())
    });
    eprintln!("new leader after {:?} (lease TTL {TTL_SECS}s)", killed.elapsed());
    // Published in this order: the old leader's end, then the new one's start.
    let resigned = format!("cluster.master.{leader}.resigned");
    events.wait_for("cluster.master.<killed>.resigned", |m| m.topic == resigned);
    let elected =
        events.wait_for("cluster.master.<survivor>.elected", |m| m.topic == format!("cluster.master.{name}.elected"));
    assert_eq!(elected.payload["master"], name.as_str(), "{:?}", elected.payload);
}

#[test]
fn the_leader_discovers_and_forgets_for_every_master() {
    let Some(etcd) = etcd_or_skip() else { return };
    let mut node = CircusNode::start("found", &[("dummy", 1)]);
    let port = node.endpoint.rsplit(':').next().unwrap().to_string();
    let keys = format!("discover = [\"tcp://127.0.0.1:{port}\"]\ndiscover_interval = \"1s\"\nforget_after = \"2s\"\n");
    let (a, b) = (master_with("a", &etcd.url, "/t/decide", &keys), master_with("b", &etcd.url, "/t/decide", &keys));
    let name = format!("127-0-0-1-{port}");
    for m in [&a, &b] {
        let entry =
            wait_for("the discovered node on every master", || m.node_entry(&name).ok_or("not listed".to_string()));
        assert_eq!(entry["source"], "discovered", "{entry}");
    }
    // Found once, by the leader only, and written fenced on its leadership.
    let finders = [&a, &b].iter().filter(|m| m.stderr().contains("discovered a node")).count();
    assert!(finders <= 1, "both masters ran discovery:\n{}\n{}", a.stderr(), b.stderr());

    node.kill9();
    for m in [&a, &b] {
        wait_for("the node forgotten on every master", || match m.node_entry(&name) {
            None => Ok(()),
            Some(entry) => Err(entry.to_string()),
        });
    }
}

#[test]
fn a_worker_registers_through_whichever_master_answers() {
    let Some(etcd) = etcd_or_skip() else { return };
    let (a, b) = (master("a", &etcd.url, "/t/join"), master("b", &etcd.url, "/t/join"));
    wait_connected(&a);
    wait_connected(&b);
    // The first master listed is not running: the worker goes on to the second.
    let masters = format!("{}, {}", ports::free_endpoint(), b.endpoint);
    let worker = CircusNode::start_from_template("worker", &worker_ini("worker", &masters, None), &[("work", 1)]);
    let entry = wait_for("the worker to be listed by a", || a.node_entry("worker").ok_or("not listed".to_string()));
    assert_eq!(entry["endpoint"], worker.endpoint.as_str(), "{entry}");
    a.wait_node_state("worker", "alive");
}

#[test]
fn a_frozen_etcd_stops_nothing_and_the_masters_converge_after() {
    let Some(etcd) = etcd_or_skip() else { return };
    let (a, b) = (master("a", &etcd.url, "/t/frozen"), master("b", &etcd.url, "/t/frozen"));
    let node = CircusNode::start("web", &[("dummy", 1)]);
    wait_connected(&a);
    wait_connected(&b);
    assert_eq!(register(&a, &node)["status"], "ok");
    wait_for("b to list the node", || b.node_entry("web").ok_or("not listed".to_string()));
    b.wait_node_state("web", "alive");
    let stats = Stream::subscribe(&b.stats_endpoint, &["stat."]);

    etcd.freeze();
    let frozen = Instant::now();
    for m in [&a, &b] {
        wait_for("the registry to be marked stale", || {
            let registry = registry(m);
            (registry["stale"] == true && registry["leading"] == false).then_some(()).ok_or(registry.to_string())
        });
    }
    // Commands and streams keep flowing from what each master knows.
    for m in [&a, &b] {
        assert_eq!(circusctl(&m.endpoint, &["status", "web:dummy"]).ok().trim(), "active");
    }
    stats.drain();
    stats.wait_for("stats through b while etcd is frozen", |m| m.topic.starts_with("stat.web"));
    let late = CircusNode::start("late", &[("dummy", 1)]);
    let refused = register(&b, &late);
    assert_eq!(refused["errno"], 3, "{refused}");
    let reason = refused["reason"].as_str().unwrap_or_default();
    assert!(reason.starts_with("registry unavailable (etcd: "), "{reason}");
    std::thread::sleep(Duration::from_secs(10).saturating_sub(frozen.elapsed()));

    etcd.thaw();
    wait_for("both masters back on etcd with one leader", || {
        let (ra, rb) = (registry(&a), registry(&b));
        let agreed =
            ra["stale"] == false && rb["stale"] == false && ra["leader"].is_string() && ra["leader"] == rb["leader"];
        (agreed && ra["leading"] != rb["leading"]).then_some(()).ok_or(format!("{ra} {rb}"))
    });
    assert_eq!(register(&b, &late)["status"], "ok");
    wait_for("a to list the node registered after etcd came back", || {
        a.node_entry("late").ok_or("not listed".to_string())
    });
    // Nothing was dropped or stopped meanwhile.
    assert_eq!(a.node_entry("web").expect("still listed")["state"], "alive");
    assert_eq!(node.status("dummy"), "active");
}

#[test]
fn registrations_are_refused_while_etcd_is_unreachable() {
    // No etcd at all on this port: the master runs and serves, but cannot share registrations.
    let url = format!("http://127.0.0.1:{}", ports::free_port());
    let http = format!("127.0.0.1:{}", ports::free_port());
    let m = master_with("lonely", &url, "/t/none", &format!("http_endpoint = \"{http}\"\n"));
    let node = CircusNode::start("web", &[("dummy", 1)]);
    let reply = register(&m, &node);
    assert_eq!(reply["status"], "error", "{reply}");
    assert_eq!(reply["errno"], 3, "{reply}");
    let reason = reply["reason"].as_str().unwrap_or_default();
    assert!(reason.starts_with("registry unavailable (etcd: "), "{reason}");
    let registry = registry(&m);
    assert_eq!(registry["stale"], true, "{registry}");
    assert_eq!(registry["leading"], false, "{registry}");
    // The master itself is healthy and says its registry is stale.
    wait_http(&http);
    let health = get(&http, "/healthz");
    assert_eq!(health.status, 200);
    assert_eq!(health.json()["registry"]["stale"], true, "{}", health.body);
}

#[test]
fn migrate_state_copies_the_state_file_into_etcd() {
    let Some(etcd) = etcd_or_skip() else { return };
    let node = CircusNode::start("saved", &[("dummy", 1)]);
    let dir = tempfile::tempdir().expect("tempdir");
    let state = json!({"version": 1, "nodes": [{"name": "saved", "endpoint": node.endpoint,
        "stats_endpoint": node.stats_endpoint, "pubsub_endpoint": node.pubsub_endpoint,
        "source": "registered", "tags": ["db"]}],
        "placements": {"epoch": 4, "drained": ["saved"], "placements": {"web": {"name": "web",
            "add": {"name": "web", "cmd": "sleep 3600"}, "constraint": null, "replicas": 1, "failover": true,
            "strategy": null, "nodes": ["saved"], "epoch": 4, "superseded": {}}}}});
    let state_path = write_file(dir.path(), "state.json", &state.to_string());
    let config = write_file(
        dir.path(),
        "cluster.toml",
        &format!(
            "[cluster]\nstate_file = \"{}\"\netcd_endpoints = [\"{}\"]\netcd_prefix = \"/t/migrated\"\n",
            state_path.display(),
            etcd.url
        ),
    );
    let clusterd = paths::workspace_bin("clusterd");
    let config = config.to_str().unwrap();
    let first = run(&clusterd, ["migrate-state", "--to", "etcd", config]);
    assert_eq!(first.code, 0, "{first:?}");
    assert!(first.stdout.contains("1 written, 0 already there"), "{first:?}");
    let again = run(&clusterd, ["migrate-state", "--to", "etcd", config]);
    assert!(again.stdout.contains("0 written, 1 already there"), "{again:?}");
    assert!(again.stdout.contains("kept (already in etcd): saved"), "{again:?}");
    assert!(first.stdout.contains("migrated 1 placement(s): 1 written, 0 already there"), "{first:?}");
    assert!(again.stdout.contains("kept placement (already in etcd): web"), "{again:?}");
    let refused = run(&clusterd, ["migrate-state", "--to", "zookeeper", config]);
    assert_eq!(refused.code, 2, "{refused:?}");

    // A master on etcd finds the migrated node, with its tags, and reaches it.
    let m = master("after", &etcd.url, "/t/migrated");
    let entry = wait_for("the migrated node", || m.node_entry("saved").ok_or("not listed".to_string()));
    assert_eq!(entry["tags"], json!(["db"]), "{entry}");
    m.wait_node_state("saved", "alive");
    // ... and the placement state: the placed watcher, the drained node and the epoch.
    let listed = wait_for("the migrated placements", || {
        let listed = m.call("placements", json!({}));
        (listed["epoch"] == 4).then_some(listed.clone()).ok_or(listed.to_string())
    });
    assert_eq!(listed["drained"], json!(["saved"]), "{listed}");
    let web = &listed["placements"][0];
    assert_eq!((&web["name"], &web["nodes"], &web["failover"]), (&json!("web"), &json!(["saved"]), &json!(true)));
}
