//! Which server each member connects to, when a run is given several servers
//! of one cluster.
//!
//! Member `slot` of meeting `meeting` goes to server `(meeting + slot) mod n`.
//! Within a meeting that is a round robin, so its members are as even over
//! the servers as they can be; starting each meeting one server further puts
//! the hosts, and with them the meetings' holders (a meeting is held where it
//! was created), on every server in turn, and evens out the members per server
//! when a meeting's size is not a multiple of n. With one meeting the host is
//! on the first server; with one server everything is as it always was.

/// The index (into `--server`) of the server member `slot` of `meeting` uses.
pub fn server_of(meeting: usize, slot: usize, servers: usize) -> usize {
    (meeting + slot) % servers.max(1)
}

/// How many of the run's members each server gets, when meeting m has
/// `sizes[m]` members.
pub fn members_per_server(sizes: &[usize], servers: usize) -> Vec<usize> {
    let mut counts = vec![0; servers.max(1)];
    for (meeting, &members) in sizes.iter().enumerate() {
        for slot in 0..members {
            counts[server_of(meeting, slot, servers)] += 1;
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_server_takes_everyone() {
        assert!((0..4).all(|m| (0..8).all(|s| server_of(m, s, 1) == 0)));
        assert_eq!(members_per_server(&[8; 3], 1), [24]);
    }

    #[test]
    fn a_meeting_goes_round_the_servers_from_the_first() {
        let first: Vec<usize> = (0..8).map(|slot| server_of(0, slot, 3)).collect();
        assert_eq!(first, [0, 1, 2, 0, 1, 2, 0, 1]);
    }

    #[test]
    fn each_meeting_starts_one_server_further_so_hosts_take_turns() {
        let hosts: Vec<usize> = (0..5).map(|meeting| server_of(meeting, 0, 3)).collect();
        assert_eq!(hosts, [0, 1, 2, 0, 1]);
        let second: Vec<usize> = (0..8).map(|slot| server_of(1, slot, 3)).collect();
        assert_eq!(second, [1, 2, 0, 1, 2, 0, 1, 2]);
    }

    #[test]
    fn members_are_even_over_the_servers() {
        // 3 meetings of 8 on 3 servers: 3+3+2 in each meeting, turned so that
        // every server ends with 8.
        assert_eq!(members_per_server(&[8; 3], 3), [8, 8, 8]);
        assert_eq!(members_per_server(&[8; 30], 3), [80, 80, 80]);
        // More servers than members: a meeting of 2 uses two of them.
        assert_eq!(members_per_server(&[2], 3), [1, 1, 0]);
        // Meetings of 2 and 4: 0,1 then 1,2,0,1.
        assert_eq!(members_per_server(&[2, 4], 3), [2, 3, 1]);
    }
}
