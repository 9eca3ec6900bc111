//! Classic BPF as seccomp runs it: instructions, `struct seccomp_data`, an interpreter that
//! counts executed instructions, and the kernel's load-time checks (`bpf_check_classic` and
//! `seccomp_check_filter`).

use std::fmt;

use crate::arch::Endian;

/// `BPF_MAXINSNS`: the longest program the kernel loads.
pub const MAX_INSNS: usize = 4096;
/// `sizeof(struct seccomp_data)`.
pub const DATA_SIZE: u32 = 64;

/// Instruction classes and fields (`linux/filter.h`).
#[allow(missing_docs)]
pub mod op {
    pub const LD: u16 = 0x00;
    pub const LDX: u16 = 0x01;
    pub const ST: u16 = 0x02;
    pub const STX: u16 = 0x03;
    pub const ALU: u16 = 0x04;
    pub const JMP: u16 = 0x05;
    pub const RET: u16 = 0x06;
    pub const MISC: u16 = 0x07;
    pub const W: u16 = 0x00;
    pub const H: u16 = 0x08;
    pub const B: u16 = 0x10;
    pub const IMM: u16 = 0x00;
    pub const ABS: u16 = 0x20;
    pub const IND: u16 = 0x40;
    pub const MEM: u16 = 0x60;
    pub const LEN: u16 = 0x80;
    pub const MSH: u16 = 0xa0;
    pub const ADD: u16 = 0x00;
    pub const SUB: u16 = 0x10;
    pub const MUL: u16 = 0x20;
    pub const DIV: u16 = 0x30;
    pub const OR: u16 = 0x40;
    pub const AND: u16 = 0x50;
    pub const LSH: u16 = 0x60;
    pub const RSH: u16 = 0x70;
    pub const NEG: u16 = 0x80;
    pub const MOD: u16 = 0x90;
    pub const XOR: u16 = 0xa0;
    pub const JA: u16 = 0x00;
    pub const JEQ: u16 = 0x10;
    pub const JGT: u16 = 0x20;
    pub const JGE: u16 = 0x30;
    pub const JSET: u16 = 0x40;
    pub const K: u16 = 0x00;
    pub const X: u16 = 0x08;
    pub const A: u16 = 0x10;
    pub const TAX: u16 = 0x00;
    pub const TXA: u16 = 0x80;
}

/// One instruction (`struct sock_filter`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Insn {
    /// Opcode.
    pub code: u16,
    /// Jump offset if true.
    pub jt: u8,
    /// Jump offset if false.
    pub jf: u8,
    /// Operand.
    pub k: u32,
}

impl Insn {
    /// `BPF_STMT`.
    #[must_use]
    pub const fn stmt(code: u16, k: u32) -> Insn {
        Insn { code, jt: 0, jf: 0, k }
    }
    /// `BPF_JUMP`.
    #[must_use]
    pub const fn jump(code: u16, k: u32, jt: u8, jf: u8) -> Insn {
        Insn { code, jt, jf, k }
    }

    /// The 8 bytes of `struct sock_filter` in the given byte order.
    #[must_use]
    pub fn to_bytes(self, endian: Endian) -> [u8; 8] {
        let (c, k) = match endian {
            Endian::Little => (self.code.to_le_bytes(), self.k.to_le_bytes()),
            Endian::Big => (self.code.to_be_bytes(), self.k.to_be_bytes()),
        };
        [c[0], c[1], self.jt, self.jf, k[0], k[1], k[2], k[3]]
    }

    /// Reads one `struct sock_filter` (8 bytes).
    #[must_use]
    pub fn from_bytes(b: [u8; 8], endian: Endian) -> Insn {
        let [c0, c1, jt, jf, k0, k1, k2, k3] = b;
        match endian {
            Endian::Little => {
                Insn { code: u16::from_le_bytes([c0, c1]), jt, jf, k: u32::from_le_bytes([k0, k1, k2, k3]) }
            }
            Endian::Big => Insn { code: u16::from_be_bytes([c0, c1]), jt, jf, k: u32::from_be_bytes([k0, k1, k2, k3]) },
        }
    }
}

