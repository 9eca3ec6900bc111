//! `fs.path.*` against the expectations of libsinsp's own test of its fs.path filtercheck
//! (falcosecurity/libs@48dfd53 `userspace/libsinsp/test/events_fspath.ut.cpp`): the same event
//! sequences (a thread whose working directory is `/root/`; for the `*at` calls a directory
//! opened as fd 2 first) and the values that test expects, re-expressed here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use kguard_runtime::Inspector;
use kguard_runtime::event;
use kguard_runtime::scap::{Block, RawEvent, ThreadInfo};

const DIRFD_PATH: &str = "/tmp/dirfd1/dirfd2/dirfd3/dirfd4/dirfd5/dirfd6/dirfd7/dirfd8";
const AT_FDCWD: i64 = -100;
/// PPM_O_RDWR | PPM_O_DIRECTORY (the file_flags table).
const O_RDWR_DIRECTORY: u32 = 3 | (1 << 10);

/// A parameter value.
enum P {
    I(i64),
    U(u32),
    S(&'static str),
}
use P::{I, S, U};

/// The bytes of a numeric parameter type.
fn width(ptype: u8) -> usize {
    use event::pt;
    match ptype {
        pt::INT8 | pt::UINT8 | pt::FLAGS8 | pt::ENUMFLAGS8 | pt::SIGTYPE | pt::L4PROTO => 1,
        pt::INT16 | pt::UINT16 | pt::FLAGS16 | pt::ENUMFLAGS16 | pt::PORT | pt::SYSCALLID | pt::SOCKFAMILY => 2,
        pt::INT32
        | pt::UINT32
        | pt::FLAGS32
        | pt::ENUMFLAGS32
        | pt::MODE
        | pt::UID
        | pt::GID
        | pt::FD32
        | pt::PID32 => 4,
        _ => 8,
    }
}

struct Run {
    ins: Inspector,
    ts: u64,
}

impl Run {
    fn new() -> Run {
        let mut ins = Inspector::new();
        let init = ThreadInfo {
            tid: 1,
            pid: 1,
            ptid: 0,
            comm: b"init".to_vec(),
            exe: b"/sbin/init".to_vec(),
            cwd: b"/root/".to_vec(),
            vtid: 1,
            vpid: 1,
            ..ThreadInfo::default()
        };
        ins.feed(Block::Threads(vec![init]));
        Run { ins, ts: 1_000 }
    }

    /// Feeds exit event `code` of thread 1 with its parameters in table order.
    fn exit(&mut self, code: u16, params: &[P]) -> &mut Self {
        let info = event::info(code).unwrap();
        assert!(!event::is_enter(code));
        assert_eq!(params.len(), info.params.len(), "{}", info.name);
        let params = info
            .params
            .iter()
            .zip(params)
            .map(|(pi, v)| match v {
                // numbers in the parameter's width
                I(n) => n.to_le_bytes()[..width(pi.ptype)].to_vec(),
                U(n) => u64::from(*n).to_le_bytes()[..width(pi.ptype)].to_vec(),
                S(s) => {
                    let mut b = s.as_bytes().to_vec();
                    b.push(0);
                    b
                }
            })
            .collect();
        self.ts += 1;
        self.ins.feed(Block::Event(RawEvent {
            num: 0,
            offset: 0,
            cpu: 0,
            flags: 0,
            ts: self.ts,
            tid: 1,
            etype: code,
            params,
        }));
        self
    }

    /// The directory fd 2 the `*at` cases resolve against (openat2 with O_DIRECTORY).
    fn open_dirfd(&mut self) -> &mut Self {
        self.exit(OPENAT2_X, &[I(2), I(2), S(DIRFD_PATH), U(O_RDWR_DIRECTORY), U(0), U(0), U(0), I(0)])
    }

    fn field(&self, f: &str) -> Option<String> {
        self.ins.view().unwrap().field(f, None).map(|v| v.join(","))
    }

    #[track_caller]
    fn path(&self, name: &str, raw: &str) {
        assert_eq!(self.field("fs.path.name").as_deref(), Some(name));
        assert_eq!(self.field("fs.path.nameraw").as_deref(), Some(raw));
        for f in ["fs.path.source", "fs.path.sourceraw", "fs.path.target", "fs.path.targetraw"] {
            assert_eq!(self.field(f), None, "{f}");
        }
    }

