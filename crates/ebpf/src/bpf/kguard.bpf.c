// SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0
//
// kguard's live system-call probe: one record per system call exit of the syscalls Falco's rules
// and libsinsp's state need (plus one per thread exit), written to one BPF ring buffer.
//
// A record is a fixed header (struct rec_hdr) and up to NBLOB variable-length blobs (strings,
// socket addresses and tuples, process information) whose meaning depends on the syscall; user
// space (src/record.rs) turns it into the PPME_* events of the libs@48dfd53 event table. Records
// are built in a per-CPU scratch buffer; a full ring buffer or an oversized record is counted
// in the per-CPU `drops` map, never retried.
//
// Attach points: tp_btf/sys_exit, tp_btf/sys_enter (execve/execveat only: the file name, which a
// successful exec makes unreadable at exit), tp_btf/sched_process_exit. No tracefs, kprobes,
// fentry or LSM hooks (see ../shared/design/runtime-tracing.md section 1).

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define NBLOB 8
#define SCRATCH 32768
#define HALF 16384
#define MAXBLOB 4096
#define PATHBUF 8192
#define PATH_DEPTH 32

// Records that are not system calls.
#define NR_PROCEXIT 10000

struct rec_hdr {
	__u64 ts;
	__u32 tid;
	__u32 pid;
	__u32 nr;
	__u16 cpu;
	__u16 nblobs;
	__s64 ret;
	__u64 args[6];
	__u16 blen[NBLOB];
};

// Process information appended to execve/execveat/clone records (blob "pinfo").
struct pinfo {
	__u32 ptid;
	__u32 loginuid;
	__u32 uid;
	__u32 gid;
	__u32 tty_major;
	__u32 tty_minor_start;
	__u32 tty_index;
	__u32 pgid;
	__u32 sid;
	__u32 vtid;
	__u32 vpid;
	__u32 exe_nlink;
	__u64 cap_inheritable;
	__u64 cap_permitted;
	__u64 cap_effective;
	__u64 fdlimit;
	__u64 exe_ino;
	__u64 exe_ctime;
	__u64 exe_mtime;
	__u64 start_ts;
	char comm[16];
};

// Socket information of an fd (blob "sock").
struct sockinfo {
	__u16 family;
	__u16 type;
	__u16 proto;
	__u16 sport;
	__u16 dport;
	__u16 pad;
	__u32 pad2;
	__u8 saddr[16];
	__u8 daddr[16];
	__u64 sk;
	__u64 peer;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} events SEC(".maps");

struct scratch {
	__u8 buf[SCRATCH];
	__u8 path[PATHBUF];
};

// Per-CPU scratch, an ARRAY indexed by CPU (a PERCPU_ARRAY value is capped at 32 KiB);
// user space sets max_entries to the number of possible CPUs.
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch SEC(".maps");

// Records that did not fit in the ring buffer (or in the scratch buffer), per CPU.
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

struct kg_fname {
	char s[MAXBLOB];
};

// execve/execveat file names, by thread, from sys_enter to sys_exit.
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct kg_fname);
} exec_names SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kg_fname);
} fname_tmp SEC(".maps");

// The tgid of kguard itself (set by user space before load): its own system calls are not traced.
const volatile __u32 self_tgid = 0;

struct ctx {
	struct scratch *s;
	__u32 off;
	__u32 n;
};

static __always_inline void count_drop(__u32 why)
{
	__u64 *d = bpf_map_lookup_elem(&drops, &why);
	if (d)
		__sync_fetch_and_add(d, 1);
}

static __always_inline void *blob_at(struct ctx *c)
{
	__u32 o = c->off;
	if (o >= HALF || c->n >= NBLOB)
		return 0;
	barrier_var(o);
	o &= (HALF - 1);
	return &c->s->buf[sizeof(struct rec_hdr) + o];
}

