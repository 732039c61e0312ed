//! Tight limits for a process under test: a control group (cgroup v1 or v2)
//! capping its tasks (threads count) and memory, made by the test and
//! removed when dropped. Needs root; `Cgroup::create` says why not otherwise.
//!
//! Declare the `Cgroup` before the process it holds, so that the process is
//! killed (dropped) first and the group is empty when it is removed.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// A control group of our own, in every hierarchy that has what we cap.
pub struct Cgroup {
    /// Each directory made (one for v2, one per controller for v1).
    dirs: Vec<PathBuf>,
    memory: Option<PathBuf>,
    version: u8,
}

const ROOT: &str = "/sys/fs/cgroup";

fn write(path: &Path, value: &str) -> Result<(), String> {
    std::fs::write(path, value).map_err(|err| format!("{}: {err}", path.display()))
}

impl Cgroup {
    /// A group allowing `tasks` threads in all and `memory_bytes` of memory.
    pub fn create(tasks: u32, memory_bytes: u64) -> Result<Cgroup, String> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "meeting-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let root = Path::new(ROOT);
        if root.join("cgroup.controllers").exists() {
            // v2: one tree; the controllers must be enabled for children.
            let controllers = std::fs::read_to_string(root.join("cgroup.controllers"))
                .map_err(|err| format!("cgroup v2: {err}"))?;
            for needed in ["pids", "memory"] {
                if !controllers.split_whitespace().any(|c| c == needed) {
                    return Err(format!("cgroup v2 without the {needed} controller"));
                }
            }
            let _ = write(&root.join("cgroup.subtree_control"), "+pids +memory");
            let dir = root.join(&name);
            std::fs::create_dir(&dir).map_err(|err| format!("{}: {err}", dir.display()))?;
            let group = Cgroup {
                dirs: vec![dir.clone()],
                memory: Some(dir.clone()),
                version: 2,
            };
            write(&dir.join("pids.max"), &tasks.to_string())?;
            write(&dir.join("memory.max"), &memory_bytes.to_string())?;
            return Ok(group);
        }
        let pids = root.join("pids");
        let memory = root.join("memory");
        if !pids.join("cgroup.procs").exists() || !memory.join("cgroup.procs").exists() {
            return Err(format!("no pids and memory controllers under {ROOT}"));
        }
        let mut group = Cgroup {
            dirs: Vec::new(),
            memory: None,
            version: 1,
        };
        for controller in [&pids, &memory] {
            let dir = controller.join(&name);
            std::fs::create_dir(&dir).map_err(|err| format!("{}: {err}", dir.display()))?;
            group.dirs.push(dir);
        }
        write(&group.dirs[0].join("pids.max"), &tasks.to_string())?;
        write(
            &group.dirs[1].join("memory.limit_in_bytes"),
            &memory_bytes.to_string(),
        )?;
        group.memory = Some(group.dirs[1].clone());
        Ok(group)
    }

    /// Moves process `pid` (all its threads) into the group.
    pub fn add(&self, pid: u32) -> Result<(), String> {
        for dir in &self.dirs {
            write(&dir.join("cgroup.procs"), &pid.to_string())?;
        }
        Ok(())
    }

    /// The most memory the group has used, in bytes (0 if unknown).
    pub fn peak_memory(&self) -> u64 {
        let Some(dir) = &self.memory else {
            return 0;
        };
        let file = if self.version == 2 {
            "memory.peak"
        } else {
            "memory.max_usage_in_bytes"
        };
        std::fs::read_to_string(dir.join(file))
            .ok()
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or(0)
    }

    /// Times the tasks limit refused a new thread (0 if unknown).
    pub fn tasks_refused(&self) -> u64 {
        let Some(dir) = self.dirs.first() else {
            return 0;
        };
        let events = std::fs::read_to_string(dir.join("pids.events")).unwrap_or_default();
        events
            .lines()
            .find_map(|line| line.strip_prefix("max "))
            .and_then(|count| count.trim().parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        for dir in &self.dirs {
            // Anything still inside goes back to the root first.
            if let Ok(procs) = std::fs::read_to_string(dir.join("cgroup.procs")) {
                let parent = dir.parent().unwrap_or(Path::new(ROOT));
                for pid in procs.lines() {
                    let _ = std::fs::write(parent.join("cgroup.procs"), pid);
                }
            }
            let _ = std::fs::remove_dir(dir);
        }
    }
}