/// Serializes a program (the format of libseccomp's `seccomp_export_bpf`).
#[must_use]
pub fn to_bytes(prog: &[Insn], endian: Endian) -> Vec<u8> {
    prog.iter().flat_map(|i| i.to_bytes(endian)).collect()
}

/// Reads a program serialized by [`to_bytes`] or `seccomp_export_bpf`.
///
/// # Errors
/// When the length is not a multiple of 8.
pub fn from_bytes(bytes: &[u8], endian: Endian) -> Result<Vec<Insn>, VerifyError> {
    if !bytes.len().is_multiple_of(8) {
        return Err(VerifyError::Truncated(bytes.len()));
    }
    Ok(bytes
        .chunks_exact(8)
        .map(|c| {
            let mut b = [0u8; 8];
            b.copy_from_slice(c);
            Insn::from_bytes(b, endian)
        })
        .collect())
}

impl fmt::Display for Insn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let class = self.code & 0x07;
        match class {
            op::LD if self.code & 0xe0 == op::ABS => write!(f, "ld  [{}]", self.k),
            op::LD if self.code & 0xe0 == op::MEM => write!(f, "ld  M[{}]", self.k),
            op::LD => write!(f, "ld  #{:#x}", self.k),
            op::LDX => write!(f, "ldx #{:#x}", self.k),
            op::ST => write!(f, "st  M[{}]", self.k),
            op::STX => write!(f, "stx M[{}]", self.k),
            op::ALU => write!(f, "alu {:#04x} #{:#x}", self.code & 0xf0, self.k),
            op::JMP => {
                let name = match self.code & 0xf0 {
                    op::JA => return write!(f, "ja  +{}", self.k),
                    op::JEQ => "jeq",
                    op::JGT => "jgt",
                    op::JGE => "jge",
                    op::JSET => "jset",
                    _ => "j??",
                };
                write!(f, "{name} #{:#x} +{} +{}", self.k, self.jt, self.jf)
            }
            op::RET => write!(f, "ret #{:#010x}", self.k),
            _ => write!(f, "misc {:#x}", self.code),
        }
    }
}

/// `struct seccomp_data`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SeccompData {
    /// Syscall number.
    pub nr: u32,
    /// `AUDIT_ARCH_*`.
    pub arch: u32,
    /// Instruction pointer.
    pub instruction_pointer: u64,
    /// Arguments.
    pub args: [u64; 6],
}

impl SeccompData {
    /// The 32-bit word at byte offset `off`, as a load in `endian` reads it.
    #[must_use]
    pub fn word(&self, off: u32, endian: Endian) -> Option<u32> {
        if !off.is_multiple_of(4) || off >= DATA_SIZE {
            return None;
        }
        let split = |v: u64, second: bool| -> u32 {
            let low_first = endian == Endian::Little;
            #[allow(clippy::cast_possible_truncation)]
            if second == low_first { (v >> 32) as u32 } else { v as u32 }
        };
        Some(match off {
            0 => self.nr,
            4 => self.arch,
            8 | 12 => split(self.instruction_pointer, off == 12),
            _ => {
                let i = usize::try_from((off - 16) / 8).ok()?;
                split(*self.args.get(i)?, (off - 16) % 8 == 4)
            }
        })
    }
}

/// The result of running a program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunResult {
    /// The return value.
    pub ret: u32,
    /// Instructions executed.
    pub executed: u32,
}

