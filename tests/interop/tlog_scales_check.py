#!/usr/bin/env python3
"""Read a served tinledger log with the independent PyPI client tlog-scales.

Usage: tlog_scales_check.py BASE_URL VERIFIER_KEY INDEX...

Through tlog-scales' own HTTP backend and tile reader: fetch the checkpoint
and check its Ed25519 signature with the verifier key (as `tinledger
checkpoint --verifier-key` prints it), recompute the Merkle root from the
served hash tiles and compare it with the checkpoint's, and for each INDEX
fetch the entry (leaf) from its entry bundle and check its inclusion proof
(built from the tiles) against the checkpoint root. Prints one JSON object:
{"size": N, "root": HEX, "leaves": {"INDEX": "SHA-256 of the entry bytes"}}.
Any failed check raises: exit status non-zero.
"""
import hashlib
import json
import sys

from tlog_scales import backend, tiles
from tlog_scales.reader import TilesReader
from tlog_scales.signing import Vkey


def main() -> None:
    base, vkey, *indices = sys.argv[1:]
    reader = TilesReader(backend.make_backend(base))
    cp = reader.get_checkpoint()
    cp.verify(Vkey.from_string(vkey))
    root = reader.calculate_root_hash()
    if root != cp.root_hash:
        raise SystemExit(f"root from tiles {root.hex()} != checkpoint root {cp.root_hash.hex()}")
    leaves = {}
    for i in map(int, indices):
        leaf = reader.get_entry(i)
        proof = reader.get_inclusion_proof(i, cp.size)
        proof.check(tiles.leaf_hash(leaf), cp.root_hash)
        leaves[str(i)] = hashlib.sha256(leaf).hexdigest()
    print(json.dumps({"size": cp.size, "root": cp.root_hash.hex(), "leaves": leaves}))


if __name__ == "__main__":
    main()