static __always_inline void blob_done(struct ctx *c, long len)
{
	struct rec_hdr *h = (struct rec_hdr *)c->s->buf;
	__u32 n = c->n;
	if (len < 0)
		len = 0;
	if (n < NBLOB)
		h->blen[n & (NBLOB - 1)] = (__u16)len;
	c->off += (__u32)len;
	c->n = n + 1;
}

static __always_inline void put_empty(struct ctx *c)
{
	blob_done(c, 0);
}

// A NUL-terminated user string (the NUL is kept).
static __always_inline void put_ustr(struct ctx *c, __u64 ptr)
{
	void *dst = blob_at(c);
	long n = 0;
	if (dst && ptr)
		n = bpf_probe_read_user_str(dst, MAXBLOB, (void *)ptr);
	blob_done(c, n);
}

static __always_inline void put_udata(struct ctx *c, __u64 ptr, __u64 len)
{
	void *dst = blob_at(c);
	long n = 0;
	if (len > MAXBLOB)
		len = MAXBLOB;
	if (dst && ptr && len > 0) {
		if (bpf_probe_read_user(dst, len & (MAXBLOB - 1 + MAXBLOB), (void *)ptr) == 0)
			n = len;
	}
	blob_done(c, n);
}

static __always_inline void put_kdata(struct ctx *c, void *src, __u32 len)
{
	void *dst = blob_at(c);
	long n = 0;
	if (dst && len <= MAXBLOB && len > 0) {
		if (bpf_probe_read_kernel(dst, len & (2 * MAXBLOB - 1), src) == 0)
			n = len;
	}
	blob_done(c, n);
}

// The path built backwards in the scratch path buffer, from `pos` to its middle, as one
// NUL-terminated blob ("/" when empty).
static __always_inline void put_built_path(struct ctx *c, __u32 pos)
{
	struct scratch *s = c->s;
	void *dst = blob_at(c);
	if (!dst) {
		blob_done(c, 0);
		return;
	}
	__u32 len = PATHBUF / 2 - pos;
	if (len == 0) {
		((char *)dst)[0] = '/';
		((char *)dst)[1] = 0;
		blob_done(c, 2);
		return;
	}
	len &= (PATHBUF / 2 - 1);
	bpf_probe_read_kernel(dst, len, &s->path[pos & (PATHBUF / 2 - 1)]);
	((char *)dst)[len & (MAXBLOB - 1)] = 0;
	blob_done(c, len + 1);
}

// A path, walked from its dentry up to the root of the mount namespace, as Falco's modern probe
// approximates d_path.
static __noinline void put_path(struct ctx *c, struct dentry *d, struct vfsmount *vfs)
{
	struct scratch *s = c->s;
	__u32 pos = PATHBUF / 2;
	struct mount *mnt = container_of(vfs, struct mount, mnt);
	struct dentry *mnt_root;
	struct dentry *parent;
	struct qstr name;

	if (!d) {
		put_empty(c);
		return;
	}
	for (int i = 0; i < PATH_DEPTH; i++) {
		mnt_root = BPF_CORE_READ(vfs, mnt_root);
		if (d == mnt_root) {
			struct mount *mp = BPF_CORE_READ(mnt, mnt_parent);
			if (mp == mnt)
				break;
			d = BPF_CORE_READ(mnt, mnt_mountpoint);
			mnt = mp;
			vfs = &mp->mnt;
			continue;
		}
		parent = BPF_CORE_READ(d, d_parent);
		if (parent == d)
			break;
		name = BPF_CORE_READ(d, d_name);
		__u32 len = name.len & 255;
		if (pos < len + 1)
			break;
		pos -= len + 1;
		pos &= (PATHBUF / 2 - 1);
		s->path[pos & (PATHBUF - 1)] = '/';
		bpf_probe_read_kernel(&s->path[(pos + 1) & (PATHBUF / 2 - 1)], len, name.name);
		d = parent;
	}
	put_built_path(c, pos);
}