/// Why a program cannot run (or would be refused by the kernel).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// Empty or longer than 4096 instructions.
    #[error("program length {0} is outside 1..=4096")]
    Length(usize),
    /// A serialized program whose size is not a multiple of 8 bytes.
    #[error("{0} bytes is not a whole number of 8-byte instructions")]
    Truncated(usize),
    /// An opcode seccomp does not accept.
    #[error("instruction {pc}: opcode {code:#06x} is not allowed in a seccomp filter")]
    Opcode {
        /// Position.
        pc: usize,
        /// Opcode.
        code: u16,
    },
    /// A load outside `struct seccomp_data` or not 32-bit aligned.
    #[error("instruction {pc}: load offset {k} is outside seccomp_data or unaligned")]
    LoadOffset {
        /// Position.
        pc: usize,
        /// Offset.
        k: u32,
    },
    /// A jump past the end.
    #[error("instruction {pc}: jump out of range")]
    Jump {
        /// Position.
        pc: usize,
    },
    /// Division or modulo by constant zero.
    #[error("instruction {pc}: division by zero")]
    DivZero {
        /// Position.
        pc: usize,
    },
    /// Scratch memory index ≥ 16, or read before written.
    #[error("instruction {pc}: bad scratch memory access")]
    Memory {
        /// Position.
        pc: usize,
    },
    /// The last instruction is not a return.
    #[error("the last instruction is not a return")]
    NoReturn,
}

fn code_allowed(code: u16) -> bool {
    use op::*;
    matches!(
        code,
        c if c == LD | W | ABS
            || c == LD | W | LEN
            || c == LDX | W | LEN
            || c == LD | IMM
            || c == LDX | IMM
            || c == LD | MEM
            || c == LDX | MEM
            || c == ST
            || c == STX
            || c == MISC | TAX
            || c == MISC | TXA
            || c == RET | K
            || c == RET | A
            || c == JMP | JA
            || [JEQ, JGT, JGE, JSET].iter().any(|j| c == JMP | j | K || c == JMP | j | X)
            || c == ALU | NEG
            || [ADD, SUB, MUL, DIV, OR, AND, LSH, RSH, MOD, XOR].iter().any(|o| c == ALU | o | K || c == ALU | o | X)
    )
}

/// The kernel's checks: `bpf_check_classic` plus `seccomp_check_filter` (and the
/// memory-initialisation check of `check_load_and_stores`).
///
/// # Errors
/// The first problem found.
pub fn verify(prog: &[Insn]) -> Result<(), VerifyError> {
    use op::*;
    let len = prog.len();
    if len == 0 || len > MAX_INSNS {
        return Err(VerifyError::Length(len));
    }
    for (pc, i) in prog.iter().enumerate() {
        if !code_allowed(i.code) {
            return Err(VerifyError::Opcode { pc, code: i.code });
        }
        if i.code == LD | W | ABS && (!i.k.is_multiple_of(4) || i.k >= DATA_SIZE) {
            return Err(VerifyError::LoadOffset { pc, k: i.k });
        }
        if (i.code == ALU | DIV | K || i.code == ALU | MOD | K) && i.k == 0 {
            return Err(VerifyError::DivZero { pc });
        }
        if matches!(i.code, c if c == LD | MEM || c == LDX | MEM || c == ST || c == STX) && i.k >= 16 {
            return Err(VerifyError::Memory { pc });
        }
        if i.code & 0x07 == JMP {
            let next = pc + 1;
            if i.code == JMP | JA {
                let t = usize::try_from(i.k).ok().and_then(|k| next.checked_add(k));
                if t.is_none_or(|t| t >= len) {
                    return Err(VerifyError::Jump { pc });
                }
            } else if next + usize::from(i.jt) >= len || next + usize::from(i.jf) >= len {
                return Err(VerifyError::Jump { pc });
            }
        }
    }
    match prog.last() {
        Some(i) if i.code == RET | K || i.code == RET | A => {}
        _ => return Err(VerifyError::NoReturn),
    }
    check_memory(prog)
}

