//! The resolver of routing's `cgroup` matchers: it fills the table the
//! scheduling loop reads (`policies::routing::cgroups`: cgroup id -> which
//! routes' patterns match) from the cgroup2 mount, off the loop.
//!
//! **Ids are inode numbers.** The dispatcher puts each task's cgroup id in
//! its record: `cgroup_id()`, that is `cgrp->kn->id` (include/linux/cgroup.h).
//! Kernfs numbers a node's inode by that id: `kernfs_get_inode()` calls
//! `iget_locked(sb, kernfs_ino(kn))` (fs/kernfs/inode.c), and
//! `kernfs_id_ino()` (include/linux/kernfs.h) returns the whole id where
//! `ino_t` is 64 bits ("id is ino if ino_t is 64bit; otherwise, low
//! 32bits"; read in kernel-patches/bpf at 1acc112f). So on a 64-bit kernel
//! `stat(dir).st_ino` of a cgroup's directory is its id, and one walk of the
//! mount maps every id to its path: no `/proc/<pid>` file is read, so the
//! answer is the same inside a pid namespace. (On a 32-bit kernel only the
//! low 32 bits would agree: not supported.) `kernfs_ids_are_inodes` checks
//! it on the host against the ids `name_to_handle_at` reports.
//!
//! **When.** [`start`] walks the mount once before it returns: a session
//! builds its policy before the loop starts, and a live switch builds it on
//! the control thread. A thread of its own (`relay-cgroups`, one per
//! routing policy, ending with it) then serves the ids the loop posts (a
//! cgroup created after the walk): it walks again, at most once per
//! [`WALK_INTERVAL`], entering new cgroups and removing the entries of those
//! gone. A posted id the walk does not find (a cgroup outside the mount's
//! view, as in another cgroup namespace, or gone already) is entered as
//! having no path, so it is not asked for again; such entries make room
//! when the table is full.
//!
//! **Bounds.** The table holds `CGROUP_CAPACITY` (4096) cgroups; a walk
//! visits at most [`MAX_WALK`] directories (an incomplete walk removes
//! nothing and enters no "no path"). Cgroups that find no room match no
//! cgroup route, and their tasks are counted (`cgroup unresolved` in
//! `--stats`); the resolver says so once on stderr.

use std::{
    collections::{HashSet, VecDeque},
    ffi::OsString,
    os::unix::{
        ffi::{OsStrExt, OsStringExt},
        fs::MetadataExt,
    },
    path::PathBuf,
    sync::{atomic::AtomicU64, Arc},
    thread::JoinHandle,
    time::{Duration, Instant},
};

use policies::{
    routing::{
        cgroup_table,
        cgroups::{NO_PATH, REQUEST_CAPACITY},
        CgroupReader, CgroupWriter,
    },
    RoutingConfig,
};

/// Shortest time between two walks of the mount (ids posted meanwhile wait
/// for the next one).
pub const WALK_INTERVAL: Duration = Duration::from_millis(100);
/// Most directories one walk visits.
pub const MAX_WALK: usize = 65_536;
/// How long the resolver sleeps when nothing is posted (a post or the
/// routing policy's end wakes it sooner).
const IDLE_WAIT: Duration = Duration::from_secs(5);
/// The resolver thread's stack: it walks iteratively.
const RESOLVER_STACK: usize = 256 * 1024;

/// A cgroup2 hierarchy as mounted: the mount point, and the path of the
/// mounted directory in the hierarchy (`/` unless a subtree is mounted).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CgroupTree {
    mount: PathBuf,
    root: Vec<u8>,
}

impl CgroupTree {
    /// The tree mounted at `mount`, whose top is the cgroup at path `root`.
    pub fn at(mount: PathBuf, root: &[u8]) -> Self {
        Self { mount, root: root.to_vec() }
    }

    /// This process's cgroup2 mount (`/proc/self/mountinfo`), if any.
    pub fn find() -> Option<Self> {
        let text = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
        cgroup2_mount(&text)
    }

