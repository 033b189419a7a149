//! The lab itself: hosts reach each other and nothing else, a cut host is unreachable until
//! healed, a host cut one way is heard by nobody but still hears, and a lab is removed (its
//! processes killed, its namespaces deleted) even when its test panics.

use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use cluster_e2e::lab::Lab;
use cluster_e2e::{procs, wait_for};

/// Whether a TCP connection from the calling thread's namespace to `to` is accepted within 1 s.
fn connects(to: SocketAddr) -> bool {
    TcpStream::connect_timeout(&to, Duration::from_secs(1)).is_ok()
}

/// The destinations (hex, as the kernel prints them) of this thread's IPv4 routes.
fn route_destinations() -> Vec<String> {
    let table = std::fs::read_to_string("/proc/thread-self/net/route").expect("route table");
    table.lines().skip(1).filter_map(|l| l.split_whitespace().nth(1).map(String::from)).collect()
}

#[test]
fn hosts_reach_each_other_a_cut_host_is_unreachable_and_nothing_routes_out() {
    let Some(lab) = Lab::new(["h1", "h2"]) else { return };
    let listener = lab.within("m", || TcpListener::bind((lab.address("m"), 0)).expect("bind on m"));
    let to = listener.local_addr().expect("address");
    assert!(lab.within("h1", || connects(to)), "h1 reaches m");

    for host in ["m", "h1", "h2"] {
        // Only the lab's /24 and multicast (224.0.0.0/4), both on eth0: no default route.
        let routes = lab.within(host, route_destinations);
        assert!(!routes.iter().any(|d| d == "00000000"), "{host} has a default route: {routes:?}");
        assert_eq!(routes.len(), 2, "{host}: {routes:?}");
    }

    lab.cut("h1");
    assert!(!lab.within("h1", || connects(to)), "a cut host reaches nobody");
    assert!(lab.within("h2", || connects(to)), "the others still do");
    lab.heal("h1");
    wait_for("h1 to reach m again", || if lab.within("h1", || connects(to)) { Ok(()) } else { Err("no".into()) });
}

#[test]
fn a_lab_is_removed_with_its_processes_even_when_its_test_panics() {
    let mut made = None;
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let Some(lab) = Lab::new(["h1"]) else { return };
        // A process nobody else will stop: only the lab's cleanup can.
        let child = lab.within("h1", || {
            procs::spawn(Command::new("sleep").arg("3600").stdin(Stdio::null()).stdout(Stdio::null()))
        });
        assert_eq!(lab.pids("h1"), vec![child.id()]);
        made = Some((child, lab.host("h1").netns.clone(), lab.host("m").netns.clone()));
        panic!("the test fails while its lab runs");
    }));
    let Some((mut child, h1, m)) = made else { return };
    assert!(outcome.is_err(), "the test panicked");
    assert!(procs::wait_exit(&mut child, Duration::from_secs(5)), "the lab killed the process inside it");
    for netns in [h1, m] {
        assert!(!Path::new("/run/netns").join(&netns).exists(), "{netns} is left behind");
    }
}

#[test]
fn a_one_way_cut_drops_what_the_host_sends_and_not_what_it_hears() {
    let Some(lab) = Lab::new(["h1"]) else { return };
    if !lab.can_cut_one_way() {
        return;
    }
    let socket = |host: &str| {
        let socket = lab.within(host, || UdpSocket::bind((lab.address(host), 0)).expect("bind udp"));
        socket.set_read_timeout(Some(Duration::from_secs(1))).expect("read timeout");
        socket
    };
    let (m, h1) = (socket("m"), socket("h1"));
    let heard = |from: &UdpSocket, to: &UdpSocket| {
        let mut buffer = [0u8; 16];
        from.send_to(b"ping", to.local_addr().expect("address")).is_ok() && to.recv_from(&mut buffer).is_ok()
    };
    wait_for(
        "h1 and m to hear each other",
        || if heard(&h1, &m) && heard(&m, &h1) { Ok(()) } else { Err("no".into()) },
    );

    lab.cut_outgoing("h1");
    assert!(!heard(&h1, &m), "what h1 sends is dropped");
    assert!(heard(&m, &h1), "h1 still hears m");
    lab.heal("h1");
    wait_for("h1 to be heard again", || if heard(&h1, &m) { Ok(()) } else { Err("not heard".into()) });
}