    #[track_caller]
    fn source_target(&self, source: &str, sourceraw: &str, target: &str, targetraw: &str) {
        assert_eq!(self.field("fs.path.source").as_deref(), Some(source));
        assert_eq!(self.field("fs.path.sourceraw").as_deref(), Some(sourceraw));
        assert_eq!(self.field("fs.path.target").as_deref(), Some(target));
        assert_eq!(self.field("fs.path.targetraw").as_deref(), Some(targetraw));
        assert_eq!(self.field("fs.path.name"), None);
    }

    #[track_caller]
    fn none(&self) {
        for f in ["name", "nameraw", "source", "sourceraw", "target", "targetraw"] {
            assert_eq!(self.field(&format!("fs.path.{f}")), None, "{f}");
        }
    }
}

// PPME codes (driver/ppm_events_public.h at libs@48dfd53)
const OPEN_X: u16 = 3;
const OPENAT_2_X: u16 = 307;
const OPENAT2_X: u16 = 327;
const MKDIR_2_X: u16 = 277;
const MKDIRAT_X: u16 = 305;
const UNLINKAT_2_X: u16 = 303;
const FCHMODAT_X: u16 = 313;
const CHMOD_X: u16 = 315;
const FCHMOD_X: u16 = 317;
const FCHOWNAT_X: u16 = 385;
const RENAME_X: u16 = 175;
const RENAMEAT2_X: u16 = 319;
const LINK_2_X: u16 = 309;
const LINKAT_2_X: u16 = 311;
const SYMLINK_X: u16 = 179;
const SYMLINKAT_X: u16 = 181;
const MOUNT_X: u16 = 257;
const UMOUNT2_X: u16 = 391;

const NAME: &str = "/tmp/random/dir...///../../name/";
const REL_NAME: &str = "tmp/random/dir...///../../name.txt";
const RESOLVED_REL_NAME: &str = "/tmp/dirfd1/dirfd2/dirfd3/dirfd4/dirfd5/dirfd6/dirfd7/dirfd8/tmp/name.txt";
const FILENAME: &str = "/tmp/random/dir.../..//../filename.txt";

#[test]
fn one_path_calls_resolve_against_the_cwd_or_their_directory_fd() {
    let mut r = Run::new();
    r.exit(MKDIR_2_X, &[I(0), S("/tmp/path"), U(0)]).path("/tmp/path", "/tmp/path");
    r.exit(MKDIR_2_X, &[I(-1), S("/tmp/path"), U(0)]).none();
    r.open_dirfd().exit(MKDIRAT_X, &[I(0), I(2), S("/tmp/path"), U(0)]).path("/tmp/path", "/tmp/path");
    r.open_dirfd().exit(UNLINKAT_2_X, &[I(0), I(2), S(REL_NAME), I(0)]).path(RESOLVED_REL_NAME, REL_NAME);
    r.exit(UNLINKAT_2_X, &[I(-1), I(2), S(NAME), I(0)]).none();
    // chmod: relative to the working directory; fchmodat: to its directory fd
    r.exit(CHMOD_X, &[I(0), S(FILENAME), U(0)]).path("/tmp/filename.txt", FILENAME);
    r.exit(CHMOD_X, &[I(0), S("tmp/filename.txt"), U(0)]).path("/root/tmp/filename.txt", "tmp/filename.txt");
    r.open_dirfd().exit(FCHMODAT_X, &[I(0), I(2), S(REL_NAME), U(0)]).path(RESOLVED_REL_NAME, REL_NAME);
    let complex = "../\\.../../tmp/filename_complex";
    r.open_dirfd()
        .exit(FCHMODAT_X, &[I(0), I(2), S(complex), U(0)])
        .path("/tmp/dirfd1/dirfd2/dirfd3/dirfd4/dirfd5/dirfd6/dirfd7/tmp/filename_complex", complex);
    r.open_dirfd().exit(FCHMODAT_X, &[I(0), I(2), S("nopath"), U(0)]).path(&format!("{DIRFD_PATH}/nopath"), "nopath");
    r.open_dirfd()
        .exit(FCHOWNAT_X, &[I(0), I(2), S("tmp/pathname"), U(0), U(0), I(0)])
        .path(&format!("{DIRFD_PATH}/tmp/pathname"), "tmp/pathname");
    // fchmod: the fd's name
    r.exit(OPEN_X, &[I(3), S("/tmp/path"), U(2), U(0x8000), U(0), I(0)]);
    r.exit(FCHMOD_X, &[I(0), I(3), U(0)]).path("/tmp/path", "/tmp/path");
    r.exit(FCHMOD_X, &[I(-1), I(3), U(0)]).none();
    r.exit(UMOUNT2_X, &[I(0), S("/mnt/cdrom"), I(0)]).path("/mnt/cdrom", "/mnt/cdrom");
}

#[test]
fn opens_give_the_opened_name_unless_the_fd_is_minus_one() {
    let mut r = Run::new();
    r.exit(OPEN_X, &[I(3), S(NAME), U(2), U(0x8000), U(0), I(0)]).path("/tmp/name", NAME);
    assert_eq!(r.field("fs.path.name"), r.field("fd.name"));
    r.exit(OPEN_X, &[I(-1), S("<NA>"), U(2), U(0x8000), U(0), I(0)]).none();
    r.open_dirfd().exit(OPENAT_2_X, &[I(3), I(2), S(REL_NAME), U(2), U(0x8000), U(0), I(0)]);
    r.path(RESOLVED_REL_NAME, REL_NAME);
    assert_eq!(r.field("fs.path.name"), r.field("fd.name"));
    // relative to the working directory when the directory fd is AT_FDCWD
    r.exit(OPENAT2_X, &[I(3), I(AT_FDCWD), S(REL_NAME), U(2), U(0x8000), U(0), U(0), I(0)]);
    r.path("/root/tmp/name.txt", REL_NAME);
    r.exit(OPENAT2_X, &[I(-1), I(AT_FDCWD), S(NAME), U(2), U(0x8000), U(0), U(0), I(0)]).none();
}

#[test]
fn two_path_calls_give_source_and_target() {
    let mut r = Run::new();
    r.exit(RENAME_X, &[I(0), S("/tmp/oldpath"), S("/tmp/newpath")]).source_target(
        "/tmp/oldpath",
        "/tmp/oldpath",
        "/tmp/newpath",
        "/tmp/newpath",
    );
    r.exit(RENAME_X, &[I(-1), S("/tmp/oldpath"), S("/tmp/newpath")]).none();
    r.open_dirfd().exit(RENAMEAT2_X, &[I(0), I(2), S("tmp/oldpath"), I(2), S("tmp/newpath"), I(0)]).source_target(
        &format!("{DIRFD_PATH}/tmp/oldpath"),
        "tmp/oldpath",
        &format!("{DIRFD_PATH}/tmp/newpath"),
        "tmp/newpath",
    );
    // link: the new link is the source; linkat resolves against the working directory
    r.exit(LINK_2_X, &[I(0), S("tmp/oldpath"), S("tmp/newpath")]).source_target(
        "/root/tmp/newpath",
        "tmp/newpath",
        "/root/tmp/oldpath",
        "tmp/oldpath",
    );
    r.open_dirfd().exit(LINKAT_2_X, &[I(0), I(2), S("tmp/oldpath"), I(2), S("tmp/newpath"), I(0)]).source_target(
        "/root/tmp/newpath",
        "tmp/newpath",
        "/root/tmp/oldpath",
        "tmp/oldpath",
    );
    r.exit(SYMLINK_X, &[I(0), S("tmp/targetpath"), S("tmp/linkpath")]).source_target(
        "/root/tmp/linkpath",
        "tmp/linkpath",
        "/root/tmp/targetpath",
        "tmp/targetpath",
    );
    // symlinkat: the link after its directory fd; a relative target is not resolved
    r.open_dirfd().exit(SYMLINKAT_X, &[I(0), S("tmp/targetpath"), I(2), S("tmp/linkpath")]).source_target(
        &format!("{DIRFD_PATH}/tmp/linkpath"),
        "tmp/linkpath",
        "<UNKNOWN>tmp/targetpath",
        "tmp/targetpath",
    );
    r.exit(MOUNT_X, &[I(0), S("/dev/cdrom0"), S("/mnt/cdrom"), S("iso9660"), I(0)]).source_target(
        "/dev/cdrom0",
        "/dev/cdrom0",
        "/mnt/cdrom",
        "/mnt/cdrom",
    );
    r.exit(MOUNT_X, &[I(-1), S("/dev/cdrom0"), S("/mnt/cdrom"), S("iso9660"), I(0)]).none();
}