static __always_inline struct file *fd_file(struct task_struct *t, long fd)
{
	struct file **arr = BPF_CORE_READ(t, files, fdt, fd);
	unsigned int max = BPF_CORE_READ(t, files, fdt, max_fds);
	struct file *f = 0;
	if (fd < 0 || fd >= max)
		return 0;
	bpf_probe_read_kernel(&f, sizeof(f), &arr[fd]);
	return f;
}

#define S_IFMT 00170000
#define S_IFSOCK 0140000

static __always_inline void put_sock(struct ctx *c, struct task_struct *t, long fd)
{
	struct sockinfo si = {};
	struct file *f = fd_file(t, fd);
	if (!f) {
		put_empty(c);
		return;
	}
	umode_t mode = BPF_CORE_READ(f, f_inode, i_mode);
	if ((mode & S_IFMT) != S_IFSOCK) {
		put_empty(c);
		return;
	}
	struct socket *sock = BPF_CORE_READ(f, private_data);
	struct sock *sk = BPF_CORE_READ(sock, sk);
	if (!sk) {
		put_empty(c);
		return;
	}
	si.family = BPF_CORE_READ(sk, __sk_common.skc_family);
	si.type = BPF_CORE_READ(sk, sk_type);
	si.proto = BPF_CORE_READ(sk, sk_protocol);
	si.sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	si.dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	si.sk = (__u64)sk;
	if (si.family == 2) {
		__u32 a = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		__u32 b = BPF_CORE_READ(sk, __sk_common.skc_daddr);
		__builtin_memcpy(si.saddr, &a, 4);
		__builtin_memcpy(si.daddr, &b, 4);
	} else if (si.family == 10) {
		BPF_CORE_READ_INTO(&si.saddr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&si.daddr, sk, __sk_common.skc_v6_daddr);
	} else if (si.family == 1) {
		struct unix_sock *us = (struct unix_sock *)sk;
		si.peer = (__u64)BPF_CORE_READ(us, peer);
	}
	put_kdata(c, &si, sizeof(si));
}

// The file's inode number and device (blob "fileinfo": u64 ino, u32 dev).
static __always_inline void put_fileinfo(struct ctx *c, struct task_struct *t, long fd)
{
	struct {
		__u64 ino;
		__u32 dev;
		__u32 nlink;
	} fi = {};
	struct file *f = fd_file(t, fd);
	if (!f) {
		put_empty(c);
		return;
	}
	fi.ino = BPF_CORE_READ(f, f_inode, i_ino);
	fi.dev = BPF_CORE_READ(f, f_inode, i_sb, s_dev);
	fi.nlink = BPF_CORE_READ(f, f_inode, __i_nlink);
	put_kdata(c, &fi, sizeof(fi));
}

