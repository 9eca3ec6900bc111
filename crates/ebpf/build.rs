//! With the `live` feature: generates `vmlinux.h` from the running kernel's BTF (or takes
//! `KGUARD_VMLINUX_H`) and compiles `src/bpf/kguard.bpf.c` with clang into `$OUT_DIR/kguard.bpf.o`.
//! Without it: nothing (the default build needs no clang).

fn main() {
    println!("cargo:rerun-if-changed=src/bpf/kguard.bpf.c");
    println!("cargo:rerun-if-env-changed=KGUARD_VMLINUX_H");
    #[cfg(feature = "live")]
    live::build();
}

#[cfg(feature = "live")]
mod live {
    use std::path::PathBuf;
    use std::process::Command;

    #[allow(clippy::panic)] // a build script reports failure by panicking
    pub fn build() {
        let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default());
        let vmlinux = out.join("vmlinux.h");
        if let Some(p) = std::env::var_os("KGUARD_VMLINUX_H") {
            if let Err(e) = std::fs::copy(&p, &vmlinux) {
                panic!("KGUARD_VMLINUX_H={}: {e}", PathBuf::from(p).display());
            }
        } else {
            let btf = "/sys/kernel/btf/vmlinux";
            let o = Command::new("bpftool").args(["btf", "dump", "file", btf, "format", "c"]).output();
            match o {
                Ok(o) if o.status.success() => {
                    if let Err(e) = std::fs::write(&vmlinux, &o.stdout) {
                        panic!("{}: {e}", vmlinux.display());
                    }
                }
                Ok(o) => panic!(
                    "`bpftool btf dump file {btf} format c` failed: {}\n(the `live` feature needs a kernel with BTF, \
                     or KGUARD_VMLINUX_H pointing at a generated vmlinux.h)",
                    String::from_utf8_lossy(&o.stderr)
                ),
                Err(e) => panic!(
                    "bpftool not found ({e}): the `live` feature needs bpftool (apt-get install bpftool) to generate \
                     vmlinux.h, or KGUARD_VMLINUX_H pointing at one"
                ),
            }
        }
        let obj = out.join("kguard.bpf.o");
        let include = format!("-I{}", out.display());
        if let Err(e) = libbpf_cargo::SkeletonBuilder::new()
            .source("src/bpf/kguard.bpf.c")
            .obj(&obj)
            .clang_args([include.as_str()])
            .build()
        {
            panic!("compiling src/bpf/kguard.bpf.c: {e:#}");
        }
    }
}