/// `check_load_and_stores`: scratch memory must be written before it is read on every path.
fn check_memory(prog: &[Insn]) -> Result<(), VerifyError> {
    use op::*;
    if !prog.iter().any(|i| i.code == LD | MEM || i.code == LDX | MEM) {
        return Ok(());
    }
    let len = prog.len();
    let mut masks: Vec<u16> = vec![0xffff; len];
    if let Some(m) = masks.first_mut() {
        *m = 0;
    }
    let mut memvalid: u16 = 0;
    for pc in 0..len {
        let Some(i) = prog.get(pc) else { break };
        memvalid &= masks.get(pc).copied().unwrap_or(0);
        let bit = 1u16.checked_shl(i.k).unwrap_or(0);
        if i.code == ST || i.code == STX {
            memvalid |= bit;
        } else if (i.code == LD | MEM || i.code == LDX | MEM) && memvalid & bit == 0 {
            return Err(VerifyError::Memory { pc });
        } else if i.code == JMP | JA {
            let t = pc + 1 + usize::try_from(i.k).unwrap_or(usize::MAX - pc - 1);
            if let Some(m) = masks.get_mut(t) {
                *m &= memvalid;
            }
            memvalid = 0xffff;
        } else if i.code & 0x07 == JMP {
            for t in [pc + 1 + usize::from(i.jt), pc + 1 + usize::from(i.jf)] {
                if let Some(m) = masks.get_mut(t) {
                    *m &= memvalid;
                }
            }
            memvalid = 0xffff;
        } else if i.code & 0x07 == RET {
            memvalid = 0xffff;
        }
    }
    Ok(())
}

/// Runs a program on `data` the way the kernel's interpreter does, with loads in `endian`.
/// `None` when the program faults (a load outside `seccomp_data`, a jump past the end, division
/// by zero): programs that pass [`verify`] never do.
#[must_use]
pub fn run(prog: &[Insn], data: &SeccompData, endian: Endian) -> Option<RunResult> {
    use op::*;
    let mut a: u32 = 0;
    let mut x: u32 = 0;
    let mut mem = [0u32; 16];
    let mut pc: usize = 0;
    let mut executed: u32 = 0;
    loop {
        let i = *prog.get(pc)?;
        executed += 1;
        pc += 1;
        let src = if i.code & X != 0 { x } else { i.k };
        match i.code & 0x07 {
            LD => match i.code & 0xe0 {
                ABS if i.code & 0x18 == W => a = data.word(i.k, endian)?,
                LEN => a = DATA_SIZE,
                IMM => a = i.k,
                MEM => a = *mem.get(usize::try_from(i.k).ok()?)?,
                _ => return None,
            },
            LDX => match i.code & 0xe0 {
                LEN => x = DATA_SIZE,
                IMM => x = i.k,
                MEM => x = *mem.get(usize::try_from(i.k).ok()?)?,
                _ => return None,
            },
            ST => *mem.get_mut(usize::try_from(i.k).ok()?)? = a,
            STX => *mem.get_mut(usize::try_from(i.k).ok()?)? = x,
            ALU => {
                a = match i.code & 0xf0 {
                    ADD => a.wrapping_add(src),
                    SUB => a.wrapping_sub(src),
                    MUL => a.wrapping_mul(src),
                    DIV => a.checked_div(src)?,
                    MOD => a.checked_rem(src)?,
                    OR => a | src,
                    AND => a & src,
                    XOR => a ^ src,
                    LSH => a.checked_shl(src).unwrap_or(0),
                    RSH => a.checked_shr(src).unwrap_or(0),
                    NEG => a.wrapping_neg(),
                    _ => return None,
                }
            }
            JMP => {
                let off = match i.code & 0xf0 {
                    JA => usize::try_from(i.k).ok()?,
                    JEQ => usize::from(if a == src { i.jt } else { i.jf }),
                    JGT => usize::from(if a > src { i.jt } else { i.jf }),
                    JGE => usize::from(if a >= src { i.jt } else { i.jf }),
                    JSET => usize::from(if a & src != 0 { i.jt } else { i.jf }),
                    _ => return None,
                };
                pc = pc.checked_add(off)?;
            }
            RET => {
                let ret = if i.code & 0x18 == A { a } else { i.k };
                return Some(RunResult { ret, executed });
            }
            _ => match i.code & 0xf8 {
                TAX => x = a,
                TXA => a = x,
                _ => return None,
            },
        }
    }
}