    /// Calls `f(id, path)` for every cgroup, breadth first from the top
    /// (path `/...` from the hierarchy's root; id the inode number of its
    /// directory), at most `limit` of them. `Ok(true)` when every cgroup was
    /// visited; directories that vanish meanwhile are skipped; other mounts
    /// below the tree are not entered.
    pub fn walk(&self, limit: usize, mut f: impl FnMut(u64, &[u8])) -> std::io::Result<bool> {
        let top = std::fs::metadata(&self.mount)?;
        let base = if self.root == b"/" { Vec::new() } else { self.root.clone() };
        f(top.ino(), if base.is_empty() { b"/" } else { &base });
        let mut visited = 1;
        let mut queue = VecDeque::from([(self.mount.clone(), base)]);
        while let Some((dir, path)) = queue.pop_front() {
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            for entry in entries.flatten() {
                let Ok(meta) = entry.metadata() else { continue };
                if !meta.is_dir() || meta.dev() != top.dev() {
                    continue;
                }
                if visited == limit {
                    return Ok(false);
                }
                visited += 1;
                let mut child = path.clone();
                child.push(b'/');
                child.extend_from_slice(entry.file_name().as_bytes());
                f(meta.ino(), &child);
                queue.push_back((entry.path(), child));
            }
        }
        Ok(true)
    }
}

/// The first cgroup2 mount in the text of a `/proc/<pid>/mountinfo` file
/// (fields: id, parent, device, root, mount point, options, ... `-` type
/// source options).
pub fn cgroup2_mount(mountinfo: &str) -> Option<CgroupTree> {
    mountinfo.lines().find_map(|line| {
        let (fields, rest) = line.split_once(" - ")?;
        if rest.split(' ').next()? != "cgroup2" {
            return None;
        }
        let mut f = fields.split(' ');
        let root = unescape(f.nth(3)?);
        let mount = PathBuf::from(OsString::from_vec(unescape(f.next()?)));
        Some(CgroupTree::at(mount, &root))
    })
}