// Process information, args, exe path and cwd of the current task (4 blobs).
static __always_inline void put_proc(struct ctx *c, struct task_struct *t)
{
	struct pinfo pi = {};
	pi.ptid = BPF_CORE_READ(t, real_parent, pid);
	if (bpf_core_field_exists(t->loginuid))
		pi.loginuid = BPF_CORE_READ(t, loginuid.val);
	else
		pi.loginuid = (__u32)-1;
	pi.uid = BPF_CORE_READ(t, cred, euid.val);
	pi.gid = BPF_CORE_READ(t, cred, egid.val);
	struct tty_struct *tty = BPF_CORE_READ(t, signal, tty);
	if (tty) {
		pi.tty_major = BPF_CORE_READ(tty, driver, major);
		pi.tty_minor_start = BPF_CORE_READ(tty, driver, minor_start);
		pi.tty_index = BPF_CORE_READ(tty, index);
	}
	pi.cap_inheritable = BPF_CORE_READ(t, cred, cap_inheritable.val);
	pi.cap_permitted = BPF_CORE_READ(t, cred, cap_permitted.val);
	pi.cap_effective = BPF_CORE_READ(t, cred, cap_effective.val);
	pi.fdlimit = BPF_CORE_READ(t, signal, rlim[7].rlim_cur);
	pi.start_ts = BPF_CORE_READ(t, start_boottime);
	struct pid *pg = BPF_CORE_READ(t, signal, pids[PIDTYPE_PGID]);
	pi.pgid = BPF_CORE_READ(pg, numbers[0].nr);
	struct pid *sid = BPF_CORE_READ(t, signal, pids[PIDTYPE_SID]);
	pi.sid = BPF_CORE_READ(sid, numbers[0].nr);
	BPF_CORE_READ_STR_INTO(&pi.comm, t, comm);
	struct mm_struct *mm = BPF_CORE_READ(t, mm);
	struct file *exe = BPF_CORE_READ(mm, exe_file);
	if (exe) {
		pi.exe_ino = BPF_CORE_READ(exe, f_inode, i_ino);
		pi.exe_nlink = BPF_CORE_READ(exe, f_inode, __i_nlink);
	}
	put_kdata(c, &pi, sizeof(pi));
	// args: the argument area of the (new) image
	unsigned long as = BPF_CORE_READ(mm, arg_start);
	unsigned long ae = BPF_CORE_READ(mm, arg_end);
	put_udata(c, as, ae > as ? ae - as : 0);
	if (exe)
		put_path(c, BPF_CORE_READ(exe, f_path.dentry), BPF_CORE_READ(exe, f_path.mnt));
	else
		put_empty(c);
	put_path(c, BPF_CORE_READ(t, fs, pwd.dentry), BPF_CORE_READ(t, fs, pwd.mnt));
}

// kernfs_node before Linux 6.15 named its parent `parent` (now `__parent`).
struct kernfs_node___pre615 {
	struct kernfs_node *parent;
} __attribute__((preserve_access_index));

static __always_inline struct kernfs_node *kn_parent(struct kernfs_node *kn)
{
	if (bpf_core_field_exists(struct kernfs_node___pre615, parent))
		return BPF_CORE_READ((struct kernfs_node___pre615 *)kn, parent);
	return BPF_CORE_READ(kn, __parent);
}

#define CGROUP_DEPTH 16

// The path of a cgroup (its kernfs node walked up to the hierarchy's root), NUL-terminated; "/"
// for the root. Read in the kernel because a short-lived process may be gone by the time user
// space could read /proc/<pid>/cgroup.
static __noinline void put_cgroup(struct ctx *c, struct kernfs_node *kn)
{
	struct scratch *s = c->s;
	__u32 pos = PATHBUF / 2;
	for (int i = 0; i < CGROUP_DEPTH && kn; i++) {
		struct kernfs_node *parent = kn_parent(kn);
		if (!parent)
			break;
		const char *name = BPF_CORE_READ(kn, name);
		char tmp[128];
		long n = bpf_probe_read_kernel_str(tmp, sizeof(tmp), name);
		if (n <= 1)
			break;
		__u32 len = (__u32)(n - 1) & 127;
		if (pos < len + 1)
			break;
		pos -= len + 1;
		pos &= (PATHBUF / 2 - 1);
		s->path[pos & (PATHBUF - 1)] = '/';
		bpf_probe_read_kernel(&s->path[(pos + 1) & (PATHBUF / 2 - 1)], len, tmp);
		kn = parent;
	}
	put_built_path(c, pos);
}

