#!/usr/bin/env python3
"""Turns Jane Austen's six novels, as Debian's r-cran-janeaustenr ships them
(an R lazy-load database: data/Rdata.rdb), into corpus items: one JSON line
per chapter, licence public-domain (the novels were published 1811-1818;
the package's own code is MIT, the texts are in the public domain).

    austen-items.py RDATA.rdb OUT.jsonl

Only the standard library: each database entry is a 4-byte length and a
zlib stream holding an R serialization (XDR) of a character vector, one
element per line of the novel.
"""
import json
import re
import struct
import sys
import zlib

NOVELS = {
    "EMMA": ("emma", "Emma"),
    "MANSFIELD PARK": ("mansfield-park", "Mansfield Park"),
    "NORTHANGER ABBEY": ("northanger-abbey", "Northanger Abbey"),
    "PERSUASION": ("persuasion", "Persuasion"),
    "PRIDE AND PREJUDICE": ("pride-and-prejudice", "Pride and Prejudice"),
    "SENSE AND SENSIBILITY": ("sense-and-sensibility", "Sense and Sensibility"),
}
CHAPTER = re.compile(r"^\s*chapter\s+([0-9ivxlc]+)\b", re.IGNORECASE)


def entries(rdb):
    pos = 0
    while pos < len(rdb):
        stream = zlib.decompressobj()
        blob = stream.decompress(rdb[pos + 4:])
        yield blob
        pos = len(rdb) - len(stream.unused_data)


def lines_of(blob):
    """The strings of a serialized character vector (STRSXP)."""
    if blob[:2] != b"X\n":
        raise ValueError("not an XDR serialization")
    p = 2
    version = struct.unpack(">i", blob[p:p + 4])[0]
    p += 12
    if version == 3:
        p += 4 + struct.unpack(">i", blob[p:p + 4])[0]
    if struct.unpack(">i", blob[p:p + 4])[0] & 0xFF != 16:
        raise ValueError("not a character vector")
    p += 4
    count = struct.unpack(">i", blob[p:p + 4])[0]
    p += 4
    out = []
    for _ in range(count):
        p += 4  # CHARSXP flags
        n = struct.unpack(">i", blob[p:p + 4])[0]
        p += 4
        if n < 0:
            out.append("")
            continue
        out.append(blob[p:p + n].decode("utf-8", "replace"))
        p += n
    return out


def chapters(lines):
    """(chapter label, paragraphs) for each chapter, front matter dropped."""
    label, paragraph, paragraphs, out = None, [], [], []
    for line in lines + ["", "CHAPTER END"]:
        m = CHAPTER.match(line)
        if m or line.strip() == "CHAPTER END":
            if paragraph:
                paragraphs.append(" ".join(paragraph))
            if label is not None and paragraphs:
                out.append((label, paragraphs))
            label, paragraph, paragraphs = (m.group(1) if m else None), [], []
        elif not line.strip():
            if paragraph:
                paragraphs.append(" ".join(paragraph))
            paragraph = []
        elif label is not None:
            paragraph.append(line.strip())
    return out


def main():
    rdb = open(sys.argv[1], "rb").read()
    written = 0
    with open(sys.argv[2], "w", encoding="utf-8") as out:
        for blob in entries(rdb):
            try:
                lines = lines_of(blob)
            except ValueError:
                continue
            key = lines[0].strip().upper() if lines else ""
            if key not in NOVELS:
                continue
            slug, title = NOVELS[key]
            for n, (label, paragraphs) in enumerate(chapters(lines), start=1):
                body = "\n\n".join(paragraphs)
                item = {
                    "id": f"austen-{slug}-{n:03d}",
                    "kind": "article",
                    "title": f"{title}, chapter {label.upper() if not label.isdigit() else label}",
                    "body": body,
                    "tags": ["books", "fiction", "austen"],
                    "creator_id": "jane-austen",
                    "origin": "human",
                    "licence": "public-domain",
                    "created_unix_ms": 0,
                }
                out.write(json.dumps(item, ensure_ascii=False) + "\n")
                written += 1
    print(f"austen:   {written} chapters in {sys.argv[2]}")
    if written == 0:
        sys.exit("no chapters found: is this janeaustenr's data/Rdata.rdb?")


if __name__ == "__main__":
    main()
