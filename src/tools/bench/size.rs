//! The binary size rows (architecture and strip state read from the ELF
//! headers, whether the demo broker is built in) and whether this process
//! runs emulated, which makes times and RSS meaningless.

use super::{Row, verdict};
use anyhow::Context as _;
use std::path::Path;
use std::process::Command;

/// Whether a larder binary carries rumqttd (feature `demo-broker`): its
/// source paths (`rumqttd-0.x/src/…`, in panic locations) are in the file.
/// The needle is put together at run time so this binary does not carry
/// it as one string.
fn embeds_demo_broker(bytes: &[u8]) -> bool {
    let needle = [&b"rumqtt"[..], &b"d-0."[..]].concat();
    bytes.windows(needle.len()).any(|w| w == needle.as_slice())
}

/// The binary size row for `path`: architecture and strip state from the
/// ELF header; the 6 MB target applies to the stripped aarch64 build.
pub(super) fn size_row(path: &Path, label: &str) -> anyhow::Result<Row> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let (arch, symbols) = elf_info(&bytes)
        .with_context(|| format!("{} is not a little-endian ELF file", path.display()))?;
    let mb = bytes.len() as f64 / 1e6;
    let stripped = if symbols { "not stripped" } else { "stripped" };
    let build = if embeds_demo_broker(&bytes) {
        "default build, with the demo broker"
    } else {
        "hub build, no demo broker"
    };
    let target = if arch == "aarch64" {
        verdict(!symbols && mb <= 6.0, "<= 6 MB stripped")
    } else {
        String::new()
    };
    Ok(Row::new(
        format!("binary size, {arch}, {stripped}, {build} ({label})"),
        format!("{mb:.2} MB"),
        target,
    ))
}

/// Architecture and whether a symbol table (`.symtab`) is present, from
/// an ELF file's headers; `None` if it is not a little-endian ELF.
fn elf_info(bytes: &[u8]) -> Option<(&'static str, bool)> {
    let u16_at = |o: usize| Some(u16::from_le_bytes(bytes.get(o..o + 2)?.try_into().ok()?));
    let u32_at = |o: usize| Some(u32::from_le_bytes(bytes.get(o..o + 4)?.try_into().ok()?));
    let u64_at = |o: usize| Some(u64::from_le_bytes(bytes.get(o..o + 8)?.try_into().ok()?));
    if bytes.get(..4)? != b"\x7fELF" || *bytes.get(5)? != 1 {
        return None;
    }
    let (shoff, shentsize, shnum) = match bytes.get(4)? {
        1 => (u64::from(u32_at(0x20)?), u16_at(0x2e)?, u16_at(0x30)?),
        2 => (u64_at(0x28)?, u16_at(0x3a)?, u16_at(0x3c)?),
        _ => return None,
    };
    let arch = match u16_at(18)? {
        0x3e => "x86_64",
        0xb7 => "aarch64",
        0x28 => "arm",
        0x03 => "x86",
        _ => "other",
    };
    const SHT_SYMTAB: u32 = 2;
    let symbols = (0..usize::from(shnum)).any(|i| {
        usize::try_from(shoff)
            .ok()
            .and_then(|off| u32_at(off + i * usize::from(shentsize) + 4))
            == Some(SHT_SYMTAB)
    });
    Some((arch, symbols))
}

/// Whether this process is emulated. qemu-user hides itself from the
/// guest's `/proc/self/maps` and `uname`, but a native `uname -m` started
/// from here reports the real machine.
pub(super) fn running_under_qemu() -> bool {
    if std::fs::read_to_string("/proc/self/maps").is_ok_and(|m| m.contains("qemu-")) {
        return true;
    }
    let Ok(out) = Command::new("uname").arg("-m").output() else {
        return false;
    };
    let machine = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    !machine_runs_natively(&machine, std::env::consts::ARCH)
}

/// Whether a kernel reporting `machine` (`uname -m`) runs `arch` binaries
/// itself (a 64-bit ARM kernel runs 32-bit ARM userlands).
fn machine_runs_natively(machine: &str, arch: &str) -> bool {
    machine.is_empty()
        || machine == arch
        || (arch == "arm" && (machine.starts_with("arm") || machine == "aarch64"))
        || (arch == "x86" && (machine.starts_with('i') || machine == "x86_64"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elf_info_reads_this_test_binary() {
        let exe = std::env::current_exe().unwrap();
        let bytes = std::fs::read(exe).unwrap();
        let (arch, _) = elf_info(&bytes).unwrap();
        assert_eq!(arch, std::env::consts::ARCH);
    }

    #[test]
    fn emulation_is_a_foreign_machine() {
        assert!(machine_runs_natively("x86_64", "x86_64"));
        assert!(machine_runs_natively("aarch64", "aarch64"));
        assert!(machine_runs_natively("armv7l", "arm"));
        assert!(machine_runs_natively("aarch64", "arm"));
        assert!(!machine_runs_natively("x86_64", "aarch64"));
        assert!(!machine_runs_natively("x86_64", "arm"));
    }

    #[test]
    fn elf_info_refuses_what_is_not_elf() {
        assert_eq!(elf_info(b"#!/bin/sh\necho hi\n"), None);
        assert_eq!(elf_info(b"\x7fELF"), None);
        assert_eq!(elf_info(b""), None);
    }
}