// The cgroups of a new process or program (2 blobs): the default (v2) hierarchy's path, and
// the cpu controller's (its v1 hierarchy on hybrid and v1 systems; empty without it).
static __always_inline void put_cgroups(struct ctx *c, struct task_struct *t)
{
	put_cgroup(c, BPF_CORE_READ(t, cgroups, dfl_cgrp, kn));
	if (bpf_core_enum_value_exists(enum cgroup_subsys_id, cpu_cgrp_id)) {
		int id = bpf_core_enum_value(enum cgroup_subsys_id, cpu_cgrp_id);
		if (id >= 0 && id < 12) {
			struct cgroup_subsys_state *css = BPF_CORE_READ(t, cgroups, subsys[id & 15]);
			put_cgroup(c, BPF_CORE_READ(css, cgroup, kn));
			return;
		}
	}
	put_empty(c);
}

static __always_inline int emit(struct ctx *c)
{
	__u32 size = sizeof(struct rec_hdr) + c->off;
	struct rec_hdr *h = (struct rec_hdr *)c->s->buf;
	h->nblobs = c->n;
	if (size > SCRATCH || size < sizeof(struct rec_hdr)) {
		count_drop(1);
		return 0;
	}
	if (bpf_ringbuf_output(&events, c->s->buf, size & (SCRATCH - 1), 0) != 0)
		count_drop(0);
	return 0;
}

static __always_inline int begin(struct ctx *c, __u32 nr, long ret)
{
	__u32 key = bpf_get_smp_processor_id();
	__u64 id = bpf_get_current_pid_tgid();
	if ((__u32)(id >> 32) == self_tgid)
		return -1;
	c->s = bpf_map_lookup_elem(&scratch, &key);
	if (!c->s)
		return -1;
	c->off = 0;
	c->n = 0;
	struct rec_hdr *h = (struct rec_hdr *)c->s->buf;
	h->ts = bpf_ktime_get_boot_ns();
	h->tid = (__u32)id;
	h->pid = (__u32)(id >> 32);
	h->nr = nr;
	h->cpu = bpf_get_smp_processor_id();
	h->ret = ret;
	for (int i = 0; i < NBLOB; i++)
		h->blen[i] = 0;
	return 0;
}

