//! Meetings of several sizes in one run (`--sizes 51x4,24x6,...`): the list
//! parsed into one size per meeting, in the order the meetings are made.
//!
//! Each size is spread evenly over that order (the group furthest behind its
//! share goes next), so big and small meetings are made throughout the setup
//! and every tenth meeting (`--screen-every 10`) is a fair sample of the mix,
//! not ten meetings of four.

/// `COUNT` meetings of `members`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SizeGroup {
    pub count: usize,
    pub members: usize,
}

/// Parses `COUNTxMEMBERS[,COUNTxMEMBERS...]`; a bare `MEMBERS` is one meeting.
pub fn parse(text: &str) -> Result<Vec<SizeGroup>, String> {
    let number = |part: &str, what: &str| -> Result<usize, String> {
        part.trim()
            .parse()
            .map_err(|_| format!("'{part}' is not a number of {what}"))
    };
    let groups = text
        .split(',')
        .map(|group| match group.split_once(['x', 'X']) {
            Some((count, members)) => Ok(SizeGroup {
                count: number(count, "meetings")?,
                members: number(members, "members")?,
            }),
            None => Ok(SizeGroup {
                count: 1,
                members: number(group, "members")?,
            }),
        })
        .collect::<Result<Vec<SizeGroup>, String>>()?;
    if groups.iter().any(|g| g.count == 0) {
        return Err("a group of 0 meetings".to_string());
    }
    Ok(groups)
}

/// One size per meeting, each group spread evenly over the order.
pub fn interleave(groups: &[SizeGroup]) -> Vec<usize> {
    let total: usize = groups.iter().map(|g| g.count).sum();
    let mut used = vec![0usize; groups.len()];
    let mut sizes = Vec::with_capacity(total);
    for step in 1..=total {
        // How far each group is behind its share of the first `step`
        // meetings, in units of 1/total of a meeting.
        let behind = |g: usize| (groups[g].count * step) as i64 - (used[g] * total) as i64;
        let next = (0..groups.len())
            .filter(|&g| used[g] < groups[g].count)
            .max_by_key(|&g| (behind(g), std::cmp::Reverse(g)));
        let Some(next) = next else {
            break;
        };
        used[next] += 1;
        sizes.push(groups[next].members);
    }
    sizes
}

/// The sizes as `--sizes` says them, groups in order of first appearance
/// (`51x4,24x6`), for the report.
pub fn describe(sizes: &[usize]) -> String {
    let mut groups: Vec<SizeGroup> = Vec::new();
    for &members in sizes {
        match groups.iter_mut().find(|g| g.members == members) {
            Some(group) => group.count += 1,
            None => groups.push(SizeGroup { count: 1, members }),
        }
    }
    let parts: Vec<String> = groups
        .iter()
        .map(|g| format!("{}x{}", g.count, g.members))
        .collect();
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// lan500 (`scenario::LAN500_SIZES`).
    const LAN500: &str = "51x4,24x6,8x8,4x10,3x16";

    #[test]
    fn groups_and_bare_sizes_parse_and_nonsense_is_refused() {
        assert_eq!(
            parse("3x4, 2x16,5"),
            Ok(vec![
                SizeGroup {
                    count: 3,
                    members: 4
                },
                SizeGroup {
                    count: 2,
                    members: 16
                },
                SizeGroup {
                    count: 1,
                    members: 5
                },
            ])
        );
        for bad in ["", "4x", "x4", "ax4", "4x4,", "0x4", "-1x4"] {
            assert!(parse(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn lan500_is_500_members_in_90_meetings_mostly_small() {
        let sizes = interleave(&parse(LAN500).expect("valid"));
        assert_eq!(sizes.iter().sum::<usize>(), 500);
        assert_eq!(sizes.len(), 90);
        assert_eq!(describe(&sizes), LAN500);
        // A screen in every tenth meeting, from the first: nine of them, of
        // most sizes, and the members they hold.
        let shared: Vec<usize> = sizes.iter().step_by(10).copied().collect();
        assert_eq!(shared, [4, 10, 4, 4, 6, 4, 4, 16, 4]);
        assert_eq!(shared.iter().sum::<usize>(), 56);
    }

    #[test]
    fn each_size_is_spread_over_the_order() {
        let sizes = interleave(&parse("6x4,3x6,1x16").expect("valid"));
        assert_eq!(sizes, [4, 6, 4, 4, 6, 4, 16, 4, 6, 4]);
        // Every prefix holds each group's share, give or take one meeting.
        let sizes = interleave(&parse(LAN500).expect("valid"));
        for group in parse(LAN500).expect("valid") {
            for prefix in 1..=sizes.len() {
                let have = sizes[..prefix]
                    .iter()
                    .filter(|&&s| s == group.members)
                    .count() as f64;
                let share = (group.count * prefix) as f64 / sizes.len() as f64;
                assert!((have - share).abs() <= 1.0, "{group:?} at {prefix}");
            }
        }
    }

    #[test]
    fn one_group_is_the_same_size_every_time() {
        assert_eq!(
            interleave(&[SizeGroup {
                count: 3,
                members: 8
            }]),
            [8, 8, 8]
        );
        assert_eq!(describe(&[8, 8, 8]), "3x8");
    }
}
