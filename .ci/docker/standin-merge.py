#!/usr/bin/env python3
"""Copies a tar stream (stdin) to stdout and appends a Rust toolchain to it.

Usage: docker export C | standin-merge.py SYSROOT DEST | docker import - IMAGE

SYSROOT is the host toolchain (`rustc --print sysroot`); its bin, lib, libexec and etc
are appended under DEST (no leading slash), and /usr/local/cargo/bin gets cargo, rustc
and rustdoc as symbolic links into DEST/bin, as in the official rust image. The stream is
never written to disk, so the toolchain costs its size once, in the imported layer.
"""
import os
import sys
import tarfile


def main() -> None:
    sysroot, dest = sys.argv[1], sys.argv[2].strip("/")
    src = tarfile.open(fileobj=sys.stdin.buffer, mode="r|")
    out = tarfile.open(fileobj=sys.stdout.buffer, mode="w|", format=tarfile.PAX_FORMAT)
    seen = set()
    for member in src:
        seen.add(member.name.strip("/"))
        out.addfile(member, src.extractfile(member) if member.isreg() else None)

    def mkdir(name: str) -> None:
        # docker import refuses a path that occurs twice in the stream.
        if name not in seen:
            seen.add(name)
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            out.addfile(info)

    parts = dest.split("/")
    for i in range(1, len(parts)):
        mkdir("/".join(parts[:i]))
    mkdir(dest)
    for sub in ("bin", "lib", "libexec", "etc"):
        path = os.path.join(sysroot, sub)
        if os.path.exists(path):
            out.add(path, arcname=f"{dest}/{sub}", recursive=True)
    mkdir("usr/local/cargo")
    mkdir("usr/local/cargo/bin")
    for tool in ("cargo", "rustc", "rustdoc"):
        link = tarfile.TarInfo(f"usr/local/cargo/bin/{tool}")
        link.type, link.linkname = tarfile.SYMTYPE, f"/{dest}/bin/{tool}"
        out.addfile(link)
    out.close()


if __name__ == "__main__":
    main()