static __always_inline int traced(long nr)
{
	switch (nr) {
	case 2: case 3: case 22: case 32: case 33: case 41: case 42: case 43: case 44: case 46:
	case 49: case 50: case 53: case 56: case 57: case 58: case 59: case 72: case 80: case 81:
	case 82: case 83: case 85: case 86: case 87: case 88: case 101: case 105: case 106:
	case 113: case 114: case 117: case 119: case 165: case 175: case 257: case 258: case 263:
	case 264: case 265: case 266: case 272: case 288: case 292: case 293: case 308: case 313:
	case 316: case 319: case 322: case 435: case 437:
		return 1;
	}
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(kg_sys_enter, struct pt_regs *regs, long id)
{
	if (id != 59 && id != 322)
		return 0;
	__u64 pt = bpf_get_current_pid_tgid();
	if ((__u32)(pt >> 32) == self_tgid)
		return 0;
	__u32 tid = (__u32)pt, key = 0;
	struct kg_fname *f = bpf_map_lookup_elem(&fname_tmp, &key);
	if (!f)
		return 0;
	unsigned long p = id == 59 ? BPF_CORE_READ(regs, di) : BPF_CORE_READ(regs, si);
	if (bpf_probe_read_user_str(f->s, sizeof(f->s), (void *)p) < 0)
		f->s[0] = 0;
	bpf_map_update_elem(&exec_names, &tid, f, BPF_ANY);
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(kg_sys_exit, struct pt_regs *regs, long ret)
{
	long nr = BPF_CORE_READ(regs, orig_ax);
	if (!traced(nr))
		return 0;
	struct ctx c;
	if (begin(&c, nr, ret) != 0)
		return 0;
	struct rec_hdr *h = (struct rec_hdr *)c.s->buf;
	__u64 a[6];
	a[0] = BPF_CORE_READ(regs, di);
	a[1] = BPF_CORE_READ(regs, si);
	a[2] = BPF_CORE_READ(regs, dx);
	a[3] = BPF_CORE_READ(regs, r10);
	a[4] = BPF_CORE_READ(regs, r8);
	a[5] = BPF_CORE_READ(regs, r9);
	for (int i = 0; i < 6; i++)
		h->args[i] = a[i];
	struct task_struct *t = (struct task_struct *)bpf_get_current_task_btf();

	switch (nr) {
	case 2:   // open(path, flags, mode)
	case 85:  // creat(path, mode)
		put_ustr(&c, a[0]);
		put_fileinfo(&c, t, ret);
		break;
	case 257: // openat(dirfd, path, flags, mode)
		put_ustr(&c, a[1]);
		put_fileinfo(&c, t, ret);
		break;
	case 437: // openat2(dirfd, path, how, size)
		put_ustr(&c, a[1]);
		put_fileinfo(&c, t, ret);
		put_udata(&c, a[2], 24);
		break;
	case 59:  // execve
	case 322: { // execveat
		__u32 tid = (__u32)bpf_get_current_pid_tgid();
		struct kg_fname *f = bpf_map_lookup_elem(&exec_names, &tid);
		if (f) {
			void *dst = blob_at(&c);
			long n = 0;
			if (dst)
				n = bpf_probe_read_kernel_str(dst, MAXBLOB, f->s);
			blob_done(&c, n);
			bpf_map_delete_elem(&exec_names, &tid);
		} else {
			put_empty(&c);
		}
		put_proc(&c, t);
		put_cgroups(&c, t);
		break;
	}
	case 56: case 57: case 58: case 435: // clone, fork, vfork, clone3
		put_empty(&c);
		put_proc(&c, t);
		put_cgroups(&c, t);
		if (nr == 435) {
			// clone3(struct clone_args *, size): the flags are its first field
			put_udata(&c, a[0], 8);
		}
		break;
	case 42:  // connect(fd, addr, len)
	case 49:  // bind(fd, addr, len)
		put_udata(&c, a[1], a[2] > 128 ? 128 : a[2]);
		put_sock(&c, t, (long)a[0]);
		break;
	case 43: case 288: // accept, accept4: the new fd's socket
		put_empty(&c);
		put_sock(&c, t, ret);
		break;
	case 44:  // sendto(fd, buf, len, flags, addr, alen)
		put_udata(&c, a[4], a[5] > 128 ? 128 : a[5]);
		put_sock(&c, t, (long)a[0]);
		break;
	case 46:  // sendmsg(fd, msg, flags)
		put_empty(&c);
		put_sock(&c, t, (long)a[0]);
		break;
	case 86: case 88: case 82: // link, symlink, rename (old, new)
		put_ustr(&c, a[0]);
		put_ustr(&c, a[1]);
		break;
	case 265: case 264: case 316: // linkat, renameat, renameat2 (olddir, old, newdir, new)
		put_ustr(&c, a[1]);
		put_ustr(&c, a[3]);
		break;
	case 266: // symlinkat(target, newdirfd, linkpath)
		put_ustr(&c, a[0]);
		put_ustr(&c, a[2]);
		break;
	case 87: case 83: case 80: case 319: case 175: // unlink, mkdir, chdir, memfd_create, init_module(uargs = a2)
		put_ustr(&c, nr == 175 ? a[2] : a[0]);
		break;
	case 263: case 258: // unlinkat, mkdirat
		put_ustr(&c, a[1]);
		break;
	case 313: // finit_module(fd, uargs, flags)
		put_ustr(&c, a[1]);
		break;
	case 165: // mount(dev, dir, type, flags, data)
		put_ustr(&c, a[0]);
		put_ustr(&c, a[1]);
		put_ustr(&c, a[2]);
		break;
	default:
		break;
	}
	return emit(&c);
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(kg_proc_exit, struct task_struct *p)
{
	struct ctx c;
	long code = BPF_CORE_READ(p, exit_code);
	if (begin(&c, NR_PROCEXIT, code) != 0)
		return 0;
	return emit(&c);
}
