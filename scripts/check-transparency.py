#!/usr/bin/env python3
"""An independent check of CareTrail's Merkle proofs and signed checkpoints, written from
RFC 6962 (section 2.1), RFC 9162 (sections 2.1.3.2 and 2.1.4.2) and the C2SP signed-note
and tlog-checkpoint specifications, sharing no code with the Swift implementation.

  check-transparency.py proofs FILE      # JSON: {"entry_hashes": [hex...], "proofs": [...]}
  check-transparency.py note KEYFILE NOTE
  check-transparency.py bundle KEYFILE BUNDLE

`proofs`: builds the tree from the entry hashes itself, and for every proof in the file
(inclusion: leaf_index, tree_size, leaf_hash, hashes, root; consistency: from_size, to_size,
hashes, from_root, to_root; hashes in base64) checks that it is exactly the proof RFC 6962
defines and that RFC 9162's verification accepts it. `note`: checks the note's Ed25519
signature with Python's cryptography, given the verifier key line. `bundle`: checks an export
bundle (docs/proofs.md) the way an auditor's own tool would: the checkpoint's signature, then
each entry line's SHA-256, leaf hash and inclusion proof against the checkpoint's root. Exits 0 when everything
holds, 1 naming the first failure.
"""
import base64
import hashlib
import json
import sys


def sha256(data):
    return hashlib.sha256(data).digest()


def leaf_hash(entry_hash):
    return sha256(b"\x00" + entry_hash)


def node_hash(left, right):
    return sha256(b"\x01" + left + right)


def split_point(n):
    k = 1
    while k * 2 < n:
        k *= 2
    return k


class Tree:
    """RFC 6962 2.1 over one list of leaf hashes, on ranges [lo, hi) of it, each range's
    Merkle Tree Hash computed once."""

    def __init__(self, leaves):
        self.leaves = leaves
        self.memo = {}

    def mth(self, lo, hi):
        """MTH(D[lo:hi])."""
        if (lo, hi) in self.memo:
            return self.memo[(lo, hi)]
        n = hi - lo
        if n == 0:
            result = sha256(b"")
        elif n == 1:
            result = self.leaves[lo]
        else:
            k = split_point(n)
            result = node_hash(self.mth(lo, lo + k), self.mth(lo + k, hi))
        self.memo[(lo, hi)] = result
        return result

    def path(self, m, lo, hi):
        """RFC 6962 2.1.1: PATH(m, D[lo:hi]), m relative to lo."""
        n = hi - lo
        if n == 1:
            return []
        k = split_point(n)
        if m < k:
            return self.path(m, lo, lo + k) + [self.mth(lo + k, hi)]
        return self.path(m - k, lo + k, hi) + [self.mth(lo, lo + k)]

    def subproof(self, m, lo, hi, complete):
        """RFC 6962 2.1.2: SUBPROOF(m, D[lo:hi], b)."""
        n = hi - lo
        if m == n:
            return [] if complete else [self.mth(lo, hi)]
        k = split_point(n)
        if m <= k:
            return self.subproof(m, lo, lo + k, complete) + [self.mth(lo + k, hi)]
        return self.subproof(m - k, lo + k, hi, False) + [self.mth(lo, lo + k)]


def climb_right_border(fn, sn):
    """Both indexes up until fn is a right child or the root (RFC 9162's inner loop)."""
    while True:
        fn >>= 1
        sn >>= 1
        if fn & 1 or fn == 0:
            return fn, sn