/// A mountinfo field with its octal escapes (`\040` for a space) decoded.
fn unescape(field: &str) -> Vec<u8> {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b.get(i + 1..i + 4).filter(|d| b[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match octal {
            Some(d) => {
                out.push(d.iter().fold(0u8, |v, c| v.wrapping_mul(8).wrapping_add(c - b'0')));
                i += 4;
            }
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    out
}

/// The table's writer and what it knows of the entries.
struct Resolver {
    tree: CgroupTree,
    writer: CgroupWriter,
    /// Entered ids of cgroups a walk found.
    found: HashSet<u64>,
    /// Entered ids without a path ([`NO_PATH`]).
    no_path: HashSet<u64>,
    /// Ids the last walk found but could not enter (the table was full):
    /// posts of them wait for a walk another post causes.
    overflow: HashSet<u64>,
    last_walk: Option<Instant>,
    warned: bool,
}

impl Resolver {
    fn new(tree: CgroupTree, writer: CgroupWriter) -> Self {
        Self {
            tree,
            writer,
            found: HashSet::new(),
            no_path: HashSet::new(),
            overflow: HashSet::new(),
            last_walk: None,
            warned: false,
        }
    }

    /// Walks the tree: enters the cgroups not entered yet (in walk order,
    /// while there is room), removes those gone, and enters the ids of
    /// `requested` the walk did not find as having no path.
    fn refresh(&mut self, requested: &[u64]) {
        let mut seen = Vec::new();
        let walked = self.tree.walk(MAX_WALK, |id, path| seen.push((id, self.writer.bits_of(path))));
        self.last_walk = Some(Instant::now());
        let complete = match walked {
            Ok(complete) => complete,
            Err(e) => {
                self.warn(&format!("cannot read {} ({e})", self.tree.mount.display()));
                return;
            }
        };
        let live: HashSet<u64> = seen.iter().map(|&(id, _)| id).collect();
        if complete {
            for id in self.found.iter().copied().filter(|id| !live.contains(id)).collect::<Vec<_>>() {
                self.writer.remove(id);
                self.found.remove(&id);
            }
        }
        self.overflow.clear();
        for (id, bits) in seen {
            if self.found.contains(&id) {
                continue;
            }
            if self.enter(id, bits) {
                self.no_path.remove(&id);
                self.found.insert(id);
            } else {
                self.overflow.insert(id);
            }
        }
        if complete {
            for &id in requested.iter().filter(|id| !live.contains(id)) {
                if self.writer.get(id).is_none() && self.writer.insert(id, NO_PATH) {
                    self.no_path.insert(id);
                }
            }
        }
        if !self.overflow.is_empty() {
            let n = self.overflow.len();
            self.warn(&format!("{n} cgroups do not fit in the table: they match no cgroup route"));
        }
        if !complete {
            self.warn(&format!("more than {MAX_WALK} cgroups: the rest match no cgroup route"));
        }
    }

    /// Enters `id`, dropping the entries without a path if that makes room.
    fn enter(&mut self, id: u64, bits: u64) -> bool {
        if self.writer.insert(id, bits) {
            return true;
        }
        if self.no_path.is_empty() {
            return false;
        }
        for old in self.no_path.drain() {
            self.writer.remove(old);
        }
        self.writer.insert(id, bits)
    }

    /// Logs `what` as a warning, once per resolver.
    fn warn(&mut self, what: &str) {
        if !self.warned {
            log::warn!("cgroup routes: {what}");
            self.warned = true;
        }
    }

    /// The resolver thread: serves posted ids until the reader is gone.
    fn serve(mut self) {
        self.writer.register_thread();
        let mut requested = Vec::new();
        while !self.writer.is_closed() {
            while let Some(id) = self.writer.take_request() {
                let known = self.writer.get(id).is_some() || self.overflow.contains(&id);
                if !known && !requested.contains(&id) && requested.len() < REQUEST_CAPACITY {
                    requested.push(id);
                }
            }
            if requested.is_empty() {
                self.writer.wait(IDLE_WAIT);
                continue;
            }
            let since = self.last_walk.map_or(WALK_INTERVAL, |t| t.elapsed());
            if since < WALK_INTERVAL {
                std::thread::sleep(WALK_INTERVAL - since);
                continue;
            }
            self.refresh(&requested);
            requested.clear();
        }
    }
}

/// The reader of a cgroup table for `config` (a configuration with cgroup
/// routes), filled from this process's cgroup2 mount before it returns and
/// kept up to date by a resolver thread for as long as the reader lives.
/// Without a cgroup2 mount, or a thread, it says so on stderr: cgroup
/// routes then match nothing (or nothing created from then on).
pub fn start(config: &RoutingConfig, unresolved: Arc<AtomicU64>) -> CgroupReader {
    match CgroupTree::find() {
        Some(tree) => start_at(tree, config, unresolved).0,
        None => {
            log::warn!("cgroup routes: no cgroup2 mount in /proc/self/mountinfo: they match nothing");
            cgroup_table(config, unresolved).0
        }
    }
}

/// [`start`] over `tree`; also the resolver thread, if it started.
fn start_at(
    tree: CgroupTree,
    config: &RoutingConfig,
    unresolved: Arc<AtomicU64>,
) -> (CgroupReader, Option<JoinHandle<()>>) {
    let (reader, writer) = cgroup_table(config, unresolved);
    let mut resolver = Resolver::new(tree, writer);
    resolver.refresh(&[]);
    let spawned =
        std::thread::Builder::new().name("relay-cgroups".into()).stack_size(RESOLVER_STACK).spawn(|| resolver.serve());
    let thread = spawned
        .map_err(|e| {
            log::warn!("cgroup routes: cannot start the resolver thread ({e}): cgroups created from now on match none")
        })
        .ok();
    (reader, thread)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::{path::Path, sync::atomic::Ordering};

    use super::*;

    /// A directory tree standing in for a cgroup2 mount, removed when dropped.
    struct FakeMount(PathBuf);

    impl FakeMount {
        fn new(name: &str, dirs: &[&str]) -> Self {
            let root = std::env::temp_dir().join(format!("scx_relay-cgroups-{}-{name}", std::process::id()));
            let _ = std::fs::remove_dir_all(&root);
            for d in dirs {
                std::fs::create_dir_all(root.join(d)).unwrap();
            }
            // A file, as cgroupfs has in every directory: not a cgroup.
            std::fs::write(root.join("cgroup.procs"), b"").unwrap();
            Self(root)
        }

        fn id(&self, dir: &str) -> u64 {
            std::fs::metadata(self.0.join(dir)).unwrap().ino()
        }

        fn tree(&self) -> CgroupTree {
            CgroupTree::at(self.0.clone(), b"/")
        }
    }

    impl Drop for FakeMount {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    const ROUTES: &str = "[[route]]\npolicy = \"fifo\"\ncgroup = \"/system.slice/*\"\n\
                          [[route]]\npolicy = \"eevdf\"\ncgroup = \"/user.slice*\"\n";

    fn config() -> RoutingConfig {
        RoutingConfig::parse(ROUTES).unwrap()
    }

    /// Waits up to 5 s for `f` to hold.
    fn eventually(what: &str, mut f: impl FnMut() -> bool) {
        let start = Instant::now();
        while !f() {
            assert!(start.elapsed() < Duration::from_secs(5), "{what}: not within 5 s");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Every directory is visited once with its inode number and its path
    /// from the root; files are not cgroups; a subtree mount's paths start
    /// at its root.
    #[test]
    fn walks_directories_with_their_inodes() {
        let m = FakeMount::new("walk", &["a/b", "c"]);
        let mut got = Vec::new();
        assert!(m.tree().walk(100, |id, p| got.push((id, String::from_utf8_lossy(p).into_owned()))).unwrap());
        got.sort_by(|x, y| x.1.cmp(&y.1));
        let want = [("/", ""), ("/a", "a"), ("/a/b", "a/b"), ("/c", "c")];
        assert_eq!(got, want.iter().map(|(p, d)| (m.id(d), (*p).to_owned())).collect::<Vec<_>>());
        let mut sub = Vec::new();
        CgroupTree::at(m.0.join("a"), b"/a").walk(100, |_, p| sub.push(p.to_vec())).unwrap();
        assert_eq!(sub, vec![b"/a".to_vec(), b"/a/b".to_vec()]);
        assert!(!m.tree().walk(2, |_, _| {}).unwrap(), "limited");
    }

    /// The cgroup2 line is found among others, escapes decoded.
    #[test]
    fn finds_the_cgroup2_mount() {
        let text = "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n\
                    32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n\
                    41 31 0:38 /sub\\040dir /sys/fs/cgroup/uni\\040fied rw,relatime shared:9 - cgroup2 cgroup2 rw\n";
        assert_eq!(cgroup2_mount(text), Some(CgroupTree::at(PathBuf::from("/sys/fs/cgroup/uni fied"), b"/sub dir")));
        assert_eq!(cgroup2_mount("32 31 0:29 / /x rw - cgroup cgroup rw,cpu\n"), None);
    }

    /// The walk at start enters every cgroup with its routes' bits; a cgroup
    /// created later is unknown until posted, then the resolver thread
    /// enters it; one removed loses its entry at the next walk; an id not in
    /// the tree is entered as having no path, and stays unresolved.
    #[test]
    fn resolver_fills_and_follows_the_tree() {
        let m = FakeMount::new("resolve", &["system.slice/audio.service", "user.slice/user-1000.slice", "init.scope"]);
        let unresolved = Arc::new(AtomicU64::new(0));
        let (mut reader, _) = start_at(m.tree(), &config(), unresolved.clone());
        assert_eq!(reader.bits(m.id("")), Some(0));
        assert_eq!(reader.bits(m.id("system.slice")), Some(0), "/system.slice/* needs a child");
        assert_eq!(reader.bits(m.id("system.slice/audio.service")), Some(0b01));
        assert_eq!(reader.bits(m.id("user.slice")), Some(0b10));
        assert_eq!(reader.bits(m.id("user.slice/user-1000.slice")), Some(0b10));
        assert_eq!(reader.bits(m.id("init.scope")), Some(0));

        std::fs::create_dir(m.0.join("system.slice/new.service")).unwrap();
        let new = m.id("system.slice/new.service");
        assert_eq!(reader.route_bits(new), 0, "not walked yet: matches nothing");
        assert_eq!(unresolved.load(Ordering::Relaxed), 1);
        eventually("the new cgroup's entry", || reader.bits(new) == Some(0b01));
        assert_eq!(reader.route_bits(new), 0b01);

        std::fs::remove_dir(m.0.join("init.scope")).unwrap();
        let gone = m.id("user.slice/user-1000.slice");
        std::fs::remove_dir(m.0.join("user.slice/user-1000.slice")).unwrap();
        let nowhere = 1 << 50;
        reader.route_bits(nowhere);
        eventually("the removed cgroup's entry gone", || reader.bits(gone).is_none());
        eventually("no path for an id outside the tree", || reader.bits(nowhere) == Some(NO_PATH));
        let before = unresolved.load(Ordering::Relaxed);
        assert_eq!(reader.route_bits(nowhere), 0);
        assert_eq!(unresolved.load(Ordering::Relaxed), before + 1, "no path: counted");
    }

    /// The resolver thread ends with the reader (the routing policy).
    #[test]
    fn resolver_ends_with_the_reader() {
        let m = FakeMount::new("end", &["a"]);
        let (reader, thread) = start_at(m.tree(), &config(), Arc::new(AtomicU64::new(0)));
        let thread = thread.unwrap();
        std::thread::sleep(Duration::from_millis(20));
        assert!(!thread.is_finished());
        drop(reader);
        eventually("the resolver thread's end", || thread.is_finished());
    }

    /// On this host's cgroup2 mount (if any), each cgroup's inode number is
    /// the id the kernel reports for it: `name_to_handle_at` on cgroupfs
    /// gives the kernfs file handle, whose 8 bytes are the node's id
    /// (`kernfs_encode_fh()`).
    #[test]
    fn kernfs_ids_are_inodes() {
        let Some(tree) = CgroupTree::find() else { return };
        let mut checked = 0;
        tree.walk(200, |ino, path| {
            let dir = tree.mount.join(Path::new(std::ffi::OsStr::from_bytes(&path[1..])));
            if let Some(id) = kernfs_id(&dir) {
                assert_eq!(id, ino, "{}", dir.display());
                checked += 1;
            }
        })
        .unwrap();
        eprintln!("kernfs_ids_are_inodes: {checked} cgroups checked");
    }

    /// The kernfs node id of `path` from its file handle, if it has one.
    fn kernfs_id(path: &Path) -> Option<u64> {
        #[repr(C)]
        struct Handle {
            bytes: u32,
            kind: i32,
            id: [u8; 64],
        }
        let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
        let mut h = Handle { bytes: 64, kind: 0, id: [0; 64] };
        let mut mount_id = 0;
        // SAFETY: `c` is a NUL-terminated path that outlives the call; `h` is
        // laid out as struct file_handle (repr(C): u32, int, bytes) with room
        // for the 64 bytes its `bytes` field declares, the most the kernel
        // writes; `mount_id` is a writable int.
        let r = unsafe { libc::name_to_handle_at(libc::AT_FDCWD, c.as_ptr(), (&raw mut h).cast(), &mut mount_id, 0) };
        (r == 0 && h.bytes == 8).then(|| u64::from_ne_bytes(h.id[..8].try_into().unwrap_or([0; 8])))
    }
}