def verify_inclusion(index, size, leaf, proof, root):
    """RFC 9162 2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                fn, sn = climb_right_border(fn, sn)
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(first, second, first_hash, second_hash, proof):
    """RFC 9162 2.1.4.2."""
    if first == second:
        return not proof and first_hash == second_hash
    if not proof or first == 0 or first > second:
        return False
    if first & (first - 1) == 0:
        proof = [first_hash] + proof
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                fn, sn = climb_right_border(fn, sn)
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_hash and sr == second_hash and sn == 0


def b64(text):
    return base64.b64decode(text, validate=True)


def check_proofs(file):
    data = json.load(open(file))
    leaves = [leaf_hash(bytes.fromhex(h)) for h in data["entry_hashes"]]
    tree = Tree(leaves)

    def root(size):
        return tree.mth(0, size)

    for number, proof in enumerate(data["proofs"]):
        hashes = [b64(h) for h in proof["hashes"]]
        if "leaf_index" in proof:
            m, n = proof["leaf_index"], proof["tree_size"]
            what = f"inclusion of leaf {m} in size {n}"
            if b64(proof["leaf_hash"]) != leaves[m]:
                return f"{what}: the leaf hash is not the entry's"
            if b64(proof["root"]) != root(n):
                return f"{what}: the root is not RFC 6962's"
            if hashes != tree.path(m, 0, n):
                return f"{what}: the path is not RFC 6962's PATH"
            if not verify_inclusion(m, n, leaves[m], hashes, root(n)):
                return f"{what}: RFC 9162 verification refuses it"
        else:
            m, n = proof["from_size"], proof["to_size"]
            what = f"consistency of size {m} with size {n}"
            if b64(proof["from_root"]) != root(m) or b64(proof["to_root"]) != root(n):
                return f"{what}: a root is not RFC 6962's"
            expected = tree.subproof(m, 0, n, True) if m < n else []
            if hashes != expected:
                return f"{what}: the proof is not RFC 6962's PROOF"
            if not verify_consistency(m, n, root(m), root(n), hashes):
                return f"{what}: RFC 9162 verification refuses it"
    print(f"check-transparency: {len(data['proofs'])} proofs over {len(leaves)} leaves hold")
    return None


def read_key(key_file):
    name, key_hash, encoded = open(key_file).read().strip().split("+", 2)
    raw = b64(encoded)
    if raw[0] != 1 or len(raw) != 33:
        raise ValueError("the verifier key is not an Ed25519 key")
    if sha256(name.encode() + b"\n" + raw)[:4].hex() != key_hash:
        raise ValueError("the verifier key's hash does not match its name and key")
    return name, bytes.fromhex(key_hash), raw[1:]


def open_checkpoint(key, note):
    """Verifies the note's signature by `key`; returns (origin, size, root)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    name, key_hash, public = key
    text, _, signatures = note.rpartition("\n\n")
    text += "\n"
    for line in signatures.rstrip("\n").split("\n"):
        if not line.startswith("\u2014 "):
            raise ValueError("a signature line does not start with an em dash")
        signer, encoded = line[2:].split(" ")
        signature = b64(encoded)
        if signer != name or signature[:4] != key_hash:
            continue
        try:
            Ed25519PublicKey.from_public_bytes(public).verify(signature[4:], text.encode())
        except InvalidSignature:
            raise ValueError("the signature does not verify")
        lines = text.split("\n")
        if len(lines) < 4 or not lines[1].isdigit() or len(b64(lines[2])) != 32:
            raise ValueError("the note is not a checkpoint")
        return lines[0], int(lines[1]), b64(lines[2])
    raise ValueError("no signature by the key")


def check_bundle(key_file, bundle_file):
    try:
        key = read_key(key_file)
        lines = open(bundle_file, "rb").read().split(b"\n")
        header = json.loads(lines[0])
        origin, size, root = open_checkpoint(key, header["checkpoint"])
    except ValueError as error:
        return str(error)
    if header["format"] != "caretrail-bundle/1" or header["origin"] != origin or header["tree_size"] != size:
        return "the header does not match the checkpoint"
    count = header["entries"]
    if len(lines) != 2 + 2 * count or lines[-1] != b"":
        return "the bundle does not hold the entries its header counts"
    for index in range(count):
        entry, proof = lines[1 + 2 * index], json.loads(lines[2 + 2 * index])
        seq = json.loads(entry)["seq"]
        leaf = leaf_hash(sha256(entry))
        if proof["leaf_index"] != seq - 1 or proof["tree_size"] != size or b64(proof["leaf_hash"]) != leaf:
            return f"entry {seq}: its bytes or place do not match its proof"
        if not verify_inclusion(seq - 1, size, leaf, [b64(h) for h in proof["hashes"]], root):
            return f"entry {seq}: the proof does not reach the checkpoint's root"
    print(f"check-transparency: {count} entries of {origin} proven in its tree of {size}")
    return None


def check_note(key_file, note_file):
    try:
        origin, size, _ = open_checkpoint(read_key(key_file), open(note_file, "rb").read().decode("utf-8"))
    except ValueError as error:
        return str(error)
    print(f"check-transparency: checkpoint of {origin} at size {size} signed by {read_key(key_file)[0]}")
    return None


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "proofs":
        failure = check_proofs(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "note":
        failure = check_note(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 4 and sys.argv[1] == "bundle":
        failure = check_bundle(sys.argv[2], sys.argv[3])
    else:
        print(__doc__, file=sys.stderr)
        return 64
    if failure:
        print(f"check-transparency: {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
